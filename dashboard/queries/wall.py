"""What the wall shows, read from the database: aggregates and masked text only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd
from flask import current_app
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from dashboard.domain import clock
from dashboard.domain.localday import LocalDay, local_date_sql
from dashboard.domain.overdue import overdue_now_sql
from dashboard.domain.pii import public_text
from dashboard.domain.regions import within
from dashboard.domain.vocab import (
    AppealStatus,
    Category,
    Channel,
    HouseholdType,
    LivelihoodGroup,
    Priority,
    RegionLevel,
    VisitItemStatus,
    VisitListKind,
)
from dashboard.domain.workcal import WorkCalendar
from dashboard.queries import kpis
from dashboard.queries.cache import TTLCache
from dashboard.store.database import db
from dashboard.store.models import Appeal, Business, Region, Resident, ResidentGroup, VisitItem
from dashboard.ui.i18n import label, localized

_population_cache = TTLCache(seconds=300)


def population_changed(session: Session) -> None:
    """Forget cached population counts once this session's transaction commits."""
    session.info["population_changed"] = True


def install(database) -> None:
    """Forget cached population counts when a session of this database that changed them commits."""
    if not event.contains(database.sessions, "after_commit", _forget_population_after_commit):
        event.listen(database.sessions, "after_commit", _forget_population_after_commit)


def _forget_population_after_commit(session: Session) -> None:
    if session.info.pop("population_changed", False):
        _population_cache.clear()


def population(session: Session, region_code: str) -> dict:
    """Residents by household type, the 11 livelihood groups, and businesses (cached five minutes)."""
    key = (str(session.get_bind().url), region_code)
    return _population_cache.get(key, lambda: _count_population(session, region_code))


def _count_population(session: Session, region_code: str) -> dict:
    by_type = dict(
        session.execute(
            select(Resident.household_type, func.count())
            .where(within(Resident.region_code, region_code))
            .group_by(Resident.household_type)
        ).all()
    )
    by_group = dict(
        session.execute(
            select(ResidentGroup.group_code, func.count())
            .join(Resident, Resident.id == ResidentGroup.resident_id)
            .where(within(Resident.region_code, region_code))
            .group_by(ResidentGroup.group_code)
        ).all()
    )
    businesses = session.scalar(
        select(func.count()).select_from(Business).where(within(Business.region_code, region_code))
    )
    households = {t.value: int(by_type.get(t, 0)) for t in HouseholdType}
    return {
        "residents": sum(households.values()),
        "households": households,
        "groups": {g.value: int(by_group.get(g, 0)) for g in LivelihoodGroup},
        "businesses": int(businesses or 0),
    }


def _kind_labels(row, lang: str) -> dict:
    """An appeal's category and priority as the wall's rows show them (the priority's code styles the row)."""
    return {
        "category": label(Category(row.category), lang),
        "priority": Priority(row.priority).value,
        "priority_label": label(Priority(row.priority), lang),
    }


def recent_appeals(session: Session, region_code: str, lang: str, limit: int = 10) -> list[dict]:
    """The newest appeals, masked for a public screen: no names, phones or ID numbers."""
    rows = session.execute(
        select(
            Appeal.id,
            Appeal.reported_at,
            Appeal.category,
            Appeal.priority,
            Appeal.source,
            Appeal.status,
            Appeal.description,
            Region.name,
        )
        .join(Region, Region.code == Appeal.region_code)
        .where(within(Appeal.region_code, region_code))
        .order_by(Appeal.reported_at.desc(), Appeal.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": row.id,
            "time": row.reported_at.isoformat(),
            **_kind_labels(row, lang),
            "channel": label(Channel(row.source), lang),
            "status": label(AppealStatus(row.status), lang),
            "place": row.name,
            "text": public_text(row.description),
        }
        for row in rows
    ]


def _volume_between(session, region_code, start, end, calendar) -> dict[str, list[int]]:
    counts: dict[str, list[int]] = {}
    for position, column in enumerate((Appeal.reported_at, Appeal.resolved_at)):
        day = local_date_sql(column, session.get_bind().dialect.name, calendar.timezone)
        rows = session.execute(
            select(day, func.count())
            .where(within(Appeal.region_code, region_code), column >= start, column < end)
            .group_by(day)
        )
        for value, count in rows:
            counts.setdefault(str(value), [0, 0])[position] = count
    return counts


_past_volume_cache = TTLCache(seconds=600)


def daily_volume(
    session: Session, region_code: str, now: dt.datetime, calendar: WorkCalendar, days: int = 30
) -> pd.DataFrame:
    """Appeals received and resolved per local day over the last `days` days (today included).

    Finished days are counted once every ten minutes (they hardly change); today is live.
    """
    first = LocalDay.of(now - dt.timedelta(days=days - 1), calendar)
    today = LocalDay.of(now, calendar)
    key = (str(session.get_bind().url), region_code, first.day, today.day)
    past = _past_volume_cache.get(
        key, lambda: _volume_between(session, region_code, first.start, today.start, calendar)
    )
    counts = {**past, **_volume_between(session, region_code, today.start, now + dt.timedelta(seconds=1), calendar)}
    index = pd.date_range(first.day, periods=days, freq="D").date
    return pd.DataFrame(
        {
            "day": index,
            "received": [counts.get(d.isoformat(), [0, 0])[0] for d in index],
            "resolved": [counts.get(d.isoformat(), [0, 0])[1] for d in index],
        }
    )


