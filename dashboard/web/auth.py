"""Who is asking, and what they may do: log-in, roles, region scopes, and a fail-closed guard.

Every Flask route and every Dash callback must declare the permission it needs. The guard
runs before each request and refuses (403) any endpoint or callback that declared nothing,
so a route or callback added without thought is closed, not open.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

import flask_login
from flask import Flask, abort, current_app, g, jsonify, request, session
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.domain import roles
from dashboard.domain.regions import covers
from dashboard.domain.roles import Permission, Role
from dashboard.store.audit import audit_row
from dashboard.store.database import db
from dashboard.store.models import User


@dataclass(frozen=True)
class Principal:
    """The logged-in user, or anonymous (user_id None)."""

    user_id: int | None = None
    username: str = ""
    display_name: str = ""
    role: Role | None = None
    region_code: str | None = None  # None for an admin: the whole database
    session_generation: int = 0
    department_id: int | None = None  # a handler's department (domain.roles.ASSIGNED_ROLES)
    team_id: int | None = None  # a handler's team

    @property
    def authenticated(self) -> bool:
        """True for a logged-in user."""
        return self.user_id is not None

    # The user protocol of Flask-Login, which keeps the session.
    @property
    def is_authenticated(self) -> bool:
        """Flask-Login: a logged-in user."""
        return self.authenticated

    @property
    def is_active(self) -> bool:
        """Flask-Login: only active users are ever loaded."""
        return self.authenticated

    @property
    def is_anonymous(self) -> bool:
        """Flask-Login: nobody logged in."""
        return not self.authenticated

    def get_id(self) -> str | None:
        """Flask-Login's id in the session: the user and their session generation (see load_session_user)."""
        return f"{self.user_id}:{self.session_generation}" if self.authenticated else None

    def can(self, permission: Permission) -> bool:
        """Whether this principal holds permission (open permissions are held by everyone)."""
        return roles.can(self.role, permission)

    def covers(self, region_code: str) -> bool:
        """Whether region_code lies within this principal's scope (codes extend their parent's)."""
        if not self.authenticated:
            return False
        return covers(self.region_code, region_code)


ANONYMOUS = Principal()


# ---------------------------------------------------------------------------- passwords, log-in


class LoginRefused(Exception):
    """Log-in failed; the message is safe to show (it never says whether the user exists)."""

    def __init__(self, reason: str, locked_until: dt.datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.locked_until = locked_until


def authenticate(username: str, password: str, now: dt.datetime | None = None) -> Principal:
    """Check a username and password, counting failures and locking the account after too many."""
    now = now or dt.datetime.now(dt.UTC)
    max_failures = current_app.config["LOGIN_MAX_FAILURES"]
    lock_minutes = current_app.config["LOGIN_LOCK_MINUTES"]
    refusal: LoginRefused | None = None
    with db.transaction() as tx:
        user = tx.scalar(select(User).where(User.username == username.strip()).with_for_update())
        if user is None or not user.active:
            # Spend the same time as a real check, and lock the name out after as many failures
            # as a real account: neither the answer nor its timing may reveal who exists.
            check_password_hash(_DUMMY_HASH, password)
            refusal = _refuse_unknown(username.strip(), max_failures, lock_minutes, now)
        elif user.locked_until is not None and user.locked_until > now:
            check_password_hash(_DUMMY_HASH, password)
            refusal = LoginRefused("locked", user.locked_until)
        elif not check_password_hash(user.password_hash, password):
            # The failure is counted in this transaction, which commits before the refusal is raised.
            user.failed_logins += 1
            refusal = LoginRefused("invalid")
            if user.failed_logins >= max_failures:
                user.locked_until = now + dt.timedelta(minutes=lock_minutes)
                user.failed_logins = 0
                tx.add(audit_row(user.username, "login_locked", f"user:{user.username}", None, None))
                refusal = LoginRefused("locked", user.locked_until)
        else:
            user.failed_logins = 0
            user.locked_until = None
            tx.add(audit_row(user.username, "login", f"user:{user.username}", None, None))
            principal = _principal(user)
    if refusal is not None:
        raise refusal
    return principal


_DUMMY_HASH = generate_password_hash("not a real password")


def _refuse_unknown(username: str, max_failures: int, lock_minutes: int, now: dt.datetime) -> LoginRefused:
    """The refusal for a name with no active account, counted like a real account's failures."""
    from dashboard.web.security import count_unknown_login_failure

    locked_until = count_unknown_login_failure(username, max_failures, dt.timedelta(minutes=lock_minutes), now)
    return LoginRefused("locked", locked_until) if locked_until is not None else LoginRefused("invalid")


def _principal(user: User) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        region_code=user.region_code if roles.is_scoped(user.role) else None,
        session_generation=user.session_generation or 0,
        department_id=user.department_id,
        team_id=user.team_id,
    )


