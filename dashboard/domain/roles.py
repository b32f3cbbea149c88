"""Roles and permissions (BRIEF §7): the one list, from which the guard, the CLI's choices, the
administration page and the users table's constraints all follow.

Adding a role: add it to Role, give it its permissions in ROLE_PERMISSIONS, its labels in
ui/i18n (zh.py and en.py), and, if it sees everything, add it to UNSCOPED_ROLES.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    WALL = "wall"


class Permission(StrEnum):
    """What a route or callback needs. Region scope is checked on top, by the data functions."""

    PUBLIC = "public"  # no data: the page shell, assets, health, log-in, open data (masked)
    WALL = "wall"  # the handler checks a wall-device token itself (web.access)
    API_KEY = "api_key"  # the blueprint checks an API key itself (web.api)
    CONSOLE = "console"  # supervisors' pages: drill-down, appeals, detail (within their region)
    EXPORT = "export"  # download KPI exports and appeal lists (masked, audited)
    ADMIN = "admin"  # manage users, wall tokens and API keys
    UNMASK = "unmask"  # see one record's personal data in full, for a stated purpose (audited)


# What each role that logs in may do. Wall devices hold tokens, not accounts: no entry.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SUPERVISOR: frozenset({Permission.CONSOLE, Permission.EXPORT}),
    Role.ADMIN: frozenset({Permission.CONSOLE, Permission.EXPORT, Permission.ADMIN, Permission.UNMASK}),
}
# Permissions every request has: the handler itself authenticates (token, API key) or there is no data.
OPEN_PERMISSIONS = frozenset({Permission.PUBLIC, Permission.WALL, Permission.API_KEY})
# Roles whose accounts are not bound to a region (they see the whole database).
UNSCOPED_ROLES = frozenset({Role.ADMIN})
# Roles a user account can have: the CLI's and the administration page's choices.
ACCOUNT_ROLES = tuple(role for role in Role if role in ROLE_PERMISSIONS)


def can(role: Role | None, permission: Permission) -> bool:
    """Whether a role (None: anonymous) holds a permission."""
    if permission in OPEN_PERMISSIONS:
        return True
    return role is not None and permission in ROLE_PERMISSIONS.get(role, frozenset())


def is_scoped(role: Role) -> bool:
    """Whether accounts of this role are bound to a region."""
    return role not in UNSCOPED_ROLES


def scope_required_sql() -> str:
    """The users table's CHECK: every account of a scoped role names its region."""
    unscoped = sorted(role.value for role in UNSCOPED_ROLES)
    condition = f"role = '{unscoped[0]}'" if len(unscoped) == 1 else f"role IN ({', '.join(map(repr, unscoped))})"
    return f"{condition} OR region_code IS NOT NULL"
