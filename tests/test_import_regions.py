"""Import of a district's own region hierarchy (issue 15 item 2), with the real sample files.

Every test that touches the database runs on SQLite and PostgreSQL (the `app` and `runner`
fixtures). The samples are data/samples/regions_wuhou.* and the broken variants
data/samples/broken/regions_* (scripts/make_region_samples.py writes them).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import shape
from sqlalchemy import func, select

from dashboard.config import DATA_DIR
from dashboard.domain import geo
from dashboard.queries import regions as region_queries
from dashboard.queries import wall as walldata
from dashboard.services.ingest import dropfolder
from dashboard.services.ingest.dropfolder import ingest_file
from dashboard.services.ingest.geo_readers import read_region_file
from dashboard.services.ingest.regions import import_regions
from dashboard.store.database import db
from dashboard.store.models import Appeal, AuditLog, Region

SAMPLES = DATA_DIR / "samples"
BROKEN = SAMPLES / "broken"
GEOJSON = SAMPLES / "regions_wuhou.geojson"
SAMPLE_FILES = [
    "regions_wuhou.csv",
    "regions_wuhou.geojson",
    "regions_wuhou_gbk.csv",
    "regions_wuhou_gcj02.geojson",
    "regions_wuhou_shapefile.zip",
]
SAMPLE_CODES = sorted(f["properties"]["code"] for f in json.loads(GEOJSON.read_text("utf-8"))["features"])
COUNTS = {"district": 1, "street": 3, "community": 8, "compound": 24}


# ---- helpers --------------------------------------------------------------------------------------
def _import(app, path: Path, **options) -> dict:
    """Through the drop folder's entry point, as the CLI and the drop folder do."""
    return ingest_file(app.extensions["ingestor"], path, **options)


def _regions() -> dict[str, Region]:
    with db.session() as session:
        return {region.code: region for region in session.scalars(select(Region))}


def _errors(report: dict) -> str:
    return json.dumps(report.get("errors") or report.get("file_error"), ensure_ascii=False, indent=1)


def _features(path: Path = GEOJSON) -> list[dict]:
    return json.loads(path.read_text("utf-8"))["features"]


def _feature(features: list[dict], code: str) -> dict:
    return next(f for f in features if f["properties"].get("code") == code)


def _write(tmp_path: Path, name: str, features: list[dict]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return path


def _reshape(feature: dict, geometry) -> None:
    feature["geometry"] = json.loads(shapely.to_geojson(geometry))


def _count(model) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


# ---- the datum: GCJ-02 ↔ WGS-84 (pure) ------------------------------------------------------------
# Published reference pairs (WGS-84 → GCJ-02, as lat, lon), also used by the eviltransform project.
REFERENCE = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
]


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_gcj02_forward_matches_the_published_reference_points(wgs, gcj):
    lon, lat = geo.wgs84_to_gcj02(wgs[1], wgs[0])
    assert (float(lat), float(lon)) == pytest.approx(gcj, abs=1e-9)
    back_lon, back_lat = geo.gcj02_to_wgs84(gcj[1], gcj[0])
    assert float(geo.distance_m(back_lon, back_lat, wgs[1], wgs[0])) < 0.01


def test_gcj02_inverse_is_within_half_a_metre_everywhere_in_china():
    rng = np.random.default_rng(15)
    lon, lat = rng.uniform(73.0, 135.0, 50_000), rng.uniform(18.0, 53.5, 50_000)
    glon, glat = geo.wgs84_to_gcj02(lon, lat)
    shift = geo.distance_m(lon, lat, glon, glat)
    assert shift.min() > 1.0, "inside China GCJ-02 moves every point"
    wlon, wlat = geo.gcj02_to_wgs84(glon, glat)
    assert geo.distance_m(wlon, wlat, lon, lat).max() < 0.5
    # The shape of an (n, 2) array, as shapely.transform hands it over.
    xy = geo.gcj02_to_wgs84_xy(np.column_stack([glon[:10], glat[:10]]))
    assert xy.shape == (10, 2) and np.allclose(xy, np.column_stack([lon[:10], lat[:10]]), atol=1e-7)


