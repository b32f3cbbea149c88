"""The audit log's rows (BRIEF §7): written in the caller's own transaction."""

from __future__ import annotations

import datetime as dt

from dashboard.store.models import AuditLog


def audit_row(actor: str, action: str, target: str, purpose: str | None, detail: dict | None) -> AuditLog:
    """An audit-log row to add in the caller's own transaction (so a change never lands without it)."""
    return AuditLog(
        at=dt.datetime.now(dt.UTC),
        actor=actor or "anonymous",
        action=action,
        target=target[:128],
        purpose=purpose,
        detail=detail,
    )
