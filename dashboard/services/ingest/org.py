"""The organisation and the visit lists from files: departments, teams, staff, visit entries.

Each validator turns one record's fields into a clean dict or raises RecordError naming the
field; each writer stores a batch of clean records by their natural key (see reference.py):
a department's code, a team's (community, kind), a staff member's or a visit entry's id.
Optional fields left empty keep what is stored; a staff member's team or department, and a
visit entry's status and times, are always what the file says.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.domain.pii import mask_free_text
from dashboard.domain.regions import covers, level_of
from dashboard.domain.vocab import RegionLevel, TeamKind, VisitItemStatus, VisitListKind
from dashboard.services.ingest.records import (
    RecordError,
    identifier,
    optional_text,
    parse_enum,
    parse_instant,
    parse_mobile,
    parse_region,
    required_text,
    shown_code,
)
from dashboard.store.models import Department, Staff, Team, VisitItem
from dashboard.ui.i18n import label

if TYPE_CHECKING:
    from dashboard.services.ingest.reference import Known
    from dashboard.services.ingest.service import IngestReport

# What is below a region, in words (for a level that does not fit).
_LEVEL_WORDS = {
    RegionLevel.DISTRICT: "a district (6 digits)",
    RegionLevel.STREET: "a street (9 digits)",
    RegionLevel.COMMUNITY: "a community (12 digits)",
    RegionLevel.COMPOUND: "a compound (15 digits)",
}
# One column naming a team: a community code, then its kind ("510107001001 居民走访队", "510107001001/patrol").
_TEAM_TEXT = re.compile(r"(\d{12})\s*[/:：,，、;；|\-_]?\s*([^\d\s].*)")


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value != value  # NaN


def live_region(field: str, value, known: Known, levels: tuple[RegionLevel, ...] | None = None, what: str = "") -> str:
    """A region code that exists, is not archived, and (when levels are given) is at one of them."""
    text = optional_text(field, value, 64) or ""
    try:
        level_of(text)
    except ValueError:  # not quoted: the field may hold anything, a phone number too
        raise RecordError(field, "is not a region code (6, 9, 12 or 15 digits)" if text else "is required") from None
    code = parse_region(field, text, known.regions)
    facts = known.regions[code]
    if facts.archived:
        raise RecordError(field, f"region {code} is archived")
    if levels is not None and facts.level not in levels:
        wanted = " or ".join(_LEVEL_WORDS[level] for level in levels)
        raise RecordError(field, f"region {code} is {_LEVEL_WORDS[facts.level]}; {what} must be {wanted}")
    return code


# ---- departments -------------------------------------------------------------------------------


def validate_department(raw: dict, known: Known) -> dict:
    """A clean department: code, name, region (any level), kind; level from the region, name_en optional."""
    code = identifier("code", raw.get("code"), 32)
    if any(character.isspace() for character in code):
        raise RecordError("code", f"{shown_code(code)!r} contains a space")
    region_code = live_region("region_code", raw.get("region_code"), known)
    level = known.regions[region_code].level
    given = parse_enum("level", raw.get("level"), RegionLevel, required=False)
    if given is not None and given != level:
        raise RecordError("level", f"is {given.value} but region {region_code} is a {level.value}")
    return {
        "code": code,
        "name": required_text("name", raw.get("name"), 64),
        "name_en": optional_text("name_en", raw.get("name_en"), 96),
        "level": level,
        "region_code": region_code,
        "kind": required_text("kind", raw.get("kind"), 32),
    }


def department_key(record: dict) -> tuple:
    """A department's natural key: its code."""
    return (record["code"],)


def write_departments(session: Session, records: list[dict], report: IngestReport, source: str) -> None:
    """Create or update departments by code."""
    stored = {
        d.code: d for d in session.scalars(select(Department).where(Department.code.in_([r["code"] for r in records])))
    }
    for record in records:
        _upsert(session, Department, stored.get(record["code"]), record, report)


# ---- teams -------------------------------------------------------------------------------------


