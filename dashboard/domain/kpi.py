"""The KPIs of BRIEF §5. One implementation, used by the wall, API, exports and the demo summary."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sqlalchemy import Float, cast, func

from dashboard.domain.overdue import overdue_mask
from dashboard.domain.vocab import SATISFIED_RATINGS, TransitionAction
from dashboard.domain.workcal import DAY, WorkCalendar

# The version of the definitions below that the stored counters (store/counters.py) depend on:
# raise it with any change to what a counter counts (COUNTER_KEYS, resolution_counters, the
# satisfied ratings…), and every server rebuilds its counters at its next start.
KPI_DEFINITIONS_VERSION = 1

# The §5 keys, in the table's order (this order is also the export's column order).
KPI_KEYS = (
    "received",
    "resolved",
    "resolved_on_time",
    "on_time_rate",
    "overdue_open",
    "avg_handling_wd",
    "rated",
    "satisfied",
    "satisfaction_rate",
    "response_median_min",
    "urged",  # issue 16: 督办 steps taken in the period (urged_count / urged_sql)
)

# Columns compute_kpis reads from an appeals frame (times as tz-aware UTC).
KPI_COLUMNS = ("reported_at", "accepted_at", "resolved_at", "deadline_at", "satisfaction")


def kpi_frame(rows) -> pd.DataFrame:
    """Rows of (reported_at, accepted_at, resolved_at, deadline_at, satisfaction) as compute_kpis reads them."""
    frame = pd.DataFrame(list(rows), columns=list(KPI_COLUMNS))
    for column in KPI_COLUMNS[:4]:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["satisfaction"] = frame["satisfaction"].map(lambda s: getattr(s, "value", s))  # enum or code
    return frame


# The additive counters behind §5: sums of these over appeals (or over stored day buckets) give
# every KPI but overdue_open and response_median_min. Handling time is summed in whole working
# seconds (integers), so a sum kept incrementally equals one recomputed from scratch exactly.
COUNTER_KEYS = ("received", "resolved", "resolved_on_time", "handling_seconds", "rated", "satisfied")
SATISFIED_CODES = frozenset(rating.value for rating in SATISFIED_RATINGS)


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def resolution_counters(resolved: pd.DataFrame, calendar: WorkCalendar) -> dict[str, np.ndarray]:
    """Per resolved appeal: on time (0/1), handling time in working seconds, rated (0/1), satisfied (0/1).

    `resolved` holds reported_at, resolved_at, deadline_at (tz-aware UTC) and satisfaction codes,
    every row with a resolved_at.
    """
    if resolved.empty:
        empty = np.zeros(0, dtype="int64")
        return {"resolved_on_time": empty, "handling_seconds": empty, "rated": empty, "satisfied": empty}
    handling = calendar.working_seconds(calendar.to_local_seconds(resolved["resolved_at"])) - calendar.working_seconds(
        calendar.to_local_seconds(resolved["reported_at"])
    )
    satisfaction = resolved["satisfaction"]
    return {
        "resolved_on_time": (resolved["resolved_at"] <= resolved["deadline_at"]).to_numpy(dtype="int64"),
        "handling_seconds": np.asarray(handling, dtype="int64"),
        "rated": satisfaction.notna().to_numpy(dtype="int64"),
        "satisfied": satisfaction.isin(SATISFIED_CODES).to_numpy(dtype="int64"),
    }


def response_minutes(reported_at: pd.Series, accepted_at: pd.Series) -> np.ndarray:
    """Minutes from report to acceptance, for appeals that were accepted (others dropped)."""
    accepted = accepted_at.notna()
    return ((accepted_at[accepted] - reported_at[accepted]).dt.total_seconds() / 60).to_numpy()


def response_minutes_sql(reported_at, accepted_at, dialect: str):
    """response_minutes as a SQL expression, so that a period's many appeals send one number each."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", accepted_at - reported_at), Float) / 60.0
    return (func.julianday(accepted_at) - func.julianday(reported_at)) * 1440.0


# urged: the urge (督办) steps taken in [start, end), counted where they happened (the appeal's
# region), whatever became of the appeal. A step, not an appeal: one appeal urged twice counts 2.
# Read from the transitions table (its (action, at) index), not from the per-day counters.
URGED_ACTION = TransitionAction.URGE


