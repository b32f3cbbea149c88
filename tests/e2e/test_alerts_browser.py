"""Issue 19 in headless Chromium against a real server: a burst of noise appeals in one community turns into a
surge alert on an open wall's 预警 panel, by the server's own minute job and its push, with no reload; an
operator acknowledges it on /alerts and the wall marks it, then closes it and it leaves the wall."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from tests.e2e.support import DEMO_END, LiveServer

pytestmark = pytest.mark.browser

STREET = "510107001"
COMPOUND = "510107001002001"  # in community 510107001002
OPERATOR, PASSWORD = "alerts-operator", "alerts-operator-password"
SURGE_ROW = ".wall-alert.wall-alert-surge"


@pytest.fixture(scope="module")
def alert_server(tmp_path_factory):
    """Its own server (the burst must not touch other modules' counts); the alerts job runs each minute."""
    server = LiveServer(tmp_path_factory.mktemp("alerts"))
    server.cli("demo", "--scale", "tiny", "--end", DEMO_END)
    server.cli("users", "add", "--username", OPERATOR, "--role", "operator", "--region", STREET, "--password", PASSWORD)
    server.api_key = server.cli("apikeys", "add", "--name", "e2e-alerts", "--source", "wechat").strip()
    server.start()
    yield server
    server.stop()


def _burst(server: LiveServer, count: int = 15) -> None:
    """count noise appeals in one compound within the last hour, through the API."""
    now = dt.datetime.now(dt.UTC)
    body = [
        {
            "external_id": f"E2E-SURGE-{n}",
            "source": "wechat",
            "reported_at": (now - dt.timedelta(minutes=3 * n + 1)).isoformat(),
            "category": "noise",
            "priority": "ordinary",
            "region_code": COMPOUND,
            "description": f"夜间施工噪音 {n}",
        }
        for n in range(count)
    ]
    response = requests.post(
        f"{server.url}/api/v1/appeals", json=body, headers={"X-API-Key": server.api_key}, timeout=30
    )
    assert response.status_code == 200 and response.json()["created"] == count, response.text


def test_a_burst_of_noise_appeals_shows_as_a_surge_on_the_wall_live(browser, alert_server):
    wall_context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    wall = wall_context.new_page()
    try:
        wall.goto(f"{alert_server.url}/wall?region={STREET}")
        wall.wait_for_selector(".wall-connection:not(.offline)", timeout=30_000)
        wall.wait_for_function("() => window.wallAlerts && window.wallAlerts.data !== null", timeout=30_000)
        wall.evaluate("() => { window.__sameDocument = true; }")
        assert wall.locator(SURGE_ROW).count() == 0
        _burst(alert_server)
        # The scheduler's minute job finds the surge and pushes it: on the wall within 90 s, no reload.
        wall.wait_for_function(
            f"() => [...document.querySelectorAll('{SURGE_ROW}')].some(n => n.textContent.includes('噪音扰民'))",
            timeout=90_000,
        )
        assert wall.evaluate("() => window.__sameDocument === true")
        surge = wall.locator(SURGE_ROW).first
        text = surge.inner_text()
        assert "激增" in text and "▲" in text and "15" in text, text
        assert surge.get_attribute("data-status") == "new"
        assert wall.locator(".wall-alerts-count").inner_text().strip() != ""
        surge_id = int(surge.get_attribute("data-id"))

        # An operator acknowledges it on /alerts; the wall marks it (it stays).
        console_context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
        console = console_context.new_page()
        try:
            console.goto(f"{alert_server.url}/login")
            console.fill("#login-username", OPERATOR)
            console.fill("#login-password", PASSWORD)
            console.click("#login-submit")
            console.wait_for_url(lambda url: "/login" not in url, timeout=15_000)
            console.goto(f"{alert_server.url}/alerts?kind=surge&status=new")
            row = console.locator(f".alerts-row[data-id='{surge_id}']")
            row.wait_for(timeout=15_000)
            assert row.locator(".alerts-link").get_attribute("href").startswith("/drill?region=")
            row.locator(".alerts-note input").fill("已通知城管夜间巡查")
            row.locator(".alerts-step-acknowledge").click()
            console.wait_for_selector("#alerts-feedback .console-good", timeout=15_000)
            wall.wait_for_function(
                f"() => document.querySelector(\"{SURGE_ROW}[data-id='{surge_id}']\")"
                "?.getAttribute('data-status') === 'acknowledged'",
                timeout=15_000,
            )
            assert "已确认" in wall.locator(f"{SURGE_ROW}[data-id='{surge_id}']").inner_text()
            # … then closes it: it leaves the wall.
            console.goto(f"{alert_server.url}/alerts?kind=surge&status=acknowledged")
            row = console.locator(f".alerts-row[data-id='{surge_id}']")
            row.wait_for(timeout=15_000)
            row.locator(".alerts-note input").fill("已处理")
            row.locator(".alerts-step-close").click()
            console.wait_for_selector("#alerts-feedback .console-good", timeout=15_000)
            wall.wait_for_function(
                f"() => !document.querySelector(\"{SURGE_ROW}[data-id='{surge_id}']\")", timeout=15_000
            )
        finally:
            console_context.close()
        # A resync (the wall's every-30-s one, forced here by a viewport change) keeps it gone.
        wall.set_viewport_size({"width": 1900, "height": 1070})
        wall.wait_for_timeout(4000)
        assert wall.locator(f"{SURGE_ROW}[data-id='{surge_id}']").count() == 0
        assert wall.evaluate("() => window.__sameDocument === true")
    finally:
        wall_context.close()
