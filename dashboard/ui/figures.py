"""Plotly figures: pure functions of data, tested without a browser."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import plotly.graph_objects as go

from dashboard.ui.i18n import romanized, t

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
    """Appeals received (bars) and resolved (line) per day, in appeals per day, styled for the dark wall.

    The last day is today, still running: its bar is hatched and dimmer and says "今日（进行中）",
    so a low count there reads as a day not over rather than a collapse. The count's unit is on
    the axis; the axis' numbers sit above their grid lines, clear of the dates below. Plotly sizes
    text and lines in pixels, so they are multiplied by the screen's scale against the 1920×1080
    design, like everything else on the wall. No data at all: "暂无数据".
    """
    if not len(volume) or not has_data(list(volume["received"]) + list(volume["resolved"])):
        return empty_figure(lang, scale)
    days = pd.to_datetime(volume["day"])
    partial = [False] * (len(days) - 1) + [True]
    figure = go.Figure()
    figure.add_bar(
        x=days,
        y=volume["received"],
        name=t("kpi.received", lang),
        marker={
            "color": WALL_COLORS["received"],
            "opacity": [0.45 if p else 0.85 for p in partial],
            "pattern": {"shape": ["/" if p else "" for p in partial], "fgcolor": "#d8e6ff", "size": 8 * scale},
            "line": {"color": [WALL_COLORS["received"] if p else "rgba(0,0,0,0)" for p in partial], "width": 2 * scale},
        },
    )
    figure.add_scatter(
        x=days,
        y=volume["resolved"],
        name=t("kpi.resolved", lang),
        mode="lines+markers",
        line={"color": WALL_COLORS["resolved"], "width": 3 * scale},
        marker={"size": 6 * scale},
    )
    top = max(int(volume["received"].max()), int(volume["resolved"].max()), 1)
    figure.add_annotation(  # what the hatched bar is: today, not over yet
        xref="paper",
        yref="paper",
        x=1,
        y=1,
        xanchor="right",
        yanchor="top",
        showarrow=False,
        text="▨ " + t("wall.trend_today_partial", lang),
        font={"size": round(24 * scale), "color": WALL_COLORS["text"]},
        bgcolor="rgba(5,11,26,0.7)",
    )
    size = round(24 * scale)
    figure.update_layout(
        paper_bgcolor=WALL_COLORS["background"],
        plot_bgcolor=WALL_COLORS["background"],
        font={"family": WALL_FONT, "color": WALL_COLORS["text"], "size": size},
        margin={"l": round(12 * scale), "r": round(16 * scale), "t": round(40 * scale), "b": round(40 * scale)},
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom", "font": {"size": size}},
        bargap=0.25,
        xaxis={
            "showgrid": False,
            "tickangle": 0,
            "tickformat": "%m-%d",
            "tick0": days.iloc[-1],  # ticks count back from today, a week apart
            "dtick": 7 * 86_400_000,
            "ticks": "outside",
            "ticklen": round(6 * scale),
        },
        yaxis={
            "gridcolor": WALL_COLORS["grid"],
            "zeroline": False,
            "rangemode": "tozero",
            "range": [0, top * 1.45],  # room for the corner note above the tallest bar
            "ticklabelposition": "inside top",  # above its line: the 0 never meets the first date
            "nticks": 4,
        },
        uirevision="wall",
    )
    return figure


# The map's colour scale (a continuous one, of one stated measure: overdue per 100 open, "超期率"):
# plasma, whose lightness rises with the value, so it reads the same with red-green colour blindness
# and in grey; the label of each area also states the value in words and numbers.
MAP_SCALE = ((0.0, "#2d1a8c"), (0.25, "#7e03a8"), (0.5, "#cc4778"), (0.75, "#f89540"), (1.0, "#f0f921"))
MAP_SCALE_FLOOR = 10.0  # the scale spans at least 0–10 %: a few overdue among many open stay dim


MAP_EDGE = "rgba(143,208,255,0.9)"


def overdue_rate(open_count: int, overdue: int) -> float | None:
    """The map's measure: overdue appeals per 100 open ones (None where nothing is open)."""
    return 100.0 * overdue / open_count if open_count else None