def validate_team(raw: dict, known: Known) -> dict:
    """A clean team: its community, its kind (residents/merchants/enterprises/patrol), its name."""
    region_code = live_region("region_code", raw.get("region_code"), known, (RegionLevel.COMMUNITY,), "a team's region")
    kind = parse_enum("kind", raw.get("kind"), TeamKind)
    name = optional_text("name", raw.get("name"), 64)
    if name is None:  # e.g. 玉林社区居民走访队
        name = f"{known.regions[region_code].name}{label(kind, 'zh')}"[:64]
    return {"region_code": region_code, "kind": kind, "name": name}


def team_key(record: dict) -> tuple:
    """A team's natural key: its community and kind."""
    return (record["region_code"], record["kind"].value)


def write_teams(session: Session, records: list[dict], report: IngestReport, source: str) -> None:
    """Create or update teams by (community, kind)."""
    communities = {r["region_code"] for r in records}
    stored = {
        (t.region_code, getattr(t.kind, "value", t.kind)): t
        for t in session.scalars(select(Team).where(Team.region_code.in_(communities)))
    }
    for record in records:
        _upsert(session, Team, stored.get(team_key(record)), record, report)


def team_reference(raw: dict, known: Known, department_allowed: bool = False) -> tuple[int, str] | None:
    """The (id, community) of the team a record names, or None when it names none.

    A team is named by a `team` column ("510107001001 居民走访队", "510107001001/patrol") or by
    `team_region` and `team_kind` columns. For staff, `team` may instead hold a department code
    (department_allowed: a known department code is then no team).
    """
    text, region_text, kind_text = (raw.get(name) for name in ("team", "team_region", "team_kind"))
    if not _blank(text):
        text = str(text).strip()
        if department_allowed and text in known.departments:
            return None
        match = _TEAM_TEXT.fullmatch(text)
        if match is None:
            other = "a known department code, or " if department_allowed else ""
            example = "e.g. 510107001001 居民走访队"
            raise RecordError("team", f"{shown_code(text)!r} is not {other}a community code and team kind, {example}")
        field_region, field_kind = "team", "team"
        region_text, kind_text = match.groups()
    elif _blank(region_text) and _blank(kind_text):
        return None
    else:
        field_region, field_kind = "team_region", "team_kind"
        if _blank(region_text):
            raise RecordError("team_region", "is required with team_kind (the team's community code)")
        if _blank(kind_text):
            raise RecordError("team_kind", "is required with team_region (residents, merchants, enterprises, patrol)")
    region_code = live_region(field_region, region_text, known, (RegionLevel.COMMUNITY,), "a team's community")
    try:
        kind = parse_enum(field_kind, kind_text, TeamKind)
    except RecordError as error:  # the reason quotes the kind as sent: masked like free text
        raise RecordError(field_kind, mask_free_text(error.message)) from None
    team_id = known.teams.get((region_code, kind.value))
    if team_id is None:
        raise RecordError(field_region, f"community {region_code} has no {kind.value} team (import the teams first)")
    return team_id, region_code


# ---- staff -------------------------------------------------------------------------------------


def _staff_department(raw: dict, known: Known) -> tuple[int, str] | None:
    """The (id, region) of the department a staff record names: its `department` column, or a
    department code in its `team` column."""
    named = {}
    for field in ("department", "team"):
        value = raw.get(field)
        if not _blank(value) and (field == "department" or str(value).strip() in known.departments):
            named[field] = str(value).strip()
    if len(set(named.values())) > 1:
        raise RecordError(
            "department",
            "names {!r} but team names department {!r}".format(*map(shown_code, (named["department"], named["team"]))),
        )
    if not named:
        return None
    code = next(iter(named.values()))
    if code not in known.departments:
        raise RecordError("department", f"unknown department code {shown_code(code)!r} (import the departments first)")
    return known.departments[code]


