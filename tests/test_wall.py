"""Wall data, figures and layout, without a browser: real counts, nothing personal."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
from plotly.io.json import to_json_plotly
from sqlalchemy import func, select

from callbacks.wall import page as wall_page
from dashboard.queries import wall as walldata
from dashboard.store.database import db
from dashboard.store.models import Appeal, Business, Resident
from dashboard.ui.figures import map_figure, trend_figure
from layouts import wall

END = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")


def test_population_counts_match_the_database(demo_app):
    with db.session() as session:
        population = walldata.population(session, "510107")
        street = walldata.population(session, "510107001")
        community = walldata.population(session, "510107001001")
        residents = session.scalar(select(func.count()).select_from(Resident))
        businesses = session.scalar(select(func.count()).select_from(Business))
        in_community = session.scalar(
            select(func.count()).select_from(Resident).where(Resident.region_code.like("510107001001%"))
        )
    assert population["residents"] == street["residents"] == residents == 2000
    assert sum(population["households"].values()) == residents
    assert population["businesses"] == businesses
    assert community["residents"] == in_community < residents
    assert len(population["groups"]) == 11 and population["groups"]["disabled"] > 0


def test_todays_kpis_match_a_direct_computation(demo_app):
    calendar = demo_app.extensions["work_calendar"]
    now = END
    with db.session() as session:
        kpis = walldata.today_kpis(session, "510107", now, calendar)
        frame = pd.read_sql(
            select(Appeal.reported_at, Appeal.resolved_at, Appeal.deadline_at, Appeal.is_open), session.connection()
        )
    for column in ("reported_at", "resolved_at", "deadline_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    start = pd.Timestamp("2026-11-20", tz="Asia/Shanghai").tz_convert("UTC")
    end = start + pd.Timedelta(days=1)
    until_now = min(end, pd.Timestamp(now))
    assert kpis["received"] == ((frame.reported_at >= start) & (frame.reported_at < until_now)).sum() > 0
    assert kpis["resolved"] == ((frame.resolved_at >= start) & (frame.resolved_at < until_now)).sum()
    assert kpis["overdue_open"] == (frame.is_open & (frame.deadline_at < pd.Timestamp(now))).sum()


def test_recent_appeals_are_newest_first_and_masked(demo_app):
    with db.session() as session:
        appeal = session.scalars(select(Appeal).order_by(Appeal.reported_at.desc())).first()
        appeal.description = "请联系13812341234，身份证11010519491231002X"
        session.commit()
        recent = walldata.recent_appeals(session, "510107", "zh")
    assert recent[0]["id"] == appeal.id
    assert [r["time"] for r in recent] == sorted((r["time"] for r in recent), reverse=True)
    payload = json.dumps(recent, ensure_ascii=False)
    assert not PHONE.search(payload) and not ID_NUMBER.search(payload)
    assert "reporter" not in payload


def test_daily_volume_covers_thirty_days(demo_app):
    calendar = demo_app.extensions["work_calendar"]
    with db.session() as session:
        volume = walldata.daily_volume(session, "510107", END, calendar)
    assert len(volume) == 30
    assert volume["day"].iloc[-1] == dt.date(2026, 11, 20)
    assert volume["received"].sum() > 1000


def test_trend_figure_is_a_pure_function_of_the_data():
    volume = pd.DataFrame(
        {"day": [dt.date(2026, 11, 19), dt.date(2026, 11, 20)], "received": [5, 7], "resolved": [4, 6]}
    )
    figure = trend_figure(volume, "en")
    assert [trace.name for trace in figure.data] == ["Received", "Resolved"]
    assert list(figure.data[0].y) == [5, 7]
    assert trend_figure(volume, "zh").data[0].name == "受理量"


def _text_of(component) -> str:
    """The component tree as the browser receives it (JSON), with Chinese left readable."""
    return json.dumps(json.loads(to_json_plotly(component)), ensure_ascii=False)


def test_wall_layout_shows_real_numbers_and_no_personal_data(demo_app):
    with demo_app.test_request_context("/wall"):
        tree = wall_page()
        text = _text_of(tree)
        with db.session() as session:
            residents = session.scalar(select(func.count()).select_from(Resident))
    assert f"{residents:,}" in text
    assert "武侯区智慧治理中心" in text and "三支队伍走访清单" in text
    assert '"id": "wall-ticker-data"' in text and '"id": "wall-sla-data"' in text
    assert not PHONE.search(text) and not ID_NUMBER.search(text)


def test_kpi_tiles_compare_with_targets(demo_app):
    with demo_app.test_request_context("/wall"):
        tiles = wall.kpi_tiles(
            {
                "received": 10,
                "resolved": 8,
                "on_time_rate": 0.95,
                "overdue_open": 2,
                "satisfaction_rate": 0.8,
                "avg_handling_wd": 1.1,
                "response_median_min": None,
            },
            demo_app.extensions["kpi_targets"],
            "zh",
        )
    tones = {tile.to_plotly_json()["props"]["data-kpi"]: tile.className for tile in tiles}
    assert tones["on_time_rate"] == "wall-tile good" and tones["satisfaction_rate"] == "wall-tile bad"
    assert tones["overdue_open"] == "wall-tile bad" and tones["avg_handling_wd"] == "wall-tile good"
    assert tones["received"] == tones["response_median_min"] == "wall-tile"


def test_sla_board_is_nearest_deadline_first(demo_app):
    with db.session() as session:
        board = walldata.sla_board(session, "510107", "zh", limit=6)
        open_count = session.scalar(select(func.count()).select_from(Appeal).where(Appeal.is_open))
    assert len(board) == min(6, open_count)
    assert [b["deadline"] for b in board] == sorted(b["deadline"] for b in board)


def test_community_load_and_map(demo_app):
    with db.session() as session:
        load = walldata.community_load(session, "510107", END)
        open_count = session.scalar(select(func.count()).select_from(Appeal).where(Appeal.is_open))
    assert len(load) == 3 and load["open"].sum() == open_count
    figure = map_figure(load, "zh", scale=2.0)
    assert [trace.name for trace in figure.data[:4]] == ["平稳", "在办较多", "有超期", "超期≥3件"]
    assert figure.layout.font.size == 30


def test_visit_lists(demo_app):
    with db.session() as session:
        visits = walldata.visit_lists(session, "510107")
    assert set(visits) == {"difficulty", "service_need", "risk"}
    assert sum(sum(v.values()) for v in visits.values()) > 0


def test_wall_layout_in_english_and_for_a_street(demo_app):
    with demo_app.test_request_context("/wall"):
        text = _text_of(wall_page(region="510107001", lang="en"))
    assert "Cuqiao Street Smart Governance Center" in text
    assert "Residents" in text


def test_wall_layout_with_an_unknown_or_malformed_region(demo_app):
    with demo_app.test_request_context("/wall"):
        assert "未获授权" in _text_of(wall_page(region="abc"))


def test_wall_tokens_outside_demo_mode(demo_app):
    from dashboard.store.models import WallToken
    from dashboard.web.access import hash_token

    demo_app.config["DEMO_MODE"] = False
    with db.transaction() as session:
        session.add(WallToken(name="cuqiao-led", token_hash=hash_token("wall_secret"), region_code="510107001"))
    with demo_app.test_request_context("/wall"):
        assert "token is required" in _text_of(wall_page())
        assert "unknown or revoked" in _text_of(wall_page(token="wall_wrong"))
        assert "covers 510107001" in _text_of(wall_page(token="wall_secret", region="510107"))
        assert "簇桥街道智慧治理中心" in _text_of(wall_page(token="wall_secret"))
        with db.transaction() as session:
            session.scalar(select(WallToken)).revoked_at = END
        assert "unknown or revoked" in _text_of(wall_page(token="wall_secret"))


def test_wall_page_is_served_with_local_assets_only(client):
    response = client.get("/wall")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not re.search(r"""(src|href)=["']https?://""", html), "the wall must not load anything from the internet"


