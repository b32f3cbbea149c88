"""Locating by coordinates (issue 15): the compound index, its rebuilds, ingest and Open311 by lat/long."""

from __future__ import annotations

import datetime as dt
import json
import math
import pickle
import random

import numpy as np
import pytest
import shapely
from sqlalchemy import func, select, update

from dashboard.domain.vocab import Channel, RegionLevel
from dashboard.queries import locate
from dashboard.queries.locate import CompoundIndex, Locator, locator_for
from dashboard.queries.regions import notify_changed, regions_changed
from dashboard.services.ingest.dropfolder import ingest_file
from dashboard.services.ingest.readers import RawRecord
from dashboard.store.database import db
from dashboard.store.models import Appeal, QuarantinedRecord, Region

DISTRICT, STREET, COMMUNITY = "510107", "510107001", "510107001001"
C1, C2, C3, C4, C5 = (f"{COMMUNITY}00{n}" for n in range(1, 6))


def _polygon(outer, *holes) -> dict:
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]] for ring in (outer, *holes)]}


def _square(x0, y0, x1, y1) -> list:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


HOLE = _square(104.014, 30.606, 104.018, 30.614)
SHAPES = {
    # An irregular pentagon, whose right side (two segments) C2 shares.
    C1: _polygon([(104.000, 30.600), (104.010, 30.600), (104.012, 30.610), (104.010, 30.620), (104.000, 30.620)]),
    # A shape with a hole, which C3 fills.
    C2: _polygon([(104.010, 30.600), (104.020, 30.600), (104.020, 30.620), (104.010, 30.620), (104.012, 30.610)], HOLE),
    C3: _polygon(HOLE),
    # Two separate parts.
    C4: {
        "type": "MultiPolygon",
        "coordinates": [
            _polygon(_square(104.022, 30.600, 104.026, 30.604))["coordinates"],
            _polygon(_square(104.030, 30.610, 104.034, 30.614))["coordinates"],
        ],
    },
    # Archived in the database tests.
    C5: _polygon(_square(104.036, 30.600, 104.040, 30.604)),
}
# (lat, lon) → the compound that holds it.
INSIDE = {
    (30.610, 104.005): C1,
    (30.603, 104.018): C2,
    (30.610, 104.016): C3,  # in C2's hole: C3's
    (30.602, 104.024): C4,
    (30.612, 104.032): C4,  # C4's other part
}
OUTSIDE = [(30.608, 104.028), (30.610, 104.060), (39.9, 116.4)]  # between C4's parts, east of the district, Beijing
BORDERS = {
    (30.610, 104.012): C1,  # the vertex C1 and C2 share
    (30.600, 104.005): C1,  # C1's outer edge: on the border is inside
    (30.610, 104.014): C2,  # the rim of C2's hole is C3's edge too: the lower code
    (30.606, 104.014): C2,  # a corner of the hole
}


def _pure_index(shapes=SHAPES) -> CompoundIndex:
    return CompoundIndex(shapes.items())


# ---- the index, without a database ---------------------------------------------------------------------
def test_points_inside_outside_and_in_holes():
    index = _pure_index()
    assert len(index) == 5
    for (lat, lon), code in INSIDE.items():
        assert index.locate(lat, lon) == code, (lat, lon)
    for lat, lon in OUTSIDE:
        assert index.locate(lat, lon) is None
    points = [*INSIDE, *OUTSIDE]
    lats, lons = zip(*points, strict=True)
    assert index.locate_many(lats, lons) == [*INSIDE.values(), *[None] * len(OUTSIDE)]


def test_a_hole_that_no_compound_fills_is_outside():
    index = _pure_index({C2: SHAPES[C2]})
    assert index.locate(30.610, 104.016) is None
    assert index.locate_many([30.610], [104.016]) == [None]
    assert index.locate(30.603, 104.018) == C2


def test_a_point_on_a_shared_border_goes_to_the_lowest_code_whatever_the_order():
    forward = _pure_index()
    backward = CompoundIndex(reversed(list(SHAPES.items())))
    shuffled = list(SHAPES.items())
    random.Random(3).shuffle(shuffled)
    for index in (forward, backward, CompoundIndex(shuffled)):
        lats, lons = zip(*BORDERS, strict=True)
        assert index.locate_many(lats, lons) == list(BORDERS.values())
        assert [index.locate(lat, lon) for lat, lon in BORDERS] == list(BORDERS.values())


