"""What the exports page lists: every produced day with its files, as the viewer's scope allows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from dashboard.store.database import db
from dashboard.store.models import DailyExport


def covers_district(principal) -> bool:
    """Whether the principal may take the district-wide export files (admins and district supervisors).

    principal: anything with a region_code (None: the whole database).
    """
    return principal.region_code is None or len(principal.region_code) == 6


@dataclass(frozen=True)
class ExportDay:
    """One produced day: its files and when it was finished."""

    day: dt.date
    files: list[str]
    finished_at: dt.datetime
    as_of: dt.datetime | None  # set when produced before the day ended (provisional)


@dataclass(frozen=True)
class ExportsView:
    """The exports page's data: the days, and whether the viewer may take the district-wide files."""

    lang: str
    district: bool
    days: list[ExportDay]


def read(principal, lang: str) -> ExportsView:
    """Every produced day, newest first, for principal (anything with a region_code)."""
    with db.session() as session:
        rows = session.scalars(
            select(DailyExport).where(DailyExport.finished_at.is_not(None)).order_by(DailyExport.day.desc())
        )
        days = [ExportDay(row.day, list(row.files or []), row.finished_at, row.as_of) for row in rows]
    return ExportsView(lang, covers_district(principal), days)
