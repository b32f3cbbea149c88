"""The LED wall (/wall): dark, readable from across the room, aggregates and masked text only."""

from __future__ import annotations

import datetime as dt

from dash import dcc, html
from dash_socketio import DashSocketIO
from flask import current_app

from dashboard import ids, walldata
from dashboard.extensions import db
from dashboard.figures import trend_figure
from dashboard.i18n import normalise_language, t
from dashboard.regions import default_region_code, level_of
from dashboard.vocab import HouseholdType, LivelihoodGroup


def _number(value: int, unit_key: str, lang: str) -> list:
    return [html.Span(f"{value:,}", className="wall-number"), html.Span(t(unit_key, lang), className="wall-unit")]


def _tile(label: str, value: int, unit_key: str, lang: str, tone: str = "") -> html.Div:
    return html.Div(
        [
            html.Div(label, className="wall-tile-label"),
            html.Div(_number(value, unit_key, lang), className="wall-tile-value"),
        ],
        className=f"wall-tile {tone}".strip(),
    )


def _panel(title: str, body, class_name: str = "") -> html.Section:
    return html.Section(
        [html.H2(title, className="wall-panel-title"), body], className=f"wall-panel {class_name}".strip()
    )


def _households(population: dict, lang: str) -> html.Div:
    total = max(population["residents"], 1)
    rows = []
    for household in HouseholdType:
        count = population["households"][household.value]
        rows.append(
            html.Div(
                [
                    html.Div(t(f"HouseholdType.{household.value}", lang), className="wall-bar-label"),
                    html.Div(
                        html.Div(
                            className=f"wall-bar-fill {household.value}", style={"width": f"{100 * count / total:.1f}%"}
                        ),
                        className="wall-bar-track",
                    ),
                    html.Div(f"{count:,}", className="wall-bar-value"),
                ],
                className="wall-bar-row",
            )
        )
    return html.Div(rows, className="wall-bars")


def _groups(population: dict, lang: str) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.Div(f"{population['groups'][group.value]:,}", className="wall-group-value"),
                    html.Div(t(f"LivelihoodGroup.{group.value}", lang), className="wall-group-label"),
                ],
                className="wall-group",
            )
            for group in LivelihoodGroup
        ],
        className="wall-groups",
    )


def _ticker(appeals: list[dict], lang: str) -> html.Ul:
    if not appeals:
        return html.Ul(
            html.Li(t("wall.no_data", lang), className="wall-ticker-empty"), id=ids.WALL_TICKER, className="wall-ticker"
        )
    timezone = current_app.extensions["work_calendar"].timezone
    items = []
    for appeal in appeals:
        local = dt.datetime.fromisoformat(appeal["time"]).astimezone(timezone)
        items.append(
            html.Li(
                [
                    html.Span(appeal["priority_label"], className=f"wall-priority {appeal['priority']}"),
                    html.Span(local.strftime("%H:%M"), className="wall-ticker-time"),
                    html.Span(appeal["category"], className="wall-ticker-category"),
                    html.Span(appeal["place"], className="wall-ticker-place"),
                    html.Span(appeal["channel"], className="wall-ticker-channel"),
                    html.Div(appeal["text"], className="wall-ticker-text"),
                ],
                className="wall-ticker-item",
            )
        )
    return html.Ul(items, id=ids.WALL_TICKER, className="wall-ticker")


def layout(region: str | None = None, lang: str | None = None, **_query) -> html.Div:
    """The wall for one region (default: the district), in Chinese unless ?lang=en."""
    lang = normalise_language(lang)
    calendar = current_app.extensions["work_calendar"]
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        region_code = region or default_region_code(session)
        if region_code is None:
            return html.Div(t("wall.no_data", lang), className="wall-root wall-empty")
        try:
            level_of(region_code)
        except ValueError:
            return html.Div(t("wall.no_data", lang), className="wall-root wall-empty")
        name = walldata.region_name(session, region_code, lang)
        population = walldata.population(session, region_code)
        counts = walldata.appeal_counts(session, region_code, now, calendar)
        recent = walldata.recent_appeals(session, region_code, lang)
        volume = walldata.daily_volume(session, region_code, now, calendar)
    local_now = now.astimezone(calendar.timezone)
    return html.Div(
        [
            DashSocketIO(id=ids.WALL_SOCKET, eventNames=["wall:delta"], options={"query": {"region": region_code}}),
            dcc.Interval(id=ids.WALL_CLOCK_TICK, interval=1000),
            dcc.Store(
                id=ids.WALL_LABELS,
                data={"connected": t("wall.connected", lang), "disconnected": t("wall.disconnected", lang)},
            ),
            html.Header(
                [
                    html.Div(className="wall-header-side"),
                    html.H1(t("wall.title", lang, region=name), className="wall-title"),
                    html.Div(
                        [
                            html.Div(
                                [
                                    html.Span(className="wall-dot"),
                                    html.Span(t("wall.disconnected", lang), id=ids.WALL_CONNECTION_TEXT),
                                ],
                                id=ids.WALL_CONNECTION,
                                className="wall-connection offline",
                            ),
                            html.Div(
                                [
                                    html.Span(t("wall.clock_label", lang), className="wall-clock-label"),
                                    html.Span(
                                        local_now.strftime("%Y-%m-%d %H:%M:%S"),
                                        id=ids.WALL_CLOCK,
                                        className="wall-clock",
                                    ),
                                ],
                                className="wall-clock-box",
                            ),
                            html.Div(
                                t("wall.data_as_of", lang, time=local_now.strftime("%H:%M:%S")),
                                id=ids.WALL_FRESHNESS,
                                className="wall-freshness",
                            ),
                        ],
                        className="wall-header-side right",
                    ),
                ],
                className="wall-header",
            ),
            html.Div(
                [
                    _tile(t("wall.residents_total", lang), population["residents"], "wall.unit_people", lang),
                    _tile(t("wall.businesses", lang), population["businesses"], "wall.unit_entities", lang),
                    _tile(t("wall.appeals_today", lang), counts["received_today"], "wall.unit_items", lang, "accent"),
                    _tile(t("wall.resolved_today", lang), counts["resolved_today"], "wall.unit_items", lang, "good"),
                    _tile(t("wall.open", lang), counts["open"], "wall.unit_items", lang),
                    _tile(
                        t("wall.overdue", lang),
                        counts["overdue_open"],
                        "wall.unit_items",
                        lang,
                        "bad" if counts["overdue_open"] else "",
                    ),
                ],
                className="wall-tiles",
            ),
            html.Main(
                [
                    html.Div(
                        [
                            _panel(t("wall.households", lang), _households(population, lang)),
                            _panel(t("wall.livelihood", lang), _groups(population, lang), "grow"),
                        ],
                        className="wall-column",
                    ),
                    html.Div(
                        [
                            _panel(
                                t("wall.trend_30d", lang),
                                dcc.Graph(
                                    id=ids.WALL_TREND,
                                    figure=trend_figure(volume, lang),
                                    config={"displayModeBar": False, "responsive": True, "staticPlot": True},
                                    className="wall-graph",
                                ),
                                "grow",
                            )
                        ],
                        className="wall-column wide",
                    ),
                    html.Div(
                        [_panel(t("wall.recent_appeals", lang), _ticker(recent, lang), "grow")], className="wall-column"
                    ),
                ],
                className="wall-main",
            ),
        ],
        id=ids.WALL_ROOT,
        className="wall-root",
        lang="zh-CN" if lang == "zh" else "en",
    )
