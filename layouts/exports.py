"""The exports page: every produced day with its files, to download (each download is audited)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dash import html

from dashboard.ui.chrome import Viewer
from dashboard.ui.i18n import t
from layouts.console import page

if TYPE_CHECKING:
    from dashboard.queries.exports import ExportsView


def render(view: ExportsView, viewer: Viewer) -> html.Div:
    """A table of days, newest first, with download links the viewer's scope allows."""
    lang = view.lang
    rows = []
    for export in view.days:
        day = export.day.isoformat()
        links = [html.A(name, href=f"/exports/{day}/{name}", className="console-file") for name in export.files]
        if not view.district:
            links = [html.A(t("console.scoped_csv", lang), href=f"/exports/{day}/scoped.csv", className="console-file")]
        made = export.finished_at.strftime("%Y-%m-%d %H:%M")
        if export.as_of is not None:  # produced before the day ended: its figures are as of then
            made = t("console.export_as_of", lang, made=made)
        rows.append(html.Tr([html.Td(day), html.Td(links), html.Td(made, className="exports-made")]))
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
    return page(viewer, lang, "exports", "/exports" + ("" if lang == "en" else "?lang=en"), body)
