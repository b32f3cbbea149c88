"""The urged KPI (issue 16 point 3): urge (督办) steps per local day in a region and below.

On SQLite and PostgreSQL: the local day's edges (23:59:59 vs 00:00:00 Shanghai time), a child
region's urges counting for its parents, other steps not counting; the API, the stored-counter
path, the from-scratch reference and the nightly export agree.
"""

from __future__ import annotations

import csv
import datetime as dt

import pandas as pd
import pytest

from dashboard.domain.kpi import KPI_KEYS, compute_kpis, kpi_frame, urged_count
from dashboard.domain.localday import LocalDay
from dashboard.domain.vocab import TransitionAction
from dashboard.queries.kpis import child_region_kpis, region_kpis
from dashboard.services import exports
from dashboard.services.workflow import Step, apply
from dashboard.store.counters import recompute_region_kpis
from dashboard.store.database import db
from dashboard.store.models import Appeal
from tests.escalation_support import (
    COMMUNITY,
    COMMUNITY_2,
    COMPOUND,
    DISTRICT,
    STREET,
    STREET_2,
    add_appeal,
    add_regions,
    local,
)

A = TransitionAction
DAY_19, DAY_20 = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
LATER = local(2026, 11, 21, 12, 0)  # "now": both days are over


def step(appeal_id: int, action: TransitionAction, at: dt.datetime, **fields) -> None:
    with db.transaction() as tx:
        apply(tx, tx.get(Appeal, appeal_id), Step(action, "op", at, **fields))


@pytest.fixture
def urged(app):
    """Four urges and some other steps around the midnight between 19 and 20 November (Shanghai)."""
    add_regions()
    deadline = local(2026, 11, 19, 12, 0)  # reported a day earlier
    a = add_appeal(deadline, region_code=COMPOUND)
    b = add_appeal(deadline, region_code=COMMUNITY_2)
    c = add_appeal(deadline, region_code=STREET_2)
    step(a, A.URGE, local(2026, 11, 19, 23, 59, 59), note="请尽快")  # the 19th's last second
    step(a, A.URGE, local(2026, 11, 20, 0, 0, 0), note="再催")  # the 20th's first
    step(a, A.START, local(2026, 11, 20, 0, 0, 1))  # not an urge
    step(b, A.URGE, local(2026, 11, 20, 10, 0), note="督办")
    step(b, A.ESCALATE, local(2026, 11, 20, 10, 5), note="升级")  # not an urge
    step(c, A.URGE, local(2026, 11, 20, 23, 59, 59), note="督办")
    step(c, A.START, local(2026, 11, 21, 0, 0))  # the 21st: outside both days
    return app


def kpis_of(app, region: str, day: dt.date) -> dict:
    calendar = app.extensions["work_calendar"]
    bounds = LocalDay.on(day, calendar)
    with db.session() as session:
        return region_kpis(session, region, bounds.start, bounds.end, calendar, now=LATER)


def test_urges_count_on_their_local_day_in_their_region_and_above(urged):
    expected = {
        (DAY_19, COMPOUND): 1,
        (DAY_19, COMMUNITY): 1,
        (DAY_19, STREET): 1,
        (DAY_19, DISTRICT): 1,
        (DAY_19, COMMUNITY_2): 0,
        (DAY_20, COMPOUND): 1,
        (DAY_20, COMMUNITY): 1,
        (DAY_20, COMMUNITY_2): 1,
        (DAY_20, STREET): 2,
        (DAY_20, STREET_2): 1,
        (DAY_20, DISTRICT): 3,
    }
    assert {key: kpis_of(urged, key[1], key[0])["urged"] for key in expected} == expected


def test_the_children_the_reference_and_a_part_of_a_day_agree(urged):
    calendar = urged.extensions["work_calendar"]
    day = LocalDay.on(DAY_20, calendar)
    with db.session() as session:
        children = child_region_kpis(session, DISTRICT, day.start, day.end, calendar, now=LATER)
        streets = child_region_kpis(session, STREET, day.start, day.end, calendar, now=LATER)
        reference = recompute_region_kpis(session, DISTRICT, day.start, day.end, calendar, as_of=LATER)
        # A period inside a day (the wall's "today until now"): the 20th until 10:00 holds one urge.
        morning = region_kpis(session, DISTRICT, day.start, local(2026, 11, 20, 10, 0), calendar, now=LATER)
    assert {code: k["urged"] for code, k in children.items()} == {STREET: 2, STREET_2: 1}
    assert {code: k["urged"] for code, k in streets.items()} == {COMMUNITY: 1, COMMUNITY_2: 1}
    assert reference["urged"] == 3 and morning["urged"] == 1
    assert kpis_of(urged, DISTRICT, DAY_20) == pytest.approx(reference)


def test_the_pandas_form_and_compute_kpis_count_the_same_edges():
    urges = pd.Series(pd.to_datetime([local(2026, 11, 19, 23, 59, 59), local(2026, 11, 20, 0, 0)], utc=True))
    start, end = pd.Timestamp(local(2026, 11, 20, 0, 0)), pd.Timestamp(local(2026, 11, 21, 0, 0))
    assert urged_count(urges, start, end) == 1
    empty = kpi_frame([])
    from dashboard.domain.workcal import build_calendar

    calendar = build_calendar()
    assert compute_kpis(empty, start, end, calendar, urges_at=urges)["urged"] == 1
    assert compute_kpis(empty, start, end, calendar)["urged"] == 0  # no urges given: none
    assert list(compute_kpis(empty, start, end, calendar)) == list(KPI_KEYS)


def test_the_api_answers_urged_per_day_and_per_range(urged, client, api_key):
    headers = {"X-API-Key": api_key}
    day = client.get(f"/api/v1/kpis?region={STREET}&date=2026-11-20", headers=headers).get_json()
    days = client.get(f"/api/v1/kpis?region={DISTRICT}&from=2026-11-19&to=2026-11-20", headers=headers).get_json()
    assert day["urged"] == 2 and days["urged"] == 4


def test_the_nightly_export_has_an_urged_column(urged, tmp_path, monkeypatch):
    from dashboard.domain import clock

    monkeypatch.setattr(clock, "utcnow", lambda: LATER)
    assert exports.produce_day(db, urged.extensions["work_calendar"], DAY_20, tmp_path, force=True)
    with (tmp_path / "kpi_2026-11-20.csv").open(encoding="utf-8-sig") as handle:
        rows = {row["region_code"]: row for row in csv.DictReader(handle)}
    assert {code: rows[code]["urged"] for code in (DISTRICT, STREET, STREET_2, COMMUNITY, COMMUNITY_2)} == {
        DISTRICT: "3",
        STREET: "2",
        STREET_2: "1",
        COMMUNITY: "1",
        COMMUNITY_2: "1",
    }
