"""The seed's example, end to end (issue 16): a noise complaint at 23:45 on 1 October 2026, mediated by the
community patrol team at 23:48.

A real server (its clock pinned by tests/e2e/pinned_clock.py), real Socket.IO, headless Chromium: the
complaint arrives by the API; the street's duty operator accepts it and dispatches it to the community's
patrol team on its appeal page; the patrol handler's /tasks page, open on a 360×640 phone, shows it within
a second without reloading; the handler starts and resolves it; the street's wall, open all along, shows
it arrive and leave; the KPI API reports it resolved on time with a response of 3 minutes.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from dashboard.ui import ids
from tests.e2e.pinned_clock import CLOCK_VARIABLE, set_clock
from tests.e2e.support import LiveServer

pytestmark = pytest.mark.browser

BEIJING = ZoneInfo("Asia/Shanghai")
ARRIVES = dt.datetime(2026, 10, 1, 23, 45, tzinfo=BEIJING)
MEDIATED = dt.datetime(2026, 10, 1, 23, 48, tzinfo=BEIJING)
DEMO_END = "2026-09-30T20:00:00+08:00"  # the day of the example starts with no appeals of its own
STREET = "510107001"
COMMUNITY = "510107001001"
COMPOUND = "510107001001001"
TEAM = f"{COMMUNITY}/patrol"
SHOTS = Path("/tmp/shots")
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
COMPLAINT = {
    "external_id": "12345-20261001-0917",
    "source": "hotline_12345",
    "reported_at": ARRIVES.isoformat(),
    "category": "noise",
    "priority": "extra_urgent",
    "region_code": COMPOUND,
    "description": "小区广场舞音响声音过大，深夜仍未停止，老人无法入睡，请尽快处理，回电13912345678",
    "reporter_name": "欧阳娜娜",
    "reporter_phone": "13912345678",
}


# Whether the wall's tile named args[0] shows the number args[1].
TILE_IS = """([name, value]) => [...document.querySelectorAll('.wall-tile')].some(tile =>
  tile.querySelector('.wall-tile-label')?.innerText === name
  && tile.querySelector('.wall-number')?.innerText === value)"""


class PinnedClockServer(LiveServer):
    """The live server with dashboard.domain.clock read from a file the test moves on."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.clock_file = workdir / "clock.txt"
        self.env[CLOCK_VARIABLE] = str(self.clock_file)
        self.serve_command = [sys.executable, "-m", "tests.e2e.pinned_clock", "serve"]
        self.set_clock(ARRIVES)

    def set_clock(self, instant: dt.datetime) -> None:
        set_clock(self.clock_file, instant)


@pytest.fixture(scope="module")
def center(tmp_path_factory):
    server = PinnedClockServer(tmp_path_factory.mktemp("center"))
    printed = server.cli("demo", "--scale", "tiny", "--end", DEMO_END)
    # The demo prints its log-ins: the street's duty operator and the patrol team's handler among them.
    server.passwords = dict(re.findall(r"^\s+(\w+)\t(\S+)\t", printed, re.MULTILINE))
    assert {"operator", "patrol", "leader"} <= set(server.passwords), printed[-800:]
    assert f"patrol\t{server.passwords['patrol']}\thandler\t{COMMUNITY}\t{TEAM}" in printed
    server.api_key = server.cli("apikeys", "add", "--name", "hotline", "--source", "hotline_12345").strip()
    _clear_backlog(server)
    server.start()
    yield server
    server.stop()


def _clear_backlog(server) -> None:
    """Close the demo's open appeals on 30 September, before the holiday (and recount the KPIs): the
    deadline board shows the six nearest deadlines, overdue first, and the demo always leaves some overdue."""
    from sqlalchemy import update

    from dashboard import create_app
    from dashboard.domain.vocab import AppealStatus
    from dashboard.store.database import db
    from dashboard.store.models import Appeal

    cleared = dt.datetime(2026, 9, 30, 20, 30, tzinfo=BEIJING)
    app = create_app(
        {"DATABASE_URL": server.env["CC_DATABASE_URL"], "SECRET_KEY": "e2e-secret", "SCHEDULER_ENABLED": False}
    )
    with app.app_context(), db.transaction() as session:
        still_open = Appeal.is_open.is_(True)
        session.execute(update(Appeal).where(still_open, Appeal.resolved_at.is_(None)).values(resolved_at=cleared))
        session.execute(
            update(Appeal).where(still_open).values(status=AppealStatus.CLOSED, is_open=False, closed_at=cleared)
        )
    db.engine.dispose()
    server.cli("kpi", "rebuild")


def _login(page, server, username: str, next_path: str) -> None:
    page.goto(f"{server.url}/login?next={next_path}")
    page.fill("#login-username", username)
    page.fill("#login-password", server.passwords[username])
    page.click("#login-submit")


def _tiles(page) -> dict[str, str]:
    labels = page.locator(".wall-tile-label").all_inner_texts()
    numbers = page.locator(".wall-tile .wall-number").all_inner_texts()
    return dict(zip(labels, numbers, strict=True))


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=False)


