"""Import of the region hierarchy (district → street → community → compound) from a district's own map.

Files named `regions*` come here from every ingest path (the CLI's `ingest`, the drop folder, the
admin upload page): a GeoJSON FeatureCollection (.geojson / .json), a zipped Shapefile (.zip) or a
CSV of codes and names without shapes (readers in `geo_readers.py`). Coordinates are WGS-84 or
CGCS2000 as they are; with crs="gcj02" they are converted from the web-map datum to WGS-84
(`domain/geo.py`).

**What is checked** (each problem is one entry of the report's `errors`, naming the feature by
its index in the file and its code, the field and the reason):

- the code: present, digits only, 6/9/12/15 digits (district/street/community/compound); a code
  given twice refuses every feature that carries it (which of them is right cannot be told);
- the name: present, at most 64 characters; the English name at most 96;
- the parent: `parent_code` when given must be the code one level up (the code without its last
  three digits; a district's 6-digit city or province code is left aside); the parent must be in
  the file (and accepted) or stored and not archived;
- the shape: a valid Polygon/MultiPolygon (`shapely.is_valid_reason`: self-intersecting rings,
  holes outside their shell…); a child may lie at most 1 % of its own area outside its parent;
  two siblings may overlap by at most 1 % of the smaller one's area; a new parent shape may not
  leave a stored child that the file does not list more than 1 % outside it.

Areas are measured in a local equirectangular projection about the file's mean latitude
(`geo.local_metric_xy`, metres); the checks compare ratios of areas, which a uniform scaling
leaves unchanged, and over a district the projection's distortion (< 0.2 %) is far below the
1 % margin. The checks look at the tree as it will be after the import: the file's accepted
features, and stored regions for what the file does not (validly) give.

**What lands.** The valid features land and the rest are reported, like appeals; a feature whose
parent is refused is refused too (reason: the parent's refusal). A stored region is updated in
place (name, English name, shape, centre) and un-archived when the file lists it again; a field
the file leaves empty (an English name, or any shape in a CSV) keeps its stored value. Nothing is
ever deleted. A stored region of the file's district that the file does not list (neither the
region nor anything below it) is listed in the report's `missing`; with archive_missing it is
archived too (archived_at set), but only when the file holds the district itself: a file of part
of a district never archives the rest. The whole import is one transaction with its audit row
(action `import_regions`, the counts in its detail); once it has committed and something
changed, `queries.regions.notify_changed` tells the listeners (and bumps the version) and the
wall's population cache is cleared.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dashboard.domain import geo
from dashboard.domain.regions import ancestors, level_of
from dashboard.domain.vocab import CODE_LENGTH, RegionLevel
from dashboard.queries import regions as region_queries
from dashboard.queries import wall as walldata
from dashboard.services.ingest.geo_readers import RegionFeature, crs_from_name, read_region_file
from dashboard.services.ingest.readers import FileError
from dashboard.services.ingest.service import MAX_ERRORS_IN_REPORT, IngestReport
from dashboard.store.audit import audit_row
from dashboard.store.models import Region

OUTSIDE_PARENT_MAX = 0.01  # of the child's own area
SIBLING_OVERLAP_MAX = 0.01  # of the smaller sibling's area
NAME_MAX = Region.__table__.c.name.type.length  # 64
NAME_EN_MAX = Region.__table__.c.name_en.type.length  # 96
LEVEL_LENGTHS = sorted(CODE_LENGTH.values())  # 6, 9, 12, 15
AUDIT_ACTION = "import_regions"
CENTER_DECIMALS = 6
log = logging.getLogger(__name__)


@dataclass
class RegionReport(IngestReport):
    """What one region file did; `quarantined` (also given as `refused`) counts refused features."""

    crs: str = geo.WGS84
    restored: int = 0
    archived: int = 0
    districts: list[str] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)
    archive_skipped: str | None = None
    _refused: set[int] = field(default_factory=set, repr=False)

    def refuse(self, feature: RegionFeature, field_name: str | None, reason: str) -> None:
        """Refuse a feature for a reason (a feature with several problems is counted once)."""
        if feature.index not in self._refused:
            self._refused.add(feature.index)
            self.quarantined += 1
        if len(self.errors) < MAX_ERRORS_IN_REPORT:
            self.errors.append(
                {
                    "record": feature.label,
                    "index": feature.index,
                    "code": feature.code,
                    "field": field_name,
                    "reason": reason,
                }
            )

    @property
    def changed(self) -> bool:
        """Whether the import changed any stored region."""
        return bool(self.created or self.updated or self.archived)

    def as_dict(self) -> dict:
        """JSON-ready form: the ingest report's keys, and the region import's own."""
        report = super().as_dict()
        report["errors_truncated"] = len(self.errors) >= MAX_ERRORS_IN_REPORT
        report.update(
            refused=self.quarantined,
            restored=self.restored,
            archived=self.archived,
            missing=self.missing,
            archive_skipped=self.archive_skipped,
            districts=self.districts,
            crs=self.crs,
        )
        return report


# ---- entry points ---------------------------------------------------------------------------------
def import_regions(
    database,
    path: Path,
    *,
    crs: str | None = None,
    archive_missing: bool = False,
    actor: str = "cli",
    source: str | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """Import a region file into database (a store.database.Database, or `db`); returns the report.

    crs: 'wgs84' (also for CGCS2000) or 'gcj02'; None takes GCJ-02 when the file's name contains
    'gcj02', else WGS-84. A file that cannot be read at all raises FileError (so does an unknown crs).
    """
    database = database.current() if hasattr(database, "current") else database
    try:
        crs = crs_from_name(path) if crs is None else geo.normalise_crs(crs)
    except ValueError as exc:
        raise FileError(str(exc)) from None
    features = read_region_file(path, crs)
    report = RegionReport(source=source or f"file:{path.name}", kind="region", crs=crs)
    report.read = len(features)
    now = now or dt.datetime.now(dt.UTC)
    with database.transaction() as session:
        audit = _begin(session, actor, path.name)
        stored = {region.code: region for region in session.scalars(select(Region))}
        plan = _Validation(features, stored, report, archive_missing)
        plan.run()
        _apply(session, plan, report, now)
        audit.detail = _audit_detail(report, path.name)
        if report.changed:
            region_queries.regions_changed(session)
            walldata.population_changed(session)
    if report.changed:
        region_queries.notify_changed(database)
    return report.as_dict()


def ingest_file(
    database,
    path: Path,
    source: str | None = None,
    *,
    crs: str | None = None,
    archive_missing: bool = False,
    actor: str = "cli",
) -> dict:
    """import_regions as the upload page calls it: a file that cannot be read gives 'file_error', never raises.

    The report also carries 'file' (the file's name) and 'seconds', like the drop folder's.
    """
    started = time.perf_counter()
    source = source or f"file:{path.name}"
    try:
        report = import_regions(database, path, crs=crs, archive_missing=archive_missing, actor=actor, source=source)
    except FileError as exc:
        report = {"source": source, "kind": "region", "file_error": str(exc)}
    except Exception as exc:  # a bug must answer with a reason, not a 500
        log.exception("importing regions from %s failed", path.name)
        report = {"source": source, "kind": "region", "file_error": f"internal error: {exc.__class__.__name__}: {exc}"}
    report["file"] = path.name
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


def _begin(session: Session, actor: str, file_name: str):
    """Take the write lock first (one import at a time) and add the audit row, filled in at the end."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(AUDIT_ACTION.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    audit = audit_row(actor, AUDIT_ACTION, f"regions:{file_name}", None, None)
    session.add(audit)
    session.flush()  # on SQLite this write takes the database's write lock before anything is read
    return audit


def _audit_detail(report: RegionReport, file_name: str) -> dict:
    return {
        "file": file_name,
        "crs": report.crs,
        "read": report.read,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "refused": report.quarantined,
        "restored": report.restored,
        "missing": len(report.missing),
        "archived": report.archived,
        "districts": report.districts,
    }


# ---- validation -----------------------------------------------------------------------------------
_REASON = re.compile(r"^(?P<what>.*?)\[(?P<x>\S+) (?P<y>\S+)\]$")
_HINTS = {
    "Self-intersection": "a ring crosses itself or another ring",
    "Ring Self-intersection": "a ring touches itself",
    "Hole lies outside shell": "a hole lies outside its polygon",
    "Interior is disconnected": "a hole cuts the polygon in two",
    "Nested shells": "one polygon of a MultiPolygon lies inside another",
    "Too few points": "a ring has fewer than 4 points",
}


def invalid_shape_reason(geometry: shapely.Geometry) -> str:
    """shapely.is_valid_reason in words: 'not a valid shape: Self-intersection (…) at (lon, lat)'."""
    reason = shapely.is_valid_reason(geometry)
    match = _REASON.match(reason or "")
    if not match:
        return f"not a valid shape: {reason}"
    what = match["what"]
    hint = _HINTS.get(what)
    return f"not a valid shape: {what}{f' ({hint})' if hint else ''} at ({match['x']}, {match['y']})"


def _level_name(code: str) -> str:
    return RegionLevel(level_of(code)).value


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.1f} %"


