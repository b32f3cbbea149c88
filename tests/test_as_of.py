"""KPIs that are a state at a moment (overdue_open) are read at the period's end, or now if earlier (issue 23)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from dashboard.domain import clock
from dashboard.domain.overdue import is_overdue
from dashboard.store.database import db
from dashboard.store.models import Appeal

DAY = "2026-11-20"  # local day (Asia/Shanghai); the demo data ends 2026-11-20 12:00 UTC (20:00 local)
REPORTED = dt.datetime(2026, 11, 20, 12, 30, tzinfo=dt.UTC)  # 20:30 local
DEADLINE = REPORTED + dt.timedelta(hours=1)  # extra-urgent: one hour of calendar time → 21:30 local
BEFORE, AFTER = DEADLINE - dt.timedelta(minutes=20), DEADLINE + dt.timedelta(minutes=20)
END_OF_DAY = dt.datetime(2026, 11, 20, 16, 0, tzinfo=dt.UTC)
DUE_TONIGHT = {
    "external_id": "AS-OF-1",
    "source": "hotline_12345",
    "reported_at": REPORTED.isoformat(),
    "category": "噪音扰民",
    "priority": "特急",
    "region_code": "510107001001001",
    "description": "夜间噪音",
}


def _overdue_at(moment: dt.datetime) -> int:
    """The definition applied appeal by appeal: the reference the API must match."""
    with db.session() as session:
        rows = session.execute(select(Appeal.reported_at, Appeal.resolved_at, Appeal.deadline_at)).all()
    return sum(is_overdue(reported, resolved, deadline, moment) for reported, resolved, deadline in rows)


def test_an_appeal_due_this_evening_is_not_overdue_before_its_deadline(demo_app, client, api_key, monkeypatch):
    headers = {"X-API-Key": api_key}
    assert client.post("/api/v1/appeals", json=[DUE_TONIGHT], headers=headers).get_json()["created"] == 1
    with db.session() as session:
        assert (
            session.scalar(select(Appeal.deadline_at).where(Appeal.external_id == DUE_TONIGHT["external_id"]))
            == DEADLINE
        )
    yesterday = client.get("/api/v1/kpis?region=510107&date=2026-11-19", headers=headers).get_json()

    monkeypatch.setattr(clock, "utcnow", lambda: BEFORE)
    before = client.get(f"/api/v1/kpis?region=510107&date={DAY}", headers=headers).get_json()
    assert before["as_of"] == BEFORE.isoformat()
    assert before["overdue_open"] == _overdue_at(BEFORE)
    assert before["overdue_open"] < _overdue_at(END_OF_DAY)  # the old reading, at tonight's midnight

    monkeypatch.setattr(clock, "utcnow", lambda: AFTER)
    after = client.get(f"/api/v1/kpis?region=510107&date={DAY}", headers=headers).get_json()
    assert after["overdue_open"] == _overdue_at(AFTER) >= before["overdue_open"] + 1  # ours, at least, is overdue now

    # A finished day is read at its end, whenever it is asked, and says no "as of".
    again = client.get("/api/v1/kpis?region=510107&date=2026-11-19", headers=headers).get_json()
    assert again == yesterday and "as_of" not in again


def _wall_overdue(app, moment: dt.datetime) -> int:
    from dashboard.queries import wall

    with app.test_request_context():
        return wall.read("510107", "zh", now=moment).kpis["overdue_open"]


def _drill(app, moment: dt.datetime):
    from dashboard.domain.roles import Role
    from dashboard.queries import drill
    from dashboard.ui.chrome import Viewer

    admin = Viewer(authenticated=True, username="admin", role=Role.ADMIN)
    with app.test_request_context():
        return drill.read({"region": "510107", "start": DAY, "end": DAY}, admin, "zh", now=moment)


def test_wall_drill_export_and_api_agree_at_the_same_moment(demo_app, client, api_key, monkeypatch, tmp_path):
    from dashboard.services import exports

    headers = {"X-API-Key": api_key}
    assert client.post("/api/v1/appeals", json=[DUE_TONIGHT], headers=headers).get_json()["created"] == 1
    calendar = demo_app.extensions["work_calendar"]
    for moment in (BEFORE, AFTER):
        monkeypatch.setattr(clock, "utcnow", lambda moment=moment: moment)
        expected = _overdue_at(moment)
        api = client.get(f"/api/v1/kpis?region=510107&date={DAY}", headers=headers).get_json()
        assert api["overdue_open"] == expected
        assert _wall_overdue(demo_app, moment) == expected  # the wall reads today until now
        page = _drill(demo_app, moment)
        assert page.kpis["overdue_open"] == expected and page.as_of is not None
        assert exports.produce_day(db, calendar, dt.date.fromisoformat(DAY), tmp_path, force=True, now=moment)
        rows = (tmp_path / f"kpi_{DAY}.csv").read_text(encoding="utf-8").splitlines()
        header, district = rows[0].split(","), rows[1].split(",")
        assert header[-1] == "as_of" and district[header.index("overdue_open")] == str(expected)
        assert district[-1] == moment.isoformat()
    assert _overdue_at(AFTER) > _overdue_at(BEFORE)


def test_a_provisional_export_is_produced_again_once_the_day_has_ended(demo_app, tmp_path):
    from dashboard.services import exports
    from dashboard.store.models import DailyExport

    calendar = demo_app.extensions["work_calendar"]
    day = dt.date.fromisoformat(DAY)
    assert exports.produce_day(db, calendar, day, tmp_path, force=True, now=BEFORE)
    with db.session() as session:
        assert session.get(DailyExport, day).as_of == BEFORE
    next_morning = END_OF_DAY + dt.timedelta(hours=1)
    assert day in exports.missing_days(db, calendar, dt.date(2026, 11, 21))
    assert day in exports.catch_up(db, calendar, tmp_path, now=next_morning)
    with db.session() as session:
        assert session.get(DailyExport, day).as_of is None
    assert "as_of" not in (tmp_path / f"kpi_{DAY}.csv").read_text(encoding="utf-8").splitlines()[0]
    assert day not in exports.missing_days(db, calendar, dt.date(2026, 11, 21))
