"""Early warning (issue 19): the alerts as the wall, the console's /alerts page, the API and the daily
export read them.

One row → one view (`AlertItem`): the reason in words per language (dashboard.ui.alerts.reason_text),
the place's name, and the link to the drill-down that explains it (`drill_link`: a surge → that
place and category today; a repeat → that compound or community and category over the rule's days;
an appeal at risk → its appeal page). Scope is "this region or below" (domain.regions.within); notes
people typed are masked (domain.pii.mask_free_text) like every other free text the console shows.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

import pandas as pd
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard.domain import clock
from dashboard.domain.localday import LocalDay, period
from dashboard.domain.pii import mask_free_text
from dashboard.domain.regions import level_of, within
from dashboard.domain.vocab import Category
from dashboard.queries.regions import default_region_code
from dashboard.store.database import db
from dashboard.store.models import Alert, Region
from dashboard.ui.alerts import reason_text
from dashboard.ui.chrome import Refusal, Viewer
from dashboard.ui.i18n import label, localized, normalise_language

KINDS = ("surge", "repeat", "at_risk")
STATUSES = ("new", "acknowledged", "closed")
OPEN_STATUSES = ("new", "acknowledged")
WALL_LIMIT = 12  # the wall's panel: the newest open alerts (it shows as many whole ones as fit)
PAGE_SIZE = 25  # the console's list
API_LIMIT = 500
MAX_PERIOD_DAYS = 366
REPEAT_DAYS = 7  # a repeat's window when its details do not say (data/alerts.toml [repeat] days)


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored instant as aware UTC (SQLite may hand back a naive one)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _code(value) -> str | None:
    return getattr(value, "value", value)


@dataclass(frozen=True)
class AlertItem:
    """One alert as a page, the wall or the API shows it (masked)."""

    id: int
    kind: str
    status: str
    region_code: str
    place: str  # the region's name in the page's language
    category: str | None
    category_label: str
    raised_at: dt.datetime  # UTC
    raised_local: str  # "YYYY-MM-DD HH:MM", the work calendar's zone
    reason: str  # in the page's language
    link: str  # the drill-down (or appeal page) that explains it
    details: dict = field(default_factory=dict)
    appeal_id: int | None = None
    department_id: int | None = None
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    acknowledge_note: str = ""
    closed_at: dt.datetime | None = None
    closed_by: str | None = None
    close_note: str = ""

    def to_json(self, lang: str | None = None) -> dict:
        """The API's and the wall's form: codes, ISO instants, the reason in words (both languages for the wall)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "region_code": self.region_code,
            "place": self.place,
            "category": self.category,
            "appeal_id": self.appeal_id,
            "department_id": self.department_id,
            "raised_at": self.raised_at.isoformat(),
            "details": self.details,
            "reason": self.reason,
            "link": self.link,
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "acknowledged_by": self.acknowledged_by,
            "acknowledge_note": self.acknowledge_note,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "closed_by": self.closed_by,
            "close_note": self.close_note,
        }


def drill_link(
    kind: str,
    region_code: str,
    category: str | None,
    appeal_id: int | None,
    details: dict,
    raised_at: dt.datetime,
    calendar,
    lang: str = "zh",
) -> str:
    """The page that explains an alert (queries.drill's URL parameters; /appeal/<id> for one appeal)."""
    suffix = {"lang": "en"} if lang == "en" else {}
    if kind == "at_risk" and appeal_id is not None:
        return f"/appeal/{appeal_id}" + ("?lang=en" if lang == "en" else "")
    day = LocalDay.of(raised_at, calendar).day
    first = day
    if kind == "repeat":
        days = details.get("days") if isinstance(details.get("days"), int) else REPEAT_DAYS
        first = day - dt.timedelta(days=max(days, 1) - 1)
    params = {"region": region_code, "from": first.isoformat(), "to": day.isoformat()}
    if category:
        params["category"] = category
    return "/drill?" + urlencode({**params, **suffix})


