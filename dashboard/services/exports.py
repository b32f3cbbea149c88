"""Daily KPI exports: one set per local day, produced once, caught up after downtime.

A day is claimed by inserting its row in daily_exports (the primary key makes the claim
exclusive across processes); the snapshot rows and the files are then written, and the row
is marked finished. Producing a day again (`python app.py export --date`) rewrites the same
content: snapshots are replaced and the files regenerated from the same data.

A day asked for before it has ended is exported as of that moment (domain.overdue.state_moment):
its rows carry an `as_of` column, its daily_exports row says when, and the nightly job produces
the day again once it has ended.
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

from dashboard.domain import clock
from dashboard.domain.kpi import KPI_KEYS
from dashboard.domain.localday import LocalDay, local_date
from dashboard.domain.overdue import state_moment
from dashboard.domain.vocab import Category, RegionLevel
from dashboard.domain.workcal import WorkCalendar
from dashboard.queries.kpis import child_region_kpis, overdue_appeals, region_kpis
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
    local = LocalDay.on(day, calendar)
    return local.start, local.end


def compute_day(
    database: Database, calendar: WorkCalendar, day: dt.date, now: dt.datetime | None = None
) -> pd.DataFrame:
    """The §5 KPIs of every district, street and community for one local day (as of now if it has not ended)."""
    start, end = day_bounds(day, calendar)
    now = now or clock.utcnow()
    rows = []
    with database.session() as session:
        regions = session.execute(
            select(Region.code, Region.name, Region.level).where(Region.level.in_(EXPORT_LEVELS)).order_by(Region.code)
        ).all()
        # From the stored counters: each district, then each district's and street's children in one pass.
        kpis_by_code: dict[str, dict] = {}
        for region in regions:
            if region.level == RegionLevel.DISTRICT:
                kpis_by_code[region.code] = region_kpis(session, region.code, start, end, calendar, now=now)
            if region.level in (RegionLevel.DISTRICT, RegionLevel.STREET):
                kpis_by_code.update(child_region_kpis(session, region.code, start, end, calendar, now=now))
        for region in regions:
            kpis = kpis_by_code.get(region.code) or region_kpis(session, region.code, start, end, calendar, now=now)
            rows.append(
                {
                    "date": day.isoformat(),
                    "region_code": region.code,
                    "region_name": region.name,
                    "level": region.level.value,
                }
                | kpis
            )
    frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    if now < end:  # a day not over: say when its states were read
        frame["as_of"] = state_moment(end, now).isoformat()
    return frame


def category_kpis(
    database: Database, calendar: WorkCalendar, day: dt.date, district: str, now: dt.datetime | None = None
) -> pd.DataFrame:
    """The district's KPIs of one day, per category (as of now if it has not ended)."""
    start, end = day_bounds(day, calendar)
    with database.session() as session:
        rows = [
            {"category": c.value} | region_kpis(session, district, start, end, calendar, c, now=now) for c in Category
        ]
    return pd.DataFrame(rows, columns=["category", *KPI_KEYS])


def write_files(
    frame: pd.DataFrame, day: dt.date, folder: Path, categories: pd.DataFrame, overdue: pd.DataFrame
) -> list[str]:
    """The day's CSV, XLSX and PNG; an empty rate is an empty cell. Returns the file names."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"kpi_{day.isoformat()}.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(frame.columns)
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


def produce_day(
    database: Database,
    calendar: WorkCalendar,
    day: dt.date,
    folder: Path,
    force: bool = False,
    now: dt.datetime | None = None,
) -> bool:
    """Produce one day's snapshots and files; False when another run has it (unless force).

    A day that has not ended yet is produced as of now, and marked so (DailyExport.as_of).
    """
    now = now or clock.utcnow()
    as_of = now if now < day_bounds(day, calendar)[1] else None
    with database.session() as session:
        try:
            with session.begin():
                if force:
                    session.execute(delete(DailyExport).where(DailyExport.day == day))
                elif as_of is None:  # a day exported before it ended is produced again once it has
                    session.execute(delete(DailyExport).where(DailyExport.day == day, DailyExport.as_of.is_not(None)))
                session.add(DailyExport(day=day, holder=holder_name()))
        except IntegrityError:
            return False  # claimed by another process (or produced already)
    frame = compute_day(database, calendar, day, now)
    district = frame.loc[frame["level"] == RegionLevel.DISTRICT.value, "region_code"]
    if district.empty:
        categories = pd.DataFrame(columns=["category", *KPI_KEYS])
        overdue = pd.DataFrame()
    else:
        categories = category_kpis(database, calendar, day, district.iloc[0], now)
        with database.session() as session:
            moment = state_moment(day_bounds(day, calendar)[1], now)
            overdue = overdue_appeals(session, district.iloc[0], moment, "zh")
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
        claim.as_of = as_of
    log.info("KPI export for %s: %d regions, %s", day, len(frame), ", ".join(files))
    return True


def missing_days(database: Database, calendar: WorkCalendar, today: dt.date) -> list[dt.date]:
    """Days up to yesterday with no export, from the day after the last one (or just yesterday),
    and days before today exported before they had ended (provisional: produced again)."""
    with database.session() as session:
        last = session.scalar(select(func.max(DailyExport.day)).where(DailyExport.as_of.is_(None)))
        done = set(
            session.scalars(
                select(DailyExport.day).where(DailyExport.day >= (last or today), DailyExport.as_of.is_(None))
            )
        )
        provisional = set(
            session.scalars(select(DailyExport.day).where(DailyExport.as_of.is_not(None), DailyExport.day < today))
        )
    first = (last + dt.timedelta(days=1)) if last else today - dt.timedelta(days=1)
    days = set(provisional)
    day = first
    while day < today:
        if day not in done:
            days.add(day)
        day += dt.timedelta(days=1)
    return sorted(days)


def catch_up(database: Database, calendar: WorkCalendar, folder: Path, now: dt.datetime | None = None) -> list[dt.date]:
    """Produce every missing day up to yesterday (after downtime, several); returns those produced here."""
    today = local_date(now or clock.utcnow(), calendar.timezone)
    return [day for day in missing_days(database, calendar, today) if produce_day(database, calendar, day, folder)]
