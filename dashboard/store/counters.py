"""Precomputed KPI counters (BRIEF §5, §9): the wall and the API read sums, not every appeal.

kpi_daily holds the additive counters of kpi.COUNTER_KEYS per region, local day and category;
kpi_daily_dims the same counters split further by priority, channel (the appeal's source) and the
appeal's current status, for the drill-down's cross-filters (issue 21). Status is the appeal's
status now, as the drill-down's filter and grid mean it, not its state on the day: an appeal's
counts move from one status to the next with each step, and the KPI definitions are unchanged
(`received` under the report day, the rest under the resolution day, whatever the status).
An appeal counts in its own region and in every region above it (district, street, community,
compound), so any region's KPIs are one indexed range of rows, whatever its level. `received`
is counted under the local day the appeal was reported; the resolution counters under the day
it was resolved. The KPIs of [start, end) are then:

- the sum of the whole days the period touches, less what falls in the first day before
  `start` and in the last day from `end` on (read from the few appeals there: usually none,
  as the wall asks "today until now");
- overdue_open at `end` and the median response time, which do not add up, from two indexed
  queries over a small slice (open appeals past their deadline; appeals reported in the period).

Every change to an appeal changes the counters in the same transaction, by delta (the appeal's
contribution after the change less its contribution before): ORM changes through the flush
hook below (the workflow, the simulator's steps, anything that edits an Appeal object), bulk
writes by calling `record_new` / `record_changes` (ingest) or `build_from_frame` (demo).

Handling time depends on the working-day calendar. kpi_aggregate_state keeps the time zone and
the calendar the counters were computed with; writers use that one, and a reader whose
calendar differs (an override file edited, a new year published, another time zone) rebuilds
the days from the first day that differs before it answers. A missing state row means "never
built": the first reader (or `python app.py kpi rebuild`) builds everything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, String, and_, cast, delete, event, func, insert, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dashboard.domain.kpi import (
    COUNTER_KEYS,
    KPI_DEFINITIONS_VERSION,
    kpis_from_counters,
    resolution_counters,
    response_minutes_sql,
    urged_sql,
)
from dashboard.domain.localday import LocalDay
from dashboard.domain.overdue import overdue_sql, overdue_sql_parts
from dashboard.domain.regions import within
from dashboard.domain.vocab import Category
from dashboard.domain.workcal import DAY, FIRST_YEAR, WorkCalendar
from dashboard.store.bulk import bulk_insert
from dashboard.store.models import Appeal, KpiAggregateState, KpiDay, KpiDayByDimension, Transition

log = logging.getLogger(__name__)

APPEALS = Appeal.__table__
TRANSITIONS = Transition.__table__
COUNTERS = KpiDay.__table__
DIMS = KpiDayByDimension.__table__
STATE = KpiAggregateState.__table__
# What an appeal's contribution depends on. Table columns (not ORM attributes), so that reading
# them inside a flush never triggers another flush.
ROW_COLUMNS = (
    APPEALS.c.region_code,
    APPEALS.c.category,
    APPEALS.c.reported_at,
    APPEALS.c.resolved_at,
    APPEALS.c.deadline_at,
    APPEALS.c.satisfaction,
    APPEALS.c.priority,
    APPEALS.c.source,
    APPEALS.c.status,
)
ROW_NAMES = tuple(column.name for column in ROW_COLUMNS)
TIME_NAMES = ("reported_at", "resolved_at", "deadline_at")
CODE_LENGTHS = (6, 9, 12, 15)
# The key columns (besides region and day) of each counter table, and the appeal column each is read from.
BASE_KEYS = ("category",)
DIM_KEYS = ("category", "priority", "channel", "status")
_KEY_SOURCES = {"category": "category", "priority": "priority", "channel": "source", "status": "status"}
_APPEAL_KEY_COLUMNS = {key: APPEALS.c[name] for key, name in _KEY_SOURCES.items()}
# A channel filter on the source column itself makes SQLite read through the (source, external_id)
# unique index, every appeal of the channel (seconds at district scale); as an expression it cannot.
_APPEAL_KEY_COLUMNS["channel"] = cast(APPEALS.c.source, String)
STATE_ID = 1
_EPOCH = dt.date(1970, 1, 1)


# ---- local days ---------------------------------------------------------------------------------
def _day_numbers(instants: pd.Series, calendar: WorkCalendar) -> np.ndarray:
    """Local day of each UTC instant, as days since 1970-01-01."""
    return calendar.to_local_seconds(instants) // DAY


# ---- contributions ------------------------------------------------------------------------------
def appeal_frame(rows: Iterable[Sequence], sign: int | Sequence[int] = 1) -> pd.DataFrame:
    """Rows in ROW_NAMES order as a frame contributions() reads (enums as codes, UTC times)."""
    rows = [tuple(row) for row in rows]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(ROW_NAMES)
    data = {}
    for name, values in zip(ROW_NAMES, columns, strict=True):
        if name in TIME_NAMES:
            data[name] = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
        elif name != "region_code":  # enums as their codes
            data[name] = pd.Series([getattr(value, "value", value) for value in values], dtype=object)
        else:
            data[name] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(data)
    frame["sign"] = np.broadcast_to(np.asarray(sign, dtype="int64"), len(frame)).copy()
    return frame


# Below this many appeals, grouping in a dict beats pandas' fixed costs (a workflow step is one).
SMALL = 1_000


def contributions(
    appeals: pd.DataFrame, calendar: WorkCalendar, from_day: int | None = None, keys: tuple[str, ...] = BASE_KEYS
) -> pd.DataFrame:
    """The counter rows (region at every level, day number, keys) these appeals add, times their sign.

    keys: BASE_KEYS for kpi_daily, DIM_KEYS for kpi_daily_dims. Only days from `from_day` (days
    since 1970-01-01) on are kept when it is given.
    """
    group = ["region_code", "day", *keys]
    columns = [*group, *COUNTER_KEYS]
    if appeals.empty:
        return pd.DataFrame(columns=columns)
    sign = appeals["sign"].to_numpy(dtype="int64") if "sign" in appeals else np.ones(len(appeals), dtype="int64")
    region = appeals["region_code"].to_numpy(dtype=object)
    reported_day = _day_numbers(appeals["reported_at"], calendar)
    done = appeals["resolved_at"].notna().to_numpy()
    resolved_rows = appeals[done]
    resolved_day = _day_numbers(resolved_rows["resolved_at"], calendar)
    # One leaf entry per appeal for `received` and one per resolved appeal for the rest.
    leaf = {"region_code": np.concatenate([region, region[done]]), "day": np.concatenate([reported_day, resolved_day])}
    for key in keys:
        values = appeals[_KEY_SOURCES[key]].to_numpy(dtype=object)
        leaf[key] = np.concatenate([values, values[done]])
    counts = np.zeros((len(leaf["region_code"]), len(COUNTER_KEYS)), dtype="int64")
    counts[: len(region), COUNTER_KEYS.index("received")] = sign
    counts[len(region) :, COUNTER_KEYS.index("resolved")] = sign[done]
    for key, values in resolution_counters(resolved_rows, calendar).items():
        counts[len(region) :, COUNTER_KEYS.index(key)] = values * sign[done]
    if from_day is not None:
        keep = leaf["day"] >= from_day
        leaf = {name: values[keep] for name, values in leaf.items()}
        counts = counts[keep]
    total = (_group_small if len(counts) <= SMALL else _group_large)(leaf, counts, group)
    return total[total[list(COUNTER_KEYS)].any(axis=1)].reset_index(drop=True)[columns]


def _group_small(leaf: dict, counts: np.ndarray, group: list[str]) -> pd.DataFrame:
    sums: dict[tuple, np.ndarray] = {}
    rest = [leaf[name] for name in group[2:]]
    for position, (code, day_number) in enumerate(zip(leaf["region_code"], leaf["day"].tolist(), strict=True)):
        values = counts[position]
        tail = tuple(column[position] for column in rest)
        # Every region above the appeal's own counts it too.
        for length in CODE_LENGTHS:
            if length > len(code):
                break
            key = (code[:length], day_number, *tail)
            if key in sums:
                sums[key] = sums[key] + values
            else:
                sums[key] = values.copy()
    keys = sorted(sums)
    frame = pd.DataFrame(keys, columns=group)
    values = np.array([sums[key] for key in keys], dtype="int64").reshape(len(keys), len(COUNTER_KEYS))
    for position, name in enumerate(COUNTER_KEYS):
        frame[name] = values[:, position]
    return frame


def _group_large(leaf: dict, counts: np.ndarray, group: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(leaf)
    for position, name in enumerate(COUNTER_KEYS):
        frame[name] = counts[:, position]
    frame = frame.groupby(group, as_index=False, sort=False)[list(COUNTER_KEYS)].sum()
    # Every region above the appeal's own counts it too.
    lengths = frame["region_code"].str.len()
    levels = [frame]
    for length in CODE_LENGTHS[:-1]:
        above = frame[lengths > length]
        if not above.empty:
            levels.append(above.assign(region_code=above["region_code"].str[:length]))
    total = pd.concat(levels, ignore_index=True)
    return total.groupby(group, as_index=False, sort=True)[list(COUNTER_KEYS)].sum()


def _day_dates(day_numbers) -> list[dt.date]:
    return [_EPOCH + dt.timedelta(days=int(n)) for n in day_numbers]


def _upsert(connection: Connection, delta: pd.DataFrame, table=COUNTERS, keys: tuple[str, ...] = BASE_KEYS) -> None:
    """Add counter deltas to the stored rows (creating missing rows), in key order to avoid deadlocks."""
    if delta.empty:
        return
    dialect = connection.dialect.name
    index = [table.c.region_code, table.c.day, *(table.c[key] for key in keys)]
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    statement = statement.on_conflict_do_update(
        index_elements=index,
        set_={key: table.c[key] + statement.excluded[key] for key in COUNTER_KEYS},
    )
    names = ["region_code", "day", *keys, *COUNTER_KEYS]
    columns = [
        delta["region_code"].tolist(),
        _day_dates(delta["day"]),
        *(delta[key].tolist() for key in keys),
        *(delta[key].astype(int).tolist() for key in COUNTER_KEYS),
    ]
    connection.execute(statement, [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)])
    if table is DIMS:
        _drop_emptied(connection, delta, index, keys)


def _drop_emptied(connection: Connection, delta: pd.DataFrame, index: list, keys: tuple[str, ...]) -> None:
    """Delete the rows a move left at zero: every step moves an appeal's counts to another status,
    and the rows it leaves would otherwise pile up (a rebuild would not write them)."""
    lowered = delta[(delta[list(COUNTER_KEYS)] < 0).any(axis=1)]
    if lowered.empty:
        return
    rows = list(zip(lowered["region_code"], _day_dates(lowered["day"]), *(lowered[key] for key in keys), strict=True))
    empty = and_(*(DIMS.c[key] == 0 for key in COUNTER_KEYS))
    for start in range(0, len(rows), 500):
        connection.execute(delete(DIMS).where(tuple_(*index).in_(rows[start : start + 500]), empty))


# ---- the stored calendar ----------------------------------------------------------------------
def calendar_signature(calendar: WorkCalendar) -> tuple[str, str, str]:
    """(time zone, working-day flags as '0'/'1' from FIRST_YEAR-01-01, digest of both)."""
    cached = getattr(calendar, "_kpi_signature", None)
    if cached is None:
        flags = "".join(np.where(calendar.working, "1", "0"))
        zone = str(calendar.timezone)
        cached = (zone, flags, hashlib.sha256(f"{zone}\n{flags}".encode()).hexdigest())
        calendar._kpi_signature = cached  # the calendar never changes in place: a reload builds a new one
    return cached


_stored_calendars: dict[str, WorkCalendar] = {}


def stored_calendar(connection: Connection, lock: bool = False) -> WorkCalendar | None:
    """The calendar the stored counters were computed with, or None when they were never built.

    With lock, a writer shares a lock with other writers that a rebuild excludes (PostgreSQL).
    """
    query = select(STATE.c.calendar_digest).where(STATE.c.id == STATE_ID)
    if lock:
        query = query.with_for_update(read=True)
    digest = connection.execute(query).scalar()
    if digest is None:
        return None
    calendar = _stored_calendars.get(digest)
    if calendar is None:
        zone, flags = connection.execute(
            select(STATE.c.timezone, STATE.c.working_days).where(STATE.c.id == STATE_ID)
        ).one()
        working = np.frombuffer(flags.encode(), dtype=np.uint8) == ord("1")
        calendar = WorkCalendar(ZoneInfo(zone), working, {})
        calendar._kpi_signature = (zone, flags, digest)
        _stored_calendars[digest] = calendar
    return calendar


def _write_state(connection: Connection, calendar: WorkCalendar) -> None:
    zone, flags, digest = calendar_signature(calendar)
    connection.execute(delete(STATE))
    connection.execute(
        insert(STATE).values(
            id=STATE_ID,
            timezone=zone,
            working_days=flags,
            calendar_digest=digest,
            definitions_version=KPI_DEFINITIONS_VERSION,
            built_at=dt.datetime.now(dt.UTC),
        )
    )


def _first_difference(stored: WorkCalendar, current: WorkCalendar) -> int | None:
    """Day number (since 1970) of the first day on which the calendars differ; None if the same."""
    if str(stored.timezone) != str(current.timezone) or stored.working.size != current.working.size:
        return 0
    changed = np.flatnonzero(stored.working != current.working)
    if changed.size == 0:
        return None
    return (dt.date(FIRST_YEAR, 1, 1) - _EPOCH).days + int(changed[0])


# ---- writers ----------------------------------------------------------------------------------
def record_changes(connection: Connection, before: Iterable[Sequence], after: Iterable[Sequence]) -> None:
    """Move the counters from appeals as they were (rows in ROW_NAMES order) to appeals as they are now."""
    before, after = list(before), list(after)
    if not before and not after:
        return
    calendar = stored_calendar(connection, lock=True)
    if calendar is None:
        return  # never built: the first reader builds from the appeals as they are
    frame = appeal_frame(before + after, [-1] * len(before) + [1] * len(after))
    _upsert(connection, contributions(frame, calendar))
    _upsert(connection, contributions(frame, calendar, keys=DIM_KEYS), DIMS, DIM_KEYS)


def record_new(connection: Connection, rows: Iterable[Sequence]) -> None:
    """Count appeals just inserted (rows in ROW_NAMES order)."""
    record_changes(connection, [], rows)


def read_rows(connection: Connection, appeal_ids: Sequence[int]) -> list[tuple]:
    """The stored ROW_NAMES values of these appeals."""
    rows: list[tuple] = []
    for start in range(0, len(appeal_ids), 900):
        chunk = list(appeal_ids[start : start + 900])
        rows.extend(tuple(row) for row in connection.execute(select(*ROW_COLUMNS).where(APPEALS.c.id.in_(chunk))))
    return rows


def build_from_frame(connection: Connection, appeals: pd.DataFrame, calendar: WorkCalendar) -> None:
    """Counters for a table of appeals loaded in bulk into an empty database (demo data)."""
    frame = appeals.loc[:, list(ROW_NAMES)].copy()
    for name in TIME_NAMES:
        frame[name] = pd.to_datetime(frame[name], utc=True)
    connection.execute(delete(COUNTERS))
    connection.execute(delete(DIMS))
    _store(connection, contributions(frame, calendar))
    _store(connection, contributions(frame, calendar, keys=DIM_KEYS), DIMS)
    _write_state(connection, calendar)


def _store(connection: Connection, counters: pd.DataFrame, table=COUNTERS) -> None:
    if counters.empty:
        return
    frame = counters.assign(day=[day.isoformat() for day in _day_dates(counters["day"])])
    bulk_insert(connection, table.name, frame)


# The ORM path: changes to Appeal objects in a flush move the counters in the same transaction.
_TRACKED = {name for name in ROW_NAMES}


def install_hooks(sessions) -> None:
    """Keep the counters in step with changes to Appeal objects flushed by these sessions (a sessionmaker)."""
    if not event.contains(sessions, "before_flush", _appeals_before_flush):
        event.listen(sessions, "before_flush", _appeals_before_flush)
        event.listen(sessions, "after_flush", _appeals_after_flush)


def _appeals_before_flush(session: Session, _context, _instances) -> None:
    from sqlalchemy import inspect as inspect_state

    changed = []
    for obj in list(session.dirty) + list(session.deleted):
        if not isinstance(obj, Appeal) or obj.id is None:
            continue
        state = inspect_state(obj)
        if obj in session.deleted or any(state.attrs[name].history.has_changes() for name in _TRACKED):
            changed.append(obj.id)
    created = [obj for obj in session.new if isinstance(obj, Appeal)]
    if not changed and not created:
        return
    connection = session.connection()
    session.info["_kpi_pending"] = (changed, created, read_rows(connection, changed))


def _appeals_after_flush(session: Session, _context) -> None:
    pending = session.info.pop("_kpi_pending", None)
    if pending is None:
        return
    changed, created, before = pending
    connection = session.connection()
    after = read_rows(connection, changed + [obj.id for obj in created])
    record_changes(connection, before, after)


# ---- rebuilding ---------------------------------------------------------------------------------
def rebuild(connection: Connection, calendar: WorkCalendar, from_day: int | None = None) -> int:
    """Recompute the counters from the appeals (all days, or from a day number on); returns rows written.

    Excludes writers while it runs: on PostgreSQL by a table lock they share, on SQLite by
    writing first (which takes the database's write lock before anything is read).
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"LOCK TABLE {STATE.name} IN EXCLUSIVE MODE"))
    connection.execute(delete(STATE))
    if from_day is None:
        connection.execute(delete(COUNTERS))
        connection.execute(delete(DIMS))
        where = True
    else:
        first = _EPOCH + dt.timedelta(days=from_day)
        connection.execute(delete(COUNTERS).where(COUNTERS.c.day >= first))
        connection.execute(delete(DIMS).where(DIMS.c.day >= first))
        start = LocalDay.on(first, calendar).start
        where = (APPEALS.c.reported_at >= start) | (APPEALS.c.resolved_at >= start)
    tables = ((COUNTERS, BASE_KEYS), (DIMS, DIM_KEYS))
    parts: dict[str, list[pd.DataFrame]] = {table.name: [] for table, _ in tables}
    query = select(*ROW_COLUMNS).where(where).execution_options(stream_results=True, yield_per=200_000)
    result = connection.execute(query)
    for chunk in result.partitions():
        frame = appeal_frame(chunk)
        for table, keys in tables:
            kept = parts[table.name]
            kept.append(contributions(frame, calendar, from_day, keys))
            if sum(map(len, kept)) > _COMPACT_ROWS:  # bounds the memory a district's rebuild takes
                parts[table.name] = [_sum_rows(kept, keys)]
    written = 0
    for table, keys in tables:
        if parts[table.name]:
            total = _sum_rows(parts[table.name], keys)
            _store(connection, total, table)
            written += len(total)
    _write_state(connection, calendar)
    return written


