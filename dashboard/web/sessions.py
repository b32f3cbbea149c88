"""Server-side sessions (Flask-Session): the browser holds only a random id, so a session can be ended.

Redis holds them when CC_REDIS_URL is set (every web process shares it), the database otherwise
(table web_sessions, through dashboard/store/sessions.py: Flask-Session's own SQLAlchemy store
needs Flask-SQLAlchemy, which this product does not use). A session lives PERMANENT_SESSION_LIFETIME
from log-in and is not extended by use: an absolute limit, and no write per request.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask_session.base import ServerSideSession, ServerSideSessionInterface
from flask_session.redis import RedisSessionInterface

from dashboard.store import sessions as stored_sessions

REDIS_PREFIX = "cc:session:"


class _SecurePerRequest:
    """Secure decided per request by security.cookies_secure (plain HTTP is allowed for a demo only)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure unless insecure cookies are configured or a demo is served over plain HTTP."""
        from dashboard.web.security import cookies_secure

        return cookies_secure(app)


class DatabaseSessionInterface(_SecurePerRequest, ServerSideSessionInterface):
    """Flask-Session's server-side session, stored in the product's own database."""

    session_class = ServerSideSession
    ttl = True  # expiry is checked on every read; a scheduled job deletes expired rows

    def _retrieve_session_data(self, store_id: str) -> dict | None:
        data = stored_sessions.load(store_id)
        return self.serializer.decode(data) if data is not None else None

    def _delete_session(self, store_id: str) -> None:
        stored_sessions.remove(store_id)

    def _upsert_session(self, session_lifetime: dt.timedelta, session: ServerSideSession, store_id: str) -> None:
        stored_sessions.save(store_id, self.serializer.encode(session), session_lifetime)


class RedisSessions(_SecurePerRequest, RedisSessionInterface):
    """Flask-Session's Redis store, with the product's cookie flags."""


def init_app(server: Flask) -> None:
    """Replace Flask's signed-cookie session by a server-side one."""
    # Written when it changes (log-in, log-out, a new CSRF token), not on every request.
    server.config["SESSION_REFRESH_EACH_REQUEST"] = False
    redis_url = server.config.get("REDIS_URL") or ""
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        server.session_interface = RedisSessions(server, client=client, key_prefix=REDIS_PREFIX)
    else:
        server.session_interface = DatabaseSessionInterface(server, key_prefix="")
