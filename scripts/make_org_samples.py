"""Write the sample organisation, visit-list and population files under data/samples/ (and their
broken variants under data/samples/broken/), for the sample regions of data/samples/regions_wuhou.csv
(scripts/make_region_samples.py): district 510107, streets 510107001–003, eight communities, 24 compounds.

    departments_wuhou.csv        Chinese headers, UTF-8: district, street and community departments
    teams_wuhou.csv              English headers; kinds as codes or Chinese labels; names made from the
                                 community's name where left empty
    staff_wuhou.csv              Chinese headers; the team in one column ("510107001001 居民走访队") or a
                                 department code
    staff_wuhou_gbk.csv          the same staff, GBK, with the team in two columns and the department apart
    visits_wuhou.csv             English headers; the three lists, Chinese or English values
    population_wuhou.csv         Chinese headers: every compound's counts as of 2026-11-01
    population_wuhou.xlsx        the same counts, English headers
    broken/…                     one defect each; tests/test_import_org.py, tests/test_import_population.py

Names and phone numbers are fictional. Run: python scripts/make_org_samples.py
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import Workbook

OUT = Path(__file__).resolve().parent.parent / "data" / "samples"
BROKEN = OUT / "broken"


def _regions() -> dict[str, str]:
    """code → name of the sample regions."""
    with (OUT / "regions_wuhou.csv").open(encoding="utf-8-sig", newline="") as handle:
        return {row["区划代码"]: row["名称"] for row in csv.DictReader(handle)}


REGIONS = _regions()
STREETS = [code for code in REGIONS if len(code) == 9]
COMMUNITIES = [code for code in REGIONS if len(code) == 12]
COMPOUNDS = [code for code in REGIONS if len(code) == 15]

DEPARTMENTS = [
    ["部门代码", "部门名称", "英文名称", "区划代码", "部门类型"],
    ["510107-urban_management", "武侯区城市管理局", "Urban Management Bureau", "510107", "urban_management"],
    ["510107-civil_affairs", "武侯区民政局", "Civil Affairs Bureau", "510107", "civil_affairs"],
    ["510107-housing", "武侯区住房和城乡建设局", "Housing and Construction Bureau", "510107", "housing"],
    *(
        [f"{street}-{kind}", f"{REGIONS[street]}{name}", english, street, kind]
        for street in STREETS
        for kind, name, english in (
            ("police", "派出所", "Police station"),
            ("street_service", "社区服务中心", "Community service centre"),
        )
    ),
    ["510107001001-property", "龙井社区物业服务中心", "Property management company", "510107001001", "property"],
    ["510107001002-property", "锦城社区物业服务中心", "Property management company", "510107001002", "property"],
]
# Three visiting teams in every community and a patrol team in some; kinds as codes or as the
# Chinese labels; a name left empty is made from the community's name.
_KIND_WORDS = {"residents": "居民走访队", "merchants": "商家走访队", "enterprises": "企业走访队", "patrol": "巡逻队"}
TEAMS = [
    ["community", "kind", "name"],
    ["510107001001", "residents", "龙井社区居民走访一队"],
    ["510107001001", "商家走访队", ""],
    ["510107001001", "enterprises", ""],
    ["510107001001", "巡逻队", "龙井社区平安巡逻队"],
    *(
        [community, kind if (index + position) % 2 else _KIND_WORDS[kind], ""]
        for index, community in enumerate(COMMUNITIES[1:])
        for position, kind in enumerate(("residents", "merchants", "enterprises", "patrol"))
        if kind != "patrol" or index % 2 == 0
    ),
]
# A team in one column (community code and kind), or a department code.
STAFF = [
    ["人员编号", "姓名", "所属队伍", "职务", "联系电话"],
    ["WH-S001", "林晓雨", "510107001001 居民走访队", "队长", "13900001001"],
    ["WH-S002", "周明轩", "510107001001/residents", "队员", "13900001002"],
    ["WH-S003", "陈思远", "510107001001 商家走访队", "队长", "13900001003"],
    ["WH-S004", "赵一帆", "510107001002 企业走访队", "队员", ""],
    ["WH-S005", "吴子墨", "510107001002 巡逻队", "队长", "13900001005"],
    ["WH-S006", "郑可欣", "510107001-police", "办理人员", "13900001006"],
    ["WH-S007", "孙浩然", "510107-civil_affairs", "科员", "13900001007"],
    ["WH-S008", "冯雅琪", "510107002001 居民走访队", "队长", "13900001008"],
    ["WH-S009", "蒋文博", "510107003003 merchants", "队员", "13900001009"],
]
# The same staff, with the team in two columns and the department in its own (saved as GBK).
STAFF_COLUMNS = [
    ["工号", "姓名", "队伍社区代码", "队伍类型", "所属部门", "岗位", "手机号"],
    ["WH-S001", "林晓雨", "510107001001", "居民走访队", "", "队长", "13900001001"],
    ["WH-S002", "周明轩", "510107001001", "residents", "", "队员", "13900001002"],
    ["WH-S003", "陈思远", "510107001001", "商家走访队", "", "队长", "13900001003"],
    ["WH-S004", "赵一帆", "510107001002", "企业走访队", "", "队员", ""],
    ["WH-S005", "吴子墨", "510107001002", "巡逻队", "", "队长", "13900001005"],
    ["WH-S006", "郑可欣", "", "", "510107001-police", "办理人员", "13900001006"],
    ["WH-S007", "孙浩然", "", "", "510107-civil_affairs", "科员", "13900001007"],
    ["WH-S008", "冯雅琪", "510107002001", "residents", "", "队长", "13900001008"],
    ["WH-S009", "蒋文博", "510107003003", "商家走访队", "", "队员", "13900001009"],
]
VISITS = [
    ["id", "list", "team", "region", "title", "detail", "status", "found_at", "resolved_at"],
    [
        "WH-V001",
        "困难问题",
        "510107001001 居民走访队",
        "510107001001001",
        "独居老人生活困难",
        "老人行动不便，需定期探访",
        "open",
        "2026-11-02 10:00",
        "",
    ],
    [
        "WH-V002",
        "service_need",
        "510107001001 residents",
        "510107001001002",
        "老人助餐服务",
        "希望社区食堂提供送餐",
        "已解决",
        "2026-11-03 09:30",
        "2026-11-10 17:00",
    ],
    [
        "WH-V003",
        "风险隐患",
        "510107001002 巡逻队",
        "510107001002001",
        "楼道电动车充电",
        "",
        "处理中",
        "2026-11-12 20:15",
        "",
    ],
    [
        "WH-V004",
        "risk",
        "510107001002/merchants",
        "510107001002",
        "商铺燃气使用隐患",
        "沿街餐饮店燃气软管老化",
        "",
        "2026-11-15 14:00",
        "",
    ],
    [
        "WH-V006",
        "困难问题",
        "510107002001 residents",
        "510107002001002",
        "困难家庭子女就学",
        "",
        "open",
        "2026-11-21 15:00",
        "",
    ],
    [
        "WH-V007",
        "风险隐患",
        "510107003003 商家走访队",
        "510107003003002",
        "楼道堆物",
        "消防通道被杂物占用",
        "已解决",
        "2026-11-22 09:00",
        "2026-11-23 18:00",
    ],
    [
        "WH-V005",
        "服务需求",
        "510107001001 企业走访队",
        "",
        "企业用工政策咨询",
        "",
        "resolved",
        "2026-11-18 11:00",
        "2026-11-20 16:30",
    ],
]
VISITS = [VISITS[0], *sorted(VISITS[1:])]  # by id
GROUPS = [
    ("disabled", "残疾人员"),
    ("severely_disabled", "重度残疾人员"),
    ("five_guarantees", "五保供养人员"),
    ("empty_nest_elderly", "空巢老人"),
    ("unsupported_child", "事实无人抚养儿童"),
    ("child_in_difficulty", "困境儿童"),
    ("lost_only_child", "失独家庭"),
    ("military_related", "涉军人员"),
    ("old_age_allowance", "高龄津贴人员"),
    ("relief_recipient", "救济救助人员"),
    ("urban_dibao", "城市低保人员"),
]
HOUSEHOLD_HEADERS_ZH = ["户籍人口", "流动人口", "空挂户"]
POPULATION_HEADERS_ZH = ["小区代码", "统计日期", "实有人口", *HOUSEHOLD_HEADERS_ZH, *(zh for _, zh in GROUPS)]
POPULATION_HEADERS_EN = [
    "region_code",
    "as_of",
    "residents",
    "registered",
    "floating",
    "empty_registered",
    *(code for code, _ in GROUPS),
]
AS_OF = "2026-11-01"


def population_rows() -> list[list]:
    """Every compound's counts as of AS_OF (residents = the three household types)."""
    rows = []
    for index, compound in enumerate(COMPOUNDS):
        registered, floating, empty = 800 + 37 * index, 300 + 11 * index, 20 + index % 7
        groups = [12 + index, 3, index % 2, 30 + 2 * index, index % 3, 2, 1, 10 + index, 35 + index, 5, 8 + index]
        rows.append([compound, AS_OF, registered + floating + empty, registered, floating, empty, *groups])
    return rows


