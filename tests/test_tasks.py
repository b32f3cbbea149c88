"""A handler's /tasks page (issue 16): its list (order and scope), its steps, its socket, and handler accounts."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select

from callbacks.tasks import HANDLER_STEPS
from dashboard.domain.roles import Role
from dashboard.domain.vocab import AppealStatus, Priority
from dashboard.queries import tasks as tasks_query
from dashboard.services import admin
from dashboard.services.admin import AdminError
from dashboard.store.database import db
from dashboard.store.models import Appeal, AuditLog, User
from dashboard.ui import ids
from dashboard.ui.timeleft import time_left_text
from tests.actions_support import COMMUNITY_A, DEPT_A, TEAM_A, TEAM_B, seed, version_of, viewer
from tests.console_support import PASSWORD, STREET_A, STREET_B, login

NOW = dt.datetime(2026, 11, 19, 6, 0, tzinfo=dt.UTC)  # 14:00 in Chengdu
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
CALLBACK = "/_dash-update-component"


def _assign(appeal_id: int, *, priority: Priority, deadline: dt.timedelta, team_id=None, department_id=None, **more):
    with db.transaction() as tx:
        appeal = tx.get(Appeal, appeal_id)
        appeal.priority, appeal.deadline_at = priority, NOW + deadline
        appeal.team_id, appeal.department_id = team_id, department_id
        appeal.status, appeal.is_open = AppealStatus.DISPATCHED, True
        for key, value in more.items():
            setattr(appeal, key, value)


@pytest.fixture
def district(app):
    with app.app_context():
        district = seed(app, appeals=7)
        a = b = district.appeals
        P = Priority
        _assign(a["A-1"], priority=P.ORDINARY, deadline=-dt.timedelta(hours=3), team_id=district.team_a)
        _assign(a["A-2"], priority=P.EXTRA_URGENT, deadline=-dt.timedelta(minutes=10), team_id=district.team_a)
        _assign(
            a["A-3"],
            priority=P.URGENT,
            deadline=-dt.timedelta(hours=1),
            team_id=district.team_a,
            urge_count=2,
            version=3,
            changed_by="op_a",
        )
        _assign(a["A-4"], priority=P.ORDINARY, deadline=dt.timedelta(hours=5), team_id=district.team_a)
        _assign(a["A-5"], priority=P.EXTRA_URGENT, deadline=dt.timedelta(minutes=30), team_id=district.team_a)
        _assign(a["A-6"], priority=P.URGENT, deadline=dt.timedelta(hours=1), team_id=district.team_a, is_open=False)
        _assign(a["A-7"], priority=P.ORDINARY, deadline=dt.timedelta(hours=1), department_id=district.dept_a)
        _assign(b["B-1"], priority=P.EXTRA_URGENT, deadline=-dt.timedelta(hours=9), department_id=district.dept_b)
        _assign(b["B-2"], priority=P.EXTRA_URGENT, deadline=-dt.timedelta(hours=9), team_id=district.team_b)
    return district


def _ids(view) -> list[int]:
    return [card.id for card in view.cards]


def test_a_handler_sees_its_own_open_assignments_most_urgent_first(app, district):
    a = district.appeals
    team_a = viewer("handler_team_a", Role.HANDLER, COMMUNITY_A, team_id=district.team_a)
    with app.test_request_context():
        view = tasks_query.read(team_a, "zh", now=NOW)
    # Overdue first, extra-urgent, urgent, ordinary; then the least time left. Closed ones never.
    assert _ids(view) == [a["A-2"], a["A-3"], a["A-1"], a["A-5"], a["A-4"]]
    assert view.total == 5 and "巡逻队" in view.assignee and "甲社区" in view.assignee
    first = view.cards[0]
    assert first.overdue and first.seconds_left == -600 and first.priority == "extra_urgent"
    assert first.steps == ("start", "return") or first.steps == ("start",)
    assert set(first.steps) <= HANDLER_STEPS
    assert view.cards[1].urge_count == 2
    with app.test_request_context():
        # A department's handler: only its department's; another street's handler: only its own.
        dept_a = tasks_query.read(viewer("handler_dept_a", Role.HANDLER, STREET_A, department_id=district.dept_a), "en")
        b = tasks_query.read(viewer("handler_b", Role.HANDLER, STREET_B, department_id=district.dept_b), "en", now=NOW)
    assert _ids(dept_a) == [a["A-7"]]
    assert _ids(b) == [district.appeals["B-1"]]


def test_another_teams_appeal_is_not_found_by_asking_for_it(app, district):
    team_a = viewer("handler_team_a", Role.HANDLER, COMMUNITY_A, team_id=district.team_a)
    with app.test_request_context():
        for other in (district.appeals["B-1"], district.appeals["B-2"], district.appeals["A-7"]):
            view = tasks_query.read(team_a, "zh", now=NOW, focus=other)
            assert view.cards == [] and view.total == 0
        mine = tasks_query.read(team_a, "zh", now=NOW, focus=district.appeals["A-4"])
    assert _ids(mine) == [district.appeals["A-4"]]
    # No department and no team (not a handler): nothing at all.
    with app.test_request_context():
        assert tasks_query.read(viewer("op_a", Role.OPERATOR, STREET_A), "zh", now=NOW).cards == []


def test_times_left_in_words():
    """/tasks says time left by the shared rule (ui.timeleft; its boundaries: tests/test_timeleft.py)."""
    assert time_left_text(2 * 3600 + 5 * 60 + 59, "zh") == "2小时5分"
    assert time_left_text(2 * 3600 + 5 * 60, "en") == "2h 5m"
    assert time_left_text(-45 * 60, "en") == "overdue 45m"
    assert time_left_text(27 * 3600, "zh") == "1天3小时"


# ---------------------------------------------------------------------------- the page and its callbacks


def _router(client, search: str = ""):
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": "/tasks"},
            {"id": "_pages_location", "property": "search", "value": search},
        ],
        "state": [],
        "changedPropIds": ["_pages_location.pathname"],
    }
    return client.post(CALLBACK, json=body)


def _output(app, fragment: str) -> str:
    return next(
        key for key, spec in app.extensions["dash"].callback_map.items() if fragment in key and spec.get("callback")
    )


def _step_body(app, step: dict | None, *, confirm=None, cancel=None, note=None, pending=None, lang="zh"):
    output = _output(app, ids.TASKS_PENDING)
    steps = [{"id": step, "property": "n_clicks", "value": 1}] if step else []
    inputs = [
        steps,
        {"id": ids.TASKS_CONFIRM, "property": "n_clicks", "value": confirm},
        {"id": ids.TASKS_CANCEL, "property": "n_clicks", "value": cancel},
    ]
    if step:
        changed = [json.dumps(step, sort_keys=True, separators=(",", ":")) + ".n_clicks"]
    else:
        changed = [f"{ids.TASKS_CONFIRM if confirm else ids.TASKS_CANCEL}.n_clicks"]
    return {
        "output": output,
        "outputs": [{"id": o["id"], "property": o["property"]} for o in _outputs(output)],
        "inputs": inputs,
        "state": [
            {"id": ids.TASKS_NOTE, "property": "value", "value": note},
            {"id": ids.TASKS_PENDING, "property": "data", "value": pending},
            {"id": ids.TASKS_LANG, "property": "data", "value": {"lang": lang, "focus": None}},
        ],
        "changedPropIds": changed,
    }


def _outputs(output: str) -> list[dict]:
    parts = [part.rsplit(".", 1) for part in output[2:-2].split("...")]
    return [{"id": part[0], "property": part[1].split("@")[0]} for part in parts]


def _post(client, body: dict):
    return client.post(CALLBACK, json=body)


def _result(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()["response"]


def _status(appeal_id: int) -> AppealStatus:
    with db.session() as session:
        return session.get(Appeal, appeal_id).status


def test_the_page_and_its_steps_for_a_handler(app, district):
    client = app.test_client()
    client.get("/")
    assert login(client, "handler_team_a").status_code == 302
    page = json.dumps(_result(_router(client)), ensure_ascii=False)
    assert "我的任务" in page and "甲街道的诉求2" in page and "乙街道" not in page
    assert not PHONE.search(page)
    # Another street's appeal by URL: not found, not shown.
    other = district.appeals["B-1"]
    focused = json.dumps(_result(_router(client, f"?appeal={other}")), ensure_ascii=False)
    assert "没有这条任务" in focused and "乙街道的诉求" not in focused
    # The console's appeal page is not the handler's either.
    appeal_page = client.post(CALLBACK, json=_router_body(f"/appeal/{other}"))
    assert "乙街道的诉求" not in appeal_page.get_data(as_text=True)

    a2 = district.appeals["A-2"]
    version = version_of(a2)
    start = {"type": ids.TASKS_STEP, "appeal": a2, "action": "start", "version": version}
    done = _result(_post(client, _step_body(app, start)))
    assert _status(a2) == AppealStatus.IN_PROGRESS
    assert "开始" in json.dumps(done, ensure_ascii=False) or "已" in json.dumps(done, ensure_ascii=False)
    # Resolve first asks for a note in the sheet; confirming without one keeps it open.
    resolve = {"type": ids.TASKS_STEP, "appeal": a2, "action": "resolve", "version": version + 1}
    opened = _result(_post(client, _step_body(app, resolve)))
    pending = opened[ids.TASKS_PENDING]["data"]
    assert pending == {"appeal": a2, "action": "resolve", "version": version + 1}
    assert opened[ids.TASKS_SHEET]["className"] == "tasks-sheet open"
    empty = _result(_post(client, _step_body(app, None, confirm=1, note=" ", pending=pending)))
    assert ids.TASKS_SHEET not in empty and _status(a2) == AppealStatus.IN_PROGRESS
    confirmed = _result(_post(client, _step_body(app, None, confirm=2, note="已上门调解", pending=pending)))
    assert confirmed[ids.TASKS_SHEET]["className"] == "tasks-sheet" and _status(a2) == AppealStatus.RESOLVED
    # A stale card (the version it showed is old) is refused with who changed it, and nothing is overwritten.
    a3 = district.appeals["A-3"]
    stale = {"type": ids.TASKS_STEP, "appeal": a3, "action": "start", "version": 1}
    assert version_of(a3) > 1
    refused = json.dumps(_result(_post(client, _step_body(app, stale))), ensure_ascii=False)
    assert "tasks-feedback-bad" in refused and _status(a3) == AppealStatus.DISPATCHED
    # A forged step on another team's appeal changes nothing.
    forged = {"type": ids.TASKS_STEP, "appeal": other, "action": "start", "version": 1}
    _result(_post(client, _step_body(app, forged)))
    assert _status(other) == AppealStatus.DISPATCHED
    # The list redraws (here: the minute's tick) without the resolved one.
    refresh = _output(app, ids.TASKS_LIST)
    body = {
        "output": refresh,
        "outputs": _outputs(refresh),
        "inputs": [
            {"id": ids.TASKS_SOCKET, "property": "data-task_delta", "value": None},
            {"id": ids.TASKS_SOCKET, "property": "connected", "value": True},
            {"id": ids.TASKS_TICK, "property": "n_intervals", "value": 1},
            {"id": ids.TASKS_CHANGED, "property": "data", "value": None},
        ],
        "state": [{"id": ids.TASKS_LANG, "property": "data", "value": {"lang": "en", "focus": None}}],
        "changedPropIds": [f"{ids.TASKS_TICK}.n_intervals"],
    }
    redrawn = json.dumps(_result(client.post(CALLBACK, json=body)), ensure_ascii=False)
    assert f"tasks-card-{a2}" not in redrawn and f"tasks-card-{a3}" in redrawn and "4 open" in redrawn


def _router_body(pathname: str) -> dict:
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "state": [],
        "changedPropIds": ["_pages_location.pathname"],
    }


@pytest.mark.parametrize("who", ["anonymous", "op_a", "viewer_a", "admin"])
def test_only_handlers_reach_the_task_page_and_its_callbacks(app, district, who):
    client = app.test_client()
    client.get("/")
    if who != "anonymous":
        assert login(client, who).status_code == 302
    page = json.dumps(_result(_router(client)), ensure_ascii=False)
    assert "甲街道的诉求" not in page and "我的任务" not in page
    start = {"type": ids.TASKS_STEP, "appeal": district.appeals["A-1"], "action": "start", "version": 1}
    response = _post(client, _step_body(app, start))
    assert response.status_code == (401 if who == "anonymous" else 403)
    assert _status(district.appeals["A-1"]) == AppealStatus.DISPATCHED


def test_a_handler_logs_in_to_its_task_list(app, district):
    client = app.test_client()
    assert login(client, "handler_team_a").headers["Location"].endswith("/tasks")
    other = app.test_client()
    assert login(other, "op_a").headers["Location"].endswith("/drill")


# ---------------------------------------------------------------------------- the socket


def _task_deltas(socket) -> list[dict]:
    return [d for m in socket.get_received() if m["name"] == "task_delta" for d in m["args"][0]["deltas"]]


def test_a_handlers_page_hears_its_own_appeals_only(app, district):
    socketio = app.extensions["socketio"]
    team_a_client, team_b_client = app.test_client(), app.test_client()
    login(team_a_client, "handler_team_a")
    login(team_b_client, "handler_b")
    team_a = socketio.test_client(app, flask_test_client=team_a_client, auth={"tasks": True})
    team_b = socketio.test_client(app, flask_test_client=team_b_client, auth={"tasks": True})
    assert team_a.is_connected() and team_b.is_connected()
    # Anyone else may not listen to a team: an operator's session, nobody's, a forged room name.
    operator_client = app.test_client()
    login(operator_client, "op_a")
    assert not socketio.test_client(app, flask_test_client=operator_client, auth={"tasks": True}).is_connected()
    assert not socketio.test_client(app, auth={"tasks": True}).is_connected()
    # The wall's socket is as it was.
    assert socketio.test_client(app, auth={"region": STREET_A}).is_connected()

    from dashboard.domain.vocab import TransitionAction
    from dashboard.services.actions import ActionRequest, act

    a1 = district.appeals["A-1"]
    version = version_of(a1)
    with app.test_request_context():
        handler = viewer("handler_team_a", Role.HANDLER, COMMUNITY_A, team_id=district.team_a)
        outcome = act(handler, a1, ActionRequest(TransitionAction.START, version))
    assert outcome.ok, outcome
    received = _task_deltas(team_a)
    assert [d["id"] for d in received] == [a1] and received[0]["status"] == "in_progress"
    assert received[0]["team_id"] == district.team_a
    assert _task_deltas(team_b) == []
    assert not PHONE.search(json.dumps(received))
    team_a.disconnect()
    team_b.disconnect()


# ---------------------------------------------------------------------------- handler accounts


def test_handler_accounts_need_one_department_or_team_within_their_region(app, district):
    with app.app_context():
        made = admin.create_user("admin", "patrol_a", None, "handler", None, PASSWORD, None, TEAM_A)
        assert made.region_code == COMMUNITY_A and made.team_code == TEAM_A and made.assignment == TEAM_A
        made = admin.create_user("admin", "urban_a", None, "handler", STREET_A, PASSWORD, DEPT_A, "")
        assert made.department_code == DEPT_A and made.region_code == STREET_A
        cases = [
            (("handler", None, None, None), "assignment", "assignment_required"),
            (("handler", None, DEPT_A, TEAM_A), "assignment", "assignment_both"),
            (("handler", None, "NO-SUCH", None), "department", "department_unknown"),
            (("handler", None, None, "510107001001/dancing"), "team", "team_unknown"),
            (("handler", None, None, "510107009009/patrol"), "team", "team_unknown"),
            (("handler", STREET_A, None, TEAM_B), "team", "assignment_outside"),
            (("handler", COMMUNITY_A, DEPT_A, None), "department", "assignment_outside"),
            (("supervisor", STREET_A, DEPT_A, None), "assignment", "assignment_not_handler"),
            (("admin", None, None, TEAM_A), "assignment", "assignment_not_handler"),
        ]
        for n, ((role, region, department, team), field, key) in enumerate(cases):
            with pytest.raises(AdminError) as caught:
                admin.create_user("admin", f"bad_{n}", None, role, region, PASSWORD, department, team)
            assert (caught.value.field, caught.value.key) == (field, key), (role, region, department, team)
            assert caught.value.message("zh") and caught.value.message("en")
        with db.session() as session:
            assert session.scalar(select(User.id).where(User.username.startswith("bad_"))) is None
            entry = session.scalar(select(AuditLog).where(AuditLog.target == "user:patrol_a"))
            assert entry is not None


def test_cli_adds_and_lists_handlers(runner, app, district):
    result = runner.invoke("users", "add", "--username", "patrol_cli", "--role", "handler", "--team", TEAM_A,
                           "--password", PASSWORD)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"({'handler'}, {COMMUNITY_A}, {TEAM_A})" in result.output
    listing = runner.invoke("users", "list").output
    assert f"patrol_cli\thandler\t{COMMUNITY_A}\tactive\t{TEAM_A}" in listing
    assert "op_a\toperator\t510107001\tactive\t-" in listing
    refused = runner.invoke("users", "add", "--username", "patrol_x", "--role", "handler", "--password", PASSWORD)
    assert refused.exit_code != 0 and "--department or --team" in refused.output
    refused = runner.invoke("users", "add", "--username", "patrol_y", "--role", "handler", "--team", "nope/patrol",
                            "--password", PASSWORD)  # fmt: skip
    assert refused.exit_code != 0 and "--team" in refused.output and "nope/patrol" in refused.output
    refused = runner.invoke("users", "add", "--username", "sup_x", "--role", "supervisor", "--region", STREET_A,
                            "--department", DEPT_A, "--password", PASSWORD)  # fmt: skip
    assert refused.exit_code != 0 and "--department or --team" in refused.output


def test_the_admin_page_creates_a_handler_of_a_team(app, district):
    client = app.test_client()
    client.get("/")
    login(client, "admin")
    output = _output(app, ids.ADMIN_USERS_TABLE)
    spec = app.extensions["dash"].callback_map[output]
    values = {
        f"{ids.ADMIN_USER_CREATE}.n_clicks": 1,
        f"{ids.ADMIN_USER_USERNAME}.value": "patrol_web",
        f"{ids.ADMIN_USER_ROLE}.value": "handler",
        f"{ids.ADMIN_USER_PASSWORD}.value": PASSWORD,
        f"{ids.ADMIN_USER_ASSIGNMENT}.value": f"team:{TEAM_A}",
        "admin-lang.data": "zh",
    }

    def items(dependencies):
        return [{"id": d["id"], "property": d["property"], "value": values.get(f"{d['id']}.{d['property']}")}
                for d in dependencies]  # fmt: skip

    body = {
        "output": output,
        "outputs": _outputs(output),
        "inputs": items(spec["inputs"]),
        "state": items(spec["state"]),
        "changedPropIds": [f"{ids.ADMIN_USER_CREATE}.n_clicks"],
    }
    made = json.dumps(_result(client.post(CALLBACK, json=body)), ensure_ascii=False)
    assert "patrol_web" in made and TEAM_A in made
    with app.app_context(), db.session() as session:
        user = session.scalar(select(User).where(User.username == "patrol_web"))
        assert user.role == Role.HANDLER and user.team_id == district.team_a and user.region_code == COMMUNITY_A
    values[f"{ids.ADMIN_USER_USERNAME}.value"] = "patrol_web2"
    values[f"{ids.ADMIN_USER_ASSIGNMENT}.value"] = None
    body["state"] = items(spec["state"])
    refused = json.dumps(_result(client.post(CALLBACK, json=body)), ensure_ascii=False)
    assert "处置人员必须指定" in refused
