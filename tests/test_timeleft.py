"""The shared time-left rule (issue 17, item 6): dashboard/ui/timeleft.py, its boundaries and words.

Its browser twin (dashboard/ui/assets/timeleft.js) is checked against these same cases in
tests/e2e/test_timeleft_browser.py.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dashboard.domain.overdue import is_overdue_now
from dashboard.ui.timeleft import SOON_SECONDS, time_left_text, urgency, words, words_json

# (seconds left, open, urgency, zh text, en text): the boundaries the JS twin must agree with
CASES = [
    (3 * 86400, True, "ok", "3天0小时", "3d 0h"),
    (2 * 86400 + 3 * 3600 + 59 * 60, True, "ok", "2天3小时", "2d 3h"),
    (SOON_SECONDS + 1, True, "ok", "2小时0分", "2h 0m"),
    (SOON_SECONDS, True, "soon", "2小时0分", "2h 0m"),  # exactly two hours left: amber
    (55 * 60, True, "soon", "55分", "55m"),  # the extra-urgent appeal with 55 minutes left is amber
    (59, True, "soon", "0分", "0m"),
    (0, True, "soon", "0分", "0m"),  # at the deadline itself: not yet overdue (deadline_at < now)
    (-1, True, "over", "超期 1分", "overdue 1m"),  # one second late: red, rounded up
    (-45 * 60, True, "over", "超期 45分", "overdue 45m"),
    (-(2 * 86400 + 3 * 3600), True, "over", "超期 2天3小时", "overdue 2d 3h"),
    (-63 * 86400, True, "over", "超期 63天0小时", "overdue 63d 0h"),
    (-3600, False, "ok", "超期 1小时0分", "overdue 1h 0m"),  # closed: its deadline no longer runs
    (60, False, "ok", "1分", "1m"),
]


@pytest.mark.parametrize(("seconds", "is_open", "colour", "zh", "en"), CASES)
def test_boundaries(seconds, is_open, colour, zh, en):
    assert urgency(seconds, is_open) == colour
    assert time_left_text(seconds, "zh") == zh
    assert time_left_text(seconds, "en") == en


def test_no_deadline_is_ok():
    assert urgency(None, True) == "ok"


@pytest.mark.parametrize("seconds", [-3600, -1, -0.001, 0, 0.5, 1, 7200])
def test_overdue_agrees_with_the_domain_rule(seconds):
    """Red exactly when domain.overdue says overdue now (deadline_at < now)."""
    now = dt.datetime(2026, 11, 20, 4, tzinfo=dt.UTC)
    deadline = now + dt.timedelta(seconds=seconds)
    assert (urgency((deadline - now).total_seconds(), True) == "over") == is_overdue_now(True, deadline, now)


def test_words_for_the_browser():
    zh = words("zh")
    assert zh["dh"] == "{d}天{h}小时" and zh["over"] == "超期 {time}" and zh["soon_seconds"] == SOON_SECONDS
    assert words("en")["m"] == "{m}m"
    assert json.loads(words_json("zh")) == zh
