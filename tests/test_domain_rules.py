"""The one implementation of each rule, and its forms agreeing: overdue, local day, region scope,
the lifecycle table, roles."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, insert, select

from dashboard.domain import lifecycle, roles
from dashboard.domain.localday import LocalDay, local_date, local_date_sql, local_dates, period
from dashboard.domain.overdue import is_overdue, overdue_mask, overdue_sql, overdue_sql_parts, state_moment
from dashboard.domain.regions import covers, within
from dashboard.domain.vocab import AppealStatus, RegionLevel, Satisfaction, TransitionAction
from dashboard.domain.workcal import build_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
T = dt.datetime(2026, 11, 18, 8, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


# ---- overdue -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reported", "resolved", "deadline", "at", "expected"),
    [
        (T, None, T + H, T + 2 * H, True),  # open, past its deadline
        (T, None, T + H, T + H, False),  # the deadline itself is not yet overdue
        (T, T + H, T + H, T + 2 * H, False),  # resolved exactly at the deadline: on time
        (T, T + 3 * H, T + H, T + 2 * H, True),  # resolved later than `at`: overdue at `at`
        (T, T + 2 * H, T + H, T + 2 * H, True),  # resolved exactly at `at`: still open at `at`
        (T + 3 * H, None, T + H, T + 2 * H, False),  # not reported yet at `at`
    ],
)
def test_overdue_boundaries(reported, resolved, deadline, at, expected):
    assert is_overdue(reported, resolved, deadline, at) is expected
    frame = pd.DataFrame(
        {
            "reported_at": pd.to_datetime([reported], utc=True),
            "resolved_at": pd.to_datetime([resolved], utc=True),
            "deadline_at": pd.to_datetime([deadline], utc=True),
        }
    )
    assert bool(overdue_mask(frame, pd.Timestamp(at)).iloc[0]) is expected


def test_a_state_is_read_at_the_period_end_or_now_if_earlier():
    assert state_moment(T + H, T) == T
    assert state_moment(T, T + H) == T


_minutes = st.integers(min_value=0, max_value=600)


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_engine(request, tmp_path):
    """A bare engine for comparing SQL forms against the Python ones (each backend)."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'rules.db'}")
        yield engine
        engine.dispose()
        return
    postgres_url = request.getfixturevalue("postgres_schema_url")
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(_minutes, st.one_of(st.none(), _minutes), _minutes), min_size=1, max_size=20),
    at=_minutes,
)
def test_overdue_python_pandas_and_sql_agree(scratch_engine, rows, at):
    appeals = [
        (
            T + dt.timedelta(minutes=r),
            None if s is None else T + dt.timedelta(minutes=r + s),
            T + dt.timedelta(minutes=d),
        )
        for r, s, d in rows
    ]
    moment = T + dt.timedelta(minutes=at)
    expected = [is_overdue(*appeal, moment) for appeal in appeals]

    frame = pd.DataFrame(appeals, columns=["reported_at", "resolved_at", "deadline_at"])
    for column in frame:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    assert overdue_mask(frame, pd.Timestamp(moment)).tolist() == expected

    table = Table(
        "rule_appeals",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("reported_at", DateTime(timezone=True)),
        Column("resolved_at", DateTime(timezone=True)),
        Column("deadline_at", DateTime(timezone=True)),
    )
    with scratch_engine.begin() as connection:  # fresh state for every example
        table.drop(connection, checkfirst=True)
        table.create(connection)
        connection.execute(
            insert(table),
            [{"id": i, "reported_at": a[0], "resolved_at": a[1], "deadline_at": a[2]} for i, a in enumerate(appeals)],
        )
        found = set(
            connection.scalars(
                select(table.c.id).where(
                    overdue_sql(table.c.reported_at, table.c.resolved_at, table.c.deadline_at, moment)
                )
            )
        )
        parts = [
            set(connection.scalars(select(table.c.id).where(part)))
            for part in overdue_sql_parts(table.c.reported_at, table.c.resolved_at, table.c.deadline_at, moment)
        ]
    assert not parts[0] & parts[1] and parts[0] | parts[1] == found
    assert found == {i for i, flag in enumerate(expected) if flag}


# ---- local days ----------------------------------------------------------------------------------
def test_a_local_day_is_a_shanghai_day():
    calendar = build_calendar("Asia/Shanghai")
    day = LocalDay.of(dt.datetime(2026, 11, 18, 16, 0, tzinfo=dt.UTC), calendar)  # 00:00 on the 19th locally
    assert day.day == dt.date(2026, 11, 19)
    assert day.start == dt.datetime(2026, 11, 18, 16, 0, tzinfo=dt.UTC)
    assert day.end == dt.datetime(2026, 11, 19, 16, 0, tzinfo=dt.UTC)
    assert LocalDay.on(dt.date(2026, 11, 19), calendar) == day
    assert period(dt.date(2026, 11, 19), dt.date(2026, 11, 20), calendar) == (day.start, day.end + dt.timedelta(days=1))


