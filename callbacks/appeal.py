"""The appeal page: its composer, and its server callbacks: an admin unmasking a record for a stated
purpose (audited); choosing a workflow step and taking it (services.actions, against the version the
page shows: a page that is out of date is refused with who changed the appeal and when, and redrawn)."""

from __future__ import annotations

from dash import ALL, ClientsideFunction, Input, Output, State
from dash.exceptions import PreventUpdate

from callbacks.console import current_viewer
from dashboard.domain.roles import Permission
from dashboard.domain.vocab import Satisfaction, TransitionAction
from dashboard.queries import appeal as appeal_query
from dashboard.services import actions
from dashboard.ui import ids
from dashboard.web import callback_inputs as valid
from dashboard.web.auth import audit, callback
from layouts import appeal as appeal_layout

MIN_PURPOSE_LENGTH = 4
MAX_ID_DIGITS = 18  # below 2**63: an id the database can hold
MAX_VERSION = 2**31 - 1  # an appeal's version is an INTEGER column


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


STEP_BUTTONS = {"type": ids.APPEAL_ACTION_BUTTON, "action": ALL}


def submit(
    n_clicks: int | None,
    chosen: str | None,
    assignee: str | None,
    note: str | None,
    duplicate: object,
    satisfaction: str | None,
    version: dict | None,
    appeal: dict | None,
) -> dict:
    """Take the chosen step (services.actions.act) against the page's version, then redraw the page."""
    n_clicks = valid.clicks(n_clicks, "n_clicks")
    chosen = valid.text(chosen, "chosen", 32)
    assignee = valid.text(assignee, "assignee", 80)
    note = valid.text(note, "note")
    duplicate_of = valid.integer(duplicate, "duplicate_of", low=1, high=valid.MAX_ID)
    satisfaction = valid.text(satisfaction, "satisfaction", 32)
    version = valid.mapping(version, "version") or {}
    appeal = valid.mapping(appeal, "appeal")
    if not n_clicks or not appeal or not chosen:
        raise PreventUpdate
    appeal_id = _appeal_number(appeal.get("id"))
    if appeal_id is None:
        valid.refuse("appeal.id: expected an appeal id")
    lang = valid.language(appeal.get("lang"), "appeal.lang")
    if chosen not in set(TransitionAction):
        valid.refuse("chosen: not a workflow step")
    if satisfaction is not None and satisfaction not in set(Satisfaction):
        valid.refuse("satisfaction: not a rating")
    expected = valid.integer(version.get("version"), "version.version", low=1, high=MAX_VERSION)
    if expected is None:  # the page always says which version it shows: without it a step could overwrite
        valid.refuse("version.version: the version the page shows is required")
    kind, _, code = (assignee or "").partition(":")
    if assignee and kind not in ("department", "team"):
        valid.refuse("assignee: expected department:<code> or team:<code>")
    request = actions.ActionRequest(
        action=TransitionAction(chosen),
        expected_version=expected,
        note=note,
        department_code=code if kind == "department" else None,
        team_code=code if kind == "team" else None,
        duplicate_of=duplicate_of,
        satisfaction=Satisfaction(satisfaction) if satisfaction else None,
    )
    viewer = current_viewer(with_csrf=False)
    outcome = actions.act(viewer, appeal_id, request)
    kind = "ok" if outcome.ok else "conflict" if outcome.conflict else "refused"
    view = appeal_query.read(str(appeal_id), viewer, lang, viewer.can(Permission.UNMASK))
    return {"content": appeal_layout.after_action(view, lang, (outcome.message_key, outcome.values, kind))}


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
    # In the browser (ui/assets/console.js): a step's button opens its form; each step's form (its fields, hint
    # and words) is in APPEAL_ACTION_FORMS, drawn by the layout. Taking the step is the server's (below).
    app.clientside_callback(
        ClientsideFunction("console", "chooseStep"),
        Output(ids.APPEAL_ACTION_CHOSEN, "data"),
        Output(ids.APPEAL_ACTION_FORM, "style"),
        Output(ids.APPEAL_ACTION_ASSIGNEE_ROW, "style"),
        Output(ids.APPEAL_ACTION_DUPLICATE_ROW, "style"),
        Output(ids.APPEAL_ACTION_SATISFACTION_ROW, "style"),
        Output(ids.APPEAL_ACTION_NOTE_LABEL, "children"),
        Output(ids.APPEAL_ACTION_NOTE, "placeholder"),
        Output(ids.APPEAL_ACTION_SUBMIT, "children"),
        Output(STEP_BUTTONS, "className"),
        Input(STEP_BUTTONS, "n_clicks"),
        State(ids.APPEAL_ACTION_FORMS, "data"),
        prevent_initial_call=True,
    )
    callback(
        app,
        Permission.ACT,
        output={"content": Output(ids.APPEAL_CONTENT, "children")},
        inputs={"n_clicks": Input(ids.APPEAL_ACTION_SUBMIT, "n_clicks")},
        state={
            "chosen": State(ids.APPEAL_ACTION_CHOSEN, "data"),
            "assignee": State(ids.APPEAL_ACTION_ASSIGNEE, "value"),
            "note": State(ids.APPEAL_ACTION_NOTE, "value"),
            "duplicate": State(ids.APPEAL_ACTION_DUPLICATE, "value"),
            "satisfaction": State(ids.APPEAL_ACTION_SATISFACTION, "value"),
            "version": State(ids.APPEAL_ACTION_VERSION, "data"),
            "appeal": State(ids.APPEAL_ID, "data"),
        },
        prevent_initial_call=True,
    )(submit)
