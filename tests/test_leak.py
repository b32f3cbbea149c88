"""A demo run scanned for personal data: the wall, socket frames, API and Open311 answers, exports.

Nothing any of them carries may hold an unmasked ID number, mobile number or a resident's
or reporter's full name (BRIEF §7). The appeals planted here carry all three in their fields
and in their free text, as residents type them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import openpyxl
from sqlalchemy import select

from dashboard.domain.pii import is_valid_id_number
from dashboard.domain.roles import Role
from dashboard.services.exports import produce_day
from dashboard.store.database import db
from dashboard.store.models import Appeal, Resident
from tests.console_support import add_user, dash_callback, login

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9])[1-9]\d{16}[\dXx](?![0-9])")
PLANTED_ID = "510107199003072316"  # a valid GB 11643 number
PLANTED_PHONE = "13698765432"
PLANTED_NAME = "欧阳明月"
PLANTED = {
    "external_id": "LEAK-1",
    "source": "wechat",
    "reported_at": "2026-11-20 10:00:00",
    "category": "noise",
    "priority": "urgent",
    "region_code": "510107001002001",
    "description": f"我是{PLANTED_NAME[:1]}女士，身份证 {PLANTED_ID}，电话 {PLANTED_PHONE}，楼上噪音",
    "reporter_name": PLANTED_NAME,
    "reporter_phone": PLANTED_PHONE,
    "address": "锦城社区幸福家园5栋2单元301",
}


def _names() -> set[str]:
    """Full names of residents and reporters (three characters or more, so words do not collide)."""
    with db.session() as session:
        residents = session.scalars(select(Resident.name).limit(300)).all()
        reporters = session.scalars(select(Appeal.reporter_name).where(Appeal.reporter_name.is_not(None))).all()
    return {n for n in [*residents, *reporters, PLANTED_NAME] if n and len(n) >= 3}


def _assert_clean(where: str, text: str, names: set[str]) -> None:
    assert not PHONE.search(text), f"{where}: a mobile number: {PHONE.search(text).group(0)}"
    for match in ID_NUMBER.finditer(text):
        assert not is_valid_id_number(match.group(0)), f"{where}: an ID number: {match.group(0)}"
    leaked = [name for name in names if name in text]
    assert not leaked, f"{where}: full names {leaked[:3]}"


def _readable(text: str) -> str:
    """JSON answers escape Chinese as \\uXXXX: decode them, so that names are found."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


def _xlsx_text(data: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(
        "\t".join("" if v is None else str(v) for v in row)
        for sheet in book
        for row in sheet.iter_rows(values_only=True)
    )


def test_nothing_personal_leaves_the_server(demo_app, client, api_key, tmp_path):
    wall_socket = demo_app.extensions["socketio"].test_client(demo_app, auth={"region": "510107"})
    ingest = client.post("/api/v1/appeals", json=[PLANTED], headers={"X-API-Key": api_key})
    bad = client.post(
        "/api/v1/appeals",
        json=[{**PLANTED, "external_id": "LEAK-2", "priority": "soonish"}],
        headers={"X-API-Key": api_key},
    )
    with db.session() as session:
        appeal_id = session.scalar(select(Appeal.id).where(Appeal.external_id == "LEAK-1"))
    transition = client.post(
        f"/api/v1/appeals/{appeal_id}/transitions",
        json={"action": "accept", "note": f"已联系 {PLANTED_PHONE}"},
        headers={"X-API-Key": api_key},
    )
    names = _names()
    surfaces: dict[str, str] = {
        "ingest response": ingest.get_data(as_text=True),
        "ingest errors": bad.get_data(as_text=True),
        "transition response": transition.get_data(as_text=True),
        "socket frames": json.dumps(wall_socket.get_received(), ensure_ascii=False),
        "wall page": client.get("/wall?region=510107").get_data(as_text=True),
        "wall layout": client.get("/_dash-layout").get_data(as_text=True),
        "kpi api": client.get("/api/v1/kpis?region=510107", headers={"X-API-Key": api_key}).get_data(as_text=True),
        "quarantine api": client.get("/api/v1/quarantine", headers={"X-API-Key": api_key}).get_data(as_text=True),
        "open311 json": client.get("/open311/v2/requests.json?start_date=2026-11-19T00:00:00Z").get_data(as_text=True),
        "open311 xml": client.get("/open311/v2/requests.xml?start_date=2026-11-19T00:00:00Z").get_data(as_text=True),
        "open311 one": client.get(f"/open311/v2/requests/{appeal_id}.json").get_data(as_text=True),
    }
    # The wall's resync, as the browser asks for it.
    resync = dash_callback(
        client,
        next(k for k in demo_app.extensions["dash"].callback_map if "wall-kpis.children" in k),
        [{"id": "wall-refresh", "property": "data", "value": 1}],
        [
            {"id": "wall-state", "property": "data", "value": {"region": "510107", "lang": "zh", "token": ""}},
            {"id": "wall-viewport", "property": "data", "value": 1.0},
            {"id": "wall-versions", "property": "data", "value": None},
        ],
    )
    assert resync.status_code == 200, resync.get_data(as_text=True)[:300]
    surfaces["wall resync"] = resync.get_data(as_text=True)
    # The daily export files.
    export_dir = tmp_path / "exports"
    produce_day(db, demo_app.extensions["work_calendar"], dt.date(2026, 11, 20), export_dir)
    surfaces["export csv"] = (export_dir / "kpi_2026-11-20.csv").read_text(encoding="utf-8")
    surfaces["export xlsx"] = _xlsx_text((export_dir / "kpi_2026-11-20.xlsx").read_bytes())
    # A supervisor's console: the list export, the grid and the appeal page.
    add_user("leak-lead", Role.SUPERVISOR, "510107001")
    login(client, "leak-lead")
    surfaces["list csv"] = client.get("/drill/export.csv?from=2026-11-19&to=2026-11-20").get_data(as_text=True)
    surfaces["list xlsx"] = _xlsx_text(client.get("/drill/export.xlsx?from=2026-11-19&to=2026-11-20").data)
    surfaces["grid"] = dash_callback(
        client,
        "..drill-grid.getRowsResponse..",
        [{"id": "drill-grid", "property": "getRowsRequest", "value": {"startRow": 0, "endRow": 100}}],
        [{"id": "drill-url", "property": "search", "value": "?from=2026-11-19&to=2026-11-20"}],
    ).get_data(as_text=True)
    from flask import g

    from callbacks import appeal
    from dashboard.web.auth import Principal

    with demo_app.test_request_context(f"/appeal/{appeal_id}"):
        g._login_user = Principal(user_id=1, username="leak-lead", role=Role.SUPERVISOR, region_code="510107001")
        surfaces["appeal page"] = json.dumps(
            appeal.page(appeal_id=str(appeal_id)).to_plotly_json(), ensure_ascii=False, default=str
        )
    for where, text in surfaces.items():
        assert text, where
        _assert_clean(where, _readable(text), names)
    # The planted appeal is really there, masked: the scan is not looking at empty answers.
    assert "身份证 ******************" in surfaces["socket frames"] and "136****5432" in surfaces["appeal page"]
    assert "欧" in _readable(surfaces["grid"])
    assert "欧**" in surfaces["appeal page"] or "欧阳**" in surfaces["appeal page"]
    assert "LEAK-1" in surfaces["list csv"] or str(appeal_id) in surfaces["list csv"]
    wall_socket.disconnect()
