"""Early warning (issue 19): the rules of the three kinds of alert, in one place.

- surge: more appeals of one category in one community (or street) today than the recent past
  leads to expect. `observed` = the appeals of that category and place from today's local
  midnight up to now; `expected` = the mean, over the previous `weeks` same weekdays, of the
  appeals of that category and place from that day's local midnight up to the same local time of
  day (`expected_count`). An alert when P(X ≥ observed) for X ~ Poisson(expected) is below
  `p_value` and observed ≥ `min_count` (`is_surge`).
- repeat: the same compound and category at least `min_count` times within the last `days` days
  (open or not), or the same address (normalised text, `normalise_address`) as often.
- at risk: an open appeal, not yet overdue (domain.overdue), with less than `time_left_fraction`
  of its time (deadline − reported) left, while its department's open load now is above that
  department's median daily open load over the last `median_days` days (`is_at_risk`).

An alert's key names its condition (`surge_key`, `repeat_key`, `at_risk_key`): one alert per key
while it is not closed. Its `details` are the figures its reason is written from (`*_details`);
the words are dashboard.ui.alerts.reason_text's. The thresholds are read from data/alerts.toml.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from scipy.stats import poisson

SYSTEM_ACTOR = "system:alerts"  # closed_by of an alert the job closed itself; actor of its audit rows
# The expectation when the past had none at all: a Poisson mean of 0 makes any appeal "impossible"
# (P = 0, and no ratio can be formed). A floor of 0.1 appeals — one appeal in ten such days — keeps
# the test finite and still lets a first-ever burst through: P(X ≥ 5 | 0.1) ≈ 7.7e-8.
EXPECTED_FLOOR = 0.1


class AlertKind(StrEnum):
    SURGE = "surge"
    REPEAT = "repeat"
    AT_RISK = "at_risk"


class AlertStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class RepeatBasis(StrEnum):
    COMPOUND = "compound"  # the same compound (region code of 15 digits) and category
    ADDRESS = "address"  # the same normalised address and category


@dataclass(frozen=True)
class SurgeRules:
    weeks: int = 8
    p_value: float = 0.001
    min_count: int = 5
    levels: tuple[str, ...] = ("community", "street")


@dataclass(frozen=True)
class RepeatRules:
    days: int = 7
    min_count: int = 3


@dataclass(frozen=True)
class AtRiskRules:
    time_left_fraction: float = 0.25
    median_days: int = 30


@dataclass(frozen=True)
class LifecycleRules:
    auto_close_hours: float = 24

    @property
    def auto_close_after(self) -> dt.timedelta:
        """How long an alert's condition must have been gone before the job closes it."""
        return dt.timedelta(hours=self.auto_close_hours)


@dataclass(frozen=True)
class AlertRules:
    """The thresholds of data/alerts.toml."""

    surge: SurgeRules = SurgeRules()
    repeat: RepeatRules = RepeatRules()
    at_risk: AtRiskRules = AtRiskRules()
    lifecycle: LifecycleRules = LifecycleRules()


LEVEL_CODE_LENGTH = {"street": 9, "community": 12, "compound": 15}


