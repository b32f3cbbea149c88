"""Plotly figures: pure functions of data, tested without a browser."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from dashboard.ui.i18n import t

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


MAP_EDGE = "rgba(143,208,255,0.9)"


def map_bucket(open_count: int, overdue: int, busy_threshold: int) -> int:
    """Which colour a community gets: calm, busy, some overdue, many overdue."""
    if overdue >= 3:
        return 3
    if overdue > 0:
        return 2
    return 1 if open_count >= busy_threshold else 0


def map_figure(load: pd.DataFrame, lang: str, scale: float = 1.0, outline: dict | None = None) -> go.Figure:
    """Areas drawn from their own shapes (no map tiles), coloured by open/overdue load."""
    return go.Figure(map_figure_dict(load, lang, scale, outline))


MAP_TITLES = {"street": "wall.map_street", "community": "wall.map", "compound": "wall.map_compound"}


def map_title(level, lang: str) -> str:
    """A map's title for the level of its areas (a RegionLevel or its value): appeals by street, community…"""
    return t(MAP_TITLES.get(getattr(level, "value", level), "wall.map"), lang)


def _polygons(geometry: dict | None) -> list[list]:
    """The polygons (each a list of rings: exterior, then holes) of a GeoJSON Polygon or MultiPolygon."""
    if not isinstance(geometry, dict):
        return []
    if geometry.get("type") == "Polygon":
        return [geometry.get("coordinates") or []]
    if geometry.get("type") == "MultiPolygon":
        return geometry.get("coordinates") or []
    return []


def _signed_area(ring: list) -> float:
    """Twice the ring's signed area (shoelace): positive when it runs counter-clockwise."""
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True))


def _ring_xy(geometries) -> tuple[list, list]:
    """x and y of every ring of the geometries, each ring closed and followed by a gap (None).

    A filled trace fills its rings as one path by the non-zero rule: exteriors are drawn
    counter-clockwise and holes clockwise (reversed here where needed), so a hole stays empty.
    """
    xs: list = []
    ys: list = []
    for geometry in geometries:
        for polygon in _polygons(geometry):
            for position, ring in enumerate(polygon):
                if len(ring) < 3:
                    continue
                if (_signed_area(ring) > 0) != (position == 0):
                    ring = ring[::-1]
                xs += [float(p[0]) for p in ring] + [None]
                ys += [float(p[1]) for p in ring] + [None]
    return xs, ys


def lonlat_ratio(ys: list) -> float:
    """scaleratio for a lat (y) axis against a lon (x) axis: 1/cos(latitude), so that a kilometre is
    as long north-south as east-west on the screen (1.16 at Chengdu's 30.6°)."""
    values = [y for y in ys if y is not None]
    middle = (min(values) + max(values)) / 2 if values else 30.6
    return round(1 / math.cos(math.radians(max(min(middle, 85.0), -85.0))), 4)


def _short_names(load: pd.DataFrame, lang: str) -> list[str]:
    if lang == "en" and "name_en" in load:
        # The panel's title says what the areas are; the bare names fit the map's small shapes.
        return [str(n).removesuffix(" Community").removesuffix(" Street") for n in load["name_en"]]
    return [str(n) for n in load["name"]]


def map_label_size(count: int, scale: float = 1.0) -> int:
    """Label text for a map of count areas: large for a few streets, smaller for many compounds."""
    return round((18 if count <= 16 else 15 if count <= 30 else 12) * scale)


