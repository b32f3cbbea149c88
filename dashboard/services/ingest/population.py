"""Population by aggregates: per-compound counts as of a date, for districts that keep individual
resident records to themselves.

A record gives a compound, its as-of date (or the file's: see reference.file_as_of), its
residents, and people by household type and by livelihood group (codes or Chinese labels as
column names). It is stored by (compound, as-of date): a re-import of the same date updates the
counts, another date adds a row beside it. The wall counts a compound's latest aggregate only
where the compound has no resident records (queries/wall.py).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from dashboard.domain.localday import local_date
from dashboard.domain.vocab import HouseholdType, LivelihoodGroup, RegionLevel
from dashboard.queries import wall as walldata
from dashboard.services.ingest.org import live_region
from dashboard.services.ingest.records import RecordError
from dashboard.store.models import PopulationAggregate

if TYPE_CHECKING:
    from dashboard.services.ingest.reference import Known
    from dashboard.services.ingest.service import IngestReport

MAX_COUNT = 10_000_000  # keeps a typo out of the database's integer column
FIRST_AS_OF_YEAR = 2000
_DATE_TEXT = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?|(\d{4})(\d{2})(\d{2})")


def blank(value) -> bool:
    """An empty cell: None, blank text, NaN."""
    return value is None or (isinstance(value, str) and not value.strip()) or value != value


def parse_date(field: str, value) -> dt.date:
    """A calendar date: 2026-11-01, 2026/11/01, 2026年11月1日, 20261101, or a spreadsheet date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    match = _DATE_TEXT.fullmatch(text.split("T")[0].split(" ")[0] if "日" not in text else text)
    if match is None:
        raise RecordError(field, f"{text!r} is not a date (use YYYY-MM-DD, e.g. 2026-11-01)")
    parts = [int(part) for part in match.groups() if part is not None]
    try:
        date = dt.date(*parts)
    except ValueError:
        raise RecordError(field, f"{text!r} is not a date (no such day)") from None
    if date.year < FIRST_AS_OF_YEAR:
        raise RecordError(field, f"{date.isoformat()} is before {FIRST_AS_OF_YEAR}")
    return date


def parse_count(field: str, value) -> int | None:
    """An optional whole number of people, 0 … MAX_COUNT ("1,234" and 12.0 are read as numbers)."""
    if blank(value):
        return None
    if isinstance(value, bool):
        raise RecordError(field, f"{value!r} is not a whole number")
    text = str(value).strip().replace(",", "").replace("，", "")
    try:
        number = float(text)
    except ValueError:
        raise RecordError(field, f"{str(value).strip()!r} is not a whole number") from None
    if number != number or number in (float("inf"), float("-inf")) or not number.is_integer():
        raise RecordError(field, f"{str(value).strip()!r} is not a whole number")
    if number < 0:
        raise RecordError(field, f"is negative ({int(number)})")
    if number > MAX_COUNT:
        raise RecordError(field, f"is more than {MAX_COUNT:,}")
    return int(number)


def validate_population(raw: dict, known: Known) -> dict:
    """A clean aggregate: compound, as-of date, residents, people by household type and by group."""
    region_code = live_region(
        "region_code", raw.get("region_code"), known, (RegionLevel.COMPOUND,), "a population count's region"
    )
    if not blank(raw.get("as_of")):
        as_of = parse_date("as_of", raw.get("as_of"))
    elif known.as_of is not None:
        as_of = known.as_of
    else:
        raise RecordError("as_of", "is required (a column, or a date in the file name: population_2026-11-01.csv)")
    if as_of > local_date(known.now, known.timezone):
        raise RecordError("as_of", f"{as_of.isoformat()} is in the future")
    households = {}
    for member in HouseholdType:
        count = parse_count(member.value, raw.get(member.value))
        if count is not None:
            households[member.value] = count
    residents = parse_count("residents", raw.get("residents"))
    typed = sum(households.values())
    if residents is None:
        if len(households) < len(HouseholdType):
            raise RecordError("residents", "is required unless registered, floating and empty_registered are all given")
        residents = typed
    elif len(households) == len(HouseholdType) and typed != residents:
        raise RecordError("residents", f"is {residents} but the household types add up to {typed}")
    elif typed > residents:
        raise RecordError("residents", f"is {residents}, fewer than the {typed} given by household type")
    groups = {}
    for member in LivelihoodGroup:
        count = parse_count(member.value, raw.get(member.value))
        if count is None:
            continue
        if count > residents:
            raise RecordError(member.value, f"{count} is more than the compound's {residents} residents")
        groups[member.value] = count
    return {
        "region_code": region_code,
        "as_of": as_of,
        "residents": residents,
        "household_types": households,
        "groups": groups,
    }


def population_key(record: dict) -> tuple:
    """An aggregate's natural key: its compound and as-of date."""
    return (record["region_code"], record["as_of"])


def write_population(session: Session, records: list[dict], report: IngestReport, source: str) -> None:
    """Create or update aggregates by (compound, as-of date); the wall's cached counts are forgotten."""
    keys = [population_key(r) for r in records]
    stored = {
        (row.region_code, row.as_of): row
        for row in session.scalars(
            select(PopulationAggregate).where(
                tuple_(PopulationAggregate.region_code, PopulationAggregate.as_of).in_(keys)
            )
        )
    }
    now = dt.datetime.now(dt.UTC)
    for record in records:
        row = stored.get(population_key(record))
        if row is None:
            session.add(PopulationAggregate(**record, source=source[:64], imported_at=now))
            report.created += 1
        elif all(getattr(row, key) == record[key] for key in ("residents", "household_types", "groups")):
            report.unchanged += 1
        else:
            for key in ("residents", "household_types", "groups"):
                setattr(row, key, record[key])
            row.source, row.imported_at = source[:64], now
            report.updated += 1
    walldata.population_changed(session)
