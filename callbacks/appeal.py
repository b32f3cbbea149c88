"""The appeal page: its composer, and its one server callback, an admin unmasking a record for a
stated purpose (audited)."""

from __future__ import annotations

from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from callbacks.console import current_viewer
from dashboard.domain.roles import Permission
from dashboard.queries import appeal as appeal_query
from dashboard.ui import ids
from dashboard.ui.i18n import normalise_language
from dashboard.web.auth import audit, callback
from layouts import appeal as appeal_layout

MIN_PURPOSE_LENGTH = 4


def page(appeal_id: str | None = None, lang: str | None = None, **_query):
    """/appeal/<appeal_id>: the appeal within the viewer's region only."""
    lang = normalise_language(lang)
    viewer = current_viewer()
    view = appeal_query.read(appeal_id, viewer, lang, viewer.can(Permission.UNMASK))
    return appeal_layout.render(view, viewer, lang)


def unmask(n_clicks: int | None, purpose: str | None, appeal: dict | None) -> dict:
    """Show the reporter's contact in full, after writing who, when, what and why to the audit log."""
    if not n_clicks or not isinstance(appeal, dict) or not str(appeal.get("id", "")).isdigit():
        raise PreventUpdate
    appeal_id = int(appeal["id"])
    lang = normalise_language(appeal.get("lang"))
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