def test_gcj02_is_the_identity_outside_china():
    lon = np.array([2.3522, -74.006, 151.2093, 103.8198])  # Paris, New York, Sydney, Singapore
    lat = np.array([48.8566, 40.7128, -33.8688, 1.3521 - 1.0])
    for convert in (geo.wgs84_to_gcj02, geo.gcj02_to_wgs84):
        out_lon, out_lat = convert(lon, lat)
        assert np.array_equal(out_lon, lon) and np.array_equal(out_lat, lat)


def test_crs_names():
    assert {geo.normalise_crs(name) for name in ("wgs84", "WGS-84", "EPSG:4326", "cgcs2000", "EPSG:4490", None)} == {
        geo.WGS84
    }
    assert geo.normalise_crs("GCJ-02") == geo.GCJ02
    with pytest.raises(ValueError, match="bd09"):
        geo.normalise_crs("bd09")


# ---- reading the sample files (no database) -------------------------------------------------------
def test_the_samples_are_there():
    assert sorted(p.name for p in SAMPLES.glob("regions_*")) == SAMPLE_FILES
    assert len(SAMPLE_CODES) == sum(COUNTS.values()) == 36


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_every_sample_format_reads_the_same_codes_and_names(name):
    features = read_region_file(SAMPLES / name)
    assert [f.error for f in features if f.error] == []
    assert sorted(f.code for f in features) == SAMPLE_CODES
    by_code = {f.code: f for f in features}
    assert by_code["510107001002"].name == "锦城社区" and by_code["510107001002"].name_en == "Jincheng Community"
    assert by_code["510107001002004"].parent_code == "510107001002"
    shaped = not name.endswith(".csv")
    assert all((f.geometry is not None) == shaped for f in features)


def test_the_shapefile_and_the_gcj02_file_give_the_geojson_shapes():
    reference = {f.code: f.geometry for f in read_region_file(GEOJSON)}
    from_zip = {f.code: f.geometry for f in read_region_file(SAMPLES / "regions_wuhou_shapefile.zip")}
    from_gcj = {f.code: f.geometry for f in read_region_file(SAMPLES / "regions_wuhou_gcj02.geojson", "gcj02")}
    for code, geometry in reference.items():
        assert shapely.equals(from_zip[code], geometry), code
        a, b = shapely.get_coordinates(from_gcj[code]), shapely.get_coordinates(geometry)
        assert a.shape == b.shape
        assert geo.distance_m(a[:, 0], a[:, 1], b[:, 0], b[:, 1]).max() < 0.5, code


# ---- importing the samples ------------------------------------------------------------------------
@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_each_sample_file_builds_the_district_from_an_empty_database(app, name):
    report = _import(app, SAMPLES / name)
    assert "file_error" not in report, report
    assert (report["kind"], report["read"], report["created"], report["refused"]) == ("region", 36, 36, 0), _errors(
        report
    )
    assert report["districts"] == ["510107"] and report["missing"] == []
    assert report["crs"] == ("gcj02" if "gcj02" in name else "wgs84")
    regions = _regions()
    assert sorted(regions) == SAMPLE_CODES
    levels = {}
    for region in regions.values():
        levels[region.level.value] = levels.get(region.level.value, 0) + 1
        assert region.parent_code == (region.code[:-3] or None if len(region.code) > 6 else None)
    assert levels == COUNTS
    jincheng = regions["510107001002"]
    assert (jincheng.name, jincheng.name_en, jincheng.level.value) == ("锦城社区", "Jincheng Community", "community")
    if name.endswith(".csv"):
        assert all(r.boundary is None and r.center_lat is None for r in regions.values())
        return
    for region in regions.values():
        geometry = shape(region.boundary)
        assert geometry.is_valid and region.boundary["type"] in ("Polygon", "MultiPolygon")
        assert geometry.contains(shapely.Point(region.center_lon, region.center_lat)), region.code
        assert 103.9 < region.center_lon < 104.1 and 30.5 < region.center_lat < 30.7
    assert regions["510107001002004"].boundary["type"] == "MultiPolygon"  # 锦城新居 in two parts
    assert regions["510107001002001"].boundary["type"] == "Polygon"


