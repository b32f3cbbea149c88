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

from dashboard.domain import clock
from dashboard.domain.pii import mask_address, mask_free_text, mask_name, mask_phone
from dashboard.domain.vocab import SATISFIED_RATINGS
from dashboard.domain.workcal import WorkCalendar
from dashboard.store.database import db
from dashboard.store.models import Appeal, Department, Region, Transition
from dashboard.ui.chrome import Refusal, Viewer
from dashboard.ui.i18n import label, localized

NO_SUCH_APPEAL = Refusal("console.no_such_appeal")


@dataclass(frozen=True)
class AppealView:
    """The appeal page's data: the detail dict of appeal_detail, and whether the viewer may unmask it."""

    appeal_id: str
    lang: str
    detail: dict
    may_unmask: bool


def read(appeal_id: str | None, viewer: Viewer, lang: str, may_unmask: bool, now: dt.datetime | None = None):
    """The page of /appeal/<appeal_id> for viewer: an AppealView, or a Refusal when missing or out of scope."""
    if not (appeal_id or "").isdigit():
        return NO_SUCH_APPEAL
    now = now or clock.utcnow()
    with db.session() as session:
        detail = appeal_detail(session, int(appeal_id), lang, now, current_app.extensions["work_calendar"])
    if detail is None or not viewer.covers(detail["region_code"]):
        return NO_SUCH_APPEAL
    return AppealView(appeal_id, lang, detail, may_unmask)


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
    transitions = session.scalars(
        select(Transition).where(Transition.appeal_id == appeal_id).order_by(Transition.seq)
    ).all()
    region = session.get(Region, appeal.region_code)
    timeline = [
        {
            "seq": tr.seq,
            "at": tr.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            "action": label(tr.action, lang),
            "from_status": label(tr.from_status, lang) if tr.from_status else "",
            "to_status": label(tr.to_status, lang),
            "actor": mask_free_text(tr.actor),
            "level": label(tr.level, lang),
            "department": departments.get(tr.department_id, "") if tr.department_id else "",
            "note": mask_free_text(tr.note) if tr.note else "",
        }
        for tr in transitions
    ]
    passed = []
    for step in timeline:
        stop = (step["level"], step["department"] or "—")
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
