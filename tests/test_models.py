"""Model constraints hold on both backends: unique keys, required fields, the region tree."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from dashboard.domain.roles import Role
from dashboard.domain.vocab import (
    AppealStatus,
    Category,
    Channel,
    EmploymentStatus,
    HouseholdType,
    Priority,
    RegionLevel,
)
from dashboard.store.database import db
from dashboard.store.models import Appeal, Region, Resident, Transition, User

NOW = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def _tree(session) -> None:
    session.add_all(
        [
            Region(code="510107", name="武侯区", level=RegionLevel.DISTRICT),
            Region(code="510107001", name="簇桥街道", level=RegionLevel.STREET, parent_code="510107"),
            Region(code="510107001001", name="龙井社区", level=RegionLevel.COMMUNITY, parent_code="510107001"),
            Region(code="510107001001001", name="锦湖花园", level=RegionLevel.COMPOUND, parent_code="510107001001"),
        ]
    )


def _appeal(**overrides) -> Appeal:
    values = dict(
        source=Channel.HOTLINE_12345,
        external_id="RX-1",
        category=Category.NOISE,
        priority=Priority.ORDINARY,
        status=AppealStatus.REPORTED,
        is_open=True,
        region_code="510107001001001",
        level=RegionLevel.COMMUNITY,
        description="商家深夜噪音扰民",
        reported_at=NOW,
        deadline_at=NOW + dt.timedelta(days=2),
    )
    values.update(overrides)
    return Appeal(**values)


def _commit(*objects) -> None:
    with db.transaction() as session:
        session.add_all(objects)


@pytest.fixture
def tree(app):
    with db.transaction() as session:
        _tree(session)


def test_region_tree_and_relationships(tree):
    with db.session() as session:
        community = session.get(Region, "510107001001")
        assert community.parent.name == "簇桥街道"
        assert [child.code for child in community.children] == ["510107001001001"]


@pytest.mark.parametrize(
    ("code", "level", "parent", "why"),
    [
        ("5101070010", RegionLevel.STREET, "510107", "street code must have 9 digits"),
        ("510107002", RegionLevel.COMMUNITY, "510107", "level must match the code's length"),
        ("510108002", RegionLevel.STREET, "510107", "code must extend its parent's"),
        ("510107002001", RegionLevel.COMMUNITY, "510107", "parent must be the level just above"),
        ("510107003", RegionLevel.STREET, None, "a street needs a parent"),
        ("510107009001", RegionLevel.COMMUNITY, "510107009", "the parent must exist"),
    ],
)
def test_region_hierarchy_integrity_is_enforced(tree, code, level, parent, why):
    with pytest.raises(IntegrityError):
        _commit(Region(code=code, name="x", level=level, parent_code=parent))


def test_district_has_no_parent(tree):
    with pytest.raises(IntegrityError):
        _commit(Region(code="510108", name="x", level=RegionLevel.DISTRICT, parent_code="510107"))


def test_appeal_source_and_external_id_are_unique(tree):
    _commit(_appeal())
    with pytest.raises(IntegrityError):
        _commit(_appeal(description="again"))
    # The same external id from another channel is a different appeal.
    _commit(_appeal(source=Channel.WECHAT))


@pytest.mark.parametrize("missing", ["description", "reported_at", "deadline_at", "region_code", "category"])
def test_appeal_required_fields(tree, missing):
    with pytest.raises(IntegrityError):
        _commit(_appeal(**{missing: None}))


def test_appeal_rejects_unknown_enum_value_and_empty_description(tree):
    with pytest.raises((StatementError, LookupError)):
        _commit(_appeal(priority="whenever"))
    with pytest.raises(IntegrityError):
        _commit(_appeal(external_id="RX-2", description=""))


def test_appeal_times_must_be_ordered_and_aware(tree):
    with pytest.raises(IntegrityError):
        _commit(_appeal(accepted_at=NOW - dt.timedelta(minutes=1)))
    with pytest.raises(StatementError):
        _commit(_appeal(external_id="RX-3", reported_at=dt.datetime(2026, 11, 20, 8, 0)))


def test_appeal_region_must_exist(tree):
    with pytest.raises(IntegrityError):
        _commit(_appeal(region_code="510107001001999"))


def test_times_round_trip_as_utc(tree):
    shanghai = dt.timezone(dt.timedelta(hours=8))
    _commit(_appeal(reported_at=dt.datetime(2026, 10, 1, 23, 45, tzinfo=shanghai), deadline_at=NOW))
    with db.session() as session:
        appeal = session.query(Appeal).one()
        assert appeal.reported_at == dt.datetime(2026, 10, 1, 15, 45, tzinfo=dt.UTC)
        assert appeal.reported_at.tzinfo is not None


def test_transition_sequence_is_unique_per_appeal(tree):
    appeal = _appeal()
    _commit(appeal)
    step = dict(action="report", to_status=AppealStatus.REPORTED, at=NOW, actor="feed", level=RegionLevel.COMMUNITY)
    _commit(Transition(appeal_id=appeal.id, seq=1, **step))
    with pytest.raises(IntegrityError):
        _commit(Transition(appeal_id=appeal.id, seq=1, **step))


def test_resident_id_number_hash_is_unique(tree):
    resident = dict(
        region_code="510107001001001",
        name="张三",
        id_number_hash="a" * 64,
        id_number_encrypted=b"x",
        gender="M",
        birth_date=dt.date(1980, 1, 1),
        household_type=HouseholdType.REGISTERED,
        employment_status=EmploymentStatus.EMPLOYED,
    )
    _commit(Resident(**resident))
    with pytest.raises(IntegrityError):
        _commit(Resident(**resident))


def test_supervisor_needs_a_region_and_usernames_are_unique(tree):
    with pytest.raises(IntegrityError):
        _commit(User(username="lead", display_name="lead", password_hash="x", role=Role.SUPERVISOR))
    _commit(
        User(username="lead", display_name="lead", password_hash="x", role=Role.SUPERVISOR, region_code="510107001")
    )
    with pytest.raises(IntegrityError):
        _commit(User(username="lead", display_name="other", password_hash="y", role=Role.ADMIN))
