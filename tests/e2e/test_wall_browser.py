"""The wall in headless Chromium against a running server, as the LED screen shows it."""

from __future__ import annotations

import re
import sqlite3

import pytest

pytestmark = pytest.mark.browser

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")


def _tile_values(page) -> dict[str, int]:
    labels = page.locator(".wall-tile-label").all_inner_texts()
    numbers = page.locator(".wall-tile .wall-number").all_inner_texts()
    return {label: int(number.replace(",", "")) for label, number in zip(labels, numbers, strict=True)}


def _database(live_server) -> sqlite3.Connection:
    return sqlite3.connect(live_server.env["CC_DATABASE_URL"].removeprefix("sqlite:///"))


def test_wall_shows_database_counts_and_goes_live(page, live_server, tmp_path):
    page.goto(f"{live_server.url}/wall")
    page.wait_for_selector(".wall-tile .wall-number")
    tiles = _tile_values(page)
    with _database(live_server) as connection:
        residents = connection.execute("SELECT count(*) FROM residents").fetchone()[0]
        businesses = connection.execute("SELECT count(*) FROM businesses").fetchone()[0]
        open_appeals = connection.execute("SELECT count(*) FROM appeals WHERE is_open").fetchone()[0]
    assert tiles["实有人口"] == residents == 2000
    assert tiles["商户企业"] == businesses
    assert tiles["在办诉求"] == open_appeals
    # The Socket.IO connection comes up and the indicator says so.
    page.wait_for_selector(".wall-connection:not(.offline)", timeout=15_000)
    assert page.locator(".wall-connection").inner_text().strip() == "实时连接"
    # Nothing scrolls: the wall fits the screen.
    overflow = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight, innerWidth, innerHeight]"
    )
    assert overflow[0] <= overflow[2] and overflow[1] <= overflow[3]
    page.screenshot(path=str(tmp_path / "wall.png"))


def test_clock_ticks_in_the_browser(page, live_server):
    page.goto(f"{live_server.url}/wall")
    clock = page.locator(".wall-clock")
    clock.wait_for()
    changed = "(previous) => document.querySelector('.wall-clock').innerText !== previous"
    for _ in range(3):  # it keeps ticking, second after second
        page.wait_for_function(changed, arg=clock.inner_text(), timeout=5_000)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", clock.inner_text())


def test_wall_carries_no_personal_data(page, live_server):
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    page.goto(f"{live_server.url}/wall")
    page.wait_for_selector(".wall-ticker-item")
    html = page.content()
    assert not PHONE.search(html), PHONE.search(html)
    assert not ID_NUMBER.search(html)
    with _database(live_server) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM residents LIMIT 500")]
        reporters = [
            row[0]
            for row in connection.execute("SELECT reporter_name FROM appeals WHERE reporter_name IS NOT NULL LIMIT 500")
        ]
    visible = page.locator("body").inner_text()
    assert not [name for name in names + reporters if len(name) >= 3 and name in visible]
    for frame in frames:
        assert not PHONE.search(frame) and not ID_NUMBER.search(frame)


def test_english_wall(page, live_server):
    page.goto(f"{live_server.url}/wall?lang=en&region=510107001")
    page.wait_for_selector(".wall-tile")
    assert "Cuqiao Street Smart Governance Center" in page.locator(".wall-title").inner_text()
    assert "Residents" in page.locator(".wall-tiles").inner_text()
