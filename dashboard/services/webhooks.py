"""Webhooks (issue 16): managing them (the CLI and /admin share these functions, each change audited in
its own transaction) and delivering the outbox's events (the scheduler's shared job).

Delivery is at least once. A worker claims due deliveries (FOR UPDATE SKIP LOCKED on PostgreSQL),
counting the attempt and setting a lease (domain.webhooks.CLAIM_LEASE) as their next attempt time,
and commits before it POSTs: a worker killed mid-attempt leaves the delivery pending, due again
when the lease ends. After the POST it records the outcome: 2xx is delivered; anything else waits
for a retry (exponential backoff with full jitter) until the retry window is over, then the
delivery is dead (a dead letter, replayable). Receivers de-duplicate by the event id header.
See docs/WEBHOOKS.md.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from dashboard.domain import clock
from dashboard.domain.regions import ancestors, level_of
from dashboard.domain.vocab import Category, Channel, Priority, RegionLevel
from dashboard.domain.webhooks import (
    CLAIM_LEASE,
    DELIVERY_HEADER,
    EVENT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMEOUT_SECONDS,
    URL_SCHEMES,
    BodyFormat,
    DeliveryStatus,
    FilterKind,
    WebhookEvent,
    events_text,
    next_attempt,
    parse_events,
    signature,
)
from dashboard.queries.webhooks import WebhookView, webhook_view
from dashboard.services.admin import AdminError, _audit, _id, _text
from dashboard.services.workflow import team_by_code
from dashboard.store import metrics
from dashboard.store.database import db
from dashboard.store.models import Appeal, Department, OutboxEvent, Region, Team, Webhook, WebhookDelivery
from dashboard.ui.i18n import label, t

log = logging.getLogger(__name__)

MAX_URL_LENGTH = 500  # the column's width
CLAIM_BATCH = 50  # deliveries claimed (and sent in parallel) per pass
SENDERS = 8  # parallel POSTs: one slow receiver does not hold up the others of a pass
POLL_SECONDS = 0.1  # how often the worker looks for due deliveries while its job runs
MAX_ERROR_LENGTH = 300


# ---------------------------------------------------------------------------- management


def _url(value: object) -> str:
    """An http(s) URL with a host."""
    url = _text(value, "url", max_length=MAX_URL_LENGTH)
    parts = urlsplit(url)
    if parts.scheme.lower() not in URL_SCHEMES:
        raise AdminError("url", "url_scheme", scheme=parts.scheme or "-")
    if not parts.hostname:
        raise AdminError("url", "invalid")
    return url


def _events(value: object) -> str:
    try:
        events = parse_events(value)
    except ValueError as error:
        known = ", ".join(WebhookEvent)
        raise AdminError("events", "event_unknown", value=str(error)[:40], known=known) from None
    if not events:
        raise AdminError("events", "required")
    return events_text(events)


def _filter(session, kind: object, value: object) -> tuple[str | None, str | None]:
    """At most one filter: its kind and a value that names an existing department, team, region or channel."""
    if kind in (None, "") and value in (None, ""):
        return None, None
    if not isinstance(kind, str) or kind not in {k.value for k in FilterKind}:
        raise AdminError("filter", "invalid")
    code = _text(value, f"filter_{kind}", max_length=64)
    match kind:
        case FilterKind.DEPARTMENT:
            if session.scalar(select(Department.id).where(Department.code == code)) is None:
                raise AdminError("filter_department", "department_unknown", code=code)
        case FilterKind.TEAM:
            if team_by_code(session, code) is None:
                raise AdminError("filter_team", "team_unknown", code=code)
        case FilterKind.REGION:
            try:
                level_of(code)
            except ValueError:
                raise AdminError("filter_region", "region_unknown", code=code) from None
            if session.get(Region, code) is None:
                raise AdminError("filter_region", "region_unknown", code=code)
        case FilterKind.SOURCE:
            if code not in {c.value for c in Channel}:
                raise AdminError("filter_source", "channel", value=code[:40])
    return kind, code


def _format(value: object) -> str:
    if value in (None, ""):
        return BodyFormat.JSON.value
    if not isinstance(value, str) or value not in {f.value for f in BodyFormat}:
        raise AdminError("format", "webhook_format", known=", ".join(BodyFormat))
    return value


def _webhook(session, name: object) -> Webhook:
    """The webhook with this name, locked for the change."""
    name = _text(name, "name")
    row = session.scalar(select(Webhook).where(Webhook.name == name).with_for_update())
    if row is None:
        raise AdminError("name", "no_webhook", name=name)
    return row


def create_webhook(
    actor: str,
    name: object,
    url: object,
    events: object,
    filter_kind: object = None,
    filter_value: object = None,
    body_format: object = None,
    trusted: bool = False,
) -> tuple[WebhookView, str]:
    """Add a webhook; returns it with its signing secret, to be shown once (it is needed to check signatures)."""
    name = _text(name, "name")
    url = _url(url)
    stored_events = _events(events)
    body_format = _format(body_format)
    secret = secrets.token_hex(32)
    with db.transaction() as session:
        kind, value = _filter(session, filter_kind, filter_value)
        if session.scalar(select(Webhook.id).where(Webhook.name == name)) is not None:
            raise AdminError("name", "webhook_taken", name=name)
        row = Webhook(
            name=name,
            url=url,
            secret=secret,
            events=stored_events,
            filter_kind=kind,
            filter_value=value,
            body_format=body_format,
            trusted=bool(trusted),
            active=True,
            created_at=clock.utcnow(),
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            raise AdminError("name", "webhook_taken", name=name) from None
        detail = {"url": url, "events": stored_events, "filter": kind and f"{kind}:{value}", "format": body_format}
        _audit(session, actor, "webhook_create", f"webhook:{row.id}:{name}", {**detail, "trusted": bool(trusted)})
        if trusted:  # personal data leaves the system: its own entry, as the toggle writes
            _audit(session, actor, "webhook_trusted", f"webhook:{row.id}:{name}", {"trusted": True})
        return webhook_view(row), secret


def set_webhook_active(actor: str, name: object, active: bool) -> WebhookView:
    """Disable a webhook (its pending deliveries wait, unsent) or enable it again."""
    with db.transaction() as session:
        row = _webhook(session, name)
        if row.active != active:
            row.active = active
            row.disabled_at = None if active else clock.utcnow()
            _audit(session, actor, "webhook_enable" if active else "webhook_disable", f"webhook:{row.id}:{row.name}")
        session.flush()
        return webhook_view(row)


def set_webhook_trusted(actor: str, name: object, trusted: bool) -> WebhookView:
    """Mark a webhook as an internal trusted system (it then receives reporters' names, phones and addresses) or not."""
    with db.transaction() as session:
        row = _webhook(session, name)
        if row.trusted != trusted:
            row.trusted = trusted
            _audit(session, actor, "webhook_trusted", f"webhook:{row.id}:{row.name}", {"trusted": trusted})
        session.flush()
        return webhook_view(row)


def replay_deliveries(
    actor: str, delivery_id: object = None, dead: bool = False, webhook_name: object = None
) -> list[int]:
    """Queue deliveries again: one by id (whatever its status), or every dead one (of one webhook when named).

    A replayed delivery starts over: no attempts, due now, a new retry window. Returns their ids.
    """
    if delivery_id in (None, "") and not dead:
        raise AdminError("delivery", "required")
    now = clock.utcnow()
    with db.transaction() as session:
        query = select(WebhookDelivery).with_for_update()
        if delivery_id not in (None, ""):
            query = query.where(WebhookDelivery.id == _id(delivery_id, "delivery"))
        else:
            query = query.where(WebhookDelivery.status == DeliveryStatus.DEAD.value)
        if webhook_name not in (None, ""):
            webhook = session.scalar(select(Webhook).where(Webhook.name == _text(webhook_name, "name")))
            if webhook is None:
                raise AdminError("name", "no_webhook", name=str(webhook_name)[:64])
            query = query.where(WebhookDelivery.webhook_id == webhook.id)
        rows = session.scalars(query.order_by(WebhookDelivery.id)).all()
        if not rows and delivery_id not in (None, ""):
            raise AdminError("delivery", "no_delivery", id=str(delivery_id)[:20])
        for row in rows:
            before = {"status": row.status, "attempts": row.attempts}
            row.status = DeliveryStatus.PENDING.value
            row.attempts = 0
            row.next_attempt_at = now
            row.created_at = now  # the retry window counts from the replay
            row.delivered_at = None
            _audit(session, actor, "webhook_replay", f"delivery:{row.id}", before)
        return [row.id for row in rows]


# ---------------------------------------------------------------------------- bodies


def _local(iso: str | None, timezone: str = "Asia/Shanghai") -> str:
    """An ISO instant as local time for people to read (2026-10-01 23:45)."""
    if not iso:
        return "-"
    return dt.datetime.fromisoformat(iso).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _label(enum_cls, code: str | None, lang: str) -> str:
    try:
        return label(enum_cls(code), lang)
    except ValueError:
        return code or "-"


def message(payload: dict, lang: str = "zh", timezone: str = "Asia/Shanghai") -> tuple[str, str]:
    """A group robot's message of an event: (title, markdown text), masked as the payload is."""
    if "alert" in payload:
        return _alert_message(payload, lang, timezone)
    appeal = payload["appeal"]
    event = _label(WebhookEvent, payload["event"], lang)
    title = t("webhooks.msg_title", lang, event=event, id=appeal["id"])
    assignee = appeal.get("team_name") or appeal.get("department_name") or "-"
    lines = [
        f"### {title}",
        t("webhooks.msg_category", lang, value=_label(Category, appeal["category"], lang)),
        t("webhooks.msg_priority", lang, value=_label(Priority, appeal["priority"], lang)),
        t("webhooks.msg_region", lang, value=appeal.get("region_path") or appeal["region_code"]),
        t("webhooks.msg_level", lang, value=_label(RegionLevel, appeal["level"], lang)),
        t("webhooks.msg_assignee", lang, value=assignee),
        t("webhooks.msg_deadline", lang, value=_local(appeal["deadline_at"], timezone)),
        t("webhooks.msg_time", lang, value=_local(payload["occurred_at"], timezone)),
        t("webhooks.msg_source", lang, value=_label(Channel, appeal["source"], lang), id=appeal["external_id"]),
    ]
    if appeal.get("description"):
        lines.append(t("webhooks.msg_description", lang, value=appeal["description"]))
    if payload.get("note"):
        lines.append(t("webhooks.msg_note", lang, value=payload["note"]))
    lines.append(t("webhooks.msg_actor", lang, value=payload.get("actor") or "-"))
    return title, "\n".join(lines[:1] + [f"> {line}" for line in lines[1:]])


def _alert_message(payload: dict, lang: str, timezone: str) -> tuple[str, str]:
    """An `alert_raised` event's message (issue 19): its kind, region, category, reason and time."""
    alert = payload["alert"]
    kind = t(f"AlertKind.{alert['kind']}", lang)
    title = t("alerts.msg_title", lang, kind=kind)
    lines = [
        f"### {title}",
        t("webhooks.msg_region", lang, value=alert.get("region_path") or alert["region_code"]),
        t("webhooks.msg_category", lang, value=_label(Category, alert.get("category"), lang)),
        t("alerts.msg_reason", lang, value=alert.get("reason") or "-"),
        t("webhooks.msg_time", lang, value=_local(payload["occurred_at"], timezone)),
    ]
    return title, "\n".join(lines[:1] + [f"> {line}" for line in lines[1:]])


def body(
    body_format: str, event_id: str, payload: dict, reporter: dict | None, timezone: str = "Asia/Shanghai"
) -> bytes:
    """The raw body POSTed (and signed): the generic JSON event, or a WeCom / DingTalk robot's markdown message.

    reporter: a trusted webhook's personal data, read from the appeal when sending (None: masked only).
    """
    full = {"event_id": event_id, **payload}
    if reporter is not None and "appeal" in payload:  # an alert's event has no appeal and no person
        appeal = {**payload["appeal"]}
        if reporter.get("description"):
            appeal["description"] = reporter["description"]
        full = {**full, "appeal": appeal, "reporter": {k: reporter.get(k) for k in ("name", "phone", "address")}}
    if body_format == BodyFormat.JSON:
        document = full
    else:
        title, text = message(full, "zh", timezone)
        if reporter is not None:
            people = full["reporter"]
            text += "\n> " + t("webhooks.msg_reporter", "zh", **{k: people[k] or "-" for k in people})
        if body_format == BodyFormat.WECOM:
            document = {"msgtype": "markdown", "markdown": {"content": text}}
        else:
            document = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


# ---------------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class Attempt:
    """A claimed delivery: everything needed to send it without the database."""

    delivery_id: int
    attempts: int  # this attempt's number: the outcome is recorded only if nobody claimed it since
    queued_at: dt.datetime
    webhook: str
    url: str
    secret: str
    body_format: str
    event: str
    event_id: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """What one POST did."""

    ok: bool
    status: int | None
    error: str | None


def claim(database, now: dt.datetime | None = None, limit: int = CLAIM_BATCH, timezone="Asia/Shanghai") -> list:
    """Claim due deliveries of active webhooks and commit: each attempt is counted and leased before it is sent."""
    now = now or clock.utcnow()
    with database.transaction() as session:
        rows = session.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.attempts,
                WebhookDelivery.created_at,
                Webhook.name,
                Webhook.url,
                Webhook.secret,
                Webhook.body_format,
                Webhook.trusted,
                OutboxEvent.event,
                OutboxEvent.event_id,
                OutboxEvent.appeal_id,
                OutboxEvent.region_code,
                OutboxEvent.department_id,
                OutboxEvent.team_id,
                OutboxEvent.payload,
            )
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
                WebhookDelivery.next_attempt_at <= now,
                Webhook.active,
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        ).all()
        if not rows:
            return []
        people = _people(session, {row.appeal_id for row in rows if row.trusted and row.appeal_id})
        names = _names(session, rows)
        # Counted and leased in one statement, the transaction's only write (SQLite holds its one write lock
        # from here to the commit): a killed worker's attempt is due again when the lease ends.
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([row.id for row in rows]))
            .values(attempts=WebhookDelivery.attempts + 1, last_attempt_at=now, next_attempt_at=now + CLAIM_LEASE)
            .execution_options(synchronize_session=False)
        )
    return [  # the bodies are built after the commit: no lock is held meanwhile
        Attempt(
            delivery_id=row.id,
            attempts=row.attempts + 1,
            queued_at=row.created_at,
            webhook=row.name,
            url=row.url,
            secret=row.secret,
            body_format=row.body_format,
            event=row.event,
            event_id=row.event_id,
            body=body(
                row.body_format,
                row.event_id,
                _named(row, names),
                (people.get(row.appeal_id) or {}) if row.trusted else None,
                timezone,
            ),
        )
        for row in rows
    ]


