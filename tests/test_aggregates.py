"""Property: the stored KPI counters answer exactly what kpi.compute_kpis computes from scratch.

Random sequences of feed deliveries (new appeals, later versions of them) and workflow steps
(accept, dispatch, start, resolve, close, escalate, return, rate, reopen, link duplicate) run
around National Day 2026 and its make-up working days; then, for random regions at every level
and random periods (whole days, ranges, parts of days), the fast path must equal the reference
on every key, floats included, and the counters kept by deltas must equal a rebuild.
"""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from dashboard.domain.kpi import KPI_KEYS, compute_kpis, kpi_frame
from dashboard.domain.vocab import (
    AppealStatus,
    Category,
    Channel,
    Priority,
    RegionLevel,
    Satisfaction,
    TransitionAction,
)
from dashboard.queries import kpis as kpi_queries
from dashboard.services.ingest.readers import RawRecord
from dashboard.services.workflow import Step, TransitionError, allowed_actions, apply
from dashboard.store import counters as aggregates
from dashboard.store.database import db
from dashboard.store.models import Appeal, KpiAggregateState, KpiDay, KpiDayByDimension, Region, Transition

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# Sep 26 2026: a Saturday; Sep 27 is not a make-up day but Oct 10 is; Oct 1–7 are off.
BASE = dt.datetime(2026, 9, 26, 8, 0, tzinfo=SHANGHAI).astimezone(dt.UTC)
DISTRICT = "510107"
STREETS = ["510107001", "510107002"]
COMMUNITIES = ["510107001001", "510107001002", "510107002001"]
COMPOUNDS = ["510107001001001", "510107001001002", "510107001002001", "510107002001001"]
PLACES = COMPOUNDS + COMMUNITIES + [STREETS[0]]  # appeals sit at compounds, and some higher up
ALL_REGIONS = [DISTRICT, *STREETS, *COMMUNITIES, *COMPOUNDS]
ACTIONS = [a for a in TransitionAction if a != TransitionAction.REPORT]


def _seed_regions() -> None:
    with db.transaction() as session:
        if session.get(Region, DISTRICT) is not None:
            return
        for code in ALL_REGIONS:
            level = {6: RegionLevel.DISTRICT, 9: RegionLevel.STREET, 12: RegionLevel.COMMUNITY}.get(
                len(code), RegionLevel.COMPOUND
            )
            session.add(Region(code=code, name=code, level=level, parent_code=code[:-3] if len(code) > 6 else None))
            session.flush()


# The drill-down's value filters as the appeals' own columns (channel is the source), for the reference.
_DIM_COLUMNS = {
    "category": Appeal.category,
    "priority": Appeal.priority,
    "channel": Appeal.source,
    "status": Appeal.status,
}


def _reference(session, region: str, start: dt.datetime, end: dt.datetime, calendar, category=None, dims=None) -> dict:
    """compute_kpis over every appeal of the region (with the category, and dims: codes per dimension), loaded whole."""
    query = select(Appeal.reported_at, Appeal.accepted_at, Appeal.resolved_at, Appeal.deadline_at, Appeal.satisfaction)
    query = query.where(Appeal.region_code.like(region + "%"))
    if category is not None:
        query = query.where(Appeal.category == category)
    chosen = [_DIM_COLUMNS[name].in_(values) for name, values in (dims or {}).items() if values]
    query = query.where(*chosen)
    frame = kpi_frame(session.execute(query).all())
    # The urged KPI counts urge steps (issue 16): their times, on the same appeals.
    urges = select(Transition.at).join(Appeal, Appeal.id == Transition.appeal_id)
    urges = urges.where(Transition.action == TransitionAction.URGE, Appeal.region_code.like(region + "%"))
    if category is not None:
        urges = urges.where(Appeal.category == category)
    urges = urges.where(*chosen)
    urges_at = pd.Series(pd.to_datetime(list(session.scalars(urges)), utc=True), dtype="datetime64[ns, UTC]")
    kpis = compute_kpis(frame, pd.Timestamp(start), pd.Timestamp(end), calendar, urges_at=urges_at)
    # The database subtracts the times itself (SQLite's date functions keep milliseconds).
    if kpis["response_median_min"] is not None:
        kpis["response_median_min"] = pytest.approx(kpis["response_median_min"], abs=1e-3)
    return kpis


def _stored_rows(session) -> dict:
    rows = session.execute(select(KpiDay)).scalars().all()
    return {
        (r.region_code, r.day, r.category.value): tuple(getattr(r, k) for k in aggregates.COUNTER_KEYS)
        for r in rows
        if any(getattr(r, k) for k in aggregates.COUNTER_KEYS)
    }


