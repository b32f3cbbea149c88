"""The walls' own health, as /admin and /metrics show it: one row per screen from its latest report.

A wall page (ui/assets/wall_health.js) reports every minute; web.wall_health keeps the latest
report of each (store.wall_reports). A wall is silent when no report came for SILENT_AFTER
(the page was closed, the screen is off, the network is down), stale when its data last changed
on screen more than STALE_AFTER ago (it resyncs every 30 s: older data means it is frozen).
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.domain import clock

SILENT_AFTER = 180.0  # seconds without a report: 3 missed minutes
STALE_AFTER = 60.0  # seconds since the screen's data last changed: two missed resyncs


@dataclass(frozen=True)
class WallRow:
    """One wall screen's latest report, with how old it is and its state (ok, stale, silent)."""

    wall: str  # the token's name and the screen's own id
    region: str
    state: str
    report_age: float
    data_age: float | None
    socket: str
    heap_bytes: int | None
    long_tasks: int
    received_at: float


def state_of(report_age: float, data_age: float | None) -> str:
    """silent, stale or ok (silent wins: a silent wall's data age is unknown)."""
    if report_age > SILENT_AFTER:
        return "silent"
    if data_age is None or data_age > STALE_AFTER:
        return "stale"
    return "ok"


def wall_rows(reports: dict[str, dict], now: float) -> list[WallRow]:
    """Every wall's row, the worst first, then by name."""
    rows = []
    for wall, report in reports.items():
        received = float(report.get("received_at", 0))
        report_age = max(0.0, now - received)
        updated = report.get("updated_at")
        # The data's age when it reported, plus the time since: a silent wall's data only gets older.
        data_age = None if updated is None else max(0.0, received - float(updated)) + report_age
        rows.append(
            WallRow(
                wall=wall,
                region=str(report.get("region") or ""),
                state=state_of(report_age, data_age),
                report_age=round(report_age, 1),
                data_age=None if data_age is None else round(data_age, 1),
                socket=str(report.get("socket") or "unknown"),
                heap_bytes=report.get("heap_bytes"),
                long_tasks=int(report.get("long_tasks") or 0),
                received_at=received,
            )
        )
    order = {"silent": 0, "stale": 1, "ok": 2}
    return sorted(rows, key=lambda row: (order[row.state], row.wall))


def read(reports) -> list[WallRow]:
    """Every wall's row now (reports: the app's store.wall_reports.WallReports)."""
    now = clock.utcnow().timestamp()
    return wall_rows(reports.all(now), now)