def _people(session, appeal_ids: set[int]) -> dict:
    """The personal data trusted webhooks receive, read from the appeals when sending (never kept in the outbox)."""
    if not appeal_ids:
        return {}
    query = select(Appeal.id, Appeal.reporter_name, Appeal.reporter_phone, Appeal.address, Appeal.description)
    return {
        row.id: {"name": row.reporter_name, "phone": row.reporter_phone, "address": row.address,
                 "description": row.description}
        for row in session.execute(query.where(Appeal.id.in_(appeal_ids)))
    }  # fmt: skip


def _names(session, events) -> dict:
    """Names of the regions (and those above them), departments and teams of claimed events: three queries."""
    codes = {
        code for event in events if event.region_code for code in [*ancestors(event.region_code), event.region_code]
    }
    department_ids = {event.department_id for event in events if event.department_id is not None}
    team_ids = {event.team_id for event in events if event.team_id is not None}
    regions = dict(session.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all())
    departments, teams = {}, {}
    if department_ids:
        query = select(Department.id, Department.code, Department.name).where(Department.id.in_(department_ids))
        departments = {row.id: (row.code, row.name) for row in session.execute(query)}
    if team_ids:
        for team in session.scalars(select(Team).where(Team.id.in_(team_ids))):
            teams[team.id] = (team.code, team.name)
    return {"regions": regions, "departments": departments, "teams": teams}