def region_names(session: Session, codes, lang: str) -> dict[str, str]:
    """Region code → name in lang, for the codes given."""
    codes = sorted(set(codes))
    if not codes:
        return {}
    rows = session.execute(select(Region.code, Region.name, Region.name_en).where(Region.code.in_(codes))).all()
    return {row.code: localized(row.name, row.name_en, lang) for row in rows}


def _category_label(category: str | None, lang: str) -> str:
    if not category:
        return ""
    try:
        return label(Category(category), lang)
    except ValueError:
        return category


def item(row: Alert, names: dict[str, str], lang: str, calendar) -> AlertItem:
    """An Alert row as its view for lang."""
    kind, status, category = _code(row.kind), _code(row.status), _code(row.category)
    details = dict(row.details or {})
    raised_at = _utc(row.raised_at)
    place = names.get(row.region_code, row.region_code)
    return AlertItem(
        id=row.id,
        kind=kind,
        status=status,
        region_code=row.region_code,
        place=place,
        category=category,
        category_label=_category_label(category, lang),
        raised_at=raised_at,
        raised_local=raised_at.astimezone(calendar.timezone).strftime("%Y-%m-%d %H:%M"),
        reason=alert_reason(row, place, lang),
        link=drill_link(kind, row.region_code, category, row.appeal_id, details, raised_at, calendar, lang),
        details=details,
        appeal_id=row.appeal_id,
        department_id=row.department_id,
        acknowledged_at=_utc(row.acknowledged_at),
        acknowledged_by=row.acknowledged_by,
        acknowledge_note=mask_free_text(row.acknowledge_note or ""),
        closed_at=_utc(row.closed_at),
        closed_by=row.closed_by,
        close_note=mask_free_text(row.close_note or ""),
    )


def alert_reason(row: Alert, place: str, lang: str) -> str:
    """The reason in words (dashboard.ui.alerts), the place's name and category filled in."""
    return reason_text(_code(row.kind), dict(row.details or {}), lang, category=_code(row.category), place=place)


def items(session: Session, rows, lang: str, calendar) -> list[AlertItem]:
    """Rows as views, with their places' names read once."""
    rows = list(rows)
    names = region_names(session, (row.region_code for row in rows), lang)
    return [item(row, names, lang, calendar) for row in rows]


# ---------------------------------------------------------------------------- the wall


def _open_rows(session: Session, region_code: str, limit: int) -> list[Alert]:
    return session.scalars(
        select(Alert)
        .where(within(Alert.region_code, region_code), Alert.status.in_(OPEN_STATUSES))
        .order_by(Alert.raised_at.desc(), Alert.id.desc())
        .limit(limit)
    ).all()


def open_alerts(session: Session, region_code: str, lang: str, calendar, limit: int = WALL_LIMIT) -> list[AlertItem]:
    """The open (new or acknowledged) alerts of a region and below, newest first."""
    return items(session, _open_rows(session, region_code, limit), lang, calendar)


def wall_payload(row: Alert, names_zh: dict[str, str], names_en: dict[str, str]) -> dict:
    """An alert as the wall's panel takes it: the fields of the pushed `alert` event (both languages' reasons)."""
    return {
        "id": row.id,
        "kind": _code(row.kind),
        "status": _code(row.status),
        "region_code": row.region_code,
        "category": _code(row.category),
        "raised_at": _utc(row.raised_at).isoformat(),
        "details": dict(row.details or {}),
        "text_zh": alert_reason(row, names_zh.get(row.region_code, row.region_code), "zh"),
        "text_en": alert_reason(row, names_en.get(row.region_code, row.region_code), "en"),
    }


def wall_alerts(region_code: str, now: dt.datetime | None = None, limit: int = WALL_LIMIT) -> dict:
    """The wall panel's snapshot: the open alerts of a region and below, newest first, and when it was read."""
    now = now or clock.utcnow()
    with db.session() as session:
        rows = _open_rows(session, region_code, limit)
        codes = [row.region_code for row in rows]
        names_zh, names_en = region_names(session, codes, "zh"), region_names(session, codes, "en")
        payload = [wall_payload(row, names_zh, names_en) for row in rows]
    return {"items": payload, "as_of": now.timestamp() * 1000}


