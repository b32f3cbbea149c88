"""Hardening shared by every surface: security headers and the Content-Security-Policy, session
cookie flags, CSRF protection, rate limits, the request-size limit and secrets kept out of logs.

`init_app(server)` wires it into the Flask server once Dash is mounted. `csrf_token()`,
`rate_limit()` and `client_ip()` are the building blocks that log-in and supervisor pages use.
Well-kept libraries do the generic parts: Flask-Session (server-side sessions, web/sessions.py),
Flask-Login (the session's user, web/auth.py), Flask-WTF (CSRF tokens), Flask-Limiter (rate-limit
storage and windows). What none covers stays here: the JSON/Origin rule for Dash callbacks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import re
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app, has_request_context, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect, generate_csrf
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from markupsafe import Markup, escape
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard.domain.pii import mask_free_text

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRFToken"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# These blueprints authenticate every request by an API key sent with it (X-API-Key, or
# Open311's api_key) and never read the session cookie: a cross-site request carries no ambient
# authority there, so CSRF cannot apply. Anyone adding cookie authentication under them must
# remove them from this list.
KEY_AUTHENTICATED_PREFIXES = ("/api/v1/", "/open311/v2/")
API_PREFIX = "/api/v1/"
OPEN311_PREFIX = "/open311/v2/"
HSTS_MAX_AGE = 365 * 24 * 3600
# A Host header we are willing to echo into connect-src: a name or IPv4/IPv6 literal, optional port.
_SAFE_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), fullscreen=(self)"


def init_app(server: Flask) -> None:
    """Install sessions, headers, cookie flags, CSRF, rate limits and size limits on server (after Dash)."""
    from dashboard.web import sessions

    sessions.init_app(server)
    server.json = DepthSafeJSONProvider.replacing(server)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    # Tokens are checked only where _check_csrf asks (form posts), valid for the session's life:
    # a log-in page left open over lunch must still log in.
    server.config.update(WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None, WTF_CSRF_FIELD_NAME=CSRF_FIELD)
    server.extensions["csrf"] = CSRFProtect(server)
    proxies = int(server.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        # Only then may X-Forwarded-For/-Proto/-Host be believed (client_ip, is_secure, Origin checks).
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    server.extensions["rate_limiter"] = make_limiter(server)
    install_log_redaction()
    server.before_request(_refuse_oversized_body)
    server.before_request(_check_csrf)
    server.after_request(_add_security_headers)
    server.register_error_handler(RequestEntityTooLarge, _too_large)
    server.jinja_env.globals.update(csrf_token=csrf_token, csrf_field=csrf_field)


# ---------------------------------------------------------------------------- cookies and headers


def cookies_secure(app: Flask | None = None) -> bool:
    """Whether cookies set now carry Secure: always, except with CC_INSECURE_COOKIES=1 or in demo mode over HTTP."""
    config = (app or current_app).config
    if config.get("INSECURE_COOKIES"):
        return False
    if config.get("DEMO_MODE"):
        return has_request_context() and request.is_secure
    return True


def content_security_policy(dash_app, host: str) -> str:
    """The CSP for this server: scripts from this origin plus Dash's own inline scripts, by hash."""
    connect_src = ["'self'"]
    if _SAFE_HOST.fullmatch(host or ""):
        # Socket.IO's WebSocket; CSP3 browsers count same-host ws:/wss: as 'self', older ones do not.
        connect_src += [f"ws://{host}", f"wss://{host}"]
    script_src = ["'self'", *(dash_app.csp_hashes() if dash_app is not None else [])]
    directives = {
        "default-src": ["'self'"],
        "script-src": script_src,
        # Dash components and Plotly set style attributes and insert <style> rules at run time.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": connect_src,
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def _add_security_headers(response):
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(current_app.extensions.get("dash"), request.host)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if cookies_secure():
        headers["Strict-Transport-Security"] = f"max-age={HSTS_MAX_AGE}"
    return response


# ---------------------------------------------------------------------------- CSRF


class CSRFError(BadRequest):
    """A cross-site JSON request, or a Dash callback that is not JSON."""


def csrf_token() -> str:
    """This session's CSRF token (Flask-WTF), for a hidden form field named csrf_token."""
    return generate_csrf()


def csrf_field() -> Markup:
    """The hidden <input> carrying this session's CSRF token, for HTML forms."""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token())}">')


