"""Deterministic demo data modelled on the seed (Cuqiao street, Wuhou district).

Everything is generated as numpy/pandas columns from one seeded generator and loaded with
bulk inserts, so a street (98k residents, 61k appeals) takes seconds and a district
(1.2M residents, 1.5M appeals) minutes. The same seed and end instant give the same data.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import tomllib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, select, text

from dashboard.config import DATA_DIR
from dashboard.domain import lifecycle
from dashboard.domain.kpi import compute_kpis, kpi_frame
from dashboard.domain.localday import local_date
from dashboard.domain.pii import PiiVault
from dashboard.domain.sla import SlaPolicy
from dashboard.domain.vocab import (
    OPEN_STATUSES,
    VISITING_TEAM_KINDS,
    Category,
    Channel,
    EmploymentStatus,
    HouseholdType,
    LivelihoodGroup,
    Priority,
    RegionLevel,
    Satisfaction,
    TeamKind,
    TransitionAction,
    VisitItemStatus,
    VisitListKind,
)
from dashboard.domain.workcal import DAY, WorkCalendar
from dashboard.services import demo_shapes
from dashboard.store import counters as aggregates
from dashboard.store.bulk import bulk_insert
from dashboard.store.database import Database
from dashboard.store.models import Appeal, Base, Business, Region, Resident, ResidentGroup, Transition, VisitItem

log = logging.getLogger(__name__)

NAMES_FILE = DATA_DIR / "demo" / "wuhou.toml"

# What the seed reports for Cuqiao street, for the summary's comparison.
SEED_TARGETS = {
    "residents": 98_100,
    "appeals_per_year": 61_500,
    "satisfaction_rate": 0.85,
    "avg_handling_wd": 1.3,
}


@dataclass(frozen=True)
class DemoScale:
    """How much demo data to make."""

    name: str
    streets: int
    communities: int
    compounds: int
    residents: int
    appeals: int
    days: int
    businesses: int


SCALES = {
    "street": DemoScale("street", 1, 8, 96, 98_130, 61_500, 365, 6_200),
    "district": DemoScale("district", 13, 100, 1_500, 1_200_000, 1_500_000, 730, 72_000),
    "tiny": DemoScale("tiny", 1, 3, 9, 2_000, 1_500, 30, 120),
}

# Mixes (weights are normalised where used).
PRIORITY_MIX = {Priority.ORDINARY: 0.80, Priority.URGENT: 0.16, Priority.EXTRA_URGENT: 0.04}
CHANNEL_MIX = {
    Channel.HOTLINE_12345: 0.38,
    Channel.WECHAT: 0.22,
    Channel.GRID_PATROL: 0.18,
    Channel.VISIT_TEAM: 0.08,
    Channel.STREET_CALL: 0.07,
    Channel.CITY_MANAGEMENT: 0.04,
    Channel.OPEN311: 0.02,
    Channel.SENSOR: 0.01,
}
CATEGORY_MIX_DAY = {
    Category.NOISE: 0.08,
    Category.SANITATION: 0.14,
    Category.PROPERTY_MANAGEMENT: 0.15,
    Category.ROAD_FACILITIES: 0.09,
    Category.PARKING: 0.10,
    Category.STREET_VENDING: 0.08,
    Category.NEIGHBOUR_DISPUTE: 0.07,
    Category.SAFETY_HAZARD: 0.07,
    Category.GREENERY: 0.04,
    Category.UTILITIES: 0.07,
    Category.SOCIAL_ASSISTANCE: 0.05,
    Category.OTHER: 0.06,
}
# At night noise dominates (the seed's 23:45 complaint about a merchant).
CATEGORY_MIX_NIGHT = {**CATEGORY_MIX_DAY, Category.NOISE: 0.45, Category.NEIGHBOUR_DISPUTE: 0.12}
HOUR_WEIGHTS = np.array(
    [
        0.6,
        0.4,
        0.3,
        0.2,
        0.2,
        0.3,
        0.8,
        1.8,
        3.5,
        5.5,
        6.0,
        5.2,
        3.5,
        3.8,
        5.0,
        5.3,
        5.0,
        4.2,
        3.0,
        3.2,
        3.4,
        3.0,
        2.0,
        1.2,
    ]
)
WEEKDAY_FACTOR = np.array([1.10, 1.05, 1.00, 1.00, 0.95, 0.78, 0.72])
EXTERNAL_ID_PREFIX = {
    Channel.HOTLINE_12345: "RX",
    Channel.WECHAT: "WX",
    Channel.GRID_PATROL: "WG",
    Channel.VISIT_TEAM: "ZF",
    Channel.STREET_CALL: "HJ",
    Channel.CITY_MANAGEMENT: "CG",
    Channel.OPEN311: "OP",
    Channel.SENSOR: "GZ",
}
RESIDENT_CHANNELS = {Channel.HOTLINE_12345, Channel.WECHAT, Channel.STREET_CALL, Channel.OPEN311}

# Department kinds per level, and which kind handles a category at each level.
DEPARTMENTS = {
    RegionLevel.DISTRICT: {
        "urban_management": ("区城市管理局", "Urban Management Bureau"),
        "law_enforcement": ("区综合行政执法局", "Comprehensive Law Enforcement Bureau"),
        "housing": ("区住房和城乡建设局", "Housing and Construction Bureau"),
        "civil_affairs": ("区民政局", "Civil Affairs Bureau"),
        "ecology": ("区生态环境局", "Ecology and Environment Bureau"),
    },
    RegionLevel.STREET: {
        "street_enforcement": ("综合执法队", "Law enforcement team"),
        "police": ("派出所", "Police station"),
        "street_urban": ("城市管理科", "Urban management office"),
        "street_service": ("社区服务中心", "Community service centre"),
    },
    RegionLevel.COMMUNITY: {
        "patrol": ("社区巡查队", "Community patrol"),
        "property": ("物业服务中心", "Property management company"),
    },
}
HANDLER_KIND = {  # category: (community, street, district)
    Category.NOISE: ("patrol", "street_enforcement", "ecology"),
    Category.SANITATION: ("property", "street_urban", "urban_management"),
    Category.PROPERTY_MANAGEMENT: ("property", "street_urban", "housing"),
    Category.ROAD_FACILITIES: ("patrol", "street_urban", "housing"),
    Category.PARKING: ("property", "police", "urban_management"),
    Category.STREET_VENDING: ("patrol", "street_enforcement", "law_enforcement"),
    Category.NEIGHBOUR_DISPUTE: ("patrol", "police", "civil_affairs"),
    Category.SAFETY_HAZARD: ("patrol", "police", "housing"),
    Category.GREENERY: ("property", "street_urban", "urban_management"),
    Category.UTILITIES: ("property", "street_urban", "housing"),
    Category.SOCIAL_ASSISTANCE: ("patrol", "street_service", "civil_affairs"),
    Category.OTHER: ("patrol", "street_service", "civil_affairs"),
}
LEVELS = (RegionLevel.COMMUNITY, RegionLevel.STREET, RegionLevel.DISTRICT)


def handling_department_code(region_code: str, category: Category, level: RegionLevel) -> str:
    """The demo department that handles a category at a level for an appeal placed in region_code
    (one appeal's form of build_appeals' lookup: "<region at that level>-<kind>")."""
    index = LEVELS.index(level)
    return f"{region_code[: (12, 9, 6)[index]]}-{HANDLER_KIND[category][index]}"


FLOATING_AREA_CODES = ["510122", "510623", "511602", "500101", "513701", "510902", "411302", "430102", "420102"]
AGE_BRACKET_WEIGHTS = np.array(
    [4.5, 4.8, 4.6, 4.9, 6.8, 9.0, 9.6, 8.8, 7.6, 7.4, 7.0, 6.4, 5.6, 4.6, 3.4, 2.3, 1.6, 1.0]
)
VISIT_TITLES = {
    VisitListKind.DIFFICULTY: [
        "独居老人生活困难",
        "困难家庭子女就学",
        "残疾人就业困难",
        "商户经营困难",
        "企业用工困难",
    ],
    VisitListKind.SERVICE_NEED: ["老人助餐服务", "儿童托管服务", "家政服务需求", "政策咨询", "法律援助需求"],
    VisitListKind.RISK: ["电动车违规充电", "燃气使用隐患", "楼道堆物", "消防器材过期", "外墙空鼓脱落风险"],
}


def _names() -> dict:
    with NAMES_FILE.open("rb") as handle:
        return tomllib.load(handle)


def _normalised(weights: dict) -> tuple[list, np.ndarray]:
    keys = list(weights)
    values = np.array([weights[k] for k in keys], dtype=float)
    return keys, values / values.sum()


def build_regions(
    rng: np.random.Generator, scale: DemoScale, names: dict, shape_rng: np.random.Generator | None = None
) -> pd.DataFrame:
    """The region tree with map-like synthetic shapes; compounds carry a population weight.

    The shapes (demo_shapes: Voronoi cells within an irregular district outline) are drawn from
    their own generator, shape_rng, so that they leave rng's sequence, and so all other demo
    data, as it was.
    """
    district = names["district"]
    streets = names["streets"]
    street_weights = rng.gamma(6.0, 1.0, len(streets))
    street_weights[0] = street_weights.max() * 1.1  # Cuqiao is one of the largest
    rows = [
        {
            "code": district["code"],
            "name": district["name"],
            "name_en": district["name_en"],
            "level": RegionLevel.DISTRICT.value,
            "parent_code": None,
            "weight": np.nan,
        }
    ]
    per_street = np.full(scale.streets, scale.communities // scale.streets)
    per_street[: scale.communities % scale.streets] += 1
    if scale.streets > 1:
        # Cuqiao keeps its named communities; the rest are shared out over the other streets.
        per_street[0] = max(per_street[0], len(streets[0].get("communities", [])))
        rest = np.array_split(np.arange(scale.communities - per_street[0]), scale.streets - 1)
        per_street[1:] = [len(part) for part in rest]
    stems = list(names["names"]["community_stems"])
    rng.shuffle(stems)
    compound_stems = names["names"]["compound_stems"]
    compound_suffixes = names["names"]["compound_suffixes"]
    per_community = scale.compounds // scale.communities
    extra_compounds = scale.compounds % scale.communities
    stem_index = 0
    community_index = 0
    for s in range(scale.streets):
        street = streets[s]
        street_code = f"{district['code']}{s + 1:03d}"
        rows.append(
            {
                "code": street_code,
                "name": street["name"],
                "name_en": street["name_en"],
                "level": RegionLevel.STREET.value,
                "parent_code": district["code"],
                "weight": np.nan,
            }
        )
        count = int(per_street[s])
        community_weights = rng.gamma(5.0, 1.0, count)
        known = street.get("communities", [])
        known_en = street.get("communities_en", [])
        for c in range(count):
            if c < len(known):
                name, name_en = known[c], f"{known_en[c]} Community"
            else:
                stem = stems[stem_index % len(stems)]
                suffix = "" if stem_index < len(stems) else str(stem_index // len(stems) + 1)
                name, name_en = f"{stem}{suffix}社区", f"Community {s + 1}-{c + 1}"
                stem_index += 1
            community_code = f"{street_code}{c + 1:03d}"
            rows.append(
                {
                    "code": community_code,
                    "name": name,
                    "name_en": name_en,
                    "level": RegionLevel.COMMUNITY.value,
                    "parent_code": street_code,
                    "weight": np.nan,
                }
            )
            n_compounds = per_community + (1 if community_index < extra_compounds else 0)
            community_index += 1
            compound_weights = rng.gamma(2.0, 1.0, n_compounds) * community_weights[c]
            for k in range(n_compounds):
                stem = compound_stems[(c * 7 + k * 3 + s) % len(compound_stems)]
                suffix = compound_suffixes[(k + c) % len(compound_suffixes)]
                rows.append(
                    {
                        "code": f"{community_code}{k + 1:03d}",
                        "name": f"{stem}{suffix}" if k < len(compound_stems) else f"{stem}{suffix}{k // 10}期",
                        "name_en": f"Compound {k + 1}",
                        "level": RegionLevel.COMPOUND.value,
                        "parent_code": community_code,
                        "weight": compound_weights[k],
                    }
                )
    frame = pd.DataFrame(rows)
    lon0, lat0, lon1, lat1 = district["bbox"]
    shapes, labels = demo_shapes.region_shapes(
        frame, shape_rng or np.random.default_rng(0), (lon0 + lon1) / 2, (lat0 + lat1) / 2, len(streets)
    )
    frame["shape"] = shapes  # WGS-84 polygons (appeals are placed inside their compound's)
    frame["center_lon"], frame["center_lat"] = labels[:, 0], labels[:, 1]  # a point well inside the shape
    frame["boundary"] = shapely.to_geojson(shapes)
    return frame


def _chinese_names(rng: np.random.Generator, n: int, names: dict) -> np.ndarray:
    surnames = np.array(names["names"]["surnames"])
    given = np.array(names["names"]["given_chars"])
    first = given[rng.integers(0, len(given), n)]
    second = np.where(rng.random(n) < 0.7, given[rng.integers(0, len(given), n)], "")
    return np.char.add(np.char.add(surnames[rng.integers(0, len(surnames), n)], first), second)


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    prefixes = np.array(["13", "15", "18", "17", "19", "16"])
    tails = rng.integers(0, 1_000_000_000, n)
    return np.char.add(prefixes[rng.integers(0, len(prefixes), n)], np.char.zfill(tails.astype(str), 9))


def _id_numbers(area: np.ndarray, birth: pd.Series, male: np.ndarray) -> np.ndarray:
    """Unique 18-character ID numbers with correct GB 11643 check characters."""
    birth_text = birth.dt.strftime("%Y%m%d").to_numpy(dtype=str)
    frame = pd.DataFrame({"area": area, "birth": birth_text, "male": male})
    serial = frame.groupby(["area", "birth", "male"]).cumcount().to_numpy()
    if serial.max(initial=0) > 498:
        raise ValueError("too many residents share an area, birth date and gender for unique ID numbers")
    order = 2 * serial + np.where(male, 1, 2)  # odd for men, even for women
    first17 = np.char.add(np.char.add(area.astype(str), birth_text), np.char.zfill(order.astype(str), 3))
    digits = np.frombuffer("".join(first17).encode(), dtype=np.uint8).reshape(-1, 17) - ord("0")
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    check = np.array(list("10X98765432"))[(digits @ weights) % 11]
    return np.char.add(first17, check)


def build_residents(
    rng: np.random.Generator,
    scale: DemoScale,
    compounds: pd.DataFrame,
    names: dict,
    vault: PiiVault,
    today: dt.date,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Residents spread over compounds by weight, with the 11 livelihood groups."""
    n = scale.residents
    weights = compounds["weight"].to_numpy()
    counts = rng.multinomial(n, weights / weights.sum())
    region = np.repeat(compounds["code"].to_numpy(), counts)
    male = rng.random(n) < 0.505
    bracket = rng.choice(len(AGE_BRACKET_WEIGHTS), n, p=AGE_BRACKET_WEIGHTS / AGE_BRACKET_WEIGHTS.sum())
    age_days = (bracket * 5 + rng.random(n) * 5) * 365.25
    birth = pd.Series(pd.Timestamp(today) - pd.to_timedelta(age_days.astype(int), unit="D"))
    age = age_days / 365.25
    household = rng.choice(
        [HouseholdType.REGISTERED.value, HouseholdType.FLOATING.value, HouseholdType.EMPTY_REGISTERED.value],
        n,
        p=[0.55, 0.38, 0.07],
    )
    area = np.where(
        household == HouseholdType.FLOATING.value,
        np.array(FLOATING_AREA_CODES)[rng.integers(0, len(FLOATING_AREA_CODES), n)],
        "510107",
    )
    id_numbers = _id_numbers(area, birth, male)
    employment = np.select(
        [age < 18, age < 22, age >= 60],
        [EmploymentStatus.STUDENT.value, EmploymentStatus.STUDENT.value, EmploymentStatus.RETIRED.value],
        default=rng.choice(
            [
                EmploymentStatus.EMPLOYED.value,
                EmploymentStatus.UNEMPLOYED.value,
                EmploymentStatus.NOT_IN_LABOUR_FORCE.value,
            ],
            n,
            p=[0.88, 0.05, 0.07],
        ),
    )
    employment = np.where(
        (age >= 18) & (age < 22) & (rng.random(n) < 0.35), EmploymentStatus.EMPLOYED.value, employment
    )
    has_phone = (age >= 14) & (rng.random(n) < 0.92)
    residents = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "region_code": region,
            "name": _chinese_names(rng, n, names),
            "id_number_hash": [vault.hash(x) for x in id_numbers],
            "id_number_encrypted": [vault.encrypt(x) for x in id_numbers],
            "gender": np.where(male, "M", "F"),
            "birth_date": birth.dt.date.to_numpy(),
            "phone": np.where(has_phone, _phones(rng, n), None),
            "household_type": household,
            "employment_status": employment,
        }
    )
    r = rng.random((n, 11))
    disabled = r[:, 0] < 0.025
    membership = {
        LivelihoodGroup.DISABLED: disabled,
        LivelihoodGroup.SEVERELY_DISABLED: disabled & (r[:, 1] < 0.3),
        LivelihoodGroup.FIVE_GUARANTEES: (age >= 60) & (r[:, 2] < 0.003),
        LivelihoodGroup.EMPTY_NEST_ELDERLY: (age >= 60) & (r[:, 3] < 0.18),
        LivelihoodGroup.UNSUPPORTED_CHILD: (age < 18) & (r[:, 4] < 0.0015),
        LivelihoodGroup.CHILD_IN_DIFFICULTY: (age < 18) & (r[:, 5] < 0.006),
        LivelihoodGroup.LOST_ONLY_CHILD: (age >= 50) & (r[:, 6] < 0.004),
        LivelihoodGroup.MILITARY_RELATED: r[:, 7] < 0.018,
        LivelihoodGroup.OLD_AGE_ALLOWANCE: (age >= 80) & (r[:, 8] < 0.95),
        LivelihoodGroup.RELIEF_RECIPIENT: r[:, 9] < 0.008,
        LivelihoodGroup.URBAN_DIBAO: (household != HouseholdType.FLOATING.value) & (r[:, 10] < 0.012),
    }
    groups = pd.concat(
        [
            pd.DataFrame({"resident_id": residents["id"].to_numpy()[mask], "group_code": group.value})
            for group, mask in membership.items()
        ],
        ignore_index=True,
    )
    return residents, groups


