"""Ingest validated records: exactly once per (source, external id), bad ones to quarantine.

Records are written in batches, each batch in one transaction, so a process killed mid-file
loses at most the batch in flight; delivering the file again then completes it, because an
existing record with the same version is left alone (idempotency), a newer version updates
it, and a quarantined record is kept once (its fingerprint is unique).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import String, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dashboard.domain import lifecycle
from dashboard.domain.pii import PiiVault
from dashboard.domain.sla import SlaPolicy
from dashboard.domain.vocab import AppealStatus, Priority, QuarantineStatus, TransitionAction
from dashboard.domain.webhooks import STEP_EVENTS, WebhookEvent
from dashboard.domain.workcal import WorkCalendar
from dashboard.queries import wall as walldata
from dashboard.queries.locate import locator_for
from dashboard.services import outbox
from dashboard.services.ingest.prepare import (
    BATCH_SIZE,
    STATUS_RANK,
    STEP_COLUMNS,
    Context,
    PreparedBatch,
    Rejected,
    appeal_row,
    appeal_steps,
    code_of,
    collector_paused,
    prepare_batches,
)
from dashboard.services.ingest.readers import RawRecord
from dashboard.services.ingest.records import RecordError, normalise_headers
from dashboard.services.push import appeal_deltas, coalesced_deltas, queue_deltas
from dashboard.store import counters as aggregates
from dashboard.store import metrics
from dashboard.store.bulk import insert_rows
from dashboard.store.database import Database
from dashboard.store.models import (
    Appeal,
    AuditLog,
    Business,
    Department,
    QuarantinedRecord,
    Region,
    Resident,
    ResidentGroup,
    Transition,
)

MAX_ERRORS_IN_REPORT = 1_000
# What the writer reads of a stored appeal to decide what a newer feed version changes.
STORED_COLUMNS = (
    Appeal.id,
    Appeal.source,
    Appeal.external_id,
    Appeal.source_version,
    Appeal.status,
    Appeal.level,
    Appeal.accepted_at,
    Appeal.dispatched_at,
    Appeal.closed_at,
    Appeal.version,
)


@dataclass
class IngestReport:
    """What one delivery did, record by record where something went wrong."""

    source: str
    kind: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    quarantined: int = 0
    errors: list[dict] = field(default_factory=list)

    def checkpoint(self) -> None:
        """Remember the counts, so that a batch that is retried is not counted twice."""
        self._saved = (self.created, self.updated, self.unchanged, self.stale, self.quarantined, len(self.errors))

    def restore(self) -> None:
        """Go back to the last checkpoint."""
        self.created, self.updated, self.unchanged, self.stale, self.quarantined, errors = self._saved
        del self.errors[errors:]

    def add_error(self, location: str, error: RecordError) -> None:
        """Count a rejected record and keep its explanation (the first thousand in the report)."""
        self.quarantined += 1
        if len(self.errors) < MAX_ERRORS_IN_REPORT:
            self.errors.append({"record": location, "field": error.field, "reason": error.message})

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "source": self.source,
            "kind": self.kind,
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "stale": self.stale,
            "quarantined": self.quarantined,
            "errors": self.errors,
            "errors_truncated": self.quarantined > len(self.errors),
        }


def _insert_ignoring_duplicates(session: Session, model, rows: list[dict]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(model).on_conflict_do_nothing()
    session.execute(statement, rows)


class Ingestor:
    """Validates and stores appeals, residents and businesses from any feed."""

    def __init__(
        self,
        database: Database,
        calendar: WorkCalendar | Callable[[], WorkCalendar],
        policy: SlaPolicy,
        secret_key: str,
    ) -> None:
        self.database = database
        # A callable lets the app hand in its current calendar, which the hourly reload replaces.
        self._calendar = calendar if callable(calendar) else (lambda: calendar)
        self.policy = policy
        self.vault = PiiVault(secret_key)

    # ---- entry points ---------------------------------------------------------------------------
    def ingest(
        self,
        records: Iterable[RawRecord],
        kind: str,
        source: str,
        batch_size: int = BATCH_SIZE,
        now: dt.datetime | None = None,
        quarantine: bool = True,
    ) -> IngestReport:
        """Validate and store records of one kind ('appeal', 'resident', 'business') from source.

        Rejected records are quarantined (unless quarantine=False, for replays) and explained in the report.
        The organisation, visit lists and population counts ('department', 'team', 'staff', 'visit',
        'population') are stored by services.ingest.reference.
        """
        if kind in ("department", "team", "staff", "visit", "population"):
            from dashboard.services.ingest import reference  # which imports this module

            return reference.ingest_records(self, records, kind, source, now=now, quarantine=quarantine)
        context = self.context(kind, now)
        return self.write_batches(prepare_batches(records, context, batch_size), context, source, quarantine)

    def context(self, kind: str, now: dt.datetime | None = None) -> Context:
        """What preparing a delivery of this kind needs: known regions and departments, calendar, clock."""
        with self.database.session() as session:
            regions = dict(session.execute(select(Region.code, Region.level)).all())
            departments = dict(session.execute(select(Department.code, Department.id)).all())
        return Context(
            kind=kind,
            regions=regions,
            departments=departments,
            calendar=self.calendar,
            policy=self.policy,
            now=now or dt.datetime.now(dt.UTC),
            dialect=self.database.engine.dialect.name,
            compounds=locator_for(self.database).index() if kind == "appeal" else None,  # for lat/lon alone
        )

    def write_batches(
        self, batches: Iterable[PreparedBatch], context: Context, source: str, quarantine: bool = True
    ) -> IngestReport:
        """Store prepared batches, each in one transaction; returns what the delivery did."""
        report = IngestReport(source=source, kind=context.kind)
        batches = iter(batches)
        while True:
            with collector_paused():  # per batch: the collector runs between batches
                batch = next(batches, None)
                if batch is None:
                    return metrics.ingest_done(report)
                report.read += batch.read
                self._write(batch, context, source, report, quarantine)

    @property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar in force now."""
        return self._calendar()

    def _write(self, batch: PreparedBatch, context: Context, source: str, report: IngestReport, quarantine) -> None:
        try:
            self._write_once(batch, context, source, report, quarantine)
        except IntegrityError:
            # Another writer stored some of these keys between our look-up and our insert:
            # do the batch again, now seeing them as existing (the failed attempt wrote nothing).
            report.restore()
            self._write_once(batch, context, source, report, quarantine)

    def _write_once(
        self, batch: PreparedBatch, context: Context, source: str, report: IngestReport, quarantine
    ) -> None:
        report.checkpoint()
        kind = context.kind
        with self.database.transaction() as session:
            rejected = list(batch.rejected)
            if kind == "appeal":
                rejected += self._write_appeals(session, batch, context.regions, report)
            elif kind == "resident":
                self._write_residents(session, batch.clean, report)
                walldata.population_changed(session)
            else:
                self._write_businesses(session, batch.clean, report)
                walldata.population_changed(session)
            self.quarantine(session, kind, source, rejected, report, store=quarantine)

    # ---- appeals --------------------------------------------------------------------------------
    def quarantine(self, session: Session, kind: str, source: str, rejected, report: IngestReport, store=True) -> None:
        """Report each rejected record and (store=True) keep it, encrypted, in the quarantine table once."""
        rows = []
        for record in rejected:
            report.add_error(record.location, record.error)
            rows.append(
                {
                    # Keyed, so the digest of a record with a phone number cannot be tested against guesses.
                    "fingerprint": self.vault.digest(f"{kind}\x1f{record.location}\x1f{record.raw}"),
                    "source": source[:64],
                    "kind": kind,
                    "location": record.location[:255],
                    "raw": self.vault.encrypt_text(record.raw),  # raw input holds personal data
                    "field": record.field,
                    "reason": record.message,
                    "status": "pending",
                    "received_at": dt.datetime.now(dt.UTC),
                }
            )
        if store:
            _insert_ignoring_duplicates(session, QuarantinedRecord, rows)

    def _write_appeals(self, session: Session, batch: PreparedBatch, regions: dict, report: IngestReport) -> list:
        """Store a batch's appeals; returns the records that conflict with what is stored (to quarantine)."""
        if not batch.appeals:
            return []
        keys = list(zip(batch.appeal_field("source"), batch.appeal_field("external_id"), strict=True))
        versions = batch.appeal_field("version")
        # Within one batch the newest version of a key wins (ties: the later record).
        newest: dict[tuple, int] = {}
        for index, key in enumerate(keys):
            if key in newest:
                report.stale += 1
                if versions[newest[key]] > versions[index]:
                    continue
            newest[key] = index
        existing = {}
        for source, external_ids in _keys_by_source(list(newest)):
            rows = session.execute(
                select(*STORED_COLUMNS, *aggregates.ROW_COLUMNS).where(
                    Appeal.source == source, _one_of(Appeal.external_id, external_ids, session)
                )
            )
            for row in rows:
                existing[(code_of(row.source), row.external_id)] = row
        fresh = [index for key, index in newest.items() if key not in existing]
        changed = []
        conflicts = []
        for key, index in newest.items():
            if key not in existing:
                continue
            stored, version = existing[key], versions[index]
            if stored.source_version is not None and version < stored.source_version:
                report.stale += 1
            elif stored.source_version is not None and version == stored.source_version:
                report.unchanged += 1
            elif (conflict := _conflict(record := batch.appeal(index), stored)) is not None:
                conflicts.append(
                    Rejected(batch.locations[index], raw_json(_replayable_fields(record)), "reported_at", conflict)
                )
            else:
                changed.append((stored, index))
        deltas = []
        events = []  # (event, appeal id, time, actor) for the outbox: written with the batch, in its transaction
        now = dt.datetime.now(dt.UTC)
        if fresh:
            connection = session.connection()
            values = [batch.new_values[index] for index in fresh]
            ids = insert_rows(connection, "appeals", batch.appeal_columns, values, assign_ids=True)
            # Every new appeal's history starts with its report, made from the rows just written in one
            # statement (the batch's first step of each); the steps after it (a feed that reports an
            # appeal already further on) are written from the batch.
            _insert_reports(connection, ids)
            steps = [
                (appeal_id, *step)
                for index, appeal_id in zip(fresh, ids, strict=True)
                for step in batch.new_steps[index][1:]
            ]
            insert_rows(connection, "transitions", STEP_COLUMNS, steps)
            aggregates.record_new(connection, [batch.new_counts[index] for index in fresh])
            report.created += len(fresh)
            deltas.extend(_created_deltas(batch, fresh, ids, regions, now))
            arrivals = _arrival_events(batch, fresh, ids)
            if arrivals:
                # Their facts are the rows just written: built from the batch, not read back.
                outbox.enqueue_many(session, _arrival_pending(batch, fresh, ids, arrivals))
        if changed:
            updates = []
            last_seq = dict(
                session.execute(
                    select(Transition.appeal_id, func.max(Transition.seq))
                    .where(Transition.appeal_id.in_([stored.id for stored, _ in changed]))
                    .group_by(Transition.appeal_id)
                ).all()
            )
            steps = []
            for stored, index in changed:
                record = _never_backwards(batch.appeal(index), stored)
                row = appeal_row(record, batch.deadlines[index], regions, now)
                row["id"] = stored.id
                # What the workflow owns stays as it is: the level an appeal was escalated to,
                # when it was dispatched, and any time or department the feed does not give.
                row["level"] = stored.level
                # A feed update is a change like any other: a console page read before it is stale.
                row["version"] = (stored.version or 1) + 1
                row["changed_by"] = f"feed:{code_of(stored.source)}"[:64]
                del row["dispatched_at"]
                for key in ("accepted_at", "resolved_at", "closed_at", "department_id", "satisfaction", "rated_at"):
                    if row[key] is None:
                        del row[key]
                updates.append(row)
                steps.extend(appeal_steps(stored.id, record, stored, last_seq.get(stored.id, 0), regions))
            session.execute(update(Appeal), updates)
            if steps:
                session.execute(insert(Transition), [dict(zip(STEP_COLUMNS, step, strict=True)) for step in steps])
                events.extend(_outcome_events(steps))
            # The KPI counters move from what was stored to what is stored now (read back, so
            # that whatever the update kept or replaced is counted as it is).
            connection = session.connection()
            aggregates.record_changes(
                connection,
                [tuple(getattr(stored, name) for name in aggregates.ROW_NAMES) for stored, _ in changed],
                aggregates.read_rows(connection, [stored.id for stored, _ in changed]),
            )
            report.updated += len(changed)
            deltas.extend(appeal_deltas(updates, "updated"))
        outbox.enqueue_for_ids(session, events)
        queue_deltas(session, deltas)
        return conflicts

    # ---- residents and businesses ---------------------------------------------------------------
    def _write_residents(self, session: Session, records: list[dict], report: IngestReport) -> None:
        if not records:
            return
        by_hash = {self.vault.hash(r["id_number"]): r for r in records}
        report.stale += len(records) - len(by_hash)
        existing = {}
        for chunk in _chunks(list(by_hash), 900):
            for row in session.execute(select(Resident).where(Resident.id_number_hash.in_(chunk))).scalars():
                existing[row.id_number_hash] = row
        for hashed, record in by_hash.items():
            values = {k: v for k, v in record.items() if k not in ("id_number", "groups")}
            groups = record["groups"]
            resident = existing.get(hashed)
            if resident is None:
                resident = Resident(
                    id_number_hash=hashed, id_number_encrypted=self.vault.encrypt(record["id_number"]), **values
                )
                resident.groups = [ResidentGroup(group_code=g) for g in groups]
                session.add(resident)
                report.created += 1
                continue
            current = {k: getattr(resident, k) for k in values}
            if current == values and sorted(g.group_code for g in resident.groups) == groups:
                report.unchanged += 1
                continue
            for key, value in values.items():
                setattr(resident, key, value)
            resident.groups = [ResidentGroup(group_code=g) for g in groups]
            report.updated += 1

    def _write_businesses(self, session: Session, records: list[dict], report: IngestReport) -> None:
        if not records:
            return
        by_code = {r["credit_code"]: r for r in records}
        report.stale += len(records) - len(by_code)
        existing = {}
        for chunk in _chunks(list(by_code), 900):
            for row in session.execute(select(Business).where(Business.credit_code.in_(chunk))).scalars():
                existing[row.credit_code] = row
        for code, record in by_code.items():
            business = existing.get(code)
            if business is None:
                session.add(Business(**record))
                report.created += 1
            elif all(getattr(business, k) == v for k, v in record.items()):
                report.unchanged += 1
            else:
                for key, value in record.items():
                    setattr(business, key, value)
                report.updated += 1


