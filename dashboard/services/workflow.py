"""The appeal workflow (BRIEF §3): applying one step, as domain.lifecycle's table allows, with its history row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard.domain import lifecycle
from dashboard.domain.lifecycle import LEVEL_DOWN, LEVEL_UP
from dashboard.domain.vocab import Satisfaction, TeamKind, TransitionAction
from dashboard.domain.webhooks import STEP_EVENTS
from dashboard.services import outbox
from dashboard.services.push import appeal_delta, appeal_row, queue_deltas
from dashboard.store import metrics
from dashboard.store.models import Appeal, Department, Team, Transition

A = TransitionAction


class TransitionError(ValueError):
    """A step that is not allowed now; says which steps are."""

    def __init__(self, message: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.allowed = allowed


class Conflict(TransitionError):
    """The appeal changed since the page (or caller) read it: nothing is overwritten."""

    def __init__(self, appeal: Appeal, expected_version: int, allowed: list[str]) -> None:
        super().__init__(
            f"appeal {appeal.id} changed since version {expected_version}: now version {appeal.version}, "
            f"changed by {appeal.changed_by or 'unknown'} "
            f"at {appeal.updated_at.isoformat() if appeal.updated_at else '?'}",
            allowed,
        )
        self.version = appeal.version
        self.changed_by = appeal.changed_by
        self.changed_at = appeal.updated_at


@dataclass
class Step:
    """A requested workflow step."""

    action: TransitionAction
    actor: str
    at: dt.datetime
    note: str | None = None
    department_code: str | None = None
    satisfaction: Satisfaction | None = None
    duplicate_of: int | None = None
    team_code: str | None = None  # "510107001001/patrol": dispatch to a team


def allowed_actions(appeal: Appeal) -> list[str]:
    """The steps allowed from the appeal's current state (domain.lifecycle's table)."""
    return lifecycle.allowed_actions(appeal.status, appeal.level, appeal.region_code, appeal.satisfaction)


def team_by_code(session: Session, code: str) -> Team | None:
    """The team a code names ("<community code>/<kind>", as Team.code), or None."""
    region_code, _, kind = code.partition("/")
    if kind not in {k.value for k in TeamKind}:  # an unknown kind names no team (and cannot be bound as one)
        return None
    return session.scalar(select(Team).where(Team.region_code == region_code, Team.kind == kind))


def apply(session: Session, appeal: Appeal, step: Step, expected_version: int | None = None) -> Transition:
    """Apply one step to an appeal in the session's transaction, or raise TransitionError.

    expected_version: the appeal's version the caller read; another version raises Conflict
    (lock the appeal's row first, e.g. with_for_update, so that two callers cannot both pass).
    """
    allowed = allowed_actions(appeal)
    if expected_version is not None and expected_version != appeal.version:
        raise Conflict(appeal, expected_version, allowed)
    if step.action.value not in allowed:
        raise TransitionError(
            f"appeal {appeal.id} is {appeal.status.value} at {appeal.level.value} level: "
            f"'{step.action.value}' is not allowed; allowed: {', '.join(allowed) or 'none'}",
            allowed,
        )
    last = session.execute(
        select(func.max(Transition.seq), func.max(Transition.at)).where(Transition.appeal_id == appeal.id)
    ).one()
    if last[1] is not None and step.at < last[1]:
        raise TransitionError(f"time {step.at.isoformat()} is before the appeal's last step", allowed)
    if step.at < appeal.reported_at:
        raise TransitionError("a step cannot precede the report", allowed)
    department_id = None
    if step.department_code:
        department_id = session.scalar(select(Department.id).where(Department.code == step.department_code))
        if department_id is None:
            raise TransitionError(f"unknown department code {step.department_code!r}", allowed)
    team_id = None
    if step.team_code:
        team = team_by_code(session, step.team_code)
        if team is None:
            raise TransitionError(f"unknown team code {step.team_code!r}", allowed)
        team_id = team.id
    from_status = appeal.status
    target = lifecycle.target_status(step.action, appeal.status)
    match step.action:
        case A.ACCEPT:
            appeal.accepted_at = step.at
        case A.DISPATCH:
            appeal.dispatched_at = step.at
        case A.RESOLVE:
            appeal.resolved_at = step.at
        case A.CLOSE:
            appeal.closed_at = step.at
        case A.ESCALATE:
            appeal.level = LEVEL_UP[appeal.level]
            appeal.dispatched_at = step.at
        case A.RETURN:
            appeal.level = LEVEL_DOWN[appeal.level]
            appeal.dispatched_at = step.at
        case A.RATE:
            if step.satisfaction is None:
                raise TransitionError("'rate' needs a satisfaction value", allowed)
            appeal.satisfaction = step.satisfaction
            appeal.rated_at = step.at
        case A.REOPEN:
            appeal.reopen_count += 1
            appeal.resolved_at = appeal.closed_at = appeal.satisfaction = appeal.rated_at = None
        case A.URGE:
            appeal.urge_count = (appeal.urge_count or 0) + 1
        case A.LINK_DUPLICATE:
            if step.duplicate_of is None or step.duplicate_of == appeal.id:
                raise TransitionError("'link_duplicate' needs the id of another appeal", allowed)
            if session.get(Appeal, step.duplicate_of) is None:
                raise TransitionError(f"appeal {step.duplicate_of} does not exist", allowed)
            appeal.duplicate_of_id = step.duplicate_of
            appeal.resolved_at = appeal.closed_at = step.at
    if department_id is not None or team_id is not None:  # a new assignee replaces the old one
        appeal.department_id = department_id
        appeal.team_id = team_id
    elif step.action in (A.ESCALATE, A.RETURN):
        # The appeal moves to another level: whoever held it at the old one no longer does (it leaves
        # their /tasks list); the new level's operator dispatches it on (改派).
        appeal.department_id = None
        appeal.team_id = None
    appeal.status = target
    appeal.is_open = lifecycle.is_open(target)
    appeal.version = (appeal.version or 1) + 1
    appeal.changed_by = step.actor[:64]
    note = step.note
    if step.action == A.RATE:
        note = f"satisfaction: {step.satisfaction.value}" + (f"; {note}" if note else "")
    transition = Transition(
        appeal_id=appeal.id,
        seq=(last[0] or 0) + 1,
        action=step.action,
        from_status=from_status,
        to_status=target,
        at=step.at,
        actor=step.actor[:64],
        level=appeal.level,
        department_id=appeal.department_id,
        team_id=appeal.team_id,
        note=note,
    )
    session.add(transition)
    session.flush()
    if (event := STEP_EVENTS.get(step.action)) is not None:  # in this transaction: a rolled-back step sends nothing
        outbox.enqueue(session, event, appeal, step.at, transition)
    queue_deltas(session, [appeal_delta(appeal_row(appeal), "updated")])
    metrics.step_applied(session, step.action)
    return transition