def map_scale_top(rates) -> float:
    """The top of the colour scale: the largest rate rounded up to a multiple of 10 %, at least 10 %, at most 100 %."""
    largest = max((r for r in rates if r is not None), default=0.0)
    return min(100.0, max(MAP_SCALE_FLOOR, math.ceil(largest / 10.0) * 10.0))


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def scale_colour(fraction: float) -> str:
    """The colour at a fraction (0–1) of MAP_SCALE, interpolated in RGB."""
    fraction = min(max(fraction, 0.0), 1.0)
    for (low, low_colour), (high, high_colour) in itertools.pairwise(MAP_SCALE):
        if fraction <= high:
            part = (fraction - low) / (high - low)
            a, b = _hex_rgb(low_colour), _hex_rgb(high_colour)
            return "#" + "".join(f"{round(x + (y - x) * part):02x}" for x, y in zip(a, b, strict=True))
    return MAP_SCALE[-1][1]


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
        names = [romanized(str(n)) for n in load["name_en"]]
        return [n.removesuffix(" Community").removesuffix(" Street").removesuffix(" Compound") for n in names]
    return [str(n) for n in load["name"]]


def map_label_size(count: int, scale: float = 1.0) -> int:
    """Label text for a map of count areas: readable across the room (24 px at 1080p) up to 30 areas."""
    return round((26 if count <= 16 else 24 if count <= 30 else 16) * scale)


NO_AREA = "rgba(127,147,184,0.18)"  # an area with nothing open: no rate to colour by


def map_figure_dict(load: pd.DataFrame, lang: str, scale: float = 1.0, outline: dict | None = None) -> dict:
    """The map as a plain figure dict (the console uses it as it is: no plotly validation to pay for).

    load: one row per area (code, name, name_en, boundary: GeoJSON Polygon or MultiPolygon, lat
    and lon: where its label goes, open, overdue); outline: the shape of the region the areas
    divide, drawn as a line around them. Each area is coloured by its overdue rate (overdue per
    100 open, `overdue_rate`) on the continuous MAP_SCALE from 0 to `map_scale_top`.

    Traces, in order: one filled trace per area (its `meta` is "area", its customdata its code,
    so a click anywhere inside it names it), the colour bar (a filled gradient with its title and
    ticks: the legend), the outline, then the labels (last).
    """
    rates = [overdue_rate(int(o), int(d)) for o, d in zip(load["open"], load["overdue"], strict=True)]
    top = map_scale_top(rates)
    colours = [NO_AREA if r is None else scale_colour(r / top) for r in rates]
    traces = []
    all_ys: list = []
    for code, boundary, colour in zip(load["code"], load["boundary"], colours, strict=True):
        xs, ys = _ring_xy([boundary])
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
                "customdata": [code] * max(len(xs), 1),
                "meta": "area",
                "showlegend": False,
                "hoverinfo": "skip",
            }
        )
    title = t("wall.map_measure", lang)
    traces.append(  # the legend: a colour bar, filled, with its measure named
        {
            "type": "scatter",
            "x": [None],
            "y": [None],
            "mode": "markers",
            "marker": {
                "color": [0, top],
                "cmin": 0,
                "cmax": top,
                "colorscale": [list(step) for step in MAP_SCALE],
                "showscale": True,
                "colorbar": {
                    "title": {"text": title, "side": "top", "font": {"size": round(24 * scale)}},
                    "orientation": "h",
                    "x": 0,
                    "xanchor": "left",
                    "y": 0,
                    "yanchor": "top",
                    "len": 0.6,
                    "thickness": round(18 * scale),
                    "ticksuffix": "%",
                    "tickfont": {"size": round(24 * scale)},
                    "outlinewidth": 0,
                },
            },
            "showlegend": False,
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
        f"{n}<br><b>{'–' if r is None else f'{r:.0f}%'}</b>"
        for n, r in zip(_short_names(load, lang), rates, strict=True)
    ]
    traces.append(
        {
            "type": "scatter",
            "x": [None if pd.isna(v) else float(v) for v in load["lon"]],
            "y": [None if pd.isna(v) else float(v) for v in load["lat"]],
            "mode": "text",
            "text": labels,
            "textfont": {  # light text with a dark halo: readable on every colour of the scale and off it
                "color": "#ffffff",
                "size": map_label_size(len(load), scale),
                "shadow": "0 0 3px #000, 0 0 6px #000",
            },
            "showlegend": False,
            "hoverinfo": "skip",
        }
    )
    layout = {
        "paper_bgcolor": WALL_COLORS["background"],
        "plot_bgcolor": WALL_COLORS["background"],
        "font": {"family": WALL_FONT, "color": WALL_COLORS["text"], "size": round(24 * scale)},
        "margin": {"l": 4, "r": 4, "t": 4, "b": round(84 * scale)},
        "showlegend": False,
        "xaxis": {"visible": False},
        # Longitude and latitude degrees differ in length: 1/cos(latitude) keeps shapes undistorted.
        "yaxis": {"visible": False, "scaleanchor": "x", "scaleratio": lonlat_ratio(all_ys)},
        "uirevision": "map",
    }
    return {"data": traces, "layout": layout}


def empty_figure(lang: str | None = None, scale: float = 1.0) -> go.Figure:
    """A blank wall chart with no axes; with a language it says "暂无数据" / "No data" in its middle
    (without one it is just blank, as for a wall that may no longer show data)."""
    figure = go.Figure()
    figure.update_layout(
        paper_bgcolor=WALL_COLORS["background"],
        plot_bgcolor=WALL_COLORS["background"],
        xaxis={"visible": False},
        yaxis={"visible": False},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
    )
    if lang is not None:
        figure.add_annotation(
            text=t("chart.no_data", lang),
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
            showarrow=False,
            font={"family": WALL_FONT, "color": WALL_COLORS["muted"], "size": round(28 * scale)},
        )
    return figure


def has_data(values) -> bool:
    """Whether a chart has anything to draw: some value that is neither missing nor zero."""
    return any(v is not None and not pd.isna(v) and v != 0 for v in values)


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


def console_empty_figure(title: str, lang: str, height: int = 300) -> dict:
    """A console chart with nothing to draw: its title and "暂无数据" / "No data", no axes (never a −1…1 axis)."""
    return _console_figure(
        [],
        title,
        height,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": t("chart.no_data", lang),
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
                "font": {"size": 16, "color": CONSOLE_COLORS["muted"]},
            }
        ],
    )