@dataclass
class _Entry:
    """A shape in the tree after the import: from the file (feature) or stored (region)."""

    code: str
    geometry: shapely.Geometry  # local metric projection
    feature: RegionFeature | None = None
    name: str | None = None

    def describe(self) -> str:
        if self.feature is not None:
            return f"feature {self.feature.index} ({self.code} {self.feature.name})"
        return f"stored region {self.code} ({self.name})"


class _Validation:
    """Decides which features land: per-feature checks, then the tree level by level."""

    def __init__(self, features: list[RegionFeature], stored: dict[str, Region], report: RegionReport, archive_missing):
        self.features = features
        self.stored = stored
        self.report = report
        self.archive_missing = archive_missing
        self.candidates: dict[str, RegionFeature] = {}  # passed the per-feature checks, one per code
        self.present: set[str] = set()  # every well-formed code the file lists, refused or not
        self.first_of: dict[str, RegionFeature] = {}
        self.accepted: dict[str, RegionFeature] = {}
        self.refused_codes: set[str] = set()
        self.to_archive: list[str] = []
        self._metric: dict[int, tuple[shapely.Geometry, shapely.Geometry]] = {}
        self._stored_shapes: dict[str, shapely.Geometry | None] = {}
        shaped = [f.geometry for f in features if f.geometry is not None and f.error is None]
        centroids = shapely.get_coordinates(shapely.centroid(np.array(shaped, dtype=object))) if shaped else None
        self.lat0 = float(np.mean(centroids[:, 1])) if centroids is not None and len(centroids) else 30.0
        self.children: dict[str, list[str]] = defaultdict(list)
        for code, region in stored.items():
            if region.parent_code:
                self.children[region.parent_code].append(code)

    def run(self) -> None:
        self._check_features()
        self._check_duplicates()
        self._find_missing()
        for length in LEVEL_LENGTHS:
            self._check_level(length)

    # -- one feature at a time ----------------------------------------------------------------------
    def _check_features(self) -> None:
        by_code: dict[str, list[RegionFeature]] = defaultdict(list)
        for feature in self.features:
            problems = self._problems(feature)
            code_ok = not any(name == "code" for name, _ in problems)
            if code_ok:
                by_code[feature.code].append(feature)
            for name, reason in problems:
                self.report.refuse(feature, name, reason)
            if not problems:
                self.candidates.setdefault(feature.code, feature)
        self.by_code = by_code
        self.present = set(by_code)
        self.report.districts = sorted({code[:6] for code in self.present})

    def _problems(self, feature: RegionFeature) -> list[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        if feature.error is not None:
            problems.append(feature.error)
        code = feature.code
        if code is None:
            problems.append(("code", "the code is missing"))
        elif not (code.isascii() and code.isdigit()):
            problems.append(("code", f"{code!r} is not a region code: digits only"))
        elif len(code) not in LEVEL_LENGTHS:
            problems.append(
                (
                    "code",
                    f"{code} has {len(code)} digits; a region code has 6 (district), 9 (street), "
                    "12 (community) or 15 (compound)",
                )
            )
        if feature.name is None:
            problems.append(("name", "the name is missing"))
        elif len(feature.name) > NAME_MAX:
            problems.append(("name", f"the name has {len(feature.name)} characters; at most {NAME_MAX}"))
        if feature.name_en is not None and len(feature.name_en) > NAME_EN_MAX:
            problems.append(
                ("name_en", f"the English name has {len(feature.name_en)} characters; at most {NAME_EN_MAX}")
            )
        code_ok = code is not None and not any(name == "code" for name, _ in problems)
        if code_ok and feature.parent_code is not None:
            problem = _parent_code_problem(code, feature.parent_code)
            if problem:
                problems.append(("parent_code", problem))
        if feature.geometry is not None and not shapely.is_valid(feature.geometry):
            problems.append(("geometry", invalid_shape_reason(feature.geometry)))
        return problems

    def _check_duplicates(self) -> None:
        for code, features in self.by_code.items():
            self.first_of[code] = features[0]
            if len(features) < 2:
                continue
            indexes = ", ".join(str(f.index) for f in features)
            for feature in features:
                self.report.refuse(
                    feature, "code", f"{code} appears {len(features)} times (features {indexes}): each is refused"
                )
            self.candidates.pop(code, None)
        self.refused_codes = self.present - set(self.candidates)

    # -- missing regions ----------------------------------------------------------------------------
    def _find_missing(self) -> None:
        listed = self.present | {parent for code in self.present for parent in ancestors(code)}
        districts = set(self.report.districts)
        missing = sorted(
            (region for code, region in self.stored.items() if code[:6] in districts and code not in listed),
            key=lambda region: (len(region.code), region.code),
        )
        missing = [region for region in missing if region.archived_at is None]
        self.report.missing = [
            {"code": region.code, "name": region.name, "level": RegionLevel(region.level).value} for region in missing
        ]
        if not self.archive_missing:
            return
        whole = {district for district in districts if district in self.present}
        unreadable = [f for f in self.features if f.code is None or not _well_formed(f.code)]
        if unreadable:
            self.report.archive_skipped = (
                f"{len(unreadable)} feature(s) have no valid code (e.g. {unreadable[0].label}): nothing is archived, "
                "as one of them may be a region the file means to keep"
            )
            return
        if whole != districts:
            partial = ", ".join(sorted(districts - whole))
            self.report.archive_skipped = (
                f"the file does not hold the district itself ({partial}): archive_missing archives only "
                "what a whole-district file leaves out"
            )
        self.to_archive = [region.code for region in missing if region.code[:6] in whole]

    # -- the tree, level by level -------------------------------------------------------------------
    def _check_level(self, length: int) -> None:
        level = sorted((f for code, f in self.candidates.items() if len(code) == length), key=lambda f: f.code)
        survivors = [feature for feature in level if self._parent_ok(feature)]
        survivors = [feature for feature in survivors if self._inside_parent(feature)]
        survivors = [feature for feature in survivors if self._holds_stored_children(feature)]
        refused_by_overlap = self._overlapping(survivors)
        for feature in survivors:
            if feature.index in refused_by_overlap:
                continue
            self.accepted[feature.code] = feature
        for feature in level:
            if feature.code not in self.accepted:
                self.refused_codes.add(feature.code)

    def _refuse(self, feature: RegionFeature, field_name: str | None, reason: str) -> bool:
        self.report.refuse(feature, field_name, reason)
        return False

    def _parent_ok(self, feature: RegionFeature) -> bool:
        if len(feature.code) == LEVEL_LENGTHS[0]:
            return True
        parent = feature.code[:-3]
        if parent in self.accepted:
            return True
        if parent in self.refused_codes:
            where = self.first_of[parent].index
            return self._refuse(feature, "parent_code", f"its parent {parent} is refused (see feature {where})")
        region = self.stored.get(parent)
        if region is None:
            return self._refuse(
                feature, "parent_code", f"its parent {parent} ({_level_name(parent)}) is neither in the file nor stored"
            )
        if region.archived_at is not None or parent in self.to_archive:
            return self._refuse(
                feature,
                "parent_code",
                f"its parent {parent} ({region.name}) is archived: list it in the file to restore it",
            )
        return True

    def _inside_parent(self, feature: RegionFeature) -> bool:
        if feature.geometry is None or len(feature.code) == LEVEL_LENGTHS[0]:
            return True
        parent = feature.code[:-3]
        outer = self._shape_after(parent)
        if outer is None:
            return True
        inner = self._metric_of(feature.geometry)
        ratio = shapely.area(shapely.difference(inner, outer)) / inner.area
        if ratio <= OUTSIDE_PARENT_MAX:
            return True
        outside = shapely.area(shapely.difference(inner, outer))
        return self._refuse(
            feature,
            "geometry",
            f"{_percent(ratio)} of its area ({outside:,.0f} m² of {inner.area:,.0f} m²) lies outside its parent "
            f"{parent} ({self._name_of(parent)}); at most {_percent(OUTSIDE_PARENT_MAX)} may",
        )

    def _holds_stored_children(self, feature: RegionFeature) -> bool:
        """A new shape must still hold the stored children that the file does not list."""
        if feature.geometry is None:
            return True
        outer = self._metric_of(feature.geometry)
        for child in sorted(self.children.get(feature.code, ())):
            region = self.stored[child]
            if child in self.present or region.archived_at is not None or child in self.to_archive:
                continue
            inner = self._stored_shape(child)
            if inner is None or inner.area == 0:
                continue
            ratio = shapely.area(shapely.difference(inner, outer)) / inner.area
            if ratio > OUTSIDE_PARENT_MAX:
                return self._refuse(
                    feature,
                    "geometry",
                    f"its stored {_level_name(child)} {child} ({region.name}), which the file does not list, would lie "
                    f"{_percent(ratio)} outside this shape; list it in the file with its new shape",
                )
        return True

    def _overlapping(self, survivors: list[RegionFeature]) -> set[int]:
        """Indexes of the features refused because they overlap a sibling by more than the margin."""
        groups: dict[str | None, list[_Entry]] = defaultdict(list)
        codes = {feature.code for feature in survivors}
        for feature in survivors:
            if feature.geometry is not None:
                groups[_parent_of(feature.code)].append(
                    _Entry(feature.code, self._metric_of(feature.geometry), feature)
                )
        length = len(survivors[0].code) if survivors else None
        for parent in list(groups):
            siblings = self.children.get(parent, ()) if parent else (c for c in self.stored if len(c) == length)
            for code in siblings:
                region = self.stored[code]
                if code in codes or region.archived_at is not None or code in self.to_archive:
                    continue
                geometry = self._stored_shape(code)
                if geometry is not None and geometry.area > 0:
                    groups[parent].append(_Entry(code, geometry, None, region.name))
        refused: set[int] = set()
        for entries in groups.values():
            if len(entries) < 2:
                continue
            geometries = np.array([entry.geometry for entry in entries], dtype=object)
            left, right = shapely.STRtree(geometries).query(geometries, predicate="intersects")
            pairs = left < right
            left, right = left[pairs], right[pairs]
            if not len(left):
                continue
            overlap = shapely.area(shapely.intersection(geometries[left], geometries[right]))
            smaller = np.minimum(shapely.area(geometries[left]), shapely.area(geometries[right]))
            ratio = np.divide(overlap, smaller, out=np.zeros_like(overlap), where=smaller > 0)
            for i, j, share, area in zip(left, right, ratio, overlap, strict=True):
                if share <= SIBLING_OVERLAP_MAX:
                    continue
                for this, other in ((entries[i], entries[j]), (entries[j], entries[i])):
                    if this.feature is None:
                        continue
                    refused.add(this.feature.index)
                    self.report.refuse(
                        this.feature,
                        "geometry",
                        f"overlaps its sibling {other.describe()} by {area:,.0f} m², {_percent(share)} of the smaller "
                        f"one's area; at most {_percent(SIBLING_OVERLAP_MAX)} may",
                    )
        return refused

    # -- shapes -------------------------------------------------------------------------------------
    def _metric_of(self, geometry: shapely.Geometry) -> shapely.Geometry:
        """The shape in the local metric projection (cached per shape, which the cache keeps alive)."""
        key = id(geometry)
        if key not in self._metric:
            self._metric[key] = (geometry, shapely.transform(geometry, lambda xy: geo.local_metric_xy(xy, self.lat0)))
        return self._metric[key][1]

    def _stored_shape(self, code: str) -> shapely.Geometry | None:
        """A stored region's shape in the local metric projection (made valid), or None."""
        if code not in self._stored_shapes:
            self._stored_shapes[code] = None
            boundary = self.stored[code].boundary
            if isinstance(boundary, dict):
                try:
                    geometry = shape(boundary)
                except Exception:  # a stored shape that no longer parses: as if there were none
                    geometry = None
                if geometry is not None and not geometry.is_empty:
                    if not geometry.is_valid:
                        geometry = shapely.make_valid(geometry)
                    self._stored_shapes[code] = self._metric_of(geometry)
        return self._stored_shapes[code]

    def _shape_after(self, code: str) -> shapely.Geometry | None:
        """The region's shape once the import is done: the file's accepted shape, else the stored one."""
        feature = self.accepted.get(code)
        if feature is not None and feature.geometry is not None:
            return self._metric_of(feature.geometry)
        if code in self.stored:
            return self._stored_shape(code)
        return None

    def _name_of(self, code: str) -> str:
        feature = self.accepted.get(code)
        if feature is not None:
            return feature.name or code
        region = self.stored.get(code)
        return region.name if region is not None else code


def _well_formed(code: str) -> bool:
    return code.isascii() and code.isdigit() and len(code) in LEVEL_LENGTHS


def _parent_of(code: str) -> str | None:
    return code[:-3] if len(code) > LEVEL_LENGTHS[0] else None


def _parent_code_problem(code: str, parent: str) -> str | None:
    """Why a given parent_code does not fit the code (None: it fits)."""
    expected = _parent_of(code)
    if parent == expected:
        return None
    if expected is None:
        if len(parent) == LEVEL_LENGTHS[0] and parent.isascii() and parent.isdigit() and parent != code:
            return None  # the district's city or province (510100): above the tree, so left aside
        return f"{code} is a district, the top of the tree, but parent_code {parent} is given"
    if not (parent.isascii() and parent.isdigit()) or len(parent) not in LEVEL_LENGTHS:
        return f"{parent!r} is not a region code; the parent of {code} is {expected}"
    if len(parent) != len(expected):
        return (
            f"{parent} is a {_level_name(parent)}, but the parent of a {_level_name(code)} is the "
            f"{_level_name(expected)} one level up: {expected}"
        )
    return f"{parent} does not match the code: a child's code extends its parent's (the parent of {code} is {expected})"


# ---- writing --------------------------------------------------------------------------------------
def geojson_of(geometry: shapely.Geometry) -> dict:
    """A shape as stored: GeoJSON, exterior rings counter-clockwise, a one-part MultiPolygon as a Polygon."""
    geometry = shapely.orient_polygons(geometry)
    parts = list(shapely.get_parts(geometry))

    def rings(polygon) -> list:
        return [
            [[round(float(x), 7), round(float(y), 7)] for x, y in shapely.get_coordinates(ring)]
            for ring in (polygon.exterior, *polygon.interiors)
        ]

    if len(parts) == 1:
        return {"type": "Polygon", "coordinates": rings(parts[0])}
    return {"type": "MultiPolygon", "coordinates": [rings(part) for part in parts]}


def center_of(geometry: shapely.Geometry) -> tuple[float, float]:
    """(lat, lon) of a label point: the centroid when it lies inside the shape, else a point surely inside."""
    point = geometry.centroid
    if not geometry.contains(point):
        point = geometry.representative_point()
    return round(point.y, CENTER_DECIMALS), round(point.x, CENTER_DECIMALS)


def _apply(session: Session, plan: _Validation, report: RegionReport, now: dt.datetime) -> None:
    for length in LEVEL_LENGTHS:
        features = sorted((f for code, f in plan.accepted.items() if len(code) == length), key=lambda f: f.code)
        for feature in features:
            values: dict = {"name": feature.name}
            if feature.name_en is not None:
                values["name_en"] = feature.name_en
            if feature.geometry is not None:
                values["boundary"] = geojson_of(feature.geometry)
                values["center_lat"], values["center_lon"] = center_of(feature.geometry)
            region = plan.stored.get(feature.code)
            if region is None:
                session.add(
                    Region(
                        code=feature.code,
                        level=level_of(feature.code),
                        parent_code=_parent_of(feature.code),
                        **values,
                    )
                )
                report.created += 1
                continue
            changed = [key for key, value in values.items() if getattr(region, key) != value]
            for key in changed:
                setattr(region, key, values[key])
            if region.archived_at is not None:
                region.archived_at = None
                report.restored += 1
                changed.append("archived_at")
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1
        session.flush()  # parents before their children
    for code in plan.to_archive:
        plan.stored[code].archived_at = now
        report.archived += 1
