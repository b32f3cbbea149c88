"""One appeal: its facts, deadline, time left or overdue, the whole transition timeline, the rating."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dash import dcc, html

from dashboard.domain.roles import REQUIRED_FIELDS
from dashboard.domain.vocab import Satisfaction, TransitionAction
from dashboard.ui import ids
from dashboard.ui.chrome import Refusal, Viewer
from dashboard.ui.i18n import label, t
from dashboard.ui.outcomes import outcome_text, step_words
from dashboard.ui.timeleft import time_left_text, urgency
from layouts.console import page, refused, with_lang

if TYPE_CHECKING:
    from dashboard.queries.appeal import AppealView


def render(view: AppealView | Refusal, viewer: Viewer, lang: str) -> html.Div:
    """The detail page of /appeal/<id>, or the refusal (missing and out of scope look the same)."""
    if isinstance(view, Refusal):
        return refused(viewer, lang, view)
    other = f"/appeal/{view.appeal_id}" + ("" if lang == "en" else "?lang=en")
    return page(viewer, lang, "drill", other, [html.Div(content(view, lang), id=ids.APPEAL_CONTENT)])


def content(view: AppealView, lang: str, message: tuple[str, dict, str] | None = None) -> list:
    """The page under the header: the actions this viewer may take, then the appeal's detail.

    message: what the last action did, (i18n key, values, "ok" | "conflict" | "refused").
    """
    return body(view.detail, lang, view.may_unmask, actions_card(view, lang, message))


def after_action(view: AppealView | Refusal, lang: str, message: tuple[str, dict, str]) -> list:
    """The page under the header after an action: the appeal as it is now with the action's message (or,
    should it have left the viewer's scope meanwhile, the refusal with the message)."""
    if isinstance(view, Refusal):
        return [_message(message, lang), html.P(t(view.key, lang, **view.values), className="console-bad")]
    return content(view, lang, message)


# The fields each step's form shows besides the note (domain.roles.REQUIRED_FIELDS names the required ones).
STEP_FIELDS = {
    TransitionAction.DISPATCH: "assignee",
    TransitionAction.LINK_DUPLICATE: "duplicate_of",
    TransitionAction.RATE: "satisfaction",
}
HIDDEN = {"display": "none"}


def actions_card(view: AppealView, lang: str, message: tuple[str, dict, str] | None = None) -> html.Div | None:
    """The steps this viewer may take now, as buttons; choosing one opens its form (APPEAL_ACTION_FORM)."""
    said = _message(message, lang)
    if not view.steps and said is None:
        return None
    buttons = [
        html.Button(
            step_words(code, lang),
            id={"type": ids.APPEAL_ACTION_BUTTON, "action": code},
            n_clicks=0,
            className="appeal-step",
            **{"data-action": code},
        )
        for code in view.steps
    ]
    form = html.Div(
        [
            html.Div(
                [
                    html.Label(t("actions.assignee", lang), htmlFor=ids.APPEAL_ACTION_ASSIGNEE),
                    dcc.Dropdown(
                        id=ids.APPEAL_ACTION_ASSIGNEE,
                        options=[{"label": words, "value": value} for value, words in view.assignees],
                        placeholder=t("actions.assignee_placeholder", lang),
                        clearable=True,
                    ),
                ],
                id=ids.APPEAL_ACTION_ASSIGNEE_ROW,
                className="appeal-field",
                style=HIDDEN,
            ),
            html.Div(
                [
                    html.Label(t("actions.duplicate_of", lang), htmlFor=ids.APPEAL_ACTION_DUPLICATE),
                    dcc.Input(id=ids.APPEAL_ACTION_DUPLICATE, type="number", min=1, step=1),
                ],
                id=ids.APPEAL_ACTION_DUPLICATE_ROW,
                className="appeal-field",
                style=HIDDEN,
            ),
            html.Div(
                [
                    html.Label(t("actions.satisfaction", lang), htmlFor=ids.APPEAL_ACTION_SATISFACTION),
                    dcc.Dropdown(
                        id=ids.APPEAL_ACTION_SATISFACTION,
                        options=[{"label": label(s, lang), "value": s.value} for s in Satisfaction],
                        clearable=True,
                    ),
                ],
                id=ids.APPEAL_ACTION_SATISFACTION_ROW,
                className="appeal-field",
                style=HIDDEN,
            ),
            html.Div(
                [
                    html.Label(
                        t("actions.note", lang), htmlFor=ids.APPEAL_ACTION_NOTE, id=ids.APPEAL_ACTION_NOTE_LABEL
                    ),
                    dcc.Textarea(id=ids.APPEAL_ACTION_NOTE, maxLength=500, rows=2),
                ],
                id=ids.APPEAL_ACTION_NOTE_ROW,
                className="appeal-field appeal-field-note",
            ),
            html.Button(
                t("actions.choose_step", lang), id=ids.APPEAL_ACTION_SUBMIT, n_clicks=0, className="appeal-submit"
            ),
        ],
        id=ids.APPEAL_ACTION_FORM,
        className="appeal-action-form",
        style=HIDDEN,
    )
    return html.Div(
        [
            html.Div(
                [
                    html.H3(t("actions.title", lang)),
                    html.Span(t("actions.version", lang, version=view.detail["version"]), className="appeal-version"),
                ],
                className="appeal-actions-head",
            ),
            html.Div(buttons, className="appeal-steps") if buttons else html.P(t("actions.none", lang)),
            form if buttons else None,
            html.Div(said, id=ids.APPEAL_ACTION_MESSAGE, className="appeal-action-message"),
            dcc.Store(id=ids.APPEAL_ACTION_CHOSEN, data=None),
            dcc.Store(
                id=ids.APPEAL_ACTION_FORMS,
                data={code: chosen_form(code, list(view.steps), lang) for code in view.steps},
            ),
            dcc.Store(id=ids.APPEAL_ACTION_VERSION, data={"version": view.detail["version"]}),
        ],
        className="console-card appeal-actions",
    )


