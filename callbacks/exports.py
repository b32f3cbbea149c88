"""The exports page's composer: query → layout."""

from __future__ import annotations

from callbacks.console import current_viewer
from dashboard.queries import exports as exports_query
from dashboard.web import callback_inputs as valid
from layouts import exports as exports_layout


def page(lang: str | None = None, **_query):
    """/exports: the produced days, with the links the viewer's scope allows."""
    lang = valid.language(lang)
    viewer = current_viewer()
    return exports_layout.render(exports_query.read(viewer, lang), viewer)