def test_every_format_after_the_geojson_changes_nothing(app):
    assert _import(app, GEOJSON)["created"] == 36
    for name in ("regions_wuhou_shapefile.zip", "regions_wuhou.csv", "regions_wuhou_gbk.csv", "regions_wuhou.geojson"):
        report = _import(app, SAMPLES / name)
        assert (report["created"], report["updated"], report["unchanged"], report["refused"]) == (0, 0, 36, 0), name
    # GCJ-02 converted back lands within half a metre of the WGS-84 shapes (in fact on them, at 1e-7°).
    before = _regions()
    report = _import(app, SAMPLES / "regions_wuhou_gcj02.geojson")
    assert report["crs"] == "gcj02" and report["created"] == 0 and report["refused"] == 0
    for code, region in _regions().items():
        a = shapely.get_coordinates(shape(region.boundary))
        b = shapely.get_coordinates(shape(before[code].boundary))
        assert geo.distance_m(a[:, 0], a[:, 1], b[:, 0], b[:, 1]).max() < 0.5, code
    assert _count(Region) == 36


def test_gcj02_coordinates_taken_as_wgs84_are_hundreds_of_metres_off(app, tmp_path):
    """--crs matters: the same GCJ-02 file read as WGS-84 lands about 500 m away."""
    copy_path = tmp_path / "regions_webmap.geojson"  # no 'gcj02' in the name: WGS-84 unless told
    copy_path.write_bytes((SAMPLES / "regions_wuhou_gcj02.geojson").read_bytes())
    assert _import(app, copy_path)["crs"] == "wgs84"
    shifted = _regions()["510107001001001"]
    assert _import(app, copy_path, crs="gcj02")["updated"] == 36
    placed = _regions()["510107001001001"]
    assert 300 < geo.distance_m(shifted.center_lon, shifted.center_lat, placed.center_lon, placed.center_lat) < 800
    reference = {f.code: f for f in read_region_file(GEOJSON)}["510107001001001"].geometry
    assert shapely.hausdorff_distance(shape(placed.boundary), reference) < 1e-6


# ---- broken variants ------------------------------------------------------------------------------
# file → {code (or index when there is no code): (field, words the reason holds)}; every other feature lands.
BROKEN_FEATURES = {
    "regions_self_intersecting.geojson": {
        "510107001001002": ("geometry", "Self-intersection"),
    },
    "regions_child_outside.geojson": {
        "510107002001001": ("geometry", "lies outside its parent 510107002001 (洗面桥社区)"),
    },
    "regions_overlap.geojson": {
        "510107003001001": ("geometry", "overlaps its sibling feature 27 (510107003001002 紫荆苑)"),
        "510107003001002": ("geometry", "overlaps its sibling feature 26 (510107003001001 玉林小区)"),
    },
    "regions_bad_parent.geojson": {
        "510107002009001": ("parent_code", "its parent 510107002009 (community) is neither in the file nor stored"),
        "510107002002002": ("parent_code", "510107002 is a street, but the parent of a compound is the community"),
        "510107002001002": ("parent_code", "510107003001 does not match the code"),
    },
    "regions_duplicate.geojson": {
        "510107003002": ("code", "510107003002 appears 2 times (features 29, 37)"),
        "510107003002001": ("parent_code", "its parent 510107003002 is refused (see feature 29)"),
        "510107003002002": ("parent_code", "its parent 510107003002 is refused (see feature 29)"),
    },
    "regions_bad_code.geojson": {
        "51010700100300A": ("code", "is not a region code: digits only"),
        "5101070010030021": ("code", "has 16 digits"),
        15: ("code", "the code is missing"),
        "510107002002001": ("name", "the name is missing"),
        "510107002002002": ("name", "the name has 70 characters; at most 64"),
        "510107002002003": ("name_en", "at most 96"),
    },
    "regions_wrong_geometry.geojson": {
        "510107003003001": ("geometry", "a Point cannot be a region's shape"),
        "510107003003002": ("geometry", "a LineString cannot be a region's shape"),
        "510107003003003": ("geometry", "are not longitude/latitude in degrees"),
        "510107003003004": ("geometry", "at least 4 coordinates"),
    },
}
BROKEN_FILES = {
    "regions_truncated.geojson": "invalid JSON",
    "regions_not_a_collection.geojson": "expected a GeoJSON FeatureCollection",
    "regions_projected.geojson": "declares the coordinate system urn:ogc:def:crs:EPSG::32648",
    "regions_projected_shapefile.zip": "the Shapefile's .prj declares EPSG:32648",
    "regions_not_a_zip.zip": "not a zip archive",
    "regions_missing_column.csv": "missing required column(s) name",
}