def replay(ingestor: Ingestor, record_id: int, corrected: dict, actor: str) -> dict:
    """Ingest a corrected version of a quarantined record; mark the record replayed when it lands."""
    with ingestor.database.session() as session:
        row = session.get(QuarantinedRecord, record_id)
        if row is None:
            raise LookupError(f"quarantined record {record_id} does not exist")
        kind, source, location, status = row.kind, row.source, row.location, row.status
    if status != QuarantineStatus.PENDING:
        return {"replayed": False, "reason": f"record {record_id} is {status.value}, not pending"}
    names, _unknown = normalise_headers(kind, list(corrected))
    fields = {n: v for n, v in zip(names, corrected.values(), strict=True) if n}
    raw = RawRecord(f"replay of quarantined record {record_id} ({location})", fields, raw_json(corrected))
    report = ingestor.ingest([raw], kind, source=f"replay:{source}"[:64], quarantine=False)
    landed = report.quarantined == 0
    if landed:
        with ingestor.database.transaction() as session:
            row = session.get(QuarantinedRecord, record_id)
            row.status = QuarantineStatus.REPLAYED
            row.resolved_at = dt.datetime.now(dt.UTC)
            session.add(AuditLog(actor=actor[:64], action="quarantine_replay", target=f"quarantine:{record_id}"))
    return {"replayed": landed, "report": report.as_dict()}


