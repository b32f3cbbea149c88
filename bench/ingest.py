"""Ingest rate: one million appeals from a CSV file into SQLite and PostgreSQL.

    python -m bench.ingest [--rows 1000000] [--naive-rows 5000] [--postgres-url URL]

Each measurement starts from an empty database with the tiny demo region tree. The product's
path (read, validate, deduplicate, compute deadlines, batch-write with history; a file this
large is read in a second process while the first writes, and as it dwarfs the table it is an
initial load: the appeals indexes are built once at the end) is timed on the whole file, then
the same path kept to one process, then with the indexes kept up row by row as for a file into
a full table (--no-single skips those two); the naive path (the same validation,
then one ORM insert and commit per row) is timed on the first --naive-rows rows in the same
run. Target (issue 3): ≥ 20,000/s; issue 21: ≥ 50,000/s on SQLite.

Beside it, as yardsticks measured in the same run on the same file (issue 21): pandas
(`read_csv` + `to_sql` into a plain table of the file's columns, read and write timed) and a
plain insert (the file's rows, parsed beforehand, by one executemany in one transaction into such
a table, insert and commit timed). The ratios say what the product's validation, deadlines,
idempotency, history, counters, outbox and push cost against loading the bare rows.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import tempfile
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine

from bench.demo_generation import DEFAULT_POSTGRES, _postgres_database
from bench.feedfiles import write_appeals_csv
from bench.report import figure as report_figure
from dashboard.config import DATA_DIR, normalise_database_url
from dashboard.domain.sla import load_policy
from dashboard.domain.vocab import AppealStatus, RegionLevel, TransitionAction
from dashboard.domain.workcal import build_calendar
from dashboard.services import demo
from dashboard.services.ingest.dropfolder import ingest_file
from dashboard.services.ingest.records import validate_appeal
from dashboard.services.ingest.service import Ingestor
from dashboard.store import migrate
from dashboard.store.database import Database
from dashboard.store.models import Appeal, Region, Transition

COMPOUNDS = ["510107001001001", "510107001001002", "510107001002001", "510107001003001"]


def _prepare(url: str):
    migrate.upgrade(url)
    database = Database().bind(url)
    calendar = build_calendar(override_file=DATA_DIR / "calendar" / "overrides.toml")
    policy = load_policy(DATA_DIR / "sla_policy.toml")
    demo.generate(
        database,
        calendar,
        policy,
        "bench",
        scale="tiny",
        end=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
        progress=lambda _: None,
    )
    return database, Ingestor(database, calendar, policy, "bench"), calendar, policy


def naive_rate(database: Database, calendar, policy, path: Path, rows: int) -> float:
    """Same validation, then one ORM object and one commit per appeal: the obvious way."""
    with database.session() as session:
        regions = dict(session.execute(Region.__table__.select().with_only_columns(Region.code, Region.level)).all())
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    with path.open(encoding="utf-8") as handle, database.session() as session:
        for index, row in enumerate(csv.DictReader(handle)):
            if index >= rows:
                break
            row["external_id"] = "N" + row["external_id"]
            record = validate_appeal(row, regions, {}, calendar.timezone, now)
            deadline = policy.deadline(calendar, record["reported_at"], record["priority"], record["category"])
            appeal = Appeal(
                source=record["source"],
                external_id=record["external_id"],
                category=record["category"],
                priority=record["priority"],
                status=AppealStatus.REPORTED,
                is_open=True,
                region_code=record["region_code"],
                level=RegionLevel.COMMUNITY,
                description=record["description"],
                reporter_phone=record["reporter_phone"],
                reported_at=record["reported_at"],
                deadline_at=deadline,
                source_version=record["version"],
            )
            session.add(appeal)
            session.flush()
            session.add(
                Transition(
                    appeal_id=appeal.id,
                    seq=1,
                    action=TransitionAction.REPORT,
                    to_status=AppealStatus.REPORTED,
                    at=record["reported_at"],
                    actor="naive",
                    level=RegionLevel.COMMUNITY,
                )
            )
            session.commit()
    return rows / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    """Print one row per backend: product rate, naive rate, ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-rows", type=int, default=5_000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--no-single", action="store_true", help="skip the one-process and indexes-kept runs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        path = write_appeals_csv(Path(workdir) / "appeals_bench.csv", args.rows, COMPOUNDS, dt.datetime(2026, 11, 20))
        print(
            f"wrote {args.rows:,} appeals ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s"
        )
        print(
            f"{'backend':11} {'rows':>10} {'seconds':>8} {'appeals/s':>10} {'1 process/s':>11} "
            f"{'indexes kept/s':>14} {'naive/s':>9} {'ratio':>6}  target 20,000/s"
        )
        postgres = normalise_database_url(args.postgres_url)
        yardsticks = {}
        for name in ("sqlite", "postgresql"):
            rate, seconds = _timed_import(name, workdir, postgres, path, args.rows, pipelined=None)
            yardsticks[name] = (rate, _pandas(name, workdir, postgres, path), _plain(name, workdir, postgres, path))
            single = kept = None
            if not args.no_single:
                single = _timed_import(name, workdir, postgres, path, args.rows, False)[0]
                kept = _timed_import(name, workdir, postgres, path, args.rows, None, initial_load=False)[0]
            naive = _naive(name, workdir, postgres, path, args.naive_rows)
            verdict = "met" if rate >= 20_000 else f"gap {20_000 - rate:,.0f}/s"
            one = f"{single:11,.0f} {kept:14,.0f}" if single else f"{'—':>11} {'—':>14}"
            figures = f"{args.rows:>10,} {seconds:8.1f} {rate:10,.0f} {one} {naive:9,.0f} {rate / naive:5.1f}x"
            print(f"{name:11} {figures}  {verdict}", flush=True)
            report_figure(
                3,
                f"ingest, {args.rows:,} appeals from CSV",
                name,
                rate,
                "appeals/s",
                naive,
                "≥ 20,000/s",
                rate >= 20_000,
            )
            if single:
                report_figure(
                    3, f"ingest, {args.rows:,} appeals from CSV, one process", name, single, "appeals/s", naive
                )
                report_figure(
                    3, f"ingest, {args.rows:,} appeals from CSV, indexes kept", name, kept, "appeals/s", naive
                )
        print(
            f"\n{'backend':11} {'product/s':>10} {'pandas/s':>10} {'plain/s':>10} {'product:pandas':>15} "
            f"{'product:plain':>14}  target (SQLite) 50,000/s"
        )
        for name, (rate, pandas_rate, plain_rate) in yardsticks.items():
            verdict = "" if name != "sqlite" else "met" if rate >= 50_000 else f"gap {50_000 - rate:,.0f}/s"
            print(
                f"{name:11} {rate:10,.0f} {pandas_rate:10,.0f} {plain_rate:10,.0f} {rate / pandas_rate:14.2f}x "
                f"{rate / plain_rate:13.2f}x  {verdict}",
                flush=True,
            )


