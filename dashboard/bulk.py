"""Fast bulk loading: COPY on PostgreSQL, executemany on SQLite, bypassing ORM type processing.

Two entry points share one writer: bulk_insert for DataFrames (vectorised conversion, used by
the demo generator) and insert_rows for lists of Python rows (used by ingest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

CHUNK_ROWS = 100_000


def sqlite_datetime(value: dt.datetime | None) -> str | None:
    """A UTC instant in the text form SQLAlchemy uses for SQLite (always with microseconds)."""
    if value is None:
        return None
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.isoformat(" ", "microseconds")[:26]  # drop "+00:00"


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


def driver_rows(
    dialect: str, columns: Sequence[str], rows: list[tuple], time_columns: Sequence[str] = ()
) -> list[tuple]:
    """Rows in the form insert_rows writes fastest: on SQLite, instants in time_columns become text."""
    if dialect != "sqlite" or not time_columns or not rows:
        return rows
    positions = [list(columns).index(name) for name in time_columns]
    converted = []
    for row in rows:
        row = list(row)
        for position in positions:
            if row[position] is not None:
                row[position] = sqlite_datetime(row[position])
        converted.append(tuple(row))
    return converted


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
