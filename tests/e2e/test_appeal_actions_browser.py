"""An operator acting in headless Chromium (issue 16): dispatch from the appeal page; a second page opened
before it is stale, and its action is refused with who changed the appeal and when, and the page shows the
appeal as it is now; a bulk urge of two rows chosen in the drill-down grid."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dashboard.ui import ids

pytestmark = pytest.mark.browser

PASSWORD = "operator-e2e-password"
STREET = "510107001"
SHOTS = Path("/tmp/shots")


@pytest.fixture(scope="module")
def desk(live_server, tmp_path_factory):
    """Two operators of the street, and a noise complaint the hotline has accepted (dispatch is next)."""
    for username in ("e2e-operator", "e2e-operator-2"):
        live_server.cli(
            "users", "add", "--username", username, "--role", "operator", "--region", STREET, "--password", PASSWORD
        )
    feed = tmp_path_factory.mktemp("feed") / "appeals_e2e_actions.json"
    record = {
        "external_id": "E2E-ACTIONS-1",
        "source": "hotline_12345",
        "reported_at": "2026-11-30 23:45:00",
        "accepted_at": "2026-11-30 23:46:00",
        "status": "accepted",
        "category": "noise",
        "priority": "extra_urgent",
        "region_code": STREET + "001001",
        "description": "小区门口烧烤店深夜噪音扰民",
    }
    feed.write_text(json.dumps([record], ensure_ascii=False), encoding="utf-8")
    live_server.cli("ingest", str(feed))
    return live_server


def _database(server) -> sqlite3.Connection:
    return sqlite3.connect(server.env["CC_DATABASE_URL"].removeprefix("sqlite:///"))


def _appeals(server, status: str, count: int, order: str = "reported_at DESC") -> list[int]:
    """Open appeals of the operator's street in a status, that nobody has acted on in these tests."""
    with _database(server) as connection:
        rows = connection.execute(
            "SELECT id FROM appeals WHERE status = ? AND region_code LIKE ? AND urge_count = 0 "
            f"AND (changed_by IS NULL OR changed_by NOT LIKE 'e2e-%') ORDER BY {order} LIMIT ?",
            (status, STREET + "%", count),
        ).fetchall()
    assert len(rows) == count, rows
    return [row[0] for row in rows]


def _state(server, appeal_id: int) -> tuple:
    with _database(server) as connection:
        return connection.execute(
            "SELECT status, version, urge_count, changed_by, team_id, department_id FROM appeals WHERE id = ?",
            (appeal_id,),
        ).fetchone()


def _login(page, server, username: str, next_path: str) -> None:
    page.goto(f"{server.url}/login?next={next_path}")
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")


def _choose(page, dropdown_id: str, text: str) -> None:
    """Open a dcc.Dropdown, search for text and pick the option showing it."""
    page.click(f"#{dropdown_id}")
    page.fill(".dash-dropdown-content input[type=search]", text)
    page.locator(".dash-dropdown-content [role=option]", has_text=text).first.click()
    page.keyboard.press("Escape")
    page.wait_for_function(
        "([id, text]) => document.getElementById(id).textContent.includes(text)", arg=[dropdown_id, text]
    )


def _step(page, code: str) -> None:
    """Choose a step: its form opens (the submit button shows once the server has chosen it)."""
    page.click(f"button[data-action='{code}']")
    page.wait_for_selector(f"#{ids.APPEAL_ACTION_SUBMIT}", state="visible")


