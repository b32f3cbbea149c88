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
    """The day's other KPIs (issue 17: received, resolved and overdue moved to the headline) against targets,
    the tone said by a mark besides its colour."""
    with demo_app.test_request_context("/wall"):
        tiles = wall.kpi_tiles(
            {
                "on_time_rate": 0.95,
                "satisfaction_rate": 0.8,
                "avg_handling_wd": 1.1,
                "response_median_min": None,
                "urged": 0,
            },
            demo_app.extensions["kpi_targets"],
            "zh",
        )
    tones = {tile.to_plotly_json()["props"]["data-kpi"]: tile.className for tile in tiles}
    assert tones["on_time_rate"] == "wall-stat good" and tones["satisfaction_rate"] == "wall-stat bad"
    assert tones["avg_handling_wd"] == "wall-stat good"
    assert tones["response_median_min"] == tones["urged"] == "wall-stat"
    assert "✔ 95.0%" in _text_of(tiles) and "✖ 80.0%" in _text_of(tiles)


def _risk_board_data(now: dt.datetime) -> dict[str, int]:
    """The crafted deadline board of issue 17: appeals in every group, and some that are not on it."""
    from dashboard.domain.vocab import AppealStatus, Priority
    from tests.escalation_support import add_appeal, add_regions

    add_regions()

    def minutes(n: int) -> dt.datetime:
        return now + dt.timedelta(minutes=n)

    ids = {
        "extra_due_30m": add_appeal(minutes(30), Priority.EXTRA_URGENT),
        "ordinary_overdue_3w": add_appeal(minutes(-21 * 24 * 60)),
        "ordinary_overdue_2w": add_appeal(minutes(-14 * 24 * 60)),
        "urgent_overdue_3h": add_appeal(minutes(-180), Priority.URGENT),
        "extra_overdue_10m": add_appeal(minutes(-10), Priority.EXTRA_URGENT),
        "ordinary_due_90m": add_appeal(minutes(90)),
        "ordinary_due_5h": add_appeal(minutes(300)),  # due later: not on the board
        "extra_overdue_2h": add_appeal(minutes(-120), Priority.EXTRA_URGENT),
        "closed_overdue": add_appeal(minutes(-10 * 24 * 60)),
    }
    with db.transaction() as session:
        closed = session.get(Appeal, ids["closed_overdue"])
        closed.is_open, closed.status, closed.resolved_at = False, AppealStatus.CLOSED, minutes(-60)
    return ids


BOARD_ORDER = [
    "extra_overdue_2h",
    "extra_overdue_10m",
    "urgent_overdue_3h",
    "extra_due_30m",
    "ordinary_due_90m",
    "ordinary_overdue_2w",
    "ordinary_overdue_3w",
]


def test_the_deadline_board_ranks_by_risk_and_counts_everything(app):
    """Issue 17: overdue extra-urgent, overdue urgent, due within 2 h (least time left first), then overdue
    ordinary (most recently overdue first); the totals are the database's (SQLite and PostgreSQL)."""
    from dashboard.ui.timeleft import SOON_SECONDS

    now = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)
    ids = _risk_board_data(now)
    with db.session() as session:
        board = walldata.sla_board(session, "510107", "zh", now=now)
        first_three = walldata.sla_board(session, "510107", "zh", limit=3, now=now)
        totals = walldata.board_totals(session, "510107", now)
        overdue = session.scalar(
            select(func.count()).select_from(Appeal).where(Appeal.is_open, Appeal.deadline_at < now)
        )
        # Exactly two hours left is "due soon" (ui.timeleft's rule); a second more is not.
        edge = now + dt.timedelta(minutes=90) - dt.timedelta(seconds=SOON_SECONDS)
        at_edge = walldata.board_totals(session, "510107", edge)
        before_edge = walldata.board_totals(session, "510107", edge - dt.timedelta(seconds=1))
    assert [row["id"] for row in board] == [ids[name] for name in BOARD_ORDER]
    assert [row["tier"] for row in board] == [0, 0, 1, 2, 2, 3, 3]
    assert [row["id"] for row in first_three] == [ids[name] for name in BOARD_ORDER[:3]]
    assert totals == {"overdue": overdue, "due_soon": 2} and overdue == 5
    assert at_edge["due_soon"] - before_edge["due_soon"] == 1


def test_the_headline_compares_with_this_time_yesterday(app):
    now = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)
    _risk_board_data(now)
    calendar = app.extensions["work_calendar"]
    with db.session() as session:
        today = walldata.today_kpis(session, "510107", now, calendar)
        top = walldata.headline(session, "510107", now, calendar, today)
    assert {key: value["value"] for key, value in top.items()} == {
        "open": 8,
        "overdue": 5,
        "due_soon": 2,
        "received": today["received"],
        "resolved": today["resolved"],
    }
    # 24 hours earlier: six were open (reported before then, not resolved by then), three of them overdue.
    assert (top["open"]["yesterday"], top["overdue"]["yesterday"], top["due_soon"]["yesterday"]) == (6, 3, 0)
    assert wall.trend_words(8, 6, "zh") == ("▲ 较昨日同时 +2", "up")
    assert wall.trend_words(3, 3, "en") == ("＝ same as this time yesterday", "same")


