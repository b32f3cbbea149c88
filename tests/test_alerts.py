"""Early warning (issue 19): the rules (domain.alerts), the job (services.alerts.evaluate) on SQLite and
PostgreSQL — surge, repeat, at risk — the lifecycle (acknowledge, close, auto-close, re-raise), the
audit rows, the `alert_raised` outbox event and the words of a reason."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from dashboard.config import DATA_DIR
from dashboard.domain import alerts as rules_module
from dashboard.domain import clock
from dashboard.domain.alerts import (
    EXPECTED_FLOOR,
    AlertRules,
    AtRiskRules,
    SurgeRules,
    expected_count,
    is_at_risk,
    is_surge,
    load_rules,
    normalise_address,
    poisson_tail,
    surge_floor,
)
from dashboard.domain.vocab import RegionLevel
from dashboard.services import alerts, webhooks
from dashboard.services.alerts import AlertError, Found
from dashboard.store.database import db
from dashboard.store.models import Alert, Appeal, AuditLog, Department, OutboxEvent, Region, WebhookDelivery
from dashboard.ui.alerts import reason_text
from tests.webhook_support import COMMUNITY, COMPOUND, DEPARTMENT, OTHER_COMMUNITY, STREET, add_district

# Monday 30 November 2026, 14:00 in Chengdu (06:00 UTC); its local day began at 16:00 UTC the day before.
NOW = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC)
MIDNIGHT = dt.datetime(2026, 11, 29, 16, 0, tzinfo=dt.UTC)
RULES = load_rules(DATA_DIR / "alerts.toml")
_ids = itertools.count(1)


@pytest.fixture
def district(app, monkeypatch):
    add_district(db)
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)  # the pinned clock (outbox rows, people's steps)
    return app


def add_appeals(times, *, region=COMPOUND, category="noise", open_=False, deadline=None, department=None, address=None):
    """Appeals reported at the given instants (closed and resolved an hour later unless open_)."""
    rows = []
    for at in times:
        number = next(_ids)
        rows.append(
            {
                "source": "hotline_12345",
                "external_id": f"t{number}",
                "category": category,
                "priority": "ordinary",
                "status": "dispatched" if open_ else "closed",
                "is_open": open_,
                "region_code": region,
                "level": "community",
                "department_id": department,
                "description": "楼上噪音",
                "address": address,
                "reported_at": at,
                "resolved_at": None if open_ else at + dt.timedelta(hours=1),
                "closed_at": None if open_ else at + dt.timedelta(hours=1),
                "deadline_at": deadline or at + dt.timedelta(days=3),
                "created_at": at,
                "updated_at": at,
            }
        )
    with db.transaction() as session:
        session.execute(insert(Appeal), rows)


def evaluate(now=NOW, rules=RULES):
    with db.transaction() as session:
        return alerts.evaluate(session, now, rules=rules)


def alert_rows(kind=None):
    with db.session() as session:
        query = select(Alert).order_by(Alert.id)
        if kind:
            query = query.where(Alert.kind == kind)
        return list(session.scalars(query))


def department_id() -> int:
    with db.session() as session:
        return session.scalar(select(Department.id).where(Department.code == DEPARTMENT))


# ---------------------------------------------------------------------------- rules (no database)


def test_rules_file_loads_and_bad_values_are_named(tmp_path: Path):
    rules = load_rules(DATA_DIR / "alerts.toml")
    assert rules.surge == SurgeRules(8, 0.001, 5, ("community", "street"))
    assert (rules.repeat.days, rules.repeat.min_count) == (7, 3)
    assert rules.at_risk == AtRiskRules(0.25, 30)
    assert rules.lifecycle.auto_close_after == dt.timedelta(hours=24)
    bad = tmp_path / "alerts.toml"
    bad.write_text("[surge]\np_value = 2\n[at_risk]\ntime_left_fraction = 0\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"p_value.*time_left_fraction"):
        load_rules(bad)


def test_poisson_tail_and_expectation_by_hand():
    # P(X ≥ 6 | μ = 1) = 1 − e⁻¹(1 + 1 + 1/2 + 1/6 + 1/24 + 1/120) = 0.000594…
    assert poisson_tail(6, 1.0) == pytest.approx(0.00059418, rel=1e-4)
    assert poisson_tail(5, 1.0) == pytest.approx(0.00365985, rel=1e-4)
    assert poisson_tail(0, 3.0) == 1.0
    # An expectation of 0 is floored (no division by zero, no P = 0 for a single appeal).
    assert poisson_tail(1, 0.0) == pytest.approx(poisson_tail(1, EXPECTED_FLOOR))
    assert poisson_tail(1, 0.0) > 0
    # The mean over all `weeks` days, the weeks without appeals counting 0: 0+0+0+0+0+0+2+6 = 8 → 1.0.
    assert expected_count([2, 6], 8) == 1.0
    assert expected_count([], 8) == EXPECTED_FLOOR
    surge = SurgeRules()
    assert not is_surge(5, 1.0, surge) and is_surge(6, 1.0, surge)  # the p threshold between 5 and 6
    assert not is_surge(4, 0.0, surge)  # P tiny, but fewer than min_count
    assert surge_floor(1.0, surge) == 6


def test_address_normalisation():
    same = [
        "锦湖花园5栋2单元",
        "锦湖花园 5栋 2单元",
        "锦湖花园５栋２单元",
        "锦湖花园5栋-2单元。",
        "锦湖花园（5栋）2单元",
    ]
    assert {normalise_address(text) for text in same} == {"锦湖花园5栋2单元"}
    assert normalise_address("锦湖花园五栋2单元") != normalise_address("锦湖花园5栋2单元")  # numerals kept
    assert normalise_address("Block A, 3") == "blocka3"
    assert normalise_address(None) == normalise_address(" ，。") == ""


def test_at_risk_predicate_boundaries():
    rules = AtRiskRules(time_left_fraction=0.25, median_days=30)
    reported = NOW - dt.timedelta(hours=30)
    exactly = NOW + dt.timedelta(hours=10)  # 10 h of 40 h left: 25 %, not less
    assert not is_at_risk(True, reported, exactly, NOW, 10, 5, rules)
    nearer = exactly - dt.timedelta(minutes=1)
    assert is_at_risk(True, reported, nearer, NOW, 10, 5, rules)
    assert not is_at_risk(True, reported, nearer, NOW, 5, 5, rules)  # load not above its median
    assert not is_at_risk(True, reported, nearer, NOW, 10, None, rules)  # no median
    assert not is_at_risk(False, reported, nearer, NOW, 10, 5, rules)  # resolved
    assert not is_at_risk(True, reported, NOW - dt.timedelta(seconds=1), NOW, 10, 5, rules)  # overdue


def test_reason_text_in_both_languages():
    details = {"level": "community", "observed": 15, "expected": 1.25, "p_value": 1e-9, "weeks": 8}
    assert reason_text("surge", details, "zh", category="noise", place="簇桥社区") == (
        "簇桥社区：噪音扰民诉求今日已达 15 件，前 8 周同日同时段平均 1.2 件（P < 0.000001）"
    )
    assert "15 Noise appeals today" in reason_text("surge", details, "en", category="noise")
    assert "同一地址 7 天内 3 次" in reason_text("repeat", {"basis": "address", "count": 3, "days": 7}, "zh")
    at_risk = {"fraction_left": 0.2, "hours_left": 3.5, "open_load": 40, "median_load": 31.5, "median_days": 30}
    assert "3.5 h left (20% of its time)" in reason_text("at_risk", at_risk, "en")


# ---------------------------------------------------------------------------- surge


def test_a_burst_raises_one_surge_alert_once(district):
    add_appeals([NOW - dt.timedelta(minutes=4 * i) for i in range(15)])  # 15 noise appeals within an hour
    first = evaluate()
    surges = alert_rows("surge")
    assert len(first.raised) >= 1 and [a.region_code for a in surges] == [COMMUNITY]  # not its street too
    alert = surges[0]
    assert alert.status == "new" and alert.category.value == "noise" and alert.raised_at == NOW
    assert alert.details["observed"] == 15 and alert.details["level"] == "community"
    assert alert.details["expected"] == EXPECTED_FLOOR  # no history
    second = evaluate(NOW + dt.timedelta(minutes=1))
    assert second.raised == [] and alert.id in second.seen
    assert len(alert_rows("surge")) == 1
    assert alert_rows("surge")[0].last_seen_at == NOW + dt.timedelta(minutes=1)


def test_four_appeals_are_no_surge(district):
    add_appeals([NOW - dt.timedelta(minutes=i) for i in range(4)])
    assert evaluate().found["surge"] == 0 and alert_rows("surge") == []


def test_surge_expectation_pinned_and_the_p_threshold(district):
    # History: 8 appeals over the 8 previous Mondays before 14:00 (2 four weeks… 6 eight weeks ago)
    # → expected 1.0; appeals after 14:00 on those Mondays and on other days do not count.
    add_appeals([MIDNIGHT - dt.timedelta(weeks=7) + dt.timedelta(hours=h) for h in (1, 2)])
    add_appeals([MIDNIGHT - dt.timedelta(weeks=8) + dt.timedelta(hours=h) for h in range(1, 7)])
    add_appeals([MIDNIGHT - dt.timedelta(weeks=1) + dt.timedelta(hours=h) for h in (15, 16, 20, 23)])  # after 14:00
    add_appeals([MIDNIGHT - dt.timedelta(days=1) + dt.timedelta(hours=h) for h in range(1, 9)])  # a Sunday
    add_appeals([MIDNIGHT - dt.timedelta(weeks=9) + dt.timedelta(hours=h) for h in range(1, 9)])  # too long ago
    today = [MIDNIGHT + dt.timedelta(hours=h) for h in (1, 3, 5, 7, 9)]
    add_appeals(today)
    assert evaluate().found["surge"] == 0  # 5 against 1.0: P = 0.00366 ≥ 0.001
    add_appeals([MIDNIGHT + dt.timedelta(hours=11)])
    run = evaluate()
    [alert] = alert_rows("surge")
    assert alert.id in run.raised and alert.region_code == COMMUNITY
    assert alert.details["expected"] == 1.0 and alert.details["observed"] == 6
    assert alert.details["p_value"] == pytest.approx(0.000594, rel=1e-3)


def test_a_street_surge_spread_over_its_communities(district):
    # Two communities of one street with 3 each: neither community reaches min_count, the street does.
    add_appeals([NOW - dt.timedelta(minutes=i) for i in range(3)], region=COMMUNITY)
    with db.transaction() as session:
        session.add(Region(code=STREET + "009", name="簇锦社区", level=RegionLevel.COMMUNITY, parent_code=STREET))
    add_appeals([NOW - dt.timedelta(minutes=i) for i in range(3)], region=STREET + "009")
    evaluate()
    [alert] = alert_rows("surge")
    assert alert.region_code == STREET and alert.details["level"] == "street" and alert.details["observed"] == 6


# ---------------------------------------------------------------------------- repeat


def test_repeat_by_compound_and_category(district):
    day = dt.timedelta(days=1)
    add_appeals([NOW - 6 * day, NOW - 2 * day], category="sanitation")
    add_appeals([NOW - day], category="parking")  # another category
    assert evaluate().found["repeat"] == 0  # two of a kind: no
    add_appeals([NOW - dt.timedelta(hours=1)], category="sanitation")
    evaluate()
    [alert] = alert_rows("repeat")
    assert alert.region_code == COMPOUND and alert.category.value == "sanitation"
    assert (
        alert.details["basis"] == "compound" and alert.details["count"] == 3 and len(alert.details["appeal_ids"]) == 3
    )


def test_the_third_repeat_on_day_eight_is_none(district):
    day = dt.timedelta(days=1)
    add_appeals([NOW - 7 * day - dt.timedelta(minutes=1), NOW - 6 * day, NOW], category="sanitation")
    assert evaluate().found["repeat"] == 0


def test_repeat_by_normalised_address(district):
    addresses = ["武侯大道88号5栋2单元", "武侯大道８８号 5栋2单元", "武侯大道88号（5栋）-2单元"]
    for index, address in enumerate(addresses):
        add_appeals([NOW - dt.timedelta(days=index)], region=COMMUNITY, category="utilities", address=address)
    add_appeals([NOW], region=OTHER_COMMUNITY, category="utilities", address=addresses[0])  # another community
    evaluate()
    [alert] = alert_rows("repeat")
    assert alert.region_code == COMMUNITY and alert.details["basis"] == "address" and alert.details["count"] == 3
    assert "武侯" not in alert.key and "武侯" not in json.dumps(alert.details, ensure_ascii=False)


# ---------------------------------------------------------------------------- at risk


def test_at_risk_fraction_boundary_and_load(district):
    department = department_id()
    reported = NOW - dt.timedelta(hours=30)
    # Today's 4 new open appeals raise the department's load above its median of the last 30 days (0 … 2).
    add_appeals([MIDNIGHT + dt.timedelta(hours=1)] * 4, open_=True, department=department, category="parking")
    add_appeals([reported], open_=True, department=department, deadline=NOW + dt.timedelta(hours=10))  # 25 %
    add_appeals([reported], open_=True, department=department, deadline=NOW + dt.timedelta(hours=9, minutes=59))
    add_appeals([reported], open_=True, department=department, deadline=NOW - dt.timedelta(minutes=1))  # overdue
    add_appeals([reported], open_=True, deadline=NOW + dt.timedelta(hours=1))  # no department
    evaluate()
    [alert] = alert_rows("at_risk")
    assert alert.department_id == department and alert.appeal_id is not None
    with db.session() as session:
        deadline = session.get(Appeal, alert.appeal_id).deadline_at
    assert deadline == NOW + dt.timedelta(hours=9, minutes=59)
    assert alert.details["open_load"] == 7 and alert.details["fraction_left"] == pytest.approx(599 / 2400, abs=1e-3)


def test_no_at_risk_while_the_load_is_at_its_median(district):
    department = department_id()
    long_ago = NOW - dt.timedelta(days=60)
    # Open for two months: the load has been 3 at every day's end, and is 3 now: not above its median.
    add_appeals([long_ago] * 2, open_=True, department=department, deadline=NOW + dt.timedelta(days=30))
    add_appeals([long_ago], open_=True, department=department, deadline=NOW + dt.timedelta(hours=1))
    assert evaluate().found["at_risk"] == 0
    with db.session() as session:
        loads = alerts.department_loads(session, NOW, 30, ZoneInfo("Asia/Shanghai"))
    assert loads[department] == (3, 3.0)


# ---------------------------------------------------------------------------- lifecycle


def test_acknowledge_and_close_by_hand_are_audited(district):
    add_appeals([NOW - dt.timedelta(minutes=i) for i in range(15)])
    evaluate()
    alert_id = alert_rows("surge")[0].id
    with pytest.raises(AlertError) as refused, db.transaction() as session:
        alerts.acknowledge(session, alert_id, "zhang", "  ")
    assert refused.value.code == "note_required" and refused.value.text("zh") == "请填写说明。"
    with pytest.raises(AlertError) as refused, db.transaction() as session:
        alerts.acknowledge(session, 999999, "zhang", "看看")
    assert refused.value.code == "unknown"
    with db.transaction() as session:
        alerts.acknowledge(session, alert_id, "zhang", "已派网格员核实")
    with pytest.raises(AlertError) as refused, db.transaction() as session:
        alerts.acknowledge(session, alert_id, "zhang", "again")
    assert refused.value.code == "acknowledged"
    with db.transaction() as session:
        alerts.close(session, alert_id, "li", "施工噪音，已协调停工")
    with pytest.raises(AlertError) as refused, db.transaction() as session:
        alerts.close(session, alert_id, "li", "again")
    assert refused.value.code == "closed"
    [alert] = alert_rows("surge")
    assert (alert.status, alert.acknowledged_by, alert.acknowledge_note) == ("closed", "zhang", "已派网格员核实")
    assert (alert.closed_by, alert.close_note, alert.closed_at) == ("li", "施工噪音，已协调停工", NOW)
    with db.session() as session:
        audit = session.execute(
            select(AuditLog.actor, AuditLog.action, AuditLog.target).where(AuditLog.action.like("alert%"))
        ).all()
    assert sorted(audit) == [
        ("li", "alert_close", f"alert:{alert_id}"),
        ("zhang", "alert_acknowledge", f"alert:{alert_id}"),
    ]
    # Closed by a person while the burst still holds: not raised again at once …
    assert evaluate(NOW + dt.timedelta(minutes=5)).raised == []


def test_auto_close_after_24_hours_gone_and_raise_again(district):
    add_appeals([NOW - dt.timedelta(minutes=i) for i in range(15)])
    evaluate()
    [alert] = alert_rows("surge")
    # The next local day the count starts again: the condition is gone since the last run that saw it (NOW).
    almost = evaluate(NOW + dt.timedelta(hours=23, minutes=59))
    assert almost.closed == [] and alert_rows("surge")[0].status == "new"
    done = evaluate(NOW + dt.timedelta(hours=24))
    assert done.closed == [alert.id]
    [closed] = alert_rows("surge")
    assert (closed.status, closed.closed_by, closed.closed_at) == (
        "closed",
        "system:alerts",
        NOW + dt.timedelta(hours=24),
    )
    with db.session() as session:
        assert session.scalar(select(func.count()).where(AuditLog.action == "alert_auto_close")) == 1
    # A new burst the day after: the same condition raises a new alert.
    later = NOW + dt.timedelta(days=1, hours=1)
    add_appeals([later - dt.timedelta(minutes=i) for i in range(15)])
    again = evaluate(later)
    surges = alert_rows("surge")
    assert len(surges) == 2 and again.raised and surges[1].id in again.raised and surges[1].key == alert.key


def test_a_condition_closed_by_hand_may_come_back_a_day_later(district):
    day = dt.timedelta(days=1)
    add_appeals([NOW - 3 * day, NOW - 2 * day, NOW - day], category="sanitation")
    evaluate()
    [alert] = alert_rows("repeat")
    with db.transaction() as session:
        alerts.close(session, alert.id, "li", "已处理")
    assert evaluate(NOW + dt.timedelta(hours=23)).raised == []
    again = evaluate(NOW + dt.timedelta(hours=24, minutes=1))  # the three are still within 7 days
    assert len(again.raised) == 1 and len(alert_rows("repeat")) == 2


def test_a_racing_run_raises_nothing_twice(district):
    item = Found(alerts.AlertKind.REPEAT, "repeat:compound:x:noise", COMPOUND, "noise", {"count": 3})
    with db.transaction() as session:
        assert len(alerts._raise(session, NOW, [item])) == 1
    with db.transaction() as session:  # the other run did not see it open when it looked: the index holds
        assert alerts._raise(session, NOW, [item]) == []
    assert len(alert_rows()) == 1


# ---------------------------------------------------------------------------- outbox and push


def test_a_raise_writes_an_alert_raised_event_and_a_push(district):
    webhooks.create_webhook("t", "alerts", "https://example.org/hook", "alert_raised", "region", STREET)
    webhooks.create_webhook("t", "other", "https://example.org/other", "alert_raised", "region", "510107002")
    webhooks.create_webhook("t", "steps", "https://example.org/steps", "dispatched")
    add_appeals([NOW - dt.timedelta(minutes=i) for i in range(15)], address="成都市武侯区锦湖花园5栋")
    pushed = []
    with db.transaction() as session:
        run = alerts.evaluate(session, NOW, rules=RULES)
        pushed = list(session.info.get("deltas", []))
    with db.session() as session:
        events = session.scalars(select(OutboxEvent).where(OutboxEvent.event == "alert_raised")).all()
        deliveries = session.scalars(select(WebhookDelivery)).all()
    assert len(events) == len(run.raised) >= 1
    surge = next(event for event in events if event.payload["alert"]["kind"] == "surge")
    assert surge.appeal_id is None and surge.region_code == COMMUNITY
    assert surge.payload["alert"]["reason"].startswith("簇桥社区：噪音扰民诉求今日已达 15 件")
    text = json.dumps([event.payload for event in events], ensure_ascii=False)
    assert "锦湖" not in text and "楼上" not in text  # nothing of the appeals' text or addresses
    assert len(deliveries) == len(events)  # only the webhook of the alerts' street
    title, message = webhooks.message(webhooks._named(surge, {"regions": {COMMUNITY: "簇桥社区"}}), "zh")
    assert title == "【预警】突增" and "簇桥社区" in message
    assert {delta["type"] for delta in pushed} == {"alert"}
    assert {delta["id"] for delta in pushed} == set(run.raised)
    assert pushed[0]["text_en"] and set(pushed[0]) >= {"id", "kind", "status", "region_code", "raised_at", "details"}


def test_the_job_is_a_shared_minute_job(app):
    job = app.extensions["scheduler"].scheduler.get_job("alerts")
    assert job is not None and job.name == "raise_alerts" and job.trigger.interval == dt.timedelta(minutes=1)


def test_rules_are_frozen():
    with pytest.raises(AttributeError):
        RULES.surge.weeks = 1  # type: ignore[misc]
    assert isinstance(rules_module.load_rules(DATA_DIR / "alerts.toml"), AlertRules)
