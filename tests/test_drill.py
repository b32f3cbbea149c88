"""The drill-down's query and figure functions, called directly on demo data."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pytest
from sqlalchemy import func, select

from dashboard.domain.regions import within
from dashboard.queries import appeal as appealdata
from dashboard.queries import drill as drilldata
from dashboard.queries import kpis as kpi_queries
from dashboard.queries.drill import DrillFilters, FilterError
from dashboard.store.database import db
from dashboard.store.models import Appeal, Transition
from dashboard.ui.figures import CONSOLE_COLORS, children_figure, dimension_figure, timeliness_figure
from tests.console_support import COMPOUND_B, PHONE_B, add_street_b

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)  # the demo data's end
TODAY = dt.date(2026, 11, 20)
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def _filters(**query) -> DrillFilters:
    return DrillFilters.from_query({"from": "2026-10-22", "to": "2026-11-20", **query}, "510107", TODAY)


def test_filters_read_and_write_the_url():
    filters = DrillFilters.from_query({}, "510107", TODAY)
    assert (filters.start, filters.end) == (dt.date(2026, 10, 22), TODAY)  # thirty days by default
    filters = _filters(region="510107001", category="noise,parking", overdue="1", q="漏水")
    again = DrillFilters.from_query(drilldata.parse_search(filters.to_query()), "510107", TODAY)
    assert again == filters
    assert filters.toggled("category", "noise").category == ("parking",)
    assert filters.toggled("priority", "urgent").priority == ("urgent",)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"region": "5101"}, "region"),
        ({"from": "2026-13-01"}, "from"),
        ({"to": "0001-01-01"}, "to"),
        ({"from": "2026-11-21"}, "from"),
        ({"category": "noise,aliens"}, "category"),
        ({"priority": "whenever"}, "priority"),
        ({"from": "2020-01-01"}, "from/to"),
    ],
)
def test_bad_filters_name_the_parameter(query, field):
    with pytest.raises(FilterError, match=f"^{re.escape(field)}:"):
        _filters(**query)


@pytest.mark.parametrize("category", [None, "noise"])
def test_period_kpis_equal_the_reference_computation(demo_app, category):
    calendar = demo_app.extensions["work_calendar"]
    filters = _filters(**({"category": category} if category else {}))
    start, end = filters.bounds(calendar)
    with db.session() as session:
        frame = drilldata.appeals_frame(session, filters, NOW, calendar)
        kpis = drilldata.period_kpis(frame, filters, NOW, calendar)
        from dashboard.domain.vocab import Category

        reference = kpi_queries.region_kpis(
            session, "510107", start, min(end, NOW), calendar, Category(category) if category else None
        )
    assert kpis == pytest.approx(reference)
    assert kpis["received"] > 0 and kpis["resolved"] > 0


def test_daily_series_adds_up_to_the_period(demo_app):
    calendar = demo_app.extensions["work_calendar"]
    filters = _filters(region="510107001001")
    with db.session() as session:
        frame = drilldata.appeals_frame(session, filters, NOW, calendar)
        kpis = drilldata.period_kpis(frame, filters, NOW, calendar)
        series = drilldata.daily_series(frame, filters, NOW, calendar)
    assert len(series) == 30 and series["day"].iloc[0] == dt.date(2026, 10, 22)
    assert series["received"].sum() == kpis["received"]
    assert series["resolved"].sum() == kpis["resolved"]
    rated_days = series["satisfaction_rate"].dropna()
    assert ((rated_days >= 0) & (rated_days <= 1)).all()


def test_breakdowns_add_up_and_skip_their_own_dimension(demo_app):
    calendar = demo_app.extensions["work_calendar"]
    filters = _filters(category="noise")
    with db.session() as session:
        frame = drilldata.appeals_frame(session, filters, NOW, calendar)
        received = drilldata.period_kpis(frame, filters, NOW, calendar)["received"]
        by_category = drilldata.counts_by(session, filters, "category", NOW, calendar)
        by_priority = drilldata.counts_by(session, filters, "priority", NOW, calendar)
        children = drilldata.children_breakdown(session, _filters(region="510107001"), NOW, calendar)
        street_received = drilldata.period_kpis(
            drilldata.appeals_frame(session, _filters(region="510107001"), NOW, calendar),
            _filters(region="510107001"),
            NOW,
            calendar,
        )["received"]
        overdue_now = session.scalar(
            select(func.count()).select_from(Appeal).where(Appeal.is_open, Appeal.deadline_at < NOW)
        )
        ageing = drilldata.overdue_ageing(session, _filters(), NOW)
    assert sum(by_priority.values()) == received  # filtered by the chosen category
    assert by_category["noise"] == received and sum(by_category.values()) > received  # its own filter skipped
    assert len(children) == 3 and children["received"].sum() == street_received
    assert all(code.startswith("510107001") and len(code) == 12 for code in children["code"])
    assert sum(ageing) == overdue_now > 0


def test_grid_pages_sorts_and_masks(demo_app):
    add_street_b(demo_app)
    calendar = demo_app.extensions["work_calendar"]
    filters = _filters()
    with db.session() as session:
        first, total = drilldata.grid_page(session, filters, NOW, calendar, 0, 50)
        second, _ = drilldata.grid_page(session, filters, NOW, calendar, 50, 100)
        oldest, _ = drilldata.grid_page(
            session, filters, NOW, calendar, 0, 5, [{"colId": "reported_at", "sort": "asc"}]
        )
        start, end = filters.bounds(calendar)
        expected = session.scalar(
            select(func.count())
            .select_from(Appeal)
            .where(within(Appeal.region_code, "510107"), Appeal.reported_at >= start, Appeal.reported_at < end)
        )
        b_rows, b_total = drilldata.grid_page(session, _filters(region=COMPOUND_B), NOW, calendar, 0, 10)
    assert total == expected and len(first) == 50 and len(second) == 50
    assert not {r["id"] for r in first} & {r["id"] for r in second}
    # Issue 17: the default order is "most urgent first" (open appeals by deadline, closed ones last).
    is_open = [r["time_left"] != "—" for r in first + second]
    assert is_open == sorted(is_open, reverse=True)
    open_deadlines = [r["deadline_at"] for r in first + second if r["time_left"] != "—"]
    assert open_deadlines == sorted(open_deadlines)
    assert oldest[0]["reported_at"] == min(r["reported_at"] for r in first + second + oldest)
    assert b_total == 3 and all(PHONE_B not in json.dumps(r, ensure_ascii=False) for r in b_rows)
    assert "139****5678" in b_rows[0]["text"]


def test_text_search_finds_words_and_external_ids(demo_app):
    add_street_b(demo_app)
    calendar = demo_app.extensions["work_calendar"]
    with db.session() as session:
        _, by_word = drilldata.grid_page(session, _filters(q="乙街道"), NOW, calendar, 0, 10)
        _, by_id = drilldata.grid_page(session, _filters(q="B-2"), NOW, calendar, 0, 10)
        _, tricky = drilldata.grid_page(session, _filters(q="100%_"), NOW, calendar, 0, 10)
    assert (by_word, by_id, tricky) == (3, 1, 0)


def test_export_frame_is_the_masked_grid(demo_app):
    add_street_b(demo_app)
    calendar = demo_app.extensions["work_calendar"]
    with db.session() as session:
        frame = drilldata.export_frame(session, _filters(region="510107002"), NOW, calendar)
    assert len(frame) == 3 and list(frame.columns) == list(drilldata.EXPORT_COLUMNS)
    assert not frame.to_csv().count(PHONE_B) and not PHONE.search(frame.to_csv())


def test_appeal_detail_has_the_whole_history_masked(demo_app):
    add_street_b(demo_app)
    calendar = demo_app.extensions["work_calendar"]
    with db.session() as session:
        busiest = session.execute(
            select(Transition.appeal_id, func.count()).group_by(Transition.appeal_id).order_by(func.count().desc())
        ).first()
        detail = appealdata.appeal_detail(session, busiest[0], "zh", NOW, calendar)
        b_id = session.scalar(select(Appeal.id).where(Appeal.region_code == COMPOUND_B))
        b_detail = appealdata.appeal_detail(session, b_id, "en", NOW, calendar)
        missing = appealdata.appeal_detail(session, 10**9, "zh", NOW, calendar)
    assert len(detail["timeline"]) == busiest[1] and [s["seq"] for s in detail["timeline"]] == sorted(
        s["seq"] for s in detail["timeline"]
    )
    assert detail["levels_passed"]
    assert b_detail["reporter_name"] == "王**" and b_detail["reporter_phone"] == "139****5678"
    assert PHONE_B not in json.dumps(b_detail, ensure_ascii=False)
    assert b_detail["seconds_left"] is not None and missing is None


def test_console_figures_are_pure_functions_of_their_data():
    children = pd.DataFrame(
        [{"code": "510107001", "name": "簇桥街道", "received": 5, "open": 2, "overdue": 1}],
        columns=["code", "name", "received", "open", "overdue"],
    )
    figure = children_figure(children, "按街道", "zh")
    assert [trace["customdata"] for trace in figure["data"]] == [["510107001"]] * 3
    # Issue 17: each measure on its own axis (received ≈5,000 beside overdue ≈30 both readable)
    assert [trace["x"] for trace in figure["data"]] == [[5], [2], [1]]
    assert [trace["xaxis"] for trace in figure["data"]] == ["x", "x2", "x3"]
    assert len({str(figure["layout"][axis]["domain"]) for axis in ("xaxis", "xaxis2", "xaxis3")}) == 3
    bars = dimension_figure({"noise": 3, "parking": 7}, {"noise": "噪音", "parking": "停车"}, ("noise",), "按类别")
    trace = bars["data"][0]
    assert trace["customdata"] == ["parking", "noise"]  # largest first
    assert trace["marker"]["color"][1] == CONSOLE_COLORS["selected"] != trace["marker"]["color"][0]
    series = pd.DataFrame(
        {
            "day": [dt.date(2026, 11, 1), dt.date(2026, 11, 2)],
            "on_time_rate": [0.5, float("nan")],
            "avg_handling_wd": [1.0, float("nan")],
        }
    )
    timeliness = timeliness_figure(series, {"on_time_rate": {"target": 0.9, "direction": "min"}}, "en")
    assert timeliness["data"][0]["y"] == [50.0, None]  # a day with nothing resolved is a gap, not zero
    assert timeliness["data"][2]["y"] == [90.0, 90.0]
    json.dumps(timeliness)  # plain JSON, as dcc.Graph receives it


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"region": "510107001002"},
        {"category": "noise"},
        {"region": "510107001", "to": "2026-11-20"},
        # issue 21: the cross-filters the per-day counters by dimension hold
        {"priority": "urgent"},
        {"channel": "wechat,hotline_12345"},
        {"status": "resolved,closed"},
        {"status": "in_progress,dispatched", "region": "510107001001"},
        {"category": "noise,parking", "priority": "ordinary,extra_urgent", "channel": "hotline_12345"},
        {"priority": "urgent", "status": "closed", "from": "2026-11-20", "to": "2026-11-21"},
    ],
)
def test_counter_path_equals_the_appeals_path(demo_app, query, monkeypatch):
    """The views read from the per-day counters give what the appeals themselves give."""
    calendar = demo_app.extensions["work_calendar"]
    filters = _filters(**query)
    assert drilldata.from_counters(filters)
    with db.session() as session:
        frame = drilldata.appeals_frame(session, filters, NOW, calendar)
        urges_at = drilldata.urge_times(session, filters, NOW, calendar)
        from_frame = drilldata.period_kpis(frame, filters, NOW, calendar, urges_at)
        series_from_frame = drilldata.daily_series(frame, filters, NOW, calendar)
        from_counters = drilldata.counter_kpis(session, filters, NOW, calendar)
        series_from_counters = drilldata.counter_series(session, filters, calendar)
        counted = (
            drilldata.dimension_counts(session, filters, NOW, calendar),
            drilldata.children_breakdown(session, filters, NOW, calendar),
            drilldata.grid_count(session, filters, NOW, calendar),
        )
        monkeypatch.setattr(drilldata, "from_counters", lambda _filters: False)
        scanned = (
            drilldata.dimension_counts(session, filters, NOW, calendar),
            drilldata.children_breakdown(session, filters, NOW, calendar),
            drilldata.grid_count(session, filters, NOW, calendar),
        )
    assert from_counters == pytest.approx(from_frame)
    pd.testing.assert_frame_equal(series_from_counters, series_from_frame, check_dtype=False)
    assert counted[0] == scanned[0]
    pd.testing.assert_frame_equal(counted[1], scanned[1])
    assert counted[2] == scanned[2] == from_frame["received"]
    if "from" not in query:  # a month of the demo: something to compare
        assert series_from_counters["received"].sum() > 0


def test_overdue_only_and_text_search_read_the_appeals():
    """Two filters the counters cannot hold: overdue now, and words in the description."""
    assert not drilldata.from_counters(_filters(priority="urgent", overdue="1"))
    assert not drilldata.from_counters(_filters(q="漏水"))


def test_page_reads_run_side_by_side_in_their_own_sessions(demo_app):
    """read_in_parallel gives each read a session of its own, returns results by name and raises a read's error."""
    import threading

    seen = {}

    def count(session):
        seen[threading.current_thread().name] = session
        return session.scalar(select(func.count()).select_from(Appeal))

    with demo_app.app_context(), db.session() as session:  # the pool is the app's (create_app makes it)
        expected = session.scalar(select(func.count()).select_from(Appeal))
        results = drilldata.read_in_parallel(session, {"a": count, "b": count, "c": lambda s: "x"})
        assert results == {"a": expected, "b": expected, "c": "x"}
        assert all(own is not session for own in seen.values())
        assert all(name.startswith("drill-read") for name in seen)

        def broken(_session):
            raise FilterError("region: no such region")

        with pytest.raises(FilterError, match="no such region"):
            drilldata.read_in_parallel(session, {"ok": count, "broken": broken})


def test_page_reads_nested_in_a_page_read_run_in_its_thread(demo_app):
    """A read that itself reads in parallel runs its reads in place: waiting on the shared pool could deadlock."""
    import threading

    with demo_app.app_context(), db.session() as session:

        def outer(own):
            return drilldata.read_in_parallel(own, {"inner": lambda _s: threading.current_thread().name})

        result = drilldata.read_in_parallel(session, {"outer": outer})
    assert result["outer"]["inner"].startswith("drill-read")
