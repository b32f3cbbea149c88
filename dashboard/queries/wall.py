"""What the wall shows, read from the database: aggregates and masked text only."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely
import shapely.geometry
from flask import current_app
from sqlalchemy import and_, case, event, func, or_, select
from sqlalchemy.orm import Session

from dashboard.domain import clock
from dashboard.domain.escalation import SYSTEM_ACTOR, is_escalated
from dashboard.domain.lifecycle import LEVEL_DOWN
from dashboard.domain.localday import LocalDay, local_date_sql
from dashboard.domain.overdue import overdue_now_sql, overdue_sql
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
    TransitionAction,
    VisitItemStatus,
    VisitListKind,
)
from dashboard.domain.workcal import WorkCalendar
from dashboard.queries import kpis
from dashboard.queries.cache import TTLCache
from dashboard.queries.regions import change_count, on_change, region_version
from dashboard.store.database import db
from dashboard.store.models import (
    Appeal,
    Business,
    PopulationAggregate,
    Region,
    Resident,
    ResidentGroup,
    Transition,
    VisitItem,
)
from dashboard.ui.i18n import label, localized, romanized, t
from dashboard.ui.timeleft import SOON_SECONDS

_population_cache = TTLCache(seconds=300)


def population_changed(session: Session) -> None:
    """Forget cached population counts once this session's transaction commits."""
    session.info["population_changed"] = True


def install(database) -> None:
    """Forget cached population counts when a session of this database that changed them commits."""
    if not event.contains(database.sessions, "after_commit", _forget_population_after_commit):
        event.listen(database.sessions, "after_commit", _forget_population_after_commit)
    on_change(database, _forget_map_shapes)  # a region import in this process: the maps' shapes afresh


def _forget_population_after_commit(session: Session) -> None:
    if session.info.pop("population_changed", False):
        _population_cache.clear()


def population(session: Session, region_code: str) -> dict:
    """Residents by household type, the 11 livelihood groups, and businesses (cached five minutes).

    A compound's people are counted from its resident records where it has any, else from its
    latest population aggregate (an imported count as of a date). "source" says which: its
    "kind" is "records", "aggregates", "mixed" or "none"; "aggregate_compounds" how many
    compounds were counted by aggregate, "record_regions" how many regions by records, and
    "as_of_oldest"/"as_of_newest" the dates of the aggregates used. "from_aggregates" holds the
    part of each number that came from aggregates (the rest came from records). Businesses are
    always counted from their records.
    """
    key = (str(session.get_bind().url), region_code)
    return _population_cache.get(key, lambda: _count_population(session, region_code))


def _count_population(session: Session, region_code: str) -> dict:
    by_type: dict[str, int] = {}
    recorded: set[str] = set()  # regions with resident records
    for code, household_type, count in session.execute(
        select(Resident.region_code, Resident.household_type, func.count())
        .where(within(Resident.region_code, region_code))
        .group_by(Resident.region_code, Resident.household_type)
    ):
        kind = getattr(household_type, "value", household_type)
        by_type[kind] = by_type.get(kind, 0) + count
        recorded.add(code)
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
    households = {t.value: int(by_type.get(t.value, 0)) for t in HouseholdType}
    groups = {g.value: int(by_group.get(g, 0)) for g in LivelihoodGroup}
    aggregated = _latest_aggregates(session, region_code, recorded)
    for kind in households:
        households[kind] += aggregated["households"][kind]
    for group in groups:
        groups[group] += aggregated["groups"][group]
    dates = aggregated.pop("dates")
    source = {
        "kind": ("mixed" if recorded else "aggregates") if dates else ("records" if recorded else "none"),
        "record_regions": len(recorded),
        "aggregate_compounds": len(dates),
        "as_of_oldest": min(dates, default=None),
        "as_of_newest": max(dates, default=None),
    }
    return {
        "residents": sum(by_type.values()) + aggregated["residents"],
        "households": households,
        "groups": groups,
        "businesses": int(businesses or 0),
        "source": source,
        "from_aggregates": aggregated,
    }


