"""The drill-down page: one region, one period, value filters, all held in the URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dash_ag_grid as dag
from dash import dcc, html

from dashboard.domain.vocab import HouseholdType, LivelihoodGroup, RegionLevel, VisitItemStatus, VisitListKind
from dashboard.ui import ids
from dashboard.ui.chrome import Refusal, Viewer
from dashboard.ui.dimensions import DIMENSIONS
from dashboard.ui.figures import (
    ageing_figure,
    children_figure,
    console_map_figure,
    dimension_figure,
    map_title,
    satisfaction_figure,
    timeliness_figure,
    volume_figure,
)
from dashboard.ui.i18n import label, t
from dashboard.ui.outcomes import outcome_text
from dashboard.ui.population import source_note
from layouts.console import kpi_cards, page, refused

if TYPE_CHECKING:
    from dashboard.queries.drill import Crumb, DrillFilters, DrillView, GridPage

GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"], "locale": "zh-CN"}


def render(view: DrillView | Refusal, viewer: Viewer, lang: str) -> html.Div:
    """The page for the URL's filters, or why it cannot be shown (the pages router calls this on every URL change)."""
    if isinstance(view, Refusal):
        return refused(viewer, lang, view)
    other = view.filters.to_query(lang="zh" if lang == "en" else "en")
    return page(viewer, lang, "drill", "/drill" + other, content(view))


def content(view: DrillView) -> list:
    """Everything below the header for the view's filters."""
    filters, targets = view.filters, view.targets
    lang = filters.lang
    charts_top = []
    if view.child_length is not None:
        level = {9: RegionLevel.STREET, 12: RegionLevel.COMMUNITY, 15: RegionLevel.COMPOUND}[view.child_length]
        title = t("console.by_child", lang, level=label(level, lang))
        charts_top.append(_graph(ids.DRILL_CHILDREN, children_figure(view.children, title, lang), "console-wide"))
    shapes = view.load
    if shapes is not None and len(shapes.areas) and shapes.areas["boundary"].notna().any():
        figure = console_map_figure(shapes.areas, lang, shapes.outline, map_title(shapes.level, lang))
        hint = html.P(t("console.map_hint", lang), className="console-hint console-map-hint", id="drill-map-hint")
        charts_top.append(_graph(ids.DRILL_MAP, figure, "console-narrow", hint))

    dimension_charts = [
        _graph(
            ids.DRILL_BY.format(name),
            dimension_figure(
                counts,
                {code: label(DIMENSIONS[name](code), lang) for code in counts},
                getattr(filters, name),
                t(f"console.by_{name}", lang),
                lang,
            ),
            "console-quarter",
        )
        for name, counts in view.by.items()
    ]
    series = view.series
    return [
        _breadcrumb(view.crumbs, filters),
        _filter_bar(filters, lang),
        dcc.Location(id=ids.DRILL_URL, refresh="callback-nav"),
        kpi_cards(view.kpis, targets, lang),
        *_as_of_note(view, lang),
        html.Div(charts_top, className="console-row"),
        html.Div(
            [
                _graph(ids.DRILL_VOLUME, volume_figure(series, lang), "console-half"),
                _graph(ids.DRILL_TIMELINESS, timeliness_figure(series, targets, lang), "console-half"),
            ],
            className="console-row",
        ),
        html.P(t("console.cross_filter_hint", lang), className="console-hint"),
        html.Div(dimension_charts, className="console-row"),
        html.Div(
            [
                _graph(ids.DRILL_SATISFACTION, satisfaction_figure(series, targets, lang), "console-half"),
                _graph(ids.DRILL_AGEING, ageing_figure(view.ageing, lang), "console-half"),
            ],
            className="console-row",
        ),
        _population_panel(view.population, view.visits, lang),
        _appeals_panel(filters, lang, view.bulk_steps, view.assignees, view.grid_total),
    ]


