"""JSON API under /api/v1: bulk appeal ingest, workflow transitions, quarantine.

A key's scope (domain.keys) is enforced here, for Open311's POST too:

- each route needs some of the key's actions (ROUTE_ACTIONS); a key without one is refused
  with 403, and the body says which action is missing;
- a key limited to a region reaches that region and everything below it: an ingested record
  for a region outside it, or one that would update a stored appeal outside it, is refused and
  quarantined like any invalid record (field region_code / external_id); a transition on an
  appeal outside it and KPIs of a region outside it are answered 404, exactly as if the appeal
  or region did not exist (as out-of-scope pages are); the quarantine shows such a key only the
  records its own deliveries put there (by key name), since a refused record's region cannot be
  trusted. A key whose region and actions are NULL (every key made before revision 0007) is not
  narrowed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dashboard.domain import clock
from dashboard.domain.credentials import hash_api_key
from dashboard.domain.keys import KeyAction, KeyScope
from dashboard.domain.localday import period
from dashboard.domain.overdue import state_moment
from dashboard.domain.regions import level_of
from dashboard.domain.vocab import QuarantineStatus, Satisfaction, TransitionAction
from dashboard.domain.workcal import FIRST_YEAR, LAST_YEAR
from dashboard.queries.kpis import region_kpis
from dashboard.services.actions import valid_team_code
from dashboard.services.ingest.prepare import validate
from dashboard.services.ingest.readers import RawRecord
from dashboard.services.ingest.records import RecordError, masked_raw, normalise_headers, parse_enum, parse_instant
from dashboard.services.workflow import Conflict, Step, TransitionError, allowed_actions, apply
from dashboard.store.database import db
from dashboard.store.locks import lock_appeal
from dashboard.store.models import ApiKey, Appeal, QuarantinedRecord, Region, Team
from dashboard.web.security import ingest_rate

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
# Ids beyond their column's range would reach the database as an error: they are a 404.
MAX_BIGINT = 2**63 - 1  # appeals
MAX_INTEGER = 2**31 - 1  # quarantined records
LOOKUP_CHUNK = 500  # external ids per query when checking which stored appeals a delivery would update

# What each route needs of a key's actions (domain.keys). A route of this blueprint missing here
# (and not public) is refused to every key. Replaying a quarantined record ingests it: it needs both.
ROUTE_ACTIONS: dict[str, frozenset[KeyAction]] = {
    "api_v1.ingest_appeals": frozenset({KeyAction.INGEST}),
    "api_v1.post_transition": frozenset({KeyAction.TRANSITIONS}),
    "api_v1.kpis": frozenset({KeyAction.KPIS}),
    "api_v1.list_quarantine": frozenset({KeyAction.QUARANTINE}),
    "api_v1.replay_quarantined": frozenset({KeyAction.QUARANTINE, KeyAction.INGEST}),
    # Alerts are read like the KPIs they warn about (issue 19): the same read action.
    "api_v1.list_alerts": frozenset({KeyAction.KPIS}),
}
OPEN311_POST_ACTIONS = frozenset({KeyAction.INGEST})


def api_key_from(value: str | None) -> ApiKey | None:
    """The active key with that value, or None."""
    if not value:
        return None
    with db.session() as session:
        return session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(value), ApiKey.revoked_at.is_(None)))


def error(status: int, message: str, **extra):
    """A JSON error body with the HTTP status."""
    return jsonify({"error": message, **extra}), status


def action_refusal(key: ApiKey, needed: frozenset[KeyAction] | None) -> tuple[str, list[str]] | None:
    """Why this key may not do what a route needs (the message and the missing actions), or None."""
    if needed is None:
        return f"API key {key.name} may not use this route", []
    missing = key.scope.missing(needed)
    if not missing:
        return None
    held = ", ".join(action for action in KeyAction if action in (key.scope.actions or ())) or "none"
    words = ", ".join(missing)
    return f"API key {key.name} is not allowed to {words} (its actions: {held})", [a.value for a in missing]


def key_sources(key: ApiKey) -> tuple[str, ...]:
    """The quarantine sources of this key's own deliveries (as the ingestor stores them, at most 64 characters)."""
    return tuple(f"{prefix}:{key.name}"[:64] for prefix in ("api", "open311"))