def test_not_a_number_and_empty_input_are_in_no_compound():
    index = _pure_index()
    weird = [(math.nan, 104.005), (30.61, math.nan), (math.inf, 104.005), (30.61, -math.inf)]
    assert [index.locate(lat, lon) for lat, lon in weird] == [None] * 4
    lats, lons = zip(*weird, strict=True)
    assert index.locate_many(lats, lons) == [None] * 4
    assert index.locate_many([], []) == []
    with pytest.raises(ValueError, match="latitudes"):
        index.locate_many([30.61, 30.62], [104.0])
    empty = CompoundIndex([])
    assert len(empty) == 0 and empty.locate(30.61, 104.005) is None and empty.locate_many([30.61], [104.0]) == [None]


def test_shapes_that_hold_no_area_are_left_out_and_a_bow_tie_is_read_as_its_area():
    bow_tie = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}  # self-intersecting
    index = CompoundIndex(
        [
            ("510107001001009", None),
            ("510107001001008", {"type": "Point", "coordinates": [104.0, 30.6]}),
            ("510107001001007", {"type": "Polygon", "coordinates": [[[1, 2]]]}),
            ("510107001001006", {"type": "Polygon", "coordinates": []}),
            ("510107001001005", "not a geometry"),
            ("510107001001004", bow_tie),
        ]
    )
    assert index.codes == ["510107001001004"]
    assert index.locate(1.0, 0.2) == "510107001001004"  # the left triangle (lat 1, lon 0.2)
    assert index.locate(0.2, 1.0) is None  # between the triangles


def test_the_index_survives_pickling():
    # The ingest reader process (services/ingest/pipeline.py) receives it pickled.
    index = pickle.loads(pickle.dumps(_pure_index()))
    lats, lons = zip(*INSIDE, strict=True)
    assert index.locate_many(lats, lons) == list(INSIDE.values())


def test_many_irregular_polygons_agree_with_a_plain_loop():
    rng = np.random.default_rng(7)
    district = shapely.box(104.0, 30.6, 104.1, 30.7)
    seeds = shapely.multipoints(np.c_[rng.uniform(104.0, 104.1, 300), rng.uniform(30.6, 30.7, 300)])
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=district)), district)
    shapes = {f"510107{i:09d}": json.loads(shapely.to_geojson(cell)) for i, cell in enumerate(cells)}
    index = CompoundIndex(shapes.items())
    lats, lons = rng.uniform(30.59, 30.71, 3000), rng.uniform(103.99, 104.11, 3000)
    # Also every cell's first vertex: on a border between two or three cells.
    vertices = np.array([shapely.get_coordinates(cell)[0] for cell in cells])
    lats, lons = np.r_[lats, vertices[:, 1]], np.r_[lons, vertices[:, 0]]
    geometries = {code: shapely.geometry.shape(shape) for code, shape in sorted(shapes.items())}
    naive = [
        next((code for code, geometry in geometries.items() if shapely.intersects_xy(geometry, lon, lat)), None)
        for lat, lon in zip(lats, lons, strict=True)
    ]
    assert index.locate_many(lats, lons) == naive
    assert [index.locate(lat, lon) for lat, lon in zip(lats[:300], lons[:300], strict=True)] == naive[:300]
    assert naive.count(None) > 100 and len(set(naive)) > 250  # points outside, and most cells hit


# ---- the index of a database, and its rebuilds --------------------------------------------------------
def _add_regions(archived: tuple[str, ...] = (C5,)) -> None:
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as tx:
        tx.add(Region(code=DISTRICT, name="武侯区", level=RegionLevel.DISTRICT))
        tx.add(Region(code=STREET, name="街道", level=RegionLevel.STREET, parent_code=DISTRICT))
        # A community whose shape covers every compound: only compounds are located.
        community = _polygon(_square(103.99, 30.59, 104.05, 30.63))
        tx.add(Region(code=COMMUNITY, name="社区", level=RegionLevel.COMMUNITY, parent_code=STREET, boundary=community))
        for code, shape in SHAPES.items():
            tx.add(
                Region(
                    code=code,
                    name=f"小区{code[-1]}",
                    level=RegionLevel.COMPOUND,
                    parent_code=COMMUNITY,
                    boundary=shape,
                    archived_at=now if code in archived else None,
                )
            )
        tx.add(Region(code=f"{COMMUNITY}009", name="无边界", level=RegionLevel.COMPOUND, parent_code=COMMUNITY))


