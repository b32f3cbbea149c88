"""A live simulator for demos: new appeals at a realistic pace, and open ones moved along the workflow.

New appeals enter through the same Ingestor as every feed; steps go through the same
workflow rules as the API. Nothing here bypasses validation, idempotency or push.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import numpy as np
from sqlalchemy import select

from dashboard.domain.vocab import AppealStatus, RegionLevel, Satisfaction, TransitionAction
from dashboard.services.demo import (
    CATEGORY_MIX_DAY,
    CHANNEL_MIX,
    PRIORITY_MIX,
    _names,
    _normalised,
    handling_department_code,
)
from dashboard.services.ingest.readers import RawRecord
from dashboard.services.ingest.service import Ingestor, raw_json
from dashboard.services.workflow import Step, TransitionError, apply
from dashboard.store.models import Appeal, Department, Region

log = logging.getLogger(__name__)
NEXT_STEP = {
    AppealStatus.REPORTED: TransitionAction.ACCEPT,
    AppealStatus.ACCEPTED: TransitionAction.DISPATCH,
    AppealStatus.DISPATCHED: TransitionAction.START,
    AppealStatus.IN_PROGRESS: TransitionAction.RESOLVE,
}
# Overdue appeals the simulator urges (督办), as a duty officer would: about one every this many seconds.
URGE_EVERY_SECONDS = 30
URGE_NOTE = "请加快办理，尽快回复（模拟督办）"


class Simulator:
    """Creates appeals at `rate_per_minute` and advances open ones, one tick at a time."""

    def __init__(self, ingestor: Ingestor, rate_per_minute: float, seed: int | None = None) -> None:
        self.ingestor = ingestor
        self.database = ingestor.database
        self.rate_per_minute = rate_per_minute
        self.rng = np.random.default_rng(seed)
        self.names = _names()
        self._compounds: list[str] | None = None

    def compounds(self) -> list[str]:
        """Compound codes to place appeals in (loaded once)."""
        if self._compounds is None:
            with self.database.session() as session:
                self._compounds = list(session.scalars(select(Region.code).where(Region.level == RegionLevel.COMPOUND)))
        return self._compounds

    def new_appeals(self, count: int, now: dt.datetime | None = None) -> int:
        """Report `count` new appeals now (a burst when count is large); returns how many landed."""
        compounds = self.compounds()
        if count <= 0 or not compounds:
            return 0
        now = now or dt.datetime.now(dt.UTC)
        priorities, p_priority = _normalised(PRIORITY_MIX)
        channels, p_channel = _normalised(CHANNEL_MIX)
        categories, p_category = _normalised(CATEGORY_MIX_DAY)
        records = []
        for _ in range(count):
            category = categories[self.rng.choice(len(categories), p=p_category)]
            region = compounds[self.rng.integers(len(compounds))]
            text = self.names["descriptions"][category.value][self.rng.integers(5)]
            fields = {
                "external_id": f"SIM-{uuid.uuid4().hex[:16]}",
                "source": channels[self.rng.choice(len(channels), p=p_channel)].value,
                "reported_at": now.isoformat(),
                "category": category.value,
                "priority": priorities[self.rng.choice(len(priorities), p=p_priority)].value,
                "region_code": region,
                "description": text,
            }
            records.append(RawRecord(f"simulator {fields['external_id']}", fields, raw_json(fields)))
        report = self.ingestor.ingest(records, "appeal", source="simulator", now=now + dt.timedelta(seconds=1))
        return report.created

    def advance(self, count: int, now: dt.datetime | None = None) -> int:
        """Move up to `count` recently reported open appeals one step along; returns steps applied."""
        if count <= 0:
            return 0
        now = now or dt.datetime.now(dt.UTC)
        applied = 0
        with self.database.session() as session:
            candidates = session.scalars(
                select(Appeal).where(Appeal.is_open).order_by(Appeal.reported_at.desc()).limit(count * 4)
            ).all()
            chosen = [candidates[i] for i in self.rng.permutation(len(candidates))[:count]]
            for appeal in chosen:
                action = NEXT_STEP.get(appeal.status)
                if action is None:
                    continue
                department = self.department_for(session, appeal) if action == TransitionAction.DISPATCH else None
                try:
                    step = Step(action, "simulator", max(now, appeal.reported_at), department_code=department)
                    apply(session, appeal, step)
                    if action == TransitionAction.RESOLVE and self.rng.random() < 0.7:
                        apply(session, appeal, Step(TransitionAction.CLOSE, "simulator", max(now, appeal.reported_at)))
                        rating = Satisfaction.SATISFIED if self.rng.random() < 0.85 else Satisfaction.UNSATISFIED
                        apply(
                            session,
                            appeal,
                            Step(TransitionAction.RATE, "reporter", max(now, appeal.reported_at), satisfaction=rating),
                        )
                    session.commit()
                    applied += 1
                except TransitionError as exc:
                    session.rollback()
                    log.debug("simulator skipped appeal %s: %s", appeal.id, exc)
        return applied

    @staticmethod
    def department_for(session, appeal: Appeal) -> str | None:
        """The demo department of the appeal's handling level and category, if this database has it."""
        code = handling_department_code(appeal.region_code, appeal.category, appeal.level)
        return code if session.scalar(select(Department.id).where(Department.code == code)) else None

    def urge_overdue(self, count: int, now: dt.datetime | None = None) -> int:
        """Urge (督办) up to `count` overdue open appeals that someone has accepted; returns urges applied."""
        if count <= 0:
            return 0
        now = now or dt.datetime.now(dt.UTC)
        urged = 0
        with self.database.session() as session:
            candidates = session.scalars(
                select(Appeal)
                .where(
                    Appeal.is_open,
                    Appeal.deadline_at < now,
                    Appeal.status.in_([AppealStatus.ACCEPTED, AppealStatus.DISPATCHED, AppealStatus.IN_PROGRESS]),
                )
                .order_by(Appeal.deadline_at.desc())
                .limit(count * 4)
            ).all()
            for index in self.rng.permutation(len(candidates))[:count]:
                appeal = candidates[index]
                try:
                    apply(session, appeal, Step(TransitionAction.URGE, "simulator", now, note=URGE_NOTE))
                    session.commit()
                    urged += 1
                except TransitionError as exc:
                    session.rollback()
                    log.debug("simulator did not urge appeal %s: %s", appeal.id, exc)
        return urged

    def tick(self, seconds: float) -> tuple[int, int]:
        """One tick of `seconds`: Poisson arrivals at the configured rate, and about as many steps."""
        arrivals = int(self.rng.poisson(self.rate_per_minute * seconds / 60))
        created = self.new_appeals(arrivals)
        steps = self.advance(int(self.rng.poisson(max(self.rate_per_minute * seconds / 60 * 4, 0.5))))
        if self.rng.random() < seconds / URGE_EVERY_SECONDS:
            steps += self.urge_overdue(1)
        return created, steps
