"""Initial loads with the appeals indexes deferred: same result, indexes back afterwards, even after a failure."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.schema import DropConstraint

from bench.feedfiles import write_appeals_csv
from dashboard.services.ingest import bulkload
from dashboard.services.ingest.dropfolder import ingest_file
from dashboard.store.database import db
from dashboard.store.models import Appeal, Transition

COMPOUNDS = ["510107001001001", "510107001002001"]
ROWS = 3_000


def _stored() -> tuple[int, int]:
    with db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Appeal)),
            session.scalar(select(func.count()).select_from(Transition)),
        )


def test_initial_load_defers_the_indexes_and_builds_them_again(demo_app, tmp_path, monkeypatch):
    ingestor = demo_app.extensions["ingestor"]
    feed = write_appeals_csv(tmp_path / "appeals_load.csv", ROWS, COMPOUNDS, dt.datetime(2026, 11, 20), prefix="L")
    before = _stored()
    missing_during = []
    write_batches = ingestor.write_batches

    def watched(*args, **kwargs):
        missing_during.append(bulkload.missing(db.engine))
        return write_batches(*args, **kwargs)

    monkeypatch.setattr(ingestor, "write_batches", watched)
    report = ingest_file(ingestor, feed, pipelined=True, initial_load=True)

    assert report["created"] == ROWS and report["quarantined"] == 0
    deferred = [index.name for index in bulkload.deferrable_indexes()]
    deferred += [fk.name for fk in bulkload.deferrable_foreign_keys(db.engine.dialect.name)]
    assert sorted(missing_during[0]) == sorted(deferred) and len(missing_during) == 1
    assert bulkload.missing(db.engine) == []
    assert _stored() == (before[0] + ROWS, before[1] + ROWS)
    # The same file again, indexes kept: nothing changes.
    again = ingest_file(ingestor, feed, pipelined=False, initial_load=False)
    assert again["unchanged"] == ROWS and again["created"] == 0
    assert _stored() == (before[0] + ROWS, before[1] + ROWS)


def test_a_failed_initial_load_still_builds_the_indexes(demo_app, tmp_path):
    broken = tmp_path / "appeals_broken.csv"
    broken.write_bytes(b"\xff\xfe\x00garbage that decodes as nothing\x81\x82")
    report = ingest_file(demo_app.extensions["ingestor"], broken, initial_load=True)
    assert "file_error" in report
    assert bulkload.missing(db.engine) == []


def test_indexes_left_out_by_a_killed_load_are_reported_then_built(demo_app, client, tmp_path):
    lost = [index.name for index in bulkload.deferrable_indexes()[:2]]
    with db.engine.begin() as connection:
        for index in bulkload.deferrable_indexes()[:2]:
            index.drop(connection)
        for fk in bulkload.deferrable_foreign_keys(connection.dialect.name)[:1]:
            connection.execute(DropConstraint(fk))
            lost.append(fk.name)
    body = client.get("/healthz").get_json()
    assert body["status"] == "degraded"
    assert any(all(name in warning for name in lost) for warning in body["warnings"])

    feed = write_appeals_csv(tmp_path / "appeals_small.csv", 10, COMPOUNDS, dt.datetime(2026, 11, 20), prefix="S")
    report = ingest_file(demo_app.extensions["ingestor"], feed)
    assert report["created"] == 10
    assert bulkload.missing(db.engine) == []
    warnings = client.get("/healthz").get_json().get("warnings", [])
    assert not any("indexes or keys missing" in warning for warning in warnings)  # (a path may say "indexes")


def test_only_a_load_that_dwarfs_the_table_defers_indexes(demo_app, tmp_path, monkeypatch):
    with db.session() as session:
        stored = session.scalar(select(func.max(Appeal.id)))
    bigger = write_appeals_csv(tmp_path / "appeals_big.csv", stored + 500, COMPOUNDS, dt.datetime(2026, 11, 20))
    smaller = write_appeals_csv(tmp_path / "appeals_small.csv", stored // 2, COMPOUNDS, dt.datetime(2026, 11, 20))
    # Counted from its lines (a CSV record per line), not guessed from its size.
    assert abs(bulkload.estimated_records(bigger) - (stored + 501)) <= 1
    monkeypatch.setattr(bulkload, "LOAD_MIN_RECORDS", 100)
    assert bulkload.worth_deferring(db.engine, bigger)
    assert not bulkload.worth_deferring(db.engine, smaller)  # would not double the table
    monkeypatch.setattr(bulkload, "LOAD_MIN_RECORDS", stored + 10_000)
    assert not bulkload.worth_deferring(db.engine, bigger)  # too few records to be worth it


def test_nothing_rebuilds_the_indexes_under_a_running_load(demo_app):
    """While a load holds the lock, restore() and a second load leave its deferred indexes alone."""
    engine = db.engine
    with bulkload.indexes_deferred(engine):
        absent = bulkload.missing(engine)
        assert absent
        assert bulkload.restore(engine) == []
        with bulkload.indexes_deferred(engine):  # a second load keeps what it finds
            assert bulkload.missing(engine) == absent
        assert bulkload.missing(engine) == absent
    assert bulkload.missing(engine) == []