def _latest_aggregates(session: Session, region_code: str, recorded: set[str]) -> dict:
    """The sum of each compound's latest population aggregate within a region, leaving out the
    compounds that have resident records; with the as-of date of each aggregate used."""
    latest = (
        select(PopulationAggregate.region_code, func.max(PopulationAggregate.as_of).label("as_of"))
        .where(within(PopulationAggregate.region_code, region_code))
        .group_by(PopulationAggregate.region_code)
        .subquery()
    )
    rows = session.execute(
        select(
            PopulationAggregate.region_code,
            PopulationAggregate.as_of,
            PopulationAggregate.residents,
            PopulationAggregate.household_types,
            PopulationAggregate.groups,
        ).join(
            latest,
            (PopulationAggregate.region_code == latest.c.region_code) & (PopulationAggregate.as_of == latest.c.as_of),
        )
    )
    total = {
        "residents": 0,
        "households": dict.fromkeys((t.value for t in HouseholdType), 0),
        "groups": dict.fromkeys((g.value for g in LivelihoodGroup), 0),
        "dates": [],
    }
    for code, as_of, residents, household_types, groups in rows:
        if code in recorded:
            continue  # the compound's own records count
        total["residents"] += residents
        for kind, count in (household_types or {}).items():
            if kind in total["households"]:
                total["households"][kind] += int(count)
        for group, count in (groups or {}).items():
            if group in total["groups"]:
                total["groups"][group] += int(count)
        total["dates"].append(as_of)
    return total


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
            Region.name_en,
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
            "place": localized(row.name, row.name_en, lang),
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


BOARD_LIMIT = 120  # rows the deadline board pages through; its totals count all of them


def due_soon_sql(is_open, deadline_at, at: dt.datetime):
    """Due within two hours at `at` (ui.timeleft's "soon": 0 <= seconds left <= SOON_SECONDS), as SQL."""
    return and_(is_open, deadline_at >= at, deadline_at <= at + dt.timedelta(seconds=SOON_SECONDS))


BOARD_TIERS = ("overdue_extra_urgent", "overdue_urgent", "due_soon", "overdue_ordinary")


def _board_tier(now: dt.datetime):
    """Which of the board's four groups an open appeal is in (0–3, BOARD_TIERS), or 4: not on the board."""
    overdue = overdue_now_sql(Appeal.is_open, Appeal.deadline_at, now)
    return case(
        (and_(overdue, Appeal.priority == Priority.EXTRA_URGENT), 0),
        (and_(overdue, Appeal.priority == Priority.URGENT), 1),
        (due_soon_sql(Appeal.is_open, Appeal.deadline_at, now), 2),
        (overdue, 3),
        else_=4,
    )


def sla_board(
    session: Session, region_code: str, lang: str, limit: int = BOARD_LIMIT, now: dt.datetime | None = None
) -> list[dict]:
    """The deadline board (时限预警), ranked by risk: overdue extra-urgent appeals, overdue urgent ones
    (each longest overdue first), those due within two hours whatever their priority (least time left
    first), then overdue ordinary ones (most recently overdue first). Open appeals due later are not on it.

    Overdue is domain.overdue's rule at now; "due within two hours" is ui.timeleft's "soon". Each row
    carries its marks (issue 16): how often it was urged (督办) and whether it is handled above its home
    level (escalated, by a person or a rule), with that level.
    """
    now = now or clock.utcnow()
    tier = _board_tier(now).label("tier")
    rows = session.execute(
        select(
            Appeal.id,
            Appeal.deadline_at,
            Appeal.category,
            Appeal.priority,
            Appeal.status,
            Appeal.region_code,
            Appeal.level,
            Appeal.urge_count,
            Region.name,
            Region.name_en,
            tier,
        )
        .join(Region, Region.code == Appeal.region_code)
        .where(
            Appeal.is_open,
            within(Appeal.region_code, region_code),
            Appeal.deadline_at <= now + dt.timedelta(seconds=SOON_SECONDS),
        )
        .order_by(
            tier,
            case((tier < 3, Appeal.deadline_at)).asc(),  # the first three: the earliest deadline first
            case((tier == 3, Appeal.deadline_at)).desc(),  # overdue ordinary: the latest deadline first
            Appeal.id,
        )
        .limit(limit)
    ).all()
    return [
        {
            "id": row.id,
            "deadline": row.deadline_at.isoformat(),
            "tier": int(row.tier),
            **_kind_labels(row, lang),
            "status": label(AppealStatus(row.status), lang),
            "place": localized(row.name, row.name_en, lang),
            "level": RegionLevel(row.level).value,
            "urge_count": row.urge_count or 0,
            "escalated": is_escalated(row.level, row.region_code),
        }
        for row in rows
    ]


