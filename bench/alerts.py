"""The early-warning job (issue 19) at district scale, and its surge rate replayed over demo data.

    python -m bench.alerts [--sqlite-url URL] [--postgres-url URL] [--runs 5]
    python -m bench.alerts --replay URL [--days 30]

Timing: one run of services.alerts.evaluate (surges, repeats, appeals at risk, the alerts' upkeep)
with no alerts yet (so it raises every alert, with its outbox event), then the next minute's run
(every alert still open: the usual run), over the district datasets of `python -m bench.datasets`
(1.5 million appeals; at migration 0011 or later: `CC_DATABASE_URL=… python app.py db upgrade`).
"Now" is the newest report in the data, so "today" is the data's last, partly elapsed day. Each
run's transaction is rolled back: the shared datasets keep no alerts. Reported: the first run and
the median of `--runs`; the naive approach beside it loads the appeals its rules read (reported_at,
region, category, address, department, open flag, deadline, resolution) into pandas — before any
rule is applied. Target: one run ≤ 2 s on each backend.

Replay (`--replay`): on a street-scale demo database of one's own (`python app.py demo --scale
street`; it is written to), evaluate at every hour of the last `--days` local days, committing as the
job does, and print the surge alerts raised per street per day (issue 19: at most 1 on average).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections import Counter

import pandas as pd
from sqlalchemy import func, inspect, select

from bench.datasets import DEFAULT_POSTGRES, POSTGRES_NAME, SQLITE_PATH
from bench.report import figure
from dashboard.config import DATA_DIR, normalise_database_url
from dashboard.domain.alerts import load_rules
from dashboard.domain.localday import local_date, local_midnight
from dashboard.services import alerts
from dashboard.store.database import Database
from dashboard.store.models import Alert, Appeal, Region

TARGET_SECONDS = 2.0
JOB_INDEXES = ("ix_appeals_reported_department", "ix_appeals_resolved_department")  # migration 0011
# What the naive approach loads: every appeal's columns the three rules read.
NAIVE_COLUMNS = (
    Appeal.reported_at,
    Appeal.region_code,
    Appeal.category,
    Appeal.address,
    Appeal.department_id,
    Appeal.is_open,
    Appeal.deadline_at,
    Appeal.resolved_at,
)
ZONE = "Asia/Shanghai"


def _newest(database: Database) -> dt.datetime:
    with database.session() as session:
        return session.scalar(select(func.max(Appeal.reported_at)))


def run_backend(name: str, url: str, runs: int) -> None:
    """Time evaluate() on one backend (rolled back each time) and the naive load beside it."""
    database = Database().bind(url)
    names = {index["name"] for index in inspect(database.engine).get_indexes("appeals")}
    if not inspect(database.engine).has_table("alerts") or not set(JOB_INDEXES) <= names:
        raise SystemExit(f"{name}: migrate to 0011 first: CC_DATABASE_URL={url} python app.py db upgrade")
    now = _newest(database)
    rules = load_rules(DATA_DIR / "alerts.toml")
    seconds, steady, outcome = [], [], None
    for _ in range(runs):
        with database.session() as session:
            started = time.perf_counter()
            outcome = alerts.evaluate(session, now, rules=rules, timezone=ZONE)
            seconds.append(time.perf_counter() - started)
            # The next minute's run, with this run's alerts open (nothing new to raise): the usual run.
            started = time.perf_counter()
            alerts.evaluate(session, now + dt.timedelta(minutes=1), rules=rules, timezone=ZONE)
            steady.append(time.perf_counter() - started)
            session.rollback()
    parts = _parts(database, now, rules)
    started = time.perf_counter()
    frame = pd.read_sql_query(select(*NAIVE_COLUMNS), database.engine)
    naive = time.perf_counter() - started
    median, usual = statistics.median(seconds), statistics.median(steady)
    print(
        f"{name}: now={now.isoformat()} run raising every alert (empty alerts table): first {seconds[0]:.3f} s, "
        f"median of {runs} {median:.3f} s (found {outcome.found}, {len(outcome.raised)} raised); "
        f"the next minute's run (all still open): median {usual:.3f} s; parts: "
        + ", ".join(f"{part} {value:.3f} s" for part, value in parts.items())
        + f"; naive: loading {len(frame):,} appeals into pandas {naive:.2f} s ({naive / median:.0f}× a run)",
        flush=True,
    )
    figure(19, "alerts job, run raising all (median)", name, median * 1000, "ms", naive * 1000, "≤ 2 s", median <= 2)
    figure(19, "alerts job, next minute's run (median)", name, usual * 1000, "ms", naive * 1000, "≤ 2 s", usual <= 2)
    database.engine.dispose()


def _parts(database: Database, now: dt.datetime, rules) -> dict[str, float]:
    """Each rule's queries alone (one run each), to see where a run's time goes."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(ZONE)
    steps = {
        "surges": lambda session: alerts.surges(session, now, rules, zone),
        "repeats": lambda session: alerts.repeats(session, now, rules),
        "department loads": lambda session: alerts.department_loads(session, now, rules.at_risk.median_days, zone),
        "at risk (with loads)": lambda session: alerts.at_risk(session, now, rules, zone),
    }
    times = {}
    for part, step in steps.items():
        with database.session() as session:
            started = time.perf_counter()
            step(session)
            times[part] = time.perf_counter() - started
    return times


