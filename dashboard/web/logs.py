"""Logs for a log collector, and a request id that ties a request's lines, its response and its error page.

`configure(level, fmt)` sets up the root logger once per process (the CLI and wsgi.py call it):
plain text by default, one JSON object a line with CC_LOG_FORMAT=json (python-json-logger):

    {"time": "2026-12-01T01:02:03.456+00:00", "level": "INFO", "logger": "dashboard.web.api",
     "message": "…", "request_id": "9f0c…", "user": "api:hotline"}

`user` names who asked: a user's log-in name, `api:<key name>`, `wall:<token name>` or
`metrics:token`; never a token, a key or a password. Every line goes through security.redact
(credentials in URLs, typed searches), and in JSON every run of seven or more digits in the
message is masked (phones, ID numbers: domain.pii.mask_free_text), so no personal data leaves
in a log line even when a message quotes a record.

`init_app(server)` gives every request an id: a sane incoming X-Request-ID (from nginx or a
client; 8–64 letters, digits, - _ . :) or a new one, sent back in X-Request-ID and shown on
error pages.
"""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, has_request_context, request
from markupsafe import escape
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import HTTPException, InternalServerError

from dashboard.domain.pii import mask_free_text
from dashboard.ui.i18n import t
from dashboard.web.security import RedactSecrets, redact

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9_.:-]{8,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user)s"


def request_id() -> str | None:
    """This request's id (None outside a request)."""
    if not has_request_context():
        return None
    rid = g.get("request_id")
    if rid is None:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        rid = g.request_id = sent if _SANE_ID.fullmatch(sent) else uuid.uuid4().hex
    return rid


def log_user() -> str | None:
    """Who made this request, as a name fit for a log (never a credential); None when unknown."""
    if not has_request_context():
        return None
    named = g.get("log_user")
    if named:
        return named
    key = g.get("api_key")
    if key is not None:
        return f"api:{getattr(key, 'name', '?')}"
    user = g.get("_login_user")  # only if Flask-Login already loaded it: a log line never queries
    if user is not None and getattr(user, "authenticated", False):
        return user.username
    return None


class RequestFields(logging.Filter):
    """Adds request_id and user to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Never drops a record."""
        record.request_id = request_id()
        record.user = log_user()
        return True


class SafeJsonFormatter(JsonFormatter):
    """python-json-logger's formatter with our field names; messages redacted and numbers masked."""

    def __init__(self) -> None:
        super().__init__(
            JSON_FIELDS,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )

    def formatTime(self, record, datefmt=None):
        """ISO 8601 with milliseconds and the offset."""
        import datetime as dt

        return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")

    def process_log_record(self, log_record):
        """Redact credentials and mask numbers in the message and any traceback."""
        for name in ("message", "exc_info", "stack_info"):
            value = log_record.get(name)
            if isinstance(value, str):
                log_record[name] = mask_free_text(redact(value)) if name == "message" else redact(value)
        return super().process_log_record(log_record)


def configure(level: int = logging.INFO, fmt: str = "text") -> None:
    """The root logger: one handler on stderr, text or JSON (fmt), with request fields and redaction."""
    root = logging.getLogger()
    if any(not getattr(handler, "cc_handler", False) for handler in root.handlers):
        return  # like logging.basicConfig: someone (a test runner, a host process) configured logging already
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.cc_handler = True
    handler.addFilter(RequestFields())
    handler.addFilter(RedactSecrets())
    handler.setFormatter(SafeJsonFormatter() if (fmt or "").lower() == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)


# ---------------------------------------------------------------------------- the request id


def _assign_request_id() -> None:
    request_id()


def _send_request_id(response):
    rid = request_id()
    if rid:
        response.headers[REQUEST_ID_HEADER] = rid
    return response


def _wants_json() -> bool:
    return (
        request.path.startswith(("/api/", "/open311/", "/_dash"))
        or request.is_json
        or request.accept_mimetypes.best == "application/json"
    )


def error_page(exc: HTTPException):
    """An HTML error page that names the request id (quote it to the IT staff); JSON clients get Flask's own."""
    if exc.code is None or exc.code < 400 or _wants_json():
        return exc
    lang = "en" if request.args.get("lang") == "en" else "zh"
    rid = request_id() or ""
    body = (
        f"<!doctype html><html lang={lang}><title>{exc.code} {escape(exc.name)}</title>"
        f"<h1>{exc.code} {escape(exc.name)}</h1><p>{escape(exc.description or '')}</p>"
        f"<p>{escape(t('errors.request_id', lang, id=rid))}</p></html>"
    )
    response = exc.get_response()
    response.set_data(body)
    response.mimetype = "text/html"
    return response


def _unhandled(exc: Exception):
    if isinstance(exc, HTTPException):
        return error_page(exc)
    logging.getLogger("dashboard.web").exception("unhandled error in %s %s", request.method, request.path)
    return error_page(InternalServerError())


def init_app(server: Flask) -> None:
    """A request id for every request (first of all hooks), sent back in X-Request-ID and on error pages."""
    server.before_request_funcs.setdefault(None, []).insert(0, _assign_request_id)
    server.after_request(_send_request_id)
    server.register_error_handler(HTTPException, error_page)
    if not server.config.get("TESTING") and not server.config.get("PROPAGATE_EXCEPTIONS"):
        server.register_error_handler(Exception, _unhandled)