def _state_counts(session: Session, region_code: str, at: dt.datetime, now: dt.datetime) -> dict[str, int]:
    """Open appeals, overdue ones and those due within two hours, as they stood at `at` (now or earlier).

    At now: the open flag (domain.overdue.overdue_now_sql). Earlier: domain.overdue.overdue_sql over
    reported_at/resolved_at/deadline_at, an appeal open then when reported before and not resolved by then.
    """
    if at >= now:
        is_open = Appeal.is_open
        overdue = overdue_now_sql(Appeal.is_open, Appeal.deadline_at, at)
    else:
        is_open = and_(Appeal.reported_at < at, or_(Appeal.resolved_at.is_(None), Appeal.resolved_at >= at))
        overdue = overdue_sql(Appeal.reported_at, Appeal.resolved_at, Appeal.deadline_at, at)
    row = session.execute(
        select(
            func.count().label("open"),
            func.count().filter(overdue).label("overdue"),
            func.count().filter(due_soon_sql(is_open, Appeal.deadline_at, at)).label("due_soon"),
        ).where(is_open, within(Appeal.region_code, region_code))
    ).one()
    return {"open": int(row.open), "overdue": int(row.overdue), "due_soon": int(row.due_soon)}


def board_totals(session: Session, region_code: str, now: dt.datetime) -> dict[str, int]:
    """The deadline board's totals (超期 N · 2小时内到期 M): every overdue open appeal and every one due
    within two hours in the region, counted in the database (not only the rows the board holds)."""
    counts = _state_counts(session, region_code, now, now)
    return {"overdue": counts["overdue"], "due_soon": counts["due_soon"]}


HEADLINE = ("open", "overdue", "due_soon", "received", "resolved")
HEADLINE_COMPARISON = "same_time_yesterday"  # each headline number against yesterday at this time of day


def headline(session: Session, region_code: str, now: dt.datetime, calendar: WorkCalendar, today: dict) -> dict:
    """The wall's headline: 在办 / 超期 / 2小时内到期 / 今日受理 / 今日办结, each now and yesterday at the
    same time of day (states as they stood 24 hours ago; received and resolved from yesterday's local
    midnight to 24 hours ago). today: today's KPIs (today_kpis), whose received/resolved it shows.
    """
    then = now - dt.timedelta(days=1)
    current = _state_counts(session, region_code, now, now)
    before = _state_counts(session, region_code, then, now)
    yesterday = kpis.region_kpis(session, region_code, LocalDay.of(then, calendar).start, then, calendar, now=then)
    current |= {"received": int(today.get("received") or 0), "resolved": int(today.get("resolved") or 0)}
    before |= {"received": int(yesterday.get("received") or 0), "resolved": int(yesterday.get("resolved") or 0)}
    return {key: {"value": current[key], "yesterday": before[key]} for key in HEADLINE}


def escalation_words(from_level: str, to_level: str, lang: str) -> str:
    """An automatic escalation as the ticker says it ("自动升级 社区→街道")."""
    return t(
        "escalation.ticker",
        lang,
        from_level=label(RegionLevel(from_level), lang),
        to_level=label(RegionLevel(to_level), lang),
    )


