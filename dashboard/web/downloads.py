"""Console downloads: the filtered appeals list and the daily KPI exports (masked, scoped, audited).

Every file is written through services.exports (csv_bytes, write_xlsx), whose cells are inert
(domain.cells: text a spreadsheet would run as a formula gets a leading quote).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
from flask import Blueprint, Response, abort, current_app, request, send_file
from sqlalchemy import select

from dashboard.domain import clock
from dashboard.domain.localday import LocalDay
from dashboard.domain.pii import mask_free_text
from dashboard.domain.regions import within
from dashboard.queries import drill as drilldata
from dashboard.queries.exports import covers_district
from dashboard.queries.regions import default_region_code
from dashboard.services.exports import CSV_COLUMNS, csv_bytes, write_xlsx
from dashboard.store.database import db
from dashboard.store.models import DailyExport, KpiSnapshot, Region
from dashboard.ui.i18n import normalise_language, t
from dashboard.web.auth import Permission, Principal, audit, current_principal, require_region, requires

bp = Blueprint("console", __name__)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/drill/export.<fmt>")
@requires(Permission.EXPORT)
def export_list(fmt: str):
    """The drill-down's filtered appeals as CSV or XLSX: masked, within the user's region, audited.

    A period DrillFilters refuses (before 2000, after tomorrow, too long, ending before it starts,
    not a date) is a 400 whose description names the parameter.
    """
    if fmt not in ("csv", "xlsx"):
        abort(404)
    principal = current_principal()
    lang = normalise_language(request.args.get("lang"))
    now = clock.utcnow()
    calendar = current_app.extensions["work_calendar"]
    today = LocalDay.of(now, calendar).day
    query = request.args.to_dict()
    with db.session() as session:
        default_region = principal.region_code or default_region_code(session)
        try:
            filters = drilldata.DrillFilters.from_query(query, default_region, today, lang)
        except drilldata.FilterError as exc:
            abort(400, description=str(exc))
        require_region(principal, filters.region)
        frame = drilldata.export_frame(session, filters, now, calendar)
    frame.columns = [t(f"console.export_{column}", lang) for column in frame.columns]
    name = f"appeals_{filters.region}_{filters.start.isoformat()}_{filters.end.isoformat()}.{fmt}"
    # The search text may hold a resident's phone or ID number: the audit keeps it masked.
    searched = filters.to_query(text=mask_free_text(filters.text))
    audit("export_list", f"region:{filters.region}", None, {"query": searched, "rows": len(frame)})
    if fmt == "csv":
        # UTF-8 with a BOM: Excel on Chinese Windows then opens it without garbling.
        return _attachment(csv_bytes(frame, "utf-8-sig"), name, "text/csv; charset=utf-8")
    buffer = io.BytesIO()
    write_xlsx(buffer, {"appeals": frame})
    return _attachment(buffer.getvalue(), name, XLSX_TYPE)


def _attachment(body: bytes, name: str, mimetype: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/exports/<day>/<name>")
@requires(Permission.EXPORT)
def download_export(day: str, name: str):
    """One file of a day's KPI export; district-wide files need district scope. Every download is audited."""
    principal = current_principal()
    try:
        day_value = dt.date.fromisoformat(day)
    except ValueError:
        abort(404)
    if name == "scoped.csv":
        return _scoped_csv(principal, day_value)
    if not covers_district(principal):
        abort(403, description="the district-wide files need district scope; take scoped.csv")
    with db.session() as session:
        row = session.get(DailyExport, day_value)
    if row is None or row.finished_at is None or name not in (row.files or []):
        abort(404)
    folder = Path(current_app.config["EXPORT_DIR"]).resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        abort(404)
    audit("download_export", f"export:{name}")
    return send_file(path, as_attachment=True, download_name=name)


def _scoped_csv(principal: Principal, day: dt.date) -> Response:
    """The day's snapshot rows of the principal's own region and below, in the export's CSV columns."""
    with db.session() as session:
        scope = principal.region_code or default_region_code(session)
        if scope is None:
            abort(404)
        require_region(principal, scope)
        rows = session.execute(
            select(KpiSnapshot, Region.name, Region.level)
            .join(Region, Region.code == KpiSnapshot.region_code)
            .where(KpiSnapshot.day == day, within(KpiSnapshot.region_code, scope))
            .order_by(KpiSnapshot.region_code)
        ).all()
        export = session.get(DailyExport, day)
    if not rows:
        abort(404)
    frame = pd.DataFrame(
        [
            {
                "date": day.isoformat(),
                "region_code": snap.region_code,
                "region_name": name,
                "level": level.value,
                **{key: getattr(snap, key) for key in CSV_COLUMNS[4:]},
            }
            for snap, name, level in rows
        ],
        columns=list(CSV_COLUMNS),
    )
    if export is not None and export.as_of is not None:  # a day exported before it ended
        frame["as_of"] = export.as_of.isoformat()
    audit("download_export", f"export:kpi_{day.isoformat()}_{scope}.csv")
    return _attachment(csv_bytes(frame), f"kpi_{day.isoformat()}_{scope}.csv", "text/csv; charset=utf-8")
