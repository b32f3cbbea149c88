"""Raw records to batches ready to write: validation, deadlines, and the rows of new appeals.

Nothing here touches the database, so a batch can be prepared in another process (see
pipeline.py) while the writer stores the one before it. The writer (service.py) looks up which
records exist; for those that do not, it stores the rows prepared here as they are.

Appeal batches hold plain values (codes, numbers, text, instants), built column by column:
they cost less to build, to send between processes and to bind than dicts of enum members.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum

import pandas as pd

from dashboard.domain import lifecycle
from dashboard.domain.escalation import HOME_LEVELS
from dashboard.domain.lifecycle import STATUS_ORDER, STATUS_RANK, STEP_TO
from dashboard.domain.sla import SlaPolicy
from dashboard.domain.vocab import (
    AppealStatus,
    Category,
    Channel,
    Priority,
    RegionLevel,
    Satisfaction,
    TransitionAction,
)
from dashboard.domain.workcal import WorkCalendar
from dashboard.queries.locate import CompoundIndex
from dashboard.services.ingest.readers import RawRecord
from dashboard.services.ingest.records import (
    RecordError,
    point_to_locate,
    validate_appeal,
    validate_business,
    validate_resident,
)
from dashboard.store import counters as aggregates
from dashboard.store.bulk import driver_columns

BATCH_SIZE = 5_000
# Appeal columns holding instants (converted to the driver's form for SQLite).
APPEAL_TIMES = (
    "reported_at",
    "accepted_at",
    "dispatched_at",
    "resolved_at",
    "closed_at",
    "deadline_at",
    "rated_at",
    "source_version",
    "updated_at",
    "created_at",
)
STEP_COLUMNS = (
    "appeal_id",
    "seq",
    "action",
    "from_status",
    "to_status",
    "at",
    "actor",
    "level",
    "department_id",
    "note",
)
# The enum of each appeal field, appeal column and history column that holds one.
ENUMS = {
    "source": Channel,
    "category": Category,
    "priority": Priority,
    "status": AppealStatus,
    "satisfaction": Satisfaction,
    "level": RegionLevel,
    "action": TransitionAction,
    "from_status": AppealStatus,
    "to_status": AppealStatus,
}
# A feed that reports a status directly implies every main-line step up to it (domain.lifecycle).
STATUSES = STATUS_ORDER


@dataclass(frozen=True)
class Context:
    """What validating and preparing a delivery needs to know, fixed for the whole delivery."""

    kind: str  # 'appeal', 'resident' or 'business'
    regions: dict[str, str]  # code → level
    departments: dict[str, int]  # code → id
    calendar: WorkCalendar
    policy: SlaPolicy
    now: dt.datetime
    dialect: str  # 'sqlite' or 'postgresql': the form of prepared driver rows
    # The compounds' shapes, for appeals that give lat/lon instead of a region code (None: no shapes).
    compounds: CompoundIndex | None = None


@dataclass
class Rejected:
    """A record that failed validation: where it was, its raw text and why (plain data, picklable)."""

    location: str
    raw: str
    field: str | None
    message: str

    @property
    def error(self) -> RecordError:
        """The validation error."""
        return RecordError(self.field, self.message)


@dataclass
class PreparedBatch:
    """One batch of a delivery: its valid records in order, and its rejected ones.

    Residents and businesses are in clean. Appeals are in appeals, as plain values (see
    appeal), each with its deadline and with what it makes when it is new, ready for the
    writer to store: its appeals-table row (new_values, in the driver's form), its history rows
    (new_steps, in the driver's form without their appeal_id) and its KPI counter row
    (new_counts, in aggregates.ROW_NAMES order).
    """

    read: int
    locations: list[str] = field(default_factory=list)
    clean: list[dict] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    appeal_fields: list[str] = field(default_factory=list)  # the fields of appeals
    appeals: list[tuple] = field(default_factory=list)
    deadlines: list[dt.datetime] = field(default_factory=list)
    appeal_columns: list[str] = field(default_factory=list)  # the columns of new_values
    new_values: list[tuple] = field(default_factory=list)
    new_steps: list[list[tuple]] = field(default_factory=list)
    new_counts: list[tuple] = field(default_factory=list)

    def appeal(self, index: int) -> dict:
        """A valid appeal record as validate_appeal returned it."""
        record = dict(zip(self.appeal_fields, self.appeals[index], strict=True))
        for name, value in record.items():
            if value is not None and name in ENUMS:
                record[name] = ENUMS[name](value)
        return record

    def appeal_field(self, name: str) -> list:
        """One field of every valid appeal, in order (enum members as their codes)."""
        position = self.appeal_fields.index(name)
        return [values[position] for values in self.appeals]


_LOOK_UP = object()  # validate's located when the caller has not looked the point up


def validate(context: Context, fields: dict, located=_LOOK_UP) -> dict:
    """One clean record of the context's kind, or RecordError.

    located: the compound already found for the appeal's lat/lon (prepare_batches looks up a whole
    batch at once); by default the point, if the record needs locating, is looked up here.
    """
    timezone = context.calendar.timezone
    if context.kind == "appeal":
        if located is _LOOK_UP:
            point = point_to_locate(fields)
            located = None if point is None or context.compounds is None else context.compounds.locate(*point)
        return validate_appeal(fields, context.regions, context.departments, timezone, context.now, located)
    if context.kind == "resident":
        return validate_resident(fields, context.regions, timezone, context.now)
    return validate_business(fields, context.regions, timezone, context.now)


def prepare_batches(
    records: Iterable[RawRecord], context: Context, batch_size: int = BATCH_SIZE
) -> Iterator[PreparedBatch]:
    """Validate records and group them into prepared batches of at most batch_size records."""
    records = iter(records)
    while chunk := tuple(itertools.islice(records, batch_size)):
        batch = PreparedBatch(read=len(chunk))
        located = _located(chunk, context)
        for record, compound in zip(chunk, located, strict=True):
            if record.error is None:
                try:
                    batch.clean.append(validate(context, record.fields or {}, compound))
                    batch.locations.append(record.location)
                except RecordError as error:
                    batch.rejected.append(Rejected(record.location, record.raw, error.field, error.message))
            else:
                rejected = Rejected(record.location, record.raw, record.error.field, record.error.message)
                batch.rejected.append(rejected)
        yield _finish(batch, context)


def _located(records: tuple[RawRecord, ...], context: Context) -> list[str | None]:
    """The compound of each appeal that gives lat/lon and no region code, found in one look-up for the batch."""
    located: list[str | None] = [None] * len(records)
    if context.kind != "appeal" or context.compounds is None:
        return located
    points = {
        position: point
        for position, record in enumerate(records)
        if record.error is None and (point := point_to_locate(record.fields or {})) is not None
    }
    if points:
        lats, lons = zip(*points.values(), strict=True)
        for position, compound in zip(points, context.compounds.locate_many(lats, lons), strict=True):
            located[position] = compound
    return located


def _finish(batch: PreparedBatch, context: Context) -> PreparedBatch:
    if context.kind != "appeal" or not batch.clean:
        return batch
    records, batch.clean = batch.clean, []
    batch.appeal_fields = list(records[0])  # validate_appeal gives every record the same fields
    fields = _coded({name: [record[name] for record in records] for name in batch.appeal_fields})
    batch.appeals = _rows(fields.values())
    batch.deadlines = deadlines(context.calendar, context.policy, fields)
    prepared_at = dt.datetime.now(dt.UTC)
    rows = [
        appeal_row(record, deadline, context.regions, prepared_at)
        for record, deadline in zip(records, batch.deadlines, strict=True)
    ]
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    columns["reopen_count"] = [0] * len(rows)
    columns["created_at"] = [prepared_at] * len(rows)
    columns = _coded(columns)
    batch.new_counts = _rows(columns[name] for name in aggregates.ROW_NAMES)
    batch.appeal_columns = list(columns)
    batch.new_values = _rows(driver_columns(context.dialect, columns, APPEAL_TIMES).values())
    history = [appeal_steps(None, record, None, 0, context.regions) for record in records]
    steps = [step for record_steps in history for step in record_steps]
    step_columns = {name: [step[position] for step in steps] for position, name in enumerate(STEP_COLUMNS)}
    del step_columns["appeal_id"]  # the writer adds it
    step_rows = iter(_rows(driver_columns(context.dialect, _coded(step_columns), ("at",)).values()))
    batch.new_steps = [list(itertools.islice(step_rows, len(record_steps))) for record_steps in history]
    return batch


def _rows(columns: Iterable[list]) -> list[tuple]:
    """Columns of equal length as rows."""
    return list(zip(*columns, strict=True))


def _coded(columns: dict[str, list]) -> dict[str, list]:
    """Columns (name → values) with the enum members of enum columns replaced by their codes."""
    # _value_ is the member's value, read several times faster than through .value.
    return {
        name: [None if value is None else value._value_ for value in values] if name in ENUMS else values
        for name, values in columns.items()
    }


def code_of(value):
    """An enum member's code; any other value as it is (stored rows hold codes already)."""
    return value.value if isinstance(value, Enum) else value


def deadlines(calendar: WorkCalendar, policy: SlaPolicy, appeals: dict[str, list]) -> list[dt.datetime]:
    """The deadline of each clean appeal (BRIEF §4), computed for all at once from their fields' columns."""
    frame = pd.DataFrame({name: appeals[name] for name in ("reported_at", "priority", "category")})
    return list(policy.deadlines(calendar, frame).to_pydatetime())


# The level that handles appeals placed at each level (see handling_level).
def handling_level(region_code: str, regions: dict) -> RegionLevel:
    """The level that handles an appeal placed in a region: a compound's appeals go to its community."""
    return HOME_LEVELS[regions[region_code]]


def appeal_row(record: dict, deadline: dt.datetime, regions: dict, now: dt.datetime) -> dict:
    """The appeals-table row of a clean record changed now (without id, reopen_count and created_at)."""
    status = record["status"]
    return {
        "source": record["source"],
        "external_id": record["external_id"],
        "category": record["category"],
        "priority": record["priority"],
        "status": status,
        "is_open": lifecycle.is_open(status),
        "region_code": record["region_code"],
        "level": handling_level(record["region_code"], regions),
        "department_id": record["department_id"],
        "description": record["description"],
        "address": record["address"],
        "lat": record["lat"],
        "lon": record["lon"],
        "reporter_name": record["reporter_name"],
        "reporter_phone": record["reporter_phone"],
        "reported_at": record["reported_at"],
        "accepted_at": record["accepted_at"],
        "dispatched_at": None,
        "resolved_at": record["resolved_at"],
        "closed_at": record["closed_at"],
        "deadline_at": deadline,
        "satisfaction": record["satisfaction"],
        "rated_at": (record["closed_at"] or record["resolved_at"]) if record["satisfaction"] else None,
        "source_version": record["version"],
        "updated_at": now,
    }


def appeal_steps(appeal_id: int | None, record: dict, stored, last_seq: int, regions: dict) -> list[tuple]:
    """The history (STEP_COLUMNS tuples) a feed record implies beyond what is recorded: only forward, never invented.

    stored is the appeal as it is (None for a new one). Steps without a time in the feed
    are left out unless they reach the record's own status.
    """
    old_status = AppealStatus(stored.status) if stored is not None else None
    level = handling_level(record["region_code"], regions)
    actor = f"feed:{record['source'].value}"
    status = record["status"]
    times = {
        AppealStatus.ACCEPTED: record["accepted_at"],
        AppealStatus.RESOLVED: record["resolved_at"],
        AppealStatus.CLOSED: record["closed_at"],
    }
    planned: list[tuple[TransitionAction, AppealStatus, dt.datetime]] = []
    if old_status is None:
        planned.append((TransitionAction.REPORT, AppealStatus.REPORTED, record["reported_at"]))
        current_rank = 0
    else:
        current_rank = STATUS_RANK[old_status]
    for target in STATUSES[current_rank + 1 : STATUS_RANK[status] + 1]:
        at = times.get(target)
        if at is None and target != status:
            continue  # the feed gives no time for this intermediate step: invent none
        planned.append((STEP_TO[target], target, at or record["version"]))
    stored_rating = getattr(stored, "satisfaction", None)
    if record["satisfaction"] is not None and code_of(record["satisfaction"]) != code_of(stored_rating):
        rated_at = record["version"] if stored is not None else record["closed_at"] or record["resolved_at"]
        planned.append((TransitionAction.RATE, status, rated_at))
    rows = []
    previous = old_status
    for offset, (action, to_status, at) in enumerate(planned, start=1):
        note = f"satisfaction: {record['satisfaction'].value}" if action == TransitionAction.RATE else None
        rows.append(
            (appeal_id, last_seq + offset, action, previous, to_status, at, actor, level, record["department_id"], note)
        )
        previous = to_status
    return rows


_collector_lock = threading.Lock()
_collector_pauses = 0  # blocks inside collector_paused, in any thread
_collector_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block; nests and overlaps across threads safely.

    Preparing or writing a batch allocates many objects that all live until the batch is done,
    so the collector's passes meanwhile free nothing; in a process holding the whole app they
    also walk all of its objects (about a tenth of the writer's time in bench/ingest). The
    switch is process-wide, so the first block to start turns it off and the last to end turns
    it back on (if it was on).
    """
    global _collector_pauses, _collector_was_enabled
    with _collector_lock:
        if _collector_pauses == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _collector_pauses += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_pauses -= 1
            if _collector_pauses == 0 and _collector_was_enabled:
                gc.enable()