def test_community_load_and_map(demo_app):
    with db.session() as session:
        load = walldata.community_load(session, "510107", END)
        open_count = session.scalar(select(func.count()).select_from(Appeal).where(Appeal.is_open))
    assert len(load) == 3 and load["open"].sum() == open_count
    figure = map_figure(load, "zh", scale=2.0)
    # Issue 17: one continuous scale of a stated measure (overdue per 100 open), a filled colour bar.
    areas = [trace for trace in figure.data if trace.meta == "area"]
    assert len(areas) == 3 and all(trace.fill == "toself" for trace in areas)
    bar = next(trace for trace in figure.data if trace.marker and trace.marker.showscale)
    assert bar.marker.colorbar.title.text == "超期率（超期件数/在办件数）" and bar.marker.colorbar.ticksuffix == "%"
    assert figure.layout.font.size == 48


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
        board = walldata.sla_board(session, "510107", "zh", limit=6, now=END)
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
        board = walldata.sla_board(session, "510107", "zh", limit=120, now=later)
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


# ---- Issue 21: a resync sends only what changed ----


def _result(values: dict, key: tuple = ("db", "510107", "zh", 1.0, "r"), made: float | None = None) -> dict:
    """A shared resync result as callbacks.wall._resync makes it, from plain JSON values."""
    import time

    from callbacks import wall as wall_callbacks

    made = time.monotonic() if made is None else made
    versions = {name: wall_callbacks._digest(v) for name, v in values.items() if name not in wall_callbacks.ALWAYS_SENT}
    for name, digest in versions.items():
        wall_callbacks._sent_of(name).put(digest, (values[name], key, made))
    return {"values": values, "versions": versions, "key": key, "made": made}


def test_a_resync_sends_nothing_unchanged_and_patches_what_changed():
    from dash import no_update

    from callbacks import wall as wall_callbacks

    kpis = [{"type": "Span", "namespace": "dash_html_components", "props": {"children": "12", "data-value": "12"}}]
    figure = {"data": [{"x": [1, 2, 3], "y": [4, 5, 6], "fillcolor": "#000"}], "layout": {"title": "t"}}
    first = _result({"kpis": kpis, "map": figure, "sla_data": {"items": []}, "freshness": "12:00"}, made=0.0)
    # A wall that knows nothing gets everything, and the versions to send back.
    whole = wall_callbacks._changes_only(first, {})
    assert whole["kpis"] == kpis and whole["map"] == figure and whole["versions"] == first["versions"]
    # Nothing changed: nothing but the board's snapshot (always) is sent.
    same = wall_callbacks._changes_only(first, first["versions"])
    assert same["kpis"] is no_update and same["map"] is no_update and same["versions"] is no_update
    assert same["sla_data"] == {"items": []}
    # The tile's number and the trace's colour changed, long after the chart was drawn: a Patch of
    # exactly those, the unchanged x and y arrays untouched.
    kpis2 = [{**kpis[0], "props": {"children": "13", "data-value": "13"}}]
    figure2 = {"data": [{**figure["data"][0], "fillcolor": "#fff"}], "layout": figure["layout"]}
    second = _result({"kpis": kpis2, "map": figure2, "sla_data": {"items": []}, "freshness": "12:00"}, made=100.0)
    changed = wall_callbacks._changes_only(second, first["versions"])
    assert changed["freshness"] is no_update
    assert changed["map"].to_plotly_json()["operations"] == [
        {"operation": "Assign", "location": ["data", 0, "fillcolor"], "params": {"value": "#fff"}}
    ]
    locations = [op["location"] for op in changed["kpis"].to_plotly_json()["operations"]]
    assert locations == [[0, "props", "children"], [0, "props", "data-value"]]
    assert changed["versions"] == second["versions"]
    # A version this process never sent (another worker's, or forgotten): sent whole.
    unknown = wall_callbacks._changes_only(second, {"kpis": "0" * 20, "map": "0" * 20})
    assert unknown["kpis"] == kpis2 and unknown["map"] == figure2


def test_a_chart_is_redrawn_at_most_every_30_seconds_but_at_once_for_a_new_screen():
    from dash import no_update

    from callbacks import wall as wall_callbacks

    figure = {"data": [{"y": [1]}], "layout": {}}
    drawn = _result({"trend": figure, "kpis": "1"}, made=1000.0)
    soon = _result({"trend": {"data": [{"y": [2]}], "layout": {}}, "kpis": "2"}, made=1010.0)
    answer = wall_callbacks._changes_only(soon, drawn["versions"])
    # 10 s after the wall's chart was made: the chart waits (its version stays), the number does not.
    assert answer["trend"] is no_update and answer["versions"]["trend"] == drawn["versions"]["trend"]
    assert answer["kpis"] == "2"
    later = _result({"trend": {"data": [{"y": [3]}], "layout": {}}, "kpis": "3"}, made=1031.0)
    assert wall_callbacks._changes_only(later, drawn["versions"])["trend"] != no_update
    # Another scale (the screen was resized): at once.
    other = _result({"trend": {"data": [{"y": [2]}], "layout": {"s": 2}}}, key=("db", "510107", "zh", 2.0, "r"))
    resized = wall_callbacks._changes_only({**other, "made": 1010.0}, drawn["versions"])["trend"]
    assert {"operation": "Assign", "location": ["layout", "s"], "params": {"value": 2}} in resized._operations


def test_patches_follow_the_shape_of_the_values():
    from callbacks import wall as wall_callbacks

    assert wall_callbacks._patch([1, 2], [1, 3]) is False  # a list of plain values: sent whole
    patch = wall_callbacks._patch({"a": 1, "b": [{"c": 1}, {"c": 2}], "gone": 0}, {"a": 1, "b": [{"c": 1}, {"c": 5}]})
    assert patch.to_plotly_json()["operations"] == [
        {"operation": "Delete", "location": ["gone"], "params": {}},
        {"operation": "Assign", "location": ["b", 1, "c"], "params": {"value": 5}},
    ]
