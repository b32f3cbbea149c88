"""Who may see a wall: a revocable wall-device token scoped to a region (open in demo mode)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, current_app, redirect, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.domain.credentials import hash_token
from dashboard.domain.regions import covers, level_of
from dashboard.queries.regions import default_region_code
from dashboard.store.database import db
from dashboard.store.models import WallToken

WALL_COOKIE = "cc_wall"
WALL_COOKIE_DAYS = 400  # a wall runs for months; revoking the token ends it (sockets.close_revoked_walls)
MAX_TOKEN_LENGTH = 128


class AccessDenied(Exception):
    """The request may not see what it asked for."""


def wall_token() -> str | None:
    """The wall-device token of this request: its cookie (set by exchange_wall_token), if any."""
    token = request.cookies.get(WALL_COOKIE) or None
    return token if token is None or len(token) <= MAX_TOKEN_LENGTH else None


def exchange_wall_token():
    """before_request: /wall?token=… sets the token as an HttpOnly cookie and redirects to the URL without it.

    So the token appears in no later URL, access log, history entry or Referer, and the page, its
    callbacks and its socket read it from the cookie.
    """
    if request.method != "GET" or request.path != "/wall" or "token" not in request.args:
        return None
    from dashboard.web.security import cookies_secure

    token = request.args.get("token", "")[:MAX_TOKEN_LENGTH]
    rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    response = redirect("/wall" + (f"?{urlencode(rest)}" if rest else ""), code=303)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        WALL_COOKIE,
        token,
        max_age=WALL_COOKIE_DAYS * 24 * 3600,
        httponly=True,
        secure=cookies_secure(),
        samesite="Lax",
        path="/",
    )
    return response


def init_app(server: Flask) -> None:
    """Exchange wall tokens in URLs for cookies before anything else sees the request."""
    server.before_request_funcs.setdefault(None, []).insert(0, exchange_wall_token)


def wall_region(session: Session, token: str | None, requested: str | None, default_region: str | None) -> str:
    """The region a wall may show: the requested one if the token covers it, else the token's own.

    Without a valid token the wall is refused, except in demo mode (CC_DEMO_MODE=1), where
    the public demo wall is open and shows only aggregates and masked text anyway.
    """
    if requested:
        try:
            level_of(requested)
        except ValueError as exc:
            raise AccessDenied(str(exc)) from None
    if token:
        row = session.scalar(select(WallToken).where(WallToken.token_hash == hash_token(token)))
        if row is None or row.revoked_at is not None:
            raise AccessDenied("this wall token is unknown or revoked")
        region = requested or row.region_code
        if not covers(row.region_code, region):
            raise AccessDenied(f"this wall token covers {row.region_code}, not {region}")
        return region
    if current_app.config.get("DEMO_MODE"):
        if requested or default_region:
            return requested or default_region
        raise AccessDenied("no regions in the database")
    raise AccessDenied("a wall token is required (?token=…); create one with `python app.py walltokens add`")


def resolve_wall_region(token: str | None, requested: str | None, *, default: bool = True) -> str:
    """wall_region in a session of its own; default=False: no fallback to the district (a resync)."""
    with db.session() as session:
        return wall_region(session, token, requested, default_region_code(session) if default else None)