def load_rules(path: Path) -> AlertRules:
    """The alert rules of a TOML file (data/alerts.toml, CC_ALERTS_FILE); ValueError names a bad value."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    surge, repeat = data.get("surge", {}), data.get("repeat", {})
    at_risk, lifecycle = data.get("at_risk", {}), data.get("lifecycle", {})
    rules = AlertRules(
        SurgeRules(
            weeks=int(surge.get("weeks", 8)),
            p_value=float(surge.get("p_value", 0.001)),
            min_count=int(surge.get("min_count", 5)),
            levels=tuple(surge.get("levels", ("community", "street"))),
        ),
        RepeatRules(days=int(repeat.get("days", 7)), min_count=int(repeat.get("min_count", 3))),
        AtRiskRules(
            time_left_fraction=float(at_risk.get("time_left_fraction", 0.25)),
            median_days=int(at_risk.get("median_days", 30)),
        ),
        LifecycleRules(auto_close_hours=float(lifecycle.get("auto_close_hours", 24))),
    )
    _check(rules)
    return rules


def _check(rules: AlertRules) -> None:
    problems = []
    if rules.surge.weeks < 1:
        problems.append("surge.weeks must be at least 1")
    if not 0 < rules.surge.p_value < 1:
        problems.append("surge.p_value must be between 0 and 1")
    if rules.surge.min_count < 1 or rules.repeat.min_count < 2:
        problems.append("surge.min_count must be ≥ 1 and repeat.min_count ≥ 2")
    if set(rules.surge.levels) - {"community", "street"} or not rules.surge.levels:
        problems.append("surge.levels: community and/or street")
    if rules.repeat.days < 1 or rules.at_risk.median_days < 1:
        problems.append("repeat.days and at_risk.median_days must be at least 1")
    if not 0 < rules.at_risk.time_left_fraction < 1:
        problems.append("at_risk.time_left_fraction must be between 0 and 1")
    if rules.lifecycle.auto_close_hours <= 0:
        problems.append("lifecycle.auto_close_hours must be positive")
    if problems:
        raise ValueError("; ".join(problems))


# --- surge -----------------------------------------------------------------------------------


def poisson_tail(observed: int, expected: float) -> float:
    """P(X ≥ observed) for X ~ Poisson(expected) (scipy's survival function: sf(k) = P(X > k))."""
    if observed <= 0:
        return 1.0
    return float(poisson.sf(observed - 1, max(expected, EXPECTED_FLOOR)))


def expected_count(history: Sequence[int], weeks: int) -> float:
    """The surge test's expectation: the mean of the counts of the previous `weeks` same weekdays
    (each from local midnight up to the same local time of day), floored at EXPECTED_FLOOR.

    `history` holds the counts of the weeks that had any; the missing weeks count as 0, so the
    mean is always over `weeks` days (a place with appeals on one of eight Mondays expects 1/8).
    """
    return max(sum(history) / weeks, EXPECTED_FLOOR)


def history_days(today: dt.date, weeks: int) -> list[dt.date]:
    """The previous `weeks` same weekdays of a local day, nearest first."""
    return [today - dt.timedelta(weeks=week) for week in range(1, weeks + 1)]


def is_surge(observed: int, expected: float, rules: SurgeRules) -> bool:
    """Whether `observed` appeals against `expected` make a surge: at least min_count, and P(X ≥ observed) < p_value."""
    return observed >= rules.min_count and poisson_tail(observed, expected) < rules.p_value


def surge_floor(expected: float, rules: SurgeRules) -> int:
    """The smallest count that is a surge against `expected` (the SQL pre-filter's cut: counts below cannot alert)."""
    # The tail falls as the count grows; start at min_count and step up (a handful of steps in practice).
    observed = rules.min_count
    while poisson_tail(observed, expected) >= rules.p_value:
        observed += 1
    return observed


# --- repeat ----------------------------------------------------------------------------------

# Everything but letters and digits goes: spaces, ASCII and CJK punctuation (、，。·—（）《》 …).
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


@functools.lru_cache(maxsize=65536)  # a window's addresses repeat, and the job runs every minute
def normalise_address(address: str | None) -> str:
    """An address as the repeat rule compares it: full-width → half-width (NFKC), lower case, every
    space and punctuation mark removed. Chinese numerals stay as written ("三号楼" ≠ "3号楼"): turning
    them into digits needs more than a table ("十三", "二十一") and the same feed writes an address the
    same way each time. "" when nothing is left."""
    if not address:
        return ""
    text = unicodedata.normalize("NFKC", address).lower()
    return _NOT_WORD.sub("", text)


# --- at risk ---------------------------------------------------------------------------------


def time_left_fraction(reported_at: dt.datetime, deadline_at: dt.datetime, now: dt.datetime) -> float:
    """The share of an appeal's time (deadline − reported) still left at `now` (negative once overdue)."""
    allowed = (deadline_at - reported_at).total_seconds()
    if allowed <= 0:
        return 0.0
    return (deadline_at - now).total_seconds() / allowed


def is_at_risk(
    is_open: bool,
    reported_at: dt.datetime,
    deadline_at: dt.datetime,
    now: dt.datetime,
    open_load: int,
    median_load: float | None,
    rules: AtRiskRules,
) -> bool:
    """Whether an appeal is at risk: open, not overdue now (domain.overdue), less than time_left_fraction
    of its time left, and its department's open load now above its median daily open load
    (no median, e.g. no department or no history: never)."""
    from dashboard.domain.overdue import is_overdue_now

    if not is_open or is_overdue_now(is_open, deadline_at, now) or median_load is None:
        return False
    return time_left_fraction(reported_at, deadline_at, now) < rules.time_left_fraction and open_load > median_load


def median(values: Sequence[float]) -> float | None:
    """The median of some numbers, or None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# --- keys and details --------------------------------------------------------------------------


def surge_key(region_code: str, category: str) -> str:
    """A surge's key: its place (community or street code) and category."""
    return f"surge:{region_code}:{category}"


def repeat_key(basis: RepeatBasis | str, region_code: str, category: str, address: str = "") -> str:
    """A repeat's key: its basis, its compound (or, by address, community) code, the category and, by
    address, a hash of the normalised address (the key is shown in lists: no address in clear)."""
    key = f"repeat:{RepeatBasis(basis).value}:{region_code}:{category}"
    if address:
        key += ":" + hashlib.sha256(address.encode()).hexdigest()[:32]
    return key


def at_risk_key(appeal_id: int) -> str:
    """An at-risk alert's key: the appeal."""
    return f"at_risk:{appeal_id}"


def surge_details(level: str, observed: int, expected: float, p: float, weeks: int, since: dt.datetime) -> dict:
    """The figures of a surge: level (community|street), count today so far, expectation, tail probability."""
    return {
        "level": level,
        "observed": int(observed),
        "expected": round(float(expected), 3),
        "p_value": float(f"{p:.3g}"),
        "weeks": weeks,
        "since": since.astimezone(dt.UTC).isoformat(),
    }


def repeat_details(basis: RepeatBasis | str, count: int, days: int, appeal_ids: Sequence[int]) -> dict:
    """The figures of a repeat: basis, count within `days` days, the appeals (ids); the address is
    never stored (personal data): only that the basis was the address."""
    return {
        "basis": RepeatBasis(basis).value,
        "count": int(count),
        "days": days,
        "appeal_ids": sorted(int(i) for i in appeal_ids)[-20:],
    }


def at_risk_details(
    fraction_left: float, hours_left: float, open_load: int, median_load: float, median_days: int, deadline_at
) -> dict:
    """The figures of an at-risk appeal: share and hours of its time left, its department's load now and median."""
    return {
        "fraction_left": round(float(fraction_left), 3),
        "hours_left": round(float(hours_left), 1),
        "open_load": int(open_load),
        "median_load": round(float(median_load), 1),
        "median_days": median_days,
        "deadline_at": deadline_at.astimezone(dt.UTC).isoformat(),
    }
