"""The OpenAPI 3.1 document of /api/v1 (served at /api/v1/openapi.json), built from the vocabularies."""

from __future__ import annotations

from dashboard.domain.kpi import KPI_KEYS
from dashboard.domain.vocab import Category, Channel, Priority, Satisfaction, TransitionAction
from dashboard.services.ingest.records import APPEAL_FIELDS


def _enum(enum_cls) -> dict:
    return {"type": "string", "enum": [member.value for member in enum_cls]}


_TIME = {
    "type": "string",
    "description": "ISO 8601; without a zone, Asia/Shanghai",
    "examples": ["2026-10-01 23:45:00"],
}
_APPEAL_TYPES = {
    "source": {**_enum(Channel), "description": "channel code, or its Chinese label"},
    "category": {**_enum(Category), "description": "category code, or its Chinese label"},
    "priority": {**_enum(Priority), "description": "priority code, or 普通/加急/特急"},
    "satisfaction": {**_enum(Satisfaction), "description": "rating code, or 满意/基本满意/不满意"},
    "lat": {"type": ["number", "string"]},
    "lon": {"type": ["number", "string"]},
    "reported_at": _TIME,
    "accepted_at": _TIME,
    "resolved_at": _TIME,
    "closed_at": _TIME,
    "updated_at": _TIME,
}
_ERROR = {"type": "object", "properties": {"error": {"type": "string"}, "field": {"type": ["string", "null"]}}}


