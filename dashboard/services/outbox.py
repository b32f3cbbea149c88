"""The transactional outbox (issue 16): a workflow event is written in the same transaction as the step
that caused it, with one pending delivery per active webhook that wants it; services.webhooks
delivers them after commit. A step that rolls back leaves no event and sends nothing.

Callers: services.workflow.apply (one call per step, domain.webhooks.STEP_EVENTS),
services.ingest (an open extra-urgent appeal arrives; a feed resolves or closes an appeal), the
scheduler's overdue scan (enqueue_overdue) and its alerts job (enqueue_alerts: events of no appeal).

The stored payload is masked (domain.pii) whoever receives it: a trusted webhook's personal data
is read from the appeal when it is sent (services.webhooks), never kept in the outbox; so are the
names of the event's region, department and team (from the event's codes and ids), which keeps a
step's cost to one statement on PostgreSQL and two on SQLite (bench/outbox: well under 1 ms).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Boolean, String, and_, bindparam, cast, exists, literal, or_, select, true
from sqlalchemy.orm import Session

from dashboard.domain import clock
from dashboard.domain.overdue import overdue_now_sql
from dashboard.domain.pii import mask_address, mask_free_text
from dashboard.domain.webhooks import DeliveryStatus, WebhookEvent, event_pattern, matches_sql, wants_event_sql
from dashboard.store.models import Appeal, Department, OutboxEvent, Team, Webhook, WebhookDelivery

DESCRIPTION_LENGTH = 200  # of the masked description a payload carries: enough to act on
NOTE_LENGTH = 500
# The overdue scan: appeals whose deadline passed at most this long ago (older ones are not news:
# a webhook added today is not flooded with last year's overdue appeals), this many per run.
OVERDUE_LOOKBACK = dt.timedelta(hours=24)
OVERDUE_BATCH = 500
SYSTEM_ACTOR = "system"
EVENTS, DELIVERIES = OutboxEvent.__table__, WebhookDelivery.__table__

# The appeal columns an event's facts are read from (an Appeal object or a row of these columns).
FACT_COLUMNS = (
    Appeal.id,
    Appeal.source,
    Appeal.external_id,
    Appeal.category,
    Appeal.priority,
    Appeal.status,
    Appeal.level,
    Appeal.region_code,
    Appeal.department_id,
    Appeal.team_id,
    Appeal.reported_at,
    Appeal.deadline_at,
    Appeal.resolved_at,
    Appeal.closed_at,
    Appeal.urge_count,
    Appeal.duplicate_of_id,
    Appeal.description,
    Appeal.address,
)


@dataclass(frozen=True)
class Pending:
    """One event to write: what happened to which appeal (an Appeal or a row of FACT_COLUMNS), when, by whom."""

    event: WebhookEvent
    appeal: object
    at: dt.datetime
    actor: str
    note: str | None = None


def _code(value):
    return getattr(value, "value", value)


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def enqueue(session: Session, event: WebhookEvent | str, appeal: Appeal, at: dt.datetime, transition=None) -> None:
    """Write one event of an appeal (and its deliveries) in the caller's transaction (actor and note: transition's)."""
    actor = transition.actor if transition is not None else SYSTEM_ACTOR
    note = transition.note if transition is not None else None
    enqueue_many(session, [Pending(WebhookEvent(event), appeal, at, actor, note)])


def enqueue_for_ids(session: Session, items: Iterable[tuple[WebhookEvent, int, dt.datetime, str]]) -> int:
    """Events of appeals given by id (event, appeal id, time, actor), their facts read in one query: the bulk paths."""
    items = list(items)
    if not items:
        return 0
    ids = sorted({appeal_id for _, appeal_id, _, _ in items})
    rows = {}
    for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        chunk = ids[start : start + 900]
        rows.update((row.id, row) for row in session.execute(select(*FACT_COLUMNS).where(Appeal.id.in_(chunk))))
    pending = [Pending(event, rows[key], at, actor) for event, key, at, actor in items if key in rows]
    return enqueue_many(session, pending)


def enqueue_many(session: Session, pending: list[Pending]) -> int:
    """Write events and their deliveries in the caller's transaction: one INSERT of the events, one
    INSERT … SELECT of their deliveries from the active webhooks whose filters match (domain.webhooks.
    matches_sql). Names of regions, departments and teams are added when sending (services.webhooks).
    Returns the number of deliveries queued."""
    if not pending:
        return 0
    # Core statements on the session's connection (the same transaction): one or two round trips per step.
    connection = session.connection()
    now = clock.utcnow()
    events = [
        {
            "event_id": str(uuid.uuid4()),
            "event": item.event.value,
            "occurred_at": item.at,
            "appeal_id": item.appeal.id,
            "region_code": item.appeal.region_code,
            "department_id": item.appeal.department_id,
            "team_id": item.appeal.team_id,
            "source": _code(item.appeal.source),
            "payload": _facts(item),
        }
        for item in pending
    ]
    parameters = [
        {
            "pattern": event_pattern(event["event"]),
            "region": event["region_code"],
            "department": event["department_id"],
            "team": event["team_id"],
            "source": event["source"],
            "echo": item.actor == f"feed:{event['source']}",
            "now": now,
        }
        for event, item in zip(events, pending, strict=True)
    ]
    if len(events) == 1 and connection.dialect.name == "postgresql":
        # A workflow step on PostgreSQL: the event and its deliveries in one statement (one round trip).
        result = connection.execute(_EVENT_AND_DELIVERIES, {**parameters[0], **events[0]})
        return max(result.rowcount, 0)
    # The deliveries' INSERT … SELECT runs once per event: skip it when no active webhook takes any of
    # these events (an import of a district's history has tens of thousands of arrival events), and
    # then the events need no ids back: one executemany instead of an INSERT … RETURNING per row,
    # which is what SQLite's driver does for many rows.
    if len(events) > 1 and not _any_webhook_wants(connection, {values["pattern"] for values in parameters}):
        connection.execute(EVENTS.insert(), events)
        return 0
    if len(events) == 1:
        ids = [connection.execute(EVENTS.insert().returning(EVENTS.c.id), events[0]).scalar_one()]
    else:
        returning = EVENTS.insert().returning(EVENTS.c.id, sort_by_parameter_order=True)
        ids = connection.execute(returning, events).scalars().all()
    for row_id, values in zip(ids, parameters, strict=True):
        values["row_id"] = row_id
    result = connection.execute(_DELIVERIES_OF_EVENT, parameters)
    return max(result.rowcount, 0)


def _any_webhook_wants(connection, patterns: set[str]) -> bool:
    """Whether an active webhook takes events of any of these codes (their LIKE patterns)."""
    hooks = Webhook.__table__
    wanted = select(hooks.c.id).where(hooks.c.active, or_(*(wants_event_sql(hooks, p) for p in patterns))).limit(1)
    return connection.execute(wanted).first() is not None


def enqueue_alerts(session: Session, raised: list[tuple[object, dict]]) -> int:
    """`alert_raised` events (issue 19) and their deliveries in the caller's transaction: events of no
    appeal (appeal_id empty), matched by the alert's region and department. `raised`: (alert, payload)
    pairs — the alert anything with region_code, department_id and raised_at; the payload services.alerts's,
    nothing personal. One INSERT of the events, one of their deliveries. Returns the deliveries queued."""
    if not raised:
        return 0
    connection = session.connection()
    now = clock.utcnow()
    events = [
        {
            "event_id": str(uuid.uuid4()),
            "event": WebhookEvent.ALERT_RAISED.value,
            "occurred_at": alert.raised_at,
            "appeal_id": None,
            "region_code": alert.region_code,
            "department_id": alert.department_id,
            "team_id": None,
            "source": None,
            "payload": payload,
        }
        for alert, payload in raised
    ]
    returning = EVENTS.insert().returning(EVENTS.c.id, sort_by_parameter_order=True)
    ids = connection.execute(returning, events).scalars().all()
    # The deliveries' INSERT … SELECT runs once per event: skip it when no active webhook takes alerts
    # (a first run over a district raises some 1,700 alerts; 1,700 statements were most of its time).
    pattern = event_pattern(WebhookEvent.ALERT_RAISED.value)
    if not _any_webhook_wants(connection, {pattern}):
        return 0
    parameters = [
        {"row_id": row_id, "pattern": pattern, "region": event["region_code"], "department": event["department_id"],
         "team": None, "source": None, "echo": False, "now": now}
        for row_id, event in zip(ids, events, strict=True)
    ]  # fmt: skip
    return max(connection.execute(_DELIVERIES_OF_EVENT, parameters).rowcount, 0)


def _deliveries_of_event(with_event: bool = False):
    """INSERT … SELECT: one pending delivery of an event (its id: the parameter row_id) per active webhook
    that wants it; with_event: the event's own INSERT in a WITH before it (PostgreSQL), its values as
    parameters named like its columns."""
    department_code = select(Department.code).where(Department.id == bindparam("department")).scalar_subquery()
    team = Team.__table__
    code = team.c.region_code + literal("/") + cast(team.c.kind, String)  # Team.code
    team_code = select(code).where(team.c.id == bindparam("team")).scalar_subquery()
    hooks = Webhook.__table__
    now = bindparam("now", type_=DELIVERIES.c.created_at.type)
    wanted = matches_sql(
        hooks,
        bindparam("pattern", type_=String),
        cast(bindparam("region", type_=String), String),
        department_code,
        team_code,
        bindparam("source", type_=String),
        bindparam("echo", type_=Boolean),
    )
    event_id = bindparam("row_id", type_=DELIVERIES.c.event_id.type)
    written = None
    if with_event:
        names = [column.name for column in EVENTS.c if column.name != "id"]
        values = {name: bindparam(name, type_=EVENTS.c[name].type) for name in names}
        written = EVENTS.insert().values(values).returning(EVENTS.c.id).cte("written")
        event_id = written.c.id
    rows = select(event_id, hooks.c.id, literal(DeliveryStatus.PENDING.value), literal(0), now, now)
    rows = rows.where(hooks.c.active, wanted)
    if written is not None:
        rows = rows.select_from(written).join(hooks, true())
    columns = ["event_id", "webhook_id", "status", "attempts", "next_attempt_at", "created_at"]
    statement = DELIVERIES.insert().from_select(columns, rows)
    return statement.add_cte(written) if written is not None else statement


_DELIVERIES_OF_EVENT = _deliveries_of_event()
_EVENT_AND_DELIVERIES = _deliveries_of_event(with_event=True)


def _facts(item: Pending) -> dict:
    """An event's payload: codes, times and masked text of the appeal as it is at the event."""
    appeal = item.appeal
    return {
        "event": item.event.value,
        "occurred_at": _iso(item.at),
        "actor": mask_free_text(item.actor or SYSTEM_ACTOR)[:64],
        "note": mask_free_text(item.note)[:NOTE_LENGTH] if item.note else None,
        "appeal": {
            "id": appeal.id,
            "external_id": appeal.external_id,
            "source": _code(appeal.source),
            "category": _code(appeal.category),
            "priority": _code(appeal.priority),
            "status": _code(appeal.status),
            "level": _code(appeal.level),
            "region_code": appeal.region_code,
            "reported_at": _iso(appeal.reported_at),
            "deadline_at": _iso(appeal.deadline_at),
            "resolved_at": _iso(appeal.resolved_at),
            "closed_at": _iso(appeal.closed_at),
            "urge_count": appeal.urge_count or 0,
            "duplicate_of": appeal.duplicate_of_id,
            "description": mask_free_text(appeal.description)[:DESCRIPTION_LENGTH],
            "address": mask_address(appeal.address) or None,
        },
    }


def enqueue_overdue(session: Session, now: dt.datetime | None = None, limit: int = OVERDUE_BATCH) -> int:
    """An `overdue` event for each open appeal past its deadline (domain.overdue) without one yet; returns how many."""
    now = now or clock.utcnow()
    already = exists().where(and_(OutboxEvent.appeal_id == Appeal.id, OutboxEvent.event == WebhookEvent.OVERDUE.value))
    rows = session.execute(
        select(*FACT_COLUMNS)
        .where(
            overdue_now_sql(Appeal.is_open, Appeal.deadline_at, now),
            Appeal.deadline_at >= now - OVERDUE_LOOKBACK,
            ~already,
        )
        .order_by(Appeal.deadline_at)
        .limit(limit)
    ).all()
    enqueue_many(session, [Pending(WebhookEvent.OVERDUE, row, row.deadline_at, SYSTEM_ACTOR) for row in rows])
    return len(rows)
