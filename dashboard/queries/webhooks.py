"""What /admin and `python app.py webhooks list` show of webhooks and their delivery log: never a secret."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.domain.webhooks import WebhookEvent
from dashboard.store.database import db
from dashboard.store.models import OutboxEvent, Webhook, WebhookDelivery

RECENT_DELIVERIES = 50


@dataclass(frozen=True)
class WebhookView:
    """A webhook as listed: where it posts, what it hears, its filter and format; never its secret."""

    id: int
    name: str
    url: str
    events: tuple[str, ...]
    filter_kind: str | None
    filter_value: str | None
    body_format: str
    trusted: bool
    active: bool
    created_at: dt.datetime
    disabled_at: dt.datetime | None

    @property
    def filter_text(self) -> str:
        """The filter as the CLI takes it ("--team 510107001001/patrol"), or "-"."""
        return f"--{self.filter_kind} {self.filter_value}" if self.filter_kind else "-"


@dataclass(frozen=True)
class DeliveryView:
    """One row of the delivery log."""

    id: int
    webhook: str
    event: str
    event_id: str
    appeal_id: int | None
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_attempt_at: dt.datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True)
class WebhooksView:
    """The webhooks section of /admin: every webhook, the newest deliveries, the events one may choose."""

    lang: str
    timezone: ZoneInfo
    webhooks: list[WebhookView]
    deliveries: list[DeliveryView]
    limit: int = RECENT_DELIVERIES  # the log shows at most this many
    events: tuple[str, ...] = tuple(event.value for event in WebhookEvent)


def webhook_view(row: Webhook) -> WebhookView:
    """The view of one webhook row."""
    return WebhookView(
        id=row.id,
        name=row.name,
        url=row.url,
        events=tuple(code for code in row.events.split(",") if code),
        filter_kind=row.filter_kind,
        filter_value=row.filter_value,
        body_format=row.body_format,
        trusted=bool(row.trusted),
        active=bool(row.active),
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


def list_webhooks(session: Session) -> list[WebhookView]:
    """Every webhook, oldest first (active and disabled)."""
    return [webhook_view(row) for row in session.scalars(select(Webhook).order_by(Webhook.id))]


def list_deliveries(
    session: Session, limit: int = RECENT_DELIVERIES, status: str | None = None, webhook: str | None = None
) -> list[DeliveryView]:
    """The newest deliveries first, optionally of one status or one webhook."""
    query = (
        select(WebhookDelivery, Webhook.name, OutboxEvent.event, OutboxEvent.event_id, OutboxEvent.appeal_id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(WebhookDelivery.status == status)
    if webhook:
        query = query.where(Webhook.name == webhook)
    return [
        DeliveryView(
            id=d.id,
            webhook=name,
            event=event,
            event_id=event_id,
            appeal_id=appeal_id,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_attempt_at=d.last_attempt_at,
            last_status=d.last_status,
            last_error=d.last_error,
            delivered_at=d.delivered_at,
            created_at=d.created_at,
        )
        for d, name, event, event_id, appeal_id in session.execute(query)
    ]


def _timezone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"] if has_app_context() else "Asia/Shanghai")


def section(session: Session, lang: str, limit: int = RECENT_DELIVERIES) -> WebhooksView:
    """The webhooks section of /admin, in the caller's session (queries.admin.read reads the whole page)."""
    return WebhooksView(lang, _timezone(), list_webhooks(session), list_deliveries(session, limit), limit)


def read(lang: str, limit: int = RECENT_DELIVERIES) -> WebhooksView:
    """The webhooks section of /admin, read again after a change."""
    with db.session() as session:
        return section(session, lang, limit)
