"""/tasks, a handler's task page: its composer and its callbacks.

The list is redrawn (queries.tasks → layouts.tasks) when the page's socket hears a change to one of
its department's or team's appeals, when it reconnects, each minute (the times left) and after a step.
A step goes through services.actions.act, which checks the role, the assignment and the version the
card showed; resolve and return first ask for their note in a bottom sheet.

Every callback is registered through auth.callback with Permission.TASKS (handlers only).
"""

from __future__ import annotations

import datetime as dt

from dash import ALL, ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from callbacks.console import current_viewer
from dashboard.domain.roles import ROLE_STEPS, Permission, Role
from dashboard.domain.vocab import TransitionAction
from dashboard.queries import tasks as tasks_query
from dashboard.services.actions import ActionRequest, act
from dashboard.ui import ids
from dashboard.ui.outcomes import outcome_text
from dashboard.web import callback_inputs as valid
from dashboard.web.auth import callback
from dashboard.web.sockets import TASKS_EVENT
from layouts import tasks as tasks_layout

MAX_APPEAL_ID = 2**63 - 1
SHEET_CLOSED, SHEET_OPEN = "tasks-sheet", "tasks-sheet open"
HANDLER_STEPS = {action.value for action in ROLE_STEPS[Role.HANDLER]}


def _focus(value: object) -> int | None:
    """?appeal=<id>: one card; anything but an id shows none (it is no task of theirs)."""
    text = valid.query_value(value, "appeal")
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and int(text) <= MAX_APPEAL_ID else 0


def page(lang: str | None = None, appeal: str | None = None, **_query):
    """/tasks: the logged-in handler's open assignments, most urgent first (zh unless ?lang=en)."""
    lang = valid.language(lang)
    viewer = current_viewer()
    view = tasks_query.read(viewer, lang, focus=_focus(appeal))
    return tasks_layout.render(view, viewer, TASKS_EVENT)


def _page_state(state: object) -> tuple[str, int | None]:
    state = valid.mapping(state, "page") or {}
    return valid.language(state.get("lang")), valid.integer(state.get("focus"), "focus", high=MAX_APPEAL_ID)


def refreshed(message, connected, tick, changed, page_state) -> dict:
    """The list and its count again (a pushed change, a reconnect, the minute, a step taken)."""
    valid.mapping(message, "message")
    valid.integer(tick, "tick")
    valid.number(changed, "changed", default=0)
    lang, focus = _page_state(page_state)
    view = tasks_query.read(current_viewer(with_csrf=False), lang, focus=focus)
    return {"list": tasks_layout.task_list(view), "count": tasks_layout.count_text(view)}


def _step(value: object) -> tuple[int, str, int]:
    """A step button's id: (appeal id, step code, version shown)."""
    step = valid.mapping(value, "step") or {}
    appeal_id = valid.integer(step.get("appeal"), "appeal", low=1, high=MAX_APPEAL_ID)
    action = valid.text(step.get("action"), "action", 32)
    version = valid.integer(step.get("version"), "version", low=1, high=MAX_APPEAL_ID)
    if appeal_id is None or version is None or action not in HANDLER_STEPS:
        valid.refuse("step: not a step of this page")
    return appeal_id, action, version


def _take(appeal_id: int, action: str, version: int, note: str | None, lang: str) -> tuple[bool, bool, object]:
    """Apply one step; returns (done, keep the sheet open, the feedback paragraph)."""
    outcome = act(current_viewer(with_csrf=False), appeal_id, ActionRequest(TransitionAction(action), version, note))
    message = tasks_layout.feedback(outcome_text(outcome.message_key, outcome.values, lang), outcome.ok)
    # A missing note keeps the sheet open to write it; a conflict or other refusal closes it (the list redraws).
    return outcome.ok, outcome.message_key == "actions.need_note", message


