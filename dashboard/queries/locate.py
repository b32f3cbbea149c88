"""Which compound contains a point: an STRtree over every compound's shape, rebuilt when regions change.

`CompoundIndex` is the pure part: built from (code, GeoJSON geometry) pairs, it answers for one
point (`locate`) or for many at once (`locate_many`: one vectorised pass, for an ingest batch of
thousands of rows). A point is in a compound when it lies inside its shape or on its border; a
point on a border that several compounds share (or on the rim of a hole that another compound
fills) goes to the lowest code of them, so the answer never depends on the order of rows. A
point in a hole, outside every shape, or not a number (NaN, ±inf) is in no compound (None).
Polygons and MultiPolygons count; other geometries and compounds without a shape are left out.

`Locator` keeps one database's index up to date (`locator_for(database)` gives a database its
one Locator). Archived compounds are left out. The index is rebuilt

* at the next look-up after an explicit signal in this process: the region import's
  `queries.regions.regions_changed(session)` inside its transaction (read by the after-commit
  hook that locator_for installs on the database's sessions), its `queries.regions.notify_changed
  (database)` after the commit (locator_for subscribes with `on_change`), or
  `locator_for(database).forget()` from anywhere;
* otherwise when the compounds' `fingerprint` changes, looked at no more often than every
  `CHECK_SECONDS`: this catches changes by another process (a CLI import while the server
  runs) within a few seconds. On PostgreSQL the fingerprint is exact (the newest `xmin` among
  the compounds' rows: any write raises it); on SQLite it sums what an edit changes (lengths
  of the GeoJSON text, centres, archive times) and can miss an edit that keeps all of them,
  which the signal covers within the process.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import Text, cast, event, func, literal_column, select
from sqlalchemy.orm import Session

from dashboard.domain.vocab import RegionLevel
from dashboard.queries import regions as region_queries
from dashboard.store.models import Region

CHECK_SECONDS = 5.0  # at most this long between two looks at the fingerprint
_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


def _polygonal(boundary) -> shapely.Geometry | None:
    """A GeoJSON geometry as a valid (Multi)Polygon, or None when it holds no area."""
    if not isinstance(boundary, dict):
        return None
    try:
        geometry = shape(boundary)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError, shapely.errors.ShapelyError):
        return None
    if geometry.is_empty:
        return None
    if not geometry.is_valid:  # a bow-tie or a ring that touches itself: the area it means
        geometry = shapely.make_valid(geometry)
    parts = [part for part in shapely.get_parts(geometry) if shapely.get_type_id(part) in _POLYGONAL]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.multipolygons(shapely.get_parts(parts))


class CompoundIndex:
    """The compounds' shapes in an STRtree, ordered by code; pure (no database), picklable."""

    def __init__(self, shapes: Iterable[tuple[str, dict | None]]) -> None:
        pairs = sorted((code, geometry) for code, boundary in shapes if (geometry := _polygonal(boundary)) is not None)
        # Tree positions follow code order, so the lowest position among hits is the lowest code.
        self.codes: list[str] = [code for code, _ in pairs]
        self.geometries = np.array([geometry for _, geometry in pairs], dtype=object)
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)
        self._answers = np.array([*self.codes, None], dtype=object)  # position len(codes): no compound

    def __len__(self) -> int:
        return len(self.codes)

    def __getstate__(self) -> dict:
        return {"codes": self.codes, "geometries": self.geometries}

    def __setstate__(self, state: dict) -> None:
        self.codes = state["codes"]
        self.geometries = state["geometries"]
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)
        self._answers = np.array([*self.codes, None], dtype=object)

    def locate_many(self, lats: Sequence[float] | np.ndarray, lons: Sequence[float] | np.ndarray) -> list[str | None]:
        """The compound of each point (None: in none), in one vectorised pass."""
        y = np.asarray(lats, dtype=float).ravel()
        x = np.asarray(lons, dtype=float).ravel()
        if x.shape != y.shape:
            raise ValueError(f"{len(y)} latitudes but {len(x)} longitudes")
        if not len(x) or not self.codes:
            return [None] * len(x)
        # The tree gives the shapes whose bounding box holds each point; the prepared shapes decide.
        points, candidates = self.tree.query(shapely.points(x, y))
        inside = shapely.intersects_xy(self.geometries[candidates], x[points], y[points])
        best = np.full(len(x), len(self.codes), dtype=np.intp)
        np.minimum.at(best, points[inside], candidates[inside])
        return self._answers[best].tolist()

    def locate(self, lat: float, lon: float) -> str | None:
        """The compound that contains the point (lowest code on a shared border), or None."""
        if not self.codes:
            return None
        # Not finite: a point that intersects nothing.
        hits = self.tree.query(shapely.Point(float(lon), float(lat)), predicate="intersects")
        return self.codes[hits.min()] if len(hits) else None