def test_the_deadline_board_marks_urged_and_escalated_appeals_and_the_ticker_says_escalations(demo_app):
    """Issue 16: 督办 ×N and 升级 marks on the board; automatic escalations in words on the ticker."""
    from dashboard.domain.vocab import AppealStatus, RegionLevel, TransitionAction
    from dashboard.services import escalation
    from dashboard.services.workflow import Step, apply

    later = END + dt.timedelta(minutes=5)
    with db.session() as session:
        board = walldata.sla_board(session, "510107", "zh", limit=6)
        assert all(item["urge_count"] == 0 for item in board)  # the demo's history has no urges
        target = next(
            session.get(Appeal, item["id"])
            for item in board
            if session.get(Appeal, item["id"]).status != AppealStatus.REPORTED
        )
        for n in range(2):
            apply(session, target, Step(TransitionAction.URGE, "op", later, note=f"督办{n}"))
        session.commit()
        target_id = target.id
    # The rules escalate what is overdue long enough (data/sla_policy.toml).
    escalated = escalation.run(
        db, demo_app.extensions["sla_policy"].escalation, demo_app.extensions["work_calendar"], later
    )
    assert escalated
    with db.session() as session:
        board = walldata.sla_board(session, "510107", "zh", limit=50)
        ticker = walldata.ticker(session, "510107", "zh", 5)
        levels = {a.id: a.level for a in session.scalars(select(Appeal).where(Appeal.id.in_(escalated)))}
    marks = {item["id"]: item for item in board}
    assert marks[target_id]["urge_count"] == 2
    shown = [item for item in board if item["id"] in escalated]
    assert shown and all(item["escalated"] and item["level"] == levels[item["id"]].value for item in shown)
    assert all(levels[i] in (RegionLevel.STREET, RegionLevel.DISTRICT) for i in escalated)
    # The ticker: the newest first, automatic escalations among them, in words, nothing personal.
    assert [item["time"] for item in ticker] == sorted((item["time"] for item in ticker), reverse=True)
    words = [item["text"] for item in ticker if item.get("kind") == "escalation"]
    assert words and all(text.startswith("自动升级 社区→街道") or text.startswith("自动升级 街道→区") for text in words)
    payload = json.dumps(ticker, ensure_ascii=False)
    assert not PHONE.search(payload) and not ID_NUMBER.search(payload)
    labels = wall.client_labels("en", "Asia/Shanghai")
    assert labels["urged"] == "Urged ×{count}" and labels["escalated"] == "Escalated"
    assert labels["level"]["street"] == "Street" and "{from}" in labels["escalation"]
