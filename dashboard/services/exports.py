"""Daily KPI exports: one set per local day, produced once, caught up after downtime.

A day is claimed by inserting its row in daily_exports (the primary key makes the claim
exclusive across processes); the snapshot rows and the files are then written, and the row
is marked finished. Producing a day again (`python app.py export --date`) rewrites the same
content: snapshots are replaced and the files regenerated from the same data.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import os
import socket
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from dashboard.domain.kpi import KPI_KEYS
from dashboard.domain.vocab import Category, RegionLevel
from dashboard.domain.workcal import WorkCalendar
from dashboard.queries.wall import LocalDay, child_region_kpis, overdue_appeals, region_kpis
from dashboard.store.database import Database
from dashboard.store.models import DailyExport, KpiSnapshot, Region
from dashboard.ui.figures import export_figure

log = logging.getLogger(__name__)
EXPORT_LEVELS = (RegionLevel.DISTRICT, RegionLevel.STREET, RegionLevel.COMMUNITY)
CSV_COLUMNS = ("date", "region_code", "region_name", "level", *KPI_KEYS)


def holder_name() -> str:
    """Who is producing: host and process id, for operators reading daily_exports."""
    return f"{socket.gethostname()}:{os.getpid()}"


def day_bounds(day: dt.date, calendar: WorkCalendar) -> tuple[dt.datetime, dt.datetime]:
    """A local day as a half-open UTC interval."""
    local = LocalDay.of(dt.datetime.combine(day, dt.time(12), calendar.timezone), calendar)
    return local.start, local.end


def compute_day(database: Database, calendar: WorkCalendar, day: dt.date) -> pd.DataFrame:
    """The §5 KPIs of every district, street and community for one local day."""
    start, end = day_bounds(day, calendar)
    rows = []
    with database.session() as session:
        regions = session.execute(
            select(Region.code, Region.name, Region.level).where(Region.level.in_(EXPORT_LEVELS)).order_by(Region.code)
        ).all()
        # From the stored counters: each district, then each district's and street's children in one pass.
        kpis_by_code: dict[str, dict] = {}
        for region in regions:
            if region.level == RegionLevel.DISTRICT:
                kpis_by_code[region.code] = region_kpis(session, region.code, start, end, calendar)
            if region.level in (RegionLevel.DISTRICT, RegionLevel.STREET):
                kpis_by_code.update(child_region_kpis(session, region.code, start, end, calendar))
        for region in regions:
            kpis = kpis_by_code.get(region.code) or region_kpis(session, region.code, start, end, calendar)
            rows.append(
                {
                    "date": day.isoformat(),
                    "region_code": region.code,
                    "region_name": region.name,
                    "level": region.level.value,
                }
                | kpis
            )
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS))


def category_kpis(database: Database, calendar: WorkCalendar, day: dt.date, district: str) -> pd.DataFrame:
    """The district's KPIs of one day, per category."""
    start, end = day_bounds(day, calendar)
    with database.session() as session:
        rows = [{"category": c.value} | region_kpis(session, district, start, end, calendar, c) for c in Category]
    return pd.DataFrame(rows, columns=["category", *KPI_KEYS])


def write_files(
    frame: pd.DataFrame, day: dt.date, folder: Path, categories: pd.DataFrame, overdue: pd.DataFrame
) -> list[str]:
    """The day's CSV, XLSX and PNG; an empty rate is an empty cell. Returns the file names."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"kpi_{day.isoformat()}.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for row in frame.itertuples(index=False):
            writer.writerow(["" if value is None or value != value else value for value in row])
    xlsx_path = folder / f"kpi_{day.isoformat()}.xlsx"
    with pd.ExcelWriter(xlsx_path, engine="openpyxl") as excel:
        frame[frame["level"] == RegionLevel.DISTRICT.value].to_excel(excel, sheet_name="summary", index=False)
        frame[frame["level"] == RegionLevel.STREET.value].to_excel(excel, sheet_name="streets", index=False)
        frame[frame["level"] == RegionLevel.COMMUNITY.value].to_excel(excel, sheet_name="communities", index=False)
        categories.to_excel(excel, sheet_name="categories", index=False)
        overdue.to_excel(excel, sheet_name="overdue", index=False)
    files = [csv_path.name, xlsx_path.name]
    png_path = folder / f"kpi_{day.isoformat()}.png"
    try:
        export_figure(frame, day.isoformat()).write_image(png_path, width=1600, height=900)
        files.append(png_path.name)
    except Exception:  # no browser for kaleido on this machine: CSV and XLSX still stand
        log.exception("KPI export for %s: the PNG could not be rendered", day)
    return files


def produce_day(database: Database, calendar: WorkCalendar, day: dt.date, folder: Path, force: bool = False) -> bool:
    """Produce one day's snapshots and files; False when another run has it (unless force)."""
    with database.session() as session:
        try:
            with session.begin():
                if force:
                    session.execute(delete(DailyExport).where(DailyExport.day == day))
                session.add(DailyExport(day=day, holder=holder_name()))
        except IntegrityError:
            return False  # claimed by another process (or produced already)
    frame = compute_day(database, calendar, day)
    district = frame.loc[frame["level"] == RegionLevel.DISTRICT.value, "region_code"]
    if district.empty:
        categories = pd.DataFrame(columns=["category", *KPI_KEYS])
        overdue = pd.DataFrame()
    else:
        categories = category_kpis(database, calendar, day, district.iloc[0])
        with database.session() as session:
            overdue = overdue_appeals(session, district.iloc[0], day_bounds(day, calendar)[1], "zh")
    files = write_files(frame, day, folder, categories, overdue)
    with database.transaction() as session:
        session.execute(delete(KpiSnapshot).where(KpiSnapshot.day == day))
        session.add_all(
            KpiSnapshot(
                day=day,
                region_code=row["region_code"],
                **{key: (None if pd.isna(row[key]) else row[key]) for key in KPI_KEYS},
            )
            for row in frame.to_dict("records")
        )
        claim = session.get(DailyExport, day)
        claim.finished_at = dt.datetime.now(dt.UTC)
        claim.files = files
    log.info("KPI export for %s: %d regions, %s", day, len(frame), ", ".join(files))
    return True


def missing_days(database: Database, calendar: WorkCalendar, today: dt.date) -> list[dt.date]:
    """Days up to yesterday with no export, from the day after the last one (or just yesterday)."""
    with database.session() as session:
        last = session.scalar(select(func.max(DailyExport.day)))
        done = set(session.scalars(select(DailyExport.day).where(DailyExport.day >= (last or today))))
    first = (last + dt.timedelta(days=1)) if last else today - dt.timedelta(days=1)
    days = []
    day = first
    while day < today:
        if day not in done:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def catch_up(database: Database, calendar: WorkCalendar, folder: Path, now: dt.datetime | None = None) -> list[dt.date]:
    """Produce every missing day up to yesterday (after downtime, several); returns those produced here."""
    today = (now or dt.datetime.now(dt.UTC)).astimezone(calendar.timezone).date()
    return [day for day in missing_days(database, calendar, today) if produce_day(database, calendar, day, folder)]
