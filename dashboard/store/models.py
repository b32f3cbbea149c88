"""The data model: typed SQLAlchemy 2.0 mappings. Times are stored in UTC."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from dashboard.domain.keys import KeyScope, actions_from_text
from dashboard.domain.roles import Role, assignment_required_sql, scope_required_sql
from dashboard.domain.vocab import (
    AppealStatus,
    Category,
    Channel,
    EmploymentStatus,
    HouseholdType,
    LivelihoodGroup,
    Priority,
    QuarantineStatus,
    RegionLevel,
    Satisfaction,
    TeamKind,
    TransitionAction,
    VisitItemStatus,
    VisitListKind,
)

# Named constraints so that Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC instant on every backend (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where a UTC instant is required")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def enum_column(enum_cls: type[StrEnum], name: str) -> Enum:
    """A portable enum: VARCHAR plus a CHECK constraint, storing the code string."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda cls: [member.value for member in cls],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime()}  # noqa: RUF012 - SQLAlchemy reads it from the class


def utcnow() -> dt.datetime:
    """The current instant, in UTC."""
    return dt.datetime.now(dt.UTC)


class Region(Base):
    """A node of the district → street → community → compound hierarchy."""

    __tablename__ = "regions"
    __table_args__ = (
        CheckConstraint(
            "(level = 'district' AND length(code) = 6 AND parent_code IS NULL)"
            " OR (level = 'street' AND length(code) = 9)"
            " OR (level = 'community' AND length(code) = 12)"
            " OR (level = 'compound' AND length(code) = 15)",
            name="level_matches_code",
        ),
        CheckConstraint(
            "parent_code IS NULL OR (length(parent_code) = length(code) - 3"
            " AND substr(code, 1, length(parent_code)) = parent_code)",
            name="code_extends_parent",
        ),
        CheckConstraint("level = 'district' OR parent_code IS NOT NULL", name="parent_required"),
    )

    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(96))
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel, "region_level"), index=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    center_lat: Mapped[float | None] = mapped_column(Float)
    center_lon: Mapped[float | None] = mapped_column(Float)
    # GeoJSON geometry (WGS-84). Demo regions carry synthetic shapes placed around Wuhou's real location.
    boundary: Mapped[dict | None] = mapped_column(JSON)
    # Set when a re-import no longer lists the region and --archive-missing was given: it is kept
    # (appeals, residents and users may point at it) but no longer offered or drawn.
    archived_at: Mapped[dt.datetime | None]

    parent: Mapped[Region | None] = relationship(remote_side=[code], back_populates="children")
    children: Mapped[list[Region]] = relationship(back_populates="parent")


class Department(Base):
    """A handling body: an urban-management bureau, a police station, a property company…"""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(96))
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel, "department_level"))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    kind: Mapped[str | None] = mapped_column(String(32))  # e.g. urban management, police, property


class Team(Base):
    """One of a community's three visiting teams (三支队伍), or its patrol team; one of each kind per community."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("region_code", "kind", name="uq_teams_region_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    kind: Mapped[TeamKind] = mapped_column(enum_column(TeamKind, "team_kind"))
    name: Mapped[str] = mapped_column(String(64))

    @property
    def code(self) -> str:
        """The team's code as files, the CLI and webhooks name it: its community and kind ("510107001001/patrol")."""
        return f"{self.region_code}/{self.kind.value}"


class Staff(Base):
    """A person who works a case: grid worker, team member, department handler."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    # The district's own id for the person (an imported staff file): a re-import updates, never duplicates.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class Resident(Base):
    """A person in the population database (人口库). The ID number is never stored in clear."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    # Keyed hash (HMAC-SHA256) for matching, and the number encrypted for an audited admin unmask.
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    gender: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    household_type: Mapped[HouseholdType] = mapped_column(enum_column(HouseholdType, "household_type"))
    employment_status: Mapped[EmploymentStatus] = mapped_column(enum_column(EmploymentStatus, "employment_status"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    groups: Mapped[list[ResidentGroup]] = relationship(cascade="all, delete-orphan")


class ResidentGroup(Base):
    """Membership of a resident in one of the 11 livelihood archives."""

    __tablename__ = "resident_groups"
    __table_args__ = (Index("ix_resident_groups_group", "group_code"),)

    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True)
    group_code: Mapped[LivelihoodGroup] = mapped_column(
        enum_column(LivelihoodGroup, "livelihood_group"), primary_key=True
    )


class Business(Base):
    """A merchant or enterprise in the commercial database (商业库)."""

    __tablename__ = "businesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)  # 统一社会信用代码
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # merchant | enterprise
    industry: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(32))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    employees: Mapped[int] = mapped_column(Integer, default=0)


