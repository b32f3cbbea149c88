"""/admin's list of wall screens and their own health (queries.walls rows), the worst first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dash import html

from dashboard.ui.i18n import t

if TYPE_CHECKING:
    from dashboard.queries.walls import WallRow


def section(rows: list[WallRow], lang: str) -> html.Section:
    """The walls' section: one row per screen, flagged silent or stale."""
    headers = [
        t(key, lang)
        for key in (
            "admin.col_wall",
            "admin.col_wall_region",
            "admin.col_wall_state",
            "admin.col_last_report",
            "admin.col_data_age",
            "admin.col_socket",
            "admin.col_heap",
            "admin.col_long_tasks",
        )
    ]
    body = [
        html.Tr(
            [
                html.Td(row.wall),
                html.Td(row.region),
                html.Td(t(f"admin.wall_state.{row.state}", lang), className=f"wall-state wall-state-{row.state}"),
                html.Td(t("admin.seconds_ago", lang, seconds=int(row.report_age))),
                html.Td("—" if row.data_age is None else t("admin.seconds", lang, seconds=int(row.data_age))),
                html.Td(t(f"admin.wall_socket.{row.socket}", lang)),
                html.Td(
                    "—" if row.heap_bytes is None else t("admin.megabytes", lang, mb=round(row.heap_bytes / 2**20, 1))
                ),
                html.Td(str(row.long_tasks)),
            ],
            className=f"admin-wall admin-wall-{row.state}",
            **{"data-wall": row.wall, "data-state": row.state},
        )
        for row in rows
    ]
    table = (
        html.Table(
            [html.Thead(html.Tr([html.Th(h) for h in headers])), html.Tbody(body)],
            className="console-table admin-table",
        )
        if body
        else html.P(t("admin.none", lang), className="console-hint")
    )
    return html.Section(
        [html.H3(t("admin.walls", lang)), html.P(t("admin.walls_help", lang), className="console-hint"), table],
        className="console-card admin-section",
        id="admin-walls",
    )
