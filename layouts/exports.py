"""The exports page: every produced day with its files, to download (each download is audited)."""

from __future__ import annotations

from dash import html

from dashboard.ui.i18n import normalise_language, t
from dashboard.web.auth import current_principal
from dashboard.web.downloads import covers_district, finished_exports
from layouts.console import page


def layout(lang: str | None = None, **_query) -> html.Div:
    """A table of days, newest first, with download links the user's scope allows."""
    lang = normalise_language(lang)
    principal = current_principal()
    district = covers_district(principal)
    rows = []
    for export in finished_exports():
        day = export.day.isoformat()
        links = [html.A(name, href=f"/exports/{day}/{name}", className="console-file") for name in export.files or []]
        if not district:
            links = [html.A(t("console.scoped_csv", lang), href=f"/exports/{day}/scoped.csv", className="console-file")]
        rows.append(html.Tr([html.Td(day), html.Td(links), html.Td(export.finished_at.strftime("%Y-%m-%d %H:%M"))]))
    table = html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th(t("console.export_day", lang)),
                        html.Th(t("console.export_files", lang)),
                        html.Th(t("console.export_made", lang)),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        className="console-table console-exports",
        id="exports-table",
    )
    body = [
        html.Div(
            [
                html.H2(t("console.nav_exports", lang)),
                html.P(t("console.exports_help", lang)),
                table if rows else html.P(t("console.no_exports", lang)),
            ],
            className="console-card",
        )
    ]
    return page(principal, lang, "exports", "/exports" + ("" if lang == "en" else "?lang=en"), body)
