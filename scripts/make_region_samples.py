"""Write the sample region files under data/samples/ and their broken variants under data/samples/broken/.

A small district of the real Wuhou district's code (510107) with three streets, eight communities
and 24 compounds, in irregular shapes near its real place (lon 104.02, lat 30.63) that nest
properly: streets are Voronoi cells clipped to an irregular district outline, communities Voronoi
cells clipped to their street, compounds their community's Voronoi cells shrunk by about 80 m (one
of them, 锦城新居, in two parts: a MultiPolygon). Street and community codes follow the demo's
pattern (510107001, 510107001001, …); the shapes and the compound names are illustrative.

    regions_wuhou.geojson            WGS-84, properties code, name, name_en, parent_code
    regions_wuhou_gcj02.geojson      the same shapes in GCJ-02 (web-map coordinates): the importer
                                     converts them back (its name says gcj02, or --crs gcj02)
    regions_wuhou_shapefile.zip      the same as a zipped Shapefile (CGCS2000, UTF-8 .dbf)
    regions_wuhou.csv                codes and names only, Chinese headers, UTF-8 with BOM
    regions_wuhou_gbk.csv            codes and names only, English headers, GBK
    broken/regions_*                 one defect each (see BROKEN below); tests/test_import_regions.py

Run: python scripts/make_region_samples.py (deterministic: the same files every time).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import shapely
import shapely.affinity
import shapely.geometry
from pyogrio import raw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dashboard.domain import geo

OUT = Path(__file__).resolve().parent.parent / "data" / "samples"
BROKEN = OUT / "broken"
CENTER = (104.02, 30.63)
DECIMALS = 6

DISTRICT = ("510107", "武侯区", "Wuhou District")
# street: (code suffix, name, English name, [(community name, English, [(compound, English), …]), …])
TREE = [
    (
        "001",
        "簇桥街道",
        "Cuqiao Street",
        [
            (
                "龙井社区",
                "Longjing Community",
                [("龙井苑", "Longjing Court"), ("簇锦花园", "Cujin Garden"), ("龙腾小区", "Longteng Estate")],
            ),
            (
                "锦城社区",
                "Jincheng Community",
                [
                    ("锦城花园", "Jincheng Garden"),
                    ("金雁小区", "Jinyan Estate"),
                    ("锦华苑", "Jinhua Court"),
                    ("锦城新居", "Jincheng New Homes"),
                ],
            ),
            (
                "七里社区",
                "Qili Community",
                [("七里新居", "Qili New Homes"), ("双楠小区", "Shuangnan Estate"), ("高碑苑", "Gaobei Court")],
            ),
        ],
    ),
    (
        "002",
        "浆洗街街道",
        "Jiangxijie Street",
        [
            (
                "洗面桥社区",
                "Ximianqiao Community",
                [("洗面桥小区", "Ximianqiao Estate"), ("武侯名园", "Wuhou Mingyuan")],
            ),
            (
                "锦里社区",
                "Jinli Community",
                [("锦里苑", "Jinli Court"), ("南苑", "Nanyuan"), ("芳草小区", "Fangcao Estate")],
            ),
        ],
    ),
    (
        "003",
        "玉林街道",
        "Yulin Street",
        [
            (
                "玉林北路社区",
                "Yulin North Road Community",
                [("玉林小区", "Yulin Estate"), ("紫荆苑", "Zijing Court"), ("翠竹苑", "Cuizhu Court")],
            ),
            ("黉门街社区", "Hongmenjie Community", [("黉门小区", "Hongmen Estate"), ("华西苑", "Huaxi Court")]),
            (
                "玉林东路社区",
                "Yulin East Road Community",
                [
                    ("玉林东苑", "Yulin East Court"),
                    ("桐梓林小区", "Tongzilin Estate"),
                    ("芳沁苑", "Fangqin Court"),
                    ("锦绣华庭", "Jinxiu Huating"),
                ],
            ),
        ],
    ),
]
TWO_PARTS = "锦城新居"  # the compound drawn as a MultiPolygon
COMPOUND_GAP = 0.0008  # degrees (about 80 m) between a compound and its community's edge


def _outline() -> shapely.Polygon:
    """The district: an irregular, non-convex outline about 9 km by 8 km."""
    theta = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    radius = 1 + 0.10 * np.sin(3 * theta + 0.4) + 0.06 * np.cos(5 * theta + 1.1) + 0.04 * np.sin(8 * theta)
    lon = CENTER[0] + 0.048 * radius * np.cos(theta)
    lat = CENTER[1] + 0.038 * radius * np.sin(theta)
    return shapely.Polygon(np.column_stack([lon, lat]).round(DECIMALS))


def _seeds(area: shapely.Geometry, count: int, rng: np.random.Generator) -> list[shapely.Point]:
    """count points well inside area, spread apart."""
    minx, miny, maxx, maxy = area.bounds
    spacing = 0.55 * np.sqrt(area.area / count)
    inner = area.buffer(-spacing / 4)
    for _attempt in range(2000):
        points: list[shapely.Point] = []
        for _ in range(400):
            point = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if inner.contains(point) and all(point.distance(other) > spacing for other in points):
                points.append(point)
                if len(points) == count:
                    return points
        spacing *= 0.95
    raise RuntimeError("no room for the seeds")


def _cells(area: shapely.Geometry, count: int, rng: np.random.Generator) -> list[shapely.Geometry]:
    """area split into count Voronoi cells, ordered west to east."""
    seeds = _seeds(area, count, rng)
    diagram = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=area.envelope.buffer(0.01))
    cells = [cell.intersection(area) for cell in shapely.get_parts(diagram)]
    cells = [
        max(shapely.get_parts(cell), key=lambda part: part.area) if cell.geom_type != "Polygon" else cell
        for cell in cells
    ]
    return sorted(cells, key=lambda cell: (round(cell.centroid.x, 3), cell.centroid.y))


def _rounded(geometry: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geometry, lambda xy: np.round(xy, DECIMALS))


def _compound(cell: shapely.Geometry, name: str) -> shapely.Geometry:
    if name == TWO_PARTS:  # two blocks either side of a road through the middle
        middle = cell.centroid
        road = shapely.LineString([(middle.x, cell.bounds[1] - 0.01), (middle.x, cell.bounds[3] + 0.01)])
        cell = cell.difference(road.buffer(0.0012))
    shrunk = cell.buffer(-COMPOUND_GAP, join_style="mitre").simplify(0.00005)
    return _rounded(shrunk)


def build() -> list[dict]:
    """The sample's GeoJSON features, district first, then each street with its tree."""
    rng = np.random.default_rng(2026)
    district = _outline()
    code, name, name_en = DISTRICT
    features = [_feature(code, name, name_en, None, district)]
    for street_cell, (suffix, street_name, street_en, communities) in zip(
        _cells(district, len(TREE), rng), TREE, strict=True
    ):
        street = _rounded(street_cell)
        street_code = code + suffix
        features.append(_feature(street_code, street_name, street_en, code, street))
        for c, (community_cell, (community_name, community_en, compounds)) in enumerate(
            zip(_cells(street, len(communities), rng), communities, strict=True), start=1
        ):
            community = _rounded(community_cell)
            community_code = f"{street_code}{c:03d}"
            features.append(_feature(community_code, community_name, community_en, street_code, community))
            for k, (compound_cell, (compound_name, compound_en)) in enumerate(
                zip(_cells(community, len(compounds), rng), compounds, strict=True), start=1
            ):
                shape = _compound(compound_cell, compound_name)
                features.append(_feature(f"{community_code}{k:03d}", compound_name, compound_en, community_code, shape))
    return features