def _dash_callback_path() -> str | None:
    dash_app = current_app.extensions.get("dash")
    if dash_app is None:
        return None
    return dash_app.config.routes_pathname_prefix + "_dash-update-component"


def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS or request.path.startswith(KEY_AUTHENTICATED_PREFIXES):
        return
    # A cross-site HTML form can only send urlencoded, multipart or text/plain bodies, and a
    # cross-site script cannot send application/json without a CORS preflight, which this server
    # never grants. So a JSON body proves the request came from a page of this origin, and Dash's
    # callbacks (which always post JSON) need no token; the Origin check shuts out anything
    # left (a browser always sends Origin on a cross-origin POST, and "null" from sandboxes).
    # Flask-WTF has no rule for token-less JSON requests: this part is ours (docs/SECURITY.md).
    if request.path == _dash_callback_path() and not request.is_json:
        raise CSRFError("Dash callbacks must be sent as application/json")
    if request.is_json:
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
            raise CSRFError(f"cross-origin request refused: Origin {origin!r} is not this site")
        return
    # Every other state-changing request (forms, multipart, text, no body) needs the session's
    # token, checked by Flask-WTF (field csrf_token or header X-CSRFToken).
    current_app.extensions["csrf"].protect()


# ---------------------------------------------------------------------------- request bodies


class DepthSafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a body nested deeper than the interpreter's stack is invalid JSON
    (a 400 from request.get_json, None with silent=True) instead of a RecursionError (a 500)."""

    @classmethod
    def replacing(cls, app: Flask) -> DepthSafeJSONProvider:
        """This provider for app, with the settings of the one it replaces."""
        safe = cls(app)
        for name in ("ensure_ascii", "sort_keys", "compact", "mimetype"):
            setattr(safe, name, getattr(app.json, name, getattr(cls, name)))
        return safe

    def loads(self, s, **kwargs):
        """Parse JSON; too deep a nesting is a ValueError like any other invalid JSON."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None


def _refuse_oversized_body() -> None:
    # Refuse on the declared length before anything reads the body (or looks up an API key).
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def _too_large(exc: RequestEntityTooLarge):
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    message = f"the request body is too large: the limit is {limit} bytes (CC_MAX_CONTENT_LENGTH)"
    if request.path.startswith(API_PREFIX):
        return jsonify({"error": message, "limit": limit}), 413
    if request.path.startswith(OPEN311_PREFIX):
        from dashboard.web.open311 import respond

        fmt = "xml" if request.path.endswith(".xml") else "json"
        return respond(fmt, "errors", "error", [{"code": 413, "description": message}], 413)
    return RequestEntityTooLarge(message).get_response()


