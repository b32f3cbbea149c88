"""Callback inputs are checked before use (issue 18, findings 4 and 7).

A malformed body to POST /_dash-update-component is a 400 with a JSON reason, never a 500, and
no input can grow a per-key map without bound (the wall's resync kept a lock per key forever,
keyed by whatever `lang` a request sent). A genuine bug on valid input is still a 500.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from sqlalchemy import select

from callbacks import wall as wall_callbacks
from dashboard import create_app
from dashboard.domain.roles import Permission, Role
from dashboard.services import demo
from dashboard.store import migrate
from dashboard.store.database import db
from dashboard.store.models import Department, WallToken
from dashboard.web.access import hash_token
from tests.conftest import private_calendar_file
from tests.console_support import STREET_A, STREET_B, add_street_b, add_user, login

WALL_TOKEN = "wall_token_for_street_a_callback_inputs"
CALLBACK_PATH = "/_dash-update-component"
DEMO_END = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def hardened_app(directory, wall_token: str = WALL_TOKEN):
    """The app as in production (demo mode off) on SQLite: tiny demo data on street A, a street B,
    the users supervisor_a, supervisor_b and admin, and a wall token for street A."""
    url = f"sqlite:///{directory / 'callbacks.db'}"
    migrate.upgrade(url)
    app = create_app(
        {
            "DATABASE_URL": url,
            "TESTING": True,
            "SECRET_KEY": "callback-inputs-secret",
            "SCHEDULER_ENABLED": False,
            "DEMO_MODE": False,
            "EXPORT_DIR": str(directory / "exports"),
            "CALENDAR_OVERRIDE_FILE": private_calendar_file(directory),
        }
    )
    demo.generate(
        db,
        app.extensions["work_calendar"],
        app.extensions["sla_policy"],
        "callback-inputs-secret",
        scale="tiny",
        seed=5,
        end=DEMO_END,
        progress=lambda _line: None,
    )
    add_street_b(app)
    add_user("supervisor_a", Role.SUPERVISOR, STREET_A)
    add_user("supervisor_b", Role.SUPERVISOR, STREET_B)
    add_user("admin", Role.ADMIN, None)
    with db.session() as session:  # a handler of one of street A's departments (issue 16: /tasks)
        department = session.scalar(select(Department.id).where(Department.region_code.startswith(STREET_A)))
    add_user("handler_a", Role.HANDLER, STREET_A, department_id=department)
    with db.transaction() as tx:
        tx.add(WallToken(name="callbacks", token_hash=hash_token(wall_token), region_code=STREET_A))
    app.test_client().get("/")  # Dash registers its pages router on the first request
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = hardened_app(tmp_path_factory.mktemp("callback-inputs"))
    yield app
    db.engine.dispose()


@pytest.fixture(scope="module")
def admin(app):
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    return client


def _output(app, fragment: str) -> str:
    return next(key for key in app.extensions["dash"].callback_map if fragment in key)


def _outputs(output: str) -> list[dict] | dict:
    """The outputs as the renderer sends them: a list for "..a.p...b.q..", one object for "a.p"."""
    if not output.startswith(".."):
        component, prop = output.rsplit(".", 1)
        return {"id": component, "property": prop}
    return [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]} for part in output[2:-2].split("...")]


def body_for(app, fragment: str, values: dict | None = None, changed: list[str] | None = None) -> dict:
    """A well-formed body for the server callback whose output names fragment; values by "id.property"."""
    output = _output(app, fragment)
    spec = app.extensions["dash"].callback_map[output]
    values = values or {}

    def items(dependencies):
        return [
            {"id": d["id"], "property": d["property"], "value": values.get(f"{d['id']}.{d['property']}")}
            for d in dependencies
        ]

    inputs = items(spec["inputs"])
    return {
        "output": output,
        "outputs": _outputs(output),
        "inputs": inputs,
        "state": items(spec["state"]),
        "changedPropIds": changed if changed is not None else [f"{i['id']}.{i['property']}" for i in inputs[:1]],
    }


def wall_body(app, state: object, scale: object = 1.0) -> dict:
    return body_for(app, "wall-kpis", {"wall-refresh.data": 1, "wall-state.data": state, "wall-viewport.data": scale})


def grid_body(app, request: object, search: object = "") -> dict:
    return body_for(app, "drill-grid", {"drill-grid.getRowsRequest": request, "drill-url.search": search})


def router_body(app, pathname: object, search: object = "") -> dict:
    return body_for(app, "_pages_content", {"_pages_location.pathname": pathname, "_pages_location.search": search})


def assert_refused(response, *words: str) -> None:
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True)[:300])
    error = response.get_json()["error"]
    assert all(word in error for word in words), error


# ---------------------------------------------------------------------------- finding 4: unbounded memory


def test_a_huge_lang_is_refused_and_leaves_no_lock_behind(app):
    client = app.test_client()
    state = {"region": STREET_A, "lang": "x" * 512 * 1024, "token": WALL_TOKEN}
    for _ in range(3):
        assert_refused(client.post(CALLBACK_PATH, json=wall_body(app, state)), "state.lang")
    assert wall_callbacks._computing == {}


def test_the_resync_keeps_no_lock_per_key_once_answered(app):
    client = app.test_client()
    for n in range(20):
        state = {"region": STREET_A, "lang": ("zh", "en", "en-GB", "fr")[n % 4], "token": WALL_TOKEN}
        response = client.post(CALLBACK_PATH, json=wall_body(app, state, 0.5 + n / 10))
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert wall_callbacks._computing == {}
    # Every language tag becomes one of the two the wall speaks: the cache holds no others.
    assert {key[2] for key in wall_callbacks._resyncs._entries} <= {"zh", "en"}


def test_waiting_resyncs_share_one_computation_and_clean_up():
    import threading

    started, release = threading.Event(), threading.Event()
    calls = []

    def compute():
        calls.append(1)
        started.set()
        release.wait(5)
        return {"value": 1}

    key = ("test-db", "510107001", "zh", 1.0)
    results = []
    first = threading.Thread(target=lambda: results.append(wall_callbacks._shared_resync(key, compute)))
    first.start()
    started.wait(5)
    second = threading.Thread(target=lambda: results.append(wall_callbacks._shared_resync(key, compute)))
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    assert results == [{"value": 1}, {"value": 1}] and len(calls) == 1
    assert key not in wall_callbacks._computing
    wall_callbacks._resyncs.clear()


# ---------------------------------------------------------------------------- finding 7: malformed bodies


GOOD_STATE = {"region": STREET_A, "lang": "zh", "token": WALL_TOKEN}


@pytest.mark.parametrize(
    ("state", "scale", "words"),
    [
        ({"region": STREET_A, "lang": 5, "token": WALL_TOKEN}, 1.0, "state.lang"),
        ({"region": 5, "lang": "zh", "token": WALL_TOKEN}, 1.0, "state.region"),
        ({"region": "51010700x", "lang": "zh", "token": WALL_TOKEN}, 1.0, "state.region"),
        ({"region": STREET_A, "lang": "zh", "token": {"a": 1}}, 1.0, "state.token"),
        ({"region": STREET_A, "lang": "zh", "token": "t" * 10_000}, 1.0, "state.token"),
        ("a string", 1.0, "state"),
        ([GOOD_STATE], 1.0, "state"),
        (GOOD_STATE, "abc", "scale"),
        (GOOD_STATE, 10**400, "scale"),
        (GOOD_STATE, float("nan"), "scale"),
        (GOOD_STATE, float("inf"), "scale"),
        (GOOD_STATE, [1.0], "scale"),
        (GOOD_STATE, True, "scale"),
    ],
)
def test_wrongly_typed_wall_state_is_a_400(app, state, scale, words):
    assert_refused(app.test_client().post(CALLBACK_PATH, json=wall_body(app, state, scale)), words)


def test_a_wall_state_without_lang_or_region_is_answered(app):
    client = app.test_client()
    for state in ({"region": STREET_A, "token": WALL_TOKEN}, {"lang": "en", "token": WALL_TOKEN}):
        response = client.post(CALLBACK_PATH, json=wall_body(app, state))
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert client.post(CALLBACK_PATH, json=wall_body(app, None)).status_code == 204


@pytest.mark.parametrize(
    ("request_", "search", "words"),
    [
        ({"startRow": 0, "endRow": 10, "sortModel": "deadline_at"}, "", "sortModel"),
        ({"startRow": 0, "endRow": 10, "sortModel": {"colId": "id"}}, "", "sortModel"),
        ({"startRow": 0, "endRow": 10, "sortModel": ["id"]}, "", "sortModel"),
        ({"startRow": 0, "endRow": 10, "sortModel": [{"colId": ["id"], "sort": "asc"}]}, "", "sortModel.colId"),
        ({"startRow": 0, "endRow": 10, "sortModel": [{"colId": "id", "sort": "up"}]}, "", "sortModel.sort"),
        ({"startRow": "0", "endRow": 10}, "", "startRow"),
        ({"startRow": 1.5, "endRow": 10}, "", "startRow"),
        ({"startRow": 10**30, "endRow": 10**30 + 100}, "", "startRow"),
        ({"startRow": -5, "endRow": 10}, "", "startRow"),
        ({"startRow": 0, "endRow": 10**30}, "", "endRow"),
        ({"startRow": 0, "endRow": 10, "filterModel": "garbage"}, "", "filterModel"),
        ({"startRow": 0, "endRow": 10, "filterModel": [1, 2]}, "", "filterModel"),
        ("rows please", "", "getRowsRequest"),
        ([0, 100], "", "getRowsRequest"),
        ({"startRow": 0, "endRow": 10}, 5, "search"),
        ({"startRow": 0, "endRow": 10}, ["?region=510107001"], "search"),
        ({"startRow": 0, "endRow": 10}, "?q=" + "x" * 10_000, "search"),
    ],
)
def test_a_malformed_grid_request_is_a_400(app, admin, request_, search, words):
    assert_refused(admin.post(CALLBACK_PATH, json=grid_body(app, request_, search)), words)


def test_a_well_formed_grid_request_still_pages(app, admin):
    request_ = {"startRow": 0, "endRow": 5, "sortModel": [{"colId": "deadline_at", "sort": "asc"}], "filterModel": {}}
    response = admin.post(CALLBACK_PATH, json=grid_body(app, request_))
    assert response.status_code == 200
    assert len(response.get_json()["response"]["drill-grid"]["getRowsResponse"]["rowData"]) == 5


@pytest.mark.parametrize(
    ("trigger", "value", "words"),
    [
        ("drill-children.clickData", "510107001001", "children"),
        ("drill-children.clickData", {"points": "all"}, "children.points"),
        ("drill-map.clickData", {"points": ["510107001001"]}, "map.points"),
        ("drill-children.clickData", {"points": [{"customdata": {"code": 1}}]}, "children"),
        ("drill-children.clickData", {"points": [{"customdata": "5101070019"}]}, "children"),
        ("drill-by-category.clickData", {"points": [{"customdata": [["noise"]]}]}, "category_click"),
        ("drill-dates.start_date", 20261101, "start_date"),
        ("drill-filter-category.value", 5, "category"),
        ("drill-filter-category.value", [["noise"]], "category"),
        ("drill-overdue.value", {"1": True}, "overdue"),
        ("drill-clear.n_clicks", "once", "clear"),
        ("drill-grid-text.value", ["words"], "text"),
        ("drill-grid-text.value", 5, "text"),
    ],
)
def test_a_malformed_drill_input_is_a_400(app, admin, trigger, value, words):
    body = body_for(app, "drill-url.search", {trigger: value, "drill-url.search": ""}, changed=[trigger])
    assert_refused(admin.post(CALLBACK_PATH, json=body), words)


def test_a_drill_click_still_navigates(app, admin):
    click = {"points": [{"customdata": "510107001001"}]}
    body = body_for(app, "drill-url.search", {"drill-children.clickData": click}, changed=["drill-children.clickData"])
    response = admin.post(CALLBACK_PATH, json=body)
    assert response.status_code == 200
    assert "region=510107001001" in response.get_json()["response"]["drill-url"]["search"]


@pytest.mark.parametrize(
    ("pathname", "search", "words"),
    [
        (5, "", "pathname"),
        (None, "", "pathname"),
        (["/drill"], "", "pathname"),
        ("/" + "d" * 5000, "", "pathname"),
        ("/drill", 5, "search"),
        ("/drill", ["?lang=en"], "search"),
        ("/drill", "?lang=en&lang=zh", "lang"),
        ("/wall", f"?region={STREET_A}&region={STREET_B}&token={WALL_TOKEN}", "region"),
        ("/wall", "?token=a&token=b", "token"),
        ("/appeal/1", "?appeal_id=1&appeal_id=2", "appeal_id"),
        ("/", "?lang=en&lang=en", "lang"),
    ],
)
def test_the_pages_router_refuses_what_no_browser_sends(app, admin, pathname, search, words):
    assert_refused(admin.post(CALLBACK_PATH, json=router_body(app, pathname, search)), words)


@pytest.mark.parametrize("pathname", ["/appeal/" + "9" * 30, "/appeal/" + "9" * 2000, "/appeal/١٢"])
def test_an_appeal_number_no_database_holds_looks_missing(app, admin, pathname):
    response = admin.post(CALLBACK_PATH, json=router_body(app, pathname))
    assert response.status_code == 200
    assert "appeal-timeline" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("appeal", "purpose", "clicks", "words"),
    [
        ({"id": "9" * 5000, "lang": "en"}, "a stated purpose", 1, "appeal.id"),
        ({"id": 10**30, "lang": "en"}, "a stated purpose", 1, "appeal.id"),
        ({"id": [1], "lang": "en"}, "a stated purpose", 1, "appeal.id"),
        ({"lang": "en"}, "a stated purpose", 1, "appeal.id"),
        ({"id": 1, "lang": ["en"]}, "a stated purpose", 1, "appeal.lang"),
        ({"id": 1, "lang": "en"}, ["a stated purpose"], 1, "purpose"),
        ({"id": 1, "lang": "en"}, "a stated purpose", "1", "n_clicks"),
        ("appeal 1", "a stated purpose", 1, "appeal"),
    ],
)
def test_a_malformed_unmask_is_a_400(app, admin, appeal, purpose, clicks, words):
    body = body_for(
        app,
        "appeal-unmasked",
        {"appeal-unmask-button.n_clicks": clicks, "appeal-unmask-purpose.value": purpose, "appeal-id.data": appeal},
    )
    assert_refused(admin.post(CALLBACK_PATH, json=body), words)


def _mutations():
    def drop(key):
        return lambda body: body.pop(key)

    def replace(key, value):
        return lambda body: body.__setitem__(key, value)

    return {
        "no outputs": (drop("outputs"), "outputs"),
        "no inputs": (drop("inputs"), "inputs"),
        "no state": (drop("state"), "state"),
        "inputs not a list": (replace("inputs", {"id": "wall-refresh", "property": "data"}), "inputs"),
        "inputs empty": (replace("inputs", []), "inputs"),
        "inputs of numbers": (replace("inputs", [1]), "inputs[0]"),
        "input without id": (replace("inputs", [{"property": "data", "value": 1}]), "inputs[0]"),
        "input of another component": (replace("inputs", [{"id": "x", "property": "data", "value": 1}]), "inputs[0]"),
        "inputs nested once more": (lambda body: body.__setitem__("inputs", [body["inputs"]]), "inputs[0]"),
        "state not a list": (replace("state", "state"), "state"),
        "state short": (lambda body: body["state"].pop(), "state"),
        "outputs not a list": (replace("outputs", "wall-kpis.children"), "outputs"),
        "outputs empty": (replace("outputs", []), "outputs"),
        "outputs of numbers": (lambda body: body.__setitem__("outputs", [1] * len(body["outputs"])), "outputs[0]"),
        "changedPropIds not a list": (replace("changedPropIds", "wall-refresh.data"), "changedPropIds"),
        "changedPropIds of numbers": (replace("changedPropIds", [1]), "changedPropIds"),
        "changedPropIds of another input": (replace("changedPropIds", ['{"bad.n_clicks']), "changedPropIds"),
    }


@pytest.mark.parametrize("mutation", list(_mutations()))
def test_a_body_of_the_wrong_shape_is_a_400(app, mutation):
    mutate, words = _mutations()[mutation]
    body = wall_body(app, GOOD_STATE)
    mutate(body)
    assert_refused(app.test_client().post(CALLBACK_PATH, json=body), words)


def test_a_trigger_that_is_not_an_input_is_a_400_for_ctx_users(app, admin):
    # ctx.triggered_id parses an id starting with "{" as JSON: a made-up one raised inside Dash.
    body = body_for(app, "admin-audit-table", {"admin-lang.data": "zh"}, changed=['{"no json.n_clicks'])
    assert_refused(admin.post(CALLBACK_PATH, json=body), "changedPropIds")
    body = body_for(app, "drill-url.search", {}, changed=['{"no json.clickData'])
    assert_refused(admin.post(CALLBACK_PATH, json=body), "changedPropIds")


def test_the_permission_guard_answers_before_the_shape_check(app):
    anonymous = app.test_client()
    body = body_for(app, "admin-audit-table")
    del body["inputs"]
    assert anonymous.post(CALLBACK_PATH, json=body).status_code == 401
    supervisor = app.test_client()
    login(supervisor, "supervisor_a")
    assert supervisor.post(CALLBACK_PATH, json=body).status_code == 403
    assert anonymous.post(CALLBACK_PATH, json={"output": "nowhere.children"}).status_code == 403


def test_a_bug_on_valid_input_is_still_a_500(app, monkeypatch):
    def broken(*_args):
        raise KeyError("a genuine bug")

    monkeypatch.setattr(wall_callbacks, "_resync", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    wall_callbacks._resyncs.clear()
    response = app.test_client().post(CALLBACK_PATH, json=wall_body(app, GOOD_STATE, 1.23))
    assert response.status_code == 500
    assert wall_callbacks._computing == {}


def test_well_formed_bodies_of_every_callback_still_work(app, admin):
    """The checks let through what the renderer sends: each server callback answers (204 for no change)."""
    handler = app.test_client()  # the task page's callbacks are a handler's (issue 16)
    assert login(handler, "handler_a").status_code == 302
    permissions = app.extensions["callback_permissions"]
    for output, spec in app.extensions["dash"].callback_map.items():
        if spec.get("callback") is None:
            continue
        body = body_for(app, output, {"_pages_location.pathname": "/drill", "_pages_location.search": ""})
        client = handler if permissions.get(output) == Permission.TASKS else admin
        response = client.post(CALLBACK_PATH, json=copy.deepcopy(body))
        assert response.status_code in (200, 204), (output, response.get_data(as_text=True)[:300])


# ---------------------------------------------------------------------------- the helpers


def test_language_is_zh_or_en_or_refused():
    from dashboard.web import callback_inputs as valid

    assert valid.language(None) == "zh" and valid.language("en-GB") == "en" and valid.language("fr") == "zh"
    for bad in (5, ["en"], "e" * (valid.MAX_LANGUAGE_LENGTH + 1)):
        with pytest.raises(valid.CallbackInputError):
            valid.language(bad)


def test_region_codes_numbers_and_integers():
    from dashboard.web import callback_inputs as valid

    assert valid.region_code(STREET_A) == STREET_A and valid.region_code("", optional=True) is None
    for bad in ("", "51010", "51010700１", 510107001, None):
        with pytest.raises(valid.CallbackInputError):
            valid.region_code(bad)
    assert valid.number(None, "scale", default=1.0) == 1.0 and valid.number(2, "scale", default=1.0) == 2.0
    for bad in (float("nan"), float("-inf"), 10**400, True, "1"):
        with pytest.raises(valid.CallbackInputError):
            valid.number(bad, "scale", default=1.0)
    assert valid.integer(None, "row", default=3) == 3 and valid.integer(7, "row") == 7
    for bad in (-1, valid.MAX_ID + 1, 1.0, False, "7"):
        with pytest.raises(valid.CallbackInputError):
            valid.integer(bad, "row")
    assert valid.strings("noise", "category") == ["noise"] and valid.strings(None, "category") == []
    for bad in (5, [5], ["x" * 101], ["x"] * (valid.MAX_LIST_ITEMS + 1), {"a": "b"}):
        with pytest.raises(valid.CallbackInputError):
            valid.strings(bad, "category")
