"""Demo data generation time at street (and optionally district) scale, on SQLite and PostgreSQL.

    python -m bench.demo_generation [--district] [--postgres-url URL]

Prints wall-clock seconds per phase and the summary's comparison with the seed. Targets
(issue 2): street scale under 60 s, district scale under 15 minutes, on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from dashboard.config import DATA_DIR, normalise_database_url
from dashboard.domain.sla import load_policy
from dashboard.domain.workcal import build_calendar
from dashboard.services import demo
from dashboard.store import migrate
from dashboard.store.database import Database

DEFAULT_POSTGRES = os.environ.get("CC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _run(url: str, scale: str) -> tuple[float, dict]:
    migrate.upgrade(url)
    database = Database().bind(url)
    started = time.perf_counter()
    summary = demo.generate(
        database,
        build_calendar(override_file=DATA_DIR / "calendar" / "overrides.toml"),
        load_policy(DATA_DIR / "sla_policy.toml"),
        "bench-secret",
        scale=scale,
        progress=lambda _line: None,
    )
    elapsed = time.perf_counter() - started
    database.engine.dispose()
    return elapsed, summary


def _postgres_database(admin_url: str) -> tuple[str, callable]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def main(argv: list[str] | None = None) -> None:
    """Time demo generation and print one row per (scale, backend)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--district", action="store_true", help="also time district scale (several minutes)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args(argv)
    scales = ["street", "district"] if args.district else ["street"]
    postgres = normalise_database_url(args.postgres_url)
    print(f"{'scale':9} {'backend':11} {'seconds':>8}  {'appeals':>10} {'residents':>10}  phases / seed comparison")
    for scale in scales:
        with tempfile.TemporaryDirectory() as workdir:
            backends = [("sqlite", f"sqlite:///{Path(workdir) / 'bench.db'}", None)]
            url, drop = _postgres_database(postgres)
            backends.append(("postgresql", url, drop))
            for backend, url, cleanup in backends:
                try:
                    elapsed, summary = _run(url, scale)
                finally:
                    if cleanup:
                        cleanup()
                seed = ", ".join(
                    f"{key}={row['actual']:.3f}{'' if row['within_5_percent'] else ' (OFF >5%)'}"
                    for key, row in summary["per_street_vs_seed"].items()
                )
                print(
                    f"{scale:9} {backend:11} {elapsed:8.1f}  {summary['appeals']:>10,} {summary['residents']:>10,}  "
                    f"{summary['timings_s']} | {seed}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
