"""The LED wall (/wall): dark, readable from across the room, aggregates and masked text only.

The page is rendered once from a server snapshot; afterwards Socket.IO deltas update the
ticker, the deadline board and the "received today" counter in place, straight from the
socket event to the DOM (assets/wall.js), and a coalesced resync (at most every few seconds,
and after a reconnect) refreshes the aggregates and charts. See callbacks/wall.py.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from dash import dcc, html
from dash_socketio import DashSocketIO

from dashboard.domain.kpi import assess, format_kpi
from dashboard.domain.vocab import (
    AppealStatus,
    Category,
    HouseholdType,
    LivelihoodGroup,
    Priority,
    RegionLevel,
    VisitItemStatus,
    VisitListKind,
)
from dashboard.ui import ids
from dashboard.ui.figures import empty_figure, map_figure, map_title, overdue_rate, trend_figure
from dashboard.ui.i18n import label, t
from dashboard.ui.population import source_note
from dashboard.ui.timeleft import words_json
from layouts import wall_alerts

if TYPE_CHECKING:
    from dashboard.queries.wall import MapShapes, WallView

HEADLINE_TILES = (  # (key, label key): the headline block, readable from 10 m
    ("open", "wall.headline_open"),
    ("overdue", "wall.headline_overdue"),
    ("due_soon", "wall.headline_due_soon"),
    ("received", "wall.headline_received"),
    ("resolved", "wall.headline_resolved"),
)
KPI_TILES = (  # (key, label key, unit key): the day's other KPIs, each against its target
    ("on_time_rate", "kpi.on_time_rate", None),
    ("satisfaction_rate", "kpi.satisfaction_rate", None),
    ("avg_handling_wd", "kpi.avg_handling_wd", "wall.unit_wd"),
    ("response_median_min", "kpi.response_median_min", "wall.unit_min"),
    ("urged", "wall.urged_today", "wall.unit_times"),  # issue 16: 督办 steps today
)


def trend_words(value: int, yesterday: int, lang: str) -> tuple[str, str]:
    """A headline number against yesterday at this time of day: an arrow (a shape, not only a colour)
    and the difference in words; and its direction (up, down, same)."""
    delta = value - yesterday
    if delta > 0:
        return t("wall.headline_up", lang, delta=f"{delta:,}"), "up"
    if delta < 0:
        return t("wall.headline_down", lang, delta=f"{-delta:,}"), "down"
    return t("wall.headline_same", lang), "same"


def headline_tiles(headline: dict, lang: str, as_of: dt.datetime | None = None) -> list:
    """在办 / 超期 / 2小时内到期 / 今日受理 / 今日办结, each with its trend against yesterday at this time.

    Each number also carries its raw value and the snapshot's instant (as_of, in ms), so the
    browser can add the appeals pushed since that snapshot to "received today".
    """
    as_of_ms = "" if as_of is None else str(epoch_ms(as_of))
    tiles = []
    for key, label_key in HEADLINE_TILES:
        value, yesterday = headline[key]["value"], headline[key]["yesterday"]
        words, direction = trend_words(value, yesterday, lang)
        alarm = key in ("overdue", "due_soon") and value > 0
        tiles.append(
            html.Div(
                [
                    html.Div(t(label_key, lang), className="wall-tile-label"),
                    html.Div(
                        [
                            html.Span(
                                f"{value:,}",
                                className="wall-number",
                                **{"data-value": str(value), "data-as-of": as_of_ms},
                            ),
                            html.Span(t("wall.unit_items", lang), className="wall-unit"),
                        ],
                        className="wall-tile-value",
                    ),
                    html.Div(
                        words,
                        className="wall-trend",
                        **{"data-direction": direction, "data-yesterday": str(yesterday)},
                    ),
                ],
                className=f"wall-tile wall-head {key} {'alarm' if alarm else ''}".strip(),
                **{"data-kpi": key},
            )
        )
    return tiles


def kpi_tiles(kpis: dict, targets: dict, lang: str, as_of: dt.datetime | None = None) -> list:
    """Today's other KPIs, each against its target where it has one (a word of the tone besides its colour)."""
    tiles = []
    for key, label_key, unit_key in KPI_TILES:
        value = kpis.get(key)
        tone = assess(key, value, targets) or ""
        target = targets.get(key)
        target_text = ""
        if target is not None:
            sign = "≥" if target["direction"] == "min" else "≤"
            target_text = f"{t('wall.target', lang)} {sign} {format_kpi(key, target['target'])}"
        tiles.append(
            html.Div(
                [
                    html.Div(t(label_key, lang), className="wall-stat-label"),
                    html.Div(
                        [
                            html.Span(
                                ("✔ " if tone == "good" else "✖ " if tone == "bad" else "") + format_kpi(key, value),
                                className="wall-stat-number",
                                **{"data-value": "" if value is None else str(value)},
                            ),
                            html.Span(t(unit_key, lang) if unit_key else "", className="wall-unit"),
                        ],
                        className="wall-stat-value",
                    ),
                    html.Div(target_text, className="wall-stat-target"),
                ],
                className=f"wall-stat {tone}".strip(),
                **{"data-kpi": key},
            )
        )
    return tiles