# ---------------------------------------------------------------------------- rate limits


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one hit on a rate-limit bucket."""

    allowed: bool
    limit: int
    per_seconds: float
    retry_after: int = 0  # whole seconds until the window resets; 0 when allowed

    @property
    def message(self) -> str:
        """What to tell a refused client."""
        return (
            f"rate limit exceeded: at most {self.limit} requests per {self.per_seconds:g} s; "
            f"retry after {self.retry_after} s"
        )


def make_limiter(server: Flask) -> Limiter:
    """Flask-Limiter on Redis when CC_REDIS_URL is set (limits hold across web processes), else in memory."""
    redis_url = server.config.get("REDIS_URL") or ""
    return Limiter(
        key_func=client_ip,
        app=server,
        storage_uri=redis_url or "memory://",
        storage_options={"socket_timeout": 1, "socket_connect_timeout": 1} if redis_url else {},
        strategy="fixed-window",
        key_prefix="cc:ratelimit",
        # Redis down: count in this process rather than refuse every log-in or ingest.
        in_memory_fallback_enabled=True,
        headers_enabled=False,
    )


def _limiter() -> Limiter:
    return current_app.extensions["rate_limiter"]


def check_rate_limit(bucket: str, limit: int, per_seconds: float) -> RateDecision:
    """Count one request in bucket and say whether it is allowed, and if not when to retry."""
    item = RateLimitItemPerSecond(limit, max(1, math.ceil(per_seconds)))
    limiter = _limiter()
    try:
        strategy = limiter.limiter
        allowed = strategy.hit(item, bucket)
        reset_at = strategy.get_window_stats(item, bucket).reset_time
    except Exception as exc:  # the storage is down: the library's in-process fallback counts instead
        log.warning("rate limit %s: storage unavailable (%s); counting in this process", bucket, exc)
        strategy = _memory_fallback(limiter)
        allowed = strategy.hit(item, bucket)
        reset_at = strategy.get_window_stats(item, bucket).reset_time
    retry_after = 0 if allowed else max(1, math.ceil(reset_at - time.time()))
    return RateDecision(allowed, limit, per_seconds, retry_after)


def _memory_fallback(limiter: Limiter) -> FixedWindowRateLimiter:
    fallback = getattr(limiter, "_cc_fallback", None)
    if fallback is None:
        fallback = limiter._cc_fallback = FixedWindowRateLimiter(MemoryStorage())
    return fallback


def rate_limit(bucket: str, limit: int, per_seconds: float) -> bool:
    """Count one request in bucket; True while at most limit requests fell in the current window."""
    return check_rate_limit(bucket, limit, per_seconds).allowed


def ingest_rate(api_key_id: int) -> RateDecision:
    """One ingest request by this API key against CC_INGEST_RATE_LIMIT per minute (0: unlimited)."""
    limit = int(current_app.config.get("INGEST_RATE_LIMIT") or 0)
    if limit <= 0:
        return RateDecision(True, 0, 60)
    return check_rate_limit(f"ingest:key:{api_key_id}", limit, 60)


UNKNOWN_LOGIN_MEMORY = 24 * 3600  # how long failures for a name without an account are remembered


def count_unknown_login_failure(
    username: str, max_failures: int, lock: dt.timedelta, now: dt.datetime
) -> dt.datetime | None:
    """Count a failed log-in for a name with no active account, like a real account's failures.

    Returns the end of its lock-out once the name has failed max_failures times (or while it is
    locked), else None: an unknown name is locked out exactly like a real one, so the answers do
    not tell which names exist. Kept in the rate limiter's storage (Redis when configured).
    """
    name = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
    lock_key, count_key = f"cc:login-lock:{name}", f"cc:login-failures:{name}"
    try:
        storage = _limiter().storage
        if storage.get(lock_key):
            return dt.datetime.fromtimestamp(storage.get_expiry(lock_key), dt.UTC)
        if storage.incr(count_key, UNKNOWN_LOGIN_MEMORY) < max_failures:
            return None
        storage.clear(count_key)
        storage.incr(lock_key, math.ceil(lock.total_seconds()))
    except Exception as exc:
        log.warning("log-in failure count: storage unavailable (%s)", exc)
        return None
    return now + lock


def client_ip() -> str:
    """The client's address: the socket's, or the one trusted proxies report (CC_TRUSTED_PROXIES)."""
    return request.remote_addr or "unknown"


# ---------------------------------------------------------------------------- logs

# Query parameters and headers that carry a credential: never written to a log.
_SECRET_IN_TEXT = re.compile(r"(?i)\b(token|api_key|apikey|key|password|csrf_token)=([^&\s\"']+)")


# Parameters that carry what a person typed (the drill search): phones and IDs in them are masked.
_TYPED_IN_TEXT = re.compile(r"(?i)\b(text|q|search|keyword)=([^&\s\"']+)")


def redact(text: str) -> str:
    """text with credentials (token=, api_key=, password=…) as *** and numbers in typed searches masked."""
    text = _SECRET_IN_TEXT.sub(r"\1=***", text)
    return _TYPED_IN_TEXT.sub(lambda m: f"{m.group(1)}={mask_free_text(unquote(m.group(2)))}", text)


class RedactSecrets(logging.Filter):
    """A log filter that redacts credentials in a record's message and arguments (access logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(redact(v) if isinstance(v, str) else v for v in record.args)
        return True


REDACTED_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error", "engineio.server", "socketio.server")


def install_log_redaction() -> None:
    """Redact credentials in the access logs of the development server, gunicorn and Socket.IO (idempotent)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