def _stored_dimension_rows(session) -> dict:
    """kpi_daily_dims, every row (a row a move emptied is deleted, so none is all zeros)."""
    rows = session.execute(select(KpiDayByDimension)).scalars().all()
    return {
        (r.region_code, r.day, r.category.value, r.priority.value, r.channel.value, r.status.value): tuple(
            getattr(r, k) for k in aggregates.COUNTER_KEYS
        )
        for r in rows
    }


def _record(prefix: str, key: int, draw, clock: dt.datetime, version: int, reported: dt.datetime | None) -> dict:
    """A feed record of appeal `key`, as the feed knows it at `clock`.

    A later version may move the report earlier (never later: a report after the acceptance
    already stored is refused by the database).
    """
    latest = reported or clock
    reported = latest - dt.timedelta(minutes=draw(st.integers(0, 4 * 24 * 60)))
    fields = {
        "external_id": f"{prefix}-{key}",
        "source": "hotline_12345",
        "reported_at": reported.isoformat(),
        "category": draw(st.sampled_from([Category.NOISE, Category.PARKING, Category.OTHER])).value,
        "priority": draw(st.sampled_from(list(Priority))).value,
        "region_code": draw(st.sampled_from(PLACES)),
        "description": f"appeal {key} v{version}",
        "updated_at": (clock + dt.timedelta(seconds=version)).isoformat(),
    }
    stage = draw(st.integers(0, 3))  # reported, accepted, resolved, closed
    span = (clock - reported).total_seconds()
    times = sorted(reported + dt.timedelta(seconds=draw(st.floats(0, span))) for _ in range(3))
    if stage >= 1:
        fields["accepted_at"] = times[0].isoformat()
    if stage >= 2:
        fields["resolved_at"] = times[1].isoformat()
        satisfaction = draw(st.sampled_from([None, *Satisfaction]))
        if satisfaction is not None:
            fields["satisfaction"] = satisfaction.value
    if stage >= 3:
        fields["closed_at"] = times[2].isoformat()
    return fields


def _apply_random_step(draw, appeal_ids: list[int], clock: dt.datetime) -> None:
    with db.session() as session:
        appeal = session.get(Appeal, draw(st.sampled_from(appeal_ids)))
        allowed = allowed_actions(appeal)
        if not allowed:
            return
        action = TransitionAction(draw(st.sampled_from(allowed)))
        step = Step(action, "property", max(clock, appeal.reported_at))
        if action == TransitionAction.RATE:
            step.satisfaction = draw(st.sampled_from(list(Satisfaction)))
        if action == TransitionAction.LINK_DUPLICATE:
            others = [i for i in appeal_ids if i != appeal.id]
            if not others:
                return
            step.duplicate_of = draw(st.sampled_from(others))
        try:
            apply(session, appeal, step)
            session.commit()
        except TransitionError:
            session.rollback()  # a step before the appeal's last one: refused, nothing changes