def area_cards(shapes: MapShapes, lang: str) -> list:
    """One card per area of the map (streets of a district, …), the most overdue first: for the 32:9 wall."""
    areas = shapes.areas.sort_values(["overdue", "open"], ascending=False)
    cards = []
    for row in areas.itertuples(index=False):
        rate = overdue_rate(int(row.open), int(row.overdue))
        name = row.name_en if lang == "en" else row.name
        cards.append(
            html.Div(
                [
                    html.Div(name, className="wall-card-name", title=name),
                    html.Div(
                        t("wall.cards_counts", lang, open=f"{int(row.open):,}", overdue=f"{int(row.overdue):,}")
                        + " · "
                        + ("–" if rate is None else f"{rate:.0f}%"),
                        className="wall-card-counts",
                    ),
                ],
                className="wall-card",
                **{"data-code": row.code},
            )
        )
    return cards


def board_totals(totals: dict, lang: str) -> html.Span:
    """The deadline board's totals as the database counts them (超期 N · 2小时内到期 M)."""
    return html.Span(
        t("wall.board_totals", lang, overdue=f"{totals['overdue']:,}", soon=f"{totals['due_soon']:,}"),
        **{"data-overdue": str(totals["overdue"]), "data-due-soon": str(totals["due_soon"])},
    )


def population_panel(population: dict, lang: str) -> list:
    """Residents and businesses, household types, the 11 livelihood archives, and where the counts come from."""
    total = max(population["residents"], 1)
    bars = [
        html.Div(
            [
                html.Div(t(f"HouseholdType.{h.value}", lang), className="wall-bar-label"),
                html.Div(
                    html.Div(
                        className=f"wall-bar-fill {h.value}",
                        style={"width": f"{100 * population['households'][h.value] / total:.1f}%"},
                    ),
                    className="wall-bar-track",
                ),
                html.Div(f"{population['households'][h.value]:,}", className="wall-bar-value"),
            ],
            className="wall-bar-row",
        )
        for h in HouseholdType
    ]
    groups = [
        html.Div(
            [
                html.Div(f"{population['groups'][g.value]:,}", className="wall-group-value"),
                html.Div(t(f"LivelihoodGroup.{g.value}", lang), className="wall-group-label"),
            ],
            className="wall-group",
        )
        for g in LivelihoodGroup
    ]
    return [
        html.Div(
            [
                html.Div(
                    [
                        html.Div(t("wall.residents_total", lang), className="wall-big-label"),
                        html.Div(f"{population['residents']:,}", className="wall-big-number", id=ids.WALL_RESIDENTS),
                    ]
                ),
                html.Div(
                    [
                        html.Div(t("wall.businesses", lang), className="wall-big-label"),
                        html.Div(f"{population['businesses']:,}", className="wall-big-number"),
                    ]
                ),
            ],
            className="wall-big-pair",
        ),
        html.Div(bars, className="wall-bars"),
        html.H3(t("wall.livelihood", lang), className="wall-subtitle"),
        html.Div(groups, className="wall-groups"),
        html.Div(source_note(population, lang), className="wall-population-source"),
    ]


