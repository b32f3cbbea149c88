"""The drill-down page: its composer, and its callbacks (clicks and filters rewrite the URL; the
grid pages rows from the server; the bulk bar dispatches or urges the grid's selected rows through
services.actions.act_many, each row with the version it showed)."""

from __future__ import annotations

import datetime as dt

from dash import ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from callbacks.console import current_viewer
from dashboard.domain.regions import covers
from dashboard.domain.roles import Permission
from dashboard.domain.vocab import TransitionAction
from dashboard.queries import drill as drill_query
from dashboard.queries.drill import DIMENSIONS, DrillFilters
from dashboard.services import actions
from dashboard.ui import ids
from dashboard.web import callback_inputs as valid
from dashboard.web.auth import callback
from layouts import drill as drill_layout

# The charts a click on drills into a region one level down, and those it cross-filters by a value.
REGION_CHARTS = {"children": ids.DRILL_CHILDREN, "map": ids.DRILL_MAP}
DIMENSION_CHARTS = {f"{name}_click": ids.DRILL_BY.format(name) for name in DIMENSIONS}
DROPDOWNS = {name: ids.DRILL_FILTER.format(name) for name in DIMENSIONS}
MAX_DATE_LENGTH = 32  # the date picker sends "YYYY-MM-DD" (or with a time)
MAX_CLICK_LENGTH = 64  # a clicked point's region code or vocabulary value
MAX_SORT_COLUMNS = 20
MAX_BULK_ROWS = 500  # rows one bulk step may take (each in its own transaction)
MAX_VERSION = 2**31 - 1


def page(lang: str | None = None, **query):
    """/drill: the page for the URL's filters (the pages router calls this again whenever the URL changes)."""
    lang = valid.language(lang)
    viewer = current_viewer()
    return drill_layout.render(drill_query.read(query, viewer, lang), viewer, lang)


def _filters(search: object) -> DrillFilters:
    """The filters of the URL for this viewer (PreventUpdate when invalid or out of scope)."""
    search = valid.text(search, "search", valid.MAX_SEARCH_LENGTH)
    filters = drill_query.search_filters(search, current_viewer(with_csrf=False))
    if filters is None:
        raise PreventUpdate
    return filters


def _checked_inputs(inputs: dict) -> dict:
    """navigate's inputs, each of the type its component sends (400 otherwise)."""
    checked = {name: _clicked(inputs[name], name) for name in (*REGION_CHARTS, *DIMENSION_CHARTS)}
    for name in REGION_CHARTS:
        checked[name] = valid.region_code(checked[name], name, optional=True)
    for name in ("start_date", "end_date"):
        checked[name] = valid.text(inputs[name], name, MAX_DATE_LENGTH)
    for name in (*DROPDOWNS, "overdue"):
        checked[name] = valid.strings(inputs[name], name)
    checked["clear"] = valid.clicks(inputs["clear"], "clear")
    checked["text"] = valid.text(inputs["text"], "text")
    return checked


def navigate(search: str | None, **inputs) -> dict:
    """A click or a filter change → the URL of the new view (the page re-renders from the URL).

    inputs: the registered inputs by name (see register): clicks on the charts, the period,
    the dropdowns, "only overdue", "clear" and the search box.
    """
    inputs = _checked_inputs(inputs)
    filters = _filters(search)
    trigger = ctx.triggered_id
    for name, chart in REGION_CHARTS.items():
        if trigger == chart:
            code = inputs[name]
            if not code or not covers(filters.region, code) or code == filters.region:
                raise PreventUpdate
            return {"search": filters.to_query(region=code)}
    for name in DIMENSIONS:
        if trigger == DIMENSION_CHARTS[f"{name}_click"]:
            value = inputs[f"{name}_click"]
            if value not in {m.value for m in DIMENSIONS[name]}:
                raise PreventUpdate
            return {"search": filters.toggled(name, value).to_query()}
    if trigger == ids.DRILL_CLEAR:
        cleared = DrillFilters(region=filters.region, start=filters.start, end=filters.end, lang=filters.lang)
        return {"search": cleared.to_query()}
    if trigger == ids.DRILL_DATES:
        try:
            start = dt.date.fromisoformat((inputs["start_date"] or "")[:10])
            end = dt.date.fromisoformat((inputs["end_date"] or "")[:10])
        except ValueError:
            raise PreventUpdate from None
        if start > end or (end - start).days >= drill_query.MAX_PERIOD_DAYS:
            raise PreventUpdate
        return {"search": filters.to_query(start=start, end=end)}
    for name in DIMENSIONS:
        if trigger == DROPDOWNS[name]:
            allowed = {m.value for m in DIMENSIONS[name]}
            chosen = tuple(sorted({v for v in inputs[name] if v in allowed}))
            return {"search": filters.to_query(**{name: chosen})}
    if trigger == ids.DRILL_GRID_TEXT:
        return {"search": filters.to_query(text=(inputs["text"] or "").strip()[: drill_query.MAX_TEXT_LENGTH])}
    if trigger == ids.DRILL_OVERDUE:
        return {"search": filters.to_query(overdue=bool(inputs["overdue"]))}
    raise PreventUpdate