def read_shapes(session: Session) -> list[tuple[str, dict | None]]:
    """Every compound in use (not archived) with its GeoJSON boundary."""
    return list(
        session.execute(
            select(Region.code, Region.boundary).where(
                Region.level == RegionLevel.COMPOUND, Region.archived_at.is_(None)
            )
        ).tuples()
    )


def fingerprint(session: Session) -> tuple:
    """A cheap summary of the compounds that changes when any is added, removed, archived or reshaped.

    PostgreSQL: their number and the newest transaction id (`xmin`) among their rows, which every
    insert or update raises; no boundary is read. SQLite: their number, the number and newest time
    of the archived ones, the highest code, and the sums of their GeoJSON text lengths and centres.
    """
    if session.get_bind().dialect.name == "postgresql":
        columns = [func.count(), func.max(literal_column("regions.xmin::text::bigint"))]
    else:
        columns = [
            func.count(),
            func.count(Region.archived_at),
            func.max(Region.archived_at),
            func.max(Region.code),
            func.sum(func.length(cast(Region.boundary, Text))),
            func.sum(Region.center_lat),
            func.sum(Region.center_lon),
        ]
    return tuple(session.execute(select(*columns).where(Region.level == RegionLevel.COMPOUND)).one())


class Locator:
    """One database's CompoundIndex, rebuilt when its compounds change (see the module's docstring); thread-safe."""

    def __init__(self, database, check_seconds: float = CHECK_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._database = weakref.ref(database)  # the registry below maps a database to its Locator weakly
        self.check_seconds = check_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._index: CompoundIndex | None = None
        self._fingerprint: tuple | None = None
        self._engine = None
        self._checked_at = 0.0
        self._generation = 0  # raised by forget(); an index built before it is stale
        self._built_generation = -1
        self.rebuilds = 0  # how many times the index was built (for tests and curiosity)

    @property
    def database(self):
        """The Database whose compounds this indexes."""
        database = self._database()
        if database is None:
            raise RuntimeError("the database of this Locator no longer exists")
        return database

    def forget(self) -> None:
        """Regions changed: rebuild the index at the next look-up."""
        self._generation += 1

    def index(self) -> CompoundIndex:
        """The current index: the cached one unless a signal, the clock or the fingerprint says otherwise."""
        database = self.database
        with self._lock:
            now = self._clock()
            engine = database.engine  # a rebind to another URL starts afresh
            cached = self._index is not None and self._built_generation == self._generation and self._engine is engine
            if cached and now - self._checked_at < self.check_seconds:
                return self._index
            generation = self._generation
            with database.session() as session:
                current = fingerprint(session)  # read first: a change after it shows at the next check
                if not cached or current != self._fingerprint:
                    self._index = CompoundIndex(read_shapes(session))
                    self.rebuilds += 1
            self._fingerprint, self._engine, self._checked_at = current, engine, now
            self._built_generation = generation
            return self._index

    def locate(self, lat: float, lon: float) -> str | None:
        """The compound that contains the point, or None."""
        return self.index().locate(lat, lon)

    def locate_many(self, lats, lons) -> list[str | None]:
        """The compound of each point (None: in none)."""
        return self.index().locate_many(lats, lons)


_locators: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Database → its Locator
_hooks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Locator → its after-commit listener
_registry_lock = threading.Lock()


def locator_for(database) -> Locator:
    """The database's one Locator, made at first use, listening for the region import's signals.

    database: a store.database.Database, or `db` (then the current app's own Database).
    """
    if hasattr(database, "current"):
        database = database.current()
    with _registry_lock:
        locator = _locators.get(database)
        if locator is None:
            locator = _locators[database] = Locator(database)
            _hooks[locator] = _forgetting(weakref.ref(locator))
            region_queries.on_change(database, _hooks[locator])
        hook = _hooks[locator]
        if not event.contains(database.sessions, "after_commit", hook):  # also after a rebind
            event.listen(database.sessions, "after_commit", hook)
        return locator


def _forgetting(locator: weakref.ref) -> Callable:
    """The locator's listener: after a commit that set the regions_changed flag, or on a change count."""

    def forget(session_or_count) -> None:
        if isinstance(session_or_count, Session) and not session_or_count.info.pop("regions_changed", False):
            return
        if (target := locator()) is not None:
            target.forget()

    return forget
