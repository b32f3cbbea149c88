"""Push latency: commit → wall, with 100 connected walls, against a naive 1-second polling wall.

    python -m bench.push [--clients 100] [--naive-clients 100,30] [--seconds 20] [--rates 10,50]
                         [--batch 1,5] [--modes baseline,push,naive] [--processes 4]

A real server on tiny demo data. Appeals are posted through the API at each rate, --batch per
request (one value, or one per rate in order), by four senders sharing one schedule ("posted" is the
rate reached). Commit time is the `sent_at` of the delta the server publishes right after
the commit.

* baseline: nobody watching but one listener that records commit times: the server's CPU
  for the posts themselves, subtracted from the other modes' CPU before dividing per client.
* push: --clients Socket.IO clients in the district's room, each doing what the wall does:
  take the delta, and resync the aggregates (the wall's real Dash callback) at most every 3 s
  while deltas arrive. One headless Chromium wall records when each appeal enters its DOM.
  The simulated walls (push and naive) are spread over --processes processes, so their own
  timestamps are not held up by 100 threads sharing one interpreter lock.
* naive: --naive-clients clients calling the same Dash callback every second, as a wall
  with a 1-second dcc.Interval would; an appeal is seen when one of that client's polls
  first contains it in the ticker (which holds only the newest 5: at 10 appeals/s a
  1-second poll cannot show them all, so "seen" is below 100 %). Its latency is the HTTP
  response, without the browser's rendering, so it flatters the naive wall.

Latency percentiles are over every (client, appeal) pair that was seen; "seen" is the share
of pairs seen at all. The Chromium wall also records its long tasks (PerformanceObserver
'longtask': a main-thread task over 50 ms) over the posting window: how many and the longest,
and of those the ones that began within a second after a resync's response arrived. Server
CPU is the server process's user+system time over the posting window plus 1.5 s. The load
average of the shared machine is printed with every row.
Target (issue 4): push p95 ≤ 300 ms. Target (issue 21), 100 walls at 50 appeals/s: Chromium
commit → DOM p95 ≤ 50 ms and p99 ≤ 100 ms, and no long task during a resync.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
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

from bench.report import figure
from tests.e2e.support import LiveServer, launch_chromium

REGION = "510107"
RESYNC_MS = 3000
MARKER_LENGTH = 15  # "PB#" + mode letter + rate (2) + sequence (8 letters) + "#"


def sequence_code(number: int) -> str:
    """number as 8 letters (base 26): digits would not survive, the server masks long digit runs
    in free text as possible phone and ID numbers, and every marker would read the same."""
    letters = []
    for _ in range(8):
        number, digit = divmod(number, 26)
        letters.append(chr(ord("A") + digit))
    return "".join(reversed(letters))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    """The machine's 1- and 5-minute load averages (other people share its two cores)."""
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


class RefreshCall:
    """The wall's resync callback, called over HTTP exactly as the browser calls it.

    A push wall sends back the versions the previous answer gave it (issue 21: it is then sent only
    what changed); a naive poller sends none and gets everything every time.
    """

    def __init__(self, url: str) -> None:
        dependencies = requests.get(f"{url}/_dash-dependencies", timeout=10).json()
        spec = next(d for d in dependencies if "wall-kpis.children" in d["output"])  # the resync (not the alerts')
        self.url = f"{url}/_dash-update-component"
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
                {"id": "wall-versions", "property": "data", "value": None},
            ],
        }

    def __call__(self, session: requests.Session, versions: dict | None = None) -> str:
        body = self.body
        if versions is not None:
            body = {**body, "state": [*body["state"][:2], {**body["state"][2], "value": versions}]}
        response = session.post(self.url, json=body, timeout=30)
        response.raise_for_status()
        return response.text


def versions_of(text: str, held: dict | None) -> dict | None:
    """The versions a resync's answer gives the wall (unchanged when the answer leaves them alone)."""
    return json.loads(text)["response"].get("wall-versions", {}).get("data", held)


