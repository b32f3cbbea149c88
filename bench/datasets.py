"""District-scale datasets for the benchmarks, built once and reused by every bench run.

    python -m bench.datasets [--postgres-url URL]   # build both if missing (≈6 minutes each)

SQLite: instance/bench/district.db. PostgreSQL: a database named bench_district next to the
given URL's database. A dataset counts as built when its appeals table holds the district
scale's appeals; otherwise it is dropped and generated again from the fixed seed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from dashboard.config import DATA_DIR, INSTANCE_DIR, normalise_database_url
from dashboard.domain.sla import load_policy
from dashboard.domain.workcal import build_calendar
from dashboard.services import demo
from dashboard.store import migrate
from dashboard.store.database import Database
from dashboard.store.models import Appeal

DEFAULT_POSTGRES = os.environ.get("CC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SQLITE_PATH = INSTANCE_DIR / "bench" / "district.db"
POSTGRES_NAME = "bench_district"
# The demo's end is fixed so that every run measures the same data.
END = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
MIN_APPEALS = 1_400_000


def _appeals(url: str) -> int:
    try:
        engine = create_engine(normalise_database_url(url))
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(Appeal)).scalar_one()
    except Exception:  # no database or no table yet
        return 0
    finally:
        engine.dispose()


def _generate(url: str) -> None:
    migrate.upgrade(url)
    database = Database().bind(url)
    started = time.perf_counter()
    demo.generate(
        database,
        build_calendar(override_file=DATA_DIR / "calendar" / "overrides.toml"),
        load_policy(DATA_DIR / "sla_policy.toml"),
        "bench-secret",
        scale="district",
        end=END,
        progress=lambda line: print("   ", line, flush=True),
    )
    database.engine.dispose()
    print(f"  built {url} in {time.perf_counter() - started:.0f} s", flush=True)


def district_sqlite(path: Path = SQLITE_PATH) -> str:
    """The SQLite district dataset's URL, built first if missing."""
    url = f"sqlite:///{path}"
    if _appeals(url) < MIN_APPEALS:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        print(f"building the district dataset in {path} …", flush=True)
        _generate(url)
    migrate.upgrade(url)  # a dataset built by an older version gets the new tables and indexes
    return url


def district_postgres(admin_url: str = DEFAULT_POSTGRES) -> str:
    """The PostgreSQL district dataset's URL, built first if missing."""
    url = normalise_database_url(admin_url.rsplit("/", 1)[0] + f"/{POSTGRES_NAME}")
    if _appeals(url) < MIN_APPEALS:
        admin = create_engine(normalise_database_url(admin_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{POSTGRES_NAME}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{POSTGRES_NAME}"'))
        admin.dispose()
        print(f"building the district dataset in PostgreSQL {POSTGRES_NAME} …", flush=True)
        _generate(url)
    migrate.upgrade(url)
    # A server that has run a while has been vacuumed by autovacuum, which is what lets
    # PostgreSQL answer from an index alone; a freshly loaded dataset has not (fast when done).
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM (ANALYZE) appeals"))
    engine.dispose()
    return url


def main(argv: list[str] | None = None) -> None:
    """Build whichever district dataset is missing."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    print("SQLite:", district_sqlite())
    if not args.no_postgres:
        print("PostgreSQL:", district_postgres(args.postgres_url))


if __name__ == "__main__":
    main()
