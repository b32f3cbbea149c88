"""The start page: where to go — the walls (district first, then each street), the drill-down console,
the daily exports, and for those who hold them /tasks (handlers) and /admin (admins); bilingual."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dash import html

from dashboard.domain.roles import Permission
from dashboard.ui.chrome import Viewer
from dashboard.ui.i18n import t
from layouts.console import with_lang

if TYPE_CHECKING:
    from dashboard.queries.home import HomeView


def _card(name: str, href: str, lang: str, extra: list | None = None, note: str | None = None) -> html.Div:
    """One destination: a big link with a line saying what it is for."""
    return html.Div(
        [
            html.A(
                [html.Span(t(f"home.{name}", lang), className="home-card-title"), html.Span("›", className="home-go")],
                href=with_lang(href, lang),
                id=f"home-{name}",
                className="home-card-link",
            ),
            html.P(t(f"home.{name}_help", lang), className="home-card-help"),
            *(extra or []),
            html.P(note, className="home-card-note") if note else None,
        ],
        className=f"home-card home-card-{name}",
    )


def render(view: HomeView, viewer: Viewer | None = None) -> html.Div:
    """The start page for viewer (anonymous: every destination, each asking to log in)."""
    viewer = viewer or Viewer()
    lang = view.lang
    suffix = "&lang=en" if lang == "en" else ""
    walls = [
        html.Li(
            html.A(wall.name, href=f"/wall?region={wall.code}{suffix}", id=f"home-wall-{wall.code}"),
            className=f"home-{wall.level.value}",
        )
        for wall in view.walls
    ]
    none = html.P(t("home.no_regions", lang), className="home-card-note")
    wall_list = [html.Ul(walls, className="home-walls") if walls else none]
    login_note = None if viewer.authenticated else t("home.login_needed", lang)
    cards = [_card("walls", f"/wall?region={view.walls[0].code}" if view.walls else "/wall", lang, wall_list)]
    if not viewer.authenticated or viewer.can(Permission.CONSOLE):
        cards.append(_card("console", "/drill", lang, note=login_note))
    if not viewer.authenticated or viewer.can(Permission.EXPORT):
        cards.append(_card("exports", "/exports", lang, note=login_note))
    if viewer.can(Permission.TASKS):
        cards.append(_card("tasks", "/tasks", lang))
    if viewer.can(Permission.ADMIN):
        cards.append(_card("admin", "/admin", lang))
    other = "/" if lang == "en" else "/?lang=en"
    session = (
        html.Span(viewer.display_name or viewer.username, className="home-user", id="home-user")
        if viewer.authenticated
        else html.A(t("login.submit", lang), href=with_lang("/login", lang), id="home-login", className="home-login")
    )
    return html.Div(
        [
            html.Header(
                [
                    html.Div(
                        [html.H1(t("app.title", lang)), html.P(t("app.subtitle", lang), className="home-subtitle")],
                        className="home-brand",
                    ),
                    html.Div(
                        [session, html.A(t("login.other_language", lang), href=other, id="home-lang")],
                        className="home-session",
                    ),
                ],
                className="home-header",
            ),
            html.Main(html.Div(cards, className="home-cards"), className="home-main"),
            html.Footer(html.A(t("home.health", lang), href="/healthz"), className="home-footer"),
        ],
        className="home-page",
        id="home-page",
    )