def _named(event, names: dict) -> dict:
    """An event's stored payload with the names (and codes) of its region, department and team."""
    regions = names["regions"]
    path = [regions[code] for code in [*ancestors(event.region_code), event.region_code] if code in regions]
    if "alert" in event.payload:  # an alert's event (issue 19): only its region's path
        return {**event.payload, "alert": {**event.payload["alert"], "region_path": " / ".join(path)}}
    department = names["departments"].get(event.department_id, (None, None))
    team = names["teams"].get(event.team_id, (None, None))
    appeal = {
        **event.payload["appeal"],
        "region_name": regions.get(event.region_code),
        "region_path": " / ".join(path),
        "department_code": department[0],
        "department_name": department[1],
        "team_code": team[0],
        "team_name": team[1],
    }
    return {**event.payload, "appeal": appeal}


_local_sessions = threading.local()


def _http() -> requests.Session:
    """A keep-alive HTTP session per sending thread."""
    session = getattr(_local_sessions, "session", None)
    if session is None:
        session = _local_sessions.session = requests.Session()
    return session


def send(attempt: Attempt) -> Outcome:
    """POST one attempt (5 s timeout, no redirects); 2xx is delivered (a robot's errcode other than 0 is not)."""
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        EVENT_HEADER: attempt.event,
        EVENT_ID_HEADER: attempt.event_id,
        DELIVERY_HEADER: str(attempt.delivery_id),
        SIGNATURE_HEADER: signature(attempt.secret, attempt.body),
        "User-Agent": "community-command-center-webhooks/1",
    }
    try:
        response = _http().post(
            attempt.url, data=attempt.body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False
        )
    except requests.RequestException as error:
        return Outcome(False, None, f"{error.__class__.__name__}: {error}"[:MAX_ERROR_LENGTH])
    if not 200 <= response.status_code < 300:
        return Outcome(False, response.status_code, response.text[:MAX_ERROR_LENGTH] or None)
    if attempt.body_format != BodyFormat.JSON:
        try:  # a group robot answers 200 with {"errcode": 45009, ...} when it refuses a message
            answer = response.json()
        except ValueError:
            answer = {}
        if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
            return Outcome(False, response.status_code, f"errcode {answer.get('errcode')}: {answer.get('errmsg')}")
    return Outcome(True, response.status_code, None)