def map_figure_dict(load: pd.DataFrame, lang: str, scale: float = 1.0, outline: dict | None = None) -> dict:
    """The map as a plain figure dict (the console uses it as it is: no plotly validation to pay for).

    load: one row per area (code, name, name_en, boundary: GeoJSON Polygon or MultiPolygon, lat
    and lon: where its label goes, open, overdue); outline: the shape of the region the areas
    divide, drawn as a line around them. Traces: one filled trace per colour bucket, a legend
    swatch (a filled square) per bucket, the outline, then the labels (last).
    """
    busy = max(3, int(load["open"].quantile(0.6))) if len(load) else 3
    buckets = [map_bucket(o, d, busy) for o, d in zip(load["open"], load["overdue"], strict=True)]
    traces = []
    all_ys: list = []
    for index, (key, colour) in enumerate(MAP_BUCKETS):
        xs, ys = _ring_xy(b for b, bucket in zip(load["boundary"], buckets, strict=True) if bucket == index)
        all_ys += ys
        traces.append(
            {
                "type": "scatter",
                "x": xs or [None],
                "y": ys or [None],
                "fill": "toself",
                "fillcolor": colour,
                "mode": "lines",
                "line": {"color": MAP_EDGE, "width": scale},
                "name": t(key, lang),
                "legendgroup": key,
                "showlegend": False,  # a filled trace's own legend mark is a thin band: a swatch stands in
                "hoverinfo": "skip",
            }
        )
    for key, colour in MAP_BUCKETS:  # the legend: a filled square per colour, like the areas
        traces.append(
            {
                "type": "scatter",
                "x": [None],
                "y": [None],
                "mode": "markers",
                "marker": {
                    "symbol": "square",
                    "size": round(14 * scale),
                    "color": colour,
                    "line": {"color": MAP_EDGE, "width": 1},
                },
                "name": t(key, lang),
                "legendgroup": key,
                "hoverinfo": "skip",
            }
        )
    xs, ys = _ring_xy([outline])
    all_ys += ys
    traces.append(
        {
            "type": "scatter",
            "x": xs or [None],
            "y": ys or [None],
            "mode": "lines",
            "line": {"color": "rgba(216,230,255,0.75)", "width": 2.5 * scale},
            "showlegend": False,
            "hoverinfo": "skip",
        }
    )
    labels = [
        f"{n}<br>{o} · <b>{d}</b>" if d else f"{n}<br>{o}"
        for n, o, d in zip(_short_names(load, lang), load["open"], load["overdue"], strict=True)
    ]
    traces.append(
        {
            "type": "scatter",
            "x": [None if pd.isna(v) else float(v) for v in load["lon"]],
            "y": [None if pd.isna(v) else float(v) for v in load["lat"]],
            "mode": "text",
            "text": labels,
            "textfont": {"color": WALL_COLORS["text"], "size": map_label_size(len(load), scale)},
            "showlegend": False,
            "hoverinfo": "skip",
        }
    )
    layout = {
        "paper_bgcolor": WALL_COLORS["background"],
        "plot_bgcolor": WALL_COLORS["background"],
        "font": {"family": WALL_FONT, "color": WALL_COLORS["text"], "size": round(15 * scale)},
        "margin": {"l": 4, "r": 4, "t": 4, "b": 4},
        "legend": {
            "orientation": "h",
            "x": 0,
            "y": 0,
            "yanchor": "top",
            "bgcolor": "rgba(0,0,0,0)",
            "itemsizing": "constant",
            "itemwidth": 40,
        },
        "xaxis": {"visible": False},
        # Longitude and latitude degrees differ in length: 1/cos(latitude) keeps shapes undistorted.
        "yaxis": {"visible": False, "scaleanchor": "x", "scaleratio": lonlat_ratio(all_ys)},
        "uirevision": "map",
    }
    return {"data": traces, "layout": layout}


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


# ---------------------------------------------------------------------------- supervisors' console

CONSOLE_COLORS = {
    "text": "#1f2a3d",
    "muted": "#6b778c",
    "grid": "#e6eaf0",
    "received": "#2f7ed8",
    "resolved": "#1ba97a",
    "open": "#8fb3de",
    "overdue": "#e0475b",
    "target": "#f0a020",
    "selected": "#ff8a00",
}


