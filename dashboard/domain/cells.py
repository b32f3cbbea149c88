"""Spreadsheet cells: text that a spreadsheet could run as a formula is written as inert text.

The rule (OWASP "CSV Injection"): a text cell whose first character is = + - @, a tab or a
carriage return may be read as a formula by Excel, LibreOffice or WPS; the defence is a leading
single quote ('), which makes the cell plain text. Here the first character is looked for after
any leading whitespace, control or invisible format characters (some importers trim them), and
the full-width and small forms ＝＋－＠ ﹦﹢﹣﹫ count too (WPS and Excel with an East Asian input
method accept them as the start of a formula). Only text is touched: numbers, booleans, dates and
empty cells pass unchanged, so a negative number stays a number.

Every CSV and XLSX writer of the service calls `neutralise_cell` (XLSX: `xlsx_cell`) on every
cell, the column names included (services.exports: inert_frame, csv_bytes, write_xlsx). CSV
fields are then quoted as RFC 4180 says (csv's minimal quoting: a field holding a comma, a quote
or a line break is quoted and its quotes doubled). An XLSX text cell that does not start with
"=" is stored by openpyxl as a string, never as a formula, and a neutralised cell never does.

Why not defusedcsv (3.0.0): it wraps csv.writer only (the XLSX files and pandas' to_csv are
outside it), misses a leading tab, carriage return, whitespace and the full-width forms, and
rewrites "|" as "\\|" inside the cell (altering its content). One small pure function serves
every writer instead.
"""

from __future__ import annotations

import re
from typing import Any

# What a formula may start with: ASCII, full-width (U+FF1D U+FF0B U+FF0D U+FF20), small (U+FE66 U+FE62 U+FE63 U+FE6B).
FORMULA_STARTERS = "=+-@＝＋－＠﹦﹢﹣﹫"
QUOTE = "'"
# A tab or carriage return first; or a starter after whitespace, control or invisible format characters.
_FORMULA_START = re.compile(r"[\t\r]|[\s\x00-\x1f\x7f\u200b-\u200f\u2060\ufeff]*[" + re.escape(FORMULA_STARTERS) + "]")
# Characters XML 1.0 cannot hold: openpyxl refuses a cell holding one (IllegalCharacterError).
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could read this text as a formula (or the start of one)."""
    return bool(_FORMULA_START.match(text))


def neutralise_cell(value: Any) -> Any:
    """A cell as a CSV or XLSX export writes it: formula-like text gets a leading ', anything else is unchanged."""
    if isinstance(value, str) and formula_like(value):
        return QUOTE + value
    return value


def xlsx_cell(value: Any) -> Any:
    """neutralise_cell for an XLSX cell: the characters XML cannot hold are dropped first."""
    if isinstance(value, str):
        value = _NOT_IN_XML.sub("", value)
    return neutralise_cell(value)
