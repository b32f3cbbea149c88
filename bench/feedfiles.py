"""Synthetic feed files for benchmarks and tests: valid appeals spread over a region tree."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

CATEGORIES = ["noise", "sanitation", "property_management", "parking", "safety_hazard", "other"]
PRIORITIES = ["ordinary", "ordinary", "ordinary", "urgent", "extra_urgent"]
CHANNELS = ["hotline_12345", "wechat", "grid_patrol", "street_call"]
HEADER = [
    "external_id",
    "source",
    "reported_at",
    "category",
    "priority",
    "region_code",
    "description",
    "reporter_phone",
]


def write_appeals_csv(
    path: Path, rows: int, region_codes: list[str], end: dt.datetime, seed: int = 1, prefix: str = "F"
) -> Path:
    """A CSV of `rows` valid appeals reported in the 30 days before `end` (local time, no zone)."""
    rng = np.random.default_rng(seed)
    start = end - dt.timedelta(days=30)
    offsets = np.sort(rng.integers(0, int((end - start).total_seconds()) - 600, rows))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i, offset in enumerate(offsets):
            reported = start + dt.timedelta(seconds=int(offset))
            writer.writerow(
                [
                    f"{prefix}{i:08d}",
                    CHANNELS[i % len(CHANNELS)],
                    reported.strftime("%Y-%m-%d %H:%M:%S"),
                    CATEGORIES[rng.integers(len(CATEGORIES))],
                    PRIORITIES[rng.integers(len(PRIORITIES))],
                    region_codes[rng.integers(len(region_codes))],
                    "小区门口商家深夜外放音乐扰民，请尽快处理" * 2,
                    f"13{rng.integers(0, 10**9):09d}",
                ]
            )
    return path
