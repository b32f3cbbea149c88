"""What the administration page lists: users, wall tokens, API keys, the recent audit log, regions,
an uploaded file's import report and a year of the working-day calendar.

Never a password hash, a token or a key: only what may be shown. The changes themselves are made
by dashboard.services.admin (which validates and audits them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from dashboard.domain.keys import KeyAction, actions_from_text
from dashboard.domain.roles import Role
from dashboard.domain.vocab import RegionLevel
from dashboard.domain.workcal import FIRST_YEAR, LAST_YEAR, load_overrides
from dashboard.queries.webhooks import WebhooksView
from dashboard.queries.webhooks import section as webhook_section
from dashboard.store.database import db
from dashboard.store.models import ApiKey, AuditLog, Department, Region, Team, User, WallToken
from dashboard.ui.i18n import label, localized

# Scopes offered in the lists: a supervisor or a wall oversees a district, a street or a community
# (a compound's code is still accepted from the CLI).
CHOOSABLE_LEVELS = (RegionLevel.DISTRICT, RegionLevel.STREET, RegionLevel.COMMUNITY)


@dataclass(frozen=True)
class UserView:
    """A user as the admin page and the CLI show it: never the password hash."""

    id: int
    username: str
    display_name: str
    role: Role
    region_code: str | None
    active: bool
    locked_until: dt.datetime | None
    failed_logins: int
    created_at: dt.datetime
    department_code: str | None = None  # a handler's department
    team_code: str | None = None  # a handler's team, as Team.code ("510107001001/patrol")

    @property
    def assignment(self) -> str | None:
        """A handler's department or team code, as the CLI takes it."""
        return self.department_code or self.team_code

    def locked(self, now: dt.datetime) -> bool:
        """Whether a lock-out is in force at now."""
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True)
class CredentialView:
    """A wall token (scope: its region) or API key (scope: its channel): never the secret or its hash."""

    id: int
    name: str
    scope: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class ApiKeyView(CredentialView):
    """An API key (scope: its channel) with its reach (domain.keys): a region and actions, None when not narrowed."""

    region_code: str | None = None
    actions: tuple[KeyAction, ...] | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One audit-log entry."""

    at: dt.datetime
    actor: str
    action: str
    target: str
    purpose: str | None


@dataclass(frozen=True)
class UsersView:
    """The users section: every user, the names of their regions, and the instant lock-outs are judged at."""

    lang: str
    timezone: ZoneInfo
    now: dt.datetime
    users: list[UserView]
    names: dict[str, str]
    assignments: dict[str, str] = field(default_factory=dict)  # department or team code → its name


@dataclass(frozen=True)
class CredentialsView:
    """The wall tokens' or API keys' section (names: of the regions they are scoped to)."""

    lang: str
    timezone: ZoneInfo
    rows: list[CredentialView]
    names: dict[str, str]


@dataclass(frozen=True)
class AuditView:
    """The newest audit entries, newest first (at most `limit`)."""

    lang: str
    timezone: ZoneInfo
    entries: list[AuditEntry]
    limit: int


@dataclass(frozen=True)
class AdminView:
    """The whole administration page."""

    lang: str
    users: UsersView
    tokens: CredentialsView
    keys: CredentialsView
    audit: AuditView
    regions: list[tuple[str, str]]  # (code, name) to choose a scope from
    min_password_length: int
    assignees: list[tuple[str, str, str]] = field(default_factory=list)  # a handler's: (kind, code, name)
    imports: ImportsView | None = None
    calendar: CalendarView | None = None
    webhooks: WebhooksView | None = None  # issue 16: webhooks and their delivery log


def _timezone() -> ZoneInfo:
    return current_app.extensions["work_calendar"].timezone


def user_view(user: User) -> UserView:
    """What may be shown of a user row."""
    session = object_session(user)
    department = session.get(Department, user.department_id) if user.department_id and session else None
    team = session.get(Team, user.team_id) if user.team_id and session else None
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        region_code=user.region_code,
        active=user.active,
        locked_until=user.locked_until,
        failed_logins=user.failed_logins,
        created_at=user.created_at,
        department_code=department.code if department else None,
        team_code=team.code if team else None,
    )


def list_users(session: Session) -> list[UserView]:
    """Every user, by username."""
    return [user_view(user) for user in session.scalars(select(User).order_by(User.username))]


def list_wall_tokens(session: Session) -> list[CredentialView]:
    """Every wall token, newest first (active and revoked)."""
    rows = session.scalars(select(WallToken).order_by(WallToken.id.desc()))
    return [CredentialView(r.id, r.name, r.region_code, r.created_at, r.revoked_at) for r in rows]


def api_key_view(key: ApiKey) -> ApiKeyView:
    """What may be shown of an API key row: never the key or its hash."""
    actions = actions_from_text(key.actions)
    return ApiKeyView(
        id=key.id,
        name=key.name,
        scope=key.source.value,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        region_code=key.region_code,
        actions=None if actions is None else tuple(action for action in KeyAction if action in actions),
    )


def list_api_keys(session: Session) -> list[ApiKeyView]:
    """Every API key, newest first (active and revoked), with its region and actions."""
    return [api_key_view(key) for key in session.scalars(select(ApiKey).order_by(ApiKey.id.desc()))]


def region_names(session: Session, codes: set[str], lang: str) -> dict[str, str]:
    """The names of these region codes, in lang where an English name exists."""
    if not codes:
        return {}
    rows = session.execute(select(Region.code, Region.name, Region.name_en).where(Region.code.in_(codes)))
    return {r.code: localized(r.name, r.name_en, lang) for r in rows}


def region_choices(session: Session, lang: str) -> list[tuple[str, str]]:
    """(code, name) of every district, street and community, in code order (parents before children)."""
    rows = session.execute(
        select(Region.code, Region.name, Region.name_en).where(Region.level.in_(CHOOSABLE_LEVELS)).order_by(Region.code)
    )
    return [(r.code, localized(r.name, r.name_en, lang)) for r in rows]


def assignee_choices(session: Session, lang: str) -> list[tuple[str, str, str]]:
    """What a handler may belong to: every department and team as (kind, code, name), in code order."""
    departments = session.execute(
        select(Department.code, Department.name, Department.name_en).order_by(Department.code)
    ).all()
    teams = session.execute(
        select(Team.region_code, Team.kind, Team.name, Region.name, Region.name_en)
        .join(Region, Region.code == Team.region_code)
        .order_by(Team.region_code, Team.kind)
    ).all()
    choices = [("department", d.code, localized(d.name, d.name_en, lang)) for d in departments]
    for region_code, kind, _team_name, region_name, region_name_en in teams:
        name = f"{localized(region_name, region_name_en, lang)} {label(kind, lang)}"
        choices.append(("team", f"{region_code}/{kind.value}", name))
    return choices


def _users(session: Session, lang: str, now: dt.datetime) -> UsersView:
    users = list_users(session)
    names = region_names(session, {u.region_code for u in users if u.region_code}, lang)
    codes = {u.assignment for u in users if u.assignment}
    choices = assignee_choices(session, lang) if codes else []
    assignments = {code: name for _kind, code, name in choices if code in codes}
    return UsersView(lang, _timezone(), now, users, names, assignments)


def _tokens(session: Session, lang: str) -> CredentialsView:
    rows = list_wall_tokens(session)
    return CredentialsView(lang, _timezone(), rows, region_names(session, {r.scope for r in rows}, lang))


def _keys(session: Session, lang: str) -> CredentialsView:
    rows = list_api_keys(session)
    names = region_names(session, {r.region_code for r in rows if r.region_code}, lang)
    return CredentialsView(lang, _timezone(), rows, names)


def _audit(session: Session, lang: str, limit: int) -> AuditView:
    entries = [
        AuditEntry(e.at, e.actor, e.action, e.target, e.purpose)
        for e in session.scalars(select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit))
    ]
    return AuditView(lang, _timezone(), entries, limit)


def read(
    lang: str,
    audit_limit: int,
    min_password_length: int,
    now: dt.datetime | None = None,
    max_upload_bytes: int = 0,
    calendar_year: int | None = None,
) -> AdminView:
    """Everything the administration page shows, read in one session."""
    now = now or dt.datetime.now(dt.UTC)
    with db.session() as session:
        return AdminView(
            lang=lang,
            users=_users(session, lang, now),
            tokens=_tokens(session, lang),
            keys=_keys(session, lang),
            audit=_audit(session, lang, audit_limit),
            regions=region_choices(session, lang),
            min_password_length=min_password_length,
            assignees=assignee_choices(session, lang),
            imports=ImportsView(lang, max_upload_bytes),
            calendar=calendar(lang, calendar_year, now),
            webhooks=webhook_section(session, lang),
        )


def users(lang: str, now: dt.datetime | None = None) -> UsersView:
    """The users section, read again after a change."""
    with db.session() as session:
        return _users(session, lang, now or dt.datetime.now(dt.UTC))


def wall_tokens(lang: str) -> CredentialsView:
    """The wall tokens' section, read again after a change."""
    with db.session() as session:
        return _tokens(session, lang)


