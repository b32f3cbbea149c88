"""The start page: the walls of the district and of each street, and the service's health."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dash import dcc, html

from dashboard.ui.i18n import t

if TYPE_CHECKING:
    from dashboard.queries.home import HomeView


def render(view: HomeView) -> html.Div:
    """Links to every wall of the view, district first."""
    lang = view.lang
    suffix = "&lang=en" if lang == "en" else ""
    items = [
        html.Li(
            dcc.Link(f"{wall.name} · {t('home.wall', lang)}", href=f"/wall?region={wall.code}{suffix}"),
            className=f"home-{wall.level.value}",
        )
        for wall in view.walls
    ]
    return html.Div(
        [
            html.H1(t("app.title", lang)),
            html.P(t("app.subtitle", lang)),
            html.H2(t("home.walls", lang)),
            html.Ul(items) if items else html.P(t("home.no_regions", lang)),
            html.P(html.A(t("home.health", lang), href="/healthz")),
        ],
        className="home-root",
    )
