"""A day's KPI export for a fixed demo seed is byte for byte the golden file (no behaviour change)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dashboard.services import exports
from dashboard.store.database import db

GOLDEN = Path(__file__).parent / "golden"
DAY = dt.date(2026, 11, 19)


def test_the_csv_export_of_a_day_matches_the_golden_file(demo_app, database_url, tmp_path):
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert exports.produce_day(db, demo_app.extensions["work_calendar"], DAY, tmp_path, force=True)
    produced = (tmp_path / f"kpi_{DAY.isoformat()}.csv").read_bytes()
    assert produced == (GOLDEN / f"kpi_{DAY.isoformat()}.{backend}.csv").read_bytes()
