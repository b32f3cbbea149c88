"""Readers for region files: GeoJSON, a zipped Shapefile, CSV (codes and names, no shapes).

Each reader returns one `RegionFeature` per feature or row, with its place in the file (1-based
index and a location text such as "regions_x.geojson feature 3"), its code, names and parent code
as given, and its shape as a shapely geometry already in WGS-84 (converted from GCJ-02 when asked)
and rounded to 1e-7° (about 1 cm). A feature that cannot be read (not a Feature, an unreadable
geometry, a point instead of a polygon, coordinates that are not degrees) carries the problem in
`error` and the rest of the file is still read. A file that cannot be read as a whole raises
`FileError` with the reason.

Only shapes are read here; whether they are valid, nest and overlap is decided in
`services/ingest/regions.py`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from dashboard.domain import geo
from dashboard.services.ingest.readers import JSON_ERRORS, FileError, decode

REGION_FORMATS = {".geojson": "geojson", ".json": "geojson", ".zip": "shapefile", ".csv": "csv"}
# Column names and GeoJSON property names, lower-cased; a Shapefile cuts names to 10 characters.
FIELD_ALIASES = {
    "code": ("code", "区划代码", "代码", "行政区划代码", "区域代码", "region_code", "regioncode", "adcode"),
    "name": ("name", "名称", "区划名称", "区域名称", "名字"),
    "name_en": ("name_en", "英文名称", "英文名", "nameen", "name_eng", "english_name", "english_na"),
    "parent_code": ("parent_code", "上级代码", "上级区划代码", "父级代码", "parent", "parent_cod", "parentcode"),
}
_FIELD_OF = {alias: field for field, aliases in FIELD_ALIASES.items() for alias in aliases}
DECIMALS = 7  # 1e-7° ≈ 1 cm: what is stored
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
# Coordinate systems a Shapefile's .prj may declare: WGS-84 and CGCS2000 longitude/latitude.
ACCEPTED_CRS = {"EPSG:4326", "EPSG:4490", "OGC:CRS84"}
_POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass
class RegionFeature:
    """One feature (or CSV row) of a region file, as read."""

    index: int  # 1-based position in the file
    location: str  # where it is, for the report: "regions_x.geojson feature 3", "regions_x.csv line 4"
    code: str | None = None
    name: str | None = None
    name_en: str | None = None
    parent_code: str | None = None  # as given; None: it follows from the code
    geometry: shapely.Geometry | None = None  # WGS-84; None: the file gives no shape for it
    error: tuple[str | None, str] | None = None  # (field, reason) when it could not be read

    @property
    def label(self) -> str:
        """The location with the code, as reports name a feature."""
        return f"{self.location} (code {self.code})" if self.code else self.location


def region_format(path: Path) -> str:
    """'geojson', 'shapefile' or 'csv' from the file's extension."""
    fmt = REGION_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise FileError(
            f"{path.name}: unsupported region file type {path.suffix!r} "
            "(.geojson or .json: GeoJSON; .zip: a zipped Shapefile; .csv: codes and names)"
        )
    return fmt


def crs_from_name(path: Path) -> str:
    """The coordinate system a file's name announces: GCJ-02 when it contains 'gcj02' or 'gcj-02', else WGS-84."""
    name = path.name.lower()
    return geo.GCJ02 if "gcj02" in name or "gcj-02" in name else geo.WGS84


def read_region_file(path: Path, crs: str = geo.WGS84) -> list[RegionFeature]:
    """Every feature of a region file, shapes in WGS-84."""
    crs = geo.normalise_crs(crs)
    fmt = region_format(path)
    if path.stat().st_size == 0:
        raise FileError(f"{path.name}: the file is empty")
    if fmt == "geojson":
        return read_geojson(path, crs)
    if fmt == "shapefile":
        return read_shapefile_zip(path, crs)
    return read_csv(path)


