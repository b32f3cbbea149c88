"""The domain's fixed vocabularies. Codes are English; labels live in dashboard/i18n."""

from __future__ import annotations

from enum import StrEnum


class RegionLevel(StrEnum):
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    COMPOUND = "compound"


# Statistical division codes: district 6 digits, street 9, community 12, compound 15.
CODE_LENGTH = {
    RegionLevel.DISTRICT: 6,
    RegionLevel.STREET: 9,
    RegionLevel.COMMUNITY: 12,
    RegionLevel.COMPOUND: 15,
}
LEVEL_BY_CODE_LENGTH = {length: level for level, length in CODE_LENGTH.items()}


class HouseholdType(StrEnum):
    REGISTERED = "registered"  # 户籍
    FLOATING = "floating"  # 租户/流动人口
    EMPTY_REGISTERED = "empty_registered"  # 空挂户


class LivelihoodGroup(StrEnum):
    """The 11 livelihood archives (民生档案) of the seed."""

    DISABLED = "disabled"
    SEVERELY_DISABLED = "severely_disabled"
    FIVE_GUARANTEES = "five_guarantees"
    EMPTY_NEST_ELDERLY = "empty_nest_elderly"
    UNSUPPORTED_CHILD = "unsupported_child"
    CHILD_IN_DIFFICULTY = "child_in_difficulty"
    LOST_ONLY_CHILD = "lost_only_child"
    MILITARY_RELATED = "military_related"
    OLD_AGE_ALLOWANCE = "old_age_allowance"
    RELIEF_RECIPIENT = "relief_recipient"
    URBAN_DIBAO = "urban_dibao"


class EmploymentStatus(StrEnum):
    EMPLOYED = "employed"
    UNEMPLOYED = "unemployed"
    RETIRED = "retired"
    STUDENT = "student"
    NOT_IN_LABOUR_FORCE = "not_in_labour_force"


class Channel(StrEnum):
    HOTLINE_12345 = "hotline_12345"
    WECHAT = "wechat"
    GRID_PATROL = "grid_patrol"
    VISIT_TEAM = "visit_team"
    STREET_CALL = "street_call"  # 街社呼叫
    OPEN311 = "open311"
    SENSOR = "sensor"
    CITY_MANAGEMENT = "city_management"


class Priority(StrEnum):
    ORDINARY = "ordinary"
    URGENT = "urgent"
    EXTRA_URGENT = "extra_urgent"


class AppealStatus(StrEnum):
    REPORTED = "reported"
    ACCEPTED = "accepted"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = (
    AppealStatus.REPORTED,
    AppealStatus.ACCEPTED,
    AppealStatus.DISPATCHED,
    AppealStatus.IN_PROGRESS,
)


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"


SATISFIED_RATINGS = (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED)


class Category(StrEnum):
    NOISE = "noise"
    SANITATION = "sanitation"
    PROPERTY_MANAGEMENT = "property_management"
    ROAD_FACILITIES = "road_facilities"
    PARKING = "parking"
    STREET_VENDING = "street_vending"
    NEIGHBOUR_DISPUTE = "neighbour_dispute"
    SAFETY_HAZARD = "safety_hazard"
    GREENERY = "greenery"
    UTILITIES = "utilities"
    SOCIAL_ASSISTANCE = "social_assistance"
    OTHER = "other"


class TransitionAction(StrEnum):
    REPORT = "report"
    ACCEPT = "accept"
    DISPATCH = "dispatch"
    START = "start"
    RESOLVE = "resolve"
    CLOSE = "close"
    ESCALATE = "escalate"
    RETURN = "return"
    RATE = "rate"
    REOPEN = "reopen"
    LINK_DUPLICATE = "link_duplicate"
    URGE = "urge"  # 督办/催办: pushes whoever holds the appeal; the status stays


class TeamKind(StrEnum):
    """The three visiting teams (三支队伍) and whom they visit, and a community's patrol team (巡逻队)."""

    RESIDENTS = "residents"
    MERCHANTS = "merchants"
    ENTERPRISES = "enterprises"
    PATROL = "patrol"


# The three visiting teams (三支队伍) every community has; PATROL is optional.
VISITING_TEAM_KINDS = (TeamKind.RESIDENTS, TeamKind.MERCHANTS, TeamKind.ENTERPRISES)


class VisitListKind(StrEnum):
    DIFFICULTY = "difficulty"  # 困难问题清单
    SERVICE_NEED = "service_need"  # 服务需求清单
    RISK = "risk"  # 风险隐患清单


class VisitItemStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


class QuarantineStatus(StrEnum):
    PENDING = "pending"
    REPLAYED = "replayed"
    DISCARDED = "discarded"
