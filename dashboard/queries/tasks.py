"""A handler's task list (/tasks): the open appeals assigned to their department or team, most urgent first.

Only what is assigned to the viewer's own department or team is ever read, whatever the page is asked
for (a focused appeal of another team looks exactly like a missing one). Text is masked
(domain.pii): a handler sees the category, the place, a short masked text and the time left.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from dashboard.domain import clock, lifecycle, roles
from dashboard.domain.overdue import overdue_now_sql
from dashboard.domain.pii import mask_address, public_text
from dashboard.domain.vocab import Priority
from dashboard.store.database import db
from dashboard.store.models import Appeal, Department, Region, Team
from dashboard.ui.chrome import Viewer
from dashboard.ui.i18n import label, localized

TASK_LIMIT = 100  # cards on one page: the most urgent; the rest are counted
TEXT_LENGTH = 60  # characters of masked text on a card
# Among overdue appeals the most pressing priority comes first.
PRIORITY_RANK = {Priority.EXTRA_URGENT: 0, Priority.URGENT: 1, Priority.ORDINARY: 2}


@dataclass(frozen=True)
class TaskCard:
    """One open assignment as a handler's card shows it (masked; no name, phone or full address)."""

    id: int
    category: str
    priority: str  # code: ordinary | urgent | extra_urgent
    priority_label: str
    status: str  # code
    status_label: str
    text: str
    place: str
    reported_at: dt.datetime
    deadline_at: dt.datetime
    seconds_left: int  # negative once overdue
    overdue: bool
    urge_count: int
    version: int  # sent back with a step: a changed appeal is refused, never overwritten
    steps: tuple[str, ...]  # the steps this handler may take now, in the lifecycle's order


@dataclass(frozen=True)
class TasksView:
    """The /tasks page: whose list it is, its cards, and how many open assignments there are in all."""

    lang: str
    now: dt.datetime
    timezone: ZoneInfo
    assignee: str  # the department's or team's name
    cards: list[TaskCard]
    total: int
    limit: int
    focus: int | None = None  # ?appeal=<id>: only that card (None: all)


def assigned_to(viewer: Viewer):
    """The SQL form of domain.roles.holds: "held by this viewer's department or team" (None: it has neither)."""
    conditions = []
    if viewer.department_id is not None:
        conditions.append(Appeal.department_id == viewer.department_id)
    if viewer.team_id is not None:
        conditions.append(Appeal.team_id == viewer.team_id)
    return or_(*conditions) if conditions else None


def urgency_order(now: dt.datetime) -> tuple:
    """ORDER BY terms: overdue first (extra-urgent, urgent, ordinary, each most overdue first), then the
    least time left."""
    overdue = overdue_now_sql(Appeal.is_open, Appeal.deadline_at, now)
    rank = case(*((Appeal.priority == priority, n) for priority, n in PRIORITY_RANK.items()), else_=len(PRIORITY_RANK))
    return case((overdue, 0), else_=1), case((overdue, rank), else_=0), Appeal.deadline_at, Appeal.id


def open_assignments(session: Session, viewer: Viewer, now: dt.datetime, limit: int, focus: int | None = None):
    """The viewer's open assigned appeals, most urgent first (at most limit), and how many there are."""
    condition = assigned_to(viewer)
    if condition is None:
        return [], 0
    where = [Appeal.is_open.is_(True), condition]
    if focus is not None:
        where.append(Appeal.id == focus)
    total = session.scalar(select(func.count()).select_from(Appeal).where(*where))
    rows = session.scalars(select(Appeal).where(*where).order_by(*urgency_order(now)).limit(limit)).all()
    return rows, int(total or 0)


def assignee_name(session: Session, viewer: Viewer, lang: str) -> str:
    """The name of the viewer's department, or its team's ("簇桥社区 巡逻队")."""
    if viewer.department_id is not None:
        department = session.get(Department, viewer.department_id)
        if department is not None:
            return localized(department.name, department.name_en, lang)
    if viewer.team_id is not None:
        team = session.get(Team, viewer.team_id)
        if team is not None:
            region = session.get(Region, team.region_code)
            community = localized(region.name, region.name_en, lang) if region else team.region_code
            return f"{community} {label(team.kind, lang)}"
    return ""


def read(viewer: Viewer, lang: str, now: dt.datetime | None = None, focus: int | None = None) -> TasksView:
    """The /tasks page of a handler: their open assignments (or only `focus`, if it is one of them)."""
    now = now or clock.utcnow()
    with db.session() as session:
        appeals, total = open_assignments(session, viewer, now, TASK_LIMIT, focus)
        codes = {appeal.region_code for appeal in appeals}
        regions = session.execute(select(Region.code, Region.name, Region.name_en).where(Region.code.in_(codes)))
        names = {r.code: localized(r.name, r.name_en, lang) for r in regions} if codes else {}
        cards = [_card(appeal, viewer, lang, now, names) for appeal in appeals]
        assignee = assignee_name(session, viewer, lang)
    timezone = current_app.extensions["work_calendar"].timezone
    return TasksView(lang, now, timezone, assignee, cards, total, TASK_LIMIT, focus)


def _card(appeal: Appeal, viewer: Viewer, lang: str, now: dt.datetime, names: dict[str, str]) -> TaskCard:
    allowed = lifecycle.allowed_actions(appeal.status, appeal.level, appeal.region_code, appeal.satisfaction)
    place = names.get(appeal.region_code, appeal.region_code)
    if appeal.address:
        place = f"{place} · {mask_address(appeal.address)}"
    return TaskCard(
        id=appeal.id,
        category=label(appeal.category, lang),
        priority=appeal.priority.value,
        priority_label=label(appeal.priority, lang),
        status=appeal.status.value,
        status_label=label(appeal.status, lang),
        text=public_text(appeal.description, TEXT_LENGTH),
        place=place,
        reported_at=appeal.reported_at,
        deadline_at=appeal.deadline_at,
        seconds_left=math.floor((appeal.deadline_at - now).total_seconds()),  # 0.5 s late is late
        overdue=appeal.deadline_at < now,
        urge_count=appeal.urge_count or 0,
        version=appeal.version or 1,
        steps=tuple(roles.steps_for(viewer.role, allowed)),
    )
