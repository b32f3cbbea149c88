"""Shared helpers for the escalation and urged-KPI tests: a small region tree and appeals in a chosen state."""

from __future__ import annotations

import datetime as dt
import uuid

from dashboard.domain.vocab import AppealStatus, Category, Channel, Priority, RegionLevel, TransitionAction
from dashboard.store.database import db
from dashboard.store.models import Appeal, Region, Transition

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
DISTRICT, STREET, COMMUNITY, COMPOUND = "510107", "510107001", "510107001001", "510107001001001"
COMMUNITY_2, STREET_2 = "510107001002", "510107002"


def local(*args) -> dt.datetime:
    """A Shanghai wall-clock time as UTC."""
    return dt.datetime(*args, tzinfo=SHANGHAI).astimezone(dt.UTC)


def add_regions() -> None:
    """A district with two streets; the first with two communities, one holding a compound."""
    with db.transaction() as tx:
        tx.add(Region(code=DISTRICT, name="武侯区", level=RegionLevel.DISTRICT))
        tx.add(Region(code=STREET, name="簇桥街道", level=RegionLevel.STREET, parent_code=DISTRICT))
        tx.add(Region(code=COMMUNITY, name="龙井社区", level=RegionLevel.COMMUNITY, parent_code=STREET))
        tx.add(Region(code=COMPOUND, name="龙井小区", level=RegionLevel.COMPOUND, parent_code=COMMUNITY))
        tx.add(Region(code=COMMUNITY_2, name="太平社区", level=RegionLevel.COMMUNITY, parent_code=STREET))
        tx.add(Region(code=STREET_2, name="金花街道", level=RegionLevel.STREET, parent_code=DISTRICT))


def add_appeal(
    deadline: dt.datetime,
    priority: Priority = Priority.ORDINARY,
    level: RegionLevel = RegionLevel.COMMUNITY,
    status: AppealStatus = AppealStatus.DISPATCHED,
    region_code: str = COMPOUND,
) -> int:
    """An open appeal reported a day before its deadline, in the given state."""
    reported = deadline - dt.timedelta(days=1)
    with db.transaction() as tx:
        appeal = Appeal(
            source=Channel.HOTLINE_12345,
            external_id=f"ESC-{uuid.uuid4().hex[:16]}",
            category=Category.NOISE,
            priority=priority,
            status=status,
            is_open=True,
            region_code=region_code,
            level=level,
            description="噪音扰民",
            reported_at=reported,
            accepted_at=reported if status != AppealStatus.REPORTED else None,
            deadline_at=deadline,
        )
        tx.add(appeal)
        tx.flush()
        tx.add(
            Transition(
                appeal_id=appeal.id,
                seq=1,
                action=TransitionAction.REPORT,
                to_status=AppealStatus.REPORTED,
                at=reported,
                actor="test",
                level=level,
            )
        )
        return appeal.id