def recent_escalations(session: Session, region_code: str, lang: str, limit: int = 10) -> list[dict]:
    """The newest automatic escalations (domain.escalation's rules) as ticker rows, newest first."""
    rows = session.execute(
        select(
            Transition.appeal_id,
            Transition.seq,
            Transition.at,
            Transition.level,
            Appeal.category,
            Appeal.priority,
            Region.name,
            Region.name_en,
        )
        .join(Appeal, Appeal.id == Transition.appeal_id)
        .join(Region, Region.code == Appeal.region_code)
        .where(
            Transition.action == TransitionAction.ESCALATE,
            Transition.actor == SYSTEM_ACTOR,
            within(Appeal.region_code, region_code),
        )
        .order_by(Transition.at.desc(), Transition.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": f"escalation-{row.appeal_id}-{row.seq}",
            "kind": "escalation",
            "time": row.at.isoformat(),
            **_kind_labels(row, lang),
            "place": localized(row.name, row.name_en, lang),
            # The step's level is the one it went to: it came from the one below.
            "text": escalation_words(LEVEL_DOWN[RegionLevel(row.level)].value, RegionLevel(row.level).value, lang),
        }
        for row in rows
        if RegionLevel(row.level) in LEVEL_DOWN
    ]


def ticker(session: Session, region_code: str, lang: str, limit: int) -> list[dict]:
    """The ticker: the newest appeals and automatic escalations together, newest first."""
    items = recent_appeals(session, region_code, lang, limit) + recent_escalations(session, region_code, lang, limit)
    return sorted(items, key=lambda item: dt.datetime.fromisoformat(item["time"]), reverse=True)[:limit]


def today_kpis(session: Session, region_code: str, now: dt.datetime, calendar: WorkCalendar) -> dict:
    """The §5 KPIs of today so far (local day start → now) for a region, states as of now."""
    return kpis.region_kpis(session, region_code, LocalDay.of(now, calendar).start, now, calendar, now=now)


def today_child_kpis(session: Session, region_code: str, now: dt.datetime, calendar: WorkCalendar) -> dict[str, dict]:
    """Today's KPIs so far for each region one level below region_code (the map's streets)."""
    return kpis.child_region_kpis(session, region_code, LocalDay.of(now, calendar).start, now, calendar, now=now)


def _open_load(session: Session, region_code: str, length: int, now: dt.datetime) -> dict[str, tuple[int, int]]:
    """Open appeals and overdue open appeals under region_code, per region code cut to length."""
    part = func.substr(Appeal.region_code, 1, length)
    return {
        row.code: (row.open, row.overdue)
        for row in session.execute(
            select(
                part.label("code"),
                func.count().label("open"),
                func.count().filter(overdue_now_sql(Appeal.is_open, Appeal.deadline_at, now)).label("overdue"),
            )
            .where(Appeal.is_open, within(Appeal.region_code, region_code))
            .group_by(part)
        )
    }


MAP_COLUMNS = ["code", "name", "name_en", "boundary", "lat", "lon", "open", "overdue"]


def community_load(session: Session, region_code: str, now: dt.datetime) -> pd.DataFrame:
    """Per community under the region (archived ones left out): its shape, open appeals and overdue open appeals."""
    counts = _open_load(session, region_code, 12, now)
    regions = session.execute(
        select(Region.code, Region.name, Region.name_en, Region.boundary, Region.center_lat, Region.center_lon).where(
            Region.level == RegionLevel.COMMUNITY, within(Region.code, region_code[:12]), Region.archived_at.is_(None)
        )
    ).all()
    return pd.DataFrame(
        [
            {
                "code": r.code,
                "name": r.name,
                "name_en": r.name_en or romanized(r.name),
                "boundary": r.boundary,
                "lat": r.center_lat,
                "lon": r.center_lon,
                "open": counts.get(r.code, (0, 0))[0],
                "overdue": counts.get(r.code, (0, 0))[1],
            }
            for r in regions
        ],
        columns=MAP_COLUMNS,
    )


