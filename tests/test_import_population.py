"""Population by aggregates (issue 15): per-compound counts as of a date from population* files; a
compound's resident records win over its aggregates, else its latest aggregate counts; the wall
and the console say which, and as of when."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from plotly.io.json import to_json_plotly
from sqlalchemy import select

from dashboard.domain.roles import Role
from dashboard.domain.vocab import HouseholdType, LivelihoodGroup
from dashboard.queries import drill as drilldata
from dashboard.queries import wall as walldata
from dashboard.services.ingest.service import replay
from dashboard.store.database import db
from dashboard.store.models import PopulationAggregate, QuarantinedRecord, Region
from dashboard.ui.chrome import Viewer
from layouts import drill as drill_layout
from layouts import wall as wall_layout
from tests.import_support import BROKEN, COMPOUNDS, SAMPLES, add_sample_regions, count, ingest

AS_OF = dt.date(2026, 11, 1)
CODES = list(COMPOUNDS)
COMPOUNDS_WITH_RECORDS = ["510107001001001", "510107001001002"]  # residents.csv
HEADER = "region_code,as_of,residents,registered,floating,empty_registered,disabled,空巢老人\n"


@pytest.fixture
def district(app):
    """The app with the sample regions and nothing else."""
    with app.app_context():
        add_sample_regions()
        yield app


def _population(code: str = "510107") -> dict:
    with db.session() as session:
        return walldata.population(session, code)


def _aggregates() -> dict[tuple[str, dt.date], PopulationAggregate]:
    with db.session() as session:
        return {(a.region_code, a.as_of): a for a in session.scalars(select(PopulationAggregate))}


def _sample_rows() -> dict[str, list[int]]:
    """The sample file's numbers per compound: residents, the three household types, the 11 groups."""
    lines = (SAMPLES / "population_wuhou.csv").read_text(encoding="utf-8").splitlines()[1:]
    return {cells[0]: [int(c) for c in cells[2:]] for cells in (line.split(",") for line in lines)}


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _text(component) -> str:
    return json.dumps(json.loads(to_json_plotly(component)), ensure_ascii=False)


@pytest.mark.parametrize("name", ["population_wuhou.csv", "population_wuhou.xlsx"])
def test_the_samples_land_the_same_counts(district, name):
    report = ingest(district, SAMPLES / name)
    assert (report["kind"], report["read"], report["created"], report["quarantined"]) == ("population", 24, 24, 0)
    stored = _aggregates()
    assert set(stored) == {(code, AS_OF) for code in COMPOUNDS}
    expected = _sample_rows()
    for (code, _), row in stored.items():
        residents, registered, floating, empty, *groups = expected[code]
        assert row.residents == residents == registered + floating + empty
        assert row.household_types == {"registered": registered, "floating": floating, "empty_registered": empty}
        assert row.groups == dict(zip((g.value for g in LivelihoodGroup), groups, strict=True))
        assert row.source == f"file:{name}"
    other = "population_wuhou.xlsx" if name.endswith(".csv") else "population_wuhou.csv"
    again = ingest(district, SAMPLES / other)
    assert (again["unchanged"], again["created"], again["updated"]) == (24, 0, 0)
    assert count(PopulationAggregate) == 24


def test_aggregates_count_where_no_resident_records_exist(district):
    assert _population()["source"]["kind"] == "none"
    ingest(district, SAMPLES / "population_wuhou.csv")
    expected = _sample_rows()
    population = _population()
    assert population["residents"] == sum(row[0] for row in expected.values())
    assert population["households"]["floating"] == sum(row[2] for row in expected.values())
    assert population["groups"]["empty_nest_elderly"] == sum(row[7] for row in expected.values())
    assert population["source"] == {
        "kind": "aggregates",
        "record_regions": 0,
        "aggregate_compounds": 24,
        "as_of_oldest": AS_OF,
        "as_of_newest": AS_OF,
    }
    assert population["from_aggregates"]["residents"] == population["residents"]
    community = _population("510107001002")
    assert community["residents"] == sum(row[0] for code, row in expected.items() if code.startswith("510107001002"))
    assert community["source"]["aggregate_compounds"] == 4


