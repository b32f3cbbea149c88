"""Socket.IO handlers: walls join the room of the region they show."""

from __future__ import annotations

from flask import request
from flask_socketio import SocketIO, join_room

from dashboard.regions import level_of


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
