"""Queries behind the supervisors' drill-down: filters from the URL, frames, series, the grid.

The page's entry points (`read`, `search_filters`, `grid`, at the end) parse the URL's filters,
check them against the viewer's scope and read everything the page or a callback shows, in
sessions of their own. Below them, pure functions of (session, filters, now, calendar), which
the tests call directly. Every result is masked.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlencode

import numpy as np
import pandas as pd
from flask import current_app, has_app_context
from sqlalchemy import String, and_, cast, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from dashboard.domain import clock
from dashboard.domain.kpi import COUNTER_KEYS, compute_kpis, kpis_from_counters, resolution_counters, urged_sql
from dashboard.domain.localday import LocalDay, local_dates, period
from dashboard.domain.overdue import is_overdue_now, overdue_now_sql, overdue_sql_parts, state_moment
from dashboard.domain.pii import public_text
from dashboard.domain.regions import ancestors, covers, level_of, within
from dashboard.domain.vocab import AppealStatus, Category, Channel, Priority, TransitionAction
from dashboard.domain.workcal import FIRST_YEAR, WorkCalendar
from dashboard.queries.appeal import assignee_options
from dashboard.queries.regions import default_region_code
from dashboard.queries.wall import MapShapes, map_shapes, population, visit_lists
from dashboard.store import counters as aggregates
from dashboard.store.database import db
from dashboard.store.models import Appeal, Region, Transition
from dashboard.ui.chrome import Refusal, Viewer
from dashboard.ui.dimensions import DIMENSIONS  # the dimensions a click on a chart can filter by
from dashboard.ui.i18n import label, localized, normalise_language
from dashboard.ui.timeleft import time_left_text, urgency

DEFAULT_PERIOD_DAYS = 30
# The days a period may cover: none before the working calendar's first year (no appeal is older),
# none after tomorrow (local: a browser in a zone ahead of ours). MAX_PERIOD_DAYS bounds the span.
EARLIEST_DAY = dt.date(FIRST_YEAR, 1, 1)
FUTURE_DAYS = 1
MAX_PERIOD_DAYS = 800
MAX_TEXT_LENGTH = 50
_DIMENSION_COLUMNS = {
    "category": Appeal.category,
    "priority": Appeal.priority,
    "channel": Appeal.source,
    "status": Appeal.status,
}


def _day(value: str, name: str, latest: dt.date) -> dt.date:
    """A from/to query value as a date within EARLIEST_DAY..latest; FilterError naming the parameter otherwise."""
    try:
        day = dt.date.fromisoformat(value)
    except (ValueError, TypeError):
        raise FilterError(f"{name}: {str(value)[:20]!r} is not a date YYYY-MM-DD") from None
    if not EARLIEST_DAY <= day <= latest:
        raise FilterError(f"{name}: {day.isoformat()} is outside {EARLIEST_DAY.isoformat()}..{latest.isoformat()}")
    return day


class FilterError(ValueError):
    """A URL parameter that cannot be a filter; the message names it."""


@dataclass(frozen=True)
class DrillFilters:
    """What the supervisor is looking at: a region, a period of local days, and value filters."""

    region: str
    start: dt.date  # first local day, inclusive
    end: dt.date  # last local day, inclusive
    category: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    overdue: bool = False
    text: str = ""  # words in the description, or an appeal's external id
    lang: str = "zh"

    @classmethod
    def from_query(cls, query: dict, default_region: str, today: dt.date, lang: str = "zh") -> DrillFilters:
        """Read filters from URL query values (strings or lists); a bad value raises FilterError."""

        def one(name: str) -> str | None:
            value = query.get(name)
            if isinstance(value, list):
                value = value[0] if value else None
            return value or None

        region = one("region") or default_region
        try:
            level_of(region)
        except ValueError as exc:
            raise FilterError(f"region: {exc}") from None
        latest = today + dt.timedelta(days=FUTURE_DAYS)
        start = _day(one("from"), "from", latest) if one("from") else None
        end = _day(one("to"), "to", latest) if one("to") else today
        start = start or end - dt.timedelta(DEFAULT_PERIOD_DAYS - 1)
        if start < EARLIEST_DAY:  # also a default start, counted back from "to"
            raise FilterError(f"from: the period may not start before {EARLIEST_DAY.isoformat()}")
        if start > end:
            raise FilterError("from: the period starts after it ends")
        if (end - start).days >= MAX_PERIOD_DAYS:
            raise FilterError(f"from/to: at most {MAX_PERIOD_DAYS} days at once")
        values = {}
        for name, vocabulary in DIMENSIONS.items():
            raw = one(name)
            chosen = tuple(v for v in (raw or "").split(",") if v)
            allowed = {m.value for m in vocabulary}
            unknown = [v for v in chosen if v not in allowed]
            if unknown:
                raise FilterError(f"{name}: unknown value {unknown[0]!r}")
            values[name] = tuple(sorted(set(chosen)))
        overdue = (one("overdue") or "") in ("1", "true", "yes")
        text = (one("q") or "").strip()[:MAX_TEXT_LENGTH]
        return cls(region=region, start=start, end=end, overdue=overdue, text=text, lang=lang, **values)

    def to_query(self, **changes) -> str:
        """The URL query string ("?…") of these filters with changes applied."""
        filters = replace(self, **changes)
        params = {"region": filters.region, "from": filters.start.isoformat(), "to": filters.end.isoformat()}
        for name in DIMENSIONS:
            if getattr(filters, name):
                params[name] = ",".join(getattr(filters, name))
        if filters.overdue:
            params["overdue"] = "1"
        if filters.text:
            params["q"] = filters.text
        if filters.lang == "en":
            params["lang"] = "en"
        return "?" + urlencode(params)

    def toggled(self, dimension: str, value: str) -> DrillFilters:
        """These filters with value added to, or removed from, one dimension (a cross-filter click)."""
        chosen = set(getattr(self, dimension))
        chosen ^= {value}
        return replace(self, **{dimension: tuple(sorted(chosen))})

    def bounds(self, calendar: WorkCalendar) -> tuple[dt.datetime, dt.datetime]:
        """The period as UTC instants [start of first day, start of the day after the last)."""
        return period(self.start, self.end, calendar)


def parse_search(search: str | None) -> dict:
    """A URL search string ("?a=1&b=2") as a dict of first values."""
    return {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()}


def value_conditions(filters: DrillFilters, now: dt.datetime, skip: str | None = None) -> list:
    """SQL conditions of the region and value filters (not the period); `skip` leaves one dimension out."""
    conditions = [within(Appeal.region_code, filters.region)]
    for name, column in _DIMENSION_COLUMNS.items():
        chosen = getattr(filters, name)
        if chosen and name != skip:
            conditions.append(column.in_(chosen))
    if filters.overdue:
        conditions.append(overdue_now_sql(Appeal.is_open, Appeal.deadline_at, now))
    if filters.text:
        conditions.append(
            or_(Appeal.description.contains(filters.text, autoescape=True), Appeal.external_id == filters.text)
        )
    return conditions


# Columns read into frames: only what the KPIs and daily series need (the value filters are
# applied in SQL). Timestamps are fetched as text (as stored on SQLite, cast on PostgreSQL)
# and parsed by pandas in one vectorised pass: far cheaper than a Python datetime per value.
_FRAME_COLUMNS = {
    "id": Appeal.id,
    "reported_at": cast(Appeal.reported_at, String),
    "accepted_at": cast(Appeal.accepted_at, String),
    "resolved_at": cast(Appeal.resolved_at, String),
    "deadline_at": cast(Appeal.deadline_at, String),
    "satisfaction": type_coerce(Appeal.satisfaction, String),
}
_TIME_COLUMNS = ("reported_at", "accepted_at", "resolved_at", "deadline_at")


def _times(values: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(values, utc=True, format="ISO8601")
    return parsed.astype("datetime64[us, UTC]")


def appeals_frame(session: Session, filters: DrillFilters, now: dt.datetime, calendar: WorkCalendar) -> pd.DataFrame:
    """Every appeal that can count in the period: reported or resolved in it, or open and overdue at its end."""
    start, end = filters.bounds(calendar)
    end = min(end, now)
    columns = [c.label(n) for n, c in _FRAME_COLUMNS.items()]
    conditions = value_conditions(filters, now)
    # One query per reason an appeal counts, each answered from its own index (an OR of them
    # would scan the whole table); after the first, only appeals reported before the period.
    # Overdue at the end (domain.overdue at t = end) in its two halves, each through its own index:
    # still open now (so unresolved at the end), by (is_open, deadline_at); and resolved after the end.
    earlier = Appeal.reported_at < start
    _never_resolved, resolved_after_end = overdue_sql_parts(
        Appeal.reported_at, Appeal.resolved_at, Appeal.deadline_at, end
    )
    reasons = [
        and_(Appeal.reported_at >= start, Appeal.reported_at < end),
        and_(Appeal.resolved_at >= start, Appeal.resolved_at < end, earlier),
        and_(overdue_now_sql(Appeal.is_open, Appeal.deadline_at, end), earlier),
    ]
    if end < now:  # overdue at a past end and resolved after it
        reasons.append(and_(resolved_after_end, earlier))
    rows = []
    for reason in reasons:
        result = session.connection().execute(select(*columns).where(*conditions, reason))
        # The driver's own tuples: the values are parsed column-wise below, not cell by cell.
        rows.extend(result.cursor.fetchall())
        result.close()
    values = list(zip(*rows, strict=True)) if rows else [()] * len(_FRAME_COLUMNS)
    frame = pd.DataFrame(dict(zip(_FRAME_COLUMNS, values, strict=True)), columns=list(_FRAME_COLUMNS))
    frame = frame.drop_duplicates("id", ignore_index=True)
    for column in _TIME_COLUMNS:
        frame[column] = _times(frame[column])
    return frame


# The page's reads run side by side: both databases answer without holding the GIL, so on two
# cores a page waits for its slowest read rather than for their sum. One pool per app (made by
# create_app, app.extensions["drill_readers"]), shared by its requests, which also bounds how
# many of a page's reads the database sees at once.
_READER_PREFIX = "drill-read"


def make_reader_pool() -> ThreadPoolExecutor:
    """The pool an app runs its drill pages' reads in (threads start on first use)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix=_READER_PREFIX)


