"""JSON API under /api/v1: bulk appeal ingest, workflow transitions, quarantine."""

from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dashboard.domain import clock
from dashboard.domain.credentials import hash_api_key
from dashboard.domain.localday import period
from dashboard.domain.overdue import state_moment
from dashboard.domain.regions import level_of
from dashboard.domain.vocab import QuarantineStatus, Satisfaction, TransitionAction
from dashboard.domain.workcal import FIRST_YEAR, LAST_YEAR
from dashboard.queries.kpis import region_kpis
from dashboard.services.ingest.readers import RawRecord
from dashboard.services.ingest.records import RecordError, masked_raw, normalise_headers, parse_enum, parse_instant
from dashboard.services.workflow import Step, TransitionError, allowed_actions, apply
from dashboard.store.database import db
from dashboard.store.models import ApiKey, Appeal, QuarantinedRecord, Region
from dashboard.web.security import ingest_rate

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
# Ids beyond their column's range would reach the database as an error: they are a 404.
MAX_BIGINT = 2**63 - 1  # appeals
MAX_INTEGER = 2**31 - 1  # quarantined records


def api_key_from(value: str | None) -> ApiKey | None:
    """The active key with that value, or None."""
    if not value:
        return None
    with db.session() as session:
        return session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(value), ApiKey.revoked_at.is_(None)))


def error(status: int, message: str, **extra):
    """A JSON error body with the HTTP status."""
    return jsonify({"error": message, **extra}), status


PUBLIC_ENDPOINTS = {"api_v1.openapi_document"}


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI document of this API (public: it describes, it holds no data)."""
    from dashboard.web.openapi import document

    return jsonify(document())


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _no_such_route(exc):
    # Under /api/v1 an unknown path, or a method no API route takes, is a JSON 404 (not the HTML
    # 405 that the Dash page route, which takes GET on every path, would otherwise answer).
    if request.path.startswith(bp.url_prefix + "/"):
        return error(404, f"no such API route: {request.method} {request.path}")
    return exc


@bp.before_request
def require_api_key():
    """Every /api/v1 route but the document needs a valid, unrevoked key in X-API-Key."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    key = api_key_from(request.headers.get("X-API-Key"))
    if key is None:
        return error(401, "a valid X-API-Key header is required")
    g.api_key = key
    return None


def _records_from_body() -> list[RawRecord]:
    """A JSON array (or {"records": [...]}) or NDJSON body as raw records."""
    body = request.get_data(as_text=True)
    if not body.strip():
        raise RecordError(None, "the request body is empty")
    content_type = (request.content_type or "").split(";")[0].strip()
    if content_type in ("application/x-ndjson", "application/jsonl", "application/ndjson"):
        from dashboard.services.ingest.readers import read_ndjson_text

        return list(read_ndjson_text(body, "appeal", "request"))
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise RecordError(None, f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except (ValueError, RecursionError):  # a number of over 4300 digits; nesting deeper than the stack
        raise RecordError(None, "the body is not JSON this service accepts (too long a number or too deep)") from None
    if isinstance(document, dict) and isinstance(document.get("records"), list):
        document = document["records"]
    if not isinstance(document, list):
        raise RecordError(None, "expected a JSON array of appeals")
    records = []
    for index, obj in enumerate(document, start=1):
        location = f"request record {index}"
        raw = json.dumps(obj, ensure_ascii=False, default=str)
        if not isinstance(obj, dict):
            records.append(RawRecord(location, None, raw, RecordError(None, "is not a JSON object")))
            continue
        names, _unknown = normalise_headers("appeal", list(obj))
        records.append(RawRecord(location, {n: v for n, v in zip(names, obj.values(), strict=True) if n}, raw))
    return records


@bp.post("/appeals")
def ingest_appeals():
    """Bulk ingest: each appeal lands once; invalid ones are quarantined and explained."""
    rate = ingest_rate(g.api_key.id)
    if not rate.allowed:
        body, status = error(429, rate.message, retry_after=rate.retry_after)
        return body, status, {"Retry-After": str(rate.retry_after)}
    try:
        records = _records_from_body()
    except RecordError as exc:
        return error(400, exc.message)
    report = current_app.extensions["ingestor"].ingest(records, "appeal", source=f"api:{g.api_key.name}")
    return jsonify(report.as_dict()), 200


def _appeal_state(appeal: Appeal) -> dict:
    return {
        "id": appeal.id,
        "status": appeal.status.value,
        "level": appeal.level.value,
        "is_open": appeal.is_open,
        "deadline_at": appeal.deadline_at.isoformat(),
        "allowed_actions": allowed_actions(appeal),
    }


@bp.post("/appeals/<int:appeal_id>/transitions")
def post_transition(appeal_id: int):
    """Apply a workflow step; 409 with the allowed steps when it is not allowed now."""
    if appeal_id > MAX_BIGINT:
        return error(404, f"appeal {appeal_id} does not exist")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "expected a JSON object with at least 'action'")
    timezone = current_app.extensions["work_calendar"].timezone
    now = dt.datetime.now(dt.UTC)
    try:
        action = parse_enum("action", body.get("action"), TransitionAction)
        if action in (TransitionAction.REPORT,):
            raise RecordError("action", "'report' happens on ingest, not as a transition")
        at = parse_instant("at", body.get("at"), timezone, now) or now
        satisfaction = parse_enum("satisfaction", body.get("satisfaction"), Satisfaction, required=False)
        duplicate_of = body.get("duplicate_of")
        if duplicate_of is not None and (
            isinstance(duplicate_of, bool) or not isinstance(duplicate_of, int) or not 1 <= duplicate_of <= MAX_BIGINT
        ):
            raise RecordError("duplicate_of", "must be an appeal id (integer)")
    except RecordError as exc:
        return error(400, str(exc), field=exc.field)
    # Whoever the feed says acted, the key that sent it is always on record.
    actor = f"api:{g.api_key.name}" + (f"/{str(body['actor'])[:40]}" if body.get("actor") else "")
    with db.session() as session:
        appeal = session.get(Appeal, appeal_id, with_for_update=True)
        if appeal is None:
            return error(404, f"appeal {appeal_id} does not exist")
        step = Step(action, actor, at, body.get("note"), body.get("department"), satisfaction, duplicate_of)
        try:
            transition = apply(session, appeal, step)
            session.commit()
        except TransitionError as exc:
            session.rollback()
            return error(409, str(exc), allowed_actions=exc.allowed, appeal=_appeal_state(appeal))
        except IntegrityError:
            # Another step on this appeal was committed between our read and our write.
            session.rollback()
            return error(409, f"appeal {appeal_id} changed at the same moment; read it again and retry")
        return jsonify({"appeal": _appeal_state(appeal), "transition": {"seq": transition.seq, "action": action.value}})


