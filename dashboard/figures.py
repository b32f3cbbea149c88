"""Plotly figures: pure functions of data, tested without a browser."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.i18n import t

WALL_COLORS = {
    "background": "rgba(0,0,0,0)",
    "text": "#d8e6ff",
    "muted": "#7f93b8",
    "grid": "rgba(127,147,184,0.18)",
    "received": "#3fa7ff",
    "resolved": "#33d69f",
}
WALL_FONT = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, sans-serif"


def trend_figure(volume: pd.DataFrame, lang: str) -> go.Figure:
    """Appeals received (bars) and resolved (line) per day, styled for the dark wall."""
    days = pd.to_datetime(volume["day"])
    figure = go.Figure()
    figure.add_bar(
        x=days,
        y=volume["received"],
        name=t("kpi.received", lang),
        marker_color=WALL_COLORS["received"],
        opacity=0.85,
    )
    figure.add_scatter(
        x=days,
        y=volume["resolved"],
        name=t("kpi.resolved", lang),
        mode="lines+markers",
        line={"color": WALL_COLORS["resolved"], "width": 3},
        marker={"size": 6},
    )
    figure.update_layout(
        paper_bgcolor=WALL_COLORS["background"],
        plot_bgcolor=WALL_COLORS["background"],
        font={"family": WALL_FONT, "color": WALL_COLORS["text"], "size": 14},
        margin={"l": 48, "r": 16, "t": 8, "b": 36},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.12},
        bargap=0.25,
        xaxis={"showgrid": False, "tickangle": 0, "tickformat": "%m-%d", "dtick": 7 * 86_400_000},
        yaxis={"gridcolor": WALL_COLORS["grid"], "zeroline": False},
        uirevision="wall",
    )
    return figure