def read_in_parallel(session: Session, reads: dict[str, Callable[[Session], Any]]) -> dict[str, Any]:
    """Run independent reads at once, each in its own session on session's engine; their results by name."""
    engine = session.get_bind()

    def run(read: Callable[[Session], Any]) -> Any:
        with Session(engine) as own:
            return read(own)

    pool = current_app.extensions.get("drill_readers") if has_app_context() else None
    if pool is None or threading.current_thread().name.startswith(_READER_PREFIX):
        # outside an app, or nested (waiting on the pool from inside it could deadlock): one by one
        return {name: run(read) for name, read in reads.items()}
    futures = {name: pool.submit(run, read) for name, read in reads.items()}
    return {name: future.result() for name, future in futures.items()}


def from_counters(filters: DrillFilters) -> bool:
    """Whether the view can be read from the per-day KPI counters: every filter but overdue-only and text
    (kpi_daily_dims holds category, priority, channel and status; issue 21)."""
    return not (filters.overdue or filters.text)


def counter_selection(filters: DrillFilters) -> aggregates.Selection:
    """The filters' chosen values as the counters' selection (DIMENSIONS are the counters' DIM_KEYS)."""
    return aggregates.selection_of(dims={name: getattr(filters, name) for name in DIMENSIONS})


def counter_kpis(session: Session, filters: DrillFilters, now: dt.datetime, calendar: WorkCalendar) -> dict:
    """The period's KPIs from the stored counters (for views where from_counters holds)."""
    counts = counter_counts(session, filters, now, calendar)
    return aggregates.kpis_of(counts, counter_response_minutes(session, filters, now, calendar))


