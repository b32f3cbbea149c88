"""The start page's composer: query → layout."""

from __future__ import annotations

from callbacks.console import current_viewer
from dashboard.queries import home as home_query
from dashboard.web import callback_inputs as valid
from layouts import home as home_layout


def page(lang: str | None = None, **_query):
    """/ : where to go (walls, console, exports; /tasks and /admin for those who hold them)."""
    return home_layout.render(home_query.read(valid.language(lang)), current_viewer(with_csrf=False))
