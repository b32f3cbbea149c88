"""Bulk ingest over HTTP and the quarantine: keys, formats, errors, replay."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from dashboard.store.database import db
from dashboard.store.models import Appeal, AuditLog, QuarantinedRecord

GOOD = {
    "external_id": "API-1",
    "source": "hotline_12345",
    "reported_at": "2026-11-19 09:00:00",
    "category": "噪音扰民",
    "priority": "普通",
    "region_code": "510107001001001",
    "description": "噪音",
}


def _post(client, key, body, content_type="application/json"):
    data = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return client.post("/api/v1/appeals", data=data, content_type=content_type, headers={"X-API-Key": key})


def test_bulk_ingest_requires_a_valid_key(demo_app, client, api_key):
    assert client.post("/api/v1/appeals", json=[GOOD]).status_code == 401
    assert _post(client, "cc_wrong", [GOOD]).status_code == 401


def test_json_array_and_ndjson_and_idempotency(demo_app, client, api_key):
    bad = {**GOOD, "external_id": "API-2", "region_code": "999"}
    response = _post(client, api_key, [GOOD, bad])
    body = response.get_json()
    assert response.status_code == 200
    assert body["created"] == 1 and body["quarantined"] == 1
    assert body["errors"] == [
        {
            "record": "request record 2",
            "field": "region_code",
            "reason": "region code '999' is not 6, 9, 12 or 15 digits",
        }
    ]
    ndjson = "\n".join(json.dumps(r, ensure_ascii=False) for r in [GOOD, {**GOOD, "external_id": "API-3"}])
    again = _post(client, api_key, ndjson, "application/x-ndjson").get_json()
    assert again["created"] == 1 and again["unchanged"] == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Appeal).where(Appeal.external_id.like("API-%"))) == 2


def test_unparseable_bodies_are_400(demo_app, client, api_key):
    assert _post(client, api_key, "").status_code == 400
    response = _post(client, api_key, "[{oops")
    assert response.status_code == 400 and "not JSON" in response.get_json()["error"]
    assert _post(client, api_key, {"records": "x"}).status_code == 400


def test_quarantine_list_and_replay(demo_app, client, api_key):
    bad = {
        **GOOD,
        "external_id": "API-9",
        "priority": "whenever",
        "reporter_name": "张三丰",
        "reporter_phone": "13812341234",
    }
    _post(client, api_key, [bad])
    listing = client.get("/api/v1/quarantine", headers={"X-API-Key": api_key}).get_json()
    assert len(listing) == 1 and listing[0]["field"] == "priority"
    raw = json.loads(listing[0]["raw"])
    assert raw["reporter_name"] == "张**" and raw["reporter_phone"] == "138****1234" and raw["priority"] == "whenever"
    record_id = listing[0]["id"]
    still_bad = client.post(
        f"/api/v1/quarantine/{record_id}/replay",
        json={**GOOD, "external_id": "API-9", "priority": "still wrong"},
        headers={"X-API-Key": api_key},
    )
    assert still_bad.status_code == 422
    fixed = client.post(
        f"/api/v1/quarantine/{record_id}/replay",
        json={**GOOD, "external_id": "API-9", "priority": "urgent"},
        headers={"X-API-Key": api_key},
    )
    assert fixed.status_code == 200 and fixed.get_json()["replayed"]
    with db.session() as session:
        assert session.get(QuarantinedRecord, record_id).status.value == "replayed"
        assert session.scalar(select(func.count()).select_from(QuarantinedRecord)) == 1  # the failed replay added none
        assert session.scalar(select(Appeal.priority).where(Appeal.external_id == "API-9")).value == "urgent"
        assert (
            session.scalar(select(AuditLog.action).where(AuditLog.target == f"quarantine:{record_id}"))
            == "quarantine_replay"
        )
    assert client.get("/api/v1/quarantine", headers={"X-API-Key": api_key}).get_json() == []


def test_kpis_for_a_day_and_a_range_match_the_one_implementation(demo_app, client, api_key):
    import datetime as dt

    import pandas as pd

    from dashboard.domain.kpi import KPI_KEYS, compute_kpis

    headers = {"X-API-Key": api_key}
    day = client.get("/api/v1/kpis?region=510107&date=2026-11-19", headers=headers).get_json()
    assert set(KPI_KEYS) <= set(day) and day["received"] > 0
    with db.session() as session:
        rows = session.execute(
            select(Appeal.reported_at, Appeal.accepted_at, Appeal.resolved_at, Appeal.deadline_at, Appeal.satisfaction)
        ).all()
    frame = pd.DataFrame(rows, columns=["reported_at", "accepted_at", "resolved_at", "deadline_at", "satisfaction"])
    for column in ("reported_at", "accepted_at", "resolved_at", "deadline_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["satisfaction"] = frame["satisfaction"].map(lambda s: getattr(s, "value", s))
    start = pd.Timestamp(dt.datetime(2026, 11, 18, 16, 0, tzinfo=dt.UTC))  # 2026-11-19 00:00 in Shanghai
    expected = compute_kpis(frame, start, start + pd.Timedelta(days=1), demo_app.extensions["work_calendar"])
    assert {k: day[k] for k in KPI_KEYS} == pytest.approx(expected)
    week = client.get("/api/v1/kpis?region=510107001&from=2026-11-13&to=2026-11-19", headers=headers).get_json()
    assert week["received"] >= day["received"]
    assert client.get("/api/v1/kpis?region=5101&date=2026-11-19", headers=headers).status_code == 400
    assert client.get("/api/v1/kpis?region=510107999&date=2026-11-19", headers=headers).status_code == 404
    assert client.get("/api/v1/kpis?region=510107&from=2026-11-19&to=2026-11-01", headers=headers).status_code == 400
    assert client.get("/api/v1/kpis?region=510107&date=2026-11-19").status_code == 401


def test_kpi_ranges_are_bounded(demo_app, client, api_key):
    headers = {"X-API-Key": api_key}
    assert client.get("/api/v1/kpis?region=510107&from=2000-01-01&to=2040-12-31", headers=headers).status_code == 400
    assert client.get("/api/v1/kpis?region=510107&date=9999-12-31", headers=headers).status_code == 400


def test_the_served_openapi_document_is_valid_and_covers_every_route(demo_app, client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    served = {
        rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace(">", "}")
        for rule in demo_app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1") and not rule.rule.endswith("openapi.json")
    }
    assert served == set(document["paths"])
    appeal = document["components"]["schemas"]["Appeal"]
    assert {"external_id", "source", "reported_at", "category", "priority", "region_code", "description"} == set(
        appeal["required"]
    )
