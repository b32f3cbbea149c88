"""One appeal, for the appeal page: its masked detail and, for an admin, its contact in full.

Out of the viewer's scope looks the same as missing: a supervisor learns nothing about other streets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.domain import clock, lifecycle, roles
from dashboard.domain.pii import mask_address, mask_free_text, mask_name, mask_phone
from dashboard.domain.roles import Permission
from dashboard.domain.vocab import SATISFIED_RATINGS
from dashboard.domain.workcal import WorkCalendar
from dashboard.store.database import db
from dashboard.store.models import Appeal, Department, Region, Team, Transition, User
from dashboard.ui.chrome import Refusal, Viewer
from dashboard.ui.i18n import label, localized, t
from dashboard.ui.outcomes import actor_text

NO_SUCH_APPEAL = Refusal("console.no_such_appeal")


@dataclass(frozen=True)
class AppealView:
    """The appeal page's data: the detail dict of appeal_detail, whether the viewer may unmask it, the
    steps the viewer may take now and, for a dispatch, the departments and teams in its scope."""

    appeal_id: str
    lang: str
    detail: dict
    may_unmask: bool
    steps: tuple[str, ...] = ()  # step codes, in the lifecycle's order
    assignees: tuple[tuple[str, str], ...] = ()  # ("department:<code>" | "team:<code>", words)


def read(appeal_id: str | None, viewer: Viewer, lang: str, may_unmask: bool, now: dt.datetime | None = None):
    """The page of /appeal/<appeal_id> for viewer: an AppealView, or a Refusal when missing or out of scope."""
    if not (appeal_id or "").isdigit():
        return NO_SUCH_APPEAL
    now = now or clock.utcnow()
    with db.session() as session:
        detail = appeal_detail(session, int(appeal_id), lang, now, current_app.extensions["work_calendar"])
        if detail is None or not viewer.covers(detail["region_code"]):
            return NO_SUCH_APPEAL
        steps = tuple(viewer_steps(viewer, detail))
        assignees = tuple(assignee_options(session, viewer, lang)) if "dispatch" in steps else ()
    return AppealView(appeal_id, lang, detail, may_unmask, steps, assignees)


def viewer_steps(viewer: Viewer, detail: dict) -> list[str]:
    """The steps this viewer may take on the appeal now: its role's steps (domain.roles) among those the
    lifecycle allows, none on an appeal not assigned to a handler's department or team."""
    if not viewer.can(Permission.ACT):
        return []
    if roles.is_assigned(viewer.role) and not roles.holds(
        viewer.department_id, viewer.team_id, detail["department_id"], detail["team_id"]
    ):
        return []
    return roles.steps_for(viewer.role, detail["allowed"])


def team_words(name: str, place: str) -> str:
    """A team as the console names it: its name, after its community's unless the name already says it."""
    return name if not place or name.startswith(place) else f"{place} · {name}"


def assignee_options(session: Session, viewer: Viewer, lang: str) -> list[tuple[str, str]]:
    """What a dispatch by this viewer may name: the departments and teams within its region scope."""
    places = {r.code: localized(r.name, r.name_en, lang) for r in session.scalars(select(Region))}
    options = [
        (f"department:{d.code}", t("actions.department_option", lang, name=localized(d.name, d.name_en, lang)))
        for d in session.scalars(select(Department).order_by(Department.level, Department.code))
        if viewer.covers(d.region_code)
    ]
    options += [
        (
            f"team:{team.code}",
            t("actions.team_option", lang, name=team_words(team.name, places.get(team.region_code, ""))),
        )
        for team in session.scalars(select(Team).order_by(Team.region_code, Team.kind))
        if viewer.covers(team.region_code)
    ]
    return options


def contact(appeal_id: int, viewer: Viewer) -> dict | None:
    """The reporter's contact in full (unmasked_contact), or None when missing or outside the viewer's scope."""
    with db.session() as session:
        found = unmasked_contact(session, appeal_id)
        region = appeal_region(session, appeal_id)
    if found is None or region is None or not viewer.covers(region):
        return None
    return found


# ---------------------------------------------------------------------------- one appeal


