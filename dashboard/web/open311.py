"""Open311 GeoReport v2 under /open311/v2 (JSON and XML), with the `notes` extension.

Services are the appeal categories. Our richer states map onto open/closed. Responses are
open data: descriptions and addresses are masked, coordinates rounded to about 100 m, and
nothing about the person who reported is ever returned.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import xml.etree.ElementTree as ET

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from dashboard.domain.pii import mask_address, mask_free_text
from dashboard.domain.vocab import OPEN_STATUSES, AppealStatus, Category, Channel, Priority
from dashboard.queries.locate import locator_for
from dashboard.services.ingest.readers import RawRecord
from dashboard.services.ingest.records import RecordError, parse_instant
from dashboard.services.ingest.service import raw_json
from dashboard.store.database import db
from dashboard.store.models import Appeal, Department, Transition
from dashboard.ui.i18n import label, normalise_language
from dashboard.web.api import OPEN311_POST_ACTIONS, action_refusal, api_key_from, within_key_region
from dashboard.web.security import ingest_rate

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
DEFAULT_WINDOW = dt.timedelta(days=90)
MAX_RESULTS = 1000
FORMATS = ("json", "xml")
_REQUEST_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits that fit a BIGINT


class Open311Error(Exception):
    """An error answered as the spec says: a list of {code, description} with an HTTP status."""

    def __init__(self, status: int, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = headers or {}


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"unknown format {fmt!r}: use .json or .xml")
    return fmt


def _xml(root_name: str, item_name: str, items: list[dict]) -> str:
    root = ET.Element(root_name)
    for item in items:
        element = ET.SubElement(root, item_name)
        _fill(element, item)
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode")


def _fill(element: ET.Element, item: dict) -> None:
    for key, value in item.items():
        child = ET.SubElement(element, key)
        if isinstance(value, list):
            singular = {"notes": "note", "attributes": "attribute", "values": "value", "keywords": "keyword"}.get(
                key, "item"
            )
            for entry in value:
                sub = ET.SubElement(child, singular)
                if isinstance(entry, dict):
                    _fill(sub, entry)
                else:
                    sub.text = str(entry)
        elif isinstance(value, dict):
            _fill(child, value)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = str(value)


def respond(fmt: str, root: str, item: str, items: list[dict], status: int = 200) -> Response:
    """The same answer as JSON or XML."""
    if fmt == "xml":
        return Response(_xml(root, item, items), status=status, mimetype="application/xml")
    response = jsonify(items)
    response.status_code = status
    return response


@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error):
    fmt = "xml" if request.path.endswith(".xml") else "json"
    response = respond(fmt, "errors", "error", [{"code": exc.status, "description": exc.description}], exc.status)
    response.headers.update(exc.headers)
    return response


def _service(category: Category, lang: str) -> dict:
    return {
        "service_code": category.value,
        "service_name": label(category, lang),
        "description": label(category, lang),
        "metadata": True,
        "type": "realtime",
        "keywords": category.value,
        "group": "community",
    }


@bp.get("/services.<fmt>")
def services(fmt: str):
    """The list of services: one per appeal category."""
    fmt = _format(fmt)
    lang = normalise_language(request.args.get("lang"))
    return respond(fmt, "services", "service", [_service(c, lang) for c in Category])


@bp.get("/services/<service_code>.<fmt>")
def service_definition(service_code: str, fmt: str):
    """A service definition: the optional attributes a request may carry."""
    fmt = _format(fmt)
    lang = normalise_language(request.args.get("lang"))
    try:
        Category(service_code)
    except ValueError:
        raise Open311Error(404, f"service_code {service_code!r} not found") from None
    definition = {
        "service_code": service_code,
        "attributes": [
            {
                "variable": True,
                "code": "priority",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "ordinary unless stated",
                "order": 1,
                "description": "Priority",
                "values": [{"key": p.value, "name": label(p, lang)} for p in Priority],
            },
            {
                "variable": True,
                "code": "region_code",
                "datatype": "string",
                "required": False,
                "datatype_description": "12- or 15-digit community or compound code; else taken from lat/long",
                "order": 2,
                "description": "Region code",
            },
        ],
    }
    if fmt == "xml":
        root = ET.Element("service_definition")
        _fill(root, definition)
        return Response(
            '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode"), mimetype="application/xml"
        )
    return jsonify(definition)


def _public_status(status: AppealStatus) -> str:
    return "open" if status in OPEN_STATUSES else "closed"


def _request_view(appeal: Appeal, department: str | None, notes: list[dict] | None, lang: str) -> dict:
    view = {
        "service_request_id": str(appeal.id),
        "status": _public_status(appeal.status),
        "status_notes": label(appeal.status, lang),
        "service_name": label(appeal.category, lang),
        "service_code": appeal.category.value,
        "description": mask_free_text(appeal.description),
        "agency_responsible": department,
        "service_notice": None,
        "requested_datetime": appeal.reported_at.isoformat(),
        "updated_datetime": appeal.updated_at.isoformat(),
        "expected_datetime": appeal.deadline_at.isoformat(),
        "address": mask_address(appeal.address),
        "address_id": None,
        "zipcode": None,
        "lat": round(appeal.lat, 3) if appeal.lat is not None else None,
        "long": round(appeal.lon, 3) if appeal.lon is not None else None,
        "media_url": None,
    }
    if notes is not None:
        view["notes"] = notes
    return view


def _notes(session, appeal_ids: list[int], lang: str) -> dict[int, list[dict]]:
    notes: dict[int, list[dict]] = {appeal_id: [] for appeal_id in appeal_ids}
    if not appeal_ids:
        return notes
    rows = session.execute(
        select(Transition.appeal_id, Transition.at, Transition.action, Transition.to_status)
        .where(Transition.appeal_id.in_(appeal_ids))
        .order_by(Transition.appeal_id, Transition.seq)
    )
    for row in rows:
        notes[row.appeal_id].append(
            {
                "datetime": row.at.isoformat(),
                "type": "status_change",
                "summary": label(row.action, lang),
                "description": label(row.to_status, lang),
                "status": _public_status(row.to_status),
            }
        )
    return notes


def _query_requests(session, lang: str, with_notes: bool, **filters) -> list[dict]:
    query = select(Appeal, Department.name).outerjoin(Department, Department.id == Appeal.department_id)
    if filters.get("ids") is not None:
        query = query.where(Appeal.id.in_(filters["ids"]))
    else:
        query = query.where(Appeal.reported_at >= filters["start"], Appeal.reported_at <= filters["end"])
    if filters.get("service_codes"):
        query = query.where(Appeal.category.in_(filters["service_codes"]))
    if filters.get("status") == "open":
        query = query.where(Appeal.is_open)
    elif filters.get("status") == "closed":
        query = query.where(~Appeal.is_open)
    rows = session.execute(query.order_by(Appeal.reported_at.desc(), Appeal.id.desc()).limit(MAX_RESULTS)).all()
    notes = _notes(session, [appeal.id for appeal, _ in rows], lang) if with_notes else {}
    return [
        _request_view(appeal, department, notes.get(appeal.id) if with_notes else None, lang)
        for appeal, department in rows
    ]


@bp.get("/requests.<fmt>")
def list_requests(fmt: str):
    """Requests filtered by id, service, status and date range (default: the last 90 days)."""
    fmt = _format(fmt)
    lang = normalise_language(request.args.get("lang"))
    timezone = current_app.extensions["work_calendar"].timezone
    far_future = dt.datetime.now(dt.UTC) + dt.timedelta(days=3650)
    try:
        end = parse_instant("end_date", request.args.get("end_date"), timezone, far_future) or dt.datetime.now(dt.UTC)
        start = (
            parse_instant("start_date", request.args.get("start_date"), timezone, far_future) or end - DEFAULT_WINDOW
        )
    except RecordError as exc:
        raise Open311Error(400, str(exc)) from None
    if start > end:
        raise Open311Error(400, "start_date is after end_date")
    status = request.args.get("status")
    if status and status not in ("open", "closed"):
        raise Open311Error(400, "status must be open or closed")
    codes = [c for c in (request.args.get("service_code") or "").split(",") if c]
    unknown = [code for code in codes if code not in {c.value for c in Category}]
    if unknown:
        raise Open311Error(400, f"unknown service_code {unknown[0]!r}")
    if end - start > DEFAULT_WINDOW:
        raise Open311Error(400, "start_date and end_date may be at most 90 days apart")
    ids = None
    if request.args.get("service_request_id"):
        parts = [part for part in request.args["service_request_id"].split(",") if part]
        if not all(_REQUEST_ID.fullmatch(part) for part in parts):
            raise Open311Error(400, "service_request_id must be a comma-separated list of ids")
        ids = [int(part) for part in parts]
    with_notes = request.args.get("extensions", "").lower() == "true"
    with db.session() as session:
        items = _query_requests(
            session, lang, with_notes, ids=ids, start=start, end=end, service_codes=codes, status=status
        )
    return respond(fmt, "service_requests", "request", items)


@bp.get("/requests/<request_id>.<fmt>")
def get_request(request_id: str, fmt: str):
    """One request, with its status history in `notes`."""
    fmt = _format(fmt)
    lang = normalise_language(request.args.get("lang"))
    if not _REQUEST_ID.fullmatch(request_id):
        raise Open311Error(404, f"service_request_id {request_id!r} not found")
    with db.session() as session:
        items = _query_requests(session, lang, True, ids=[int(request_id)])
    if not items:
        raise Open311Error(404, f"service_request_id {request_id} not found")
    return respond(fmt, "service_requests", "request", items)


def _region_at(lat, lon) -> str:
    """The compound whose shape contains the point (queries.locate), or the Open311 error answer."""
    try:
        latitude, longitude = float(lat), float(lon)
    except (TypeError, ValueError):  # a JSON body may carry a list or an object
        raise Open311Error(400, "lat and long must be numbers") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):  # also NaN
        raise Open311Error(400, "lat must be within -90..90 and long within -180..180")
    code = locator_for(db).locate(latitude, longitude)
    if code is None:
        raise Open311Error(400, "the location is outside the district (or give attribute[region_code])")
    return code


@bp.post("/requests.<fmt>")
def post_request(fmt: str):
    """Create a request (api_key required); it enters the workflow like any other appeal."""
    fmt = _format(fmt)
    form = request.form if request.form else request.get_json(silent=True)
    if not isinstance(form, dict):
        form = {}
    key = api_key_from(form.get("api_key") or request.args.get("api_key"))
    if key is None:
        raise Open311Error(403, "api_key is missing or not valid")
    refusal = action_refusal(key, OPEN311_POST_ACTIONS)
    if refusal is not None:
        raise Open311Error(403, refusal[0])
    rate = ingest_rate(key.id)
    if not rate.allowed:
        raise Open311Error(429, rate.message, {"Retry-After": str(rate.retry_after)})
    code = form.get("service_code")
    if not code:
        raise Open311Error(400, "service_code is required")
    try:
        category = Category(code)
    except ValueError:
        raise Open311Error(404, f"service_code {code!r} not found") from None
    lat, lon = form.get("lat"), form.get("long")
    region_code = form.get("attribute[region_code]")
    if not (lat and lon) and not form.get("address_string") and not form.get("address_id"):
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    if not form.get("description"):
        raise Open311Error(400, "description is required")
    if region_code is None and lat and lon:
        region_code = _region_at(lat, lon)
    if region_code is None:
        raise Open311Error(400, "the location is outside the district (or give attribute[region_code])")
    reporter = " ".join(part for part in (form.get("last_name"), form.get("first_name")) if part) or None
    external_id = f"open311-{uuid.uuid4().hex}"
    fields = {
        "external_id": external_id,
        "source": Channel.OPEN311.value,
        "reported_at": dt.datetime.now(dt.UTC).isoformat(),
        "category": category.value,
        "priority": form.get("attribute[priority]") or Priority.ORDINARY.value,
        "region_code": region_code,
        "description": form.get("description"),
        "lat": lat,
        "lon": lon,
        "address": form.get("address_string"),
        "reporter_name": reporter,
        "reporter_phone": form.get("phone"),
    }
    raw = raw_json({k: v for k, v in fields.items() if not k.startswith("reporter")})
    ingestor = current_app.extensions["ingestor"]
    # A key limited to a region: a request outside it is refused (and quarantined) like an invalid one.
    records = within_key_region([RawRecord(f"open311 request {external_id}", fields, raw)], key.scope, ingestor)
    report = ingestor.ingest(records, "appeal", source=f"open311:{key.name}")
    if report.quarantined:
        problem = report.errors[0]
        raise Open311Error(400, f"{problem['field'] or 'request'}: {problem['reason']}")
    with db.session() as session:
        appeal_id = session.scalar(
            select(Appeal.id).where(Appeal.source == Channel.OPEN311, Appeal.external_id == external_id)
        )
    answer = [{"service_request_id": str(appeal_id), "service_notice": None, "account_id": None}]
    return respond(fmt, "service_requests", "request", answer, status=201)
