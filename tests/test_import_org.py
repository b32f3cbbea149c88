"""The organisation and the visit lists from the sample files (issue 15): departments, teams, staff,
visit entries; every broken variant explained record by record; re-imports that update in place;
staff phone numbers never shown unmasked."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import select

from dashboard.domain.vocab import RegionLevel, TeamKind, VisitItemStatus, VisitListKind
from dashboard.services.ingest import dropfolder, reference
from dashboard.services.ingest.records import FIELDS_BY_KIND, RecordError, masked_raw
from dashboard.services.ingest.service import replay
from dashboard.store.database import db
from dashboard.store.models import Department, QuarantinedRecord, Region, Staff, Team, VisitItem
from tests.import_support import BROKEN, SAMPLES, add_sample_regions, count, ingest

UTC = dt.UTC
ORG_SAMPLES = ("departments_wuhou.csv", "teams_wuhou.csv", "staff_wuhou.csv", "visits_wuhou.csv")
STAFF_PHONES = [f"1390000100{n}" for n in (1, 2, 3, 5, 6, 7, 8, 9)]


@pytest.fixture
def district(app):
    """The app with the sample regions and nothing else."""
    with app.app_context():
        add_sample_regions()
        yield app


@pytest.fixture
def organised(district):
    """The sample regions with the sample departments, teams, staff and visit entries."""
    for name in ORG_SAMPLES:
        report = ingest(district, SAMPLES / name)
        assert report["quarantined"] == 0 and "file_error" not in report, report
    return district


def _departments() -> dict[str, Department]:
    with db.session() as session:
        return {d.code: d for d in session.scalars(select(Department))}


def _teams() -> dict[tuple[str, str], Team]:
    with db.session() as session:
        return {(t.region_code, t.kind.value): t for t in session.scalars(select(Team))}


def _staff() -> dict[str, Staff]:
    with db.session() as session:
        return {s.external_id: s for s in session.scalars(select(Staff))}


def _visits() -> dict[str, VisitItem]:
    with db.session() as session:
        return {v.external_id: v for v in session.scalars(select(VisitItem))}


def test_the_samples_land(organised):
    departments = _departments()
    assert len(departments) == 11
    police = departments["510107001-police"]
    assert (police.region_code, police.level, police.kind, police.name_en) == (
        "510107001",
        RegionLevel.STREET,
        "police",
        "Police station",
    )
    assert departments["510107-civil_affairs"].level == RegionLevel.DISTRICT
    assert departments["510107001001-property"].level == RegionLevel.COMMUNITY

    teams = _teams()
    assert len(teams) == 29
    assert {kind for (region, kind) in teams if region == "510107001001"} == {k.value for k in TeamKind}
    assert teams[("510107001001", "residents")].name == "龙井社区居民走访一队"  # given
    assert teams[("510107001001", "merchants")].name == "龙井社区商家走访队"  # made from the community's name
    assert teams[("510107001002", "residents")].name == "锦城社区居民走访队"  # kind as its Chinese label
    assert teams[("510107003003", "patrol")].name == "玉林东路社区巡逻队"
    assert ("510107001003", "patrol") not in teams  # a patrol team is optional

    staff = _staff()
    assert len(staff) == 9
    leader = staff["WH-S001"]
    assert leader.team_id == teams[("510107001001", "residents")].id and leader.department_id is None
    assert (leader.region_code, leader.title, leader.phone) == ("510107001001", "队长", "13900001001")
    assert staff["WH-S002"].team_id == leader.team_id  # "510107001001/residents"
    assert staff["WH-S005"].team_id == teams[("510107001002", "patrol")].id
    assert staff["WH-S009"].team_id == teams[("510107003003", "merchants")].id
    assert staff["WH-S004"].phone is None
    handler = staff["WH-S006"]
    assert handler.team_id is None and handler.department_id == departments["510107001-police"].id
    assert handler.region_code == "510107001"
    assert staff["WH-S007"].region_code == "510107"

    visits = _visits()
    assert len(visits) == 7
    first = visits["WH-V001"]
    assert (first.list_kind, first.status, first.region_code) == (
        VisitListKind.DIFFICULTY,
        VisitItemStatus.OPEN,
        "510107001001001",
    )
    assert first.found_at == dt.datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Chengdu
    assert first.team_id == teams[("510107001001", "residents")].id
    done = visits["WH-V002"]
    assert done.status == VisitItemStatus.RESOLVED and done.resolved_at == dt.datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    assert visits["WH-V003"].status == VisitItemStatus.IN_PROGRESS
    assert visits["WH-V003"].list_kind == VisitListKind.RISK
    assert visits["WH-V003"].team_id == teams[("510107001002", "patrol")].id
    assert visits["WH-V004"].status == VisitItemStatus.OPEN  # no status, no resolved_at
    assert visits["WH-V004"].team_id == teams[("510107001002", "merchants")].id
    assert visits["WH-V005"].region_code == "510107001001"  # no region: the team's community
    assert visits["WH-V005"].status == VisitItemStatus.RESOLVED


def test_the_gbk_staff_file_with_separate_team_columns_says_the_same(organised):
    before = {key: (s.id, s.team_id, s.department_id, s.region_code, s.phone) for key, s in _staff().items()}
    report = ingest(organised, SAMPLES / "staff_wuhou_gbk.csv")
    assert (report["read"], report["unchanged"], report["created"], report["updated"]) == (9, 9, 0, 0), report
    after = {key: (s.id, s.team_id, s.department_id, s.region_code, s.phone) for key, s in _staff().items()}
    assert after == before


def test_a_second_import_changes_nothing(organised):
    tables = (Department, Team, Staff, VisitItem)
    before = [count(model) for model in tables]
    for name in ORG_SAMPLES:
        report = ingest(organised, SAMPLES / name)
        assert report["unchanged"] == report["read"] and report["created"] == report["updated"] == 0, report
    assert [count(model) for model in tables] == before


def test_a_reimport_updates_in_place_by_natural_key(organised, tmp_path):
    department_ids = {code: d.id for code, d in _departments().items()}
    team_ids = {key: t.id for key, t in _teams().items()}
    staff_ids = {key: s.id for key, s in _staff().items()}

    departments = tmp_path / "departments_renamed.csv"
    departments.write_text(
        "code,name,region,kind,name_en\n"
        "510107001-police,簇桥派出所,510107001,police,\n"  # renamed; an empty name_en keeps the stored one
        "510107003001-property,玉林北路社区物业服务中心,510107003001,property,Property company\n",  # new
        encoding="utf-8",
    )
    report = ingest(organised, departments)
    assert (report["updated"], report["created"], report["quarantined"]) == (1, 1, 0), report
    stored = _departments()
    assert stored["510107001-police"].id == department_ids["510107001-police"]
    assert (stored["510107001-police"].name, stored["510107001-police"].name_en) == ("簇桥派出所", "Police station")
    assert len(stored) == 12  # nothing lost, nothing duplicated

    teams = tmp_path / "teams_renamed.json"
    teams.write_text(
        json.dumps(
            [{"社区代码": "510107001002", "队伍类型": "居民", "队伍名称": "锦城居民走访一队"}], ensure_ascii=False
        ),
        encoding="utf-8",
    )
    assert ingest(organised, teams)["updated"] == 1
    assert _teams()[("510107001002", "residents")].name == "锦城居民走访一队"
    assert {key: t.id for key, t in _teams().items()} == team_ids

    staff = tmp_path / "staff_moves.csv"
    staff.write_text(
        "id,name,team,role,phone\n"
        "WH-S001,林晓雨,510107001002 residents,队长,\n"  # moves team; an empty phone keeps the stored one
        "WH-S006,郑可欣,510107003001-property,,13900002006\n",  # moves department, new phone
        encoding="utf-8",
    )
    report = ingest(organised, staff)
    assert (report["updated"], report["created"]) == (2, 0), report
    moved = _staff()
    assert {key: s.id for key, s in moved.items()} == staff_ids
    assert moved["WH-S001"].team_id == team_ids[("510107001002", "residents")]
    assert (moved["WH-S001"].region_code, moved["WH-S001"].phone) == ("510107001002", "13900001001")
    assert moved["WH-S006"].department_id == stored["510107003001-property"].id
    assert (moved["WH-S006"].region_code, moved["WH-S006"].title) == ("510107003001", "办理人员")

    visits = tmp_path / "visits_update.csv"
    visits.write_text(
        "编号,清单类型,所属队伍,区划代码,标题,状态,发现时间,办结时间\n"
        "WH-V001,困难问题清单,510107001001 居民走访队,510107001001001,独居老人生活困难,已解决,"
        "2026-11-02 10:00,2026-11-25 12:00\n",
        encoding="utf-8",
    )
    assert ingest(organised, visits)["updated"] == 1
    entry = _visits()["WH-V001"]
    assert entry.status == VisitItemStatus.RESOLVED and entry.resolved_at == dt.datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    assert entry.detail == "老人行动不便，需定期探访"  # no detail column: kept
    assert count(VisitItem) == 7


def test_xlsx_and_ndjson_with_english_headers(district, tmp_path):
    workbook = Workbook()
    workbook.active.append(["code", "name", "region_code", "kind", "level"])
    workbook.active.append(["510107-housing", "区住房和城乡建设局", "510107", "housing", "district"])
    workbook.active.append(["510107003-police", "街道派出所", 510107003, "police", "街道"])
    workbook.save(tmp_path / "departments_more.xlsx")
    report = ingest(district, tmp_path / "departments_more.xlsx")
    assert report["created"] == 2 and report["quarantined"] == 0, report
    assert _departments()["510107003-police"].level == RegionLevel.STREET

    (tmp_path / "teams_more.ndjson").write_text(
        '{"region_code": "510107001001", "kind": "patrol", "name": "龙井巡逻队"}\n'
        '{"region_code": "510107001001", "kind": "residents"}\n',
        encoding="utf-8",
    )
    report = ingest(district, tmp_path / "teams_more.ndjson")
    assert report["created"] == 2, report
    assert _teams()[("510107001001", "residents")].name == "龙井社区居民走访队"


# ---------------------------------------------------------------------------- broken variants


@pytest.mark.parametrize(
    ("name", "prerequisites", "landed", "problem"),
    [
        (
            "departments_unknown_region.csv",
            (),
            2,
            ("line 4", "region_code", "region 510107009 does not exist"),
        ),
        (
            "teams_wrong_level.csv",
            (),
            2,
            ("line 4", "region_code", "region 510107001 is a street (9 digits); a team's region must be a community"),
        ),
        ("teams_bad_kind.csv", (), 2, ("line 4", "kind", "unknown value '消防队'")),
        (
            "staff_duplicate_id.csv",
            ("departments_wuhou.csv", "teams_wuhou.csv"),
            3,
            ("line 5", "external_id", "staff id WH-S001 is given twice: first at staff_duplicate_id.csv line 2"),
        ),
        (
            "visits_bad_date.csv",
            ("departments_wuhou.csv", "teams_wuhou.csv"),
            2,
            ("line 4", "found_at", "'2026-11-31 10:00' is not a date and time"),
        ),
    ],
)
def test_each_broken_variant_is_explained_and_stores_nothing_wrong(district, name, prerequisites, landed, problem):
    for prerequisite in prerequisites:
        ingest(district, SAMPLES / prerequisite)
    model = {"departments": Department, "teams": Team, "staff": Staff, "visits": VisitItem}[name.split("_")[0]]
    before = count(model)
    report = ingest(district, BROKEN / name)
    assert (report["created"], report["quarantined"]) == (landed, 1), report
    line, field, reason = problem
    [error] = report["errors"]
    assert (error["record"], error["field"]) == (f"{name} {line}", field)
    assert error["reason"].startswith(reason), error["reason"]
    assert count(model) == before + landed
    with db.session() as session:
        quarantined = session.scalars(select(QuarantinedRecord)).all()
    assert [(q.kind, q.location, q.field) for q in quarantined] == [(report["kind"], f"{name} {line}", field)]
    # The bad record's key stored nothing.
    if name == "departments_unknown_region.csv":
        assert count(Department, Department.region_code == "510107009") == 0
    elif name == "teams_wrong_level.csv":
        assert count(Team, Team.region_code == "510107001") == 0
    elif name == "teams_bad_kind.csv":
        assert count(Team, Team.region_code == "510107001002") == 0
    elif name == "staff_duplicate_id.csv":
        assert _staff()["WH-S001"].region_code == "510107001001"  # the first record's team, not the duplicate's
    else:
        assert "WH-V003" not in _visits()


def test_undecodable_bytes_refuse_the_file(district):
    report = ingest(district, BROKEN / "staff_undecodable.csv")
    assert report["file_error"].startswith("staff_undecodable.csv: cannot decode as UTF-8, GBK or GB18030")
    assert count(Staff) == count(QuarantinedRecord) == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("departments_x.csv", "code,name,kind\nX,y,z\n", "missing required column(s) region_code"),
        ("teams_x.csv", "region_code,name\n510107001001,x\n", "missing required column(s) kind"),
        ("staff_x.csv", "id,name,phone\nS1,林一,\n", "team or team_region+team_kind or department"),
        ("visits_x.csv", "id,list,title,found_at,department\nV,risk,t,2026-11-01,d\n", "team or team_region+team_kind"),
    ],
)
def test_a_missing_required_column_refuses_the_file(district, tmp_path, name, content, message):
    (tmp_path / name).write_text(content, encoding="utf-8")
    report = ingest(district, tmp_path / name)
    assert message in report["file_error"], report


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_references_are_checked(organised, tmp_path):
    with db.transaction() as session:
        session.get(Region, "510107001002").archived_at = dt.datetime(2026, 11, 20, tzinfo=UTC)
    report = ingest(
        organised,
        _write(
            tmp_path,
            "teams_more.csv",
            "region_code,kind\n510107001002,patrol\n510107001001001,patrol\n510107003003,patrol\n510107001002x,patrol\n",
        ),
    )
    assert report["created"] == 0 and report["unchanged"] == 1
    reasons = {e["record"]: (e["field"], e["reason"]) for e in report["errors"]}
    assert reasons["teams_more.csv line 2"] == ("region_code", "region 510107001002 is archived")
    assert reasons["teams_more.csv line 3"][1].startswith("region 510107001001001 is a compound")
    assert reasons["teams_more.csv line 5"][0] == "region_code"

    report = ingest(
        organised,
        _write(
            tmp_path,
            "staff_more.csv",
            "id,name,team,department,phone\n"
            "N1,王一,510107001001 消防队,,\n"
            "N2,王二,510107001003 商家走访队,510107-nowhere,\n"
            "N3,王三,,510107-nowhere,\n"
            "N4,王四,510107001001 residents,,1390000\n"
            "N5,王五,510107001002 merchants,,\n"
            "N6,王六,510107001009 residents,,\n"
            "N7,王七,,,\n",
        ),
    )
    assert report["created"] == 0 and report["quarantined"] == 7
    reasons = {e["record"].split()[-1]: (e["field"], e["reason"]) for e in report["errors"]}
    assert reasons["2"][0] == "team" and "unknown value '消防队'" in reasons["2"][1]
    assert reasons["3"] == ("department", "unknown department code '510107-nowhere' (import the departments first)")
    assert reasons["4"][0] == "department"
    assert reasons["5"] == ("phone", "is not an 11-digit mobile number")
    assert reasons["6"] == ("team", "region 510107001002 is archived")
    assert reasons["7"] == ("team", "region 510107001009 does not exist")
    assert reasons["8"][0] == "team" and "is required" in reasons["8"][1]

    report = ingest(
        organised,
        _write(
            tmp_path,
            "visits_more.csv",
            "id,list,team_region,team_kind,region,title,status,found_at,resolved_at\n"
            "X1,risk,510107001001,residents,510107001003001,t,,2026-11-01 08:00,\n"
            "X2,risk,510107001001,,,t,,2026-11-01 08:00,\n"
            "X3,unknown,510107001001,residents,,t,,2026-11-01 08:00,\n"
            "X4,risk,510107001001,residents,,t,resolved,2026-11-01 08:00,\n"
            "X5,risk,510107001001,residents,,t,open,2026-11-01 08:00,2026-11-02 08:00\n"
            "X6,risk,510107001001,residents,,t,,2026-11-03 08:00,2026-11-02 08:00\n"
            "X7,risk,510107001001,residents,,t,,2099-11-03 08:00,\n"
            "X8,risk,510107001001,merchants,510107001001002,t,,2026-11-01 08:00,\n",
        ),
    )
    assert report["created"] == 1 and report["quarantined"] == 7, report
    reasons = {e["record"].split()[-1]: (e["field"], e["reason"]) for e in report["errors"]}
    assert reasons["2"] == ("region_code", "region 510107001003001 is not in the team's community 510107001001")
    assert reasons["3"][0] == "team_kind"
    assert reasons["4"][0] == "list_kind"
    assert reasons["5"] == ("resolved_at", "is required when status is resolved")
    assert reasons["6"] == ("status", "is open but resolved_at is given")
    assert reasons["7"] == ("resolved_at", "is before found_at")
    assert reasons["8"][0] == "found_at" and "in the future" in reasons["8"][1]


def test_a_department_named_like_a_team_is_the_department(organised, tmp_path):
    # A community's department code (510107001001-property) looks like "community code, separator, kind".
    report = ingest(organised, _write(tmp_path, "staff_x.csv", "id,name,team\nP1,何一,510107001001-property\n"))
    assert report["created"] == 1, report
    member = _staff()["P1"]
    assert member.team_id is None and member.department_id == _departments()["510107001001-property"].id


def test_a_quarantined_record_replays_once_fixed(organised):
    report = ingest(organised, BROKEN / "teams_bad_kind.csv")
    assert report["quarantined"] == 1
    with db.session() as session:
        record_id = session.scalar(select(QuarantinedRecord.id))
    fixed = {"community": "510107001002", "kind": "巡逻队", "name": "锦城社区巡逻队"}
    result = replay(organised.extensions["ingestor"], record_id, fixed, actor="test")
    assert result["replayed"], result
    assert _teams()[("510107001002", "patrol")].name == "锦城社区巡逻队"


def test_cli_and_drop_folder_take_the_samples(district, runner, tmp_path):
    result = runner.invoke("ingest", *(str(SAMPLES / name) for name in ORG_SAMPLES[:2]))
    assert result.exit_code == 0, result.output
    assert '"kind": "department"' in result.output and '"kind": "team"' in result.output
    assert count(Department) == 11 and count(Team) == 29

    paths = dropfolder.folders(tmp_path / "dropbox")
    for name in ORG_SAMPLES[2:]:
        (paths["incoming"] / name).write_bytes((SAMPLES / name).read_bytes())
    stale = dt.datetime.now().timestamp() - 60
    for path in paths["incoming"].iterdir():
        os.utime(path, (stale, stale))
    reports = dropfolder.process(district.extensions["ingestor"], tmp_path / "dropbox")
    assert sorted((r["file"], r["created"]) for r in reports) == [("staff_wuhou.csv", 9), ("visits_wuhou.csv", 7)]
    assert len(list(paths["done"].glob("*.report.json"))) == 2


# ---------------------------------------------------------------------------- staff phone numbers


PHONE_RUN = re.compile(r"1[3-9]\d{9}")


def test_staff_phones_never_leave_unmasked(organised, tmp_path):
    # A report, a quarantined record as an operator sees it, and the quarantine's reasons.
    path = _write(
        tmp_path,
        "staff_bad.csv",
        "人员编号,姓名,所属队伍,职务,联系电话\n"
        "B1,钱一,510107001001 消防队,队员,13900009991\n"
        "B2,钱二,510107001001 居民走访队,队员 13900009992,13900009993x\n"
        "B3,钱三,13900009994,队员,13900009995\n",
    )
    report = ingest(organised, path)
    assert report["quarantined"] == 3
    assert not PHONE_RUN.search(json.dumps(report, ensure_ascii=False)), report
    vault = organised.extensions["ingestor"].vault
    with db.session() as session:
        rows = session.scalars(select(QuarantinedRecord).where(QuarantinedRecord.kind == "staff")).all()
    assert len(rows) == 3
    for row in rows:
        assert "1390000999" not in row.raw  # encrypted at rest
        shown = masked_raw(row.kind, vault.decrypt_text(row.raw))
        assert not PHONE_RUN.search(shown) and "钱" in shown and "钱一" not in shown, shown
        assert not PHONE_RUN.search(row.reason)

    # The pages that count what teams found (the wall's and the console's visit lists) hold no staff data.
    from dashboard.queries import wall as walldata

    with db.session() as session:
        text = json.dumps(
            [walldata.visit_lists(session, "510107"), walldata.population(session, "510107")], default=str
        )
    assert not any(phone in text for phone in STAFF_PHONES)


# ---------------------------------------------------------------------------- any value in any field

_values = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.text(st.sampled_from("0123456789 -/:年月日.T,居民走访队patrolresidents"), max_size=24)
    | st.sampled_from(["510107001001", "510107001001001", "510107001", "510107001001 居民走访队", "510107-x"])
    | st.lists(st.integers(), max_size=2)
)


@settings(max_examples=int(os.environ.get("CC_FUZZ_EXAMPLES", "120")), deadline=None)
@given(
    kind=st.sampled_from(sorted(reference.KINDS)),
    values=st.lists(_values, min_size=24, max_size=24),
)
def test_a_validator_returns_a_record_or_names_the_field(kind, values):
    known = reference.Known(
        regions={
            "510107": reference.RegionFacts(RegionLevel.DISTRICT, "武侯区", False),
            "510107001": reference.RegionFacts(RegionLevel.STREET, "簇桥街道", False),
            "510107001001": reference.RegionFacts(RegionLevel.COMMUNITY, "龙井社区", False),
            "510107001001001": reference.RegionFacts(RegionLevel.COMPOUND, "龙井苑", False),
            "510107001002": reference.RegionFacts(RegionLevel.COMMUNITY, "锦城社区", True),
        },
        departments={"510107-x": (1, "510107")},
        teams={("510107001001", "residents"): 1, ("510107001001", "patrol"): 2},
        timezone=ZoneInfo("Asia/Shanghai"),
        now=dt.datetime(2026, 11, 30, tzinfo=UTC),
        as_of=None,
    )
    fields = {spec.name: value for spec, value in zip(FIELDS_BY_KIND[kind], values, strict=False)}
    try:
        record = reference.KINDS[kind].validate(fields, known)
    except RecordError as error:
        assert error.field is None or error.field in {spec.name for spec in FIELDS_BY_KIND[kind]}, error
        assert error.message
        return
    assert reference.KINDS[kind].key(record)
