"""Reference data from files: the organisation, the visit lists and population aggregates.

Files named departments*, teams*, staff*, visits* and population* are read like the feeds
(readers.py: CSV in UTF-8/GBK/GB18030, XLSX, JSON, NDJSON; English or Chinese headers), each
record is validated against what is stored (org.py, population.py), and stored by its natural
key: a department's code, a team's (community, kind), a staff member's or a visit entry's id,
a compound's (region, as-of date). A re-import updates in place and never duplicates; nothing
stored is deleted, and an optional field left empty keeps what is stored. A bad record is
quarantined and reported with its location, field and reason, like an appeal; so is a second
record with a key already seen in the same delivery (the first one wins).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dashboard.domain import clock
from dashboard.domain.vocab import RegionLevel
from dashboard.services.ingest import org, population
from dashboard.services.ingest.prepare import BATCH_SIZE, Rejected
from dashboard.services.ingest.readers import FileError, RawRecord, decode, format_of, read_records
from dashboard.services.ingest.records import RecordError, shown_code
from dashboard.services.ingest.service import Ingestor, IngestReport
from dashboard.store.models import Department, Region, Team


@dataclass(frozen=True)
class RegionFacts:
    """What validating a reference needs to know of a region."""

    level: RegionLevel
    name: str
    archived: bool


@dataclass(frozen=True)
class Known:
    """What is stored, read once per delivery, and the delivery's clock and file-level as-of date."""

    regions: dict[str, RegionFacts]
    departments: dict[str, tuple[int, str]]  # code → (id, region code)
    teams: dict[tuple[str, str], int]  # (community code, kind code) → id
    timezone: dt.tzinfo
    now: dt.datetime
    as_of: dt.date | None = None  # population: the date of a file that has no as_of column


@dataclass(frozen=True)
class ReferenceKind:
    """How one kind is validated, keyed and written."""

    validate: Callable[[dict, Known], dict]
    key: Callable[[dict], tuple]
    key_field: str  # the field a duplicate is reported on
    describe: Callable[[tuple], str]  # the key in words, for a duplicate's reason
    write: Callable[[Session, list[dict], IngestReport, str], None]


KINDS: dict[str, ReferenceKind] = {
    "department": ReferenceKind(
        org.validate_department,
        org.department_key,
        "code",
        lambda k: f"department {shown_code(k[0])}",
        org.write_departments,
    ),
    "team": ReferenceKind(
        org.validate_team, org.team_key, "region_code", lambda k: f"the {k[1]} team of {k[0]}", org.write_teams
    ),
    "staff": ReferenceKind(
        org.validate_staff, org.external_key, "external_id", lambda k: f"staff id {k[0]}", org.write_staff
    ),
    "visit": ReferenceKind(
        org.validate_visit, org.external_key, "external_id", lambda k: f"visit entry {k[0]}", org.write_visits
    ),
    "population": ReferenceKind(
        population.validate_population,
        population.population_key,
        "region_code",
        lambda k: f"compound {k[0]} as of {k[1].isoformat()}",
        population.write_population,
    ),
}


def read_known(session: Session, timezone: dt.tzinfo, now: dt.datetime, as_of: dt.date | None = None) -> Known:
    """The regions, departments and teams as stored now."""
    regions = {
        code: RegionFacts(RegionLevel(level), name, archived is not None)
        for code, level, name, archived in session.execute(
            select(Region.code, Region.level, Region.name, Region.archived_at)
        )
    }
    departments = {
        code: (ident, region)
        for code, ident, region in session.execute(select(Department.code, Department.id, Department.region_code))
    }
    teams = {
        (region, getattr(kind, "value", kind)): ident
        for region, kind, ident in session.execute(select(Team.region_code, Team.kind, Team.id))
    }
    return Known(regions, departments, teams, timezone, now, as_of)


def ingest_path(ingestor: Ingestor, path: Path, kind: str, source: str) -> dict:
    """Ingest one reference file (kind from readers.kind_of); its report. FileError when unreadable."""
    format_of(path)
    as_of = file_as_of(path) if kind == "population" else None
    records = read_records(path, kind)
    if kind == "population":
        records = _dated(records, as_of, path)
    return ingest_records(ingestor, records, kind, source, as_of=as_of).as_dict()


