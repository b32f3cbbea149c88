"""The supervisors' console frame: header with navigation, user and log-out, and refusal panels."""

from __future__ import annotations

from dash import dcc, html

from dashboard.domain.kpi import KPI_KEYS, assess, format_kpi, format_kpi_against
from dashboard.domain.roles import Permission
from dashboard.ui import ids
from dashboard.ui.chrome import Refusal, Viewer
from dashboard.ui.i18n import normalise_language, t


def with_lang(href: str, lang: str) -> str:
    """href with ?lang=en added when the page is in English."""
    if lang != "en" or "lang=" in href:
        return href
    return href + ("&" if "?" in href else "?") + "lang=en"


def header(viewer: Viewer, lang: str, active: str, other_lang_href: str) -> html.Header:
    """Title, navigation (by permission), language switch, the user and a log-out form."""
    links = [("drill", "/drill", Permission.CONSOLE), ("alerts", "/alerts", Permission.CONSOLE)]
    links.append(("exports", "/exports", Permission.EXPORT))
    links.append(("admin", "/admin", Permission.ADMIN))
    nav = [
        html.A(
            t(f"console.nav_{name}", lang),
            href=with_lang(href, lang),
            className="console-nav-active" if name == active else "",
            id=f"nav-{name}",
        )
        for name, href, permission in links
        if viewer.can(permission)
    ]
    role = t(f"Role.{viewer.role.value}", lang) if viewer.role else ""
    return html.Header(
        [
            html.Div([html.Span(t("app.title", lang), className="console-title")], className="console-brand"),
            html.Nav(nav, className="console-nav"),
            html.Div(
                [
                    html.A(t("login.other_language", lang), href=other_lang_href, className="console-lang"),
                    html.Span(f"{viewer.display_name} · {role}", className="console-user", id="console-user"),
                    html.Form(
                        [
                            dcc.Input(type="hidden", name="csrf_token", value=viewer.csrf_token),
                            html.Button(t("console.logout", lang), type="submit", id="console-logout"),
                        ],
                        method="POST",
                        action=f"/logout?lang={lang}",
                        className="console-logout",
                    ),
                ],
                className="console-session",
            ),
        ],
        className="console-header",
    )


def calendar_banner(years: list[int] | tuple[int, ...], lang: str) -> str:
    """The warning that a year is counted Monday–Friday for want of its official holiday schedule."""
    return t("console.calendar_fallback", lang, years=("、" if lang == "zh" else ", ").join(map(str, years)))


def calendar_notice(viewer: Viewer, lang: str) -> list:
    """Under the header, while this year (or next year, soon) has no holiday data: what it means and,
    for an admin, where to enter the official schedule."""
    if not viewer.calendar_fallback_years:
        return []
    parts: list = [calendar_banner(viewer.calendar_fallback_years, lang)]
    if viewer.can(Permission.ADMIN):
        parts += [" ", html.A(t("console.calendar_fix", lang), href=with_lang("/admin", lang) + "#admin-calendar")]
    return [html.Div(parts, className="console-banner", id=ids.CONSOLE_CALENDAR_BANNER, role="alert")]


def page(viewer: Viewer, lang: str, active: str, other_lang_href: str, body: list) -> html.Div:
    """A whole console page: the header (and any calendar warning) above the body."""
    return html.Div(
        [
            header(viewer, lang, active, other_lang_href),
            *calendar_notice(viewer, lang),
            html.Main(body, className="console-main"),
        ],
        className="console-root",
    )


def denied(viewer: Viewer, lang: str | None, message: str | None = None) -> html.Div:
    """What a page shows to someone without the permission: a log-in link, or a refusal.

    viewer: anything with `authenticated` (the guard passes its Principal).
    """
    lang = normalise_language(lang)
    if not viewer.authenticated:
        return html.Div(
            html.Div(
                [
                    html.H2(t("console.login_needed", lang)),
                    html.A(t("login.submit", lang), href=with_lang("/login", lang), id="console-login-link"),
                ],
                className="console-card console-denied",
            ),
            className="console-root",
        )
    return html.Div(
        html.Div(
            [html.H2(t("console.forbidden", lang)), html.P(message or "")],
            className="console-card console-denied",
        ),
        className="console-root",
    )


def refused(viewer: Viewer, lang: str, refusal: Refusal) -> html.Div:
    """denied() with a query's refusal as its message."""
    return denied(viewer, lang, t(refusal.key, lang, **refusal.values))


def kpi_cards(kpis: dict, targets: dict, lang: str) -> html.Div:
    """The ten §5 KPIs as cards, each marked good or bad against its target where one is set."""
    cards = []
    for key in KPI_KEYS:
        verdict = assess(key, kpis.get(key), targets)
        target = targets.get(key, {}).get("target")
        cards.append(
            html.Div(
                [
                    html.Div(t(f"kpi.{key}", lang), className="console-kpi-label"),
                    html.Div(
                        format_kpi_against(key, kpis.get(key), targets),
                        className="console-kpi-value",
                        id=f"kpi-{key}",
                    ),
                    html.Div(
                        f"{t('wall.target', lang)} {format_kpi(key, target)}" if target is not None else "",
                        className="console-kpi-target",
                    ),
                ],
                className=f"console-kpi console-kpi-{verdict or 'none'}",
            )
        )
    return html.Div(cards, className="console-kpis")