def test_resident_records_win_where_they_exist(district):
    ingest(district, SAMPLES / "population_wuhou.csv")
    report = ingest(district, SAMPLES / "residents.csv")  # one resident in each of the first two compounds
    assert report["created"] == 2
    expected = _sample_rows()
    by_aggregate = {code: row for code, row in expected.items() if code not in COMPOUNDS_WITH_RECORDS}
    population = _population()
    assert population["residents"] == 2 + sum(row[0] for row in by_aggregate.values())
    # 王芳 is registered, 李强 floating; 王芳 is in two livelihood archives.
    assert population["households"]["registered"] == 1 + sum(row[1] for row in by_aggregate.values())
    assert population["households"]["floating"] == 1 + sum(row[2] for row in by_aggregate.values())
    assert population["groups"]["old_age_allowance"] == 1 + sum(row[12] for row in by_aggregate.values())
    assert population["source"] == {
        "kind": "mixed",
        "record_regions": 2,
        "aggregate_compounds": 22,
        "as_of_oldest": AS_OF,
        "as_of_newest": AS_OF,
    }
    assert population["from_aggregates"]["residents"] == population["residents"] - 2
    # A compound with records counts them alone; one without counts its aggregate.
    assert _population(COMPOUNDS_WITH_RECORDS[0])["residents"] == 1
    assert _population(COMPOUNDS_WITH_RECORDS[0])["source"]["kind"] == "records"
    third = CODES[2]
    assert _population(third)["residents"] == expected[third][0]


def test_the_latest_aggregate_of_a_compound_counts(district, tmp_path):
    ingest(district, SAMPLES / "population_wuhou.csv")
    expected = _sample_rows()
    first = CODES[0]
    # An older count, with its date in the file name (no as_of column): kept, but not counted.
    older = _write(tmp_path, "population_2026-10-01.csv", "小区代码,实有人口\n" + f"{first},99\n")
    report = ingest(district, older)
    assert report["created"] == 1, report
    assert _aggregates()[(first, dt.date(2026, 10, 1))].residents == 99
    assert _population()["residents"] == sum(row[0] for row in expected.values())
    assert _population()["source"]["as_of_oldest"] == AS_OF
    # A newer count for one compound: it counts for that compound, and the dates now span two days.
    newer = _write(tmp_path, "population_update.json", json.dumps({"as_of": "2026-11-15", "records": [
        {"区划代码": first, "户籍人口": 1000, "流动人口": 200, "空挂户": 0, "空巢老人": 40}
    ]}, ensure_ascii=False))  # fmt: skip
    report = ingest(district, newer)
    assert report["created"] == 1, report
    population = _population()
    assert population["residents"] == 1200 + sum(row[0] for code, row in expected.items() if code != first)
    assert population["groups"]["disabled"] == sum(row[4] for code, row in expected.items() if code != first)
    assert population["source"]["as_of_oldest"] == AS_OF
    assert population["source"]["as_of_newest"] == dt.date(2026, 11, 15)
    assert count(PopulationAggregate) == 26  # nothing stored is lost


def test_a_reimport_of_the_same_date_updates_in_place(district, tmp_path):
    ingest(district, SAMPLES / "population_wuhou.csv")
    first = CODES[0]
    stored = _aggregates()[(first, AS_OF)]
    _population()  # cached now
    path = _write(tmp_path, "population_fix.csv", HEADER + f"{first},2026-11-01,,700,100,5,1,2\n")
    report = ingest(district, path)
    assert (report["updated"], report["created"], report["quarantined"]) == (1, 0, 0), report
    updated = _aggregates()[(first, AS_OF)]
    assert updated.id == stored.id and updated.residents == 805
    assert updated.household_types == {"registered": 700, "floating": 100, "empty_registered": 5}
    assert updated.groups == {"disabled": 1, "empty_nest_elderly": 2}
    assert updated.source == "file:population_fix.csv"
    assert count(PopulationAggregate) == 24
    # The cached counts were forgotten when the import committed.
    expected = _sample_rows()
    assert _population()["residents"] == 805 + sum(row[0] for code, row in expected.items() if code != first)
    assert ingest(district, path)["unchanged"] == 1


