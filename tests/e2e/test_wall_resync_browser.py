"""Issue 21: a wall's resync sends only what changed, and the charts are redrawn in place, only when they changed."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
import requests

pytestmark = pytest.mark.browser

# Counts each chart's redraws (Plotly's afterplot event).
WATCH = """() => {
  window.__redraws = {};
  for (const id of ['wall-map', 'wall-trend']) {
    const gd = document.querySelector('#' + id + ' .js-plotly-plot');
    window.__redraws[id] = 0;
    gd.on('plotly_afterplot', () => { window.__redraws[id] += 1; });
  }
}"""
REDRAWS = "() => Object.assign({}, window.__redraws)"


def _is_resync(response) -> bool:
    request = response.request
    return urlsplit(response.url).path == "/_dash-update-component" and '"wall-kpis' in (request.post_data or "")


def _resync_now(page, counter: int) -> dict:
    """Ask for a resync (as the wall's schedule does) and return the server's answer."""
    with page.expect_response(_is_resync, timeout=15_000) as answer:
        page.evaluate("(n) => window.dash_clientside.set_props('wall-refresh', {data: n})", counter)
    return answer.value.json()["response"]


def _post_appeal(live_server, external_id: str) -> None:
    if not hasattr(live_server, "api_key"):
        live_server.api_key = live_server.cli("apikeys", "add", "--name", "e2e", "--source", "wechat").strip()
    body = [
        {
            "external_id": external_id,
            "source": "wechat",
            "reported_at": dt.datetime.now(dt.UTC).isoformat(),
            "category": "noise",
            "priority": "extra_urgent",
            "region_code": "510107001002001",
            "description": "重算只发变化的部分",
        }
    ]
    response = requests.post(
        f"{live_server.url}/api/v1/appeals", json=body, headers={"X-API-Key": live_server.api_key}, timeout=10
    )
    assert response.status_code == 200, response.text


def test_a_resync_without_change_redraws_nothing_and_a_change_is_patched_in_place(page, live_server):
    page.goto(f"{live_server.url}/wall")
    page.wait_for_selector(".wall-connection:not(.offline)", timeout=30_000)
    page.wait_for_selector("#wall-map .main-svg")
    page.wait_for_selector("#wall-trend .main-svg")
    # The first resync (on connecting) brings everything at the screen's scale; then watch.
    _resync_now(page, 1000)
    page.wait_for_timeout(1_000)
    page.evaluate(WATCH)
    map_svg = page.evaluate_handle("() => document.querySelector('#wall-map .main-svg')")

    # Nothing changed: the charts and panels are not sent, not redrawn.
    quiet = _resync_now(page, 1001)
    for output in ("wall-map", "wall-trend", "wall-population", "wall-visits", "wall-cards"):
        assert output not in quiet, f"{output} was sent although nothing changed: {quiet.get(output)}"
    assert "wall-sla-data" in quiet and "wall-ticker-data" in quiet  # the lists' snapshots always come
    page.wait_for_timeout(1_500)
    assert page.evaluate(REDRAWS) == {"wall-map": 0, "wall-trend": 0}
    assert page.evaluate("(svg) => svg === document.querySelector('#wall-map .main-svg')", map_svg)

    # A change: a new appeal in one street. The headline and the charts that changed come as a Patch of
    # their changed values, and the charts are redrawn in place, in the same SVG (at most one redraw per
    # chart every 30 s: wait for it).
    _post_appeal(live_server, "E2E-RESYNC-1")
    counter = 1002
    sent: dict[str, dict] = {}
    # A chart is redrawn CHART_EVERY_S (30 s) after the version the wall holds: room for a loaded machine.
    deadline = dt.datetime.now() + dt.timedelta(seconds=90)
    while not {"wall-map", "wall-trend"} <= sent.keys() and dt.datetime.now() < deadline:
        answer = _resync_now(page, counter)
        sent.update({k: v for k, v in answer.items() if k in ("wall-map", "wall-trend", "wall-kpis")})
        counter += 1
        page.wait_for_timeout(2_000)
    assert {"wall-map", "wall-trend", "wall-kpis"} <= sent.keys(), sent.keys()
    for output in ("wall-map", "wall-trend", "wall-kpis"):
        prop = next(iter(sent[output].values()))
        assert "__dash_patch_update" in prop, f"{output} was sent whole: {str(prop)[:300]}"
    page.wait_for_function("() => window.__redraws['wall-map'] >= 1 && window.__redraws['wall-trend'] >= 1")
    assert page.evaluate("(svg) => svg === document.querySelector('#wall-map .main-svg')", map_svg)
    # What the wall shows is what a wall opened now shows.
    shown = page.evaluate("() => document.querySelector('#wall-map .js-plotly-plot').data.at(-1).text")
    fresh = page.context.new_page()
    fresh.goto(f"{live_server.url}/wall")
    fresh.wait_for_selector("#wall-map .main-svg")
    assert fresh.evaluate("() => document.querySelector('#wall-map .js-plotly-plot').data.at(-1).text") == shown
    fresh.close()
