"""The webhooks section of /admin (issue 16): one callback adds a webhook (its secret shown once),
disables, enables or (un)trusts the chosen one, replays deliveries, or refreshes the delivery log;
then reads the section again (queries.webhooks) and redraws it (layouts.admin_webhooks), and the
audit log, which each change wrote to. Registered with Permission.ADMIN by callbacks.admin.register.
"""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from callbacks.console import current_viewer
from dashboard.domain.roles import Permission
from dashboard.queries import admin as admin_query
from dashboard.queries import webhooks as webhook_query
from dashboard.services import admin, webhooks
from dashboard.services.admin import AdminError
from dashboard.ui import ids
from dashboard.ui.i18n import t
from dashboard.web import callback_inputs as valid
from dashboard.web.auth import callback
from layouts import admin as admin_layout
from layouts import admin_webhooks as layout

BUTTONS = {
    ids.ADMIN_HOOK_CREATE: "create",
    ids.ADMIN_HOOK_DISABLE: "disable",
    ids.ADMIN_HOOK_ENABLE: "enable",
    ids.ADMIN_HOOK_TRUST: "trust",
    ids.ADMIN_HOOK_UNTRUST: "untrust",
    ids.ADMIN_DELIVERY_REPLAY: "replay",
    ids.ADMIN_DELIVERY_REPLAY_DEAD: "replay_dead",
    ids.ADMIN_DELIVERIES_REFRESH: "refresh",
}


def changed(
    create, disable, enable, trust, untrust, replay, replay_dead, refresh,
    name, url, events, filter_kind, filter_value, body_format, trusted, selected, delivery, lang,
) -> dict:  # fmt: skip
    """Make the change the pressed button asks for, then redraw the section and the audit log."""
    lang = valid.language(lang)
    counts = (create, disable, enable, trust, untrust, replay, replay_dead, refresh)
    clicks = dict(zip(BUTTONS.values(), counts, strict=True))
    for button, count in clicks.items():
        clicks[button] = valid.clicks(count, button)
    pressed = BUTTONS.get(ctx.triggered_id)
    if pressed is None or not clicks[pressed]:
        raise PreventUpdate
    actor = current_viewer(with_csrf=False).username
    cleared = {"name": no_update, "url": no_update}
    message = None
    try:
        if pressed == "create":
            chosen = valid.strings(events, "events", max_items=20, max_length=32)
            trusted_flag = "trusted" in valid.strings(trusted, "trusted", max_items=2, max_length=16)
            view, secret = webhooks.create_webhook(
                actor,
                valid.text(name, "name", 200),
                valid.text(url, "url", 1000),
                chosen,
                valid.text(filter_kind, "filter_kind", 32),
                valid.text(filter_value, "filter_value", 200),
                valid.text(body_format, "format", 32),
                trusted_flag,
            )
            done = t("admin.done_webhook_create", lang, name=view.name)
            message = admin_layout.secret_panel(done, secret, ids.ADMIN_HOOK_SECRET, lang)
            cleared = {"name": "", "url": ""}
        elif pressed in ("disable", "enable", "trust", "untrust"):
            chosen_name = valid.text(selected, "selected", 200)
            if pressed in ("disable", "enable"):
                view = webhooks.set_webhook_active(actor, chosen_name, pressed == "enable")
            else:
                view = webhooks.set_webhook_trusted(actor, chosen_name, pressed == "trust")
            message = admin_layout.feedback(t("admin.done_webhook_change", lang, name=view.name), True)
        elif pressed in ("replay", "replay_dead"):
            number = valid.integer(delivery, "delivery", low=1) if pressed == "replay" else None
            if pressed == "replay" and number is None:
                raise AdminError("delivery", "required")
            replayed = webhooks.replay_deliveries(actor, number, dead=pressed == "replay_dead")
            message = admin_layout.feedback(t("admin.done_webhook_replay", lang, count=len(replayed)), True)
    except AdminError as error:
        message = admin_layout.feedback(error.message(lang), False)
    section = layout.refresh(webhook_query.read(lang))
    audit = admin_layout.audit_table(admin_query.audit(lang, admin.RECENT_AUDIT_ENTRIES))
    return {**section, "feedback": message, **cleared, "audit": audit}


def register(app) -> None:
    """Attach the webhooks section's callback (admins only)."""
    callback(
        app,
        Permission.ADMIN,
        output={
            "table": Output(ids.ADMIN_HOOKS_TABLE, "children"),
            "deliveries": Output(ids.ADMIN_DELIVERIES_TABLE, "children"),
            "options": Output(ids.ADMIN_HOOK_SELECT, "options"),
            "feedback": Output(ids.ADMIN_HOOK_FEEDBACK, "children"),
            "name": Output(ids.ADMIN_HOOK_NAME, "value"),
            "url": Output(ids.ADMIN_HOOK_URL, "value"),
            # A second writer of the audit log (the page's own callbacks write it too).
            "audit": Output(ids.ADMIN_AUDIT_TABLE, "children", allow_duplicate=True),
        },
        inputs={
            "create": Input(ids.ADMIN_HOOK_CREATE, "n_clicks"),
            "disable": Input(ids.ADMIN_HOOK_DISABLE, "n_clicks"),
            "enable": Input(ids.ADMIN_HOOK_ENABLE, "n_clicks"),
            "trust": Input(ids.ADMIN_HOOK_TRUST, "submit_n_clicks"),
            "untrust": Input(ids.ADMIN_HOOK_UNTRUST, "n_clicks"),
            "replay": Input(ids.ADMIN_DELIVERY_REPLAY, "n_clicks"),
            "replay_dead": Input(ids.ADMIN_DELIVERY_REPLAY_DEAD, "n_clicks"),
            "refresh": Input(ids.ADMIN_DELIVERIES_REFRESH, "n_clicks"),
        },
        state={
            "name": State(ids.ADMIN_HOOK_NAME, "value"),
            "url": State(ids.ADMIN_HOOK_URL, "value"),
            "events": State(ids.ADMIN_HOOK_EVENTS, "value"),
            "filter_kind": State(ids.ADMIN_HOOK_FILTER_KIND, "value"),
            "filter_value": State(ids.ADMIN_HOOK_FILTER_VALUE, "value"),
            "body_format": State(ids.ADMIN_HOOK_FORMAT, "value"),
            "trusted": State(ids.ADMIN_HOOK_TRUSTED, "value"),
            "selected": State(ids.ADMIN_HOOK_SELECT, "value"),
            "delivery": State(ids.ADMIN_DELIVERY_ID, "value"),
            "lang": State(ids.ADMIN_LANG, "data"),
        },
        prevent_initial_call=True,
    )(changed)
