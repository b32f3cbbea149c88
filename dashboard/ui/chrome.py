"""View models every console page shares: who is looking (the header's data) and a refusal.

Layouts take these instead of asking Flask or the auth module themselves; the page composers
(callbacks/<page>.py) build them for the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.domain import roles
from dashboard.domain.regions import covers
from dashboard.domain.roles import Permission, Role


@dataclass(frozen=True)
class Viewer:
    """The person a console page is drawn for: what the header shows and which links it offers."""

    authenticated: bool = False
    username: str = ""
    display_name: str = ""
    role: Role | None = None
    region_code: str | None = None  # None for an admin: the whole database
    csrf_token: str = ""  # for the log-out form
    # Years the working-day calendar counts Monday–Friday for want of data, that matter now (this
    # year, or next year within 30 days: WorkCalendar.fallback_soon); the header warns about them.
    calendar_fallback_years: tuple[int, ...] = ()
    department_id: int | None = None  # a handler's department
    team_id: int | None = None  # a handler's team

    def can(self, permission: Permission) -> bool:
        """Whether this viewer holds permission (open permissions are held by everyone)."""
        return roles.can(self.role, permission)

    def covers(self, region_code: str) -> bool:
        """Whether region_code lies within this viewer's scope."""
        return self.authenticated and covers(self.region_code, region_code)

    def may_take(self, action) -> bool:
        """Whether this viewer's role may take a workflow step by hand (domain.roles.ROLE_STEPS)."""
        return self.can(Permission.ACT) and roles.may_take(self.role, action)


@dataclass(frozen=True)
class Refusal:
    """A page that cannot be shown: the i18n key of the reason and its values."""

    key: str
    values: dict = field(default_factory=dict)
