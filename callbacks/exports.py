"""The exports page's composer: query → layout."""

from __future__ import annotations

from callbacks.console import current_viewer
from dashboard.queries import exports as exports_query
from dashboard.ui.i18n import normalise_language
from layouts import exports as exports_layout


def page(lang: str | None = None, **_query):
    """/exports: the produced days, with the links the viewer's scope allows."""
    lang = normalise_language(lang)
    viewer = current_viewer()
    return exports_layout.render(exports_query.read(viewer, lang), viewer)