_COMPACT_ROWS = 3_000_000


def _sum_rows(parts: list[pd.DataFrame], keys: tuple[str, ...]) -> pd.DataFrame:
    total = pd.concat(parts, ignore_index=True)
    return total.groupby(["region_code", "day", *keys], as_index=False, sort=True)[list(COUNTER_KEYS)].sum()


def ensure_current(session: Session, calendar: WorkCalendar) -> None:
    """Make the stored counters match this calendar (build them when they never were).

    A rebuild runs in its own transaction, so call this from a session that has not written:
    readers (wall, API, exports) only read, and each of their statements sees the rebuilt rows.
    """
    stored = session.execute(
        select(STATE.c.calendar_digest, STATE.c.definitions_version).where(STATE.c.id == STATE_ID)
    ).first()
    if stored is not None and tuple(stored) == (calendar_signature(calendar)[2], KPI_DEFINITIONS_VERSION):
        return
    engine = session.get_bind()
    with engine.begin() as connection:
        # Decided again under the lock: another process may have rebuilt meanwhile.
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"LOCK TABLE {STATE.name} IN EXCLUSIVE MODE"))
        stored = stored_calendar(connection)
        version = connection.execute(select(STATE.c.definitions_version).where(STATE.c.id == STATE_ID)).scalar()
        if stored is None or version != KPI_DEFINITIONS_VERSION:
            from_day = None  # never built, or built by other definitions: every day again
        else:
            from_day = _first_difference(stored, calendar)
            if from_day is None:
                return
            from_day = None if from_day <= 0 else from_day
        log.info("KPI counters: rebuilding %s", "all days" if from_day is None else f"from day {from_day}")
        rebuild(connection, calendar, from_day)