def visits_panel(visits: dict, lang: str) -> html.Table:
    """The three visiting teams' lists: open, in progress and resolved items of each."""
    statuses = list(VisitItemStatus)
    header = html.Tr([html.Th("")] + [html.Th(t(f"VisitItemStatus.{s.value}", lang)) for s in statuses])
    rows = [
        html.Tr(
            [html.Td(t(f"VisitListKind.{kind.value}", lang), className="wall-visits-kind")]
            + [html.Td(f"{visits[kind.value][s.value]:,}", className=f"wall-visits-{s.value}") for s in statuses]
        )
        for kind in VisitListKind
    ]
    return html.Table([html.Thead(header), html.Tbody(rows)], className="wall-visits")


def epoch_ms(instant: dt.datetime) -> float:
    """An instant as the browser's clock counts it: milliseconds since the epoch."""
    return instant.timestamp() * 1000


def snapshot_stores(recent: list[dict], sla: list[dict], now: dt.datetime) -> tuple[dict, dict]:
    """The ticker's and the deadline board's store data: items and the instant they were read."""
    as_of = epoch_ms(now)
    return (
        {"items": recent, "as_of": as_of},
        {"items": sla, "as_of": as_of, "server_now": as_of},
    )


def browser_ids(delta_event: str) -> str:
    """The ids assets/wall.js watches, as JSON for the root's data-wall attribute (ids live in ids.py)."""
    return json.dumps(
        {
            "socket": ids.WALL_SOCKET,
            "event": delta_event,
            "labels": ids.WALL_LABELS,
            "ticker_data": ids.WALL_TICKER_DATA,
            "sla_data": ids.WALL_SLA_DATA,
            "kpis": ids.WALL_KPIS,
            "ticker": ids.WALL_TICKER,
            "sla": ids.WALL_SLA,
            "sla_page": ids.WALL_SLA_PAGE,
            "offline": ids.WALL_OFFLINE,
            "offline_last": ids.WALL_OFFLINE_LAST,
        }
    )


def _panel(title: str, body, class_name: str = "", **kwargs) -> html.Section:
    return html.Section(
        [html.H2(title, className="wall-panel-title"), body], className=f"wall-panel {class_name}".strip(), **kwargs
    )


def client_labels(lang: str, timezone_name: str) -> dict:
    """Labels the browser needs to render pushed deltas (codes → words) and the connection state."""
    return {
        "connected": t("wall.connected", lang),
        "disconnected": t("wall.disconnected", lang),
        "overdue": t("wall.sla_overdue", lang),
        "left": t("wall.sla_left", lang),
        "category": {c.value: label(c, lang) for c in Category},
        "priority": {p.value: label(p, lang) for p in Priority},
        "status": {s.value: label(s, lang) for s in AppealStatus},
        # The deadline board's marks and the ticker's automatic escalations (issue 16).
        "urged": t("wall.mark_urged", lang, count="{count}"),
        "escalated": t("wall.mark_escalated", lang),
        "at_level": t("wall.mark_level", lang, level="{level}"),
        "escalation": t("escalation.ticker", lang, from_level="{from}", to_level="{to}"),
        "level": {level.value: label(level, lang) for level in RegionLevel},
        # The board's pages and the lost-connection overlay.
        "board_page": t("wall.board_page", lang, page="{page}", pages="{pages}"),
        "board_empty": t("wall.board_empty", lang),
        "offline_last": t("wall.offline_last", lang, time="{time}"),
        "lang": lang,
        "timezone": timezone_name,
    }


def graph(component_id: str, figure) -> dcc.Graph:
    """A chart for the wall: static (nobody touches it), sized by its panel."""
    return dcc.Graph(
        id=component_id,
        figure=figure,
        # No mode bar on the wall (nobody has a mouse there), and nothing to click.
        config={"displayModeBar": False, "responsive": True, "staticPlot": True},
        className="wall-graph",
    )


def wall_map(shapes: MapShapes, lang: str, scale: float = 1.0):
    """The map panel's figure: the areas one level down, coloured by load, inside the region's outline
    ("暂无数据" where the region has no areas with shapes)."""
    if not len(shapes.areas) or shapes.areas["boundary"].isna().all():
        return empty_figure(lang, scale)
    return map_figure(shapes.areas, lang, scale, shapes.outline)