def _csv(rows: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _write(path: Path, rows: list[list], encoding: str = "utf-8") -> None:
    path.write_bytes(_csv(rows).encode(encoding))


def main() -> None:
    """Write every sample and broken variant."""
    BROKEN.mkdir(parents=True, exist_ok=True)
    _write(OUT / "departments_wuhou.csv", DEPARTMENTS)
    _write(OUT / "teams_wuhou.csv", TEAMS)
    _write(OUT / "staff_wuhou.csv", STAFF)
    _write(OUT / "staff_wuhou_gbk.csv", STAFF_COLUMNS, "gbk")
    _write(OUT / "visits_wuhou.csv", VISITS)
    population = population_rows()
    _write(OUT / "population_wuhou.csv", [POPULATION_HEADERS_ZH, *population])
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(POPULATION_HEADERS_EN)
    for row in population:
        sheet.append(row)
    workbook.save(OUT / "population_wuhou.xlsx")

    # Broken variants: each has good records and one bad one (or is refused as a whole).
    _write(
        BROKEN / "departments_unknown_region.csv",
        [*DEPARTMENTS[:3], ["510107009-police", "街道派出所", "", "510107009", "police"]],
    )
    _write(BROKEN / "teams_wrong_level.csv", [*TEAMS[:3], ["510107001", "residents", "街道走访队"]])
    _write(BROKEN / "teams_bad_kind.csv", [*TEAMS[:3], ["510107001002", "消防队", "社区消防队"]])
    duplicate_staff = ["WH-S001", "林晓雨", "510107001002 居民走访队", "队员", ""]
    _write(BROKEN / "staff_duplicate_id.csv", [*STAFF[:4], duplicate_staff])
    bad_date = [*VISITS[:3], [*VISITS[3][:7], "2026-11-31 10:00", ""]]
    _write(BROKEN / "visits_bad_date.csv", bad_date)
    negative = [POPULATION_HEADERS_ZH, *population[:2], [*population[2][:4], -5, *population[2][5:]]]
    _write(BROKEN / "population_negative_count.csv", negative)
    _write(BROKEN / "population_missing_column.csv", [POPULATION_HEADERS_ZH[1:], *(row[1:] for row in population[:3])])
    duplicate = [POPULATION_HEADERS_ZH, *population[:2], population[0]]
    _write(BROKEN / "population_duplicate_key.csv", duplicate)
    wrong_level = [POPULATION_HEADERS_ZH, *population[:2], [COMMUNITIES[0], *population[0][1:]]]
    _write(BROKEN / "population_wrong_level.csv", wrong_level)
    # Valid GBK up to the second line, then bytes no decoder accepts.
    text = _csv(STAFF[:2]).encode("gbk")
    (BROKEN / "staff_undecodable.csv").write_bytes(text + b"WH-S009,\xff\xfe\xff,510107001001 \x80\xff,x,\r\n")
    print(f"wrote samples to {OUT} and {BROKEN}")


if __name__ == "__main__":
    main()
