"""Hypothesis fuzzing of the import parsers (ingest/readers.py and records.py).

Whatever a feed sends, the parsers end in one of two named outcomes: the file is refused with
a FileError, or every record is read, and then either validated into a clean record or refused
with a RecordError that names the field (the record is quarantined). Nothing else escapes.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from dashboard.services.ingest.readers import (
    FileError,
    RawRecord,
    read_csv_text,
    read_json_text,
    read_ndjson_text,
    read_records,
)
from dashboard.services.ingest.records import (
    FIELDS_BY_KIND,
    RecordError,
    masked_raw,
    validate_appeal,
    validate_business,
    validate_resident,
)

# CC_FUZZ_EXAMPLES=2000 fuzzes deeper than the default run of the suite.
FUZZ = settings(
    max_examples=int(os.environ.get("CC_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
FEW = settings(FUZZ, max_examples=max(FUZZ.max_examples // 3, 1))  # XLSX files are slow to build
KINDS = ("appeal", "resident", "business")
FILE_NAMES = {"appeal": "appeals", "resident": "residents", "business": "businesses"}
SUFFIXES = (".csv", ".xlsx", ".json", ".ndjson")
ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")
TIMEZONE = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)
REGIONS = {"510107": "district", "510107001": "street", "510107001001": "community", "510107001001001": "compound"}
DEPARTMENTS = {"CG": 1, "PCS": 2}
FIELD_NAMES = {kind: {spec.name for spec in specs} for kind, specs in FIELDS_BY_KIND.items()}


def _validate(kind: str, fields: dict) -> dict | RecordError:
    try:
        if kind == "appeal":
            return validate_appeal(fields, REGIONS, DEPARTMENTS, TIMEZONE, NOW)
        if kind == "resident":
            return validate_resident(fields, REGIONS, TIMEZONE, NOW)
        return validate_business(fields, REGIONS, TIMEZONE, NOW)
    except RecordError as error:
        assert error.message, "a refusal says why"
        assert error.field is None or error.field in FIELD_NAMES[kind], error.field
        return error


def _check_clean(kind: str, clean: dict) -> None:
    """What a validated record promises the database: ASCII identifiers, bounded numbers."""
    for name in ("reporter_phone", "phone", "contact_phone", "id_number", "credit_code", "region_code"):
        if clean.get(name) is not None:
            assert clean[name].isascii(), (name, clean[name])
    if kind == "business":
        assert 0 <= clean["employees"] <= 10_000_000


def _check_records(records: list, kind: str) -> list:
    """Each record is either fields or a named error, with a location and raw text; validate the fields."""
    outcomes = []
    for record in records:
        assert isinstance(record, RawRecord)
        assert record.location and isinstance(record.raw, str)
        if record.error is not None:
            assert isinstance(record.error, RecordError) and record.error.message
            assert record.fields is None
            outcomes.append(record.error)
            continue
        assert isinstance(record.fields, dict)
        assert set(record.fields) <= FIELD_NAMES[kind]
        outcome = _validate(kind, record.fields)
        if isinstance(outcome, dict):
            _check_clean(kind, outcome)
        outcomes.append(outcome)
        masked_raw(kind, record.raw)  # what an operator sees of it in quarantine
    return outcomes


def _read_file(content: bytes, kind: str, suffix: str) -> list | FileError:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{FILE_NAMES[kind]}_fuzz{suffix}"
        path.write_bytes(content)
        try:
            records = list(read_records(path, kind))
        except FileError as error:
            assert str(error).startswith(path.name), "a refused file is named in the reason"
            return error
    return records


# ---------------------------------------------------------------------------- arbitrary input


@FUZZ
@given(content=st.binary(max_size=2000), kind=st.sampled_from(KINDS), suffix=st.sampled_from(SUFFIXES))
@example(content=b"\xef\xbb\xbf", kind="appeal", suffix=".csv")  # a BOM and nothing else
@example(content=b"PK\x03\x04" + b"\x00" * 40, kind="appeal", suffix=".xlsx")  # a zip header, then nothing
@example(content=b"\x81\x30\x81", kind="resident", suffix=".json")  # a truncated GB18030 sequence
def test_arbitrary_bytes_are_refused_or_read(content, kind, suffix):
    outcome = _read_file(content, kind, suffix)
    if not isinstance(outcome, FileError):
        _check_records(outcome, kind)


@FUZZ
@given(text=st.text(max_size=1500), kind=st.sampled_from(KINDS))
@example(text="[" * 50_000, kind="appeal")  # nesting deeper than Python's recursion limit
@example(text='[{"external_id": ' + "9" * 5000 + "}]", kind="appeal")  # an integer too long to convert
@example(text='{"records": [' + "1" * 5000 + "]}", kind="business")
@example(text='{"lat": 1e999, "lon": -1e999}', kind="appeal")
def test_arbitrary_text_in_each_text_reader(text, kind):
    for reader in (read_csv_text, read_json_text, read_ndjson_text):
        try:
            records = list(reader(text, kind, "feed"))
        except FileError as error:
            assert str(error).startswith("feed:")
            continue
        _check_records(records, kind)


@FUZZ
@given(
    text=st.text(st.characters(codec="gb18030"), max_size=800),
    kind=st.sampled_from(KINDS),
    suffix=st.sampled_from((".csv", ".json", ".ndjson")),
    encoding=st.sampled_from(ENCODINGS),
)
def test_arbitrary_text_in_each_encoding(text, kind, suffix, encoding):
    content = text.encode(encoding, errors="replace")
    outcome = _read_file(content, kind, suffix)
    if not isinstance(outcome, FileError):
        _check_records(outcome, kind)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_json_objects = st.dictionaries(st.text(max_size=12), _json_values).map(lambda d: json.dumps(d, ensure_ascii=False))


@FUZZ
@given(raw=st.text(max_size=300) | _json_objects, kind=st.sampled_from(KINDS))
@example(raw='{"reporter_name": "   ", "name": " ", "contact_name": "\\t"}', kind="appeal")
@example(raw='{"name": ' + "7" * 5000 + "}", kind="resident")
@example(raw="[" * 50_000, kind="business")
def test_masked_raw_never_fails(raw, kind):
    assert isinstance(masked_raw(kind, raw), str)


# ---------------------------------------------------------------------------- well-formed files, random values

# Field values as a feed might send them: text (any script, blank, long), numbers, times, codes.
_texts = st.text(max_size=40) | st.text(st.sampled_from("0123456789０１２٣४ -+:/.TZeE"), max_size=24)
_instants = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)).map(
    lambda d: d.isoformat(sep=" ")
) | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
_numbers = st.integers(-(10**30), 10**30) | st.floats() | st.sampled_from(["inf", "-inf", "nan", "1e999", "-0"])
_enums = st.sampled_from(
    [
        "hotline_12345",
        "12345热线",
        "ordinary",
        "普通",
        "加急",
        "noise",
        "resolved",
        "closed",
        "satisfied",
        "满意",
        "registered",
        "户籍",
        "merchant",
        "企业",
        "M",
        "女",
        "disabled",
        "残疾人员;空巢老人",
        "CG",
    ]
)
_codes = st.sampled_from(list(REGIONS)) | st.text(st.sampled_from("0123456789５"), min_size=5, max_size=16)
_ids = st.sampled_from(["11010519491231002X", "110105194912310021", "1101051949123100２X", "51010719900101001X"])
_values = st.one_of(_texts, _instants, _numbers.map(str), _enums, _codes, _ids, st.just(""))


def _rows(kind: str, native: bool):
    """Rows (dicts by field name) with random values; native ones may hold JSON types, else strings."""
    names = [spec.name for spec in FIELDS_BY_KIND[kind]]
    value = st.one_of(_values, st.none(), _numbers, st.booleans(), st.lists(_texts, max_size=2)) if native else _values
    return st.lists(st.fixed_dictionaries({}, optional={name: value for name in names}), min_size=1, max_size=6)


def _headers(kind: str, chinese: bool) -> dict[str, str]:
    return {spec.name: (spec.aliases[0] if chinese and spec.aliases else spec.name) for spec in FIELDS_BY_KIND[kind]}


def _csv_bytes(rows: list[dict], headers: dict[str, str], encoding: str) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(headers.values())
    for row in rows:
        writer.writerow([row.get(name, "") for name in headers])
    return buffer.getvalue().encode(encoding)


def _same_text(encoding: str, content: bytes) -> bool:
    """Whether the reader must see exactly what was written: a GBK file that also decodes as
    UTF-8 is read as UTF-8 (the documented rule), so it cannot round-trip."""
    if encoding.startswith("utf-8"):
        return True
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@FUZZ
@given(data=st.data(), kind=st.sampled_from(KINDS), encoding=st.sampled_from(ENCODINGS), chinese=st.booleans())
def test_csv_files_with_random_values(data, kind, encoding, chinese):
    codec = "gb18030" if encoding == "gb18030" else "gbk" if encoding == "gbk" else "utf-8"
    rows = data.draw(_rows(kind, native=False).filter(lambda rs: _encodable(rs, codec)))
    headers = _headers(kind, chinese)
    content = _csv_bytes(rows, headers, encoding)
    if encoding == "utf-8-sig":
        assert content.startswith(codecs.BOM_UTF8)
    records = _read_file(content, kind, ".csv")
    assert not isinstance(records, FileError), records
    if _same_text(encoding, content):
        written = [row for row in rows if any(str(row.get(name, "")).strip() for name in headers)]
        assert len(records) == len(written)
        for record, row in zip(records, written, strict=True):
            assert record.fields == {name: row.get(name, "") for name in headers}
    _check_records(records, kind)


def _encodable(rows: list[dict], codec: str) -> bool:
    try:
        json.dumps(rows, ensure_ascii=False).encode(codec)
    except UnicodeEncodeError:
        return False
    return True


@FUZZ
@given(data=st.data(), kind=st.sampled_from(KINDS), ndjson=st.booleans(), chinese=st.booleans())
@example(data=None, kind="appeal", ndjson=True, chinese=False)  # see _rows_or_default: line separators in values
def test_json_and_ndjson_files_with_random_values(data, kind, ndjson, chinese):
    rows = _rows_or_default(data, kind)
    headers = _headers(kind, chinese)
    documents = [{headers[name]: value for name, value in row.items()} for row in rows]
    if ndjson:
        content = "\n".join(json.dumps(d, ensure_ascii=False) for d in documents).encode()
    else:
        content = json.dumps(documents, ensure_ascii=False, indent=1).encode()
    records = _read_file(content, kind, ".ndjson" if ndjson else ".json")
    assert not isinstance(records, FileError), records
    # Every record read, every value intact (compared as JSON, where NaN equals NaN).
    assert json.dumps([record.fields for record in records]) == json.dumps(rows)
    _check_records(records, kind)


def _rows_or_default(data, kind: str) -> list[dict]:
    if data is None:  # JSON allows U+2028, U+0085 and other line separators raw inside strings
        return [{"description": "路灯\u2028不亮\x85第二行\x1c", "external_id": "A-1"}, {"external_id": "A-2"}]
    return data.draw(_rows(kind, native=True))


# openpyxl cannot store control characters in a cell; everything else a feed might type.
_xlsx_text = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=40)


@FEW
@given(
    rows=st.lists(
        st.lists(
            st.one_of(
                _xlsx_text,
                st.integers(-(10**12), 10**12),
                st.floats(allow_nan=False, allow_infinity=False),
                st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 1, 1)),
                st.none(),
            ),
            max_size=22,
        ),
        min_size=1,
        max_size=5,
    ),
    kind=st.sampled_from(KINDS),
    chinese=st.booleans(),
)
def test_xlsx_files_with_random_values(rows, kind, chinese):
    headers = list(_headers(kind, chinese).values())
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text that starts with '=' is text, not a formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    records = _read_file(buffer.getvalue(), kind, ".xlsx")
    assert not isinstance(records, FileError), records
    non_blank = [row for row in rows if any(cell is not None and str(cell).strip() != "" for cell in row)]
    assert len(records) == len(non_blank)
    _check_records(records, kind)


def _workbook_bytes() -> bytes:
    workbook = Workbook()
    workbook.active.append(["external_id", "source", "reported_at", "category", "priority", "region_code", "描述"])
    workbook.active.append(["A-1", "12345热线", "2026-11-19 09:00", "noise", "普通", "510107001001", "夜间噪音"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


VALID_XLSX = _workbook_bytes()


@FEW
@given(
    cuts=st.lists(st.tuples(st.integers(0, len(VALID_XLSX) - 1), st.integers(0, 255)), max_size=8),
    truncate=st.none() | st.integers(1, len(VALID_XLSX)),
)
def test_damaged_xlsx_is_refused_or_read(cuts, truncate):
    content = bytearray(VALID_XLSX)
    for position, byte in cuts:
        content[position] = byte
    outcome = _read_file(bytes(content[:truncate]), "appeal", ".xlsx")
    if not isinstance(outcome, FileError):
        _check_records(outcome, "appeal")


@FEW
@given(
    sheet=st.binary(max_size=600) | st.text(max_size=300).map(str.encode),
    member=st.sampled_from(
        ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "xl/sharedStrings.xml", "[Content_Types].xml"]
    ),
)
@example(
    sheet=b"<worksheet><sheetData><row><c t='s'><v>99</v></c></row></sheetData></worksheet>",
    member="xl/worksheets/sheet1.xml",
)  # a shared string that does not exist
def test_xlsx_with_a_garbage_part_is_refused_or_read(sheet, member):
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(VALID_XLSX)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info, sheet if info.filename == member else source.read(info))
    outcome = _read_file(buffer.getvalue(), "appeal", ".xlsx")
    if not isinstance(outcome, FileError):
        _check_records(outcome, "appeal")


# ---------------------------------------------------------------------------- the validators themselves


@FUZZ
@given(kind=st.sampled_from(KINDS), data=st.data())
@example(kind="appeal", data=None)
def test_validators_name_every_refusal(kind, data):
    if data is None:  # instants that overflow when moved to UTC, a business of infinite size
        for fields in (
            {"reported_at": "0001-01-01 00:00:00"},
            {"reported_at": "0001-01-01T00:00:00+01:00"},
            {"reported_at": "9999-12-31T23:59:59-05:00"},
            {"reported_at": dt.datetime(1, 1, 1)},
        ):
            assert isinstance(_validate("appeal", _valid_appeal() | fields), RecordError)
        for employees in ("inf", "1e999", "1e30", "-inf"):
            assert isinstance(_validate("business", _valid_business() | {"employees": employees}), RecordError)
        for phone in ("13８12345678", "١٣٨١٢٣٤٥٦٧٨"):
            assert isinstance(_validate("appeal", _valid_appeal() | {"reporter_phone": phone}), RecordError)
        return
    rows = data.draw(_rows(kind, native=True))
    for row in rows:
        outcome = _validate(kind, row)
        if isinstance(outcome, dict):
            _check_clean(kind, outcome)


def _valid_appeal() -> dict:
    return {
        "external_id": "A-1",
        "source": "12345热线",
        "reported_at": "2026-11-19 09:00",
        "category": "noise",
        "priority": "普通",
        "region_code": "510107001001",
        "description": "夜间噪音",
    }


def _valid_business() -> dict:
    return {"credit_code": "91510107MA6C1234XY", "name": "簇桥小吃店", "region_code": "510107001"}


@FUZZ
@given(
    description=st.text(min_size=1, max_size=200).filter(str.strip),
    address=st.text(max_size=60),
    reported=st.datetimes(min_value=dt.datetime(2021, 1, 1), max_value=dt.datetime(2026, 11, 19)),
)
def test_valid_appeals_with_any_text_are_accepted(description, address, reported):
    """The other side: fuzzing must not make the validators refuse what is valid."""
    fields = _valid_appeal() | {"description": description, "address": address, "reported_at": reported.isoformat()}
    clean = _validate("appeal", fields)
    assert isinstance(clean, dict), clean
    assert clean["description"] == description.strip()
    assert clean["reported_at"] == reported.replace(tzinfo=TIMEZONE).astimezone(dt.UTC)


@pytest.mark.parametrize("kind", KINDS)
def test_the_fixtures_themselves_validate(kind):
    """The hand-made valid records above are valid, so the refusals tested are for the bad field alone."""
    if kind == "appeal":
        assert isinstance(_validate(kind, _valid_appeal()), dict)
    elif kind == "business":
        assert isinstance(_validate(kind, _valid_business()), dict)
    else:
        resident = {
            "id_number": "11010519491231002X",
            "name": "张三",
            "region_code": "510107001001",
            "household_type": "户籍",
        }
        assert isinstance(_validate(kind, resident), dict)


@pytest.mark.parametrize("external_id", ["A\x00B", "A\tB", "X\x7f", "\x1b[31m"])
def test_external_ids_with_control_characters_are_refused(external_id):
    """A key with a control character is refused, naming the field (SQLite's JSON key look-up cannot match NUL)."""
    fields = {
        "external_id": external_id,
        "source": "hotline_12345",
        "category": "noise",
        "priority": "ordinary",
        "status": "reported",
        "region_code": "510107001001",
        "description": "噪音扰民",
        "reported_at": "2026-11-20 09:00",
    }
    error = _validate("appeal", fields)
    assert isinstance(error, RecordError) and error.field == "external_id" and "control" in error.message
    assert not isinstance(_validate("appeal", {**fields, "external_id": "A-B_1"}), RecordError)
