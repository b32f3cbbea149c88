"""People acting from the console (issue 16): the one entry point every screen uses to take a workflow
step for a logged-in person, with optimistic concurrency.

act() checks, in order: the role may take the step; the appeal exists and lies in the viewer's scope
(out of scope looks exactly like missing); a handler acts only on what is assigned to its department
or team; the step's required fields (domain.roles.REQUIRED_FIELDS), an assignee within the scope;
then it locks the appeal's row and applies the step (services.workflow.apply) against the version
the page showed. A page that is out of date gets who changed the appeal and when; nothing is
overwritten. Every refusal is an i18n key with its values, for the screen to say in its language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.domain import clock, roles
from dashboard.domain.roles import Permission
from dashboard.domain.vocab import Satisfaction, TeamKind, TransitionAction
from dashboard.services import workflow
from dashboard.store.database import db
from dashboard.store.locks import lock_appeal
from dashboard.store.models import Appeal, Department, User
from dashboard.ui.chrome import Viewer

A = TransitionAction
MAX_NOTE = 500  # characters of a note kept in the history


@dataclass(frozen=True)
class ActionRequest:
    """A step a person asks for, with the appeal's version the page showed and the step's fields."""

    action: TransitionAction
    expected_version: int | None  # the appeal's version the page showed
    note: str | None = None
    department_code: str | None = None
    team_code: str | None = None  # Team.code, "<community>/<kind>"
    duplicate_of: int | None = None
    satisfaction: Satisfaction | None = None


@dataclass(frozen=True)
class ActionOutcome:
    """What became of one request: done, a conflict (who changed it and when) or another refusal."""

    appeal_id: int
    ok: bool
    conflict: bool  # refused because the appeal changed since expected_version
    version: int | None  # the appeal's version now (None: missing or out of scope)
    message_key: str  # an i18n key (zh/en) saying what happened
    values: dict = field(default_factory=dict)  # its format values, e.g. changed_by, changed_at (local time)


def assigned_to(viewer: Viewer, appeal) -> bool:
    """Whether the viewer's department or team holds the appeal (a handler's condition for acting on it)."""
    return roles.holds(viewer.department_id, viewer.team_id, appeal.department_id, appeal.team_id)


def act(viewer: Viewer, appeal_id: int, request: ActionRequest, now: dt.datetime | None = None) -> ActionOutcome:
    """Take one workflow step on one appeal for the viewer, in its own transaction."""
    now = now or clock.utcnow()
    action = request.action
    if not viewer.authenticated or not viewer.can(Permission.ACT) or not viewer.may_take(action):
        return _refused(appeal_id, None, "actions.not_your_step", action)
    with db.session() as session:
        appeal = lock_appeal(session, appeal_id)  # a second actor waits, then reads the first one's version
        if appeal is None or not viewer.covers(appeal.region_code):
            return _refused(appeal_id, None, "actions.no_such_appeal", action)
        if roles.is_assigned(viewer.role) and not assigned_to(viewer, appeal):
            return _refused(appeal_id, appeal.version, "actions.not_assigned", action)
        missing = _missing_field(request)
        if missing:
            return _refused(appeal_id, appeal.version, f"actions.need_{missing}", action)
        if action == A.DISPATCH and not _assignee_in_scope(session, viewer, request):
            return _refused(appeal_id, appeal.version, "actions.assignee_out_of_scope", action)
        if action == A.LINK_DUPLICATE:
            other = session.get(Appeal, request.duplicate_of)
            if other is None or not viewer.covers(other.region_code):
                return _refused(appeal_id, appeal.version, "actions.no_such_duplicate", action)
        step = workflow.Step(
            action=action,
            actor=viewer.username,
            at=now,
            note=(request.note or "").strip()[:MAX_NOTE] or None,
            department_code=request.department_code or None if action == A.DISPATCH else None,
            satisfaction=request.satisfaction,
            duplicate_of=request.duplicate_of,
            team_code=request.team_code or None if action == A.DISPATCH else None,
        )
        try:
            workflow.apply(session, appeal, step, request.expected_version)
        except workflow.Conflict as exc:
            session.rollback()
            name = session.scalar(select(User.display_name).where(User.username == exc.changed_by))
            return ActionOutcome(
                appeal_id,
                ok=False,
                conflict=True,
                version=exc.version,
                message_key="actions.conflict",
                values={
                    "id": appeal_id,
                    "step": action.value,
                    "changed_by": exc.changed_by or "—",
                    "changed_by_name": name,  # ui.outcomes says a person by name, a feed by its channel
                    "changed_at": local_text(exc.changed_at),
                },
            )
        except workflow.TransitionError as exc:
            session.rollback()
            return _refused(
                appeal_id, appeal.version, "actions.not_allowed_now", action, allowed=", ".join(exc.allowed) or "—"
            )
        # The conflict message names when the appeal last changed: the one clock's now, not the server's.
        appeal.updated_at = now
        version = appeal.version
        session.commit()
    return ActionOutcome(
        appeal_id,
        ok=True,
        conflict=False,
        version=version,
        message_key="actions.done",
        values={"id": appeal_id, "step": action.value},
    )


def act_many(
    viewer: Viewer, targets: list[tuple[int, int]], request: ActionRequest, now: dt.datetime | None = None
) -> list[ActionOutcome]:
    """The same step on several appeals, (appeal_id, expected_version) each, each in its own transaction."""
    now = now or clock.utcnow()
    outcomes = []
    for appeal_id, expected_version in targets:
        one = ActionRequest(
            action=request.action,
            expected_version=expected_version,
            note=request.note,
            department_code=request.department_code,
            team_code=request.team_code,
            duplicate_of=request.duplicate_of,
            satisfaction=request.satisfaction,
        )
        outcomes.append(act(viewer, appeal_id, one, now))
    return outcomes


def local_text(instant: dt.datetime | None) -> str:
    """An instant as the console writes it: local (Beijing) time, to the second."""
    if instant is None:
        return "—"
    zone = current_app.extensions["work_calendar"].timezone
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _refused(appeal_id: int, version: int | None, key: str, action: TransitionAction, **values) -> ActionOutcome:
    return ActionOutcome(
        appeal_id,
        ok=False,
        conflict=False,
        version=version,
        message_key=key,
        values={"id": appeal_id, "step": action.value, **values},
    )


def _missing_field(request: ActionRequest) -> str | None:
    """The first required field (domain.roles.REQUIRED_FIELDS) the request leaves empty, or None."""
    for name in roles.REQUIRED_FIELDS.get(request.action, ()):
        match name:
            case "assignee":
                # Exactly one assignee: a department or a team.
                if bool(request.department_code) == bool(request.team_code):
                    return "assignee"
            case "note":
                if not (request.note or "").strip():
                    return "note"
            case "duplicate_of":
                if request.duplicate_of is None:
                    return "duplicate_of"
            case "satisfaction":
                if request.satisfaction is None:
                    return "satisfaction"
    return None


def _assignee_in_scope(session: Session, viewer: Viewer, request: ActionRequest) -> bool:
    """Whether the department or team a dispatch names exists within the viewer's region scope."""
    if request.department_code:
        region = session.scalar(select(Department.region_code).where(Department.code == request.department_code))
    else:
        team = workflow.team_by_code(session, request.team_code) if valid_team_code(request.team_code) else None
        region = team.region_code if team is not None else None
    return region is not None and viewer.covers(region)


def valid_team_code(code: str | None) -> bool:
    """Whether a text has a team code's form, "<community code>/<kind>" with a TeamKind (a lookup of any other
    kind would fail in the database's enum)."""
    region_code, _, kind = (code or "").partition("/")
    return region_code.isdigit() and kind in set(TeamKind)
