"""An alert's reason in words (issue 19): one sentence per kind, written from the alert's `details`
(the figures domain.alerts records), in Chinese or English. The wall, the console, the API, the
daily export and the outbox's alert_raised event all use this one function."""

from __future__ import annotations

from dashboard.domain.vocab import Category
from dashboard.ui.i18n import DEFAULT_LANGUAGE, label, normalise_language, t


def _category(category, lang: str) -> str:
    if not category:
        return ""
    try:
        return label(Category(getattr(category, "value", category)), lang)
    except ValueError:
        return str(category)


def _number(value) -> str:
    """A figure as people read it: 1.25 → 1.3, 2.0 → 2."""
    value = float(value or 0)
    return f"{value:.1f}".removesuffix(".0")


def _probability(value) -> str:
    value = float(value or 0)
    return " < 0.000001" if value < 1e-6 else f" = {value:.2g}"


def reason_text(
    kind, details: dict | None, lang: str = DEFAULT_LANGUAGE, category=None, place: str | None = None
) -> str:
    """Why an alert was raised, in one sentence: kind (surge|repeat|at_risk), its details, optionally its
    category (code) and place name (the region's name) to open the sentence with."""
    lang = normalise_language(lang)
    kind = getattr(kind, "value", kind)
    details = details or {}
    what = _category(category, lang)
    where = t("alerts.reason_where", lang, place=place) if place else ""
    if kind == "surge":
        return t(
            "alerts.reason_surge",
            lang,
            where=where,
            category=what,
            observed=int(details.get("observed", 0)),
            expected=_number(details.get("expected")),
            weeks=details.get("weeks", 0),
            p=_probability(details.get("p_value")),
        )
    if kind == "repeat":
        basis = "address" if details.get("basis") == "address" else "compound"
        return t(
            f"alerts.reason_repeat_{basis}",
            lang,
            where=where,
            category=what,
            count=int(details.get("count", 0)),
            days=details.get("days", 0),
        )
    if kind == "at_risk":
        return t(
            "alerts.reason_at_risk",
            lang,
            where=where,
            category=what,
            hours=_number(details.get("hours_left")),
            percent=round(float(details.get("fraction_left", 0)) * 100),
            load=int(details.get("open_load", 0)),
            median=_number(details.get("median_load")),
            days=details.get("median_days", 0),
        )
    raise ValueError(f"unknown alert kind {kind!r}")