def ingest_records(
    ingestor: Ingestor,
    records: Iterable[RawRecord],
    kind: str,
    source: str,
    now: dt.datetime | None = None,
    quarantine: bool = True,
    as_of: dt.date | None = None,
    batch_size: int = BATCH_SIZE,
) -> IngestReport:
    """Validate and store reference records of one kind; bad ones quarantined (unless quarantine=False)."""
    spec = KINDS[kind]
    now = now or clock.utcnow()
    with ingestor.database.session() as session:
        known = read_known(session, ingestor.calendar.timezone, now, as_of)
    report = IngestReport(source=source, kind=kind)
    seen: dict[tuple, str] = {}  # key → where the delivery gave it first
    records = iter(records)
    while batch := list(itertools.islice(records, batch_size)):
        clean, rejected = [], []
        for record in batch:
            report.read += 1
            if record.error is not None:
                rejected.append(Rejected(record.location, record.raw, record.error.field, record.error.message))
                continue
            try:
                value = spec.validate(record.fields or {}, known)
            except RecordError as error:
                rejected.append(Rejected(record.location, record.raw, error.field, error.message))
                continue
            key = spec.key(value)
            if key in seen:
                reason = f"{spec.describe(key)} is given twice: first at {seen[key]} (that one is kept)"
                rejected.append(Rejected(record.location, record.raw, spec.key_field, reason))
                continue
            seen[key] = record.location
            clean.append(value)
        _write(ingestor, spec, kind, source, clean, rejected, report, quarantine)
    return report


def _write(ingestor, spec, kind, source, clean, rejected, report, quarantine) -> None:
    try:
        _write_once(ingestor, spec, kind, source, clean, rejected, report, quarantine)
    except IntegrityError:
        # Another writer stored some of these keys between our look-up and our insert: do the
        # batch again, now seeing them as stored (the failed attempt wrote nothing).
        report.restore()
        _write_once(ingestor, spec, kind, source, clean, rejected, report, quarantine)


def _write_once(ingestor, spec, kind, source, clean, rejected, report, quarantine) -> None:
    report.checkpoint()
    with ingestor.database.transaction() as session:
        if clean:
            spec.write(session, clean, report, source)
        ingestor.quarantine(session, kind, source, rejected, report, store=bool(quarantine))


# ---- population: the as-of date of a whole file ---------------------------------------------------

_NAME_DATE = re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)")
FILE_AS_OF_KEYS = ("as_of", "统计日期", "截至日期", "截止日期", "数据日期")


def file_as_of(path: Path) -> dt.date | None:
    """A population file's own date: "as_of" beside "records" in a JSON object, else one in its name."""
    if format_of(path) == "json" and path.stat().st_size:
        text = decode(path.read_bytes(), path.name).lstrip()
        if text.startswith("{"):
            try:
                document = json.loads(text)
            except (ValueError, RecursionError):
                document = None  # the reader reports it
            if isinstance(document, dict):
                for key in FILE_AS_OF_KEYS:
                    if document.get(key) not in (None, ""):
                        try:
                            return population.parse_date("as_of", document[key])
                        except RecordError as error:
                            raise FileError(f"{path.name}: the file's {key} {error.message}") from None
    for match in _NAME_DATE.finditer(path.stem):
        try:
            return dt.date(*map(int, match.groups()))
        except ValueError:
            continue
    return None


def _dated(records: Iterator[RawRecord], as_of: dt.date | None, path: Path) -> Iterator[RawRecord]:
    """Population records with the file's as-of date where they give none.

    A table (CSV, XLSX) without an as_of column and without a date of its own is refused. A
    record that takes the file's date carries it in its raw text too, so that a quarantined
    record replays with it.
    """
    column_based = format_of(path) in ("csv", "xlsx")
    for record in records:
        if record.fields is not None:
            if as_of is None and column_based and "as_of" not in record.fields:
                raise FileError(
                    f"{path.name}: missing required column as_of (统计日期); or put the date in the file "
                    f"name, e.g. population_2026-11-01{path.suffix}"
                )
            if as_of is not None and population.blank(record.fields.get("as_of")):
                record = replace(
                    record,
                    fields={**record.fields, "as_of": as_of.isoformat()},
                    raw_source=_with_as_of(record, as_of),
                )
            column_based = False  # checked once: the columns are the same for every row
        yield record


def _with_as_of(record: RawRecord, as_of: dt.date) -> Callable[[], str]:
    def raw() -> str:
        text = record.raw
        try:
            document = json.loads(text)
        except (ValueError, TypeError, RecursionError):
            return text
        if not isinstance(document, dict):
            return text
        return json.dumps({**document, "as_of": as_of.isoformat()}, ensure_ascii=False, default=str)

    return raw
