"""Retention (data/retention.toml): past their time, personal data are erased or anonymised everywhere,
the KPIs stay as they were, and the audit log says what was erased (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from dashboard.domain.retention import RetentionPolicy, load_policy
from dashboard.queries import kpis
from dashboard.services import retention
from dashboard.store import counters as aggregates
from dashboard.store.database import db
from dashboard.store.models import Appeal, AuditLog, DailyExport, QuarantinedRecord, Resident, Transition
from tests.conftest import DEMO_END

ROOT = Path(__file__).resolve().parent.parent
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
NOW = DEMO_END + dt.timedelta(days=165)  # the limit falls in the middle of the demo's 30 days
POLICY = RetentionPolicy(
    reporter_days=180, open_reporter_days=730, resident_days=400, quarantine_days=30, audit_days=1095, export_days=365
)
CUT = NOW - dt.timedelta(days=180)
DISTRICT = "510107"


def test_the_shipped_policy_loads_and_a_bad_one_is_refused(tmp_path):
    policy = load_policy(ROOT / "data" / "retention.toml")
    assert policy.reporter_days == 180 and policy.quarantine_days == 30 and policy.audit_days == 1095
    bad = tmp_path / "retention.toml"
    bad.write_text("[appeals]\nreporter_days = 0\n")
    with pytest.raises(ValueError, match="at least 1"):
        load_policy(bad)
    bad.write_text("[appeals]\nreporter_dayz = 10\n")
    with pytest.raises(ValueError, match="unknown"):
        load_policy(bad)


def _fixed_data(app, exports: Path) -> dict:
    """Beside the demo's appeals: a note with a phone, old and new quarantined records, residents,
    audit entries and export files on both sides of their limits."""
    with db.transaction() as session:
        old = session.scalars(
            select(Appeal)
            .where(
                Appeal.is_open.is_(False),
                Appeal.reporter_phone.is_not(None),
                func.coalesce(Appeal.closed_at, Appeal.resolved_at, Appeal.reported_at) < CUT,
            )
            .order_by(Appeal.id)
            .limit(1)
        ).one()
        note_appeal, name, phone = old.id, old.reporter_name, old.reporter_phone
        old.description = f"{old.description} 请回电{phone}，{name}"
        session.execute(
            update(Transition).where(Transition.appeal_id == old.id).values(note=f"已致电{phone}（{name}）")
        )
        for days, location in ((60, "old.csv:2"), (1, "new.csv:2")):
            session.add(
                QuarantinedRecord(
                    fingerprint=location.ljust(64, "x"),
                    received_at=NOW - dt.timedelta(days=days),
                    source="drop",
                    kind="appeal",
                    location=location,
                    raw=f'{{"reporter_phone": "{phone}"}}',
                    reason="bad",
                )
            )
        resident_ids = session.scalars(select(Resident.id).order_by(Resident.id)).all()
        assert len(resident_ids) >= 2
        half = resident_ids[: len(resident_ids) // 2]
        session.execute(update(Resident).where(Resident.id.in_(half)).values(updated_at=NOW - dt.timedelta(days=500)))
        session.execute(update(Resident).where(Resident.id.not_in(half)).values(updated_at=NOW - dt.timedelta(days=10)))
        session.add(AuditLog(at=NOW - dt.timedelta(days=1200), actor="admin", action="unmask", target="appeal:1"))
        session.add(AuditLog(at=NOW - dt.timedelta(days=10), actor="admin", action="unmask", target="appeal:2"))
        session.add(DailyExport(day=dt.date(2025, 10, 1), holder="t", files=["kpi_2025-10-01.csv"]))
    exports.mkdir(parents=True, exist_ok=True)
    for name, days in (("kpi_2025-10-01.csv", 400), ("kpi_2026-11-19.csv", 10)):
        path = exports / name
        path.write_text("day,received\n")
        stamp = (NOW - dt.timedelta(days=days)).timestamp()
        os.utime(path, (stamp, stamp))
    return {"note_appeal": note_appeal, "name": name, "phone": phone, "old_residents": len(half)}


def _all_kpis(app) -> list[dict]:
    calendar = app.extensions["work_calendar"]
    with db.session() as session:
        periods = [(DEMO_END - dt.timedelta(days=400), DEMO_END), (CUT - dt.timedelta(days=30), CUT), (CUT, DEMO_END)]
        found = [kpis.region_kpis(session, DISTRICT, start, end, calendar, now=NOW) for start, end in periods]
        for start, end in periods:
            children = kpis.child_region_kpis(session, DISTRICT, start, end, calendar, now=NOW)
            found.append(children.to_dict("records") if hasattr(children, "to_dict") else children)
        return found


def test_retention_erases_personal_data_past_its_time_and_keeps_every_kpi(demo_app, tmp_path):
    app = demo_app
    exports = tmp_path / "exports"
    data = _fixed_data(app, exports)
    before = _all_kpis(app)
    with db.session() as session:
        appeals_before = session.scalar(select(func.count()).select_from(Appeal))
        kept_contacts = session.scalar(
            select(func.count()).where(Appeal.reporter_phone.is_not(None), Appeal.reported_at >= CUT)
        )
    assert kept_contacts > 0  # the fixed data set has appeals on both sides of the limit

    planned = retention.run(db, POLICY, exports, now=NOW, dry_run=True)
    assert planned["appeals_anonymised"] > 0 and planned["residents_deleted"] == data["old_residents"]
    assert planned["quarantined_deleted"] == 1 and planned["audit_entries_deleted"] == 1
    assert planned["export_files_deleted"] == ["kpi_2025-10-01.csv"]
    with db.session() as session:  # a dry run changes nothing
        assert (
            session.scalar(
                select(func.count()).where(Appeal.reporter_phone.is_not(None), Appeal.id == data["note_appeal"])
            )
            == 1
        )
    assert (exports / "kpi_2025-10-01.csv").exists()

    done = retention.run(db, POLICY, exports, now=NOW)
    for key in (
        "appeals_anonymised",
        "residents_deleted",
        "quarantined_deleted",
        "audit_entries_deleted",
        "export_files_deleted",
    ):
        assert done[key] == planned[key], key
    assert done["transition_notes_masked"] >= 1

    ended = func.coalesce(Appeal.closed_at, Appeal.resolved_at, Appeal.reported_at)
    with db.session() as session:
        # No reporter's name, phone or address of an appeal ended before the limit, anywhere.
        past = select(Appeal).where(Appeal.is_open.is_(False), ended < CUT)
        for appeal in session.scalars(past):
            assert appeal.reporter_name is None and appeal.reporter_phone is None and appeal.address is None
            assert appeal.lat is None and appeal.lon is None
            assert not PHONE.search(appeal.description), appeal.description
        noted = session.get(Appeal, data["note_appeal"])
        assert data["phone"] not in noted.description and data["name"] not in noted.description
        notes = session.scalars(select(Transition.note).where(Transition.appeal_id == data["note_appeal"])).all()
        assert notes and all(data["phone"] not in n and data["name"] not in n for n in notes if n)
        assert (
            session.scalar(select(func.count()).where(QuarantinedRecord.received_at < NOW - dt.timedelta(days=30))) == 0
        )
        assert session.scalar(select(func.count()).select_from(QuarantinedRecord)) == 1
        assert session.scalar(select(func.count()).where(Resident.updated_at < NOW - dt.timedelta(days=400))) == 0
        assert session.scalar(select(func.count()).select_from(Resident)) > 0
        # Appeals are kept, and those inside the limit keep their contact.
        assert session.scalar(select(func.count()).select_from(Appeal)) == appeals_before
        assert (
            session.scalar(select(func.count()).where(Appeal.reporter_phone.is_not(None), Appeal.reported_at >= CUT))
            == kept_contacts
        )
        export_row = session.get(DailyExport, dt.date(2025, 10, 1))
        assert export_row.files == []
        # The audit log says what was erased.
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "retention")).one()
        assert entry.actor == "retention"
        assert entry.detail["appeals_anonymised"] == done["appeals_anonymised"]
        assert entry.detail["export_files_deleted"] == ["kpi_2025-10-01.csv"]
        assert entry.detail["residents_deleted"] == data["old_residents"]
    assert not (exports / "kpi_2025-10-01.csv").exists() and (exports / "kpi_2026-11-19.csv").exists()
    # Every KPI of the period is unchanged, read from the counters and recomputed from the appeals.
    assert _all_kpis(app) == before
    with db.engine.begin() as connection:
        aggregates.rebuild(connection, app.extensions["work_calendar"])
    assert _all_kpis(app) == before
    # A second run finds nothing more to do.
    again = retention.run(db, POLICY, exports, now=NOW, dry_run=True)
    assert again["appeals_anonymised"] == 0 and again["residents_deleted"] == 0 and again["export_files_deleted"] == []


def test_the_cli_shows_the_next_run_then_runs_it(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("CC_EXPORT_DIR", str(tmp_path / "exports"))
    dry = runner.invoke("retention", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing changed" in dry.output and "appeals anonymised" in dry.output
    real = runner.invoke("retention")
    assert real.exit_code == 0 and "retention applied" in real.output
    with db.session() as session:
        assert session.scalar(select(func.count()).where(AuditLog.action == "retention")) == 1
