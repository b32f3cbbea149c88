"""Push latency: commit → wall, with 100 connected walls, against a naive 1-second polling wall.

    python -m bench.push [--clients 100] [--seconds 20] [--rates 10,50]

A real server on tiny demo data. Appeals are posted through the API at each rate. Commit
time is the `sent_at` of the delta the server publishes right after the commit.

* push: 100 Socket.IO clients in the district's room, each doing what the wall does: take
  the delta, and resync the aggregates (the wall's real Dash callback) at most every 3 s while
  deltas arrive. One headless Chromium wall records when each appeal enters its DOM.
* naive: 100 clients calling the same Dash callback every second, as a wall with a 1-second
  dcc.Interval would; an appeal is seen when a poll's ticker first contains it.

Server CPU is the server process's user+system time over the run, per client per second.
Target (issue 4): push p95 ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import requests
import socketio
from playwright.sync_api import sync_playwright

from tests.e2e.support import LiveServer, launch_chromium

REGION = "510107"
RESYNC_MS = 3000


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RefreshCall:
    """The wall's resync callback, called over HTTP exactly as the browser calls it."""

    def __init__(self, server: LiveServer) -> None:
        dependencies = requests.get(f"{server.url}/_dash-dependencies", timeout=10).json()
        spec = next(d for d in dependencies if any(i["id"] == "wall-refresh" for i in d["inputs"]))
        self.url = f"{server.url}/_dash-update-component"
        self.body = {
            "output": spec["output"],
            "outputs": [
                {"id": o.split(".")[0], "property": o.split(".")[1]} for o in spec["output"].strip(".").split("...")
            ],
            "inputs": [{"id": "wall-refresh", "property": "data", "value": 1}],
            "changedPropIds": ["wall-refresh.data"],
            "state": [
                {"id": "wall-state", "property": "data", "value": {"region": REGION, "lang": "zh", "token": ""}},
                {"id": "wall-viewport", "property": "data", "value": 1.0},
            ],
        }

    def __call__(self, session: requests.Session) -> str:
        response = session.post(self.url, json=self.body, timeout=30)
        response.raise_for_status()
        return response.text


class Markers:
    """Commit time (sent_at) and first sighting of each posted appeal, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.committed: dict[str, float] = {}
        self.seen: dict[str, float] = {}

    def commit(self, marker: str, sent_at_ms: float) -> None:
        with self.lock:
            self.committed.setdefault(marker, sent_at_ms / 1000)

    def see(self, marker: str, at: float) -> None:
        with self.lock:
            self.seen.setdefault(marker, at)

    def latencies(self) -> np.ndarray:
        return np.array([(self.seen[m] - self.committed[m]) * 1000 for m in self.seen if m in self.committed])


def _marker(text: str) -> str | None:
    start = text.find("PB#")
    return text[start : start + 15] if start >= 0 else None


def post_appeals(server: LiveServer, key: str, rate: float, seconds: float, tag: str) -> int:
    """Post one appeal at a time at `rate` per second for `seconds`."""
    session = requests.Session()
    session.headers["X-API-Key"] = key
    count = int(rate * seconds)
    started = time.monotonic()
    for i in range(count):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        body = [
            {
                "external_id": f"PB-{uuid.uuid4().hex}",
                "source": "wechat",
                "reported_at": dt.datetime.now(dt.UTC).isoformat(),
                "category": "noise",
                "priority": "ordinary",
                "region_code": "510107001001001",
                "description": f"PB#{tag}{i:08d} 推送测试",
            }
        ]
        session.post(f"{server.url}/api/v1/appeals", json=body, timeout=30).raise_for_status()
    return count


def timestamp_listener(server: LiveServer, markers: Markers) -> socketio.Client:
    """A socket client that only records each appeal's commit time."""
    client = socketio.Client(reconnection=False)

    @client.on("wall_delta")
    def on_delta(message):
        for delta in message["deltas"]:
            marker = _marker(delta.get("text") or "")
            if marker:
                markers.commit(marker, message["sent_at"])

    client.connect(server.url, auth={"region": REGION}, transports=["websocket"])
    return client