def validate_staff(raw: dict, known: Known) -> dict:
    """A clean staff member: id, name, team and/or department, title, phone (an 11-digit mobile)."""
    external_id = identifier("external_id", raw.get("external_id"), 64)
    name = required_text("name", raw.get("name"), 32)
    team = team_reference(raw, known, department_allowed=True)
    department = _staff_department(raw, known)
    if team is None and department is None:
        raise RecordError("team", "is required: a community code and team kind, or a department code")
    return {
        "external_id": external_id,
        "name": name,
        "title": optional_text("title", raw.get("title"), 32),
        "phone": parse_mobile("phone", raw.get("phone")),
        "team_id": team[0] if team else None,
        "department_id": department[0] if department else None,
        "region_code": team[1] if team else department[1],
    }


def external_key(record: dict) -> tuple:
    """The natural key of a staff member or a visit entry: the district's own id for it."""
    return (record["external_id"],)


def write_staff(session: Session, records: list[dict], report: IngestReport, source: str) -> None:
    """Create or update staff by id (their team and department always as the file says)."""
    ids = [r["external_id"] for r in records]
    stored = {s.external_id: s for s in session.scalars(select(Staff).where(Staff.external_id.in_(ids)))}
    for record in records:
        _upsert(session, Staff, stored.get(record["external_id"]), record, report, always=("team_id", "department_id"))


# ---- visit entries -----------------------------------------------------------------------------


def validate_visit(raw: dict, known: Known) -> dict:
    """A clean entry of one of the three lists, found by a team in its community."""
    external_id = identifier("external_id", raw.get("external_id"), 64)
    list_kind = parse_enum("list_kind", raw.get("list_kind"), VisitListKind)
    team = team_reference(raw, known, department_allowed=False)
    if team is None:
        raise RecordError("team", "is required: the community code and team kind, e.g. 510107001001 居民走访队")
    team_id, community = team
    if _blank(raw.get("region_code")):
        region_code = community
    else:
        levels = (RegionLevel.COMMUNITY, RegionLevel.COMPOUND)
        region_code = live_region("region_code", raw.get("region_code"), known, levels, "a visit entry's place")
        if not covers(community, region_code):
            raise RecordError("region_code", f"region {region_code} is not in the team's community {community}")
    found_at = parse_instant("found_at", raw.get("found_at"), known.timezone, known.now, required=True)
    resolved_at = parse_instant("resolved_at", raw.get("resolved_at"), known.timezone, known.now)
    status = parse_enum("status", raw.get("status"), VisitItemStatus, required=False)
    if status is None:
        status = VisitItemStatus.RESOLVED if resolved_at else VisitItemStatus.OPEN
    if status == VisitItemStatus.RESOLVED and resolved_at is None:
        raise RecordError("resolved_at", "is required when status is resolved")
    if status != VisitItemStatus.RESOLVED and resolved_at is not None:
        raise RecordError("status", f"is {status.value} but resolved_at is given")
    if resolved_at is not None and resolved_at < found_at:
        raise RecordError("resolved_at", "is before found_at")
    return {
        "external_id": external_id,
        "list_kind": list_kind,
        "team_id": team_id,
        "region_code": region_code,
        "title": required_text("title", raw.get("title"), 128),
        "detail": optional_text("detail", raw.get("detail"), 4000),
        "status": status,
        "found_at": found_at,
        "resolved_at": resolved_at,
    }


def write_visits(session: Session, records: list[dict], report: IngestReport, source: str) -> None:
    """Create or update visit entries by id (status and times always as the file says)."""
    ids = [r["external_id"] for r in records]
    stored = {v.external_id: v for v in session.scalars(select(VisitItem).where(VisitItem.external_id.in_(ids)))}
    for record in records:
        _upsert(session, VisitItem, stored.get(record["external_id"]), record, report, always=("resolved_at",))


# ---- writing -----------------------------------------------------------------------------------


def _upsert(session: Session, model, row, record: dict, report: IngestReport, always: tuple[str, ...] = ()) -> None:
    """Add a new row, or change a stored one where the record differs (None keeps what is stored,
    except in the fields named in always); counts created, updated or unchanged."""
    if row is None:
        session.add(model(**record))
        report.created += 1
        return
    changes = {
        key: value
        for key, value in record.items()
        if (value is not None or key in always) and getattr(row, key) != value
    }
    if not changes:
        report.unchanged += 1
        return
    for key, value in changes.items():
        setattr(row, key, value)
    report.updated += 1