_APPEAL_STATE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string"},
        "level": {"type": "string"},
        "is_open": {"type": "boolean"},
        "deadline_at": {"type": "string", "format": "date-time"},
        "allowed_actions": {"type": "array", "items": _enum(TransitionAction)},
        "version": {"type": "integer", "description": "send it back as expected_version"},
        "urge_count": {"type": "integer", "description": "督办: how many times the appeal was urged"},
        "team": {"type": ["string", "null"], "description": "the team it is dispatched to, '<community>/<kind>'"},
    },
}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_ALERT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": ["surge", "repeat", "at_risk"]},
        "status": {"type": "string", "enum": ["new", "acknowledged", "closed"]},
        "region_code": {"type": "string"},
        "place": {"type": "string", "description": "the region's name"},
        "category": {"type": ["string", "null"]},
        "appeal_id": {"type": ["integer", "null"]},
        "department_id": {"type": ["integer", "null"]},
        "raised_at": {"type": "string", "format": "date-time"},
        "details": {"type": "object", "description": "the figures the reason is written from"},
        "reason": {"type": "string"},
        "link": {"type": "string", "description": "the console page (drill-down or appeal) that explains it"},
        "acknowledged_at": _NULLABLE_TIME,
        "acknowledged_by": {"type": ["string", "null"]},
        "acknowledge_note": {"type": "string"},
        "closed_at": _NULLABLE_TIME,
        "closed_by": {"type": ["string", "null"]},
        "close_note": {"type": "string"},
    },
}
_CONFLICT = {
    "type": "object",
    "properties": {
        **_ERROR["properties"],
        "code": {"type": "string", "enum": ["conflict"]},
        "changed_by": {"type": ["string", "null"]},
        "changed_at": {"type": ["string", "null"], "format": "date-time"},
        "allowed_actions": {"type": "array", "items": _enum(TransitionAction)},
        "appeal": _APPEAL_STATE,
    },
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document() -> dict:
    """The whole OpenAPI document."""
    appeal = {
        "type": "object",
        "required": [f.name for f in APPEAL_FIELDS if f.required],
        "properties": {f.name: _APPEAL_TYPES.get(f.name, {"type": "string"}) for f in APPEAL_FIELDS},
        "description": "Field names in English; the Chinese aliases of docs/IMPORT_FORMATS.md are accepted too.",
    }
    report = {
        "type": "object",
        "properties": {
            key: {"type": "integer"} for key in ("read", "created", "updated", "unchanged", "stale", "quarantined")
        }
        | {
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "record": {"type": "string"},
                        "field": {"type": ["string", "null"]},
                        "reason": {"type": "string"},
                    },
                },
            }
        },
    }
    kpis = {
        "type": "object",
        "properties": {
            "region": {"type": "string"},
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "as_of": {
                "type": "string",
                "format": "date-time",
                "description": (
                    "Present only when the period has not ended: the moment (now) at which the states of the "
                    "period, such as overdue_open, were read. A finished period's states are read at its end."
                ),
            },
        }
        | {key: {"type": ["number", "null"]} for key in KPI_KEYS},
    }
    unauthorised = _json(_ERROR, "no valid X-API-Key")
    forbidden = _json(_ERROR, "the key is not allowed this action (see missing_actions); keys may be limited")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Community governance command center API",
            "version": "1",
            "description": "Bulk appeal ingest, workflow transitions, KPIs and quarantine. Open311 GeoReport v2 "
            "is served separately under /open311/v2/.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": {"Appeal": appeal, "IngestReport": report, "Kpis": kpis, "Alert": _ALERT, "Error": _ERROR},
        },
        "security": [{"apiKey": []}],
        "paths": {
            "/appeals": {
                "post": {
                    "summary": "Ingest appeals; each lands once, invalid ones are quarantined and explained",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Appeal"}}
                            },
                            "application/x-ndjson": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/IngestReport"}, "what the delivery did"),
                        "400": _json(_ERROR, "the body is not a JSON array or NDJSON"),
                        "401": unauthorised,
                        "403": forbidden,
                        "413": _json(_ERROR, "the body is larger than CC_MAX_CONTENT_LENGTH"),
                        "429": {
                            **_json(_ERROR, "more than CC_INGEST_RATE_LIMIT requests this minute with this key"),
                            "headers": {
                                "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
                            },
                        },
                    },
                }
            },
            "/appeals/{appeal_id}/transitions": {
                "post": {
                    "summary": "Apply a workflow step",
                    "parameters": [
                        {
                            "name": "appeal_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["action"],
                                    "properties": {
                                        "action": _enum(TransitionAction),
                                        "at": _TIME,
                                        "actor": {"type": "string"},
                                        "note": {"type": "string"},
                                        "department": {"type": "string", "description": "dispatch to a department"},
                                        "team": {
                                            "type": "string",
                                            "description": "dispatch to a team: '<community code>/<kind>'",
                                            "examples": ["510107001001/patrol"],
                                        },
                                        "satisfaction": _enum(Satisfaction),
                                        "duplicate_of": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                                        "expected_version": {
                                            "type": "integer",
                                            "minimum": 1,
                                            "maximum": 2**31 - 1,
                                            "description": (
                                                "the appeal's version you read (appeal.version): another version "
                                                "is refused with 409 and code 'conflict', nothing is overwritten"
                                            ),
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "appeal": _APPEAL_STATE,
                                    "transition": {
                                        "type": "object",
                                        "properties": {"seq": {"type": "integer"}, "action": _enum(TransitionAction)},
                                    },
                                },
                            },
                            "the step was applied",
                        ),
                        "400": _json(_ERROR, "the request is malformed"),
                        "401": unauthorised,
                        "403": forbidden,
                        "404": _json(_ERROR, "no such appeal, or it lies outside the key's region"),
                        "409": _json(
                            _CONFLICT,
                            "not allowed now (allowed_actions says what is), or, with code 'conflict', the appeal "
                            "changed since expected_version: changed_by and changed_at say who and when",
                        ),
                    },
                }
            },
            "/kpis": {
                "get": {
                    "summary": "BRIEF §5 KPIs of a region for a local day or a range of days",
                    "description": (
                        "Counts (received, resolved, …) cover the period; overdue_open is a state, read at the "
                        "period's end, or now when the period includes today (then `as_of` says when)."
                    ),
                    "parameters": [
                        {"name": "region", "in": "query", "required": True, "schema": {"type": "string"}},
                        {"name": "date", "in": "query", "schema": {"type": "string", "format": "date"}},
                        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
                    ],
                    "responses": {
                        "200": _json(
                            {"$ref": "#/components/schemas/Kpis"}, "the KPIs; rates are fractions, empty is null"
                        ),
                        "400": _json(_ERROR, "bad region code or dates"),
                        "401": unauthorised,
                        "403": forbidden,
                        "404": _json(_ERROR, "no such region, or it lies outside the key's region"),
                    },
                }
            },
            "/alerts": {
                "get": {
                    "summary": "Early warnings (surge, repeat, at risk) within the key's region, newest first",
                    "description": (
                        "Needs the key's `kpis` (read) action. `reason` is the alert's reason in words, `link` "
                        "the console page that explains it; notes are masked like every free text."
                    ),
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "description": "comma list of new, acknowledged, closed (default: all)",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "kind",
                            "in": "query",
                            "description": "comma list of surge, repeat, at_risk (default: all)",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "category",
                            "in": "query",
                            "description": "comma list of category codes",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "region",
                            "in": "query",
                            "description": "a region code: that region and below (default: the key's region)",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "since",
                            "in": "query",
                            "description": "raised at or after this instant (ISO 8601; without a zone, UTC)",
                            "schema": {"type": "string", "format": "date-time"},
                        },
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                    ],
                    "responses": {
                        "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}, "alerts"),
                        "400": _json(_ERROR, "an unknown status, kind or category, a bad region, instant or limit"),
                        "401": unauthorised,
                        "403": forbidden,
                        "404": _json(_ERROR, "no such region, or it lies outside the key's region"),
                    },
                }
            },
            "/quarantine": {
                "get": {
                    "summary": "Quarantined input records, personal data masked",
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["pending", "replayed", "discarded"]},
                        },
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    ],
                    "responses": {
                        "200": _json({"type": "array", "items": {"type": "object"}}, "records"),
                        "400": _json(_ERROR, "unknown status or a limit that is not a whole number"),
                        "401": unauthorised,
                        "403": forbidden,
                    },
                }
            },
            "/quarantine/{record_id}/replay": {
                "post": {
                    "summary": "Ingest a corrected version of a quarantined record",
                    "parameters": [
                        {
                            "name": "record_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                        }
                    ],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {
                        "200": _json({"type": "object"}, "the corrected record landed"),
                        "400": _json(_ERROR, "the body is not an object"),
                        "401": unauthorised,
                        "403": forbidden,
                        "404": _json(_ERROR, "no such quarantined record"),
                        "422": _json({"type": "object"}, "the corrected record was refused again"),
                    },
                }
            },
        },
    }
