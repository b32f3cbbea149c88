"""Local calendar days: times are stored in UTC and cut into days in the configured zone (BRIEF §4).

The one definition of "the local day of an instant" and "a local day as a UTC interval", in
its Python, pandas and SQL forms side by side (tests/test_domain_rules.py checks they agree).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import func


@dataclass(frozen=True)
class LocalDay:
    """A local calendar day as a half-open UTC interval [start, end)."""

    day: dt.date
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of(cls, instant: dt.datetime, calendar) -> LocalDay:
        """The local day containing a UTC instant (calendar: anything with a .timezone)."""
        return cls.on(local_date(instant, calendar.timezone), calendar)

    @classmethod
    def on(cls, day: dt.date, calendar) -> LocalDay:
        """A local calendar day."""
        next_day = day + dt.timedelta(days=1)
        return cls(day, local_midnight(day, calendar.timezone), local_midnight(next_day, calendar.timezone))


def local_midnight(day: dt.date, timezone: ZoneInfo) -> dt.datetime:
    """The UTC instant at which a local day begins."""
    return dt.datetime.combine(day, dt.time(), timezone).astimezone(dt.UTC)


def local_date(instant: dt.datetime, timezone: ZoneInfo) -> dt.date:
    """The local calendar day of a UTC instant."""
    return instant.astimezone(timezone).date()


def period(first: dt.date, last: dt.date, calendar) -> tuple[dt.datetime, dt.datetime]:
    """The local days first..last (inclusive) as one half-open UTC interval."""
    return LocalDay.on(first, calendar).start, LocalDay.on(last, calendar).end


def local_dates(instants: pd.Series, timezone: ZoneInfo) -> pd.Series:
    """local_date of each tz-aware instant of a pandas Series."""
    return instants.dt.tz_convert(timezone).dt.date


def local_date_sql(column, dialect: str, timezone: ZoneInfo):
    """local_date as SQL: the local day (text 'YYYY-MM-DD') of a UTC instant column."""
    if dialect == "sqlite":
        # SQLite has no time zones: shift by the zone's offset (Asia/Shanghai keeps no DST).
        offset = dt.datetime.now(timezone).utcoffset()
        return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")
    return func.to_char(func.timezone(str(timezone), column), "YYYY-MM-DD")
