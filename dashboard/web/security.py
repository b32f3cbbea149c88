"""Hardening shared by every surface: security headers and the Content-Security-Policy, session
cookie flags, CSRF protection, rate limits and the request-size limit.

`init_app(server)` wires it into the Flask server once Dash is mounted. `csrf_token()`,
`rate_limit()` and `client_ip()` are the building blocks that log-in and supervisor pages use.
"""

from __future__ import annotations

import hmac
import logging
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, jsonify, request, session
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup, escape
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

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
    """Install headers, cookie flags, CSRF checks, rate limiter and size-limit errors on server (after Dash)."""
    server.session_interface = FlaggedSessionInterface()
    server.json = DepthSafeJSONProvider.replacing(server)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    proxies = int(server.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        # Only then may X-Forwarded-For/-Proto/-Host be believed (client_ip, is_secure, Origin checks).
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    server.extensions["rate_limiter"] = make_rate_limiter(server.config.get("REDIS_URL") or "")
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


class FlaggedSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with Secure decided per request by cookies_secure()."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure unless insecure cookies are configured or a demo is served over plain HTTP."""
        return cookies_secure(app)


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
    """A state-changing browser request without a valid CSRF token, or a cross-site JSON request."""


def csrf_token() -> str:
    """This session's CSRF token (created on first use), for a hidden form field named csrf_token."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


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
    if request.path == _dash_callback_path() and not request.is_json:
        raise CSRFError("Dash callbacks must be sent as application/json")
    if request.is_json:
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
            raise CSRFError(f"cross-origin request refused: Origin {origin!r} is not this site")
        return
    # Every other state-changing request (forms, multipart, text, no body) needs the session's token.
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not expected:
        raise CSRFError("the form has expired or cookies are off: reload the page and submit it again")
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CSRFError(f"missing or wrong CSRF token: send the form's {CSRF_FIELD} field (or {CSRF_HEADER} header)")


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


def _window(now: float, per_seconds: float) -> tuple[int, int]:
    """The fixed window holding now, and whole seconds until it ends (at least 1)."""
    index = math.floor(now / per_seconds)
    return index, max(1, math.ceil((index + 1) * per_seconds - now))


class MemoryRateLimiter:
    """Fixed-window counters in this process (one web process, or when Redis is unreachable)."""

    PRUNE_ABOVE = 10_000

    def __init__(self) -> None:
        self._counts: dict[tuple[str, float], tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, bucket: str, limit: int, per_seconds: float, now: float | None = None) -> RateDecision:
        """Count one request in bucket; allowed while the window holds at most limit requests."""
        now = time.time() if now is None else now
        index, remaining = _window(now, per_seconds)
        key = (bucket, per_seconds)
        with self._lock:
            if len(self._counts) > self.PRUNE_ABOVE:
                self._counts = {k: v for k, v in self._counts.items() if v[0] >= math.floor(now / k[1])}
            window, count = self._counts.get(key, (index, 0))
            count = count + 1 if window == index else 1
            self._counts[key] = (index, count)
        allowed = count <= limit
        return RateDecision(allowed, limit, per_seconds, 0 if allowed else remaining)


class RedisRateLimiter:
    """Fixed-window counters in Redis, shared by every web process; falls back to memory if Redis fails."""

    PREFIX = "cc:ratelimit:"

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._fallback = MemoryRateLimiter()
        self._error = redis.RedisError

    def hit(self, bucket: str, limit: int, per_seconds: float, now: float | None = None) -> RateDecision:
        """Count one request in bucket; allowed while the window holds at most limit requests."""
        now = time.time() if now is None else now
        index, remaining = _window(now, per_seconds)
        key = f"{self.PREFIX}{bucket}:{per_seconds:g}:{index}"
        try:
            pipeline = self._client.pipeline()  # MULTI/EXEC: the count and its expiry land together
            pipeline.incr(key)
            pipeline.expire(key, math.ceil(per_seconds) + 1)
            count, _ = pipeline.execute()
        except self._error as exc:
            log.warning("rate limit %s: Redis unavailable (%s); counting in this process", bucket, exc)
            return self._fallback.hit(bucket, limit, per_seconds, now)
        allowed = count <= limit
        return RateDecision(allowed, limit, per_seconds, 0 if allowed else remaining)


def make_rate_limiter(redis_url: str) -> MemoryRateLimiter | RedisRateLimiter:
    """Redis-backed when a Redis URL is configured (several web processes share it), else in memory."""
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()


def check_rate_limit(bucket: str, limit: int, per_seconds: float) -> RateDecision:
    """Count one request in bucket and say whether it is allowed, and if not when to retry."""
    return current_app.extensions["rate_limiter"].hit(bucket, limit, per_seconds)


def rate_limit(bucket: str, limit: int, per_seconds: float) -> bool:
    """Count one request in bucket; True while at most limit requests fell in the current window."""
    return check_rate_limit(bucket, limit, per_seconds).allowed


def ingest_rate(api_key_id: int) -> RateDecision:
    """One ingest request by this API key against CC_INGEST_RATE_LIMIT per minute (0: unlimited)."""
    limit = int(current_app.config.get("INGEST_RATE_LIMIT") or 0)
    if limit <= 0:
        return RateDecision(True, 0, 60)
    return check_rate_limit(f"ingest:key:{api_key_id}", limit, 60)


def client_ip() -> str:
    """The client's address: the socket's, or the one trusted proxies report (CC_TRUSTED_PROXIES)."""
    return request.remote_addr or "unknown"
