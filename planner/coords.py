"""Chinese coordinate systems (WGS84, GCJ-02, BD-09): conversions and detection from the roads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from planner.errors import InputError
from planner.text import normalise_token

log = logging.getLogger(__name__)

LONLAT_DECIMALS = 6
"""Decimal places of longitude and latitude in what we write (about 0.1 m)."""


def round_lonlat(geoms: np.ndarray, decimals: int = LONLAT_DECIMALS) -> np.ndarray:
    """WGS84 geometries with coordinates rounded to ``decimals`` places (shorter GeoJSON)."""
    rounded: np.ndarray = shapely.transform(geoms, lambda xy: np.round(xy, decimals))
    return rounded


COORD_SYSTEMS = ("wgs84", "gcj02", "bd09")
AUTO = "auto"


def input_coord_columns(frame: Any) -> list[str]:
    """The columns ``lon_<system>, lat_<system>`` (``lon_gcj02`` ...) a table carries beside
    WGS84 ``lon, lat`` when its points came in another system, in the table's order: every
    table that shows coordinates (machine or people's) takes them from here."""
    return [c for c in frame.columns if c.startswith(("lon_", "lat_")) and c[4:] in COORD_SYSTEMS]


# How each system is named to people (errors, column notes).
SYSTEM_NAMES = {
    "wgs84": "WGS84 (GPS, OpenStreetMap)",
    "gcj02": "GCJ-02 (Amap/高德, Tencent)",
    "bd09": "BD-09 (Baidu/百度)",
}


COORD_ALIASES = {
    "wgs84": "wgs84",
    "wgs_84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "gps": "wgs84",
    "gcj02": "gcj02",
    "gcj_02": "gcj02",
    "gcj": "gcj02",
    "火星坐标": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "高德": "gcj02",
    "tencent": "gcj02",
    "bd09": "bd09",
    "bd_09": "bd09",
    "baidu": "bd09",
    "百度": "bd09",
}


# --- coordinate systems ---------------------------------------------------------------------

_A = 6378245.0
_EE = 0.00669342162296594323


def _outside_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # The published GCJ-02 obfuscation polynomial; applied to WGS84 it gives the GCJ-02 shift.
    x, y = lon - 105.0, lat - 35.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    inside = ~_outside_china(lon, lat)
    return dlon * inside, dlat * inside


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS84 longitudes/latitudes to GCJ-02 (identity outside China)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Invert GCJ-02 to WGS84 by fixed-point iteration (error well below 1 cm)."""
    glon, glat = np.asarray(lon, float), np.asarray(lat, float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(6):
        dlon, dlat = _gcj_offset(wlon, wlat)
        wlon, wlat = glon - dlon, glat - dlat
    return wlon, wlat


def bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert Baidu BD-09 coordinates to GCJ-02."""
    x = np.asarray(lon, float) - 0.0065
    y = np.asarray(lat, float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * np.pi * 3000.0 / 180.0)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * np.pi * 3000.0 / 180.0)
    return z * np.cos(theta), z * np.sin(theta)