def grid_response(grid: GridPage) -> dict:
    """One block of rows for ag-grid's infinite row model, each with a link to its appeal page."""
    suffix = "?lang=en" if grid.lang == "en" else ""
    for row in grid.rows:
        row["link"] = f"[{row['id']}](/appeal/{row['id']}{suffix})"
        row["row_id"] = str(row["id"])  # the grid's row identity (a selection is kept by it): a string
    return {"rowData": grid.rows, "rowCount": grid.total}


def _as_of_note(view: DrillView, lang: str) -> list:
    """A period that has not ended: say the moment its states (overdue) were read."""
    if view.as_of is None:
        return []
    note = t("console.as_of", lang, time=view.as_of.strftime("%H:%M"))
    return [html.P(note, className="console-hint", id="drill-as-of")]


def _graph(component_id: str, figure, width: str, note: html.P | None = None) -> html.Div:
    graph = dcc.Graph(id=component_id, figure=figure, config=GRAPH_CONFIG)
    return html.Div([graph, note] if note is not None else graph, className=f"console-card {width}")


def _breadcrumb(crumbs: list[Crumb], filters: DrillFilters) -> html.Nav:
    items = []
    for position, crumb in enumerate(crumbs):
        code, name = crumb.code, crumb.name
        if position:
            items.append(html.Span("›", className="console-crumb-sep"))
        if not crumb.in_scope:  # above the user's scope: shown for orientation, not a link
            items.append(html.Span(name, className="console-crumb-above", id=f"crumb-{code}"))
        elif position == len(crumbs) - 1:
            items.append(html.Span(name, className="console-crumb-current", id=f"crumb-{code}"))
        else:
            items.append(
                dcc.Link(
                    name, href="/drill" + filters.to_query(region=code), id=f"crumb-{code}", className="console-crumb"
                )
            )
    return html.Nav(items, className="console-breadcrumb", id="drill-breadcrumb")


def _filter_bar(filters: DrillFilters, lang: str) -> html.Div:
    dropdowns = [
        html.Div(
            [
                html.Label(t(f"console.filter_{name}", lang), htmlFor=ids.DRILL_FILTER.format(name)),
                dcc.Dropdown(
                    id=ids.DRILL_FILTER.format(name),
                    options=[{"label": label(member, lang), "value": member.value} for member in vocabulary],
                    value=list(getattr(filters, name)),
                    multi=True,
                    placeholder=t("console.all", lang),
                ),
            ],
            className="console-filter",
        )
        for name, vocabulary in DIMENSIONS.items()
    ]
    return html.Div(
        [
            html.Div(
                [
                    html.Label(t("console.period", lang), htmlFor=ids.DRILL_DATES),
                    dcc.DatePickerRange(
                        id=ids.DRILL_DATES,
                        start_date=filters.start.isoformat(),
                        end_date=filters.end.isoformat(),
                        display_format="YYYY-MM-DD",
                        first_day_of_week=1,
                        minimum_nights=0,
                    ),
                ],
                className="console-filter console-filter-dates",
            ),
            *dropdowns,
            html.Div(
                [
                    dcc.Checklist(
                        id=ids.DRILL_OVERDUE,
                        options=[{"label": t("console.only_overdue", lang), "value": "1"}],
                        value=["1"] if filters.overdue else [],
                    ),
                    html.Button(t("console.clear_filters", lang), id=ids.DRILL_CLEAR, n_clicks=0),
                ],
                className="console-filter console-filter-actions",
            ),
        ],
        className="console-filters console-card",
    )