def counter_counts(
    session: Session, filters: DrillFilters, now: dt.datetime, calendar: WorkCalendar
) -> aggregates.RegionCounts:
    """The period's counters, overdue and urges: counter_kpis's reads but the response minutes."""
    start, end = filters.bounds(calendar)
    end = min(end, now)
    return aggregates.region_counts(
        session, filters.region, start, end, calendar, as_of=state_moment(end, now), dims=counter_selection(filters)
    )


def counter_response_minutes(session: Session, filters: DrillFilters, now: dt.datetime, calendar: WorkCalendar):
    """The response minutes behind the period's median response KPI (one per accepted appeal)."""
    start, end = filters.bounds(calendar)
    return aggregates.response_minutes(session, filters.region, start, min(end, now), counter_selection(filters))


def counter_series(session: Session, filters: DrillFilters, calendar: WorkCalendar) -> pd.DataFrame:
    """The daily series of daily_series, summed from the stored per-day counters of the region."""
    sums = aggregates.day_sums(
        session, filters.region, filters.start, filters.end, calendar, counter_selection(filters)
    )
    return _series(filters, sums)


def period_kpis(
    frame: pd.DataFrame,
    filters: DrillFilters,
    now: dt.datetime,
    calendar: WorkCalendar,
    urges_at: pd.Series | None = None,
) -> dict:
    """The §5 KPIs of the filtered frame over the period (to now, if the period is still running).

    urges_at: the instants of the urge steps on the filtered appeals in the period (urge_times).
    """
    start, end = filters.bounds(calendar)
    return compute_kpis(frame, pd.Timestamp(start), pd.Timestamp(min(end, now)), calendar, urges_at=urges_at)


