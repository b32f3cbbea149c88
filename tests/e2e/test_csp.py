"""The wall in headless Chromium under the Content-Security-Policy: it renders, goes live, and breaks no rule."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

# Record every CSP violation the page reports, from before its first script runs.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample});
});
"""


def _wait_until(page, expression: str, timeout: float = 20.0) -> None:
    """Poll a page expression from Python. Playwright's wait_for_function evaluates its predicate
    with eval() inside the page when it has to poll, which this very CSP forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


def _open_wall(page, live_server, path: str):
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.add_init_script(COLLECT_VIOLATIONS)

    def is_callback(response) -> bool:
        return urlsplit(response.url).path == "/_dash-update-component" and response.status == 200

    with page.expect_response(is_callback) as callback:
        response = page.goto(f"{live_server.url}{path}")
        page.wait_for_selector(".wall-tile .wall-number")
        page.wait_for_selector(".wall-connection:not(.offline)", timeout=15_000)
    return response, callback.value, console


def test_wall_renders_under_the_csp_without_violations(page, live_server):
    response, callback, console = _open_wall(page, live_server, "/wall?lang=zh")
    policy = response.headers["content-security-policy"]
    assert "'unsafe-eval'" not in policy and "script-src 'self' 'sha256-" in policy
    # Both charts are drawn by Plotly, and the resync callback (a JSON POST) came back.
    _wait_until(page, "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2")
    assert page.locator(".js-plotly-plot .plot-container").count() == 2
    assert callback.request.method == "POST"
    page.wait_for_timeout(1_000)  # let late chart and socket work report anything it tripped on
    assert page.evaluate("window.__cspViolations") == []
    assert not [line for line in console if "Content Security Policy" in line or "Refused to" in line], console


def test_the_policy_is_enforced(page, live_server):
    """The negative control: an inline script that Dash did not render is blocked and reported."""
    _open_wall(page, live_server, "/wall?lang=en")
    page.evaluate(
        """() => {
          const s = document.createElement('script');
          s.textContent = 'window.__injected = true';
          document.body.appendChild(s);
        }"""
    )
    _wait_until(page, "window.__cspViolations.length > 0", timeout=5.0)
    assert page.evaluate("window.__injected === undefined")
    assert page.evaluate("window.__cspViolations[0].directive").startswith("script-src")
