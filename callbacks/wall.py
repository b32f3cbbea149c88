"""The wall: its page composer (access → queries.wall.read → layouts.wall.render) and its callbacks.

The browser does the per-second and per-delta work itself (assets/wall.js: pushed deltas go from
the socket event straight to the DOM, with no callback); the server is asked only for a coalesced
resync of the aggregates, shared by every wall of a region (_shared_resync)."""

from __future__ import annotations

import json
import threading

from dash import ClientsideFunction, Input, Output, State
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


def refresh(counter: int, state: dict | None, scale: float | None) -> dict:
    """Resync: recompute every aggregate and chart from the database (also after a reconnect)."""
    valid.number(counter, "counter", default=0)
    state = valid.mapping(state, "state")
    if not state:
        raise PreventUpdate
    lang = valid.language(state.get("lang"), "state.lang")
    requested = valid.region_code(state.get("region"), "state.region", optional=True)
    token = valid.token(state.get("token"), "state.token") or wall_token()
    scale = valid.number(scale, "scale", default=1.0)
    try:
        region_code = resolve_wall_region(token, requested, default=False)
    except AccessDenied as exc:
        # A revoked token: the screen stops showing data at its next resync.
        return wall_layout.resync_denied(lang, str(exc), clock.utcnow())
    scale = round(max(min(scale, 8.0), 0.5), 2)
    # Every wall of a region resyncs after the same burst of deltas: they share one computation.
    # The regions' fingerprint is part of the key: a region re-import (new names, shapes) shows
    # at the next resync, with no restart and without waiting for the cached result to expire.
    key = (wall_query.database_key(), region_code, lang, scale, wall_query.regions_key())
    result = _shared_resync(key, lambda: _resync(region_code, lang, scale))
    # A shared result can be two seconds old: its as_of says when it was read (the browser
    # replays deltas published since), but the clock the countdowns use must be this moment's.
    sla_data = {**result["sla_data"], "server_now": wall_layout.epoch_ms(clock.utcnow())}
    return {**result, "sla_data": sla_data}


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


def _resync(region_code: str, lang: str, scale: float) -> dict:
    result = wall_layout.resync(wall_query.read(region_code, lang), scale)
    # Every wall that asks while this result is cached gets the same one: turn the figures and
    # components into plain JSON data once here rather than once per wall (Plotly deep-copies
    # a figure to serialise it). Measured: 30 walls polling every second cost the server about
    # 5 ms per poll this way, 8 ms without (bench.push, back-to-back runs).
    return json.loads(to_json_plotly(result))


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
        },
        inputs={"counter": Input(ids.WALL_REFRESH, "data")},
        state={"state": State(ids.WALL_STATE, "data"), "scale": State(ids.WALL_VIEWPORT, "data")},
        prevent_initial_call=True,
    )(refresh)
