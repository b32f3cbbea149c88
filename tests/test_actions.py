"""People acting from the console (services.actions): who may take which step on what, the required fields,
optimistic concurrency (a stale page is refused with who changed the appeal and when), bulk steps, the appeal
page's view model and callbacks, and the API's expected_version. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import func, select

from dashboard.domain import roles
from dashboard.domain.roles import Role
from dashboard.domain.vocab import AppealStatus, Satisfaction, TransitionAction
from dashboard.queries import appeal as appeal_query
from dashboard.services import actions
from dashboard.services.actions import ActionRequest
from dashboard.store.database import db
from dashboard.store.models import Appeal, Transition
from dashboard.ui.outcomes import outcome_text
from tests.actions_support import (
    COMMUNITY_A,
    DEPT_A,
    DEPT_B,
    STREET_A,
    STREET_B,
    TEAM_A,
    TEAM_B,
    seed,
    version_of,
    viewer,
)
from tests.console_support import dash_callback, login

A = TransitionAction
NOW = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)  # 12:00 in Beijing, the day after the appeals came in


@pytest.fixture
def district(app):
    """The small district, inside an app context (for calls of the services and queries themselves)."""
    with app.app_context():
        yield seed(app)


@pytest.fixture
def web_district(app):
    """The small district with no app context held: each test-client request then has its own (and its own g)."""
    with app.app_context():
        made = seed(app)
    return made


def _operator():
    return viewer("op_a", Role.OPERATOR, STREET_A)


def _step(appeal_id, who, action, at=NOW, **fields):
    request = ActionRequest(action=action, expected_version=version_of(appeal_id), **fields)
    return actions.act(who, appeal_id, request, now=at)


def _history(appeal_id):
    with db.session() as session:
        return session.execute(
            select(Transition.action, Transition.actor, Transition.note)
            .where(Transition.appeal_id == appeal_id)
            .order_by(Transition.seq)
        ).all()


# ---------------------------------------------------------------------------- who may take which step


FIELDS = {
    A.DISPATCH: {"department_code": DEPT_A},
    A.RETURN: {"note": "不属于本级"},
    A.ESCALATE: {"note": "需要街道协调"},
    A.RESOLVE: {"note": "已调解"},
    A.URGE: {"note": "请尽快处理"},
}


# The steps (taken by an admin) that bring an appeal to where the lifecycle allows each step.
PREPARE = {
    A.ACCEPT: (),
    A.DISPATCH: (A.ACCEPT,),
    A.URGE: (A.ACCEPT,),
    A.ESCALATE: (A.ACCEPT,),
    A.LINK_DUPLICATE: (A.ACCEPT,),
    A.START: (A.ACCEPT, A.DISPATCH),
    A.RETURN: (A.ACCEPT, A.ESCALATE),
    A.RESOLVE: (A.ACCEPT, A.DISPATCH, A.START),
    A.CLOSE: (A.ACCEPT, A.DISPATCH, A.START, A.RESOLVE),
    A.RATE: (A.ACCEPT, A.DISPATCH, A.START, A.RESOLVE),
    A.REOPEN: (A.ACCEPT, A.DISPATCH, A.START, A.RESOLVE, A.RATE),
}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR, Role.VIEWER])
def test_a_role_takes_exactly_its_steps(app, role):
    """Every console role × step, on an appeal where the lifecycle allows the step: done exactly when
    domain.roles.ROLE_STEPS lists it, else refused with not_your_step and nothing written."""
    with app.app_context():
        district = seed(app, appeals=len(PREPARE) + 1)
        admin = viewer("admin", Role.ADMIN, None)
        who = viewer(f"{role.value}_x", role, None if role == Role.ADMIN else STREET_A)
        other = district.appeals[f"A-{len(PREPARE) + 1}"]
        fields = {
            **FIELDS,
            A.LINK_DUPLICATE: {"duplicate_of": other},
            A.RATE: {"satisfaction": Satisfaction.UNSATISFIED},
            A.REOPEN: {"note": "不满意"},
        }
        for n, (action, path) in enumerate(PREPARE.items(), start=1):
            appeal_id = district.appeals[f"A-{n}"]
            for earlier in path:
                assert _step(appeal_id, admin, earlier, **fields.get(earlier, {})).ok, (action, earlier)
            before = version_of(appeal_id)
            outcome = _step(appeal_id, who, action, at=NOW + dt.timedelta(minutes=1), **fields.get(action, {}))
            if roles.may_take(role, action):
                assert outcome.ok and outcome.version == before + 1, (role, action, outcome)
            else:
                assert (outcome.ok, outcome.message_key) == (False, "actions.not_your_step"), (role, action)
                assert version_of(appeal_id) == before


def test_the_operator_s_loop_and_the_history_names_the_person(district):
    appeal_id = district.appeals["A-1"]
    op = _operator()
    assert _step(appeal_id, op, A.ACCEPT).ok
    outcome = _step(appeal_id, op, A.DISPATCH, at=NOW + dt.timedelta(minutes=1), team_code=TEAM_A)
    assert outcome.ok and outcome.version == 3 and outcome.message_key == "actions.done"
    assert _step(appeal_id, op, A.URGE, at=NOW + dt.timedelta(minutes=2), note="尽快").ok
    with db.session() as session:
        appeal = session.get(Appeal, appeal_id)
        assert (appeal.status, appeal.team_id, appeal.department_id) == (AppealStatus.DISPATCHED, district.team_a, None)
        assert (appeal.urge_count, appeal.version, appeal.changed_by) == (1, 4, "op_a")
        assert appeal.updated_at == NOW + dt.timedelta(minutes=2)  # the one clock, not the server's
    assert [(h.action, h.actor) for h in _history(appeal_id)][1:] == [
        (A.ACCEPT, "op_a"),
        (A.DISPATCH, "op_a"),
        (A.URGE, "op_a"),
    ]


def test_a_viewer_cannot_act(district):
    appeal_id = district.appeals["A-1"]
    for action in (A.ACCEPT, A.URGE, A.DISPATCH):
        outcome = _step(appeal_id, viewer("viewer_a", Role.VIEWER, STREET_A), action, **FIELDS.get(action, {}))
        assert (outcome.ok, outcome.message_key) == (False, "actions.not_your_step")
    anonymous = actions.act(type(_operator())(), appeal_id, ActionRequest(A.ACCEPT, 1), now=NOW)  # not logged in
    assert anonymous.message_key == "actions.not_your_step"
    assert version_of(appeal_id) == 1


def test_out_of_scope_looks_exactly_like_missing(district):
    appeal_id = district.appeals["A-1"]
    other_street = viewer("op_b", Role.OPERATOR, STREET_B)
    outside = _step(appeal_id, other_street, A.ACCEPT)
    missing = actions.act(other_street, 10**9, ActionRequest(A.ACCEPT, 1), now=NOW)
    assert (outside.ok, outside.message_key, outside.version) == (False, "actions.no_such_appeal", None)
    assert (missing.message_key, missing.version) == (outside.message_key, None)
    assert version_of(appeal_id) == 1


def test_a_handler_acts_only_on_what_its_department_or_team_holds(district):
    op = _operator()
    to_dept, to_team, to_nobody = district.appeals["A-1"], district.appeals["A-2"], district.appeals["A-3"]
    for appeal_id, fields in ((to_dept, {"department_code": DEPT_A}), (to_team, {"team_code": TEAM_A})):
        assert _step(appeal_id, op, A.ACCEPT).ok
        assert _step(appeal_id, op, A.DISPATCH, **fields).ok
    assert _step(to_nobody, op, A.ACCEPT).ok
    dept_handler = viewer("handler_dept_a", Role.HANDLER, STREET_A, department_id=district.dept_a)
    team_handler = viewer("handler_team_a", Role.HANDLER, COMMUNITY_A, team_id=district.team_a)
    for who, mine, theirs in ((dept_handler, to_dept, to_team), (team_handler, to_team, to_dept)):
        assert actions.assigned_to(who, _appeal(mine)) and not actions.assigned_to(who, _appeal(theirs))
        refused = _step(theirs, who, A.START)
        assert (refused.ok, refused.message_key) == (False, "actions.not_assigned")
        assert _step(to_nobody, who, A.START).message_key == "actions.not_assigned"
        assert _step(mine, who, A.START).ok
        assert _step(mine, who, A.DISPATCH, department_code=DEPT_A).message_key == "actions.not_your_step"
        assert _step(mine, who, A.RESOLVE).message_key == "actions.need_note"
        assert _step(mine, who, A.RESOLVE, note="已处理").ok
    assert _appeal(to_team).status == AppealStatus.RESOLVED


def _appeal(appeal_id):
    with db.session() as session:
        return session.get(Appeal, appeal_id)


@pytest.mark.parametrize(
    ("action", "fields", "key"),
    [
        (A.DISPATCH, {}, "actions.need_assignee"),
        (A.DISPATCH, {"department_code": DEPT_A, "team_code": TEAM_A}, "actions.need_assignee"),
        (A.DISPATCH, {"department_code": DEPT_B}, "actions.assignee_out_of_scope"),
        (A.DISPATCH, {"team_code": TEAM_B}, "actions.assignee_out_of_scope"),
        (A.DISPATCH, {"department_code": "NO-SUCH"}, "actions.assignee_out_of_scope"),
        (A.DISPATCH, {"team_code": f"{COMMUNITY_A}/nonsense"}, "actions.assignee_out_of_scope"),
        (A.URGE, {}, "actions.need_note"),
        (A.URGE, {"note": "   "}, "actions.need_note"),
        (A.RETURN, {}, "actions.need_note"),
        (A.ESCALATE, {}, "actions.need_note"),
        (A.START, {}, "actions.not_your_step"),  # an operator does not start work
        (A.RESOLVE, {"note": "x"}, "actions.not_your_step"),
    ],
)
def test_required_fields_and_the_assignee_s_scope(district, action, fields, key):
    appeal_id = district.appeals["A-1"]
    assert _step(appeal_id, _operator(), A.ACCEPT).ok
    before = version_of(appeal_id)
    outcome = _step(appeal_id, _operator(), action, **fields)
    assert (outcome.ok, outcome.conflict, outcome.message_key, outcome.version) == (
        False,
        False,
        key,
        None if key.endswith("not_your_step") else before,
    )
    assert version_of(appeal_id) == before


def test_a_step_the_lifecycle_does_not_allow_now_says_which_are(district):
    appeal_id = district.appeals["A-1"]
    outcome = _step(appeal_id, _operator(), A.URGE, note="还没受理")  # a reported appeal cannot be urged yet
    assert (outcome.ok, outcome.message_key) == (False, "actions.not_allowed_now")
    assert "accept" in outcome.values["allowed"]
    assert "受理" in outcome_text(outcome.message_key, outcome.values, "zh")


# ---------------------------------------------------------------------------- optimistic concurrency


def test_a_stale_page_is_refused_with_who_and_when_and_nothing_is_overwritten(district):
    appeal_id = district.appeals["A-1"]
    assert _step(appeal_id, _operator(), A.ACCEPT).ok
    seen = version_of(appeal_id)  # two pages read the same version
    sup = viewer("sup_a", Role.SUPERVISOR, STREET_A)
    first = actions.act(
        sup, appeal_id, ActionRequest(A.DISPATCH, seen, team_code=TEAM_A), now=NOW + dt.timedelta(minutes=3)
    )
    second = actions.act(
        _operator(),
        appeal_id,
        ActionRequest(A.DISPATCH, seen, department_code=DEPT_A),
        now=NOW + dt.timedelta(minutes=4),
    )
    assert first.ok and not second.ok and second.conflict
    assert (second.message_key, second.version) == ("actions.conflict", seen + 1)
    assert second.values["changed_by"] == "sup_a" and second.values["changed_at"] == "2026-11-20 12:03:00"
    zh = outcome_text(second.message_key, second.values, "zh")
    assert "sup_a" in zh and "2026-11-20 12:03:00" in zh and "派遣" in zh
    assert "changed by sup_a (sup_a) at 2026-11-20 12:03:00" in outcome_text(second.message_key, second.values, "en")
    appeal = _appeal(appeal_id)
    assert (appeal.team_id, appeal.department_id, appeal.changed_by) == (district.team_a, None, "sup_a")
    assert [h.actor for h in _history(appeal_id)][-1] == "sup_a" and len(_history(appeal_id)) == 3


def test_two_sessions_at_once_one_wins_the_other_gets_the_conflict(district):
    """Two actors read version N and act at the same moment: exactly one step lands (row lock; on SQLite the
    write lock taken before reading)."""
    appeal_id = district.appeals["A-1"]
    assert _step(appeal_id, _operator(), A.ACCEPT).ok
    seen = version_of(appeal_id)
    app = db.current  # the app's database, for the threads
    barrier = threading.Barrier(2)
    outcomes = []
    flask_app = _flask_app()

    def one(who, fields):
        with flask_app.app_context():
            barrier.wait()
            outcomes.append(actions.act(who, appeal_id, ActionRequest(A.DISPATCH, seen, **fields), now=NOW))

    threads = [
        threading.Thread(target=one, args=(viewer("sup_a", Role.SUPERVISOR, STREET_A), {"team_code": TEAM_A})),
        threading.Thread(target=one, args=(_operator(), {"department_code": DEPT_A})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert app is not None
    assert sorted((o.ok, o.conflict) for o in outcomes) == [(False, True), (True, False)], outcomes
    with db.session() as session:
        dispatches = session.scalar(
            select(func.count()).where(Transition.appeal_id == appeal_id, Transition.action == A.DISPATCH)
        )
    assert dispatches == 1 and version_of(appeal_id) == seen + 1


def _flask_app():
    from flask import current_app

    return current_app._get_current_object()


def test_act_many_each_appeal_its_own_transaction(district):
    op = _operator()
    one, two, three = (district.appeals[f"A-{n}"] for n in (1, 2, 3))
    for appeal_id in (one, two, three):
        assert _step(appeal_id, op, A.ACCEPT).ok
    stale = version_of(three)
    assert _step(three, viewer("sup_a", Role.SUPERVISOR, STREET_A), A.URGE, note="先督办").ok  # changes it
    outside = district.appeals["B-1"]  # another street's: refused as missing, the others still act
    targets = [(one, version_of(one)), (two, version_of(two)), (three, stale), (outside, 1)]
    outcomes = actions.act_many(op, targets, ActionRequest(A.URGE, None, note="请今日办结"), now=NOW)
    assert [o.appeal_id for o in outcomes] == [t[0] for t in targets]
    assert [o.ok for o in outcomes] == [True, True, False, False]
    assert outcomes[2].conflict and outcomes[2].values["changed_by"] == "sup_a"
    assert outcomes[3].message_key == "actions.no_such_appeal"
    assert [_appeal(a).urge_count for a in (one, two, three)] == [1, 1, 1]


# ---------------------------------------------------------------------------- the appeal page


def test_the_appeal_page_offers_exactly_the_viewer_s_steps(district):
    appeal_id = district.appeals["A-1"]
    op = _operator()
    view = appeal_query.read(str(appeal_id), op, "zh", False, now=NOW)
    assert view.steps == tuple(roles.steps_for(Role.OPERATOR, view.detail["allowed"])) == ("accept",)
    assert view.assignees == ()  # no dispatch offered, no options read
    assert view.detail["version"] == 1 and view.detail["urge_count"] == 0 and view.detail["team"] == ""
    assert _step(appeal_id, op, A.ACCEPT).ok
    view = appeal_query.read(str(appeal_id), op, "zh", False, now=NOW)
    assert "dispatch" in view.steps and "urge" in view.steps and "start" not in view.steps
    values = [value for value, _ in view.assignees]
    assert f"department:{DEPT_A}" in values and f"team:{TEAM_A}" in values
    assert f"department:{DEPT_B}" not in values and f"team:{TEAM_B}" not in values
    assert appeal_query.read(str(appeal_id), viewer("viewer_a", Role.VIEWER, STREET_A), "zh", False).steps == ()
    handler = viewer("handler_team_a", Role.HANDLER, COMMUNITY_A, team_id=district.team_a)
    assert appeal_query.read(str(appeal_id), handler, "zh", False).steps == ()  # not assigned to it
    assert _step(appeal_id, op, A.DISPATCH, team_code=TEAM_A).ok
    view = appeal_query.read(str(appeal_id), handler, "zh", False)
    assert view.steps == ("start",) and view.detail["team"].endswith("甲社区巡逻队")
    assert view.detail["timeline"][-1]["actor"] == "op_a（op_a）"


# ---------------------------------------------------------------------------- the API


def _post(client, api_key, appeal_id, **body):
    return client.post(f"/api/v1/appeals/{appeal_id}/transitions", json=body, headers={"X-API-Key": api_key})


def test_the_api_refuses_a_stale_expected_version_with_who_and_when(web_district, client, api_key):
    district = web_district
    appeal_id = district.appeals["A-1"]
    response = _post(client, api_key, appeal_id, action="accept", expected_version=1)
    assert response.status_code == 200, response.get_json()
    state = response.get_json()["appeal"]
    assert (state["version"], state["urge_count"], state["team"]) == (2, 0, None)
    response = _post(client, api_key, appeal_id, action="dispatch", team=TEAM_A, expected_version=2, actor="张三")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["appeal"]["team"] == TEAM_A and response.get_json()["appeal"]["version"] == 3
    stale = _post(client, api_key, appeal_id, action="urge", note="快", expected_version=2)
    body = stale.get_json()
    assert stale.status_code == 409 and body["code"] == "conflict", body
    assert body["changed_by"] == "api:test-feed/张三" and body["changed_at"]
    assert body["appeal"]["version"] == 3 and body["appeal"]["urge_count"] == 0
    fresh = _post(client, api_key, appeal_id, action="urge", note="快", expected_version=3)
    assert fresh.status_code == 200 and fresh.get_json()["appeal"]["urge_count"] == 1
    # Without expected_version the API acts as before (a feed that does not track versions).
    assert _post(client, api_key, appeal_id, action="urge", note="再催").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"expected_version": "2"}, "expected_version"),
        ({"expected_version": 0}, "expected_version"),
        ({"expected_version": True}, "expected_version"),
        ({"team": "patrol"}, "team"),
        ({"team": f"{COMMUNITY_A}/aliens"}, "team"),
        ({"team": 7}, "team"),
        ({"team": TEAM_A, "department": DEPT_A}, "team"),
    ],
)
def test_the_api_names_a_bad_version_or_team(web_district, client, api_key, body, field):
    district = web_district
    response = _post(client, api_key, district.appeals["A-1"], action="dispatch", **body)
    assert response.status_code == 400 and response.get_json()["field"] == field, response.get_json()


# ---------------------------------------------------------------------------- the console's callbacks

SUBMIT_OUTPUT = "..appeal-content.children.."
BULK_OUTPUT = "..drill-bulk-count.children...drill-bulk-result.children...drill-bulk-done.data.."


def _words(response) -> str:
    """A callback's or page's answer as text, its Chinese unescaped."""
    body = response.get_json(silent=True)
    return (
        json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        if body is not None
        else response.get_data(as_text=True)
    )


def _submit(client, appeal_id, step, version, note=None, assignee=None, lang="zh"):
    from dashboard.ui import ids

    return dash_callback(
        client,
        SUBMIT_OUTPUT,
        [{"id": ids.APPEAL_ACTION_SUBMIT, "property": "n_clicks", "value": 1}],
        [
            {"id": ids.APPEAL_ACTION_CHOSEN, "property": "data", "value": step},
            {"id": ids.APPEAL_ACTION_ASSIGNEE, "property": "value", "value": assignee},
            {"id": ids.APPEAL_ACTION_NOTE, "property": "value", "value": note},
            {"id": ids.APPEAL_ACTION_DUPLICATE, "property": "value", "value": None},
            {"id": ids.APPEAL_ACTION_SATISFACTION, "property": "value", "value": None},
            {"id": ids.APPEAL_ACTION_VERSION, "property": "data", "value": {"version": version}},
            {"id": ids.APPEAL_ID, "property": "data", "value": {"id": appeal_id, "lang": lang}},
        ],
    )


def test_the_appeal_page_takes_a_step_and_a_stale_page_gets_the_conflict(web_district, client):
    district = web_district
    appeal_id = district.appeals["A-1"]
    assert login(client, "op_a").status_code == 302
    page = client.get(f"/appeal/{appeal_id}").status_code
    assert page == 200
    done = _submit(client, appeal_id, "accept", 1)
    assert done.status_code == 200, done.get_data(as_text=True)[:300]
    text = _words(done)
    assert f"诉求 #{appeal_id}：已受理" in text and "版本 2" in text
    stale = _submit(client, appeal_id, "dispatch", 1, assignee=f"team:{TEAM_A}")
    text = _words(stale)
    assert stale.status_code == 200 and "appeal-conflict" in text
    assert "op_a（op_a）" in text and "版本 2" in text  # who changed it, and the page redrawn as it is now
    assert _appeal(appeal_id).team_id is None and version_of(appeal_id) == 2
    dispatched = _submit(client, appeal_id, "dispatch", 2, assignee=f"team:{TEAM_A}", lang="en")
    assert f"Appeal #{appeal_id}: Dispatch done." in _words(dispatched)
    assert _appeal(appeal_id).team_id == district.team_a
    refused = _submit(client, appeal_id, "urge", 3, note="")
    assert "督办须填写说明或理由" in _words(refused) and version_of(appeal_id) == 3


def test_a_viewer_s_page_shows_no_steps_and_its_callback_is_refused(web_district, client):
    district = web_district
    appeal_id = district.appeals["A-1"]
    login(client, "viewer_a")
    from layouts import appeal as appeal_layout

    with client.application.app_context():
        who = viewer("viewer_a", Role.VIEWER, STREET_A)
        drawn = str(
            appeal_layout.render(appeal_query.read(str(appeal_id), who, "zh", False), who, "zh").to_plotly_json()
        )
        assert "appeal-action" not in drawn and "诉求" in drawn
        op = _operator()
        drawn = str(appeal_layout.render(appeal_query.read(str(appeal_id), op, "zh", False), op, "zh").to_plotly_json())
        assert "'action': 'accept'" in drawn and "appeal-action-submit" in drawn
    assert _submit(client, appeal_id, "accept", 1).status_code == 403
    assert version_of(appeal_id) == 1


def _bulk(client, rows, which, note=None, assignee=None):
    from dashboard.ui import ids

    trigger = {"dispatch": ids.DRILL_BULK_DISPATCH, "urge": ids.DRILL_BULK_URGE}[which]
    return dash_callback(
        client,
        BULK_OUTPUT,
        [
            {"id": ids.DRILL_GRID, "property": "selectedRows", "value": rows},
            {"id": ids.DRILL_BULK_DISPATCH, "property": "n_clicks", "value": 1 if which == "dispatch" else 0},
            {"id": ids.DRILL_BULK_URGE, "property": "n_clicks", "value": 1 if which == "urge" else 0},
        ],
        [
            {"id": ids.DRILL_BULK_ASSIGNEE, "property": "value", "value": assignee},
            {"id": ids.DRILL_BULK_NOTE, "property": "value", "value": note},
            {"id": ids.DRILL_URL, "property": "search", "value": "?lang=zh"},
        ],
        changed=[f"{trigger}.n_clicks"],
    )


def test_the_grid_s_bulk_dispatch_and_urge(web_district, client):
    district = web_district
    one, two, three = (district.appeals[f"A-{n}"] for n in (1, 2, 3))
    for appeal_id in (one, two, three):
        assert _step(appeal_id, _operator(), A.ACCEPT).ok
    login(client, "sup_a")
    rows = [{"id": one, "version": 2}, {"id": two, "version": 2}, {"id": three, "version": 1}]  # three: stale
    response = _bulk(client, rows, "dispatch", assignee=f"department:{DEPT_A}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    text = _words(response)
    assert "成功 2 条，未执行 1 条" in text and "op_a（op_a）" in text and f'"data-appeal":"{three}"' in text
    assert [_appeal(a).department_id for a in (one, two, three)] == [district.dept_a, district.dept_a, None]
    response = _bulk(client, [{"id": one, "version": 3}, {"id": two, "version": 3}], "urge", note="今日办结")
    assert "成功 2 条，未执行 0 条" in _words(response)
    assert [_appeal(a).urge_count for a in (one, two)] == [1, 1]
    assert "请先在表格中勾选诉求" in _words(_bulk(client, [], "urge", note="x"))
    assert _bulk(client, [{"id": "1; drop", "version": 1}], "urge", note="x").status_code == 400
    leader = client.application.test_client()
    login(leader, "viewer_a")
    refused = _bulk(leader, [{"id": one, "version": 4}], "urge", note="x")
    assert refused.status_code == 403, _words(refused)


def test_a_key_limited_to_a_street_cannot_name_another_street_s_team(web_district, client):
    from dashboard.services import admin

    district = web_district
    _view, key = admin.create_api_key("boss", "street-a-system", "hotline_12345", STREET_A, "transitions")
    appeal_id = district.appeals["A-1"]
    assert _post(client, key, appeal_id, action="accept", expected_version=1).status_code == 200
    outside = _post(client, key, appeal_id, action="dispatch", team=TEAM_B, expected_version=2)
    assert outside.status_code == 409 and "unknown team code" in outside.get_json()["error"]
    assert _appeal(appeal_id).team_id is None and version_of(appeal_id) == 2
    inside = _post(client, key, appeal_id, action="dispatch", team=TEAM_A, expected_version=2)
    assert inside.status_code == 200 and inside.get_json()["appeal"]["team"] == TEAM_A