def within_key_region(records: Sequence[RawRecord], scope: KeyScope, ingestor) -> list[RawRecord]:
    """The records with those that a key limited to a region may not deliver marked refused.

    Each record is read as the ingestor will read it (services.ingest.prepare.validate); one that
    is invalid is marked refused with the reason the ingestor would give. A valid one is refused
    when its region lies outside the key's (field region_code), or when it would update a stored
    appeal (same source and external_id) that lies outside it (field external_id). The ingestor
    quarantines and reports refused records like any invalid record; the others are untouched.
    """
    records = list(records)
    if scope.region_code is None:
        return records
    context = ingestor.context("appeal")
    inside: dict[int, dict] = {}
    for index, record in enumerate(records):
        if record.error is not None:
            continue
        try:
            clean = validate(context, record.fields or {})
        except RecordError as invalid:
            # Refused here with the ingestor's own reason, so that no record passes unchecked (a
            # reported_at at the edge of the future tolerance could pass the ingestor's later clock).
            records[index] = dataclasses.replace(record, error=invalid)
            continue
        if scope.covers(clean["region_code"]):
            inside[index] = clean
        else:
            reason = (
                f"region {clean['region_code']} is outside region {scope.region_code}, "
                "the only region (with everything below it) this API key may send appeals for"
            )
            records[index] = dataclasses.replace(record, error=RecordError("region_code", reason))
    stored = _stored_regions({(clean["source"].value, clean["external_id"]) for clean in inside.values()})
    for index, clean in inside.items():
        region = stored.get((clean["source"].value, clean["external_id"]))
        if region is not None and not scope.covers(region):
            reason = (
                f"{clean['external_id']} of source {clean['source'].value} is an appeal outside region "
                f"{scope.region_code}; this API key may not change it"
            )
            records[index] = dataclasses.replace(records[index], error=RecordError("external_id", reason))
    return records


def _stored_regions(keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The region of each stored appeal with one of these (source, external_id) keys."""
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    regions = {}
    with db.session() as session:
        for source, external_ids in by_source.items():
            for start in range(0, len(external_ids), LOOKUP_CHUNK):
                chunk = external_ids[start : start + LOOKUP_CHUNK]
                rows = session.execute(
                    select(Appeal.external_id, Appeal.region_code).where(
                        Appeal.source == source, Appeal.external_id.in_(chunk)
                    )
                )
                regions.update(((source, external_id), region) for external_id, region in rows)
    return regions


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
    refusal = action_refusal(key, ROUTE_ACTIONS.get(request.endpoint))
    if refusal is not None:
        message, missing = refusal
        return error(403, message, missing_actions=missing)
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
    ingestor = current_app.extensions["ingestor"]
    records = within_key_region(records, g.api_key.scope, ingestor)
    report = ingestor.ingest(records, "appeal", source=f"api:{g.api_key.name}")
    return jsonify(report.as_dict()), 200


def _appeal_state(appeal: Appeal, team_code: str | None = None) -> dict:
    return {
        "id": appeal.id,
        "status": appeal.status.value,
        "level": appeal.level.value,
        "is_open": appeal.is_open,
        "deadline_at": appeal.deadline_at.isoformat(),
        "allowed_actions": allowed_actions(appeal),
        "version": appeal.version,
        "urge_count": appeal.urge_count or 0,
        "team": team_code,
    }


def _team_code(session, appeal: Appeal) -> str | None:
    """The code of the team the appeal is dispatched to, or None."""
    team = session.get(Team, appeal.team_id) if appeal.team_id is not None else None
    return team.code if team is not None else None


@bp.post("/appeals/<int:appeal_id>/transitions")
def post_transition(appeal_id: int):
    """Apply a workflow step; 409 with the allowed steps when it is not allowed now, or with code "conflict"
    (changed_by, changed_at) when expected_version is not the appeal's version (nothing is overwritten)."""
    if appeal_id > MAX_BIGINT:
        return error(404, f"appeal {appeal_id} does not exist")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "expected a JSON object with at least 'action'")
    timezone = current_app.extensions["work_calendar"].timezone
    now = clock.utcnow()
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
        expected_version = body.get("expected_version")
        if expected_version is not None and (
            isinstance(expected_version, bool)
            or not isinstance(expected_version, int)
            or not 1 <= expected_version <= MAX_INTEGER
        ):
            raise RecordError("expected_version", "must be the appeal's version you read (integer)")
        department, team = body.get("department"), body.get("team")
        if department is not None and not isinstance(department, str):
            raise RecordError("department", "must be a department code (string)")
        if team is not None and not (isinstance(team, str) and valid_team_code(team)):
            raise RecordError("team", "must be a team code, '<community code>/<kind>'")
        if department and team:
            raise RecordError("team", "give a department or a team, not both")
    except RecordError as exc:
        return error(400, str(exc), field=exc.field)
    # Whoever the feed says acted, the key that sent it is always on record.
    actor = f"api:{g.api_key.name}" + (f"/{str(body['actor'])[:40]}" if body.get("actor") else "")
    scope = g.api_key.scope
    with db.session() as session:
        appeal = lock_appeal(session, appeal_id)
        if appeal is None or not scope.covers(appeal.region_code):
            # Outside the key's region, an appeal looks exactly like a missing one.
            return error(404, f"appeal {appeal_id} does not exist")
        step = Step(action, actor, at, body.get("note"), department, satisfaction, duplicate_of, team_code=team)
        allowed = allowed_actions(appeal)
        try:
            if team and not scope.covers(team.partition("/")[0]):
                # A team outside the key's region is answered as if it did not exist.
                raise TransitionError(f"unknown team code {team!r}", allowed)
            transition = apply(session, appeal, step, expected_version)
            if action == TransitionAction.LINK_DUPLICATE and not scope.covers(
                session.get(Appeal, appeal.duplicate_of_id).region_code
            ):
                # Linked to an appeal outside the key's region: answered (and undone) as if it did not exist.
                raise TransitionError(f"appeal {duplicate_of} does not exist", allowed)
            appeal.updated_at = now  # when it changed, by the one clock (a stale caller is told this)
            session.commit()
        except Conflict as exc:
            session.rollback()
            return error(
                409,
                str(exc),
                code="conflict",
                changed_by=exc.changed_by,
                changed_at=exc.changed_at.isoformat() if exc.changed_at else None,
                allowed_actions=exc.allowed,
                appeal=_appeal_state(appeal, _team_code(session, appeal)),
            )
        except TransitionError as exc:
            session.rollback()
            return error(
                409, str(exc), allowed_actions=exc.allowed, appeal=_appeal_state(appeal, _team_code(session, appeal))
            )
        except IntegrityError:
            # Another step on this appeal was committed between our read and our write.
            session.rollback()
            return error(409, f"appeal {appeal_id} changed at the same moment; read it again and retry")
        state = _appeal_state(appeal, _team_code(session, appeal))
        return jsonify({"appeal": state, "transition": {"seq": transition.seq, "action": action.value}})


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
        # Outside the key's region, a region looks exactly like a missing one.
        if session.get(Region, region_code) is None or not g.api_key.scope.covers(region_code):
            return error(404, f"region {region_code} does not exist")
        values = region_kpis(session, region_code, start, end, calendar, now=now)
    # A period that has not ended is answered as of now (its states, like overdue_open, read now).
    as_of = {"as_of": state_moment(end, now).isoformat()} if end > now else {}
    return jsonify({"region": region_code, "from": first.isoformat(), "to": last.isoformat(), **values, **as_of})