def test_a_noise_complaint_at_23_45_is_mediated_by_the_patrol_team_at_23_48(browser, center):
    deadline_ms = int((ARRIVES + dt.timedelta(hours=1)).timestamp() * 1000)  # extra-urgent: one hour
    on_board = f"() => !!document.querySelector('.sla-countdown[data-deadline=\"{deadline_ms}\"]')"

    # The street's wall, open before anything happens.
    wall_context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    wall = wall_context.new_page()
    wall.goto(f"{center.url}/wall?region={STREET}")
    wall.wait_for_selector(".wall-connection:not(.offline)", timeout=15_000)
    before = _tiles(wall)
    assert before["今日受理"] == "0" and before["今日办结"] == "0"  # the day of the example, so far

    # The patrol team's handler, on a phone: the task page, empty for now, listening.
    phone_context = browser.new_context(
        viewport={"width": 360, "height": 640}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    phone = phone_context.new_page()
    frames: list[str] = []
    phone.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    _login(phone, center, "patrol", "/tasks")
    phone.wait_for_selector(".tasks-root")
    phone.wait_for_selector(".tasks-connection:not(.offline)", timeout=15_000)
    assert "暂无待办任务" in phone.locator("#tasks-list").inner_text()
    phone.evaluate("() => { window.__sameDocument = true; }")

    # 23:45: the hotline's complaint arrives by the API; the wall shows it at once.
    response = requests.post(
        f"{center.url}/api/v1/appeals", json=[COMPLAINT], headers={"X-API-Key": center.api_key}, timeout=10
    )
    assert response.status_code == 200 and response.json()["created"] == 1, response.text
    wall.wait_for_function(
        "() => [...document.querySelectorAll('.wall-ticker-text')].some(n => n.textContent.includes('广场舞'))",
        timeout=1_000,
    )
    wall.wait_for_function(on_board, timeout=5_000)
    wall.wait_for_function(TILE_IS, arg=["今日受理", "1"], timeout=10_000)

    # 23:48: the duty operator accepts it and dispatches it to the community's patrol team.
    center.set_clock(MEDIATED)
    desk_context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    desk = desk_context.new_page()
    appeal_id = _appeal_id(center)
    _login(desk, center, "operator", f"/appeal/{appeal_id}")
    desk.wait_for_selector("button[data-action='accept']", timeout=15_000)
    desk.click("button[data-action='accept']")
    desk.click(f"#{ids.APPEAL_ACTION_SUBMIT}")
    desk.wait_for_selector("button[data-action='dispatch']", timeout=10_000)
    desk.click("button[data-action='dispatch']")
    _choose(desk, ids.APPEAL_ACTION_ASSIGNEE, "巡逻队")
    desk.click(f"#{ids.APPEAL_ACTION_SUBMIT}")
    desk.wait_for_selector("#appeal-action-message .console-good", timeout=10_000)

    # The handler's phone shows it within a second, without reloading.
    card = f"#tasks-card-{appeal_id}"
    phone.wait_for_selector(card, timeout=1_000)
    assert phone.evaluate("() => window.__sameDocument === true")
    text = phone.locator(card).inner_text()
    assert "噪声" in text or "噪音" in text
    assert "特急" in text and "剩余" in text and "139****5678" in text and "13912345678" not in text
    assert "欧阳" not in phone.content()
    _shot(phone, "tasks_360x640_zh_dispatched.png")

    # It starts, then resolves with a note (the sheet asks for it), at 23:48.
    phone.locator(f"{card} .tasks-step-start").tap()
    phone.wait_for_selector(f"{card} .tasks-step-resolve", timeout=5_000)
    phone.locator(f"{card} .tasks-step-resolve").tap()
    phone.wait_for_selector("#tasks-sheet.open")
    _shot(phone, "tasks_360x640_zh_resolve_sheet.png")
    phone.fill("#tasks-note", "巡逻队到场劝导，音响已关闭，居民表示满意")
    phone.locator("#tasks-confirm").tap()
    phone.wait_for_selector(card, state="detached", timeout=5_000)
    assert "办结" in phone.locator("#tasks-feedback").inner_text()
    assert phone.evaluate("() => window.__sameDocument === true")
    for frame in frames:
        assert not PHONE.search(frame) and "欧阳" not in frame, frame

    # The wall: the appeal leaves the deadline board and today's resolved count rises.
    wall.wait_for_function(f"() => !({on_board})()", timeout=10_000)
    wall.wait_for_function(TILE_IS, arg=["今日办结", "1"], timeout=10_000)
    _shot(wall, "wall_after_mediation.png")

    # The KPI API: resolved on time, three minutes from report to response.
    kpis = requests.get(
        f"{center.url}/api/v1/kpis",
        params={"region": COMMUNITY, "date": "2026-10-01"},
        headers={"X-API-Key": center.api_key},
        timeout=10,
    ).json()
    assert kpis["received"] == 1 and kpis["resolved"] == 1 and kpis["resolved_on_time"] == 1, kpis
    assert kpis["on_time_rate"] == 1.0 and kpis["overdue_open"] == 0, kpis
    # Accepted at 23:48 and some seconds (the clock runs on while the browser clicks): three minutes.
    assert round(kpis["response_median_min"]) == 3, kpis
    for context in (wall_context, phone_context, desk_context):
        context.close()


def _appeal_id(server, external_id: str = COMPLAINT["external_id"]) -> int:
    import sqlite3

    with sqlite3.connect(server.env["CC_DATABASE_URL"].removeprefix("sqlite:///")) as connection:
        return connection.execute("SELECT id FROM appeals WHERE external_id = ?", (external_id,)).fetchone()[0]


def _choose(page, dropdown_id: str, words: str) -> None:
    """Pick the option containing words in a dcc.Dropdown."""
    page.click(f"#{dropdown_id}")
    page.get_by_role("option").first.wait_for()  # open, its search box focused: typing filters the list
    page.keyboard.type(words)
    page.get_by_role("option", name=re.compile(words)).first.click()


def _post(server, path: str, body) -> dict:
    response = requests.post(f"{server.url}{path}", json=body, headers={"X-API-Key": server.api_key}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _more_assignments(server) -> None:
    """Three more appeals for the patrol team: one overdue, one urged, one with time to spare."""
    appeals = [
        ("SEED-LATE", "extra_urgent", "22:20", "neighbour_dispute", "楼上住户与楼下商铺因油烟发生争执，双方情绪激动"),
        ("SEED-URGED", "urgent", "23:10", "street_vending", "小区东门夜市摊贩占道经营，堵塞消防通道"),
        ("SEED-CALM", "ordinary", "23:30", "safety_hazard", "3栋楼道内电动车违规充电，存在安全隐患"),
    ]
    for external_id, priority, time, category, text in appeals:
        record = {**COMPLAINT, "external_id": external_id, "priority": priority, "category": category}
        record.update(reported_at=f"2026-10-01T{time}:00+08:00", description=text)
        _post(server, "/api/v1/appeals", [record])
        appeal_id = _appeal_id(server, external_id)
        _post(server, f"/api/v1/appeals/{appeal_id}/transitions", {"action": "accept"})
        _post(server, f"/api/v1/appeals/{appeal_id}/transitions", {"action": "dispatch", "team": TEAM})
        if external_id == "SEED-URGED":
            for _ in range(2):
                _post(server, f"/api/v1/appeals/{appeal_id}/transitions", {"action": "urge", "note": "请尽快处置"})


def test_the_task_page_fits_a_phone_and_a_desk_in_both_languages(browser, center):
    _more_assignments(center)
    for width, height in ((360, 640), (1280, 800)):
        phone = width < 600
        context = browser.new_context(
            viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone, locale="zh-CN"
        )
        page = context.new_page()
        _login(page, center, "patrol", "/tasks")
        for lang in ("zh", "en"):
            page.goto(f"{center.url}/tasks" + ("?lang=en" if lang == "en" else ""))
            page.wait_for_selector(".tasks-card")
            page.wait_for_selector(".tasks-connection:not(.offline)", timeout=15_000)
            text = page.locator("#tasks-list").inner_text()
            if lang == "zh":
                assert "超期 " in text and "已督办 2 次" in text and "剩余" in text  # issue 17: the shared words
                # Most urgent first: the overdue extra-urgent one leads.
                assert "油烟" in page.locator(".tasks-card").first.inner_text()
            else:
                assert "overdue " in text and "Urged 2×" in text and " left" in text and "My tasks" in page.content()
            # Nothing scrolls sideways; every button is a big touch target.
            sizes = page.evaluate(
                "() => [document.documentElement.scrollWidth, innerWidth,"
                " ...[...document.querySelectorAll('.tasks-step')].map(b => b.getBoundingClientRect().height)]"
            )
            assert sizes[0] <= sizes[1], sizes
            assert all(height >= 48 for height in sizes[2:]), sizes
            _shot(page, f"tasks_{width}x{height}_{lang}.png")
        context.close()


def test_an_admin_adds_a_handler_of_the_patrol_team(browser, center):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _login(page, center, "admin", "/admin")
    page.wait_for_selector(f"#{ids.ADMIN_USER_CREATE}")
    field = page.locator(f"#{ids.ADMIN_USER_ASSIGNMENT_FIELD}")
    assert not field.is_visible()  # a supervisor (the default role) belongs to no team
    page.fill(f"#{ids.ADMIN_USER_USERNAME}", "patrol-2")
    page.get_by_label("处置人员").check()
    field.wait_for(state="visible")
    _choose(page, ids.ADMIN_USER_ASSIGNMENT, "巡逻队")
    page.fill(f"#{ids.ADMIN_USER_PASSWORD}", "patrol-2-password")
    page.locator(f"#{ids.ADMIN_USER_ASSIGNMENT_FIELD}").scroll_into_view_if_needed()
    _shot(page, "admin_new_handler.png")
    page.click(f"#{ids.ADMIN_USER_CREATE}")
    row = page.locator(f"#{ids.ADMIN_USER_ROW.format('patrol-2')}")
    row.wait_for(timeout=10_000)
    assert TEAM in row.inner_text() and "处置人员" in row.inner_text()
    context.close()