# ---------------------------------------------------------------------------- broken variants


@pytest.mark.parametrize(
    ("name", "field", "reason"),
    [
        ("population_negative_count.csv", "floating", "is negative (-5)"),
        (
            "population_duplicate_key.csv",
            "region_code",
            "compound 510107001001001 as of 2026-11-01 is given twice: first at population_duplicate_key.csv line 2",
        ),
        (
            "population_wrong_level.csv",
            "region_code",
            "region 510107001001 is a community (12 digits); a population count's region must be a compound",
        ),
    ],
)
def test_each_broken_variant_is_explained_and_stores_nothing_wrong(district, name, field, reason):
    report = ingest(district, BROKEN / name)
    assert (report["read"], report["created"], report["quarantined"]) == (3, 2, 1), report
    [error] = report["errors"]
    assert (error["record"], error["field"]) == (f"{name} line 4", field)
    assert error["reason"].startswith(reason), error["reason"]
    stored = _aggregates()
    assert set(stored) == {(code, AS_OF) for code in CODES[:2]}
    assert all(min(row.household_types.values()) >= 0 for row in stored.values())
    if name == "population_duplicate_key.csv":  # the first record is kept, not overwritten
        assert stored[(CODES[0], AS_OF)].residents == _sample_rows()[CODES[0]][0]
    with db.session() as session:
        [quarantined] = session.scalars(select(QuarantinedRecord)).all()
    assert (quarantined.kind, quarantined.location, quarantined.field) == ("population", f"{name} line 4", field)


def test_a_missing_required_column_refuses_the_file(district, tmp_path):
    report = ingest(district, BROKEN / "population_missing_column.csv")
    assert report["file_error"].startswith("population_missing_column.csv: missing required column(s) region_code")
    no_counts = _write(tmp_path, "population_x.csv", "region_code,as_of,disabled\n510107001001001,2026-11-01,1\n")
    assert "residents or registered+floating+empty_registered" in ingest(district, no_counts)["file_error"]
    no_date = _write(tmp_path, "population_x.csv", "region_code,residents\n510107001001001,10\n")
    assert "missing required column as_of" in ingest(district, no_date)["file_error"]
    assert count(PopulationAggregate) == count(QuarantinedRecord) == 0


def test_records_are_checked(district, tmp_path):
    with db.transaction() as session:
        session.get(Region, "510107001003003").archived_at = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    rows = [
        "510107001001001,2026-02-30,10,,,,,",  # 2: no such day
        "510107001001002,2026-12-25,10,,,,,",  # 3: in the future
        "510107001001003,2026-11-01,,5,5,,,",  # 4: residents missing, a household type missing
        "510107001002001,2026-11-01,10,5,4,0,,",  # 5: types do not add up
        "510107001002002,2026-11-01,10,5,6,,,",  # 6: more by type than residents
        "510107001002003,2026-11-01,10,,,,11,",  # 7: a group larger than the compound
        "510107001003001,2026-11-01,1.5,,,,,",  # 8: not whole
        "510107001003002,2026-11-01,abc,,,,,",  # 9: not a number
        "510107001003003,2026-11-01,10,,,,,",  # 10: archived
        "510107001009001,2026-11-01,10,,,,,",  # 11: unknown
        "13900001111,2026-11-01,10,,,,,",  # 12: not a region code (and not quoted)
        "510107001003001,2026-11-01,10,,,,,",  # 13: fine: residents alone
        '510107001003002,2026/11/01,"1,200",,,,3,',  # 14: fine: a thousands separator, a date with slashes
    ]
    report = ingest(district, _write(tmp_path, "population_checks.csv", HEADER + "\n".join(rows) + "\n"))
    assert (report["created"], report["quarantined"]) == (2, 11), report
    reasons = {int(e["record"].split()[-1]): (e["field"], e["reason"]) for e in report["errors"]}
    assert reasons[2][0] == "as_of" and "no such day" in reasons[2][1]
    assert reasons[3] == ("as_of", "2026-12-25 is in the future")
    assert reasons[4][0] == "residents" and "is required unless" in reasons[4][1]
    assert reasons[5] == ("residents", "is 10 but the household types add up to 9")
    assert reasons[6] == ("residents", "is 10, fewer than the 11 given by household type")
    assert reasons[7] == ("disabled", "11 is more than the compound's 10 residents")
    assert reasons[8][0] == "residents" and "not a whole number" in reasons[8][1]
    assert reasons[9][0] == "residents" and "not a whole number" in reasons[9][1]
    assert reasons[10] == ("region_code", "region 510107001003003 is archived")
    assert reasons[11] == ("region_code", "region 510107001009001 does not exist")
    assert reasons[12] == ("region_code", "is not a region code (6, 9, 12 or 15 digits)")
    stored = _aggregates()
    assert stored[("510107001003002", AS_OF)].residents == 1200
    assert stored[("510107001003001", AS_OF)].household_types == {}


