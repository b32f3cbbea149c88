"""Issue 19, the surfaces of early warning: the read models (wall, console, API, export), GET /api/v1/alerts
with its key scope, the daily export's alerts, and the console's acknowledge/close with their permissions.

Alerts are inserted directly (the engine's job is tested in its own module); both backends.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pytest
from flask import g
from sqlalchemy import select

from dashboard.domain.roles import Role
from dashboard.queries import alerts as alerts_query
from dashboard.services import admin
from dashboard.services.exports import produce_day
from dashboard.store.database import db
from dashboard.store.models import Alert, Appeal
from dashboard.ui import ids
from dashboard.ui.chrome import Viewer
from dashboard.web.auth import Principal
from tests.console_support import COMPOUND_B, STREET_A, STREET_B, add_street_b, add_user, dash_callback, login

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
COMMUNITY_A = STREET_A + "001"
COMPOUND_A = COMMUNITY_A + "001"
PHONE = "13812345678"


def _at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(dt.UTC)


def _add(kind: str, region: str, raised: dt.datetime, status: str = "new", **extra) -> int:
    details = {
        "surge": {"level": "community", "observed": 14, "expected": 2.5, "p_value": 1e-7, "weeks": 8},
        "repeat": {"basis": "compound", "count": 4, "days": 7, "appeal_ids": [1, 2, 3, 4]},
        "at_risk": {"fraction_left": 0.1, "hours_left": 2.0, "open_load": 30, "median_load": 12.0, "median_days": 30},
    }[kind]
    with db.transaction() as session:
        alert = Alert(
            kind=kind,
            key=f"{kind}:{region}:{raised.isoformat()}:{extra.get('appeal_id')}",
            status=status,
            region_code=region,
            category=extra.pop("category", "noise"),
            details=details,
            raised_at=raised,
            last_seen_at=raised,
            **extra,
        )
        session.add(alert)
        session.flush()
        return alert.id


@pytest.fixture
def alerts_app(demo_app):
    """The tiny demo (street A) and street B, users of both, and alerts of every kind and status."""
    add_street_b(demo_app)
    for name, role, region in (
        ("operator_a", Role.OPERATOR, STREET_A),
        ("supervisor_b", Role.SUPERVISOR, STREET_B),
        ("viewer_a", Role.VIEWER, STREET_A),
        ("admin", Role.ADMIN, None),
    ):
        add_user(name, role, region)
    with db.session() as session:
        appeal_id = session.scalar(select(Appeal.id).where(Appeal.region_code.startswith(STREET_A)).order_by(Appeal.id))
        department = session.scalar(select(Appeal.department_id).where(Appeal.department_id.is_not(None)).limit(1))
    add_user("handler_a", Role.HANDLER, STREET_A, department_id=department)
    demo_app.alert_ids = {
        "surge_a": _add("surge", COMMUNITY_A, _at(19, 10)),
        "repeat_b": _add("repeat", COMPOUND_B, _at(19, 11)),
        "at_risk_a": _add("at_risk", COMPOUND_A, _at(19, 12), appeal_id=appeal_id, status="acknowledged"),
        "closed_a": _add(
            "surge", COMMUNITY_A, _at(18, 9), status="closed", closed_by="operator_a", close_note=f"回电 {PHONE}"
        ),
        "repeat_a_old": _add("repeat", COMPOUND_A, _at(17, 23, 30), category="road_facilities"),
    }
    demo_app.appeal_id = appeal_id
    return demo_app


def _viewer(role: Role, region: str | None) -> Viewer:
    return Viewer(authenticated=True, username="x", role=role, region_code=region)


# ---------------------------------------------------------------------------- read models


def test_the_walls_open_alerts_are_its_regions_newest_first_with_both_languages(alerts_app):
    with alerts_app.app_context():
        snapshot = alerts_query.wall_alerts(STREET_A)
        district = alerts_query.wall_alerts(STREET_A[:6])
    ids_ = alerts_app.alert_ids
    assert [a["id"] for a in snapshot["items"]] == [ids_["at_risk_a"], ids_["surge_a"], ids_["repeat_a_old"]]
    assert [a["id"] for a in district["items"]][:3] == [ids_["at_risk_a"], ids_["repeat_b"], ids_["surge_a"]]
    surge = next(a for a in snapshot["items"] if a["kind"] == "surge")
    assert set(surge) == {
        "id",
        "kind",
        "status",
        "region_code",
        "category",
        "raised_at",
        "details",
        "text_zh",
        "text_en",
    }
    assert "14" in surge["text_zh"] and "14" in surge["text_en"] and surge["text_zh"] != surge["text_en"]
    assert next(a for a in snapshot["items"] if a["kind"] == "at_risk")["status"] == "acknowledged"


def test_each_alert_links_to_the_drill_down_that_explains_it(alerts_app):
    calendar = alerts_app.extensions["work_calendar"]
    with alerts_app.app_context(), db.session() as session:
        views = {a.id: a for a in alerts_query.open_alerts(session, STREET_A[:6], "zh", calendar)}
    ids_ = alerts_app.alert_ids
    assert views[ids_["surge_a"]].link == f"/drill?region={COMMUNITY_A}&from=2026-11-19&to=2026-11-19&category=noise"
    # A repeat: that compound and category over the rule's 7 days (the local day it was raised, 23:30 Beijing).
    assert (
        views[ids_["repeat_a_old"]].link
        == f"/drill?region={COMPOUND_A}&from=2026-11-11&to=2026-11-17&category=road_facilities"
    )
    assert views[ids_["repeat_b"]].link == f"/drill?region={COMPOUND_B}&from=2026-11-13&to=2026-11-19&category=noise"
    assert views[ids_["at_risk_a"]].link == f"/appeal/{alerts_app.appeal_id}"
    assert views[ids_["surge_a"]].raised_local == "2026-11-19 10:00"
    # The link opens: the drill-down accepts its parameters.
    from dashboard.queries.drill import DrillFilters, parse_search

    query = parse_search(views[ids_["repeat_b"]].link.split("?", 1)[1])
    filters = DrillFilters.from_query(query, STREET_A, dt.date(2026, 11, 20))
    assert (filters.region, filters.category, filters.start) == (COMPOUND_B, ("noise",), dt.date(2026, 11, 13))


def test_the_console_list_filters_within_the_viewers_scope_and_masks_notes(alerts_app):
    ids_ = alerts_app.alert_ids
    with alerts_app.test_request_context("/alerts"):
        everything = alerts_query.read({}, _viewer(Role.SUPERVISOR, STREET_A), "zh")
        assert {a.id for a in everything.alerts} == {
            ids_[k] for k in ("surge_a", "at_risk_a", "closed_a", "repeat_a_old")
        }
        assert [a.raised_at for a in everything.alerts] == sorted(
            (a.raised_at for a in everything.alerts), reverse=True
        )
        closed = alerts_query.read({"status": "closed"}, _viewer(Role.SUPERVISOR, STREET_A), "zh").alerts
        assert [a.id for a in closed] == [ids_["closed_a"]]
        assert PHONE not in closed[0].close_note and "138****5678" in closed[0].close_note
        kinds = alerts_query.read({"kind": "surge,repeat", "category": "noise"}, _viewer(Role.VIEWER, STREET_A), "en")
        assert {a.id for a in kinds.alerts} == {ids_["surge_a"], ids_["closed_a"]}
        dated = alerts_query.read({"from": "2026-11-19", "to": "2026-11-19"}, _viewer(Role.SUPERVISOR, None), "zh")
        assert {a.id for a in dated.alerts} == {ids_[k] for k in ("surge_a", "repeat_b", "at_risk_a")}
        only_b = alerts_query.read({}, _viewer(Role.SUPERVISOR, STREET_B), "zh")
        assert [a.id for a in only_b.alerts] == [ids_["repeat_b"]]
        refused = alerts_query.read({"region": STREET_A}, _viewer(Role.SUPERVISOR, STREET_B), "zh")
        assert refused.key == "console.out_of_scope"
        assert alerts_query.read({"kind": "fire"}, _viewer(Role.SUPERVISOR, STREET_A), "zh").key == "console.bad_filter"


def test_the_alerts_page_offers_steps_to_operators_only(alerts_app):
    from callbacks import alerts as alerts_page
    from dashboard.web.auth import guarded_layout

    principals = {
        "operator": Principal(user_id=1, username="o", role=Role.OPERATOR, region_code=STREET_A),
        "viewer": Principal(user_id=2, username="v", role=Role.VIEWER, region_code=STREET_A),
        "handler": Principal(user_id=3, username="h", role=Role.HANDLER, region_code=STREET_A, department_id=1),
    }
    shown = {}
    for name, principal in principals.items():
        with alerts_app.test_request_context("/alerts"):
            g._login_user = principal
            shown[name] = str(guarded_layout(alerts_page.Permission.CONSOLE, alerts_page.page)())
    assert "alerts-step" in shown["operator"] and "nav-alerts" in shown["operator"]
    assert "alerts-row" in shown["viewer"] and "alerts-step" not in shown["viewer"]
    assert "console-denied" in shown["handler"]
    assert PHONE not in shown["operator"]


# ---------------------------------------------------------------------------- the API


def _key(name: str, region: str | None, actions) -> str:
    _view, key = admin.create_api_key("boss", name, "hotline_12345", region, actions)
    return key


def test_the_api_lists_alerts_within_the_keys_region(alerts_app):
    client = alerts_app.test_client()
    ids_ = alerts_app.alert_ids
    with alerts_app.app_context():
        street_a = _key("reader-a", STREET_A, "kpis")
        everywhere = _key("reader", None, None)
        feed = _key("feed", STREET_A, "ingest")

    def get(key, query=""):
        return client.get(f"/api/v1/alerts{query}", headers={"X-API-Key": key} if key else {})

    assert get(None).status_code == 401
    refused = get(feed)
    assert refused.status_code == 403 and refused.get_json()["missing_actions"] == ["kpis"]
    own = get(street_a).get_json()
    assert [a["id"] for a in own] == [ids_[k] for k in ("at_risk_a", "surge_a", "closed_a", "repeat_a_old")]
    assert all(a["region_code"].startswith(STREET_A) for a in own)
    assert PHONE not in json.dumps(own, ensure_ascii=False)
    assert own[0]["link"] == f"/appeal/{alerts_app.appeal_id}" and own[0]["reason"]
    assert get(street_a, f"?region={STREET_B}").status_code == 404  # outside the key: as if missing
    assert [a["id"] for a in get(everywhere, f"?region={STREET_B}").get_json()] == [ids_["repeat_b"]]
    open_surges = get(street_a, "?status=new,acknowledged&kind=surge").get_json()
    assert [a["id"] for a in open_surges] == [ids_["surge_a"]]
    since = get(everywhere, "?since=2026-11-19T00:00:00%2B08:00").get_json()
    assert {a["id"] for a in since} == {ids_[k] for k in ("surge_a", "repeat_b", "at_risk_a")}
    assert len(get(everywhere, "?limit=2").get_json()) == 2
    for bad in ("?kind=fire", "?status=open", "?since=yesterday", "?limit=many", "?region=12"):
        assert get(everywhere, bad).status_code == 400, bad
    document = client.get("/api/v1/openapi.json").get_json()
    assert "get" in document["paths"]["/alerts"] and "Alert" in document["components"]["schemas"]


# ---------------------------------------------------------------------------- the daily export


def test_the_daily_export_holds_the_alerts_raised_that_local_day(alerts_app, tmp_path):
    ids_ = alerts_app.alert_ids
    assert produce_day(db, alerts_app.extensions["work_calendar"], dt.date(2026, 11, 19), tmp_path)
    table = pd.read_csv(tmp_path / "alerts_2026-11-19.csv", dtype=str, keep_default_na=False)
    assert [int(i) for i in table["id"]] == [ids_["surge_a"], ids_["repeat_b"], ids_["at_risk_a"]]
    assert list(table["raised_at"]) == ["2026-11-19 10:00:00", "2026-11-19 11:00:00", "2026-11-19 12:00:00"]
    assert table.loc[0, "link"].startswith("/drill?") and table.loc[2, "link"].startswith("/appeal/")
    sheet = pd.read_excel(tmp_path / "kpi_2026-11-19.xlsx", sheet_name="alerts")
    assert len(sheet) == 3 and list(sheet.columns) == alerts_query.EXPORT_COLUMNS
    with db.session() as session:
        from dashboard.store.models import DailyExport

        assert "alerts_2026-11-19.csv" in session.get(DailyExport, dt.date(2026, 11, 19)).files
    # The 17th's alert was raised at 23:30 Beijing time: the 17th's, not the 18th's.
    assert produce_day(db, alerts_app.extensions["work_calendar"], dt.date(2026, 11, 18), tmp_path)
    day_18 = pd.read_csv(tmp_path / "alerts_2026-11-18.csv", dtype=str, keep_default_na=False)
    assert [int(i) for i in day_18["id"]] == [ids_["closed_a"]]
    assert not re.search(PHONE, (tmp_path / "alerts_2026-11-18.csv").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- the console's steps

STEP_OUTPUT = f"..{ids.ALERTS_LIST}.children...{ids.ALERTS_FEEDBACK}.children.."


def _step(client, alert_id: int, step: str, note: str | None):
    button = {"alert": alert_id, "step": step, "type": ids.ALERTS_STEP}
    note_id = {"alert": alert_id, "type": ids.ALERTS_NOTE}
    return dash_callback(
        client,
        STEP_OUTPUT,
        [[{"id": button, "property": "n_clicks", "value": 1}]],
        [
            [{"id": note_id, "property": "value", "value": note}],
            {"id": ids.ALERTS_URL, "property": "search", "value": ""},
        ],
        changed=[json.dumps(button, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
    )


def _status(alert_id: int) -> str:
    with db.session() as session:
        return session.get(Alert, alert_id).status


def _client(app, user: str, address: int):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.0.1.{address}"
    assert login(client, user).status_code == 302
    return client


def test_operators_acknowledge_with_a_note_and_close_within_their_region(alerts_app):
    ids_ = alerts_app.alert_ids
    operator = _client(alerts_app, "operator_a", 1)
    missing = _step(operator, ids_["surge_a"], "acknowledge", "")
    assert missing.status_code == 200 and _status(ids_["surge_a"]) == "new"
    assert "console-bad" in missing.get_data(as_text=True)
    done = _step(operator, ids_["surge_a"], "acknowledge", "已派城管核查")
    assert done.status_code == 200, done.get_data(as_text=True)[:300]
    assert _status(ids_["surge_a"]) == "acknowledged"
    with db.session() as session:
        alert = session.get(Alert, ids_["surge_a"])
        assert (alert.acknowledged_by, alert.acknowledge_note) == ("operator_a", "已派城管核查")
    # Street B's alert is not theirs: as if it did not exist.
    assert _step(operator, ids_["repeat_b"], "close", "不是我的").status_code == 200
    assert _status(ids_["repeat_b"]) == "new"
    closed = _step(operator, ids_["surge_a"], "close", "已处理")
    assert closed.status_code == 200 and _status(ids_["surge_a"]) == "closed"
    supervisor_b = _client(alerts_app, "supervisor_b", 2)
    assert _step(supervisor_b, ids_["repeat_b"], "close", "已处理").status_code == 200
    assert _status(ids_["repeat_b"]) == "closed"


def test_a_viewer_and_a_handler_cannot_acknowledge_or_close(alerts_app):
    ids_ = alerts_app.alert_ids
    viewer = _client(alerts_app, "viewer_a", 3)
    assert _step(viewer, ids_["surge_a"], "acknowledge", "看过了").status_code == 403  # the guard: no ACT
    handler = _client(alerts_app, "handler_a", 4)
    answer = _step(handler, ids_["surge_a"], "close", "看过了")  # ACT, but not the console's: refused by the service
    assert answer.status_code in (200, 403) and _status(ids_["surge_a"]) == "new"
    anonymous = alerts_app.test_client()
    assert _step(anonymous, ids_["surge_a"], "close", "x").status_code == 401


def test_the_walls_panel_snapshot_callback(alerts_app):
    client = alerts_app.test_client()
    response = dash_callback(
        client,
        f"{ids.WALL_ALERTS_DATA}.data",
        [{"id": ids.WALL_REFRESH, "property": "data", "value": 1}],
        [{"id": ids.WALL_STATE, "property": "data", "value": {"region": STREET_B, "lang": "zh", "token": ""}}],
    )
    assert response.status_code == 200
    data = response.get_json()["response"][ids.WALL_ALERTS_DATA]["data"]
    assert [a["id"] for a in data["items"]] == [alerts_app.alert_ids["repeat_b"]]
