"""Early warning (issue 19): the scheduler's minute job that finds surges, repeats and appeals at risk
(the rules: domain.alerts, thresholds: data/alerts.toml), and the two steps people take on an alert.

One run (`evaluate`) counts with a few aggregate queries — never all appeals: today's and the
same weekdays' appeals per community and category (the report-time covering index), the last
`repeat.days` days' appeals per compound and per address, each department's open load now and
over the last `at_risk.median_days` days, and the open appeals near their deadline of the loaded
departments. Then, in the caller's transaction:

- a condition without an open alert raises one: INSERT … ON CONFLICT DO NOTHING against the
  partial unique index on the key (status <> 'closed'), so two runs at once raise it once; each
  raise writes an `alert_raised` outbox event (services.outbox) and queues a push to the walls
  (services.push, sent after commit);
- an open alert whose condition still holds gets last_seen_at = now (its figures stay those it was
  raised with);
- an open alert whose condition has been gone for `lifecycle.auto_close_hours` (last_seen_at that
  long ago) is closed by "system:alerts", with an audit row.

A condition a person closed is not raised again for `auto_close_hours` after the close (it was
seen and dealt with; the same episode must not come straight back); afterwards it may be.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, func, or_, select, text, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dashboard.config import DATA_DIR
from dashboard.domain import clock
from dashboard.domain.alerts import (
    SYSTEM_ACTOR,
    AlertKind,
    AlertRules,
    AlertStatus,
    RepeatBasis,
    at_risk_details,
    at_risk_key,
    expected_count,
    history_days,
    is_at_risk,
    is_surge,
    load_rules,
    median,
    normalise_address,
    poisson_tail,
    repeat_details,
    repeat_key,
    surge_details,
    surge_key,
    time_left_fraction,
)
from dashboard.domain.localday import LocalDay, local_date, local_date_sql, local_midnight
from dashboard.domain.webhooks import WebhookEvent
from dashboard.services import outbox
from dashboard.services.push import queue_deltas
from dashboard.store.audit import audit_row
from dashboard.store.database import db
from dashboard.store.models import Alert, Appeal, Region
from dashboard.ui.alerts import reason_text
from dashboard.ui.i18n import localized, t

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_RULES_FILE = DATA_DIR / "alerts.toml"  # the job passes CC_ALERTS_FILE's rules
NOTE_LENGTH = 500
OPEN = Alert.status != AlertStatus.CLOSED.value
# The partial unique index's condition, as ON CONFLICT names it (it must match the index's WHERE).
OPEN_KEY_WHERE = text("status <> 'closed'")


class AlertError(ValueError):
    """A person's step on an alert refused: code is unknown | closed | acknowledged | note_required."""

    def __init__(self, code: str, alert_id: int | None = None) -> None:
        super().__init__(f"alert {alert_id}: {code}")
        self.code = code
        self.alert_id = alert_id

    def text(self, lang: str = "zh") -> str:
        """The refusal in words, for a page or an API error."""
        return t(f"alerts.error_{self.code}", lang, id=self.alert_id)


@dataclass
class Found:
    """A condition that holds now: what its alert is raised (or kept) with."""

    kind: AlertKind
    key: str
    region_code: str
    category: str | None
    details: dict
    department_id: int | None = None
    appeal_id: int | None = None


@dataclass
class AlertRun:
    """What one run did: the conditions found per kind, and the alerts raised, kept and closed (ids)."""

    at: dt.datetime
    found: dict[str, int] = field(default_factory=dict)
    raised: list[int] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    seconds: float = 0.0


# ---------------------------------------------------------------------------- the job


def run(database=db, now: dt.datetime | None = None, rules: AlertRules | None = None, timezone=DEFAULT_TIMEZONE):
    """The scheduler's job: one evaluate() in its own transaction (pushes go out after its commit)."""
    with database.transaction() as session:
        result = evaluate(session, now, rules=rules, timezone=timezone)
    if result.raised or result.closed:
        log.info("alerts: %d raised, %d closed, %d still holding", len(result.raised), len(result.closed),
                 len(result.seen))  # fmt: skip
    return result


