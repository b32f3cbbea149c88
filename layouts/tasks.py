"""A handler's task page (/tasks), made for phones: big cards, most urgent first, big buttons for the
steps they may take now; a bottom sheet asks for the note or reason a step needs.

`render` draws the page from queries.tasks.TasksView; the callbacks (callbacks/tasks.py) redraw the
list with `task_list` when a pushed change arrives, each minute, and after a step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dash import dcc, html
from dash_socketio import DashSocketIO

from dashboard.domain.roles import REQUIRED_FIELDS
from dashboard.domain.vocab import TransitionAction
from dashboard.ui import ids
from dashboard.ui.chrome import Viewer
from dashboard.ui.i18n import t
from dashboard.ui.timeleft import time_left_text, urgency
from layouts.console import with_lang

if TYPE_CHECKING:
    from dashboard.queries.tasks import TaskCard, TasksView


def time_left(card: TaskCard, lang: str) -> html.P:
    """The time left or how long it is overdue, by the shared rule (ui.timeleft): red overdue, amber within
    two hours."""
    tone = urgency(card.seconds_left, True)
    words = time_left_text(card.seconds_left, lang)
    text = words if card.seconds_left < 0 else t("tasks.left", lang, time=words)
    return html.P(text, className="tasks-time" + ("" if tone == "ok" else f" {tone}"))


def step_button(card: TaskCard, action: str, lang: str) -> html.Button:
    """One step's big button; its id carries the version the card shows (a stale card is refused)."""
    return html.Button(
        t(f"tasks.step_{action}", lang),
        id={"type": ids.TASKS_STEP, "appeal": card.id, "action": action, "version": card.version},
        n_clicks=0,
        className=f"tasks-step tasks-step-{action}",
    )


def task_card(card: TaskCard, view: TasksView) -> html.Article:
    """One assignment: priority and category, time left, masked text, place, steps."""
    lang = view.lang
    reported = card.reported_at.astimezone(view.timezone).strftime("%m-%d %H:%M")
    meta = [html.Span(f"#{card.id}"), html.Span(t("tasks.reported", lang, time=reported))]
    if card.urge_count:
        meta.append(html.Span(t("tasks.urged", lang, count=card.urge_count), className="tasks-urged"))
    steps = [step_button(card, action, lang) for action in card.steps]
    classes = f"tasks-card tasks-{card.priority}" + (" tasks-card-over" if card.overdue else "")
    return html.Article(
        [
            html.Div(
                [
                    html.Span(card.priority_label, className=f"tasks-priority tasks-priority-{card.priority}"),
                    html.Span(card.category, className="tasks-category"),
                    html.Span(card.status_label, className=f"tasks-status tasks-status-{card.status}"),
                ],
                className="tasks-card-top",
            ),
            time_left(card, lang),
            html.P(card.text, className="tasks-text"),
            html.P(card.place, className="tasks-place"),
            html.Div(meta, className="tasks-meta"),
            html.Div(steps or t("tasks.no_steps", lang), className="tasks-steps" if steps else "tasks-steps none"),
        ],
        id=ids.TASKS_CARD.format(card.id),
        className=classes,
    )


def task_list(view: TasksView) -> list:
    """The list: how many are open, the cards, and how many more are not shown."""
    lang = view.lang
    if view.focus is not None and not view.cards:
        return [html.P(t("tasks.no_such_task", lang), className="tasks-empty")]
    if not view.cards:
        return [html.P(t("tasks.empty", lang), className="tasks-empty")]
    parts: list = [task_card(card, view) for card in view.cards]
    if view.total > len(view.cards):
        parts.append(html.P(t("tasks.more", lang, count=view.total - len(view.cards), limit=view.limit)))
    return parts


def count_text(view: TasksView) -> str:
    """ "待办 3 件" under the title."""
    return t("tasks.count", view.lang, count=view.total)


def needs_note(action: str) -> bool:
    """Whether a step asks for words first (domain.roles.REQUIRED_FIELDS): resolve and return do."""
    return action in set(TransitionAction) and "note" in REQUIRED_FIELDS.get(TransitionAction(action), ())