def _population_panel(people: dict, visits: dict, lang: str) -> html.Div:
    def table(rows: list[tuple[str, int]]) -> html.Table:
        return html.Table(
            html.Tbody([html.Tr([html.Td(name), html.Td(f"{count:,}", className="num")]) for name, count in rows]),
            className="console-table",
        )

    households = [(label(h, lang), people["households"][h.value]) for h in HouseholdType]
    groups = [(label(g, lang), people["groups"][g.value]) for g in LivelihoodGroup]
    visit_rows = html.Table(
        [
            html.Thead(html.Tr([html.Th("")] + [html.Th(label(s, lang)) for s in VisitItemStatus])),
            html.Tbody(
                [
                    html.Tr(
                        [html.Td(label(kind, lang))]
                        + [html.Td(f"{visits[kind.value][s.value]:,}", className="num") for s in VisitItemStatus]
                    )
                    for kind in VisitListKind
                ]
            ),
        ],
        className="console-table",
    )
    return html.Div(
        [
            html.Div(
                [
                    html.H3(t("wall.households", lang)),
                    table([(t("wall.residents_total", lang), people["residents"]), *households]),
                    html.P(source_note(people, lang), className="console-hint", id="drill-population-source"),
                    html.H3(t("wall.businesses", lang)),
                    table([(t("wall.businesses", lang), people["businesses"])]),
                ],
                className="console-card console-third",
            ),
            html.Div([html.H3(t("wall.livelihood", lang)), table(groups)], className="console-card console-third"),
            html.Div([html.H3(t("wall.visits", lang)), visit_rows], className="console-card console-third"),
        ],
        className="console-row",
        id="drill-population",
    )


def _appeals_panel(
    filters: DrillFilters,
    lang: str,
    bulk_steps: tuple[str, ...] = (),
    assignees: tuple[tuple[str, str], ...] = (),
    grid_total: int = 0,
) -> html.Div:
    query = filters.to_query()
    columns = [
        {
            "field": "link",
            "colId": "id",
            "headerName": "ID",
            "cellRenderer": "markdown",
            "cellRendererParams": {"linkTarget": "_self"},
            "width": 110,
        },
        {
            # the shared time-left rule (ui.timeleft): its words, red overdue and amber within two hours;
            # sorted ascending by default: most urgent first, closed appeals last (queries.drill)
            "field": "time_left",
            "colId": "time_left",
            "headerName": t("console.col_time_left", lang),
            "width": 200,
            "sort": "asc",
            "sortingOrder": ["asc", "desc"],
            "cellClassRules": {
                "console-urgency-over": "params.data && params.data.urgency === 'over'",
                "console-urgency-soon": "params.data && params.data.urgency === 'soon'",
            },
        },
        {"field": "priority", "headerName": t("console.filter_priority", lang), "width": 110},
        {"field": "community", "headerName": t("console.col_community", lang), "width": 150},
        {"field": "place", "headerName": t("console.col_place", lang), "width": 150},
        {"field": "category", "headerName": t("console.filter_category", lang), "width": 120},
        {"field": "status", "headerName": t("console.filter_status", lang), "width": 115},
        {"field": "channel", "headerName": t("console.filter_channel", lang), "width": 120},
        {"field": "reported_at", "headerName": t("console.col_reported", lang), "width": 150},
        {"field": "deadline_at", "headerName": t("console.col_deadline", lang), "width": 150},
        {"field": "text", "headerName": t("console.col_text", lang), "flex": 1, "sortable": False, "minWidth": 240},
        {"field": "version", "hide": True},  # sent back with a bulk step: the version the row showed
    ]
    # Rows are chosen with checkboxes only where there is something to do with them (the bulk bar).
    selection = (
        {
            "rowSelection": {
                "mode": "multiRow",
                "checkboxes": True,
                "headerCheckbox": False,
                "enableClickSelection": False,
            }
        }
        if bulk_steps
        else {}
    )
    return html.Div(
        [
            html.Div(
                [
                    html.H3(t("console.appeals", lang)),
                    html.Span(
                        t("console.grid_total", lang, count=f"{grid_total:,}"),
                        id=ids.DRILL_GRID_TOTAL,
                        className="console-grid-total",
                    ),
                    dcc.Input(
                        id=ids.DRILL_GRID_TEXT,
                        type="search",
                        placeholder=t("console.search_text", lang),
                        debounce=True,
                        value=filters.text,
                        className="console-search",
                    ),
                    html.A(t("console.export_csv", lang), href=f"/drill/export.csv{query}", id="drill-export-csv"),
                    html.A(t("console.export_xlsx", lang), href=f"/drill/export.xlsx{query}", id="drill-export-xlsx"),
                ],
                className="console-grid-bar",
            ),
            bulk_bar(bulk_steps, assignees, lang),
            dag.AgGrid(
                id=ids.DRILL_GRID,
                columnDefs=columns,
                defaultColDef={"sortable": True, "resizable": True},
                rowModelType="infinite",
                dashGridOptions={
                    "rowBuffer": 0,
                    "cacheBlockSize": 100,
                    "maxBlocksInCache": 20,
                    "rowHeight": 34,
                    **selection,
                },
                getRowId="params.data.row_id",
                rowClassRules={
                    "console-row-overdue": "params.data && params.data.urgency === 'over'",
                    "console-row-soon": "params.data && params.data.urgency === 'soon'",
                },
                style={"height": "520px"},
                className="ag-theme-alpine",
            ),
        ],
        className="console-card console-grid",
    )