def denied(lang: str, reason: str) -> html.Div:
    """What a wall without access shows: the reason, and nothing else."""
    return html.Div([html.H1(t("wall.denied", lang)), html.P(reason)], className="wall-root wall-empty")


def calendar_marker(years: tuple[int, ...], lang: str) -> list:
    """A small mark while this year (or next year, soon) is counted Monday–Friday for want of holiday data."""
    if not years:
        return []
    text = t("wall.calendar_fallback", lang, years=", ".join(map(str, years)))
    return [html.Span(text, id=ids.WALL_CALENDAR_MARKER, className="wall-calendar-marker", title=text)]


def offline_overlay(lang: str) -> html.Div:
    """What dims the whole wall while the connection is lost (assets/wall.js shows it within 5 s)."""
    return html.Div(
        html.Div(
            [
                html.Div("⚠ " + t("wall.offline_title", lang), className="wall-offline-title"),
                html.Div("", id=ids.WALL_OFFLINE_LAST, className="wall-offline-last"),
                html.Div(t("wall.offline_hint", lang), className="wall-offline-hint"),
            ],
            className="wall-offline-box",
        ),
        id=ids.WALL_OFFLINE,
        className="wall-offline",
        role="alert",
        **{"aria-hidden": "true"},
    )


def render(view: WallView, delta_event: str) -> html.Div:
    """The wall for one region: the snapshot of view; pushed deltas (delta_event) update it in place.

    Every panel is a cell of one grid (wall.css places them): at 16:9 the deadline board, the map
    in the middle and a column of the day's numbers, trend and ticker; at 32:9 the map larger, a
    card per area, the population and the visiting teams' lists beside them.
    """
    lang, now, region_code, token = view.lang, view.now, view.region_code, view.token
    local_now = now.astimezone(view.timezone)
    ticker_store, sla_store = snapshot_stores(view.recent, view.sla, now)
    return html.Div(
        [
            DashSocketIO(
                id=ids.WALL_SOCKET,
                eventNames=[delta_event, wall_alerts.ALERT_EVENT],  # issue 19: alerts come on the same connection
                # WebSocket only (no long-polling): any web process can take the connection, no sticky sessions.
                options={"auth": {"region": region_code, "token": token or ""}, "transports": ["websocket"]},
            ),
            dcc.Interval(id=ids.WALL_CLOCK_TICK, interval=1000),
            dcc.Store(id=ids.WALL_STATE, data={"region": region_code, "lang": lang, "token": token or ""}),
            dcc.Store(id=ids.WALL_LABELS, data=client_labels(lang, view.timezone_name)),
            dcc.Store(id=ids.WALL_TICKER_DATA, data=ticker_store),
            dcc.Store(id=ids.WALL_SLA_DATA, data=sla_store),
            dcc.Store(id=ids.WALL_SYNC, data={"last": 0}),
            dcc.Store(id=ids.WALL_REFRESH, data=0),
            dcc.Store(id=ids.WALL_VIEWPORT, data=1.0),
            # What each resync output shows (its digest): the next resync sends only what differs.
            dcc.Store(id=ids.WALL_VERSIONS, data={}),
            html.Header(
                [
                    html.Div(
                        html.Div(
                            [
                                html.Span(className="wall-dot"),
                                html.Span(t("wall.disconnected", lang), id=ids.WALL_CONNECTION_TEXT),
                            ],
                            id=ids.WALL_CONNECTION,
                            className="wall-connection offline",
                        ),
                        className="wall-header-side",
                    ),
                    html.H1(t("wall.title", lang, region=view.region_name), className="wall-title"),
                    html.Div(
                        [
                            *calendar_marker(view.calendar_fallback, lang),
                            html.Div(
                                [
                                    html.Span(
                                        local_now.strftime("%Y-%m-%d %H:%M:%S"),
                                        id=ids.WALL_CLOCK,
                                        className="wall-clock",
                                    ),
                                    html.Span(
                                        t("wall.data_as_of", lang, time=local_now.strftime("%H:%M:%S")),
                                        id=ids.WALL_FRESHNESS,
                                        className="wall-freshness",
                                    ),
                                ],
                                className="wall-clock-box",
                                title=t("wall.clock_label", lang),
                            ),
                        ],
                        className="wall-header-side right",
                    ),
                ],
                className="wall-header",
            ),
            html.Div(
                headline_tiles(view.headline, lang, now),
                id=ids.WALL_KPIS,
                className="wall-headline",
                **{"data-comparison": "same_time_yesterday"},
            ),
            _panel(
                t("wall.sla_board", lang),
                html.Div(
                    [
                        html.Div(
                            board_totals(view.sla_totals, lang), id=ids.WALL_SLA_TOTALS, className="wall-sla-totals"
                        ),
                        # The list is filled by assets/wall.js, never by Dash (no children here).
                        html.Ul(id=ids.WALL_SLA, className="wall-sla"),
                        html.Div("", id=ids.WALL_SLA_PAGE, className="wall-sla-page"),
                    ],
                    className="wall-sla-body",
                    **{"data-cc-timeleft": words_json(lang)},
                ),
                "board",
            ),
            _panel(map_title(view.load.level, lang), graph(ids.WALL_MAP, wall_map(view.load, lang)), "map"),
            _panel(
                map_title(view.load.level, lang),
                html.Div(area_cards(view.load, lang), id=ids.WALL_CARDS, className="wall-cards"),
                "cards",
            ),
            _panel(
                t("wall.population", lang),
                html.Div(population_panel(view.population, lang), id=ids.WALL_POPULATION, className="wall-population"),
                "population",
            ),
            _panel(
                t("wall.kpi_today", lang),
                html.Div(kpi_tiles(view.kpis, view.targets, lang, now), id=ids.WALL_TODAY, className="wall-stats"),
                "today",
            ),
            _panel(t("wall.trend_30d", lang), graph(ids.WALL_TREND, trend_figure(view.volume, lang)), "trend"),
            _panel(
                t("wall.recent_appeals", lang),
                html.Ul(id=ids.WALL_TICKER, className="wall-ticker"),  # filled by assets/wall.js
                "ticker",
            ),
            _panel(t("wall.visits", lang), html.Div(visits_panel(view.visits, lang), id=ids.WALL_VISITS), "visits"),
            *wall_alerts.panel(lang, view.timezone_name),  # issue 19: 预警 (assets/wall_alerts.js)
            offline_overlay(lang),
        ],
        id=ids.WALL_ROOT,
        className="wall-root",
        lang="zh-CN" if lang == "zh" else "en",
        **{
            "data-wall": browser_ids(delta_event),
            "data-reload-after-ms": str(view.reload_after_ms),
        },
    )


