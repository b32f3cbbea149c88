"""The §5 KPIs of regions, as the JSON API, the exports and the wall read them (from the stored counters).

A KPI that is a state at a moment (overdue_open) is read at the period's end, or now when the
period has not ended (domain.overdue.state_moment); `as_of` in the answer says which moment.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.domain import clock
from dashboard.domain.overdue import overdue_sql, state_moment
from dashboard.domain.pii import public_text
from dashboard.domain.regions import within
from dashboard.domain.vocab import AppealStatus, Category, Priority
from dashboard.domain.workcal import WorkCalendar
from dashboard.store import counters
from dashboard.store.models import Appeal, Region
from dashboard.ui.i18n import label
from dashboard.ui.timeleft import time_left_text


def region_kpis(
    session: Session,
    region_code: str,
    start: dt.datetime,
    end: dt.datetime,
    calendar: WorkCalendar,
    category: Category | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """The §5 KPIs of a region (and everything below it) over [start, end); overdue_open as of min(end, now)."""
    as_of = state_moment(end, now or clock.utcnow())
    return counters.region_kpis(session, region_code, start, end, calendar, category, as_of=as_of)


def child_region_kpis(
    session: Session,
    region_code: str,
    start: dt.datetime,
    end: dt.datetime,
    calendar: WorkCalendar,
    now: dt.datetime | None = None,
) -> dict[str, dict]:
    """The §5 KPIs of each region one level below region_code over [start, end); overdue_open as of min(end, now)."""
    children = list(session.scalars(select(Region.code).where(Region.parent_code == region_code).order_by(Region.code)))
    as_of = state_moment(end, now or clock.utcnow())
    return counters.child_kpis(session, region_code, start, end, calendar, children, as_of=as_of)


OVERDUE_COLUMNS = [
    "id",
    "external_id",
    "category",
    "priority",
    "status",
    "place",
    "reported_at",
    "deadline_at",
    "overdue_by",  # how long overdue at `at`, in the shared time-left words (ui.timeleft): "超期 2天3小时"
    "text",
]


def overdue_appeals(
    session: Session, region_code: str, at: dt.datetime, lang: str, zone: dt.tzinfo | None = None
) -> pd.DataFrame:
    """Appeals overdue at `at` (domain.overdue), masked: what an export lists; times in `zone` (local,
    "YYYY-MM-DD HH:MM") where given, else ISO 8601 in UTC."""

    def when(value: dt.datetime) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if zone is not None else value.isoformat()

    rows = session.execute(
        select(
            Appeal.id,
            Appeal.external_id,
            Appeal.category,
            Appeal.priority,
            Appeal.status,
            Appeal.reported_at,
            Appeal.deadline_at,
            Appeal.description,
            Region.name,
        )
        .join(Region, Region.code == Appeal.region_code)
        .where(
            within(Appeal.region_code, region_code),
            overdue_sql(Appeal.reported_at, Appeal.resolved_at, Appeal.deadline_at, at),
        )
        .order_by(Appeal.deadline_at)
    ).all()
    return pd.DataFrame(
        [
            {
                "id": row.id,
                "external_id": row.external_id,
                "category": label(Category(row.category), lang),
                "priority": label(Priority(row.priority), lang),
                "status": label(AppealStatus(row.status), lang),
                "place": row.name,
                "reported_at": when(row.reported_at),
                "deadline_at": when(row.deadline_at),
                "overdue_by": time_left_text((row.deadline_at - at).total_seconds(), lang),
                "text": public_text(row.description, 80),
            }
            for row in rows
        ],
        columns=OVERDUE_COLUMNS,
    )