# ---------------------------------------------------------------------------- sessions (Flask-Login)


def load_session_user(session_user_id: str) -> Principal | None:
    """Flask-Login's user loader: the session's user, if still active and the session not ended.

    The id in the session is "user id:session generation". Log-out, a new password, a new role or
    region, deactivation and an admin's "end sessions" raise the user's generation (models.User),
    so every session started before ends at its next request, on every web process.
    """
    user_id, _, generation = session_user_id.partition(":")
    if not user_id.isdigit() or not generation.isdigit():
        return None
    with db.session() as s:
        user = s.get(User, int(user_id))
        if user is None or not user.active or (user.session_generation or 0) != int(generation):
            session.clear()  # the next response deletes the stored session and its cookie
            return None
        return _principal(user)


def login_session(principal: Principal) -> None:
    """Start a fresh session for principal (a new id, so a planted one cannot be reused)."""
    session.clear()
    current_app.session_interface.regenerate(session)
    flask_login.login_user(principal)
    session.permanent = True


def logout_session() -> None:
    """End this session and every other session of the same user."""
    principal = current_principal()
    if principal.authenticated:
        with db.transaction() as tx:
            user = tx.get(User, principal.user_id)
            if user is not None:
                user.end_sessions()
            tx.add(audit_row(principal.username, "logout", f"user:{principal.username}", None, None))
    flask_login.logout_user()
    session.clear()


def current_principal() -> Principal:
    """The principal of this request (Flask-Login loads it once per request)."""
    user = flask_login.current_user
    return user._get_current_object() if user else ANONYMOUS


# ---------------------------------------------------------------------------- audit


def audit(action: str, target: str, purpose: str | None = None, detail: dict | None = None) -> None:
    """Write one audit-log entry for the current principal (its own transaction)."""
    principal = current_principal()
    with db.transaction() as tx:
        tx.add(audit_row(principal.username, action, target, purpose, detail))


# ---------------------------------------------------------------------------- the guard


def requires(permission: Permission) -> Callable:
    """Declare the permission a Flask view needs; the guard checks it before the view runs."""

    def decorate(view: Callable) -> Callable:
        view.required_permission = permission
        return view

    return decorate


def declare_blueprint(blueprint, permission: Permission) -> None:
    """Declare one permission for every view of a blueprint (its own before_request authenticates)."""
    blueprint.required_permission = permission


def _callback_permissions(app: Flask) -> dict[str, Permission]:
    """This app's Dash callbacks by output key ("id.prop" or "..a.b...c.d..") → permission."""
    return app.extensions.setdefault("callback_permissions", {})


def declare_callback(app: Flask, output_key: str, permission: Permission) -> None:
    """Record the permission of the Dash callback writing output_key."""
    _callback_permissions(app)[output_key] = permission


def callback(app, permission: Permission, *args, **kwargs) -> Callable:
    """app.callback that also declares the callback's permission (the only way ours are registered)."""

    def decorate(function: Callable) -> Callable:
        registered = app.callback(*args, **kwargs)(function)
        # Dash keys its callback map by the outputs' string; the last one added is this one.
        declare_callback(app.server, list(app.callback_map)[-1], permission)
        return registered

    return decorate


