"""Every benchmark in one command, and one table of the figures the issues ask for.

    python -m bench [--quick] [--only ingest,kpi,drill,push,push-pg,soak,locate,outbox,alerts] [--postgres-url URL]

Builds the district datasets first when missing (bench.datasets: 1.5 million appeals, 1.2
million residents, on SQLite and PostgreSQL), runs each benchmark in its own process (its own
output streams through), then prints one Markdown table of every headline figure beside the
naive approach measured in the same run, and writes it to bench/results/latest.md. `--quick`
shortens the slow ones (ingest 200,000 rows, the soak 10 minutes) for a smoke run; the
figures recorded in docs/BENCHMARKS.md come from full runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from pathlib import Path

from bench.datasets import DEFAULT_POSTGRES, POSTGRES_NAME, SQLITE_PATH
from bench.report import parse, table

RESULTS = Path(__file__).resolve().parent / "results"


def _plan(quick: bool, postgres_url: str) -> dict[str, list[str]]:
    postgres_district = postgres_url.rsplit("/", 1)[0] + f"/{POSTGRES_NAME}"
    return {
        "datasets": ["bench.datasets", "--postgres-url", postgres_url],
        "ingest": ["bench.ingest", "--postgres-url", postgres_url, *(["--rows", "200000"] if quick else [])],
        "kpi": ["bench.kpi", "--sqlite-url", f"sqlite:///{SQLITE_PATH}", "--postgres-url", postgres_district],
        "drill": ["bench.drill", "--postgres-url", postgres_url, *(["--runs", "10"] if quick else [])],
        "push": ["bench.push"],
        # The wall's path on the other store: push walls against 100 polling walls.
        "push-pg": ["bench.push", "--postgres-url", postgres_url, "--naive-clients", "100"],
        "soak": ["bench.soak", "--minutes", "10" if quick else "60"],
        "locate": ["bench.locate"],  # points → compound (issue 15): no database, a few seconds
        "outbox": ["bench.outbox", "--postgres-url", postgres_url],  # issue 16: step cost and webhook latency
        # Issue 19: one run of the alerts job over the district datasets (both stores).
        "alerts": ["bench.alerts", "--sqlite-url", f"sqlite:///{SQLITE_PATH}", "--postgres-url", postgres_district],
    }


def _run(module_args: list[str]) -> list[str]:
    """Run one benchmark, echoing its output; its lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", *module_args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line.rstrip("\n"))
    if process.wait() != 0:
        lines.append(f"@@failed {' '.join(module_args)} exited {process.returncode}")
        print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> None:
    """Run the chosen benchmarks and print the one table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="ingest,kpi,drill,push,push-pg,soak,locate,outbox,alerts")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args(argv)
    plan = _plan(args.quick, args.postgres_url)
    chosen = ["datasets", *[name.strip() for name in args.only.split(",") if name.strip()]]
    figures: list[dict] = []
    failures: list[str] = []
    for name in chosen:
        print(f"\n===== {name}: python -m {' '.join(plan[name])}", flush=True)
        lines = _run(plan[name])
        figures.extend(parse(lines))
        failures.extend(line for line in lines if line.startswith("@@failed"))
    text = table(figures)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n===== all figures ({stamp}; `python -m bench {' '.join(argv or sys.argv[1:])}`)\n{text}")
    for failure in failures:
        print(failure)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(f"Run {stamp}: `python -m bench {' '.join(argv or sys.argv[1:])}`\n\n{text}\n")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
