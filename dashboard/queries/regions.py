"""Reads about the region tree that every page needs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.store.models import Region


def default_region_code(session: Session) -> str | None:
    """The district (the top of the tree), or None in an empty database."""
    return session.scalar(select(Region.code).where(Region.parent_code.is_(None)).order_by(Region.code).limit(1))
