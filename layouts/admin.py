"""Administration: users, wall tokens, API keys, imports by upload, the working-day calendar and the
recent audit log (admins only).

`render` draws every section from the page's view (queries.admin.read); the callbacks
(callbacks/admin.py) redraw a section with the same functions after each change.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dash import dcc, html

from dashboard.domain.keys import UNBOUNDED, KeyAction
from dashboard.domain.roles import ACCOUNT_ROLES, Role
from dashboard.domain.vocab import Channel
from dashboard.ui import ids
from dashboard.ui.chrome import Viewer
from dashboard.ui.i18n import label, t
from layouts import admin_webhooks
from layouts.console import calendar_banner, page
from layouts.walls import section as walls_section

if TYPE_CHECKING:
    from dashboard.queries.admin import (
        AdminView,
        ApiKeyView,
        AuditView,
        CalendarView,
        CredentialsView,
        CredentialView,
        ImportReportView,
        ImportsView,
        UsersView,
        UserView,
    )

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def render(view: AdminView, viewer: Viewer, walls: list | None = None) -> html.Div:
    """The administration page, in the view's language (walls: queries.walls rows, the screens' health)."""
    lang = view.lang
    body = [
        dcc.Store(id=ids.ADMIN_LANG, data=lang),
        *[dcc.Store(id=ids.ADMIN_CHANGED.format(section)) for section in ("users", "tokens", "keys")],
        html.H2(t("admin.title", lang), className="admin-title"),
        _users_section(view.users, view.regions, view.min_password_length, view.assignees),
        html.Div(
            [_tokens_section(view.tokens, view.regions), _keys_section(view.keys, view.regions)],
            className="console-row",
        ),
        *([_imports_section(view.imports)] if view.imports else []),
        *([_calendar_section(view.calendar)] if view.calendar else []),
        *([admin_webhooks.section(view.webhooks)] if view.webhooks else []),
        *([walls_section(walls, lang)] if walls is not None else []),
        _audit_section(view.audit),
    ]
    return page(viewer, lang, "admin", "/admin" + ("" if lang == "en" else "?lang=en"), body)


# ---------------------------------------------------------------------------- tables (also used by the callbacks)


def users_refresh(view: UsersView) -> dict:
    """The users section after a change: its table and the users to choose from."""
    return {"table": users_table(view), "options": user_options(view.users)}


def tokens_refresh(view: CredentialsView) -> dict:
    """The wall tokens' section after a change: its table and the tokens that can still be revoked."""
    scope_label = partial(region_label, names=view.names, lang=view.lang)
    return {"table": tokens_table(view), "options": active_options(view.rows, scope_label)}


def keys_refresh(view: CredentialsView) -> dict:
    """The API keys' section after a change: its table and the keys that can still be revoked or narrowed."""
    return {"table": keys_table(view), "options": key_options(view)}


def local_time(instant: dt.datetime | None, timezone: ZoneInfo) -> str:
    """An instant in the configured local time (Beijing by default), or a dash."""
    if instant is None:
        return "—"
    return instant.astimezone(timezone).strftime(TIME_FORMAT)


def _table(headers: list[str], rows: list[html.Tr], lang: str) -> html.Table | html.P:
    if not rows:
        return html.P(t("admin.none", lang), className="console-hint")
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in headers])), html.Tbody(rows)], className="console-table admin-table"
    )


def region_label(code: str | None, names: dict[str, str], lang: str) -> str:
    """A region as "name · code"; no region is the whole database (an admin)."""
    if code is None:
        return t("admin.whole_district", lang)
    return f"{names.get(code, code)} · {code}"


def users_table(view: UsersView):
    """Username, display name, role, region, state, lock-out and failed log-ins of every user."""
    lang, names = view.lang, view.names
    rows = []
    for user in view.users:
        locked = user.locked(view.now)
        classes = [name for name, on in (("admin-row-muted", not user.active), ("admin-row-locked", locked)) if on]
        rows.append(
            html.Tr(
                [
                    html.Td(user.username, className="admin-mono"),
                    html.Td(user.display_name),
                    html.Td(label(user.role, lang)),
                    html.Td(region_label(user.region_code, names, lang)),
                    html.Td(assignment_label(user.assignment, view.assignments)),
                    html.Td(t("admin.active", lang) if user.active else t("admin.inactive", lang)),
                    html.Td(local_time(user.locked_until, view.timezone) if locked else "—"),
                    html.Td(str(user.failed_logins), className="num"),
                ],
                className=" ".join(classes),
                id=ids.ADMIN_USER_ROW.format(user.username),
            )
        )
    headers = [
        t(f"admin.col_{key}", lang)
        for key in (
            "username", "display_name", "role", "region", "assignment", "active", "locked_until", "failed_logins"
        )
    ]  # fmt: skip
    return _table(headers, rows, lang)


