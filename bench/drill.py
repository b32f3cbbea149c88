"""Drill-down server time at district scale, on SQLite and PostgreSQL.

    python -m bench.drill [--runs 20] [--postgres-url URL] [--no-postgres]

Uses the district datasets of bench.datasets (1.5 million appeals, 1.2 million residents;
built on first use). For each drill state — district, street, community, compound, two
cross-filters (priority; channel × status), a filter plus overdue-only, a text search — it times
what the server does when the URL changes (the page layout for that URL: every query, KPI and
figure), and the appeals grid's row requests (first page; a deep page sorted by deadline).
Target (issue 5): p95 ≤ 250 ms; issue 21: the district cross-filters p95 ≤ 100 ms. The naive
comparison, in the same run: the district view's KPIs and daily series from the reference KPI
loader called once for the period and once per day (the obvious way to draw a per-day rate chart).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

from flask import g
from sqlalchemy import select

from bench.datasets import DEFAULT_POSTGRES, END, district_postgres, district_sqlite
from bench.report import figure
from dashboard import create_app, freeze_startup_objects
from dashboard.domain.roles import Role
from dashboard.domain.vocab import RegionLevel
from dashboard.store.database import db
from dashboard.store.models import Region
from dashboard.web.auth import Principal

ADMIN = Principal(user_id=0, username="bench", display_name="bench", role=Role.ADMIN, region_code=None)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _states(session) -> dict[str, dict]:
    street = session.scalar(select(Region.code).where(Region.level == RegionLevel.STREET).order_by(Region.code))
    community = session.scalar(select(Region.code).where(Region.parent_code == street).order_by(Region.code))
    compound = session.scalar(select(Region.code).where(Region.parent_code == community).order_by(Region.code))
    district = street[:6]
    return {
        "district": {"region": district},
        "street": {"region": street},
        "community": {"region": community},
        "compound": {"region": compound},
        "district × priority (cross-filter)": {"region": district, "priority": "urgent"},
        "district × channel × status (cross-filter)": {
            "region": district,
            "channel": "hotline_12345,wechat",
            "status": "resolved,closed",
        },
        "street × category, overdue only": {"region": street, "category": "noise", "overdue": "1"},
        "district text search": {"region": district, "q": "噪音"},
    }


def _time(function, runs: int) -> list[float]:
    function()  # warm the caches a long-running server has warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _naive_district(session, calendar, district: str) -> None:
    from dashboard.domain.localday import LocalDay
    from dashboard.queries.kpis import region_kpis

    end_day = LocalDay.of(END, calendar)
    first = LocalDay.of(END - dt.timedelta(days=29), calendar)
    region_kpis(session, district, first.start, END, calendar)
    day = first
    for _ in range(30):
        region_kpis(session, district, day.start, min(day.end, END), calendar)
        day = LocalDay.of(day.end + dt.timedelta(hours=12), calendar)
    assert day.start >= end_day.start


def bench_backend(name: str, url: str, runs: int) -> list[tuple]:
    """Rows of (backend, what, p50, p95, max) in milliseconds."""
    from callbacks import drill as drill_callbacks
    from dashboard.queries import drill as drilldata
    from layouts import drill as drill_layout

    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench", "SCHEDULER_ENABLED": False})
    freeze_startup_objects()  # as `app.py serve` and wsgi.py do before serving
    calendar = app.extensions["work_calendar"]
    rows = []
    with app.test_request_context("/drill"):
        g.principal = g._login_user = ADMIN  # Flask-Login keeps the request's user in g._login_user
        with db.session() as session:
            states = _states(session)
            district = states["district"]["region"]
        # The layout asks for "now": pin it to the dataset's end so every run sees the same data.
        drilldata_now = END

        def render(query: dict):
            with db.session() as session:
                filters = drilldata.DrillFilters.from_query(query, district, END.date())
                view = drilldata.read_view(session, filters, drilldata_now, calendar, app.extensions["kpi_targets"])
                drill_layout.content(view)

        for label, query in states.items():
            samples = _time(lambda q=query: render(q), runs)
            rows.append((name, f"page · {label}", *_summary(samples)))
            print(f"  {rows[-1][1]:<45} p50 {rows[-1][2]:7.0f} ms  p95 {rows[-1][3]:7.0f} ms", flush=True)
        search = drilldata.DrillFilters.from_query({"region": district}, district, END.date()).to_query()
        for label, request in (
            ("grid · first 100 rows", {"startRow": 0, "endRow": 100}),
            (
                "grid · rows 5000–5100 by deadline",
                {"startRow": 5000, "endRow": 5100, "sortModel": [{"colId": "deadline_at", "sort": "desc"}]},
            ),
        ):
            samples = _time(lambda r=request: drill_callbacks.grid_rows(r, search), runs)
            rows.append((name, label, *_summary(samples)))
            print(f"  {rows[-1][1]:<45} p50 {rows[-1][2]:7.0f} ms  p95 {rows[-1][3]:7.0f} ms", flush=True)
        with db.session() as session:
            naive = _time(lambda: _naive_district(session, calendar, district), max(2, runs // 10))
        rows.append((name, "naive · district KPIs + 30 daily KPI queries", *_summary(naive)))
        print(f"  {rows[-1][1]:<45} p50 {rows[-1][2]:7.0f} ms", flush=True)
    db.engine.dispose()
    return rows


def _summary(samples: list[float]) -> tuple[float, float, float]:
    return statistics.median(samples), _percentile(samples, 0.95), max(samples)


def main(argv: list[str] | None = None) -> list[tuple]:
    """Run on both backends and print one table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    backends = [("SQLite", district_sqlite())]
    if not args.no_postgres:
        backends.append(("PostgreSQL", district_postgres(args.postgres_url)))
    rows = []
    for name, url in backends:
        print(f"{name}: {url}", flush=True)
        rows.extend(bench_backend(name, url, args.runs))
    print("\n| backend | drill-down step | p50 ms | p95 ms | max ms |\n|---|---|---:|---:|---:|")
    for backend, what, p50, p95, worst in rows:
        print(f"| {backend} | {what} | {p50:.0f} | {p95:.0f} | {worst:.0f} |")
    naive = {r[0]: r[2] for r in rows if r[1].startswith("naive")}
    for backend in naive:
        page = next(r for r in rows if r[0] == backend and r[1] == "page · district")
        print(
            f"{backend}: district page p50 {page[2]:.0f} ms vs naive {naive[backend]:.0f} ms "
            f"({naive[backend] / page[2]:.1f}× faster)"
        )
    worst = max(r[3] for r in rows if not r[1].startswith("naive"))
    print(f"worst p95 of the drill-down steps: {worst:.0f} ms (target ≤ 250 ms)")
    for backend in naive:
        steps = [r for r in rows if r[0] == backend and not r[1].startswith("naive")]
        p95 = max(r[3] for r in steps)
        page = next(r for r in steps if r[1] == "page · district")
        label = f"drill-down callbacks, worst p95 of {len(steps)} steps"
        figure(5, label, backend, p95, "ms", None, "≤ 250 ms", p95 <= 250)
        figure(5, "drill-down district page p50", backend, page[2], "ms", naive[backend], "", None)
    return rows


if __name__ == "__main__":
    main()
