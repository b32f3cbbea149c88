"""The wall's 预警 panel (issue 19): the open alerts of the wall's region, newest first.

The panel is drawn empty; assets/wall_alerts.js fills its list from the server's snapshot (the
store WALL_ALERTS_DATA, at load and at each resync) and from the pushed `alert` events, on the
wall's one Socket.IO connection. A kind reads by its icon and word, never by colour alone.
"""

from __future__ import annotations

import json

from dash import dcc, html

from dashboard.ui import ids
from dashboard.ui.i18n import t

# The Socket.IO event the alerts job pushes to the walls' region rooms (services.alerts).
ALERT_EVENT = "alert"
KIND_ICONS = {"surge": "▲", "repeat": "↻", "at_risk": "◷"}  # shapes every wall and console font has


def labels(lang: str, timezone_name: str) -> dict:
    """The words the browser needs to draw an alert (kinds, the acknowledged mark, the empty panel)."""
    return {
        "kinds": {
            kind: {"icon": icon, "word": t(f"alert_list.kind_{kind}", lang)} for kind, icon in KIND_ICONS.items()
        },
        "new": t("wall.alerts_new", lang),
        "acknowledged": t("wall.alerts_acknowledged", lang),
        "empty": t("wall.alerts_empty", lang),
        "count": t("wall.alerts_count", lang, count="{count}"),
        "lang": lang,
        "timezone": timezone_name,
    }


def panel(lang: str, timezone_name: str) -> list:
    """The panel and its snapshot store (filled by the first resync)."""
    return [
        dcc.Store(id=ids.WALL_ALERTS_DATA, data=None),
        html.Section(
            [
                html.H2(
                    [
                        html.Span("⚠ " + t("wall.alerts", lang)),
                        html.Span("", id=ids.WALL_ALERTS_COUNT, className="wall-alerts-count"),
                    ],
                    className="wall-panel-title",
                ),
                html.Ul(id=ids.WALL_ALERTS, className="wall-alerts"),  # filled by assets/wall_alerts.js
                html.Div(t("wall.alerts_empty", lang), className="wall-alerts-empty"),
            ],
            className="wall-panel alerts",
            **{
                "data-alerts": json.dumps(
                    {
                        "list": ids.WALL_ALERTS,
                        "data": ids.WALL_ALERTS_DATA,
                        "count": ids.WALL_ALERTS_COUNT,
                        "event": ALERT_EVENT,
                        "labels": labels(lang, timezone_name),
                    },
                    ensure_ascii=False,
                )
            },
        ),
    ]