def urge_times(session: Session, filters: DrillFilters, now: dt.datetime, calendar: WorkCalendar) -> pd.Series:
    """When the appeals the filters select were urged (督办) within the period: the urged KPI's steps."""
    start, end = filters.bounds(calendar)
    steps = session.scalars(
        select(Transition.at)
        .join(Appeal, Appeal.id == Transition.appeal_id)
        .where(urged_sql(Transition.action, Transition.at, start, min(end, now)), *value_conditions(filters, now))
    ).all()
    return pd.Series(pd.to_datetime(list(steps), utc=True), dtype="datetime64[ns, UTC]")


def daily_series(frame: pd.DataFrame, filters: DrillFilters, now: dt.datetime, calendar: WorkCalendar) -> pd.DataFrame:
    """Per local day: received, resolved, on-time rate, mean handling (working days), satisfaction rate."""
    start, end = filters.bounds(calendar)
    reported = frame[(frame["reported_at"] >= start) & (frame["reported_at"] < end)]
    resolved = frame[frame["resolved_at"].notna() & (frame["resolved_at"] >= start) & (frame["resolved_at"] < end)]
    per_day = pd.DataFrame(resolution_counters(resolved, calendar), index=resolved.index)
    per_day["resolved"] = 1
    per_day["day"] = local_dates(resolved["resolved_at"], calendar.timezone)
    sums = {day: dict(group.drop(columns="day").sum().astype(int)) for day, group in per_day.groupby("day")}
    for day, count in local_dates(reported["reported_at"], calendar.timezone).value_counts().items():
        sums.setdefault(day, {})["received"] = int(count)
    return _series(filters, sums)


def _series(filters: DrillFilters, sums: dict[dt.date, dict[str, int]]) -> pd.DataFrame:
    """Per-day rows from per-day counters, through the one KPI rule (kpi.kpis_from_counters)."""
    rows = []
    for day in pd.date_range(filters.start, filters.end, freq="D").date:
        counters = {**dict.fromkeys(COUNTER_KEYS, 0), **sums.get(day, {})}
        kpis = kpis_from_counters(counters, 0, np.zeros(0))
        rows.append({"day": day, **{key: _nan(kpis[key]) for key in SERIES_KEYS}})
    return pd.DataFrame(rows, columns=["day", *SERIES_KEYS])


SERIES_KEYS = ("received", "resolved", "on_time_rate", "satisfaction_rate", "avg_handling_wd")


def _nan(value):
    return np.nan if value is None else value


def dimension_counts(
    session: Session, filters: DrillFilters, now: dt.datetime, calendar: WorkCalendar
) -> dict[str, dict[str, int]]:
    """Appeals reported in the period per value of each dimension, each with every other filter applied.

    One grouped scan over (category, priority, channel, status) with the dimension filters left
    out; each dimension's counts then apply the other dimensions' filters (a cross-filter chart
    keeps showing its own unchosen values).
    """
    if from_counters(filters):  # whole local days: the per-day counters by dimension hold them
        rows = aggregates.received_by_dimension(session, filters.region, filters.start, filters.end, calendar)
    else:
        start, end = filters.bounds(calendar)
        unfiltered = replace(filters, category=(), priority=(), channel=(), status=())
        columns = [type_coerce(column, String) for column in _DIMENSION_COLUMNS.values()]
        rows = session.execute(
            select(*columns, func.count())
            .where(*value_conditions(unfiltered, now), Appeal.reported_at >= start, Appeal.reported_at < end)
            .group_by(*_DIMENSION_COLUMNS.values())
        ).all()
    grouped = pd.DataFrame(rows, columns=[*DIMENSIONS, "n"])
    result = {}
    for name, vocabulary in DIMENSIONS.items():
        keep = pd.Series(True, index=grouped.index)
        for other in DIMENSIONS:
            if other != name and getattr(filters, other):
                keep &= grouped[other].isin(getattr(filters, other))
        counts = {member.value: 0 for member in vocabulary}
        counts.update({k: int(v) for k, v in grouped[keep].groupby(name)["n"].sum().items()})
        result[name] = counts
    return result


