"""The webhook outbox (issue 16): what it adds to a workflow step, and event → receiver latency.

    python -m bench.outbox [--backends sqlite,postgresql] [--steps 2000] [--rate 50] [--seconds 20]

On a fresh database per backend (the test district of tests/webhook_support.py: two streets, a
department, a patrol team; 200 open appeals) with three active webhooks, one of which hears urges:

* step cost: a workflow step (督办 urge: it may be taken again and again) in its own transaction,
  as the console takes it (lock the appeal, apply, commit), with the outbox and, alternating step
  by step in the same run, without it (services.outbox.enqueue replaced by a no-op). Median and
  mean of each; the figure is the difference of the medians (the means carry the machine's
  hiccups). Target: ≤ 1 ms.
* latency: --rate steps per second for --seconds, each one's event POSTed to a local receiver (a
  ThreadingHTTPServer in this process that checks the signature) by the delivery worker in its own
  process, as the scheduler process runs it (jobs.registry.deliver_webhooks: services.webhooks.run_for,
  looking for due deliveries every 100 ms). Latency: the step's commit → the receiver has read the request.
  Target: p95 ≤ 200 ms at 50 events/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, select, text

from bench.report import figure
from dashboard import create_app
from dashboard.config import normalise_database_url
from dashboard.domain.vocab import TransitionAction
from dashboard.services import outbox, webhooks
from dashboard.services.workflow import Step, apply
from dashboard.store import migrate
from dashboard.store.database import db
from dashboard.store.models import Appeal
from tests.webhook_support import COMMUNITY, PATROL, Receiver, add_district, appeal_record

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES = os.environ.get("CC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
APPEALS = 200
STEP_TARGET_MS = 1.0
LATENCY_TARGET_MS = 200.0


def _database(backend: str, workdir: Path, postgres_url: str):
    """A fresh, migrated database URL, and how to drop it."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'outbox.db'}", lambda: None
    schema = f"b_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_url else "?"

    def drop():
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{postgres_url}{separator}options=-csearch_path%3D{schema}", drop


def _urge(appeal_id: int, note: str) -> float:
    """One urge in its own transaction, as the console takes it; returns when it committed (perf_counter)."""
    with db.transaction() as session:
        appeal = session.get(Appeal, appeal_id, with_for_update=True)
        apply(session, appeal, Step(TransitionAction.URGE, "bench", dt.datetime.now(dt.UTC), note=note))
    return time.perf_counter()


def step_cost(ids: list[int], steps: int) -> dict:
    """Milliseconds per step with and without the outbox, alternating step by step (after a warm-up),
    so that both see the same load of the machine."""
    real = outbox.enqueue
    timings = {"with": [], "without": []}
    for n in range(steps + 100):
        mode = "with" if n % 2 == 0 else "without"
        outbox.enqueue = real if mode == "with" else (lambda *args, **kwargs: None)
        try:
            started = time.perf_counter()
            _urge(ids[n % len(ids)], "督办")
            if n >= 100:  # the first ones warm the caches (statements, pages) of both
                timings[mode].append((time.perf_counter() - started) * 1000)
        finally:
            outbox.enqueue = real
    return {
        mode: {"median": statistics.median(values), "mean": statistics.fmean(values), "n": len(values)}
        for mode, values in timings.items()
    }


WORKER = """
import sys
from dashboard.services import webhooks
from dashboard.store.database import Database
webhooks.run_for(Database().bind(sys.argv[1]), seconds=float(sys.argv[2]), timezone=sys.argv[3])
"""


def latency(url: str, ids: list[int], rate: float, seconds: float, receiver: Receiver, timezone: str) -> dict:
    """Steps at `rate` per second for `seconds`; each event's commit → arrival, in ms. The worker runs in its
    own process, as the scheduler does in production (`python app.py scheduler`)."""
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, url, str(seconds + 40), timezone],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    time.sleep(2)  # the worker's start-up (imports) is not part of any event's latency
    committed = {}
    count = int(rate * seconds)
    begin = time.perf_counter()
    for n in range(count):
        due = begin + n / rate
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        marker = f"B#{n:06d}"
        committed[marker] = _urge(ids[n % len(ids)], marker)
    sending = time.perf_counter() - begin
    deadline = time.monotonic() + 30
    while len(receiver.requests) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.terminate()
    worker.wait(10)
    arrived = {}
    valid = 0
    for request in receiver.requests:
        note = json.loads(request["body"])["note"]
        arrived.setdefault(note, request["received"])
        valid += request["valid"]
    values = np.array([(arrived[m] - committed[m]) * 1000 for m in committed if m in arrived])
    return {
        "sent": count,
        "rate": count / sending,
        "arrived": len(values),
        "valid": valid,
        "p50": float(np.percentile(values, 50)) if len(values) else float("nan"),
        "p95": float(np.percentile(values, 95)) if len(values) else float("nan"),
        "p99": float(np.percentile(values, 99)) if len(values) else float("nan"),
        "max": float(values.max()) if len(values) else float("nan"),
    }