def _outcome_values(attempt: Attempt, outcome: Outcome, now: dt.datetime) -> dict:
    """The delivery's columns after an attempt: delivered, due again after a backoff, or dead."""
    values = {"last_status": outcome.status, "last_error": outcome.error, "status": DeliveryStatus.PENDING.value}
    values |= {"delivered_at": None, "next_attempt_at": now}  # a delivered or dead one is never due again
    if outcome.ok:
        return values | {"status": DeliveryStatus.DELIVERED.value, "delivered_at": now}
    due = next_attempt(attempt.queued_at, now, attempt.attempts)
    return values | ({"status": DeliveryStatus.DEAD.value} if due is None else {"next_attempt_at": due})


def _record_statement():
    """UPDATE of one attempt's outcome, unless its delivery was claimed again (or replayed) since."""
    table = WebhookDelivery.__table__
    columns = ("status", "delivered_at", "next_attempt_at", "last_status", "last_error")
    return (
        table.update()
        .where(
            table.c.id == bindparam("b_id"),
            table.c.attempts == bindparam("b_attempts"),
            table.c.status == DeliveryStatus.PENDING.value,
        )
        .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
    )


_RECORD = _record_statement()


def record(database, results: list[tuple[Attempt, Outcome]], now: dt.datetime | None = None) -> None:
    """Store the outcomes of a pass's attempts in one statement; a delivery claimed again since is left alone."""
    now = now or clock.utcnow()
    rows = [
        {"b_id": attempt.delivery_id, "b_attempts": attempt.attempts, **_outcome_values(attempt, outcome, now)}
        for attempt, outcome in results
    ]
    with database.transaction() as session:
        session.connection().execute(_RECORD, rows)
    for attempt, outcome in results:
        if not outcome.ok:
            metrics.delivery_failed(attempt.webhook)
            log.info(
                "webhook %s: delivery %d of %s failed (attempt %d): %s",
                attempt.webhook,
                attempt.delivery_id,
                attempt.event,
                attempt.attempts,
                outcome.error or outcome.status,
            )


