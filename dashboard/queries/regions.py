"""Reads about the region tree that every page needs."""

from __future__ import annotations

from sqlalchemy import Text, cast, func, literal_column, select
from sqlalchemy.orm import Session

from dashboard.store.models import Region


def default_region_code(session: Session) -> str | None:
    """The district (the top of the tree), or None in an empty database."""
    return session.scalar(select(Region.code).where(Region.parent_code.is_(None)).order_by(Region.code).limit(1))


def region_version(session: Session) -> tuple:
    """A cheap fingerprint of the region table: it changes when a region is added, removed,
    archived, renamed or reshaped, so caches of names and shapes key on it (the wall's resync,
    the map's shapes) and a re-import reaches open walls at their next resync without a restart.

    On PostgreSQL it is exact and costs one scan of the small regions table without reading a
    boundary: the row count, the archived count and the highest `xmin` (the id of the transaction
    that last wrote a row, which an UPDATE always raises). Elsewhere (SQLite: development and
    tests) it sums what an edit changes: name lengths, GeoJSON text lengths and centres; an edit
    that keeps all of them (a same-length rename) is caught only by caches' own expiry, or, in
    the process that imported it, by `change_count` below (queries.wall.regions_key uses both).
    queries.locate keeps its own fingerprint of the compounds for the point index.
    """
    if session.get_bind().dialect.name == "postgresql":
        columns = [func.count(), func.count(Region.archived_at), func.max(literal_column("xmin::text::bigint"))]
    else:
        columns = [
            func.count(),
            func.count(Region.archived_at),
            func.max(Region.archived_at),
            func.max(Region.code),
            func.sum(func.length(Region.name)),
            func.sum(func.length(Region.name_en)),
            func.sum(func.length(cast(Region.boundary, Text))),
            func.sum(Region.center_lat),
            func.sum(Region.center_lon),
        ]
    return tuple(session.execute(select(*columns).select_from(Region)).one())


# ---- telling the process that regions changed (services.ingest.regions, after its commit) ---------
# A region import calls `regions_changed(session)` inside its transaction (the flag that
# queries.locate's after-commit hook reads) and, once committed, `notify_changed(database)`:
# that raises the database's change count and calls every listener registered with
# `on_change(database, callback)` as callback(count), in the importing process. Listeners are kept
# per Database (app.extensions["database"]), so two apps in one process share none; a failing
# listener is logged and never undoes the import. Other processes see the change through
# `region_version(session)` above (or queries.locate's fingerprint).


def regions_changed(session: Session) -> None:
    """Regions change in this session's transaction (sets session.info["regions_changed"])."""
    session.info["regions_changed"] = True


def _own(database):
    return database.current() if hasattr(database, "current") else database


def on_change(database, callback):
    """Call callback(count) after each committed region import that changed this database's regions."""
    database = _own(database)
    listeners = getattr(database, "region_listeners", None)
    if listeners is None:
        listeners = database.region_listeners = []
    if callback not in listeners:
        listeners.append(callback)
    return callback


def notify_changed(database) -> int:
    """Regions of database changed and committed: raise its change count and call its listeners."""
    import logging

    database = _own(database)
    count = database.region_changes = getattr(database, "region_changes", 0) + 1
    for callback in list(getattr(database, "region_listeners", ())):
        try:
            callback(count)
        except Exception:  # a cache that failed to refresh must not fail the committed import
            logging.getLogger(__name__).exception("a region-change listener failed")
    return count


def change_count(database) -> int:
    """How many committed region imports changed this database's regions in this process."""
    return getattr(_own(database), "region_changes", 0)