# ---- values ---------------------------------------------------------------------------------------
def _text(value) -> str | None:
    """A property as text: numbers as written (510107.0 → '510107'), blanks as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return None
        if float(value).is_integer():
            return str(int(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    text = str(value).strip()
    return text or None


def _fields(properties: dict) -> dict[str, str | None]:
    """The properties a region needs, found under any of their names."""
    found: dict[str, str | None] = {}
    for key, value in properties.items():
        field = _FIELD_OF.get(str(key).strip().lstrip("\ufeff").lower())
        if isinstance(value, dict):  # {"parent": {"adcode": 510100}}, as DataV's boundary files write it
            value = value.get("adcode", value.get("code", value))
        if field is not None and field not in found:
            found[field] = _text(value)
    return found


def _feature(index: int, location: str, fields: dict, geometry=None, error=None) -> RegionFeature:
    return RegionFeature(
        index=index,
        location=location,
        code=fields.get("code"),
        name=fields.get("name"),
        name_en=fields.get("name_en"),
        parent_code=fields.get("parent_code"),
        geometry=geometry,
        error=error,
    )


# ---- shapes ---------------------------------------------------------------------------------------
def prepare_geometry(geometry: shapely.Geometry, crs: str) -> tuple[shapely.Geometry | None, str | None]:
    """A polygonal shape in WGS-84, rounded; or (None, the reason it cannot be a region's shape)."""
    kind = geometry.geom_type
    if kind not in _POLYGONAL:
        return None, f"a {kind} cannot be a region's shape: only Polygon and MultiPolygon"
    if geometry.is_empty:
        return None, "the shape is empty"
    if shapely.has_z(geometry):
        geometry = shapely.force_2d(geometry)
    coordinates = shapely.get_coordinates(geometry)
    if not np.isfinite(coordinates).all():
        return None, "the shape has coordinates that are not numbers"
    lon, lat = coordinates[:, 0], coordinates[:, 1]
    outside = (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if outside.any():
        x, y = coordinates[np.argmax(outside)]
        return None, (
            f"coordinates such as ({x:g}, {y:g}) are not longitude/latitude in degrees: "
            "export the file in WGS-84 (EPSG:4326) or CGCS2000 (EPSG:4490)"
        )
    if crs == geo.GCJ02:
        geometry = shapely.transform(geometry, geo.gcj02_to_wgs84_xy)
    geometry = shapely.transform(geometry, lambda xy: np.round(xy, DECIMALS))
    return geometry, None


def _shape_of(geometry: dict, crs: str) -> tuple[shapely.Geometry | None, str | None]:
    if not isinstance(geometry, dict):
        return None, "the geometry is not a GeoJSON object"
    try:
        parsed = shape(geometry)
    except Exception as exc:  # shapely fails on malformed GeoJSON in many ways (KeyError, ValueError, TypeError…)
        return None, f"unreadable geometry ({exc.__class__.__name__}: {str(exc)[:200]})"
    return prepare_geometry(parsed, crs)


# ---- GeoJSON --------------------------------------------------------------------------------------
def _declared_crs(document: dict, name: str) -> None:
    """Refuse a (pre-RFC 7946) "crs" member that names a projected or foreign system."""
    member = document.get("crs")
    if not isinstance(member, dict):
        return
    declared = str((member.get("properties") or {}).get("name", "")).strip()
    if not declared:
        return
    # urn:ogc:def:crs:EPSG::4326, urn:ogc:def:crs:OGC:1.3:CRS84, EPSG:4490
    tail = declared.upper().replace("::", ":").split(":")
    code = f"{tail[-2]}:{tail[-1]}" if len(tail) >= 2 else declared.upper()
    if code.endswith("CRS84"):
        code = "OGC:CRS84"
    if code not in ACCEPTED_CRS:
        raise FileError(
            f"{name}: the file declares the coordinate system {declared}; "
            "export it in WGS-84 (EPSG:4326) or CGCS2000 (EPSG:4490) longitude/latitude"
        )


def read_geojson(path: Path, crs: str) -> list[RegionFeature]:
    """A GeoJSON FeatureCollection of Polygon/MultiPolygon features."""
    name = path.name
    text = decode(path.read_bytes(), name)
    if not text.strip():
        raise FileError(f"{name}: the file is empty")
    try:
        document = json.loads(text)
    except JSON_ERRORS as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply, or a number too long"
        raise FileError(f"{name}: invalid JSON ({reason})") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise FileError(f"{name}: expected a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise FileError(f"{name}: the FeatureCollection has no 'features' array")
    _declared_crs(document, name)
    result = []
    for index, feature in enumerate(features, start=1):
        location = f"{name} feature {index}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            result.append(_feature(index, location, {}, error=(None, "is not a GeoJSON Feature")))
            continue
        properties = feature.get("properties")
        if properties is None:
            properties = {}
        if not isinstance(properties, dict):
            result.append(_feature(index, location, {}, error=(None, "its 'properties' is not an object")))
            continue
        fields = _fields(properties)
        geometry, problem = (None, None)
        if feature.get("geometry") is not None:
            geometry, problem = _shape_of(feature["geometry"], crs)
        result.append(_feature(index, location, fields, geometry, ("geometry", problem) if problem else None))
    return result


# ---- Shapefile (zipped) ---------------------------------------------------------------------------
def _shapefile_member(path: Path) -> tuple[str, bool]:
    """The archive's one .shp (with its .shx and .dbf), and whether a .cpg names its encoding."""
    if not zipfile.is_zipfile(path):
        raise FileError(f"{path.name}: not a zip archive (a Shapefile must come zipped: .shp, .shx, .dbf, .prj)")
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileError(f"{path.name}: unreadable zip archive ({exc})") from None
    if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
        raise FileError(f"{path.name}: the archive unpacks to more than {MAX_UNZIPPED_BYTES // 2**20} MB")
    names = {m.filename.lower(): m.filename for m in members}
    shps = [original for lower, original in names.items() if lower.endswith(".shp")]
    if len(shps) != 1:
        raise FileError(
            f"{path.name}: the archive must hold exactly one Shapefile (.shp with its .shx and .dbf); "
            f"it holds {len(shps)} .shp files"
        )
    stem = shps[0][:-4].lower()
    missing = [ext for ext in (".shx", ".dbf") if stem + ext not in names]
    if missing:
        raise FileError(f"{path.name}: {shps[0]} comes without its {' and '.join(missing)}")
    return shps[0], stem + ".cpg" in names


def _check_shapefile_crs(declared: str | None, name: str) -> None:
    if declared is None or declared.upper() in ACCEPTED_CRS:
        return
    short = declared if len(declared) < 80 else declared[:80] + "…"
    raise FileError(
        f"{name}: the Shapefile's .prj declares {short}; only WGS-84 (EPSG:4326) or CGCS2000 (EPSG:4490) "
        "longitude/latitude can be imported: reproject it first (e.g. in QGIS: Export → Save Features As)"
    )


def read_shapefile_zip(path: Path, crs: str) -> list[RegionFeature]:
    """A zipped Shapefile, read with pyogrio (GDAL) without geopandas."""
    import pyogrio
    from pyogrio import raw

    member, has_cpg = _shapefile_member(path)
    source = f"/vsizip/{path.resolve()}/{member}"
    try:
        info = pyogrio.read_info(source)
        encoding = None
        if not has_cpg and info.get("encoding") in (None, "", "ISO-8859-1"):
            # No .cpg and no code page in the .dbf: GDAL would read Latin-1. Chinese GIS tools write
            # UTF-8 or GBK; try UTF-8 first, then GB18030 (a superset of GBK).
            encoding = "UTF-8"
        try:
            meta, _fids, geometries, field_data = raw.read(source, encoding=encoding)
        except UnicodeDecodeError:
            meta, _fids, geometries, field_data = raw.read(source, encoding="GB18030")
    except FileError:
        raise
    except Exception as exc:  # GDAL reports a damaged .shp/.dbf in several ways
        raise FileError(f"{path.name}: unreadable Shapefile ({exc.__class__.__name__}: {str(exc)[:200]})") from None
    _check_shapefile_crs(meta.get("crs"), path.name)
    columns = [str(field) for field in meta["fields"]]
    mapped = [_FIELD_OF.get(column.strip().lower()) for column in columns]
    missing = [field for field in ("code", "name") if field not in mapped]
    if missing:
        raise FileError(f"{path.name}: missing attribute(s) {', '.join(missing)}; found {', '.join(columns)}")
    result = []
    for row in range(len(geometries)):
        index = row + 1
        location = f"{path.name} feature {index}"
        fields: dict[str, str | None] = {}
        for field, values in zip(mapped, field_data, strict=True):
            if field is not None and field not in fields:
                fields[field] = _text(values[row])
        wkb = geometries[row]
        geometry, problem = None, None
        if wkb is not None:
            try:
                parsed = shapely.from_wkb(wkb)
            except shapely.errors.ShapelyError as exc:
                problem = f"unreadable geometry ({exc})"
            else:
                geometry, problem = prepare_geometry(parsed, crs)
        result.append(_feature(index, location, fields, geometry, ("geometry", problem) if problem else None))
    return result


# ---- CSV ------------------------------------------------------------------------------------------
def read_csv(path: Path) -> list[RegionFeature]:
    """Codes and names, no shapes: UTF-8 (with or without BOM), GBK or GB18030; Chinese or English headers."""
    name = path.name
    text = decode(path.read_bytes(), name)
    if not text.strip():
        raise FileError(f"{name}: the file is empty")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = next(reader)
    except csv.Error as exc:
        raise FileError(f"{name}: unreadable header row ({exc})") from None
    mapped = [_FIELD_OF.get(header.strip().lstrip("\ufeff").lower()) for header in headers]
    missing = [field for field in ("code", "name") if field not in mapped]
    if missing:
        raise FileError(
            f"{name}: missing required column(s) {', '.join(missing)} "
            f"(区划代码/代码/code, 名称/name); found {', '.join(headers)}"
        )
    result = []
    index = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return result
        except csv.Error as exc:
            index += 1
            result.append(_feature(index, f"{name} line {reader.line_num}", {}, error=(None, f"malformed CSV: {exc}")))
            continue
        if not "".join(row).strip():
            continue
        index += 1
        location = f"{name} line {reader.line_num}"
        fields: dict[str, str | None] = {}
        for field, value in zip(mapped, row, strict=False):
            if field is not None and field not in fields:
                fields[field] = _text(value)
        error = None
        if len(row) != len(headers):
            error = (None, f"has {len(row)} fields but the header has {len(headers)} (truncated or shifted row)")
        result.append(_feature(index, location, fields, error=error))