CHILDREN_MIN_HEIGHT = 440  # as tall as the console's map beside it
CHILDREN_PANELS = (  # (column, words, colour): each measure on its own axis (volume ≈5,000 beside overdue ≈30)
    ("received", "console.children_received", "received"),
    ("open", "console.open_now", "open"),
    ("overdue", "kpi.overdue_open", "overdue"),
)


def children_figure(children: pd.DataFrame, title: str, lang: str) -> dict:
    """Per sub-region, side by side, each on its own axis: appeals received in the period, open now and
    overdue now (horizontal bars, the names once on the left); a click on any bar drills down."""
    if not len(children):
        return console_empty_figure(title, lang)
    codes = list(children["code"])
    names = list(children["name"])
    gap = 0.05
    width = (1 - gap * (len(CHILDREN_PANELS) - 1)) / len(CHILDREN_PANELS)
    traces, axes, annotations = [], {}, []
    for index, (column, key, colour) in enumerate(CHILDREN_PANELS):
        values = [int(v) for v in children[column]]
        axis = "x" if index == 0 else f"x{index + 1}"
        low = index * (width + gap)
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "y": names,
                "x": values,
                "xaxis": axis,
                "name": t(key, lang),
                "marker": {"color": CONSOLE_COLORS[colour]},
                "customdata": codes,
                "text": [f"{v:,}" for v in values],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": "%{y} · " + t(key, lang) + ": %{x:,}<extra></extra>",
                "showlegend": False,
            }
        )
        top = max(values, default=0)
        axes["xaxis" if index == 0 else f"xaxis{index + 1}"] = {
            "domain": [low, low + width],
            "range": [0, top * 1.3 if top else 1],
            "gridcolor": CONSOLE_COLORS["grid"],
            "zeroline": False,
            "showticklabels": False,
            "fixedrange": True,
        }
        annotations.append(
            {
                "text": f"<b>{t(key, lang)}</b>",
                "xref": "paper",
                "yref": "paper",
                "x": low,
                "y": 1,
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 13, "color": CONSOLE_COLORS[colour] if colour != "open" else "#4b6f9e"},
            }
        )
    height = max(CHILDREN_MIN_HEIGHT, 100 + 30 * len(names))
    band = (height - 80) / max(len(names), 1)  # pixels per sub-region
    for trace in traces:  # bars about 22 px thick, however few the sub-regions
        trace["width"] = round(min(0.75, 22 / band), 3)
    return _console_figure(
        traces,
        title,
        height,
        **axes,
        yaxis={"autorange": "reversed", "automargin": True, "fixedrange": True, "gridcolor": CONSOLE_COLORS["grid"]},
        annotations=annotations,
        margin={"l": 10, "r": 16, "t": 64, "b": 16},
        hovermode="closest",
    )


