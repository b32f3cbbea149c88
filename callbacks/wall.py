"""Wall callbacks. The browser does the per-second and per-delta work itself (assets/wall.js:
pushed deltas go from the socket event straight to the DOM, with no callback); the server
is asked only for a coalesced resync of the aggregates."""

from __future__ import annotations

import datetime as dt
import json
import threading

from dash import ClientsideFunction, Input, Output, State, html
from dash.exceptions import PreventUpdate
from flask import current_app
from plotly.io.json import to_json_plotly

from dashboard.queries.cache import TTLCache
from dashboard.store.database import db
from dashboard.ui import ids
from dashboard.ui.figures import empty_figure, map_figure, trend_figure
from dashboard.ui.i18n import t
from dashboard.web.access import AccessDenied, wall_region
from layouts.wall import epoch_ms, kpi_tiles, population_panel, snapshot, snapshot_stores, visits_panel


def _clientside(app, function: str, outputs, inputs, states=(), **kwargs) -> None:
    app.clientside_callback(ClientsideFunction("wall", function), outputs, inputs, list(states), **kwargs)


def refresh(_counter: int, state: dict, scale: float):
    """Resync: recompute every aggregate and chart from the database (also after a reconnect)."""
    if not state:
        raise PreventUpdate
    lang = state["lang"]
    try:
        with db.session() as session:
            region_code = wall_region(session, state.get("token") or None, state["region"], None)
    except AccessDenied as exc:
        # A revoked token: the screen stops showing data at its next resync.
        blank = empty_figure()
        ticker_store, sla_store = snapshot_stores({"recent": [], "sla": []}, dt.datetime.now(dt.UTC))
        return (
            [html.Div([t("wall.denied", lang), html.Br(), str(exc)], className="wall-denied")],
            [],
            [],
            blank,
            blank,
            sla_store,
            ticker_store,
            "",
        )
    scale = round(max(min(float(scale or 1.0), 8.0), 0.5), 2)
    # Every wall of a region resyncs after the same burst of deltas: they share one computation.
    result = _shared_resync((db.engine.url, region_code, lang, scale), lambda: _resync(region_code, lang, scale))
    # A shared result can be two seconds old: its as_of says when it was read (the browser
    # replays deltas published since), but the clock the countdowns use must be this moment's.
    sla_store = {**result[5], "server_now": epoch_ms(dt.datetime.now(dt.UTC))}
    return (*result[:5], sla_store, *result[6:])


_resyncs = TTLCache(seconds=2)
_computing: dict[tuple, threading.Lock] = {}
_computing_guard = threading.Lock()


def _shared_resync(key: tuple, compute):
    """The cached resync for key; while one request computes it, the others wait for that result.

    Without this, every wall asking while the entry is being recomputed (100 walls resync about
    33 times a second) computed it again, and the server spent its time on copies.
    """
    with _computing_guard:
        lock = _computing.setdefault(key, threading.Lock())
    with lock:
        return _resyncs.get(key, compute)


def _resync(region_code: str, lang: str, scale: float) -> list:
    now = dt.datetime.now(dt.UTC)
    data = snapshot(region_code, lang, now)
    local_now = now.astimezone(current_app.extensions["work_calendar"].timezone)
    ticker_store, sla_store = snapshot_stores(data, now)
    result = (
        kpi_tiles(data["kpis"], lang, now),
        population_panel(data["population"], lang),
        visits_panel(data["visits"], lang),
        map_figure(data["load"], lang, scale),
        trend_figure(data["volume"], lang, scale),
        sla_store,
        ticker_store,
        t("wall.data_as_of", lang, time=local_now.strftime("%H:%M:%S")),
    )
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
    app.callback(
        Output(ids.WALL_KPIS, "children"),
        Output(ids.WALL_POPULATION, "children"),
        Output(ids.WALL_VISITS, "children"),
        Output(ids.WALL_MAP, "figure"),
        Output(ids.WALL_TREND, "figure"),
        Output(ids.WALL_SLA_DATA, "data"),
        Output(ids.WALL_TICKER_DATA, "data"),
        Output(ids.WALL_FRESHNESS, "children"),
        Input(ids.WALL_REFRESH, "data"),
        State(ids.WALL_STATE, "data"),
        State(ids.WALL_VIEWPORT, "data"),
        prevent_initial_call=True,
    )(refresh)