def _periods(draw, calendar, clock: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    first_day = (BASE - dt.timedelta(days=5)).astimezone(calendar.timezone).date()
    last_day = (clock + dt.timedelta(days=1)).astimezone(calendar.timezone).date()
    days = (last_day - first_day).days
    periods = []
    for _ in range(3):
        a, b = sorted(draw(st.integers(0, days)) for _ in range(2))
        periods.append(
            (
                aggregates.LocalDay.on(first_day + dt.timedelta(days=a), calendar).start,
                aggregates.LocalDay.on(first_day + dt.timedelta(days=b), calendar).end,
            )
        )
    # Parts of days: "today until now", and any two instants.
    periods.append((aggregates.LocalDay.of(clock, calendar).start, clock))
    span = int((clock - BASE).total_seconds()) + 2 * 86_400
    a, b = sorted(draw(st.integers(0, span)) for _ in range(2))
    periods.append((BASE - dt.timedelta(days=1) + dt.timedelta(seconds=a), BASE + dt.timedelta(seconds=b)))
    return periods


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_counters_equal_a_recomputation_from_scratch(app, data):
    draw = data.draw
    _seed_regions()
    ingestor = app.extensions["ingestor"]
    calendar = app.extensions["work_calendar"]
    prefix = uuid.uuid4().hex[:8]
    clock = BASE + dt.timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    keys = 0
    reported: dict[int, dt.datetime] = {}
    for _ in range(draw(st.integers(1, 12))):
        clock += dt.timedelta(minutes=draw(st.integers(1, 2 * 24 * 60)))
        with db.session() as session:
            appeal_ids = list(
                session.scalars(select(Appeal.id).where(Appeal.external_id.like(f"{prefix}-%")).order_by(Appeal.id))
            )
        kind = draw(st.sampled_from(["new", "new", "update", "step", "step", "step"]))
        if kind == "step" and appeal_ids:
            for _ in range(draw(st.integers(1, 4))):
                _apply_random_step(draw, appeal_ids, clock)
            continue
        batch = []
        for _ in range(draw(st.integers(1, 6))):
            if kind == "update" and keys:
                key = draw(st.integers(0, keys - 1))
            else:
                key, keys = keys, keys + 1
            fields = _record(prefix, key, draw, clock, len(batch), reported.get(key))
            reported[key] = dt.datetime.fromisoformat(fields["reported_at"])
            batch.append(fields)
        records = [RawRecord(f"r{i}", fields, "") for i, fields in enumerate(batch)]
        ingestor.ingest(records, "appeal", source="property", batch_size=draw(st.integers(1, 6)), now=clock)

    with db.session() as session:
        for start, end in _periods(draw, calendar, clock):
            region = draw(st.sampled_from(ALL_REGIONS))
            fast = kpi_queries.region_kpis(session, region, start, end, calendar)
            assert fast == _reference(session, region, start, end, calendar), (region, start, end)
            category = draw(st.sampled_from(list(Category)[:5]))
            fast = kpi_queries.region_kpis(session, region, start, end, calendar, category)
            assert fast == _reference(session, region, start, end, calendar, category), (region, category)
            # Issue 21: the drill-down's cross-filters, from kpi_daily_dims.
            dims = {
                "category": tuple(draw(st.lists(st.sampled_from(["noise", "parking", "other"]), max_size=2))),
                "priority": tuple(draw(st.lists(st.sampled_from([p.value for p in Priority]), max_size=2))),
                "channel": tuple(draw(st.lists(st.sampled_from([Channel.HOTLINE_12345.value, "wechat"]), max_size=1))),
                "status": tuple(draw(st.lists(st.sampled_from([s.value for s in AppealStatus]), max_size=3))),
            }
            fast = aggregates.region_kpis(session, region, start, end, calendar, dims=dims)
            assert fast == _reference(session, region, start, end, calendar, dims=dims), (region, dims)
            parent = draw(st.sampled_from([DISTRICT, *STREETS, COMMUNITIES[0]]))
            children = aggregates.child_kpis(
                session, parent, start, end, calendar, [c for c in ALL_REGIONS if c[:-3] == parent]
            )
            for child, kpis in children.items():
                assert kpis == _reference(session, child, start, end, calendar), (child, start, end)
        incremental = _stored_rows(session), _stored_dimension_rows(session)
    with db.engine.begin() as connection:
        aggregates.rebuild(connection, calendar)
    with db.session() as session:
        assert (_stored_rows(session), _stored_dimension_rows(session)) == incremental


def test_every_key_is_answered_and_days_roll_up(demo_app):
    """On the tiny demo: one street, so district == street, and communities add up to it."""
    calendar = demo_app.extensions["work_calendar"]
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    end = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    with db.session() as session:
        district = kpi_queries.region_kpis(session, "510107", start, end, calendar)
        assert list(district) == list(KPI_KEYS)
        assert district == _reference(session, "510107", start, end, calendar)
        streets = kpi_queries.child_region_kpis(session, "510107", start, end, calendar)
        assert streets == {"510107001": district}
        communities = kpi_queries.child_region_kpis(session, "510107001", start, end, calendar)
    assert len(communities) == 3
    for key in aggregates.COUNTER_KEYS[:3]:
        assert sum(c[key] for c in communities.values()) == district[key] > 0


def test_a_changed_calendar_rebuilds_the_days_it_changes(demo_app):
    """An override that makes a past working day a holiday: handling times after it change, and only those days."""
    calendar = demo_app.extensions["work_calendar"]
    day = dt.date(2026, 11, 16)  # a Monday in the tiny demo's last weeks
    index = (day - dt.date(2000, 1, 1)).days
    assert calendar.working[index]
    working = calendar.working.copy()
    working[index] = False
    changed = type(calendar)(calendar.timezone, working, dict(calendar.source_by_year))
    start = aggregates.LocalDay.on(day, calendar).start
    end = aggregates.LocalDay.on(dt.date(2026, 11, 20), calendar).end
    with db.session() as session:
        before = kpi_queries.region_kpis(session, "510107", start, end, calendar)
        older = session.execute(
            select(func.count()).select_from(KpiDay).where(KpiDay.day < day, KpiDay.region_code == "510107")
        ).scalar()
        after = kpi_queries.region_kpis(session, "510107", start, end, changed)
        assert after == _reference(session, "510107", start, end, changed)
        assert after["avg_handling_wd"] < before["avg_handling_wd"]  # a day fewer of working time
        digest = session.scalar(select(KpiAggregateState.calendar_digest))
        assert digest == aggregates.calendar_signature(changed)[2]
        # Days before the change were kept, not rebuilt.
        assert (
            older
            == session.execute(
                select(func.count()).select_from(KpiDay).where(KpiDay.day < day, KpiDay.region_code == "510107")
            ).scalar()
        )
        # And back: the app's own calendar again.
        assert kpi_queries.region_kpis(session, "510107", start, end, calendar) == before


def test_counters_are_built_on_first_read_when_missing(demo_app):
    calendar = demo_app.extensions["work_calendar"]
    start = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
    end = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    with db.transaction() as session:
        session.execute(delete(KpiDay))
        session.execute(delete(KpiAggregateState))
    with db.session() as session:
        kpis = kpi_queries.region_kpis(session, "510107001", start, end, calendar)
        assert kpis == _reference(session, "510107001", start, end, calendar) and kpis["received"] > 0
        assert session.scalar(select(func.count()).select_from(KpiDay)) > 0


def test_kpi_rebuild_command(demo_app, runner):
    with db.session() as session:
        before = _stored_rows(session)
    with db.transaction() as session:
        session.execute(delete(KpiDay).where(KpiDay.region_code == "510107"))
    result = runner.invoke("kpi", "rebuild")
    assert result.exit_code == 0, result.output
    assert "rows" in result.output
    with db.session() as session:
        assert _stored_rows(session) == before


def test_handling_time_is_summed_in_whole_seconds(demo_app):
    """The average from counters is the same float as from compute_kpis, not merely close."""
    calendar = demo_app.extensions["work_calendar"]
    with db.session() as session:
        for days in (1, 7, 30):
            end = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
            start = end - dt.timedelta(days=days)
            fast = kpi_queries.region_kpis(session, "510107001001", start, end, calendar)
            slow = _reference(session, "510107001001", start, end, calendar)
            assert fast["avg_handling_wd"] is not None
            assert np.float64(fast["avg_handling_wd"]).tobytes() == np.float64(slow["avg_handling_wd"]).tobytes()


def test_a_status_change_mid_day_moves_the_appeal_between_status_counters(demo_app):
    """Status is the appeal's status now (as the drill-down's filter means it): a step taken on the day the
    appeal was reported moves its received count from one status to the next on that same day, the
    row it leaves is deleted when empty, and kpi_daily (no status) does not change."""
    calendar = demo_app.extensions["work_calendar"]
    moves = {"reported": "accept", "accepted": "dispatch", "dispatched": "start"}  # each to the next status
    with db.session() as session:
        # An open appeal whose last step was on its report day, so that the next one is too.
        for appeal in session.scalars(
            select(Appeal).where(Appeal.is_open).order_by(Appeal.reported_at.desc()).limit(200)
        ):
            last = session.scalar(select(func.max(Transition.at)).where(Transition.appeal_id == appeal.id))
            day = aggregates.LocalDay.of(appeal.reported_at, calendar)
            step_at = last + dt.timedelta(seconds=1)
            if step_at < day.end and moves.get(appeal.status.value) in allowed_actions(appeal):
                break
        else:
            pytest.fail("no open appeal the demo took its last step on on its report day")
        action = TransitionAction(moves[appeal.status.value])
        region, before_status = appeal.region_code, appeal.status.value
        start, end = day.start, day.end

        def received(status):
            dims = {"status": (status,), "priority": (appeal.priority.value,)}
            fast = aggregates.region_kpis(session, region, start, end, calendar, dims=dims)
            assert fast == _reference(session, region, start, end, calendar, dims=dims)
            return fast["received"]

        untouched = _stored_rows(session)
        before = received(before_status)
        apply(session, appeal, Step(action, "property", step_at))
        session.commit()
        after_status = appeal.status.value
        assert after_status != before_status
        assert received(before_status) == before - 1
        assert received(after_status) >= 1
        assert _stored_rows(session) == untouched
        stored = _stored_dimension_rows(session)
        assert all(any(values) for values in stored.values())  # no row left at zero
    with db.engine.begin() as connection:
        aggregates.rebuild(connection, calendar)
    with db.session() as session:
        assert _stored_dimension_rows(session) == stored
