"""Prepared batches: plain values that decode to exactly what validation gave, rows in the driver's form."""

from __future__ import annotations

import datetime as dt
import pickle
from zoneinfo import ZoneInfo

from dashboard.config import DATA_DIR
from dashboard.domain.sla import load_policy
from dashboard.domain.workcal import build_calendar
from dashboard.services.ingest.prepare import APPEAL_TIMES, Context, appeal_row, prepare_batches, validate
from dashboard.services.ingest.readers import RawRecord
from dashboard.store import counters as aggregates
from dashboard.store.bulk import driver_columns, driver_rows, sqlite_datetimes

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGIONS = {"510107001001": "community", "510107001001001": "compound"}
DEPARTMENTS = {"D01": 7}
PLAIN = (str, int, float, bool, dt.datetime, type(None))  # no enum members


def _isoformat(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat(" ", "microseconds")[:26]


def test_sqlite_datetimes_are_utc_text_with_microseconds():
    values = [
        dt.datetime(2026, 11, 20, 1, 2, 3, tzinfo=dt.UTC),
        None,
        dt.datetime(2026, 11, 20, 9, 2, 3, 456, tzinfo=SHANGHAI),
        dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    ]
    assert sqlite_datetimes(values) == [_isoformat(value) for value in values]
    assert sqlite_datetimes([]) == [] and sqlite_datetimes([None]) == [None]


def test_driver_forms_convert_only_time_columns_on_sqlite():
    at = dt.datetime(2026, 11, 20, 1, 2, 3, tzinfo=dt.UTC)
    columns = {"at": [at, None, at], "note": ["a", None, "c"]}
    assert driver_columns("postgresql", columns, ("at",)) is columns
    text = _isoformat(at)
    assert driver_columns("sqlite", columns, ("at",)) == {"at": [text, None, text], "note": ["a", None, "c"]}
    rows = [(at, "a"), (None, "b")]
    assert driver_rows("sqlite", ["at", "note"], rows, ("at",)) == [(_isoformat(at), "a"), (None, "b")]


def _raw(number: int, **fields) -> RawRecord:
    base = {
        "external_id": f"P{number}",
        "source": "wechat",
        "reported_at": "2026-11-18 08:00:00",
        "category": "噪音扰民" if number % 2 else "noise",
        "priority": "urgent",
        "region_code": "510107001001001",
        "description": "深夜施工",
    }
    return RawRecord(f"line {number}", base | fields, "")


def test_prepared_appeals_decode_to_the_validated_records_and_make_their_rows():
    calendar = build_calendar(override_file=DATA_DIR / "calendar" / "overrides.toml")
    policy = load_policy(DATA_DIR / "sla_policy.toml")
    now = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    raws = [
        _raw(1),
        _raw(2, accepted_at="2026-11-18T01:00:00Z", department="D01"),
        _raw(3, resolved_at="2026-11-19 10:00:00", satisfaction="satisfied", lat="30.6", lon="104.0"),
        _raw(4, resolved_at="2026-11-19 10:00:00", closed_at="2026-11-19 11:00:00", status="closed"),
        _raw(5, status="in_progress", updated_at="2026-11-20 00:00:00+08:00"),
        _raw(6, category="nonsense"),
    ]
    for dialect in ("sqlite", "postgresql"):
        context = Context("appeal", REGIONS, DEPARTMENTS, calendar, policy, now, dialect)
        (batch,) = prepare_batches(raws, context)
        batch = pickle.loads(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
        assert [rejected.location for rejected in batch.rejected] == ["line 6"]
        assert batch.clean == [] and len(batch.appeals) == 5
        (prepared_at,) = {values[batch.appeal_columns.index("created_at")] for values in batch.new_values}
        for index, raw in enumerate(raws[:5]):
            record, validated = batch.appeal(index), validate(context, raw.fields)
            assert list(record.items()) == list(validated.items())  # the same fields, in the same order
            assert [type(value) for value in record.values()] == [type(value) for value in validated.values()]
            row = appeal_row(record, batch.deadlines[index], REGIONS, now) | {"reopen_count": 0, "created_at": now}
            values = dict(zip(batch.appeal_columns, batch.new_values[index], strict=True))
            times = set(APPEAL_TIMES) - {"created_at", "updated_at"}
            for name in batch.appeal_columns:
                expected = row[name]
                if name in ("created_at", "updated_at"):
                    assert values[name] == prepared_at
                elif name in times and dialect == "sqlite":
                    assert values[name] == _isoformat(expected), name
                else:
                    assert values[name] == expected and type(values[name]) in PLAIN, name
            assert batch.new_counts[index] == tuple(
                getattr(row[name], "value", row[name]) for name in aggregates.ROW_NAMES
            )
            assert all(step[0] == seq for seq, step in enumerate(batch.new_steps[index], start=1))


def test_collector_pauses_overlapping_in_threads_leave_it_on():
    """The collector is off while any pause runs, in any thread, and back on when the last one ends."""
    import gc
    import threading

    from dashboard.services.ingest.prepare import collector_paused

    assert gc.isenabled()
    inside, release = threading.Event(), threading.Event()

    def other():
        with collector_paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with collector_paused():
        thread.start()
        inside.wait(5)
        with collector_paused():
            assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's pause still runs
    release.set()
    thread.join(5)
    assert gc.isenabled()