def test_every_broken_variant_is_tested():
    assert sorted(p.name for p in BROKEN.glob("regions_*")) == sorted([*BROKEN_FEATURES, *BROKEN_FILES])


@pytest.mark.parametrize("name", sorted(BROKEN_FEATURES))
def test_a_broken_variant_lands_its_valid_features_and_names_each_refused_one(app, name):
    expected = BROKEN_FEATURES[name]
    report = _import(app, BROKEN / name)
    assert "file_error" not in report, report
    found = {}
    for error in report["errors"]:
        key = error["code"] if error["code"] is not None else error["index"]
        assert error["record"].startswith(f"{name} feature {error['index']}"), error
        if error["code"] is not None:
            assert f"(code {error['code']})" in error["record"]
        found.setdefault(key, []).append((error["field"], error["reason"]))
    assert set(found) == set(expected), _errors(report)
    for key, (field, words) in expected.items():
        assert any(f == field and words in reason for f, reason in found[key]), (key, found[key])
    refused_features = len({error["index"] for error in report["errors"]})
    assert report["refused"] == report["quarantined"] == refused_features
    assert report["created"] == report["read"] - refused_features, _errors(report)
    listed = {f["properties"]["code"] for f in _features(BROKEN / name) if f["properties"].get("code")}
    assert set(_regions()) == listed - {key for key in expected if isinstance(key, str)}


@pytest.mark.parametrize("name", sorted(BROKEN_FILES))
def test_a_file_that_cannot_be_read_is_refused_whole_with_the_reason(app, name):
    report = _import(app, BROKEN / name)
    assert BROKEN_FILES[name] in report.get("file_error", ""), report
    assert report["file"] == name
    assert _count(Region) == 0


def test_a_refused_feature_keeps_its_stored_version(app):
    """Importing a broken file over the district changes nothing that the file got wrong."""
    _import(app, GEOJSON)
    before = _regions()["510107001001002"]
    report = _import(app, BROKEN / "regions_self_intersecting.geojson")
    assert report["refused"] == 1 and report["unchanged"] == 35 and report["updated"] == 0
    after = _regions()["510107001001002"]
    assert after.boundary == before.boundary and after.name == before.name


# ---- re-import: rename, move, keep every appeal ---------------------------------------------------
def _appeals_file(tmp_path: Path) -> Path:
    """Twelve appeals spread over compounds and communities of the sample, in the past."""
    now = dt.datetime.now(dt.UTC)
    codes = [
        "510107001001001",
        "510107001002001",
        "510107001002001",
        "510107001002002",
        "510107001002004",
        "510107001002",
        "510107001003003",
        "510107002001002",
        "510107002002",
        "510107003001001",
        "510107003003004",
        "510107003",
    ]
    records = [
        {
            "external_id": f"RG-{n:03d}",
            "source": "hotline_12345",
            "reported_at": (now - dt.timedelta(days=n + 1)).isoformat(),
            "category": "noise",
            "priority": "ordinary",
            "region_code": code,
            "description": f"测试诉求 {n}",
        }
        for n, code in enumerate(codes)
    ]
    path = tmp_path / "appeals_regions_test.json"
    path.write_text(json.dumps(records, ensure_ascii=False), "utf-8")
    return path


