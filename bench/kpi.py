"""The district wall's KPI refresh at district scale: stored counters against recomputation from scratch.

    python -m bench.kpi [--sqlite-url URL] [--postgres-url URL] [--runs 50] [--scratch-runs 3]

Needs a district-scale database, generated once and reused (about five minutes each):
`python -m bench.datasets` builds both where `python -m bench` looks for them, or

    CC_DATABASE_URL=sqlite:////tmp/district.db python app.py demo --scale district
    CC_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/kpi_district python app.py demo --scale district

"Now" is the demo's end (its newest report or resolution), so "today" is the demo's last, partly elapsed day,
as on a live wall. Per backend, in the same run, with a new session per refresh as the wall
opens one:

- fast: walldata.today_kpis (the district) and walldata.today_child_kpis (its 13 streets, the
  map), from the stored counters plus the two small exact queries;
- previous: the wall's path before the counters (aggregates.recompute_region_kpis: load every
  appeal that can count for the period, then kpi.compute_kpis), per street one such call;
- whole table: kpi_frame over every appeal of the district and compute_kpis (--scratch-runs).

Before timing, every fast answer is checked equal to the recomputation. Target (issue 6): the
district wall's KPI query p95 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select

from bench.datasets import SQLITE_PATH
from bench.report import figure
from dashboard.config import Config, normalise_database_url
from dashboard.domain.kpi import compute_kpis, kpi_frame
from dashboard.domain.localday import LocalDay
from dashboard.domain.workcal import build_calendar
from dashboard.queries import kpis as kpi_queries
from dashboard.queries import wall as walldata
from dashboard.queries.regions import default_region_code
from dashboard.store import counters as aggregates
from dashboard.store import migrate
from dashboard.store.database import Database
from dashboard.store.models import Appeal, Region

TARGET_MS = 50.0
# The cases `python -m bench` gathers into its table (p95 of the fast path, beside the previous path's).
HEADLINES = {
    "district, today": "KPI refresh of the district wall, today (p95)",
    "streets, today (map)": "KPI refresh per street for the map, today (p95)",
}


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def _time(database: Database, runs: int, query) -> tuple[list[float], object]:
    samples, result = [], None
    for _ in range(runs):
        with database.session() as session:
            started = time.perf_counter()
            result = query(session)
            samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def _whole_table(session, district: str, start, end, calendar) -> dict:
    columns = [Appeal.reported_at, Appeal.accepted_at, Appeal.resolved_at, Appeal.deadline_at, Appeal.satisfaction]
    rows = session.execute(select(*columns).where(Appeal.region_code.like(district + "%"))).all()
    return compute_kpis(kpi_frame(rows), pd.Timestamp(start), pd.Timestamp(end), calendar)


def _same(fast: dict, reference: dict) -> bool:
    """Equal KPIs; response minutes to within a millisecond (the database subtracts the times)."""
    key = "response_median_min"
    if (fast[key] is None) != (reference[key] is None):
        return False
    close = fast[key] is None or abs(fast[key] - reference[key]) < 1e-3
    return close and {k: v for k, v in fast.items() if k != key} == {k: v for k, v in reference.items() if k != key}


def run_backend(name: str, url: str, runs: int, scratch_runs: int) -> list[str]:
    """Check and time one backend; returns the printed table rows."""
    migrate.upgrade(url)
    database = Database().bind(url)
    config = Config.from_env()
    calendar = build_calendar(config.TIMEZONE, Path(config.CALENDAR_OVERRIDE_FILE))
    with database.session() as session:
        district = default_region_code(session)
        appeals = session.scalar(select(func.count()).select_from(Appeal))
        # The demo's end: its newest report or resolution (both indexed).
        newest = max(
            session.scalar(select(func.max(Appeal.reported_at))),
            session.scalar(select(func.max(Appeal.resolved_at))),
        )
        streets = list(session.scalars(select(Region.code).where(Region.parent_code == district)))
        if not appeals:
            raise SystemExit(f"{name}: no appeals at {url}; generate the district demo first (see the docstring)")
        started = time.perf_counter()
        aggregates.ensure_current(session, calendar)
        built = time.perf_counter() - started
    now = newest + dt.timedelta(seconds=1)
    start = LocalDay.of(now, calendar).start
    month_start = LocalDay.of(now - dt.timedelta(days=29), calendar).start
    print(
        f"{name}: {appeals:,} appeals, {len(streets)} streets, now = {now.isoformat()}"
        f" (counters checked/built in {built:.1f} s)",
        flush=True,
    )

    # Equal answers first: the fast path must say exactly what the recomputation says.
    with database.session() as session:
        fast = walldata.today_kpis(session, district, now, calendar)
        assert _same(fast, aggregates.recompute_region_kpis(session, district, start, now, calendar)), (
            "district differs"
        )
        by_street = walldata.today_child_kpis(session, district, now, calendar)
        for street in streets:
            expected = aggregates.recompute_region_kpis(session, street, start, now, calendar)
            assert _same(by_street[street], expected), f"street {street} differs"
        month = kpi_queries.region_kpis(session, district, month_start, now, calendar)
        assert _same(month, aggregates.recompute_region_kpis(session, district, month_start, now, calendar))
    print(f"{name}: every fast answer equals the recomputation (district, {len(streets)} streets, 30 days)", flush=True)

    cases = [
        (
            "district, today",
            lambda s: walldata.today_kpis(s, district, now, calendar),
            lambda s: aggregates.recompute_region_kpis(s, district, start, now, calendar),
            runs,
        ),
        (
            "streets, today (map)",
            lambda s: walldata.today_child_kpis(s, district, now, calendar),
            lambda s: {c: aggregates.recompute_region_kpis(s, c, start, now, calendar) for c in streets},
            runs,
        ),
        (
            "district, last 30 days",
            lambda s: kpi_queries.region_kpis(s, district, month_start, now, calendar),
            lambda s: aggregates.recompute_region_kpis(s, district, month_start, now, calendar),
            runs,
        ),
        (
            "district, today, whole table",
            lambda s: walldata.today_kpis(s, district, now, calendar),
            lambda s: _whole_table(s, district, start, now, calendar),
            scratch_runs,
        ),
    ]
    lines = []
    for label, fast_query, naive_query, naive_runs in cases:
        fast_samples, _ = _time(database, runs, fast_query)
        naive_samples, _ = _time(database, naive_runs, naive_query)
        fast_p50, fast_p95 = _percentiles(fast_samples)
        naive_p50, naive_p95 = _percentiles(naive_samples)
        verdict = "met" if fast_p95 <= TARGET_MS else f"missed by {fast_p95 - TARGET_MS:.1f} ms"
        line = (
            f"{name:11} {label:32} {fast_p50:8.1f} {fast_p95:8.1f}   {naive_p50:9.1f} {naive_p95:9.1f}"
            f" {naive_runs:5d} {naive_p50 / fast_p50:7.1f}x  {verdict}"
        )
        print(line, flush=True)
        lines.append(line)
        if label in HEADLINES:
            figure(6, HEADLINES[label], name, fast_p95, "ms", naive=naive_p95, target="p95 ≤ 50 ms", met=fast_p95 <= 50)
    database.engine.dispose()
    return lines


def main(argv: list[str] | None = None) -> None:
    """Print fast and from-scratch p50/p95 (ms) per case and backend."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite-url", default=f"sqlite:///{SQLITE_PATH}", help="default: bench.datasets' SQLite file")
    parser.add_argument("--postgres-url", default=None, help="a PostgreSQL database holding the district demo")
    parser.add_argument("--runs", type=int, default=50, help="timed refreshes per case (fast, and previous path)")
    parser.add_argument("--scratch-runs", type=int, default=3, help="timed whole-table recomputations")
    args = parser.parse_args(argv)
    print(
        f"{'backend':11} {'query':32} {'fast p50':>8} {'p95 ms':>8}   {'naive p50':>9} {'p95 ms':>9}"
        f" {'runs':>5} {'ratio':>8}  target p95 ≤ {TARGET_MS:.0f} ms (fast: {args.runs} runs)"
    )
    backends = [("sqlite", args.sqlite_url)]
    if args.postgres_url:
        backends.append(("postgresql", normalise_database_url(args.postgres_url)))
    for name, url in backends:
        if name == "sqlite" and not Path(url.removeprefix("sqlite:///")).exists():
            print(f"{name}: {url} does not exist; generate the district demo first (see the docstring)")
            continue
        run_backend(name, url, args.runs, args.scratch_runs)


if __name__ == "__main__":
    main()
