"""Maps (issue 15): the demo's map-like shapes, and the wall's and console's maps at every level.

The demo's shapes nest (every child inside its parent) and siblings do not overlap; the maps draw
a region's children (district → streets, street → communities, community → compounds) with their
holes, a label each and the longitude/latitude ratio of their latitude; archived regions are not
drawn; a region re-imported in place shows its new name and shape at the wall's next resync.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import Text, cast, func, select, text, update

from callbacks.wall import refresh as wall_refresh
from dashboard.domain.vocab import RegionLevel
from dashboard.queries import wall as walldata
from dashboard.queries.drill import DrillFilters, read_view
from dashboard.queries.regions import region_version
from dashboard.services import demo, demo_shapes
from dashboard.store.database import db
from dashboard.store.models import Appeal, Region
from dashboard.ui.figures import console_map_figure, map_figure, map_figure_dict
from layouts import drill as drill_layout
from layouts import wall as wall_layout

END = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
STREET = "510107001"
COMMUNITY = "510107001001"


# ---------------------------------------------------------------------------- the demo's shapes


def _regions(scale: str, seed: int = 20201127) -> pd.DataFrame:
    return demo.build_regions(
        np.random.default_rng(seed), demo.SCALES[scale], demo._names(), np.random.default_rng([seed, 15])
    )


@pytest.fixture(scope="module")
def district_regions() -> pd.DataFrame:
    return _regions("district")


def test_demo_shapes_nest_and_siblings_do_not_overlap(district_regions):
    frame = district_regions
    shapes = dict(zip(frame["code"], frame["shape"], strict=True))
    assert len(frame) == 1 + 13 + 100 + 1500
    assert all(g.geom_type == "Polygon" and g.is_valid for g in shapes.values())
    children = frame.dropna(subset=["parent_code"])
    inside = [
        shapes[c].intersection(shapes[p]).area / shapes[c].area
        for c, p in zip(children["code"], children["parent_code"], strict=True)
    ]
    assert min(inside) >= 0.99
    for parent, siblings in children.groupby("parent_code"):
        geometries = np.array([shapes[c] for c in siblings["code"]])
        union = shapely.union_all(geometries).area
        overlap = shapely.area(geometries).sum() - union
        assert overlap <= 1e-6 * union, parent
        if parent != "510107":  # the district holds 13 street places; a community or street is tiled
            assert union >= 0.99 * shapes[parent].area, parent


def test_demo_shapes_are_irregular_and_around_wuhou(district_regions):
    frame = district_regions
    district = frame["shape"].iloc[0]
    assert 103.95 < district.centroid.x < 104.1 and 30.55 < district.centroid.y < 30.7
    # Not rectangles: the outline has many corners and fills well under its bounding box.
    assert len(district.exterior.coords) > 40 and district.area < 0.85 * district.envelope.area
    streets = frame[frame["level"] == "street"]["shape"]
    assert {len(g.exterior.coords) for g in streets} != {5}
    # The stored GeoJSON is the shape; the centre is a point inside it.
    for row in frame.sample(50, random_state=1).itertuples():
        assert shape(json.loads(row.boundary)).equals(row.shape)
        assert row.shape.contains(shapely.Point(row.center_lon, row.center_lat))


def test_demo_shapes_are_deterministic_by_seed():
    first, again, other = _regions("street", 5), _regions("street", 5), _regions("street", 6)
    assert list(first["boundary"]) == list(again["boundary"])
    assert list(first["center_lat"]) == list(again["center_lat"])
    assert list(first["boundary"]) != list(other["boundary"])
    # The shapes come from their own generator: the main one (and so every other demo row) is untouched.
    names = demo._names()
    main_a = demo.build_regions(np.random.default_rng(1), demo.SCALES["street"], names, np.random.default_rng([5, 15]))
    main_b = demo.build_regions(np.random.default_rng(2), demo.SCALES["street"], names, np.random.default_rng([5, 15]))
    assert list(main_a["boundary"]) == list(main_b["boundary"]) == list(first["boundary"])
    assert list(main_a["weight"].fillna(0)) != list(main_b["weight"].fillna(0))


def test_sampled_points_fall_inside_their_shape():
    rng = np.random.default_rng(3)
    hole = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (3, 1), (3, 3), (1, 3)]])
    shapes = np.array([hole, shapely.Polygon([(5, 0), (9, 0), (7, 3)])])
    which = rng.integers(0, 2, 20_000)
    lon, lat = demo_shapes.sample_points(shapes, which, rng.random(20_000), rng.random(20_000))
    assert shapely.contains_xy(shapes[which], lon, lat).all()
    in_ring = which == 0  # uniform: the ring's western strip (x < 1) holds 4 of its 12 units of area
    assert abs((lon[in_ring] < 1).mean() - 1 / 3) < 0.02


def test_demo_appeals_lie_in_their_compound(demo_app):
    with db.session() as session:
        shapes = {code: shape(b) for code, b in session.execute(select(Region.code, Region.boundary))}
        points = session.execute(select(Appeal.region_code, Appeal.lon, Appeal.lat).limit(400)).all()
    # (to within the 1e-6° the coordinates are rounded to)
    assert points and all(shapes[code].distance(shapely.Point(lon, lat)) < 2e-6 for code, lon, lat in points)


# ---------------------------------------------------------------------------- the maps' shapes


def test_the_map_shows_the_level_below_at_every_level(demo_app):
    with db.session() as session:
        district = walldata.map_shapes(session, "510107", END)
        street = walldata.map_shapes(session, STREET, END)
        community = walldata.map_shapes(session, COMMUNITY, END)
        compound = walldata.map_shapes(session, COMMUNITY + "002", END)
        open_total = session.scalar(select(func.count()).select_from(Appeal).where(Appeal.is_open))
    assert (district.level, list(district.areas["code"])) == (RegionLevel.STREET, [STREET])
    assert street.level == RegionLevel.COMMUNITY and len(street.areas) == 3
    assert community.level == RegionLevel.COMPOUND and len(community.areas) == 3
    assert list(compound.areas["code"]) == [COMMUNITY + "002"]
    assert district.areas["open"].sum() == street.areas["open"].sum() == open_total
    for shapes in (district, street, community, compound):
        outline = shape(shapes.outline)
        for boundary, lon, lat in shapes.areas[["boundary", "lon", "lat"]].itertuples(index=False):
            area = shape(boundary)
            assert area.intersection(outline).area >= 0.99 * area.area
            assert area.contains(shapely.Point(lon, lat))  # the label sits inside its area


def _area_traces(figure: dict) -> list[dict]:
    return [trace for trace in figure["data"] if trace.get("meta") == "area"]


def test_a_multipolygon_with_a_hole_is_drawn_with_its_hole(demo_app):
    # An imported community: two parts, the larger one with a courtyard; rings given clockwise.
    part = [[104.00, 30.60], [104.00, 30.62], [104.02, 30.62], [104.02, 30.60], [104.00, 30.60]]
    courtyard = [[104.005, 30.605], [104.015, 30.605], [104.015, 30.615], [104.005, 30.615], [104.005, 30.605]]
    islet = [[104.03, 30.60], [104.03, 30.605], [104.035, 30.605], [104.035, 30.60], [104.03, 30.60]]
    boundary = {"type": "MultiPolygon", "coordinates": [[part, courtyard], [islet]]}
    with db.transaction() as session:
        session.execute(update(Region).where(Region.code == COMMUNITY).values(boundary=boundary))
    with db.session() as session:
        areas = walldata.map_shapes(session, STREET, END).areas.set_index("code")
    drawn = areas.loc[COMMUNITY, "boundary"]
    assert drawn["type"] == "MultiPolygon" and len(drawn["coordinates"][0]) == 2  # the hole is kept
    exterior, hole = (shapely.LinearRing(r) for r in drawn["coordinates"][0])
    assert exterior.is_ccw and not hole.is_ccw  # filled by the non-zero rule: the hole stays empty
    label = shapely.Point(areas.loc[COMMUNITY, "lon"], areas.loc[COMMUNITY, "lat"])
    assert shape(drawn).contains(label)  # not in the courtyard
    figure = map_figure_dict(areas.reset_index(), "zh")
    drawn_traces = [trace["x"] for trace in _area_traces(figure) if trace["x"] != [None]]
    rings = sum(1 for xs in drawn_traces for x in xs if x is None)  # each ring ends in a gap
    assert rings == 3 + 2  # three rings of the community, one ring each for the other two
    xs = [x for trace in _area_traces(figure) for x in trace["x"]]
    assert 104.005 in xs and 104.035 in xs


def test_the_figure_winds_holes_against_their_exterior_whatever_it_is_given():
    exterior = [[0, 0], [0, 4], [4, 4], [4, 0], [0, 0]]  # clockwise, and so is the hole
    hole = [[1, 1], [1, 3], [3, 3], [3, 1], [1, 1]]
    load = pd.DataFrame(
        [{"code": "510107001001", "name": "甲", "name_en": "A", "lat": 0.5, "lon": 2.0, "open": 0, "overdue": 0}]
    ).assign(boundary=[{"type": "Polygon", "coordinates": [exterior, hole]}])
    trace = map_figure_dict(load, "zh")["data"][0]
    points = list(zip(trace["x"], trace["y"], strict=True))
    first, second = points[: points.index((None, None))], points[points.index((None, None)) + 1 : -1]
    assert shapely.LinearRing(first).is_ccw and not shapely.LinearRing(second).is_ccw


def test_the_figure_has_the_right_aspect_ratio_labels_and_a_fill_legend(demo_app):
    with db.session() as session:
        shapes = walldata.map_shapes(session, STREET, END)
    figure = map_figure(shapes.areas, "zh", 1.5, shapes.outline)
    latitude = (min(shapes.areas["lat"]) + max(shapes.areas["lat"])) / 2
    assert figure.layout.yaxis.scaleanchor == "x"
    assert figure.layout.yaxis.scaleratio == pytest.approx(1 / math.cos(math.radians(latitude)), rel=0.01)
    assert 1.15 < figure.layout.yaxis.scaleratio < 1.17  # Chengdu, 30.6° north
    fills = [trace for trace in figure.data if trace.meta == "area"]
    assert len(fills) == len(shapes.areas) and all(
        trace.fill == "toself" and trace.showlegend is False for trace in fills
    )
    # Issue 17: the legend is a filled colour bar of one stated measure (overdue per 100 open), not lines.
    bar = next(trace for trace in figure.data if trace.marker and trace.marker.showscale)
    assert bar.marker.colorbar.ticksuffix == "%" and bar.marker.cmin == 0 and bar.marker.cmax >= 10
    rates = [100 * d / o for o, d in zip(shapes.areas["open"], shapes.areas["overdue"], strict=True) if o]
    assert len({f.fillcolor for f in fills}) > 1 or len(set(rates)) <= 1  # a continuous scale tells areas apart
    outline, labels = figure.data[-2], figure.data[-1]
    assert outline.showlegend is False and outline.x[0] is not None
    assert labels.mode == "text" and labels.showlegend is False
    assert [text.split("<br>")[0] for text in labels.text] == list(shapes.areas["name"])
    assert labels.textfont.size == round(26 * 1.5)  # 24 px or more at 1080p
    assert all(text.split("<br>")[1].endswith("%</b>") for text in labels.text)  # the value, labelled
    english = map_figure(shapes.areas, "en", 1.0, shapes.outline)
    assert "Longjing<br>" in " ".join(english.data[-1].text)


def test_archived_regions_are_not_drawn(demo_app):
    archived = COMMUNITY[:-1] + "3"
    with db.transaction() as session:
        session.execute(update(Region).where(Region.code == archived).values(archived_at=END))
    with db.session() as session:
        street = walldata.map_shapes(session, STREET, END)
        communities = walldata.community_load(session, "510107", END)
    assert archived not in set(street.areas["code"]) and len(street.areas) == 2
    assert archived not in set(communities["code"])
    figure = map_figure(street.areas, "zh", 1.0, street.outline)
    assert not any(archived in str(text) for text in figure.data[-1].text)


def test_the_console_draws_the_map_at_every_level(demo_app):
    calendar, targets = demo_app.extensions["work_calendar"], demo_app.extensions["kpi_targets"]
    for region, level, title in (
        ("510107", "street", "街道诉求分布"),
        (STREET, "community", "社区诉求分布"),
        (COMMUNITY, "compound", "小区诉求分布"),
    ):
        filters = DrillFilters(region=region, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 20))
        with db.session() as session:
            view = read_view(session, filters, END, calendar, targets)
        assert view.load.level == level
        figure = console_map_figure(view.load.areas, "zh", view.load.outline, title)
        labels = figure["data"][-1]
        assert labels["customdata"] == list(view.load.areas["code"])  # a click drills into the area
        assert figure["layout"]["yaxis"]["scaleanchor"] == "x" and figure["layout"]["title"]["text"] == title
        assert title in str(drill_layout.content(view))


# ---------------------------------------------------------------------------- re-imports reach open walls


def _map_labels(result: dict) -> list[str]:
    return [text.split("<br>")[0] for text in result["map"]["data"][-1]["text"]]


def _map_xs(result: dict) -> set:
    return {x for trace in _area_traces(result["map"]) for x in trace["x"] if x is not None}


def test_a_renamed_region_shows_at_the_next_resync(demo_app, database_url):
    state = {"region": STREET, "lang": "zh", "token": ""}
    with demo_app.test_request_context("/_dash-update-component"):
        before = wall_refresh(1, state, 1.0)
        with db.session() as session:
            version = region_version(session)
            old_name = session.get(Region, COMMUNITY).name
        assert old_name in _map_labels(before)
        # A re-import updates the community in place: a new name and a boundary moved 50 m east.
        moved = {
            "type": "Polygon",
            "coordinates": [[[104.1, 30.6], [104.1005, 30.6], [104.1005, 30.6005], [104.1, 30.6]]],
        }
        with db.transaction() as session:
            session.execute(update(Region).where(Region.code == COMMUNITY).values(name="龙井新村社区", boundary=moved))
        with db.session() as session:
            assert region_version(session) != version
        after = wall_refresh(2, state, 1.0)  # at once: the cached resync (2 s) is not reused
        assert "龙井新村社区" in _map_labels(after) and old_name not in _map_labels(after)
        assert 104.1005 in _map_xs(after) and 104.1005 not in _map_xs(before)
        if database_url.startswith("postgresql"):  # exact there: even a rename to as many characters
            with db.transaction() as session:
                session.execute(update(Region).where(Region.code == COMMUNITY).values(name="龙井老村社区"))
            assert "龙井老村社区" in _map_labels(wall_refresh(3, state, 1.0))


def test_an_import_in_this_process_refreshes_the_shapes_at_once(demo_app):
    """The importer's signal (queries.regions.notify_changed) clears the shapes cached for the maps,
    even for an edit the table's fingerprint could not see (same text length, same centre)."""
    from dashboard.queries.regions import notify_changed

    with db.session() as session:
        before = walldata.map_shapes(session, STREET, END).areas.set_index("code").loc[COMMUNITY, "boundary"]
        version = region_version(session)
        dialect = session.get_bind().dialect.name
        stored = session.scalar(select(cast(Region.boundary, Text)).where(Region.code == COMMUNITY))
    # Move the third corner about 10 m, written with as many characters (as a re-import may).
    third = list(re.finditer(r"30\.\d\d\d(\d)", stored))[2]
    digit = str((int(third.group(1)) + 5) % 10)
    nudged = stored[: third.start(1)] + digit + stored[third.end(1) :]
    value = "CAST(:b AS JSON)" if dialect == "postgresql" else ":b"
    with db.transaction() as session:
        session.execute(text(f"UPDATE regions SET boundary = {value} WHERE code = :c"), {"b": nudged, "c": COMMUNITY})
    with db.session() as session:
        unseen = region_version(session) == version  # SQLite's fingerprint cannot see this edit
    assert unseen == (dialect == "sqlite")
    notify_changed(db)
    with db.session() as session:
        after = walldata.map_shapes(session, STREET, END).areas.set_index("code").loc[COMMUNITY, "boundary"]
    assert after != before
    corner = shape(json.loads(nudged)).exterior.coords[2]
    assert (
        shapely.Point(corner).distance(shape(after).boundary)
        < 1e-6
        < shapely.Point(corner).distance(shape(before).boundary)
    )


def test_the_wall_titles_its_map_by_the_level_drawn(demo_app):
    with demo_app.test_request_context("/wall"):
        district = walldata.read("510107", "zh")
        community = walldata.read(COMMUNITY, "en")
    assert "街道诉求分布" in str(wall_layout.render(district, "delta"))
    assert "Appeals by compound" in str(wall_layout.render(community, "delta"))
    assert wall_layout.resync(district, 1.0)["map"].layout.yaxis.scaleanchor == "x"
