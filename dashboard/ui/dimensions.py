"""The dimensions a drill-down click or dropdown filters by: URL name → vocabulary (enum).

Shared by the drill-down's queries (the filters), its layout (charts and dropdowns) and its
callbacks (which value a click chose); the charts' and dropdowns' ids are ids.DRILL_BY/DRILL_FILTER.
"""

from __future__ import annotations

from dashboard.domain.vocab import AppealStatus, Category, Channel, Priority

DIMENSIONS: dict[str, type] = {"category": Category, "priority": Priority, "channel": Channel, "status": AppealStatus}