@pytest.fixture
def district(app):
    """The app with the compounds of SHAPES (C5 archived) and a community whose shape covers them all."""
    _add_regions()
    return app


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _move_c1_east(session) -> None:
    # C1's shape becomes a square east of the district.
    shape = _polygon(_square(104.050, 30.600, 104.060, 30.610))
    session.execute(update(Region).where(Region.code == C1).values(boundary=shape))


def test_the_database_index_leaves_out_archived_compounds_and_other_levels(district):
    locator = Locator(district.extensions["database"])
    index = locator.index()
    assert index.codes == [C1, C2, C3, C4]
    assert locator.locate(30.602, 104.038) is None  # inside archived C5 only
    assert locator.locate(30.625, 104.045) is None  # inside the community only
    lats, lons = zip(*INSIDE, strict=True)
    assert locator.locate_many(lats, lons) == list(INSIDE.values())


def test_the_fingerprint_is_looked_at_every_few_seconds_and_a_change_rebuilds(district):
    clock = Clock()
    locator = Locator(district.extensions["database"], check_seconds=5, clock=clock)
    assert locator.locate(30.605, 104.005) == C1 and locator.rebuilds == 1
    clock.now += 10
    assert locator.locate(30.605, 104.005) == C1 and locator.rebuilds == 1  # nothing changed: no rebuild
    with db.transaction() as tx:
        _move_c1_east(tx)  # no signal: as an import by another process
    clock.now += 1
    assert locator.locate(30.605, 104.005) == C1  # within the check interval: the index as it was
    clock.now += 5
    assert locator.locate(30.605, 104.005) is None and locator.locate(30.605, 104.055) == C1
    assert locator.rebuilds == 2
    # Archiving a compound, and bringing one back, change the fingerprint too.
    with db.transaction() as tx:
        tx.execute(update(Region).where(Region.code == C3).values(archived_at=dt.datetime.now(dt.UTC)))
    clock.now += 5
    assert locator.locate(30.610, 104.016) is None  # C3's place is C2's hole again
    with db.transaction() as tx:
        tx.execute(update(Region).where(Region.code == C5).values(archived_at=None))
    clock.now += 5
    assert locator.locate(30.602, 104.038) == C5 and locator.rebuilds == 4


def test_regions_changed_rebuilds_at_the_next_look_up_after_the_commit(district):
    database = district.extensions["database"]
    locator = locator_for(database)
    assert locator_for(database) is locator and locator_for(db) is locator  # one per database; db is the app's
    locator.check_seconds = 3600  # only the signal can cause a rebuild now
    assert locator.locate(30.605, 104.005) == C1
    built = locator.rebuilds
    with database.session() as session:
        _move_c1_east(session)
        regions_changed(session)
        assert locator.locate(30.605, 104.005) == C1  # not committed yet
        session.commit()
    assert locator.locate(30.605, 104.005) is None and locator.locate(30.605, 104.055) == C1
    assert locator.rebuilds == built + 1
    notify_changed(database)  # the import's signal after its commit
    locator.index()
    assert locator.rebuilds == built + 2
    locator.forget()  # the same by hand
    locator.index()
    assert locator.rebuilds == built + 3
    locator.index()
    assert locator.rebuilds == built + 3


def test_each_database_has_its_own_locator(district, tmp_path):
    from dashboard.store import migrate
    from dashboard.store.database import Database

    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    migrate.upgrade(other_url)
    other = Database().bind(other_url)
    try:
        assert locator_for(other) is not locator_for(district.extensions["database"])
        assert len(locator_for(other).index()) == 0
        assert locator_for(district.extensions["database"]).locate(30.605, 104.005) == C1
    finally:
        other.engine.dispose()


# ---- ingest ---------------------------------------------------------------------------------------------
def _appeal(external_id: str, lat, lon, region_code: str | None = None) -> dict:
    fields = {
        "external_id": external_id,
        "source": Channel.HOTLINE_12345.value,
        "reported_at": "2026-11-20T10:00:00+08:00",
        "category": "noise",
        "priority": "ordinary",
        "description": "夜间施工噪音",
        "lat": lat,
        "lon": lon,
    }
    if region_code is not None:
        fields["region_code"] = region_code
    return fields


def _regions_of(*external_ids: str) -> dict[str, str]:
    with db.session() as session:
        rows = session.execute(
            select(Appeal.external_id, Appeal.region_code).where(Appeal.external_id.in_(external_ids))
        )
        return dict(rows.all())


