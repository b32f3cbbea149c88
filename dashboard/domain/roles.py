"""Roles and permissions (BRIEF §7, issue 16): the one list, from which the guard, the CLI's choices,
the administration page, the users table's constraints and the workflow's "who may take which
step" all follow.

Adding a role: add it to Role, give it its permissions in ROLE_PERMISSIONS and its workflow steps
in ROLE_STEPS, its labels in ui/i18n (zh.py and en.py), and, if it sees everything, add it to
UNSCOPED_ROLES; then add it to tests/test_access_matrix.py.
"""

from __future__ import annotations

from enum import StrEnum

from dashboard.domain.vocab import TransitionAction


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"  # 督办: the console of a region; urges and approves escalations
    OPERATOR = "operator"  # 值班员: accepts, dispatches, escalates, returns and urges within a region
    HANDLER = "handler"  # a department's or team's member: works the appeals assigned to them (/tasks)
    VIEWER = "viewer"  # leaders: every chart of their region, never personal data
    WALL = "wall"


class Permission(StrEnum):
    """What a route or callback needs. Region scope is checked on top, by the data functions."""

    PUBLIC = "public"  # no data: the page shell, assets, health, log-in, open data (masked)
    WALL = "wall"  # the handler checks a wall-device token itself (web.access)
    API_KEY = "api_key"  # the blueprint checks an API key itself (web.api)
    CONSOLE = "console"  # the console's pages: drill-down, appeals, detail (within the region)
    EXPORT = "export"  # download KPI exports and appeal lists (masked, audited)
    ACT = "act"  # take workflow steps from the console (which steps: ROLE_STEPS)
    TASKS = "tasks"  # the task page of a department's or team's handler (/tasks)
    ADMIN = "admin"  # manage users, wall tokens, API keys and webhooks
    UNMASK = "unmask"  # see one record's personal data in full, for a stated purpose (audited)


# What each role that logs in may do. Wall devices hold tokens, not accounts: no entry.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset({Permission.CONSOLE, Permission.EXPORT, Permission.ACT, Permission.ADMIN, Permission.UNMASK}),
    Role.SUPERVISOR: frozenset({Permission.CONSOLE, Permission.EXPORT, Permission.ACT}),
    Role.OPERATOR: frozenset({Permission.CONSOLE, Permission.EXPORT, Permission.ACT}),
    Role.HANDLER: frozenset({Permission.TASKS, Permission.ACT}),
    Role.VIEWER: frozenset({Permission.CONSOLE, Permission.EXPORT}),
}

A = TransitionAction
# The workflow steps each role may take by hand (the lifecycle table decides when a step is allowed).
# A handler takes its steps only on appeals assigned to its department or team.
OPERATOR_STEPS = frozenset({A.ACCEPT, A.DISPATCH, A.ESCALATE, A.RETURN, A.URGE})
ROLE_STEPS: dict[Role, frozenset[TransitionAction]] = {
    Role.ADMIN: frozenset(action for action in TransitionAction if action != A.REPORT),
    Role.SUPERVISOR: OPERATOR_STEPS | {A.CLOSE, A.REOPEN, A.LINK_DUPLICATE},
    Role.OPERATOR: OPERATOR_STEPS,
    Role.HANDLER: frozenset({A.START, A.RESOLVE, A.RETURN}),
    Role.VIEWER: frozenset(),
}
# Steps that need words: a department or team for dispatch, a reason for return and escalate, a note
# for resolve and urge. The console's forms and the workflow service both read this.
REQUIRED_FIELDS: dict[TransitionAction, tuple[str, ...]] = {
    A.DISPATCH: ("assignee",),
    A.RETURN: ("note",),
    A.ESCALATE: ("note",),
    A.RESOLVE: ("note",),
    A.URGE: ("note",),
    A.LINK_DUPLICATE: ("duplicate_of",),
    A.RATE: ("satisfaction",),
}
# Permissions every request has: the handler itself authenticates (token, API key) or there is no data.
OPEN_PERMISSIONS = frozenset({Permission.PUBLIC, Permission.WALL, Permission.API_KEY})
# Roles whose accounts are not bound to a region (they see the whole database).
UNSCOPED_ROLES = frozenset({Role.ADMIN})
# Roles whose accounts belong to a department or a team (they see only what is assigned to it).
ASSIGNED_ROLES = frozenset({Role.HANDLER})
# Roles a user account can have: the CLI's and the administration page's choices.
ACCOUNT_ROLES = tuple(role for role in Role if role in ROLE_PERMISSIONS)


def can(role: Role | None, permission: Permission) -> bool:
    """Whether a role (None: anonymous) holds a permission."""
    if permission in OPEN_PERMISSIONS:
        return True
    return role is not None and permission in ROLE_PERMISSIONS.get(role, frozenset())


def may_take(role: Role | None, action: TransitionAction) -> bool:
    """Whether a role may take a workflow step by hand (scope and assignment are checked on top)."""
    return role is not None and action in ROLE_STEPS.get(role, frozenset())


def steps_for(role: Role | None, allowed: list[str]) -> list[str]:
    """Of the steps the lifecycle allows now (codes, in order), those this role may take."""
    return [code for code in allowed if may_take(role, TransitionAction(code))]


def is_scoped(role: Role) -> bool:
    """Whether accounts of this role are bound to a region."""
    return role not in UNSCOPED_ROLES


def is_assigned(role: Role) -> bool:
    """Whether accounts of this role belong to a department or team (and see only its appeals)."""
    return role in ASSIGNED_ROLES


def holds(
    department_id: int | None, team_id: int | None, appeal_department_id: int | None, appeal_team_id: int | None
) -> bool:
    """Whether a department/team (a handler's) holds an appeal assigned to appeal_department_id/appeal_team_id."""
    return (department_id is not None and appeal_department_id == department_id) or (
        team_id is not None and appeal_team_id == team_id
    )


def scope_required_sql() -> str:
    """The users table's CHECK: every account of a scoped role names its region."""
    unscoped = sorted(role.value for role in UNSCOPED_ROLES)
    condition = f"role = '{unscoped[0]}'" if len(unscoped) == 1 else f"role IN ({', '.join(map(repr, unscoped))})"
    return f"{condition} OR region_code IS NOT NULL"


def assignment_required_sql() -> str:
    """The users table's CHECK: every account of an assigned role names its department or team."""
    assigned = ", ".join(f"'{role.value}'" for role in sorted(ASSIGNED_ROLES))
    return f"role NOT IN ({assigned}) OR department_id IS NOT NULL OR team_id IS NOT NULL"
