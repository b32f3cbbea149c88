"""Soak: the wall open in headless Chromium for hours while appeals come in.

    python -m bench.soak [--minutes 60] [--sample-seconds 60] [--rate 10] [--simulator-rate 0] [--log FILE]
    python -m bench.soak --minutes 120 --rate 0 --simulator-rate 60 --log docs/soak.log   # issue 21

A real server on street-scale demo data. Events are new appeals (POST /api/v1/appeals) and
workflow steps (POST .../transitions), half and half, at --rate per second; and/or the product's
own live simulator at --simulator-rate appeals a minute (CC_SIMULATOR_RATE, run by the server's
scheduler, as on a demo wall). Every sample forces a garbage collection in the page and reads
Chromium's own counters (JS heap, DOM nodes, event listeners) and the server process's resident
memory (VmRSS). Targets: no upward trend (issue 4); every series flat over the second half,
within 5 % (issue 21).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import requests
from playwright.sync_api import sync_playwright

from bench.report import figure
from tests.e2e.support import LiveServer, launch_chromium

NEXT = {"reported": "accept", "accepted": "dispatch", "dispatched": "start", "in_progress": "resolve"}


def drive_events(server: LiveServer, key: str, rate: float, stop: threading.Event, counters: dict) -> None:
    """Half new appeals, half workflow steps on recently reported open appeals, at `rate` per second."""
    database = server.env["CC_DATABASE_URL"].removeprefix("sqlite:///")
    session = requests.Session()
    session.headers["X-API-Key"] = key
    interval = 1.0 / rate
    next_at = time.monotonic()
    turn = 0
    while not stop.is_set():
        turn += 1
        try:
            if turn % 2:
                body = [
                    {
                        "external_id": f"SOAK-{uuid.uuid4().hex[:12]}",
                        "source": "wechat",
                        "reported_at": dt.datetime.now(dt.UTC).isoformat(),
                        "category": ["noise", "sanitation", "parking", "safety_hazard"][turn % 4],
                        "priority": ["ordinary", "urgent", "extra_urgent"][turn % 3],
                        "region_code": "510107001001001",
                        "description": "浸泡测试诉求",
                    }
                ]
                session.post(f"{server.url}/api/v1/appeals", json=body, timeout=10)
            else:
                with sqlite3.connect(database) as connection:
                    row = connection.execute(
                        "SELECT id, status FROM appeals WHERE is_open AND external_id LIKE 'SOAK-%' "
                        "ORDER BY reported_at DESC LIMIT 1 OFFSET ?",
                        (turn % 7,),
                    ).fetchone()
                if row:
                    session.post(
                        f"{server.url}/api/v1/appeals/{row[0]}/transitions", json={"action": NEXT[row[1]]}, timeout=10
                    )
            counters["events"] += 1
        except requests.RequestException:
            counters["errors"] += 1
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))


def _appeal_count(server: LiveServer) -> int:
    with sqlite3.connect(server.env["CC_DATABASE_URL"].removeprefix("sqlite:///")) as connection:
        return connection.execute("SELECT count(*) FROM appeals").fetchone()[0]


def resident_mb(pid: int) -> float:
    """A process's resident set size in MB (VmRSS from /proc), with its children's (a server may fork)."""
    total_kb = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except FileNotFoundError:  # a child that just ended
            continue
    return total_kb / 1024


def sample(page, cdp, server_pid: int) -> dict:
    """Chromium's counters for the page after a forced garbage collection, and the server's memory."""
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {
        "server_rss_mb": resident_mb(server_pid),
        "heap_mb": metrics["JSHeapUsedSize"] / 1e6,
        "nodes": int(metrics["Nodes"]),
        "listeners": int(metrics["JSEventListeners"]),
        "dom_elements": page.evaluate("() => document.getElementsByTagName('*').length"),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the soak and print one line per sample, then the trend."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--sample-seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=10, help="API events per second (0: none)")
    parser.add_argument("--simulator-rate", type=float, default=0, help="the live simulator's appeals a minute")
    parser.add_argument("--log", type=Path, help="also write the samples and the summary to this file")
    args = parser.parse_args(argv)
    log = args.log.open("w", encoding="utf-8") if args.log else None

    def say(line: str) -> None:
        print(line, flush=True)
        if log:
            log.write(line + "\n")
            log.flush()

    with tempfile.TemporaryDirectory() as workdir:
        server = LiveServer(Path(workdir))
        server.env["CC_INGEST_RATE_LIMIT"] = "0"  # one API key sends 10 events a second here
        server.env["CC_SIMULATOR_RATE"] = str(args.simulator_rate)
        server.cli("demo", "--scale", "street")
        key = server.cli("apikeys", "add", "--name", "soak", "--source", "wechat").strip()
        server.start()
        stop = threading.Event()
        counters = {"events": 0, "errors": 0}
        driver = threading.Thread(target=drive_events, args=(server, key, args.rate, stop, counters), daemon=True)
        rows = []
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_page(viewport={"width": 1920, "height": 1080})
                page.goto(f"{server.url}/wall")
                page.wait_for_selector(".wall-connection:not(.offline)", timeout=30_000)
                cdp = page.context.new_cdp_session(page)
                cdp.send("Performance.enable")
                if args.rate > 0:
                    driver.start()
                started = time.monotonic()
                say(
                    f"# soak: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {args.minutes:g} min, API events "
                    f"{args.rate:g}/s, simulator {args.simulator_rate:g}/min, street-scale demo, one wall 1920×1080"
                )
                say(
                    f"{'minute':>6} {'events':>7} {'appeals':>7} {'server RSS MB':>13} {'heap MB':>8} {'nodes':>6} "
                    f"{'elements':>8} {'listeners':>9}"
                )
                while True:
                    elapsed = time.monotonic() - started
                    row = {
                        "minute": elapsed / 60,
                        "events": counters["events"],
                        "appeals": _appeal_count(server),
                        **sample(page, cdp, server.process.pid),
                    }
                    rows.append(row)
                    say(
                        f"{row['minute']:6.1f} {row['events']:7d} {row['appeals']:7d} {row['server_rss_mb']:13.1f} "
                        f"{row['heap_mb']:8.2f} {row['nodes']:6d} {row['dom_elements']:8d} {row['listeners']:9d}"
                    )
                    if elapsed >= args.minutes * 60:
                        break
                    time.sleep(min(args.sample_seconds, max(0.0, args.minutes * 60 - elapsed)))
                browser.close()
        finally:
            stop.set()
            server.stop()
    minutes = np.array([r["minute"] for r in rows])
    half = minutes >= minutes[-1] / 2
    for key in ("server_rss_mb", "heap_mb", "nodes", "listeners"):
        values = np.array([r[key] for r in rows], dtype=float)
        slope = np.polyfit(minutes[half], values[half], 1)[0] * 60 if half.sum() > 1 else float("nan")
        second = values[half]
        # "Flat within 5 %": the second half's range against its first sample.
        spread = (second.max() - second.min()) / second[0] * 100 if second[0] else float("nan")
        summary = f"first {values[0]:.2f}, last {values[-1]:.2f}, max {values.max():.2f}"
        say(
            f"{key}: {summary}; second half {second[0]:.2f} → {second[-1]:.2f}, range {spread:.1f} % of its start, "
            f"slope {slope:+.3f} per hour"
        )
        # For `python -m bench`'s table; whether a slope is a trend is read from the samples.
        scale, unit = (1000, "KB/hour") if key == "heap_mb" else (1, "per hour")
        figure(4, f"soak {minutes[-1]:.0f} min: {key} second-half slope", "SQLite", slope * scale, unit)
    say(
        f"events sent: {counters['events']} ({counters['errors']} errors), appeals {rows[0]['appeals']} → "
        f"{rows[-1]['appeals']}, over {minutes[-1]:.1f} minutes"
    )
    if log:
        log.close()


if __name__ == "__main__":
    main()
