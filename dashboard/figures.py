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


def trend_figure(volume: pd.DataFrame, lang: str, scale: float = 1.0) -> go.Figure:
    """Appeals received (bars) and resolved (line) per day, styled for the dark wall.

    Plotly sizes text and lines in pixels, so they are multiplied by the screen's scale
    against the 1920×1080 design, like everything else on the wall.
    """
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
        line={"color": WALL_COLORS["resolved"], "width": 3 * scale},
        marker={"size": 6 * scale},
    )
    figure.update_layout(
        paper_bgcolor=WALL_COLORS["background"],
        plot_bgcolor=WALL_COLORS["background"],
        font={"family": WALL_FONT, "color": WALL_COLORS["text"], "size": round(15 * scale)},
        margin={"l": round(52 * scale), "r": round(16 * scale), "t": round(8 * scale), "b": round(36 * scale)},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.12},
        bargap=0.25,
        xaxis={"showgrid": False, "tickangle": 0, "tickformat": "%m-%d", "dtick": 7 * 86_400_000},
        yaxis={"gridcolor": WALL_COLORS["grid"], "zeroline": False},
        uirevision="wall",
    )
    return figure


MAP_BUCKETS = (  # (label key, fill colour): communities by their open and overdue load
    ("wall.map_calm", "rgba(63,167,255,0.20)"),
    ("wall.map_busy", "rgba(63,167,255,0.55)"),
    ("wall.map_overdue", "rgba(255,176,32,0.70)"),
    ("wall.map_critical", "rgba(255,77,94,0.85)"),
)


def map_bucket(open_count: int, overdue: int, busy_threshold: int) -> int:
    """Which colour a community gets: calm, busy, some overdue, many overdue."""
    if overdue >= 3:
        return 3
    if overdue > 0:
        return 2
    return 1 if open_count >= busy_threshold else 0


def map_figure(load: pd.DataFrame, lang: str, scale: float = 1.0) -> go.Figure:
    """Communities drawn from their own shapes (no map tiles), coloured by open/overdue load."""
    figure = go.Figure()
    busy = max(3, int(load["open"].quantile(0.6))) if len(load) else 3
    buckets = [map_bucket(o, d, busy) for o, d in zip(load["open"], load["overdue"], strict=True)]
    for index, (key, colour) in enumerate(MAP_BUCKETS):
        xs: list = []
        ys: list = []
        for boundary, bucket in zip(load["boundary"], buckets, strict=True):
            if bucket != index or not boundary:
                continue
            ring = boundary["coordinates"][0]
            xs += [p[0] for p in ring] + [None]
            ys += [p[1] for p in ring] + [None]
        figure.add_scatter(
            x=xs or [None],
            y=ys or [None],
            fill="toself",
            fillcolor=colour,
            mode="lines",
            line={"color": "rgba(143,208,255,0.9)", "width": scale},
            name=t(key, lang),
            hoverinfo="skip",
        )
    labels = [
        f"{n}<br>{o} · <b>{d}</b>" if d else f"{n}<br>{o}"
        for n, o, d in zip(load["name"], load["open"], load["overdue"], strict=True)
    ]
    figure.add_scatter(
        x=load["lon"],
        y=load["lat"],
        mode="text",
        text=labels,
        textfont={"color": WALL_COLORS["text"], "size": round(14 * scale)},
        showlegend=False,
        hoverinfo="skip",
    )
    figure.update_layout(
        paper_bgcolor=WALL_COLORS["background"],
        plot_bgcolor=WALL_COLORS["background"],
        font={"family": WALL_FONT, "color": WALL_COLORS["text"], "size": round(15 * scale)},
        margin={"l": 4, "r": 4, "t": 4, "b": 4},
        legend={"orientation": "h", "x": 0, "y": 0, "yanchor": "top", "bgcolor": "rgba(0,0,0,0)"},
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1.15},  # ≈ 1/cos(30.6°): metres look square
        uirevision="map",
    )
    return figure


def empty_figure() -> go.Figure:
    """A blank chart (for a wall that may no longer show data)."""
    figure = go.Figure()
    figure.update_layout(
        paper_bgcolor=WALL_COLORS["background"],
        plot_bgcolor=WALL_COLORS["background"],
        xaxis={"visible": False},
        yaxis={"visible": False},
    )
    return figure


def export_figure(frame: pd.DataFrame, day_text: str, lang: str = "zh") -> go.Figure:
    """The key charts of a day's export: received and resolved per street, on-time and satisfaction rates."""
    from plotly.subplots import make_subplots

    streets = frame[frame["level"] == "street"]
    district = frame[frame["level"] == "district"]
    title = f"{district['region_name'].iloc[0] if len(district) else ''} {day_text}"
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(t("kpi.received", lang) + " / " + t("kpi.resolved", lang), t("wall.rates", lang)),
    )
    figure.add_bar(
        x=streets["region_name"],
        y=streets["received"],
        name=t("kpi.received", lang),
        marker_color=WALL_COLORS["received"],
        row=1,
        col=1,
    )
    figure.add_bar(
        x=streets["region_name"],
        y=streets["resolved"],
        name=t("kpi.resolved", lang),
        marker_color=WALL_COLORS["resolved"],
        row=1,
        col=1,
    )
    for key, colour in (("on_time_rate", "#ffb020"), ("satisfaction_rate", "#a77bff")):
        figure.add_bar(
            x=streets["region_name"],
            y=streets[key] * 100,
            name=t(f"kpi.{key}", lang),
            marker_color=colour,
            row=1,
            col=2,
        )
    figure.update_layout(
        title=title,
        font={"family": WALL_FONT, "size": 16},
        barmode="group",
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 30, "t": 90, "b": 120},
    )
    figure.update_yaxes(range=[0, 100], ticksuffix="%", row=1, col=2)
    return figure
