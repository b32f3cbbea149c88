"""`make screenshots`: retake docs/screenshots on street-scale demo data, in headless Chromium.

The wall at every supported size (1920×1080, 3840×2160 at 16:9, 7680×2160 at 32:9), in Chinese and
English; the console at the supervisors' sizes (CONSOLE_SIZES: 1366×768 and 1920×1080, zh and en: the start
page, the drill-down's top and its grid, an appeal). Each shot waits until the page is live and its charts are
drawn. `python scripts/screenshots.py wall` (or `console`) takes only the wall's (or the console's).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.config import ROOT
from tests.e2e.support import LiveServer, launch_chromium

OUT = ROOT / "docs" / "screenshots"
WALL_SIZES = [(1920, 1080), (3840, 2160), (7680, 2160)]
LANGUAGES = ["zh", "en"]
STREET = "510107001"  # the street-scale demo's street: its wall maps its communities


def wall_shots() -> list[tuple[str, str, int, int]]:
    """(file name, path and query, width, height) of every wall screenshot."""
    return [
        (f"wall-{w}x{h}{'' if lang == 'zh' else '-' + lang}.png", f"/wall?region={STREET}&lang={lang}", w, h)
        for w, h in WALL_SIZES
        for lang in LANGUAGES
    ]


def take_wall(page, server: LiveServer, path: str) -> None:
    """Open a wall and wait until it is live, its board filled and its charts drawn."""
    page.goto(server.url + path)
    page.wait_for_selector(".wall-connection:not(.offline)", timeout=30_000)
    page.wait_for_selector("#wall-map .main-svg", timeout=30_000)
    page.wait_for_timeout(2500)  # the first resync at the screen's scale redraws the charts


CONSOLE_SIZES = [(1366, 768), (1920, 1080)]  # a supervisor's laptop and desk screen
CONSOLE_USER, CONSOLE_PASSWORD = "screenshots", "screenshots-password"


def console_shots() -> list[tuple[str, str, int, int]]:
    """(file name, path and query, width, height) of every console screenshot: the start page, the drill-down
    (its top, then its appeals grid: `#grid` in the name scrolls to it) and an overdue appeal's page."""
    shots = []
    for w, h in CONSOLE_SIZES:
        for lang in LANGUAGES:
            tail = "" if lang == "zh" else "-" + lang
            query = "?lang=en" if lang == "en" else ""
            shots += [
                (f"console-home-{w}x{h}{tail}.png", "/" + query, w, h),
                (f"console-drill-{w}x{h}{tail}.png", "/drill" + query, w, h),
                (f"console-grid-{w}x{h}{tail}.png", "/drill" + query + "#grid", w, h),
                (f"console-appeal-{w}x{h}{tail}.png", "appeal" + query, w, h),
            ]
    return shots


def log_in(page, server: LiveServer) -> None:
    """Log the screenshots' admin in (made by main)."""
    page.goto(server.url + "/login")
    page.fill("#login-username", CONSOLE_USER)
    page.fill("#login-password", CONSOLE_PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#home-user, #console-user", timeout=60_000)  # logged in: the page names the user


def take_console(page, server: LiveServer, path: str) -> None:
    """Open a console page and wait until its charts and grid are drawn (an appeal: the grid's first, most
    urgent one)."""
    if path.startswith("appeal"):
        page.goto(server.url + "/drill" + path.removeprefix("appeal"))
        page.wait_for_selector("#drill-grid .ag-row a", state="attached", timeout=30_000)
        page.goto(server.url + page.locator("#drill-grid .ag-row a").first.get_attribute("href"))
        page.wait_for_selector("#appeal-timeline li", timeout=30_000)
        return
    page.goto(server.url + path.split("#")[0])
    if path.split("?")[0] in ("/", "/?lang=en"):
        page.wait_for_selector("#home-page", timeout=30_000)
        return
    page.wait_for_selector("#drill-map .main-svg", timeout=30_000)
    page.wait_for_selector("#drill-grid .ag-row a", state="attached", timeout=30_000)
    if path.endswith("#grid"):
        page.locator("#drill-grid").scroll_into_view_if_needed()
        page.evaluate("() => document.querySelector('.console-grid').scrollIntoView({block: 'start'})")
    page.wait_for_timeout(800)  # the charts' transitions


def main(which: set[str]) -> None:
    """Start a server on fresh street-scale demo data and photograph each page at each size."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        server = LiveServer(Path(workdir))
        print(server.cli("demo", "--scale", "street"))
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                if "wall" in which:
                    for name, path, width, height in wall_shots():
                        page = browser.new_page(viewport={"width": width, "height": height})
                        take_wall(page, server, path)
                        page.screenshot(path=str(OUT / name))
                        print(f"wrote docs/screenshots/{name}")
                        page.close()
                if "console" in which:
                    user = ["--username", CONSOLE_USER, "--role", "admin", "--password", CONSOLE_PASSWORD]
                    server.cli("users", "add", *user)
                    # one log-in for every shot (repeated log-ins are throttled, as an attacker's would be)
                    context = browser.new_context(viewport={"width": 1366, "height": 768})
                    page = context.new_page()
                    log_in(page, server)
                    for name, path, width, height in console_shots():
                        page.set_viewport_size({"width": width, "height": height})
                        take_console(page, server, path)
                        page.screenshot(path=str(OUT / name))
                        print(f"wrote docs/screenshots/{name}")
                    context.close()
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main(set(sys.argv[1:]) or {"wall", "console"})
