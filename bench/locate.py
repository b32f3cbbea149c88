"""Locating by coordinates: points → compound against 2,000 irregular compound polygons.

    python -m bench.locate [--compounds 2000] [--points 200000] [--batch 5000] [--naive-points 1000] [--seed 15]
                           [--max-segment DEGREES]

The compounds are the Voronoi cells of random seeds clipped to a district rectangle around
Wuhou (about 15 × 11 km), handed to the index as the GeoJSON that `Region.boundary` stores. The
points are uniform over the rectangle plus a margin of 0.01° on every side (about a quarter
fall outside every compound). --max-segment adds vertices along every edge (e.g. 0.0003°, about
30 m), for shapes as detailed as surveyed boundaries. In the same run:

- bulk: `CompoundIndex.locate_many` in batches of --batch points, as an ingest batch calls it
  (one STRtree query for the batch, then the prepared candidates' `intersects_xy`);
- single: `CompoundIndex.locate` one point at a time, as an Open311 POST calls it;
- naive: a plain loop over the polygons in code order, `polygon.contains(Point(lon, lat))` per
  polygon until the first hit, on the first --naive-points points (it is that slow).

Before timing, the bulk answers are checked equal to the naive loop's on its points. Each
timed figure is the best of three runs. Target (issue 15): ≥ 50,000 points/s.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import shapely

from bench.report import figure
from dashboard.queries.locate import CompoundIndex

DISTRICT = (103.96, 30.58, 104.12, 30.68)  # west, south, east, north (WGS-84)
MARGIN = 0.01
TARGET = 50_000


def compound_shapes(count: int, seed: int, max_segment: float | None = None) -> dict[str, dict]:
    """count irregular polygons tiling the district: code → GeoJSON geometry."""
    rng = np.random.default_rng(seed)
    west, south, east, north = DISTRICT
    seeds = shapely.multipoints(np.c_[rng.uniform(west, east, count), rng.uniform(south, north, count)])
    outline = shapely.box(*DISTRICT)
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=outline)), outline)
    cells = [cell for cell in cells if not cell.is_empty]
    if max_segment:
        cells = list(shapely.segmentize(cells, max_segment))
    # 15-digit codes: 13 streets × 10 communities × up to 99 compounds, as GB/T 2260-style codes go.
    codes = [f"510107{1 + i // 1000:03d}{1 + i // 100 % 10:03d}{1 + i % 100:03d}" for i in range(len(cells))]
    return {code: json.loads(shapely.to_geojson(cell)) for code, cell in zip(codes, cells, strict=True)}


def random_points(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(lats, lons) uniform over the district and its margin."""
    rng = np.random.default_rng(seed + 1)
    west, south, east, north = DISTRICT
    return rng.uniform(south - MARGIN, north + MARGIN, count), rng.uniform(west - MARGIN, east + MARGIN, count)


def naive_locate(polygons: list[tuple[str, shapely.Geometry]], lat: float, lon: float) -> str | None:
    """A plain loop over the polygons: the first (lowest code) that contains the point."""
    point = shapely.Point(lon, lat)
    for code, polygon in polygons:
        if polygon.contains(point):
            return code
    return None


def best_of(runs: int, work) -> float:
    """The shortest wall time of runs calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> dict:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compounds", type=int, default=2000)
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--single-points", type=int, default=20_000)
    parser.add_argument("--naive-points", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--max-segment", type=float, default=None)
    args = parser.parse_args(argv)

    shapes = compound_shapes(args.compounds, args.seed, args.max_segment)
    vertices = sum(len(shape["coordinates"][0]) for shape in shapes.values())
    started = time.perf_counter()
    index = CompoundIndex(shapes.items())
    build_ms = (time.perf_counter() - started) * 1000
    lats, lons = random_points(args.points, args.seed)
    print(
        f"{len(index):,} compounds ({vertices / len(shapes):.1f} vertices each on average), index built from "
        f"GeoJSON in {build_ms:.0f} ms; {args.points:,} points; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )

    polygons = [(code, shapely.geometry.shape(shape)) for code, shape in sorted(shapes.items())]
    sample = min(args.naive_points, args.points)
    naive_answers = [naive_locate(polygons, lats[i], lons[i]) for i in range(sample)]
    naive_seconds = best_of(3, lambda: [naive_locate(polygons, lats[i], lons[i]) for i in range(sample)])
    bulk_answers = index.locate_many(lats[:sample], lons[:sample])
    if bulk_answers != naive_answers:
        wrong = sum(a != b for a, b in zip(bulk_answers, naive_answers, strict=True))
        raise SystemExit(f"the index and the naive loop disagree on {wrong} of {sample} points")
    outside = naive_answers.count(None)

    def bulk():
        for start in range(0, args.points, args.batch):
            index.locate_many(lats[start : start + args.batch], lons[start : start + args.batch])

    single_count = min(args.single_points, args.points)
    single_lats, single_lons = lats[:single_count].tolist(), lons[:single_count].tolist()

    def single():
        for lat, lon in zip(single_lats, single_lons, strict=True):
            index.locate(lat, lon)

    bulk_rate = args.points / best_of(3, bulk)
    whole_rate = args.points / best_of(3, lambda: index.locate_many(lats, lons))
    single_rate = single_count / best_of(3, single)
    naive_rate = sample / naive_seconds
    print(
        f"\nthe index agrees with the naive loop on {sample:,} points ({outside} of them outside every compound)\n"
        "\n| method | points/s | ratio to naive |\n|---|---:|---:|\n"
        f"| bulk, batches of {args.batch:,} (ingest) | {bulk_rate:,.0f} | {bulk_rate / naive_rate:,.0f}× |\n"
        f"| bulk, all {args.points:,} in one call | {whole_rate:,.0f} | {whole_rate / naive_rate:,.0f}× |\n"
        f"| single point (Open311) | {single_rate:,.0f} | {single_rate / naive_rate:,.0f}× |\n"
        f"| naive: loop over {len(polygons):,} polygons, contains each | {naive_rate:,.0f} | 1× |",
        flush=True,
    )
    met = bulk_rate >= TARGET
    print(f"target ≥ {TARGET:,} points/s (bulk): {'met' if met else 'NOT met'}", flush=True)
    backend = f"{len(index):,} polygons"
    figure(15, "locate: points → compound, bulk (ingest batches)", backend, bulk_rate, "points/s", naive_rate,
           f"≥ {TARGET:,} points/s", met)  # fmt: skip
    figure(15, "locate: points → compound, one at a time (Open311)", backend, single_rate, "points/s", naive_rate)
    return {"bulk": bulk_rate, "whole": whole_rate, "single": single_rate, "naive": naive_rate, "build_ms": build_ms}


if __name__ == "__main__":
    main()