class Markers:
    """Commit time (sent_at) of each posted appeal and when each client first saw it, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.committed: dict[str, float] = {}
        self.seen: dict[tuple[int, str], float] = {}

    def commit(self, marker: str, sent_at_ms: float) -> None:
        with self.lock:
            self.committed.setdefault(marker, sent_at_ms / 1000)

    def see(self, client: int, marker: str, at: float) -> None:
        with self.lock:
            self.seen.setdefault((client, marker), at)

    def latencies(self) -> np.ndarray:
        """Milliseconds from commit to sighting, one value per (client, appeal) pair seen."""
        with self.lock:
            pairs = list(self.seen.items())
            committed = dict(self.committed)
        return np.array([(at - committed[m]) * 1000 for (_, m), at in pairs if m in committed])

    def seen_share(self, clients: int) -> float:
        """Share of (client, committed appeal) pairs that were seen at all."""
        with self.lock:
            seen = sum(1 for (_, m) in self.seen if m in self.committed)
            return seen / max(clients * len(self.committed), 1)


def _markers_in(text: str):
    position = text.find("PB#")
    while position >= 0:
        yield text[position : position + MARKER_LENGTH]
        position = text.find("PB#", position + 3)


def post_appeals(
    server: LiveServer, key: str, rate: float, seconds: float, tag: str, batch: int = 1, senders: int = 4
) -> tuple[float, np.ndarray]:
    """Post appeals at `rate` per second for `seconds`, `batch` per request.

    Returns the rate achieved and each request's duration in ms (a slow server shows there).

    Several senders share the schedule, so a slow request does not hold back the next one; a
    server that cannot keep up gets fewer appeals, never a longer run.
    """
    requests_per_second = rate / batch
    count = int(requests_per_second * seconds)
    started = time.monotonic()
    turn = iter(range(count))
    lock = threading.Lock()
    sent = [0]
    durations: list[float] = []

    def send() -> None:
        session = requests.Session()
        session.headers["X-API-Key"] = key
        while True:
            with lock:
                i = next(turn, None)
            if i is None or time.monotonic() > started + seconds:
                return
            delay = started + i / requests_per_second - time.monotonic()
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
                    "description": f"PB#{tag}{sequence_code(i * batch + j)}# 推送测试",
                }
                for j in range(batch)
            ]
            posted = time.monotonic()
            session.post(f"{server.url}/api/v1/appeals", json=body, timeout=30).raise_for_status()
            with lock:
                sent[0] += batch
                durations.append((time.monotonic() - posted) * 1000)

    threads = [threading.Thread(target=send, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent[0] / (time.monotonic() - started), np.array(durations)


def timestamp_listener(server: LiveServer, markers: Markers) -> socketio.Client:
    """A socket client that only records each appeal's commit time."""
    client = socketio.Client(reconnection=False)

    @client.on("wall_delta")
    def on_delta(message):
        for delta in message["deltas"]:
            for marker in _markers_in(delta.get("text") or ""):
                markers.commit(marker, message["sent_at"])

    client.connect(server.url, auth={"region": REGION}, transports=["websocket"])
    return client


def push_clients(url: str, refresh: RefreshCall, markers: Markers, first: int, n: int) -> list[socketio.Client]:
    """n walls (numbered from first): take deltas, resync at most every 3 s while they arrive."""
    clients = []
    for index in range(first, first + n):
        client = socketio.Client(reconnection=False)
        state = {"last": 0.0, "session": requests.Session(), "busy": False, "versions": {}}

        def on_delta(message, state=state, index=index):
            now = time.time()
            for delta in message["deltas"]:
                for marker in _markers_in(delta.get("text") or ""):
                    markers.see(index, marker, now)
            if now - state["last"] >= RESYNC_MS / 1000 and not state["busy"]:
                state["last"], state["busy"] = now, True

                def resync(state=state) -> None:
                    try:
                        state["versions"] = versions_of(refresh(state["session"], state["versions"]), state["versions"])
                    finally:
                        state["busy"] = False

                threading.Thread(target=resync, daemon=True).start()

        client.on("wall_delta", on_delta)
        client.connect(url, auth={"region": REGION}, transports=["websocket"])
        clients.append(client)
    return clients


def naive_pollers(
    refresh: RefreshCall, markers: Markers, first: int, n: int, stop: threading.Event, polls
) -> list[threading.Thread]:
    """n walls (numbered from first) polling the resync callback every second, like a dcc.Interval(1000) wall."""

    def poll(index: int) -> None:
        session = requests.Session()
        time.sleep((index % n) / n)
        while not stop.is_set():
            started = time.monotonic()
            try:
                text = refresh(session)
            except requests.RequestException:
                continue
            now = time.time()
            with polls.get_lock():
                polls.value += 1
            for marker in _markers_in(text):
                markers.see(index, marker, now)
            stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    threads = [threading.Thread(target=poll, args=(i,), daemon=True) for i in range(first, first + n)]
    for thread in threads:
        thread.start()
    return threads