@bp.get("/kpis")
def kpis():
    """BRIEF §5 KPIs for a region and a local day (?date=) or range of days (?from=&to=, inclusive)."""
    region_code = request.args.get("region", "")
    try:
        level_of(region_code)
    except ValueError as exc:
        return error(400, str(exc), field="region")
    calendar = current_app.extensions["work_calendar"]
    try:
        if request.args.get("date"):
            first = last = dt.date.fromisoformat(request.args["date"])
        else:
            first = dt.date.fromisoformat(request.args["from"])
            last = dt.date.fromisoformat(request.args["to"])
    except (KeyError, ValueError):
        return error(400, "give date=YYYY-MM-DD, or from=YYYY-MM-DD and to=YYYY-MM-DD", field="date")
    if last < first:
        return error(400, "'to' is before 'from'", field="to")
    if (last - first).days > 366:
        return error(400, "a range may span at most 367 days", field="to")
    if not (first.year >= FIRST_YEAR and last.year <= LAST_YEAR):
        return error(400, f"dates must fall in {FIRST_YEAR}–{LAST_YEAR}", field="date")
    start, end = period(first, last, calendar)
    now = clock.utcnow()
    with db.session() as session:
        if session.get(Region, region_code) is None:
            return error(404, f"region {region_code} does not exist")
        values = region_kpis(session, region_code, start, end, calendar, now=now)
    # A period that has not ended is answered as of now (its states, like overdue_open, read now).
    as_of = {"as_of": state_moment(end, now).isoformat()} if end > now else {}
    return jsonify({"region": region_code, "from": first.isoformat(), "to": last.isoformat(), **values, **as_of})


@bp.get("/quarantine")
def list_quarantine():
    """Quarantined records, newest first (pending unless ?status= says otherwise)."""
    status = request.args.get("status", QuarantineStatus.PENDING.value)
    if status not in set(QuarantineStatus):
        return error(400, f"status must be one of: {', '.join(QuarantineStatus)}", field="status")
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 1000)
    except ValueError:
        return error(400, "limit must be a whole number", field="limit")
    with db.session() as session:
        rows = session.scalars(
            select(QuarantinedRecord)
            .where(QuarantinedRecord.status == status)
            .order_by(QuarantinedRecord.id.desc())
            .limit(limit)
        ).all()
    return jsonify([quarantine_view(row) for row in rows])


def quarantine_view(row: QuarantinedRecord) -> dict:
    """A quarantined record for an operator: where, why, and the raw input with personal data masked."""
    vault = current_app.extensions["ingestor"].vault
    return {
        "id": row.id,
        "received_at": row.received_at.isoformat(),
        "source": row.source,
        "kind": row.kind,
        "location": row.location,
        "field": row.field,
        "reason": row.reason,
        "status": row.status.value,
        "raw": masked_raw(row.kind, vault.decrypt_text(row.raw)),
    }


@bp.post("/quarantine/<int:record_id>/replay")
def replay_quarantined(record_id: int):
    """Ingest a corrected version of a quarantined record; mark it replayed when it lands."""
    if record_id > MAX_INTEGER:
        return error(404, f"quarantined record {record_id} does not exist")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "expected the corrected record as a JSON object")
    from dashboard.services.ingest.service import replay

    try:
        result = replay(current_app.extensions["ingestor"], record_id, body, actor=f"api:{g.api_key.name}")
    except LookupError as exc:
        return error(404, str(exc))
    return jsonify(result), 200 if result["replayed"] else 422
