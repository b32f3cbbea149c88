"""Working days and working time (BRIEF §4): China's statutory holidays and make-up days.

All arithmetic runs on arrays of *local* seconds (seconds since 1970-01-01 00:00 local
wall time), so a single appeal and a million demo appeals share one implementation.
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

DAY = 86_400
FIRST_YEAR = 2000
LAST_YEAR = 2040
_ORIGIN = dt.date(FIRST_YEAR, 1, 1)
_ORIGIN_DAYS = (_ORIGIN - dt.date(1970, 1, 1)).days
# The console and the wall warn this many days before a year without holiday data begins.
FALLBACK_WARNING_DAYS = 30


@dataclass
class WorkCalendar:
    """Which local days are working days, and working-time arithmetic over them."""

    timezone: ZoneInfo
    working: np.ndarray  # bool per day from FIRST_YEAR-01-01
    source_by_year: dict[int, str]  # "library" | "override" | "fallback"
    cumulative: np.ndarray = field(init=False)  # working days strictly before each day
    working_day_index: np.ndarray = field(init=False)  # day numbers of working days, in order

    def __post_init__(self) -> None:
        self.cumulative = np.concatenate(([0], np.cumsum(self.working)))
        self.working_day_index = np.flatnonzero(self.working)

    # ---- which days --------------------------------------------------------------------
    def is_working_day(self, day: dt.date) -> bool:
        """True when the local calendar day is a working day."""
        index = (day - _ORIGIN).days
        if not 0 <= index < self.working.size:
            raise ValueError(f"{day} is outside the calendar's range {FIRST_YEAR}–{LAST_YEAR}")
        return bool(self.working[index])

    def fallback_years(self) -> list[int]:
        """Years with neither library data nor an override, counted Monday–Friday."""
        return sorted(year for year, source in self.source_by_year.items() if source == "fallback")

    def fallback_soon(self, today: dt.date, days_ahead: int = FALLBACK_WARNING_DAYS) -> list[int]:
        """The years counted Monday–Friday that matter now: this year, and next year once it starts
        within days_ahead days (the console's banner and the wall's marker)."""
        years = [today.year]
        if (dt.date(today.year + 1, 1, 1) - today).days <= days_ahead:
            years.append(today.year + 1)
        return [year for year in years if self.source_by_year.get(year) == "fallback"]

    def status(self, today: dt.date) -> dict:
        """Calendar coverage for /healthz: warns when this year or next falls back."""
        relevant = [today.year, today.year + 1]
        fallback = [year for year in relevant if self.source_by_year.get(year) == "fallback"]
        return {
            "status": "degraded" if today.year in fallback else ("warning" if fallback else "ok"),
            "sources": {str(year): self.source_by_year.get(year) for year in relevant},
            "fallback_years": fallback,
        }

    # ---- local seconds -------------------------------------------------------------------
    def to_local_seconds(self, instants) -> np.ndarray:
        """UTC instants (tz-aware) to local wall-clock seconds since 1970-01-01."""
        index = pd.DatetimeIndex(pd.to_datetime(instants, utc=True))
        local = index.tz_convert(self.timezone).tz_localize(None)
        return local.as_unit("s").asi8

    def from_local_seconds(self, seconds: np.ndarray) -> pd.DatetimeIndex:
        """Local wall-clock seconds back to UTC instants."""
        naive = pd.DatetimeIndex(np.asarray(seconds, dtype="int64").astype("datetime64[s]"))
        return naive.tz_localize(self.timezone).tz_convert("UTC")

    def _day_numbers(self, local_seconds: np.ndarray) -> np.ndarray:
        days = local_seconds // DAY - _ORIGIN_DAYS
        if days.size and (days.min() < 0 or days.max() >= self.working.size):
            raise ValueError(f"instant outside the calendar's range {FIRST_YEAR}–{LAST_YEAR}")
        return days

    def working_seconds(self, local_seconds: np.ndarray) -> np.ndarray:
        """Working time accumulated from the calendar's origin up to each instant."""
        local_seconds = np.asarray(local_seconds, dtype="int64")
        days = self._day_numbers(local_seconds)
        into_day = local_seconds - (days + _ORIGIN_DAYS) * DAY
        return self.cumulative[days] * DAY + self.working[days] * into_day

    def instant_of_working_seconds(self, working_seconds: np.ndarray) -> np.ndarray:
        """The earliest local instant at which that much working time has accumulated."""
        working_seconds = np.asarray(working_seconds, dtype="int64")
        whole_days, remainder = np.divmod(working_seconds, DAY)
        # Remainder 0 means "the end of working day number whole_days - 1" (its 24:00).
        index = np.where(remainder > 0, whole_days, whole_days - 1)
        day = self.working_day_index[index]
        return np.where(remainder > 0, (day + _ORIGIN_DAYS) * DAY + remainder, (day + 1 + _ORIGIN_DAYS) * DAY)

    # ---- the rules of BRIEF §4 ---------------------------------------------------------------
    def add_working_days_local(self, local_seconds: np.ndarray, working_days: np.ndarray) -> np.ndarray:
        """Deadline (local seconds) N working days after each start (local seconds)."""
        start = self.working_seconds(local_seconds)
        return self.instant_of_working_seconds(start + np.asarray(working_days, dtype="int64") * DAY)

    def add_working_days(self, start: dt.datetime, working_days: int) -> dt.datetime:
        """Deadline N working days after a UTC instant."""
        local = self.to_local_seconds([start])
        result = self.add_working_days_local(local, np.array([working_days]))
        return self.from_local_seconds(result)[0].to_pydatetime()

    def working_days_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Handling time in working days: working hours between two UTC instants / 24."""
        local = self.to_local_seconds([start, end])
        elapsed = self.working_seconds(local)
        return float(elapsed[1] - elapsed[0]) / DAY

    def working_days_between_local(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Vector form of working_days_between, on local seconds."""
        return (self.working_seconds(end) - self.working_seconds(start)) / DAY