def _arrival_events(batch: PreparedBatch, fresh: list[int], ids: list[int]) -> list[tuple]:
    """The outbox's extra_urgent_received events of a batch's new appeals: open extra-urgent ones only
    (one that arrives already resolved, e.g. in a history import, needs no call)."""
    priorities, statuses = batch.appeal_field("priority"), batch.appeal_field("status")
    sources, reported_at = batch.appeal_field("source"), batch.appeal_field("reported_at")
    return [
        (WebhookEvent.EXTRA_URGENT_RECEIVED, appeal_id, reported_at[index], f"feed:{code_of(sources[index])}")
        for index, appeal_id in zip(fresh, ids, strict=True)
        if code_of(priorities[index]) == Priority.EXTRA_URGENT.value and lifecycle.is_open(statuses[index])
    ]


# The report step of new appeals, from their rows (appeal_steps makes the same step: seq 1, from nothing
# to reported at reported_at, by the feed of their source, at their handling level and department).
_REPORTS = (
    "INSERT INTO transitions (appeal_id, seq, action, from_status, to_status, at, actor, level, department_id, note) "
    f"SELECT id, 1, '{TransitionAction.REPORT.value}', NULL, '{AppealStatus.REPORTED.value}', reported_at, "
    "'feed:' || source, level, department_id, NULL FROM appeals WHERE "
)


