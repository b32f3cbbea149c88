"""Time left to a deadline: the one format and the one colour rule (issue 17), used by the wall, the
console's grid and appeal page, the exports' overdue sheet and /tasks. Its browser twin is
dashboard/ui/assets/timeleft.js (window.ccTimeLeft), which takes its words from `words(lang)`.

The boundaries (pinned in tests/test_timeleft.py):
- overdue ("over", red) means now is after the deadline, as in dashboard/domain/overdue.py
  (deadline_at < now): seconds_left < 0. With exactly 0 seconds left an appeal is not yet overdue.
- "soon" (amber) is within two hours: 0 <= seconds_left <= SOON_SECONDS (exactly 2 h left is amber).
- "ok" otherwise, and always for a closed appeal (its deadline no longer runs).

Text, to the minute: "2天3小时" / "2d 3h" from a day on, "2小时5分" / "2h 5m" from an hour on, "45分" /
"45m" under an hour; overdue "超期 2天3小时" / "overdue 2d 3h". Time left is rounded down (never shown
longer than it is), time overdue rounded up (one second late reads "超期 1分", never "超期 0分").
"""

from __future__ import annotations

import json
import math

from dashboard.ui.i18n import LANGUAGES, normalise_language, t

SOON_SECONDS = 2 * 3600  # amber within two hours

OVER = "over"
SOON = "soon"
OK = "ok"

WORD_KEYS = ("dh", "hm", "m", "over")  # timeleft.<key> in the i18n modules; the JS twin gets them as they are


def urgency(seconds_left: float | None, is_open: bool = True) -> str:
    """ "over" (red, overdue), "soon" (amber, due within two hours) or "ok"; a closed appeal, or one with
    no deadline, is "ok"."""
    if not is_open or seconds_left is None:
        return OK
    if seconds_left < 0:
        return OVER
    if seconds_left <= SOON_SECONDS:
        return SOON
    return OK


def _span(minutes: int, lang: str) -> str:
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return t("timeleft.dh", lang, d=days, h=hours)
    if hours:
        return t("timeleft.hm", lang, h=hours, m=minutes)
    return t("timeleft.m", lang, m=minutes)


def duration_text(seconds: float, lang: str) -> str:
    """A span in words, to the minute (rounded down): "2天3小时", "2小时5分", "45分" / "2d 3h", "2h 5m", "45m"."""
    return _span(int(abs(seconds)) // 60, lang)


def time_left_text(seconds_left: float, lang: str) -> str:
    """Time left ("2天3小时" / "2d 3h"), or time overdue ("超期 2天3小时" / "overdue 2d 3h") when negative."""
    if seconds_left < 0:
        return t("timeleft.over", lang, time=_span(math.ceil(-seconds_left / 60), lang))
    return _span(int(seconds_left) // 60, lang)


def words(lang: str) -> dict[str, str | int]:
    """The format's words for the browser twin (placeholders {d} {h} {m} {time} left in) and the threshold."""
    strings = LANGUAGES[normalise_language(lang)]
    return {key: strings[f"timeleft.{key}"] for key in WORD_KEYS} | {"soon_seconds": SOON_SECONDS}


def words_json(lang: str) -> str:
    """`words` as JSON for a data-cc-timeleft attribute (read by timeleft.js)."""
    return json.dumps(words(lang), ensure_ascii=False, separators=(",", ":"))