def counts_by(
    session: Session, filters: DrillFilters, dimension: str, now: dt.datetime, calendar: WorkCalendar
) -> dict[str, int]:
    """Appeals reported in the period per value of one dimension, with every other filter applied."""
    return dimension_counts(session, filters, now, calendar)[dimension]


def child_level_length(region: str) -> int | None:
    """Code length of the level below region (None at the compound level)."""
    return {6: 9, 9: 12, 12: 15}.get(len(region))


def children_breakdown(
    session: Session, filters: DrillFilters, now: dt.datetime, calendar: WorkCalendar
) -> pd.DataFrame:
    """Per region one level down: appeals reported in the period, open now, and overdue now."""
    columns = ["code", "name", "received", "open", "overdue"]
    length = child_level_length(filters.region)
    if length is None:
        return pd.DataFrame(columns=columns)
    start, end = filters.bounds(calendar)
    child = func.substr(Appeal.region_code, 1, length)
    names = session.execute(
        select(Region.code, Region.name, Region.name_en)
        .where(Region.parent_code == filters.region)
        .order_by(Region.code)
    ).all()
    if from_counters(filters):
        received = aggregates.received_by_region(
            session, [r.code for r in names], filters.start, filters.end, calendar, counter_selection(filters)
        )
    else:
        received = dict(
            session.execute(
                select(child, func.count())
                .where(*value_conditions(filters, now), Appeal.reported_at >= start, Appeal.reported_at < end)
                .group_by(child)
            ).all()
        )
    load = {
        code: (open_count, overdue)
        for code, open_count, overdue in session.execute(
            select(child, func.count(), func.count().filter(overdue_now_sql(Appeal.is_open, Appeal.deadline_at, now)))
            .where(*value_conditions(filters, now), Appeal.is_open)
            .group_by(child)
        ).all()
    }
    return pd.DataFrame(
        [
            {
                "code": r.code,
                "name": localized(r.name, r.name_en, filters.lang),
                "received": int(received.get(r.code, 0)),
                "open": int(load.get(r.code, (0, 0))[0]),
                "overdue": int(load.get(r.code, (0, 0))[1]),
            }
            for r in names
        ],
        columns=columns,
    )


AGEING_BUCKETS = ((0, 1), (1, 3), (3, 7), (7, 30), (30, None))  # calendar days past the deadline


def overdue_ageing(session: Session, filters: DrillFilters, now: dt.datetime) -> list[int]:
    """Open appeals past their deadline now, counted by how long ago the deadline passed."""
    deadlines = session.scalars(
        select(type_coerce(Appeal.deadline_at, String)).where(
            *value_conditions(filters, now), overdue_now_sql(Appeal.is_open, Appeal.deadline_at, now)
        )
    ).all()
    if not deadlines:
        return [0] * len(AGEING_BUCKETS)
    late_days = (pd.Timestamp(now) - _times(pd.Series(deadlines))).dt.total_seconds() / 86400
    counts = []
    for low, high in AGEING_BUCKETS:
        mask = late_days >= low if high is None else (late_days >= low) & (late_days < high)
        counts.append(int(mask.sum()))
    return counts


def breadcrumb(session: Session, region: str, lang: str) -> list[tuple[str, str]]:
    """(code, name) from the district down to region."""
    codes = [*ancestors(region), region]
    names = {
        r.code: localized(r.name, r.name_en, lang)
        for r in session.execute(select(Region.code, Region.name, Region.name_en).where(Region.code.in_(codes)))
    }
    return [(code, names.get(code, code)) for code in codes]


# ---------------------------------------------------------------------------- the appeals grid

GRID_COLUMNS = ("id", "reported_at", "place", "category", "priority", "channel", "status", "deadline_at", "text")
_SORTABLE = {
    "id": Appeal.id,
    "link": Appeal.id,
    "reported_at": Appeal.reported_at,
    "category": Appeal.category,
    "priority": Appeal.priority,
    "channel": Appeal.source,
    "status": Appeal.status,
    "place": Appeal.region_code,
    "community": Appeal.region_code,
}
# Sorted by deadline or by time left, open appeals come first in either direction (a closed appeal's
# deadline no longer runs): ascending is "most urgent first", the grid's default order.
_BY_DEADLINE = ("deadline_at", "time_left")
MAX_PAGE_ROWS = 500


