"""The sample district of data/samples/regions_wuhou.csv as regions rows, for the organisation and
population imports (stored directly: tests/test_import_regions.py tests the region importer)."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import func, select

from dashboard.config import DATA_DIR
from dashboard.domain.regions import level_of
from dashboard.services.ingest.dropfolder import ingest_file
from dashboard.store.database import db
from dashboard.store.models import Region

SAMPLES = DATA_DIR / "samples"
BROKEN = SAMPLES / "broken"


def _sample_regions() -> dict[str, tuple[str, str]]:
    with (SAMPLES / "regions_wuhou.csv").open(encoding="utf-8-sig", newline="") as handle:
        return {row["区划代码"]: (row["名称"], row["英文名称"]) for row in csv.DictReader(handle)}


REGIONS = _sample_regions()
COMMUNITIES = {code: name for code, (name, _) in REGIONS.items() if len(code) == 12}
COMPOUNDS = {code: name for code, (name, _) in REGIONS.items() if len(code) == 15}


def add_sample_regions() -> None:
    """The sample district, its three streets, eight communities and 24 compounds (names, no shapes)."""
    with db.transaction() as session:
        for length in (6, 9, 12, 15):
            for code, (name, name_en) in REGIONS.items():
                if len(code) == length:
                    parent = code[:-3] if length > 6 else None
                    session.add(Region(code=code, name=name, name_en=name_en, level=level_of(code), parent_code=parent))
            session.flush()


def ingest(app, path: Path, source: str | None = None) -> dict:
    """Ingest one file as the drop folder, the CLI and the upload page do."""
    return ingest_file(app.extensions["ingestor"], path, source=source)


def count(model, *where) -> int:
    """Rows of a table (matching where)."""
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))
