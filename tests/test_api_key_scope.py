"""API keys limited to a region and to some actions (issue 18, finding 9: "API keys reach every region").

A key scoped to street A: ingests only records at or below A (others are refused and
quarantined, naming the record and region_code), moves only A's appeals (B's answer 404, as if
missing), reads KPIs of A and below; a key without an action gets 403 naming it; a key made
before the scope existed (NULL region and actions) reaches everything, as before. Scope changes
go through services.admin (CLI and /admin) and are audited in the same transaction.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from dashboard.domain.keys import KeyAction, KeyScope, KeyScopeError, actions_from_text, actions_text, parse_actions
from dashboard.domain.roles import Role
from dashboard.services import admin
from dashboard.services.admin import AdminError
from dashboard.store.database import db
from dashboard.store.models import ApiKey, Appeal, AuditLog, QuarantinedRecord, Transition
from dashboard.ui import ids
from tests.console_support import COMPOUND_B, STREET_A, STREET_B, add_street_b, add_user, login
from tests.test_admin import key_action, response_of

COMPOUND_A = STREET_A + "001001"  # a compound of a community of street A (tiny demo)
COMMUNITY_A = STREET_A + "001"


def record(external_id: str, region_code: str, **fields) -> dict:
    return {
        "external_id": external_id,
        "source": "hotline_12345",
        "reported_at": "2026-11-19 09:00:00",
        "category": "noise",
        "priority": "ordinary",
        "region_code": region_code,
        "description": "楼下施工噪音",
        **fields,
    }


def post(client, key: str, records: list[dict]):
    return client.post(
        "/api/v1/appeals",
        data=json.dumps(records, ensure_ascii=False),
        content_type="application/json",
        headers={"X-API-Key": key},
    )


def transition(client, key: str, appeal_id: int, action: str = "accept", **body):
    return client.post(
        f"/api/v1/appeals/{appeal_id}/transitions", json={"action": action, **body}, headers={"X-API-Key": key}
    )


def make_key(name: str, region: str | None = None, actions=None) -> str:
    _view, key = admin.create_api_key("boss", name, "hotline_12345", region, actions)
    return key


def appeal_id(external_id: str) -> int:
    with db.session() as session:
        return session.scalar(select(Appeal.id).where(Appeal.external_id == external_id))


def appeal_region(external_id: str) -> str:
    with db.session() as session:
        return session.scalar(select(Appeal.region_code).where(Appeal.external_id == external_id))


@pytest.fixture
def two_streets(demo_app):
    """The tiny demo (street A) plus street B with three appeals (B-1…B-3)."""
    add_street_b(demo_app)
    return demo_app


# ---------------------------------------------------------------------------- the rule


def test_the_scope_rule():
    street = KeyScope(region_code=STREET_A, actions=frozenset({KeyAction.INGEST}))
    assert street.covers(STREET_A) and street.covers(COMPOUND_A)
    assert not street.covers(STREET_B) and not street.covers("510107")
    assert street.missing({KeyAction.INGEST}) == []
    assert street.missing({KeyAction.QUARANTINE, KeyAction.INGEST, KeyAction.TRANSITIONS}) == [
        KeyAction.TRANSITIONS,
        KeyAction.QUARANTINE,
    ]
    unbounded = KeyScope()
    assert unbounded.covers(COMPOUND_B) and unbounded.missing(set(KeyAction)) == []
    assert parse_actions(None) is None and parse_actions("all") is None and parse_actions(" all ") is None
    assert parse_actions("transitions, ingest") == {KeyAction.INGEST, KeyAction.TRANSITIONS}
    assert parse_actions(["kpis"]) == {KeyAction.KPIS}
    for bad, word in (("ingest,fly", "fly"), (["ingest", 3], "3"), ("", None), ([], None), (",", None)):
        with pytest.raises(KeyScopeError) as caught:
            parse_actions(bad)
        assert caught.value.word == word
    assert actions_text(frozenset({KeyAction.QUARANTINE, KeyAction.INGEST})) == "ingest,quarantine"
    assert actions_text(None) is None and actions_from_text(None) is None
    # A word a later version stored grants nothing here.
    assert actions_from_text("ingest,teleport") == {KeyAction.INGEST}


# ---------------------------------------------------------------------------- ingest


def test_a_street_key_ingests_its_street_and_refuses_other_records_one_by_one(two_streets, client):
    key = make_key("street-a-feed", STREET_A, "ingest")
    response = post(
        client,
        key,
        [
            record("A-1", COMPOUND_A),  # a compound under a community of A: accepted
            record("X-1", COMPOUND_B),  # street B: refused
            record("A-2", COMMUNITY_A),
            # A newer version of B's stored appeal B-1, placed in A: it would move B-1 into A and resolve it.
            record("B-1", COMPOUND_A, reported_at="2026-11-11 09:00:00", resolved_at="2026-11-19 10:00:00"),
            record("A-3", COMPOUND_A, priority="whenever"),  # invalid anyway: refused once, for its own reason
        ],
    )
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["created"] == 2 and body["quarantined"] == 3 and body["updated"] == 0
    [outside, moved, invalid] = body["errors"]
    assert outside["record"] == "request record 2" and outside["field"] == "region_code"
    assert COMPOUND_B in outside["reason"] and f"outside region {STREET_A}" in outside["reason"]
    assert moved["record"] == "request record 4" and moved["field"] == "external_id"
    assert "B-1" in moved["reason"] and "may not change it" in moved["reason"]
    assert (invalid["record"], invalid["field"]) == ("request record 5", "priority")
    assert appeal_region("A-1") == COMPOUND_A and appeal_region("A-2") == COMMUNITY_A
    assert appeal_id("X-1") is None
    assert appeal_region("B-1") == COMPOUND_B  # untouched
    with db.session() as session:
        quarantined = session.execute(
            select(QuarantinedRecord.location, QuarantinedRecord.field, QuarantinedRecord.source).order_by(
                QuarantinedRecord.id
            )
        ).all()
    assert [tuple(row) for row in quarantined] == [
        ("request record 2", "region_code", "api:street-a-feed"),
        ("request record 4", "external_id", "api:street-a-feed"),
        ("request record 5", "priority", "api:street-a-feed"),
    ]


def test_open311_requests_through_a_street_key_stay_in_the_street(two_streets, client):
    key = make_key("street-a-311", STREET_A, ["ingest"])
    form = {"api_key": key, "service_code": "noise", "description": "噪音", "address_string": "某路 1 号"}
    outside = client.post("/open311/v2/requests.json", data={**form, "attribute[region_code]": COMPOUND_B})
    assert outside.status_code == 400
    assert outside.get_json()[0]["description"].startswith("region_code: region " + COMPOUND_B)
    inside = client.post("/open311/v2/requests.json", data={**form, "attribute[region_code]": COMPOUND_A})
    assert inside.status_code == 201, inside.get_json()
    not_allowed = client.post(
        "/open311/v2/requests.json",
        data={**form, "api_key": make_key("kpi-reader", None, "kpis"), "attribute[region_code]": COMPOUND_A},
    )
    assert not_allowed.status_code == 403 and "not allowed to ingest" in not_allowed.get_json()[0]["description"]


# ---------------------------------------------------------------------------- transitions, KPIs, quarantine


def test_a_street_key_cannot_move_another_streets_appeals(two_streets, client):
    key = make_key("street-a-desk", STREET_A, "ingest,transitions")
    b_appeal = appeal_id("B-1")
    with db.session() as session:
        steps_before = session.scalar(
            select(func.count()).select_from(Transition).where(Transition.appeal_id == b_appeal)
        )
    refused = transition(client, key, b_appeal)
    assert refused.status_code == 404
    assert refused.get_json()["error"] == transition(client, key, 2**62).get_json()["error"].replace(
        str(2**62), str(b_appeal)
    )  # exactly as a missing appeal
    with db.session() as session:
        assert session.get(Appeal, b_appeal).status.value == "reported"
        steps = session.scalar(select(func.count()).select_from(Transition).where(Transition.appeal_id == b_appeal))
    assert steps == steps_before
    assert post(client, key, [record("A-9", COMPOUND_A)]).get_json()["created"] == 1
    own = transition(client, key, appeal_id("A-9"))
    assert own.status_code == 200 and own.get_json()["appeal"]["status"] == "accepted"
    # Linking to an appeal of B reads exactly as linking to a missing one, and changes nothing.
    link = transition(client, key, appeal_id("A-9"), "link_duplicate", duplicate_of=b_appeal).get_json()
    missing = transition(client, key, appeal_id("A-9"), "link_duplicate", duplicate_of=2**62).get_json()
    assert link == json.loads(json.dumps(missing).replace(str(2**62), str(b_appeal)))
    assert link["error"] == f"appeal {b_appeal} does not exist" and link["appeal"]["status"] == "accepted"
    with db.session() as session:
        assert session.get(Appeal, appeal_id("A-9")).duplicate_of_id is None


def test_a_key_without_an_action_is_refused_with_403(two_streets, client):
    ingest_only = make_key("ingest-only", None, ["ingest"])
    refused = transition(client, ingest_only, appeal_id("B-1"))
    assert refused.status_code == 403
    body = refused.get_json()
    assert body["missing_actions"] == ["transitions"]
    assert body["error"] == "API key ingest-only is not allowed to transitions (its actions: ingest)"
    headers = {"X-API-Key": ingest_only}
    assert client.get("/api/v1/kpis?region=510107&date=2026-11-19", headers=headers).status_code == 403
    assert client.get("/api/v1/quarantine", headers=headers).status_code == 403
    replay = client.post("/api/v1/quarantine/1/replay", json={}, headers=headers)
    assert replay.status_code == 403 and replay.get_json()["missing_actions"] == ["quarantine"]
    assert post(client, ingest_only, [record("I-1", COMPOUND_B)]).get_json()["created"] == 1
    movers = make_key("movers", None, ["transitions"])
    assert post(client, movers, [record("M-1", COMPOUND_B)]).status_code == 403
    assert appeal_id("M-1") is None
    assert transition(client, movers, appeal_id("B-1")).status_code == 200


def test_a_street_key_reads_kpis_of_its_street_only(two_streets, client):
    headers = {"X-API-Key": make_key("street-a-kpis", STREET_A, "kpis")}
    assert client.get(f"/api/v1/kpis?region={STREET_A}&date=2026-11-19", headers=headers).status_code == 200
    assert client.get(f"/api/v1/kpis?region={COMMUNITY_A}&date=2026-11-19", headers=headers).status_code == 200
    for region in ("510107", STREET_B, COMPOUND_B):
        response = client.get(f"/api/v1/kpis?region={region}&date=2026-11-19", headers=headers)
        assert response.status_code == 404 and response.get_json()["error"] == f"region {region} does not exist"


def test_a_street_key_sees_and_replays_only_its_own_quarantined_records(two_streets, client, api_key):
    key = make_key("street-a-ops", STREET_A, "ingest,quarantine")
    post(client, api_key, [record("OTHER-1", COMPOUND_B, priority="whenever")])  # another feed's bad record
    post(client, key, [record("OWN-1", COMPOUND_B)])  # outside A
    headers = {"X-API-Key": key}
    listing = client.get("/api/v1/quarantine", headers=headers).get_json()
    assert [(row["source"], row["field"]) for row in listing] == [("api:street-a-ops", "region_code")]
    assert len(client.get("/api/v1/quarantine", headers={"X-API-Key": api_key}).get_json()) == 2
    with db.session() as session:
        other = session.scalar(select(QuarantinedRecord.id).where(QuarantinedRecord.source == "api:test-feed"))
    missing = client.post(f"/api/v1/quarantine/{other}/replay", json=record("OTHER-1", COMPOUND_A), headers=headers)
    assert missing.status_code == 404 and missing.get_json()["error"] == f"quarantined record {other} does not exist"
    own = listing[0]["id"]
    still_outside = client.post(f"/api/v1/quarantine/{own}/replay", json=record("OWN-1", COMPOUND_B), headers=headers)
    assert still_outside.status_code == 422
    assert still_outside.get_json()["errors"][0]["field"] == "region_code"
    assert appeal_id("OWN-1") is None
    fixed = client.post(f"/api/v1/quarantine/{own}/replay", json=record("OWN-1", COMPOUND_A), headers=headers)
    assert fixed.status_code == 200 and fixed.get_json()["replayed"]
    assert appeal_region("OWN-1") == COMPOUND_A


def test_a_key_made_before_scopes_still_reaches_everything(two_streets, client, api_key):
    # The api_key fixture writes the row directly, as keys made before revision 0007 are: NULL, NULL.
    with db.session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.name == "test-feed"))
    assert row.region_code is None and row.actions is None and row.scope == KeyScope()
    headers = {"X-API-Key": api_key}
    assert post(client, api_key, [record("U-1", COMPOUND_B), record("U-2", COMPOUND_A)]).get_json()["created"] == 2
    assert transition(client, api_key, appeal_id("B-1")).status_code == 200
    assert transition(client, api_key, appeal_id("U-2")).status_code == 200
    assert client.get(f"/api/v1/kpis?region={STREET_B}&date=2026-11-19", headers=headers).status_code == 200
    assert client.get("/api/v1/kpis?region=510107&date=2026-11-19", headers=headers).status_code == 200
    assert client.get("/api/v1/quarantine", headers=headers).status_code == 200


def test_every_api_route_names_the_actions_it_needs(app):
    from dashboard.web.api import PUBLIC_ENDPOINTS, ROUTE_ACTIONS

    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api_v1.")}
    assert endpoints - PUBLIC_ENDPOINTS == set(ROUTE_ACTIONS)


# ---------------------------------------------------------------------------- administration


def audit_entries(action: str) -> list[tuple[str, str, dict | None]]:
    with db.session() as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
        return [(row.actor, row.target, row.detail) for row in rows]


def test_scopes_are_validated_changed_and_audited(two_streets):
    view, _key = admin.create_api_key("boss", "feed", "wechat", STREET_A, "transitions,ingest")
    assert (view.region_code, view.actions) == (STREET_A, (KeyAction.INGEST, KeyAction.TRANSITIONS))
    assert audit_entries("apikey_create") == [
        (
            "boss",
            f"apikey:{view.id}:feed",
            {"channel": "wechat", "region": STREET_A, "actions": "ingest,transitions"},
        )
    ]
    for kwargs, field, reason in (
        ({"actions": "ingest,fly"}, "actions", "action_unknown"),
        ({"actions": []}, "actions", "actions_empty"),
        ({"actions": 7}, "actions", "action_unknown"),
        ({"region_code": "510107999"}, "region", "region_unknown"),
        ({"region_code": "not-a-code"}, "region", "region_unknown"),
        ({"region_code": [STREET_A]}, "region", "invalid"),
    ):
        with pytest.raises(AdminError) as caught:
            admin.create_api_key("boss", "other", "wechat", **kwargs)
        assert (caught.value.field, caught.value.key) == (field, reason), kwargs
        with pytest.raises(AdminError) as caught:
            admin.set_api_key_scope("boss", name="feed", **kwargs)
        assert (caught.value.field, caught.value.key) == (field, reason), kwargs
    assert (
        AdminError("actions", "action_unknown", value="fly", known="ingest, transitions, kpis, quarantine").message(
            "en"
        )
        == "“Actions”: unknown action fly (known: ingest, transitions, kpis, quarantine)."
    )
    with pytest.raises(AdminError) as caught:
        admin.set_api_key_scope("boss", name="feed")
    assert caught.value.key == "scope_unchanged"

    [widened] = admin.set_api_key_scope("boss", name="feed", region_code=STREET_B)
    assert (widened.region_code, widened.actions) == (STREET_B, (KeyAction.INGEST, KeyAction.TRANSITIONS))
    [everything] = admin.set_api_key_scope("boss", key_id=view.id, region_code="all", actions="all")
    assert (everything.region_code, everything.actions) == (None, None)
    admin.set_api_key_scope("boss", name="feed", region_code=None)  # unchanged: nothing to audit
    target = f"apikey:{view.id}:feed"
    assert audit_entries("apikey_scope") == [
        (
            "boss",
            target,
            {
                "before": {"region": STREET_A, "actions": "ingest,transitions"},
                "after": {"region": STREET_B, "actions": "ingest,transitions"},
            },
        ),
        (
            "boss",
            target,
            {
                "before": {"region": STREET_B, "actions": "ingest,transitions"},
                "after": {"region": None, "actions": None},
            },
        ),
    ]
    admin.revoke_api_keys("boss", name="feed")
    with pytest.raises(AdminError) as caught:
        admin.set_api_key_scope("boss", name="feed", actions="kpis")
    assert (caught.value.field, caught.value.key) == ("name", "no_active_key")


def test_a_scope_change_applies_to_the_next_request(two_streets, client):
    key = make_key("narrowing", None, None)
    assert transition(client, key, appeal_id("B-1")).status_code == 200
    admin.set_api_key_scope("boss", name="narrowing", region_code=STREET_A)
    assert transition(client, key, appeal_id("B-2")).status_code == 404
    admin.set_api_key_scope("boss", name="narrowing", region_code="all", actions="kpis")
    assert transition(client, key, appeal_id("B-2")).status_code == 403


def test_cli_sets_lists_and_changes_key_scopes(runner):
    assert runner.invoke("demo", "--scale", "tiny").exit_code == 0
    made = runner.invoke(
        "apikeys", "add", "--name", "feed", "--source", "hotline_12345", "--region", STREET_A, "--actions", "ingest"
    )
    assert made.exit_code == 0, made.output
    assert re.fullmatch(r"cc_[A-Za-z0-9_-]+\n", made.output)
    legacy = runner.invoke("apikeys", "add", "--name", "old", "--source", "wechat")
    assert legacy.exit_code == 0, legacy.output
    listing = runner.invoke("apikeys", "list").output
    assert f"\tfeed\thotline_12345\tregion={STREET_A}\tactions=ingest\tactive" in listing
    assert "\told\twechat\tregion=all\tactions=all\tactive" in listing
    changed = runner.invoke("apikeys", "scope", "feed", "--actions", "ingest,transitions")
    assert changed.exit_code == 0 and f"region={STREET_A}\tactions=ingest,transitions" in changed.output
    assert (
        "feed\thotline_12345\tregion=510107001\tactions=ingest,transitions" in runner.invoke("apikeys", "list").output
    )
    widened = runner.invoke("apikeys", "scope", "feed", "--region", "all")
    assert widened.exit_code == 0 and "region=all\tactions=ingest,transitions" in widened.output
    for args, message in (
        (("--actions", "fly"), "--actions: unknown action fly"),
        (("--region", "510107999"), "--region: no region with code 510107999"),
        ((), "--region or --actions: choose a region or actions to change"),
    ):
        refused = runner.invoke("apikeys", "scope", "feed", *args)
        assert refused.exit_code != 0 and message in refused.output, refused.output
    nobody = runner.invoke("apikeys", "scope", "nobody", "--actions", "kpis")
    assert nobody.exit_code != 0 and "NAME: no active API key matches" in nobody.output
    bad_add = runner.invoke("apikeys", "add", "--name", "x", "--source", "wechat", "--actions", "ingest,fly")
    assert bad_add.exit_code != 0 and "--actions: unknown action fly" in bad_add.output
    with db.session() as session:
        actions = [
            (row.actor, row.action)
            for row in session.scalars(select(AuditLog).where(AuditLog.action.like("apikey_%")).order_by(AuditLog.id))
        ]
    assert actions == [
        ("cli", "apikey_create"),
        ("cli", "apikey_create"),
        ("cli", "apikey_scope"),
        ("cli", "apikey_scope"),
    ]


def test_the_admin_page_shows_and_changes_key_scopes(two_streets, client):
    from dashboard.queries import admin as admin_query
    from dashboard.ui.chrome import Viewer
    from layouts import admin as admin_layout

    two_streets.config["DEMO_MODE"] = False
    make_key("legacy", None, None)
    make_key("street-a", STREET_A, "ingest,kpis")
    with two_streets.test_request_context("/admin?lang=en"):
        view = admin_query.read("en", admin.RECENT_AUDIT_ENTRIES, admin.MIN_PASSWORD_LENGTH)
        page = str(admin_layout.render(view, Viewer(authenticated=True, username="boss", role=Role.ADMIN)))
    assert f"· {STREET_A}" in page and "Send appeals, Read KPIs" in page and "All actions" in page
    assert ids.ADMIN_KEY_REGION in page and ids.ADMIN_KEY_SCOPE in page

    add_user("boss", Role.ADMIN, None)
    assert login(client, "boss").status_code == 302
    empty = response_of(key_action(client, "create", name="feed", channel="wechat", actions=[], lang="en"))
    assert "“Actions”: choose at least one action" in str(empty[ids.ADMIN_KEY_FEEDBACK])
    made = response_of(
        key_action(client, "create", name="feed", channel="wechat", region=STREET_B, actions=["transitions"])
    )
    key = re.search(r"cc_[A-Za-z0-9_-]+", str(made[ids.ADMIN_KEY_FEEDBACK])).group(0)
    table = str(made[ids.ADMIN_KEYS_TABLE])
    assert f"乙街道 · {STREET_B}" in table and "流转诉求" in table
    assert transition(client, key, appeal_id("B-1")).status_code == 200
    option = next(o for o in made[ids.ADMIN_KEY_SELECT]["options"] if o["label"].startswith("feed ·"))
    nothing = response_of(key_action(client, "scope", selected=option["value"], lang="en"))
    assert "“Region or actions”: choose a region or actions to change." in str(nothing[ids.ADMIN_KEY_FEEDBACK])
    narrowed = response_of(key_action(client, "scope", selected=option["value"], scope_region=STREET_A, lang="en"))
    assert f"API key feed: region Cuqiao Street · {STREET_A}; actions Move appeals" in str(
        narrowed[ids.ADMIN_KEY_FEEDBACK]
    )
    assert transition(client, key, appeal_id("B-2")).status_code == 404
    response_of(key_action(client, "scope", selected=option["value"], scope_region="all", scope_actions=["kpis"]))
    assert transition(client, key, appeal_id("B-2")).status_code == 403
    with db.session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.name == "feed"))
    assert (row.region_code, row.actions) == (None, "kpis")
    scoped = [detail for actor, _target, detail in audit_entries("apikey_scope") if actor == "boss"]
    assert [entry["after"] for entry in scoped] == [
        {"region": STREET_A, "actions": "transitions"},
        {"region": None, "actions": "kpis"},
    ]