def api_keys(lang: str) -> CredentialsView:
    """The API keys' section, read again after a change."""
    with db.session() as session:
        return _keys(session, lang)


def audit(lang: str, limit: int) -> AuditView:
    """The newest audit entries, read again."""
    with db.session() as session:
        return _audit(session, lang, limit)


# ---------------------------------------------------------------------------- imports by upload


@dataclass(frozen=True)
class ImportsView:
    """The upload section: the largest file it takes (from CC_MAX_CONTENT_LENGTH)."""

    lang: str
    max_bytes: int


@dataclass(frozen=True)
class ImportReportView:
    """What one uploaded file did: its counts, and each record or feature refused, with the field and why."""

    lang: str
    file: str
    kind: str | None
    counts: list[tuple[str, int]]  # (key, number): read, created, updated, … as the importer counted them
    problems: list[tuple[str, str, str]]  # (record, field, reason)
    problems_truncated: bool  # more were refused than the report lists
    notes: list[tuple[str, str]]  # (key, text): anything else the importer reported (regions missing …)
    file_error: str | None  # the file could not be read at all
    seconds: float | None


# The counts first, in this order; any other whole number the importer reports follows them.
COUNT_ORDER = ("read", "created", "updated", "unchanged", "stale", "restored", "archived", "quarantined")
_NOT_NOTES = {"source", "kind", "file", "file_error", "errors", "problems", "errors_truncated", "seconds"}
_SAME_AS_QUARANTINED = "refused"  # the region import gives its refusals under both names
MAX_NOTE_ITEMS = 20


