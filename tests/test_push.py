"""Committed changes reach Socket.IO rooms once, after commit, as small masked deltas."""

from __future__ import annotations

import datetime as dt
import json
import re

from dashboard.services import push
from dashboard.store.database import Database, db
from dashboard.store.models import Appeal

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
APPEAL = {
    "external_id": "PUSH-1",
    "source": "wechat",
    "reported_at": "2026-11-19 09:00:00",
    "category": "noise",
    "priority": "urgent",
    "region_code": "510107001002001",
    "description": "楼上噪音，请回电13812341234",
    "reporter_name": "张三丰",
    "reporter_phone": "13812341234",
    "address": "锦城社区幸福家园5栋2单元301",
}


def _deltas(client) -> list[dict]:
    return [
        d for message in client.get_received() if message["name"] == "wall_delta" for d in message["args"][0]["deltas"]
    ]


def test_an_ingested_appeal_reaches_walls_of_its_region_and_above_only(demo_app, client, api_key):
    district = demo_app.extensions["socketio"].test_client(demo_app, auth={"region": "510107"})
    community = demo_app.extensions["socketio"].test_client(demo_app, auth={"region": "510107001002"})
    elsewhere = demo_app.extensions["socketio"].test_client(demo_app, auth={"region": "510107001003"})
    assert district.is_connected() and community.is_connected()
    client.post("/api/v1/appeals", json=[APPEAL], headers={"X-API-Key": api_key})
    received = _deltas(district)
    assert len(received) == 1
    delta = received[0]
    assert delta["change"] == "created" and delta["region_code"] == "510107001002001"
    assert delta["priority"] == "urgent" and delta["is_open"] is True
    assert _deltas(community)[0]["id"] == delta["id"]
    assert _deltas(elsewhere) == []
    payload = json.dumps(delta, ensure_ascii=False)
    assert not PHONE.search(payload) and "张三丰" not in payload and "5栋" not in payload
    assert "138****1234" in delta["text"]
    # A re-delivery changes nothing, so nothing is pushed.
    client.post("/api/v1/appeals", json=[APPEAL], headers={"X-API-Key": api_key})
    assert _deltas(district) == []
    for socket in (district, community, elsewhere):
        socket.disconnect()


def test_a_wall_must_say_which_region_it_shows(demo_app):
    assert not demo_app.extensions["socketio"].test_client(demo_app).is_connected()
    assert not demo_app.extensions["socketio"].test_client(demo_app, auth={"region": "abc"}).is_connected()


def test_deltas_are_published_after_commit_and_dropped_on_rollback(demo_app):
    published: list[list[dict]] = []
    database = Database().bind(demo_app.config["DATABASE_URL"])  # a publisher of its own, on its sessions only
    push.install(database, published.append)
    try:
        with database.session() as session:
            appeal = session.query(Appeal).first()
            appeal_id = appeal.id
            row = push.appeal_row(appeal)
            push.queue_deltas(session, [push.appeal_delta(row, "updated")])
            assert published == []
            session.rollback()
            session.commit()
            assert published == []
            push.queue_deltas(session, [push.appeal_delta(row, "updated")])
            session.commit()
        assert len(published) == 1 and published[0][0]["id"] == appeal_id
    finally:
        database.engine.dispose()


def test_a_bulk_delivery_is_coalesced():
    rows = [
        {
            "id": i,
            "region_code": f"5101070010{i % 3 + 1:02d}001",
            "category": "noise",
            "priority": "ordinary",
            "status": "reported",
            "is_open": True,
            "reported_at": None,
            "deadline_at": None,
            "description": "x",
        }
        for i in range(500)
    ]
    for i, row in enumerate(rows):
        row["reported_at"] = dt.datetime(2026, 11, 20, 0, 0, i % 60)
    deltas = push.appeal_deltas(rows, "created")
    detailed = [d for d in deltas if d["type"] == "appeal"]
    summary = [d for d in deltas if d["type"] == "bulk"]
    assert len(detailed) == push.DETAILED_LIMIT
    assert sum(d["count"] for d in summary) == 500 and len(summary) == 3


def test_revoking_a_token_closes_the_walls_using_it(demo_app):
    from sqlalchemy import select

    from dashboard.store.models import WallToken
    from dashboard.web.access import hash_token
    from dashboard.web.sockets import disconnect_revoked

    demo_app.config["DEMO_MODE"] = False
    with db.transaction() as session:
        session.add(WallToken(name="led", token_hash=hash_token("wall_t"), region_code="510107001"))
    assert (
        not demo_app.extensions["socketio"].test_client(demo_app, auth={"region": "510107001"}).is_connected()
    )  # no token
    wall = demo_app.extensions["socketio"].test_client(demo_app, auth={"region": "510107001", "token": "wall_t"})
    assert wall.is_connected()
    assert (
        not demo_app.extensions["socketio"]
        .test_client(demo_app, auth={"region": "510107", "token": "wall_t"})
        .is_connected()
    )
    assert disconnect_revoked(demo_app.extensions["socketio"]) == 0 and wall.is_connected()
    with db.transaction() as session:
        session.scalar(select(WallToken)).revoked_at = dt.datetime.now(dt.UTC)
    assert disconnect_revoked(demo_app.extensions["socketio"]) == 1
    assert not wall.is_connected()
