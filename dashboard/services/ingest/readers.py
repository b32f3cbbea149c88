"""Readers for feed files: CSV (UTF-8, GBK, GB18030, with or without BOM), XLSX, JSON, NDJSON.

A reader yields one RawRecord per record with its location (line or index), or raises
FileError when the file as a whole cannot be read. A broken record does not stop the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dashboard.services.ingest.records import RecordError, missing_required, normalise_headers

KIND_PREFIXES = {"appeal": "appeal", "resident": "resident", "business": "business"}
# The organisation, the visit lists and population aggregates (services/ingest/reference.py).
KIND_PREFIXES.update(
    {"department": "department", "team": "team", "staff": "staff", "visit": "visit", "population": "population"}
)
# The region hierarchy: GeoJSON, a zipped Shapefile or CSV, read by services/ingest/geo_readers.py.
KIND_PREFIXES["region"] = "region"
FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}


class FileError(Exception):
    """The file cannot be read at all (format, encoding, headers, emptiness)."""


# Besides malformed text, json raises ValueError for integers over 4300 digits and
# RecursionError for arrays or objects nested deeper than the interpreter's stack.
JSON_ERRORS = (ValueError, RecursionError)


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split(";")[0]  # "Exceeds the limit (4300 digits) for integer string conversion…"


@dataclass
class RawRecord:
    """One record as read: where it was, its fields by name, and the raw text for quarantine.

    raw may be given as a zero-argument function, so that the text is only built for the
    few records that end up in quarantine.
    """

    location: str
    fields: dict | None
    raw_source: str | Callable[[], str]
    error: RecordError | None = None

    @property
    def raw(self) -> str:
        """The record's original content as text."""
        if callable(self.raw_source):
            self.raw_source = self.raw_source()
        return self.raw_source


def kind_of(path: Path) -> str:
    """'appeal', 'resident' or 'business' from the file name's prefix (appeals_2026-11-20.csv)."""
    name = path.name.lower()
    for prefix, kind in KIND_PREFIXES.items():
        if name.startswith(prefix):
            return kind
    raise FileError(f"{path.name}: the name must start with one of {', '.join(sorted(KIND_PREFIXES))}")


def format_of(path: Path) -> str:
    """The file format from its extension."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise FileError(f"{path.name}: unsupported file type {path.suffix!r} (csv, xlsx, json, ndjson)")
    return fmt


def decode(data: bytes, name: str) -> str:
    """Text from UTF-8 (with or without BOM), else GB18030 (a superset of GBK)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise FileError(f"{name}: cannot decode as UTF-8, GBK or GB18030 (byte {exc.start})") from None


def read_records(path: Path, kind: str) -> Iterator[RawRecord]:
    """Every record of a file, whatever its format."""
    fmt = format_of(path)
    if path.stat().st_size == 0:
        raise FileError(f"{path.name}: the file is empty")
    if fmt == "xlsx":
        yield from _read_xlsx(path, kind)
        return
    text = decode(path.read_bytes(), path.name)
    if not text.strip():
        raise FileError(f"{path.name}: the file is empty")
    if fmt == "csv":
        yield from read_csv_text(text, kind, path.name)
    elif fmt == "json":
        yield from read_json_text(text, kind, path.name)
    else:
        yield from read_ndjson_text(text, kind, path.name)


def _mapped(kind: str, headers: list[str], name: str) -> list[str | None]:
    names, _unknown = normalise_headers(kind, headers)
    missing = missing_required(kind, names)
    if missing:
        raise FileError(
            f"{name}: missing required column(s) {', '.join(missing)}; found {', '.join(map(str, headers))}"
        )
    return names


def read_csv_text(text: str, kind: str, name: str) -> Iterator[RawRecord]:
    """CSV with a header row of English or Chinese field names."""
    lines = io.StringIO(text, newline="")
    reader = csv.reader(lines)
    try:
        headers = next(reader)
    except StopIteration:
        raise FileError(f"{name}: the file is empty") from None
    except csv.Error as exc:
        raise FileError(f"{name}: unreadable header row ({exc})") from None
    names = _mapped(kind, headers, name)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRecord(f"{name} line {reader.line_num}", None, "", RecordError(None, f"malformed CSV: {exc}"))
            continue
        location = f"{name} line {reader.line_num}"
        if not "".join(row).strip():  # blank line (one join: faster than a test per cell)
            continue
        raw = _lazy_json(headers, row)
        if len(row) != len(headers):
            error = RecordError(
                None, f"has {len(row)} fields but the header has {len(headers)} (truncated or shifted row)"
            )
            yield RawRecord(location, None, raw, error)
            continue
        yield RawRecord(location, {n: v for n, v in zip(names, row, strict=True) if n}, raw)


