"""From an empty machine to a district's own data on the wall (issue 15), as docs/ONBOARDING.md tells it.

`python app.py init` on an empty SQLite database (demo mode off, a secret key, plain HTTP), the
sample files of data/samples/ imported with `python app.py ingest`, a wall token from
`python app.py walltokens add`, then `python app.py serve` and headless Chromium: the wall shows
the imported district, its streets and its population, and nothing of the demo generator's is
anywhere, in the page or in the database. The admin then logs in and imports a file again through
the upload on /admin.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import tomllib

import pytest

from dashboard.config import DATA_DIR, ROOT
from tests.e2e.support import LiveServer

pytestmark = pytest.mark.browser

SAMPLES = DATA_DIR / "samples"
# In the order docs/ONBOARDING.md imports them: the regions first, then what refers to them.
SAMPLE_FILES = [
    "regions_wuhou.geojson",
    "departments_wuhou.csv",
    "teams_wuhou.csv",
    "staff_wuhou.csv",
    "visits_wuhou.csv",
    "population_wuhou.csv",
]
ADMIN, ADMIN_PASSWORD = "admin", "onboarding admin password"
# Tables only the demo generator or feeds fill: an onboarded district starts with none of these.
NOT_IMPORTED = ("appeals", "transitions", "residents", "resident_groups", "businesses", "quarantined_records")


def _reports(output: str) -> list[dict]:
    """The JSON reports `python app.py ingest` prints, one per file."""
    decoder, reports, text = json.JSONDecoder(), [], output
    while text.strip():
        text = text.lstrip()
        if not text.startswith("{"):
            text = text.split("\n", 1)[1] if "\n" in text else ""
            continue
        report, end = decoder.raw_decode(text)
        reports.append(report)
        text = text[end:]
    return reports


def _sample_regions() -> dict[str, str]:
    features = json.loads((SAMPLES / "regions_wuhou.geojson").read_text(encoding="utf-8"))["features"]
    return {feature["properties"]["code"]: feature["properties"]["name"] for feature in features}


def _sample_population() -> int:
    with (SAMPLES / "population_wuhou.csv").open(encoding="utf-8-sig", newline="") as handle:
        return sum(int(row["实有人口"]) for row in csv.DictReader(handle))


def _demo_names(imported: set[str]) -> set[str]:
    """Street and community names the demo generator uses that the sample files do not."""
    with (DATA_DIR / "demo" / "wuhou.toml").open("rb") as handle:
        demo = tomllib.load(handle)
    names = {street["name"] for street in demo["streets"]}
    names |= {community for street in demo["streets"] for community in street.get("communities", [])}
    return {name for name in names - imported if len(name) >= 3}


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory):
    """init → ingest the samples → a wall token → serve, as a production install over plain HTTP."""
    for name in SAMPLE_FILES:
        if not (SAMPLES / name).exists():
            pytest.fail(f"sample file data/samples/{name} is missing (issue 15, item 6)")
    workdir = tmp_path_factory.mktemp("onboarding")
    server = LiveServer(workdir)
    server.env.update(
        {
            "CC_DATABASE_URL": f"sqlite:///{workdir / 'district.db'}",
            "CC_DEMO_MODE": "0",
            "CC_SECRET_KEY": "onboarding-e2e-secret-key",
            "CC_INSECURE_COOKIES": "1",  # plain HTTP on 127.0.0.1: the session and wall cookies are not Secure
            "CC_DROP_DIR": str(workdir / "dropbox"),
            "CC_SIMULATOR_RATE": "0",
        }
    )
    created = server.cli("init", "--admin-username", ADMIN, "--admin-password", ADMIN_PASSWORD)
    assert f"admin {ADMIN} created" in created and "python app.py ingest regions_" in created
    reports = _reports(server.cli("ingest", *(str((SAMPLES / name).relative_to(ROOT)) for name in SAMPLE_FILES)))
    assert [report["file"] for report in reports] == SAMPLE_FILES
    for report in reports:
        assert "file_error" not in report and report["quarantined"] == 0, report
        assert report["created"] == report["read"] > 0, report
    district = next(code for code in _sample_regions() if len(code) == 6)
    token = server.cli("walltokens", "add", "--name", "hall-led-1", "--region", district).strip().splitlines()[-1]
    assert token.startswith("wall_")
    server.start()
    yield server, token, district, {report["file"]: report for report in reports}
    server.stop()


def _database(server) -> sqlite3.Connection:
    return sqlite3.connect(server.env["CC_DATABASE_URL"].removeprefix("sqlite:///"))


def test_the_database_holds_only_what_was_imported(onboarded):
    server, _token, district, reports = onboarded
    regions = _sample_regions()
    with _database(server) as connection:
        stored = dict(connection.execute("SELECT code, name FROM regions").fetchall())
        counts = {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (*NOT_IMPORTED, "departments", "teams", "staff", "visit_items", "population_aggregates")
        }
        users = connection.execute("SELECT username, role, region_code FROM users").fetchall()
        tokens = connection.execute("SELECT name, region_code FROM wall_tokens").fetchall()
    assert stored == regions
    assert {table: counts[table] for table in NOT_IMPORTED} == dict.fromkeys(NOT_IMPORTED, 0)
    assert counts["departments"] == reports["departments_wuhou.csv"]["created"]
    assert counts["teams"] == reports["teams_wuhou.csv"]["created"]
    assert counts["staff"] == reports["staff_wuhou.csv"]["created"]
    assert counts["visit_items"] == reports["visits_wuhou.csv"]["created"]
    assert counts["population_aggregates"] == reports["population_wuhou.csv"]["created"]
    assert users == [(ADMIN, "admin", None)]
    assert tokens == [("hall-led-1", district)]


def test_the_wall_shows_the_imported_district_and_its_population(onboarded, page):
    server, token, district, _reports = onboarded
    regions = _sample_regions()
    page.goto(f"{server.url}/wall?token={token}")
    page.wait_for_selector("#wall-residents")
    assert "token=" not in page.url  # exchanged for the HttpOnly cookie
    page.wait_for_selector("#wall-map .main-svg")
    page.wait_for_selector(".wall-connection:not(.offline)", timeout=15_000)
    html = page.content()
    visible = page.locator("body").inner_text()
    assert regions[district] in page.locator(".wall-title").inner_text()
    streets = [name for code, name in regions.items() if len(code) == 9]
    assert streets and all(name in html for name in streets), [name for name in streets if name not in html]
    residents = int(page.locator("#wall-residents").inner_text().replace(",", ""))
    assert residents == _sample_population()
    # Nothing of the demo generator's: none of its other street or community names, anywhere.
    demo = _demo_names(set(regions.values()))
    assert demo and not [name for name in demo if name in html or name in visible]
    # A phone number of the staff file never reaches the wall.
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", html)


def test_the_admin_logs_in_and_imports_a_file_through_the_upload(onboarded, page):
    server, _token, _district, reports = onboarded
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{server.url}/login?lang=en")
    page.fill("input[name=username]", ADMIN)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/drill"))
    page.goto(f"{server.url}/admin?lang=en")
    page.wait_for_selector("#admin-imports")
    page.wait_for_selector("#admin-calendar .cal-month")
    page.set_input_files("#admin-import-upload input[type=file]", str(SAMPLES / "visits_wuhou.csv"))
    report = page.locator("#admin-import-report .admin-import-report")
    report.wait_for(timeout=30_000)
    text = report.inner_text()
    assert "visits_wuhou.csv" in text and "Unchanged" in text, text
    assert f"{reports['visits_wuhou.csv']['read']:,}" in text
    page.wait_for_function(
        "() => document.getElementById('admin-audit-table').textContent.includes('file:visits_wuhou.csv')"
    )
    assert not [error for error in errors if "callback" in error.lower() or "duplicate" in error.lower()], errors
