"""One appeal: its facts, deadline, time left or overdue, the whole transition timeline, the rating."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dash import dcc, html

from dashboard.ui import ids
from dashboard.ui.chrome import Refusal, Viewer
from dashboard.ui.i18n import t
from layouts.console import page, refused, with_lang

if TYPE_CHECKING:
    from dashboard.queries.appeal import AppealView


def _duration(seconds: float, lang: str) -> str:
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return t("console.duration", lang, days=days, hours=hours, minutes=rest // 60)


def render(view: AppealView | Refusal, viewer: Viewer, lang: str) -> html.Div:
    """The detail page of /appeal/<id>, or the refusal (missing and out of scope look the same)."""
    if isinstance(view, Refusal):
        return refused(viewer, lang, view)
    other = f"/appeal/{view.appeal_id}" + ("" if lang == "en" else "?lang=en")
    return page(viewer, lang, "drill", other, body(view.detail, lang, view.may_unmask))


def body(detail: dict, lang: str, may_unmask: bool) -> list:
    """The page content for one appeal's detail dict (see queries.appeal.appeal_detail)."""
    if detail["is_open"]:
        left = detail["seconds_left"]
        clock = (
            html.Span(t("console.time_left", lang, duration=_duration(left, lang)), className="console-good")
            if left >= 0
            else html.Span(t("console.overdue_by", lang, duration=_duration(left, lang)), className="console-bad")
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
        ("console.level_now", f"{detail['level']} · {detail['department'] or '—'}"),
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
                        " · ".join(x for x in (step["level"], step["department"], step["actor"]) if x),
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
            html.A(t("console.back_to_drill", lang), href=with_lang("/drill", lang), id="appeal-back"),
            className="console-breadcrumb",
        ),
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