def resync(view: WallView, scale: float) -> dict:
    """What a resync replaces: the aggregates, the charts (at the screen's scale) and both lists' data."""
    ticker_store, sla_store = snapshot_stores(view.recent, view.sla, view.now)
    local_now = view.now.astimezone(view.timezone)
    return {
        "kpis": headline_tiles(view.headline, view.lang, view.now),
        "today": kpi_tiles(view.kpis, view.targets, view.lang, view.now),
        "population": population_panel(view.population, view.lang),
        "visits": visits_panel(view.visits, view.lang),
        "cards": area_cards(view.load, view.lang),
        "map": wall_map(view.load, view.lang, scale),
        "trend": trend_figure(view.volume, view.lang, scale),
        "sla_totals": board_totals(view.sla_totals, view.lang),
        "sla_data": sla_store,
        "ticker_data": ticker_store,
        "freshness": t("wall.data_as_of", view.lang, time=local_now.strftime("%H:%M:%S")),
    }


def resync_denied(lang: str, reason: str, now: dt.datetime) -> dict:
    """What a resync shows once the wall may no longer see its region (a revoked token): the reason only."""
    blank = empty_figure()
    ticker_store, sla_store = snapshot_stores([], [], now)
    return {
        "kpis": [html.Div([t("wall.denied", lang), html.Br(), reason], className="wall-denied")],
        "today": [],
        "population": [],
        "visits": [],
        "cards": [],
        "map": blank,
        "trend": blank,
        "sla_totals": "",
        "sla_data": sla_store,
        "ticker_data": ticker_store,
        "freshness": "",
    }
