"""Coordinates: the datums a region file may use, GCJ-02 → WGS-84, and a local metric projection.

Shapes are stored in WGS-84 longitude/latitude (CGCS2000, China's geodetic datum, agrees with
WGS-84 to a few centimetres, far below what a district map needs, so it is taken as it is).

GCJ-02 is the deliberately offset datum of Chinese web maps (Amap/Gaode, Tencent, Google's
China tiles): inside China a point is moved by some hundreds of metres by a published formula,
and nothing outside China is moved. `wgs84_to_gcj02` is that formula (Krasovsky ellipsoid
constants, as in every open implementation); `gcj02_to_wgs84` inverts it by fixed-point
iteration, w ← w − (f(w) − g), which converges because the offset changes slowly (its
derivative is about 1e-5 per degree): three or four rounds reach 1e-9° (0.1 mm), far inside the
0.5 m required; at most `MAX_ROUNDS` are run. "Inside China" is the usual rectangle
(lon 72.004–137.8347, lat 0.8293–55.8271) that the formula's publishers use.

Written here rather than taken from PyPI: the packages for this (prcoords, eviltransform,
coordtransform and their forks) are single-author, unmaintained for years or unpinned in their
constants, handle one point at a time in Python loops, and one of them inverts with a single
step (an error of metres). The formula is a dozen lines; this version works on NumPy arrays
(whole rings at once, as `shapely.transform` hands them over) and is pinned by
tests/test_import_regions.py (published reference points, round trips, identity outside China).

Pure: NumPy only.
"""

from __future__ import annotations

import numpy as np

# The coordinate systems a region file may be in, by the names the CLI and the upload form use.
WGS84 = "wgs84"
GCJ02 = "gcj02"
CRS_CHOICES = (WGS84, GCJ02)
CRS_ALIASES = {
    "wgs84": WGS84,
    "wgs-84": WGS84,
    "epsg:4326": WGS84,
    "4326": WGS84,
    "crs84": WGS84,
    "ogc:crs84": WGS84,
    "cgcs2000": WGS84,
    "epsg:4490": WGS84,
    "4490": WGS84,
    "gcj02": GCJ02,
    "gcj-02": GCJ02,
    "gcj": GCJ02,
}

# Krasovsky 1940 ellipsoid, as the GCJ-02 formula uses it.
_A = 6378245.0
_EE = 0.00669342162296594323
CHINA_LON = (72.004, 137.8347)
CHINA_LAT = (0.8293, 55.8271)
MAX_ROUNDS = 30
TOLERANCE_DEGREES = 1e-10

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
METRES_PER_DEGREE = EARTH_RADIUS_M * np.pi / 180.0


def normalise_crs(text: str | None) -> str:
    """'wgs84' or 'gcj02' from a user's spelling (None: WGS-84); anything else raises ValueError."""
    if text is None or not str(text).strip():
        return WGS84
    crs = CRS_ALIASES.get(str(text).strip().lower())
    if crs is None:
        raise ValueError(f"unknown coordinate system {text!r}: use wgs84 (also for CGCS2000) or gcj02")
    return crs


def in_china(lon, lat) -> np.ndarray:
    """Whether each point lies in the rectangle where GCJ-02 is offset (element-wise)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return (lon >= CHINA_LON[0]) & (lon <= CHINA_LON[1]) & (lat >= CHINA_LAT[0]) & (lat <= CHINA_LAT[1])


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 shift (degrees of longitude, of latitude) at WGS-84 points, ignoring the China test."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 longitudes and latitudes of WGS-84 points (scalars or arrays; unchanged outside China)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _offset(lon, lat)
    inside = in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 longitudes and latitudes of GCJ-02 points: the exact inverse by iteration (see the module)."""
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    inside = in_china(glon, glat)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(MAX_ROUNDS):
        dlon, dlat = _offset(wlon, wlat)
        error_lon = wlon + dlon - glon
        error_lat = wlat + dlat - glat
        wlon = wlon - error_lon
        wlat = wlat - error_lat
        if (
            not inside.any()
            or max(np.abs(error_lon[inside]).max(), np.abs(error_lat[inside]).max()) < TOLERANCE_DEGREES
        ):
            break
    return np.where(inside, wlon, glon), np.where(inside, wlat, glat)


def gcj02_to_wgs84_xy(coordinates: np.ndarray) -> np.ndarray:
    """gcj02_to_wgs84 on an (n, 2) array of (lon, lat) rows, the form `shapely.transform` passes."""
    coordinates = np.asarray(coordinates, dtype=float)
    lon, lat = gcj02_to_wgs84(coordinates[:, 0], coordinates[:, 1])
    return np.column_stack([lon, lat])


def wgs84_to_gcj02_xy(coordinates: np.ndarray) -> np.ndarray:
    """wgs84_to_gcj02 on an (n, 2) array of (lon, lat) rows."""
    coordinates = np.asarray(coordinates, dtype=float)
    lon, lat = wgs84_to_gcj02(coordinates[:, 0], coordinates[:, 1])
    return np.column_stack([lon, lat])


def to_wgs84_xy(coordinates: np.ndarray, crs: str) -> np.ndarray:
    """(n, 2) (lon, lat) rows in crs ('wgs84' or 'gcj02') as WGS-84."""
    return gcj02_to_wgs84_xy(coordinates) if normalise_crs(crs) == GCJ02 else np.asarray(coordinates, dtype=float)


def distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres (haversine on the mean radius; element-wise)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))


def local_metric_xy(coordinates: np.ndarray, lat0: float) -> np.ndarray:
    """(lon, lat) rows as metres in a local equirectangular projection about latitude lat0.

    x = lon·cos(lat0)·R·π/180, y = lat·R·π/180. Over a district (some 10 km) the scale error at
    its edge is below 0.2 % of a length, which moves a "1 % of the area" test by far less than
    its own margin; the ratios the region checks compare are unchanged by the (uniform) scaling.
    """
    coordinates = np.asarray(coordinates, dtype=float)
    scale = np.array([np.cos(np.radians(lat0)), 1.0]) * METRES_PER_DEGREE
    return coordinates * scale