def _grid_conditions(filters: DrillFilters, now: dt.datetime, calendar: WorkCalendar) -> list:
    start, end = filters.bounds(calendar)
    return [*value_conditions(filters, now), Appeal.reported_at >= start, Appeal.reported_at < end]


def most_urgent_first(descending: bool = False) -> list:
    """The grid's default order: open appeals first, most overdue / least time left first (deadline ascending),
    closed ones last; descending keeps open ones first but puts the most time left first."""
    deadline = Appeal.deadline_at.desc() if descending else Appeal.deadline_at.asc()
    return [Appeal.is_open.desc(), deadline]


def _grid_order(sort_model) -> list:
    order = []
    for sort in sort_model or []:
        descending = sort.get("sort") == "desc"
        if sort.get("colId") in _BY_DEADLINE:
            order += most_urgent_first(descending)
            continue
        column = _SORTABLE.get(sort.get("colId"))
        if column is not None:
            order.append(column.desc() if descending else column.asc())
    order = order or most_urgent_first()
    order.append(Appeal.id.desc())
    return order


_GRID_COLUMNS = (
    Appeal.id,
    Appeal.region_code,
    Appeal.reported_at,
    Appeal.deadline_at,
    Appeal.category,
    Appeal.priority,
    Appeal.source,
    Appeal.status,
    Appeal.is_open,
    Appeal.description,
    Appeal.version,  # the grid's bulk steps send it back (optimistic concurrency)
    Region.name,
    Region.name_en,
)
COMMUNITY_CODE_LENGTH = 12


def _grid_statement(filters, now, calendar, sort_model):
    return (
        select(*_GRID_COLUMNS)
        .join(Region, Region.code == Appeal.region_code)
        .where(*_grid_conditions(filters, now, calendar))
        .order_by(*_grid_order(sort_model))
    )


def community_names(session: Session, region_codes, lang: str) -> dict[str, str]:
    """The name of each appeal region's community (the 12-digit code above or at it), by region code."""
    communities = {code[:COMMUNITY_CODE_LENGTH] for code in region_codes if len(code) >= COMMUNITY_CODE_LENGTH}
    if not communities:
        return {}
    names = {
        r.code: localized(r.name, r.name_en, lang)
        for r in session.execute(
            select(Region.code, Region.name, Region.name_en).where(Region.code.in_(sorted(communities)))
        )
    }
    return {code: names.get(code[:COMMUNITY_CODE_LENGTH], "") for code in region_codes}


def grid_page(
    session: Session,
    filters: DrillFilters,
    now: dt.datetime,
    calendar: WorkCalendar,
    start_row: int,
    end_row: int,
    sort_model: list[dict] | None = None,
) -> tuple[list[dict], int]:
    """One page of the appeals grid (masked rows) and the number of matching appeals."""
    start_row = max(int(start_row), 0)
    end_row = min(max(int(end_row), start_row), start_row + MAX_PAGE_ROWS)
    conditions = _grid_conditions(filters, now, calendar)
    # The page's ids first, sorting narrow rows of one table; then only those rows in full
    # (a deep page sorted by deadline otherwise carries every match's text and place through the sort).
    ids = list(
        session.scalars(
            select(Appeal.id)
            .where(*conditions)
            .order_by(*_grid_order(sort_model))
            .offset(start_row)
            .limit(end_row - start_row)
        )
    )
    by_id = {
        row.id: row
        for row in session.execute(
            select(*_GRID_COLUMNS).join(Region, Region.code == Appeal.region_code).where(Appeal.id.in_(ids))
        )
    }
    total = grid_count(session, filters, now, calendar)
    communities = community_names(session, {row.region_code for row in by_id.values()}, filters.lang)
    rows = [_grid_row(by_id[i], filters.lang, now, calendar, communities) for i in ids if i in by_id]
    return rows, total


def grid_count(session: Session, filters: DrillFilters, now: dt.datetime, calendar: WorkCalendar) -> int:
    """How many appeals the grid lists for the filters (its total, above it)."""
    if from_counters(filters):  # appeals reported on the period's whole days: the counters' received
        region, selection = filters.region, counter_selection(filters)
        counts = aggregates.received_by_region(session, [region], filters.start, filters.end, calendar, selection)
        return counts.get(region, 0)
    return int(
        session.scalar(select(func.count()).select_from(Appeal).where(*_grid_conditions(filters, now, calendar))) or 0
    )