def _feature(code: str, name: str, name_en: str, parent: str | None, geometry: shapely.Geometry) -> dict:
    properties = {"code": code, "name": name, "name_en": name_en}
    if parent:
        properties["parent_code"] = parent
    return {"type": "Feature", "properties": properties, "geometry": json.loads(shapely.to_geojson(geometry))}


def _collection(features: list[dict], name: str) -> dict:
    return {"type": "FeatureCollection", "name": name, "features": features}


def _write_json(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _gcj02(features: list[dict]) -> list[dict]:
    converted = copy.deepcopy(features)
    for feature in converted:
        geometry = shapely.geometry.shape(feature["geometry"])
        moved = shapely.transform(geometry, lambda xy: np.round(geo.wgs84_to_gcj02_xy(xy), 7))
        feature["geometry"] = json.loads(shapely.to_geojson(moved))
    return converted


def _shapefile(features: list[dict], target: Path, crs: str = "EPSG:4490") -> None:
    geometries = np.array([shapely.geometry.shape(f["geometry"]).wkb for f in features], dtype=object)
    fields = ["code", "name", "name_en", "parent_cod"]
    keys = ["code", "name", "name_en", "parent_code"]
    data = [np.array([f["properties"].get(key) or "" for f in features], dtype=object) for key in keys]
    with tempfile.TemporaryDirectory() as folder:
        shp = Path(folder) / "regions_wuhou.shp"
        raw.write(
            str(shp),
            geometries,
            data,
            fields,
            driver="ESRI Shapefile",
            geometry_type="MultiPolygon",
            crs=crs,
            encoding="UTF-8",
        )
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(Path(folder).iterdir()):
                info = zipfile.ZipInfo(part.name, date_time=(2026, 11, 30, 0, 0, 0))  # the same bytes every run
                info.compress_type = zipfile.ZIP_DEFLATED
                content = part.read_bytes()
                if part.suffix == ".dbf":  # the .dbf header holds the day it was written
                    content = content[:1] + bytes([126, 11, 30]) + content[4:]
                archive.writestr(info, content)


def _csv(features: list[dict], headers: list[str], encoding: str) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    for feature in features:
        p = feature["properties"]
        writer.writerow([p["code"], p["name"], p["name_en"], p.get("parent_code", "")])
    return out.getvalue().encode(encoding)


# ---- broken variants: one defect each -------------------------------------------------------------
def _by_code(features: list[dict], code: str) -> dict:
    return next(f for f in features if f["properties"].get("code") == code)


def _set_shape(feature: dict, geometry: shapely.Geometry) -> None:
    feature["geometry"] = json.loads(shapely.to_geojson(_rounded(geometry)))


def _shape(feature: dict) -> shapely.Geometry:
    return shapely.geometry.shape(feature["geometry"])


def broken_variants(features: list[dict]) -> dict[str, dict | str | bytes]:
    """name → document (or raw text/bytes) of each broken file."""
    variants: dict[str, dict | str | bytes] = {}

    # A bow-tie: a compound's ring drawn corner to opposite corner, so that it crosses itself.
    fs = copy.deepcopy(features)
    bowtie = _by_code(fs, "510107001001002")
    minx, miny, maxx, maxy = _shape(bowtie).buffer(-0.001).bounds
    corners = [[minx, miny], [maxx, maxy], [maxx, miny], [minx, maxy], [minx, miny]]
    bowtie["geometry"] = {"type": "Polygon", "coordinates": [[[round(v, DECIMALS) for v in xy] for xy in corners]]}
    variants["regions_self_intersecting.geojson"] = _collection(fs, "self-intersecting ring")

    # A compound moved 1.2 km east, mostly out of its community.
    fs = copy.deepcopy(features)
    moved = _by_code(fs, "510107002001001")
    _set_shape(moved, shapely.affinity.translate(_shape(moved), xoff=0.012))
    variants["regions_child_outside.geojson"] = _collection(fs, "child outside its parent")

    # Two sibling compounds overlapping: the second takes in a third of the first.
    fs = copy.deepcopy(features)
    first, second = _by_code(fs, "510107003001001"), _by_code(fs, "510107003001002")
    a, b = _shape(first), _shape(second)
    bridge = shapely.LineString([a.centroid, b.centroid]).buffer(0.0015)
    _set_shape(
        second, shapely.union_all([b, bridge.intersection(_shape(_by_code(fs, "510107003001"))), a.buffer(-0.0012)])
    )
    variants["regions_overlap.geojson"] = _collection(fs, "overlapping siblings")

    # Parents: one that exists nowhere, one at the wrong level, one that the code does not extend.
    fs = copy.deepcopy(features)
    orphan = copy.deepcopy(_by_code(fs, "510107002002003"))
    orphan["properties"].update(
        code="510107002009001", name="无主小区", name_en="Orphan Estate", parent_code="510107002009"
    )
    fs.append(orphan)
    _by_code(fs, "510107002002002")["properties"]["parent_code"] = "510107002"  # a street, not its community
    _by_code(fs, "510107002001002")["properties"]["parent_code"] = "510107003001"  # the code says 510107002001
    variants["regions_bad_parent.geojson"] = _collection(fs, "unknown and wrong-level parents")

    # A community given twice (different names): both refused, and with them its compounds.
    fs = copy.deepcopy(features)
    twin = copy.deepcopy(_by_code(fs, "510107003002"))
    twin["properties"]["name"] = "黉门街社区（旧）"
    fs.append(twin)
    variants["regions_duplicate.geojson"] = _collection(fs, "duplicate code")

    # Codes and names: letters, wrong length, none; no name; names too long.
    fs = copy.deepcopy(features)
    _by_code(fs, "510107001003001")["properties"]["code"] = "51010700100300A"
    _by_code(fs, "510107001003002")["properties"]["code"] = "5101070010030021"
    del _by_code(fs, "510107001003003")["properties"]["code"]
    _by_code(fs, "510107002002001")["properties"]["name"] = "   "
    _by_code(fs, "510107002002002")["properties"]["name"] = "很长的名字" * 14  # 70 characters
    _by_code(fs, "510107002002003")["properties"]["name_en"] = "Estate " * 14  # 98 characters
    variants["regions_bad_code.geojson"] = _collection(fs, "bad codes and names")

    # Geometries that cannot be a region: a point, a line, coordinates in metres (a projected file).
    fs = copy.deepcopy(features)
    _by_code(fs, "510107003003001")["geometry"] = {"type": "Point", "coordinates": [104.03, 30.62]}
    _by_code(fs, "510107003003002")["geometry"] = {
        "type": "LineString",
        "coordinates": [[104.03, 30.62], [104.04, 30.63]],
    }
    metres = _by_code(fs, "510107003003003")
    _set_shape(metres, shapely.affinity.scale(_shape(metres), 10_000, 10_000, origin=(0, 0)))
    _by_code(fs, "510107003003004")["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[104.03, 30.62], [104.04, 30.62]]],
    }
    variants["regions_wrong_geometry.geojson"] = _collection(fs, "geometries that are no region")

    # Whole files that cannot be read.
    text = json.dumps(_collection(features, "truncated"), ensure_ascii=False)
    variants["regions_truncated.geojson"] = text[: len(text) // 2]
    variants["regions_not_a_collection.geojson"] = features[1]["geometry"]
    variants["regions_projected.geojson"] = {
        **_collection(features[:1], "declared UTM"),
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32648"}},
    }
    variants["regions_missing_column.csv"] = "区划代码,英文名称\n510107,Wuhou District\n".encode()
    return variants


def main() -> None:
    features = build()
    _write_json(OUT / "regions_wuhou.geojson", _collection(features, "regions_wuhou"))
    _write_json(OUT / "regions_wuhou_gcj02.geojson", _collection(_gcj02(features), "regions_wuhou_gcj02"))
    _shapefile(features, OUT / "regions_wuhou_shapefile.zip")
    (OUT / "regions_wuhou.csv").write_bytes(
        b"\xef\xbb\xbf" + _csv(features, ["区划代码", "名称", "英文名称", "上级代码"], "utf-8")
    )
    (OUT / "regions_wuhou_gbk.csv").write_bytes(_csv(features, ["code", "name", "name_en", "parent_code"], "gbk"))
    BROKEN.mkdir(exist_ok=True)
    for name, document in broken_variants(features).items():
        path = BROKEN / name
        if isinstance(document, bytes):
            path.write_bytes(document)
        elif isinstance(document, str):
            path.write_text(document, encoding="utf-8")
        else:
            _write_json(path, document)
    projected = BROKEN / "regions_projected_shapefile.zip"
    utm = [copy.deepcopy(features[0])]
    _shapefile(utm, projected, crs="EPSG:32648")
    shutil.copyfile(OUT / "regions_wuhou.csv", BROKEN / "regions_not_a_zip.zip")
    print(f"{len(features)} regions written to {OUT}")


if __name__ == "__main__":
    main()