def assignment_label(code: str | None, names: dict[str, str]) -> str:
    """A handler's department or team as "name · code"; other accounts have none."""
    return f"{names.get(code, code)} · {code}" if code else "—"


def assignee_options(assignees: list[tuple[str, str, str]]) -> list[dict]:
    """Departments and teams a handler may belong to; the value says which kind ("team:510107001001/patrol")."""
    return [{"label": f"{name} · {code}", "value": f"{kind}:{code}"} for kind, code, name in assignees]


def credentials_table(view: CredentialsView, scope_header: str, scope_label):
    """Name, scope (region or channel), created and revoked of every wall token or API key."""
    lang, zone = view.lang, view.timezone
    body = [
        html.Tr(
            [
                html.Td(row.name, className="admin-mono"),
                html.Td(scope_label(row.scope)),
                html.Td(local_time(row.created_at, zone)),
                html.Td(local_time(row.revoked_at, zone) if row.revoked_at else t("admin.in_force", lang)),
            ],
            className="admin-row-muted" if row.revoked_at else "",
        )
        for row in view.rows
    ]
    headers = [t("admin.col_name", lang), scope_header, t("admin.col_created", lang), t("admin.col_revoked", lang)]
    return _table(headers, body, lang)


def tokens_table(view: CredentialsView):
    """The wall tokens' table."""
    scope_label = partial(region_label, names=view.names, lang=view.lang)
    return credentials_table(view, t("admin.col_region", view.lang), scope_label)


def keys_table(view: CredentialsView):
    """Name, channel, region, actions, created and revoked of every API key."""
    lang, zone = view.lang, view.timezone
    body = [
        html.Tr(
            [
                html.Td(row.name, className="admin-mono"),
                html.Td(channel_label(row.scope, lang)),
                html.Td(region_label(row.region_code, view.names, lang)),
                html.Td(actions_label(row.actions, lang)),
                html.Td(local_time(row.created_at, zone)),
                html.Td(local_time(row.revoked_at, zone) if row.revoked_at else t("admin.in_force", lang)),
            ],
            className="admin-row-muted" if row.revoked_at else "",
        )
        for row in view.rows
    ]
    headers = [t(f"admin.col_{key}", lang) for key in ("name", "channel", "region", "actions", "created", "revoked")]
    return _table(headers, body, lang)


def actions_label(actions: tuple[KeyAction, ...] | None, lang: str) -> str:
    """A key's actions by name; None (not narrowed) is every action."""
    if actions is None:
        return t("admin.all_actions", lang)
    return ("、" if lang == "zh" else ", ").join(label(action, lang) for action in actions)


def scope_done(key: ApiKeyView, view: CredentialsView) -> str:
    """The outcome of setting a key's region and actions, in the section's language."""
    lang = view.lang
    region = region_label(key.region_code, view.names, lang)
    return t("admin.done_key_scope", lang, name=key.name, region=region, actions=actions_label(key.actions, lang))


def key_options(view: CredentialsView) -> list[dict]:
    """The keys that can still be revoked or narrowed, as "name · channel · region"."""
    lang = view.lang
    rows: list[ApiKeyView] = view.rows  # type: ignore[assignment] - the keys' section holds ApiKeyViews

    def scope(row: ApiKeyView) -> str:
        return f"{channel_label(row.scope, lang)} · {region_label(row.region_code, view.names, lang)}"

    return [{"label": f"{r.name} · {scope(r)}", "value": r.id} for r in rows if r.revoked_at is None]


def channel_label(code: str, lang: str) -> str:
    """A channel code's name."""
    return label(Channel(code), lang)


def audit_table(view: AuditView):
    """When (local time), who, action, target and purpose of each entry, newest first."""
    lang = view.lang
    rows = [
        html.Tr(
            [
                html.Td(local_time(entry.at, view.timezone), className="admin-nowrap"),
                html.Td(entry.actor),
                html.Td(entry.action, className="admin-mono"),
                html.Td(entry.target, className="admin-mono"),
                html.Td(entry.purpose or "—"),
            ]
        )
        for entry in view.entries
    ]
    headers = [t(f"admin.col_{key}", lang) for key in ("when", "actor", "action", "target", "purpose")]
    return _table(headers, rows, lang)