_senders: ThreadPoolExecutor | None = None
_senders_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _senders
    with _senders_lock:
        if _senders is None:
            _senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="webhook-send")
        return _senders


def deliver_due(database=db, now=None, limit: int = CLAIM_BATCH, timezone="Asia/Shanghai", sender=send) -> int:
    """One pass: claim what is due, POST it (in parallel), record each outcome. Returns how many were attempted.

    now: pinned by tests (the clock of the retry schedule); None is the real clock, read at each step.
    """
    attempts = claim(database, now, limit, timezone)
    if not attempts:
        return 0
    outcomes = list(_pool().map(sender, attempts)) if len(attempts) > 1 else [sender(attempts[0])]
    record(database, list(zip(attempts, outcomes, strict=True)), now)
    return len(attempts)


def run_for(
    database=db, seconds: float = 0.9, poll: float = POLL_SECONDS, timezone="Asia/Shanghai", keep_going=None
) -> int:
    """Deliver for about `seconds` (or until keep_going() says no), looking for due deliveries every `poll`
    seconds: the scheduler's job body. Returns how many attempts were made."""
    end = time.monotonic() + seconds
    total = 0
    while keep_going is None or keep_going():
        done = deliver_due(database, timezone=timezone)
        total += done
        remaining = end - time.monotonic()
        if remaining <= 0:
            break
        if not done:
            time.sleep(min(poll, remaining))
    return total
