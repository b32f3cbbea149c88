"""Socket.IO handlers: walls join the room of the region they show; deltas go to those rooms."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from flask import request
from flask_socketio import SocketIO, join_room

from dashboard.push import rooms_for
from dashboard.regions import level_of

DELTA_EVENT = "wall:delta"


def room_for(region_code: str) -> str:
    """The Socket.IO room whose members show region_code."""
    return f"region:{region_code}"


def register(socketio: SocketIO) -> None:
    """Attach the connection handler."""

    @socketio.on("connect")
    def on_connect(auth=None):
        region_code = request.args.get("region", "")
        try:
            level_of(region_code)
        except ValueError:
            return False  # refuse: a wall must say which region it shows
        join_room(room_for(region_code))
        return True


def make_publisher(socketio: SocketIO):
    """A publisher for dashboard.push: each room gets one message with the deltas it shows."""

    def publish(deltas: list[dict]) -> None:
        by_room: dict[str, list[dict]] = defaultdict(list)
        for delta in deltas:
            for code in rooms_for(delta["region_code"]):
                by_room[code].append(delta)
        sent_at = dt.datetime.now(dt.UTC).isoformat()
        for code, items in by_room.items():
            socketio.emit(DELTA_EVENT, {"deltas": items, "sent_at": sent_at}, to=room_for(code))

    return publish
