"""Hand committed changes to the push layer: small, masked deltas, once, after commit.

Code that changes appeals calls queue_deltas(session, deltas) inside its transaction; when
that transaction commits, the deltas go to the publisher (Socket.IO, set by the app), and
when it rolls back they are dropped. Nothing personal is ever put in a delta.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence

from sqlalchemy import event
from sqlalchemy.orm import Session

from dashboard.domain.escalation import is_escalated
from dashboard.domain.pii import public_text
from dashboard.domain.regions import ancestors
from dashboard.store import metrics

log = logging.getLogger(__name__)

DETAILED_LIMIT = 50


def _iso(value):
    return value.isoformat() if value is not None else None


def _code(value):
    return getattr(value, "value", value)


def appeal_delta(row: dict, change: str) -> dict:
    """The wall's view of one appeal: codes, times and masked short text; no names, phones or addresses."""
    return {
        "type": "appeal",
        "change": change,
        "id": row["id"],
        "region_code": row["region_code"],
        "category": _code(row["category"]),
        "priority": _code(row["priority"]),
        "status": _code(row["status"]),
        "is_open": bool(row["is_open"]),
        "reported_at": _iso(row["reported_at"]),
        "deadline_at": _iso(row["deadline_at"]),
        "resolved_at": _iso(row.get("resolved_at")),
        "text": public_text(row.get("description")),
        # Who holds it and how hard it has been pushed (ids and counts, nothing personal): the
        # wall marks urged and escalated appeals, a handler's /tasks page follows its own.
        "level": _code(row.get("level")),
        "escalated": is_escalated(_code(row.get("level")), row["region_code"]),  # above its home level
        "urge_count": row.get("urge_count") or 0,
        "department_id": row.get("department_id"),
        "team_id": row.get("team_id"),
    }


DELTA_COLUMNS = (
    "id",
    "region_code",
    "category",
    "priority",
    "status",
    "is_open",
    "reported_at",
    "deadline_at",
    "resolved_at",
    "description",
    "level",
    "urge_count",
    "department_id",
    "team_id",
)


def appeal_row(appeal) -> dict:
    """The values of an Appeal object that appeal_delta reads."""
    return {column: getattr(appeal, column) for column in DELTA_COLUMNS}


def appeal_deltas(rows: list[dict], change: str) -> list[dict]:
    """Deltas for many changed appeals, given as rows (see coalesced_deltas)."""
    reported_at = [row["reported_at"] for row in rows]
    return coalesced_deltas(reported_at, [row["region_code"] for row in rows], rows.__getitem__, change)


def coalesced_deltas(
    reported_at: Sequence, region_codes: Sequence[str], row: Callable[[int], dict], change: str
) -> list[dict]:
    """Deltas for many changed appeals: each one when few, else the newest few plus counts.

    A bulk delivery of thousands of appeals would flood every wall; walls get the newest
    DETAILED_LIMIT appeals in full and one count per community for the rest. The appeals are
    given by their report times and region codes; row(i) is the i-th one's row, built only for
    those sent in full.
    """
    if len(reported_at) <= DETAILED_LIMIT:
        return [appeal_delta(row(index), change) for index in range(len(reported_at))]
    newest = sorted(range(len(reported_at)), key=reported_at.__getitem__)[-DETAILED_LIMIT:]
    counts = Counter(region_code[:12] for region_code in region_codes)  # per community
    summary = [{"type": "bulk", "change": change, "region_code": code, "count": n} for code, n in counts.items()]
    return [appeal_delta(row(index), change) for index in newest] + summary


def rooms_for(region_code: str) -> list[str]:
    """Every region whose wall shows a change in region_code: itself and all above it."""
    return [*ancestors(region_code), region_code]


def queue_deltas(session: Session, deltas: list[dict]) -> None:
    """Remember deltas until this session's transaction commits."""
    if deltas:
        session.info.setdefault("deltas", []).extend(deltas)


def install(database, publisher: Callable[[list[dict]], None]) -> None:
    """Send the deltas queued in this database's sessions to publisher once they commit (create_app calls this)."""
    publishers = getattr(database, "push_publishers", None)
    if publishers is None:
        publishers = database.push_publishers = []

        def publish_after_commit(session: Session) -> None:
            deltas = session.info.pop("deltas", None)
            if deltas:
                _publish(publishers, deltas)

        event.listen(database.sessions, "after_commit", publish_after_commit)
        event.listen(database.sessions, "after_rollback", _drop_after_rollback)
    publishers.append(publisher)


def _publish(publishers: list[Callable[[list[dict]], None]], deltas: list[dict]) -> None:
    for publisher in publishers:
        try:
            publisher(deltas)
        except Exception:  # a push failure must never undo or fail a committed change
            log.exception("publishing %d deltas failed", len(deltas))


def _drop_after_rollback(session: Session) -> None:
    metrics.push_dropped(session.info.pop("deltas", None))