# ---------------------------------------------------------------------------- the console and the API


class FilterError(ValueError):
    """A filter value that cannot be one; the message names it."""


@dataclass(frozen=True)
class AlertFilters:
    """What the /alerts list (or the API) is asked for."""

    region: str | None = None  # None: the whole database (an admin without ?region=)
    kind: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    start: dt.date | None = None  # local days, inclusive (raised on)
    end: dt.date | None = None
    page: int = 1
    lang: str = "zh"

    @classmethod
    def from_query(cls, query: dict, lang: str = "zh") -> AlertFilters:
        """Filters from URL values (kind, status, category: comma lists; from, to; region; page)."""

        def one(name: str) -> str:
            value = query.get(name)
            if isinstance(value, list):
                value = value[0] if value else None
            return value.strip() if isinstance(value, str) else ""

        def several(name: str, allowed) -> tuple[str, ...]:
            chosen = tuple(sorted({v for v in one(name).split(",") if v}))
            unknown = [v for v in chosen if v not in allowed]
            if unknown:
                raise FilterError(f"{name}: unknown value {unknown[0][:30]!r}")
            return chosen

        region = one("region") or None
        if region is not None:
            try:
                level_of(region)
            except ValueError as exc:
                raise FilterError(f"region: {exc}") from None
        days = {}
        for name in ("from", "to"):
            text = one(name)
            try:
                days[name] = dt.date.fromisoformat(text) if text else None
            except ValueError:
                raise FilterError(f"{name}: {text[:20]!r} is not a date YYYY-MM-DD") from None
        if days["from"] and days["to"]:
            if days["from"] > days["to"]:
                raise FilterError("from: the period starts after it ends")
            if (days["to"] - days["from"]).days >= MAX_PERIOD_DAYS:
                raise FilterError(f"from/to: at most {MAX_PERIOD_DAYS} days at once")
        page = one("page")
        return cls(
            region=region,
            kind=several("kind", KINDS),
            status=several("status", STATUSES),
            category=several("category", {c.value for c in Category}),
            start=days["from"],
            end=days["to"],
            page=int(page) if page.isdigit() and 0 < len(page) < 7 else 1,
            lang=normalise_language(lang),
        )

    def to_query(self, **changes) -> str:
        """The URL query string ("?…") of these filters with changes applied."""
        filters = replace(self, **changes)
        params: dict[str, str] = {}
        if filters.region:
            params["region"] = filters.region
        for name in ("kind", "status", "category"):
            if getattr(filters, name):
                params[name] = ",".join(getattr(filters, name))
        if filters.start:
            params["from"] = filters.start.isoformat()
        if filters.end:
            params["to"] = filters.end.isoformat()
        if filters.page > 1:
            params["page"] = str(filters.page)
        if filters.lang == "en":
            params["lang"] = "en"
        return "?" + urlencode(params) if params else ""


def conditions(filters: AlertFilters, calendar, since: dt.datetime | None = None) -> list:
    """SQL conditions of the filters (the region already checked against the asker's scope)."""
    where = []
    if filters.region:
        where.append(within(Alert.region_code, filters.region))
    if filters.kind:
        where.append(Alert.kind.in_(filters.kind))
    if filters.status:
        where.append(Alert.status.in_(filters.status))
    if filters.category:
        where.append(Alert.category.in_([Category(c) for c in filters.category]))
    if filters.start or filters.end:
        start, end = period(filters.start or dt.date(2000, 1, 1), filters.end or dt.date(2100, 1, 1), calendar)
        where += [Alert.raised_at >= start, Alert.raised_at < end]
    if since is not None:
        where.append(Alert.raised_at >= since)
    return where


@dataclass(frozen=True)
class AlertsView:
    """The /alerts page: the filters, one page of alerts, how many there are, what the viewer may do."""

    filters: AlertFilters
    alerts: list[AlertItem]
    total: int
    pages: int
    may_act: bool
    lang: str