def sheet_title(action: str, lang: str) -> str:
    """The bottom sheet's title for a step that needs a note."""
    return t(f"tasks.sheet_{action}", lang)


def sheet_placeholder(action: str, lang: str) -> str:
    """What the note box asks for."""
    return t(f"tasks.placeholder_{action}", lang)


def feedback(message: str, ok: bool) -> html.P:
    """The outcome of a step, above the list."""
    return html.P(message, className="tasks-feedback-ok" if ok else "tasks-feedback-bad", role="status")


def render(view: TasksView, viewer: Viewer, delta_event: str) -> html.Div:
    """The whole /tasks page; pushed deltas (delta_event) on the page's socket redraw its list."""
    lang = view.lang
    query = f"?appeal={view.focus}" if view.focus is not None else ""
    other_lang = "/tasks" + (query if lang == "en" else (query + "&lang=en" if query else "?lang=en"))
    # Two short rows, so that the list keeps most of a phone's screen.
    header = html.Header(
        [
            html.Div(
                [
                    html.H1(t("tasks.title", lang), className="tasks-title"),
                    html.Span(t("tasks.offline", lang), id=ids.TASKS_CONNECTION, className="tasks-connection offline"),
                    html.A(t("login.other_language", lang), href=other_lang, className="tasks-lang"),
                    html.Form(
                        [
                            dcc.Input(type="hidden", name="csrf_token", value=viewer.csrf_token),
                            html.Button(t("console.logout", lang), type="submit", className="tasks-logout"),
                        ],
                        method="POST",
                        action=f"/logout?lang={lang}",
                        className="tasks-logout-form",
                    ),
                ],
                className="tasks-header-row",
            ),
            html.Div(
                [
                    html.Span(f"{view.assignee} · {viewer.display_name}", className="tasks-assignee"),
                    html.Span(count_text(view), id=ids.TASKS_COUNT, className="tasks-count"),
                ],
                className="tasks-header-row tasks-sub",
            ),
        ],
        className="tasks-header",
    )
    sheet = html.Div(
        html.Div(
            [
                html.H2(id=ids.TASKS_SHEET_TITLE, className="tasks-sheet-title"),
                dcc.Textarea(id=ids.TASKS_NOTE, maxLength=500, className="tasks-note", value=""),
                html.Div(
                    [
                        html.Button(t("tasks.cancel", lang), id=ids.TASKS_CANCEL, n_clicks=0, className="tasks-cancel"),
                        html.Button(
                            t("tasks.confirm", lang), id=ids.TASKS_CONFIRM, n_clicks=0, className="tasks-confirm"
                        ),
                    ],
                    className="tasks-sheet-buttons",
                ),
            ],
            className="tasks-sheet-panel",
        ),
        id=ids.TASKS_SHEET,
        className="tasks-sheet",
        role="dialog",
    )
    focus_link = [html.A(t("tasks.all", lang), href=with_lang("/tasks", lang), className="tasks-all")] if query else []
    return html.Div(
        [
            DashSocketIO(
                id=ids.TASKS_SOCKET,
                eventNames=[delta_event],
                # The log-in cookie identifies the handler; the server puts it in its department's or team's room.
                options={"auth": {"tasks": True}, "transports": ["websocket"]},
            ),
            dcc.Store(
                id=ids.TASKS_LANG,
                data={
                    "lang": lang,
                    "focus": view.focus,
                    "live": t("tasks.live", lang),
                    "offline": t("tasks.offline", lang),
                },
            ),
            dcc.Store(id=ids.TASKS_CHANGED),
            dcc.Store(id=ids.TASKS_PENDING),
            dcc.Interval(id=ids.TASKS_TICK, interval=60_000),
            header,
            html.Div(id=ids.TASKS_FEEDBACK, className="tasks-feedback"),
            html.Main([*focus_link, html.Div(task_list(view), id=ids.TASKS_LIST)], className="tasks-main"),
            sheet,
        ],
        className="tasks-root",
        lang="zh-CN" if lang == "zh" else "en",
    )