def dimension_figure(
    counts: dict[str, int], labels: dict[str, str], selected: tuple[str, ...], title: str, lang: str = "zh"
) -> dict:
    """Appeals per value of one dimension (category, channel, priority…); a click toggles a cross-filter."""
    if not has_data(counts.values()):
        return console_empty_figure(title, lang)
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
    if not (has_data(series["received"]) or has_data(series["resolved"])):
        return console_empty_figure(t("console.volume", lang), lang)
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
    if series["on_time_rate"].isna().all() and series["avg_handling_wd"].isna().all():
        return console_empty_figure(t("console.timeliness", lang), lang)
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
    if series["satisfaction_rate"].isna().all():
        return console_empty_figure(t("console.satisfaction", lang), lang)
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
    if not has_data(counts):
        return console_empty_figure(t("console.ageing", lang), lang)
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
    """The wall's map (map_figure_dict: its colours, scale and labels) on a light page, where a click
    anywhere inside an area drills down (each area is a filled trace whose customdata is its code; Dash
    passes it with a click on the fill) and a hover over an area names it, its load, and that a click
    drills; the labels click too."""
    figure = map_figure_dict(load, lang, outline=outline)
    names = _short_names(load, lang)
    hovers = {
        str(code): t("console.map_hover", lang, name=name, open=int(o), overdue=int(d))
        for code, name, o, d in zip(load["code"], names, load["open"], load["overdue"], strict=True)
    }
    for trace in figure["data"]:
        if trace.get("meta") == "area":
            code = str((trace.get("customdata") or [""])[0])
            trace.update(
                line={"color": "#5c7fa8", "width": 1},
                hoveron="fills",
                hoverinfo="text",
                text=hovers.get(code, ""),
            )
            trace.pop("hovertemplate", None)
        elif trace.get("marker", {}).get("showscale"):  # the colour bar: console-sized words
            bar = trace["marker"]["colorbar"]
            bar["title"]["font"] = {"size": 12}
            bar.update(tickfont={"size": 11}, thickness=12)
    figure["data"][-2]["line"] = {"color": "#1f2a3d", "width": 2}  # the region's outline
    labels = figure["data"][-1]
    labels.update(
        mode="markers+text",
        customdata=list(load["code"]),
        textposition="middle center",
        marker={"size": 26, "color": "rgba(0,0,0,0)"},
        hovertemplate="%{text}<extra></extra>",
    )
    labels["textfont"] = {**labels.get("textfont", {}), "size": 13 if len(load) <= 16 else 11}
    labels.pop("hoverinfo", None)
    figure["layout"].update(
        height=440,
        paper_bgcolor="white",
        plot_bgcolor="white",
        font={"family": WALL_FONT, "color": CONSOLE_COLORS["text"], "size": 12},
        title={"text": title or t("wall.map", lang), "x": 0, "font": {"size": 15}},
        margin={"l": 4, "r": 4, "t": 36, "b": 60},
        hovermode="closest",
        dragmode=False,
        clickmode="event",
    )
    figure["layout"]["xaxis"] = {**figure["layout"]["xaxis"], "fixedrange": True}
    figure["layout"]["yaxis"] = {**figure["layout"]["yaxis"], "fixedrange": True}
    return figure