def walls_process(kind: str, url: str, first: int, n: int, polls, ready, stop, results) -> None:
    """A process of n walls (push or naive), so that 100 walls are not 100 threads under one GIL.

    Reports when connected, runs until `stop`, then sends back who saw which appeal when.
    """
    markers = Markers()
    refresh = RefreshCall(url)
    halt = threading.Event()
    clients = push_clients(url, refresh, markers, first, n) if kind == "push" else []
    if kind == "naive":
        naive_pollers(refresh, markers, first, n, halt, polls)
    ready.put(first)
    stop.wait()
    halt.set()
    closing = [threading.Thread(target=c.disconnect, daemon=True) for c in clients]
    for thread in closing:
        thread.start()
    for thread in closing:
        thread.join(timeout=10)
    results.put(markers.seen)


class Walls:
    """`count` walls of one kind, spread over a few processes."""

    def __init__(self, kind: str, url: str, count: int, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop, ready, self.results = context.Event(), context.Queue(), context.Queue()
        self.polls = [context.Value("i", 0) for _ in range(min(processes, count))]
        sizes = [count // len(self.polls) + (i < count % len(self.polls)) for i in range(len(self.polls))]
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        self.processes = [
            context.Process(
                target=walls_process,
                args=(kind, url, first, size, polls, ready, self.stop, self.results),
                daemon=True,
            )
            for first, size, polls in zip(starts, sizes, self.polls, strict=True)
        ]
        for process in self.processes:
            process.start()
        for _ in self.processes:
            ready.get(timeout=300)

    def polled(self) -> int:
        """Polls answered so far (naive walls)."""
        return sum(polls.value for polls in self.polls)

    def finish(self, markers: Markers) -> None:
        """Stop every wall and merge their sightings into markers."""
        self.stop.set()
        for _ in self.processes:
            seen = self.results.get(timeout=120)
            with markers.lock:
                markers.seen.update(seen)
        for process in self.processes:
            process.join(timeout=30)


def browser_latencies(page, markers: Markers) -> tuple[np.ndarray, float]:
    """When each appeal entered the real wall's DOM, against its commit time; and the share seen."""
    seen = page.evaluate("() => window.__pushSeen || {}")
    values = [(at / 1000 - markers.committed[m]) * 1000 for m, at in seen.items() if m in markers.committed]
    return np.array(values), len(values) / max(len(markers.committed), 1)


WATCH_DOM = """(length) => {
  window.__pushSeen = {};
  new MutationObserver(() => {
    document.querySelectorAll('.wall-ticker-text').forEach((node) => {
      const i = node.textContent.indexOf('PB#');
      if (i < 0) { return; }
      const m = node.textContent.slice(i, i + length);
      if (!(m in window.__pushSeen)) { window.__pushSeen[m] = Date.now(); }
    });
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


# Installed before the wall's own scripts: its long tasks, and when each resync's answer arrived.
WATCH_TASKS = """
window.__longTasks = [];
window.__resyncs = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) { window.__longTasks.push([entry.startTime, entry.duration]); }
}).observe({type: 'longtask', buffered: true});
const fetchBefore = window.fetch;
window.fetch = function (url, options) {
  const answer = fetchBefore.apply(this, arguments);
  const body = options && options.body;
  if (typeof body === 'string' && body.indexOf('"wall-refresh"') >= 0) {
    answer.then(() => window.__resyncs.push(performance.now()), () => {});
  }
  return answer;
};
"""
RESYNC_TASK_MS = 1000  # a long task that begins this soon after a resync's answer counts as the resync's


def long_tasks(page, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """The wall's long tasks (ms) that began between start and end (page time), and those of resyncs."""
    tasks = [(at, duration) for at, duration in page.evaluate("() => window.__longTasks") if start <= at <= end]
    resyncs = page.evaluate("() => window.__resyncs")
    during = [d for at, d in tasks if any(-10 <= at - r <= RESYNC_TASK_MS for r in resyncs)]
    return np.array([d for _, d in tasks]), np.array(during)


def _percentiles(values: np.ndarray, p99: bool = False) -> str:
    if len(values) == 0:
        return f"{'—':>7} {'—':>7}" + (f" {'—':>7}" if p99 else "")
    text = f"{np.percentile(values, 50):7.0f} {np.percentile(values, 95):7.0f}"
    return text + (f" {np.percentile(values, 99):7.0f}" if p99 else "")


def _tasks(values: np.ndarray) -> str:
    return f"{len(values):4d} {values.max() if len(values) else 0:6.0f}"