def _insert_reports(connection, ids: list[int]) -> None:
    """The first history row of each appeal just inserted with these ids, in one INSERT … SELECT."""
    if not ids:
        return
    if connection.dialect.name == "postgresql":
        # Sequence values need not be consecutive under concurrent writers: the ids themselves.
        connection.exec_driver_sql(_REPORTS + "id = ANY(%(ids)s)", {"ids": ids})
    else:
        # insert_rows's SQLite ids are consecutive (this transaction holds the write lock).
        connection.exec_driver_sql(_REPORTS + "id BETWEEN ? AND ?", (ids[0], ids[-1]))


class _Facts:
    """An appeal's event facts (outbox.FACT_COLUMNS) as attributes: a new appeal's, from its batch."""

    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)


def _arrival_pending(batch: PreparedBatch, fresh: list[int], ids: list[int], arrivals: list[tuple]) -> list:
    """outbox.Pending items of the arrival events of a batch's new appeals, their facts from the batch."""
    position = {appeal_id: index for index, appeal_id in zip(fresh, ids, strict=True)}
    fields = [(name, batch.appeal_fields.index(name)) for name in _FACT_FIELDS]
    level = batch.appeal_columns.index("level")
    pending = []
    for event, appeal_id, at, actor in arrivals:
        index = position[appeal_id]
        values = batch.appeals[index]
        facts = {name: values[field] for name, field in fields}
        facts.update(
            id=appeal_id,
            level=batch.new_values[index][level],
            deadline_at=batch.deadlines[index],
            team_id=None,
            urge_count=0,
            duplicate_of_id=None,
        )
        pending.append(outbox.Pending(event, _Facts(facts), at, actor))
    return pending