def test_ingest_places_appeals_by_their_point_in_one_look_up_per_batch(district, monkeypatch):
    calls = []
    original = CompoundIndex.locate_many

    def counted(self, lats, lons):
        calls.append(len(lats))
        return original(self, lats, lons)

    monkeypatch.setattr(CompoundIndex, "locate_many", counted)
    monkeypatch.setattr(CompoundIndex, "locate", lambda *_: pytest.fail("one look-up per row"))
    points = {f"P-{n}": point for n, point in enumerate([*INSIDE, *BORDERS])}
    records = [RawRecord(f"request record {n}", _appeal(key, lat, lon), "{}") for n, (key, (lat, lon)) in
               enumerate(points.items())]  # fmt: skip
    # A region code, when given, is the appeal's place whatever its point says.
    records.append(RawRecord("request record given", _appeal("GIVEN", 30.605, 104.005, COMMUNITY), "{}"))
    report = district.extensions["ingestor"].ingest(records, "appeal", source="test", batch_size=6)
    assert report.created == len(records) and report.quarantined == 0, report.errors
    assert calls == [6, 3]  # two batches: six points and three (the record with a code needs none)
    expected = dict(zip(points, [*INSIDE.values(), *BORDERS.values()], strict=True))
    assert _regions_of(*points, "GIVEN") == {**expected, "GIVEN": COMMUNITY}
    with db.session() as session:
        stored = session.scalar(select(Appeal).where(Appeal.external_id == "P-0"))
        assert (stored.lat, stored.lon) == (30.610, 104.005)


def test_a_point_outside_every_compound_is_quarantined_with_that_reason(district):
    records = [
        RawRecord("feed.csv line 2", _appeal("OUT-1", 30.608, 104.028), '{"external_id": "OUT-1"}'),  # between parts
        RawRecord("feed.csv line 3", _appeal("OUT-2", 30.602, 104.038), '{"external_id": "OUT-2"}'),  # archived C5
        RawRecord("feed.csv line 4", _appeal("NO-PLACE", None, None), '{"external_id": "NO-PLACE"}'),
        RawRecord("feed.csv line 5", _appeal("HALF", "30.61", None), '{"external_id": "HALF"}'),
        RawRecord("feed.csv line 6", _appeal("BAD-LAT", "north", "104.0"), '{"external_id": "BAD-LAT"}'),
        RawRecord("feed.csv line 7", _appeal("IN", "30.61", "104.005"), '{"external_id": "IN"}'),
    ]
    report = district.extensions["ingestor"].ingest(records, "appeal", source="test")
    assert report.created == 1 and _regions_of("IN") == {"IN": C1}
    errors = {error["record"]: (error["field"], error["reason"]) for error in report.errors}
    outside = ("lat", "lat/lon lie inside no compound of the district; give region_code")
    assert errors["feed.csv line 2"] == outside and errors["feed.csv line 3"] == outside
    assert errors["feed.csv line 4"] == ("region_code", "is required (or lat and lon inside a compound)")
    assert errors["feed.csv line 5"] == ("lon", "is required with lat when region_code is not given")
    assert errors["feed.csv line 6"][0] == "lat" and "not a number" in errors["feed.csv line 6"][1]
    with db.session() as session:
        quarantined = session.execute(
            select(QuarantinedRecord.location, QuarantinedRecord.field, QuarantinedRecord.reason).where(
                QuarantinedRecord.location == "feed.csv line 2"
            )
        ).one()
    assert tuple(quarantined) == ("feed.csv line 2", *outside)


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_file_without_a_region_code_column_is_placed_by_lat_and_lon(district, tmp_path, pipelined):
    # pipelined: the reader process receives the index pickled in its Context.
    path = tmp_path / "appeals_by_point.csv"
    path.write_text(
        "编号,来源,上报时间,类别,紧急程度,描述,纬度,经度\n"
        "F-1,hotline_12345,2026-11-20 10:00:00,noise,ordinary,噪音,30.603,104.018\n"
        "F-2,hotline_12345,2026-11-20 10:00:00,noise,ordinary,噪音,30.612,104.032\n"
        "F-3,hotline_12345,2026-11-20 10:00:00,noise,ordinary,噪音,30.700,104.032\n",
        encoding="utf-8",
    )
    report = ingest_file(district.extensions["ingestor"], path, pipelined=pipelined)
    assert report["created"] == 2 and report["quarantined"] == 1
    assert report["errors"][0]["record"].endswith("line 4") and report["errors"][0]["field"] == "lat"
    assert _regions_of("F-1", "F-2") == {"F-1": C2, "F-2": C4}
    # Without lat and lon columns the region code column is still required.
    bare = tmp_path / "appeals_bare.csv"
    bare.write_text(
        "编号,来源,上报时间,类别,紧急程度,描述,纬度\nF-9,hotline_12345,2026-11-20 10:00:00,noise,ordinary,噪音,30.6\n"
    )
    assert "missing required column(s) region_code" in ingest_file(district.extensions["ingestor"], bare)["file_error"]


