"""The start page: the walls of the district and of each street, and the service's health."""

from __future__ import annotations

from dash import dcc, html
from sqlalchemy import select

from dashboard.domain.vocab import RegionLevel
from dashboard.store.database import db
from dashboard.store.models import Region
from dashboard.ui.i18n import normalise_language, t


def layout(lang: str | None = None, **_query) -> html.Div:
    """Links to every wall the database knows, district first."""
    lang = normalise_language(lang)
    suffix = "&lang=en" if lang == "en" else ""
    with db.session() as session:
        regions = session.execute(
            select(Region.code, Region.name, Region.name_en, Region.level)
            .where(Region.level.in_([RegionLevel.DISTRICT, RegionLevel.STREET]))
            .order_by(Region.code)
        ).all()
    items = [
        html.Li(
            dcc.Link(
                f"{(row.name_en if lang == 'en' and row.name_en else row.name)} · {t('home.wall', lang)}",
                href=f"/wall?region={row.code}{suffix}",
            ),
            className=f"home-{row.level.value}",
        )
        for row in regions
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
