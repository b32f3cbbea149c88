"""The wall's map in headless Chromium: labelled shapes, undistorted, and a re-import shown without a restart."""

from __future__ import annotations

import math
import sqlite3

import pytest

pytestmark = pytest.mark.browser

STREET = "510107001"
COMMUNITY = "510107001003"
MOVED = '{"type": "Polygon", "coordinates": [[[104.05, 30.6], [104.0555, 30.6], [104.0555, 30.605], [104.05, 30.6]]]}'
MAP_STATE = """(id) => {
    const graph = document.querySelector('#' + id + ' .js-plotly-plot');
    const layout = graph._fullLayout;
    return {
        ratio: Math.abs(layout.yaxis._m / layout.xaxis._m),
        labels: [...graph.querySelectorAll('.textpoint text')].map((t) => t.textContent),
        fills: graph.querySelectorAll('path.js-fill').length,
        width: graph.getBoundingClientRect().width,
        height: graph.getBoundingClientRect().height,
    };
}"""


def _database(live_server) -> sqlite3.Connection:
    return sqlite3.connect(live_server.env["CC_DATABASE_URL"].removeprefix("sqlite:///"))


def test_the_wall_map_draws_labelled_undistorted_shapes(page, live_server, tmp_path):
    page.goto(f"{live_server.url}/wall?region={STREET}")
    page.wait_for_selector("#wall-map .textpoint text")
    with _database(live_server) as connection:
        rows = connection.execute(
            "SELECT name, center_lat FROM regions WHERE parent_code = ? AND archived_at IS NULL", (STREET,)
        ).fetchall()
    state = page.evaluate(MAP_STATE, "wall-map")
    latitude = sum(lat for _, lat in rows) / len(rows)
    # A kilometre is as long north-south as east-west: y pixels per degree = x pixels per degree / cos(lat).
    assert state["ratio"] == pytest.approx(1 / math.cos(math.radians(latitude)), rel=0.02)
    assert sorted(label for label in state["labels"] if any(name in label for name, _ in rows)) == sorted(
        state["labels"]
    )
    assert all(any(name in label for label in state["labels"]) for name, _ in rows)
    assert state["fills"] >= 1 and state["width"] >= 600 and state["height"] >= 380  # big enough for a room
    assert page.locator(".wall-panel.map .wall-panel-title").inner_text() == "社区诉求分布"
    page.screenshot(path=str(tmp_path / "wall-map.png"))


def test_a_region_renamed_and_reshaped_in_place_reaches_an_open_wall(page, live_server):
    """What a region re-import does (names and shapes updated in place) shows at the wall's next resync."""
    page.goto(f"{live_server.url}/wall?region={COMMUNITY}")
    page.wait_for_selector("#wall-map .textpoint text")
    code = COMMUNITY + "001"
    with _database(live_server) as connection:
        old_name, boundary = connection.execute("SELECT name, boundary FROM regions WHERE code = ?", (code,)).fetchone()
    assert any(old_name in label for label in page.evaluate(MAP_STATE, "wall-map")["labels"])
    try:
        with _database(live_server) as connection:
            connection.execute("UPDATE regions SET name = '新月湾小区', boundary = ? WHERE code = ?", (MOVED, code))
        # The wall resyncs at least every 30 s; the new name needs no restart and no reload.
        page.wait_for_function(
            "() => [...document.querySelectorAll('#wall-map .textpoint text')]"
            ".some((t) => t.textContent.includes('新月湾小区'))",
            timeout=45_000,
        )
        labels = page.evaluate(MAP_STATE, "wall-map")["labels"]
        assert not any(old_name in label for label in labels)
        drawn = page.evaluate(
            "() => document.querySelector('#wall-map .js-plotly-plot').data.some((t) => (t.x || []).includes(104.0555))"
        )
        assert drawn  # the new shape
    finally:
        with _database(live_server) as connection:
            connection.execute("UPDATE regions SET name = ?, boundary = ? WHERE code = ?", (old_name, boundary, code))