def replay(url: str, days: int) -> None:
    """Evaluate at every hour of the last `days` local days of a demo database, committing; print the surge rate."""
    database = Database().bind(url)
    rules = load_rules(DATA_DIR / "alerts.toml")
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(ZONE)
    newest = _newest(database)
    last_day = local_date(newest, zone) - dt.timedelta(days=1)  # the last complete local day
    first_day = last_day - dt.timedelta(days=days - 1)
    with database.session() as session:
        streets = session.scalar(select(func.count()).where(Region.level == "street", Region.archived_at.is_(None)))
        already = session.scalar(select(func.count()).select_from(Alert))
    if already:
        raise SystemExit(f"{url} already holds {already} alerts: replay on a fresh demo database")
    started = time.perf_counter()
    runs = 0
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        for hour in range(1, 25):  # 01:00 … 24:00 local: each hour's end
            now = local_midnight(day, zone) + dt.timedelta(hours=hour)
            with database.transaction() as session:
                alerts.evaluate(session, now, rules=rules, timezone=ZONE)
            runs += 1
    elapsed = time.perf_counter() - started
    with database.session() as session:
        raised = session.execute(select(Alert.kind, Alert.region_code, Alert.raised_at)).all()
    by_kind = Counter(row.kind for row in raised)
    surges = [row for row in raised if row.kind == "surge"]
    by_level = Counter("street" if len(row.region_code) == 9 else "community" for row in surges)
    per_day = Counter(local_date(row.raised_at, zone) for row in surges)
    rate = len(surges) / (streets * days)
    print(
        f"replay {first_day}…{last_day} ({days} days, {runs} hourly runs, {elapsed:.1f} s, {streets} street(s)): "
        f"alerts raised {dict(by_kind)}; surges by level {dict(by_level)}; "
        f"surge alerts per street per day {rate:.2f} (busiest day {max(per_day.values(), default=0)})",
        flush=True,
    )
    figure(19, "surge alerts per street per day (demo replay)", "sqlite", rate, "", None, "≤ 1", rate <= 1.0)


def main(argv: list[str] | None = None) -> None:
    """Time the job on the district datasets, or replay it over a demo database."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite-url", default=f"sqlite:///{SQLITE_PATH}")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES.rsplit("/", 1)[0] + f"/{POSTGRES_NAME}")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--replay", metavar="URL", help="a street-scale demo database of one's own")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args(argv)
    if args.replay:
        replay(normalise_database_url(args.replay), args.days)
        return
    for name, url in (("sqlite", args.sqlite_url), ("postgresql", args.postgres_url)):
        if url:
            run_backend(name, normalise_database_url(url), args.runs)


if __name__ == "__main__":
    main()