def _message(message: tuple[str, dict, str] | None, lang: str) -> html.P | None:
    if message is None:
        return None
    key, values, kind = message
    css = {"ok": "console-good", "conflict": "appeal-conflict"}.get(kind, "console-bad")
    return html.P(outcome_text(key, values, lang), className=css, role="status")


def chosen_form(code: str | None, steps: list[str], lang: str) -> dict:
    """How the form looks with a step chosen: which fields show, the note's hint, the submit's words, the
    buttons' classes (in the order of steps). The page carries one per step (APPEAL_ACTION_FORMS) for the
    browser to show when a step's button is pressed (ui/assets/console.js chooseStep)."""
    action = TransitionAction(code) if code else None
    field_name = STEP_FIELDS.get(action)
    required = REQUIRED_FIELDS.get(action, ()) if action else ()
    reason = action in (TransitionAction.RETURN, TransitionAction.ESCALATE)
    if "note" in required:
        hint = t("actions.reason_placeholder" if reason else "actions.note_placeholder", lang)
    else:
        hint = t("actions.note_optional_placeholder", lang)
    return {
        "form": {} if action else HIDDEN,
        "assignee": {} if field_name == "assignee" else HIDDEN,
        "duplicate": {} if field_name == "duplicate_of" else HIDDEN,
        "satisfaction": {} if field_name == "satisfaction" else HIDDEN,
        "note_label": t("actions.reason" if reason else "actions.note", lang),
        "note_hint": hint,
        "submit": t("actions.submit", lang, step=step_words(action, lang))
        if action
        else t("actions.choose_step", lang),
        "buttons": ["appeal-step appeal-step-chosen" if step == code else "appeal-step" for step in steps],
    }