def _grid_row(row, lang: str, now: dt.datetime, calendar: WorkCalendar, communities: dict | None = None) -> dict:
    zone = calendar.timezone
    seconds_left = (row.deadline_at - now).total_seconds()
    return {
        "id": row.id,
        "reported_at": row.reported_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "place": localized(row.name, row.name_en, lang),
        "community": (communities or {}).get(row.region_code, ""),
        "category": label(Category(row.category), lang),
        "priority": label(Priority(row.priority), lang),
        "priority_code": Priority(row.priority).value,
        "channel": label(Channel(row.source), lang),
        "status": label(AppealStatus(row.status), lang),
        "deadline_at": row.deadline_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        # the shared time-left rule (ui.timeleft): words, and the colour class's name
        "time_left": time_left_text(seconds_left, lang) if row.is_open else "—",
        "urgency": urgency(seconds_left, row.is_open),
        "overdue": is_overdue_now(row.is_open, row.deadline_at, now),
        "text": public_text(row.description, 60),
        "version": row.version,
    }


EXPORT_ROW_LIMIT = 200_000
EXPORT_COLUMNS = (*GRID_COLUMNS[:-1], "overdue", "text")


def export_frame(
    session: Session,
    filters: DrillFilters,
    now: dt.datetime,
    calendar: WorkCalendar,
    sort_model: list[dict] | None = None,
) -> pd.DataFrame:
    """The filtered appeals list for download, masked, in the grid's order (at most EXPORT_ROW_LIMIT rows)."""
    statement = _grid_statement(filters, now, calendar, sort_model).limit(EXPORT_ROW_LIMIT)
    rows = [_grid_row(row, filters.lang, now, calendar) for row in session.execute(statement)]
    return pd.DataFrame(rows, columns=[*EXPORT_COLUMNS, "priority_code"])[list(EXPORT_COLUMNS)]


# ---------------------------------------------------------------------------- the page and its callbacks


@dataclass(frozen=True)
class Crumb:
    """One step of the breadcrumb: a region above the view, or the view's own; in_scope: a link may lead there."""

    code: str
    name: str
    in_scope: bool


@dataclass(frozen=True)
class DrillView:
    """Everything the drill-down page shows for its filters."""

    filters: DrillFilters
    targets: dict
    kpis: dict
    series: pd.DataFrame
    by: dict[str, dict[str, int]]
    children: pd.DataFrame
    child_length: int | None
    crumbs: list[Crumb]
    ageing: list[int]
    population: dict
    visits: dict
    load: MapShapes | None  # the map: the areas one level down (queries.wall.map_shapes)
    as_of: dt.datetime | None = None  # the period not ended: the local moment its states were read
    bulk_steps: tuple[str, ...] = ()  # the grid's bulk steps this viewer may take (BULK_STEPS)
    assignees: tuple[tuple[str, str], ...] = ()  # for a bulk dispatch: queries.appeal.assignee_options
    grid_total: int = 0  # how many appeals the grid lists (grid_count)


@dataclass(frozen=True)
class GridPage:
    """One block of the appeals grid: masked rows, and how many appeals match."""

    rows: list[dict]
    total: int
    lang: str


def _today(now: dt.datetime, calendar: WorkCalendar) -> dt.date:
    return LocalDay.of(now, calendar).day


def read(query: dict, viewer: Viewer, lang: str, now: dt.datetime | None = None) -> DrillView | Refusal:
    """The page for the URL's filters as viewer may see it, or why it cannot be shown."""
    now = now or clock.utcnow()
    calendar = current_app.extensions["work_calendar"]
    with db.session() as session:
        default_region = viewer.region_code or default_region_code(session)
        if default_region is None:
            return Refusal("home.no_regions")
        try:
            filters = DrillFilters.from_query(query, default_region, _today(now, calendar), lang)
        except FilterError as exc:
            return Refusal("console.bad_filter", {"error": str(exc)})
        if not viewer.covers(filters.region):
            return Refusal("console.out_of_scope", {"region": filters.region})
        bulk_steps = tuple(code for code in BULK_STEPS if viewer.may_take(TransitionAction(code)))
        assignees = tuple(assignee_options(session, viewer, lang)) if "dispatch" in bulk_steps else ()
        session.close()  # its connection goes back to the pool: the page's reads each take their own
        view = read_view(session, filters, now, calendar, current_app.extensions["kpi_targets"], viewer.region_code)
    return replace(view, bulk_steps=bulk_steps, assignees=assignees)