def ensure_current_at_start(database, calendar: WorkCalendar) -> None:
    """At start-up: rebuild the counters if the KPI definitions or the calendar changed (logged, never fatal)."""
    try:
        with database.session() as session:
            ensure_current(session, calendar)
    except Exception:  # the first reader tries again; /healthz and the log say what failed
        log.exception("KPI counters: checking or rebuilding them at start-up failed")


# ---- readers ----------------------------------------------------------------------------------
# Share of all appeals a region of each code length holds at district scale (13 streets, ~100
# communities, ~1,500 compounds), and the span the data covers: enough to choose an index.
_REGION_SHARE = {6: 1.0, 9: 1 / 13, 12: 1 / 100, 15: 1 / 1_500}
_DATA_SPAN_DAYS = 730


def _region_is_narrower(code: str, start: dt.datetime, end: dt.datetime) -> bool:
    """True when the region holds fewer appeals than the period does (read by region, then)."""
    return _REGION_SHARE[len(code)] < (end - start).total_seconds() / 86_400 / _DATA_SPAN_DAYS


def _zero() -> dict[str, int]:
    return dict.fromkeys(COUNTER_KEYS, 0)


# A selection: the chosen codes of each value dimension (DIM_KEYS) a reader keeps, e.g.
# {"priority": ("urgent",), "status": ("resolved", "closed")}; a dimension left out keeps every value.
Selection = dict[str, tuple[str, ...]]


