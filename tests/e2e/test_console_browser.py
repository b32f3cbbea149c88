"""Supervisors in headless Chromium: log in, drill through four levels, go back, filter, open, export."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
PASSWORD = "console-test-password"


@pytest.fixture(scope="module")
def users(live_server):
    live_server.cli("users", "add", "--username", "district-lead", "--role", "admin", "--password", PASSWORD)
    live_server.cli(
        "users",
        "add",
        "--username",
        "street-lead",
        "--role",
        "supervisor",
        "--region",
        "510107001001",
        "--password",
        PASSWORD,
    )
    return live_server


def _login(page, server, username: str) -> None:
    page.goto(f"{server.url}/login?next=/drill")
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#drill-breadcrumb")


def _depth(page, depth: int) -> None:
    page.wait_for_function(
        "(n) => document.querySelectorAll('#drill-breadcrumb .console-crumb-sep').length === n", arg=depth
    )


def _region(page) -> str:
    """The region the page shows: the breadcrumb's last item."""
    return page.locator("#drill-breadcrumb .console-crumb-current").get_attribute("id").removeprefix("crumb-")


def test_drill_down_four_levels_and_back(page, users):
    _login(page, users, "district-lead")
    assert _region(page) == "510107"
    district_received = page.locator("#kpi-received").inner_text()
    for depth in (1, 2, 3):  # district → street → community → compound, by clicking the bars
        before = page.url
        page.locator("#drill-children .bars .point path").first.click(force=True)
        page.wait_for_function("(u) => location.href !== u", arg=before)
        _depth(page, depth)
        assert len(_region(page)) == {1: 9, 2: 12, 3: 15}[depth]
    assert page.locator("#drill-children").count() == 0  # a compound has nothing below it
    compound_received = page.locator("#kpi-received").inner_text()
    assert int(compound_received.replace(",", "")) < int(district_received.replace(",", ""))
    page.go_back()  # the browser's back button: one level up
    _depth(page, 2)
    assert len(_region(page)) == 12 and f"region={_region(page)}" in page.url
    page.go_forward()
    _depth(page, 3)
    page.locator("#drill-breadcrumb a.console-crumb").nth(1).click()  # breadcrumb: up to the street
    _depth(page, 1)
    assert _region(page) == "510107001"
    page.locator("#drill-breadcrumb a.console-crumb").first.click()
    _depth(page, 0)
    assert page.locator("#kpi-received").inner_text() == district_received


def test_filter_cross_filter_open_and_export(page, users):
    _login(page, users, "district-lead")
    total = int(page.locator("#kpi-received").inner_text().replace(",", ""))
    # Cross-filter: a click on a priority bar filters every other chart and the KPIs.
    before = page.url
    page.locator("#drill-by-priority .bars .point path").first.click(force=True)
    page.wait_for_function("(u) => location.href !== u", arg=before)
    page.wait_for_function(
        "(t) => document.querySelector('#kpi-received') && document.querySelector('#kpi-received').innerText !== t",
        arg=f"{total:,}",
    )
    filtered = int(page.locator("#kpi-received").inner_text().replace(",", ""))
    assert "priority=" in page.url and 0 < filtered < total
    # A filter control: only overdue appeals.
    before = page.url
    page.locator("#drill-overdue input").check()
    page.wait_for_function("(u) => location.href !== u", arg=before)
    assert "overdue=1" in page.url
    page.wait_for_selector("#drill-grid .ag-row a")
    # Export the filtered list: masked, and the same rows the grid counts.
    with page.expect_download() as download:
        page.click("#drill-export-csv")
    text = download.value.path().read_text(encoding="utf-8-sig")
    assert text.startswith("编号,上报时间") and not PHONE.search(text)
    with page.expect_download() as download:
        page.click("#drill-export-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")
    # Open one appeal: its whole timeline.
    first_id = page.locator("#drill-grid .ag-row a").first.inner_text()
    assert first_id in text
    page.locator("#drill-grid .ag-row a").first.click()
    page.wait_for_selector("#appeal-timeline li")
    assert page.url.endswith(f"/appeal/{first_id}")
    assert "超期" in page.locator("#appeal-clock").inner_text()
    assert not PHONE.search(page.content())


def test_street_supervisor_is_kept_to_their_region(page, users):
    _login(page, users, "street-lead")
    assert _region(page) == "510107001001"
    page.goto(f"{users.url}/drill?region=510107001002")
    page.wait_for_selector(".console-denied")
    assert "不在您的管辖范围内" in page.inner_text(".console-denied")
    assert page.locator("#nav-admin").count() == 0


def test_anonymous_is_asked_to_log_in(page, users):
    page.goto(f"{users.url}/drill")
    page.wait_for_selector("#console-login-link")
    assert page.locator("#drill-breadcrumb").count() == 0
