"""Fast bulk loading: COPY on PostgreSQL, executemany on SQLite, bypassing ORM type processing.

Two entry points share one writer: bulk_insert for DataFrames (vectorised conversion, used by
the demo generator) and insert_rows for lists of Python rows (used by ingest).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

CHUNK_ROWS = 100_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def sqlite_datetimes(values: Sequence[dt.datetime | None]) -> list[str | None]:
    """Aware instants (or None) in the text form SQLAlchemy uses for SQLite: UTC, always with microseconds.

    numpy formats them all at once, about three times faster than isoformat one by one.
    """
    microseconds = [(value - _EPOCH) // _MICROSECOND for value in values if value is not None]
    stamps = np.array(microseconds, dtype="int64").view("datetime64[us]")
    texts = iter(np.datetime_as_string(stamps, unit="us").tolist())  # 2026-11-20T01:02:03.000000
    return [None if value is None else next(texts).replace("T", " ") for value in values]


def _frame_columns(frame: pd.DataFrame, dialect: str) -> list[np.ndarray]:
    columns = []
    for name in frame.columns:
        series = frame[name]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            utc = series.dt.tz_convert("UTC")
            fmt = "%Y-%m-%d %H:%M:%S.%f" if dialect == "sqlite" else "%Y-%m-%d %H:%M:%S.%f+00:00"
            values = utc.dt.strftime(fmt).to_numpy(dtype=object)
            values[series.isna().to_numpy()] = None
        elif series.dtype == bool:
            values = series.to_numpy(dtype=object)
        else:
            values = series.astype(object).where(series.notna(), None).to_numpy(dtype=object)
        columns.append(values)
    return columns


def bulk_insert(connection: Connection, table: str, frame: pd.DataFrame) -> int:
    """Insert every row of a DataFrame (column names as in the table); returns the row count."""
    if frame.empty:
        return 0
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        rows = list(zip(*_frame_columns(chunk, connection.dialect.name), strict=True))
        _write(connection, table, list(frame.columns), rows)
    _advance_sequence(connection, table, frame["id"].max() if "id" in frame.columns else None)
    return len(frame)


def driver_columns(dialect: str, columns: dict[str, list], time_columns: Sequence[str] = ()) -> dict[str, list]:
    """Columns (name → values) in the form insert_rows writes fastest: on SQLite, instants in time_columns as text."""
    if dialect != "sqlite":
        return columns
    names = [name for name in columns if name in time_columns]
    instants = list(dict.fromkeys(itertools.chain.from_iterable(columns[name] for name in names)))
    texts = dict(zip(instants, sqlite_datetimes(instants), strict=True))  # each instant formatted once
    return {name: [texts[value] for value in values] if name in names else values for name, values in columns.items()}


def driver_rows(
    dialect: str, columns: Sequence[str], rows: list[tuple], time_columns: Sequence[str] = ()
) -> list[tuple]:
    """Rows in the form insert_rows writes fastest: on SQLite, instants in time_columns become text."""
    if dialect != "sqlite" or not time_columns or not rows:
        return rows
    by_name = dict(zip(columns, map(list, zip(*rows, strict=True)), strict=True))
    return list(zip(*driver_columns(dialect, by_name, time_columns).values(), strict=True))


def insert_rows(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    rows: list[tuple],
    time_columns: Sequence[str] = (),
    assign_ids: bool = False,
) -> list[int]:
    """Insert rows of Python values (aware datetimes in time_columns; enum members are str).

    Rows already in driver form (driver_rows) are passed with no time_columns. With
    assign_ids, the table's id column is filled here and the new ids are returned in row
    order: from the sequence on PostgreSQL; on SQLite rowids follow max(id) while this
    transaction holds the write lock, so they are read back from last_insert_rowid().
    """
    if not rows:
        return []
    columns = list(columns)
    dialect = connection.dialect.name
    rows = driver_rows(dialect, columns, rows, time_columns)
    if assign_ids and dialect == "postgresql":
        ids = list(
            connection.execute(
                text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"),
                {"n": len(rows)},
            ).scalars()
        )
        _write(connection, table, ["id", *columns], [(i, *row) for i, row in zip(ids, rows, strict=True)])
        return ids
    _write(connection, table, columns, rows)
    if assign_ids:
        last = connection.exec_driver_sql("SELECT last_insert_rowid()").scalar()
        return list(range(last - len(rows) + 1, last + 1))
    return []


def _write(connection: Connection, table: str, columns: list[str], rows: list[tuple]) -> None:
    column_list = ", ".join(columns)
    raw = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    # Random-order unique indexes (hashes) thrash SQLite's default 2 MB page cache.
    connection.exec_driver_sql("PRAGMA cache_size = -262144")
    cursor = raw.cursor()
    cursor.executemany(f"INSERT INTO {table} ({column_list}) VALUES ({', '.join('?' for _ in columns)})", rows)
    cursor.close()


def _advance_sequence(connection: Connection, table: str, max_id) -> None:
    if connection.dialect.name == "postgresql" and max_id is not None:
        # Explicit ids were written: move the sequence past them.
        connection.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :value)"), {"value": int(max_id)}
        )
