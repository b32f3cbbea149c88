"""The webhooks section of /admin (issue 16): webhooks (add, disable or enable, mark trusted) and the
delivery log with replay. Drawn from queries.webhooks.WebhooksView; callbacks/admin_webhooks.py
redraws the tables with the same functions after each change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dash import dcc, html

from dashboard.domain.vocab import Channel
from dashboard.domain.webhooks import BodyFormat, DeliveryStatus, FilterKind, WebhookEvent
from dashboard.ui import ids
from dashboard.ui.i18n import label, t

if TYPE_CHECKING:
    from dashboard.queries.webhooks import WebhooksView, WebhookView

ERROR_SHOWN = 80  # characters of a delivery's last error in the log (the CLI lists more)


def _local(instant, view: WebhooksView) -> str:
    return instant.astimezone(view.timezone).strftime("%Y-%m-%d %H:%M:%S") if instant else "—"


def _table(headers: list[str], rows: list, lang: str):
    if not rows:
        return html.P(t("admin.none", lang), className="console-hint")
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in headers])), html.Tbody(rows)], className="console-table admin-table"
    )


def _enum_label(enum_cls, code: str | None, lang: str) -> str:
    try:
        return label(enum_cls(code), lang)
    except ValueError:
        return code or "—"


def filter_label(hook: WebhookView, lang: str) -> str:
    """A webhook's filter in words ("按队伍 · 510107001001/patrol"), or the no-filter label."""
    if not hook.filter_kind:
        return t("admin.webhook_filter_none", lang)
    value = hook.filter_value
    if hook.filter_kind == FilterKind.SOURCE:
        value = _enum_label(Channel, value, lang)
    return f"{_enum_label(FilterKind, hook.filter_kind, lang)} · {value}"


def webhooks_table(view: WebhooksView):
    """Name, URL, events, filter, format, trusted and state of every webhook."""
    lang = view.lang
    separator = "、" if lang == "zh" else ", "
    rows = [
        html.Tr(
            [
                html.Td(hook.name, className="admin-mono"),
                html.Td(hook.url, className="admin-mono admin-url"),
                html.Td(separator.join(_enum_label(WebhookEvent, code, lang) for code in hook.events)),
                html.Td(filter_label(hook, lang)),
                html.Td(_enum_label(BodyFormat, hook.body_format, lang)),
                html.Td(t("admin.trusted_yes" if hook.trusted else "admin.trusted_no", lang)),
                html.Td(t("admin.active" if hook.active else "admin.inactive", lang)),
            ],
            className="" if hook.active else "admin-row-muted",
        )
        for hook in view.webhooks
    ]
    keys = ("name", "url", "events", "filter", "format", "trusted", "active")
    return _table([t(f"admin.col_{key}", lang) for key in keys], rows, lang)


def deliveries_table(view: WebhooksView):
    """The newest deliveries: number, queued, webhook, event, appeal, status, attempts, last HTTP status and error."""
    lang = view.lang
    rows = []
    for row in view.deliveries:
        status_class = {"delivered": "console-good", "dead": "console-bad"}.get(row.status, "")
        error = (row.last_error or "—")[:ERROR_SHOWN]
        rows.append(
            html.Tr(
                [
                    html.Td(str(row.id), className="num"),
                    html.Td(_local(row.created_at, view), className="admin-nowrap"),
                    html.Td(row.webhook, className="admin-mono"),
                    html.Td(_enum_label(WebhookEvent, row.event, lang)),
                    html.Td(f"#{row.appeal_id}" if row.appeal_id else "—"),
                    html.Td(_enum_label(DeliveryStatus, row.status, lang), className=status_class),
                    html.Td(str(row.attempts), className="num"),
                    html.Td(str(row.last_status) if row.last_status else "—", className="num"),
                    html.Td(error, title=row.last_error or "", className="admin-error-cell"),
                    html.Td(_local(row.next_attempt_at, view) if row.status == "pending" else "—"),
                ],
                id=ids.ADMIN_DELIVERY_ROW.format(row.id),
            )
        )
    keys = ("delivery", "created", "name", "event", "appeal", "status", "attempts", "http", "error", "next")
    return _table([t(f"admin.col_{key}", lang) for key in keys], rows, lang)


def webhook_options(view: WebhooksView) -> list[dict]:
    """The webhooks to choose from, as "name · URL"."""
    return [{"label": f"{hook.name} · {hook.url}", "value": hook.name} for hook in view.webhooks]


def refresh(view: WebhooksView) -> dict:
    """The section after a change: both tables and the webhooks to choose from."""
    return {"table": webhooks_table(view), "deliveries": deliveries_table(view), "options": webhook_options(view)}


def _field(text: str, control, hint: str | None = None) -> html.Div:
    parts = [html.Label(text, htmlFor=control.id), control]
    if hint:
        parts.append(html.Span(hint, className="admin-hint"))
    return html.Div(parts, className="admin-field")


