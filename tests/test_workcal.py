"""Working days and deadlines (BRIEF §4), with make-up working days and the override file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.config import DATA_DIR
from dashboard.domain.sla import Rule, load_policy
from dashboard.domain.workcal import build_calendar, load_overrides

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = build_calendar()
POLICY = load_policy(DATA_DIR / "sla_policy.toml")


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def test_brief_example_friday_afternoon_ordinary():
    # Reported Friday 16:00, ordinary (2 working days), Mon and Tue working → Tuesday 16:00.
    deadline = POLICY.deadline(CALENDAR, local(2026, 11, 20, 16), "ordinary", "noise")
    assert deadline == local(2026, 11, 24, 16)


def test_reported_on_a_weekend_starts_the_clock_on_the_next_working_day():
    deadline = CALENDAR.add_working_days(local(2026, 11, 21, 10), 2)
    assert deadline == local(2026, 11, 25, 0)  # Mon 00:00 + 48 h of working time


def test_national_day_2026_and_its_make_up_working_days():
    assert not CALENDAR.is_working_day(dt.date(2026, 10, 5))
    assert CALENDAR.is_working_day(dt.date(2026, 9, 20))  # Sunday, make-up working day
    assert CALENDAR.is_working_day(dt.date(2026, 10, 10))  # Saturday, make-up working day
    # Wed 30 Sep 10:00 + 2 working days: 14 h on Sep 30, holiday until Oct 7, 24 h on Oct 8, 10 h Oct 9.
    assert CALENDAR.add_working_days(local(2026, 9, 30, 10), 2) == local(2026, 10, 9, 10)
    # Fri 9 Oct 12:00 + 1 working day ends on the make-up Saturday.
    assert CALENDAR.add_working_days(local(2026, 10, 9, 12), 1) == local(2026, 10, 10, 12)


def test_spring_festival_2026():
    # Spring Festival 2026: Feb 15–23 off; Sat Feb 14 and Sat Feb 28 are make-up working days.
    assert CALENDAR.is_working_day(dt.date(2026, 2, 14))
    assert not CALENDAR.is_working_day(dt.date(2026, 2, 16))
    assert CALENDAR.is_working_day(dt.date(2026, 2, 28))
    assert CALENDAR.add_working_days(local(2026, 2, 13, 18), 1) == local(2026, 2, 14, 18)
    assert CALENDAR.add_working_days(local(2026, 2, 14, 18), 1) == local(2026, 2, 24, 18)


def test_an_exact_day_boundary_gives_the_earliest_instant():
    # Starting at Friday 00:00, one working day has accumulated at Friday 24:00 (= Saturday 00:00).
    assert CALENDAR.add_working_days(local(2026, 11, 20, 0), 1) == local(2026, 11, 21, 0)


def test_handling_time_counts_only_working_days():
    assert CALENDAR.working_days_between(local(2026, 11, 20, 16), local(2026, 11, 23, 16)) == 1.0
    assert CALENDAR.working_days_between(local(2026, 10, 1, 9), local(2026, 10, 7, 20)) == 0.0
    assert CALENDAR.working_days_between(local(2026, 11, 23, 9), local(2026, 11, 23, 21)) == 0.5


def test_extra_urgent_is_one_hour_of_calendar_time_even_on_a_holiday():
    assert POLICY.deadline(CALENDAR, local(2026, 10, 1, 23, 45), "extra_urgent", "noise") == local(2026, 10, 2, 0, 45)


def test_per_category_rule_overrides_the_default():
    assert POLICY.rule("ordinary", "safety_hazard") == Rule(working_days=1)
    assert POLICY.rule("ordinary", "noise") == Rule(working_days=2)


def test_years_without_data_fall_back_and_say_so():
    status = CALENDAR.status(dt.date(2026, 11, 27))
    assert status["sources"]["2026"] == "library"
    assert status["sources"]["2027"] == "fallback"
    assert status["status"] == "warning"
    assert CALENDAR.status(dt.date(2027, 3, 1))["status"] == "degraded"


def test_override_file_fills_a_year(tmp_path: Path):
    override = tmp_path / "overrides.toml"
    override.write_text('[2027]\nholidays = ["2027-01-01"]\nworkdays = ["2027-01-02"]\n')
    calendar = build_calendar(override_file=override)
    assert calendar.source_by_year[2027] == "override"
    assert not calendar.is_working_day(dt.date(2027, 1, 1))  # Friday, holiday
    assert calendar.is_working_day(dt.date(2027, 1, 2))  # Saturday, make-up day
    assert calendar.status(dt.date(2026, 11, 27))["status"] == "ok"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[2027]\nholidays = ["2026-01-01"]\n', "not in 2027"),
        ('[2027]\nholidays = ["2027-01-04"]\nworkdays = ["2027-01-04"]\n', "both holiday and workday"),
    ],
)
def test_override_file_errors_are_explained(tmp_path: Path, content, message):
    override = tmp_path / "overrides.toml"
    override.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_overrides(override)


instants = st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2026, 12, 20)).map(
    lambda naive: naive.replace(microsecond=0, tzinfo=SHANGHAI)
)


@settings(max_examples=300, deadline=None)
@given(instants, instants, st.integers(min_value=1, max_value=5))
def test_deadlines_are_monotonic_in_the_start(a, b, days):
    first, second = sorted([a, b])
    assert CALENDAR.add_working_days(first, days) <= CALENDAR.add_working_days(second, days)


@settings(max_examples=300, deadline=None)
@given(instants, st.integers(min_value=1, max_value=5))
def test_handling_time_up_to_the_deadline_is_exactly_the_allowance(start, days):
    deadline = CALENDAR.add_working_days(start, days)
    assert deadline > start
    assert CALENDAR.working_days_between(start, deadline) == pytest.approx(days)
    # And the deadline is the earliest such instant.
    assert CALENDAR.working_days_between(start, deadline - dt.timedelta(seconds=1)) < days


def test_vector_and_scalar_forms_agree():
    starts = [local(2026, 9, 30, 10), local(2026, 2, 13, 18), local(2026, 11, 21, 10)]
    seconds = CALENDAR.to_local_seconds(pd.DatetimeIndex(starts))
    vector = CALENDAR.from_local_seconds(CALENDAR.add_working_days_local(seconds, np.array([2, 1, 2])))
    assert [v.to_pydatetime() for v in vector] == [
        CALENDAR.add_working_days(s, n) for s, n in zip(starts, [2, 1, 2], strict=True)
    ]


holiday_windows = st.one_of(
    st.datetimes(min_value=dt.datetime(2026, 9, 15), max_value=dt.datetime(2026, 10, 15)),
    st.datetimes(min_value=dt.datetime(2026, 2, 1), max_value=dt.datetime(2026, 3, 10)),
).map(lambda naive: naive.replace(microsecond=0, tzinfo=SHANGHAI))


@settings(max_examples=300, deadline=None)
@given(holiday_windows, st.integers(min_value=1, max_value=3))
def test_deadlines_around_national_day_and_spring_festival_land_on_working_days(start, days):
    deadline = CALENDAR.add_working_days(start, days).astimezone(SHANGHAI)
    midnight = deadline.time() == dt.time(0, 0)
    # A deadline is inside a working day, or exactly at the midnight that ends one.
    day = (deadline - dt.timedelta(seconds=1)).date() if midnight else deadline.date()
    assert CALENDAR.is_working_day(day)
    assert CALENDAR.working_days_between(start, deadline) == pytest.approx(days)
