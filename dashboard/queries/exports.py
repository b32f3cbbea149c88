"""What the exports page lists: every produced day with its files, as the viewer's scope allows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
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
    finished_at: dt.datetime  # local time (the work calendar's zone)
    as_of: dt.datetime | None  # set when produced before the day ended (provisional); local time


@dataclass(frozen=True)
class ExportsView:
    """The exports page's data: the days, and whether the viewer may take the district-wide files."""

    lang: str
    district: bool
    days: list[ExportDay]


def _local(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """A stored instant in the local zone (a naive one is taken as UTC, as the database keeps it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone)


def read(principal, lang: str) -> ExportsView:
    """Every produced day, newest first, for principal (anything with a region_code)."""
    with db.session() as session:
        rows = session.scalars(
            select(DailyExport).where(DailyExport.finished_at.is_not(None)).order_by(DailyExport.day.desc())
        )
        # shown in local (Beijing) time, the calendar's zone: a supervisor reads 08:05, never 00:05 UTC
        zone = current_app.extensions["work_calendar"].timezone
        days = [
            ExportDay(
                row.day,
                list(row.files or []),
                _local(row.finished_at, zone),
                _local(row.as_of, zone) if row.as_of is not None else None,
            )
            for row in rows
        ]
    return ExportsView(lang, covers_district(principal), days)
