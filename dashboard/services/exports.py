"""Daily KPI exports: one set per local day, produced once, caught up after downtime.

A day is claimed by inserting its row in daily_exports (the primary key makes the claim
exclusive across processes); the snapshot rows and the files are then written, and the row
is marked finished. Producing a day again (`python app.py export --date`) rewrites the same
content: snapshots are replaced and the files regenerated from the same data.

Every CSV and XLSX cell the service writes goes through domain.cells (formula-like text is made
inert; numbers stay numbers): here for the daily files, and through csv_bytes and write_xlsx for
the console's downloads (web.downloads).

A day asked for before it has ended is exported as of that moment (domain.overdue.state_moment):
its rows carry an `as_of` column, its daily_exports row says when, and the nightly job produces
the day again once it has ended.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from dashboard.domain import clock
from dashboard.domain.cells import neutralise_cell, xlsx_cell
from dashboard.domain.kpi import KPI_KEYS
from dashboard.domain.localday import LocalDay, local_date
from dashboard.domain.overdue import state_moment
from dashboard.domain.vocab import Category, RegionLevel
from dashboard.domain.workcal import WorkCalendar
from dashboard.queries.alerts import day_frame as alerts_of_day
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


def inert_frame(frame: pd.DataFrame, cell: Callable[[Any], Any] = neutralise_cell) -> pd.DataFrame:
    """A copy of frame whose column names and text cells went through cell (domain.cells).

    Numeric, boolean and date columns are kept as they are; any other column (object, string,
    categorical) is passed cell by cell, and cell itself leaves whatever is not text unchanged.
    """
    columns = {}
    for position, dtype in enumerate(frame.dtypes):
        column = frame.iloc[:, position]
        kept = any(
            check(dtype)
            for check in (
                pd.api.types.is_numeric_dtype,
                pd.api.types.is_datetime64_any_dtype,
                pd.api.types.is_timedelta64_dtype,
            )
        )
        columns[position] = column if kept else column.map(cell)
    inert = pd.DataFrame(columns, index=frame.index)
    inert.columns = [cell(name) for name in frame.columns]
    return inert


def csv_bytes(frame: pd.DataFrame, encoding: str = "utf-8") -> bytes:
    """frame as CSV (a header row, no index), every text cell inert, fields quoted as RFC 4180 says.

    Lines end in CRLF: csv quotes a field holding a line break only when the break is one of the
    line terminator's characters (before Python 3.12), and an unquoted CR inside a description
    would start a new row whose first cell no quote protects.
    """
    table = inert_frame(frame).to_csv(index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    return table.encode(encoding)


def write_xlsx(target: Path | io.BytesIO, sheets: dict[str, pd.DataFrame]) -> None:
    """A workbook of one sheet per frame (a header row, no index), every text cell inert.

    openpyxl stores a str as a formula only when it starts with "="; no cell does once through
    domain.cells.xlsx_cell, so every text cell is stored as text.
    """
    with pd.ExcelWriter(target, engine="openpyxl") as excel:
        for name, frame in sheets.items():
            inert_frame(frame, xlsx_cell).to_excel(excel, sheet_name=name, index=False)


def write_files(
    frame: pd.DataFrame,
    day: dt.date,
    folder: Path,
    categories: pd.DataFrame,
    overdue: pd.DataFrame,
    alerts: pd.DataFrame | None = None,
) -> list[str]:
    """The day's CSV, XLSX and PNG (and, given the day's alerts, their CSV and sheet); an empty rate is an
    empty cell, text cells inert. Returns the file names."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"kpi_{day.isoformat()}.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")  # RFC 4180
        writer.writerow([neutralise_cell(name) for name in frame.columns])
        for row in frame.itertuples(index=False):
            writer.writerow(["" if value is None or value != value else neutralise_cell(value) for value in row])
    xlsx_path = folder / f"kpi_{day.isoformat()}.xlsx"
    level = frame["level"]
    write_xlsx(
        xlsx_path,
        {
            "summary": frame[level == RegionLevel.DISTRICT.value],
            "streets": frame[level == RegionLevel.STREET.value],
            "communities": frame[level == RegionLevel.COMMUNITY.value],
            "categories": categories,
            "overdue": overdue,
            **({"alerts": alerts} if alerts is not None else {}),
        },
    )
    files = [csv_path.name, xlsx_path.name]
    if alerts is not None:  # issue 19: the alerts raised that local day
        alerts_path = folder / f"alerts_{day.isoformat()}.csv"
        alerts_path.write_bytes(csv_bytes(alerts))
        files.append(alerts_path.name)
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
            overdue = overdue_appeals(session, district.iloc[0], moment, "zh", calendar.timezone)
    with database.session() as session:
        alerts = alerts_of_day(session, day, calendar)
    files = write_files(frame, day, folder, categories, overdue, alerts)
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
