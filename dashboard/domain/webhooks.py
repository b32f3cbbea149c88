"""Webhook rules (issue 16): the events, which step raises which, what a webhook's filter matches,
the retry schedule and the signature. One implementation each; services.outbox and
services.webhooks, the CLI and /admin all read them from here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, func, literal, or_

from dashboard.domain.vocab import TransitionAction


class WebhookEvent(StrEnum):
    DISPATCHED = "dispatched"  # 派遣: to a department or a team
    URGED = "urged"  # 督办
    ESCALATED = "escalated"  # 上报: to the level above
    EXTRA_URGENT_RECEIVED = "extra_urgent_received"  # an open extra-urgent appeal arrived (街社呼叫)
    RESOLVED = "resolved"  # 办结
    CLOSED = "closed"  # 结案 (also a duplicate linked to another appeal)
    RETURNED = "returned"  # 退回
    OVERDUE = "overdue"  # passed its deadline while open (once per appeal)
    ALERT_RAISED = "alert_raised"  # an early warning (issue 19): a surge, a repeat, an appeal at risk; no appeal row


E = WebhookEvent
A = TransitionAction
# The workflow step that raises each event; other steps raise none.
STEP_EVENTS: dict[TransitionAction, WebhookEvent] = {
    A.DISPATCH: E.DISPATCHED,
    A.URGE: E.URGED,
    A.ESCALATE: E.ESCALATED,
    A.RESOLVE: E.RESOLVED,
    A.CLOSE: E.CLOSED,
    A.LINK_DUPLICATE: E.CLOSED,  # the copy is closed: its source still needs an outcome
    A.RETURN: E.RETURNED,
}


class FilterKind(StrEnum):
    DEPARTMENT = "department"  # a department's code
    TEAM = "team"  # a team's code, "<community code>/<kind>"
    REGION = "region"  # a region's code: appeals in it or below it
    SOURCE = "source"  # a channel (domain.vocab.Channel)


class BodyFormat(StrEnum):
    JSON = "json"  # the generic JSON event
    WECOM = "wecom"  # 企业微信 group robot: markdown message
    DINGTALK = "dingtalk"  # 钉钉 group robot: markdown message


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


URL_SCHEMES = ("http", "https")
TIMEOUT_SECONDS = 5.0  # one POST
RETRY_BASE_SECONDS = 5.0  # the first retry waits up to this long, each later one up to twice as long …
RETRY_CAP_SECONDS = 30 * 60.0  # … but never more than this
RETRY_WINDOW = dt.timedelta(hours=24)  # from when the delivery was queued (or replayed); then dead
# A claimed attempt's lease: a worker killed mid-attempt leaves the delivery pending, due again after it.
CLAIM_LEASE = dt.timedelta(seconds=60)

SIGNATURE_HEADER = "X-CC-Signature"
EVENT_HEADER = "X-CC-Event"
EVENT_ID_HEADER = "X-CC-Event-Id"
DELIVERY_HEADER = "X-CC-Delivery"


def parse_events(value: object) -> tuple[WebhookEvent, ...]:
    """Event codes as a list or comma-separated text, in WebhookEvent's order; ValueError names an unknown one."""
    words = value.split(",") if isinstance(value, str) else list(value or ())
    chosen = set()
    for word in words:
        word = str(word).strip()
        if not word:
            continue
        try:
            chosen.add(WebhookEvent(word))
        except ValueError:
            raise ValueError(word) from None
    return tuple(event for event in WebhookEvent if event in chosen)


def events_text(events: tuple[WebhookEvent, ...]) -> str:
    """Events as the webhooks table stores them: comma-separated codes."""
    return ",".join(event.value for event in events)


def event_pattern(event: str) -> str:
    """The LIKE pattern that finds an event code in a webhook's stored events (",a,b," holds ",a,")."""
    return "%," + event.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ",%"


def wants_event_sql(webhook, event) -> ColumnElement[bool]:
    """Whether a webhook (its table's columns) takes events of a code, as SQL (event: its LIKE pattern)."""
    return (literal(",") + webhook.c.events + literal(",")).like(event, escape="\\")


def matches_sql(webhook, event, region_code, department_code, team_code, source, echo) -> ColumnElement[bool]:
    """Whether a webhook (its table's columns) wants an event of an appeal, as SQL.

    The event's facts are SQL expressions (bound parameters, or subqueries for the codes): the event
    code's LIKE pattern (event_pattern), the appeal's region, department and team codes and source at
    the event, and echo: whether the appeal's own source's feed did it (feed:<source>). A region
    filter is "this region or below" (domain.regions.covers: the appeal's code starts with the
    filter's). A webhook filtered by source does not hear what that source's own feed did: the
    source knows it already, and echoing it back could loop.
    """
    kind, value = webhook.c.filter_kind, webhook.c.filter_value
    return and_(
        wants_event_sql(webhook, event),
        or_(
            kind.is_(None),
            and_(kind == FilterKind.DEPARTMENT.value, value == department_code),
            and_(kind == FilterKind.TEAM.value, value == team_code),
            and_(kind == FilterKind.REGION.value, func.substr(region_code, 1, func.length(value)) == value),
            and_(kind == FilterKind.SOURCE.value, value == source, echo == false()),
        ),
    )


def retry_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt after `attempts` failed ones: exponential backoff, full jitter (at least 1 s)."""
    ceiling = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return max(1.0, (rng or random).uniform(0, ceiling))


def next_attempt(queued_at: dt.datetime, now: dt.datetime, attempts: int, rng=None) -> dt.datetime | None:
    """When to try a failed delivery again, or None when its retry window is over (dead letter)."""
    window_end = queued_at + RETRY_WINDOW
    if now >= window_end:
        return None
    return min(now + dt.timedelta(seconds=retry_delay(attempts, rng)), window_end)


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: sha256=<hex HMAC-SHA256 of the raw body, keyed with the webhook's secret>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """A receiver's check of the signature header (constant-time)."""
    return bool(header) and hmac.compare_digest(signature(secret, body), header)