def _database(name: str, workdir: str, postgres: str, label: str):
    if name == "sqlite":
        return f"sqlite:///{Path(workdir) / f'{label}.db'}", None
    return _postgres_database(postgres)


def _timed_import(name, workdir, postgres, path, rows, pipelined, initial_load=None) -> tuple[float, float]:
    """(appeals per second, seconds) of the product's path into a fresh database."""
    url, cleanup = _database(name, workdir, postgres, f"product-{pipelined}-{initial_load}")
    try:
        database, ingestor, _calendar, _policy = _prepare(url)
        started = time.perf_counter()
        report = ingest_file(ingestor, path, pipelined=pipelined, initial_load=initial_load)
        seconds = time.perf_counter() - started
        assert report.get("created") == rows and report["quarantined"] == 0, report
        database.engine.dispose()
        return rows / seconds, seconds
    finally:
        if cleanup:
            cleanup()


def _pandas(name, workdir, postgres, path) -> float:
    """Rows per second of pandas.read_csv + DataFrame.to_sql into a new plain table (read and write timed)."""
    url, cleanup = _database(name, workdir, postgres, "pandas")
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.to_sql("plain_appeals", engine, index=False, chunksize=20_000)
        return len(frame) / (time.perf_counter() - started)
    finally:
        engine.dispose()
        if cleanup:
            cleanup()


def _plain(name, workdir, postgres, path) -> float:
    """Rows per second of one executemany in one transaction into a new plain table (insert and commit timed)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        columns = next(reader)
        rows = [tuple(row) for row in reader]
    url, cleanup = _database(name, workdir, postgres, "plain")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"CREATE TABLE plain_appeals ({', '.join(f'{c} TEXT' for c in columns)})")
        marker = "?" if name == "sqlite" else "%s"
        statement = f"INSERT INTO plain_appeals ({', '.join(columns)}) VALUES ({', '.join(marker for _ in columns)})"
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            started = time.perf_counter()
            cursor.executemany(statement, rows)
            raw.commit()
            seconds = time.perf_counter() - started
            cursor.close()
        finally:
            raw.close()
        return len(rows) / seconds
    finally:
        engine.dispose()
        if cleanup:
            cleanup()


def _naive(name, workdir, postgres, path, rows) -> float:
    url, cleanup = _database(name, workdir, postgres, "naive")
    try:
        database, _ingestor, calendar, policy = _prepare(url)
        rate = naive_rate(database, calendar, policy, path, rows)
        database.engine.dispose()
        return rate
    finally:
        if cleanup:
            cleanup()


if __name__ == "__main__":
    main()
