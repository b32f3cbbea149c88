"""Early warning (issue 19): the console's /alerts page (its composer and callbacks) and the wall's 预警
panel snapshot.

The list's filters live in the URL (like the drill-down's): a filter change writes the URL and the
page is drawn again from it. A step (acknowledge with a note, close) goes through
services.alert_steps.take, which checks the role and the scope; the list is then redrawn.
The wall's panel takes its snapshot at load and at each resync (the wall's WALL_REFRESH counter),
beside the wall's own resync; pushed `alert` events do the rest in the browser (assets/wall_alerts.js).
"""

from __future__ import annotations

import datetime as dt

from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from callbacks.console import current_viewer
from dashboard.domain import clock
from dashboard.domain.roles import Permission
from dashboard.domain.vocab import Category
from dashboard.queries import alerts as alerts_query
from dashboard.queries import wall as wall_query
from dashboard.queries.cache import TTLCache
from dashboard.queries.drill import parse_search
from dashboard.services.alert_steps import may_handle, take
from dashboard.ui import ids
from dashboard.web import callback_inputs as valid
from dashboard.web.access import AccessDenied, resolve_wall_region, wall_token
from dashboard.web.auth import callback
from layouts import alerts as alerts_layout

MAX_ALERT_ID = 2**31 - 1
MAX_DATE_LENGTH = 32
FILTERS = ("kind", "status", "category")


def page(lang: str | None = None, **query):
    """/alerts: the viewer's region's alerts for the URL's filters (zh unless ?lang=en)."""
    lang = valid.language(lang)
    viewer = current_viewer()
    query = {name: valid.query_value(value, name) for name, value in query.items()}
    view = alerts_query.read(query, viewer, lang, may_act=may_handle(viewer))
    return alerts_layout.render(view, viewer, lang)


def _filters(search: object) -> alerts_query.AlertFilters:
    search = valid.text(search, "search", valid.MAX_SEARCH_LENGTH)
    query = parse_search(search)
    filters = alerts_query.scoped_filters(query, current_viewer(with_csrf=False), query.get("lang") or "zh")
    if not isinstance(filters, alerts_query.AlertFilters):
        raise PreventUpdate
    return filters


def navigate(search, kind, status, category, start_date, end_date, clear) -> dict:
    """A filter change → the URL of the new list (the page is drawn again from it)."""
    chosen = {name: valid.strings(value, name) for name, value in zip(FILTERS, (kind, status, category), strict=True)}
    start_date = valid.text(start_date, "start_date", MAX_DATE_LENGTH)
    end_date = valid.text(end_date, "end_date", MAX_DATE_LENGTH)
    valid.clicks(clear, "clear")
    filters = _filters(search)
    trigger = ctx.triggered_id
    if trigger == ids.ALERTS_CLEAR:
        return {"search": alerts_query.AlertFilters(region=filters.region, lang=filters.lang).to_query() or "?"}
    if trigger == ids.ALERTS_DATES:
        try:
            start = dt.date.fromisoformat(start_date[:10]) if start_date else None
            end = dt.date.fromisoformat(end_date[:10]) if end_date else None
        except ValueError:
            raise PreventUpdate from None
        if start and end and start > end:
            raise PreventUpdate
        return {"search": filters.to_query(start=start, end=end, page=1) or "?"}
    allowed = {
        "kind": set(alerts_query.KINDS),
        "status": set(alerts_query.STATUSES),
        "category": {c.value for c in Category},
    }
    for name in FILTERS:
        if trigger == ids.ALERTS_FILTER.format(name):
            values = tuple(sorted({v for v in chosen[name] or [] if v in allowed[name]}))
            return {"search": filters.to_query(**{name: values}, page=1) or "?"}
    raise PreventUpdate


def _step(value: object) -> tuple[int, str]:
    step = valid.mapping(value, "step") or {}
    alert_id = valid.integer(step.get("alert"), "alert", low=1, high=MAX_ALERT_ID)
    name = valid.text(step.get("step"), "step", 16)
    if alert_id is None or name not in alerts_layout.STEPS:
        valid.refuse("step: not a step of this page")
    return alert_id, name


