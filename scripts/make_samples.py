"""Write the sample feed files under data/samples/ (the same three appeals in every format)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from openpyxl import Workbook

OUT = Path(__file__).resolve().parent.parent / "data" / "samples"

APPEALS = [
    {
        "external_id": "RX20261001-0001",
        "source": "hotline_12345",
        "reported_at": "2026-10-01 23:45:00",
        "category": "noise",
        "priority": "urgent",
        "region_code": "510107001001001",
        "description": "小区门口烧烤店深夜噪音扰民",
        "reporter_name": "张三",
        "reporter_phone": "13812341234",
        "status": "resolved",
        "accepted_at": "2026-10-01 23:46:00",
        "resolved_at": "2026-10-01 23:48:00",
        "satisfaction": "satisfied",
    },
    {
        "external_id": "WX20261103-0002",
        "source": "wechat",
        "reported_at": "2026-11-03T09:15:00+08:00",
        "category": "property_management",
        "priority": "ordinary",
        "region_code": "510107001002",
        "description": "电梯故障多日未修，请物业尽快处理",
        "lat": "30.612",
        "lon": "104.012",
    },
    {
        "external_id": "WG20261120-0003",
        "source": "grid_patrol",
        "reported_at": "2026-11-20T02:30:00Z",
        "category": "safety_hazard",
        "priority": "extra_urgent",
        "region_code": "510107001001",
        "description": "楼道电动车违规充电",
    },
]
CHINESE_HEADERS = {
    "external_id": "工单编号",
    "source": "来源渠道",
    "reported_at": "上报时间",
    "category": "诉求类别",
    "priority": "紧急程度",
    "region_code": "区划代码",
    "description": "诉求内容",
    "reporter_name": "诉求人",
    "reporter_phone": "联系电话",
    "status": "办理状态",
    "accepted_at": "受理时间",
    "resolved_at": "办结时间",
    "satisfaction": "满意度",
    "lat": "纬度",
    "lon": "经度",
}
CHINESE_VALUES = {
    "hotline_12345": "12345热线",
    "wechat": "微信公众号",
    "grid_patrol": "网格发现",
    "noise": "噪音扰民",
    "property_management": "物业管理",
    "safety_hazard": "安全隐患",
    "urgent": "加急",
    "ordinary": "普通",
    "extra_urgent": "特急",
    "resolved": "已办结",
    "satisfied": "满意",
}
FIELDS = list(CHINESE_HEADERS)


def _csv(rows: list[dict], headers: dict[str, str], values: dict[str, str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([headers.get(f, f) for f in FIELDS])
    for row in rows:
        writer.writerow([values.get(row.get(f, ""), row.get(f, "")) for f in FIELDS])
    return buffer.getvalue()


def main() -> None:
    """Write every sample."""
    OUT.mkdir(parents=True, exist_ok=True)
    english = _csv(APPEALS, {}, {})
    chinese = _csv(APPEALS, CHINESE_HEADERS, CHINESE_VALUES)
    (OUT / "appeals_utf8.csv").write_text(english, encoding="utf-8")
    (OUT / "appeals_utf8_bom.csv").write_bytes(b"\xef\xbb\xbf" + english.encode("utf-8"))
    (OUT / "appeals_gbk.csv").write_bytes(chinese.encode("gbk"))
    (OUT / "appeals_gb18030.csv").write_bytes(chinese.replace("楼道电动车", "楼道𠮷电动车").encode("gb18030"))
    (OUT / "appeals.json").write_text(json.dumps(APPEALS, ensure_ascii=False, indent=2), encoding="utf-8")
    (OUT / "appeals.ndjson").write_text(
        "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in APPEALS), encoding="utf-8"
    )
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([CHINESE_HEADERS[f] for f in FIELDS])
    for row in APPEALS:
        sheet.append([CHINESE_VALUES.get(row.get(f, ""), row.get(f)) for f in FIELDS])
    workbook.save(OUT / "appeals.xlsx")
    residents = [
        ["身份证号", "姓名", "区划代码", "户籍类型", "联系电话", "就业状态", "民生档案"],
        ["11010519491231002X", "王芳", "510107001001001", "户籍人口", "13912345678", "退休", "高龄津贴人员、空巢老人"],
        ["510107198001010013", "李强", "510107001001002", "流动人口", "", "就业", ""],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(residents)
    (OUT / "residents.csv").write_text(buffer.getvalue(), encoding="utf-8")
    businesses = [
        ["统一社会信用代码", "名称", "区划代码", "类型", "行业", "联系人", "联系电话", "从业人数"],
        ["91510107MA6C8XYZ1K", "锦城烧烤店", "510107001001001", "商户", "餐饮", "赵六", "13700001111", "6"],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(businesses)
    (OUT / "businesses.csv").write_text(buffer.getvalue(), encoding="utf-8")
    print(f"wrote samples to {OUT}")


if __name__ == "__main__":
    main()