def build_businesses(rng: np.random.Generator, scale: DemoScale, compounds: pd.DataFrame, names: dict) -> pd.DataFrame:
    """Merchants and enterprises placed in compounds."""
    n = scale.businesses
    weights = compounds["weight"].to_numpy()
    region = np.repeat(compounds["code"].to_numpy(), rng.multinomial(n, weights / weights.sum()))
    industries = np.array(["餐饮", "零售", "美容美发", "维修", "教育培训", "医药", "物流", "科技", "制造", "商务服务"])
    industry = industries[rng.choice(len(industries), n, p=[0.26, 0.24, 0.1, 0.06, 0.06, 0.05, 0.06, 0.07, 0.04, 0.06])]
    enterprise = np.isin(industry, ["物流", "科技", "制造", "商务服务"]) | (rng.random(n) < 0.05)
    stems = np.array(names["names"]["compound_stems"])
    stem = stems[rng.integers(0, len(stems), n)]
    shop_names = np.where(
        enterprise,
        np.char.add(np.char.add("成都", stem), np.char.add(industry, "有限公司")),
        np.char.add(stem, np.char.add(industry, "店")),
    )
    ids = np.arange(1, n + 1)
    return pd.DataFrame(
        {
            "id": ids,
            "credit_code": np.char.add(np.char.add("915101076", np.char.zfill(ids.astype(str), 8)), "Y"),
            "name": shop_names,
            "kind": np.where(enterprise, "enterprise", "merchant"),
            "industry": industry,
            "region_code": region,
            "contact_name": _chinese_names(rng, n, names),
            "contact_phone": _phones(rng, n),
            "employees": np.where(enterprise, rng.integers(8, 400, n), rng.integers(1, 12, n)),
        }
    )


