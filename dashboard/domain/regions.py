"""Region codes: levels, ancestry and filters over the hierarchy."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from dashboard.domain.vocab import LEVEL_BY_CODE_LENGTH, RegionLevel
from dashboard.store.models import Region


def level_of(code: str) -> RegionLevel:
    """The level a code's length denotes; a malformed code raises ValueError."""
    if not (code.isascii() and code.isdigit()) or len(code) not in LEVEL_BY_CODE_LENGTH:
        raise ValueError(f"region code {code!r} is not 6, 9, 12 or 15 digits")
    return LEVEL_BY_CODE_LENGTH[len(code)]


def ancestors(code: str) -> list[str]:
    """The codes above code, from the district down (excluding code itself)."""
    level_of(code)
    return [code[:length] for length in (6, 9, 12) if length < len(code)]


def within(column: ColumnElement[str], code: str) -> ColumnElement[bool]:
    """SQL condition: column holds code or a region below it (codes extend their parent's)."""
    level_of(code)
    # Deliberately not index-friendly: the queries that call this also bound a time or state
    # column, and that index is the selective one. A region range would tempt the planner to
    # walk a whole district through the region index instead.
    return func.substr(column, 1, len(code)) == code


def default_region_code(session: Session) -> str | None:
    """The district (the top of the tree), or None in an empty database."""
    return session.scalar(select(Region.code).where(Region.parent_code.is_(None)).order_by(Region.code).limit(1))