def body(detail: dict, lang: str, may_unmask: bool, actions: html.Div | None = None) -> list:
    """The page content for one appeal's detail dict (see queries.appeal.appeal_detail)."""
    if detail["is_open"]:
        # the shared time-left rule (ui.timeleft): red overdue, amber within two hours, else green
        left = detail["seconds_left"]
        words = time_left_text(left, lang)
        clock = html.Span(
            words if left < 0 else t("console.time_left", lang, duration=words),
            className=f"appeal-clock-{urgency(left, True)}",
            **{"data-urgency": urgency(left, True)},
        )
    else:
        clock = html.Span(
            t("console.resolved_on_time", lang) if detail["on_time"] else t("console.resolved_late", lang),
            className="console-good" if detail["on_time"] else "console-bad",
        )
    facts = [
        ("console.col_place", detail["place"]),
        ("console.filter_category", detail["category"]),
        ("console.filter_priority", detail["priority"]),
        ("console.filter_channel", detail["channel"]),
        ("console.filter_status", detail["status"]),
        ("console.level_now", f"{detail['level']} · {detail['department'] or detail['team'] or '—'}"),
        ("actions.team", detail["team"] or "—"),
        ("actions.urge_count", str(detail["urge_count"])),
        ("console.col_reported", detail["reported_at"]),
        ("console.col_deadline", detail["deadline_at"]),
        ("console.resolved_at", detail["resolved_at"] or "—"),
        ("console.elapsed_wd" if detail["is_open"] else "console.handling_wd", f"{detail['handling_wd']:.2f}"),
        ("console.rating", detail["satisfaction"] or t("console.unrated", lang)),
        ("console.reopened", str(detail["reopen_count"])),
        ("console.reporter", f"{detail['reporter_name'] or '—'} · {detail['reporter_phone'] or '—'}"),
        ("console.address", detail["address"] or "—"),
    ]
    if detail["duplicate_of"]:
        facts.append(("console.duplicate_of", f"#{detail['duplicate_of']}"))
    fact_rows = html.Table(
        html.Tbody([html.Tr([html.Th(t(key, lang)), html.Td(value)]) for key, value in facts]),
        className="console-table console-facts",
    )
    timeline = html.Ol(
        [
            html.Li(
                [
                    html.Div(step["at"], className="console-step-time"),
                    html.Div(
                        [
                            html.B(step["action"]),
                            f" {step['from_status']} → {step['to_status']}" if step["from_status"] else "",
                        ]
                    ),
                    html.Div(
                        " · ".join(x for x in (step["level"], step["department"], step["team"], step["actor"]) if x),
                        className="console-step-who",
                    ),
                    html.Div(step["note"], className="console-step-note") if step["note"] else None,
                ],
                className="console-step",
            )
            for step in detail["timeline"]
        ],
        className="console-timeline",
        id="appeal-timeline",
    )
    passed = html.Ol([html.Li(f"{level} · {department}") for level, department in detail["levels_passed"]])
    unmask = []
    if may_unmask:
        unmask = [
            html.Div(
                [
                    html.H3(t("console.unmask_title", lang)),
                    html.P(t("console.unmask_help", lang)),
                    dcc.Input(
                        id=ids.APPEAL_UNMASK_PURPOSE, placeholder=t("console.unmask_purpose", lang), maxLength=200
                    ),
                    html.Button(t("console.unmask", lang), id=ids.APPEAL_UNMASK_BUTTON, n_clicks=0),
                    html.Div(id=ids.APPEAL_UNMASKED),
                ],
                className="console-card console-unmask",
            )
        ]
    return [
        dcc.Store(id=ids.APPEAL_ID, data={"id": detail["id"], "lang": lang}),
        html.Nav(
            [
                html.A(t("console.back_to_drill", lang), href=with_lang("/drill", lang), id="appeal-back"),
                html.Span("›", className="console-crumb-sep"),
                html.A(
                    t("console.appeal_region", lang, place=detail["place"] or detail["region_code"]),
                    href=with_lang(f"/drill?region={detail['region_code']}", lang),
                    id="appeal-region",
                ),
            ],
            className="console-breadcrumb",
        ),
        actions,
        html.Div(
            [
                _facts_card(detail, lang, clock, fact_rows),
                html.Div(
                    [
                        html.H3(t("console.timeline", lang)),
                        timeline,
                        html.H3(t("console.levels_passed", lang)),
                        passed,
                    ],
                    className="console-card console-half",
                ),
            ],
            className="console-row",
        ),
        *unmask,
    ]


def _facts_card(detail: dict, lang: str, clock, fact_rows) -> html.Div:
    return html.Div(
        [
            html.H2(
                [
                    f"#{detail['id']} · {detail['category']} ",
                    html.Span(detail["priority"], className=f"console-priority-{detail['priority_code']}"),
                ]
            ),
            html.Div(clock, className="console-clock", id="appeal-clock"),
            html.P(detail["description"], className="console-description"),
            fact_rows,
        ],
        className="console-card console-half",
    )


def unmasked(contact: dict | None, lang: str) -> html.Table | html.P:
    """The reporter's contact in full, once the purpose is written down (None: no purpose given)."""
    if contact is None:
        return html.P(t("console.unmask_need_purpose", lang), className="console-bad")
    return html.Table(
        html.Tbody(
            [html.Tr([html.Th(t(f"console.unmasked_{key}", lang)), html.Td(value)]) for key, value in contact.items()]
        ),
        className="console-table",
        id="appeal-unmasked-table",
    )
