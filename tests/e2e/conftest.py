"""Fixtures for end-to-end tests: a live server with demo data, and a browser page."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.support import CHROMIUM, DEMO_END, LiveServer, launch_chromium

REQUIRE_SERVICES = os.environ.get("CC_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("live"))
    server.cli("demo", "--scale", "tiny", "--end", DEMO_END)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(message + "; CC_REQUIRE_SERVICES=1 forbids skipping")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()