class Appeal(Base):
    """A resident's appeal, complaint or reported hazard (诉求), tracked against its deadline."""

    __tablename__ = "appeals"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_appeals_source_external_id"),
        Index("ix_appeals_region_reported", "region_code", "reported_at"),
        Index("ix_appeals_open_deadline", "is_open", "deadline_at"),
        # The drill-down counts a period's appeals and their response times from this index
        # alone; it also serves every query by report time, as the next one does by resolution
        # time (migrations 0004, 0005).
        Index(
            "ix_appeals_reported_cover",
            *("reported_at", "region_code", "category", "priority", "source", "status", "accepted_at"),
        ),
        Index("ix_appeals_resolved_reported", "resolved_at", "reported_at"),
        # The alerts job (issue 19, migration 0011): each department's appeals reported and resolved per
        # day of the last 30, from these indexes alone (its median open load).
        Index("ix_appeals_reported_department", "reported_at", "department_id"),
        Index("ix_appeals_resolved_department", "resolved_at", "department_id"),
        CheckConstraint("length(description) > 0", name="description_not_empty"),
        CheckConstraint("reopen_count >= 0", name="reopen_count_non_negative"),
        CheckConstraint("accepted_at IS NULL OR accepted_at >= reported_at", name="accepted_after_reported"),
        CheckConstraint("resolved_at IS NULL OR resolved_at >= reported_at", name="resolved_after_reported"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    external_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[Category] = mapped_column(enum_column(Category, "category"))
    priority: Mapped[Priority] = mapped_column(enum_column(Priority, "priority"))
    status: Mapped[AppealStatus] = mapped_column(enum_column(AppealStatus, "appeal_status"))
    # Denormalised from status so that "open, nearest deadline" is one index range scan.
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel, "appeal_level"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # The team it is dispatched to (e.g. a community's patrol team), beside or instead of a department.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    reporter_name: Mapped[str | None] = mapped_column(String(32))
    reporter_phone: Mapped[str | None] = mapped_column(String(20))
    reported_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None]
    dispatched_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    deadline_at: Mapped[dt.datetime]
    satisfaction: Mapped[Satisfaction | None] = mapped_column(enum_column(Satisfaction, "satisfaction"))
    rated_at: Mapped[dt.datetime | None]
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    urge_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 督办 steps taken
    # Optimistic concurrency (issue 16): raised by every change (workflow step, feed update); an
    # action sent with an older version is refused, naming changed_by and updated_at.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    changed_by: Mapped[str | None] = mapped_column(String(64))
    # The feed's own version of the record (its updated_at, or its newest timestamp): a
    # re-delivery with the same version changes nothing, an older one is ignored.
    source_version: Mapped[dt.datetime | None]
    # Indexed: deleting an appeal checks what points at it.
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    region: Mapped[Region] = relationship()
    department: Mapped[Department | None] = relationship()
    transitions: Mapped[list[Transition]] = relationship(
        back_populates="appeal", order_by="Transition.seq", cascade="all, delete-orphan"
    )