def build_departments(regions: pd.DataFrame) -> pd.DataFrame:
    """Handling departments at district, street and community level."""
    rows = []
    for _, region in regions[regions["level"] != RegionLevel.COMPOUND.value].iterrows():
        level = RegionLevel(region["level"])
        prefix = "" if level == RegionLevel.DISTRICT else region["name"]
        prefix_en = "" if level == RegionLevel.DISTRICT else f"{region['name_en']} "
        for kind, (name, name_en) in DEPARTMENTS[level].items():
            rows.append(
                {
                    "code": f"{region['code']}-{kind}",
                    "name": f"{prefix}{name}",
                    "name_en": f"{prefix_en}{name_en}",
                    "level": level.value,
                    "region_code": region["code"],
                    "kind": kind,
                }
            )
    frame = pd.DataFrame(rows)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    return frame


def build_teams_and_staff(
    rng: np.random.Generator, regions: pd.DataFrame, departments: pd.DataFrame, names: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three visiting teams per community (a leader and six members each), handlers per department."""
    communities = regions[regions["level"] == RegionLevel.COMMUNITY.value]
    teams = pd.DataFrame(
        [
            {"region_code": code, "kind": kind.value, "name": f"{name}{label}"}
            for code, name in zip(communities["code"], communities["name"], strict=True)
            for kind, label in zip(VISITING_TEAM_KINDS, ("居民走访队", "商家走访队", "企业走访队"), strict=True)
        ]
    )
    teams.insert(0, "id", np.arange(1, len(teams) + 1))
    team_staff = teams.loc[teams.index.repeat(7), ["id", "region_code"]].rename(columns={"id": "team_id"})
    team_staff["title"] = np.tile(["队长"] + ["队员"] * 6, len(teams))
    team_staff["department_id"] = None
    dept_staff = departments.loc[departments.index.repeat(5), ["id", "region_code"]].rename(
        columns={"id": "department_id"}
    )
    dept_staff["title"] = "办理人员"
    dept_staff["team_id"] = None
    staff = pd.concat([team_staff, dept_staff], ignore_index=True)
    staff["name"] = _chinese_names(rng, len(staff), names)
    staff["phone"] = _phones(rng, len(staff))
    staff.insert(0, "id", np.arange(1, len(staff) + 1))
    return teams, staff[["id", "name", "phone", "title", "region_code", "department_id", "team_id"]]


def _arrival_times(rng: np.random.Generator, scale: DemoScale, end: pd.Timestamp, calendar: WorkCalendar) -> np.ndarray:
    """Local seconds of each appeal's report, with daily and weekly rhythm, up to end."""
    end_local = int(calendar.to_local_seconds(pd.DatetimeIndex([end]))[0])
    last_day = end_local // DAY
    days = np.arange(last_day - scale.days + 1, last_day + 1)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    seasonal = 1 + 0.08 * np.sin(2 * np.pi * (days % 365) / 365 + 1.0)
    rate = WEEKDAY_FACTOR[weekday] * seasonal
    counts = rng.multinomial(scale.appeals, rate / rate.sum())
    day = np.repeat(days, counts)
    hour = rng.choice(24, len(day), p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    seconds = day * DAY + hour * 3600 + rng.integers(0, 3600, len(day))
    seconds = np.sort(seconds[seconds <= end_local])
    return seconds


def _lognormal_minutes(rng, median: np.ndarray, sigma: float, n: int) -> np.ndarray:
    return median * np.exp(rng.normal(0, sigma, n))


def build_appeals(
    rng: np.random.Generator,
    scale: DemoScale,
    end: pd.Timestamp,
    regions: pd.DataFrame,
    departments: pd.DataFrame,
    calendar: WorkCalendar,
    policy: SlaPolicy,
    names: dict,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Appeals with their whole history up to end; state fields reflect the state at end."""
    reported_local = _arrival_times(rng, scale, end, calendar)
    n = len(reported_local)
    end_local = int(calendar.to_local_seconds(pd.DatetimeIndex([end]))[0])
    hour = (reported_local % DAY) // 3600
    night = (hour >= 21) | (hour < 6)

    priorities, p = _normalised(PRIORITY_MIX)
    priority = np.array([x.value for x in priorities])[rng.choice(len(p), n, p=p)]
    channels, p = _normalised(CHANNEL_MIX)
    channel = np.array([x.value for x in channels])[rng.choice(len(p), n, p=p)]
    categories, p_day = _normalised(CATEGORY_MIX_DAY)
    _, p_night = _normalised(CATEGORY_MIX_NIGHT)
    category_codes = np.array([x.value for x in categories])
    category = np.where(
        night,
        category_codes[rng.choice(len(p_night), n, p=p_night)],
        category_codes[rng.choice(len(p_day), n, p=p_day)],
    )

    compounds = regions[regions["level"] == RegionLevel.COMPOUND.value].reset_index(drop=True)
    weights = compounds["weight"].to_numpy()
    compound_index = rng.choice(len(compounds), n, p=weights / weights.sum())
    region_code = compounds["code"].to_numpy()[compound_index]
    u, v = rng.random(n), rng.random(n)  # (two draws per appeal, as before: the rest of the sequence is unchanged)
    lon, lat = demo_shapes.sample_points(compounds["shape"].to_numpy(), compound_index, u, v)

    reported_utc = calendar.from_local_seconds(reported_local)
    frame = pd.DataFrame({"reported_at": reported_utc, "priority": priority, "category": category})
    deadline_utc = policy.deadlines(calendar, frame)
    deadline_local = calendar.to_local_seconds(deadline_utc)

    extra = priority == Priority.EXTRA_URGENT.value
    urgent = priority == Priority.URGENT.value
    # Response: minutes from report to acceptance (longer at night, seconds for extra-urgent).
    response_median = np.where(extra, 1.5, np.where(urgent, 4.0, 7.0)) * np.where(night & ~extra, 1.6, 1.0)
    accept = reported_local + np.maximum(30, _lognormal_minutes(rng, response_median, 0.6, n) * 60).astype("int64")
    dispatch = accept + np.maximum(20, _lognormal_minutes(rng, np.where(extra, 0.5, 5.0), 0.5, n) * 60).astype("int64")

    level_index = rng.choice(3, n, p=[0.62, 0.33, 0.05])
    escalate_1 = (level_index < 2) & ~extra & (rng.random(n) < 0.06)
    escalate_2 = escalate_1 & (level_index == 0) & (rng.random(n) < 0.3)
    escalate_1_at = dispatch + rng.integers(1800, 4 * 3600, n)
    escalate_2_at = escalate_1_at + rng.integers(1800, 4 * 3600, n)
    final_level_index = level_index + escalate_1 + escalate_2
    last_dispatch = np.where(escalate_2, escalate_2_at, np.where(escalate_1, escalate_1_at, dispatch))
    start = last_dispatch + np.maximum(30, _lognormal_minutes(rng, np.where(extra, 0.5, 20.0), 0.7, n) * 60).astype(
        "int64"
    )

    # Handling: a fraction of the allowed time; 7 % run late, a few very late (stuck).
    late = rng.random(n) < 0.07
    stuck = late & (rng.random(n) < 0.06)
    fraction = np.where(late, 1.0 + rng.exponential(0.45, n), 0.99 * rng.beta(4.2, 1.5, n))
    fraction = np.where(stuck, 3.0 + rng.exponential(4.0, n), fraction)
    # Spread over calendar time, so that (as in the seed) cases are also closed on weekends and holidays.
    resolve_1 = reported_local + (fraction * (deadline_local - reported_local)).astype("int64")
    resolve_1 = np.maximum(resolve_1, start + 120)
    close_1 = resolve_1 + np.maximum(600, _lognormal_minutes(rng, np.full(n, 240.0), 0.6, n) * 60).astype("int64")

    rated_1 = rng.random(n) < 0.72
    rate_1_at = close_1 + rng.integers(600, 12 * 3600, n)
    ratings = np.array([s.value for s in Satisfaction])
    p_rating = np.where(late[:, None], [[0.40, 0.25, 0.35]], [[0.62, 0.22, 0.16]])
    rating_1 = ratings[(rng.random(n)[:, None] > np.cumsum(p_rating, axis=1)).sum(axis=1)]
    reopen = rated_1 & (rating_1 == Satisfaction.UNSATISFIED.value) & (rng.random(n) < 0.35)
    reopen_at = rate_1_at + rng.integers(1800, 6 * 3600, n)
    rework = np.maximum(1, (rng.uniform(0.2, 1.0, n) * DAY)).astype("int64")
    resolve_2 = calendar.instant_of_working_seconds(calendar.working_seconds(reopen_at) + rework)
    close_2 = resolve_2 + rng.integers(1800, 8 * 3600, n)
    rated_2 = reopen & (rng.random(n) < 0.85)
    rate_2_at = close_2 + rng.integers(600, 12 * 3600, n)
    rating_2 = ratings[rng.choice(3, n, p=[0.6, 0.25, 0.15])]

    # The history template: each step exists where its condition holds and it happened by end.
    template = [
        (TransitionAction.REPORT, np.ones(n, bool), reported_local, 0),
        (TransitionAction.ACCEPT, np.ones(n, bool), accept, 0),
        (TransitionAction.DISPATCH, np.ones(n, bool), dispatch, 0),
        (TransitionAction.ESCALATE, escalate_1, escalate_1_at, 1),
        (TransitionAction.ESCALATE, escalate_2, escalate_2_at, 2),
        (TransitionAction.START, np.ones(n, bool), start, 9),
        (TransitionAction.RESOLVE, np.ones(n, bool), resolve_1, 9),
        (TransitionAction.CLOSE, np.ones(n, bool), close_1, 9),
        (TransitionAction.RATE, rated_1, rate_1_at, 9),
        (TransitionAction.REOPEN, reopen, reopen_at, 9),
        (TransitionAction.RESOLVE, reopen, resolve_2, 9),
        (TransitionAction.CLOSE, reopen, close_2, 9),
        (TransitionAction.RATE, rated_2, rate_2_at, 9),
    ]
    # Each step's statuses come from the one transition table (a template it forbids raises here).
    steps = []
    status_before = None
    for action, condition, at, level_rule in template:
        status_after = lifecycle.target_status(action, status_before)
        steps.append((action, status_before, status_after, condition, at, level_rule))
        status_before = status_after
    present = np.stack([cond & (at <= end_local) for (_, _, _, cond, at, _) in steps], axis=1)
    last_step = present.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1)
    status = np.array([s[2].value for s in steps])[last_step]

    def at_if(index: int) -> np.ndarray:
        return np.where(present[:, index], steps[index][4], -1)

    resolved_local = np.where(present[:, 10], resolve_2, np.where(present[:, 9], -1, at_if(6)))
    closed_local = np.where(present[:, 11], close_2, np.where(present[:, 9], -1, at_if(7)))
    satisfaction = np.where(
        present[:, 12], rating_2, np.where(present[:, 9], None, np.where(present[:, 8], rating_1, None))
    )
    rated_local = np.where(present[:, 12], rate_2_at, np.where(present[:, 9], -1, at_if(8)))

    def utc(local: np.ndarray) -> pd.DatetimeIndex:
        result = calendar.from_local_seconds(np.where(local < 0, 0, local))
        return result.where(local >= 0, pd.NaT)

    ids = np.arange(1, n + 1)
    level_codes = np.array([level.value for level in LEVELS])
    final_level = level_codes[final_level_index]
    # The department of the handling level, in the appeal's community, street or district.
    prefix_length = np.array([12, 9, 6])[final_level_index]
    level_region = np.array([code[:length] for code, length in zip(region_code, prefix_length, strict=True)])
    kind_table = np.array([list(HANDLER_KIND[Category(c)]) for c in category_codes])
    category_row = pd.Series(range(len(category_codes)), index=category_codes)[category].to_numpy()
    kind = kind_table[category_row, final_level_index]
    department_lookup = pd.Series(departments["id"].to_numpy(), index=departments["code"].to_numpy())
    department_id = department_lookup.reindex(
        np.char.add(np.char.add(level_region.astype(str), "-"), kind.astype(str))
    ).to_numpy()

    names_by_code = regions.set_index("code")["name"]
    community_name = names_by_code.reindex([c[:12] for c in region_code]).to_numpy()
    compound_name = names_by_code.reindex(region_code).to_numpy()
    descriptions = names["descriptions"]
    text_index = rng.integers(0, 5, n)
    description = [
        f"{compound}{descriptions[cat][i]}"
        for compound, cat, i in zip(compound_name, category, text_index, strict=True)
    ]
    building = rng.integers(1, 25, n)
    address = np.char.add(
        np.char.add(np.char.add(community_name.astype(str), compound_name.astype(str)), building.astype(str)), "栋"
    )
    resident_reported = np.isin(channel, [c.value for c in RESIDENT_CHANNELS])
    day_text = pd.DatetimeIndex(reported_local.astype("datetime64[s]")).strftime("%Y%m%d").to_numpy(dtype=str)
    prefixes = np.array([EXTERNAL_ID_PREFIX[Channel(c)] for c in channel])
    external_id = np.char.add(np.char.add(np.char.add(prefixes, day_text), "-"), np.char.zfill(ids.astype(str), 7))

    appeals = pd.DataFrame(
        {
            "id": ids,
            "source": channel,
            "external_id": external_id,
            "category": category,
            "priority": priority,
            "status": status,
            "is_open": np.isin(status, [s.value for s in OPEN_STATUSES]),
            "region_code": region_code,
            "level": final_level,
            "department_id": pd.array(department_id, dtype="Int64"),
            "description": description,
            "address": address,
            "lat": lat.round(6),
            "lon": lon.round(6),
            "reporter_name": np.where(resident_reported, _chinese_names(rng, n, names), None),
            "reporter_phone": np.where(resident_reported, _phones(rng, n), None),
            "reported_at": reported_utc,
            "accepted_at": utc(at_if(1)),
            "dispatched_at": utc(at_if(2)),
            "resolved_at": utc(resolved_local),
            "closed_at": utc(closed_local),
            "deadline_at": deadline_utc,
            "satisfaction": satisfaction,
            "rated_at": utc(rated_local),
            "reopen_count": present[:, 9].astype(int),
            "created_at": reported_utc,
            "updated_at": utc(np.where(present, np.stack([s[4] for s in steps], axis=1), -1).max(axis=1)),
        }
    )

    # Transitions: one row per present step, numbered in order.
    appeal_rows, step_index = np.nonzero(present)
    seq = np.cumsum(present, axis=1)[appeal_rows, step_index]
    step_action = np.array([s[0].value for s in steps])
    step_from = np.array([None if s[1] is None else s[1].value for s in steps], dtype=object)
    step_to = np.array([s[2].value for s in steps])
    step_times = np.stack([s[4] for s in steps], axis=1)[appeal_rows, step_index]
    step_level_rule = np.array([s[5] for s in steps])[step_index]
    # Steps before escalation happen at the initial level; escalations move it up; later steps at the final level.
    transition_level_index = np.where(
        step_level_rule == 9,
        final_level_index[appeal_rows],
        np.where(step_level_rule == 0, level_index[appeal_rows], level_index[appeal_rows] + step_level_rule),
    )
    actor_by_action = {
        TransitionAction.REPORT.value: "feed",
        TransitionAction.ACCEPT.value: "command_center",
        TransitionAction.DISPATCH.value: "command_center",
        TransitionAction.ESCALATE.value: "command_center",
        TransitionAction.RATE.value: "reporter",
        TransitionAction.REOPEN.value: "command_center",
    }
    actions = step_action[step_index]
    actor = np.array([actor_by_action.get(a, "department") for a in step_action])[step_index]
    transitions = pd.DataFrame(
        {
            "appeal_id": ids[appeal_rows],
            "seq": seq,
            "action": actions,
            "from_status": step_from[step_index],
            "to_status": step_to[step_index],
            "at": calendar.from_local_seconds(step_times),
            "actor": actor,
            "level": level_codes[np.minimum(transition_level_index, 2)],
            "department_id": pd.array(
                np.where(np.isin(actions, ["start", "resolve", "close"]), department_id[appeal_rows], np.nan),
                dtype="Int64",
            ),
            "note": None,
        }
    )
    transitions.insert(0, "id", np.arange(1, len(transitions) + 1))
    return appeals, transitions


def build_visit_items(
    rng: np.random.Generator, teams: pd.DataFrame, regions: pd.DataFrame, end: pd.Timestamp, days: int
) -> pd.DataFrame:
    """Entries of the three lists kept by each community's visiting teams."""
    rows = []
    compounds_by_community = (
        regions[regions["level"] == RegionLevel.COMPOUND.value].groupby("parent_code")["code"].apply(list).to_dict()
    )
    list_for_team = {
        TeamKind.RESIDENTS.value: [VisitListKind.DIFFICULTY, VisitListKind.SERVICE_NEED, VisitListKind.RISK],
        TeamKind.MERCHANTS.value: [VisitListKind.DIFFICULTY, VisitListKind.RISK],
        TeamKind.ENTERPRISES.value: [VisitListKind.DIFFICULTY, VisitListKind.SERVICE_NEED],
    }
    end_seconds = int(end.timestamp())
    for team in teams.itertuples():
        compounds = compounds_by_community[team.region_code]
        for list_kind in list_for_team[team.kind]:
            count = int(rng.poisson(12 * days / 365))
            found = end_seconds - rng.integers(0, days * DAY, count)
            age_days = (end_seconds - found) / DAY
            resolved = rng.random(count) < np.clip(age_days / 30, 0.05, 0.9)
            in_progress = ~resolved & (rng.random(count) < 0.5)
            titles = VISIT_TITLES[list_kind]
            for i in range(count):
                rows.append(
                    {
                        "list_kind": list_kind.value,
                        "team_id": team.id,
                        "region_code": compounds[rng.integers(0, len(compounds))],
                        "title": titles[rng.integers(0, len(titles))],
                        "detail": None,
                        "status": (
                            VisitItemStatus.RESOLVED
                            if resolved[i]
                            else VisitItemStatus.IN_PROGRESS
                            if in_progress[i]
                            else VisitItemStatus.OPEN
                        ).value,
                        "found_at": pd.Timestamp(found[i], unit="s", tz="UTC"),
                        "resolved_at": (
                            pd.Timestamp(
                                min(found[i] + int(rng.integers(DAY // 2, 20 * DAY)), end_seconds), unit="s", tz="UTC"
                            )
                            if resolved[i]
                            else pd.NaT
                        ),
                    }
                )
    frame = pd.DataFrame(rows)
    frame["found_at"] = pd.to_datetime(frame["found_at"], utc=True)
    frame["resolved_at"] = pd.to_datetime(frame["resolved_at"], utc=True)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    return frame


def generate(
    database: Database,
    calendar: WorkCalendar,
    policy: SlaPolicy,
    secret_key: str,
    scale: str = "street",
    seed: int = 20201127,
    end: dt.datetime | None = None,
    progress=print,
) -> dict:
    """Fill an empty database with demo data and return the summary; refuses a non-empty one."""
    spec = SCALES[scale]
    end_ts = pd.Timestamp(end or dt.datetime.now(dt.UTC)).tz_convert("UTC").floor("s")
    with database.session() as session:
        if session.scalar(select(func.count()).select_from(Region)):
            raise RuntimeError("the database already holds data; demo data goes into an empty database (use --reset)")
    rng = np.random.default_rng(seed)
    names = _names()
    vault = PiiVault(secret_key)
    today = local_date(end_ts.to_pydatetime(), calendar.timezone)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(label: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[label] = now - clock
        clock = now
        progress(f"  {label}: {timings[label]:.1f} s")

    regions = build_regions(rng, spec, names, np.random.default_rng([seed, 15]))
    departments = build_departments(regions)
    teams, staff = build_teams_and_staff(rng, regions, departments, names)
    compounds = regions[regions["level"] == RegionLevel.COMPOUND.value]
    lap("regions, departments, teams")
    residents, groups = build_residents(rng, spec, compounds, names, vault, today)
    businesses = build_businesses(rng, spec, compounds, names)
    lap("residents and businesses")
    appeals, transitions = build_appeals(rng, spec, end_ts, regions, departments, calendar, policy, names)
    visit_items = build_visit_items(rng, teams, regions, end_ts, spec.days)
    lap("appeals and history")

    with database.engine.begin() as connection:
        region_columns = ["code", "name", "name_en", "level", "parent_code", "center_lat", "center_lon", "boundary"]
        for level in (RegionLevel.DISTRICT, RegionLevel.STREET, RegionLevel.COMMUNITY, RegionLevel.COMPOUND):
            bulk_insert(connection, "regions", regions.loc[regions["level"] == level.value, region_columns])
        bulk_insert(connection, "departments", departments.drop(columns=["kind"]))
        bulk_insert(connection, "teams", teams)
        bulk_insert(connection, "staff", staff)
        now_column = pd.Series(pd.Timestamp(end_ts), index=residents.index)
        bulk_insert(connection, "residents", residents.assign(created_at=now_column, updated_at=now_column))
        bulk_insert(connection, "resident_groups", groups)
        bulk_insert(connection, "businesses", businesses)
        bulk_insert(connection, "appeals", appeals)
        aggregates.build_from_frame(connection, appeals, calendar)
        bulk_insert(connection, "transitions", transitions)
        bulk_insert(connection, "visit_items", visit_items)
        if connection.dialect.name == "postgresql":
            for table in ("departments", "teams", "staff"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
            # This schema's tables only: a bare ANALYZE visits every schema of the database and
            # deadlocks with another process dropping its own (parallel test runs, other tenants).
            tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
            connection.execute(text(f"ANALYZE {tables}"))
    lap("stored")
    return summarise(database, calendar, end_ts, spec, timings)


def summarise(database: Database, calendar: WorkCalendar, end: pd.Timestamp, spec: DemoScale, timings: dict) -> dict:
    """Read back what the database holds and compare the demo year with the seed's figures."""
    with database.session() as session:
        levels = dict(session.execute(select(Region.level, func.count()).group_by(Region.level)).all())
        counts = {
            "residents": session.scalar(select(func.count()).select_from(Resident)),
            "livelihood_memberships": session.scalar(select(func.count()).select_from(ResidentGroup)),
            "businesses": session.scalar(select(func.count()).select_from(Business)),
            "appeals": session.scalar(select(func.count()).select_from(Appeal)),
            "transitions": session.scalar(select(func.count()).select_from(Transition)),
            "visit_items": session.scalar(select(func.count()).select_from(VisitItem)),
            "open_appeals": session.scalar(select(func.count()).select_from(Appeal).where(Appeal.is_open)),
            "reopened_appeals": session.scalar(select(func.count()).select_from(Appeal).where(Appeal.reopen_count > 0)),
        }
        columns = [Appeal.reported_at, Appeal.accepted_at, Appeal.resolved_at, Appeal.deadline_at, Appeal.satisfaction]
        frame = kpi_frame(session.execute(select(*columns)).all())
    year_start = end - pd.Timedelta(days=365)
    kpis = compute_kpis(frame, year_start, end, calendar)
    street_count = max(levels.get(RegionLevel.STREET, 1), 1)
    actual = {
        "residents": counts["residents"] / street_count,
        "appeals_per_year": kpis["received"] / street_count,
        "satisfaction_rate": kpis["satisfaction_rate"],
        "avg_handling_wd": kpis["avg_handling_wd"],
    }
    # The seed's figures are for one street over a year; the tiny test scale has no target.
    if spec.name == "district":
        targets = {**SEED_TARGETS, "residents": 1_200_000 / 13, "appeals_per_year": 750_000 / 13}
    elif spec.name == "street":
        targets = SEED_TARGETS
    else:
        targets = {}
    comparison = {
        key: {
            "actual": actual[key],
            "target": targets[key],
            "within_5_percent": actual[key] is not None and abs(actual[key] - targets[key]) <= 0.05 * targets[key],
        }
        for key in targets
    }
    return {
        "scale": spec.name,
        "regions": {level.value: levels.get(level, 0) for level in RegionLevel},
        **counts,
        "kpis_last_365_days": kpis,
        "per_street_vs_seed": comparison,
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }


def reset(database: Database) -> None:
    """Drop all rows of every table (keeps the schema and the migration version)."""
    with database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