@pytest.mark.parametrize("dialect_engine", ["sqlite", "postgresql"])
def test_local_day_python_pandas_and_sql_agree(dialect_engine, request, tmp_path):
    instants = [
        dt.datetime(2026, 11, 18, 15, 59, 59, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 18, 16, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 31, 16, 30, tzinfo=dt.UTC),
    ]
    python = [local_date(i, SHANGHAI) for i in instants]
    assert python == [dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2027, 1, 1)]
    assert local_dates(pd.Series(pd.to_datetime(instants, utc=True)), SHANGHAI).tolist() == python
    url = (
        f"sqlite:///{tmp_path / 'days.db'}"
        if dialect_engine == "sqlite"
        else request.getfixturevalue("postgres_schema_url")
    )
    engine = create_engine(url)
    table = Table(
        "rule_days", MetaData(), Column("id", Integer, primary_key=True), Column("at", DateTime(timezone=True))
    )
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(insert(table), [{"id": i, "at": at} for i, at in enumerate(instants)])
        sql = connection.scalars(
            select(local_date_sql(table.c.at, engine.dialect.name, SHANGHAI)).order_by(table.c.id)
        ).all()
    engine.dispose()
    assert [dt.date.fromisoformat(value) for value in sql] == python


# ---- region scope --------------------------------------------------------------------------------
CODES = ["510107", "510107001", "510107001001", "510107001001001", "510107002", "510107002001", "510108"]


@pytest.mark.parametrize("scope", ["510107", "510107001", "510107001001", "510108"])
@pytest.mark.parametrize("by_index", [False, True])
def test_scope_python_and_both_sql_spellings_agree(scope, by_index, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'scope.db'}")
    table = Table("rule_regions", MetaData(), Column("code", String(15), primary_key=True))
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(insert(table), [{"code": code} for code in CODES])
        found = set(connection.scalars(select(table.c.code).where(within(table.c.code, scope, by_index=by_index))))
    engine.dispose()
    assert found == {code for code in CODES if covers(scope, code)}
    assert covers(None, "510107001")  # no bound: everything


# ---- lifecycle -----------------------------------------------------------------------------------
def test_the_lifecycle_table_refuses_what_it_does_not_list():
    assert lifecycle.target_status(TransitionAction.ACCEPT, AppealStatus.REPORTED) == AppealStatus.ACCEPTED
    assert lifecycle.target_status(TransitionAction.RATE, AppealStatus.CLOSED) == AppealStatus.CLOSED
    with pytest.raises(lifecycle.IllegalTransition):
        lifecycle.target_status(TransitionAction.CLOSE, AppealStatus.REPORTED)
    with pytest.raises(lifecycle.IllegalTransition):
        lifecycle.target_status(TransitionAction.REPORT, AppealStatus.ACCEPTED)
    assert lifecycle.STATUS_ORDER == (
        AppealStatus.REPORTED,
        AppealStatus.ACCEPTED,
        AppealStatus.DISPATCHED,
        AppealStatus.IN_PROGRESS,
        AppealStatus.RESOLVED,
        AppealStatus.CLOSED,
    )
    # reopening needs an unsatisfied rating; escalation a level above
    closed = lifecycle.allowed_actions(
        AppealStatus.CLOSED, RegionLevel.COMMUNITY, "510107001001", Satisfaction.SATISFIED
    )
    assert "reopen" not in closed
    unhappy = lifecycle.allowed_actions(
        AppealStatus.CLOSED, RegionLevel.COMMUNITY, "510107001001", Satisfaction.UNSATISFIED
    )
    assert "reopen" in unhappy
    at_top = lifecycle.allowed_actions(AppealStatus.DISPATCHED, RegionLevel.DISTRICT, "510107", None)
    assert "escalate" not in at_top and "return" not in at_top


def test_ingest_and_the_workflow_read_the_same_table():
    from dashboard.services.ingest import prepare
    from dashboard.services.workflow import allowed_actions

    assert prepare.STEP_TO is lifecycle.STEP_TO and prepare.STATUS_RANK is lifecycle.STATUS_RANK
    assert allowed_actions.__module__ == "dashboard.services.workflow"


def test_every_demo_transition_is_one_the_table_allows(demo_app):
    from sqlalchemy import select as select_

    from dashboard.store.database import db
    from dashboard.store.models import Transition

    with db.session() as session:
        pairs = set(session.execute(select_(Transition.action, Transition.from_status, Transition.to_status)).all())
    assert pairs
    for action, from_status, to_status in pairs:
        assert lifecycle.target_status(TransitionAction(action), from_status and AppealStatus(from_status)) == to_status


# ---- roles ---------------------------------------------------------------------------------------
def test_the_cli_the_admin_page_and_the_database_follow_the_one_list_of_roles():
    from dashboard import cli
    from dashboard.store.models import User

    users_add = cli.cli.commands["users"].commands["add"]
    role_option = next(param for param in users_add.params if param.name == "role")
    assert list(role_option.type.choices) == [role.value for role in roles.ACCOUNT_ROLES]
    assert roles.Role.WALL not in roles.ACCOUNT_ROLES  # devices hold tokens, not accounts
    checks = {str(c.name): str(c.sqltext) for c in User.__table__.constraints if hasattr(c, "sqltext")}
    assert roles.scope_required_sql() in checks.values()
    assert roles.assignment_required_sql() in checks.values()
    for role in roles.ACCOUNT_ROLES:
        # Every account reaches some page: the console, or a handler's task list.
        assert roles.can(role, roles.Permission.CONSOLE) or roles.can(role, roles.Permission.TASKS)
        # Only roles that act have steps, and only roles with steps may act.
        assert bool(roles.ROLE_STEPS[role]) == roles.can(role, roles.Permission.ACT)
    assert not roles.can(roles.Role.VIEWER, roles.Permission.UNMASK)
    assert roles.steps_for(roles.Role.HANDLER, ["accept", "start", "urge"]) == ["start"]
    assert not roles.can(None, roles.Permission.CONSOLE) and roles.can(None, roles.Permission.PUBLIC)
