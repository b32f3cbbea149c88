"""The console frame's request data: who is looking, as the layouts' Viewer."""

from __future__ import annotations

from flask import current_app

from dashboard.domain import clock
from dashboard.ui.chrome import Viewer
from dashboard.web import security
from dashboard.web.auth import current_principal


def current_viewer(with_csrf: bool = True) -> Viewer:
    """This request's principal as the header shows it, with the session's CSRF token for log-out.

    with_csrf=False leaves the token out (and the session untouched): for callbacks that draw no header.
    """
    principal = current_principal()
    return Viewer(
        authenticated=principal.authenticated,
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        region_code=principal.region_code,
        csrf_token=security.csrf_token() if with_csrf and principal.authenticated else "",
        calendar_fallback_years=calendar_fallback_years(),
        department_id=principal.department_id,
        team_id=principal.team_id,
    )


def calendar_fallback_years() -> tuple[int, ...]:
    """The years the console warns about: this year, or next year within 30 days, counted Monday–Friday."""
    calendar = current_app.extensions["work_calendar"]
    return tuple(calendar.fallback_soon(clock.utcnow().astimezone(calendar.timezone).date()))