def urged_count(steps_at: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """urged in pandas: of the instants (tz-aware UTC) of urge steps, those in [start, end)."""
    return int(((steps_at >= start) & (steps_at < end)).sum())


def urged_sql(action, at, start, end):
    """urged in SQL: the condition on a transitions row (action and at columns) of counting in [start, end)."""
    return (action == URGED_ACTION) & (at >= start) & (at < end)


def kpis_from_counters(
    counters: dict[str, int], overdue_open: int, minutes_to_accept: np.ndarray, urged: int = 0
) -> dict[str, float | int | None]:
    """The KPIs from summed counters, the overdue count at the period's end, response minutes and urges."""
    resolved = int(counters["resolved"])
    on_time = int(counters["resolved_on_time"])
    rated = int(counters["rated"])
    satisfied = int(counters["satisfied"])
    return {
        "received": int(counters["received"]),
        "resolved": resolved,
        "resolved_on_time": on_time,
        "on_time_rate": _rate(on_time, resolved),
        "overdue_open": int(overdue_open),
        # Whole seconds summed as integers, divided once: the same float however the sum was kept.
        "avg_handling_wd": None if resolved == 0 else int(counters["handling_seconds"]) / DAY / resolved,
        "rated": rated,
        "satisfied": satisfied,
        "satisfaction_rate": _rate(satisfied, rated),
        "response_median_min": float(np.median(minutes_to_accept)) if len(minutes_to_accept) else None,
        "urged": int(urged),
    }


def compute_kpis(
    appeals: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    calendar: WorkCalendar,
    as_of: pd.Timestamp | None = None,
    urges_at: pd.Series | None = None,
) -> dict[str, float | int | None]:
    """KPIs over the half-open period [start, end) from an appeals frame, computed from scratch.

    overdue_open, a state at a moment, is read at as_of (default: end; domain.overdue.state_moment).
    urges_at: the instants of the urge steps on these appeals (none given: no urges).
    """
    reported = appeals["reported_at"]
    resolved_at = appeals["resolved_at"]
    in_period_reported = (reported >= start) & (reported < end)
    in_period_resolved = resolved_at.notna() & (resolved_at >= start) & (resolved_at < end)
    resolved = appeals[in_period_resolved]

    overdue_open = int(overdue_mask(appeals, end if as_of is None else as_of).sum())

    counters = {key: int(values.sum()) for key, values in resolution_counters(resolved, calendar).items()}
    counters["received"] = int(in_period_reported.sum())
    counters["resolved"] = len(resolved)
    reported_in_period = appeals[in_period_reported]
    minutes = response_minutes(reported_in_period["reported_at"], reported_in_period["accepted_at"])
    urged = 0 if urges_at is None else urged_count(urges_at, start, end)
    return kpis_from_counters(counters, overdue_open, minutes, urged)


def format_kpi(key: str, value: float | int | None, digits: int = 1) -> str:
    """Screen text for a KPI value: rates as percentages, durations to one decimal (digits: decimals)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if key.endswith("_rate"):
        return f"{value * 100:.{digits}f}%"
    if key in ("avg_handling_wd", "response_median_min"):
        return f"{value:.{digits}f}"
    return f"{int(value):,}"


# A value this close to its target meets it: float noise (0.8999999999999999 for 90 %) is no miss.
ASSESS_TOLERANCE = 1e-9


def format_kpi_against(key: str, value: float | int | None, targets: dict[str, dict]) -> str:
    """format_kpi, with more decimals where a value that misses its target (`assess`) would read as the
    target once rounded (89.96 % against 90 % shows "89.96%", never a red "90.0%")."""
    text = format_kpi(key, value)
    spec = targets.get(key)
    if spec is None or assess(key, value, targets) != "bad" or text != format_kpi(key, spec["target"]):
        return text
    for digits in (2, 3, 4):
        text = format_kpi(key, value, digits)
        if text != format_kpi(key, spec["target"], digits):
            break
    return text


def load_targets(path) -> dict[str, dict]:
    """KPI targets from the TOML file: {key: {"target": value, "direction": "min"|"max"}}."""
    import tomllib

    with open(path, "rb") as handle:
        targets = tomllib.load(handle)
    for key, spec in targets.items():
        if key not in KPI_KEYS or spec.get("direction") not in ("min", "max") or "target" not in spec:
            raise ValueError(f"{path}: [{key}] needs a §5 key, a target and direction min or max")
    return targets


def assess(key: str, value, targets: dict[str, dict]) -> str | None:
    """'good' or 'bad' against the key's target; None when there is no target or no value.

    The value as computed is compared, never its rounded text (90.0 % shown for 89.96 % misses a 90 %
    target; format_kpi_against then shows the decimals that say so), within ASSESS_TOLERANCE.
    """
    spec = targets.get(key)
    if spec is None or value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    gap = value - spec["target"]  # above the target is good for a "min" KPI, below it for a "max" one
    meets = gap >= -ASSESS_TOLERANCE if spec["direction"] == "min" else gap <= ASSESS_TOLERANCE
    return "good" if meets else "bad"
