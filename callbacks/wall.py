"""Wall callbacks. The browser does the per-second and per-delta work (clientside, in
assets/wall.js); the server is asked only for a coalesced resync of the aggregates."""

from __future__ import annotations

import datetime as dt

from dash import ClientsideFunction, Input, Output, State, html
from dash.exceptions import PreventUpdate
from flask import current_app

from dashboard import ids
from dashboard.access import AccessDenied, wall_region
from dashboard.cache import TTLCache
from dashboard.extensions import db
from dashboard.figures import empty_figure, map_figure, trend_figure
from dashboard.i18n import t
from dashboard.sockets import DELTA_EVENT
from layouts.wall import kpi_tiles, population_panel, snapshot, visits_panel


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
        return (
            [html.Div([t("wall.denied", lang), html.Br(), str(exc)], className="wall-denied")],
            [],
            [],
            blank,
            blank,
            {"items": []},
            [],
            "",
        )
    scale = round(max(min(float(scale or 1.0), 8.0), 0.5), 2)
    # Every wall of a region resyncs after the same burst of deltas: they share one computation.
    return _resyncs.get((db.engine.url, region_code, lang, scale), lambda: _resync(region_code, lang, scale))


_resyncs = TTLCache(seconds=2)


def _resync(region_code: str, lang: str, scale: float) -> tuple:
    now = dt.datetime.now(dt.UTC)
    data = snapshot(region_code, lang, now)
    local_now = now.astimezone(current_app.extensions["work_calendar"].timezone)
    return (
        kpi_tiles(data["kpis"], lang),
        population_panel(data["population"], lang),
        visits_panel(data["visits"], lang),
        map_figure(data["load"], lang, scale),
        trend_figure(data["volume"], lang, scale),
        {"items": data["sla"], "server_now": now.timestamp() * 1000},
        data["recent"],
        t("wall.data_as_of", lang, time=local_now.strftime("%H:%M:%S")),
    )


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
            State(ids.WALL_DIRTY, "data"),
            State(ids.WALL_SYNC, "data"),
            State(ids.WALL_REFRESH, "data"),
            State(ids.WALL_VIEWPORT, "data"),
        ],
    )
    _clientside(
        app,
        "applyDeltas",
        [
            Output(ids.WALL_TICKER_DATA, "data", allow_duplicate=True),
            Output(ids.WALL_SLA_DATA, "data", allow_duplicate=True),
            Output(ids.WALL_DIRTY, "data"),
        ],
        Input(ids.WALL_SOCKET, f"data-{DELTA_EVENT}"),
        [State(ids.WALL_TICKER_DATA, "data"), State(ids.WALL_SLA_DATA, "data"), State(ids.WALL_LABELS, "data")],
        prevent_initial_call=True,
    )
    _clientside(
        app,
        "renderTicker",
        Output(ids.WALL_TICKER, "children"),
        Input(ids.WALL_TICKER_DATA, "data"),
        [State(ids.WALL_LABELS, "data")],
    )
    _clientside(
        app,
        "renderSla",
        Output(ids.WALL_SLA, "children"),
        Input(ids.WALL_SLA_DATA, "data"),
        [State(ids.WALL_LABELS, "data")],
    )
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