def selection_of(category: Category | None = None, dims: dict | None = None) -> Selection:
    """The selection of a category (the wall's, the API's) and of the drill-down's value filters."""
    chosen = {key: tuple(values) for key, values in (dims or {}).items() if values}
    unknown = set(chosen) - set(DIM_KEYS)
    if unknown:
        raise ValueError(f"not a counter dimension: {sorted(unknown)}")
    if category is not None:
        chosen["category"] = (category.value,)
    return chosen


def counter_table(selection: Selection):
    """kpi_daily when the selection is of categories only (fewer rows), else kpi_daily_dims."""
    return COUNTERS if set(selection) <= set(BASE_KEYS) else DIMS


def _counter_conditions(table, selection: Selection) -> list:
    return [table.c[key].in_(values) for key, values in sorted(selection.items())]


def appeal_conditions(selection: Selection) -> list:
    """The selection as conditions on the appeals table (channel is the appeal's source)."""
    return [_APPEAL_KEY_COLUMNS[key].in_(values) for key, values in sorted(selection.items())]


def _stored_sums(session, codes_condition, first: dt.date, last: dt.date, selection: Selection, group_by_code: bool):
    table = counter_table(selection)
    columns = [func.coalesce(func.sum(table.c[key]), 0) for key in COUNTER_KEYS]
    query = select(*([table.c.region_code] if group_by_code else []), *columns).where(
        codes_condition(table), table.c.day >= first, table.c.day <= last, *_counter_conditions(table, selection)
    )
    if group_by_code:
        query = query.group_by(table.c.region_code)
        return {row[0]: dict(zip(COUNTER_KEYS, map(int, row[1:]), strict=True)) for row in session.execute(query)}
    row = session.execute(query).one()
    return dict(zip(COUNTER_KEYS, map(int, row), strict=True))


