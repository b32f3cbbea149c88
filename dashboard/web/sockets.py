"""Socket.IO handlers: walls join the room of the region they show, a handler's /tasks page the room of
its department or team (by its log-in session); deltas go to those rooms."""

from __future__ import annotations

import logging
from collections import defaultdict

from flask import request
from flask_socketio import SocketIO, join_room
from sqlalchemy import select

from dashboard.domain import clock
from dashboard.services.push import rooms_for
from dashboard.store import metrics
from dashboard.store.database import Database, db
from dashboard.store.models import Region, WallToken
from dashboard.ui.i18n import localized
from dashboard.web.access import MAX_TOKEN_LENGTH, AccessDenied, hash_token, wall_region, wall_token
from dashboard.web.auth import Permission, current_principal
from dashboard.web.metrics import socket_joined

log = logging.getLogger(__name__)
DELTA_EVENT = "wall_delta"
TASKS_EVENT = "task_delta"  # to a department's or team's room: one of its appeals changed
ALERT_EVENT = "alert"  # to the walls showing an alert's region (issue 19): raised, acknowledged or closed


def assignee_rooms(department_id: int | None, team_id: int | None) -> list[str]:
    """The Socket.IO rooms of a department and a team: the /tasks pages of their handlers."""
    rooms = [f"department:{department_id}"] if department_id is not None else []
    return rooms + ([f"team:{team_id}"] if team_id is not None else [])


def room_for(region_code: str) -> str:
    """The Socket.IO room whose members show region_code."""
    return f"region:{region_code}"


def register(socketio: SocketIO) -> None:
    """Attach the connection handlers: a wall names its region (and token) in the handshake."""
    # Socket id → hash of the wall token it connected with (None in demo mode): this server's walls.
    _walls: dict[str, str | None] = {}
    socketio.wall_tokens = _walls

    @socketio.on("disconnect")
    def on_disconnect(*_args):
        _walls.pop(request.sid, None)
        metrics.socket_disconnected(request.sid)

    @socketio.on("connect")
    def on_connect(auth=None):
        auth = auth if isinstance(auth, dict) else {}
        if auth.get("tasks") is True:
            return _join_tasks()
        requested = auth.get("region") or request.args.get("region")
        # The wall page's cookie (web.access.exchange_wall_token); a token in the handshake for other clients.
        token = wall_token() or auth.get("token") or request.args.get("token")
        if token is not None and (not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH):
            return False
        if not requested or not isinstance(requested, str) or len(requested) > 32:
            return False  # a wall must say which region it shows
        try:
            with db.session() as session:
                region_code = wall_region(session, token, requested, None)
        except AccessDenied:
            return False
        join_room(room_for(region_code))
        _walls[request.sid] = hash_token(token) if token else None
        socket_joined(request.sid, token, region_code)
        return True


def _join_tasks() -> bool:
    """A /tasks page: its log-in session (the Flask-Login cookie) must be a handler's; it joins the rooms
    of its department or team. Anyone else is refused: no one else hears which appeals a team holds."""
    principal = current_principal()
    rooms = assignee_rooms(principal.department_id, principal.team_id)
    if not principal.can(Permission.TASKS) or not rooms:
        return False
    for room in rooms:
        join_room(room)
    return True


def disconnect_revoked(socketio: SocketIO) -> int:
    """Close the sockets of walls whose token was revoked since they connected; returns how many."""
    walls = socketio.wall_tokens
    tokens = {sid: token for sid, token in list(walls.items()) if token is not None}
    if not tokens:
        return 0
    with db.session() as session:
        active = set(
            session.scalars(
                select(WallToken.token_hash).where(
                    WallToken.token_hash.in_(set(tokens.values())), WallToken.revoked_at.is_(None)
                )
            )
        )
    closed = 0
    for sid, token in tokens.items():
        if token not in active:
            socketio.server.disconnect(sid, namespace="/")
            walls.pop(sid, None)
            closed += 1
    return closed


def close_revoked_walls(socketio: SocketIO) -> None:
    """The local job: disconnect walls whose token was revoked (they cannot reconnect with it)."""
    closed = disconnect_revoked(socketio)
    if closed:
        log.info("closed %d wall connection(s) whose token was revoked", closed)


class RegionNames:
    """Region code → name (and its English one: name_en, else its pinyin), loaded once and reloaded
    when an unknown code turns up."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.names: dict[str, str] = {}
        self.english: dict[str, str] = {}

    def _load(self, code: str) -> None:
        if code not in self.names:
            with self.database.session() as session:
                rows = session.execute(select(Region.code, Region.name, Region.name_en)).all()
            self.names = {row.code: row.name for row in rows}
            self.english = {row.code: localized(row.name, row.name_en, "en") for row in rows}

    def __call__(self, code: str) -> str:
        self._load(code)
        return self.names.get(code, code)

    def english_name(self, code: str) -> str:
        """The region's name on an English wall."""
        self._load(code)
        return self.english.get(code, code)


ALERT_FIELDS = ("id", "kind", "status", "region_code", "category", "raised_at", "details", "text_zh", "text_en")


def publish_alerts(socketio: SocketIO, alerts: list[dict]) -> None:
    """Each alert change (services.alerts.alert_delta) as one `alert` event to its region's rooms and those above."""
    for alert in alerts:
        payload = {name: alert.get(name) for name in ALERT_FIELDS}
        for code in rooms_for(alert["region_code"]):
            socketio.emit(ALERT_EVENT, payload, to=room_for(code))


def make_publisher(socketio: SocketIO, database: Database):
    """A publisher for dashboard.services.push: each room gets one message with the deltas it shows."""
    region_names = RegionNames(database)

    def publish(deltas: list[dict]) -> None:
        by_room: dict[str, list[dict]] = defaultdict(list)
        by_assignee: dict[str, list[dict]] = defaultdict(list)
        alerts = [delta for delta in deltas if delta["type"] == "alert"]
        if alerts:
            publish_alerts(socketio, alerts)
        for delta in deltas:
            if delta["type"] == "alert":
                continue  # its own event (publish_alerts), not a wall delta
            if delta["type"] == "appeal":
                code = delta["region_code"]
                delta = {**delta, "place": region_names(code), "place_en": region_names.english_name(code)}
                # The same masked delta to the /tasks pages of the department and team holding it.
                for room in assignee_rooms(delta.get("department_id"), delta.get("team_id")):
                    by_assignee[room].append(delta)
            for code in rooms_for(delta["region_code"]):
                by_room[code].append(delta)
        # The one "now" (domain.clock), as the wall's snapshots say it: the page compares the two.
        sent_at = clock.utcnow().timestamp() * 1000
        for code, items in by_room.items():
            socketio.emit(DELTA_EVENT, {"deltas": items, "sent_at": sent_at}, to=room_for(code))
        for room, items in by_assignee.items():
            socketio.emit(TASKS_EVENT, {"deltas": items, "sent_at": sent_at}, to=room)

    return publish
