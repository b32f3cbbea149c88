"""The KPIs of BRIEF §5. One implementation, used by the wall, API, exports and the demo summary."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dashboard.vocab import SATISFIED_RATINGS
from dashboard.workcal import WorkCalendar

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


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def compute_kpis(
    appeals: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, calendar: WorkCalendar
) -> dict[str, float | int | None]:
    """KPIs over the half-open period [start, end) from an appeals frame, computed from scratch."""
    reported = appeals["reported_at"]
    resolved_at = appeals["resolved_at"]
    in_period_reported = (reported >= start) & (reported < end)
    in_period_resolved = resolved_at.notna() & (resolved_at >= start) & (resolved_at < end)
    resolved = appeals[in_period_resolved]

    on_time = int((resolved["resolved_at"] <= resolved["deadline_at"]).sum())
    still_open_at_end = (reported < end) & (resolved_at.isna() | (resolved_at >= end))
    overdue_open = int((still_open_at_end & (appeals["deadline_at"] < end)).sum())

    if len(resolved):
        handling = calendar.working_days_between_local(
            calendar.to_local_seconds(resolved["reported_at"]),
            calendar.to_local_seconds(resolved["resolved_at"]),
        )
        avg_handling = float(np.mean(handling))
    else:
        avg_handling = None

    ratings = resolved["satisfaction"].dropna().astype(str)
    satisfied = int(ratings.isin([r.value for r in SATISFIED_RATINGS]).sum())

    accepted = appeals[in_period_reported & appeals["accepted_at"].notna()]
    if len(accepted):
        minutes = (accepted["accepted_at"] - accepted["reported_at"]).dt.total_seconds() / 60
        response_median = float(np.median(minutes))
    else:
        response_median = None

    return {
        "received": int(in_period_reported.sum()),
        "resolved": len(resolved),
        "resolved_on_time": on_time,
        "on_time_rate": _rate(on_time, len(resolved)),
        "overdue_open": overdue_open,
        "avg_handling_wd": avg_handling,
        "rated": len(ratings),
        "satisfied": satisfied,
        "satisfaction_rate": _rate(satisfied, len(ratings)),
        "response_median_min": response_median,
    }


def format_kpi(key: str, value: float | int | None) -> str:
    """Screen text for a KPI value: rates as percentages, durations to one decimal."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if key.endswith("_rate"):
        return f"{value * 100:.1f}%"
    if key in ("avg_handling_wd", "response_median_min"):
        return f"{value:.1f}"
    return f"{int(value):,}"


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
    """'good' or 'bad' against the key's target; None when there is no target or no value."""
    spec = targets.get(key)
    if spec is None or value is None:
        return None
    meets = value >= spec["target"] if spec["direction"] == "min" else value <= spec["target"]
    return "good" if meets else "bad"