def user_options(users: list[UserView]) -> list[dict]:
    """The existing users to choose from."""
    return [
        {
            "label": f"{u.username} · {u.display_name}" if u.display_name != u.username else u.username,
            "value": u.username,
        }
        for u in users
    ]


def active_options(rows: list[CredentialView], scope_label) -> list[dict]:
    """The credentials that can still be revoked."""
    return [{"label": f"{r.name} · {scope_label(r.scope)}", "value": r.id} for r in rows if r.revoked_at is None]


def region_options(regions: list[tuple[str, str]]) -> list[dict]:
    """Regions to choose from, as "name · code" (the code shows the level: 6, 9 or 12 digits)."""
    return [{"label": f"{name} · {code}", "value": code} for code, name in regions]


def feedback(message: str, ok: bool) -> html.P:
    """A one-line outcome of an action: good news, or an error that names the field."""
    return html.P(message, className="console-good" if ok else "console-bad", role="status" if ok else "alert")


def secret_panel(done: str, secret: str, secret_id: str, lang: str, wall_url: str | None = None) -> html.Div:
    """A new token or key, shown this once, with the wall address for a wall token."""
    parts = [feedback(done, True), html.Code(secret, id=secret_id, className="admin-secret-value")]
    if wall_url:
        parts.append(
            html.P(
                [
                    html.Span(t("admin.wall_url", lang) + ": "),
                    html.A(wall_url, href=wall_url, id=ids.ADMIN_WALL_URL, target="_blank", rel="noopener noreferrer"),
                ],
                className="admin-wall-url",
            )
        )
    parts.append(html.P(t("admin.shown_once", lang), className="admin-warning"))
    return html.Div(parts, className="admin-secret")


# ---------------------------------------------------------------------------- sections


def _field(text: str, control, hint: str | None = None) -> html.Div:
    parts = [html.Label(text, htmlFor=control.id), control]
    if hint:
        parts.append(html.Span(hint, className="admin-hint"))
    return html.Div(parts, className="admin-field")


