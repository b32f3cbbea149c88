"""POST /wall/health: a wall page's own report, every minute (ui/assets/wall_health.js).

Authenticated like the wall itself: its cc_wall cookie (or a token query parameter, for clients
that are not the wall page), valid for the region it shows; open in demo mode. The latest report
of each screen is kept (store.wall_reports); /admin lists them (queries.walls) and /metrics
exposes them.
"""

from __future__ import annotations

import re

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select

from dashboard.domain import clock
from dashboard.domain.credentials import hash_token
from dashboard.queries.regions import default_region_code
from dashboard.store.database import db
from dashboard.store.models import WallToken
from dashboard.web.access import MAX_TOKEN_LENGTH, AccessDenied, wall_region, wall_token

bp = Blueprint("wall_health", __name__)

MAX_BODY = 2048
_SCREEN_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
SOCKET_STATES = frozenset({"connected", "disconnected", "unknown"})


@bp.post("/wall/health")
def report():
    """Keep this screen's latest report; 204, or 400 for a malformed one, 403 without a valid wall token."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return jsonify(error="the report is too large"), 413
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="a JSON object is required"), 400
    token = wall_token() or request.args.get("token") or None
    if token is not None and len(token) > MAX_TOKEN_LENGTH:
        return jsonify(error="invalid token"), 403
    region = body.get("region") or None  # none: the token's own region (the wall's default)
    if region is not None and (not isinstance(region, str) or len(region) > 32):
        return jsonify(error="region: the code of the region the wall shows"), 400
    try:
        with db.session() as session:
            region = wall_region(session, token, region, default_region_code(session))
            name = (
                session.scalar(select(WallToken.name).where(WallToken.token_hash == hash_token(token)))
                if token
                else "demo"
            )
    except AccessDenied as exc:
        return jsonify(error=str(exc)), 403
    g.log_user = f"wall:{name}"
    screen = body.get("id")
    if not isinstance(screen, str) or not _SCREEN_ID.fullmatch(screen):
        return jsonify(error="id: the screen's own id, 1–40 letters, digits, - or _"), 400
    now = clock.utcnow().timestamp()
    saved = {
        "region": region,
        "received_at": now,
        # The page says how old its data is (its own clock's difference): no clock skew between them.
        "updated_at": _updated_at(body.get("data_age_ms"), now),
        "socket": body.get("socket") if body.get("socket") in SOCKET_STATES else "unknown",
        "heap_bytes": _count(body.get("heap_bytes")),
        "long_tasks": _count(body.get("long_tasks")) or 0,
    }
    current_app.extensions["wall_reports"].save(f"{name}/{screen}", saved)
    return "", 204


def _updated_at(age_ms, now: float) -> float | None:
    """When the screen's data last changed, from its age in milliseconds (None: never)."""
    if isinstance(age_ms, bool) or not isinstance(age_ms, int | float) or age_ms < 0:
        return None
    return now - min(float(age_ms), 365 * 86400 * 1000.0) / 1000.0


def _count(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(min(value, 2**53))