def appeal_detail(session: Session, appeal_id: int, lang: str, now: dt.datetime, calendar: WorkCalendar) -> dict | None:
    """Everything a supervisor may see of one appeal, masked, with its whole transition history."""
    appeal = session.get(Appeal, appeal_id)
    if appeal is None:
        return None
    zone = calendar.timezone
    departments = {d.id: localized(d.name, d.name_en, lang) for d in session.scalars(select(Department))}
    teams = {
        team_id: team_words(name, localized(place, place_en, lang))
        for team_id, name, place, place_en in session.execute(
            select(Team.id, Team.name, Region.name, Region.name_en).join(Region, Region.code == Team.region_code)
        )
    }
    transitions = session.scalars(
        select(Transition).where(Transition.appeal_id == appeal_id).order_by(Transition.seq)
    ).all()
    region = session.get(Region, appeal.region_code)
    people = dict(
        session.execute(
            select(User.username, User.display_name).where(User.username.in_({tr.actor for tr in transitions}))
        ).all()
    )
    timeline = [
        {
            "seq": tr.seq,
            "at": tr.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            "action": label(tr.action, lang),
            "from_status": label(tr.from_status, lang) if tr.from_status else "",
            "to_status": label(tr.to_status, lang),
            "actor": actor_text(tr.actor, lang, people.get(tr.actor)),
            "level": label(tr.level, lang),
            "department": departments.get(tr.department_id, "") if tr.department_id else "",
            "team": teams.get(tr.team_id, "") if tr.team_id else "",
            "note": mask_free_text(tr.note) if tr.note else "",
        }
        for tr in transitions
    ]
    passed = []
    for step in timeline:
        stop = (step["level"], step["department"] or step["team"] or "—")
        if not passed or passed[-1] != stop:
            passed.append(stop)
    end = appeal.resolved_at or now
    remaining = (appeal.deadline_at - now).total_seconds() if appeal.is_open else None
    return {
        "id": appeal.id,
        "external_id": appeal.external_id,
        "region_code": appeal.region_code,
        "place": localized(region.name, region.name_en, lang) if region else "",
        "category": label(appeal.category, lang),
        "priority": label(appeal.priority, lang),
        "priority_code": appeal.priority.value,
        "channel": label(appeal.source, lang),
        "status": label(appeal.status, lang),
        "is_open": appeal.is_open,
        "level": label(appeal.level, lang),
        "department": departments.get(appeal.department_id, "") if appeal.department_id else "",
        "team": teams.get(appeal.team_id, "") if appeal.team_id else "",
        "department_id": appeal.department_id,
        "team_id": appeal.team_id,
        "version": appeal.version,
        "urge_count": appeal.urge_count or 0,
        "allowed": lifecycle.allowed_actions(appeal.status, appeal.level, appeal.region_code, appeal.satisfaction),
        "description": mask_free_text(appeal.description),
        "address": mask_address(appeal.address),
        "reporter_name": mask_name(appeal.reporter_name),
        "reporter_phone": mask_phone(appeal.reporter_phone),
        "reported_at": appeal.reported_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "deadline_at": appeal.deadline_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "resolved_at": appeal.resolved_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if appeal.resolved_at else "",
        "seconds_left": remaining,
        "on_time": None if appeal.resolved_at is None else appeal.resolved_at <= appeal.deadline_at,
        "handling_wd": float(
            calendar.working_days_between_local(
                calendar.to_local_seconds(pd.Series([pd.Timestamp(appeal.reported_at)])),
                calendar.to_local_seconds(pd.Series([pd.Timestamp(end)])),
            )[0]
        ),
        "satisfaction": label(appeal.satisfaction, lang) if appeal.satisfaction else "",
        "satisfied": appeal.satisfaction in SATISFIED_RATINGS if appeal.satisfaction else None,
        "reopen_count": appeal.reopen_count,
        "duplicate_of": appeal.duplicate_of_id,
        "timeline": timeline,
        "levels_passed": passed,
    }


def appeal_region(session: Session, appeal_id: int) -> str | None:
    """The region code of an appeal (for scope checks), or None."""
    return session.scalar(select(Appeal.region_code).where(Appeal.id == appeal_id))


def unmasked_contact(session: Session, appeal_id: int) -> dict | None:
    """The reporter's name, phone and address in full: only for an admin, and only through auth.audit."""
    appeal = session.get(Appeal, appeal_id)
    if appeal is None:
        return None
    return {
        "reporter_name": appeal.reporter_name or "",
        "reporter_phone": appeal.reporter_phone or "",
        "address": appeal.address or "",
        "description": appeal.description,
    }
