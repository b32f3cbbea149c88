"""An admin in headless Chromium: log in, create a supervisor, create a wall token, open the wall, revoke it."""

from __future__ import annotations

import pytest

from dashboard.ui import ids
from dashboard.ui.i18n import t

pytestmark = pytest.mark.browser

PASSWORD = "admin-e2e-password"
STREET = "510107001"


@pytest.fixture(scope="module")
def admin_server(live_server):
    live_server.cli("users", "add", "--username", "e2e-admin", "--role", "admin", "--password", PASSWORD)
    return live_server


def _login(page, server) -> None:
    page.goto(f"{server.url}/login?next=/admin")
    page.fill("#login-username", "e2e-admin")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector(f"#{ids.ADMIN_USERS_TABLE}")


def _choose(page, dropdown_id: str, text: str) -> None:
    """Open a dcc.Dropdown, search for text and pick the option showing it."""
    page.click(f"#{dropdown_id}")
    page.fill(".dash-dropdown-content input[type=search]", text)
    page.locator(".dash-dropdown-content [role=option]", has_text=text).first.click()
    page.keyboard.press("Escape")
    page.wait_for_function(
        "([id, text]) => document.getElementById(id).textContent.includes(text)", arg=[dropdown_id, text]
    )


def test_admin_creates_a_supervisor(page, admin_server):
    _login(page, admin_server)
    page.fill(f"#{ids.ADMIN_USER_USERNAME}", "e2e-street-lead")
    page.fill(f"#{ids.ADMIN_USER_DISPLAY_NAME}", "簇桥指挥长")
    page.check(f"#{ids.ADMIN_USER_ROLE} input[value=supervisor]")
    _choose(page, ids.ADMIN_USER_REGION, STREET)
    page.fill(f"#{ids.ADMIN_USER_PASSWORD}", "short")
    page.click(f"#{ids.ADMIN_USER_CREATE}")
    page.wait_for_selector(f"#{ids.ADMIN_USER_FEEDBACK} .console-bad")
    assert "“密码”" in page.locator(f"#{ids.ADMIN_USER_FEEDBACK}").inner_text()

    page.fill(f"#{ids.ADMIN_USER_PASSWORD}", "a long enough password")
    page.click(f"#{ids.ADMIN_USER_CREATE}")
    row = page.locator("#" + ids.ADMIN_USER_ROW.format("e2e-street-lead"))
    row.wait_for()
    assert "簇桥指挥长" in row.inner_text() and STREET in row.inner_text()
    assert "已创建用户 e2e-street-lead" in page.locator(f"#{ids.ADMIN_USER_FEEDBACK}").inner_text()
    assert page.input_value(f"#{ids.ADMIN_USER_PASSWORD}") == ""  # the password does not linger in the form
    page.wait_for_function(
        "(id) => document.getElementById(id).textContent.includes('user:e2e-street-lead')", arg=ids.ADMIN_AUDIT_TABLE
    )


def test_admin_creates_a_wall_token_opens_the_wall_and_revokes_it(page, admin_server):
    _login(page, admin_server)
    page.fill(f"#{ids.ADMIN_TOKEN_NAME}", "e2e-cuqiao-led")
    _choose(page, ids.ADMIN_TOKEN_REGION, STREET)
    page.click(f"#{ids.ADMIN_TOKEN_CREATE}")
    secret = page.locator(f"#{ids.ADMIN_TOKEN_SECRET}")
    secret.wait_for()
    token = secret.inner_text().strip()
    wall_url = page.locator(f"#{ids.ADMIN_WALL_URL}").get_attribute("href")
    assert token.startswith("wall_") and wall_url.endswith(f"/wall?region={STREET}&token={token}")
    assert "e2e-cuqiao-led" in page.locator(f"#{ids.ADMIN_TOKENS_TABLE}").inner_text()
    assert token not in page.locator(f"#{ids.ADMIN_TOKENS_TABLE}").inner_text()

    wall = page.context.new_page()
    wall.goto(wall_url)
    wall.wait_for_selector(f"#{ids.WALL_KPIS}")
    assert t("wall.denied") not in wall.locator("body").inner_text()
    # The token became an HttpOnly cookie: gone from the address bar and the page.
    assert "token=" not in wall.url and token not in wall.content()
    assert any(c["name"] == "cc_wall" and c["httpOnly"] for c in wall.context.cookies())

    _choose(page, ids.ADMIN_TOKEN_SELECT, "e2e-cuqiao-led")
    page.once("dialog", lambda dialog: dialog.accept())  # revoking asks for confirmation first
    page.click(f"#{ids.ADMIN_TOKEN_REVOKE} button")
    page.wait_for_function(
        "(id) => document.getElementById(id).textContent.includes('已吊销大屏令牌 e2e-cuqiao-led')",
        arg=ids.ADMIN_TOKEN_FEEDBACK,
    )
    assert token not in page.locator(f"#{ids.ADMIN_TOKEN_FEEDBACK}").inner_text()  # the secret is gone too

    wall.goto(wall_url)
    wall.wait_for_selector(".wall-empty")
    assert t("wall.denied") in wall.locator("body").inner_text()
    assert wall.locator(f"#{ids.WALL_KPIS}").count() == 0
    page.wait_for_function(
        "(id) => document.getElementById(id).textContent.includes('walltoken_revoke')", arg=ids.ADMIN_AUDIT_TABLE
    )