def _view_permission(app: Flask, endpoint: str) -> Permission | None:
    view = app.view_functions.get(endpoint)
    permission = app.extensions.get("endpoint_permissions", {}).get(endpoint)
    permission = permission or getattr(view, "required_permission", None)
    if permission is None and "." in endpoint:
        blueprint = app.blueprints.get(endpoint.rsplit(".", 1)[0])
        permission = getattr(blueprint, "required_permission", None)
    return permission


# Dash's own pages router renders page layouts; each layout is guarded by guarded_layout.
_PAGES_ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."


def _dash_callback_permission() -> Permission | None:
    try:
        body = json.loads(request.get_data(cache=True) or b"{}")
    except (ValueError, RecursionError):  # not JSON, or nested too deep to be a callback
        return None
    output = body.get("output") if isinstance(body, dict) else None
    if output == _PAGES_ROUTER_OUTPUT:
        return Permission.PUBLIC
    return _callback_permissions(current_app).get(output) if isinstance(output, str) else None


def _deny(permission: Permission | None, what: str):
    principal = current_principal()
    if permission is None:
        message = f"{what} declares no permission and is closed"
        status = 403
    elif not principal.authenticated:
        message, status = "log in first", 401
    else:
        message, status = f"this needs the {permission.value} permission", 403
    if request.path.startswith("/_dash") or request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(error=message), status
    if status == 401 and request.method == "GET":
        from flask import redirect, url_for

        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(status, description=message)


def enforce() -> object | None:
    """before_request: refuse any endpoint or Dash callback whose permission is missing or not held."""
    app = current_app
    endpoint = request.endpoint
    if endpoint is None:
        return None  # 404 / 405: nothing to protect
    if request.path == app.config.get("DASH_CALLBACK_PATH", "/_dash-update-component"):
        permission = _dash_callback_permission()
        what = "this Dash callback"
    else:
        permission = _view_permission(app, endpoint)
        what = f"the route {endpoint}"
    if permission is None or not current_principal().can(permission):
        return _deny(permission, what)
    g.required_permission = permission
    return None


def mark_public(app: Flask, endpoints: list[str]) -> None:
    """Declare endpoints that carry no data (Dash's shell, assets, static files) as public."""
    declared = app.extensions.setdefault("endpoint_permissions", {})
    for endpoint in endpoints:
        declared[endpoint] = Permission.PUBLIC


def guarded_layout(permission: Permission, layout: Callable) -> Callable:
    """Wrap a Dash page layout: without permission it renders the log-in prompt or a refusal."""

    @wraps(layout)
    def render(**query):
        from layouts.console import denied

        principal = current_principal()
        if not principal.can(permission):
            return denied(principal, query.get("lang"))
        return layout(**query)

    render.required_permission = permission
    return render


def init_app(app: Flask) -> None:
    """Install the session's user loader and the guard; call after every blueprint and Dash are registered."""
    app.config.setdefault("LOGIN_MAX_FAILURES", 5)
    app.config.setdefault("LOGIN_LOCK_MINUTES", 15)
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(hours=app.config.get("SESSION_HOURS", 8))
    login_manager = flask_login.LoginManager()
    login_manager.user_loader(load_session_user)
    login_manager.anonymous_user = lambda: ANONYMOUS
    login_manager.init_app(app)
    dash_public = [
        endpoint
        for endpoint in app.view_functions
        if (endpoint.startswith("/_dash-") and endpoint != "/_dash-update-component")
        or endpoint in ("/_reload-hash", "/_favicon.ico", "/", "/<path:path>", "static", "_dash_assets.static")
    ]
    mark_public(app, dash_public)
    app.before_request(enforce)


def require_region(principal: Principal, region_code: str) -> None:
    """Raise 403 when region_code is outside the principal's scope."""
    if not principal.covers(region_code):
        abort(403, description=f"region {region_code} is outside your scope")
