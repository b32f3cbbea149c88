"""Region codes and scopes: levels, ancestry, and "this region or below" in Python and SQL.

Codes follow the statistical division pattern (district 6 digits, street 9, community 12,
compound 15) and a child's code extends its parent's, so "at or below region R" is "the code
starts with R's code" — one rule, whose Python form (`covers`) and SQL form (`within`) sit here.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func

from dashboard.domain.vocab import LEVEL_BY_CODE_LENGTH, RegionLevel

LONGEST_CODE = max(LEVEL_BY_CODE_LENGTH)


def level_of(code: str) -> RegionLevel:
    """The level a code's length denotes; a malformed code raises ValueError."""
    if not (code.isascii() and code.isdigit()) or len(code) not in LEVEL_BY_CODE_LENGTH:
        raise ValueError(f"region code {code!r} is not 6, 9, 12 or 15 digits")
    return LEVEL_BY_CODE_LENGTH[len(code)]


def ancestors(code: str) -> list[str]:
    """The codes above code, from the district down (excluding code itself)."""
    level_of(code)
    return [code[:length] for length in (6, 9, 12) if length < len(code)]


def covers(scope_code: str | None, code: str) -> bool:
    """Whether code lies at or below scope_code (None: no bound, everything)."""
    return scope_code is None or code.startswith(scope_code)


def within(column: ColumnElement[str], code: str, *, by_index: bool = False) -> ColumnElement[bool]:
    """covers() as SQL: the column holds code or a region below it.

    by_index=True spells it as a range the region index can answer. The default keeps the
    planner off the region index on purpose: the queries that use it also bound a time or
    state column, and that index is the selective one; a region range would tempt the
    planner (SQLite without statistics above all) to walk a whole district's index range.
    """
    level_of(code)
    if by_index:
        return and_(column >= code, column <= code + "9" * (LONGEST_CODE - len(code)))
    return func.substr(column, 1, len(code)) == code
