"""The demo generator: deterministic, consistent, and faithful to the model's rules."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select

from dashboard.domain.pii import PiiVault, is_valid_id_number
from dashboard.domain.vocab import AppealStatus
from dashboard.services import demo
from dashboard.store.database import Database, db
from dashboard.store.models import Appeal, Region, Resident, Transition

END = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _generate(app, database=None, seed=7):
    return demo.generate(
        database or db,
        app.extensions["work_calendar"],
        app.extensions["sla_policy"],
        app.config["SECRET_KEY"],
        scale="tiny",
        seed=seed,
        end=END,
        progress=lambda _line: None,
    )


@pytest.fixture
def summary(app):
    return _generate(app)


def test_summary_reports_what_is_stored(summary):
    with db.session() as session:
        assert summary["residents"] == session.scalar(select(func.count()).select_from(Resident)) == 2000
        assert summary["appeals"] == session.scalar(select(func.count()).select_from(Appeal))
        assert summary["regions"] == {"district": 1, "street": 1, "community": 3, "compound": 9}
    assert 1300 < summary["appeals"] <= 1500
    kpis = summary["kpis_last_365_days"]
    assert 0.8 < kpis["satisfaction_rate"] < 0.95
    assert 1.0 < kpis["avg_handling_wd"] < 1.6


def test_history_is_consistent_with_each_appeal(summary):
    with db.session() as session:
        appeals = pd.read_sql(
            select(Appeal.id, Appeal.status, Appeal.is_open, Appeal.resolved_at), session.connection()
        )
        steps = pd.read_sql(
            select(Transition.appeal_id, Transition.seq, Transition.to_status, Transition.at), session.connection()
        )
    grouped = steps.sort_values(["appeal_id", "seq"]).groupby("appeal_id")
    # Every appeal has a history numbered 1..n, in time order, ending in its current status.
    assert set(grouped.groups) == set(appeals["id"])
    assert (grouped["seq"].apply(lambda s: list(s) == list(range(1, len(s) + 1)))).all()
    assert (grouped["at"].apply(lambda s: s.is_monotonic_increasing)).all()
    last = grouped["to_status"].last()
    current = appeals.set_index("id")["status"].sort_index()
    assert (current == last.reindex(current.index)).all()
    open_statuses = {
        s.value
        for s in (AppealStatus.REPORTED, AppealStatus.ACCEPTED, AppealStatus.DISPATCHED, AppealStatus.IN_PROGRESS)
    }
    assert (appeals["is_open"] == appeals["status"].isin(open_statuses)).all()
    assert appeals.loc[~appeals["is_open"], "resolved_at"].notna().all()
    assert appeals.loc[appeals["is_open"], "resolved_at"].isna().all()


def test_id_numbers_are_valid_and_never_stored_in_clear(app, summary):
    vault = PiiVault(app.config["SECRET_KEY"])
    with db.session() as session:
        residents = session.execute(select(Resident.id_number_hash, Resident.id_number_encrypted).limit(200)).all()
    for hashed, encrypted in residents:
        number = vault.decrypt(encrypted)
        assert is_valid_id_number(number)
        assert vault.hash(number) == hashed


def test_regions_carry_synthetic_shapes(summary):
    with db.session() as session:
        regions = session.scalars(select(Region)).all()
        assert all(r.boundary and r.boundary["type"] == "Polygon" for r in regions)
        cuqiao = next(r for r in regions if r.name == "簇桥街道")
        assert {"龙井社区", "锦城社区"} <= {c.name for c in cuqiao.children}
        assert all(103.9 < r.center_lon < 104.2 and 30.5 < r.center_lat < 30.8 for r in regions)


def test_same_seed_gives_the_same_data(app, summary, tmp_path):
    from dashboard.store import migrate

    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    migrate.upgrade(other_url)
    other = Database().bind(other_url)
    _generate(app, other)
    columns = [
        Appeal.external_id,
        Appeal.category,
        Appeal.priority,
        Appeal.status,
        Appeal.reported_at,
        Appeal.deadline_at,
    ]
    with db.session() as a, other.session() as b:
        first = a.execute(select(*columns).order_by(Appeal.id)).all()
        second = b.execute(select(*columns).order_by(Appeal.id)).all()
    other.engine.dispose()
    assert first == second


def test_refuses_a_database_that_holds_data(app, summary):
    with pytest.raises(RuntimeError, match="already holds data"):
        _generate(app)