def _clicked(click_data: object, field: str) -> str | None:
    """The value a click on a chart carries (its point's customdata), or None for no click."""
    click_data = valid.mapping(click_data, field)
    points = (click_data or {}).get("points")
    if not points:
        return None
    if not isinstance(points, list) or not isinstance(points[0], dict):
        valid.refuse(f"{field}.points: expected a list of points")
    value = points[0].get("customdata")
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        valid.refuse(f"{field}: a point's customdata must be a string or a number")
    return valid.text(str(value), field, MAX_CLICK_LENGTH)


def _grid_request(request: dict) -> dict:
    """ag-grid's getRowsRequest, checked: the rows asked for, and the sort (400 for anything else)."""
    start = valid.integer(request.get("startRow"), "startRow", default=0, high=valid.MAX_ROW)
    end = valid.integer(request.get("endRow"), "endRow", default=start + 100, high=valid.MAX_ROW)
    sort_model = request.get("sortModel")
    if sort_model is not None and (not isinstance(sort_model, list) or len(sort_model) > MAX_SORT_COLUMNS):
        valid.refuse(f"sortModel: expected a list of at most {MAX_SORT_COLUMNS} sorts")
    for sort in sort_model or []:
        if not isinstance(sort, dict):
            valid.refuse("sortModel: each sort must be an object with colId and sort")
        valid.text(sort.get("colId"), "sortModel.colId", 100)
        if sort.get("sort") not in (None, "asc", "desc"):
            valid.refuse('sortModel.sort: "asc" or "desc"')
    valid.mapping(request.get("filterModel"), "filterModel")  # the grid filters through the URL, not this
    return {"startRow": start, "endRow": end, "sortModel": sort_model}


def grid_rows(request: dict | None, search: str | None) -> dict:
    """One block of grid rows for ag-grid's infinite row model (sorting on the server)."""
    request = valid.mapping(request, "getRowsRequest")
    if not request:
        raise PreventUpdate
    request = _grid_request(request)
    search = valid.text(search, "search", valid.MAX_SEARCH_LENGTH)
    grid = drill_query.grid(search, current_viewer(with_csrf=False), request)
    if grid is None:
        raise PreventUpdate
    return {"rows": drill_layout.grid_response(grid)}


def bulk(
    selected: list | None,
    dispatch: int | None,
    urge: int | None,
    assignee: str | None,
    note: str | None,
    search: str | None,
) -> dict:
    """The bulk bar: the selection's count, or a dispatch or urge of the selected rows (act_many)."""
    rows = _selected(selected)
    dispatch = valid.clicks(dispatch, "dispatch")
    urge = valid.clicks(urge, "urge")
    assignee = valid.text(assignee, "assignee", 80)
    note = valid.text(note, "note")
    filters = _filters(search)
    lang = filters.lang
    count = drill_layout.bulk_count(len(rows), lang)
    trigger = ctx.triggered_id
    if trigger not in (ids.DRILL_BULK_DISPATCH, ids.DRILL_BULK_URGE):
        return {"count": count, "result": no_update, "done": no_update}
    if not rows:
        return {"count": count, "result": drill_layout.bulk_nothing_selected(lang), "done": no_update}
    if trigger == ids.DRILL_BULK_DISPATCH:
        kind, _, code = (assignee or "").partition(":")
        if assignee and kind not in ("department", "team"):
            valid.refuse("assignee: expected department:<code> or team:<code>")
        request = actions.ActionRequest(
            TransitionAction.DISPATCH,
            None,
            department_code=code if kind == "department" else None,
            team_code=code if kind == "team" else None,
        )
    else:
        request = actions.ActionRequest(TransitionAction.URGE, None, note=note)
    outcomes = actions.act_many(current_viewer(with_csrf=False), rows, request)
    said = [(o.appeal_id, o.ok, o.message_key, o.values) for o in outcomes]
    return {"count": count, "result": drill_layout.bulk_result(said, lang), "done": len(outcomes)}