def _notes(value: object) -> list:
    """The rows' notes: a list of short texts (None for a note never typed in)."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > valid.MAX_LIST_ITEMS:
        valid.refuse(f"notes: expected a list of at most {valid.MAX_LIST_ITEMS} texts")
    return [valid.text(item, "note", 500) for item in value]


def stepped(steps, notes, search) -> dict:
    """Acknowledge or close one alert (the row's note), then redraw the list with what it did."""
    notes = _notes(notes)
    clicked = ctx.triggered[0]["value"] if ctx.triggered else None
    if not isinstance(clicked, int) or isinstance(clicked, bool) or clicked <= 0:
        raise PreventUpdate  # a redrawn button (n_clicks 0), not a click
    alert_id, step = _step(ctx.triggered_id)
    note = ""
    # Each row's note with its id, as Dash grouped them (the values were checked above).
    for entry in ctx.args_grouping.get("notes") or []:
        if isinstance(entry.get("id"), dict) and entry["id"].get("alert") == alert_id:
            note = entry.get("value") or ""
    filters = _filters(search)
    viewer = current_viewer(with_csrf=False)
    outcome = take(viewer, alert_id, step, note, filters.lang)
    view = alerts_query.read(parse_search(search), viewer, filters.lang, may_act=may_handle(viewer))
    listing = alerts_layout.table(view) if isinstance(view, alerts_query.AlertsView) else no_update
    return {"list": listing, "feedback": alerts_layout.feedback(outcome.message, outcome.ok)}


# ---------------------------------------------------------------------------- the wall's panel

_snapshots = TTLCache(seconds=2)  # every wall of a region resyncs after the same burst: one read


def wall_snapshot(counter, state) -> dict:
    """The wall's open alerts (its region and below), at load and at each resync; the token is checked as the
    wall's resync checks it (a revoked one gets an empty panel)."""
    valid.number(counter, "counter", default=0)
    state = valid.mapping(state, "state")
    if not state:
        raise PreventUpdate
    requested = valid.region_code(state.get("region"), "state.region", optional=True)
    token = valid.token(state.get("token"), "state.token") or wall_token()
    try:
        region_code = resolve_wall_region(token, requested, default=False)
    except AccessDenied:
        return {"items": [], "as_of": clock.utcnow().timestamp() * 1000}
    key = (wall_query.database_key(), region_code)
    return _snapshots.get(key, lambda: alerts_query.wall_alerts(region_code))


def register(app) -> None:
    """Attach the /alerts page's callbacks and the wall panel's snapshot (each declares its permission)."""
    callback(
        app,
        Permission.CONSOLE,
        output={"search": Output(ids.ALERTS_URL, "search")},
        inputs={
            "kind": Input(ids.ALERTS_FILTER.format("kind"), "value"),
            "status": Input(ids.ALERTS_FILTER.format("status"), "value"),
            "category": Input(ids.ALERTS_FILTER.format("category"), "value"),
            "start_date": Input(ids.ALERTS_DATES, "start_date"),
            "end_date": Input(ids.ALERTS_DATES, "end_date"),
            "clear": Input(ids.ALERTS_CLEAR, "n_clicks"),
        },
        state={"search": State(ids.ALERTS_URL, "search")},
        prevent_initial_call=True,
    )(navigate)
    callback(
        app,
        Permission.ACT,  # and the console: services.alert_steps.take refuses a handler
        output={"list": Output(ids.ALERTS_LIST, "children"), "feedback": Output(ids.ALERTS_FEEDBACK, "children")},
        inputs={"steps": Input({"type": ids.ALERTS_STEP, "alert": ALL, "step": ALL}, "n_clicks")},
        state={
            "notes": State({"type": ids.ALERTS_NOTE, "alert": ALL}, "value"),
            "search": State(ids.ALERTS_URL, "search"),
        },
        prevent_initial_call=True,
    )(stepped)
    callback(
        app,
        Permission.WALL,  # the device token is checked by the callback itself
        output=Output(ids.WALL_ALERTS_DATA, "data"),
        inputs={"counter": Input(ids.WALL_REFRESH, "data")},
        state={"state": State(ids.WALL_STATE, "data")},
    )(wall_snapshot)
