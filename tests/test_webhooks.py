"""Webhooks (issue 16): the transactional outbox, signed at-least-once delivery, masking, filters, retries,
dead letters, replay, the robot formats, the 12345 reply and the CLI; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dashboard.domain.roles import Role
from dashboard.domain.vocab import TransitionAction
from dashboard.domain.webhooks import (
    EVENT_HEADER,
    EVENT_ID_HEADER,
    RETRY_WINDOW,
    next_attempt,
    retry_delay,
    signature,
)
from dashboard.services import outbox, webhooks
from dashboard.services.admin import AdminError
from dashboard.services.workflow import Step, apply
from dashboard.store.database import db
from dashboard.store.models import Appeal, AuditLog, OutboxEvent, Webhook, WebhookDelivery
from dashboard.ui import ids
from tests.console_support import add_user, login
from tests.webhook_support import (
    ADDRESS,
    COMMUNITY,
    DEPARTMENT,
    ID_NUMBER,
    NAME,
    OTHER_COMPOUND,
    PATROL,
    PHONE,
    STREET,
    Receiver,
    add_district,
    appeal_record,
)

A = TransitionAction
ROOT = Path(__file__).resolve().parents[1]
T0 = dt.datetime(2026, 10, 1, 15, 46, tzinfo=dt.UTC)  # 23:46 in Chengdu, a minute after the report


@pytest.fixture
def district(app):
    add_district(db)
    return app


@pytest.fixture
def receiver():
    made = []

    def make(script=None) -> Receiver:
        made.append(Receiver(script=script))
        return made[-1]

    yield make
    for one in made:
        one.close()


def _hook(receiver: Receiver, name="hook", events="dispatched", **options) -> str:
    """Add a webhook posting to the receiver; the receiver learns its secret."""
    _view, secret = webhooks.create_webhook("test", name, receiver.url, events, **options)
    receiver.secret = secret
    return secret


def _ingest(app, *records) -> list[int]:
    report = app.extensions["ingestor"].ingest(list(records), "appeal", source="test")
    assert report.quarantined == 0, report.errors
    with db.session() as session:
        ids = [r.fields["external_id"] for r in records]
        return list(session.scalars(select(Appeal.id).where(Appeal.external_id.in_(ids)).order_by(Appeal.id)))


def _step(appeal_id: int, action: A, at=T0, **fields) -> None:
    with db.transaction() as session:
        appeal = session.get(Appeal, appeal_id, with_for_update=True)
        apply(session, appeal, Step(action, "operator1", at, **fields))


def _dispatch(app, external_id="N-1", **fields) -> int:
    (appeal_id,) = _ingest(app, appeal_record(external_id, **fields))
    _step(appeal_id, A.ACCEPT)
    _step(appeal_id, A.DISPATCH, team_code=PATROL, note=f"请巡逻队处置，居民电话{PHONE}")
    return appeal_id


def _deliveries() -> list[WebhookDelivery]:
    with db.session() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


# ---------------------------------------------------------------------------- exactly once, signed


WORKER = """
import datetime as dt, sys
from dashboard.services import webhooks
from dashboard.store.database import Database
webhooks.deliver_due(Database().bind(sys.argv[1]), now=dt.datetime.fromisoformat(sys.argv[2]))
"""


def test_each_event_arrives_exactly_once_despite_500s_and_a_killed_worker(district, receiver, database_url):
    hook = receiver(script=[500, 500, "hang"])
    _hook(hook, events="dispatched,resolved")
    appeal_id = _dispatch(district)
    (delivery,) = _deliveries()
    assert delivery.status == "pending" and delivery.attempts == 0

    now = delivery.next_attempt_at
    assert webhooks.deliver_due(db, now=now) == 1  # 500
    assert webhooks.deliver_due(db, now=now) == 0  # not due again before its backoff
    now += dt.timedelta(seconds=10)
    assert webhooks.deliver_due(db, now=now) == 1  # 500 again
    (delivery,) = _deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 2, 500)

    # A worker process claims the third attempt and is killed while the receiver holds the answer.
    now = delivery.next_attempt_at
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, database_url, now.isoformat()],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        hook.wait_for(3, timeout=30)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    hook.release.set()
    (delivery,) = _deliveries()
    assert (delivery.status, delivery.attempts) == ("pending", 3)  # left pending: at least once
    assert webhooks.deliver_due(db, now=now + dt.timedelta(seconds=30)) == 0  # its lease still runs

    # The restarted worker sends it again after the lease; the receiver answers 200.
    assert webhooks.deliver_due(db, now=now + dt.timedelta(minutes=2)) == 1
    (delivery,) = _deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 4, 200)

    # Another event of the same appeal: a second event id, delivered at the first try.
    _step(appeal_id, A.START)
    _step(appeal_id, A.RESOLVE, note="已调解")
    assert webhooks.deliver_due(db) == 1
    assert len(hook.requests) == 5
    assert all(request["valid"] for request in hook.requests)
    ids = [request["headers"][EVENT_ID_HEADER] for request in hook.requests]
    assert len(set(ids[:4])) == 1 and ids[4] != ids[0]
    events = hook.events()
    assert [body["event"] for body in events.values()] == ["dispatched", "resolved"]
    assert {body["event_id"] for body in events.values()} == set(events)
    assert hook.requests[0]["headers"][EVENT_HEADER] == "dispatched"
    first = events[ids[0]]
    assert first["appeal"]["team_code"] == PATROL and first["appeal"]["team_name"] == "簇桥社区巡逻队"
    assert first["appeal"]["region_path"] == "武侯区 / 簇桥街道 / 簇桥社区 / 簇桥小区"


def test_the_signature_is_the_hmac_of_the_raw_body():
    body = b'{"event":"dispatched"}'
    assert signature("s3cret", body) == "sha256=" + __import__("hmac").new(b"s3cret", body, "sha256").hexdigest()


# ---------------------------------------------------------------------------- masking


def _bodies(hook: Receiver) -> list[str]:
    return [request["body"].decode() for request in hook.requests]


@pytest.mark.parametrize("body_format", ["json", "wecom", "dingtalk"])
def test_masked_payloads_carry_no_phone_name_or_id_number(district, receiver, body_format):
    hook = receiver()
    _hook(hook, events="extra_urgent_received,dispatched", body_format=body_format)
    _dispatch(district)
    assert webhooks.deliver_due(db) == 2
    for text in _bodies(hook):
        for secret in (PHONE, ID_NUMBER, NAME, NAME[1:], "5栋2单元501室", "2341234"):
            assert secret not in text, (secret, text)
        assert "138****1234" in text  # the masked phone of the description and the note
    with db.session() as session:  # nor does the outbox itself
        for payload in session.scalars(select(OutboxEvent.payload)):
            assert PHONE not in json.dumps(payload, ensure_ascii=False)


def test_a_trusted_webhook_gets_the_reporter_in_full_and_the_change_is_audited(district, receiver):
    hook = receiver()
    _hook(hook, name="trusted", events="dispatched", trusted=True)
    _dispatch(district)
    webhooks.deliver_due(db)
    (body,) = [json.loads(text) for text in _bodies(hook)]
    assert body["reporter"] == {"name": NAME, "phone": PHONE, "address": ADDRESS}
    assert PHONE in body["appeal"]["description"]
    webhooks.set_webhook_trusted("admin1", "trusted", False)
    with db.session() as session:
        audited = session.execute(select(AuditLog.actor, AuditLog.action, AuditLog.detail)).all()
    assert ("test", "webhook_trusted", {"trusted": True}) in audited
    assert ("admin1", "webhook_trusted", {"trusted": False}) in audited


# ---------------------------------------------------------------------------- the outbox is transactional


def test_a_rolled_back_step_enqueues_nothing(district, receiver):
    _hook(receiver(), events="dispatched")
    (appeal_id,) = _ingest(district, appeal_record("RB-1", priority="ordinary"))
    _step(appeal_id, A.ACCEPT)
    with pytest.raises(RuntimeError), db.transaction() as session:
        appeal = session.get(Appeal, appeal_id)
        apply(session, appeal, Step(A.DISPATCH, "operator1", T0, team_code=PATROL))
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1  # written, in the transaction
        raise RuntimeError("the caller fails after the step")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    assert webhooks.deliver_due(db) == 0


def test_steps_map_to_events_and_other_steps_raise_none(district, receiver):
    hook = receiver()
    _hook(hook, events="dispatched")
    (appeal_id,) = _ingest(district, appeal_record("MAP-1", priority="ordinary"))
    for action, fields in (
        (A.ACCEPT, {}),
        (A.DISPATCH, {"department_code": DEPARTMENT}),
        (A.URGE, {"note": "请尽快"}),
        (A.ESCALATE, {"note": "社区无法处置"}),
        (A.RETURN, {"note": "退回社区"}),
        (A.START, {}),
        (A.RESOLVE, {"note": "已处置"}),
        (A.CLOSE, {}),
    ):
        _step(appeal_id, action, **fields)
    with db.session() as session:
        events = list(session.scalars(select(OutboxEvent.event).order_by(OutboxEvent.id)))
    assert events == ["dispatched", "urged", "escalated", "returned", "resolved", "closed"]
    assert webhooks.deliver_due(db) == 1
    (payload,) = hook.events().values()
    assert payload["appeal"]["department_code"] == DEPARTMENT and payload["appeal"]["department_name"] == "区城管局"
    assert payload["appeal"]["region_name"] == "簇桥小区" and payload["appeal"]["team_code"] is None
    assert payload["actor"] == "operator1"


# ---------------------------------------------------------------------------- filters


def test_filters_pick_the_webhooks_an_event_goes_to(district, receiver):
    hook = receiver()
    for name, options in {
        "all": {},
        "team": {"filter_kind": "team", "filter_value": PATROL},
        "department": {"filter_kind": "department", "filter_value": DEPARTMENT},
        "street": {"filter_kind": "region", "filter_value": STREET},
        "community": {"filter_kind": "region", "filter_value": COMMUNITY},
        "other-street": {"filter_kind": "region", "filter_value": OTHER_COMPOUND[:9]},
        "hotline": {"filter_kind": "source", "filter_value": "hotline_12345"},
        "wechat": {"filter_kind": "source", "filter_value": "wechat"},
    }.items():
        _hook(hook, name=name, events="dispatched", **options)
    _hook(hook, name="other-event", events="resolved")
    webhooks.set_webhook_active("test", "all", False)
    _dispatch(district)
    with db.session() as session:
        names = set(
            session.scalars(select(Webhook.name).join(WebhookDelivery, WebhookDelivery.webhook_id == Webhook.id))
        )
    assert names == {"team", "street", "community", "hotline"}


def test_feeds_raise_extra_urgent_and_outcome_events_but_never_echo_to_their_own_source(district, receiver):
    hook = receiver()
    region = {"filter_kind": "region", "filter_value": STREET}
    _hook(hook, name="region", events="extra_urgent_received,resolved,closed", **region)
    _hook(hook, name="hotline", events="resolved,closed", filter_kind="source", filter_value="hotline_12345")
    _ingest(district, appeal_record("F-1"), appeal_record("F-2", priority="ordinary"))
    # an extra-urgent appeal that arrives resolved needs no call
    _ingest(district, appeal_record("F-3", status="resolved", resolved_at="2026-10-02 08:00:00"))
    update = appeal_record("F-1", status="closed", resolved_at="2026-10-02 09:00:00", closed_at="2026-10-02 10:00:00")
    update.fields["updated_at"] = "2026-10-02 10:00:00"
    _ingest(district, update)
    with db.session() as session:
        rows = session.execute(
            select(Webhook.name, OutboxEvent.event, OutboxEvent.payload)
            .join(WebhookDelivery, WebhookDelivery.webhook_id == Webhook.id)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .order_by(WebhookDelivery.id)
        ).all()
    assert [(name, event) for name, event, _ in rows] == [
        ("region", "extra_urgent_received"),
        ("region", "resolved"),
        ("region", "closed"),
    ]
    assert rows[1].payload["actor"] == "feed:hotline_12345"


def test_the_12345_hotline_hears_the_outcome_of_its_appeals(district, receiver):
    hook = receiver()
    _hook(hook, name="12345", events="resolved,closed,returned", filter_kind="source", filter_value="hotline_12345")
    appeal_id = _dispatch(district, external_id="GD-20261001-0001")
    _step(appeal_id, A.START)
    _step(appeal_id, A.RESOLVE, note="巡逻队已到场调解，噪音已停止")
    assert webhooks.deliver_due(db) == 1
    (reply,) = hook.events().values()
    assert reply["event"] == "resolved"
    assert reply["appeal"]["external_id"] == "GD-20261001-0001" and reply["appeal"]["source"] == "hotline_12345"
    assert reply["appeal"]["status"] == "resolved" and reply["note"] == "巡逻队已到场调解，噪音已停止"


# ---------------------------------------------------------------------------- retries, dead letters, replay


def test_backoff_is_exponential_with_full_jitter_and_capped():
    class Top:
        def uniform(self, low, high):
            return high

    assert [retry_delay(n, Top()) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]
    assert retry_delay(30, Top()) == 30 * 60.0
    assert retry_delay(3, type("Low", (), {"uniform": lambda self, a, b: a})()) == 1.0
    queued = T0
    assert next_attempt(queued, queued + RETRY_WINDOW, 50) is None
    assert next_attempt(queued, queued + RETRY_WINDOW - dt.timedelta(seconds=1), 50, Top()) == queued + RETRY_WINDOW


def test_a_delivery_dies_after_the_retry_window_and_replay_sends_it_again(district, receiver, runner):
    hook = receiver(script=[503] * 200)
    _hook(hook, events="dispatched")
    _dispatch(district)
    (delivery,) = _deliveries()
    now = delivery.created_at
    while True:
        webhooks.deliver_due(db, now=now)
        (delivery,) = _deliveries()
        if delivery.status != "pending":
            break
        now = delivery.next_attempt_at
    assert delivery.status == "dead" and delivery.last_status == 503
    assert now - delivery.created_at >= RETRY_WINDOW and delivery.attempts < 200
    gaps = [b["received"] - a["received"] for a, b in zip(hook.requests, hook.requests[1:], strict=False)]
    assert gaps  # several attempts were made
    hook.script.clear()
    result = runner.invoke("webhooks", "replay", "--dead", "--webhook", "hook")
    assert "queued 1 delivery(ies) again" in result.output
    (delivery,) = _deliveries()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert webhooks.deliver_due(db) == 1
    assert _deliveries()[0].status == "delivered"
    assert len(hook.events()) == 1
    result = runner.invoke("webhooks", "replay", "--delivery", str(delivery.id))
    assert "queued 1" in result.output
    webhooks.deliver_due(db)
    assert len(hook.events()) == 1  # the receiver de-duplicates the second copy by its event id


def test_overdue_events_are_raised_once_per_appeal(district, receiver):
    _hook(receiver(), events="overdue")
    (appeal_id,) = _ingest(district, appeal_record("OD-1"))
    with db.session() as session:
        deadline = session.get(Appeal, appeal_id).deadline_at
    with db.transaction() as session:
        assert outbox.enqueue_overdue(session, now=deadline) == 0  # at the deadline: on time
    for minutes in (1, 2):
        with db.transaction() as session:
            assert outbox.enqueue_overdue(session, now=deadline + dt.timedelta(minutes=minutes)) == (minutes == 1)
    with db.transaction() as session:  # long overdue appeals are not news (a new webhook is not flooded)
        assert outbox.enqueue_overdue(session, now=deadline + dt.timedelta(days=3)) == 0
    assert len(_deliveries()) == 1


# ---------------------------------------------------------------------------- robot formats


def test_wecom_and_dingtalk_bodies_are_chinese_markdown(district, receiver):
    hook = receiver()
    _hook(hook, name="wecom", events="dispatched", body_format="wecom")
    _hook(hook, name="dingtalk", events="dispatched", body_format="dingtalk")
    _dispatch(district)
    assert webhooks.deliver_due(db) == 2
    wecom, dingtalk = sorted((json.loads(text) for text in _bodies(hook)), key=lambda body: "title" in str(body))
    assert wecom["msgtype"] == "markdown" and set(wecom["markdown"]) == {"content"}
    content = wecom["markdown"]["content"]
    assert content.startswith("### 【派遣】诉求 #") and "> 紧急程度：特急" in content
    assert "> 承办：簇桥社区巡逻队" in content
    assert "> 时间：2026-10-01 23:46" in content  # local time
    assert dingtalk["msgtype"] == "markdown" and dingtalk["markdown"]["title"].startswith("【派遣】诉求 #")
    assert dingtalk["markdown"]["text"] == content


def test_a_robot_refusal_in_a_200_answer_is_a_failure():
    class Answer:
        status_code = 200
        text = '{"errcode":45009,"errmsg":"api freq out of limit"}'

        def json(self):
            return json.loads(self.text)

    attempt = webhooks.Attempt(1, 1, T0, "w", "http://x", "s", "wecom", "dispatched", "id", b"{}")

    class Http:
        def post(self, *args, **kwargs):
            return Answer()

    original = webhooks._http
    webhooks._http = lambda: Http()
    try:
        outcome = webhooks.send(attempt)
    finally:
        webhooks._http = original
    assert not outcome.ok and "45009" in outcome.error


# ---------------------------------------------------------------------------- management and the CLI


def test_management_refuses_bad_input_naming_the_field(district):
    with pytest.raises(AdminError) as error:
        webhooks.create_webhook("t", "x", "ftp://example.org/hook", "dispatched")
    assert error.value.field == "url" and "http" in str(error.value)
    with pytest.raises(AdminError) as error:
        webhooks.create_webhook("t", "x", "https://example.org/hook", "dispatched,teleported")
    assert error.value.field == "events" and "teleported" in str(error.value)
    with pytest.raises(AdminError) as error:
        webhooks.create_webhook("t", "x", "https://example.org/", "resolved", "team", "510107001001/nosuch")
    assert error.value.field == "filter_team"
    with pytest.raises(AdminError) as error:
        webhooks.create_webhook("t", "x", "https://example.org/", "resolved", body_format="telex")
    assert error.value.field == "format"


def test_cli_add_list_disable_and_errors(district, runner):
    result = runner.invoke(
        "webhooks", "add", "--name", "patrol", "--url", "https://example.org/hook", "--events", "dispatched,urged",
        "--team", PATROL, "--format", "wecom",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    secret = result.output.split("shown once; the receiver checks X-CC-Signature with it): ")[1].strip()
    assert len(secret) == 64
    with db.session() as session:
        assert session.scalar(select(Webhook.secret).where(Webhook.name == "patrol")) == secret
    listing = runner.invoke("webhooks", "list").output
    row = "patrol\thttps://example.org/hook\tdispatched,urged\t--team 510107001001/patrol\twecom\tmasked\tactive"
    assert row in listing
    assert secret not in listing
    assert "webhook patrol disabled" in runner.invoke("webhooks", "disable", "patrol").output
    assert "disabled" in runner.invoke("webhooks", "list").output

    def refused(*args) -> str:
        from click.testing import CliRunner

        from dashboard.cli import cli

        result = CliRunner().invoke(cli, ["webhooks", *args])
        assert result.exit_code == 2, result.output
        return result.output

    base = ["add", "--name", "n2", "--url", "https://example.org/", "--events"]
    assert "--events" in refused(*base, "dispatched,nope") and "nope" in refused(*base, "dispatched,nope")
    assert "--url" in refused("add", "--name", "n3", "--url", "javascript:alert(1)", "--events", "urged")
    assert "--department" in refused(*base, "urged", "--department", "nosuch")
    assert "--region" in refused(*base, "urged", "--region", "999")
    assert "--source" in refused(*base, "urged", "--source", "fax")
    assert "at most one" in refused(*base, "urged", "--region", STREET, "--source", "wechat")
    assert "--name" in refused("add", "--name", "patrol", "--url", "https://example.org/", "--events", "urged")
    assert "NAME" in refused("disable", "nosuch")
    assert "--delivery" in refused("replay", "--delivery", "999")
    assert "either --delivery" in refused("replay")


# ---------------------------------------------------------------------------- /admin


HOOK_BUTTONS = [
    (ids.ADMIN_HOOK_CREATE, "n_clicks"),
    (ids.ADMIN_HOOK_DISABLE, "n_clicks"),
    (ids.ADMIN_HOOK_ENABLE, "n_clicks"),
    (ids.ADMIN_HOOK_TRUST, "submit_n_clicks"),
    (ids.ADMIN_HOOK_UNTRUST, "n_clicks"),
    (ids.ADMIN_DELIVERY_REPLAY, "n_clicks"),
    (ids.ADMIN_DELIVERY_REPLAY_DEAD, "n_clicks"),
    (ids.ADMIN_DELIVERIES_REFRESH, "n_clicks"),
]


def _admin_click(app, client, button: str, **fields):
    """Press one button of the webhooks section with these form values; returns the response's outputs by id."""
    (output,) = [key for key in app.extensions["dash"].callback_map if ids.ADMIN_HOOKS_TABLE in key]
    parts = [part.rsplit(".", 1) for part in output[2:-2].split("...")]
    state = {
        ids.ADMIN_HOOK_NAME: fields.get("name"),
        ids.ADMIN_HOOK_URL: fields.get("url"),
        ids.ADMIN_HOOK_EVENTS: fields.get("events", []),
        ids.ADMIN_HOOK_FILTER_KIND: fields.get("filter_kind"),
        ids.ADMIN_HOOK_FILTER_VALUE: fields.get("filter_value"),
        ids.ADMIN_HOOK_FORMAT: fields.get("format", "json"),
        ids.ADMIN_HOOK_TRUSTED: fields.get("trusted", []),
        ids.ADMIN_HOOK_SELECT: fields.get("selected"),
        ids.ADMIN_DELIVERY_ID: fields.get("delivery"),
        ids.ADMIN_LANG: "zh",
    }
    trigger = dict(HOOK_BUTTONS)[button]
    body = {
        "output": output,
        "outputs": [{"id": i, "property": p.split("@")[0]} for i, p in parts],
        "inputs": [{"id": i, "property": p, "value": 1 if i == button else 0} for i, p in HOOK_BUTTONS],
        "state": [
            {"id": i, "property": "data" if i == ids.ADMIN_LANG else "value", "value": v} for i, v in state.items()
        ],
        "changedPropIds": [f"{button}.{trigger}"],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {key: str(value) for key, value in response.get_json()["response"].items()}


def test_admins_add_trust_disable_and_replay_webhooks_on_the_admin_page(district, client, receiver):
    add_user("boss", Role.ADMIN, None)
    login(client, "boss")
    hook = receiver(script=[500])
    page = client.get("/admin")
    assert page.status_code == 200
    out = _admin_click(
        district, client, ids.ADMIN_HOOK_CREATE,
        name="patrol-call", url=hook.url, events=["dispatched", "urged"], filter_kind="team", filter_value=PATROL,
    )  # fmt: skip
    assert (
        "已创建推送 patrol-call" in out[ids.ADMIN_HOOK_FEEDBACK]
        and ids.ADMIN_HOOK_SECRET in out[ids.ADMIN_HOOK_FEEDBACK]
    )
    assert "patrol-call" in out[ids.ADMIN_HOOKS_TABLE] and "按队伍" in out[ids.ADMIN_HOOKS_TABLE]
    with db.session() as session:
        hook.secret = session.scalar(select(Webhook.secret))
    assert hook.secret in out[ids.ADMIN_HOOK_FEEDBACK]  # shown this once
    refused = _admin_click(
        district, client, ids.ADMIN_HOOK_CREATE, name="x", url="file:///etc/passwd", events=["urged"]
    )
    assert "推送地址" in refused[ids.ADMIN_HOOK_FEEDBACK] and "http" in refused[ids.ADMIN_HOOK_FEEDBACK]

    out = _admin_click(district, client, ids.ADMIN_HOOK_TRUST, selected="patrol-call")
    assert "推送 patrol-call 已更新" in out[ids.ADMIN_HOOK_FEEDBACK] and "webhook_trusted" in out[ids.ADMIN_AUDIT_TABLE]
    _dispatch(district)
    webhooks.deliver_due(db)  # 500
    out = _admin_click(district, client, ids.ADMIN_DELIVERIES_REFRESH)
    assert "待发送" in out[ids.ADMIN_DELIVERIES_TABLE] and "500" in out[ids.ADMIN_DELIVERIES_TABLE]
    (delivery,) = _deliveries()
    with db.transaction() as session:  # as if the window had passed
        session.get(WebhookDelivery, delivery.id).status = "dead"
    out = _admin_click(district, client, ids.ADMIN_DELIVERY_REPLAY, delivery=delivery.id)
    assert "已重新排队 1 条投递" in out[ids.ADMIN_HOOK_FEEDBACK]
    webhooks.deliver_due(db)
    (reply,) = hook.events().values()
    assert reply["reporter"]["phone"] == PHONE  # trusted
    out = _admin_click(district, client, ids.ADMIN_HOOK_DISABLE, selected="patrol-call")
    assert "已停用" in out[ids.ADMIN_HOOKS_TABLE]
    with db.session() as session:
        actions = list(session.scalars(select(AuditLog.action).where(AuditLog.action.like("webhook%"))))
    assert actions == ["webhook_create", "webhook_trusted", "webhook_replay", "webhook_disable"]


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ["x"]},
        {"events": "dispatched"},
        {"events": [1, 2]},
        {"trusted": {"a": 1}},
        {
            "filter_kind": "planet",
            "filter_value": "mars",
            "name": "p",
            "url": "https://example.org",
            "events": ["urged"],
        },
        {"format": 7},
        {"delivery": "12"},
        {"delivery": -1},
    ],
)
def test_malformed_admin_inputs_are_refused_not_crashing(district, client, fields):
    add_user("boss", Role.ADMIN, None)
    login(client, "boss")
    button = ids.ADMIN_DELIVERY_REPLAY if "delivery" in fields else ids.ADMIN_HOOK_CREATE
    try:
        _admin_click(district, client, button, **fields)
    except AssertionError as refused:
        assert '"error"' in str(refused)  # a 400 with its reason, never a 500
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Webhook)) == 0


def test_the_worker_is_a_shared_job_that_stops_with_the_scheduler(app):
    job = app.extensions["scheduler"].scheduler.get_job("webhooks")
    assert job is not None and job.name == "deliver_webhooks"
    assert app.extensions["scheduler"].scheduler.get_job("overdue_events") is not None
    started = time.monotonic()
    assert webhooks.run_for(db, seconds=30, keep_going=lambda: False) == 0  # a lost lock ends a run at once
    assert time.monotonic() - started < 1