def stepped(steps, confirm, cancel, note, pending, page_state) -> dict:
    """A step button: start at once; resolve and return open the sheet for their note; confirm applies it."""
    lang, _focus_id = _page_state(page_state)
    note = valid.text(note, "note", 500)
    valid.clicks(confirm, "confirm")
    valid.clicks(cancel, "cancel")
    unchanged = dict.fromkeys(("pending", "sheet", "title", "placeholder", "note", "feedback", "changed"), no_update)
    closed = {**unchanged, "pending": None, "sheet": SHEET_CLOSED, "note": ""}
    trigger = ctx.triggered_id
    clicked = ctx.triggered[0]["value"] if ctx.triggered else None
    if not isinstance(clicked, int) or isinstance(clicked, bool) or clicked <= 0:
        raise PreventUpdate  # a redrawn button (n_clicks 0), not a tap
    if trigger == ids.TASKS_CANCEL:
        return closed
    if trigger == ids.TASKS_CONFIRM:
        if pending is None:
            raise PreventUpdate
        appeal_id, action, version = _step(pending)
        _done, keep_open, message = _take(appeal_id, action, version, note, lang)
        if keep_open:
            return {**unchanged, "feedback": message}
        return {**closed, "feedback": message, "changed": _now()}
    appeal_id, action, version = _step(trigger)
    if tasks_layout.needs_note(action):
        return {
            **unchanged,
            "pending": {"appeal": appeal_id, "action": action, "version": version},
            "sheet": SHEET_OPEN,
            "title": tasks_layout.sheet_title(action, lang),
            "placeholder": tasks_layout.sheet_placeholder(action, lang),
            "note": "",
            "feedback": "",
        }
    _done, _keep_open, message = _take(appeal_id, action, version, None, lang)
    return {**unchanged, "feedback": message, "changed": _now()}


def _now() -> float:
    return dt.datetime.now(dt.UTC).timestamp()


def register(app) -> None:
    """Attach the task page's callbacks (each declares the permission it needs)."""
    callback(
        app,
        Permission.TASKS,
        output={"list": Output(ids.TASKS_LIST, "children"), "count": Output(ids.TASKS_COUNT, "children")},
        inputs={
            "message": Input(ids.TASKS_SOCKET, f"data-{TASKS_EVENT}"),
            "connected": Input(ids.TASKS_SOCKET, "connected"),
            "tick": Input(ids.TASKS_TICK, "n_intervals"),
            "changed": Input(ids.TASKS_CHANGED, "data"),
        },
        state={"page_state": State(ids.TASKS_LANG, "data")},
        prevent_initial_call=True,
    )(refreshed)
    callback(
        app,
        Permission.TASKS,
        output={
            "pending": Output(ids.TASKS_PENDING, "data"),
            "sheet": Output(ids.TASKS_SHEET, "className"),
            "title": Output(ids.TASKS_SHEET_TITLE, "children"),
            "placeholder": Output(ids.TASKS_NOTE, "placeholder"),
            "note": Output(ids.TASKS_NOTE, "value"),
            "feedback": Output(ids.TASKS_FEEDBACK, "children"),
            "changed": Output(ids.TASKS_CHANGED, "data"),
        },
        inputs={
            "steps": Input({"type": ids.TASKS_STEP, "appeal": ALL, "action": ALL, "version": ALL}, "n_clicks"),
            "confirm": Input(ids.TASKS_CONFIRM, "n_clicks"),
            "cancel": Input(ids.TASKS_CANCEL, "n_clicks"),
        },
        state={
            "note": State(ids.TASKS_NOTE, "value"),
            "pending": State(ids.TASKS_PENDING, "data"),
            "page_state": State(ids.TASKS_LANG, "data"),
        },
        prevent_initial_call=True,
    )(stepped)
    # In the browser (ui/assets/tasks.js): the connection badge follows the socket.
    app.clientside_callback(
        ClientsideFunction("tasks", "connection"),
        [Output(ids.TASKS_CONNECTION, "className"), Output(ids.TASKS_CONNECTION, "children")],
        Input(ids.TASKS_SOCKET, "connected"),
        State(ids.TASKS_LANG, "data"),
    )