def _users_section(
    view: UsersView, regions: list[tuple[str, str]], min_password_length: int, assignees: list[tuple[str, str, str]]
) -> html.Div:
    lang = view.lang
    new_user = html.Div(
        [
            html.H3(t("admin.new_user", lang)),
            html.Div(
                [
                    _field(
                        t("admin.field_username", lang),
                        dcc.Input(id=ids.ADMIN_USER_USERNAME, maxLength=64, autoComplete="off"),
                        t("admin.username_hint", lang),
                    ),
                    _field(
                        t("admin.field_display_name", lang),
                        dcc.Input(id=ids.ADMIN_USER_DISPLAY_NAME, maxLength=64, autoComplete="off"),
                        t("admin.display_name_hint", lang),
                    ),
                    _field(
                        t("admin.field_role", lang),
                        dcc.RadioItems(
                            id=ids.ADMIN_USER_ROLE,
                            options=[{"label": label(role, lang), "value": role.value} for role in ACCOUNT_ROLES],
                            value=Role.SUPERVISOR.value,
                            inline=True,
                            className="admin-radio",
                        ),
                    ),
                    _field(
                        t("admin.field_region", lang),
                        dcc.Dropdown(
                            id=ids.ADMIN_USER_REGION,
                            options=region_options(regions),
                            placeholder=t("admin.choose", lang),
                            className="admin-dropdown",
                        ),
                        t("admin.region_hint", lang),
                    ),
                    # Shown for the handler role only (tasks.js assigneeField): the department or team.
                    html.Div(
                        _field(
                            t("admin.field_assignment", lang),
                            dcc.Dropdown(
                                id=ids.ADMIN_USER_ASSIGNMENT,
                                options=assignee_options(assignees),
                                placeholder=t("admin.choose", lang),
                                className="admin-dropdown",
                            ),
                            t("admin.assignment_hint", lang),
                        ),
                        id=ids.ADMIN_USER_ASSIGNMENT_FIELD,
                        style={"display": "none"},
                    ),
                    _field(
                        t("admin.field_password", lang),
                        dcc.Input(id=ids.ADMIN_USER_PASSWORD, type="password", autoComplete="new-password"),
                        t("admin.password_hint", lang, min=min_password_length),
                    ),
                ],
                className="admin-form",
            ),
            html.Button(t("admin.create", lang), id=ids.ADMIN_USER_CREATE, n_clicks=0, className="admin-button"),
        ],
        className="admin-panel",
    )
    manage = html.Div(
        [
            html.H3(t("admin.manage_user", lang)),
            html.Div(
                [
                    _field(
                        t("admin.field_user", lang),
                        dcc.Dropdown(
                            id=ids.ADMIN_USER_SELECT,
                            options=user_options(view.users),
                            placeholder=t("admin.choose", lang),
                            className="admin-dropdown",
                        ),
                    ),
                    html.Div(
                        [
                            html.Button(
                                t("admin.deactivate", lang),
                                id=ids.ADMIN_USER_DEACTIVATE,
                                n_clicks=0,
                                className="admin-button admin-danger",
                            ),
                            html.Button(
                                t("admin.reactivate", lang),
                                id=ids.ADMIN_USER_REACTIVATE,
                                n_clicks=0,
                                className="admin-button admin-secondary",
                            ),
                            html.Button(
                                t("admin.unlock", lang),
                                id=ids.ADMIN_USER_UNLOCK,
                                n_clicks=0,
                                className="admin-button admin-secondary",
                            ),
                            html.Button(
                                t("admin.end_sessions", lang),
                                id=ids.ADMIN_USER_END_SESSIONS,
                                n_clicks=0,
                                className="admin-button admin-secondary",
                            ),
                        ],
                        className="admin-actions",
                    ),
                    _field(
                        t("admin.field_new_password", lang),
                        dcc.Input(id=ids.ADMIN_USER_NEW_PASSWORD, type="password", autoComplete="new-password"),
                        t("admin.password_hint", lang, min=min_password_length),
                    ),
                    html.Div(
                        html.Button(
                            t("admin.reset_password", lang),
                            id=ids.ADMIN_USER_RESET_PASSWORD,
                            n_clicks=0,
                            className="admin-button admin-secondary",
                        ),
                        className="admin-actions",
                    ),
                ],
                className="admin-form admin-form-narrow",
            ),
        ],
        className="admin-panel",
    )
    return html.Section(
        [
            html.H3(t("admin.users", lang)),
            html.P(t("admin.users_help", lang), className="console-hint"),
            html.Div(users_table(view), id=ids.ADMIN_USERS_TABLE, className="admin-scroll"),
            html.Div(id=ids.ADMIN_USER_FEEDBACK, className="admin-feedback"),
            html.Div([new_user, manage], className="admin-panels"),
        ],
        className="console-card admin-section",
        id="admin-users",
    )


def _credential_forms(
    lang: str,
    name_id: str,
    name_hint: str,
    scope_field,
    create_id: str,
    select_id: str,
    options: list[dict],
    revoke_id: str,
    revoke_title: str,
    confirm: str,
    manage: list | None = None,
) -> html.Div:
    create = html.Div(
        [
            html.Div(
                [
                    _field(
                        t("admin.field_name", lang), dcc.Input(id=name_id, maxLength=64, autoComplete="off"), name_hint
                    ),
                    *(scope_field if isinstance(scope_field, list) else [scope_field]),
                ],
                className="admin-form",
            ),
            html.Button(t("admin.create", lang), id=create_id, n_clicks=0, className="admin-button"),
        ],
        className="admin-panel",
    )
    revoke = html.Div(
        [
            html.H3(revoke_title),
            html.Div(
                [
                    html.Div(
                        dcc.Dropdown(
                            id=select_id,
                            options=options,
                            placeholder=t("admin.choose", lang),
                            className="admin-dropdown",
                        ),
                        className="admin-field admin-grow",
                    ),
                    dcc.ConfirmDialogProvider(
                        html.Button(t("admin.revoke", lang), className="admin-button admin-danger"),
                        id=revoke_id,
                        message=confirm,
                    ),
                ],
                className="admin-inline",
            ),
            *(manage or []),
        ],
        className="admin-panel",
    )
    return html.Div([create, revoke], className="admin-panels admin-panels-stacked")