def _appeal_places() -> dict[str, str]:
    with db.session() as session:
        return dict(session.execute(select(Appeal.external_id, Appeal.region_code)).all())


def test_a_reimport_renames_a_community_and_moves_a_boundary_keeping_every_appeal(app, tmp_path):
    assert _import(app, GEOJSON)["created"] == 36
    appeals = _import(app, _appeals_file(tmp_path))
    assert appeals["created"] == 12, appeals
    places = _appeal_places()
    heard = []
    region_queries.on_change(app.extensions["database"], heard.append)
    with db.session() as session:
        version = region_queries.region_version(session)

    features = _features()
    community = _feature(features, "510107001002")
    community["properties"].update(name="锦城南社区", name_en="Jincheng South Community")
    moved = _feature(features, "510107001002001")
    old_shape = shape(moved["geometry"])
    _reshape(moved, old_shape.buffer(0.0003, join_style="mitre"))  # its edge moves out by about 30 m
    report = _import(app, _write(tmp_path, "regions_wuhou_v2.geojson", features), actor="cli")

    assert (report["created"], report["updated"], report["unchanged"], report["refused"]) == (0, 2, 34, 0), _errors(
        report
    )
    assert _appeal_places() == places, "every appeal keeps its region"
    assert _count(Appeal) == 12 and _count(Region) == 36
    regions = _regions()
    assert (regions["510107001002"].name, regions["510107001002"].name_en) == ("锦城南社区", "Jincheng South Community")
    new_shape = shape(regions["510107001002001"].boundary)
    assert new_shape.area > old_shape.area * 1.01 and new_shape.contains(old_shape)
    assert shape(regions["510107001002"].boundary).contains(new_shape)
    # What the wall reads: the region's name and the map's communities, shapes included.
    with db.session() as session:
        assert walldata.region_name(session, "510107001002", "zh") == "锦城南社区"
        assert walldata.region_name(session, "510107001002", "en") == "Jincheng South Community"
        load = walldata.community_load(session, "510107001", dt.datetime.now(dt.UTC)).set_index("code")
        assert load.loc["510107001002", "name"] == "锦城南社区"
        assert load.loc["510107001002", "open"] == 5  # its four compounds' appeals and its own
        assert region_queries.region_version(session) != version
    assert heard == [region_queries.change_count(app.extensions["database"])] and heard[0] >= 1
    with db.session() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "import_regions").order_by(AuditLog.id)).all()
    assert [a.actor for a in audit] == ["dropfolder", "cli"]
    assert audit[-1].target == "regions:regions_wuhou_v2.geojson"
    assert (audit[-1].detail["updated"], audit[-1].detail["unchanged"], audit[-1].detail["created"]) == (2, 34, 0)

    # The same file again: nothing changes, and nobody is told.
    again = _import(app, _write(tmp_path, "regions_wuhou_v2.geojson", features))
    assert (again["updated"], again["unchanged"]) == (0, 36)
    assert len(heard) == 1