def load_overrides(path: Path) -> dict[int, tuple[set[dt.date], set[dt.date]]]:
    """Read the operator's override file: {year: (holidays, workdays)}."""
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    overrides: dict[int, tuple[set[dt.date], set[dt.date]]] = {}
    for year_text, table in raw.items():
        year = int(year_text)
        holidays = {dt.date.fromisoformat(str(day)) for day in table.get("holidays", [])}
        workdays = {dt.date.fromisoformat(str(day)) for day in table.get("workdays", [])}
        for day in holidays | workdays:
            if day.year != year:
                raise ValueError(f"{path}: [{year}] lists {day}, which is not in {year}")
        overlap = holidays & workdays
        if overlap:
            raise ValueError(f"{path}: [{year}] lists {sorted(overlap)} as both holiday and workday")
        overrides[year] = (holidays, workdays)
    return overrides


def build_calendar(timezone: str = "Asia/Shanghai", override_file: Path | None = None) -> WorkCalendar:
    """Build the working-day calendar from the library, the override file and the fallback."""
    overrides = load_overrides(override_file) if override_file else {}
    days = pd.date_range(_ORIGIN, dt.date(LAST_YEAR, 12, 31), freq="D")
    working = np.zeros(len(days), dtype=bool)
    source_by_year: dict[int, str] = {}
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        start = (dt.date(year, 1, 1) - _ORIGIN).days
        year_days = [d.date() for d in days[start : start + (366 if _leap(year) else 365)]]
        if year in overrides:
            holidays, workdays = overrides[year]
            flags = [(d.weekday() < 5 and d not in holidays) or d in workdays for d in year_days]
            source_by_year[year] = "override"
        else:
            try:
                flags = [chinese_calendar.is_workday(d) for d in year_days]
                source_by_year[year] = "library"
            except NotImplementedError:
                flags = [d.weekday() < 5 for d in year_days]
                source_by_year[year] = "fallback"
        working[start : start + len(year_days)] = flags
    calendar = WorkCalendar(ZoneInfo(timezone), working, source_by_year)
    this_year = dt.date.today().year
    for year in (this_year, this_year + 1):
        if source_by_year.get(year) == "fallback":
            log.warning(
                "working-day calendar: no holiday data for %s; counting Monday–Friday. "
                "Add the official schedule to %s.",
                year,
                override_file or "a calendar override file (CC_CALENDAR_OVERRIDE_FILE)",
            )
    return calendar


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
