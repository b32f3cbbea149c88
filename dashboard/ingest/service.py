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

import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dashboard import aggregates, walldata
from dashboard.bulk import insert_rows
from dashboard.database import Database
from dashboard.ingest.readers import RawRecord
from dashboard.ingest.records import (
    RecordError,
    normalise_headers,
    validate_appeal,
    validate_business,
    validate_resident,
)
from dashboard.models import (
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
from dashboard.pii import PiiVault
from dashboard.push import appeal_deltas, queue_deltas
from dashboard.sla import SlaPolicy
from dashboard.vocab import OPEN_STATUSES, AppealStatus, QuarantineStatus, RegionLevel, TransitionAction
from dashboard.workcal import WorkCalendar

BATCH_SIZE = 5_000
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
MAX_ERRORS_IN_REPORT = 1_000
STATUS_RANK = {s: i for i, s in enumerate(AppealStatus)}
# The workflow step that reaches each status, when a feed reports the status directly.
STEP_TO = {
    AppealStatus.ACCEPTED: TransitionAction.ACCEPT,
    AppealStatus.DISPATCHED: TransitionAction.DISPATCH,
    AppealStatus.IN_PROGRESS: TransitionAction.START,
    AppealStatus.RESOLVED: TransitionAction.RESOLVE,
    AppealStatus.CLOSED: TransitionAction.CLOSE,
}


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

    # ---- entry point ----------------------------------------------------------------------------
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
        """
        now = now or dt.datetime.now(dt.UTC)
        report = IngestReport(source=source, kind=kind)
        with self.database.session() as session:
            regions = dict(session.execute(select(Region.code, Region.level)).all())
            departments = dict(session.execute(select(Department.code, Department.id)).all())
        batch: list[tuple[RawRecord, dict]] = []
        rejected: list[tuple[RawRecord, RecordError]] = []
        for record in records:
            report.read += 1
            if record.error is None:
                try:
                    clean = self._validate(kind, record.fields or {}, regions, departments, now)
                    batch.append((record, clean))
                except RecordError as error:
                    rejected.append((record, error))
            else:
                rejected.append((record, record.error))
            if len(batch) + len(rejected) >= batch_size:
                self._write(kind, source, batch, rejected, regions, report, quarantine)
                batch, rejected = [], []
        if batch or rejected:
            self._write(kind, source, batch, rejected, regions, report, quarantine)
        return report

    @property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar in force now."""
        return self._calendar()

    def _validate(self, kind, fields, regions, departments, now) -> dict:
        if kind == "appeal":
            return validate_appeal(fields, regions, departments, self.calendar.timezone, now)
        if kind == "resident":
            return validate_resident(fields, regions, self.calendar.timezone, now)
        return validate_business(fields, regions, self.calendar.timezone, now)

    def _write(self, kind, source, batch, rejected, regions, report: IngestReport, quarantine: bool) -> None:
        try:
            self._write_once(kind, source, batch, rejected, regions, report, quarantine)
        except IntegrityError:
            # Another writer stored some of these keys between our look-up and our insert:
            # do the batch again, now seeing them as existing (the failed attempt wrote nothing).
            report.restore()
            self._write_once(kind, source, batch, rejected, regions, report, quarantine)

    def _write_once(self, kind, source, batch, rejected, regions, report: IngestReport, quarantine: bool) -> None:
        report.checkpoint()
        with self.database.transaction() as session:
            quarantined = []
            for record, error in rejected:
                report.add_error(record.location, error)
                quarantined.append(
                    {
                        # Keyed, so the digest of a record with a phone number cannot be tested against guesses.
                        "fingerprint": self.vault.digest(f"{kind}\x1f{record.location}\x1f{record.raw}"),
                        "source": source[:64],
                        "kind": kind,
                        "location": record.location[:255],
                        "raw": self.vault.encrypt_text(record.raw),  # raw input holds personal data
                        "field": error.field,
                        "reason": error.message,
                        "status": "pending",
                        "received_at": dt.datetime.now(dt.UTC),
                    }
                )
            if quarantine:
                _insert_ignoring_duplicates(session, QuarantinedRecord, quarantined)
            if kind == "appeal":
                self._write_appeals(session, [clean for _, clean in batch], regions, report)
            elif kind == "resident":
                self._write_residents(session, [clean for _, clean in batch], report)
                walldata.population_changed(session)
            else:
                self._write_businesses(session, [clean for _, clean in batch], report)
                walldata.population_changed(session)

    # ---- appeals --------------------------------------------------------------------------------
    def _write_appeals(self, session: Session, records: list[dict], regions: dict, report: IngestReport) -> None:
        if not records:
            return
        # Within one batch the newest version of a key wins (ties: the later record).
        newest: dict[tuple, dict] = {}
        for record in records:
            key = (record["source"].value, record["external_id"])
            if key in newest and newest[key]["version"] > record["version"]:
                report.stale += 1
                continue
            if key in newest:
                report.stale += 1
            newest[key] = record
        existing = {}
        for source, external_id_chunk in _keys_by_source(list(newest)):
            rows = session.execute(
                select(
                    Appeal.id,
                    Appeal.source,
                    Appeal.external_id,
                    Appeal.source_version,
                    Appeal.status,
                    Appeal.level,
                    *aggregates.ROW_COLUMNS,
                ).where(Appeal.source == source, Appeal.external_id.in_(external_id_chunk))
            )
            for row in rows:
                existing[(_value(row.source), row.external_id)] = row
        fresh = [r for k, r in newest.items() if k not in existing]
        changed = []
        for key, record in newest.items():
            if key not in existing:
                continue
            stored = existing[key]
            if stored.source_version is not None and record["version"] < stored.source_version:
                report.stale += 1
            elif stored.source_version is not None and record["version"] == stored.source_version:
                report.unchanged += 1
            else:
                changed.append((stored, record))
        deltas = []
        if fresh:
            deadlines = self._deadlines(fresh)
            rows = [self._appeal_row(r, deadline, regions) for r, deadline in zip(fresh, deadlines, strict=True)]
            created_at = dt.datetime.now(dt.UTC)
            for row in rows:
                row.update(reopen_count=0, created_at=created_at)
            connection = session.connection()
            ids = insert_rows(
                connection,
                "appeals",
                list(rows[0]),
                [tuple(row.values()) for row in rows],
                APPEAL_TIMES,
                assign_ids=True,
            )
            steps = []
            for row, record, appeal_id in zip(rows, fresh, ids, strict=True):
                row["id"] = appeal_id
                steps.extend(self._steps(row["id"], record, None, 0, regions))
            insert_rows(connection, "transitions", list(steps[0]), [tuple(step.values()) for step in steps], ("at",))
            aggregates.record_new(connection, [tuple(row[name] for name in aggregates.ROW_NAMES) for row in rows])
            report.created += len(fresh)
            deltas.extend(appeal_deltas(rows, "created"))
        if changed:
            deadlines = self._deadlines([record for _, record in changed])
            updates = []
            last_seq = dict(
                session.execute(
                    select(Transition.appeal_id, func.max(Transition.seq))
                    .where(Transition.appeal_id.in_([stored.id for stored, _ in changed]))
                    .group_by(Transition.appeal_id)
                ).all()
            )
            steps = []
            for (stored, record), deadline in zip(changed, deadlines, strict=True):
                record = _never_backwards(record, stored)
                row = self._appeal_row(record, deadline, regions)
                row["id"] = stored.id
                # What the workflow owns stays as it is: the level an appeal was escalated to,
                # when it was dispatched, and any time or department the feed does not give.
                row["level"] = stored.level
                del row["dispatched_at"]
                for key in ("accepted_at", "resolved_at", "closed_at", "department_id", "satisfaction", "rated_at"):
                    if row[key] is None:
                        del row[key]
                updates.append(row)
                steps.extend(self._steps(stored.id, record, stored, last_seq.get(stored.id, 0), regions))
            session.execute(update(Appeal), updates)
            if steps:
                session.execute(insert(Transition), steps)
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
        queue_deltas(session, deltas)

    def _deadlines(self, records: list[dict]) -> list[dt.datetime]:
        frame = pd.DataFrame(
            {
                "reported_at": [r["reported_at"] for r in records],
                "priority": [r["priority"].value for r in records],
                "category": [r["category"].value for r in records],
            }
        )
        return [d.to_pydatetime() for d in self.policy.deadlines(self.calendar, frame)]

    @staticmethod
    def _level(region_code: str, regions: dict) -> RegionLevel:
        level = RegionLevel(regions[region_code])
        return RegionLevel.COMMUNITY if level == RegionLevel.COMPOUND else level

    def _appeal_row(self, record: dict, deadline: dt.datetime, regions: dict) -> dict:
        status = record["status"]
        return {
            "source": record["source"],
            "external_id": record["external_id"],
            "category": record["category"],
            "priority": record["priority"],
            "status": status,
            "is_open": status in OPEN_STATUSES,
            "region_code": record["region_code"],
            "level": self._level(record["region_code"], regions),
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
            "updated_at": dt.datetime.now(dt.UTC),
        }

    def _steps(self, appeal_id: int, record: dict, stored, last_seq: int, regions) -> list[dict]:
        """The history a feed record implies beyond what is recorded: only forward, never invented.

        stored is the appeal as it is (None for a new one). Steps without a time in the feed
        are left out unless they reach the record's own status.
        """
        old_status = AppealStatus(stored.status) if stored is not None else None
        level = self._level(record["region_code"], regions)
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
        for target in list(AppealStatus)[current_rank + 1 : STATUS_RANK[status] + 1]:
            at = times.get(target)
            if at is None and target != status:
                continue  # the feed gives no time for this intermediate step: invent none
            planned.append((STEP_TO[target], target, at or record["version"]))
        stored_rating = getattr(stored, "satisfaction", None)
        if record["satisfaction"] is not None and _value(record["satisfaction"]) != _value(stored_rating):
            rated_at = record["version"] if stored is not None else record["closed_at"] or record["resolved_at"]
            planned.append((TransitionAction.RATE, status, rated_at))
        rows = []
        previous = old_status
        for offset, (action, to_status, at) in enumerate(planned, start=1):
            rows.append(
                {
                    "appeal_id": appeal_id,
                    "seq": last_seq + offset,
                    "action": action,
                    "from_status": previous,
                    "to_status": to_status,
                    "at": at,
                    "actor": actor,
                    "level": level,
                    "department_id": record["department_id"],
                    "note": f"satisfaction: {record['satisfaction'].value}"
                    if action == TransitionAction.RATE
                    else None,
                }
            )
            previous = to_status
        return rows

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


def _never_backwards(record: dict, stored) -> dict:
    """A feed may move an appeal forward; a status behind the stored one keeps the stored status.

    Going back (reopening) is a workflow step with its own rules, taken through the API.
    """
    if STATUS_RANK[record["status"]] < STATUS_RANK[AppealStatus(stored.status)]:
        return {**record, "status": AppealStatus(stored.status)}
    return record


def _keys_by_source(keys: list[tuple[str, str]], size: int = 900):
    """(source, external ids) chunks, so that lookups use the (source, external_id) index."""
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    for source, external_ids in by_source.items():
        for chunk in _chunks(external_ids, size):
            yield source, chunk


def _value(member) -> str:
    return getattr(member, "value", member)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def raw_json(obj) -> str:
    """Raw text of a record received as JSON, for quarantine."""
    return json.dumps(obj, ensure_ascii=False, default=str)