def test_missing_regions_are_reported_and_archived_only_when_asked(app, tmp_path):
    _import(app, GEOJSON)
    _import(app, _appeals_file(tmp_path))
    gone = {"510107002002", "510107002002001", "510107002002002", "510107002002003", "510107003003004"}
    features = [f for f in _features() if f["properties"]["code"] not in gone]
    shorter = _write(tmp_path, "regions_wuhou_shorter.geojson", features)

    report = _import(app, shorter)
    assert sorted(m["code"] for m in report["missing"]) == sorted(gone)
    assert report["archived"] == 0 and report["unchanged"] == 31
    assert all(r.archived_at is None for r in _regions().values())

    report = _import(app, shorter, archive_missing=True)
    assert report["archived"] == 5 and report["archive_skipped"] is None
    regions = _regions()
    assert {code for code, r in regions.items() if r.archived_at is not None} == gone
    assert len(regions) == 36 and _count(Appeal) == 12  # archived, never deleted
    assert _appeal_places()["RG-008"] == "510107002002"

    # Already archived: no longer missing; a child of an archived region is refused until it is listed.
    again = _import(app, shorter, archive_missing=True)
    assert again["missing"] == [] and again["archived"] == 0
    lonely = _write(tmp_path, "regions_lonely.geojson", [_feature(_features(), "510107002002001")])
    refused = _import(app, lonely)
    assert refused["refused"] == 1
    assert "is archived: list it in the file to restore it" in refused["errors"][0]["reason"]

    # Listed again: restored.
    report = _import(app, GEOJSON)
    assert report["restored"] == 5 and report["updated"] == 5 and report["missing"] == []
    assert all(r.archived_at is None for r in _regions().values())


def test_a_partial_file_never_archives_and_its_ancestors_are_not_missing(app, tmp_path):
    _import(app, GEOJSON)
    features = _features()
    community = shape(_feature(features, "510107001001")["geometry"])
    siblings = shapely.union_all(
        [shape(_feature(features, f"510107001001{k:03d}")["geometry"]) for k in (1, 2, 3)]
    ).buffer(0.0004)
    room = community.buffer(-0.0002).difference(siblings)
    room = max(shapely.get_parts(room), key=lambda part: part.area)
    new = {
        "type": "Feature",
        "properties": {"code": 510107001001009, "name": "新建小区"},  # a number, as some tools write it
        "geometry": json.loads(shapely.to_geojson(room.buffer(-0.0001))),
    }
    report = _import(app, _write(tmp_path, "regions_one_more.geojson", [new]), archive_missing=True)
    assert report["created"] == 1 and report["refused"] == 0, _errors(report)
    assert "does not hold the district itself (510107)" in report["archive_skipped"]
    missing = {m["code"] for m in report["missing"]}
    assert missing == set(SAMPLE_CODES) - {"510107", "510107001", "510107001001"}
    assert report["archived"] == 0 and all(r.archived_at is None for r in _regions().values())
    assert _regions()["510107001001009"].parent_code == "510107001001"


def test_a_new_shape_is_checked_against_the_stored_tree(app, tmp_path):
    _import(app, GEOJSON)
    features = _features()
    # A street shrunk so that a stored community it does not list would stick out.
    street = copy.deepcopy(_feature(features, "510107001"))
    _reshape(street, shape(street["geometry"]).buffer(-0.006))
    report = _import(app, _write(tmp_path, "regions_street.geojson", [street]))
    assert report["refused"] == 1
    assert report["errors"][0]["field"] == "geometry"
    assert "its stored community 510107001001 (龙井社区), which the file does not list" in report["errors"][0]["reason"]
    # A compound grown over its stored sibling.
    grown = copy.deepcopy(_feature(features, "510107003001001"))
    sibling = shape(_feature(features, "510107003001002")["geometry"])
    _reshape(grown, shapely.union_all([shape(grown["geometry"]), sibling.buffer(-0.001)]))
    report = _import(app, _write(tmp_path, "regions_grown.geojson", [grown]))
    assert report["refused"] == 1, _errors(report)
    reasons = " ".join(e["reason"] for e in report["errors"])
    assert "overlaps its sibling stored region 510107003001002 (紫荆苑)" in reasons
    unchanged = shape(_feature(features, "510107003001001")["geometry"])
    assert shape(_regions()["510107003001001"].boundary).equals(unchanged)


def test_a_shapefile_without_cpg_in_gbk_and_numeric_codes(app, tmp_path):
    """What Chinese desktop GIS often writes: a GBK .dbf with no .cpg, codes as numbers."""
    from pyogrio import raw

    features = _features()[:4]  # district, street 001, community 001001, compound 001001001
    folder = tmp_path / "shp"
    folder.mkdir()
    with pytest.warns(UserWarning, match="'crs' was not provided"):  # no .prj either: taken as WGS-84
        _write_shapefile(raw, folder, features)
    (folder / "q.cpg").unlink()
    archive = tmp_path / "regions_gbk_shapefile.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    report = _import(app, archive)
    assert (report["created"], report["refused"]) == (4, 0), _errors(report)
    regions = _regions()
    assert regions["510107001001"].name == "龙井社区" and regions["510107"].name == "武侯区"