class Transition(Base):
    """One step of an appeal's history: who did what, when, at which level."""

    __tablename__ = "transitions"
    __table_args__ = (
        UniqueConstraint("appeal_id", "seq", name="uq_transitions_appeal_seq"),
        # Steps of one kind in a period (the urged KPI, automatic escalations).
        Index("ix_transitions_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[TransitionAction] = mapped_column(enum_column(TransitionAction, "transition_action"))
    from_status: Mapped[AppealStatus | None] = mapped_column(enum_column(AppealStatus, "from_status"))
    to_status: Mapped[AppealStatus] = mapped_column(enum_column(AppealStatus, "to_status"))
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(64))
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel, "transition_level"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    note: Mapped[str | None] = mapped_column(Text)

    appeal: Mapped[Appeal] = relationship(back_populates="transitions")


class VisitItem(Base):
    """An entry of a visiting team's list: a difficulty, a service need, or a risk."""

    __tablename__ = "visit_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    list_kind: Mapped[VisitListKind] = mapped_column(enum_column(VisitListKind, "visit_list_kind"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    title: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str | None] = mapped_column(Text)
    status: Mapped[VisitItemStatus] = mapped_column(enum_column(VisitItemStatus, "visit_item_status"))
    found_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"), index=True)
    # The id of the entry in an imported visits file: a re-import updates, never duplicates.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class PopulationAggregate(Base):
    """A compound's population counted by the district, as of a date (for districts that keep
    individual resident records to themselves). Where a compound has resident records, those count."""

    __tablename__ = "population_aggregates"
    __table_args__ = (
        UniqueConstraint("region_code", "as_of", name="uq_population_aggregates_region_as_of"),
        CheckConstraint("residents >= 0", name="residents_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    residents: Mapped[int] = mapped_column(Integer)
    # Households (or people) by HouseholdType value, and people by LivelihoodGroup value.
    household_types: Mapped[dict] = mapped_column(JSON, default=dict)
    groups: Mapped[dict] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(64))  # the file it came from
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KpiSnapshot(Base):
    """The KPIs of one region for one local calendar day, as exported that night."""

    __tablename__ = "kpi_snapshots"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)
    received: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    resolved_on_time: Mapped[int] = mapped_column(Integer)
    on_time_rate: Mapped[float | None] = mapped_column(Float)
    overdue_open: Mapped[int] = mapped_column(Integer)
    avg_handling_wd: Mapped[float | None] = mapped_column(Float)
    rated: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)
    satisfaction_rate: Mapped[float | None] = mapped_column(Float)
    response_median_min: Mapped[float | None] = mapped_column(Float)
    urged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 督办 steps (issue 16)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KpiDay(Base):
    """Additive KPI counters of one region (everything at or below it), local day and category.

    Maintained with every change to appeals (see dashboard/store/counters.py): `received` under the
    day an appeal was reported, the others under the day it was resolved.
    """

    __tablename__ = "kpi_daily"
    __table_args__ = (Index("ix_kpi_daily_day_region", "day", "region_code"),)

    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    category: Mapped[Category] = mapped_column(enum_column(Category, "kpi_daily_category"), primary_key=True)
    received: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    resolved_on_time: Mapped[int] = mapped_column(Integer, default=0)
    # Whole working seconds, summed exactly (a float sum kept by deltas would drift).
    handling_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    rated: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)


class KpiDayByDimension(Base):
    """kpi_daily's counters split further by the drill-down's value filters (issue 21): priority,
    channel (the appeal's source) and status — the appeal's current status, as the filter means it.

    Kept by the same deltas (dashboard/store/counters.py): a status change moves the appeal's counts
    from one status to the other. On SQLite a WITHOUT ROWID table (the key is most of a row).
    """

    __tablename__ = "kpi_daily_dims"
    __table_args__ = ({"sqlite_with_rowid": False},)

    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    category: Mapped[Category] = mapped_column(enum_column(Category, "kpi_daily_dims_category"), primary_key=True)
    priority: Mapped[Priority] = mapped_column(enum_column(Priority, "kpi_daily_dims_priority"), primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "kpi_daily_dims_channel"), primary_key=True)
    status: Mapped[AppealStatus] = mapped_column(enum_column(AppealStatus, "kpi_daily_dims_status"), primary_key=True)
    received: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    resolved_on_time: Mapped[int] = mapped_column(Integer, default=0)
    handling_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    rated: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)


class KpiAggregateState(Base):
    """What kpi_daily was computed with (one row): the KPI definitions, the time zone and the working-day calendar."""

    __tablename__ = "kpi_aggregate_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))
    # '1' (working) or '0' per local day from workcal.FIRST_YEAR-01-01, and its SHA-256 with the zone.
    working_days: Mapped[str] = mapped_column(Text)
    calendar_digest: Mapped[str] = mapped_column(String(64))
    # domain.kpi.KPI_DEFINITIONS_VERSION the counters were computed with: another version rebuilds them.
    definitions_version: Mapped[int] = mapped_column(Integer, server_default="1")
    built_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DailyExport(Base):
    """One local day's KPI export: claimed by exactly one process, finished once."""

    __tablename__ = "daily_exports"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    files: Mapped[list | None] = mapped_column(JSON)
    # Set when the day had not ended when it was produced: the moment its states were read. Such
    # an export is provisional; the nightly job produces the day again once it has ended.
    as_of: Mapped[dt.datetime | None]