def _problem(item: object) -> tuple[str, str, str]:
    if not isinstance(item, dict):
        return ("", "", str(item))
    record = item.get("record", item.get("feature", item.get("code", item.get("location", ""))))
    return (str(record if record is not None else ""), str(item.get("field") or ""), str(item.get("reason", "")))


def _note_item(item: object) -> str:
    if isinstance(item, dict) and "code" in item:  # a region: "name · code"
        return f"{item['name']} · {item['code']}" if item.get("name") else str(item["code"])
    return str(item)


def _note(value: object) -> str:
    if isinstance(value, list | tuple | set):
        items = [_note_item(item) for item in value]
        more = len(items) - MAX_NOTE_ITEMS
        return ", ".join(items[:MAX_NOTE_ITEMS]) + (f" … (+{more})" if more > 0 else "")
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_note(item)}" for key, item in value.items())
    return str(value)


def import_report(report: dict, lang: str) -> ImportReportView:
    """The report of an ingest (services.ingest) or region import as the upload section shows it."""
    numbers = {key: value for key, value in report.items() if isinstance(value, int) and not isinstance(value, bool)}
    if numbers.get(_SAME_AS_QUARANTINED) == numbers.get("quarantined"):
        numbers.pop(_SAME_AS_QUARANTINED, None)
    ordered = [key for key in COUNT_ORDER if key in numbers] + sorted(set(numbers) - set(COUNT_ORDER))
    problems = report.get("errors") or report.get("problems") or []
    if not isinstance(problems, list):
        problems = [problems]
    notes = [
        (key, _note(value))
        for key, value in report.items()
        if key not in _NOT_NOTES and key not in numbers and not isinstance(value, bool | float) and value
    ]
    seconds = report.get("seconds")
    return ImportReportView(
        lang=lang,
        file=str(report.get("file", "")),
        kind=report.get("kind"),
        counts=[(key, numbers[key]) for key in ordered],
        problems=[_problem(item) for item in problems],
        problems_truncated=bool(report.get("errors_truncated")),
        notes=notes,
        file_error=report.get("file_error"),
        seconds=float(seconds) if isinstance(seconds, int | float) else None,
    )


