"""Ingest error reasons quote the input; they leave the server (reports, the quarantine list), so
numbers in them are masked, except the codes an operator needs to fix a record (issue 18)."""

from __future__ import annotations

from sqlalchemy import select

from dashboard.services.ingest.readers import RawRecord
from dashboard.store.database import db
from dashboard.store.models import QuarantinedRecord

PHONE = "13698765432"


def _record(**fields) -> RawRecord:
    base = {
        "external_id": "R-1",
        "source": "hotline_12345",
        "reported_at": "2026-11-10 09:00:00",
        "category": "noise",
        "priority": "ordinary",
        "region_code": "510107001001001",
        "description": "楼上噪音",
    }
    return RawRecord(location="test:1", fields={**base, **fields}, raw_source="")


def _compound() -> str:
    from dashboard.domain.vocab import RegionLevel
    from dashboard.store.models import Region

    with db.session() as session:
        return session.scalar(select(Region.code).where(Region.level == RegionLevel.COMPOUND).limit(1))


def test_a_phone_number_in_a_wrong_field_is_masked_in_the_reason(demo_app):
    app = demo_app
    record = _record(reported_at=f"电话{PHONE}", region_code=_compound())
    report = app.extensions["ingestor"].ingest([record], "appeal", source="test")
    assert report.quarantined == 1
    text = str(report.as_dict())
    assert PHONE not in text and "reported_at" in text
    with db.session() as session:
        reasons = [row.reason for row in session.scalars(select(QuarantinedRecord))]
    assert reasons and all(PHONE not in reason for reason in reasons)


def test_a_region_code_stays_readable_in_the_reason(app):
    report = app.extensions["ingestor"].ingest([_record(region_code="510107009009009")], "appeal", source="test")
    assert report.quarantined == 1
    assert "510107009009009" in str(report.as_dict())
