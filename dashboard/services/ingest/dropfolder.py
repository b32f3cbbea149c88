"""The drop folder: files put in incoming/ are ingested, then moved to done/ or failed/ with a report."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path

from dashboard.services.ingest import bulkload, pipeline, reference, regions
from dashboard.services.ingest.prepare import BATCH_SIZE
from dashboard.services.ingest.readers import FileError, format_of, kind_of, read_records
from dashboard.services.ingest.service import Ingestor

log = logging.getLogger(__name__)
SETTLE_SECONDS = 2.0  # a file still being written changes its mtime; wait until it has settled
IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")


def folders(root: Path) -> dict[str, Path]:
    """incoming/, done/ and failed/ under root, created when missing."""
    paths = {name: root / name for name in ("incoming", "done", "failed")}
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    return paths


def ready_files(incoming: Path, now: float | None = None) -> list[Path]:
    """Files that have finished arriving, oldest first."""
    now = time.time() if now is None else now
    files = []
    for path in incoming.iterdir():
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(IGNORED_SUFFIXES):
            continue
        if now - path.stat().st_mtime >= SETTLE_SECONDS:
            files.append(path)
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def ingest_file(
    ingestor: Ingestor,
    path: Path,
    source: str | None = None,
    pipelined: bool | None = None,
    initial_load: bool | None = None,
    crs: str | None = None,
    archive_missing: bool = False,
    actor: str = "dropfolder",
) -> dict:
    """Ingest one file; returns its report (with 'file_error' when the file could not be read).

    A large file is read in a second process while this one writes (pipelined=None decides by
    size; True or False forces it). A file of appeals that dwarfs the table is loaded with the
    table's secondary indexes deferred (bulkload; initial_load=None decides by size, True or
    False forces it). A regions* file goes to services/ingest/regions.py with crs (None: from
    the file's name), archive_missing and actor (who the audit log names).
    """
    started = time.perf_counter()
    source = source or f"file:{path.name}"
    try:
        kind = kind_of(path)
        if kind == "region":  # GeoJSON, a zipped Shapefile or CSV of the region tree: its own importer
            report = regions.import_regions(
                ingestor.database, path, crs=crs, archive_missing=archive_missing, actor=actor, source=source
            )
            return _finished(report, path, started)
        format_of(path)
        if kind in reference.KINDS:  # departments, teams, staff, visits, population (by natural keys)
            return _finished(reference.ingest_path(ingestor, path, kind, source), path, started)
        engine = ingestor.database.engine
        bulkload.restore(engine)  # after a load that was killed
        initial_load = kind == "appeal" and (
            bulkload.worth_deferring(engine, path) if initial_load is None else initial_load
        )
        batch_size = bulkload.BATCH_SIZE if initial_load else BATCH_SIZE
        with bulkload.indexes_deferred(engine, enabled=initial_load):
            if pipelined if pipelined is not None else pipeline.worth_pipelining(path):
                context = ingestor.context(kind)
                batches = pipeline.prepared_batches(path, context, batch_size)
                report = ingestor.write_batches(batches, context, source).as_dict()
            else:
                report = ingestor.ingest(read_records(path, kind), kind, source=source, batch_size=batch_size).as_dict()
    except FileError as exc:
        report = {"source": source, "file_error": str(exc)}
    except Exception as exc:  # a bug must not jam the drop folder: the file goes to failed/ with the reason
        log.exception("ingesting %s failed", path.name)
        report = {
            "source": source,
            "file_error": f"internal error: {exc.__class__.__name__}: {exc}",
        }
    report["file"] = path.name
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


def process(ingestor: Ingestor, root: Path) -> list[dict]:
    """Ingest every ready file in incoming/ and move it aside with its report next to it."""
    paths = folders(root)
    reports = []
    for path in ready_files(paths["incoming"]):
        report = ingest_file(ingestor, path, source=f"drop:{path.name}")
        destination = paths["failed"] if "file_error" in report else paths["done"]
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        target = destination / f"{stamp}_{path.name}"
        path.replace(target)
        report_path = target.with_name(target.name + ".report.json")
        report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        log.info("drop folder: %s → %s (%s)", path.name, destination.name, _summary(report))
        reports.append(report)
    return reports


def _summary(report: dict) -> str:
    if "file_error" in report:
        return report["file_error"]
    return ", ".join(f"{key} {report[key]}" for key in ("created", "updated", "unchanged", "stale", "quarantined"))


def _finished(report: dict, path: Path, started: float) -> dict:
    """A reference file's report, with its file name and time like any other."""
    report["file"] = path.name
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report