class User(Base):
    """A person who logs in (domain.roles): an admin, or an account scoped to a region; a handler also
    belongs to a department or a team."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(scope_required_sql(), name="supervisor_has_region"),
        CheckConstraint(assignment_required_sql(), name="handler_has_assignment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))  # a handler's
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))  # a handler's
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Part of every session's identity (auth.Principal.get_id): raising it ends all of this
    # user's sessions at once, on every web process, at their next request.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def end_sessions(self) -> None:
        """End every session of this user (they must log in again)."""
        self.session_generation = (self.session_generation or 0) + 1

    @validates("password_hash", "role", "region_code", "department_id", "team_id", "active")
    def _credentials_changed(self, key: str, value):
        # A new password, role, region or activation state ends the sessions started under the
        # old one (a stolen cookie must not outlive a password change or a deactivation).
        if self.id is not None and getattr(self, key) != value:
            self.end_sessions()
        return value


class WebSession(Base):
    """A server-side log-in session (Flask-Session's data, keyed by the random id in the cookie)."""

    __tablename__ = "web_sessions"

    session_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class WallToken(Base):
    """A revocable token that lets a wall device show a region's aggregates without a login."""

    __tablename__ = "wall_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class ApiKey(Base):
    """A revocable key for a feed or department system posting to the API."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[Channel] = mapped_column(enum_column(Channel, "api_key_channel"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    # Its scope (domain.keys): a region, covering everything below it, and the actions it may take
    # (their codes, comma-separated). NULL is not narrowed: keys made before revision 0007 keep their reach.
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    actions: Mapped[str | None] = mapped_column(String(128))

    @property
    def scope(self) -> KeyScope:
        """What this key may reach and do."""
        return KeyScope(self.region_code, actions_from_text(self.actions))


class AuditLog(Base):
    """Who saw or exported what, when and why."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSON)


class QuarantinedRecord(Base):
    """An input record that failed validation, kept with its raw content and the reason."""

    __tablename__ = "quarantined_records"
    __table_args__ = (Index("ix_quarantined_records_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of kind, location and raw content: the same bad record delivered again is kept once.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # appeal | resident | business
    location: Mapped[str] = mapped_column(String(255))  # file and line, or request and index
    raw: Mapped[str] = mapped_column(Text)
    field: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[QuarantineStatus] = mapped_column(
        enum_column(QuarantineStatus, "quarantine_status"), default=QuarantineStatus.PENDING
    )
    resolved_at: Mapped[dt.datetime | None]


class Webhook(Base):
    """A system told about workflow events (issue 16): a WeCom/DingTalk group robot, a team's
    dispatch system, the 12345 hotline receiving its appeals' outcomes."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    # The HMAC-SHA256 key of the signature header; the receiver holds the same one (shown once).
    secret: Mapped[str] = mapped_column(String(128))
    events: Mapped[str] = mapped_column(String(255))  # event codes, comma-separated
    # At most one filter: only events of appeals of this department, team, region (or below) or source.
    filter_kind: Mapped[str | None] = mapped_column(String(16))  # department | team | region | source
    filter_value: Mapped[str | None] = mapped_column(String(64))
    body_format: Mapped[str] = mapped_column(String(16), default="json", server_default="json")
    # An internal trusted system gets personal data unmasked (set by an admin, audited).
    trusted: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[dt.datetime | None]


class OutboxEvent(Base):
    """A workflow event, written in the same transaction as the step that caused it (a transactional outbox)."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_occurred_at", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)  # sent as a header: receivers de-duplicate by it
    event: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[dt.datetime]
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id", ondelete="SET NULL"), index=True)
    # What webhook filters match on, as the appeal was at the event.
    region_code: Mapped[str | None] = mapped_column(String(15))
    department_id: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON)


class WebhookDelivery(Base):
    """One event to one webhook: pending until delivered, retried with backoff, dead after the retry window."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "webhook_id", name="uq_webhook_deliveries_event_webhook"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_attempt_at: Mapped[dt.datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """An early warning (issue 19): a surge, a repeated problem or an appeal at risk of missing its deadline.

    `key` names the condition (kind, place, category, …); while an alert is not closed no second
    alert with the same key is raised (a partial unique index), so a job run twice raises it once.
    `details` holds the figures the reason is written from (counts, expectation, probability);
    the words themselves are rendered per language by `dashboard.ui.alerts`.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_key",
            "key",
            unique=True,
            postgresql_where=text("status <> 'closed'"),
            sqlite_where=text("status <> 'closed'"),
        ),
        Index("ix_alerts_region_status", "region_code", "status"),
        Index("ix_alerts_raised_at", "raised_at"),
        CheckConstraint("kind IN ('surge', 'repeat', 'at_risk')", name="alert_kind"),
        CheckConstraint("status IN ('new', 'acknowledged', 'closed')", name="alert_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # surge | repeat | at_risk
    key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="new")  # new → acknowledged → closed
    # Where it happened: the community or street (surge), the compound or community (repeat),
    # the appeal's region (at risk). Walls and scopes filter on it ("this region or below").
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    category: Mapped[Category | None] = mapped_column(enum_column(Category, "alert_category"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id", ondelete="SET NULL"), index=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    raised_at: Mapped[dt.datetime]
    # The last job run that still found the condition; an alert closes by itself a day after.
    last_seen_at: Mapped[dt.datetime]
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledge_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))  # a user name, or "system:alerts"
    close_note: Mapped[str | None] = mapped_column(Text)