def _slice_sums(session, region_code: str, start, end, selection, calendar, by_length: int | None) -> dict:
    """Counters of appeals reported or resolved in [start, end) (a part of a day), per region prefix."""
    result: dict[str, dict[str, int]] = {}
    if start >= end:
        return result
    # One round trip (usually answering nothing: the wall asks for "today until now").
    query = select(*ROW_COLUMNS).where(
        or_(
            and_(APPEALS.c.reported_at >= start, APPEALS.c.reported_at < end),
            and_(APPEALS.c.resolved_at >= start, APPEALS.c.resolved_at < end),
        ),
        within(APPEALS.c.region_code, region_code),
        *appeal_conditions(selection),
    )
    rows = session.execute(query).all()
    if not rows:
        return result
    frame = appeal_frame(rows)
    codes = frame["region_code"].str[:by_length] if by_length else pd.Series(region_code, index=frame.index)
    for name in ("reported_at", "resolved_at"):
        in_slice = (frame[name] >= start) & (frame[name] < end)
        for code, group in frame[in_slice].groupby(codes[in_slice]):
            sums = result.setdefault(code, _zero())
            if name == "reported_at":
                sums["received"] += len(group)
            else:
                sums["resolved"] += len(group)
                for key, values in resolution_counters(group, calendar).items():
                    sums[key] += int(values.sum())
    return result