def run_mode(mode: str, rate: float, count: int, args, server: LiveServer, key: str, browser) -> dict:
    """One (mode, rate, client count) measurement; returns the figures of its row."""
    markers = Markers()
    listener = timestamp_listener(server, markers)
    page, walls = None, None
    if count:
        walls = Walls(mode, server.url, count, args.processes)
    if mode == "push":
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.add_init_script(WATCH_TASKS)
        page.goto(f"{server.url}/wall?region={args.region}")
        page.wait_for_selector(".wall-connection:not(.offline)", timeout=30_000)
        page.evaluate(WATCH_DOM, MARKER_LENGTH)
    time.sleep(2)
    polls_before = walls.polled() if walls else 0
    cpu_before, wall_before = cpu_seconds(server.process.pid), time.monotonic()
    page_start = page.evaluate("() => performance.now()") if page is not None else 0.0
    tag = f"{mode[0]}{int(rate):02d}"
    achieved, post_ms = post_appeals(server, key, rate, args.seconds, tag, args.batches[rate])
    time.sleep(1.5)
    page_end = page.evaluate("() => performance.now()") if page is not None else 0.0
    cpu = cpu_seconds(server.process.pid) - cpu_before
    elapsed = time.monotonic() - wall_before
    polls_per_second = ((walls.polled() if walls else 0) - polls_before) / elapsed
    time.sleep(2.0)  # late sightings count for latency, not for CPU
    if walls:
        walls.finish(markers)
    row = {
        "mode": mode,
        "rate": rate,
        "achieved": achieved,
        "post_p95": float(np.percentile(post_ms, 95)) if len(post_ms) else float("nan"),
        "clients": count,
        "client_latency": markers.latencies(),
        "client_seen": markers.seen_share(count) if count else None,
        "browser_latency": np.array([]),
        "browser_seen": None,
        "long_tasks": np.array([]),
        "resync_tasks": np.array([]),
        "cpu_share": cpu / elapsed,
        "polls_per_second": polls_per_second if mode == "naive" else None,
        "load": load_average(),
    }
    if page is not None:
        row["browser_latency"], row["browser_seen"] = browser_latencies(page, markers)
        row["long_tasks"], row["resync_tasks"] = long_tasks(page, page_start, page_end)
        page.close()
    listener.disconnect()
    time.sleep(2)
    return row


def _share(value: float | None) -> str:
    return f"{value * 100:5.0f}%" if value is not None else f"{'—':>6}"


def cpu_per_wall(row: dict, baseline_cpu: dict[float, float]) -> float | None:
    """Server CPU in ms per second per wall, net of the posts' own CPU (the baseline)."""
    if not row["clients"]:
        return None
    return (row["cpu_share"] - baseline_cpu.get(row["rate"], 0.0)) / row["clients"] * 1000


def p95(values: np.ndarray) -> float | None:
    """The 95th percentile, or None without values."""
    return float(np.percentile(values, 95)) if len(values) else None


def report_figures(rows: list[dict], baseline_cpu: dict[float, float], walls: int, backend: str = "SQLite") -> None:
    """The headline figures for `python -m bench`: push p95 beside naive polling at the same rate."""
    for push in (r for r in rows if r["mode"] == "push"):
        naive = [r for r in rows if r["mode"] == "naive" and r["rate"] == push["rate"]]
        naive = next((r for r in naive if r["clients"] == walls), naive[0] if naive else None)
        naive_p95 = p95(naive["client_latency"]) if naive else None
        rate = f"{push['rate']:.0f} appeals/s, {push['clients']} walls"
        for what, values in (("Chromium wall", push["browser_latency"]), ("socket walls", push["client_latency"])):
            value = p95(values)
            if value is not None:
                figure(
                    4, f"push commit → {what} p95, {rate}", backend, value, "ms", naive_p95, "≤ 300 ms", value <= 300
                )
        chromium = push["browser_latency"]
        if len(chromium):
            p95_ms, p99_ms = np.percentile(chromium, 95), np.percentile(chromium, 99)
            what = f"push commit → Chromium wall p95, {rate}"
            figure(21, what, backend, p95_ms, "ms", naive_p95, "≤ 50 ms", bool(p95_ms <= 50))
            what = f"push commit → Chromium wall p99, {rate}"
            figure(21, what, backend, p99_ms, "ms", None, "≤ 100 ms", bool(p99_ms <= 100))
        during = push["resync_tasks"]
        longest = float(during.max()) if len(during) else 0.0
        what = f"longest wall task during a resync, {rate}"
        figure(21, what, backend, longest, "ms", None, "≤ 50 ms", not len(during))
        push_cpu = cpu_per_wall(push, baseline_cpu) * 1000
        naive_cpu = cpu_per_wall(naive, baseline_cpu) * 1000 if naive else None
        figure(4, f"push server CPU per wall, {rate}", backend, push_cpu, "µs/s", naive_cpu)