def _tokens_section(view: CredentialsView, regions: list[tuple[str, str]]) -> html.Section:
    lang = view.lang
    region = _field(
        t("admin.field_region", lang),
        dcc.Dropdown(
            id=ids.ADMIN_TOKEN_REGION,
            options=region_options(regions),
            placeholder=t("admin.choose", lang),
            className="admin-dropdown",
        ),
    )
    return html.Section(
        [
            html.H3(t("admin.wall_tokens", lang)),
            html.P(t("admin.wall_tokens_help", lang), className="console-hint"),
            html.Div(tokens_table(view), id=ids.ADMIN_TOKENS_TABLE, className="admin-scroll"),
            html.Div(id=ids.ADMIN_TOKEN_FEEDBACK, className="admin-feedback"),
            _credential_forms(
                lang,
                ids.ADMIN_TOKEN_NAME,
                t("admin.token_name_hint", lang),
                region,
                ids.ADMIN_TOKEN_CREATE,
                ids.ADMIN_TOKEN_SELECT,
                active_options(view.rows, partial(region_label, names=view.names, lang=lang)),
                ids.ADMIN_TOKEN_REVOKE,
                t("admin.revoke_token", lang),
                t("admin.revoke_token_confirm", lang),
            ),
        ],
        className="console-card console-half admin-section",
        id="admin-tokens",
    )


def _action_choices(control_id: str, lang: str, value: list[str], hint: str) -> html.Div:
    return _field(
        t("admin.field_actions", lang),
        dcc.Checklist(
            id=control_id,
            options=[{"label": label(action, lang), "value": action.value} for action in KeyAction],
            value=value,
            className="admin-radio",
        ),
        hint,
    )


def _keys_section(view: CredentialsView, regions: list[tuple[str, str]]) -> html.Section:
    lang = view.lang
    channel = _field(
        t("admin.field_channel", lang),
        dcc.Dropdown(
            id=ids.ADMIN_KEY_CHANNEL,
            options=[{"label": label(c, lang), "value": c.value} for c in Channel],
            placeholder=t("admin.choose", lang),
            className="admin-dropdown",
        ),
    )
    region = _field(
        t("admin.field_region", lang),
        dcc.Dropdown(
            id=ids.ADMIN_KEY_REGION,
            options=region_options(regions),
            placeholder=t("admin.whole_district", lang),
            className="admin-dropdown",
        ),
        t("admin.key_region_hint", lang),
    )
    every_action = [action.value for action in KeyAction]
    actions = _action_choices(ids.ADMIN_KEY_ACTIONS, lang, every_action, t("admin.key_actions_hint", lang))
    scope = [
        _field(
            t("admin.field_region", lang),
            dcc.Dropdown(
                id=ids.ADMIN_KEY_SCOPE_REGION,
                options=[{"label": t("admin.whole_district", lang), "value": UNBOUNDED}, *region_options(regions)],
                placeholder=t("admin.choose", lang),
                className="admin-dropdown",
            ),
            t("admin.key_scope_region_hint", lang),
        ),
        _action_choices(ids.ADMIN_KEY_SCOPE_ACTIONS, lang, [], t("admin.key_scope_actions_hint", lang)),
        html.Div(
            html.Button(
                t("admin.set_scope", lang), id=ids.ADMIN_KEY_SCOPE, n_clicks=0, className="admin-button admin-secondary"
            ),
            className="admin-actions",
        ),
    ]
    return html.Section(
        [
            html.H3(t("admin.api_keys", lang)),
            html.P(t("admin.api_keys_help", lang), className="console-hint"),
            html.Div(keys_table(view), id=ids.ADMIN_KEYS_TABLE, className="admin-scroll"),
            html.Div(id=ids.ADMIN_KEY_FEEDBACK, className="admin-feedback"),
            _credential_forms(
                lang,
                ids.ADMIN_KEY_NAME,
                t("admin.key_name_hint", lang),
                [channel, region, actions],
                ids.ADMIN_KEY_CREATE,
                ids.ADMIN_KEY_SELECT,
                key_options(view),
                ids.ADMIN_KEY_REVOKE,
                t("admin.manage_key", lang),
                t("admin.revoke_key_confirm", lang),
                manage=scope,
            ),
        ],
        className="console-card console-half admin-section",
        id="admin-keys",
    )


def _audit_section(view: AuditView) -> html.Section:
    lang = view.lang
    return html.Section(
        [
            html.Div(
                [
                    html.H3(t("admin.audit", lang, count=view.limit)),
                    html.Button(
                        t("admin.refresh", lang),
                        id=ids.ADMIN_AUDIT_REFRESH,
                        n_clicks=0,
                        className="admin-button admin-secondary",
                    ),
                ],
                className="admin-inline",
            ),
            html.Div(audit_table(view), id=ids.ADMIN_AUDIT_TABLE, className="admin-scroll admin-audit"),
        ],
        className="console-card admin-section",
        id="admin-audit",
    )


