"""Log-in and log-out for supervisors and admins: a plain HTML form with a CSRF token."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template_string, request, url_for

from dashboard.ui.i18n import normalise_language, t
from dashboard.web import security
from dashboard.web.auth import LoginRefused, Permission, authenticate, login_session, logout_session, requires

bp = Blueprint("auth", __name__)

LOGIN_ATTEMPTS_PER_MINUTE = 10  # per client address, on top of the per-account lock-out

_PAGE = """<!doctype html>
<html lang="{{ 'en' if lang == 'en' else 'zh-CN' }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><link rel="stylesheet" href="/assets/console.css"></head>
<body class="login-body">
<main class="login-card">
  <h1>{{ title }}</h1>
  <p class="login-sub">{{ subtitle }}</p>
  {% if message %}<p class="login-error" role="alert">{{ message }}</p>{% endif %}
  <form method="post" action="{{ action }}" autocomplete="on">
    <input type="hidden" name="csrf_token" value="{{ csrf }}">
    <input type="hidden" name="next" value="{{ next_url }}">
    <label>{{ username_label }}<input name="username" id="login-username" autocomplete="username" required
      value="{{ username }}" autofocus></label>
    <label>{{ password_label }}<input name="password" id="login-password" type="password"
      autocomplete="current-password" required></label>
    <button type="submit" id="login-submit">{{ submit }}</button>
  </form>
  <p class="login-lang"><a href="{{ other_lang_url }}">{{ other_lang }}</a></p>
</main></body></html>"""


DEFAULT_NEXT = "/drill"
TASKS_PAGE = "/tasks"


def safe_next(value: object) -> str:
    """The same-site path to go to after log-in, or /drill: never another site (an open redirect).

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
    "/\t/evil.example" means "//evil.example": any control character, whitespace or backslash is
    refused outright, and what is left must be a path with no scheme and no host.
    """
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2000:
        return DEFAULT_NEXT
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch == "\\" for ch in value):
        return DEFAULT_NEXT
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return DEFAULT_NEXT
    return value


def _page(lang: str, message: str = "", username: str = "", status: int = 200) -> Response:
    next_url = safe_next(request.values.get("next"))
    other = "zh" if lang == "en" else "en"
    html = render_template_string(
        _PAGE,
        lang=lang,
        title=t("login.title", lang),
        subtitle=t("app.title", lang),
        message=message,
        action=url_for("auth.login", lang=lang),
        csrf=security.csrf_token(),
        next_url=next_url,
        username=username,
        username_label=t("login.username", lang),
        password_label=t("login.password", lang),
        submit=t("login.submit", lang),
        other_lang=t("login.other_language", lang),
        other_lang_url=url_for("auth.login", lang=other, next=next_url),
    )
    return Response(html, status=status, mimetype="text/html")


@bp.route("/login", methods=["GET", "POST"])
@requires(Permission.PUBLIC)
def login():
    """Show the form; on POST check the password (rate-limited, with lock-out) and start a session."""
    lang = normalise_language(request.args.get("lang"))
    if request.method == "GET":
        return _page(lang)
    username = request.form.get("username", "")[:64]
    if not security.rate_limit(f"login:{security.client_ip()}", LOGIN_ATTEMPTS_PER_MINUTE, 60):
        return _page(lang, t("login.too_many", lang), username, status=429)
    try:
        principal = authenticate(username, request.form.get("password", ""))
    except LoginRefused as refused:
        if refused.reason == "locked":
            zone = current_app.extensions["work_calendar"].timezone
            until = refused.locked_until.astimezone(zone).strftime("%H:%M") if refused.locked_until else ""
            return _page(lang, t("login.locked", lang, until=until), username, status=403)
        return _page(lang, t("login.invalid", lang), username, status=401)
    login_session(principal)
    target = safe_next(request.form.get("next"))
    if target == DEFAULT_NEXT and not principal.can(Permission.CONSOLE) and principal.can(Permission.TASKS):
        target = TASKS_PAGE  # a handler has no console: its place is its task list
    if lang == "en" and "lang=" not in target:
        target += ("&" if "?" in target else "?") + "lang=en"
    return redirect(target)


@bp.route("/logout", methods=["POST"])
@requires(Permission.PUBLIC)
def logout():
    """End the session (POST with the CSRF token, so another site cannot log a user out)."""
    lang = normalise_language(request.args.get("lang"))
    logout_session()
    return redirect(url_for("auth.login", lang=lang))