def region_name(session: Session, region_code: str, lang: str) -> str:
    """The region's name in lang (Chinese unless English is asked for and known), or its code."""
    region = session.get(Region, region_code)
    if region is None:
        return region_code
    return localized(region.name, region.name_en, lang)


def sla_board(session: Session, region_code: str, lang: str, limit: int = 8) -> list[dict]:
    """Open appeals nearest their deadline (overdue first): what the SLA board counts down."""
    rows = session.execute(
        select(Appeal.id, Appeal.deadline_at, Appeal.category, Appeal.priority, Appeal.status, Region.name)
        .join(Region, Region.code == Appeal.region_code)
        .where(Appeal.is_open, within(Appeal.region_code, region_code))
        .order_by(Appeal.deadline_at, Appeal.id)
        .limit(limit)
    ).all()
    return [
        {
            "id": row.id,
            "deadline": row.deadline_at.isoformat(),
            **_kind_labels(row, lang),
            "status": label(AppealStatus(row.status), lang),
            "place": row.name,
        }
        for row in rows
    ]


def today_kpis(session: Session, region_code: str, now: dt.datetime, calendar: WorkCalendar) -> dict:
    """The §5 KPIs of today so far (local day start → now) for a region, states as of now."""
    return kpis.region_kpis(session, region_code, LocalDay.of(now, calendar).start, now, calendar, now=now)


def today_child_kpis(session: Session, region_code: str, now: dt.datetime, calendar: WorkCalendar) -> dict[str, dict]:
    """Today's KPIs so far for each region one level below region_code (the map's streets)."""
    return kpis.child_region_kpis(session, region_code, LocalDay.of(now, calendar).start, now, calendar, now=now)


def community_load(session: Session, region_code: str, now: dt.datetime) -> pd.DataFrame:
    """Per community under the region: its shape, open appeals and overdue open appeals."""
    community = func.substr(Appeal.region_code, 1, 12)
    counts = {
        row.code: (row.open, row.overdue)
        for row in session.execute(
            select(
                community.label("code"),
                func.count().label("open"),
                func.count().filter(overdue_now_sql(Appeal.is_open, Appeal.deadline_at, now)).label("overdue"),
            )
            .where(Appeal.is_open, within(Appeal.region_code, region_code))
            .group_by(community)
        )
    }
    regions = session.execute(
        select(Region.code, Region.name, Region.name_en, Region.boundary, Region.center_lat, Region.center_lon).where(
            Region.level == RegionLevel.COMMUNITY, within(Region.code, region_code[:12])
        )
    ).all()
    return pd.DataFrame(
        [
            {
                "code": r.code,
                "name": r.name,
                "name_en": r.name_en or r.name,
                "boundary": r.boundary,
                "lat": r.center_lat,
                "lon": r.center_lon,
                "open": counts.get(r.code, (0, 0))[0],
                "overdue": counts.get(r.code, (0, 0))[1],
            }
            for r in regions
        ],
        columns=["code", "name", "name_en", "boundary", "lat", "lon", "open", "overdue"],
    )


def visit_lists(session: Session, region_code: str) -> dict[str, dict[str, int]]:
    """The three teams' lists (difficulties, service needs, risks) by status, within a region."""
    counts = {kind.value: {status.value: 0 for status in VisitItemStatus} for kind in VisitListKind}
    rows = session.execute(
        select(VisitItem.list_kind, VisitItem.status, func.count())
        .where(within(VisitItem.region_code, region_code))
        .group_by(VisitItem.list_kind, VisitItem.status)
    )
    for kind, status, count in rows:
        counts[getattr(kind, "value", kind)][getattr(status, "value", status)] = count
    return counts


TICKER_LENGTH = 5
SLA_LENGTH = 6


@dataclass(frozen=True)
class WallView:
    """Everything the wall shows for a region at one instant, and what the page needs to draw it."""

    region_code: str
    lang: str
    token: str
    now: dt.datetime
    timezone: ZoneInfo  # the working calendar's zone: the clock and "data as of"
    timezone_name: str  # the configured zone, for the browser's clock
    targets: dict  # the KPI targets the tiles compare with
    reload_after_ms: int  # the page reloads itself after this long
    region_name: str
    population: dict
    kpis: dict
    recent: list[dict]
    sla: list[dict]
    volume: pd.DataFrame
    load: pd.DataFrame
    visits: dict


def database_key() -> str:
    """Which database this app reads (a cache key part: two apps in one process share no results)."""
    return str(db.engine.url)


def read(region_code: str, lang: str, token: str = "", now: dt.datetime | None = None) -> WallView:
    """Everything the wall shows for a region, read in one session (region access checked by the caller)."""
    now = now or clock.utcnow()
    calendar = current_app.extensions["work_calendar"]
    with db.session() as session:
        return WallView(
            region_code=region_code,
            lang=lang,
            token=token,
            now=now,
            timezone=calendar.timezone,
            timezone_name=current_app.config["TIMEZONE"],
            targets=current_app.extensions["kpi_targets"],
            reload_after_ms=round(current_app.config["WALL_RELOAD_HOURS"] * 3_600_000),
            region_name=region_name(session, region_code, lang),
            population=population(session, region_code),
            kpis=today_kpis(session, region_code, now, calendar),
            recent=recent_appeals(session, region_code, lang, TICKER_LENGTH),
            sla=sla_board(session, region_code, lang, SLA_LENGTH),
            volume=daily_volume(session, region_code, now, calendar),
            load=community_load(session, region_code, now),
            visits=visit_lists(session, region_code),
        )
