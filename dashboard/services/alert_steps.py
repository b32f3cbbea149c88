"""A person's step on an alert from the console (issue 19): who may take it, in which scope, then
services.alerts.acknowledge / close in one transaction (audited and pushed to the walls by those).

Who: a console user who may act (operators, supervisors, admins: Permission.CONSOLE and
Permission.ACT); a viewer is refused by the page's callback guard already, a handler (ACT without
the console) here. Scope: an alert outside the user's region is answered as if it did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.domain.roles import Permission
from dashboard.services import alerts
from dashboard.store.database import db
from dashboard.store.models import Alert
from dashboard.ui.chrome import Viewer
from dashboard.ui.i18n import t

STEPS = {"acknowledge": alerts.acknowledge, "close": alerts.close}


@dataclass(frozen=True)
class StepOutcome:
    """Whether the step was taken, and what to tell the person (in their language)."""

    ok: bool
    message: str


def may_handle(viewer: Viewer) -> bool:
    """Whether this viewer may acknowledge and close alerts (in their region)."""
    return viewer.can(Permission.CONSOLE) and viewer.can(Permission.ACT)


def take(viewer: Viewer, alert_id: int, step: str, note: str | None, lang: str = "zh") -> StepOutcome:
    """Acknowledge or close one alert for viewer; a refusal says why (no permission, unknown, closed, no note)."""
    if step not in STEPS or not may_handle(viewer):
        return StepOutcome(False, t("alert_list.not_allowed", lang))
    with db.transaction() as session:
        alert = session.get(Alert, alert_id)
        if alert is None or not viewer.covers(alert.region_code):
            return StepOutcome(False, alerts.AlertError("unknown", alert_id).text(lang))
        try:
            STEPS[step](session, alert_id, viewer.username, note or "")
        except alerts.AlertError as refusal:  # raised before anything changed
            return StepOutcome(False, refusal.text(lang))
    return StepOutcome(True, t(f"alert_list.done_{step}", lang, id=alert_id))
