"""Property: any sequence of deliveries, repeated or reordered, leaves one appeal per key in its newest state."""

from __future__ import annotations

import datetime as dt
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from dashboard.services.ingest.readers import RawRecord
from dashboard.store.database import db
from dashboard.store.models import Appeal, Transition

BASE = dt.datetime(2026, 11, 19, 9, 0, tzinfo=dt.UTC)
# Version v of a record: what the feed knows after v updates.
STATES = ["reported", "accepted", "resolved", "closed"]


def record(prefix: str, key: int, version: int) -> dict:
    fields = {
        "external_id": f"{prefix}-{key}",
        "source": "hotline_12345",
        "reported_at": BASE.isoformat(),
        "category": "noise",
        "priority": "ordinary",
        "region_code": "510107001001001",
        "description": f"key {key} version {version}",
        "status": STATES[version],
        "updated_at": (BASE + dt.timedelta(minutes=version)).isoformat(),
    }
    if version >= 1:
        fields["accepted_at"] = (BASE + dt.timedelta(minutes=1)).isoformat()
    if version >= 2:
        fields["resolved_at"] = (BASE + dt.timedelta(minutes=2)).isoformat()
    if version >= 3:
        fields["closed_at"] = (BASE + dt.timedelta(minutes=3)).isoformat()
    return fields


deliveries = st.lists(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), min_size=1, max_size=8), min_size=1, max_size=5
)


def _state(prefix: str) -> tuple[dict, int]:
    with db.session() as session:
        appeals = {
            a.external_id: (a.status.value, a.description)
            for a in session.scalars(select(Appeal).where(Appeal.external_id.like(f"{prefix}-%")))
        }
        steps = session.execute(
            select(Transition.appeal_id, Transition.seq)
            .join(Appeal, Appeal.id == Transition.appeal_id)
            .where(Appeal.external_id.like(f"{prefix}-%"))
            .order_by(Transition.appeal_id, Transition.seq)
        ).all()
    by_appeal: dict[int, list[int]] = {}
    for appeal_id, seq in steps:
        by_appeal.setdefault(appeal_id, []).append(seq)
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in by_appeal.values())
    return appeals, len(steps)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=deliveries, batch_size=st.integers(1, 6))
def test_ingest_is_idempotent_and_keeps_the_newest_version(demo_app, plan, batch_size):
    ingestor = demo_app.extensions["ingestor"]
    prefix = uuid.uuid4().hex[:8]
    newest: dict[int, int] = {}
    for delivery in plan:
        records = [RawRecord(f"d{i}", record(prefix, key, version), "") for i, (key, version) in enumerate(delivery)]
        ingestor.ingest(records, "appeal", source="property", batch_size=batch_size)
        for key, version in delivery:
            newest[key] = max(newest.get(key, -1), version)
    appeals, steps = _state(prefix)
    assert set(appeals) == {f"{prefix}-{key}" for key in newest}
    for key, version in newest.items():
        assert appeals[f"{prefix}-{key}"] == (STATES[version], f"key {key} version {version}")
    # Everything delivered again, in any order: nothing changes.
    for delivery in reversed(plan):
        records = [RawRecord(f"d{i}", record(prefix, key, version), "") for i, (key, version) in enumerate(delivery)]
        report = ingestor.ingest(records, "appeal", source="property", batch_size=batch_size)
        assert report.created == 0 and report.updated == 0
    assert _state(prefix) == (appeals, steps)