def run(backend: str, args) -> None:
    """Both measurements on one backend."""
    with tempfile.TemporaryDirectory() as workdir:
        url, drop = _database(backend, Path(workdir), args.postgres_url)
        try:
            migrate.upgrade(url)
            app = create_app(
                {
                    "DATABASE_URL": url,
                    "TESTING": True,
                    "SECRET_KEY": "bench",
                    "SCHEDULER_ENABLED": False,
                    "EXPORT_DIR": workdir,
                }
            )
            with app.app_context():
                add_district(db)
                records = [appeal_record(f"BO-{n}", priority="ordinary") for n in range(APPEALS)]
                app.extensions["ingestor"].ingest(records, "appeal", source="bench")
                with db.session() as session:
                    ids = list(session.scalars(select(Appeal.id)))
                for appeal_id in ids:  # urges are allowed once accepted
                    with db.transaction() as session:
                        apply(session, session.get(Appeal, appeal_id), Step(TransitionAction.ACCEPT, "bench",
                              dt.datetime.now(dt.UTC)))  # fmt: skip
                receiver = Receiver()
                try:
                    _view, receiver.secret = webhooks.create_webhook("bench", "hears-urges", receiver.url, "urged")
                    webhooks.create_webhook("bench", "patrol", receiver.url, "dispatched", "team", PATROL)
                    webhooks.create_webhook("bench", "community", receiver.url, "resolved", "region", COMMUNITY)
                    cost = step_cost(ids, args.steps)
                    with db.transaction() as session:  # the cost run's deliveries are not part of the latency run
                        session.execute(text("DELETE FROM webhook_deliveries"))
                    seen = latency(url, ids, args.rate, args.seconds, receiver, app.config["TIMEZONE"])
                finally:
                    receiver.close()
            db.engine.dispose()
        finally:
            drop()
    added = cost["with"]["median"] - cost["without"]["median"]
    print(
        f"\n## {backend}\n\n| step (urge, own transaction) | median ms | mean ms | steps |\n|---|---:|---:|---:|\n"
        f"| with the outbox | {cost['with']['median']:.2f} | {cost['with']['mean']:.2f} | {cost['with']['n']} |\n"
        f"| without it | {cost['without']['median']:.2f} | {cost['without']['mean']:.2f} | {cost['without']['n']} |\n"
        f"\nthe outbox adds {added:.2f} ms per step (median; mean "
        f"{cost['with']['mean'] - cost['without']['mean']:.2f} ms), ratio of the medians "
        f"{cost['with']['median'] / cost['without']['median']:.2f}; target ≤ {STEP_TARGET_MS} ms: "
        f"{'met' if added <= STEP_TARGET_MS else 'NOT met'}\n"
        f"\nlatency at {seen['rate']:.1f} events/s ({seen['sent']} events, {seen['arrived']} arrived, "
        f"{seen['valid']} requests with a valid signature): p50 {seen['p50']:.0f} ms, p95 {seen['p95']:.0f} ms, "
        f"p99 {seen['p99']:.0f} ms, max {seen['max']:.0f} ms; target p95 ≤ {LATENCY_TARGET_MS:.0f} ms: "
        f"{'met' if seen['p95'] <= LATENCY_TARGET_MS else 'NOT met'}",
        flush=True,
    )
    figure(16, "outbox: added to a workflow step", backend, added * 1000, "µs", None,
           f"≤ {STEP_TARGET_MS * 1000:.0f} µs", added <= STEP_TARGET_MS)  # fmt: skip
    met = seen["p95"] <= LATENCY_TARGET_MS and seen["arrived"] == seen["sent"]
    figure(16, f"webhook: event → receiver p95 at {args.rate:g}/s", backend, seen["p95"], "ms", None,
           f"≤ {LATENCY_TARGET_MS:.0f} ms", met)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Run the outbox benchmark on each backend."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    args.postgres_url = normalise_database_url(args.postgres_url)  # postgresql:// → the psycopg driver
    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    for backend in args.backends.split(","):
        run(backend, args)
    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
