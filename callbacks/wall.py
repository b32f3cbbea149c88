"""The wall: its page composer (access → queries.wall.read → layouts.wall.render) and its callbacks.

The browser does the per-second and per-delta work itself (assets/wall.js: pushed deltas go from
the socket event straight to the DOM, with no callback); the server is asked only for a coalesced
resync of the aggregates, shared by every wall of a region (_shared_resync). A resync sends only
what changed since what the wall shows (_changes_only): nothing for an unchanged panel or chart, and
a dash Patch of the changed values where the server still knows the wall's version, so that
Plotly.react gets the unchanged arrays back by identity and redraws in place."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict

from dash import ClientsideFunction, Input, Output, Patch, State, no_update
from dash.exceptions import PreventUpdate
from plotly.io.json import to_json_plotly

from dashboard.domain import clock
from dashboard.domain.roles import Permission
from dashboard.queries import wall as wall_query
from dashboard.queries.cache import TTLCache
from dashboard.ui import ids
from dashboard.web import callback_inputs as valid
from dashboard.web.access import AccessDenied, resolve_wall_region, wall_token
from dashboard.web.auth import callback
from dashboard.web.sockets import DELTA_EVENT
from layouts import wall as wall_layout


def _clientside(app, function: str, outputs, inputs, states=(), **kwargs) -> None:
    app.clientside_callback(ClientsideFunction("wall", function), outputs, inputs, list(states), **kwargs)


def page(region: str | None = None, lang: str | None = None, token: str | None = None, **_query):
    """/wall: the wall for one region (default: the district, or the token's region), zh unless ?lang=en."""
    lang = valid.language(lang)
    region = valid.query_value(region, "region")
    # A browser's token is in its cookie (web.access.exchange_wall_token turned ?token= into it);
    # it is never written into the page: the resync and the socket send the cookie themselves.
    token = valid.query_value(token, "token") or wall_token()
    try:
        region_code = resolve_wall_region(token, region)
    except AccessDenied as exc:
        return wall_layout.denied(lang, str(exc))
    return wall_layout.render(wall_query.read(region_code, lang, ""), DELTA_EVENT)


def refresh(counter: int, state: dict | None, scale: float | None, versions: dict | None = None) -> dict:
    """Resync: recompute every aggregate and chart from the database (also after a reconnect), and send
    the wall only what differs from what it shows (versions: a digest per output, as last sent)."""
    valid.number(counter, "counter", default=0)
    state = valid.mapping(state, "state")
    shown = _versions_shown(versions)
    if not state:
        raise PreventUpdate
    lang = valid.language(state.get("lang"), "state.lang")
    requested = valid.region_code(state.get("region"), "state.region", optional=True)
    token = valid.token(state.get("token"), "state.token") or wall_token()
    scale = valid.number(scale, "scale", default=1.0)
    try:
        region_code = resolve_wall_region(token, requested, default=False)
    except AccessDenied as exc:
        # A revoked token: the screen stops showing data at its next resync (all of it sent).
        return {**wall_layout.resync_denied(lang, str(exc), clock.utcnow()), "versions": {}}
    scale = round(max(min(scale, 8.0), 0.5), 2)
    # Every wall of a region resyncs after the same burst of deltas: they share one computation.
    # The regions' fingerprint is part of the key: a region re-import (new names, shapes) shows
    # at the next resync, with no restart and without waiting for the cached result to expire.
    key = (wall_query.database_key(), region_code, lang, scale, wall_query.regions_key())
    result = _shared_resync(key, lambda: _resync(region_code, lang, scale, key))
    # A shared result can be two seconds old: its as_of says when it was read (the browser
    # replays deltas published since), but the clock the countdowns use must be this moment's.
    sla_data = {**result["values"]["sla_data"], "server_now": wall_layout.epoch_ms(clock.utcnow())}
    return {**_changes_only(result, shown), "sla_data": sla_data}


_resyncs = TTLCache(seconds=2)
# The lock of each key being computed now, and how many requests hold or wait for it; the last
# one out removes it, so the map holds only keys in use (not one lock per key ever asked).
_computing: dict[tuple, tuple[threading.Lock, list[int]]] = {}
_computing_guard = threading.Lock()


def _shared_resync(key: tuple, compute):
    """The cached resync for key; while one request computes it, the others wait for that result.

    Without this, every wall asking while the entry is being recomputed (100 walls resync about
    33 times a second) computed it again, and the server spent its time on copies.
    """
    with _computing_guard:
        lock, users = _computing.setdefault(key, (threading.Lock(), [0]))
        users[0] += 1
    try:
        with lock:
            return _resyncs.get(key, compute)
    finally:
        with _computing_guard:
            users[0] -= 1
            if not users[0]:
                del _computing[key]


def _resync(region_code: str, lang: str, scale: float, key: tuple) -> dict:
    result = wall_layout.resync(wall_query.read(region_code, lang), scale)
    # Every wall that asks while this result is cached gets the same one: turn the figures and
    # components into plain JSON data once here rather than once per wall (Plotly deep-copies
    # a figure to serialise it). Measured: 30 walls polling every second cost the server about
    # 5 ms per poll this way, 8 ms without (bench.push, back-to-back runs).
    values = json.loads(to_json_plotly(result))
    versions = {name: _digest(value) for name, value in values.items() if name not in ALWAYS_SENT}
    made = time.monotonic()
    for name, digest in versions.items():
        # Kept with when this version first appeared: a chart unchanged for minutes is not "recent".
        known = _sent_of(name).get(digest)
        first = known[2] if known is not None and known[1] == key else made
        _sent_of(name).put(digest, (values[name], key, first))
    return {"values": values, "versions": versions, "key": key, "made": made}


# The deadline board's and the ticker's snapshots go out whole at every resync: wall.js replays the
# deltas published since each snapshot's as_of on it (and sla_data carries this moment's clock).
ALWAYS_SENT = frozenset({"sla_data", "ticker_data"})
MAX_PATCH_OPERATIONS = 400  # beyond this a changed output is sent whole (a new day, a new region)
# A chart is redrawn at most this often (unless the screen's scale, the language or the region changed):
# every Plotly redraw is a long task on a software-rendered wall (50-250 ms measured on a busy two-core
# machine, even for one bar), and under a stream of appeals today's bar and the map's colours change at
# every resync. Both still show each change within this time; the numbers beside them, at once.
CHART_EVERY_S = 30.0
CHARTS = frozenset({"map", "trend"})


class _Recent:
    """The last `size` entries put, by key; thread-safe. (A few lines: the project has no LRU library.)"""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            return self._entries.get(key)

    def put(self, key, value) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


# What this process sent lately, per output by digest: a wall's version of an output is patched into
# the current one only when its digest is here (another process's, or one long gone, is sent whole).
# Per output, so that the large values (a district's map) are bounded by their own count.
SENT_PER_OUTPUT = 32  # at one new version per 2 s (the shared resync), a minute of one region's history
_sent: dict[str, _Recent] = {}
_sent_guard = threading.Lock()
# The patch from one version of an output to another, computed once for all the walls that hold it.
_patches = _Recent(512)


def _sent_of(name: str) -> _Recent:
    with _sent_guard:
        return _sent.setdefault(name, _Recent(SENT_PER_OUTPUT))


def _digest(value) -> str:
    """A short digest of an output's JSON value: equal values, equal digests."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def _versions_shown(versions: object) -> dict[str, str]:
    """The digests a wall reports for what it shows; anything malformed counts as nothing known."""
    versions = valid.mapping(versions, "versions") or {}
    return {k: v for k, v in versions.items() if isinstance(k, str) and isinstance(v, str) and len(v) <= 40}


def _changes_only(result: dict, shown: dict[str, str]) -> dict:
    """The resync's outputs as this wall needs them: no_update for what it shows already, a Patch from
    its version when this process knows it, the whole value otherwise; and the new versions."""
    values, versions = result["values"], dict(result["versions"])
    out = {}
    for name, value in values.items():
        digest, held = versions.get(name), shown.get(name)
        if digest is None:
            out[name] = value
        elif held == digest:
            out[name] = no_update
        elif name in CHARTS and _recent_chart(name, held, result):
            out[name], versions[name] = no_update, held  # redrawn lately: this change shows at a later resync
        else:
            out[name] = _patch_or_whole(name, held, digest, value)
    out["versions"] = no_update if shown == versions else versions
    return out


def _recent_chart(name: str, held: str | None, result: dict) -> bool:
    """Whether the wall's version of a chart was made for the same screen and lately (see CHART_EVERY_S)."""
    known = _sent_of(name).get(held) if held else None
    return known is not None and known[1] == result["key"] and result["made"] - known[2] < CHART_EVERY_S


def _patch_or_whole(name: str, held: str | None, digest: str, value):
    known = _sent_of(name).get(held) if held else None
    if known is None:
        return value
    previous = known[0]
    key = (name, held, digest)
    patch = _patches.get(key)
    if patch is None:
        patch = _patch(previous, value)
        _patches.put(key, patch)
    return value if patch is False else patch


def _patch(old, new) -> Patch | bool:
    """A dash Patch turning old into new (JSON values), touching only what differs; False when it is
    simpler to send new whole (a different shape at the top, or too many changes)."""
    patch = Patch()
    if not _diff_into(patch, old, new) or len(patch._operations) > MAX_PATCH_OPERATIONS:
        return False
    return patch


def _diff_into(here: Patch, old, new) -> bool:
    """Add to here's patch the operations that turn the container old into new; False if they are not
    containers of one kind (the caller then assigns new in its place)."""
    if type(old) is dict and type(new) is dict:
        for gone in old.keys() - new.keys():
            del here[gone]
        for key, value in new.items():
            if key not in old or (old[key] != value and not _diff_into(here[key], old[key], value)):
                here[key] = value
        return True
    # Lists of components or traces, item by item; other lists (a trace's values) are assigned
    # whole, so Plotly sees one new array, and only where it changed.
    if type(old) is list and type(new) is list and len(old) == len(new) and any(type(v) is dict for v in new):
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            if before != after and not _diff_into(here[index], before, after):
                here[index] = after
        return True
    return False


def register(app) -> None:
    """Attach the wall's callbacks to the Dash app."""
    _clientside(
        app,
        "clock",
        Output(ids.WALL_CLOCK, "children"),
        Input(ids.WALL_CLOCK_TICK, "n_intervals"),
        [State(ids.WALL_LABELS, "data")],
    )
    _clientside(
        app,
        "connection",
        [Output(ids.WALL_CONNECTION, "className"), Output(ids.WALL_CONNECTION_TEXT, "children")],
        Input(ids.WALL_SOCKET, "connected"),
        [State(ids.WALL_LABELS, "data")],
    )
    _clientside(
        app,
        "schedule",
        [Output(ids.WALL_REFRESH, "data"), Output(ids.WALL_SYNC, "data"), Output(ids.WALL_VIEWPORT, "data")],
        [Input(ids.WALL_CLOCK_TICK, "n_intervals"), Input(ids.WALL_SOCKET, "connected")],
        [
            State(ids.WALL_SYNC, "data"),
            State(ids.WALL_REFRESH, "data"),
            State(ids.WALL_VIEWPORT, "data"),
        ],
    )
    # No callback listens to the socket's deltas or renders the ticker and the deadline board:
    # wall.js applies deltas and snapshots to the DOM itself, which keeps a delta out of Dash's
    # callback queue (the earlier chain took 450-880 ms at p95 on a busy headless wall).
    callback(
        app,
        Permission.WALL,  # the resync checks the device token itself
        output={
            "kpis": Output(ids.WALL_KPIS, "children"),
            "today": Output(ids.WALL_TODAY, "children"),
            "population": Output(ids.WALL_POPULATION, "children"),
            "visits": Output(ids.WALL_VISITS, "children"),
            "cards": Output(ids.WALL_CARDS, "children"),
            "map": Output(ids.WALL_MAP, "figure"),
            "trend": Output(ids.WALL_TREND, "figure"),
            "sla_totals": Output(ids.WALL_SLA_TOTALS, "children"),
            "sla_data": Output(ids.WALL_SLA_DATA, "data"),
            "ticker_data": Output(ids.WALL_TICKER_DATA, "data"),
            "freshness": Output(ids.WALL_FRESHNESS, "children"),
            "versions": Output(ids.WALL_VERSIONS, "data"),  # what the wall shows now, for the next resync
        },
        inputs={"counter": Input(ids.WALL_REFRESH, "data")},
        state={
            "state": State(ids.WALL_STATE, "data"),
            "scale": State(ids.WALL_VIEWPORT, "data"),
            "versions": State(ids.WALL_VERSIONS, "data"),
        },
        prevent_initial_call=True,
    )(refresh)