def test_a_key_limited_to_a_region_sees_the_located_compound(district, client):
    # The JSON API's region check validates each record as the ingestor does: with its point located.
    from dashboard.services import admin

    _view, key = admin.create_api_key("boss", "c1-only", Channel.HOTLINE_12345.value, C1, "ingest")
    body = [_appeal("K-IN", 30.605, 104.005), _appeal("K-OUT", 30.603, 104.018)]
    answer = client.post("/api/v1/appeals", json=body, headers={"X-API-Key": key})
    report = answer.get_json()
    assert report["created"] == 1 and report["quarantined"] == 1, report
    assert report["errors"][0]["field"] == "region_code" and C2 in report["errors"][0]["reason"]
    assert _regions_of("K-IN", "K-OUT") == {"K-IN": C1}


# ---- Open311 --------------------------------------------------------------------------------------------
def _open311_form(api_key: str, lat: str, lon: str) -> dict:
    return {"api_key": api_key, "service_code": "noise", "lat": lat, "long": lon, "description": "夜间施工噪音"}


def _counts() -> tuple[int, int]:
    with db.session() as session:
        appeals = session.scalar(select(func.count()).select_from(Appeal))
        quarantined = session.scalar(select(func.count()).select_from(QuarantinedRecord))
        return appeals, quarantined


@pytest.mark.parametrize(
    ("point", "compound"), [((30.610, 104.016), C3), ((30.612, 104.032), C4), ((30.610, 104.012), C1)]
)
def test_open311_post_by_lat_long_lands_in_the_compound_that_holds_it(district, client, api_key, point, compound):
    lat, lon = point
    created = client.post("/open311/v2/requests.json", data=_open311_form(api_key, str(lat), str(lon)))
    assert created.status_code == 201, created.get_json()
    with db.session() as session:
        appeal = session.get(Appeal, int(created.get_json()[0]["service_request_id"]))
        assert appeal.region_code == compound and appeal.source == Channel.OPEN311
        assert (appeal.lat, appeal.lon) == (lat, lon)


@pytest.mark.parametrize(
    ("lat", "lon", "reason"),
    [
        ("30.608", "104.028", "outside the district"),  # between C4's parts
        ("30.602", "104.038", "outside the district"),  # in archived C5
        ("39.9", "116.4", "outside the district"),
        ("nan", "104.005", "within -90..90"),
        ("north", "104.005", "must be numbers"),
        ("95", "104.005", "within -90..90"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_post_outside_the_district_is_an_error_and_stores_nothing(
    district, client, api_key, lat, lon, reason, fmt
):
    before = _counts()
    answer = client.post(f"/open311/v2/requests.{fmt}", data=_open311_form(api_key, lat, lon))
    assert answer.status_code == 400
    if fmt == "json":
        [error] = answer.get_json()
        assert error["code"] == 400 and reason in error["description"]
    else:
        assert answer.mimetype == "application/xml" and reason in answer.get_data(as_text=True)
    assert _counts() == before


def test_open311_json_body_with_coordinates_that_are_not_numbers(district, client, api_key):
    before = _counts()
    form = {**_open311_form(api_key, "30.61", "104.005"), "lat": [30.61]}
    answer = client.post("/open311/v2/requests.json", json=form)
    assert answer.status_code == 400 and "must be numbers" in answer.get_json()[0]["description"]
    created = client.post("/open311/v2/requests.json", json={**form, "lat": 30.61, "long": 104.005})
    assert created.status_code == 201, created.get_json()
    assert _counts() == (before[0] + 1, before[1])


def test_open311_follows_a_reshaped_compound(district, client, api_key):
    form = _open311_form(api_key, "30.605", "104.055")
    assert client.post("/open311/v2/requests.json", data=form).status_code == 400
    with db.transaction() as tx:
        _move_c1_east(tx)
        regions_changed(tx)
    created = client.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 201, created.get_json()
    with db.session() as session:
        assert session.get(Appeal, int(created.get_json()[0]["service_request_id"])).region_code == C1


def test_the_module_documents_its_check_interval():
    assert locate.CHECK_SECONDS <= 10