def _counters(session, region_code, start, end, calendar, selection, by_length=None) -> dict[str, dict[str, int]]:
    """Summed counters over [start, end): for region_code, or per region of code length by_length below it."""
    if start >= end:
        return {}
    first = LocalDay.of(start, calendar)
    last = LocalDay.of(end - dt.timedelta(microseconds=1), calendar)
    if by_length:
        # Through the (day, region_code) index: a day holds a few thousand rows, a district millions.
        def condition(table):
            return and_(within(table.c.region_code, region_code), func.length(table.c.region_code) == by_length)

        sums = _stored_sums(session, condition, first.day, last.day, selection, True)
    else:
        sums = {
            region_code: _stored_sums(
                session, lambda table: table.c.region_code == region_code, first.day, last.day, selection, False
            )
        }
    # Take away what the whole days hold outside the period: before start, and from end on.
    for outside in (
        _slice_sums(session, region_code, first.start, start, selection, calendar, by_length),
        _slice_sums(session, region_code, end, last.end, selection, calendar, by_length),
    ):
        for code, part in outside.items():
            total = sums.setdefault(code, _zero())
            for key in COUNTER_KEYS:
                total[key] -= part[key]
    return sums


def _overdue_open(session, region_code, end, selection, by_length=None) -> dict[str, int]:
    """Appeals not resolved at `end` whose deadline had passed then (per region prefix with by_length)."""
    code = func.substr(APPEALS.c.region_code, 1, by_length) if by_length else None
    counts: dict[str, int] = {}
    # domain.overdue's rule, counted in its two disjoint halves, each through its own index.
    for part in overdue_sql_parts(APPEALS.c.reported_at, APPEALS.c.resolved_at, APPEALS.c.deadline_at, end):
        query = select(*([code] if by_length else []), func.count()).where(
            part,
            within(APPEALS.c.region_code, region_code),
            *appeal_conditions(selection),
        )
        if by_length:
            for key, count in session.execute(query.group_by(code)):
                counts[key] = counts.get(key, 0) + count
        else:
            counts[region_code] = counts.get(region_code, 0) + session.execute(query).scalar_one()
    return counts


