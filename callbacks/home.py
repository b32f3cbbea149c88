"""The start page's composer: query → layout."""

from __future__ import annotations

from dashboard.queries import home as home_query
from dashboard.ui.i18n import normalise_language
from layouts import home as home_layout


def page(lang: str | None = None, **_query):
    """/ : links to every wall."""
    return home_layout.render(home_query.read(normalise_language(lang)))
