"""The console's /alerts page (issue 19): early warnings of the viewer's region, filtered, newest first, each
with the drill-down that explains it; operators and supervisors acknowledge (with a note) and close them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dash import dcc, html

from dashboard.domain.vocab import Category
from dashboard.ui import ids
from dashboard.ui.chrome import Refusal, Viewer
from dashboard.ui.i18n import label, t
from layouts.console import page, refused
from layouts.wall_alerts import KIND_ICONS

if TYPE_CHECKING:
    from dashboard.queries.alerts import AlertItem, AlertsView

KINDS = tuple(KIND_ICONS)
STATUSES = ("new", "acknowledged", "closed")
STEPS = ("acknowledge", "close")


def kind_badge(kind: str, lang: str) -> html.Span:
    """A kind as an icon and a word (never a colour alone)."""
    return html.Span(
        f"{KIND_ICONS.get(kind, '!')} {t(f'alert_list.kind_{kind}', lang)}", className=f"alerts-kind alerts-kind-{kind}"
    )


def _options(values, words) -> list[dict]:
    return [{"label": words(value), "value": value} for value in values]


def filter_bar(view: AlertsView) -> html.Div:
    """Kind, status, category (several of each) and the period the alerts were raised in."""
    filters, lang = view.filters, view.lang
    choices = {
        "kind": _options(KINDS, lambda k: f"{KIND_ICONS[k]} {t(f'alert_list.kind_{k}', lang)}"),
        "status": _options(STATUSES, lambda s: t(f"alert_list.status_{s}", lang)),
        "category": _options([c.value for c in Category], lambda c: label(Category(c), lang)),
    }
    dropdowns = [
        html.Div(
            [
                html.Label(t(f"alert_list.filter_{name}", lang), htmlFor=ids.ALERTS_FILTER.format(name)),
                dcc.Dropdown(
                    id=ids.ALERTS_FILTER.format(name),
                    options=options,
                    value=list(getattr(filters, name)),
                    multi=True,
                    placeholder=t("console.all", lang),
                ),
            ],
            className="console-filter",
        )
        for name, options in choices.items()
    ]
    return html.Div(
        [
            html.Div(
                [
                    html.Label(t("alert_list.period", lang), htmlFor=ids.ALERTS_DATES),
                    dcc.DatePickerRange(
                        id=ids.ALERTS_DATES,
                        start_date=filters.start.isoformat() if filters.start else None,
                        end_date=filters.end.isoformat() if filters.end else None,
                        display_format="YYYY-MM-DD",
                        first_day_of_week=1,
                        minimum_nights=0,
                        clearable=True,
                    ),
                ],
                className="console-filter console-filter-dates",
            ),
            *dropdowns,
            html.Div(
                html.Button(t("console.clear_filters", lang), id=ids.ALERTS_CLEAR, n_clicks=0),
                className="console-filter console-filter-actions",
            ),
        ],
        className="console-filters console-card",
    )


def _state(alert: AlertItem, lang: str) -> list:
    """The status in words, and who acknowledged or closed it, when, with their (masked) note."""
    parts: list = [html.Div(t(f"alert_list.status_{alert.status}", lang), className="alerts-status")]
    if alert.acknowledged_at is not None:
        parts.append(
            html.Div(
                t("alert_list.acknowledged_by", lang, who=alert.acknowledged_by or "", note=alert.acknowledge_note),
                className="alerts-who",
            )
        )
    if alert.closed_at is not None:
        parts.append(
            html.Div(
                t("alert_list.closed_by", lang, who=alert.closed_by or "", note=alert.close_note),
                className="alerts-who",
            )
        )
    return parts


def _steps(alert: AlertItem, lang: str) -> list:
    """A note and the two steps, for an alert not yet closed (the acknowledge step only while new)."""
    if alert.status == "closed":
        return []
    buttons = [
        html.Button(
            t(f"alert_list.step_{step}", lang),
            id={"type": ids.ALERTS_STEP, "alert": alert.id, "step": step},
            n_clicks=0,
            className=f"alerts-step alerts-step-{step}",
            **{"data-step": step},
        )
        for step in STEPS
        if step == "close" or alert.status == "new"
    ]
    return [
        dcc.Input(
            id={"type": ids.ALERTS_NOTE, "alert": alert.id},
            type="text",
            maxLength=500,
            placeholder=t("alert_list.note_placeholder", lang),
            className="alerts-note",
            debounce=False,
        ),
        html.Div(buttons, className="alerts-steps"),
    ]


def rows(view: AlertsView) -> list:
    """The table's body: one row per alert of this page."""
    lang = view.lang
    body = []
    for alert in view.alerts:
        cells = [
            html.Td(alert.raised_local, className="alerts-time"),
            html.Td(kind_badge(alert.kind, lang)),
            html.Td(alert.place),
            html.Td(alert.category_label),
            html.Td(
                [
                    html.Div(alert.reason, className="alerts-reason"),
                    html.A(t("alert_list.explain", lang), href=alert.link, className="alerts-link"),
                ]
            ),
            html.Td(_state(alert, lang)),
        ]
        if view.may_act:
            cells.append(html.Td(_steps(alert, lang), className="alerts-actions"))
        body.append(html.Tr(cells, className=f"alerts-row alerts-row-{alert.status}", **{"data-id": str(alert.id)}))
    return body


def table(view: AlertsView) -> list:
    """The list (or a sentence when nothing matches), its count and its pages: ALERTS_LIST's children."""
    lang = view.lang
    if not view.alerts:
        return [html.P(t("alert_list.none", lang), className="console-hint", id="alerts-none")]
    headers = ["time", "kind", "place", "category", "reason", "status"] + (["actions"] if view.may_act else [])
    pager = []
    filters = view.filters
    if filters.page > 1:
        pager.append(html.A(t("alert_list.previous", lang), href="/alerts" + filters.to_query(page=filters.page - 1)))
    pager.append(html.Span(t("alert_list.page", lang, page=filters.page, pages=view.pages)))
    if filters.page < view.pages:
        pager.append(html.A(t("alert_list.next", lang), href="/alerts" + filters.to_query(page=filters.page + 1)))
    return [
        html.P(t("alert_list.count", lang, count=f"{view.total:,}"), className="console-hint", id="alerts-count"),
        html.Table(
            [
                html.Thead(html.Tr([html.Th(t(f"alert_list.col_{name}", lang)) for name in headers])),
                html.Tbody(rows(view)),
            ],
            className="console-table alerts-table",
        ),
        html.Div(pager, className="alerts-pager"),
    ]


def feedback(text: str, ok: bool) -> html.P:
    """What a step did, or why it was refused."""
    return html.P(text, className="console-good" if ok else "console-bad", role="status")


def render(view: AlertsView | Refusal, viewer: Viewer, lang: str) -> html.Div:
    """The whole page: filters, the list, the steps' feedback."""
    if isinstance(view, Refusal):
        return refused(viewer, lang, view)
    other = "/alerts" + view.filters.to_query(lang="zh" if lang == "en" else "en", page=1)
    body = [
        dcc.Location(id=ids.ALERTS_URL, refresh="callback-nav"),
        html.H2(t("console.nav_alerts", lang), className="alerts-title"),
        html.P(t("alert_list.help", lang), className="console-hint"),
        filter_bar(view),
        html.Div(id=ids.ALERTS_FEEDBACK),
        html.Div(table(view), id=ids.ALERTS_LIST, className="console-card"),
    ]
    return page(viewer, lang, "alerts", other, body)