# ---------------------------------------------------------------------------- imports by upload

IMPORT_PREFIXES = (
    "regions",
    "departments",
    "teams",
    "staff",
    "visits",
    "population",
    "appeals",
    "residents",
    "businesses",
)


def _label_or_key(key: str, lang: str, fallback: str) -> str:
    """A string from the catalogue, or fallback (an importer may report a count we have no word for)."""
    try:
        return t(key, lang)
    except KeyError:
        return fallback


def import_report_panel(view: ImportReportView) -> html.Div:
    """The report of an uploaded file: its counts, then each record refused with the field and the reason."""
    lang = view.lang
    title = view.file + (f" · {_label_or_key(f'admin.import_kind_{view.kind}', lang, view.kind)}" if view.kind else "")
    parts: list = [html.H4(title, className="admin-import-title")]
    if view.file_error:
        parts.append(feedback(t("admin.import_failed", lang, reason=view.file_error), False))
    if view.counts:
        parts.append(
            html.Ul(
                [
                    html.Li(
                        [
                            html.Span(
                                _label_or_key(f"admin.import_count_{key}", lang, key), className="admin-count-label"
                            ),
                            html.Span(f"{number:,}", className="admin-count-value", id=f"admin-import-count-{key}"),
                        ]
                    )
                    for key, number in view.counts
                ],
                className="admin-import-counts",
            )
        )
    for key, text in view.notes:
        parts.append(html.P([html.Strong(_label_or_key(f"admin.import_note_{key}", lang, key) + ": "), text]))
    if view.problems:
        rows = [
            html.Tr([html.Td(record, className="admin-mono"), html.Td(field or "—"), html.Td(reason)])
            for record, field, reason in view.problems
        ]
        headers = [t(f"admin.col_{key}", lang) for key in ("record", "field", "reason")]
        parts.append(html.H4(t("admin.import_problems", lang, count=len(view.problems))))
        parts.append(html.Div(_table(headers, rows, lang), className="admin-scroll admin-import-problems"))
        if view.problems_truncated:
            parts.append(html.P(t("admin.import_truncated", lang), className="console-hint"))
    elif not view.file_error:
        parts.append(feedback(t("admin.import_clean", lang), True))
    return html.Div(parts, className="admin-import-report")


def _imports_section(view: ImportsView) -> html.Section:
    lang = view.lang
    size = f"{view.max_bytes / 1_048_576:.0f}"
    return html.Section(
        [
            html.H3(t("admin.imports", lang)),
            html.P(
                t("admin.imports_help", lang, prefixes=", ".join(f"{p}*" for p in IMPORT_PREFIXES), size=size),
                className="console-hint",
            ),
            html.Div(
                [
                    _field(
                        t("admin.field_crs", lang),
                        dcc.RadioItems(
                            id=ids.ADMIN_IMPORT_CRS,
                            options=[
                                {"label": t(f"admin.crs_{crs}", lang), "value": crs}
                                for crs in ("auto", "wgs84", "gcj02")
                            ],
                            value="auto",
                            className="admin-radio",
                        ),
                        t("admin.crs_hint", lang),
                    ),
                    _field(
                        t("admin.field_archive", lang),
                        dcc.Checklist(
                            id=ids.ADMIN_IMPORT_ARCHIVE,
                            options=[{"label": t("admin.archive_missing", lang), "value": "archive"}],
                            value=[],
                            className="admin-radio",
                        ),
                        t("admin.archive_hint", lang),
                    ),
                ],
                className="admin-form",
            ),
            dcc.Upload(
                html.Div(t("admin.upload_drop", lang, size=size)),
                id=ids.ADMIN_IMPORT_UPLOAD,
                multiple=False,
                max_size=view.max_bytes,
                className="admin-upload",
            ),
            dcc.Loading(html.Div(id=ids.ADMIN_IMPORT_REPORT, className="admin-feedback"), type="dot"),
        ],
        className="console-card admin-section",
        id="admin-imports",
    )


# ---------------------------------------------------------------------------- the working-day calendar


def _source_label(source: str, lang: str) -> str:
    return t(f"admin.calendar_source_{source}", lang)