def _lazy_json(headers: list, row: list) -> Callable[[], str]:
    return lambda: json.dumps(dict(zip(headers, row, strict=False)), ensure_ascii=False, default=str)


def _read_xlsx(path: Path, kind: str) -> Iterator[RawRecord]:
    from openpyxl import load_workbook

    # openpyxl fails on a damaged workbook in many ways (BadZipFile, zlib.error, XML ParseError,
    # KeyError, IndexError, TypeError…), at opening or only while rows are read: any of them
    # means the workbook, or the rest of its sheet, cannot be read.
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise FileError(f"{path.name}: not a readable XLSX workbook ({exc.__class__.__name__}: {exc})") from None
    try:
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            headers = next(rows, None)
        except Exception as exc:
            raise FileError(f"{path.name}: not a readable XLSX workbook ({exc.__class__.__name__}: {exc})") from None
        if not headers:
            raise FileError(f"{path.name}: the first sheet is empty")
        headers = [str(h) if h is not None else "" for h in headers]
        names = _mapped(kind, headers, path.name)
        for number in itertools.count(2):
            try:
                row = next(rows, None)
            except Exception as exc:
                reason = f"this row and the rest of the sheet are unreadable ({exc.__class__.__name__}: {exc})"
                yield RawRecord(f"{path.name} row {number}", None, "", RecordError(None, reason))
                return
            if row is None:
                return
            if not row or all(cell is None or str(cell).strip() == "" for cell in row):
                continue
            cells = list(row) + [None] * (len(headers) - len(row))
            raw = _lazy_json(headers, cells)
            fields = {n: v for n, v in zip(names, cells, strict=False) if n}
            yield RawRecord(f"{path.name} row {number}", fields, raw)
    finally:
        workbook.close()


def _named(kind: str, obj: dict) -> dict:
    names, _unknown = normalise_headers(kind, list(obj))
    return {n: v for n, v in zip(names, obj.values(), strict=True) if n}


def read_json_text(text: str, kind: str, name: str) -> Iterator[RawRecord]:
    """A JSON array of objects (or {"records": [...]}); a truncated array keeps its whole records."""
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if text.startswith("{", position):
        try:
            document = json.loads(text)
        except JSON_ERRORS as exc:
            raise FileError(f"{name}: invalid JSON ({_json_reason(exc)})") from None
        records = document.get("records") if isinstance(document, dict) else None
        if not isinstance(records, list):
            raise FileError(f"{name}: expected a JSON array of records, or an object with a 'records' array")
        text = json.dumps(records, ensure_ascii=False)
        position = 0
    if not text.startswith("[", position):
        raise FileError(f"{name}: expected a JSON array of records")
    position += 1
    index = 0
    while True:
        position = _skip_space(text, position)
        if text.startswith("]", position):
            return
        try:
            obj, end = decoder.raw_decode(text, position)
        except JSON_ERRORS as exc:
            remainder = text[position : position + 2000]
            error = RecordError(None, f"invalid or truncated JSON from record {index + 1} on ({_json_reason(exc)})")
            yield RawRecord(f"{name} record {index + 1}", None, remainder, error)
            return
        location = f"{name} record {index + 1}"
        raw = text[position:end]
        if isinstance(obj, dict):
            yield RawRecord(location, _named(kind, obj), raw)
        else:
            yield RawRecord(location, None, raw, RecordError(None, "is not a JSON object"))
        index += 1
        position = _skip_space(text, end)
        if text.startswith(",", position):
            position += 1
        elif not text.startswith("]", position):
            if position >= len(text):
                error = RecordError(None, "the JSON array ends without ']' (truncated file)")
                yield RawRecord(f"{name} end", None, "", error)
                return
            yield RawRecord(
                f"{name} record {index + 1}",
                None,
                text[position : position + 2000],
                RecordError(None, "expected ',' or ']'"),
            )
            return


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def read_ndjson_text(text: str, kind: str, name: str) -> Iterator[RawRecord]:
    """One JSON object per line; a bad line is a bad record, not a bad file."""
    # Only CR and LF end a line: JSON strings may hold U+2028, U+0085 and the like raw, which
    # str.splitlines would also split on.
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if not line.strip():
            continue
        location = f"{name} line {number}"
        try:
            obj = json.loads(line)
        except JSON_ERRORS as exc:
            yield RawRecord(location, None, line, RecordError(None, f"invalid JSON ({_json_reason(exc)})"))
            continue
        if not isinstance(obj, dict):
            yield RawRecord(location, None, line, RecordError(None, "is not a JSON object"))
            continue
        yield RawRecord(location, _named(kind, obj), line)
