"""The appeal page's one server callback: an admin unmasks a record for a stated purpose (audited)."""

from __future__ import annotations

from dash import Input, Output, State, html
from dash.exceptions import PreventUpdate

from dashboard.queries import drill as drilldata
from dashboard.store.database import db
from dashboard.ui import ids
from dashboard.ui.i18n import normalise_language, t
from dashboard.web.auth import Permission, audit, callback, current_principal

MIN_PURPOSE_LENGTH = 4


def unmask(n_clicks: int, purpose: str | None, page: dict | None):
    """Show the reporter's contact in full, after writing who, when, what and why to the audit log."""
    if not n_clicks or not isinstance(page, dict) or not str(page.get("id", "")).isdigit():
        raise PreventUpdate
    appeal_id = int(page["id"])
    lang = normalise_language(page.get("lang"))
    purpose = (purpose or "").strip()
    if len(purpose) < MIN_PURPOSE_LENGTH:
        return html.P(t("console.unmask_need_purpose", lang), className="console-bad")
    principal = current_principal()
    with db.session() as session:
        contact = drilldata.unmasked_contact(session, int(appeal_id))
        region = drilldata.appeal_region(session, int(appeal_id))
    if contact is None or region is None or not principal.covers(region):
        raise PreventUpdate
    audit("unmask", f"appeal:{int(appeal_id)}", purpose, {"fields": sorted(contact)})
    return html.Table(
        html.Tbody(
            [html.Tr([html.Th(t(f"console.unmasked_{key}", lang)), html.Td(value)]) for key, value in contact.items()]
        ),
        className="console-table",
        id="appeal-unmasked-table",
    )


def register(app) -> None:
    """Attach the appeal page's callbacks."""
    callback(
        app,
        Permission.UNMASK,
        Output(ids.APPEAL_UNMASKED, "children"),
        Input(ids.APPEAL_UNMASK_BUTTON, "n_clicks"),
        State(ids.APPEAL_UNMASK_PURPOSE, "value"),
        State(ids.APPEAL_ID, "data"),
        prevent_initial_call=True,
    )(unmask)
