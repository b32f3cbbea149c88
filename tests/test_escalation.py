"""Automatic escalation by rule (issue 16 point 4): the rules' boundaries, idempotence, concurrency, audit.

On SQLite and PostgreSQL. The policy is data/sla_policy.toml's [escalation] table: community →
street after 4 working hours (ordinary), 2 (urgent), 30 calendar minutes (extra urgent); street →
district after 8 / 4 working hours and 60 minutes.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from dashboard.config import DATA_DIR
from dashboard.domain.escalation import SYSTEM_ACTOR, home_level, is_escalated, parse_policy
from dashboard.domain.sla import load_policy
from dashboard.domain.vocab import AppealStatus, Priority, RegionLevel, TransitionAction
from dashboard.services import escalation
from dashboard.services.workflow import Step, apply
from dashboard.store.database import db
from dashboard.store.models import Appeal, AuditLog, Transition
from tests.escalation_support import COMMUNITY, COMPOUND, STREET, add_appeal, add_regions, local


@pytest.fixture
def regions(app):
    """The app with a small region tree (tests.escalation_support)."""
    add_regions()
    return app


def run(app, now: dt.datetime) -> list[int]:
    return escalation.run(db, app.extensions["sla_policy"].escalation, app.extensions["work_calendar"], now)


def level_of(appeal_id: int) -> RegionLevel:
    with db.session() as session:
        return session.get(Appeal, appeal_id).level


def escalations(appeal_id: int) -> list[Transition]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Transition)
                .where(Transition.appeal_id == appeal_id, Transition.action == TransitionAction.ESCALATE)
                .order_by(Transition.seq)
            )
        )


def test_the_policy_file_holds_the_documented_defaults():
    policy = load_policy(DATA_DIR / "sla_policy.toml").escalation
    rule = policy.rule_for(RegionLevel.COMMUNITY, Priority.ORDINARY)
    assert (rule.working_hours, rule.to_level) == (4, RegionLevel.STREET)
    assert policy.rule_for(RegionLevel.COMMUNITY, Priority.URGENT).working_hours == 2
    assert policy.rule_for(RegionLevel.COMMUNITY, Priority.EXTRA_URGENT).minutes == 30
    assert policy.rule_for(RegionLevel.STREET, Priority.ORDINARY).to_level == RegionLevel.DISTRICT
    assert policy.rule_for(RegionLevel.DISTRICT, Priority.ORDINARY) is None
    assert policy.earliest_seconds() == 30 * 60


@pytest.mark.parametrize(
    "table, error",
    [
        ({"district": {"ordinary": {"minutes": 5}}}, "nothing is above"),
        ({"community": {"ordinary": {"minutes": 5, "working_hours": 1}}}, "exactly one"),
        ({"community": {"ordinary": {"minutes": 0}}}, "positive"),
        ({"village": {"ordinary": {"minutes": 5}}}, "unknown level"),
        ({"community": {"soon": {"minutes": 5}}}, "community.soon"),
    ],
)
def test_a_wrong_rule_is_refused_with_its_place(table, error):
    with pytest.raises(ValueError, match=error):
        parse_policy(table)


def test_home_level_and_escalated():
    assert home_level(COMPOUND) == home_level(COMMUNITY) == RegionLevel.COMMUNITY
    assert home_level(STREET) == RegionLevel.STREET
    assert is_escalated("street", COMPOUND) and is_escalated(RegionLevel.DISTRICT, STREET)
    assert not is_escalated("community", COMPOUND) and not is_escalated("street", STREET)
    assert not is_escalated(None, COMPOUND) and not is_escalated("street", None)


def test_ordinary_exactly_at_four_working_hours_not_one_second_before(regions):
    deadline = local(2026, 11, 18, 10, 0)  # a Wednesday
    appeal_id = add_appeal(deadline)
    assert run(regions, deadline + dt.timedelta(hours=4, seconds=-1)) == []
    assert level_of(appeal_id) == RegionLevel.COMMUNITY
    assert run(regions, deadline + dt.timedelta(hours=4)) == [appeal_id]
    assert level_of(appeal_id) == RegionLevel.STREET
    (step,) = escalations(appeal_id)
    assert step.actor == SYSTEM_ACTOR and step.level == RegionLevel.STREET
    assert "4个工作小时" in step.note and "community.ordinary" in step.note and "街道" in step.note


def test_ordinary_working_hours_skip_the_weekend(regions):
    deadline = local(2026, 11, 20, 22, 0)  # Friday 22:00: two working hours left that day
    appeal_id = add_appeal(deadline)
    assert run(regions, local(2026, 11, 22, 23, 59)) == []  # all of Saturday and Sunday count for nothing
    assert run(regions, local(2026, 11, 23, 1, 59, 59)) == []
    assert run(regions, local(2026, 11, 23, 2, 0)) == [appeal_id]  # Monday 02:00: 2 + 2 working hours


def test_urgent_after_two_working_hours(regions):
    deadline = local(2026, 11, 18, 10, 0)
    appeal_id = add_appeal(deadline, Priority.URGENT)
    assert run(regions, deadline + dt.timedelta(hours=2, seconds=-1)) == []
    assert run(regions, deadline + dt.timedelta(hours=2)) == [appeal_id]


def test_extra_urgent_counts_calendar_minutes_even_on_a_sunday(regions):
    deadline = local(2026, 11, 22, 3, 0)  # a Sunday night
    appeal_id = add_appeal(deadline, Priority.EXTRA_URGENT)
    assert run(regions, deadline + dt.timedelta(minutes=30, seconds=-1)) == []
    assert run(regions, deadline + dt.timedelta(minutes=30)) == [appeal_id]
    assert "30分钟" in escalations(appeal_id)[0].note


def test_street_to_district_then_never_further(regions):
    deadline = local(2026, 11, 18, 10, 0)
    appeal_id = add_appeal(deadline, Priority.EXTRA_URGENT)
    assert run(regions, deadline + dt.timedelta(minutes=30)) == [appeal_id]
    assert run(regions, deadline + dt.timedelta(minutes=59)) == []  # the street's rule: 60 minutes
    assert run(regions, deadline + dt.timedelta(minutes=60)) == [appeal_id]
    assert level_of(appeal_id) == RegionLevel.DISTRICT
    assert run(regions, deadline + dt.timedelta(days=30)) == []
    assert [s.level for s in escalations(appeal_id)] == [RegionLevel.STREET, RegionLevel.DISTRICT]


def test_a_district_level_appeal_is_never_escalated(regions):
    appeal_id = add_appeal(local(2026, 11, 1, 10, 0), Priority.EXTRA_URGENT, level=RegionLevel.DISTRICT)
    assert run(regions, local(2026, 11, 30, 10, 0)) == []
    assert escalations(appeal_id) == []


def test_closed_unaccepted_and_not_yet_due_appeals_stay(regions):
    deadline = local(2026, 11, 18, 10, 0)
    reported = add_appeal(deadline, Priority.EXTRA_URGENT, status=AppealStatus.REPORTED)  # nobody accepted it
    resolved = add_appeal(deadline + dt.timedelta(seconds=1), Priority.EXTRA_URGENT)
    with db.transaction() as tx:
        appeal = tx.get(Appeal, resolved)
        apply(tx, appeal, Step(TransitionAction.START, "t", deadline - dt.timedelta(hours=1)))
        apply(tx, appeal, Step(TransitionAction.RESOLVE, "t", deadline - dt.timedelta(minutes=30), note="done"))
    assert run(regions, deadline + dt.timedelta(hours=1)) == []
    assert escalations(reported) == escalations(resolved) == []


def test_running_twice_escalates_once_and_is_audited(regions):
    deadline = local(2026, 11, 18, 10, 0)
    appeal_id = add_appeal(deadline)
    now = deadline + dt.timedelta(hours=5)
    assert run(regions, now) == [appeal_id]
    assert run(regions, now) == []
    assert len(escalations(appeal_id)) == 1
    with db.session() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.target == f"appeal:{appeal_id}")).all()
        appeal = session.get(Appeal, appeal_id)
    assert [(a.actor, a.action, a.detail["rule"]) for a in audit] == [
        (SYSTEM_ACTOR, "sla_escalate", "community.ordinary")
    ]
    assert audit[0].purpose == escalations(appeal_id)[0].note
    assert appeal.changed_by == SYSTEM_ACTOR and appeal.version == 2 and appeal.status == AppealStatus.DISPATCHED


def test_returned_to_its_level_the_same_rule_does_not_fire_again(regions):
    deadline = local(2026, 11, 18, 10, 0)
    appeal_id = add_appeal(deadline)
    assert run(regions, deadline + dt.timedelta(hours=5)) == [appeal_id]
    with db.transaction() as tx:  # the street sends it back: a person decided
        apply(
            tx,
            tx.get(Appeal, appeal_id),
            Step(TransitionAction.RETURN, "op", deadline + dt.timedelta(hours=6), note="社区可办"),
        )
    assert level_of(appeal_id) == RegionLevel.COMMUNITY
    assert run(regions, deadline + dt.timedelta(days=3)) == []
    assert len(escalations(appeal_id)) == 1


def test_two_runs_at_the_same_moment_escalate_each_appeal_once(regions):
    deadline = local(2026, 11, 18, 10, 0)
    ids = [add_appeal(deadline + dt.timedelta(seconds=n)) for n in range(6)]
    now = deadline + dt.timedelta(hours=5)
    barrier = threading.Barrier(2)
    results: list[list[int]] = []
    errors: list[BaseException] = []
    policy, calendar = regions.extensions["sla_policy"].escalation, regions.extensions["work_calendar"]

    def worker():
        try:
            with regions.app_context():
                barrier.wait(timeout=30)
                results.append(escalation.run(db, policy, calendar, now))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(results[0] + results[1]) == ids  # each appeal escalated by exactly one of the runs
    with db.session() as session:
        counts = dict(
            session.execute(
                select(Transition.appeal_id, func.count())
                .where(Transition.action == TransitionAction.ESCALATE)
                .group_by(Transition.appeal_id)
            ).all()
        )
        audits = session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "sla_escalate"))
    assert counts == dict.fromkeys(ids, 1) and audits == len(ids)


def test_the_scheduler_runs_it_every_minute_as_a_shared_job(regions, monkeypatch):
    from dashboard.domain import clock
    from dashboard.jobs.registry import escalate_overdue

    job = regions.extensions["scheduler"].scheduler.get_job("sla_escalation")
    assert job is not None and job.trigger.interval == dt.timedelta(minutes=1)
    deadline = local(2026, 11, 18, 10, 0)
    appeal_id = add_appeal(deadline, Priority.EXTRA_URGENT)
    monkeypatch.setattr(clock, "utcnow", lambda: deadline + dt.timedelta(minutes=30))
    with regions.app_context():
        escalate_overdue(regions)  # the job's body, at the clock's now
    assert level_of(appeal_id) == RegionLevel.STREET