def list_alerts(session: Session, filters: AlertFilters, calendar) -> tuple[list[AlertItem], int]:
    """One page of the filtered alerts, newest first, and the number of all of them."""
    where = conditions(filters, calendar)
    total = session.scalar(select(func.count()).select_from(Alert).where(*where)) or 0
    rows = session.scalars(
        select(Alert)
        .where(*where)
        .order_by(Alert.raised_at.desc(), Alert.id.desc())
        .offset((filters.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return items(session, rows, filters.lang, calendar), total


def scoped_filters(query: dict, viewer: Viewer, lang: str) -> AlertFilters | Refusal:
    """The URL's filters for viewer: their region by default; a region outside their scope is refused."""
    try:
        filters = AlertFilters.from_query(query, lang)
    except FilterError as exc:
        return Refusal("console.bad_filter", {"error": str(exc)})
    if filters.region is None and viewer.region_code is not None:
        filters = replace(filters, region=viewer.region_code)
    if filters.region is not None and not viewer.covers(filters.region):
        return Refusal("console.out_of_scope", {"region": filters.region})
    return filters


def read(query: dict, viewer: Viewer, lang: str, may_act: bool = False) -> AlertsView | Refusal:
    """The /alerts page for the URL's filters as viewer may see it, or why it cannot be shown."""
    filters = scoped_filters(query, viewer, lang)
    if isinstance(filters, Refusal):
        return filters
    calendar = current_app.extensions["work_calendar"]
    with db.session() as session:
        if filters.region is None and default_region_code(session) is None:
            return Refusal("home.no_regions")
        alerts, total = list_alerts(session, filters, calendar)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return AlertsView(filters, alerts, total, pages, may_act, filters.lang)


def alert_region(alert_id: int) -> str | None:
    """The region of an alert (None: no such alert): what scope is checked against before acting on it."""
    with db.session() as session:
        return session.scalar(select(Alert.region_code).where(Alert.id == alert_id))


def api_list(scope_region: str | None, filters: AlertFilters, since: dt.datetime | None, limit: int) -> list[dict]:
    """GET /api/v1/alerts: the filtered alerts within a key's region, newest first, as JSON objects."""
    calendar = current_app.extensions["work_calendar"]
    region = filters.region or scope_region
    filters = replace(filters, region=region)
    with db.session() as session:
        rows = session.scalars(
            select(Alert)
            .where(*conditions(filters, calendar, since))
            .order_by(Alert.raised_at.desc(), Alert.id.desc())
            .limit(limit)
        ).all()
        return [a.to_json() for a in items(session, rows, filters.lang, calendar)]


# ---------------------------------------------------------------------------- the daily export

EXPORT_COLUMNS = [
    "id",
    "raised_at",
    "kind",
    "status",
    "region_code",
    "place",
    "category",
    "reason",
    "appeal_id",
    "acknowledged_at",
    "acknowledged_by",
    "closed_at",
    "closed_by",
    "link",
]


def day_frame(session: Session, day: dt.date, calendar, lang: str = "zh") -> pd.DataFrame:
    """The alerts raised on a local day (every region), oldest first, for the daily export."""
    day_bounds = LocalDay.on(day, calendar)
    rows = session.scalars(
        select(Alert)
        .where(Alert.raised_at >= day_bounds.start, Alert.raised_at < day_bounds.end)
        .order_by(Alert.raised_at, Alert.id)
    ).all()
    zone = calendar.timezone

    def local(moment: dt.datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else ""

    records = [
        {
            "id": a.id,
            "raised_at": local(a.raised_at),
            "kind": a.kind,
            "status": a.status,
            "region_code": a.region_code,
            "place": a.place,
            "category": a.category or "",
            "reason": a.reason,
            "appeal_id": "" if a.appeal_id is None else a.appeal_id,
            "acknowledged_at": local(a.acknowledged_at),
            "acknowledged_by": a.acknowledged_by or "",
            "closed_at": local(a.closed_at),
            "closed_by": a.closed_by or "",
            "link": a.link,
        }
        for a in items(session, rows, lang, calendar)
    ]
    return pd.DataFrame(records, columns=EXPORT_COLUMNS)
