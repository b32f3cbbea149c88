"""Record validation for feeds: field names and Chinese aliases, enums, times, codes, IDs.

Each validator turns one raw record (a dict of strings or native values) into a clean dict,
or raises RecordError naming the field and what is wrong with it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from dataclasses import dataclass
from enum import StrEnum

from dashboard.domain.pii import (
    is_valid_id_number,
    is_valid_mobile,
    mask_address,
    mask_free_text,
    mask_id_number,
    mask_name,
    mask_phone,
)
from dashboard.domain.regions import level_of
from dashboard.domain.vocab import (
    AppealStatus,
    Category,
    Channel,
    EmploymentStatus,
    HouseholdType,
    LivelihoodGroup,
    Priority,
    Satisfaction,
)
from dashboard.domain.workcal import FIRST_YEAR
from dashboard.ui.i18n import chinese_aliases

FUTURE_TOLERANCE = dt.timedelta(minutes=5)
_UTC_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LOCAL_EPOCH = dt.datetime(1970, 1, 1)
MAX_EMPLOYEES = 10_000_000  # keeps a typo out of the database's integer column


class RecordError(ValueError):
    """A record failed validation; field names the offending field (None: the whole record)."""

    def __init__(self, field: str | None, message: str) -> None:
        # Reasons quote the input, and they leave the server (ingest reports, the quarantine
        # list): numbers in them are masked, except in the codes an operator needs to fix a record.
        if field not in UNMASKED_FIELDS and field not in CODE_FIELDS:
            message = mask_free_text(message)
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


# Identifiers, not personal data: shown as sent in errors and in the quarantine view.
UNMASKED_FIELDS = frozenset({"region_code", "external_id"})
# Codes of the organisation (a department's code, a team named by its community): reasons about them
# quote them through shown_code, and the quarantine view shows them as sent when they look like codes.
CODE_FIELDS = frozenset({"code", "team", "team_region", "department"})
_CODE_SHAPE = re.compile(r"\d{6}(?:\d{3}){0,3}(?:[-_/:：\s]\D*)?")


def shown_code(text: str) -> str:
    """A code as sent (510107001-police, 510107001001 居民走访队), any other text masked like free text."""
    return text if _CODE_SHAPE.fullmatch(text) else mask_free_text(text)


@dataclass(frozen=True)
class Field:
    """A field of an import format: its English name and the Chinese headers that mean it."""

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False


APPEAL_FIELDS = (
    Field("external_id", ("编号", "工单编号", "外部编号", "诉求编号"), True),
    Field("source", ("来源", "渠道", "来源渠道"), True),
    Field("reported_at", ("上报时间", "反映时间", "发生时间"), True),
    Field("category", ("类别", "诉求类别", "事件类别", "问题类别"), True),
    Field("priority", ("紧急程度", "优先级", "缓急程度"), True),
    Field("region_code", ("区划代码", "区域代码", "所属区域代码"), True),
    Field("description", ("描述", "诉求内容", "问题描述", "内容"), True),
    Field("lat", ("纬度",)),
    Field("lon", ("经度",)),
    Field("address", ("地址", "事发地址")),
    Field("reporter_name", ("诉求人", "反映人", "姓名")),
    Field("reporter_phone", ("联系电话", "电话", "手机号")),
    Field("status", ("状态", "办理状态")),
    Field("accepted_at", ("受理时间",)),
    Field("resolved_at", ("办结时间",)),
    Field("closed_at", ("结案时间",)),
    Field("department", ("承办部门", "处置部门", "部门代码")),
    Field("satisfaction", ("满意度", "评价", "评价结果")),
    Field("updated_at", ("更新时间",)),
)
RESIDENT_FIELDS = (
    Field("id_number", ("身份证号", "身份证号码", "公民身份号码"), True),
    Field("name", ("姓名",), True),
    Field("region_code", ("区划代码", "区域代码", "所属区域代码"), True),
    Field("household_type", ("户籍类型", "人口类型", "户别"), True),
    Field("gender", ("性别",)),
    Field("birth_date", ("出生日期",)),
    Field("phone", ("联系电话", "电话", "手机号")),
    Field("employment_status", ("就业状态", "就业情况")),
    Field("groups", ("民生档案", "人员类别", "特殊人群")),
)
BUSINESS_FIELDS = (
    Field("credit_code", ("统一社会信用代码", "信用代码"), True),
    Field("name", ("名称", "商户名称", "企业名称"), True),
    Field("region_code", ("区划代码", "区域代码", "所属区域代码"), True),
    Field("kind", ("类型", "主体类型")),
    Field("industry", ("行业",)),
    Field("contact_name", ("联系人",)),
    Field("contact_phone", ("联系电话", "电话")),
    Field("employees", ("从业人数", "员工数")),
)
# The organisation, the visit lists and population aggregates (services/ingest/org.py, population.py).
DEPARTMENT_FIELDS = (
    Field("code", ("部门代码", "部门编码", "代码", "编码"), True),
    Field("name", ("部门名称", "名称"), True),
    Field("region_code", ("区划代码", "区域代码", "所属区域代码", "所属区域", "region"), True),
    Field("kind", ("部门类型", "部门类别", "类型"), True),
    Field("name_en", ("英文名称", "英文名")),
    Field("level", ("层级", "级别")),
)
TEAM_FIELDS = (
    Field("region_code", ("社区代码", "所属社区", "区划代码", "区域代码", "community", "region"), True),
    Field("kind", ("队伍类型", "队伍类别", "类型"), True),
    Field("name", ("队伍名称", "名称")),
)
# A team is named by its community and kind (two columns, or one: "510107001001 居民走访队").
_TEAM_REFERENCE = (
    Field("team", ("所属队伍", "队伍", "走访队伍")),
    Field("team_region", ("队伍社区代码", "所属社区", "社区代码", "community")),
    Field("team_kind", ("队伍类型", "team_type")),
)
STAFF_FIELDS = (
    Field("external_id", ("人员编号", "工号", "编号", "id"), True),
    Field("name", ("姓名",), True),
    *_TEAM_REFERENCE,
    Field("department", ("所属部门", "部门代码", "部门")),
    Field("title", ("职务", "岗位", "角色", "role")),
    Field("phone", ("联系电话", "电话", "手机号", "手机")),
)
VISIT_FIELDS = (
    Field("external_id", ("清单编号", "事项编号", "编号", "id"), True),
    Field("list_kind", ("清单类型", "清单", "清单类别", "list"), True),
    *_TEAM_REFERENCE,
    Field("region_code", ("区划代码", "区域代码", "所在小区", "所在区域", "region")),
    Field("title", ("标题", "事项", "事项名称", "问题"), True),
    Field("detail", ("详情", "描述", "具体情况", "内容")),
    Field("status", ("状态", "办理状态")),
    Field("found_at", ("发现时间", "登记时间", "走访时间"), True),
    Field("resolved_at", ("解决时间", "办结时间")),
)
POPULATION_FIELDS = (
    Field("region_code", ("区划代码", "小区代码", "区域代码", "compound", "region"), True),
    Field("as_of", ("统计日期", "截至日期", "截止日期", "数据日期")),
    Field("residents", ("实有人口", "总人口", "人口数")),
    *(  # a column per household type and livelihood group: its code, or its Chinese label
        Field(member.value, tuple(text for text, named in chinese_aliases(enum_cls).items() if named == member))
        for enum_cls in (HouseholdType, LivelihoodGroup)
        for member in enum_cls
    ),
)
FIELDS_BY_KIND = {
    "appeal": APPEAL_FIELDS,
    "resident": RESIDENT_FIELDS,
    "business": BUSINESS_FIELDS,
    "department": DEPARTMENT_FIELDS,
    "team": TEAM_FIELDS,
    "staff": STAFF_FIELDS,
    "visit": VISIT_FIELDS,
    "population": POPULATION_FIELDS,
}
# Kinds that need one of several groups of columns (each group complete).
REQUIRED_ONE_OF = {
    "staff": (("team",), ("team_region", "team_kind"), ("department",)),
    "visit": (("team",), ("team_region", "team_kind")),
    "population": (("residents",), tuple(member.value for member in HouseholdType)),
}


def header_map(kind: str) -> dict[str, str]:
    """Every accepted header (English or Chinese, case-insensitive) → field name."""
    mapping = {}
    for spec in FIELDS_BY_KIND[kind]:
        mapping[spec.name.lower()] = spec.name
        for alias in spec.aliases:
            mapping[alias] = spec.name
    return mapping


def normalise_headers(kind: str, headers: list[str]) -> tuple[list[str | None], list[str]]:
    """Map raw headers to field names; returns (names or None per column, unknown headers)."""
    mapping = header_map(kind)
    names: list[str | None] = []
    unknown = []
    for header in headers:
        key = str(header or "").strip().lstrip("\ufeff")
        name = mapping.get(key) or mapping.get(key.lower())
        names.append(name)
        if name is None and key:
            unknown.append(key)
    return names, unknown


def missing_required(kind: str, names: list[str | None]) -> list[str]:
    """Required fields that no column supplies (an appeal's region_code may come from lat and lon)."""
    present = set(names)
    if kind == "appeal" and {"lat", "lon"} <= present:
        present.add("region_code")  # located by its coordinates (see point_to_locate)
    missing = [spec.name for spec in FIELDS_BY_KIND[kind] if spec.required and spec.name not in present]
    groups = REQUIRED_ONE_OF.get(kind, ())
    if groups and not any(all(name in present for name in group) for group in groups):
        missing.append(" or ".join("+".join(group) for group in groups))
    return missing


@functools.cache
def _enum_lookup(enum_cls: type[StrEnum]) -> dict[str, StrEnum]:
    """Codes and Chinese labels (and synonyms) of an enum → member."""
    lookup: dict[str, StrEnum] = {member.value: member for member in enum_cls}
    lookup.update(chinese_aliases(enum_cls))
    return lookup


_GENDERS = {"m": "M", "male": "M", "男": "M", "f": "F", "female": "F", "女": "F"}


def _text(value) -> str | None:
    """A cell as stripped text, or None when empty."""
    if value.__class__ is str:  # most cells: checked first, for speed
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    text = str(value).strip()
    return text or None


def parse_enum(field: str, value, enum_cls: type[StrEnum], required: bool = True) -> StrEnum | None:
    """An enum member from its English code or Chinese label."""
    text = _text(value)
    if text is None:
        if required:
            raise RecordError(field, "is required")
        return None
    lookup = _enum_lookup(enum_cls)
    member = lookup.get(text) or lookup.get(text.lower())
    if member is None:
        allowed = ", ".join(m.value for m in enum_cls)
        raise RecordError(field, f"unknown value {text!r} (expected one of: {allowed}, or the Chinese label)")
    return member


def parse_instant(field: str, value, timezone, now: dt.datetime, required: bool = False) -> dt.datetime | None:
    """A UTC instant from ISO text (naive means local time) or a native datetime; not in the future."""
    if isinstance(value, dt.datetime):
        instant = value
    else:
        text = _text(value)
        if text is None:
            if required:
                raise RecordError(field, "is required")
            return None
        candidate = text.replace("/", "-")
        if candidate.endswith("Z"):
            candidate = candidate[:-1] + "+00:00"
        try:
            instant = dt.datetime.fromisoformat(candidate)
        except ValueError:
            raise RecordError(
                field, f"{text!r} is not a date and time (use ISO 8601, e.g. 2026-10-01 23:45:00)"
            ) from None
    try:
        if instant.tzinfo is None:  # local time (the arithmetic is several times faster than replace(tzinfo=…))
            instant = _UTC_EPOCH + (instant - _LOCAL_EPOCH - timezone.utcoffset(instant))
        else:
            instant = instant.astimezone(dt.UTC)
    except OverflowError:  # year 1 or 9999 moved across midnight by the zone offset
        local = instant if instant.tzinfo else instant.replace(tzinfo=timezone)
        raise RecordError(field, f"{local.isoformat()} is outside the supported range of dates") from None
    if instant > now + FUTURE_TOLERANCE:
        raise RecordError(field, f"{instant.isoformat()} is more than 5 minutes in the future")
    if instant.year < FIRST_YEAR:
        raise RecordError(field, f"{instant.isoformat()} is before {FIRST_YEAR}, outside the working-day calendar")
    return instant


def parse_region(field: str, value, known_regions: set[str] | dict) -> str:
    """A region code that exists."""
    text = _text(value)
    if text is None:
        raise RecordError(field, "is required")
    try:
        level_of(text)
    except ValueError as exc:
        raise RecordError(field, str(exc)) from None
    if text not in known_regions:
        raise RecordError(field, f"region {text} does not exist")
    return text


def point_to_locate(raw: dict) -> tuple[float, float] | None:
    """(lat, lon) of an appeal that gives no region_code but valid coordinates: its compound is looked up."""
    if _text(raw.get("region_code")) is not None:
        return None
    try:
        lat = parse_float("lat", raw.get("lat"), -90, 90)
        lon = parse_float("lon", raw.get("lon"), -180, 180)
    except RecordError:
        return None  # validation reports it
    return None if lat is None or lon is None else (lat, lon)


def appeal_region(raw: dict, known_regions, located: str | None) -> str:
    """An appeal's region: its region_code, or else the compound located from its lat and lon.

    located is what the look-up found for point_to_locate(raw) (None: no compound holds the point).
    """
    if _text(raw.get("region_code")) is not None:
        return parse_region("region_code", raw.get("region_code"), known_regions)
    if _text(raw.get("lat")) is None and _text(raw.get("lon")) is None:
        raise RecordError("region_code", "is required (or lat and lon inside a compound)")
    if point_to_locate(raw) is None:  # say what is wrong with the coordinates
        if parse_float("lat", raw.get("lat"), -90, 90) is None:
            raise RecordError("lat", "is required with lon when region_code is not given")
        parse_float("lon", raw.get("lon"), -180, 180)
        raise RecordError("lon", "is required with lat when region_code is not given")
    if located is None:
        raise RecordError("lat", "lat/lon lie inside no compound of the district; give region_code")
    return parse_region("region_code", located, known_regions)


def parse_float(field: str, value, low: float, high: float) -> float | None:
    """An optional number within [low, high]."""
    text = _text(value)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        raise RecordError(field, f"{text!r} is not a number") from None
    if not low <= number <= high:
        raise RecordError(field, f"{number} is outside {low}..{high}")
    return number


def parse_mobile(field: str, value) -> str | None:
    """An optional mainland mobile number (spaces and dashes ignored)."""
    text = _text(value)
    if text is None:
        return None
    digits = text.replace(" ", "").replace("-", "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not digits.isascii() or not is_valid_mobile(digits):  # \d would also match full-width and other digits
        raise RecordError(field, "is not an 11-digit mobile number")
    return digits


def required_text(field: str, value, max_length: int) -> str:
    """Non-empty text of at most max_length characters."""
    text = _text(value)
    if text is None:
        raise RecordError(field, "is required")
    if len(text) > max_length:
        raise RecordError(field, f"is longer than {max_length} characters")
    return text


def identifier(field: str, value, max_length: int) -> str:
    """required_text without control characters (a key: NUL and the like are never part of a real one)."""
    text = required_text(field, value, max_length)
    if any(ord(character) < 32 or ord(character) == 127 for character in text):
        raise RecordError(field, "contains a control character")
    return text


def optional_text(field: str, value, max_length: int) -> str | None:
    """Optional text of at most max_length characters."""
    text = _text(value)
    if text is not None and len(text) > max_length:
        raise RecordError(field, f"is longer than {max_length} characters")
    return text


def validate_appeal(
    raw: dict, known_regions: dict[str, str], departments: dict[str, int], timezone, now, located: str | None = None
) -> dict:
    """A clean appeal record, or RecordError. known_regions maps code → level; departments code → id.

    located: the compound that holds the record's lat/lon, for a record without region_code (appeal_region).
    """
    record = {
        "external_id": identifier("external_id", raw.get("external_id"), 64),
        "source": parse_enum("source", raw.get("source"), Channel),
        "category": parse_enum("category", raw.get("category"), Category),
        "priority": parse_enum("priority", raw.get("priority"), Priority),
        "region_code": appeal_region(raw, known_regions, located),
        "description": required_text("description", raw.get("description"), 4000),
        "reported_at": parse_instant("reported_at", raw.get("reported_at"), timezone, now, required=True),
        "lat": parse_float("lat", raw.get("lat"), -90, 90),
        "lon": parse_float("lon", raw.get("lon"), -180, 180),
        "address": optional_text("address", raw.get("address"), 200),
        "reporter_name": optional_text("reporter_name", raw.get("reporter_name"), 32),
        "reporter_phone": parse_mobile("reporter_phone", raw.get("reporter_phone")),
        "accepted_at": parse_instant("accepted_at", raw.get("accepted_at"), timezone, now),
        "resolved_at": parse_instant("resolved_at", raw.get("resolved_at"), timezone, now),
        "closed_at": parse_instant("closed_at", raw.get("closed_at"), timezone, now),
        "updated_at": parse_instant("updated_at", raw.get("updated_at"), timezone, now),
        "satisfaction": parse_enum("satisfaction", raw.get("satisfaction"), Satisfaction, required=False),
    }
    if (record["lat"] is None) != (record["lon"] is None):
        raise RecordError("lat" if record["lat"] is None else "lon", "lat and lon come together")
    department = _text(raw.get("department"))
    if department is not None and department not in departments:
        raise RecordError("department", f"unknown department code {shown_code(department)!r}")
    record["department_id"] = departments.get(department) if department else None
    for later in ("accepted_at", "resolved_at", "closed_at"):
        if record[later] is not None and record[later] < record["reported_at"]:
            raise RecordError(later, "is before reported_at")
    if record["closed_at"] is not None and (
        record["resolved_at"] is None or record["closed_at"] < record["resolved_at"]
    ):
        raise RecordError("closed_at", "needs resolved_at at or before it")
    status = parse_enum("status", raw.get("status"), AppealStatus, required=False)
    implied = (
        AppealStatus.CLOSED
        if record["closed_at"]
        else AppealStatus.RESOLVED
        if record["resolved_at"]
        else AppealStatus.ACCEPTED
        if record["accepted_at"]
        else AppealStatus.REPORTED
    )
    if status is None:
        status = implied
    elif status in (AppealStatus.RESOLVED, AppealStatus.CLOSED) and record["resolved_at"] is None:
        raise RecordError("resolved_at", f"is required when status is {status.value}")
    elif status == AppealStatus.CLOSED and record["closed_at"] is None:
        raise RecordError("closed_at", "is required when status is closed")
    elif status not in (AppealStatus.RESOLVED, AppealStatus.CLOSED) and record["resolved_at"] is not None:
        raise RecordError("status", f"is {status.value} but resolved_at is given")
    if record["satisfaction"] is not None and status not in (AppealStatus.RESOLVED, AppealStatus.CLOSED):
        raise RecordError("satisfaction", "an appeal is rated only once resolved")
    record["status"] = status
    # The feed's version: its updated_at, else the newest time it gives.
    record["version"] = record["updated_at"] or max(
        filter(None, (record["reported_at"], record["accepted_at"], record["resolved_at"], record["closed_at"]))
    )
    return record


def validate_resident(raw: dict, known_regions, timezone, now) -> dict:
    """A clean resident record (with the clear ID number, to be hashed and encrypted), or RecordError."""
    id_number = required_text("id_number", raw.get("id_number"), 18).upper()
    if not id_number.isascii() or not is_valid_id_number(id_number):
        raise RecordError("id_number", "is not a valid 18-character ID number (GB 11643 check digit)")
    try:
        birth_from_id = dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        raise RecordError("id_number", "holds an impossible birth date") from None
    gender_from_id = "M" if int(id_number[16]) % 2 else "F"
    gender_text = _text(raw.get("gender"))
    gender = _GENDERS.get(gender_text.lower()) if gender_text else gender_from_id
    if gender is None:
        raise RecordError("gender", f"unknown value {gender_text!r} (M/F or 男/女)")
    groups_text = _text(raw.get("groups")) or ""
    groups = []
    for part in groups_text.replace("、", ";").replace(",", ";").replace("，", ";").replace("；", ";").split(";"):
        if part.strip():
            groups.append(parse_enum("groups", part.strip(), LivelihoodGroup))
    return {
        "id_number": id_number,
        "name": required_text("name", raw.get("name"), 32),
        "region_code": parse_region("region_code", raw.get("region_code"), known_regions),
        "household_type": parse_enum("household_type", raw.get("household_type"), HouseholdType),
        "gender": gender,
        "birth_date": birth_from_id,
        "phone": parse_mobile("phone", raw.get("phone")),
        "employment_status": parse_enum("employment_status", raw.get("employment_status"), EmploymentStatus, False)
        or EmploymentStatus.NOT_IN_LABOUR_FORCE,
        "groups": sorted(set(groups)),
    }


def validate_business(raw: dict, known_regions, timezone, now) -> dict:
    """A clean business record, or RecordError."""
    credit_code = required_text("credit_code", raw.get("credit_code"), 18).upper()
    if len(credit_code) != 18 or not credit_code.isalnum():
        raise RecordError("credit_code", "is not an 18-character unified social credit code")
    kind_text = _text(raw.get("kind")) or "merchant"
    kind = {
        "merchant": "merchant",
        "商户": "merchant",
        "个体": "merchant",
        "enterprise": "enterprise",
        "企业": "enterprise",
    }
    if kind_text.lower() not in kind and kind_text not in kind:
        raise RecordError("kind", f"unknown value {kind_text!r} (merchant/enterprise or 商户/企业)")
    employees_text = _text(raw.get("employees"))
    try:
        employees = int(float(employees_text)) if employees_text else 0
    except (ValueError, OverflowError):  # "abc", "nan"; "inf"
        raise RecordError("employees", f"{employees_text!r} is not a whole number") from None
    if employees < 0:
        raise RecordError("employees", "is negative")
    if employees > MAX_EMPLOYEES:
        raise RecordError("employees", f"is more than {MAX_EMPLOYEES:,}")
    return {
        "credit_code": credit_code,
        "name": required_text("name", raw.get("name"), 128),
        "region_code": parse_region("region_code", raw.get("region_code"), known_regions),
        "kind": kind.get(kind_text.lower()) or kind[kind_text],
        "industry": optional_text("industry", raw.get("industry"), 32) or "其他",
        "contact_name": optional_text("contact_name", raw.get("contact_name"), 32),
        "contact_phone": parse_mobile("contact_phone", raw.get("contact_phone")),
        "employees": employees,
    }


# Fields that hold personal data, and how each is masked when an operator looks at raw input.
_PERSONAL_FIELDS = {
    "reporter_name": mask_name,
    "name": mask_name,
    "contact_name": mask_name,
    "reporter_phone": mask_phone,
    "phone": mask_phone,
    "contact_phone": mask_phone,
    "id_number": mask_id_number,
    "address": mask_address,
}
# The kinds whose "name" is a person's (a business's, department's or team's is not).
_PERSONAL_NAMES = frozenset({"appeal", "resident", "staff"})


def masked_raw(kind: str, raw: str) -> str:
    """A raw input record with its personal fields masked, for operators fixing quarantined input."""
    try:
        document = json.loads(raw)
    except (ValueError, TypeError, RecursionError):  # not JSON, a 5000-digit number, nesting too deep
        return mask_free_text(raw)
    if not isinstance(document, dict):
        return mask_free_text(raw)
    names, _unknown = normalise_headers(kind, [str(key) for key in document])
    masked = {}
    for (key, value), name in zip(document.items(), names, strict=True):
        text = None if value is None else str(value).strip() or None
        if (name in _PERSONAL_FIELDS and name != "name") or (name == "name" and kind in _PERSONAL_NAMES):
            masked[key] = _PERSONAL_FIELDS[name](text) if name in _PERSONAL_FIELDS else text
        elif name in CODE_FIELDS and text:
            masked[key] = shown_code(text)
        elif name in UNMASKED_FIELDS:
            masked[key] = value
        else:
            masked[key] = mask_free_text(text) if text else value
    return json.dumps(masked, ensure_ascii=False)