def print_row(row: dict, baseline_cpu: dict[float, float]) -> None:
    """One line of the table: latencies, seen shares, CPU per client net of the baseline."""
    net = row["cpu_share"] - baseline_cpu.get(row["rate"], 0.0)
    per_client = f"{net / row['clients'] * 1000:9.2f}" if row["clients"] else f"{'—':>9}"
    polls = f"{row['polls_per_second']:6.1f}" if row["polls_per_second"] is not None else f"{'—':>6}"
    print(
        f"{row['mode']:8} {row['rate']:4.0f} {row['achieved']:6.1f} {row['post_p95']:5.0f} {row['clients']:7d}  "
        f"{_percentiles(row['client_latency'])} {_share(row['client_seen'])}  "
        f"{_percentiles(row['browser_latency'], p99=True)} {_share(row['browser_seen'])}  "
        f"{_tasks(row['long_tasks'])} {_tasks(row['resync_tasks'])}  "
        f"{row['cpu_share'] * 100:6.1f}% {per_client} {polls}  {row['load']}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    """Print one row per (mode, rate)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100, help="push walls (Socket.IO clients)")
    parser.add_argument("--naive-clients", default="100,30", help="polling walls, one count or several (100,30)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rates", default="10,50")
    parser.add_argument("--modes", default="baseline,push,naive")
    parser.add_argument("--processes", type=int, default=4, help="processes the simulated walls are spread over")
    parser.add_argument(
        "--postgres-url", default="", help="store in a fresh database next to this one instead of SQLite"
    )
    parser.add_argument("--region", default=REGION, help="the Chromium wall's region (its walls: the district's room)")
    parser.add_argument("--demo", default="tiny", help="demo scale: tiny, street or district")
    parser.add_argument("--batch", default="1,5", help="appeals per POST, one value or one per rate (≤ 5: the ticker)")
    args = parser.parse_args(argv)
    counts = {
        "baseline": [0],
        "push": [args.clients],
        "naive": [int(n) for n in args.naive_clients.split(",")],
    }
    rates = [float(r) for r in args.rates.split(",")]
    batches = [int(b) for b in args.batch.split(",")]
    args.batches = {rate: batches[min(i, len(batches) - 1)] for i, rate in enumerate(rates)}
    modes = args.modes.split(",")
    cleanup = None
    with tempfile.TemporaryDirectory() as workdir:
        server = LiveServer(Path(workdir))
        server.env["CC_INGEST_RATE_LIMIT"] = "0"  # one API key posts up to 50 appeals a second here
        if args.postgres_url:
            from bench.demo_generation import _postgres_database
            from dashboard.config import normalise_database_url

            server.env["CC_DATABASE_URL"], cleanup = _postgres_database(normalise_database_url(args.postgres_url))
        server.cli("demo", "--scale", args.demo)
        key = server.cli("apikeys", "add", "--name", "bench", "--source", "wechat").strip()
        server.start()
        print(
            f"{args.seconds:.0f} s per rate; latency ms commit → client / → Chromium DOM (p50 p95, share seen); "
            f"the Chromium wall's long tasks (> 50 ms: count, longest ms; all, then those of resyncs); "
            f"server CPU as % of one core, and per client in ms per second net of the baseline; "
            f"load average 1/5 min at the row's end (start {load_average()})"
        )
        print(
            f"{'mode':8} {'rate':>4} {'posted':>6} {'p95':>5} {'clients':>7}  {'cli p50':>7} {'p95':>7} {'seen':>6}  "
            f"{'dom p50':>7} {'p95':>7} {'p99':>7} {'seen':>6}  {'long':>4} {'max':>6} {'resync':>4} {'max':>6}  "
            f"{'CPU':>7} {'ms/cl/s':>9} {'polls':>6}  load"
        )
        baseline_cpu: dict[float, float] = {}
        rows: list[dict] = []
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                for mode in modes:
                    for count in counts[mode]:
                        for rate in rates:
                            row = run_mode(mode, rate, count, args, server, key, browser)
                            if mode == "baseline":
                                baseline_cpu[rate] = row["cpu_share"]
                            print_row(row, baseline_cpu)
                            rows.append(row)
                browser.close()
            report_figures(rows, baseline_cpu, args.clients, "PostgreSQL" if args.postgres_url else "SQLite")
        finally:
            server.stop()
            if cleanup:
                cleanup()


if __name__ == "__main__":
    main()
