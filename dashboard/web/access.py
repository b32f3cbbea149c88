"""Who may see a wall: a revocable wall-device token scoped to a region (open in demo mode)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.domain.credentials import hash_token
from dashboard.domain.regions import covers, level_of
from dashboard.queries.regions import default_region_code
from dashboard.store.database import db
from dashboard.store.models import WallToken


class AccessDenied(Exception):
    """The request may not see what it asked for."""


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