# Console figures are plain dicts: dcc.Graph takes them as they are, and building them skips
# plotly's per-property validation, which costs more than the queries behind a drill-down.
def _console_figure(traces: list[dict], title: str, height: int = 300, **layout) -> dict:
    base = {
        "height": height,
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "font": {"family": WALL_FONT, "color": CONSOLE_COLORS["text"], "size": 13},
        "margin": {"l": 48, "r": 12, "t": 36, "b": 40},
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.14},
        "xaxis": {"gridcolor": CONSOLE_COLORS["grid"]},
        "yaxis": {"gridcolor": CONSOLE_COLORS["grid"], "zeroline": False},
        "clickmode": "event",
        "title": {"text": title, "x": 0, "font": {"size": 15}},
    }
    for key, value in layout.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return {"data": traces, "layout": base}


def _days(series: pd.DataFrame) -> list[str]:
    return [pd.Timestamp(day).strftime("%Y-%m-%d") for day in series["day"]]


def _values(column: pd.Series, factor: float = 1.0) -> list:
    """Numbers for JSON, with None where a value is missing (a gap in the line)."""
    return [None if pd.isna(v) else float(v) * factor for v in column]


def children_figure(children: pd.DataFrame, title: str, lang: str) -> dict:
    """Appeals received in the period per sub-region, with open and overdue now; a click drills down."""
    codes = list(children["code"])
    names = list(children["name"])
    traces = [
        {
            "type": "bar",
            "x": names,
            "y": [int(v) for v in children[column]],
            "name": t(key, lang),
            "marker": {"color": CONSOLE_COLORS[colour]},
            "customdata": codes,
        }
        for column, key, colour in (
            ("received", "kpi.received", "received"),
            ("open", "console.open_now", "open"),
            ("overdue", "kpi.overdue_open", "overdue"),
        )
    ]
    return _console_figure(traces, title, barmode="group")


def dimension_figure(counts: dict[str, int], labels: dict[str, str], selected: tuple[str, ...], title: str) -> dict:
    """Appeals per value of one dimension (category, channel, priority…); a click toggles a cross-filter."""
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    codes = [code for code, _ in ordered]
    colours = [
        CONSOLE_COLORS["selected"] if code in selected else CONSOLE_COLORS["received"] if not selected else "#b8c7dc"
        for code in codes
    ]
    trace = {
        "type": "bar",
        "orientation": "h",
        "y": [labels[code] for code in codes],
        "x": [c for _, c in ordered],
        "marker": {"color": colours},
        "customdata": codes,
        "hovertemplate": "%{y}: %{x}<extra></extra>",
    }
    return _console_figure(
        [trace], title, yaxis={"autorange": "reversed"}, margin={"l": 110, "r": 12, "t": 36, "b": 30}
    )


def volume_figure(series: pd.DataFrame, lang: str) -> dict:
    """Appeals received (bars) and resolved (line) per local day of the period."""
    days = _days(series)
    traces = [
        {
            "type": "bar",
            "x": days,
            "y": [int(v) for v in series["received"]],
            "name": t("kpi.received", lang),
            "marker": {"color": CONSOLE_COLORS["received"]},
        },
        {
            "type": "scatter",
            "x": days,
            "y": [int(v) for v in series["resolved"]],
            "name": t("kpi.resolved", lang),
            "mode": "lines+markers",
            "line": {"color": CONSOLE_COLORS["resolved"], "width": 2},
        },
    ]
    return _console_figure(traces, t("console.volume", lang), xaxis={"tickformat": "%m-%d"})


def _target_line(days: list[str], value: float | None, name: str, yaxis: str = "y") -> list[dict]:
    if value is None or not days:
        return []
    return [
        {
            "type": "scatter",
            "x": [days[0], days[-1]],
            "y": [value, value],
            "mode": "lines",
            "name": name,
            "yaxis": yaxis,
            "line": {"color": CONSOLE_COLORS["target"], "dash": "dash", "width": 1.5},
        }
    ]


def _target(targets: dict, key: str, factor: float = 1.0) -> float | None:
    value = targets.get(key, {}).get("target")
    return None if value is None else value * factor