# ---------------------------------------------------------------------------- the working-day calendar


@dataclass(frozen=True)
class CalendarDay:
    """One day of the year's view: working or not, and marked when it breaks the Monday–Friday rule."""

    day: dt.date
    working: bool
    mark: str  # "holiday": a weekday off; "workday": a weekend day worked (调休); "": neither


@dataclass(frozen=True)
class CalendarView:
    """A year of the working-day calendar, where it comes from, and the form's current entries."""

    lang: str
    year: int
    source: str  # "library" (chinesecalendar), "override" (the override file) or "fallback" (Monday–Friday)
    first_year: int
    last_year: int
    today: dt.date
    months: list[list[CalendarDay]]  # twelve months, each its days in order
    working_days: int
    holidays: list[dt.date]  # the override file's entries, or the weekdays off the calendar holds
    workdays: list[dt.date]  # likewise the weekend days worked
    sources: list[tuple[int, str]]  # this year and the next two, with their sources
    fallback_soon: list[int]  # years on the fallback that the console warns about now
    override_file: str


def _override_entries(path: str, year: int) -> tuple[list[dt.date], list[dt.date]] | None:
    """The year's holidays and workdays as the override file lists them; None when it does not (or cannot be read)."""
    try:
        entry = load_overrides(Path(path)).get(year)
    except (OSError, ValueError):  # tomllib.TOMLDecodeError is a ValueError
        return None
    if entry is None:
        return None
    return sorted(entry[0]), sorted(entry[1])


def calendar(lang: str, year: int | None = None, now: dt.datetime | None = None) -> CalendarView:
    """The calendar section for year (default: the first year the console warns about, else this year)."""
    work_calendar = current_app.extensions["work_calendar"]
    now = now or dt.datetime.now(dt.UTC)
    today = now.astimezone(work_calendar.timezone).date()
    soon = work_calendar.fallback_soon(today)
    if year is None:
        year = soon[0] if soon else today.year
    year = min(max(year, FIRST_YEAR), LAST_YEAR)
    months: list[list[CalendarDay]] = [[] for _ in range(12)]
    day = dt.date(year, 1, 1)
    while day.year == year:
        working = work_calendar.is_working_day(day)
        weekend = day.weekday() >= 5
        mark = "holiday" if not (working or weekend) else ("workday" if working and weekend else "")
        months[day.month - 1].append(CalendarDay(day, working, mark))
        day += dt.timedelta(days=1)
    days = [entry for month in months for entry in month]
    source = work_calendar.source_by_year.get(year, "fallback")
    override_file = current_app.config["CALENDAR_OVERRIDE_FILE"]
    entries = _override_entries(override_file, year) if source == "override" else None
    if entries is None:
        entries = (
            [d.day for d in days if d.mark == "holiday"],
            [d.day for d in days if d.mark == "workday"],
        )
    return CalendarView(
        lang=lang,
        year=year,
        source=source,
        first_year=FIRST_YEAR,
        last_year=LAST_YEAR,
        today=today,
        months=months,
        working_days=sum(d.working for d in days),
        holidays=entries[0],
        workdays=entries[1],
        sources=[
            (y, work_calendar.source_by_year.get(y, "fallback"))
            for y in range(today.year, today.year + 3)
            if y <= LAST_YEAR
        ],
        fallback_soon=soon,
        override_file=override_file,
    )
