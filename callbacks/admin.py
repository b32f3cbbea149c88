"""Administration callbacks: each section's buttons change one thing through dashboard.services.admin, then
redraw that section's table and mark the section changed, which redraws the audit log.

Every callback is registered through auth.callback with Permission.ADMIN, so the guard refuses
anyone else before these functions run. Inputs are validated by dashboard.services.admin, whose errors
name the field; a secret (wall token, API key) travels in one callback response and is never
stored in the page's state.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from urllib.parse import urlencode

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from flask import request

from dashboard.services import admin
from dashboard.services.admin import AdminError
from dashboard.store.database import db
from dashboard.ui import ids
from dashboard.ui.i18n import normalise_language, t
from dashboard.web.auth import Permission, callback, current_principal
from layouts.admin import (
    active_options,
    audit_table,
    channel_label,
    feedback,
    keys_table,
    region_label,
    secret_panel,
    tokens_table,
    user_options,
    users_table,
)


def _lang(value: object) -> str:
    return normalise_language(value if isinstance(value, str) else None)


def _now() -> float:
    return dt.datetime.now(dt.UTC).timestamp()


def _clicked(button_id: str, clicks: object) -> bool:
    """Whether this button, and not a re-render of it, fired the callback."""
    return ctx.triggered_id == button_id and isinstance(clicks, int) and clicks > 0


def users_changed(
    create, deactivate, reactivate, unlock, reset,
    username, display_name, role, region, password, selected, new_password, lang,
):  # fmt: skip
    """Create a user, or deactivate / reactivate / unlock / reset the password of the chosen one."""
    lang = _lang(lang)
    actor = current_principal().username
    cleared = [no_update, no_update, no_update, no_update]  # username, display name, password, new password
    try:
        if _clicked(ids.ADMIN_USER_CREATE, create):
            user = admin.create_user(actor, username, display_name, role, region, password)
            done = t("admin.done_user_create", lang, username=user.username)
            cleared[:3] = ["", "", ""]
        elif _clicked(ids.ADMIN_USER_DEACTIVATE, deactivate):
            user = admin.set_user_active(actor, selected, active=False)
            done = t("admin.done_user_deactivate", lang, username=user.username)
        elif _clicked(ids.ADMIN_USER_REACTIVATE, reactivate):
            user = admin.set_user_active(actor, selected, active=True)
            done = t("admin.done_user_reactivate", lang, username=user.username)
        elif _clicked(ids.ADMIN_USER_UNLOCK, unlock):
            user = admin.unlock_user(actor, selected)
            done = t("admin.done_user_unlock", lang, username=user.username)
        elif _clicked(ids.ADMIN_USER_RESET_PASSWORD, reset):
            user = admin.reset_password(actor, selected, new_password)
            done = t("admin.done_user_password", lang, username=user.username)
            cleared[3] = ""
        else:
            raise PreventUpdate
        message, changed = feedback(done, True), _now()
    except AdminError as error:
        message, changed = feedback(error.message(lang), False), no_update
    with db.session() as session:
        users = admin.list_users(session)
        names = admin.region_names(session, {u.region_code for u in users if u.region_code}, lang)
    table = users_table(users, names, lang, dt.datetime.now(dt.UTC))
    return [table, message, user_options(users), *cleared, changed]


def _wall_url(region_code: str, token: str) -> str:
    """The address a wall opens: this server's, with the token's region and the token."""
    return f"{request.host_url.rstrip('/')}/wall?{urlencode({'region': region_code, 'token': token})}"


def tokens_changed(create, revoke, name, region, selected, lang):
    """Create a wall token (shown once, with its wall address) or revoke the chosen one."""
    lang = _lang(lang)
    actor = current_principal().username
    cleared_name = cleared_choice = changed = no_update
    try:
        if _clicked(ids.ADMIN_TOKEN_CREATE, create):
            view, token = admin.create_wall_token(actor, name, region)
            done = t("admin.done_token_create", lang, name=view.name)
            message = secret_panel(done, token, ids.ADMIN_TOKEN_SECRET, lang, _wall_url(view.scope, token))
            cleared_name, changed = "", _now()
        elif _clicked(ids.ADMIN_TOKEN_REVOKE, revoke):
            revoked = admin.revoke_wall_tokens(actor, token_id=selected)
            message = feedback(t("admin.done_token_revoke", lang, name=", ".join(revoked)), True)
            cleared_choice, changed = None, _now()
        else:
            raise PreventUpdate
    except AdminError as error:
        message = feedback(error.message(lang), False)
    with db.session() as session:
        tokens = admin.list_wall_tokens(session)
        names = admin.region_names(session, {row.scope for row in tokens}, lang)
    scope_label = partial(region_label, names=names, lang=lang)
    table = tokens_table(tokens, names, lang)
    return [table, message, active_options(tokens, scope_label), cleared_choice, cleared_name, changed]


def keys_changed(create, revoke, name, channel, selected, lang):
    """Create an API key (shown once) or revoke the chosen one."""
    lang = _lang(lang)
    actor = current_principal().username
    cleared_name = cleared_choice = changed = no_update
    try:
        if _clicked(ids.ADMIN_KEY_CREATE, create):
            view, key = admin.create_api_key(actor, name, channel)
            message = secret_panel(t("admin.done_key_create", lang, name=view.name), key, ids.ADMIN_KEY_SECRET, lang)
            cleared_name, changed = "", _now()
        elif _clicked(ids.ADMIN_KEY_REVOKE, revoke):
            revoked = admin.revoke_api_keys(actor, key_id=selected)
            message = feedback(t("admin.done_key_revoke", lang, name=", ".join(revoked)), True)
            cleared_choice, changed = None, _now()
        else:
            raise PreventUpdate
    except AdminError as error:
        message = feedback(error.message(lang), False)
    with db.session() as session:
        keys = admin.list_api_keys(session)
    options = active_options(keys, partial(channel_label, lang=lang))
    return [keys_table(keys, lang), message, options, cleared_choice, cleared_name, changed]


def audit_refreshed(_refresh, _users, _tokens, _keys, lang):
    """The newest audit entries, again: on the refresh button and after every change on this page."""
    with db.session() as session:
        entries = admin.recent_audit(session)
    return audit_table(entries, _lang(lang))


def register(app) -> None:
    """Attach the administration callbacks (each declares the permission it needs)."""
    callback(
        app,
        Permission.ADMIN,
        Output(ids.ADMIN_USERS_TABLE, "children"),
        Output(ids.ADMIN_USER_FEEDBACK, "children"),
        Output(ids.ADMIN_USER_SELECT, "options"),
        Output(ids.ADMIN_USER_USERNAME, "value"),
        Output(ids.ADMIN_USER_DISPLAY_NAME, "value"),
        Output(ids.ADMIN_USER_PASSWORD, "value"),
        Output(ids.ADMIN_USER_NEW_PASSWORD, "value"),
        Output(ids.ADMIN_CHANGED.format("users"), "data"),
        Input(ids.ADMIN_USER_CREATE, "n_clicks"),
        Input(ids.ADMIN_USER_DEACTIVATE, "n_clicks"),
        Input(ids.ADMIN_USER_REACTIVATE, "n_clicks"),
        Input(ids.ADMIN_USER_UNLOCK, "n_clicks"),
        Input(ids.ADMIN_USER_RESET_PASSWORD, "n_clicks"),
        State(ids.ADMIN_USER_USERNAME, "value"),
        State(ids.ADMIN_USER_DISPLAY_NAME, "value"),
        State(ids.ADMIN_USER_ROLE, "value"),
        State(ids.ADMIN_USER_REGION, "value"),
        State(ids.ADMIN_USER_PASSWORD, "value"),
        State(ids.ADMIN_USER_SELECT, "value"),
        State(ids.ADMIN_USER_NEW_PASSWORD, "value"),
        State(ids.ADMIN_LANG, "data"),
        prevent_initial_call=True,
    )(users_changed)
    callback(
        app,
        Permission.ADMIN,
        Output(ids.ADMIN_TOKENS_TABLE, "children"),
        Output(ids.ADMIN_TOKEN_FEEDBACK, "children"),
        Output(ids.ADMIN_TOKEN_SELECT, "options"),
        Output(ids.ADMIN_TOKEN_SELECT, "value"),
        Output(ids.ADMIN_TOKEN_NAME, "value"),
        Output(ids.ADMIN_CHANGED.format("tokens"), "data"),
        Input(ids.ADMIN_TOKEN_CREATE, "n_clicks"),
        Input(ids.ADMIN_TOKEN_REVOKE, "submit_n_clicks"),
        State(ids.ADMIN_TOKEN_NAME, "value"),
        State(ids.ADMIN_TOKEN_REGION, "value"),
        State(ids.ADMIN_TOKEN_SELECT, "value"),
        State(ids.ADMIN_LANG, "data"),
        prevent_initial_call=True,
    )(tokens_changed)
    callback(
        app,
        Permission.ADMIN,
        Output(ids.ADMIN_KEYS_TABLE, "children"),
        Output(ids.ADMIN_KEY_FEEDBACK, "children"),
        Output(ids.ADMIN_KEY_SELECT, "options"),
        Output(ids.ADMIN_KEY_SELECT, "value"),
        Output(ids.ADMIN_KEY_NAME, "value"),
        Output(ids.ADMIN_CHANGED.format("keys"), "data"),
        Input(ids.ADMIN_KEY_CREATE, "n_clicks"),
        Input(ids.ADMIN_KEY_REVOKE, "submit_n_clicks"),
        State(ids.ADMIN_KEY_NAME, "value"),
        State(ids.ADMIN_KEY_CHANNEL, "value"),
        State(ids.ADMIN_KEY_SELECT, "value"),
        State(ids.ADMIN_LANG, "data"),
        prevent_initial_call=True,
    )(keys_changed)
    callback(
        app,
        Permission.ADMIN,
        Output(ids.ADMIN_AUDIT_TABLE, "children"),
        Input(ids.ADMIN_AUDIT_REFRESH, "n_clicks"),
        # Not the feedback panels: they may hold a new secret, which must not travel back to the server.
        Input(ids.ADMIN_CHANGED.format("users"), "data"),
        Input(ids.ADMIN_CHANGED.format("tokens"), "data"),
        Input(ids.ADMIN_CHANGED.format("keys"), "data"),
        State(ids.ADMIN_LANG, "data"),
        prevent_initial_call=True,
    )(audit_refreshed)