def timeliness_figure(series: pd.DataFrame, targets: dict, lang: str) -> dict:
    """On-time rate (left axis, %) and mean handling time in working days (right axis) per day, with targets."""
    days = _days(series)
    traces = [
        {
            "type": "scatter",
            "x": days,
            "y": _values(series["on_time_rate"], 100),
            "name": t("kpi.on_time_rate", lang),
            "mode": "lines+markers",
            "line": {"color": CONSOLE_COLORS["resolved"], "width": 2},
        },
        {
            "type": "scatter",
            "x": days,
            "y": _values(series["avg_handling_wd"]),
            "name": t("kpi.avg_handling_wd", lang),
            "mode": "lines+markers",
            "yaxis": "y2",
            "line": {"color": CONSOLE_COLORS["received"], "width": 2},
        },
        *_target_line(days, _target(targets, "on_time_rate", 100), t("console.target_on_time", lang)),
        *_target_line(days, _target(targets, "avg_handling_wd"), t("console.target_handling", lang), "y2"),
    ]
    return _console_figure(
        traces,
        t("console.timeliness", lang),
        xaxis={"tickformat": "%m-%d"},
        yaxis={"range": [0, 105], "ticksuffix": "%"},
        yaxis2={"overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False, "tickformat": ".1f"},
        margin={"l": 48, "r": 40, "t": 36, "b": 40},
    )


def satisfaction_figure(series: pd.DataFrame, targets: dict, lang: str) -> dict:
    """Satisfaction rate per day of the period, against its target."""
    days = _days(series)
    traces = [
        {
            "type": "scatter",
            "x": days,
            "y": _values(series["satisfaction_rate"], 100),
            "name": t("kpi.satisfaction_rate", lang),
            "mode": "lines+markers",
            "line": {"color": "#8a5cd6", "width": 2},
        },
        *_target_line(days, _target(targets, "satisfaction_rate", 100), t("console.target_satisfaction", lang)),
    ]
    return _console_figure(
        traces,
        t("console.satisfaction", lang),
        xaxis={"tickformat": "%m-%d"},
        yaxis={"range": [0, 105], "ticksuffix": "%"},
    )


def ageing_figure(counts: list[int], lang: str) -> dict:
    """Open appeals past their deadline now, by how many days ago it passed."""
    buckets = [t(f"console.ageing_{i}", lang) for i in range(len(counts))]
    trace = {
        "type": "bar",
        "x": buckets,
        "y": counts,
        "marker": {"color": CONSOLE_COLORS["overdue"]},
        "text": counts,
        "textposition": "outside",
    }
    return _console_figure([trace], t("console.ageing", lang))


def console_map_figure(load: pd.DataFrame, lang: str, outline: dict | None = None, title: str | None = None) -> dict:
    """The wall's map on a light page, with clickable labels (a click drills down)."""
    figure = map_figure_dict(load, lang, outline=outline)
    labels = figure["data"][-1]
    labels.update(
        mode="markers+text",
        customdata=list(load["code"]),
        textposition="middle center",
        marker={"size": 26, "color": "rgba(0,0,0,0)"},
        textfont={"color": CONSOLE_COLORS["text"], "size": 13 if len(load) <= 16 else 11},
        hovertemplate="%{text}<extra></extra>",
    )
    labels.pop("hoverinfo")
    for trace in figure["data"][: len(MAP_BUCKETS)]:
        trace["line"] = {"color": "#5c7fa8", "width": 1}
    figure["data"][-2]["line"] = {"color": "#1f2a3d", "width": 2}  # the region's outline
    figure["layout"].update(
        height=420,
        paper_bgcolor="white",
        plot_bgcolor="white",
        font={"family": WALL_FONT, "color": CONSOLE_COLORS["text"], "size": 12},
        title={"text": title or t("wall.map", lang), "x": 0, "font": {"size": 15}},
        margin={"l": 4, "r": 4, "t": 36, "b": 4},
        clickmode="event",
    )
    return figure