def evaluate(
    session: Session, now: dt.datetime | None = None, *, rules: AlertRules | None = None, timezone=DEFAULT_TIMEZONE
) -> AlertRun:
    """Find the conditions that hold at `now` and raise, keep or auto-close alerts in the caller's transaction."""
    started = time.perf_counter()
    now = now or clock.utcnow()
    rules = rules or load_rules(DEFAULT_RULES_FILE)
    zone = ZoneInfo(str(timezone))
    found: dict[str, Found] = {}
    for items in (surges(session, now, rules, zone), repeats(session, now, rules), at_risk(session, now, rules, zone)):
        found.update((item.key, item) for item in items)
    outcome = AlertRun(at=now, found=_count_kinds(found.values()))
    _apply(session, now, rules, found, outcome)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _count_kinds(items) -> dict[str, int]:
    counts = {kind.value: 0 for kind in AlertKind}
    for item in items:
        counts[item.kind.value] += 1
    return counts


# ---------------------------------------------------------------------------- surges


def surges(session: Session, now: dt.datetime, rules: AlertRules, zone: ZoneInfo) -> list[Found]:
    """Today's surges per community and/or street and category (domain.alerts: is_surge, expected_count).

    Two aggregate queries over the report-time covering index: today's appeals from local midnight
    to now, and the previous `weeks` same weekdays' appeals from their midnight to the same time of
    day, both counted per community (or street, for appeals held at a street) and category. A
    street's surge is not raised when a surge of one of its communities in that category explains it.
    """
    surge = rules.surge
    today = LocalDay.of(now, _Zone(zone))
    elapsed = now - today.start
    place = func.substr(Appeal.region_code, 1, 12)  # the community (a street's own appeals: the street)
    counts = select(place.label("place"), Appeal.category, func.count().label("n")).group_by(place, Appeal.category)
    observed = _by_level(session.execute(counts.where(Appeal.reported_at >= today.start, Appeal.reported_at <= now)))
    candidates = {key for key, n in observed.items() if n >= surge.min_count and key[0] in surge.levels}
    if not candidates:
        return []
    ranges = []
    for day in history_days(today.day, surge.weeks):
        start = local_midnight(day, zone)
        ranges.append(and_(Appeal.reported_at >= start, Appeal.reported_at <= start + elapsed))
    history = _by_level(session.execute(counts.where(or_(*ranges))))
    found, surging = [], set()
    # Communities first ("community" < "street"): a street's surge that one of its communities' surges
    # in the same category explains is not raised again (the community alert names the place).
    for key in sorted(candidates):
        level, code, category = key
        if level == "street" and (code, category) in surging:
            continue
        expected = expected_count([history.get(key, 0)], surge.weeks)
        if is_surge(observed[key], expected, surge):
            p = poisson_tail(observed[key], expected)
            details = surge_details(level, observed[key], expected, p, surge.weeks, today.start)
            found.append(Found(AlertKind.SURGE, surge_key(code, category), code, category, details))
            surging.add((code[:9], category))
    return found


class _Zone:
    """A stand-in calendar for LocalDay: only its time zone is read."""

    def __init__(self, timezone: ZoneInfo) -> None:
        self.timezone = timezone