@bp.get("/alerts")
def list_alerts():
    """Early warnings (issue 19) within the key's region, newest first: ?status=, ?kind=, ?category= (comma
    lists), ?region=, ?since= (an instant; raised at or after it), ?limit= (default 100, at most 500)."""
    from dashboard.queries import alerts as alert_queries

    try:
        filters = alert_queries.AlertFilters.from_query({k: request.args.get(k, "") for k in ALERT_FILTERS})
    except alert_queries.FilterError as exc:
        return error(400, str(exc), field=str(exc).split(":", 1)[0])
    since = None
    if request.args.get("since"):
        try:
            since = dt.datetime.fromisoformat(request.args["since"].replace("Z", "+00:00"))
        except ValueError:
            return error(400, "since must be an ISO 8601 instant, e.g. 2026-12-01T08:00:00+08:00", field="since")
        since = since.replace(tzinfo=dt.UTC) if since.tzinfo is None else since
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), alert_queries.API_LIMIT)
    except ValueError:
        return error(400, "limit must be a whole number", field="limit")
    scope = g.api_key.scope
    if filters.region is not None:
        with db.session() as session:
            known = session.get(Region, filters.region) is not None
        # Outside the key's region, a region looks exactly like a missing one.
        if not known or not scope.covers(filters.region):
            return error(404, f"region {filters.region} does not exist")
    return jsonify(alert_queries.api_list(scope.region_code, filters, since, limit))


ALERT_FILTERS = ("status", "kind", "category", "region")


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
    query = select(QuarantinedRecord).where(QuarantinedRecord.status == status)
    if g.api_key.region_code is not None:  # a key limited to a region sees what its own deliveries left there
        query = query.where(QuarantinedRecord.source.in_(key_sources(g.api_key)))
    with db.session() as session:
        rows = session.scalars(query.order_by(QuarantinedRecord.id.desc()).limit(limit)).all()
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

    ingestor = current_app.extensions["ingestor"]
    if g.api_key.region_code is not None:
        with db.session() as session:
            source = session.scalar(select(QuarantinedRecord.source).where(QuarantinedRecord.id == record_id))
        if source not in key_sources(g.api_key):  # another feed's record looks exactly like a missing one
            return error(404, f"quarantined record {record_id} does not exist")
        names, _unknown = normalise_headers("appeal", list(body))
        fields = {n: v for n, v in zip(names, body.values(), strict=True) if n}
        [checked] = within_key_region(
            [RawRecord(f"replay of quarantined record {record_id}", fields, "")], g.api_key.scope, ingestor
        )
        if checked.error is not None:
            problem = {"record": checked.location, "field": checked.error.field, "reason": checked.error.message}
            return jsonify({"replayed": False, "reason": str(checked.error), "errors": [problem]}), 422
    try:
        result = replay(ingestor, record_id, body, actor=f"api:{g.api_key.name}")
    except LookupError as exc:
        return error(404, str(exc))
    return jsonify(result), 200 if result["replayed"] else 422
