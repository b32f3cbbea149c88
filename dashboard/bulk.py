"""Fast bulk loading of DataFrames: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

CHUNK_ROWS = 100_000


def _db_ready(frame: pd.DataFrame, dialect: str) -> list[tuple]:
    """Rows as tuples of plain Python values the DB-API driver takes directly."""
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
    return list(zip(*columns, strict=True)) if columns else []


def bulk_insert(connection: Connection, table: str, frame: pd.DataFrame) -> int:
    """Insert every row of frame into table (column names as given); returns the row count."""
    if frame.empty:
        return 0
    dialect = connection.dialect.name
    if dialect == "sqlite":
        # Random-order unique indexes (hashes) thrash SQLite's default 2 MB page cache.
        connection.exec_driver_sql("PRAGMA cache_size = -262144")
    column_list = ", ".join(frame.columns)
    for start in range(0, len(frame), CHUNK_ROWS):
        rows = _db_ready(frame.iloc[start : start + CHUNK_ROWS], dialect)
        if dialect == "postgresql":
            raw = connection.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join("?" for _ in frame.columns)
            cursor = connection.connection.driver_connection.cursor()
            cursor.executemany(f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})", rows)
            cursor.close()
    if dialect == "postgresql" and "id" in frame.columns:
        # Explicit ids were written: move the sequence past them.
        connection.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :value)"),
            {"value": int(np.max(frame["id"].to_numpy()))},
        )
    return len(frame)
