"""The §5 KPIs on a hand-computed fixture."""

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from dashboard.domain.kpi import KPI_KEYS, compute_kpis, format_kpi
from dashboard.domain.workcal import build_calendar
from dashboard.queries import kpis as kpi_queries

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = build_calendar()


def t(day, hour, minute=0):
    return pd.Timestamp(dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)).tz_convert("UTC")


def frame(rows):
    data = pd.DataFrame(rows, columns=["reported_at", "accepted_at", "resolved_at", "deadline_at", "satisfaction"])
    for column in ("reported_at", "accepted_at", "resolved_at", "deadline_at"):
        data[column] = pd.to_datetime(data[column], utc=True)
    return data


APPEALS = frame(
    [
        # A1: reported and resolved on Monday 23rd, on time, satisfied, accepted after 10 min.
        (t(23, 9), t(23, 9, 10), t(23, 15), t(25, 9), "satisfied"),
        # A2: reported Friday 16:00, resolved Monday 16:00 (1 working day), on time, unsatisfied.
        (t(20, 16), t(20, 16, 30), t(23, 16) - pd.Timedelta(seconds=1), t(24, 16), "unsatisfied"),
        # A3: still open, deadline Monday 10:00 passed → overdue at the end of Monday.
        (t(19, 10), t(19, 10, 5), None, t(23, 10), None),
        # A4: reported Monday evening, not yet accepted.
        (t(23, 20), None, None, t(25, 20), None),
        # A5: reported Wednesday 18th 10:00, resolved Monday 11:00, late, basically satisfied.
        (t(18, 10), t(18, 10, 2), t(23, 11), t(20, 10), "basically_satisfied"),
    ]
)


def test_kpis_of_one_local_day():
    kpis = compute_kpis(APPEALS, t(23, 0), t(24, 0), CALENDAR)
    assert list(kpis) == list(KPI_KEYS)
    assert kpis["received"] == 2
    assert kpis["resolved"] == 3
    assert kpis["resolved_on_time"] == 2
    assert kpis["on_time_rate"] == pytest.approx(2 / 3)
    assert kpis["overdue_open"] == 1
    # 0.25 + (1 - 1 s) + 73 h/24 (Wed 14 h, Thu 24, Fri 24, Mon 11).
    expected = (0.25 + (1 - 1 / 86400) + 73 / 24) / 3
    assert kpis["avg_handling_wd"] == pytest.approx(expected)
    assert kpis["rated"] == 3
    assert kpis["satisfied"] == 2
    assert kpis["satisfaction_rate"] == pytest.approx(2 / 3)
    assert kpis["response_median_min"] == pytest.approx(10.0)


def test_empty_period_has_counts_of_zero_and_empty_rates():
    kpis = compute_kpis(APPEALS, t(1, 0), t(2, 0), CALENDAR)
    assert kpis["received"] == kpis["resolved"] == kpis["rated"] == kpis["overdue_open"] == 0
    assert kpis["on_time_rate"] is None and kpis["satisfaction_rate"] is None
    assert kpis["avg_handling_wd"] is None and kpis["response_median_min"] is None


def test_screen_formatting():
    assert format_kpi("on_time_rate", 0.9051) == "90.5%"
    assert format_kpi("on_time_rate", None) == "—"
    assert format_kpi("received", 61462) == "61,462"
    assert format_kpi("avg_handling_wd", 1.3333) == "1.3"


def test_national_day_2026_with_its_make_up_working_day():
    from dashboard.config import DATA_DIR
    from dashboard.domain.sla import load_policy

    policy = load_policy(DATA_DIR / "sla_policy.toml")
    reported = pd.Timestamp(dt.datetime(2026, 9, 30, 16, 0, tzinfo=SHANGHAI))
    deadline = pd.Timestamp(policy.deadline(CALENDAR, reported.to_pydatetime(), "ordinary", "noise"))
    # Sep 30 gives 8 h; Oct 1–7 are off; Oct 8 gives 24 h; 16 h more on Oct 9.
    assert deadline == pd.Timestamp(dt.datetime(2026, 10, 9, 16, 0, tzinfo=SHANGHAI))
    early = pd.Timestamp(dt.datetime(2026, 10, 8, 10, 0, tzinfo=SHANGHAI))  # 8 h + 10 h = 0.75 wd, on time
    late = pd.Timestamp(dt.datetime(2026, 10, 10, 12, 0, tzinfo=SHANGHAI))  # Saturday, a make-up working day
    appeals = frame(
        [
            (reported, reported + pd.Timedelta(minutes=5), early, deadline, "satisfied"),
            (reported, reported + pd.Timedelta(minutes=9), late, deadline, None),  # unrated
        ]
    )
    start = pd.Timestamp(dt.datetime(2026, 10, 1, tzinfo=SHANGHAI))
    end = pd.Timestamp(dt.datetime(2026, 10, 11, tzinfo=SHANGHAI))
    kpis = compute_kpis(appeals, start, end, CALENDAR)
    assert kpis["received"] == 0 and kpis["resolved"] == 2 and kpis["resolved_on_time"] == 1
    # 8 + 24 + 24 + 12 h = 68 h for the late one (the make-up Saturday counts).
    assert kpis["avg_handling_wd"] == pytest.approx((18 / 24 + 68 / 24) / 2)
    assert kpis["rated"] == 1 and kpis["satisfaction_rate"] == 1.0
    assert kpis["response_median_min"] is None  # nothing reported in the period
    assert kpis["overdue_open"] == 0


def test_region_kpis_roll_up_from_compound_to_district(demo_app):
    from dashboard.store.database import db

    calendar = demo_app.extensions["work_calendar"]
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    end = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    with db.session() as session:
        district = kpi_queries.region_kpis(session, "510107", start, end, calendar)
        street = kpi_queries.region_kpis(session, "510107001", start, end, calendar)
        communities = [kpi_queries.region_kpis(session, f"510107001{c:03d}", start, end, calendar) for c in (1, 2, 3)]
    assert district == street  # one street in the tiny demo
    for key in ("received", "resolved", "resolved_on_time", "overdue_open", "rated", "satisfied"):
        assert district[key] == sum(c[key] for c in communities) > 0