def test_a_quarantined_count_replays_with_the_files_date(district, tmp_path):
    path = _write(tmp_path, "population_2026-11-10.csv", "小区代码,实有人口\n510107001001001,-3\n")
    assert ingest(district, path)["quarantined"] == 1
    with db.session() as session:
        record_id = session.scalar(select(QuarantinedRecord.id))
    # The quarantined record carries the file's date, so a fix needs only the count.
    fixed = {"小区代码": "510107001001001", "实有人口": "30", "as_of": "2026-11-10"}
    result = replay(district.extensions["ingestor"], record_id, fixed, actor="test")
    assert result["replayed"], result
    vault = district.extensions["ingestor"].vault
    with db.session() as session:
        raw = json.loads(vault.decrypt_text(session.get(QuarantinedRecord, record_id).raw))
    assert raw["as_of"] == "2026-11-10"
    assert _aggregates()[("510107001001001", dt.date(2026, 11, 10))].residents == 30


# ---------------------------------------------------------------------------- the wall and the console


def _views(app, region: str = "510107"):
    admin = Viewer(authenticated=True, username="admin", role=Role.ADMIN)
    with app.test_request_context():
        wall = walldata.read(region, "zh")
        console = drilldata.read({"region": region}, admin, "zh")
    return wall, console, admin


def test_the_wall_and_the_console_say_where_the_numbers_come_from(district, tmp_path):
    ingest(district, SAMPLES / "population_wuhou.csv")
    wall, console, admin = _views(district)
    assert wall.population["source"]["kind"] == console.population["source"]["kind"] == "aggregates"
    assert wall.population["residents"] == console.population["residents"] == _population()["residents"]
    assert "按汇总数，截至 2026-11-01" in _text(wall_layout.population_panel(wall.population, "zh"))
    assert "From aggregate counts as of 2026-11-01" in _text(wall_layout.population_panel(wall.population, "en"))
    with district.test_request_context():
        page = _text(drill_layout.render(console, admin, "zh"))
    assert '"id": "drill-population-source"' in page and "按汇总数，截至 2026-11-01" in page

    ingest(district, SAMPLES / "residents.csv")
    ingest(district, _write(tmp_path, "population_late.csv", HEADER + "510107001003003,2026-11-15,50,,,,,\n"))
    wall, console, admin = _views(district)
    assert wall.population["source"]["kind"] == "mixed"
    note = "其中 22 个小区按汇总数，截至 2026-11-01 至 2026-11-15"
    assert note in _text(wall_layout.population_panel(wall.population, "zh"))
    english = "22 compounds from aggregate counts as of 2026-11-01 to 2026-11-15"
    assert english in _text(wall_layout.population_panel(wall.population, "en"))
    with district.test_request_context():
        assert note in _text(drill_layout.render(console, admin, "zh"))

    _, compound, _ = _views(district, "510107001001001")  # a compound with records only
    assert compound.population["source"]["kind"] == "records"
    assert "按人口档案统计" in _text(wall_layout.population_panel(compound.population, "zh"))


def test_a_wall_without_any_population_says_nothing_about_it(district):
    population = _population()
    assert population["residents"] == 0 and population["source"]["kind"] == "none"
    assert population["households"] == {t.value: 0 for t in HouseholdType}
    panel = _text(wall_layout.population_panel(population, "zh"))
    assert "汇总" not in panel and "档案统计" not in panel