def _write_shapefile(raw, folder: Path, features: list[dict]) -> None:
    raw.write(
        str(folder / "q.shp"),
        np.array([shape(f["geometry"]).wkb for f in features], dtype=object),
        [
            np.array([int(f["properties"]["code"]) for f in features], dtype=np.int64),
            np.array([f["properties"]["name"] for f in features], dtype=object),
        ],
        ["区划代码", "名称"],
        driver="ESRI Shapefile",
        geometry_type="Polygon",
        encoding="GBK",
    )


# ---- the CLI and the drop folder ------------------------------------------------------------------
def test_cli_ingest_with_crs_and_archive_missing(runner, tmp_path):
    result = runner.invoke("ingest", "--crs", "gcj02", str(SAMPLES / "regions_wuhou_gcj02.geojson"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["kind"], report["crs"], report["created"]) == ("region", "gcj02", 36)
    features = [f for f in _features() if f["properties"]["code"] != "510107003003004"]
    shorter = _write(tmp_path, "regions_shorter.geojson", features)
    result = runner.invoke("ingest", "--archive-missing", str(shorter))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["archived"] == 1 and report["missing"][0]["code"] == "510107003003004"
    result = runner.invoke("ingest", str(BROKEN / "regions_truncated.geojson"))
    assert result.exit_code != 0 and "invalid JSON" in result.output
    result = runner.invoke("ingest", "--crs", "bd09", str(GEOJSON))
    assert result.exit_code == 2 and "bd09" in result.output
    with db.session() as session:
        actors = session.scalars(select(AuditLog.actor).where(AuditLog.action == "import_regions")).all()
    assert actors == ["cli", "cli"]  # a file refused whole changes nothing, and is not audited here


def test_the_drop_folder_imports_region_files(app, tmp_path):
    folders = dropfolder.folders(tmp_path)
    for name in ("regions_wuhou.geojson", "regions_wuhou_gcj02.geojson"):
        (folders["incoming"] / name).write_bytes((SAMPLES / name).read_bytes())
    (folders["incoming"] / "regions_truncated.geojson").write_bytes((BROKEN / "regions_truncated.geojson").read_bytes())
    past = time.time() - 60
    for path in folders["incoming"].iterdir():
        os.utime(path, (past, past))
    reports = {r["file"]: r for r in dropfolder.process(app.extensions["ingestor"], tmp_path)}
    assert reports["regions_wuhou.geojson"]["created"] == 36
    assert reports["regions_wuhou_gcj02.geojson"]["crs"] == "gcj02"  # from its name
    assert reports["regions_wuhou_gcj02.geojson"]["refused"] == 0
    assert "invalid JSON" in reports["regions_truncated.geojson"]["file_error"]
    assert sorted(p.name.split("_", 1)[1] for p in folders["failed"].glob("*.geojson")) == ["regions_truncated.geojson"]
    assert len(list(folders["done"].glob("*.report.json"))) == 2


def test_import_regions_refuses_an_unknown_crs(app):
    from dashboard.services.ingest.readers import FileError

    with pytest.raises(FileError, match="unknown coordinate system"):
        import_regions(app.extensions["database"], GEOJSON, crs="bd09")


def test_the_sample_map_over_the_demo_district_keeps_every_row_that_points_at_a_region(demo_app):
    """The demo's regions take the sample's names and shapes; its appeals, residents, teams… stay put."""
    from dashboard.store.models import Department, Resident, Team, VisitItem

    models = (Appeal, Resident, Department, Team, VisitItem)

    def places() -> dict:
        with db.session() as session:
            return {
                model.__name__: sorted(session.execute(select(model.id, model.region_code)).tuples())
                for model in models
            }

    before = places()
    demo_codes = set(_regions())
    assert before["Appeal"] and before["Resident"] and demo_codes < set(SAMPLE_CODES)
    report = _import(demo_app, GEOJSON)
    assert report["refused"] == 0 and report["missing"] == [], _errors(report)
    assert report["updated"] == len(demo_codes) and report["created"] == 36 - len(demo_codes)
    assert places() == before
    regions = _regions()
    assert regions["510107001002"].name == "锦城社区" and regions["510107001001001"].name == "龙井苑"


# ---- whatever a file holds: refused whole, or each feature accepted or refused (no other outcome) ---
_CODES = st.sampled_from(["510107", "510107001", "510107001001", "510107001001001", "510107002", "5101", "x", ""])
_NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**6))
_POINT = st.lists(_NUMBER, min_size=0, max_size=3)
_GEOMETRY = st.one_of(
    st.none(),
    st.builds(lambda ring: {"type": "Polygon", "coordinates": [ring]}, st.lists(_POINT, max_size=6)),
    st.builds(
        lambda x, y, w: {"type": "Polygon", "coordinates": [[[x, y], [x + w, y], [x + w, y + w], [x, y + w], [x, y]]]},
        st.floats(103.9, 104.1),
        st.floats(30.5, 30.7),
        st.floats(0.0, 0.2),
    ),
    st.builds(lambda kind, coordinates: {"type": kind, "coordinates": coordinates}, st.text(max_size=12), _POINT),
    st.text(max_size=5),
)
_VALUE = st.one_of(st.none(), st.text(max_size=80), _NUMBER, st.lists(st.integers(), max_size=2))
_FEATURE = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("Feature"),
            "properties": st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {"code": st.one_of(_CODES, _VALUE), "name": _VALUE},
                    optional={"name_en": _VALUE, "parent_code": st.one_of(_CODES, _VALUE)},
                ),
                st.text(max_size=3),
            ),
            "geometry": _GEOMETRY,
        }
    ),
    _VALUE,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(features=st.lists(_FEATURE, max_size=8))
