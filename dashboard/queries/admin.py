"""What the administration page lists: users, wall tokens, API keys, the recent audit log, regions.

Never a password hash, a token or a key: only what may be shown. The changes themselves are made
by dashboard.services.admin (which validates and audits them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.domain.keys import KeyAction, actions_from_text
from dashboard.domain.roles import Role
from dashboard.domain.vocab import RegionLevel
from dashboard.store.database import db
from dashboard.store.models import ApiKey, AuditLog, Region, User, WallToken
from dashboard.ui.i18n import localized

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


def _timezone() -> ZoneInfo:
    return current_app.extensions["work_calendar"].timezone


def user_view(user: User) -> UserView:
    """What may be shown of a user row."""
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


def _users(session: Session, lang: str, now: dt.datetime) -> UsersView:
    users = list_users(session)
    names = region_names(session, {u.region_code for u in users if u.region_code}, lang)
    return UsersView(lang, _timezone(), now, users, names)


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


def read(lang: str, audit_limit: int, min_password_length: int, now: dt.datetime | None = None) -> AdminView:
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