def bulk_bar(bulk_steps: tuple[str, ...], assignees: tuple[tuple[str, str], ...], lang: str) -> html.Div | None:
    """The bar above the grid that dispatches or urges the selected rows (only the steps the viewer may take)."""
    if not bulk_steps:
        return None
    # Both steps' fields are always there (the callback reads them); a step the viewer may not take is hidden.
    shown = {code: ({} if code in bulk_steps else {"display": "none"}) for code in ("dispatch", "urge")}
    parts: list = [
        html.Span(bulk_count(0, lang), id=ids.DRILL_BULK_COUNT, className="drill-bulk-count"),
        html.Div(
            [
                dcc.Dropdown(
                    id=ids.DRILL_BULK_ASSIGNEE,
                    options=[{"label": words, "value": value} for value, words in assignees],
                    placeholder=t("actions.assignee_placeholder", lang),
                ),
                html.Button(t("actions.bulk_dispatch", lang), id=ids.DRILL_BULK_DISPATCH, n_clicks=0),
            ],
            className="drill-bulk-step",
            style=shown["dispatch"],
        ),
        html.Div(
            [
                dcc.Input(id=ids.DRILL_BULK_NOTE, placeholder=t("actions.bulk_note_placeholder", lang), maxLength=500),
                html.Button(t("actions.bulk_urge", lang), id=ids.DRILL_BULK_URGE, n_clicks=0),
            ],
            className="drill-bulk-step",
            style=shown["urge"],
        ),
    ]
    parts += [
        html.Div(id=ids.DRILL_BULK_RESULT, className="drill-bulk-result", role="status"),
        dcc.Store(id=ids.DRILL_BULK_DONE),
    ]
    return html.Div(parts, id=ids.DRILL_BULK, className="drill-bulk", title=t("actions.bulk_title", lang))


def bulk_result(outcomes: list[tuple[int, bool, str, dict]], lang: str) -> list:
    """What a bulk step did: how many succeeded, then each appeal it did not apply to and why.

    outcomes: (appeal id, ok, message key, values) per selected appeal (services.actions.ActionOutcome).
    """
    failed = [(appeal_id, key, values) for appeal_id, ok, key, values in outcomes if not ok]
    done = len(outcomes) - len(failed)
    summary = html.P(
        t("actions.bulk_result", lang, ok=done, failed=len(failed)),
        className="console-bad" if failed else "console-good",
    )
    if not failed:
        return [summary]
    return [
        summary,
        html.Ul(
            [
                html.Li(outcome_text(key, values, lang), **{"data-appeal": str(appeal_id)})
                for appeal_id, key, values in failed
            ]
        ),
    ]


def bulk_count(count: int, lang: str) -> str:
    """How many rows the grid has selected."""
    return t("actions.bulk_selected", lang, count=count)


def bulk_nothing_selected(lang: str) -> list:
    """The bulk bar's answer to a step with no rows chosen."""
    return [html.P(t("actions.bulk_none_selected", lang), className="console-bad")]