def calendar_months(view: CalendarView) -> html.Div:
    """The year's twelve months: working days plain, days off shaded, holidays and make-up days marked."""
    lang = view.lang
    weekdays = t("admin.calendar_weekdays", lang).split(",")
    months = []
    for number, days in enumerate(view.months, start=1):
        cells: list = [html.Span(name, className="cal-head") for name in weekdays]
        cells += [html.Span(className="cal-pad") for _ in range(days[0].day.weekday())]
        for entry in days:
            classes = ["cal-day", "cal-work" if entry.working else "cal-off"]
            if entry.mark:
                classes.append(f"cal-{entry.mark}")
            if entry.day == view.today:
                classes.append("cal-today")
            cells.append(
                html.Span(
                    str(entry.day.day),
                    className=" ".join(classes),
                    title=f"{entry.day.isoformat()} · "
                    + t("admin.calendar_working" if entry.working else "admin.calendar_off", lang),
                )
            )
        months.append(
            html.Div(
                [html.Div(t("admin.calendar_month", lang, year=view.year, month=number), className="cal-title"),
                 html.Div(cells, className="cal-grid")],
                className="cal-month",
            )
        )  # fmt: skip
    summary = t(
        "admin.calendar_summary",
        lang,
        year=view.year,
        source=_source_label(view.source, lang),
        working=view.working_days,
        holidays=len(view.holidays),
        workdays=len(view.workdays),
    )
    legend = html.Div(
        [
            html.Span(t("admin.calendar_legend_off", lang), className="cal-day cal-off"),
            html.Span(t("admin.calendar_legend_holiday", lang), className="cal-day cal-off cal-holiday"),
            html.Span(t("admin.calendar_legend_workday", lang), className="cal-day cal-work cal-workday"),
        ],
        className="cal-legend",
    )
    return html.Div(
        [
            html.P(summary, className=f"admin-calendar-summary cal-source-{view.source}", id="admin-calendar-summary"),
            legend,
            html.Div(months, className="cal-months"),
        ]
    )


def dates_text(days: list[dt.date]) -> str:
    """Dates for the form: one per line."""
    return "\n".join(day.isoformat() for day in days)


def _calendar_section(view: CalendarView) -> html.Section:
    lang = view.lang
    sources = " · ".join(f"{year}: {_source_label(source, lang)}" for year, source in view.sources)
    parts: list = [
        html.H3(t("admin.calendar", lang)),
        html.P(t("admin.calendar_help", lang, file=view.override_file), className="console-hint"),
        html.P(sources, className="admin-calendar-sources", id="admin-calendar-sources"),
    ]
    if view.fallback_soon:
        parts.append(html.P(calendar_banner(view.fallback_soon, lang), className="admin-warning", role="alert"))
    year_choice = _field(
        t("admin.field_year", lang),
        dcc.Dropdown(
            id=ids.ADMIN_CALENDAR_YEAR,
            options=[{"label": str(year), "value": year} for year in range(view.first_year, view.last_year + 1)],
            value=view.year,
            clearable=False,
            className="admin-dropdown",
        ),
    )
    form = html.Div(
        [
            html.H3(t("admin.calendar_form", lang)),
            html.Div(
                [
                    _field(
                        t("admin.field_holidays", lang),
                        dcc.Textarea(
                            id=ids.ADMIN_CALENDAR_HOLIDAYS, value=dates_text(view.holidays), className="admin-dates"
                        ),
                        t("admin.holidays_hint", lang),
                    ),
                    _field(
                        t("admin.field_workdays", lang),
                        dcc.Textarea(
                            id=ids.ADMIN_CALENDAR_WORKDAYS, value=dates_text(view.workdays), className="admin-dates"
                        ),
                        t("admin.workdays_hint", lang),
                    ),
                ],
                className="admin-form",
            ),
            dcc.ConfirmDialogProvider(
                html.Button(t("admin.calendar_save", lang), className="admin-button"),
                id=ids.ADMIN_CALENDAR_SAVE,
                message=t("admin.calendar_save_confirm", lang),
            ),
            html.Div(id=ids.ADMIN_CALENDAR_FEEDBACK, className="admin-feedback"),
        ],
        className="admin-panel",
    )
    parts += [year_choice, html.Div(calendar_months(view), id=ids.ADMIN_CALENDAR_VIEW), form]
    return html.Section(parts, className="console-card admin-section", id="admin-calendar")