def _button(text: str, button_id: str, kind: str = "admin-secondary") -> html.Button:
    return html.Button(text, id=button_id, n_clicks=0, className=f"admin-button {kind}".strip())


def section(view: WebhooksView) -> html.Section:
    """The whole webhooks section: table, add form, management, delivery log with replay."""
    lang = view.lang
    add = html.Div(
        [
            html.Div(
                [
                    _field(t("admin.field_name", lang), dcc.Input(id=ids.ADMIN_HOOK_NAME, maxLength=64)),
                    _field(
                        t("admin.field_url", lang),
                        dcc.Input(id=ids.ADMIN_HOOK_URL, maxLength=500, type="url", autoComplete="off"),
                        t("admin.webhook_url_hint", lang),
                    ),
                    _field(
                        t("admin.field_format", lang),
                        dcc.Dropdown(
                            id=ids.ADMIN_HOOK_FORMAT,
                            options=[{"label": label(f, lang), "value": f.value} for f in BodyFormat],
                            value=BodyFormat.JSON.value,
                            clearable=False,
                            className="admin-dropdown",
                        ),
                    ),
                    _field(
                        t("admin.field_filter", lang),
                        dcc.Dropdown(
                            id=ids.ADMIN_HOOK_FILTER_KIND,
                            options=[{"label": label(k, lang), "value": k.value} for k in FilterKind],
                            placeholder=t("admin.webhook_filter_none", lang),
                            className="admin-dropdown",
                        ),
                    ),
                    _field(
                        t("admin.field_filter_value", lang),
                        dcc.Input(id=ids.ADMIN_HOOK_FILTER_VALUE, maxLength=64, autoComplete="off"),
                        t("admin.webhook_filter_hint", lang),
                    ),
                ],
                className="admin-form",
            ),
            _field(
                t("admin.field_events", lang),
                dcc.Checklist(
                    id=ids.ADMIN_HOOK_EVENTS,
                    options=[{"label": label(event, lang), "value": event.value} for event in WebhookEvent],
                    value=[],
                    inline=True,
                    className="admin-radio",
                ),
            ),
            dcc.Checklist(
                id=ids.ADMIN_HOOK_TRUSTED,
                options=[{"label": t("admin.webhook_trusted", lang), "value": "trusted"}],
                value=[],
                className="admin-radio",
            ),
            html.Div(_button(t("admin.create", lang), ids.ADMIN_HOOK_CREATE, ""), className="admin-actions"),
        ],
        className="admin-panel",
    )
    manage = html.Div(
        [
            html.H3(t("admin.webhook_manage", lang)),
            html.Div(
                dcc.Dropdown(
                    id=ids.ADMIN_HOOK_SELECT,
                    options=webhook_options(view),
                    placeholder=t("admin.choose", lang),
                    className="admin-dropdown",
                ),
                className="admin-field",
            ),
            html.Div(
                [
                    _button(t("admin.webhook_disable", lang), ids.ADMIN_HOOK_DISABLE),
                    _button(t("admin.webhook_enable", lang), ids.ADMIN_HOOK_ENABLE),
                    dcc.ConfirmDialogProvider(
                        html.Button(t("admin.webhook_trust", lang), className="admin-button admin-danger"),
                        id=ids.ADMIN_HOOK_TRUST,
                        message=t("admin.webhook_trust_confirm", lang),
                    ),
                    _button(t("admin.webhook_untrust", lang), ids.ADMIN_HOOK_UNTRUST),
                ],
                className="admin-actions",
            ),
            html.H3(t("admin.replay", lang), style={"marginTop": "18px"}),
            html.Div(
                [
                    _field(
                        t("admin.field_delivery", lang),
                        dcc.Input(id=ids.ADMIN_DELIVERY_ID, type="number", min=1, step=1, style={"width": "9em"}),
                    ),
                    _button(t("admin.replay", lang), ids.ADMIN_DELIVERY_REPLAY),
                    _button(t("admin.replay_dead", lang), ids.ADMIN_DELIVERY_REPLAY_DEAD),
                ],
                className="admin-actions admin-replay",
                style={"alignItems": "flex-end"},
            ),
        ],
        className="admin-panel",
    )
    return html.Section(
        [
            html.H3(t("admin.webhooks", lang)),
            html.P(t("admin.webhooks_help", lang), className="console-hint"),
            html.Div(webhooks_table(view), id=ids.ADMIN_HOOKS_TABLE, className="admin-scroll"),
            html.Div(id=ids.ADMIN_HOOK_FEEDBACK, className="admin-feedback"),
            html.Div([add, manage], className="admin-panels"),
            html.Div(
                [
                    html.H3(t("admin.deliveries", lang, count=view.limit)),
                    _button(t("admin.refresh", lang), ids.ADMIN_DELIVERIES_REFRESH),
                ],
                className="admin-inline admin-deliveries-head",
            ),
            html.Div(deliveries_table(view), id=ids.ADMIN_DELIVERIES_TABLE, className="admin-scroll"),
        ],
        className="console-card admin-section",
        id="admin-webhooks",
    )
