"""An admin adds a webhook on /admin in headless Chromium; a dispatch through the API reaches a local
receiver, signed, through the live server's own scheduler; the delivery log shows it (screenshot)."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import create_engine, text

from dashboard.config import ROOT
from dashboard.ui import ids
from tests.e2e.test_admin_browser import _choose
from tests.webhook_support import Receiver

SCREENSHOT = ROOT / "docs" / "screenshots" / "admin-webhooks.png"
COMMUNITY = "510107001001"
ADMIN, PASSWORD = "e2e-hooks-admin", "hooks-e2e-password"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def admin_server(live_server):
    live_server.cli("users", "add", "--username", ADMIN, "--role", "admin", "--password", PASSWORD)
    return live_server


def _login(page, server) -> None:
    page.goto(f"{server.url}/login?next=/admin")
    page.fill("#login-username", ADMIN)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector(f"#{ids.ADMIN_HOOKS_TABLE}")


def test_an_admin_adds_a_webhook_and_sees_its_deliveries(page, admin_server):
    receiver = Receiver()
    try:
        _login(page, admin_server)
        page.fill(f"#{ids.ADMIN_HOOK_NAME}", "community-patrol")
        page.fill(f"#{ids.ADMIN_HOOK_URL}", receiver.url)
        page.check(f"#{ids.ADMIN_HOOK_EVENTS} input[value=dispatched]")
        page.check(f"#{ids.ADMIN_HOOK_EVENTS} input[value=resolved]")
        _choose(page, ids.ADMIN_HOOK_FILTER_KIND, "按区域")
        page.fill(f"#{ids.ADMIN_HOOK_FILTER_VALUE}", COMMUNITY[:9])
        page.click(f"#{ids.ADMIN_HOOK_CREATE}")
        secret = page.locator(f"#{ids.ADMIN_HOOK_SECRET}")
        secret.wait_for()
        receiver.secret = secret.inner_text().strip()
        assert "community-patrol" in page.locator(f"#{ids.ADMIN_HOOKS_TABLE}").inner_text()

        key = admin_server.cli("apikeys", "add", "--name", "e2e-hooks", "--source", "hotline_12345").strip()
        headers = {"X-API-Key": key}
        appeal = {
            "external_id": "E2E-HOOK-1",
            "source": "hotline_12345",
            "reported_at": "2026-11-20 10:00:00",
            "category": "noise",
            "priority": "urgent",
            "region_code": COMMUNITY + "001",
            "description": "夜间施工噪音，电话13812341234",
        }
        assert requests.post(f"{admin_server.url}/api/v1/appeals", json=[appeal], headers=headers).ok
        engine = create_engine(admin_server.env["CC_DATABASE_URL"])
        with engine.connect() as connection:
            appeal_id = connection.execute(text("SELECT id FROM appeals WHERE external_id = 'E2E-HOOK-1'")).scalar()
        engine.dispose()
        for action in ("accept", "dispatch"):
            response = requests.post(
                f"{admin_server.url}/api/v1/appeals/{appeal_id}/transitions", json={"action": action}, headers=headers
            )
            assert response.ok, response.text
        receiver.wait_for(1, timeout=15)  # the live server's scheduler runs the delivery job
        (request,) = receiver.requests
        assert request["valid"] and "13812341234" not in request["body"].decode()

        page.click(f"#{ids.ADMIN_DELIVERIES_REFRESH}")
        page.wait_for_function(
            "(id) => document.getElementById(id).textContent.includes('已送达')", arg=ids.ADMIN_DELIVERIES_TABLE
        )
        page.locator("#admin-webhooks").screenshot(path=str(SCREENSHOT))
    finally:
        receiver.close()
