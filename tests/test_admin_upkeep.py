"""/admin for a district's own data (issue 15): files uploaded and imported, and the working-day calendar's upkeep.

Through the page's Dash callbacks, as the browser posts them, on SQLite and PostgreSQL: the report
of each upload (counts, each refused record with its field and reason), its audit entry, the size
limit; the year's view of working days with its source, the override file written atomically and
audited, the calendar reloaded at once; the console's banner and the wall's marker while a year
that matters is counted Monday–Friday.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil

import pytest
from sqlalchemy import select

from dashboard.config import DATA_DIR
from dashboard.domain import clock
from dashboard.domain.roles import Role
from dashboard.domain.vocab import RegionLevel
from dashboard.domain.workcal import build_calendar, load_overrides
from dashboard.services import admin
from dashboard.services.admin import AdminError
from dashboard.store.database import db
from dashboard.store.models import Appeal, AuditLog, Region
from dashboard.ui import ids
from tests.console_support import STREET_A, add_user, dash_callback, login

COMMUNITY_A = STREET_A + "001"
# Chengdu: a district square and a street inside it (longitude, latitude; WGS-84 unless said otherwise).
DISTRICT_RING = [[104.00, 30.60], [104.10, 30.60], [104.10, 30.70], [104.00, 30.70], [104.00, 30.60]]
STREET_RING = [[104.01, 30.61], [104.05, 30.61], [104.05, 30.65], [104.01, 30.65], [104.01, 30.61]]
BOWTIE = [[104.06, 30.61], [104.09, 30.64], [104.09, 30.61], [104.06, 30.64], [104.06, 30.61]]


@pytest.fixture
def overrides_file(tmp_path):
    """A copy of the shipped override file (its comments, no year), which the tests may write."""
    path = tmp_path / "calendar" / "overrides.toml"
    path.parent.mkdir()
    shutil.copy(DATA_DIR / "calendar" / "overrides.toml", path)
    return path


@pytest.fixture
def upkeep(make_hardened_app, overrides_file):
    """The app as in production, the district and street A (without shapes), an admin and a supervisor."""
    app = make_hardened_app(CALENDAR_OVERRIDE_FILE=str(overrides_file))
    with db.transaction() as tx:
        tx.add(Region(code="510107", name="武侯区", name_en="Wuhou District", level=RegionLevel.DISTRICT))
        tx.add(Region(code=STREET_A, name="簇桥街道", level=RegionLevel.STREET, parent_code="510107"))
        tx.add(Region(code=COMMUNITY_A, name="龙井社区", level=RegionLevel.COMMUNITY, parent_code=STREET_A))
    add_user("boss", Role.ADMIN, None)
    add_user("lead", Role.SUPERVISOR, STREET_A)
    return app


@pytest.fixture
def boss(upkeep):
    client = upkeep.test_client()
    assert login(client, "boss").status_code == 302
    return client


def _output(app, component: str) -> str:
    """The callback_map key of the server callback that writes component (its outputs may carry @hashes)."""
    return next(key for key in app.extensions["dash"].callback_map if f"{component}." in key)


def data_url(content: bytes, mime: str = "text/csv") -> str:
    return f"data:{mime};base64," + base64.b64encode(content).decode()


def upload(client, app, filename, content, crs="auto", archive=None, lang="en"):
    """Post the upload callback as dcc.Upload does when a file is dropped on it."""
    contents = data_url(content) if isinstance(content, bytes) else content
    return dash_callback(
        client,
        _output(app, ids.ADMIN_IMPORT_REPORT),
        [{"id": ids.ADMIN_IMPORT_UPLOAD, "property": "contents", "value": contents}],
        [
            {"id": ids.ADMIN_IMPORT_UPLOAD, "property": "filename", "value": filename},
            {"id": ids.ADMIN_IMPORT_CRS, "property": "value", "value": crs},
            {"id": ids.ADMIN_IMPORT_ARCHIVE, "property": "value", "value": archive or []},
            {"id": ids.ADMIN_LANG, "property": "data", "value": lang},
        ],
    )


def report_text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return json.dumps(response.get_json()["response"][ids.ADMIN_IMPORT_REPORT]["children"], ensure_ascii=False)


def audit_entries(action: str) -> list[AuditLog]:
    with db.session() as session:
        return session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()


# ---------------------------------------------------------------------------- imports by upload

APPEALS = (
    "external_id,source,reported_at,category,priority,region_code,description\n"
    "UP-1,hotline_12345,2026-11-20 09:00:00,noise,ordinary,510107001001,夜间施工噪音\n"
    "UP-2,hotline_12345,2026-11-20 10:00:00,noise,ordinary,510107999001,区域代码不存在\n"
    "UP-3,hotline_12345,not a time,noise,ordinary,510107001001,时间写错了\n"
).encode()


def test_an_uploaded_feed_file_is_ingested_and_its_report_shown_and_audited(upkeep, boss):
    text = report_text(upload(boss, upkeep, "appeals_upload.csv", APPEALS))
    assert "appeals_upload.csv" in text and "appeals" in text  # the file and its kind
    for label, count in (("Read", 3), ("Created", 1), ("Refused", 2)):
        assert label in text and f'"{count:,}"' in text, label
    # Each refused record: where it is in the file, the field, and the reason.
    assert "region_code" in text and "reported_at" in text
    assert text.count("appeals_upload.csv:") >= 2 or "line" in text
    with db.session() as session:
        assert session.scalars(select(Appeal.external_id)).all() == ["UP-1"]
    (entry,) = audit_entries("import_upload")
    assert (entry.actor, entry.target) == ("boss", "file:appeals_upload.csv")
    assert entry.detail["created"] == 1 and entry.detail["quarantined"] == 2 and entry.detail["bytes"] == len(APPEALS)
    # The page's audit table is redrawn with the entry.
    again = upload(boss, upkeep, "appeals_upload.csv", APPEALS)
    audit = json.dumps(again.get_json()["response"][ids.ADMIN_AUDIT_TABLE]["children"], ensure_ascii=False)
    assert "import_upload" in audit and "file:appeals_upload.csv" in audit
    assert '"Unchanged"' in report_text(again)  # the same file again changes nothing


def test_a_file_that_cannot_be_read_is_reported_with_the_reason(upkeep, boss):
    text = report_text(upload(boss, upkeep, "notes.txt", b"hello"))
    assert "The file was not imported" in text and "notes.txt" in text
    (entry,) = audit_entries("import_upload")
    assert "file_error" in entry.detail


@pytest.mark.parametrize(
    ("filename", "contents", "message"),
    [
        ("../appeals.csv", data_url(APPEALS), "“File”: “../appeals.csv” is not a plain file name."),
        (".appeals.csv", data_url(APPEALS), "is not a plain file name"),
        ("appeals.csv", "not a data url", "“File” is not valid."),
        ("appeals.csv", "data:text/csv;base64,@@@", "“File” is not valid."),
        ("appeals.csv", data_url(b""), "“File” is empty."),
        ("appeals.csv", data_url(APPEALS), "“Coordinates (region files)” is not valid."),
    ],
)
def test_an_upload_is_refused_naming_the_reason_and_nothing_is_imported(upkeep, boss, filename, contents, message):
    crs = "mercator" if "Coordinates" in message else "auto"
    response = upload(boss, upkeep, filename, contents, crs=crs)
    assert response.status_code == 200
    assert message in report_text(response)
    assert audit_entries("import_upload") == []
    with db.session() as session:
        assert session.scalar(select(Appeal.id)) is None


def test_an_upload_larger_than_the_request_limit_allows_is_refused(make_hardened_app, overrides_file, upkeep):
    app = make_hardened_app(CALENDAR_OVERRIDE_FILE=str(overrides_file), MAX_CONTENT_LENGTH=100_000)
    client = app.test_client()
    assert login(client, "boss").status_code == 302
    limit = admin.upload_limit(100_000)
    assert limit == (100_000 - 65_536) * 3 // 4
    big = APPEALS + b"#" * (limit + 1 - len(APPEALS))
    text = report_text(upload(client, app, "appeals_big.csv", big))
    assert "“File”: larger than" in text
    # Beyond the request limit itself, Flask refuses the request before the callback runs.
    huge = upload(client, app, "appeals_huge.csv", b"x" * 200_000)
    assert huge.status_code == 413
    assert audit_entries("import_upload") == []


def _feature(code, name, ring, parent=None):
    properties = {"code": code, "name": name}
    if parent:
        properties["parent_code"] = parent
    return {"type": "Feature", "properties": properties, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def _regions_file(*features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()


def test_a_region_file_goes_to_the_region_importer_with_the_chosen_coordinates(upkeep, boss):
    shapes = _regions_file(
        _feature("510107", "武侯区", DISTRICT_RING), _feature(STREET_A, "簇桥街道（新）", STREET_RING, "510107")
    )
    text = report_text(upload(boss, upkeep, "regions_wuhou.geojson", shapes, crs="gcj02"))
    assert "regions" in text and "Refused" in text and '"0"' in text
    with db.session() as session:
        street = session.get(Region, STREET_A)
        assert street.name == "簇桥街道（新）" and street.archived_at is None
        # GCJ-02 → WGS-84 moves Chengdu's coordinates by a few hundred metres (south-west).
        assert 0.0005 < 104.03 - street.center_lon < 0.01 and 0.0005 < abs(30.63 - street.center_lat) < 0.01
    (entry,) = audit_entries("import_upload")
    assert entry.actor == "boss" and entry.detail["crs"] == "gcj02" and entry.detail["archive_missing"] is False
    assert [e.actor for e in audit_entries("import_regions")] == ["boss"]  # the importer's own entry

    # A broken file: each feature refused with its field and reason, and the community left out is reported.
    broken = _regions_file(_feature("510107", "武侯区", DISTRICT_RING), _feature(STREET_A, "簇桥", BOWTIE, "510107"))
    text = report_text(upload(boss, upkeep, "regions_broken.geojson", broken, archive=["archive"]))
    assert STREET_A in text and "geometry" in text.lower() and ("cross" in text or "intersect" in text.lower())
    assert "龙井社区" in text or COMMUNITY_A in text  # stored below the district, not in the file
    assert audit_entries("import_upload")[-1].detail["archive_missing"] is True
    # "By the file's name": a file whose name says gcj02 is taken as GCJ-02, any other as WGS-84.
    report_text(upload(boss, upkeep, "regions_wuhou_gcj02.geojson", shapes))
    report_text(upload(boss, upkeep, "regions_wuhou.geojson", shapes))
    assert [entry.detail["crs"] for entry in audit_entries("import_upload")[-2:]] == ["gcj02", "wgs84"]


def test_supervisors_cannot_upload(upkeep):
    client = upkeep.test_client()
    assert login(client, "lead").status_code == 302
    assert upload(client, upkeep, "appeals_upload.csv", APPEALS).status_code == 403
    assert upload(upkeep.test_client(), upkeep, "appeals_upload.csv", APPEALS).status_code in (401, 403)
    with db.session() as session:
        assert session.scalar(select(Appeal.id)) is None


# ---------------------------------------------------------------------------- the working-day calendar


def calendar_post(client, app, year, save=None, holidays=None, workdays=None, lang="en", trigger="year"):
    prop = {"year": f"{ids.ADMIN_CALENDAR_YEAR}.value", "save": f"{ids.ADMIN_CALENDAR_SAVE}.submit_n_clicks"}
    return dash_callback(
        client,
        _output(app, ids.ADMIN_CALENDAR_VIEW),
        [
            {"id": ids.ADMIN_CALENDAR_YEAR, "property": "value", "value": year},
            {"id": ids.ADMIN_CALENDAR_SAVE, "property": "submit_n_clicks", "value": save},
        ],
        [
            {"id": ids.ADMIN_CALENDAR_HOLIDAYS, "property": "value", "value": holidays},
            {"id": ids.ADMIN_CALENDAR_WORKDAYS, "property": "value", "value": workdays},
            {"id": ids.ADMIN_LANG, "property": "data", "value": lang},
        ],
        changed=[prop[trigger]],
    )


def answer(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return {key: json.dumps(value, ensure_ascii=False) for key, value in response.get_json()["response"].items()}


# The 2027 schedule as an operator types it (an example, not the official one).
HOLIDAYS_2027 = "2027-01-01\n2027-02-05..2027-02-11, 2027-04-05\n2027-05-03~2027-05-05\n2027-10-01至2027-10-07"
WORKDAYS_2027 = "2027-02-20, 2027-09-26\n2027-10-09"


def test_the_year_view_shows_each_years_source(upkeep, boss):
    library = answer(calendar_post(boss, upkeep, 2026))
    assert "2026: library (chinesecalendar)" in library[ids.ADMIN_CALENDAR_VIEW]
    # 2026's official schedule, as the library holds it: Oct 1–7 off (the weekdays among them listed),
    # Sep 20 and Oct 10 (weekend days) worked.
    holidays = library[ids.ADMIN_CALENDAR_HOLIDAYS]
    assert "2026-10-01" in holidays and "2026-10-07" in holidays and "2026-10-03" not in holidays
    assert "2026-09-20" in library[ids.ADMIN_CALENDAR_WORKDAYS] and "2026-10-10" in library[ids.ADMIN_CALENDAR_WORKDAYS]
    fallback = answer(calendar_post(boss, upkeep, 2027))
    assert "2027: Monday–Friday fallback" in fallback[ids.ADMIN_CALENDAR_VIEW]
    assert json.loads(fallback[ids.ADMIN_CALENDAR_HOLIDAYS]) == {"value": ""}
    assert "cal-source-fallback" in fallback[ids.ADMIN_CALENDAR_VIEW]
    # A year outside the calendar's range is not one the page offers.
    assert calendar_post(boss, upkeep, 1999).status_code == 400
    assert calendar_post(boss, upkeep, "2027").status_code == 400


def test_saving_a_year_writes_the_override_file_atomically_audits_and_reloads(upkeep, boss, overrides_file):
    header = overrides_file.read_text()
    os.chmod(overrides_file, 0o640)
    before = upkeep.extensions["work_calendar"]
    assert before.source_by_year[2027] == "fallback" and before.is_working_day(dt.date(2027, 2, 8))
    saved = answer(calendar_post(boss, upkeep, 2027, 1, HOLIDAYS_2027, WORKDAYS_2027, trigger="save"))
    assert "2027 saved: 19 holidays, 3 make-up working days" in saved[ids.ADMIN_CALENDAR_FEEDBACK]
    assert "2027: override file" in saved[ids.ADMIN_CALENDAR_VIEW]
    assert "calendar_save" in saved[ids.ADMIN_AUDIT_TABLE]
    # The file: its comments kept, the year's table added, readable by the calendar; nothing left beside it.
    text = overrides_file.read_text()
    assert text.startswith(header.rstrip()) and "[2027]" in text
    assert os.stat(overrides_file).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in overrides_file.parent.iterdir()) == ["overrides.toml"]
    holidays, workdays = load_overrides(overrides_file)[2027]
    assert len(holidays) == 19 and dt.date(2027, 2, 11) in holidays and dt.date(2027, 10, 7) in holidays
    assert workdays == {dt.date(2027, 2, 20), dt.date(2027, 9, 26), dt.date(2027, 10, 9)}
    # The calendar is reloaded at once in this process.
    calendar = upkeep.extensions["work_calendar"]
    assert calendar is not before and calendar.source_by_year[2027] == "override"
    assert not calendar.is_working_day(dt.date(2027, 2, 8)) and calendar.is_working_day(dt.date(2027, 2, 20))
    # Audited: who, which year, what was entered.
    (entry,) = audit_entries("calendar_save")
    assert (entry.actor, entry.target) == ("boss", "calendar:2027")
    assert entry.detail["workdays"] == ["2027-02-20", "2027-09-26", "2027-10-09"] and entry.detail["before"] is None
    # The form shows what the file holds; saving the same again is refused as unchanged.
    view = answer(calendar_post(boss, upkeep, 2027))
    assert "2027-02-05\\n2027-02-06" in view[ids.ADMIN_CALENDAR_HOLIDAYS]
    same = answer(calendar_post(boss, upkeep, 2027, 2, HOLIDAYS_2027, WORKDAYS_2027, trigger="save"))
    assert "already holds this for 2027" in same[ids.ADMIN_CALENDAR_FEEDBACK]
    # Both lists emptied: the year leaves the file and falls back again.
    removed = answer(calendar_post(boss, upkeep, 2027, 3, "", "", trigger="save"))
    assert "2027 removed from the override file" in removed[ids.ADMIN_CALENDAR_FEEDBACK]
    assert load_overrides(overrides_file) == {} and overrides_file.read_text().startswith(header.rstrip())
    assert upkeep.extensions["work_calendar"].source_by_year[2027] == "fallback"
    assert [e.action for e in audit_entries("calendar_remove")] == ["calendar_remove"]


@pytest.mark.parametrize(
    ("year", "holidays", "workdays", "field", "key"),
    [
        (2027, "2026-12-31", "", "holidays", "date_outside_year"),
        (2027, "2027-02-30", "", "holidays", "date_format"),
        (2027, "tomorrow", "", "holidays", "date_format"),
        (2027, "2027-02-10..2027-02-05", "", "holidays", "date_range"),
        (2027, "2027-01-01..2027-12-31", "2027-02-06", "workdays", "date_both"),
        (2027, "2027-01-01", "2028-01-01", "workdays", "date_outside_year"),
        (2027, "", "", "holidays", "calendar_empty"),
        (1999, "1999-01-01", "", "year", "year_range"),
        (None, "2027-01-01", "", "year", "required"),
        (2027, ["2027-01-01"], "", "holidays", "invalid"),
    ],
)
def test_the_calendar_form_refuses_each_bad_input_naming_its_field(
    upkeep, overrides_file, year, holidays, workdays, field, key
):
    before = overrides_file.read_text()
    with upkeep.app_context(), pytest.raises(AdminError) as refused:
        admin.save_calendar_year("boss", overrides_file, year, holidays, workdays)
    assert (refused.value.field, refused.value.key) == (field, key)
    assert overrides_file.read_text() == before
    assert audit_entries("calendar_save") == []


def test_a_refusal_shows_in_the_page_and_changes_nothing(upkeep, boss, overrides_file):
    before = overrides_file.read_text()
    both = answer(calendar_post(boss, upkeep, 2027, 1, "2027-02-06", "2027-02-06", trigger="save"))
    assert "2027-02-06 cannot be both a holiday and a working day" in both[ids.ADMIN_CALENDAR_FEEDBACK]
    assert "“Make-up working days (调休)”" in both[ids.ADMIN_CALENDAR_FEEDBACK]
    assert overrides_file.read_text() == before and audit_entries("calendar_save") == []


def test_a_broken_override_file_is_reported_not_overwritten(upkeep, boss, overrides_file):
    overrides_file.write_text("[2027]\nholidays = [\n")
    refused = answer(calendar_post(boss, upkeep, 2027, 1, "2027-01-01", "", trigger="save"))
    assert "“Override file” cannot be read" in refused[ids.ADMIN_CALENDAR_FEEDBACK]
    assert overrides_file.read_text() == "[2027]\nholidays = [\n"


def test_an_override_file_the_server_cannot_write_is_reported(upkeep, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # the override file's "folder" is a file: nothing can be written there
    with upkeep.app_context(), pytest.raises(AdminError) as refused:
        admin.save_calendar_year("boss", blocked / "overrides.toml", 2027, "2027-01-01", "")
    assert (refused.value.field, refused.value.key) == ("calendar_file", "calendar_file_write")
    assert "“Override file” cannot be written by the server" in refused.value.message("en")
    assert audit_entries("calendar_save") == []


def test_a_failed_write_leaves_the_file_and_the_audit_log_as_they_were(upkeep, overrides_file, monkeypatch):
    before = overrides_file.read_text()

    def disk_full(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(admin, "_write_atomically", disk_full)
    with upkeep.app_context(), pytest.raises(AdminError) as refused:
        admin.save_calendar_year("boss", overrides_file, 2027, "2027-01-01", "")
    assert (refused.value.field, refused.value.key) == ("calendar_file", "calendar_file_write")
    assert "No space left" in refused.value.message("en")
    assert overrides_file.read_text() == before and audit_entries("calendar_save") == []


def test_supervisors_cannot_change_the_calendar(upkeep, overrides_file):
    client = upkeep.test_client()
    assert login(client, "lead").status_code == 302
    before = overrides_file.read_text()
    assert calendar_post(client, upkeep, 2027, 1, HOLIDAYS_2027, "", trigger="save").status_code == 403
    assert overrides_file.read_text() == before


# ---------------------------------------------------------------------------- the warnings


def test_fallback_soon_is_this_year_or_next_within_30_days():
    calendar = build_calendar()  # the library knows 2026, not 2027
    assert calendar.fallback_soon(dt.date(2026, 11, 30)) == []  # 32 days before 2027
    assert calendar.fallback_soon(dt.date(2026, 12, 2)) == [2027]  # 30 days before
    assert calendar.fallback_soon(dt.date(2027, 6, 1)) == [2027]
    assert calendar.fallback_soon(dt.date(2027, 12, 15)) == [2027, 2028]
    assert calendar.fallback_soon(dt.date(2025, 12, 15)) == []


def _pin_clock(monkeypatch, day: dt.date) -> None:
    instant = dt.datetime(day.year, day.month, day.day, 4, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(clock, "utcnow", lambda: instant)


def _console_page(app, client, lang="en") -> str:
    response = dash_callback(
        client,
        ".._pages_content.children..._pages_store.data..",
        [
            {"id": "_pages_location", "property": "pathname", "value": "/drill"},
            {"id": "_pages_location", "property": "search", "value": f"?lang={lang}"},
        ],
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.dumps(response.get_json(), ensure_ascii=False)


def test_the_console_warns_while_a_year_that_matters_falls_back(upkeep, boss, monkeypatch):
    _pin_clock(monkeypatch, dt.date(2026, 11, 20))
    assert ids.CONSOLE_CALENDAR_BANNER not in _console_page(upkeep, boss)
    _pin_clock(monkeypatch, dt.date(2026, 12, 10))
    page = _console_page(upkeep, boss)
    assert ids.CONSOLE_CALENDAR_BANNER in page
    assert "no official holiday schedule for 2027" in page and "#admin-calendar" in page  # the admin's way to fix it
    lead = upkeep.test_client()
    assert login(lead, "lead").status_code == 302
    zh = _console_page(upkeep, lead, "zh")
    assert "2027年尚无官方放假安排" in zh and "#admin-calendar" not in zh
    # Once the schedule is entered, the warning goes.
    answer(calendar_post(boss, upkeep, 2027, 1, HOLIDAYS_2027, WORKDAYS_2027, trigger="save"))
    assert ids.CONSOLE_CALENDAR_BANNER not in _console_page(upkeep, boss)


def test_the_wall_shows_a_small_marker_for_the_same(upkeep, monkeypatch):
    from dashboard.queries import wall as wall_query
    from layouts import wall as wall_layout

    with upkeep.test_request_context("/wall"):
        for day, shown in ((dt.date(2026, 11, 20), False), (dt.date(2026, 12, 10), True)):
            now = dt.datetime(day.year, day.month, day.day, 4, tzinfo=dt.UTC)
            view = wall_query.read(STREET_A, "zh", now=now)
            assert view.calendar_fallback == ((2027,) if shown else ())
            page = str(wall_layout.render(view, "delta"))
            assert (ids.WALL_CALENDAR_MARKER in page) == shown
            if shown:
                assert "2027年日历：按周一至周五" in page
