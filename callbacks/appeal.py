"""The appeal page: its composer, and its one server callback, an admin unmasking a record for a
stated purpose (audited)."""

from __future__ import annotations

from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from callbacks.console import current_viewer
from dashboard.domain.roles import Permission
from dashboard.queries import appeal as appeal_query
from dashboard.ui import ids
from dashboard.web import callback_inputs as valid
from dashboard.web.auth import audit, callback
from layouts import appeal as appeal_layout

MIN_PURPOSE_LENGTH = 4
MAX_ID_DIGITS = 18  # below 2**63: an id the database can hold


def page(appeal_id: str | None = None, lang: str | None = None, **_query):
    """/appeal/<appeal_id>: the appeal within the viewer's region only."""
    lang = valid.language(lang)
    appeal_id = valid.query_value(appeal_id, "appeal_id")
    if appeal_id is not None and _appeal_number(appeal_id) is None:
        appeal_id = None  # no appeal has this number: the page says it is missing
    viewer = current_viewer()
    view = appeal_query.read(appeal_id, viewer, lang, viewer.can(Permission.UNMASK))
    return appeal_layout.render(view, viewer, lang)


def _appeal_number(value: object) -> int | None:
    """An appeal id as a page carries it (a number, or its digits), None for anything else."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= valid.MAX_ID:
        return value
    return None


def unmask(n_clicks: int | None, purpose: str | None, appeal: dict | None) -> dict:
    """Show the reporter's contact in full, after writing who, when, what and why to the audit log."""
    n_clicks = valid.clicks(n_clicks, "n_clicks")
    purpose = valid.text(purpose, "purpose")
    appeal = valid.mapping(appeal, "appeal")
    if not n_clicks or not appeal:
        raise PreventUpdate
    appeal_id = _appeal_number(appeal.get("id"))
    if appeal_id is None:
        valid.refuse("appeal.id: expected an appeal id")
    lang = valid.language(appeal.get("lang"), "appeal.lang")
    purpose = (purpose or "").strip()
    if len(purpose) < MIN_PURPOSE_LENGTH:
        return {"unmasked": appeal_layout.unmasked(None, lang)}
    contact = appeal_query.contact(appeal_id, current_viewer(with_csrf=False))
    if contact is None:
        raise PreventUpdate
    audit("unmask", f"appeal:{appeal_id}", purpose, {"fields": sorted(contact)})
    return {"unmasked": appeal_layout.unmasked(contact, lang)}


def register(app) -> None:
    """Attach the appeal page's callbacks."""
    callback(
        app,
        Permission.UNMASK,
        output={"unmasked": Output(ids.APPEAL_UNMASKED, "children")},
        inputs={"n_clicks": Input(ids.APPEAL_UNMASK_BUTTON, "n_clicks")},
        state={"purpose": State(ids.APPEAL_UNMASK_PURPOSE, "value"), "appeal": State(ids.APPEAL_ID, "data")},
        prevent_initial_call=True,
    )(unmask)
