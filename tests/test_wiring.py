"""Wiring is explicit: importing installs nothing, create_app installs per app, and two apps share no state;
the stored KPI counters carry the version of the KPI definitions."""

from __future__ import annotations

import logging

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from dashboard import create_app
from dashboard.services import push
from dashboard.store import counters, migrate
from dashboard.store.database import db
from dashboard.store.models import KpiAggregateState


def _app(url: str, tmp_path, name: str):
    return create_app(
        {
            "DATABASE_URL": url,
            "TESTING": True,
            "SECRET_KEY": f"secret-{name}",
            "SCHEDULER_ENABLED": False,
            "DEMO_MODE": True,
            "EXPORT_DIR": str(tmp_path / f"exports-{name}"),
        }
    )


def test_importing_installs_no_session_listener(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    with Session(engine) as plain:  # a Session not made by any Database of ours
        for name in ("before_flush", "after_flush", "after_commit", "after_rollback"):
            assert len(getattr(plain.dispatch, name)) == 0, name
    engine.dispose()


def test_two_apps_in_one_process_share_no_state(tmp_path):
    urls = {name: f"sqlite:///{tmp_path / f'{name}.db'}" for name in ("a", "b")}
    for url in urls.values():
        migrate.upgrade(url)
    app_a, app_b = _app(urls["a"], tmp_path, "a"), _app(urls["b"], tmp_path, "b")

    for key in ("database", "socketio", "scheduler", "callback_permissions", "dash"):
        assert app_a.extensions[key] is not app_b.extensions[key], key
    assert app_a.extensions["callback_permissions"] == app_b.extensions["callback_permissions"]  # same declarations
    assert app_a.extensions["callback_permissions"]

    # `db` is the app's own database inside its context, whichever app was built last.
    with app_a.app_context():
        assert str(db.engine.url) == urls["a"]
    with app_b.app_context():
        assert str(db.engine.url) == urls["b"]

    # Deltas committed through one app's database reach that app's publishers only.
    seen: dict[str, list] = {"a": [], "b": []}
    push.install(app_a.extensions["database"], seen["a"].append)
    push.install(app_b.extensions["database"], seen["b"].append)
    delta = {"type": "bulk", "change": "created", "region_code": "510107", "count": 1}
    with app_a.app_context(), db.transaction() as session:
        push.queue_deltas(session, [delta])
    assert seen == {"a": [[delta]], "b": []}
    with app_b.app_context(), db.transaction() as session:
        push.queue_deltas(session, [delta])
    assert seen == {"a": [[delta]], "b": [[delta]]}
    for app in (app_a, app_b):
        app.extensions["database"].engine.dispose()


def test_changed_kpi_definitions_rebuild_the_counters_at_start(demo_app, monkeypatch, caplog):
    calendar = demo_app.extensions["work_calendar"]
    with db.session() as session:
        counters.ensure_current(session, calendar)  # built once, with today's definitions
        before = session.execute(select(counters.COUNTERS)).all()
    caplog.set_level(logging.INFO, logger="dashboard.store.counters")
    counters.ensure_current_at_start(db, calendar)
    assert "rebuilding" not in caplog.text  # same definitions, same calendar: nothing to do

    monkeypatch.setattr(counters, "KPI_DEFINITIONS_VERSION", counters.KPI_DEFINITIONS_VERSION + 1)
    counters.ensure_current_at_start(db, calendar)
    assert "rebuilding all days" in caplog.text
    with db.session() as session:
        state = session.get(KpiAggregateState, counters.STATE_ID)
        assert state.definitions_version == counters.KPI_DEFINITIONS_VERSION
        assert sorted(session.execute(select(counters.COUNTERS)).all()) == sorted(before)
