"""The start page's composer: query → layout."""

from __future__ import annotations

from dashboard.queries import home as home_query
from dashboard.web import callback_inputs as valid
from layouts import home as home_layout


def page(lang: str | None = None, **_query):
    """/ : links to every wall."""
    return home_layout.render(home_query.read(valid.language(lang)))