def _selected(selected: object) -> list[tuple[int, int]]:
    """The grid's selected rows as (appeal id, version shown), checked (400 for anything else)."""
    if selected is None:
        return []
    if not isinstance(selected, list) or len(selected) > MAX_BULK_ROWS:
        valid.refuse(f"selectedRows: expected a list of at most {MAX_BULK_ROWS} rows")
    rows = []
    for position, row in enumerate(selected):
        row = valid.mapping(row, f"selectedRows[{position}]") or {}
        appeal_id = valid.integer(row.get("id"), f"selectedRows[{position}].id", low=1, high=valid.MAX_ID)
        version = valid.integer(row.get("version"), f"selectedRows[{position}].version", low=1, high=MAX_VERSION)
        if appeal_id is None or version is None:
            valid.refuse(f"selectedRows[{position}]: needs id and version")
        rows.append((appeal_id, version))
    return list(dict.fromkeys(rows))


def register(app) -> None:
    """Attach the drill-down callbacks (each declares the permission it needs)."""
    callback(
        app,
        Permission.CONSOLE,
        output={"search": Output(ids.DRILL_URL, "search")},
        inputs={
            **{name: Input(chart, "clickData") for name, chart in REGION_CHARTS.items()},
            **{name: Input(chart, "clickData") for name, chart in DIMENSION_CHARTS.items()},
            "start_date": Input(ids.DRILL_DATES, "start_date"),
            "end_date": Input(ids.DRILL_DATES, "end_date"),
            **{name: Input(dropdown, "value") for name, dropdown in DROPDOWNS.items()},
            "overdue": Input(ids.DRILL_OVERDUE, "value"),
            "clear": Input(ids.DRILL_CLEAR, "n_clicks"),
            "text": Input(ids.DRILL_GRID_TEXT, "value"),
        },
        state={"search": State(ids.DRILL_URL, "search")},
        prevent_initial_call=True,
    )(navigate)
    callback(
        app,
        Permission.CONSOLE,
        output={"rows": Output(ids.DRILL_GRID, "getRowsResponse")},
        inputs={"request": Input(ids.DRILL_GRID, "getRowsRequest")},
        state={"search": State(ids.DRILL_URL, "search")},
        prevent_initial_call=True,
    )(grid_rows)
    callback(
        app,
        Permission.ACT,
        output={
            "count": Output(ids.DRILL_BULK_COUNT, "children"),
            "result": Output(ids.DRILL_BULK_RESULT, "children"),
            "done": Output(ids.DRILL_BULK_DONE, "data"),
        },
        inputs={
            "selected": Input(ids.DRILL_GRID, "selectedRows"),
            "dispatch": Input(ids.DRILL_BULK_DISPATCH, "n_clicks"),
            "urge": Input(ids.DRILL_BULK_URGE, "n_clicks"),
        },
        state={
            "assignee": State(ids.DRILL_BULK_ASSIGNEE, "value"),
            "note": State(ids.DRILL_BULK_NOTE, "value"),
            "search": State(ids.DRILL_URL, "search"),
        },
        prevent_initial_call=True,
    )(bulk)
    # In the browser (ui/assets/console.js): after a bulk step the grid reloads its rows and clears the selection.
    app.clientside_callback(
        ClientsideFunction("console", "reloadGrid"),
        Output(ids.DRILL_GRID, "deselectAll"),
        Input(ids.DRILL_BULK_DONE, "data"),
        State(ids.DRILL_GRID, "id"),
        prevent_initial_call=True,
    )