def _response_minutes(session, region_code, start, end, selection, by_length=None) -> dict[str, np.ndarray]:
    """Minutes from report to acceptance of appeals reported in [start, end), per region."""
    dialect = session.get_bind().dialect.name
    minutes = response_minutes_sql(APPEALS.c.reported_at, APPEALS.c.accepted_at, dialect)
    query = select(*([APPEALS.c.region_code] if by_length else []), minutes).where(
        APPEALS.c.reported_at >= start,
        APPEALS.c.reported_at < end,
        APPEALS.c.accepted_at.is_not(None),
        within(APPEALS.c.region_code, region_code, by_index=_region_is_narrower(region_code, start, end)),
        *appeal_conditions(selection),
    )
    # The driver's own tuples, one number per appeal (a district month holds some 60,000; the
    # covering index of migration 0005 answers without reading the table).
    result = session.connection().execute(query)
    rows = result.cursor.fetchall()
    result.close()
    if not rows:
        return {}
    if not by_length:
        return {region_code: np.fromiter((row[0] for row in rows), dtype=float, count=len(rows))}
    frame = pd.DataFrame(rows, columns=["region_code", "minutes"])
    return {
        code: group.to_numpy(dtype=float)
        for code, group in frame["minutes"].groupby(frame["region_code"].str[:by_length])
    }


def _urged(session, region_code, start, end, selection, by_length=None) -> dict[str, int]:
    """Urge steps taken in [start, end) on appeals of the region (per region prefix with by_length).

    Not a stored counter: urges are few, and the transitions' (action, at) index finds a period's
    urges directly, exactly, whatever part of a day the period covers.
    """
    if start >= end:
        return {}
    code = func.substr(APPEALS.c.region_code, 1, by_length) if by_length else None
    query = (
        select(*([code] if by_length else []), func.count())
        .select_from(TRANSITIONS.join(APPEALS, APPEALS.c.id == TRANSITIONS.c.appeal_id))
        .where(
            urged_sql(TRANSITIONS.c.action, TRANSITIONS.c.at, start, end),
            within(APPEALS.c.region_code, region_code),
            *appeal_conditions(selection),
        )
    )
    if by_length:
        return {key: int(count) for key, count in session.execute(query.group_by(code))}
    return {region_code: int(session.execute(query).scalar_one())}


def region_kpis(
    session: Session,
    region_code: str,
    start: dt.datetime,
    end: dt.datetime,
    calendar: WorkCalendar,
    category: Category | None = None,
    as_of: dt.datetime | None = None,
    dims: dict | None = None,
) -> dict:
    """The §5 KPIs of a region (and everything below it) over [start, end), from the stored counters.

    overdue_open is evaluated at as_of (default: end); see domain.overdue.state_moment.
    dims: chosen codes per value dimension (selection_of), read from kpi_daily_dims.
    """
    counts = region_counts(session, region_code, start, end, calendar, category, as_of, dims)
    return kpis_of(counts, response_minutes(session, region_code, start, end, selection_of(category, dims)))


@dataclass(frozen=True)
class RegionCounts:
    """What region_kpis reads besides the response minutes: counters, overdue at as_of, urge steps."""

    counters: dict
    overdue: int
    urged: int


def region_counts(
    session: Session,
    region_code: str,
    start: dt.datetime,
    end: dt.datetime,
    calendar: WorkCalendar,
    category: Category | None = None,
    as_of: dt.datetime | None = None,
    dims: dict | None = None,
) -> RegionCounts:
    """region_kpis's reads but the response minutes (so that both can be read side by side)."""
    ensure_current(session, calendar)
    selection = selection_of(category, dims)
    return RegionCounts(
        counters=_counters(session, region_code, start, end, calendar, selection).get(region_code, _zero()),
        overdue=_overdue_open(session, region_code, as_of or end, selection)[region_code],
        urged=_urged(session, region_code, start, end, selection).get(region_code, 0),
    )


def kpis_of(counts: RegionCounts, minutes: np.ndarray) -> dict:
    """The §5 KPIs of region_counts and response_minutes read for the same region, period and selection."""
    return kpis_from_counters(counts.counters, counts.overdue, minutes, counts.urged)


def response_minutes(
    session: Session, region_code: str, start: dt.datetime, end: dt.datetime, selection: Selection
) -> np.ndarray:
    """Minutes from report to acceptance of the region's appeals reported in [start, end) (one per accepted appeal)."""
    return _response_minutes(session, region_code, start, end, selection).get(region_code, np.zeros(0))