def _by_level(rows) -> dict[tuple[str, str, str], int]:
    """Counts per (community, code, category) and rolled up per (street, code, category)."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for row in rows:
        code, category = row.place, _code(row.category)
        if len(code) == 12:
            counts[("community", code, category)] += row.n
        if len(code) >= 9:
            counts[("street", code[:9], category)] += row.n
    return counts


def _code(value):
    return getattr(value, "value", value)


# ---------------------------------------------------------------------------- repeats


def repeats(session: Session, now: dt.datetime, rules: AlertRules) -> list[Found]:
    """The same compound and category, or the same address (normalised) and category, at least min_count
    times within the last `days` days (reported in (now − days, now], open or not).

    One query of the window's appeals (id, region, category, address: a week of a district is some
    30,000 short rows), grouped both ways in one pass here: the address rule is Python's (NFKC has
    no SQL form). Addresses are compared per community, so "1号楼" in two communities differ.
    """
    repeat = rules.repeat
    since = now - dt.timedelta(days=repeat.days)
    category = type_coerce(Appeal.category, String)  # the code as stored: no enum conversion per row
    rows = session.execute(
        select(Appeal.id, Appeal.region_code, category, Appeal.address).where(
            Appeal.reported_at > since, Appeal.reported_at <= now
        )
    ).all()
    by_compound: dict[tuple, list[int]] = defaultdict(list)
    by_address: dict[tuple, list[tuple[int, str]]] = defaultdict(list)
    for appeal_id, code, kind, address in rows:
        if len(code) == 15:
            by_compound[(code, kind)].append(appeal_id)
        if address:
            normalised = normalise_address(address)
            if normalised:
                by_address[(code[:12], kind, normalised)].append((appeal_id, code))
    found: list[Found] = []
    compounds = set()
    for (code, kind), ids in by_compound.items():
        if len(ids) >= repeat.min_count:
            compounds.add((code, kind))
            details = repeat_details(RepeatBasis.COMPOUND, len(ids), repeat.days, ids)
            found.append(Found(AlertKind.REPEAT, repeat_key(RepeatBasis.COMPOUND, code, kind), code, kind, details))
    for (community, kind, address), items in by_address.items():
        if len(items) < repeat.min_count:
            continue
        places = {code for _, code in items}
        if len(places) == 1 and (next(iter(places)), kind) in compounds:
            continue  # one compound's repeat already says it
        ids = [appeal_id for appeal_id, _ in items]
        details = repeat_details(RepeatBasis.ADDRESS, len(ids), repeat.days, ids)
        key = repeat_key(RepeatBasis.ADDRESS, community, kind, address)
        found.append(Found(AlertKind.REPEAT, key, community, kind, details))
    return found


# ---------------------------------------------------------------------------- at risk


def department_loads(session: Session, now: dt.datetime, days: int, zone: ZoneInfo) -> dict[int, tuple[int, float]]:
    """Each department's open load now and its median daily open load over the last `days` days.

    The load of a day is the department's open appeals at the day's end (local midnight). It is
    counted back from now rather than over all history: open(t) = open now − appeals reported
    since t + appeals resolved since t (an appeal is open exactly while it has no resolution), so
    only the last `days` days' appeals are read. Appeals are counted under their department now.
    """
    today = local_date(now, zone)
    first = local_midnight(today - dt.timedelta(days=days - 1), zone)
    dialect = session.get_bind().dialect.name
    open_now = dict(
        session.execute(
            select(Appeal.department_id, func.count())
            .where(Appeal.is_open, Appeal.department_id.is_not(None))
            .group_by(Appeal.department_id)
        ).all()
    )
    reported = _per_day(session, Appeal.reported_at, first, now, dialect, zone)
    resolved = _per_day(session, Appeal.resolved_at, first, now, dialect, zone)
    # Snapshot i (i = 0 … days − 1): the midnight beginning local day today − i, i.e. the end of the day before.
    loads: dict[int, tuple[int, float]] = {}
    for department in set(open_now) | set(reported) | set(resolved):
        current = open_now.get(department, 0)
        new, done = reported.get(department, {}), resolved.get(department, {})
        values = []
        since_new = since_done = 0
        for back in range(days):
            day = today - dt.timedelta(days=back)
            since_new += new.get(day.isoformat(), 0)
            since_done += done.get(day.isoformat(), 0)
            values.append(current - since_new + since_done)
        loads[department] = (current, median(values))
    return loads


def _per_day(session, column, start, now, dialect, zone) -> dict[int, dict[str, int]]:
    day = local_date_sql(column, dialect, zone)
    rows = session.execute(
        select(Appeal.department_id, day.label("day"), func.count().label("n"))
        .where(column >= start, column <= now, Appeal.department_id.is_not(None))
        .group_by(Appeal.department_id, day)
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[row.department_id][str(row.day)[:10]] = row.n
    return counts


AT_RISK_COLUMNS = (
    Appeal.id,
    Appeal.region_code,
    type_coerce(Appeal.category, String).label("category"),
    Appeal.department_id,
    Appeal.reported_at,
    Appeal.deadline_at,
    Appeal.is_open,
)


def at_risk(session: Session, now: dt.datetime, rules: AlertRules, zone: ZoneInfo) -> list[Found]:
    """Open appeals not yet overdue with less than time_left_fraction of their time left, in departments
    whose open load now is above their median (domain.alerts.is_at_risk decides each one)."""
    risk = rules.at_risk
    loads = department_loads(session, now, risk.median_days, zone)
    loaded = {department for department, (current, middle) in loads.items() if current > middle}
    if not loaded:
        return []
    # The open appeals not yet overdue, from the (is_open, deadline_at) index (a district holds some
    # 10,000); the department and the time-left share are checked here, by domain.alerts.is_at_risk.
    # (Put in SQL, the department list and the time arithmetic made SQLite's planner scan the table.)
    rows = session.execute(
        select(*AT_RISK_COLUMNS).where(Appeal.is_open, Appeal.deadline_at >= now).order_by(Appeal.id)
    ).all()
    found = []
    for row in rows:
        if row.department_id not in loaded:
            continue
        current, middle = loads[row.department_id]
        if not is_at_risk(row.is_open, row.reported_at, row.deadline_at, now, current, middle, risk):
            continue
        fraction = time_left_fraction(row.reported_at, row.deadline_at, now)
        hours = (row.deadline_at - now).total_seconds() / 3600
        details = at_risk_details(fraction, hours, current, middle, risk.median_days, row.deadline_at)
        key, category = at_risk_key(row.id), _code(row.category)
        found.append(Found(AlertKind.AT_RISK, key, row.region_code, category, details, row.department_id, row.id))
    return found


# ---------------------------------------------------------------------------- raise, keep, close


def _apply(session: Session, now: dt.datetime, rules: AlertRules, found: dict[str, Found], outcome: AlertRun) -> None:
    cutoff = now - rules.lifecycle.auto_close_after
    open_rows = session.execute(select(Alert.id, Alert.key, Alert.last_seen_at).where(OPEN)).all()
    open_keys = {row.key: row for row in open_rows}
    # Still true: seen now. Its figures stay those it was raised with (the reason people read does not
    # change under them); one UPDATE per 900 alerts, not one per alert.
    outcome.seen = sorted(open_keys[key].id for key in found if key in open_keys)
    for start in range(0, len(outcome.seen), 900):
        chunk = outcome.seen[start : start + 900]
        session.execute(
            update(Alert)
            .where(Alert.id.in_(chunk))
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
    # Gone for auto_close_hours: closed by the system (the WHERE re-checks it: a racing run may have seen it).
    stale = [row.id for row in open_rows if row.key not in found and row.last_seen_at <= cutoff]
    if stale:
        closed = session.execute(
            update(Alert)
            .where(Alert.id.in_(stale), OPEN, Alert.last_seen_at <= cutoff)
            .values(status=AlertStatus.CLOSED.value, closed_at=now, closed_by=SYSTEM_ACTOR,
                    close_note=t("alerts.auto_close_note", "zh", hours=f"{rules.lifecycle.auto_close_hours:g}"))
            .returning(Alert.id)
            .execution_options(synchronize_session=False)
        ).scalars().all()  # fmt: skip
        for alert_id in closed:
            session.add(audit_row(SYSTEM_ACTOR, "alert_auto_close", f"alert:{alert_id}", None, None))
        outcome.closed = sorted(closed)
    # New: not open, and not closed by a person within the last auto_close_hours.
    new = [item for key, item in found.items() if key not in open_keys]
    if new:
        held = set(
            session.scalars(
                select(Alert.key).where(
                    Alert.status == AlertStatus.CLOSED.value,
                    Alert.closed_by != SYSTEM_ACTOR,
                    Alert.closed_at > cutoff,
                )
            )
        )
        new = [item for item in new if item.key not in held]
    raised = _raise(session, now, new) if new else []
    outcome.raised = sorted(row.id for row in raised)
    closed_rows = []
    for start in range(0, len(outcome.closed), 900):
        chunk = outcome.closed[start : start + 900]
        closed_rows += session.execute(select(*DELTA_COLUMNS).where(Alert.id.in_(chunk))).all()
    if raised or closed_rows:
        names = region_names(session, {row.region_code for row in [*raised, *closed_rows]})
        # One INSERT of the events and one of their deliveries, however many were raised (a first run
        # over a district raises thousands of repeats).
        outbox.enqueue_alerts(session, [(row, alert_payload(row, names.get(row.region_code))) for row in raised])
        queue_deltas(session, [alert_delta(row, names.get(row.region_code)) for row in [*raised, *closed_rows]])


# What alert_delta and alert_payload read of an alert (an Alert, a row of these columns, or a _Raised).
DELTA_COLUMNS = (
    Alert.id,
    Alert.kind,
    Alert.status,
    Alert.region_code,
    Alert.category,
    Alert.department_id,
    Alert.appeal_id,
    Alert.details,
    Alert.raised_at,
)


@dataclass(frozen=True)
class _Raised:
    """An alert just inserted: its id and the values it was inserted with."""

    id: int
    kind: str
    status: str
    region_code: str
    category: str | None
    department_id: int | None
    appeal_id: int | None
    details: dict
    raised_at: dt.datetime


def _raise(session: Session, now: dt.datetime, items: list[Found]) -> list[_Raised]:
    """INSERT … ON CONFLICT DO NOTHING on the open-key index: a key another run raised meanwhile is skipped."""
    rows = [
        {
            "kind": item.kind.value,
            "key": item.key,
            "status": AlertStatus.NEW.value,
            "region_code": item.region_code,
            "category": item.category,
            "department_id": item.department_id,
            "appeal_id": item.appeal_id,
            "details": item.details,
            "raised_at": now,
            "last_seen_at": now,
        }
        for item in items
    ]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # One statement compiled once, its rows sent in batches by SQLAlchemy's insertmanyvalues (a
    # multi-VALUES statement per 500 rows was compiled anew each time: a second of a first run).
    statement = (
        insert(Alert)
        .on_conflict_do_nothing(index_elements=["key"], index_where=OPEN_KEY_WHERE)
        .returning(Alert.id, Alert.key)
    )
    raised = session.connection().execute(statement, rows).all() if rows else []
    by_key = {item.key: item for item in items}
    return [
        _Raised(row.id, by_key[row.key].kind.value, AlertStatus.NEW.value, by_key[row.key].region_code,
                by_key[row.key].category, by_key[row.key].department_id, by_key[row.key].appeal_id,
                by_key[row.key].details, now)
        for row in sorted(raised, key=lambda row: row.id)
    ]  # fmt: skip


# ---------------------------------------------------------------------------- people's steps


def acknowledge(session: Session, alert_id: int, actor: str, note: str, now: dt.datetime | None = None) -> Alert:
    """A person has seen the alert and says what is being done (note required); audited, pushed after commit."""
    alert, note = _for_step(session, alert_id, note)
    if alert.status == AlertStatus.ACKNOWLEDGED.value:
        raise AlertError("acknowledged", alert_id)
    alert.status = AlertStatus.ACKNOWLEDGED.value
    alert.acknowledged_at = now or clock.utcnow()
    alert.acknowledged_by = actor[:64]
    alert.acknowledge_note = note
    _after_step(session, alert, actor, "alert_acknowledge", note)
    return alert


def close(session: Session, alert_id: int, actor: str, note: str, now: dt.datetime | None = None) -> Alert:
    """A person closes the alert (new or acknowledged; note required); audited, pushed after commit."""
    alert, note = _for_step(session, alert_id, note)
    alert.status = AlertStatus.CLOSED.value
    alert.closed_at = now or clock.utcnow()
    alert.closed_by = actor[:64]
    alert.close_note = note
    _after_step(session, alert, actor, "alert_close", note)
    return alert


def _for_step(session: Session, alert_id, note: str | None) -> tuple[Alert, str]:
    try:
        alert_id = int(alert_id)
    except (TypeError, ValueError):
        raise AlertError("unknown", alert_id) from None
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise AlertError("unknown", alert_id)
    if alert.status == AlertStatus.CLOSED.value:
        raise AlertError("closed", alert_id)
    note = (note or "").strip()
    if not note:
        raise AlertError("note_required", alert_id)
    return alert, note[:NOTE_LENGTH]


def _after_step(session: Session, alert: Alert, actor: str, action: str, note: str) -> None:
    session.add(audit_row(actor, action, f"alert:{alert.id}", None, {"kind": alert.kind, "note": note}))
    session.flush()
    names = region_names(session, {alert.region_code})
    queue_deltas(session, [alert_delta(alert, names.get(alert.region_code))])


# ---------------------------------------------------------------------------- what is sent


def region_names(session: Session, codes: set[str]) -> dict[str, tuple[str, str]]:
    """Region code → (Chinese name, English name), for the reason's opening words in each language."""
    if not codes:
        return {}
    rows = session.execute(select(Region.code, Region.name, Region.name_en).where(Region.code.in_(codes))).all()
    return {row.code: (row.name, localized(row.name, row.name_en, "en")) for row in rows}


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def alert_delta(alert: Alert, place: tuple[str, str] | None = None) -> dict:
    """The walls' view of an alert (the `alert` socket event): codes, figures and its reason in both languages
    (place: the region's Chinese and English names, as region_names gives them)."""
    kind, category = _code(alert.kind), _code(alert.category)
    place_zh, place_en = place or (None, None)
    return {
        "type": "alert",
        "id": alert.id,
        "kind": kind,
        "status": _code(alert.status),
        "region_code": alert.region_code,
        "category": category,
        "raised_at": _iso(alert.raised_at),
        "details": alert.details,
        "text_zh": reason_text(kind, alert.details, "zh", category=category, place=place_zh),
        "text_en": reason_text(kind, alert.details, "en", category=category, place=place_en),
    }


def alert_payload(alert: Alert, place: tuple[str, str] | None = None) -> dict:
    """The `alert_raised` outbox event's payload: the alert's codes, figures and reason in Chinese; nothing personal."""
    kind, category = _code(alert.kind), _code(alert.category)
    place = place[0] if place else None
    return {
        "event": WebhookEvent.ALERT_RAISED.value,
        "occurred_at": _iso(alert.raised_at),
        "actor": SYSTEM_ACTOR,
        "note": None,
        "alert": {
            "id": alert.id,
            "kind": kind,
            "region_code": alert.region_code,
            "region_name": place,
            "category": category,
            "department_id": alert.department_id,
            "appeal_id": alert.appeal_id,
            "raised_at": _iso(alert.raised_at),
            "details": alert.details,
            "reason": reason_text(kind, alert.details, "zh", category=category, place=place),
        },
    }
