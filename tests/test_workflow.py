"""The workflow state machine, directly and through POST /api/v1/appeals/{id}/transitions."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from dashboard.domain.vocab import AppealStatus, RegionLevel, TransitionAction
from dashboard.services.workflow import Step, TransitionError, allowed_actions, apply
from dashboard.store.database import db
from dashboard.store.models import Appeal, Transition

A = TransitionAction


def _new_appeal(client, api_key, external_id="WF-1", region="510107001001001") -> int:
    body = [
        {
            "external_id": external_id,
            "source": "hotline_12345",
            "reported_at": "2026-11-19 09:00:00",
            "category": "noise",
            "priority": "ordinary",
            "region_code": region,
            "description": "噪音扰民",
        }
    ]
    response = client.post("/api/v1/appeals", json=body, headers={"X-API-Key": api_key})
    assert response.status_code == 200 and response.get_json()["created"] == 1, response.get_json()
    with db.session() as session:
        return session.scalar(select(Appeal.id).where(Appeal.external_id == external_id))


def _post(client, api_key, appeal_id, **body):
    return client.post(f"/api/v1/appeals/{appeal_id}/transitions", json=body, headers={"X-API-Key": api_key})


def test_the_closed_loop_through_the_api(demo_app, client, api_key):
    appeal_id = _new_appeal(client, api_key)
    for action in ("accept", "dispatch", "start", "resolve", "close"):
        response = _post(client, api_key, appeal_id, action=action, note=f"{action} note")
        assert response.status_code == 200, response.get_json()
    response = _post(client, api_key, appeal_id, action="rate", satisfaction="不满意")
    assert response.get_json()["appeal"]["allowed_actions"] == ["rate", "reopen"]
    response = _post(client, api_key, appeal_id, action="reopen", note="居民不满意，重办")
    assert response.get_json()["appeal"]["status"] == "in_progress"
    with db.session() as session:
        appeal = session.get(Appeal, appeal_id)
        assert appeal.reopen_count == 1 and appeal.is_open and appeal.resolved_at is None
        history = session.execute(
            select(Transition.seq, Transition.action, Transition.from_status, Transition.to_status)
            .where(Transition.appeal_id == appeal_id)
            .order_by(Transition.seq)
        ).all()
    assert [h.action.value for h in history] == [
        "report",
        "accept",
        "dispatch",
        "start",
        "resolve",
        "close",
        "rate",
        "reopen",
    ]
    assert [h.seq for h in history] == list(range(1, 9))
    assert history[-1].from_status == AppealStatus.CLOSED and history[-1].to_status == AppealStatus.IN_PROGRESS


def test_an_illegal_transition_is_409_and_says_what_is_allowed(demo_app, client, api_key):
    appeal_id = _new_appeal(client, api_key)
    response = _post(client, api_key, appeal_id, action="resolve")
    assert response.status_code == 409
    body = response.get_json()
    assert body["allowed_actions"] == ["accept", "link_duplicate"]
    assert "'resolve' is not allowed" in body["error"] and "accept" in body["error"]
    assert body["appeal"]["status"] == "reported"


def test_reopen_needs_an_unsatisfied_rating(demo_app, client, api_key):
    appeal_id = _new_appeal(client, api_key)
    for action in ("accept", "dispatch", "start", "resolve"):
        _post(client, api_key, appeal_id, action=action)
    _post(client, api_key, appeal_id, action="rate", satisfaction="satisfied")
    assert _post(client, api_key, appeal_id, action="reopen").status_code == 409


def test_escalate_and_return_move_between_levels(demo_app, client, api_key):
    appeal_id = _new_appeal(client, api_key)
    _post(client, api_key, appeal_id, action="accept")
    assert _post(client, api_key, appeal_id, action="return").status_code == 409  # nothing below community
    assert _post(client, api_key, appeal_id, action="escalate").get_json()["appeal"]["level"] == "street"
    assert _post(client, api_key, appeal_id, action="escalate").get_json()["appeal"]["level"] == "district"
    response = _post(client, api_key, appeal_id, action="escalate")
    assert response.status_code == 409 and "escalate" not in response.get_json()["allowed_actions"]
    assert _post(client, api_key, appeal_id, action="return").get_json()["appeal"]["level"] == "street"


def test_link_duplicate_closes_the_copy(demo_app, client, api_key):
    original = _new_appeal(client, api_key, "WF-1")
    copy = _new_appeal(client, api_key, "WF-2")
    assert _post(client, api_key, copy, action="link_duplicate").status_code == 409  # needs duplicate_of
    assert _post(client, api_key, copy, action="link_duplicate", duplicate_of=copy).status_code == 409
    response = _post(client, api_key, copy, action="link_duplicate", duplicate_of=original)
    assert response.status_code == 200 and response.get_json()["appeal"]["status"] == "closed"
    with db.session() as session:
        assert session.get(Appeal, copy).duplicate_of_id == original


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 400, "action"),
        ({"action": "fly"}, 400, "action"),
        ({"action": "report"}, 400, "action"),
        ({"action": "accept", "at": "yesterday"}, 400, "at"),
        ({"action": "rate", "satisfaction": "meh"}, 400, "satisfaction"),
    ],
)
def test_bad_transition_requests(demo_app, client, api_key, body, status, field):
    appeal_id = _new_appeal(client, api_key)
    response = _post(client, api_key, appeal_id, **body)
    assert response.status_code == status and response.get_json()["field"] == field


def test_unknown_appeal_and_missing_key(demo_app, client, api_key):
    assert _post(client, api_key, 999_999_999, action="accept").status_code == 404
    assert client.post("/api/v1/appeals/1/transitions", json={"action": "accept"}).status_code == 401


def test_allowed_actions_follow_the_rules(demo_app, client, api_key):
    appeal_id = _new_appeal(client, api_key)
    with db.session() as session:
        appeal = session.get(Appeal, appeal_id)
        assert allowed_actions(appeal) == ["accept", "link_duplicate"]
        with pytest.raises(TransitionError) as raised:
            apply(session, appeal, Step(A.CLOSE, "test", dt.datetime.now(dt.UTC)))
        assert raised.value.allowed == ["accept", "link_duplicate"]
        step = apply(session, appeal, Step(A.ACCEPT, "test", dt.datetime.now(dt.UTC)))
        assert step.to_status == AppealStatus.ACCEPTED and appeal.level in RegionLevel
        with pytest.raises(TransitionError):
            apply(session, appeal, Step(A.RATE, "test", dt.datetime.now(dt.UTC)))
        session.rollback()
        assert session.get(Appeal, appeal_id).status == AppealStatus.REPORTED


def test_a_feed_never_undoes_workflow_steps(demo_app, client, api_key):
    appeal_id = _new_appeal(client, api_key)
    for action in ("accept", "dispatch", "escalate"):
        assert _post(client, api_key, appeal_id, action=action).status_code == 200
    resend = [
        {
            "external_id": "WF-1",
            "source": "hotline_12345",
            "reported_at": "2026-11-19 09:00:00",
            "category": "noise",
            "priority": "ordinary",
            "region_code": "510107001001001",
            "description": "噪音扰民（补充说明）",
            "status": "accepted",
            "accepted_at": "2026-11-19 09:05:00",
            "updated_at": "2026-11-19 10:00:00",
        }
    ]
    assert client.post("/api/v1/appeals", json=resend, headers={"X-API-Key": api_key}).get_json()["updated"] == 1
    with db.session() as session:
        appeal = session.get(Appeal, appeal_id)
        assert appeal.status == AppealStatus.DISPATCHED and appeal.level == RegionLevel.STREET
        assert appeal.reopen_count == 0 and appeal.dispatched_at is not None
        assert appeal.description == "噪音扰民（补充说明）"
        actions = session.scalars(select(Transition.action).where(Transition.appeal_id == appeal_id)).all()
    assert [a.value for a in actions] == ["report", "accept", "dispatch", "escalate"]


def test_a_rating_that_arrives_later_is_recorded(demo_app, client, api_key):
    base = {
        "external_id": "WF-R",
        "source": "wechat",
        "reported_at": "2026-11-19 09:00:00",
        "category": "noise",
        "priority": "ordinary",
        "region_code": "510107001001001",
        "description": "噪音",
        "status": "resolved",
        "resolved_at": "2026-11-19 12:00:00",
    }
    headers = {"X-API-Key": api_key}
    client.post("/api/v1/appeals", json=[base], headers=headers)
    rated = {**base, "satisfaction": "满意", "updated_at": "2026-11-19 18:00:00"}
    assert client.post("/api/v1/appeals", json=[rated], headers=headers).get_json()["updated"] == 1
    with db.session() as session:
        appeal = session.scalar(select(Appeal).where(Appeal.external_id == "WF-R"))
        steps = session.execute(
            select(Transition.action, Transition.at).where(Transition.appeal_id == appeal.id).order_by(Transition.seq)
        ).all()
    assert [s.action.value for s in steps] == ["report", "resolve", "rate"]
    assert steps[-1].at == dt.datetime(2026, 11, 19, 10, 0, tzinfo=dt.UTC)