def child_kpis(
    session: Session,
    region_code: str,
    start: dt.datetime,
    end: dt.datetime,
    calendar: WorkCalendar,
    child_codes: Sequence[str],
    category: Category | None = None,
    as_of: dt.datetime | None = None,
    dims: dict | None = None,
) -> dict[str, dict]:
    """The §5 KPIs of each child region (one level below region_code) over [start, end), in one pass.

    overdue_open is evaluated at as_of (default: end); dims as in region_kpis.
    """
    ensure_current(session, calendar)
    selection = selection_of(category, dims)
    length = len(region_code) + 3
    counters = _counters(session, region_code, start, end, calendar, selection, length)
    overdue = _overdue_open(session, region_code, as_of or end, selection, length)
    minutes = _response_minutes(session, region_code, start, end, selection, length)
    urged = _urged(session, region_code, start, end, selection, length)
    return {
        code: kpis_from_counters(
            counters.get(code, _zero()), overdue.get(code, 0), minutes.get(code, np.zeros(0)), urged.get(code, 0)
        )
        for code in child_codes
    }


def day_sums(
    session: Session, region_code: str, first: dt.date, last: dt.date, calendar: WorkCalendar, selection: Selection
) -> dict[dt.date, dict[str, int]]:
    """The counters of each local day first..last (whole days) of a region, for a selection."""
    ensure_current(session, calendar)
    table = counter_table(selection)
    query = (
        select(table.c.day, *[func.sum(table.c[key]) for key in COUNTER_KEYS])
        .where(table.c.region_code == region_code, table.c.day >= first, table.c.day <= last)
        .where(*_counter_conditions(table, selection))
        .group_by(table.c.day)
    )
    return {row[0]: dict(zip(COUNTER_KEYS, map(int, row[1:]), strict=True)) for row in session.execute(query)}


def received_by_region(
    session: Session,
    region_codes: Sequence[str],
    first: dt.date,
    last: dt.date,
    calendar: WorkCalendar,
    selection: Selection,
) -> dict[str, int]:
    """Appeals reported on the local days first..last (whole days) at or below each region, for a selection."""
    if not region_codes:
        return {}
    ensure_current(session, calendar)
    table = counter_table(selection)
    query = (
        select(table.c.region_code, func.sum(table.c.received))
        .where(table.c.region_code.in_(list(region_codes)), table.c.day >= first, table.c.day <= last)
        .where(*_counter_conditions(table, selection))
        .group_by(table.c.region_code)
    )
    return {code: int(count) for code, count in session.execute(query)}


def received_by_dimension(
    session: Session, region_code: str, first: dt.date, last: dt.date, calendar: WorkCalendar
) -> list[tuple[str, str, str, str, int]]:
    """(category, priority, channel, status, appeals reported) over the local days first..last of a region."""
    ensure_current(session, calendar)
    keys = [DIMS.c[key] for key in DIM_KEYS]
    query = (
        select(*keys, func.sum(DIMS.c.received))
        .where(DIMS.c.region_code == region_code, DIMS.c.day >= first, DIMS.c.day <= last, DIMS.c.received != 0)
        .group_by(*keys)
    )
    return [(*(getattr(value, "value", value) for value in row[:-1]), int(row[-1])) for row in session.execute(query)]


def recompute_region_kpis(
    session: Session,
    region_code: str,
    start: dt.datetime,
    end: dt.datetime,
    calendar: WorkCalendar,
    category: Category | None = None,
    as_of: dt.datetime | None = None,
) -> dict:
    """The reference: load every appeal that can count over [start, end) and run kpi.compute_kpis on it.

    This was the wall's path before the counters; tests and bench/kpi.py compare against it.
    """
    from dashboard.domain.kpi import URGED_ACTION, compute_kpis, kpi_frame

    columns = [Appeal.reported_at, Appeal.accepted_at, Appeal.resolved_at, Appeal.deadline_at, Appeal.satisfaction]
    rows = session.execute(
        select(*columns).where(
            within(Appeal.region_code, region_code),
            Appeal.category == category if category is not None else True,
            or_(
                and_(Appeal.reported_at >= start, Appeal.reported_at < end),
                and_(Appeal.resolved_at >= start, Appeal.resolved_at < end),
                # candidates for "overdue and still open" at the moment the state is read
                overdue_sql(Appeal.reported_at, Appeal.resolved_at, Appeal.deadline_at, as_of or end),
            ),
        )
    ).all()
    urges = session.scalars(
        select(Transition.at)
        .join(Appeal, Appeal.id == Transition.appeal_id)
        .where(
            Transition.action == URGED_ACTION,
            within(Appeal.region_code, region_code),
            Appeal.category == category if category is not None else True,
        )
    ).all()
    moment = pd.Timestamp(as_of) if as_of is not None else None
    urges_at = pd.Series(pd.to_datetime(list(urges), utc=True), dtype="datetime64[ns, UTC]")
    return compute_kpis(kpi_frame(rows), pd.Timestamp(start), pd.Timestamp(end), calendar, moment, urges_at)