def test_any_feature_collection_ends_in_a_named_outcome(tmp_path, features):
    from dashboard.services.ingest.readers import FileError
    from dashboard.services.ingest.regions import RegionReport, _Validation

    path = tmp_path / "regions_fuzz.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    try:
        read = read_region_file(path)
    except FileError:
        return
    report = RegionReport(source="fuzz", kind="region")
    plan = _Validation(read, {}, report, archive_missing=True)
    plan.run()
    refused = {error["index"] for error in report.errors}
    accepted = {feature.index for feature in plan.accepted.values()}
    assert refused.isdisjoint(accepted)
    assert refused | accepted == {feature.index for feature in read}
    for error in report.errors:
        assert error["reason"] and error["record"].startswith("regions_fuzz.geojson feature ")


def test_a_datav_style_district_file_is_understood(tmp_path):
    """Boundary files from DataV (GeoAtlas) name the code adcode and the parent {"adcode": city}."""
    from dashboard.services.ingest.regions import RegionReport, _Validation

    district = _features()[0]
    datav = copy.deepcopy(district)
    datav["properties"] = {"adcode": 510107, "name": "武侯区", "level": "district", "parent": {"adcode": 510100}}
    wrong = copy.deepcopy(district)
    wrong["properties"] = {"adcode": 510104, "name": "锦江区", "parent": "510107001"}
    read = read_region_file(_write(tmp_path, "regions_datav.geojson", [datav, wrong]))
    assert [(f.code, f.parent_code) for f in read] == [("510107", "510100"), ("510104", "510107001")]
    report = RegionReport(source="test", kind="region")
    plan = _Validation(read, {}, report, archive_missing=False)
    plan.run()
    assert list(plan.accepted) == ["510107"]
    assert [(e["code"], e["field"]) for e in report.errors] == [("510104", "parent_code")]
    assert "a district, the top of the tree" in report.errors[0]["reason"]
