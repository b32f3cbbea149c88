"""A wall screen reports its own health; once its page is closed, /admin flags it silent within 3 minutes.

The server runs in this process (werkzeug, threaded) so that the test may move its clock on
(dashboard.domain.clock) instead of waiting three real minutes; the wall page and /admin are
real pages in headless Chromium.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from werkzeug.serving import make_server

from dashboard import create_app
from dashboard.domain import clock
from dashboard.domain.roles import Role
from dashboard.services import demo
from dashboard.store import migrate
from dashboard.store.database import db
from tests.conftest import DEMO_END, private_calendar_file
from tests.console_support import PASSWORD, add_user


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def inprocess_server(tmp_path):
    url = f"sqlite:///{tmp_path / 'walls.db'}"
    migrate.upgrade(url)
    app = create_app(
        {
            "DATABASE_URL": url,
            "TESTING": True,
            "SECRET_KEY": "wall-health-secret",
            "SCHEDULER_ENABLED": False,
            "DEMO_MODE": True,
            "INSECURE_COOKIES": True,
            "EXPORT_DIR": str(tmp_path / "exports"),
            "CALENDAR_OVERRIDE_FILE": private_calendar_file(tmp_path),
        }
    )
    with app.app_context():
        demo.generate(
            db,
            app.extensions["work_calendar"],
            app.extensions["sla_policy"],
            "wall-health-secret",
            scale="tiny",
            seed=5,
            end=DEMO_END,
            progress=lambda _line: None,
        )
        add_user("walls-admin", Role.ADMIN, None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    db.engine.dispose()


def test_a_closed_wall_is_flagged_silent_in_admin_within_three_minutes(browser, inprocess_server, monkeypatch):
    app, base = inprocess_server
    reports = app.extensions["wall_reports"]
    wall_context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    wall = wall_context.new_page()
    wall.goto(f"{base}/wall")
    # Its first report comes a few seconds after the page is up.
    first = _wait(lambda: reports.all(time.time()), 60, "the wall's first health report")
    ((wall_id, report),) = first.items()
    assert wall_id.startswith("demo/") and report["region"]
    assert report["long_tasks"] >= 0 and report["socket"] in ("connected", "disconnected")
    wall_context.close()  # the screen is switched off

    admin_context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    admin = admin_context.new_page()
    admin.goto(f"{base}/login?next=/admin")
    admin.fill("#login-username", "walls-admin")
    admin.fill("#login-password", PASSWORD)
    admin.click("#login-submit")
    row = admin.locator(f'tr[data-wall="{wall_id}"]')
    row.wait_for()
    assert row.get_attribute("data-state") in ("ok", "stale")  # it reported a moment ago
    # Three minutes and a second later (the test's clock), with no report since: silent.
    later = clock.utcnow() + dt.timedelta(minutes=3, seconds=1)
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    admin.reload()
    admin.locator(f'tr[data-wall="{wall_id}"][data-state="silent"]').wait_for(timeout=30000)
    assert "失联" in admin.locator(f'tr[data-wall="{wall_id}"]').inner_text()
    admin_context.close()
