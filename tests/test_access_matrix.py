"""Every route, Dash callback and socket event × every kind of visitor, with the expected answer.

Visitors: anonymous, a wall device (a token for street A, no session), the supervisor of
street A, the supervisor of street B, the duty operator, a handler (a department of street A) and
a viewer (a leader) of street A, an admin: every role of domain.roles. The app runs with demo mode off, as in
production. A route or callback missing from the tables below fails the test: adding one
means deciding here who may use it.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from dashboard import create_app
from dashboard.domain.roles import Role
from dashboard.services import demo
from dashboard.store.database import db
from dashboard.store.models import Appeal, DailyExport, Department, User, WallToken
from dashboard.web.access import hash_token
from dashboard.web.auth import Permission, _callback_permissions
from tests.conftest import private_calendar_file
from tests.console_support import COMPOUND_B, PHONE_B, STREET_A, STREET_B, add_street_b, add_user, dash_callback, login

VISITORS = ("anonymous", "wall", "supervisor_a", "supervisor_b", "operator_a", "handler_a", "viewer_a", "admin")
ACCOUNTS = ("supervisor_a", "supervisor_b", "operator_a", "handler_a", "viewer_a", "admin")
WALL_TOKEN = "wall_matrix_token_for_street_a"
ALLOWED, DENIED = "allow", "deny"
SCOPED_TO_A_STREET = ("supervisor_a", "supervisor_b", "operator_a", "viewer_a")

# Endpoint → the permission class it belongs to (who may call it follows from the class).
ENDPOINTS: dict[str, Permission] = {
    "static": Permission.PUBLIC,
    "_dash_assets.static": Permission.PUBLIC,
    "health.healthz": Permission.PUBLIC,
    "metrics.scrape": Permission.API_KEY,  # a bearer token or an allowed address, checked by the view: nobody here
    "wall_health.report": Permission.WALL,  # the wall's token, checked by the view
    "auth.login": Permission.PUBLIC,
    "auth.logout": Permission.PUBLIC,
    "api_v1.openapi_document": Permission.PUBLIC,  # the API's description, no data
    "api_v1.no_such_route": Permission.API_KEY,
    "api_v1.ingest_appeals": Permission.API_KEY,
    "api_v1.post_transition": Permission.API_KEY,
    "api_v1.kpis": Permission.API_KEY,
    "api_v1.list_quarantine": Permission.API_KEY,
    "api_v1.list_alerts": Permission.API_KEY,  # issue 19
    "api_v1.replay_quarantined": Permission.API_KEY,
    "open311.services": Permission.PUBLIC,
    "open311.service_definition": Permission.PUBLIC,
    "open311.list_requests": Permission.PUBLIC,
    "open311.get_request": Permission.PUBLIC,
    "open311.post_request": Permission.API_KEY,
    "console.export_list": Permission.EXPORT,
    "console.download_export": Permission.EXPORT,
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": Permission.PUBLIC,
    "/_dash-layout": Permission.PUBLIC,
    "/_dash-dependencies": Permission.PUBLIC,
    "/_dash-update-component": Permission.PUBLIC,  # each callback is checked by its own declaration
    "/_reload-hash": Permission.PUBLIC,
    "/_favicon.ico": Permission.PUBLIC,
    "/": Permission.PUBLIC,
    "/<path:path>": Permission.PUBLIC,
}
# Who holds each permission class (API_KEY: nobody here holds a key; WALL: a valid token).
HOLDERS = {
    Permission.PUBLIC: set(VISITORS),
    Permission.API_KEY: set(),
    Permission.WALL: {"wall"},
    Permission.CONSOLE: {"supervisor_a", "supervisor_b", "operator_a", "viewer_a", "admin"},
    Permission.EXPORT: {"supervisor_a", "supervisor_b", "operator_a", "viewer_a", "admin"},
    Permission.ACT: {"supervisor_a", "supervisor_b", "operator_a", "handler_a", "admin"},
    Permission.TASKS: {"handler_a"},
    Permission.ADMIN: {"admin"},
    Permission.UNMASK: {"admin"},
}


@pytest.fixture
def secure_app(database_url, tmp_path):
    """The app as in production (no demo mode), with two streets, users, a wall token and an export."""
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": "matrix-secret",
            "SCHEDULER_ENABLED": False,
            "DEMO_MODE": False,
            "EXPORT_DIR": str(tmp_path / "exports"),
            "CALENDAR_OVERRIDE_FILE": private_calendar_file(tmp_path),
        }
    )
    demo.generate(
        db,
        app.extensions["work_calendar"],
        app.extensions["sla_policy"],
        "matrix-secret",
        scale="tiny",
        seed=5,
        end=dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC),
        progress=lambda _line: None,
    )
    add_street_b(app)
    add_user("supervisor_a", Role.SUPERVISOR, STREET_A)
    add_user("supervisor_b", Role.SUPERVISOR, STREET_B)
    add_user("admin", Role.ADMIN, None)
    add_user("operator_a", Role.OPERATOR, STREET_A)
    add_user("viewer_a", Role.VIEWER, STREET_A)
    with db.session() as session:
        department_a = session.scalar(
            select(Department.id).where(Department.region_code.startswith(STREET_A)).order_by(Department.id)
        )
    add_user("handler_a", Role.HANDLER, STREET_A, department_id=department_a)
    with db.transaction() as tx:
        tx.add(WallToken(name="matrix", token_hash=hash_token(WALL_TOKEN), region_code=STREET_A))
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "kpi_2026-11-19.csv").write_text("date\n2026-11-19\n")
    with db.transaction() as tx:
        tx.add(
            DailyExport(
                day=dt.date(2026, 11, 19),
                holder="test",
                finished_at=dt.datetime.now(dt.UTC),
                files=["kpi_2026-11-19.csv"],
            )
        )
    yield app
    db.engine.dispose()


def _client(app, visitor: str):
    client = app.test_client()
    # Each visitor from its own address: the log-in rate limit counts per address.
    client.environ_base["REMOTE_ADDR"] = f"10.0.0.{VISITORS.index(visitor) + 1}"
    if visitor in ACCOUNTS:
        assert login(client, visitor).status_code == 302
    return client


def _b_appeal() -> int:
    with db.session() as session:
        return session.scalar(select(Appeal.id).where(Appeal.region_code == COMPOUND_B).order_by(Appeal.id))


def _sample_url(rule: str, appeal_id: int) -> str:
    samples = {
        "<int:appeal_id>": str(appeal_id),
        "<int:record_id>": "1",
        "<fmt>": "csv" if rule.startswith("/drill") else "json",
        "<service_code>": "noise",
        "<request_id>": str(appeal_id),
        "<day>": "2026-11-19",
        "<name>": "kpi_2026-11-19.csv",
        "<path:filename>": "console.css",
        "<path:path>": "drill",
        "<path:unknown>": "nothing-here",
        "<string:package_name>": "dash",
        "<path:fingerprinted_path>": "dash-renderer/build/dash_renderer.min.js",
    }
    for pattern, value in samples.items():
        rule = rule.replace(pattern, value)
    assert "<" not in rule, f"no sample value for {rule}"
    return rule


def _outcome(status: int) -> str:
    if status in (401, 403) or (status == 302):
        return DENIED
    return ALLOWED


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_route(secure_app, visitor):
    client = _client(secure_app, visitor)
    appeal_id = _b_appeal()
    unknown = sorted({r.endpoint for r in secure_app.url_map.iter_rules()} - set(ENDPOINTS))
    assert not unknown, f"routes missing from the access matrix: {unknown}"
    for rule in secure_app.url_map.iter_rules():
        if rule.endpoint in ("auth.logout", "/_dash-update-component"):
            continue  # tested below: logout would end the session; callbacks have their own matrix
        method = "GET" if "GET" in rule.methods else "POST"
        url = _sample_url(rule.rule, appeal_id)
        if visitor == "wall":
            url += ("&" if "?" in url else "?") + f"token={WALL_TOKEN}"
        response = client.open(url, method=method, json={} if method == "POST" else None)
        permission = ENDPOINTS[rule.endpoint]
        expected = ALLOWED if visitor in HOLDERS[permission] else DENIED
        if rule.endpoint == "console.download_export" and visitor in SCOPED_TO_A_STREET:
            expected = DENIED  # district-wide files need district scope (scoped.csv is theirs)
        if rule.endpoint == "console.export_list" and visitor in SCOPED_TO_A_STREET:
            # The export defaults to the supervisor's own region: allowed.
            expected = ALLOWED
        assert _outcome(response.status_code) == expected, (visitor, rule.rule, method, response.status_code)


def _callback_body(app, output: str) -> dict:
    spec = app.extensions["dash"].callback_map[output]
    # Dash's pages router needs a path; every other input starts empty.
    samples = {("_pages_location", "pathname"): "/drill", ("_pages_location", "search"): ""}
    return {
        "inputs": [
            {"id": i["id"], "property": i["property"], "value": samples.get((i["id"], i["property"]))}
            for i in spec["inputs"]
        ],
        "state": [{"id": s["id"], "property": s["property"], "value": None} for s in spec["state"]],
    }


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_dash_callback(secure_app, visitor):
    client = _client(secure_app, visitor)
    dash_app = secure_app.extensions["dash"]
    server_callbacks = [key for key, spec in dash_app.callback_map.items() if spec.get("callback") is not None]
    assert len(server_callbacks) >= 5
    for output in server_callbacks:
        permission = _callback_permissions(secure_app).get(output)
        assert permission is not None or "_pages_content" in output, f"callback {output} declares no permission"
        body = _callback_body(secure_app, output)
        response = dash_callback(client, output, body["inputs"], body["state"])
        if permission is None:  # Dash's own pages router: the layouts it renders are guarded
            assert response.status_code not in (401, 403)
            continue
        expected = ALLOWED if visitor in HOLDERS[permission] or permission == Permission.WALL else DENIED
        assert _outcome(response.status_code) == expected, (visitor, output, response.status_code)
        assert response.status_code != 500, (visitor, output, response.get_data(as_text=True)[:300])


def test_an_undeclared_callback_output_is_refused_for_everyone(secure_app):
    for visitor in VISITORS:
        response = dash_callback(
            _client(secure_app, visitor), "no-such.children", [{"id": "x", "property": "value", "value": 1}]
        )
        assert response.status_code in (401, 403)


def test_pages_render_only_for_their_permission(secure_app):
    from flask import g

    from callbacks import admin, alerts, drill, exports, tasks
    from dashboard.web.auth import Principal, guarded_layout

    with db.session() as session:
        department_a = session.scalar(select(User.department_id).where(User.username == "handler_a"))
    principals = {
        "anonymous": Principal(),
        "supervisor_a": Principal(user_id=1, username="a", role=Role.SUPERVISOR, region_code=STREET_A),
        "operator_a": Principal(user_id=4, username="o", role=Role.OPERATOR, region_code=STREET_A),
        "viewer_a": Principal(user_id=5, username="v", role=Role.VIEWER, region_code=STREET_A),
        "handler_a": Principal(
            user_id=6, username="h", role=Role.HANDLER, region_code=STREET_A, department_id=department_a
        ),
        "admin": Principal(user_id=3, username="admin", role=Role.ADMIN),
    }
    pages = {
        "drill": (drill.page, Permission.CONSOLE),
        "exports": (exports.page, Permission.EXPORT),
        "admin": (admin.page, Permission.ADMIN),
        "tasks": (tasks.page, Permission.TASKS),
        "alerts": (alerts.page, Permission.CONSOLE),  # issue 19
    }
    for visitor, principal in principals.items():
        for name, (layout, permission) in pages.items():
            with secure_app.test_request_context(f"/{name}"):
                g._login_user = principal
                text = str(guarded_layout(permission, layout)())
            denied = "console-denied" in text
            assert denied == (not principal.can(permission)), (visitor, name)


def test_supervisor_a_gets_nothing_of_street_b(secure_app):
    a = _client(secure_app, "supervisor_a")
    b = _client(secure_app, "supervisor_b")
    appeal_id = _b_appeal()
    for client, expected in ((a, 403), (b, 200)):
        assert client.get(f"/drill/export.csv?region={STREET_B}&from=2026-11-01&to=2026-11-20").status_code == expected
    own = a.get("/drill/export.csv?from=2026-11-01&to=2026-11-20").get_data(as_text=True)
    assert "乙" not in own
    search = f"?region={COMPOUND_B}&from=2026-11-01&to=2026-11-20"
    for client, has_rows in ((a, False), (b, True)):
        response = dash_callback(
            client,
            "..drill-grid.getRowsResponse..",
            [{"id": "drill-grid", "property": "getRowsRequest", "value": {"startRow": 0, "endRow": 50}}],
            [{"id": "drill-url", "property": "search", "value": search}],
        )
        rows = response.get_json()["response"]["drill-grid"]["getRowsResponse"] if response.status_code == 200 else {}
        assert (rows.get("rowCount") == 3) == has_rows, response.status_code
    # The KPI export of a day: supervisors get only their own rows, through scoped.csv.
    from dashboard.services.exports import produce_day

    produce_day(
        db,
        secure_app.extensions["work_calendar"],
        dt.date(2026, 11, 18),
        __import__("pathlib").Path(secure_app.config["EXPORT_DIR"]),
    )
    scoped = a.get("/exports/2026-11-18/scoped.csv").get_data(as_text=True)
    assert STREET_A in scoped and STREET_B not in scoped and "510107," not in scoped
    # The appeal page of street B's appeal, rendered for each supervisor.
    from flask import g

    from callbacks import appeal
    from dashboard.web.auth import Principal

    for region, visible in ((STREET_A, False), (STREET_B, True)):
        with secure_app.test_request_context(f"/appeal/{appeal_id}"):
            g._login_user = Principal(user_id=9, username="x", role=Role.SUPERVISOR, region_code=region)
            text = str(appeal.page(appeal_id=str(appeal_id)))
        assert ("appeal-timeline" in text) == visible
        assert PHONE_B not in text


def test_sockets(secure_app):
    # No token: refused, whoever the browser's session belongs to.
    for visitor in VISITORS:
        flask_client = _client(secure_app, visitor)
        socket = secure_app.extensions["socketio"].test_client(
            secure_app, flask_test_client=flask_client, auth={"region": STREET_A}
        )
        assert not socket.is_connected(), visitor
    # A /tasks page's socket: only a handler's session joins (its department's and team's rooms).
    for visitor in VISITORS:
        socket = secure_app.extensions["socketio"].test_client(
            secure_app, flask_test_client=_client(secure_app, visitor), auth={"tasks": True}
        )
        assert socket.is_connected() == (visitor == "handler_a"), visitor
        if socket.is_connected():
            socket.disconnect()
    own = secure_app.extensions["socketio"].test_client(secure_app, auth={"region": STREET_A, "token": WALL_TOKEN})
    other = secure_app.extensions["socketio"].test_client(secure_app, auth={"region": STREET_B, "token": WALL_TOKEN})
    assert own.is_connected() and not other.is_connected()
    own.disconnect()


def test_logout_needs_the_csrf_token(secure_app):
    client = _client(secure_app, "admin")
    assert client.post("/logout").status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/drill/export.csv").status_code == 302


# Issue 15: the administration page's upload (imports) and working-day calendar callbacks; each
# visitor's answer is checked with every other callback in test_every_dash_callback.
ISSUE_15_CALLBACKS = {"admin-import-report": Permission.ADMIN, "admin-calendar-view": Permission.ADMIN}


def test_issue_15_callbacks_are_the_admins_alone(secure_app):
    permissions = _callback_permissions(secure_app)
    for component, permission in ISSUE_15_CALLBACKS.items():
        outputs = [output for output in permissions if f"{component}." in output]
        assert len(outputs) == 1, (component, outputs)
        assert permissions[outputs[0]] == permission
        for visitor in VISITORS:
            body = _callback_body(secure_app, outputs[0])
            response = dash_callback(_client(secure_app, visitor), outputs[0], body["inputs"], body["state"])
            expected = ALLOWED if visitor in HOLDERS[permission] else DENIED
            assert _outcome(response.status_code) == expected, (visitor, component, response.status_code)


def test_a_viewer_sees_the_appeal_but_can_neither_unmask_nor_act(secure_app):
    """Leaders see every chart and appeal of their region, masked, with no unmask control and no steps."""
    from flask import g

    from callbacks import appeal
    from dashboard.ui import ids
    from dashboard.web.auth import Principal

    with db.session() as session:
        appeal_id = session.scalar(
            select(Appeal.id).where(Appeal.region_code.startswith(STREET_A), Appeal.is_open).order_by(Appeal.id)
        )
    shown = {}
    for role in (Role.VIEWER, Role.OPERATOR):
        with secure_app.test_request_context(f"/appeal/{appeal_id}"):
            g._login_user = Principal(user_id=9, username="x", role=role, region_code=STREET_A)
            shown[role] = str(appeal.page(appeal_id=str(appeal_id)))
    assert "appeal-timeline" in shown[Role.VIEWER]
    assert ids.APPEAL_UNMASK_BUTTON not in shown[Role.VIEWER] and ids.APPEAL_UNMASK_BUTTON not in shown[Role.OPERATOR]
    assert "appeal-action" not in shown[Role.VIEWER]
    assert "appeal-action" in shown[Role.OPERATOR]  # the operator gets the steps the lifecycle allows now
    # Asking the server to unmask anyway is refused by the guard before any data is read.
    response = dash_callback(
        _client(secure_app, "viewer_a"),
        f"{ids.APPEAL_UNMASKED}.children",
        [{"id": ids.APPEAL_UNMASK_BUTTON, "property": "n_clicks", "value": 1}],
        [
            {"id": ids.APPEAL_UNMASK_PURPOSE, "property": "value", "value": "checking the reporter"},
            {"id": ids.APPEAL_ID, "property": "data", "value": {"id": appeal_id, "lang": "zh"}},
        ],
    )
    assert response.status_code == 403