@dataclass(frozen=True)
class MapShapes:
    """A region's map: the areas one level down with their load, and the region's own outline.

    areas: code, name, name_en, boundary (GeoJSON Polygon or MultiPolygon, WGS-84, simplified
    for a screen, exterior rings counter-clockwise and holes clockwise), lat/lon (where its label
    goes: the centre of the largest circle inside it), open and overdue (open appeals, overdue
    ones among them). A compound has no areas below it: its map shows the compound itself.
    """

    level: RegionLevel  # what the areas are
    areas: pd.DataFrame
    outline: dict | None  # the region's own shape (a compound's map: its community's), drawn as context


CHILD_LEVEL = {6: RegionLevel.STREET, 9: RegionLevel.COMMUNITY, 12: RegionLevel.COMPOUND}
SCREEN_DETAIL = 2000  # a map's shapes keep detail down to 1/SCREEN_DETAIL of its extent (a pixel of a 4K wall)
_map_shape_cache = TTLCache(seconds=3600)


def map_shapes(session: Session, region_code: str, now: dt.datetime) -> MapShapes:
    """The map of a region: district → its streets, street → its communities, community → its compounds.

    Archived regions are not drawn. Names and loads are read at every call; the shapes (parsed,
    simplified, with label points) are cached under queries.regions.region_version, so a region
    re-import shows its new names at once and its new shapes at the next read.
    """
    level = CHILD_LEVEL.get(len(region_code), RegionLevel.COMPOUND)
    if len(region_code) in CHILD_LEVEL:
        which, outline_code = Region.parent_code == region_code, region_code
    else:  # a compound: itself, within its community
        which, outline_code = Region.code == region_code, region_code[:12]
    rows = session.execute(
        select(Region.code, Region.name, Region.name_en)
        .where(which, Region.archived_at.is_(None))
        .order_by(Region.code)
    ).all()
    counts = _open_load(session, region_code, min(len(region_code) + 3, 15), now)
    key = (str(session.get_bind().url), region_code, region_version(session))
    shapes, outline = _map_shape_cache.get(key, lambda: _screen_shapes(session, which, outline_code))
    areas = pd.DataFrame(
        [
            {
                "code": r.code,
                "name": r.name,
                "name_en": r.name_en or romanized(r.name),
                **shapes.get(r.code, {"boundary": None, "lat": None, "lon": None}),
                "open": counts.get(r.code, (0, 0))[0],
                "overdue": counts.get(r.code, (0, 0))[1],
            }
            for r in rows
        ],
        columns=MAP_COLUMNS,
    )
    return MapShapes(level=level, areas=areas, outline=outline)


def _forget_map_shapes(_count: int) -> None:
    _map_shape_cache.clear()


def _geometry(boundary) -> shapely.Geometry | None:
    """A stored GeoJSON boundary as a valid Polygon or MultiPolygon, or None."""
    if not isinstance(boundary, dict) or boundary.get("type") not in ("Polygon", "MultiPolygon"):
        return None
    try:
        geometry = shapely.geometry.shape(boundary)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError, shapely.errors.ShapelyError):
        return None
    if geometry.is_empty:
        return None
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    polygons = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        return None
    return polygons[0] if len(polygons) == 1 else shapely.multipolygons(shapely.get_parts(polygons))


