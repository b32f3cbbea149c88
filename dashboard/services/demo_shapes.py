"""Map-like shapes for the demo's regions: an irregular district outline cut into Voronoi cells.

The district is a smooth, irregular outline around Wuhou's real location; its streets are the
Voronoi cells of random seeds clipped to it, each street's communities the cells of seeds
within the street, and each community's compounds the cells of seeds within the community.
Seeds are spread by a few Lloyd steps (each seed moved to its cell's centroid), so cells are
varied but not slivers. Every child lies inside its parent and siblings tile it without
overlapping. The work is done in a local plane in kilometres (so cells are not stretched by
the longitude/latitude ratio) with shapely 2's vectorised functions, one call per level, and
the result is converted to WGS-84 longitude/latitude, rounded to 1e-6° (about 0.1 m).

Everything comes from the generator passed in: the same seed gives the same shapes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
from shapely import affinity

KM_PER_DEGREE_LAT = 110.574
KM_PER_DEGREE_LON_EQUATOR = 111.320
DISTRICT_AREA_KM2 = 76.0  # Wuhou district: about 75 km²
GRID_DEGREES = 1e-6


class Plane:
    """A local plane in kilometres around (lon0, lat0): equirectangular, fine for a district."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0, self.lat0 = lon0, lat0
        self.kx = KM_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(lat0))

    def to_lonlat(self, geometries: np.ndarray) -> np.ndarray:
        """Geometries in the plane → WGS-84 longitude/latitude on a 1e-6° grid, exterior rings counter-clockwise."""

        def convert(xy: np.ndarray) -> np.ndarray:
            lon = self.lon0 + xy[:, 0] / self.kx
            lat = self.lat0 + xy[:, 1] / KM_PER_DEGREE_LAT
            return np.round(np.column_stack([lon, lat]), 6)

        converted = shapely.transform(geometries, convert)
        # Rounding moves shared vertices identically (siblings stay edge to edge); snapping to the
        # grid repairs what rounding may have folded.
        snapped = shapely.set_precision(converted, GRID_DEGREES)
        return shapely.orient_polygons(snapped)

    def points_to_lonlat(self, xy: np.ndarray) -> np.ndarray:
        return np.column_stack([self.lon0 + xy[:, 0] / self.kx, self.lat0 + xy[:, 1] / KM_PER_DEGREE_LAT])


def district_outline(rng: np.random.Generator, area_km2: float = DISTRICT_AREA_KM2) -> shapely.Polygon:
    """An irregular, smooth outline of area_km2 around the plane's origin (a few low harmonics and a ragged edge)."""
    theta = np.linspace(0.0, 2 * np.pi, 96, endpoint=False)
    harmonics = np.arange(2, 7)
    amplitude = rng.uniform(0.03, 0.11, len(harmonics)) / np.sqrt(harmonics - 1)
    phase = rng.uniform(0.0, 2 * np.pi, len(harmonics))
    radius = 1.0 + (amplitude[:, None] * np.cos(harmonics[:, None] * theta + phase[:, None])).sum(axis=0)
    radius *= 1.0 + rng.normal(0.0, 0.012, len(theta))
    x, y = 1.18 * radius * np.cos(theta), 0.85 * radius * np.sin(theta)  # longer than wide, like Wuhou
    turn = rng.uniform(0.3, 0.8)  # running south-west to north-east
    x, y = x * np.cos(turn) - y * np.sin(turn), x * np.sin(turn) + y * np.cos(turn)
    outline = shapely.make_valid(shapely.Polygon(np.column_stack([x, y])))
    outline = max(shapely.get_parts(outline), key=shapely.area)  # one piece
    factor = math.sqrt(area_km2 / outline.area)
    return affinity.scale(outline, factor, factor, origin=(0, 0))


def points_inside(parents: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """counts[i] uniform random points inside parents[i], in parent order (rejection sampling, vectorised)."""
    counts = np.asarray(counts, dtype=int)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    result = np.empty((int(counts.sum()), 2))
    filled = np.zeros(len(parents), dtype=int)
    bounds = shapely.bounds(parents)
    box_area = (bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1])
    ratio = box_area / np.maximum(shapely.area(parents), 1e-12)
    while (need := counts - filled).any():
        tries = np.where(need > 0, np.ceil(need * ratio * 1.5).astype(int) + 4, 0)
        owner = np.repeat(np.arange(len(parents)), tries)
        x = bounds[owner, 0] + rng.random(len(owner)) * (bounds[owner, 2] - bounds[owner, 0])
        y = bounds[owner, 1] + rng.random(len(owner)) * (bounds[owner, 3] - bounds[owner, 1])
        inside = np.flatnonzero(shapely.contains_xy(parents[owner], x, y))
        group = owner[inside]  # sorted: owner is
        rank = np.arange(len(inside)) - np.searchsorted(group, group)
        keep = rank < need[group]
        slot = offsets[group[keep]] + filled[group[keep]] + rank[keep]
        result[slot, 0], result[slot, 1] = x[inside[keep]], y[inside[keep]]
        filled += np.bincount(group[keep], minlength=len(parents))
    return result