def test_dispatch_then_a_stale_page_gets_the_conflict(browser, desk):
    with _database(desk) as connection:
        [appeal_id] = connection.execute("SELECT id FROM appeals WHERE external_id = 'E2E-ACTIONS-1'").fetchone()
    first = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN").new_page()
    second = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN").new_page()
    try:
        # Both pages are open on version N before anyone acts.
        _login(second, desk, "e2e-operator-2", f"/appeal/{appeal_id}")
        second.wait_for_selector("button[data-action='urge']")
        _login(first, desk, "e2e-operator", f"/appeal/{appeal_id}")
        first.wait_for_selector("button[data-action='dispatch']")
        version = _state(desk, appeal_id)[1]
        assert f"版本 {version}" in first.inner_text(".appeal-actions")

        _step(first, "dispatch")
        _choose(first, ids.APPEAL_ACTION_ASSIGNEE, "队伍")
        first.fill(f"#{ids.APPEAL_ACTION_NOTE}", "请巡逻队到场调解")
        first.locator(".appeal-actions").screenshot(path=str(_shot("appeal_actions_form.png")))
        first.click(f"#{ids.APPEAL_ACTION_SUBMIT}")
        first.wait_for_selector(f"#{ids.APPEAL_ACTION_MESSAGE} .console-good")
        assert f"诉求 #{appeal_id}：已派遣" in first.inner_text(f"#{ids.APPEAL_ACTION_MESSAGE}")
        status, now_version, _urged, changed_by, team_id, _department = _state(desk, appeal_id)
        assert (status, now_version, changed_by) == ("dispatched", version + 1, "e2e-operator") and team_id
        assert "已派遣" in first.inner_text("#appeal-timeline")  # the new state and its history
        assert "e2e-operator" in first.inner_text("#appeal-timeline")
        first.screenshot(path=str(_shot("appeal_actions_dispatched.png")), full_page=True)

        # The second page still shows version N: its urge is refused, naming who and when.
        _step(second, "urge")
        second.fill(f"#{ids.APPEAL_ACTION_NOTE}", "请尽快联系居民")
        second.click(f"#{ids.APPEAL_ACTION_SUBMIT}")
        second.wait_for_selector(f"#{ids.APPEAL_ACTION_MESSAGE} .appeal-conflict")
        message = second.inner_text(f"#{ids.APPEAL_ACTION_MESSAGE}")
        assert "e2e-operator" in message and "修改" in message and "督办未执行" in message, message
        assert _state(desk, appeal_id)[1:3] == (version + 1, 0)  # nothing was overwritten
        # … and the page now shows the appeal as it is: dispatched, at the new version.
        assert f"版本 {version + 1}" in second.inner_text(".appeal-actions")
        assert "已派遣" in second.inner_text("#appeal-timeline")
        second.screenshot(path=str(_shot("appeal_actions.png")), full_page=True)

        # Acting again from the refreshed page works.
        _step(second, "urge")
        second.fill(f"#{ids.APPEAL_ACTION_NOTE}", "请尽快联系居民")
        second.click(f"#{ids.APPEAL_ACTION_SUBMIT}")
        second.wait_for_selector(f"#{ids.APPEAL_ACTION_MESSAGE} .console-good")
        assert _state(desk, appeal_id)[1:4] == (version + 2, 1, "e2e-operator-2")
        # In English: the steps as buttons, a return's form asks for a reason.
        second.goto(f"{desk.url}/appeal/{appeal_id}?lang=en")
        second.wait_for_selector("button[data-action='escalate']")
        assert second.inner_text("button[data-action='urge']") == "Urge"
        _step(second, "escalate")
        assert second.inner_text(f"#{ids.APPEAL_ACTION_SUBMIT}") == "Confirm: Escalate"
        second.locator(".appeal-actions").screenshot(path=str(_shot("appeal_actions_en.png")))
    finally:
        first.context.close()
        second.context.close()


def test_bulk_urge_of_two_selected_rows(page, desk):
    # Issue 17: the grid lists the most urgent first (by deadline): the two most urgent are on its first page.
    targets = set(_appeals(desk, "in_progress", 2, order="deadline_at ASC, id DESC"))
    _login(page, desk, "e2e-operator", "/drill?status=in_progress")
    page.wait_for_selector(f"#{ids.DRILL_BULK}")
    page.wait_for_selector(f"#{ids.DRILL_GRID} .ag-row a")
    for chosen, appeal_id in enumerate(sorted(targets), start=1):  # the two rows, found by their link
        row = page.locator(f"#{ids.DRILL_GRID} .ag-row", has=page.locator(f"a:text-is('{appeal_id}')"))
        row.locator("input[type=checkbox]").first.check()
        page.wait_for_function(
            "([id, text]) => document.getElementById(id).textContent.includes(text)",
            arg=[ids.DRILL_BULK_COUNT, f"已选 {chosen} 条"],
        )
    page.fill(f"#{ids.DRILL_BULK_NOTE}", "今日下班前办结")
    page.click(f"#{ids.DRILL_BULK_URGE}")
    page.wait_for_selector(f"#{ids.DRILL_BULK_RESULT} .console-good")
    assert "成功 2 条，未执行 0 条" in page.inner_text(f"#{ids.DRILL_BULK_RESULT}")
    for appeal_id in targets:
        assert _state(desk, appeal_id)[2:4] == (1, "e2e-operator")
    # The grid reloads (new versions) and the selection is cleared.
    page.wait_for_function("(id) => document.getElementById(id).textContent.includes('0')", arg=ids.DRILL_BULK_COUNT)
    page.locator(".console-grid").screenshot(path=str(_shot("drill_bulk_urge.png")))


def _shot(name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / name