def _screen_shapes(session: Session, which, outline_code: str) -> tuple[dict[str, dict], dict | None]:
    """The areas' shapes and label points, and the outline, ready to draw (see MapShapes)."""
    rows = session.execute(
        select(Region.code, Region.boundary, Region.center_lat, Region.center_lon).where(
            which, Region.archived_at.is_(None)
        )
    ).all()
    outline = _geometry(session.scalar(select(Region.boundary).where(Region.code == outline_code)))
    found = [(r, g) for r in rows if (g := _geometry(r.boundary)) is not None]
    shapes = {r.code: {"boundary": None, "lat": r.center_lat, "lon": r.center_lon} for r in rows}
    if not found:
        return shapes, _geojson(outline) if outline is not None else None
    geometries = np.array([g for _, g in found])
    everything = shapely.union_all([*geometries, *([outline] if outline is not None else [])])
    west, south, east, north = everything.bounds
    tolerance = max(east - west, north - south) / SCREEN_DETAIL
    try:  # neighbours keep one shared border
        simplified = shapely.coverage_simplify(geometries, tolerance)
    except shapely.errors.ShapelyError:
        simplified = shapely.simplify(geometries, tolerance, preserve_topology=True)
    simplified = np.where(shapely.is_valid(simplified) & ~shapely.is_empty(simplified), simplified, geometries)
    labels = _label_points(simplified, (south + north) / 2, tolerance)
    for (row, _), geometry, (lon, lat) in zip(found, simplified, labels, strict=True):
        shapes[row.code] = {"boundary": _geojson(geometry), "lat": round(lat, 6), "lon": round(lon, 6)}
    if outline is not None:
        outline = shapely.simplify(outline, tolerance, preserve_topology=True)
    return shapes, _geojson(outline) if outline is not None else None


def _label_points(geometries: np.ndarray, latitude: float, tolerance: float) -> np.ndarray:
    """Where each shape's label goes: the centre of its largest inscribed circle, in metric proportions."""
    stretch = math.cos(math.radians(latitude))  # a degree of longitude is this much shorter than one of latitude
    metric = shapely.transform(geometries, lambda xy: xy * [stretch, 1.0])
    centres = shapely.get_coordinates(shapely.get_point(shapely.maximum_inscribed_circle(metric, tolerance), 0))
    return centres / [stretch, 1.0]


def _geojson(geometry: shapely.Geometry) -> dict:
    """A Polygon or MultiPolygon as GeoJSON, exterior rings counter-clockwise, holes clockwise, 1e-6° (0.1 m)."""
    oriented = shapely.orient_polygons(shapely.transform(geometry, lambda xy: np.round(xy, 6)))
    return json.loads(shapely.to_geojson(oriented))


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
    sla: list[dict]  # the deadline board's rows, ranked by risk (sla_board)
    sla_totals: dict  # every overdue and due-within-2-hours appeal in the region (board_totals)
    headline: dict  # 在办 / 超期 / 2小时内到期 / 今日受理 / 今日办结, now and yesterday at this time (headline)
    volume: pd.DataFrame
    load: MapShapes  # the map: the areas one level down, with their open and overdue appeals
    visits: dict
    calendar_fallback: tuple[int, ...] = ()  # years counted Monday–Friday that matter now (WorkCalendar.fallback_soon)


def database_key() -> str:
    """Which database this app reads (a cache key part: two apps in one process share no results)."""
    return str(db.engine.url)


def regions_key() -> tuple:
    """This database's regions as a cache key part: a region re-import (new names, shapes or archived
    regions) changes it, so walls show it at their next resync. It holds the imports this process
    committed (queries.regions.change_count: exact at once) and the table's fingerprint
    (queries.regions.region_version: an import by another process, the CLI's, too)."""
    with db.session() as session:
        return change_count(db), region_version(session)


def read(region_code: str, lang: str, token: str = "", now: dt.datetime | None = None) -> WallView:
    """Everything the wall shows for a region, read in one session (region access checked by the caller)."""
    now = now or clock.utcnow()
    calendar = current_app.extensions["work_calendar"]
    with db.session() as session:
        todays = today_kpis(session, region_code, now, calendar)
        top = headline(session, region_code, now, calendar, todays)
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
            kpis=todays,
            recent=ticker(session, region_code, lang, TICKER_LENGTH),
            sla=sla_board(session, region_code, lang, BOARD_LIMIT, now),
            sla_totals={"overdue": top["overdue"]["value"], "due_soon": top["due_soon"]["value"]},
            headline=top,
            volume=daily_volume(session, region_code, now, calendar),
            load=map_shapes(session, region_code, now),
            visits=visit_lists(session, region_code),
            calendar_fallback=tuple(calendar.fallback_soon(now.astimezone(calendar.timezone).date())),
        )