def _cells(parents: np.ndarray, owner: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The Voronoi cell of each seed among its siblings' seeds, clipped to its parent (seed order)."""
    multipoints = shapely.multipoints(seeds, indices=owner)
    extent = shapely.buffer(shapely.envelope(parents), 1.0)
    diagrams = shapely.voronoi_polygons(multipoints, extend_to=extent, ordered=True)
    cells = shapely.get_parts(diagrams)
    if len(cells) != len(seeds) or not shapely.contains_xy(cells, seeds[:, 0], seeds[:, 1]).all():
        raise RuntimeError("Voronoi cells do not match their seeds")
    return shapely.intersection(cells, parents[owner])


def _one_piece(cells: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Each cell as one Polygon: where clipping to a concave parent cut a cell in pieces, its
    smaller pieces go to the sibling they share the longest border with (the tiling is kept)."""
    cells = cells.copy()
    for index in np.flatnonzero(shapely.get_type_id(cells) != shapely.GeometryType.POLYGON):
        parts = [p for p in shapely.get_parts(cells[index]) if p.geom_type == "Polygon" and p.area > 0]
        parts.sort(key=lambda p: -p.area)
        cells[index] = parts[0]
        siblings = [s for s in np.flatnonzero(owner == owner[index]) if s != index]
        for piece in parts[1:]:
            if not siblings:
                continue
            border = shapely.length(shapely.intersection(piece.boundary, cells[siblings]))
            target = siblings[int(np.argmax(border))]
            merged = shapely.union(cells[target], piece)
            if merged.geom_type == "Polygon":
                cells[target] = merged
    return cells


def partition(
    parents: np.ndarray, counts: np.ndarray, rng: np.random.Generator, relax: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Cut each parent into counts[i] cells; returns the cells (parent by parent) and their parent's index."""
    counts = np.asarray(counts, dtype=int)
    if (counts < 1).any():
        raise ValueError("every parent needs at least one child")
    owner = np.repeat(np.arange(len(parents)), counts)
    seeds = points_inside(parents, counts, rng)
    for _ in range(relax):  # Lloyd steps: seeds to their cells' centroids
        seeds = shapely.get_coordinates(shapely.centroid(_cells(parents, owner, seeds)))
    cells = _one_piece(_cells(parents, owner, seeds), owner)
    return cells, owner


def label_points(geometries: np.ndarray, tolerance: float = 0.005) -> np.ndarray:
    """A point well inside each geometry (the centre of its largest inscribed circle), as (x, y) rows."""
    circles = shapely.maximum_inscribed_circle(geometries, tolerance)
    return shapely.get_coordinates(shapely.get_point(circles, 0))


def region_shapes(
    regions: pd.DataFrame, rng: np.random.Generator, lon0: float, lat0: float, street_slots: int
) -> tuple[np.ndarray, np.ndarray]:
    """Shapes (WGS-84 polygons) and label points (lon, lat rows) for the rows of regions.

    regions: the region tree in depth-first order (code, level, parent_code), one district.
    The district is cut into street_slots streets (the district's real number) whatever the
    scale, so a one-street demo shows that street where it lies in the district; street 0 is
    the south-western one (Cuqiao's place in Wuhou).
    """
    plane = Plane(lon0, lat0)
    shapes: dict[str, shapely.Polygon] = {}
    district = regions[regions["level"] == "district"]
    outline = district_outline(rng)
    shapes[district["code"].iloc[0]] = outline
    streets = regions[regions["level"] == "street"]
    cells, _ = partition(np.array([outline]), [max(street_slots, len(streets))], rng, relax=3)
    centres = shapely.get_coordinates(shapely.centroid(cells))
    order = np.argsort(centres[:, 0] + centres[:, 1], kind="stable")
    shapes.update(zip(streets["code"], cells[order[: len(streets)]], strict=True))
    for level, relax in (("community", 5), ("compound", 3)):
        children = regions[regions["level"] == level]
        parent_codes = list(dict.fromkeys(children["parent_code"]))  # in order of first appearance
        counts = children.groupby("parent_code", sort=False).size().reindex(parent_codes).to_numpy()
        if not (children["parent_code"].to_numpy() == np.repeat(parent_codes, counts)).all():
            raise ValueError(f"the {level} rows are not grouped by parent")
        cells, _ = partition(np.array([shapes[code] for code in parent_codes]), counts, rng, relax=relax)
        shapes.update(zip(children["code"], cells, strict=True))
    planar = np.array([shapes[code] for code in regions["code"]])
    labels = plane.points_to_lonlat(label_points(planar))
    return plane.to_lonlat(planar), np.round(labels, 6)


def sample_points(shapes: np.ndarray, which: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points spread uniformly inside shapes[which], from two uniform numbers in [0, 1) per point.

    Each shape is cut into triangles; u picks a triangle by area and, rescaled within that
    triangle's share, gives with v a uniform point of the triangle.
    """
    triangles, owner = shapely.get_parts(shapely.constrained_delaunay_triangles(shapes), return_index=True)
    corners = shapely.get_coordinates(shapely.get_exterior_ring(triangles)).reshape(len(triangles), 4, 2)[:, :3]
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    area = 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1]))
    total = np.bincount(owner, weights=area, minlength=len(shapes))
    share = area / total[owner]
    # Cumulative shares per shape, offset by the shape's index: shape i spans [i, i + 1).
    cumulative = pd.Series(share).groupby(owner).cumsum().to_numpy(copy=True)
    last = np.r_[owner[1:] != owner[:-1], True]
    cumulative[last] = 1.0  # exactly: no point falls past its shape's last triangle
    upper = owner + cumulative
    lower = upper - share
    target = which + np.minimum(u, 1 - 1e-12)
    pick = np.minimum(np.searchsorted(upper, target, side="right"), len(triangles) - 1)
    rescaled = np.clip((target - lower[pick]) / share[pick], 0.0, 1.0)
    root = np.sqrt(rescaled)[:, None]
    point = (1 - root) * a[pick] + root * (1 - v[:, None]) * b[pick] + root * v[:, None] * c[pick]
    return point[:, 0], point[:, 1]
