"""The administration page: its composer, and its callbacks. Each section's buttons change one thing
through dashboard.services.admin, then read that section again (queries.admin) and redraw its table
(layouts.admin), and mark the section changed, which redraws the audit log.

Every callback is registered through auth.callback with Permission.ADMIN, so the guard refuses
anyone else before these functions run. Inputs are validated by dashboard.services.admin, whose errors
name the field; a secret (wall token, API key) travels in one callback response and is never
stored in the page's state.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from dash import ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from flask import current_app, request

from callbacks import admin_webhooks
from callbacks.console import current_viewer
from dashboard.domain.roles import Permission
from dashboard.domain.workcal import FIRST_YEAR as WORKCAL_FIRST_YEAR
from dashboard.domain.workcal import LAST_YEAR as WORKCAL_LAST_YEAR
from dashboard.jobs.registry import reload_calendar
from dashboard.queries import admin as admin_query
from dashboard.queries import walls as walls_query
from dashboard.services import admin
from dashboard.services.admin import AdminError
from dashboard.ui import ids
from dashboard.ui.i18n import t
from dashboard.web import callback_inputs as valid
from dashboard.web.auth import callback
from layouts import admin as admin_layout


def page(lang: str | None = None, **_query):
    """/admin: the administration page, in lang (zh unless ?lang=en)."""
    lang = valid.language(lang)
    view = admin_query.read(
        lang, admin.RECENT_AUDIT_ENTRIES, admin.MIN_PASSWORD_LENGTH, max_upload_bytes=_upload_limit()
    )
    return admin_layout.render(view, current_viewer(), walls_query.read(current_app.extensions["wall_reports"]))


def _upload_limit() -> int:
    return admin.upload_limit(current_app.config["MAX_CONTENT_LENGTH"])


def _lang(value: object) -> str:
    return valid.language(value)


def _now() -> float:
    return dt.datetime.now(dt.UTC).timestamp()


def _actor() -> str:
    return current_viewer(with_csrf=False).username


def _clicked(button_id: str, clicks: object) -> bool:
    """Whether this button, and not a re-render of it, fired the callback."""
    return ctx.triggered_id == button_id and isinstance(clicks, int) and clicks > 0


def users_changed(
    create, deactivate, reactivate, unlock, reset, end_sessions,
    username, display_name, role, region, password, selected, new_password, lang, assignment=None,
) -> dict:  # fmt: skip
    """Create a user, or deactivate / reactivate / unlock / reset the password / end the sessions of the chosen one."""
    lang = _lang(lang)
    actor = _actor()
    cleared = dict.fromkeys(("username", "display_name", "password", "new_password"), no_update)
    try:
        if _clicked(ids.ADMIN_USER_CREATE, create):
            department, team = _assignment(assignment)
            user = admin.create_user(actor, username, display_name, role, region, password, department, team)
            done = t("admin.done_user_create", lang, username=user.username)
            cleared.update(username="", display_name="", password="")
        elif _clicked(ids.ADMIN_USER_DEACTIVATE, deactivate):
            user = admin.set_user_active(actor, selected, active=False)
            done = t("admin.done_user_deactivate", lang, username=user.username)
        elif _clicked(ids.ADMIN_USER_REACTIVATE, reactivate):
            user = admin.set_user_active(actor, selected, active=True)
            done = t("admin.done_user_reactivate", lang, username=user.username)
        elif _clicked(ids.ADMIN_USER_UNLOCK, unlock):
            user = admin.unlock_user(actor, selected)
            done = t("admin.done_user_unlock", lang, username=user.username)
        elif _clicked(ids.ADMIN_USER_END_SESSIONS, end_sessions):
            user = admin.end_user_sessions(actor, selected)
            done = t("admin.done_user_end_sessions", lang, username=user.username)
        elif _clicked(ids.ADMIN_USER_RESET_PASSWORD, reset):
            user = admin.reset_password(actor, selected, new_password)
            done = t("admin.done_user_password", lang, username=user.username)
            cleared["new_password"] = ""
        else:
            raise PreventUpdate
        message, changed = admin_layout.feedback(done, True), _now()
    except AdminError as error:
        message, changed = admin_layout.feedback(error.message(lang), False), no_update
    section = admin_layout.users_refresh(admin_query.users(lang))
    return {**section, "feedback": message, **cleared, "changed": changed}


def _assignment(value: object) -> tuple[object, object]:
    """The chosen "department:<code>" or "team:<code>" as (department, team); services.admin validates them."""
    if not isinstance(value, str) or not value:
        return None, None
    kind, _, code = value.partition(":")
    return (code, None) if kind == "department" else (None, code) if kind == "team" else (value, None)


def _wall_url(region_code: str, token: str) -> str:
    """The address a wall opens: this server's, with the token's region and the token."""
    return f"{request.host_url.rstrip('/')}/wall?{urlencode({'region': region_code, 'token': token})}"


def tokens_changed(create, revoke, name, region, selected, lang) -> dict:
    """Create a wall token (shown once, with its wall address) or revoke the chosen one."""
    lang = _lang(lang)
    actor = _actor()
    cleared_name = cleared_choice = changed = no_update
    try:
        if _clicked(ids.ADMIN_TOKEN_CREATE, create):
            view, token = admin.create_wall_token(actor, name, region)
            done = t("admin.done_token_create", lang, name=view.name)
            url = _wall_url(view.scope, token)
            message = admin_layout.secret_panel(done, token, ids.ADMIN_TOKEN_SECRET, lang, url)
            cleared_name, changed = "", _now()
        elif _clicked(ids.ADMIN_TOKEN_REVOKE, revoke):
            revoked = admin.revoke_wall_tokens(actor, token_id=selected)
            message = admin_layout.feedback(t("admin.done_token_revoke", lang, name=", ".join(revoked)), True)
            cleared_choice, changed = None, _now()
        else:
            raise PreventUpdate
    except AdminError as error:
        message = admin_layout.feedback(error.message(lang), False)
    section = admin_layout.tokens_refresh(admin_query.wall_tokens(lang))
    return {**section, "feedback": message, "selected": cleared_choice, "name": cleared_name, "changed": changed}


def keys_changed(
    create, revoke, scope, name, channel, region, actions, selected, scope_region, scope_actions, lang
) -> dict:
    """Create an API key (shown once; limited to region and actions), or revoke or re-scope the chosen one."""
    lang = _lang(lang)
    actor = _actor()
    cleared_name = cleared_choice = changed = no_update
    scoped = []
    try:
        if _clicked(ids.ADMIN_KEY_CREATE, create):
            # An empty region is the whole database; unticking every action is refused (it names the field).
            view, key = admin.create_api_key(actor, name, channel, region, actions if actions is not None else [])
            done = t("admin.done_key_create", lang, name=view.name)
            message = admin_layout.secret_panel(done, key, ids.ADMIN_KEY_SECRET, lang)
            cleared_name, changed = "", _now()
        elif _clicked(ids.ADMIN_KEY_REVOKE, revoke):
            revoked = admin.revoke_api_keys(actor, key_id=selected)
            message = admin_layout.feedback(t("admin.done_key_revoke", lang, name=", ".join(revoked)), True)
            cleared_choice, changed = None, _now()
        elif _clicked(ids.ADMIN_KEY_SCOPE, scope):
            # Nothing chosen leaves that half as it is; "all" in the region list is the whole database.
            scoped = admin.set_api_key_scope(
                actor,
                key_id=selected,
                region_code=admin.KEEP if scope_region in (None, "") else scope_region,
                actions=scope_actions or admin.KEEP,
            )
            message, changed = None, _now()
        else:
            raise PreventUpdate
    except AdminError as error:
        message = admin_layout.feedback(error.message(lang), False)
    view = admin_query.api_keys(lang)
    if scoped:
        message = admin_layout.feedback(" ".join(admin_layout.scope_done(key, view) for key in scoped), True)
    section = admin_layout.keys_refresh(view)
    return {**section, "feedback": message, "selected": cleared_choice, "name": cleared_name, "changed": changed}


def audit_refreshed(refresh, users, tokens, keys, lang) -> dict:
    """The newest audit entries, again: on the refresh button and after every change on this page."""
    return {"table": admin_layout.audit_table(admin_query.audit(_lang(lang), admin.RECENT_AUDIT_ENTRIES))}


def _audit_table(lang: str):
    return admin_layout.audit_table(admin_query.audit(lang, admin.RECENT_AUDIT_ENTRIES))


def imported(contents, filename, crs, archive, lang) -> dict:
    """Import an uploaded file (its name decides the kind, like the drop folder's) and show its report."""
    lang = _lang(lang)
    limit = _upload_limit()
    contents = valid.text(contents, "contents", max_length=(limit // 3 + 1) * 4 + 200)
    filename = valid.text(filename, "filename", max_length=admin.MAX_FILE_NAME_LENGTH * 4)
    crs = valid.text(crs, "crs", max_length=10) or "auto"
    archive = valid.strings(archive, "archive", max_items=1, max_length=10)
    if not contents:
        raise PreventUpdate
    try:
        report = admin.import_upload(
            _actor(),
            current_app.extensions["ingestor"],
            filename,
            contents,
            limit,
            crs=crs,
            archive_missing="archive" in archive,
        )
    except AdminError as error:
        return {"report": admin_layout.feedback(error.message(lang), False), "audit": no_update}
    view = admin_query.import_report(report, lang)
    return {"report": admin_layout.import_report_panel(view), "audit": _audit_table(lang)}


def calendar_changed(year, save, holidays, workdays, lang) -> dict:
    """Show another year of the working-day calendar, or save the form into the override file and
    reload the calendar at once (every process also re-reads the file hourly)."""
    lang = _lang(lang)
    year = valid.integer(year, "year", low=WORKCAL_FIRST_YEAR, high=WORKCAL_LAST_YEAR)
    holidays = valid.text(holidays, "holidays", max_length=admin.MAX_CALENDAR_TEXT)
    workdays = valid.text(workdays, "workdays", max_length=admin.MAX_CALENDAR_TEXT)
    valid.clicks(save, "save")
    result = {"holidays": no_update, "workdays": no_update, "audit": no_update}
    if _clicked(ids.ADMIN_CALENDAR_SAVE, save):
        try:
            saved = admin.save_calendar_year(
                _actor(), current_app.config["CALENDAR_OVERRIDE_FILE"], year, holidays, workdays
            )
        except AdminError as error:
            return {**result, "view": no_update, "feedback": admin_layout.feedback(error.message(lang), False)}
        reload_calendar(current_app._get_current_object())
        done = t(f"admin.done_{saved['action']}", lang, **saved)
        result.update(feedback=admin_layout.feedback(done, True), audit=_audit_table(lang))
    elif ctx.triggered_id == ids.ADMIN_CALENDAR_YEAR and year is not None:
        result["feedback"] = None
    else:
        raise PreventUpdate
    view = admin_query.calendar(lang, year)
    texts = {"holidays": admin_layout.dates_text(view.holidays), "workdays": admin_layout.dates_text(view.workdays)}
    return {**result, **texts, "view": admin_layout.calendar_months(view)}


def _credential_outputs(table: str, feedback: str, select: str, name: str, section: str) -> dict:
    return {
        "table": Output(table, "children"),
        "feedback": Output(feedback, "children"),
        "options": Output(select, "options"),
        "selected": Output(select, "value"),
        "name": Output(name, "value"),
        "changed": Output(ids.ADMIN_CHANGED.format(section), "data"),
    }


def register(app) -> None:
    """Attach the administration callbacks (each declares the permission it needs)."""
    admin_webhooks.register(app)  # the webhooks section (issue 16)
    callback(
        app,
        Permission.ADMIN,
        output={
            "table": Output(ids.ADMIN_USERS_TABLE, "children"),
            "feedback": Output(ids.ADMIN_USER_FEEDBACK, "children"),
            "options": Output(ids.ADMIN_USER_SELECT, "options"),
            "username": Output(ids.ADMIN_USER_USERNAME, "value"),
            "display_name": Output(ids.ADMIN_USER_DISPLAY_NAME, "value"),
            "password": Output(ids.ADMIN_USER_PASSWORD, "value"),
            "new_password": Output(ids.ADMIN_USER_NEW_PASSWORD, "value"),
            "changed": Output(ids.ADMIN_CHANGED.format("users"), "data"),
        },
        inputs={
            "create": Input(ids.ADMIN_USER_CREATE, "n_clicks"),
            "deactivate": Input(ids.ADMIN_USER_DEACTIVATE, "n_clicks"),
            "reactivate": Input(ids.ADMIN_USER_REACTIVATE, "n_clicks"),
            "unlock": Input(ids.ADMIN_USER_UNLOCK, "n_clicks"),
            "reset": Input(ids.ADMIN_USER_RESET_PASSWORD, "n_clicks"),
            "end_sessions": Input(ids.ADMIN_USER_END_SESSIONS, "n_clicks"),
        },
        state={
            "username": State(ids.ADMIN_USER_USERNAME, "value"),
            "display_name": State(ids.ADMIN_USER_DISPLAY_NAME, "value"),
            "role": State(ids.ADMIN_USER_ROLE, "value"),
            "region": State(ids.ADMIN_USER_REGION, "value"),
            "password": State(ids.ADMIN_USER_PASSWORD, "value"),
            "selected": State(ids.ADMIN_USER_SELECT, "value"),
            "new_password": State(ids.ADMIN_USER_NEW_PASSWORD, "value"),
            "lang": State(ids.ADMIN_LANG, "data"),
            "assignment": State(ids.ADMIN_USER_ASSIGNMENT, "value"),
        },
        prevent_initial_call=True,
    )(users_changed)
    # In the browser (ui/assets/tasks.js): the department or team field shows for the handler role only.
    app.clientside_callback(
        ClientsideFunction("tasks", "assigneeField"),
        Output(ids.ADMIN_USER_ASSIGNMENT_FIELD, "style"),
        Input(ids.ADMIN_USER_ROLE, "value"),
    )
    callback(
        app,
        Permission.ADMIN,
        output=_credential_outputs(
            ids.ADMIN_TOKENS_TABLE, ids.ADMIN_TOKEN_FEEDBACK, ids.ADMIN_TOKEN_SELECT, ids.ADMIN_TOKEN_NAME, "tokens"
        ),
        inputs={
            "create": Input(ids.ADMIN_TOKEN_CREATE, "n_clicks"),
            "revoke": Input(ids.ADMIN_TOKEN_REVOKE, "submit_n_clicks"),
        },
        state={
            "name": State(ids.ADMIN_TOKEN_NAME, "value"),
            "region": State(ids.ADMIN_TOKEN_REGION, "value"),
            "selected": State(ids.ADMIN_TOKEN_SELECT, "value"),
            "lang": State(ids.ADMIN_LANG, "data"),
        },
        prevent_initial_call=True,
    )(tokens_changed)
    callback(
        app,
        Permission.ADMIN,
        output=_credential_outputs(
            ids.ADMIN_KEYS_TABLE, ids.ADMIN_KEY_FEEDBACK, ids.ADMIN_KEY_SELECT, ids.ADMIN_KEY_NAME, "keys"
        ),
        inputs={
            "create": Input(ids.ADMIN_KEY_CREATE, "n_clicks"),
            "revoke": Input(ids.ADMIN_KEY_REVOKE, "submit_n_clicks"),
            "scope": Input(ids.ADMIN_KEY_SCOPE, "n_clicks"),
        },
        state={
            "name": State(ids.ADMIN_KEY_NAME, "value"),
            "channel": State(ids.ADMIN_KEY_CHANNEL, "value"),
            "region": State(ids.ADMIN_KEY_REGION, "value"),
            "actions": State(ids.ADMIN_KEY_ACTIONS, "value"),
            "selected": State(ids.ADMIN_KEY_SELECT, "value"),
            "scope_region": State(ids.ADMIN_KEY_SCOPE_REGION, "value"),
            "scope_actions": State(ids.ADMIN_KEY_SCOPE_ACTIONS, "value"),
            "lang": State(ids.ADMIN_LANG, "data"),
        },
        prevent_initial_call=True,
    )(keys_changed)
    callback(
        app,
        Permission.ADMIN,
        output={"table": Output(ids.ADMIN_AUDIT_TABLE, "children")},
        inputs={
            "refresh": Input(ids.ADMIN_AUDIT_REFRESH, "n_clicks"),
            # Not the feedback panels: they may hold a new secret, which must not travel back to the server.
            "users": Input(ids.ADMIN_CHANGED.format("users"), "data"),
            "tokens": Input(ids.ADMIN_CHANGED.format("tokens"), "data"),
            "keys": Input(ids.ADMIN_CHANGED.format("keys"), "data"),
        },
        state={"lang": State(ids.ADMIN_LANG, "data")},
        prevent_initial_call=True,
    )(audit_refreshed)
    # The two below redraw the audit log themselves (a second writer of it: allow_duplicate).
    audit_output = Output(ids.ADMIN_AUDIT_TABLE, "children", allow_duplicate=True)
    callback(
        app,
        Permission.ADMIN,
        output={"report": Output(ids.ADMIN_IMPORT_REPORT, "children"), "audit": audit_output},
        inputs={"contents": Input(ids.ADMIN_IMPORT_UPLOAD, "contents")},
        state={
            "filename": State(ids.ADMIN_IMPORT_UPLOAD, "filename"),
            "crs": State(ids.ADMIN_IMPORT_CRS, "value"),
            "archive": State(ids.ADMIN_IMPORT_ARCHIVE, "value"),
            "lang": State(ids.ADMIN_LANG, "data"),
        },
        prevent_initial_call=True,
    )(imported)
    callback(
        app,
        Permission.ADMIN,
        output={
            "view": Output(ids.ADMIN_CALENDAR_VIEW, "children"),
            "holidays": Output(ids.ADMIN_CALENDAR_HOLIDAYS, "value"),
            "workdays": Output(ids.ADMIN_CALENDAR_WORKDAYS, "value"),
            "feedback": Output(ids.ADMIN_CALENDAR_FEEDBACK, "children"),
            "audit": audit_output,
        },
        inputs={
            "year": Input(ids.ADMIN_CALENDAR_YEAR, "value"),
            "save": Input(ids.ADMIN_CALENDAR_SAVE, "submit_n_clicks"),
        },
        state={
            "holidays": State(ids.ADMIN_CALENDAR_HOLIDAYS, "value"),
            "workdays": State(ids.ADMIN_CALENDAR_WORKDAYS, "value"),
            "lang": State(ids.ADMIN_LANG, "data"),
        },
        prevent_initial_call=True,
    )(calendar_changed)
