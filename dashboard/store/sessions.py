"""Server-side log-in sessions in the database (the store behind web.sessions when no Redis is configured)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from dashboard.domain.clock import utcnow
from dashboard.store.database import db
from dashboard.store.models import WebSession


def load(session_id: str, now: dt.datetime | None = None) -> bytes | None:
    """The stored data of an unexpired session, or None."""
    now = now or utcnow()
    with db.session() as s:
        return s.scalar(select(WebSession.data).where(WebSession.session_id == session_id, WebSession.expires_at > now))


def save(session_id: str, data: bytes, lifetime: dt.timedelta, now: dt.datetime | None = None) -> None:
    """Create or replace a session's data; it expires lifetime from now."""
    expires_at = (now or utcnow()) + lifetime
    values = {"data": data, "expires_at": expires_at}
    with db.transaction() as s:
        changed = s.execute(update(WebSession).where(WebSession.session_id == session_id).values(**values))
        if changed.rowcount:
            return
    try:
        with db.transaction() as s:
            s.add(WebSession(session_id=session_id, **values))
    except IntegrityError:  # a concurrent request of the same browser inserted it first
        with db.transaction() as s:
            s.execute(update(WebSession).where(WebSession.session_id == session_id).values(**values))


def remove(session_id: str) -> None:
    """Forget a session (log-out)."""
    with db.transaction() as s:
        s.execute(delete(WebSession).where(WebSession.session_id == session_id))


def remove_expired(now: dt.datetime | None = None) -> int:
    """Delete every expired session; returns how many."""
    with db.transaction() as s:
        return s.execute(delete(WebSession).where(WebSession.expires_at <= (now or utcnow()))).rowcount
