"""Feed files in every format and encoding, including broken ones: nothing valid lost or duplicated."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.feedfiles import HEADER as FEED_HEADER
from bench.feedfiles import write_appeals_csv
from dashboard.config import DATA_DIR
from dashboard.domain.pii import PiiVault
from dashboard.domain.vocab import AppealStatus, Category, Priority, Satisfaction
from dashboard.services.ingest import dropfolder
from dashboard.services.ingest.dropfolder import ingest_file
from dashboard.store.database import db
from dashboard.store.models import Appeal, Business, QuarantinedRecord, Resident, ResidentGroup, Transition

SAMPLES = DATA_DIR / "samples"
APPEAL_SAMPLES = sorted(p.name for p in SAMPLES.glob("appeals*"))
UTC = dt.UTC


def _ingest(app, path: Path) -> dict:
    return ingest_file(app.extensions["ingestor"], path)


def _count(model) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def _samples_appeals() -> dict[str, Appeal]:
    with db.session() as session:
        rows = session.scalars(
            select(Appeal).where(Appeal.external_id.in_(["RX20261001-0001", "WX20261103-0002", "WG20261120-0003"]))
        )
        return {appeal.external_id: appeal for appeal in rows}


def test_sample_files_cover_every_format_and_encoding():
    assert APPEAL_SAMPLES == [
        "appeals.json",
        "appeals.ndjson",
        "appeals.xlsx",
        "appeals_gb18030.csv",
        "appeals_gbk.csv",
        "appeals_utf8.csv",
        "appeals_utf8_bom.csv",
    ]


@pytest.mark.parametrize("name", APPEAL_SAMPLES)
def test_every_format_and_encoding_lands_the_same_appeals(demo_app, name):
    report = _ingest(demo_app, SAMPLES / name)
    assert report["created"] == 3 and report["quarantined"] == 0, report
    appeals = _samples_appeals()
    seed_case = appeals["RX20261001-0001"]
    # 23:45 on Oct 1 local (naive means Asia/Shanghai) is 15:45 UTC.
    assert seed_case.reported_at == dt.datetime(2026, 10, 1, 15, 45, tzinfo=UTC)
    assert seed_case.category == Category.NOISE and seed_case.priority == Priority.URGENT
    assert seed_case.status == AppealStatus.RESOLVED and not seed_case.is_open
    assert seed_case.satisfaction == Satisfaction.SATISFIED
    assert seed_case.resolved_at - seed_case.reported_at == dt.timedelta(minutes=3)
    assert appeals["WX20261103-0002"].reported_at == dt.datetime(2026, 11, 3, 1, 15, tzinfo=UTC)
    assert appeals["WG20261120-0003"].reported_at == dt.datetime(2026, 11, 20, 2, 30, tzinfo=UTC)
    # Extra-urgent: one hour of calendar time.
    assert appeals["WG20261120-0003"].deadline_at == dt.datetime(2026, 11, 20, 3, 30, tzinfo=UTC)
    if name == "appeals_gb18030.csv":
        assert "𠮷" in appeals["WG20261120-0003"].description
    with db.session() as session:
        steps = session.scalars(
            select(Transition.action).where(Transition.appeal_id == seed_case.id).order_by(Transition.seq)
        ).all()
    assert [s.value for s in steps] == ["report", "accept", "resolve", "rate"]


def test_all_formats_together_still_give_three_appeals(demo_app):
    before = _count(Appeal)
    reports = [_ingest(demo_app, SAMPLES / name) for name in APPEAL_SAMPLES]
    assert sum(r["created"] for r in reports) == 3
    assert sum(r["unchanged"] for r in reports) == 3 * (len(APPEAL_SAMPLES) - 1)
    assert _count(Appeal) == before + 3


def test_residents_and_businesses_with_chinese_headers(demo_app):
    report = _ingest(demo_app, SAMPLES / "residents.csv")
    assert report["created"] == 2, report
    vault = PiiVault(demo_app.config["SECRET_KEY"])
    with db.session() as session:
        resident = session.scalar(select(Resident).where(Resident.id_number_hash == vault.hash("11010519491231002X")))
        assert resident.name == "王芳" and resident.birth_date == dt.date(1949, 12, 31) and resident.gender == "F"
        groups = session.scalars(select(ResidentGroup.group_code).where(ResidentGroup.resident_id == resident.id)).all()
        assert {g.value for g in groups} == {"old_age_allowance", "empty_nest_elderly"}
        assert b"11010519491231002X" not in resident.id_number_encrypted
    assert _ingest(demo_app, SAMPLES / "residents.csv")["unchanged"] == 2
    assert _ingest(demo_app, SAMPLES / "businesses.csv")["created"] == 1
    assert _ingest(demo_app, SAMPLES / "businesses.csv")["unchanged"] == 1
    with db.session() as session:
        assert session.scalar(select(Business.name).where(Business.credit_code == "91510107MA6C8XYZ1K")) == "锦城烧烤店"


def _write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode(encoding)
    path.write_bytes(content)
    return path


HEADER = "external_id,source,reported_at,category,priority,region_code,description\n"


def _row(i: int, region: str = "510107001001001", **overrides) -> str:
    values = {
        "external_id": f"T{i:04d}",
        "source": "wechat",
        "reported_at": "2026-11-19 10:00:00",
        "category": "sanitation",
        "priority": "ordinary",
        "region_code": region,
        "description": f"垃圾桶满溢 {i}",
    }
    values.update(overrides)
    return ",".join(values.values()) + "\n"


def test_invalid_records_are_quarantined_with_record_and_field(demo_app, tmp_path):
    lines = [
        _row(1),
        _row(2, region="510107001001999"),  # unknown region
        _row(3, priority="whenever"),  # unknown enum
        _row(4, reported_at="2026-13-45 99:00"),  # not a time
        _row(5, reported_at="2099-01-01 00:00:00"),  # in the future
        _row(6, description=""),  # required
        _row(7),
    ]
    path = _write(tmp_path, "appeals_mixed.csv", HEADER + "".join(lines))
    report = _ingest(demo_app, path)
    assert report["created"] == 2 and report["quarantined"] == 5
    by_line = {e["record"]: e for e in report["errors"]}
    assert by_line["appeals_mixed.csv line 3"]["field"] == "region_code"
    assert "does not exist" in by_line["appeals_mixed.csv line 3"]["reason"]
    assert by_line["appeals_mixed.csv line 4"]["field"] == "priority"
    assert "普通" not in by_line["appeals_mixed.csv line 4"]["reason"]  # lists the codes, not a wall of text
    assert by_line["appeals_mixed.csv line 5"]["field"] == "reported_at"
    assert "future" in by_line["appeals_mixed.csv line 6"]["reason"]
    assert by_line["appeals_mixed.csv line 7"]["field"] == "description"
    with db.session() as session:
        stored = session.scalars(select(QuarantinedRecord).order_by(QuarantinedRecord.id)).all()
        assert [q.location for q in stored] == [f"appeals_mixed.csv line {n}" for n in (3, 4, 5, 6, 7)]
        # Raw input is kept encrypted (it may hold personal data); the vault opens it.
        assert stored[0].raw.startswith("enc1:")
        vault = demo_app.extensions["ingestor"].vault
        assert json.loads(vault.decrypt_text(stored[0].raw))["region_code"] == "510107001001999"
    # Delivering the same file again changes nothing, quarantine included.
    again = _ingest(demo_app, path)
    assert again["created"] == 0 and again["unchanged"] == 2
    assert _count(QuarantinedRecord) == 5


def test_duplicate_rows_land_once(demo_app, tmp_path):
    path = _write(tmp_path, "appeals_dupes.csv", HEADER + _row(1) + _row(1) + _row(2))
    report = _ingest(demo_app, path)
    assert report["created"] == 2 and report["stale"] == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Appeal).where(Appeal.external_id == "T0001")) == 1


def test_a_newer_version_updates_and_never_duplicates(demo_app, tmp_path):
    first = _write(tmp_path, "appeals_v1.csv", HEADER + _row(1))
    _ingest(demo_app, first)
    header = HEADER.strip() + ",status,accepted_at,resolved_at\n"
    newer = _row(1).strip() + ",resolved,2026-11-19 10:05:00,2026-11-19 15:00:00\n"
    report = _ingest(demo_app, _write(tmp_path, "appeals_v2.csv", header + newer))
    assert report["updated"] == 1
    older = _write(tmp_path, "appeals_v0.csv", HEADER + _row(1))
    assert _ingest(demo_app, older)["stale"] == 1  # an older version never overwrites a newer one
    with db.session() as session:
        appeal = session.scalar(select(Appeal).where(Appeal.external_id == "T0001"))
        assert appeal.status == AppealStatus.RESOLVED and not appeal.is_open
        steps = session.scalars(
            select(Transition.action).where(Transition.appeal_id == appeal.id).order_by(Transition.seq)
        )
        assert [s.value for s in steps] == ["report", "accept", "resolve"]


def test_truncated_csv_keeps_every_complete_row(demo_app, tmp_path):
    content = HEADER + _row(1) + _row(2) + _row(3)
    path = _write(tmp_path, "appeals_cut.csv", content[: content.rindex(",") - 3])
    report = _ingest(demo_app, path)
    assert report["created"] == 2 and report["quarantined"] == 1
    assert "truncated" in report["errors"][0]["reason"]


def test_truncated_json_keeps_every_complete_record(demo_app, tmp_path):
    text = (SAMPLES / "appeals.json").read_text(encoding="utf-8")
    path = _write(tmp_path, "appeals_cut.json", text[: text.index("WG20261120-0003") + 5])
    report = _ingest(demo_app, path)
    assert report["created"] == 2 and report["quarantined"] == 1
    assert "truncated" in report["errors"][0]["reason"]


def test_broken_ndjson_line_is_one_bad_record(demo_app, tmp_path):
    lines = (SAMPLES / "appeals.ndjson").read_text(encoding="utf-8").splitlines()
    path = _write(tmp_path, "appeals_bad.ndjson", "\n".join([lines[0], '{"external_id": "X", ', lines[2]]) + "\n")
    report = _ingest(demo_app, path)
    assert report["created"] == 2 and report["errors"][0]["record"] == "appeals_bad.ndjson line 2"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("appeals_empty.csv", b"", "empty"),
        ("appeals_blank.csv", b"  \n\n", "empty"),
        ("appeals_utf16.csv", HEADER.encode("utf-16"), "cannot decode"),
        ("appeals_noheader.csv", b"T1,wechat,2026-11-19,noise,ordinary,510107001001001,x\n", "missing required column"),
        ("appeals_missing.csv", b"external_id,source,description\nT1,wechat,x\n", "reported_at"),
        ("appeals_garbage.xlsx", b"PK\x03\x04 not really a workbook", "not a readable XLSX"),
        ("appeals_object.json", b'{"not": "records"}', "expected a JSON array"),
        ("appeals_weird.txt", b"hello", "unsupported file type"),
        ("misc_appeals.csv", HEADER.encode(), "must start with"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(demo_app, tmp_path, name, content, message):
    report = _ingest(demo_app, _write(tmp_path, name, content))
    assert message in report["file_error"]
    assert _count(QuarantinedRecord) == 0


def test_unknown_columns_are_ignored(demo_app, tmp_path):
    header = HEADER.strip() + ",备注,internal_flag\n"
    path = _write(tmp_path, "appeals_extra.csv", header + _row(1).strip() + ",随便,1\n")
    assert _ingest(demo_app, path)["created"] == 1


def test_invalid_id_numbers_are_quarantined(demo_app, tmp_path):
    content = (
        "身份证号,姓名,区划代码,户籍类型\n"
        "11010519491231002X,王芳,510107001001001,户籍人口\n"
        "110105194912310021,李四,510107001001001,户籍人口\n"
        "12345,赵五,510107001001001,户籍人口\n"
    )
    report = _ingest(demo_app, _write(tmp_path, "residents_ids.csv", content))
    assert report["created"] == 1 and report["quarantined"] == 2
    assert {e["field"] for e in report["errors"]} == {"id_number"}
    assert all("GB 11643" in e["reason"] for e in report["errors"])


def test_drop_folder_moves_files_aside_with_reports(demo_app, tmp_path):
    root = tmp_path / "dropbox"
    paths = dropfolder.folders(root)
    good = paths["incoming"] / "appeals_good.csv"
    good.write_text(HEADER + _row(1), encoding="utf-8")
    bad = paths["incoming"] / "appeals_bad.csv"
    bad.write_bytes(b"")
    arriving = paths["incoming"] / "appeals_arriving.csv"
    arriving.write_text(HEADER, encoding="utf-8")
    old = time.time() - 60
    for path in (good, bad):
        os.utime(path, (old, old))
    reports = dropfolder.process(demo_app.extensions["ingestor"], root)
    assert sorted(r["file"] for r in reports) == ["appeals_bad.csv", "appeals_good.csv"]
    done = list(paths["done"].glob("*appeals_good.csv"))
    failed = list(paths["failed"].glob("*appeals_bad.csv"))
    assert len(done) == len(failed) == 1
    assert json.loads(Path(str(done[0]) + ".report.json").read_text())["created"] == 1
    assert "empty" in json.loads(Path(str(failed[0]) + ".report.json").read_text())["file_error"]
    assert arriving.exists()  # still being written: left for the next scan


# Once, on SQLite: PostgreSQL ingest of the same code path is covered by the other tests and bench/ingest.
@pytest.mark.parametrize("empty_database_url", ["sqlite"], indirect=True)
def test_a_100_megabyte_file(demo_app, tmp_path):
    compounds = ["510107001001001", "510107001001002", "510107001002001", "510107001003001"]
    path = tmp_path / "appeals_big.csv"
    rows = 0
    chunk = 20_000
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(FEED_HEADER) + "\n")
    while path.stat().st_size < 100 * 1024 * 1024:
        part = write_appeals_csv(
            tmp_path / "part.csv", chunk, compounds, dt.datetime(2026, 11, 20), seed=rows, prefix=f"B{rows}-"
        )
        with path.open("a", encoding="utf-8") as out:
            out.write(part.read_text(encoding="utf-8").split("\n", 1)[1])
        rows += chunk
    assert path.stat().st_size >= 100 * 1024 * 1024
    before = _count(Appeal)
    report = _ingest(demo_app, path)
    assert report["quarantined"] == 0 and report["created"] == rows
    assert _count(Appeal) == before + rows


def test_records_the_calendar_cannot_place_are_quarantined_not_crashing(demo_app, tmp_path):
    path = _write(tmp_path, "appeals_old.csv", HEADER + _row(1, reported_at="1999-12-31 10:00:00") + _row(2))
    report = _ingest(demo_app, path)
    assert report["created"] == 1 and report["errors"][0]["field"] == "reported_at"
    from dashboard.domain.pii import id_check_char

    impossible = "510107199013011" + "23"
    content = (
        f"身份证号,姓名,区划代码,户籍类型\n{impossible}{id_check_char(impossible)},王五,510107001001001,户籍人口\n"
    )
    report = _ingest(demo_app, _write(tmp_path, "residents_bad_date.csv", content))
    assert report["quarantined"] == 1 and "birth date" in report["errors"][0]["reason"]


def test_a_file_read_in_a_second_process_lands_as_read_in_one(demo_app, tmp_path):
    lines = [_row(i) for i in range(1, 40)]
    lines[5] = _row(6, region="510107001001999")
    lines[9] = _row(10, priority="whenever")
    lines.append(_row(3))  # a duplicate row
    content = HEADER + "".join(lines)
    path = _write(tmp_path, "appeals_pipe.csv", content[: content.rindex(",") - 3])  # and a truncated last row
    ingestor = demo_app.extensions["ingestor"]
    before = _count(Appeal)
    piped = ingest_file(ingestor, path, pipelined=True)
    assert piped["created"] == 37 and piped["quarantined"] == 3 and piped["stale"] == 0
    assert _count(Appeal) == before + 37 and _count(QuarantinedRecord) == 3
    # The same file in one process finds exactly what the reader process stored: nothing new, nothing lost.
    alone = ingest_file(ingestor, path, pipelined=False)
    assert alone["created"] == 0 and alone["unchanged"] == 37 and alone["errors"] == piped["errors"]
    assert _count(Appeal) == before + 37 and _count(QuarantinedRecord) == 3
    with db.session() as session:
        steps = session.scalar(
            select(func.count()).select_from(Transition).join(Appeal).where(Appeal.external_id.like("T%"))
        )
        assert steps == 37


def test_a_file_the_reader_process_cannot_read_is_refused_the_same_way(demo_app, tmp_path):
    path = _write(tmp_path, "appeals_latin.csv", b"external_id,source\n\xff\xfe\xfa\n")
    piped = ingest_file(demo_app.extensions["ingestor"], path, pipelined=True)
    alone = ingest_file(demo_app.extensions["ingestor"], path, pipelined=False)
    assert piped["file_error"] == alone["file_error"] and "decode" in piped["file_error"]


def test_an_update_that_would_move_the_report_after_its_history_is_quarantined(demo_app, tmp_path):
    from dashboard.domain.vocab import TransitionAction
    from dashboard.services.workflow import Step, apply

    _ingest(demo_app, _write(tmp_path, "appeals_first.csv", HEADER + _row(1) + _row(2)))
    with db.transaction() as session:
        appeal = session.scalar(select(Appeal).where(Appeal.external_id == "T0001"))
        apply(session, appeal, Step(TransitionAction.ACCEPT, "operator", dt.datetime(2026, 11, 19, 2, 30, tzinfo=UTC)))
    # The feed now says T0001 was reported at 12:00 local (04:00 UTC), after it was accepted.
    later = _row(1, reported_at="2026-11-19 12:00:00") + _row(2, reported_at="2026-11-19 12:00:00")
    report = _ingest(demo_app, _write(tmp_path, "appeals_second.csv", HEADER + later))
    assert report["updated"] == 1 and report["quarantined"] == 1
    (error,) = report["errors"]
    assert error["record"] == "appeals_second.csv line 2" and error["field"] == "reported_at"
    assert "accepted_at" in error["reason"]
    with db.session() as session:
        appeal = session.scalar(select(Appeal).where(Appeal.external_id == "T0001"))
        assert appeal.reported_at == dt.datetime(2026, 11, 19, 2, 0, tzinfo=UTC)  # unchanged
        assert appeal.status == AppealStatus.ACCEPTED
        stored = session.scalar(select(QuarantinedRecord).where(QuarantinedRecord.location.like("appeals_second%")))
        vault = demo_app.extensions["ingestor"].vault
        assert json.loads(vault.decrypt_text(stored.raw))["external_id"] == "T0001"


def test_a_batch_retried_after_a_conflict_is_written_as_prepared(demo_app, tmp_path, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from dashboard.services.ingest import service

    real_insert_rows = service.insert_rows
    calls = []

    def conflict_once(connection, table, *args, **kwargs):
        # As if another writer had stored one of these keys: the history insert fails once,
        # after the appeals of the batch were written in the same (rolled back) transaction.
        calls.append(table)
        if table == "transitions" and calls.count("transitions") == 1:
            raise IntegrityError("INSERT INTO transitions", {}, Exception("UNIQUE constraint failed"))
        return real_insert_rows(connection, table, *args, **kwargs)

    monkeypatch.setattr(service, "insert_rows", conflict_once)
    before = _count(Appeal)
    report = _ingest(demo_app, _write(tmp_path, "appeals_retry.csv", HEADER + _row(1) + _row(2) + _row(3)))
    assert calls == ["appeals", "transitions", "appeals", "transitions"]
    assert report["created"] == 3 and report["quarantined"] == 0
    assert _count(Appeal) == before + 3
    with db.session() as session:
        steps = session.scalar(
            select(func.count()).select_from(Transition).join(Appeal).where(Appeal.external_id.like("T%"))
        )
        assert steps == 3
