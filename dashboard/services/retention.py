"""Retention of personal data (data/retention.toml): erase or anonymise what is past its time.

`run(database, policy, export_dir)` does it in one transaction (the exports' files after it) and
writes one audit entry saying what it erased; `run(..., dry_run=True)` counts the same and
changes nothing (`python app.py retention --dry-run`). The nightly shared job calls run.

Where personal data sits, and what happens to it:
- appeals: reporter_name, reporter_phone, address, lat, lon are blanked; the description has the
  reporter's name masked (张**) and every phone or ID number masked (domain.pii.mask_free_text).
  The appeal, its times, region, category and status stay: counts and KPIs are unchanged. The
  rows are changed by plain UPDATEs of those columns only, so no counter hook runs either.
- transitions: the notes of those appeals' steps, masked the same way (a handler may have typed
  the reporter's phone into a note).
- residents (and their archive memberships): deleted once no delivery has confirmed them.
- quarantined_records: deleted (the raw record is a whole appeal or resident, encrypted).
- audit_log: deleted past its time (a longer period than the data it speaks of).
- the exports folder: files older than their time are deleted and dropped from daily_exports.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from sqlalchemy import and_, delete, func, or_, select, update

from dashboard.domain import clock
from dashboard.domain.pii import mask_free_text, mask_name
from dashboard.domain.retention import RetentionPolicy
from dashboard.store.audit import audit_row
from dashboard.store.database import Database
from dashboard.store.models import (
    Appeal,
    AuditLog,
    DailyExport,
    QuarantinedRecord,
    Resident,
    ResidentGroup,
    Transition,
)

log = logging.getLogger(__name__)
ACTOR = "retention"
CHUNK = 1000

_appeals = Appeal.__table__
_transitions = Transition.__table__
_PERSONAL = or_(
    _appeals.c.reporter_name.is_not(None),
    _appeals.c.reporter_phone.is_not(None),
    _appeals.c.address.is_not(None),
    _appeals.c.lat.is_not(None),
    _appeals.c.lon.is_not(None),
)


def _due_appeals(cutoffs: dict[str, dt.datetime]):
    ended = func.coalesce(_appeals.c.closed_at, _appeals.c.resolved_at, _appeals.c.reported_at)
    return and_(
        _PERSONAL,
        or_(
            and_(_appeals.c.is_open.is_(False), ended < cutoffs["appeals"]),
            _appeals.c.reported_at < cutoffs["open_appeals"],
        ),
    )


def _scrub(text: str | None, name: str | None) -> str | None:
    """text with the reporter's name masked and every phone or ID number masked."""
    if text is None:
        return None
    if name and len(name) >= 2:
        text = text.replace(name, mask_name(name))
    return mask_free_text(text)


def old_export_files(folder: Path, before: dt.datetime) -> list[Path]:
    """Files in the exports folder last written before `before`."""
    if not folder.is_dir():
        return []
    cutoff = before.timestamp()
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.stat().st_mtime < cutoff)


def run(
    database: Database,
    policy: RetentionPolicy,
    export_dir: Path,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> dict:
    """Apply the policy (or, dry_run, say what it would do); returns the counts and the cut-offs."""
    now = now or clock.utcnow()
    cutoffs = policy.cutoffs(now)
    files = old_export_files(Path(export_dir), cutoffs["exports"])
    report = {
        "dry_run": dry_run,
        "cutoffs": {kind: instant.isoformat(timespec="seconds") for kind, instant in cutoffs.items()},
        "appeals_anonymised": 0,
        "transition_notes_masked": 0,
        "residents_deleted": 0,
        "quarantined_deleted": 0,
        "audit_entries_deleted": 0,
        "export_files_deleted": [str(p.relative_to(export_dir)) for p in files],
    }
    with database.transaction() as session:
        due = _due_appeals(cutoffs)
        stale_residents = Resident.updated_at < cutoffs["residents"]
        old_quarantine = QuarantinedRecord.received_at < cutoffs["quarantine"]
        old_audit = AuditLog.at < cutoffs["audit"]
        if dry_run:
            report["appeals_anonymised"] = session.scalar(select(func.count()).select_from(_appeals).where(due))
            report["transition_notes_masked"] = session.scalar(
                select(func.count())
                .select_from(_transitions)
                .where(_transitions.c.note.is_not(None), _transitions.c.appeal_id.in_(select(_appeals.c.id).where(due)))
            )
            report["residents_deleted"] = session.scalar(select(func.count()).where(stale_residents))
            report["quarantined_deleted"] = session.scalar(select(func.count()).where(old_quarantine))
            report["audit_entries_deleted"] = session.scalar(select(func.count()).where(old_audit))
            return report
        connection = session.connection()
        while True:
            rows = connection.execute(
                select(_appeals.c.id, _appeals.c.description, _appeals.c.reporter_name)
                .where(due)
                .order_by(_appeals.c.id)
                .limit(CHUNK)
            ).all()
            if not rows:
                break
            for appeal_id, description, name in rows:
                connection.execute(
                    update(_appeals)
                    .where(_appeals.c.id == appeal_id)
                    .values(
                        reporter_name=None,
                        reporter_phone=None,
                        address=None,
                        lat=None,
                        lon=None,
                        description=_scrub(description, name) or "",
                    )
                )
                for transition_id, note in connection.execute(
                    select(_transitions.c.id, _transitions.c.note).where(
                        _transitions.c.appeal_id == appeal_id, _transitions.c.note.is_not(None)
                    )
                ).all():
                    scrubbed = _scrub(note, name)
                    if scrubbed != note:
                        connection.execute(
                            update(_transitions).where(_transitions.c.id == transition_id).values(note=scrubbed)
                        )
                        report["transition_notes_masked"] += 1
            report["appeals_anonymised"] += len(rows)
        stale_ids = select(Resident.id).where(stale_residents)
        session.execute(delete(ResidentGroup).where(ResidentGroup.resident_id.in_(stale_ids)))
        report["residents_deleted"] = session.execute(delete(Resident).where(stale_residents)).rowcount or 0
        report["quarantined_deleted"] = session.execute(delete(QuarantinedRecord).where(old_quarantine)).rowcount or 0
        report["audit_entries_deleted"] = session.execute(delete(AuditLog).where(old_audit)).rowcount or 0
        deleted_names = {p.name for p in files}
        if deleted_names:
            for export in session.scalars(select(DailyExport).where(DailyExport.files.is_not(None))):
                kept = [name for name in export.files or [] if name not in deleted_names]
                if kept != (export.files or []):
                    export.files = kept
        session.add(
            audit_row(
                ACTOR,
                "retention",
                f"retention:{now.date().isoformat()}",
                "data/retention.toml: personal data past its time",
                {key: value for key, value in report.items() if key != "dry_run"},
            )
        )
    for path in files:  # after the commit: a failed transaction leaves every file in place
        try:
            path.unlink()
        except OSError as exc:
            log.warning("retention: could not delete %s (%s)", path, exc)
    log.info(
        "retention: %d appeals anonymised, %d notes masked, %d residents, %d quarantined records, "
        "%d audit entries and %d export files deleted",
        report["appeals_anonymised"],
        report["transition_notes_masked"],
        report["residents_deleted"],
        report["quarantined_deleted"],
        report["audit_entries_deleted"],
        len(files),
    )
    return report
