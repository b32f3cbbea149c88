"""Daily KPI exports: files as specified, identical when produced again, caught up after downtime."""

from __future__ import annotations

import csv
import datetime as dt
import re
import threading

import pandas as pd
from sqlalchemy import func, select

from dashboard.domain.kpi import KPI_KEYS
from dashboard.services import exports
from dashboard.store.database import db
from dashboard.store.models import DailyExport, KpiSnapshot, Region


def test_a_day_produces_snapshots_csv_and_xlsx(demo_app, tmp_path):
    calendar = demo_app.extensions["work_calendar"]
    day = dt.date(2026, 11, 19)
    assert exports.produce_day(db, calendar, day, tmp_path)
    with (tmp_path / "kpi_2026-11-19.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["date", "region_code", "region_name", "level", *KPI_KEYS]
    with db.session() as session:
        regions = session.scalar(select(func.count()).select_from(Region).where(Region.level != "compound"))
        snapshots = session.scalar(select(func.count()).select_from(KpiSnapshot).where(KpiSnapshot.day == day))
        district = session.get(KpiSnapshot, (day, "510107"))
    assert len(rows) - 1 == regions == snapshots
    assert rows[1][:4] == ["2026-11-19", "510107", "武侯区", "district"] and int(rows[1][4]) == district.received
    sheets = pd.read_excel(tmp_path / "kpi_2026-11-19.xlsx", sheet_name=None)
    assert list(sheets) == ["summary", "streets", "communities", "categories", "overdue", "alerts"]  # issue 19
    assert sheets["categories"]["received"].sum() == district.received
    overdue_text = sheets["overdue"].to_string()
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", overdue_text)
    png = tmp_path / "kpi_2026-11-19.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # An empty rate is an empty cell: a community with nothing resolved that day has "" there.
    assert all(cell == "" or 0 <= float(cell) <= 1 for row in rows[1:] for cell in (row[7], row[12]))


def test_producing_a_day_again_gives_the_same_content(demo_app, tmp_path):
    calendar = demo_app.extensions["work_calendar"]
    day = dt.date(2026, 11, 18)
    exports.produce_day(db, calendar, day, tmp_path)
    first = (tmp_path / "kpi_2026-11-18.csv").read_bytes()
    assert not exports.produce_day(db, calendar, day, tmp_path)  # already produced: not twice
    assert exports.produce_day(db, calendar, day, tmp_path, force=True)
    assert (tmp_path / "kpi_2026-11-18.csv").read_bytes() == first


def test_three_midnights_of_downtime_give_three_exports_on_restart(demo_app, tmp_path):
    calendar = demo_app.extensions["work_calendar"]
    shanghai = calendar.timezone
    exports.catch_up(db, calendar, tmp_path, now=dt.datetime(2026, 11, 17, 9, 0, tzinfo=shanghai))
    # Stopped on the 17th; started again on the morning of the 20th: the 17th, 18th and 19th are missing.
    produced = exports.catch_up(db, calendar, tmp_path, now=dt.datetime(2026, 11, 20, 8, 0, tzinfo=shanghai))
    assert produced == [dt.date(2026, 11, 17), dt.date(2026, 11, 18), dt.date(2026, 11, 19)]
    assert sorted(p.name for p in tmp_path.glob("kpi_*.csv")) == [f"kpi_2026-11-{d}.csv" for d in (16, 17, 18, 19)]
    assert exports.catch_up(db, calendar, tmp_path, now=dt.datetime(2026, 11, 20, 9, 0, tzinfo=shanghai)) == []


def test_two_processes_never_produce_the_same_day(demo_app, tmp_path):
    calendar = demo_app.extensions["work_calendar"]
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def run():
        barrier.wait()
        results.append(exports.produce_day(db, calendar, dt.date(2026, 11, 16), tmp_path))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(DailyExport)) == 1