def to_wgs84(lon: np.ndarray, lat: np.ndarray, system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates in ``system`` (``wgs84``, ``gcj02`` or ``bd09``) to WGS84."""
    return _convert(_TO_WGS84, lon, lat, system)


def coord_system(value: str | None) -> str:
    """Normalise a coordinate-system name (``"GCJ-02"``, ``"百度"`` ...) to our key.

    ``None`` is WGS84; ``"auto"`` stays ``"auto"`` (read as WGS84, then detected from the roads).
    A per-layer value (``"sites=gcj02,residents=wgs84"``, see :func:`layer_systems`) gives its
    unnamed entry (``"gcj02,residents=wgs84"``), else WGS84, for point files other than those.
    """
    if value is None:
        return "wgs84"
    if "=" in value:
        return layer_systems(value)["*"] or "wgs84"
    if normalise_token(value) == AUTO:
        return AUTO
    key = COORD_ALIASES.get(normalise_token(value))
    if key is None:
        msg = f"unknown coordinate system {value!r}; use one of {', '.join(COORD_SYSTEMS)} or auto"
        raise InputError(msg)
    return key


POINT_LAYERS = ("sites", "residents", "candidates")


def layer_systems(value: str | None) -> dict[str, str | None]:
    """The coordinate system given for each point layer by ``--coord-sys``.

    Parameters
    ----------
    value
        One system for every layer (``"gcj02"``, ``"auto"``), or comma-separated
        ``layer=system`` entries (``"sites=gcj02,residents=wgs84"``) with at most one unnamed
        entry as the default for the other layers.

    Returns
    -------
    dict
        ``{layer: key or "auto" or None}`` for ``sites``, ``residents``, ``candidates`` and
        ``"*"`` (other point files); None where nothing was given (detected, and a clear
        mismatch stops).
    """
    out: dict[str, str | None] = dict.fromkeys((*POINT_LAYERS, "*"))
    if value is None:
        return out
    if "=" not in value:
        return dict.fromkeys(out, coord_system(value))
    for entry in (e.strip() for e in value.split(",") if e.strip()):
        layer, _, system = entry.rpartition("=")
        layer = normalise_token(layer) if layer else "*"
        if layer not in out:
            msg = (
                f"--coord-sys {value!r}: unknown layer {layer!r}; "
                f"use {', '.join(POINT_LAYERS)} (e.g. sites=gcj02,residents=wgs84)"
            )
            raise InputError(msg)
        out[layer] = coord_system(system)
    default = out["*"]
    return {k: default if v is None else v for k, v in out.items()}


def gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 coordinates to Baidu BD-09 (the inverse of :func:`bd09_to_gcj02`)."""
    x, y = np.asarray(lon, float), np.asarray(lat, float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * np.pi * 3000.0 / 180.0)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * np.pi * 3000.0 / 180.0)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def from_wgs84(lon: np.ndarray, lat: np.ndarray, system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 coordinates to ``system`` (to paste results back into Amap or Baidu)."""
    return _convert(_FROM_WGS84, lon, lat, system)


Conversion = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _unchanged(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lon, float), np.asarray(lat, float)


_TO_WGS84: dict[str, Conversion] = {
    "wgs84": _unchanged,
    "gcj02": gcj02_to_wgs84,
    "bd09": lambda lon, lat: gcj02_to_wgs84(*bd09_to_gcj02(lon, lat)),
}
_FROM_WGS84: dict[str, Conversion] = {
    "wgs84": _unchanged,
    "gcj02": wgs84_to_gcj02,
    "bd09": lambda lon, lat: gcj02_to_bd09(*wgs84_to_gcj02(lon, lat)),
}


def _convert(
    table: dict[str, Conversion], lon: np.ndarray, lat: np.ndarray, system: str
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the conversion of ``system`` in ``table``; an unknown system is an input error."""
    convert = table.get(system)
    if convert is None:
        msg = f"unknown coordinate system {system!r}; use one of {', '.join(COORD_SYSTEMS)}"
        raise InputError(msg)
    return convert(lon, lat)


# --- detection -------------------------------------------------------------------------------

# A system is "clearly better" when its median distance to the roads is at most this share of
# the WGS84 one and at least DETECT_MIN_GAIN_M shorter (GCJ-02 moves points 300-700 m in China;
# right and wrong guesses then differ by far more than either margin), and, point by point, at
# least DETECT_CLOSER_SHARE of the points lie closer to a road under it than as WGS84. The paired
# share keeps small layers far from the roads from a chance alarm: on real Guixi layers (census-
# like grids, building centroids 70-100 m from the mapped roads) random draws of 10-20 WGS84
# points passed the median rule alone up to 9 % of the time, and none of 1400 draws of 20
# passed both; points 5-40 m beside real streets, shifted, pass both in 99 % of draws of 20.
# Layers of DETECT_PAIRED_BELOW points or more are judged on the medians alone (steady there, and
# the sample's GCJ-02 residents, 43 m from the roads, are closer for only 79 % of the points).
# A layer with fewer than DETECT_MIN_POINTS points in China is not judged.
DETECT_RATIO = 0.5
DETECT_MIN_GAIN_M = 25.0
DETECT_CLOSER_SHARE = 0.8
DETECT_PAIRED_BELOW = 100
DETECT_SAMPLE = 500
DETECT_MIN_POINTS = 20


def road_fit(
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    roads: shapely.STRtree | Callable[[np.ndarray], shapely.STRtree],
    crs: str,
    sample: int = DETECT_SAMPLE,
    min_points: int = DETECT_MIN_POINTS,
) -> tuple[dict[str, float], dict[str, float]]:
    """How the points fit the roads when read as each coordinate system.

    Parameters
    ----------
    lon, lat
        The points as given (degrees), in an unknown system.
    roads
        Spatial index over the road lines, in the metric ``crs``, or a function that makes
        one for the points it is given (``(n, 2)`` in ``crs``; it must hold their nearest
        roads: :meth:`planner.network.RoadNetwork.road_tree`), called only when there are
        enough points to judge.
    sample
        At most this many points (a fixed random sample, so the answer is repeatable).
    min_points
        Fewer points in China than this are too few to judge (the default
        ``DETECT_MIN_POINTS``; 1 gives the figures of any point in China, to show them).

    Returns
    -------
    medians, closer
        ``{system: median metres to the nearest road}`` and ``{system: share of the points
        strictly closer to a road than as WGS84}``, the latter only for layers of fewer than
        ``DETECT_PAIRED_BELOW`` points; both empty when fewer than ``DETECT_MIN_POINTS``
        points lie in China (``min_points``; elsewhere the three systems coincide).
    """
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    keep = np.isfinite(lon) & np.isfinite(lat)
    keep &= ~_outside_china(np.where(keep, lon, 0.0), np.where(keep, lat, 0.0))
    index = np.flatnonzero(keep)
    if len(index) < max(min_points, 1):
        return {}, {}
    if len(index) > sample:
        index = np.sort(np.random.default_rng(0).choice(index, sample, replace=False))
    to_metric = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    xy = {
        system: np.column_stack(to_metric.transform(*to_wgs84(lon[index], lat[index], system)))
        for system in COORD_SYSTEMS
    }
    if callable(roads):
        roads = roads(np.concatenate(list(xy.values())))
    dist = {}
    for system, points in xy.items():
        (_, _), dist[system] = roads.query_nearest(
            shapely.points(points), return_distance=True, all_matches=False
        )
    medians = {k: float(np.median(v)) for k, v in dist.items()}
    closer = {k: float(np.mean(v < dist["wgs84"])) for k, v in dist.items()}
    if len(index) >= DETECT_PAIRED_BELOW:
        closer = {}
    return medians, closer


def road_distances(
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    roads: shapely.STRtree,
    crs: str,
    sample: int = DETECT_SAMPLE,
) -> dict[str, float]:
    """Median distance (m) from the points to the nearest road, read as each coordinate system.

    The first half of :func:`road_fit`; empty when there are too few points to judge.
    """
    return road_fit(lon, lat, roads=roads, crs=crs, sample=sample)[0]


def likely_system(medians: dict[str, float], closer: dict[str, float] | None = None) -> str | None:
    """The system clearly closer to the roads than WGS84 (see :func:`road_fit`), or None.

    ``closer`` (the paired shares from :func:`road_fit`) adds the point-by-point condition.
    """
    if not medians:
        return None
    best = min(medians, key=medians.__getitem__)
    wgs = medians["wgs84"]
    if (
        best != "wgs84"
        and medians[best] <= DETECT_RATIO * wgs
        and wgs - medians[best] >= (DETECT_MIN_GAIN_M)
        and (not closer or closer[best] >= DETECT_CLOSER_SHARE)
    ):
        return best
    return None


def wgs84_fits(medians: dict[str, float]) -> bool:
    """Whether WGS84 fits the roads clearly better than every other system: the mirror of
    :func:`likely_system` (half the median distance, and ``DETECT_MIN_GAIN_M`` closer)."""
    if not medians:
        return False
    wgs = medians["wgs84"]
    return all(
        wgs <= DETECT_RATIO * m and m - wgs >= DETECT_MIN_GAIN_M
        for k, m in medians.items()
        if k != "wgs84"
    )