# The steps the grid takes on a selection of appeals (services.actions.act_many).
BULK_STEPS = (TransitionAction.DISPATCH.value, TransitionAction.URGE.value)


def read_view(
    session: Session,
    filters: DrillFilters,
    now: dt.datetime,
    calendar: WorkCalendar,
    targets: dict,
    scope: str | None = None,
) -> DrillView:
    """The page's reads for valid, permitted filters, side by side (what bench/drill times).

    scope: the viewer's region (None: everything), which decides the breadcrumb's links.
    """
    reads = {
        "by": lambda own: dimension_counts(own, filters, now, calendar),
        "children": lambda own: children_breakdown(own, filters, now, calendar),
        "rest": lambda own: _region_facts(own, filters, now),
        "grid_total": lambda own: grid_count(own, filters, now, calendar),
    }
    if from_counters(filters):
        # The response minutes (one number per accepted appeal of the period) are the longest of the
        # KPIs' reads: read them beside the counters, not after them.
        reads["counts"] = lambda own: counter_counts(own, filters, now, calendar)
        reads["minutes"] = lambda own: counter_response_minutes(own, filters, now, calendar)
        reads["series"] = lambda own: counter_series(own, filters, calendar)
    else:
        reads["period"] = lambda own: _period_from_appeals(own, filters, now, calendar)
    data = read_in_parallel(session, reads)
    if from_counters(filters):
        kpis, series = aggregates.kpis_of(data["counts"], data["minutes"]), data["series"]
    else:
        kpis, series = data["period"]
    names, ageing, people, visits, load = data["rest"]
    crumbs = [Crumb(code, name, covers(scope, code)) for code, name in names]
    return DrillView(
        filters=filters,
        targets=targets,
        kpis=kpis,
        series=series,
        by=data["by"],
        children=data["children"],
        child_length=child_level_length(filters.region),
        crumbs=crumbs,
        ageing=ageing,
        population=people,
        visits=visits,
        load=load,
        grid_total=data["grid_total"],
        as_of=now.astimezone(calendar.timezone) if filters.bounds(calendar)[1] > now else None,
    )


def _period_from_appeals(
    session: Session, filters: DrillFilters, now: dt.datetime, calendar: WorkCalendar
) -> tuple[dict, object]:
    """The period's KPIs and daily series from the appeals that count (filters the counters do not hold)."""
    frame = appeals_frame(session, filters, now, calendar)
    urges_at = urge_times(session, filters, now, calendar)
    return period_kpis(frame, filters, now, calendar, urges_at), daily_series(frame, filters, now, calendar)


def _region_facts(session: Session, filters: DrillFilters, now: dt.datetime) -> tuple:
    """The page's small reads: breadcrumb, overdue ageing, population, visit lists, the map."""
    return (
        breadcrumb(session, filters.region, filters.lang),
        overdue_ageing(session, filters, now),
        population(session, filters.region),
        visit_lists(session, filters.region),
        map_shapes(session, filters.region, now),
    )


def search_filters(search: str | None, viewer: Viewer, now: dt.datetime | None = None) -> DrillFilters | None:
    """The filters of a URL search string for viewer; None when they are invalid or outside the viewer's scope."""
    query = parse_search(search)
    lang = normalise_language(query.get("lang"))
    now = now or clock.utcnow()
    calendar = current_app.extensions["work_calendar"]
    default_region = viewer.region_code
    if default_region is None:
        with db.session() as session:
            default_region = default_region_code(session)
    try:
        filters = DrillFilters.from_query(query, default_region, _today(now, calendar), lang)
    except FilterError:
        return None
    return filters if viewer.covers(filters.region) else None


def grid(search: str | None, viewer: Viewer, request: dict, now: dt.datetime | None = None) -> GridPage | None:
    """The block of grid rows ag-grid's request asks for (sorted on the server); None for filters refused."""
    filters = search_filters(search, viewer, now)
    if filters is None:
        return None
    now = now or clock.utcnow()
    with db.session() as session:
        rows, total = grid_page(
            session,
            filters,
            now,
            current_app.extensions["work_calendar"],
            request.get("startRow", 0),
            request.get("endRow", 100),
            request.get("sortModel"),
        )
    return GridPage(rows, total, filters.lang)
