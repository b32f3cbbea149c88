"""Automatic escalation (issue 16): the scheduler's minute job that applies domain.escalation's rules.

Each due appeal is escalated in its own transaction, through services.workflow.apply (so the
history row, the version, the push delta and any outbox event follow as for a person's step),
with an audit row. The appeal's row is locked and every condition checked again under the lock,
so two runs at the same moment (two processes, or a run that overlaps the previous one) escalate
an appeal once.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from dashboard.domain import clock
from dashboard.domain.escalation import AUDIT_ACTION, SYSTEM_ACTOR, EscalationPolicy, EscalationRule
from dashboard.domain.lifecycle import LEVEL_DOWN, RULES
from dashboard.domain.vocab import Priority, RegionLevel, TransitionAction
from dashboard.domain.workcal import WorkCalendar
from dashboard.services import workflow
from dashboard.services.push import queue_deltas
from dashboard.store.audit import audit_row
from dashboard.store.locks import lock_appeal
from dashboard.store.models import Appeal, Region, Transition
from dashboard.ui.i18n import label, t

log = logging.getLogger(__name__)
A = TransitionAction
ESCALATABLE = RULES[A.ESCALATE][0]  # the statuses the lifecycle escalates from


def note(rule: EscalationRule, lang: str = "zh") -> str:
    """The rule in words, as the transition's note and the audit row say it."""
    unit, amount = rule.amount()
    return t(
        f"escalation.note_{unit}",
        lang,
        priority=label(rule.priority, lang),
        from_level=label(rule.level, lang),
        to_level=label(rule.to_level, lang),
        amount=f"{amount:g}",
        rule=rule.key,
    )


def _escalated_from(session: Session, appeal_ids: list[int]) -> set[tuple[int, RegionLevel]]:
    """(appeal, level) pairs the rules already escalated an appeal from (its transition's level is the one above)."""
    if not appeal_ids:
        return set()
    rows = session.execute(
        select(Transition.appeal_id, Transition.level).where(
            Transition.appeal_id.in_(appeal_ids),
            Transition.action == A.ESCALATE,
            Transition.actor == SYSTEM_ACTOR,
        )
    )
    return {(appeal_id, LEVEL_DOWN[level]) for appeal_id, level in rows if level in LEVEL_DOWN}


def due_appeals(
    session: Session, policy: EscalationPolicy, calendar: WorkCalendar, now: dt.datetime
) -> list[tuple[int, EscalationRule]]:
    """The open appeals some rule makes due at now and that no rule has escalated from their level yet."""
    earliest = policy.earliest_seconds()
    if earliest is None:
        return []
    # Calendar time runs at least as fast as working time: nothing less overdue than the smallest
    # threshold in calendar time can be due, so the database hands over only real candidates.
    rows = session.execute(
        select(Appeal.id, Appeal.level, Appeal.priority, Appeal.deadline_at)
        .where(
            Appeal.is_open,
            Appeal.status.in_(ESCALATABLE),
            Appeal.level.in_(policy.levels()),
            Appeal.deadline_at <= now - dt.timedelta(seconds=earliest),
        )
        .order_by(Appeal.deadline_at, Appeal.id)
    ).all()
    rules = policy.due([(RegionLevel(r.level), Priority(r.priority), r.deadline_at) for r in rows], now, calendar)
    due = [(row.id, rule) for row, rule in zip(rows, rules, strict=True) if rule is not None]
    done = set()
    for start in range(0, len(due), 500):  # IN lists stay short
        done |= _escalated_from(session, [appeal_id for appeal_id, _rule in due[start : start + 500]])
    return [(appeal_id, rule) for appeal_id, rule in due if (appeal_id, rule.level) not in done]


def escalate_one(
    session: Session, appeal_id: int, policy: EscalationPolicy, calendar: WorkCalendar, now: dt.datetime
) -> bool:
    """Escalate one appeal if, under its row lock, a rule still makes it due; commits. True when it went up."""
    appeal = lock_appeal(session, appeal_id)
    rule = None
    if appeal is not None and appeal.is_open and appeal.status in ESCALATABLE:
        rule = policy.rule_for(appeal.level, appeal.priority)
    if (
        rule is None
        or not rule.is_due(appeal.deadline_at, now, calendar)
        or (appeal.id, rule.level) in _escalated_from(session, [appeal.id])
    ):
        session.rollback()  # someone else moved it, resolved it, or escalated it first
        return False
    words = note(rule)
    transition = workflow.apply(
        session,
        appeal,
        workflow.Step(A.ESCALATE, SYSTEM_ACTOR, now, note=words),
        expected_version=appeal.version,
    )
    session.add(
        audit_row(
            SYSTEM_ACTOR,
            AUDIT_ACTION,
            f"appeal:{appeal.id}",
            words,
            {"rule": rule.key, "from": rule.level.value, "to": rule.to_level.value, "seq": transition.seq},
        )
    )
    place = session.scalar(select(Region.name).where(Region.code == appeal.region_code))
    # The wall's ticker says it in words (masked: codes, a place name and the rule, nothing personal).
    queue_deltas(
        session,
        [
            {
                "type": "escalation",
                "id": f"escalation-{appeal.id}-{transition.seq}",
                "appeal_id": appeal.id,
                "region_code": appeal.region_code,
                "at": now.isoformat(),
                "from_level": rule.level.value,
                "to_level": rule.to_level.value,
                "rule": rule.key,
                "category": appeal.category.value,
                "priority": appeal.priority.value,
                "place": place or appeal.region_code,
            }
        ],
    )
    session.commit()
    return True


def run(database, policy: EscalationPolicy, calendar: WorkCalendar, now: dt.datetime | None = None) -> list[int]:
    """Escalate every appeal a rule makes due at now, one transaction each; the ids escalated."""
    now = now or clock.utcnow()
    with database.session() as session:
        candidates = due_appeals(session, policy, calendar, now)
    escalated = []
    for appeal_id, _rule in candidates:
        with database.session() as session:
            try:
                if escalate_one(session, appeal_id, policy, calendar, now):
                    escalated.append(appeal_id)
            except workflow.TransitionError as exc:  # e.g. a later step already recorded: not ours to fix
                session.rollback()
                log.info("escalation of appeal %s skipped: %s", appeal_id, exc)
            except (IntegrityError, OperationalError) as exc:  # another process took a step at the same moment
                session.rollback()
                log.info("escalation of appeal %s left to the next run: %s", appeal_id, exc.__class__.__name__)
    if escalated:
        log.info("escalated %d appeal(s) by rule", len(escalated))
    return escalated
