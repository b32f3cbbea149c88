"""Drill-down callbacks: clicks and filters rewrite the URL; the grid pages rows from the server."""

from __future__ import annotations

import datetime as dt

from dash import Input, Output, State, ctx
from dash.exceptions import PreventUpdate
from flask import current_app

from dashboard.queries import drill as drilldata
from dashboard.queries.drill import DIMENSIONS, DrillFilters, FilterError
from dashboard.queries.regions import default_region_code
from dashboard.queries.wall import LocalDay
from dashboard.store.database import db
from dashboard.ui import ids
from dashboard.ui.i18n import normalise_language
from dashboard.web.auth import Permission, callback, current_principal


def current_filters(search: str | None) -> DrillFilters:
    """The filters of a URL search string, for the current principal (PreventUpdate when invalid or out of scope)."""
    principal = current_principal()
    query = drilldata.parse_search(search)
    lang = normalise_language(query.get("lang"))
    now = dt.datetime.now(dt.UTC)
    calendar = current_app.extensions["work_calendar"]
    with db.session() as session:
        default_region = principal.region_code or default_region_code(session)
    try:
        filters = DrillFilters.from_query(query, default_region, LocalDay.of(now, calendar).day, lang)
    except FilterError:
        raise PreventUpdate from None
    if not principal.covers(filters.region):
        raise PreventUpdate
    return filters


def navigate(
    children_click, map_click, category_click, priority_click, channel_click, status_click,
    dates_start, dates_end, category, priority, channel, status, overdue, clear, text, search,
):  # fmt: skip
    """A click or a filter change → the URL of the new view (the page re-renders from the URL)."""
    filters = current_filters(search)
    trigger = ctx.triggered_id
    clicks = {
        ids.DRILL_CHILDREN: children_click,
        ids.DRILL_MAP: map_click,
        ids.DRILL_BY.format("category"): category_click,
        ids.DRILL_BY.format("priority"): priority_click,
        ids.DRILL_BY.format("channel"): channel_click,
        ids.DRILL_BY.format("status"): status_click,
    }
    if trigger in (ids.DRILL_CHILDREN, ids.DRILL_MAP):
        code = _clicked(clicks[trigger])
        if not code or not code.startswith(filters.region) or code == filters.region:
            raise PreventUpdate
        return filters.to_query(region=code)
    for name in DIMENSIONS:
        if trigger == ids.DRILL_BY.format(name):
            value = _clicked(clicks[trigger])
            if value not in {m.value for m in DIMENSIONS[name]}:
                raise PreventUpdate
            return filters.toggled(name, value).to_query()
    if trigger == ids.DRILL_CLEAR:
        return DrillFilters(region=filters.region, start=filters.start, end=filters.end, lang=filters.lang).to_query()
    if trigger == ids.DRILL_DATES:
        try:
            start = dt.date.fromisoformat(dates_start[:10])
            end = dt.date.fromisoformat(dates_end[:10])
        except (TypeError, ValueError):
            raise PreventUpdate from None
        if start > end or (end - start).days >= drilldata.MAX_PERIOD_DAYS:
            raise PreventUpdate
        return filters.to_query(start=start, end=end)
    chosen = {"category": category, "priority": priority, "channel": channel, "status": status}
    for name in DIMENSIONS:
        if trigger == ids.DRILL_FILTER.format(name):
            allowed = {m.value for m in DIMENSIONS[name]}
            return filters.to_query(**{name: tuple(sorted(v for v in chosen[name] or [] if v in allowed))})
    if trigger == ids.DRILL_GRID_TEXT:
        return filters.to_query(text=(text or "").strip()[: drilldata.MAX_TEXT_LENGTH])
    if trigger == ids.DRILL_OVERDUE:
        return filters.to_query(overdue=bool(overdue))
    raise PreventUpdate


def _clicked(click_data: dict | None) -> str | None:
    if not click_data or not click_data.get("points"):
        return None
    value = click_data["points"][0].get("customdata")
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value is not None else None


def grid_rows(request: dict | None, search: str | None):
    """One block of grid rows for ag-grid's infinite row model (sorting on the server)."""
    if not request:
        raise PreventUpdate
    filters = current_filters(search)
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        rows, total = drilldata.grid_page(
            session,
            filters,
            now,
            current_app.extensions["work_calendar"],
            request.get("startRow", 0),
            request.get("endRow", 100),
            request.get("sortModel"),
        )
    suffix = "?lang=en" if filters.lang == "en" else ""
    for row in rows:
        row["link"] = f"[{row['id']}](/appeal/{row['id']}{suffix})"
    return {"rowData": rows, "rowCount": total}


def register(app) -> None:
    """Attach the drill-down callbacks (each declares the permission it needs)."""
    callback(
        app,
        Permission.CONSOLE,
        Output(ids.DRILL_URL, "search"),
        Input(ids.DRILL_CHILDREN, "clickData"),
        Input(ids.DRILL_MAP, "clickData"),
        Input(ids.DRILL_BY.format("category"), "clickData"),
        Input(ids.DRILL_BY.format("priority"), "clickData"),
        Input(ids.DRILL_BY.format("channel"), "clickData"),
        Input(ids.DRILL_BY.format("status"), "clickData"),
        Input(ids.DRILL_DATES, "start_date"),
        Input(ids.DRILL_DATES, "end_date"),
        Input(ids.DRILL_FILTER.format("category"), "value"),
        Input(ids.DRILL_FILTER.format("priority"), "value"),
        Input(ids.DRILL_FILTER.format("channel"), "value"),
        Input(ids.DRILL_FILTER.format("status"), "value"),
        Input(ids.DRILL_OVERDUE, "value"),
        Input(ids.DRILL_CLEAR, "n_clicks"),
        Input(ids.DRILL_GRID_TEXT, "value"),
        State(ids.DRILL_URL, "search"),
        prevent_initial_call=True,
    )(navigate)
    callback(
        app,
        Permission.CONSOLE,
        Output(ids.DRILL_GRID, "getRowsResponse"),
        Input(ids.DRILL_GRID, "getRowsRequest"),
        State(ids.DRILL_URL, "search"),
        prevent_initial_call=True,
    )(grid_rows)