def push_clients(server: LiveServer, refresh: RefreshCall, markers: Markers, n: int) -> list[socketio.Client]:
    """n walls: take deltas, resync at most every 3 s while they arrive."""
    clients = []
    for _ in range(n):
        client = socketio.Client(reconnection=False)
        state = {"last": 0.0, "session": requests.Session(), "busy": False}

        def on_delta(message, state=state):
            now = time.time()
            for delta in message["deltas"]:
                marker = _marker(delta.get("text") or "")
                if marker:
                    markers.see(marker, now)
            if now - state["last"] >= RESYNC_MS / 1000 and not state["busy"]:
                state["last"], state["busy"] = now, True
                threading.Thread(
                    target=lambda: (refresh(state["session"]), state.update(busy=False)), daemon=True
                ).start()

        client.on("wall_delta", on_delta)
        client.connect(server.url, auth={"region": REGION}, transports=["websocket"])
        clients.append(client)
    return clients


def naive_pollers(refresh: RefreshCall, markers: Markers, n: int, stop: threading.Event) -> list[threading.Thread]:
    """n walls polling the resync callback every second, like a dcc.Interval(1000) wall."""

    def poll(offset: float) -> None:
        session = requests.Session()
        time.sleep(offset)
        while not stop.is_set():
            started = time.monotonic()
            text = refresh(session)
            now = time.time()
            position = text.find("PB#")
            while position >= 0:
                markers.see(text[position : position + 15], now)
                position = text.find("PB#", position + 3)
            stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    threads = [threading.Thread(target=poll, args=(i / n,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    return threads


def browser_latencies(page, markers: Markers) -> np.ndarray:
    """When each appeal entered the real wall's DOM, against its commit time."""
    seen = page.evaluate("() => window.__pushSeen || {}")
    values = [(at / 1000 - markers.committed[m]) * 1000 for m, at in seen.items() if m in markers.committed]
    return np.array(values)


WATCH_DOM = """() => {
  window.__pushSeen = {};
  new MutationObserver(() => {
    document.querySelectorAll('.wall-ticker-text').forEach((node) => {
      const i = node.textContent.indexOf('PB#');
      if (i < 0) { return; }
      const m = node.textContent.slice(i, i + 15);
      if (!(m in window.__pushSeen)) { window.__pushSeen[m] = Date.now(); }
    });
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def _percentiles(values: np.ndarray) -> str:
    if len(values) == 0:
        return "      —       —"
    return f"{np.percentile(values, 50):7.0f} {np.percentile(values, 95):7.0f}"


def main(argv: list[str] | None = None) -> None:
    """Print one row per (mode, rate)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rates", default="10,50")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as workdir:
        server = LiveServer(Path(workdir))
        server.cli("demo", "--scale", "tiny")
        key = server.cli("apikeys", "add", "--name", "bench", "--source", "wechat").strip()
        server.start()
        refresh = RefreshCall(server)
        setup = f"{args.clients} clients, {args.seconds:.0f} s per rate"
        print(f"{setup}; latency ms (p50 p95); server CPU ms per client-second")
        columns = f"{'clients p50':>11} {'p95':>7} {'browser p50':>11} {'p95':>7} {'CPU/client/s':>12}"
        print(f"{'mode':7} {'rate/s':>6} {columns}")
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                for mode in ("push", "naive"):
                    for rate in rates:
                        markers = Markers()
                        listener = timestamp_listener(server, markers)
                        stop = threading.Event()
                        page = None
                        if mode == "push":
                            clients = push_clients(server, refresh, markers, args.clients)
                            page = browser.new_page(viewport={"width": 1920, "height": 1080})
                            page.goto(f"{server.url}/wall?region={REGION}")
                            page.wait_for_selector(".wall-connection:not(.offline)", timeout=30_000)
                            page.evaluate(WATCH_DOM)
                        else:
                            clients = naive_pollers(refresh, markers, args.clients, stop)
                        time.sleep(2)
                        cpu_before, wall_before = cpu_seconds(server.process.pid), time.monotonic()
                        post_appeals(server, key, rate, args.seconds, f"{mode[0]}{int(rate):02d}")
                        time.sleep(1.5)
                        cpu = cpu_seconds(server.process.pid) - cpu_before
                        elapsed = time.monotonic() - wall_before
                        browser_values = browser_latencies(page, markers) if page else np.array([])
                        client_values = markers.latencies()
                        stop.set()
                        if mode == "push":
                            for client in clients:
                                client.disconnect()
                            page.close()
                        listener.disconnect()
                        per_client = cpu / elapsed / args.clients * 1000
                        print(
                            f"{mode:7} {rate:6.0f} {_percentiles(client_values)}   "
                            f"{_percentiles(browser_values)} {per_client:12.2f}",
                            flush=True,
                        )
                        time.sleep(2)
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
