"""The drill-down page: one region, one period, value filters, all held in the URL."""

from __future__ import annotations

import datetime as dt

import dash_ag_grid as dag
from dash import dcc, html
from flask import current_app

from dashboard.domain.vocab import HouseholdType, LivelihoodGroup, RegionLevel, VisitItemStatus, VisitListKind
from dashboard.queries import drill as drilldata
from dashboard.queries.drill import DIMENSIONS, DrillFilters, FilterError
from dashboard.queries.regions import default_region_code
from dashboard.queries.wall import LocalDay, community_load, population, visit_lists
from dashboard.store.database import db
from dashboard.ui import ids
from dashboard.ui.figures import (
    ageing_figure,
    children_figure,
    console_map_figure,
    dimension_figure,
    satisfaction_figure,
    timeliness_figure,
    volume_figure,
)
from dashboard.ui.i18n import label, normalise_language, t
from dashboard.web.auth import current_principal
from layouts.console import denied, kpi_cards, page

GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"], "locale": "zh-CN"}


def layout(lang: str | None = None, **query) -> html.Div:
    """The page for the URL's filters (the pages router calls this again whenever the URL changes)."""
    lang = normalise_language(lang)
    principal = current_principal()
    now = dt.datetime.now(dt.UTC)
    calendar = current_app.extensions["work_calendar"]
    with db.session() as session:
        default_region = principal.region_code or default_region_code(session)
        if default_region is None:
            return denied(principal, lang, t("home.no_regions", lang))
        try:
            filters = DrillFilters.from_query(query, default_region, LocalDay.of(now, calendar).day, lang)
        except FilterError as exc:
            return denied(principal, lang, t("console.bad_filter", lang, error=str(exc)))
        if not principal.covers(filters.region):
            return denied(principal, lang, t("console.out_of_scope", lang, region=filters.region))
        session.close()  # its connection goes back to the pool: the page's reads each take their own
        body = content(session, filters, now, calendar, current_app.extensions["kpi_targets"])
    other = filters.to_query(lang="zh" if lang == "en" else "en")
    return page(principal, lang, "drill", "/drill" + other, body)


def content(session, filters: DrillFilters, now: dt.datetime, calendar, targets: dict) -> list:
    """Everything below the header for these filters (what bench/drill times)."""
    lang = filters.lang
    data = drilldata.read_in_parallel(
        session,
        {
            "period": lambda own: _period(own, filters, now, calendar),
            "by": lambda own: drilldata.dimension_counts(own, filters, now, calendar),
            "children": lambda own: drilldata.children_breakdown(own, filters, now, calendar),
            "rest": lambda own: _region_facts(own, filters, now),
        },
    )
    kpis, series = data["period"]
    children, by = data["children"], data["by"]
    crumbs, ageing, people, visits, load = data["rest"]
    child_length = drilldata.child_level_length(filters.region)

    charts_top = []
    if child_length is not None:
        level = {9: RegionLevel.STREET, 12: RegionLevel.COMMUNITY, 15: RegionLevel.COMPOUND}[child_length]
        title = t("console.by_child", lang, level=label(level, lang))
        charts_top.append(_graph(ids.DRILL_CHILDREN, children_figure(children, title, lang), "console-wide"))
    if load is not None and len(load) and load["boundary"].notna().any():
        charts_top.append(_graph(ids.DRILL_MAP, console_map_figure(load, lang), "console-narrow"))

    dimension_charts = [
        _graph(
            ids.DRILL_BY.format(name),
            dimension_figure(
                counts,
                {code: label(DIMENSIONS[name](code), lang) for code in counts},
                getattr(filters, name),
                t(f"console.by_{name}", lang),
            ),
            "console-quarter",
        )
        for name, counts in by.items()
    ]
    return [
        _breadcrumb(crumbs, filters),
        _filter_bar(filters, lang),
        dcc.Location(id=ids.DRILL_URL, refresh="callback-nav"),
        kpi_cards(kpis, targets, lang),
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
                _graph(ids.DRILL_AGEING, ageing_figure(ageing, lang), "console-half"),
            ],
            className="console-row",
        ),
        _population_panel(people, visits, lang),
        _appeals_panel(filters, lang),
    ]


def _period(session, filters: DrillFilters, now: dt.datetime, calendar) -> tuple[dict, object]:
    """The period's KPIs and daily series: from the per-day counters where they hold the filters."""
    if drilldata.from_counters(filters):  # the common views
        return (
            drilldata.counter_kpis(session, filters, now, calendar),
            drilldata.counter_series(session, filters, calendar),
        )
    # value filters the counters do not hold: read the appeals that count
    frame = drilldata.appeals_frame(session, filters, now, calendar)
    return drilldata.period_kpis(frame, filters, now, calendar), drilldata.daily_series(frame, filters, now, calendar)


def _region_facts(session, filters: DrillFilters, now: dt.datetime) -> tuple:
    """The page's small reads: breadcrumb, overdue ageing, population, visit lists, community load."""
    return (
        drilldata.breadcrumb(session, filters.region, filters.lang),
        drilldata.overdue_ageing(session, filters, now),
        population(session, filters.region),
        visit_lists(session, filters.region),
        community_load(session, filters.region, now) if len(filters.region) <= 12 else None,
    )


def _graph(component_id: str, figure, width: str) -> html.Div:
    return html.Div(dcc.Graph(id=component_id, figure=figure, config=GRAPH_CONFIG), className=f"console-card {width}")


def _breadcrumb(crumbs: list[tuple[str, str]], filters: DrillFilters) -> html.Nav:
    principal = current_principal()
    items = []
    for position, (code, name) in enumerate(crumbs):
        if position:
            items.append(html.Span("›", className="console-crumb-sep"))
        if not principal.covers(code):  # above the user's scope: shown for orientation, not a link
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


def _appeals_panel(filters: DrillFilters, lang: str) -> html.Div:
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
        {"field": "reported_at", "headerName": t("console.col_reported", lang), "width": 165},
        {"field": "place", "headerName": t("console.col_place", lang), "width": 150},
        {"field": "category", "headerName": t("console.filter_category", lang), "width": 120},
        {"field": "priority", "headerName": t("console.filter_priority", lang), "width": 90},
        {"field": "channel", "headerName": t("console.filter_channel", lang), "width": 130},
        {"field": "status", "headerName": t("console.filter_status", lang), "width": 100},
        {"field": "deadline_at", "headerName": t("console.col_deadline", lang), "width": 165},
        {"field": "text", "headerName": t("console.col_text", lang), "flex": 1, "sortable": False, "minWidth": 240},
    ]
    return html.Div(
        [
            html.Div(
                [
                    html.H3(t("console.appeals", lang)),
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
                },
                getRowId="String(params.data.id)",
                rowClassRules={"console-row-overdue": "params.data && params.data.overdue"},
                style={"height": "520px"},
                className="ag-theme-alpine",
            ),
        ],
        className="console-card console-grid",
    )