# The facts of an event (outbox.FACT_COLUMNS) a new appeal's record holds as it is stored.
_FACT_FIELDS = (
    "source",
    "external_id",
    "category",
    "priority",
    "status",
    "region_code",
    "department_id",
    "reported_at",
    "resolved_at",
    "closed_at",
    "description",
    "address",
)


def _outcome_events(steps: list[tuple]) -> list[tuple]:
    """The outbox's resolved/closed events of a feed update's steps: a feed that resolves an appeal is an
    outcome like a handler's (a webhook filtered by that feed's own source does not hear it back)."""
    events = []
    for step in steps:
        row = dict(zip(STEP_COLUMNS, step, strict=True))
        event = STEP_EVENTS.get(TransitionAction(code_of(row["action"])))
        if event in (WebhookEvent.RESOLVED, WebhookEvent.CLOSED):
            events.append((event, row["appeal_id"], row["at"], row["actor"]))
    return events


def _created_deltas(batch: PreparedBatch, fresh: list[int], ids: list[int], regions: dict, now) -> list[dict]:
    """Deltas for the new appeals of a batch (fresh: their indexes in the batch; ids: in the table)."""
    reported_at, region_codes = batch.appeal_field("reported_at"), batch.appeal_field("region_code")

    def row(position: int) -> dict:
        index = fresh[position]
        return {**appeal_row(batch.appeal(index), batch.deadlines[index], regions, now), "id": ids[position]}

    return coalesced_deltas([reported_at[i] for i in fresh], [region_codes[i] for i in fresh], row, "created")


def _conflict(record: dict, stored) -> str | None:
    """Why a newer feed version cannot update the stored appeal, or None.

    The workflow may have accepted, dispatched, resolved or closed the appeal at times the feed
    does not know; a feed that moves reported_at after one of them would break the history.
    """
    for name in ("accepted_at", "dispatched_at", "resolved_at", "closed_at"):
        stored_at = getattr(stored, name, None)
        if stored_at is not None and record["reported_at"] > stored_at and record.get(name) is None:
            return (
                f"{record['reported_at'].isoformat()} is after the stored appeal's {name} "
                f"({stored_at.isoformat()}); an update may not move reported_at past its history"
            )
    return None


def _replayable_fields(record: dict) -> dict:
    """A clean record as input fields, for quarantine (encrypted there like any raw record)."""
    fields = {key: code_of(value) for key, value in record.items() if key not in ("version", "department_id")}
    return {key: value for key, value in fields.items() if value is not None}


def _never_backwards(record: dict, stored) -> dict:
    """A feed may move an appeal forward; a status behind the stored one keeps the stored status.

    Going back (reopening) is a workflow step with its own rules, taken through the API.
    """
    if STATUS_RANK[record["status"]] < STATUS_RANK[AppealStatus(stored.status)]:
        return {**record, "status": AppealStatus(stored.status)}
    return record


def _keys_by_source(keys: list[tuple[str, str]]):
    """(source, its external ids) pairs, so that lookups use the (source, external_id) index."""
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    return by_source.items()


def _one_of(column, values: list[str], session: Session):
    """column IN values, with the values sent as one parameter (an array, or JSON on SQLite).

    A batch's thousands of keys as separate bound parameters cost more to compile and bind than
    the look-up itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("values", values, type_=ARRAY(String)))
    listed = func.json_each(bindparam("values", json.dumps(values, ensure_ascii=False))).table_valued("value")
    return column.in_(select(listed.c.value))


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def raw_json(obj) -> str:
    """Raw text of a record received as JSON, for quarantine."""
    return json.dumps(obj, ensure_ascii=False, default=str)
