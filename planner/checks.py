"""Sanity checks of whole layers: points off the road network, implausible populations."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
from pyproj import Transformer

from planner.errors import InputError
from planner.text import OPTION_HINTS

log = logging.getLogger(__name__)

MAX_POINT_POPULATION = 100_000.0
"""Default warning bound for the population of one resident point (a large village)."""

MOST = 0.5
"""Share of a layer's points far from every road above which the run stops."""

NEAR_M = 5_000.0
"""Points within this distance of the network's extent are near it (GCJ-02 shifts ~500 m)."""


def likely_cause(points: gpd.GeoDataFrame, node_xy: np.ndarray, crs: str) -> str:
    """Why the points of a layer miss the road network, as a phrase to end an error with.

    Parameters
    ----------
    points
        The layer in the network's metric CRS, with its WGS84 ``lon`` and ``lat`` columns.
    node_xy
        The network's node coordinates (metres, ``crs``).
    crs
        The network's CRS.

    Returns
    -------
    str
        E.g. ``"lon and lat look swapped"``; always one line.
    """
    lo, hi = node_xy.min(axis=0), node_xy.max(axis=0)
    xy = np.column_stack([points.geometry.x.to_numpy(), points.geometry.y.to_numpy()])
    off = np.hypot(*np.clip(np.maximum(lo - xy, xy - hi), 0, None).T)
    lon = points["lon"].to_numpy(float) if "lon" in points else xy[:, 0] * np.nan
    lat = points["lat"].to_numpy(float) if "lat" in points else xy[:, 1] * np.nan
    if np.nanmedian(np.abs(lon)) < 1 and np.nanmedian(np.abs(lat)) < 1:
        return (
            "the coordinates are near (0, 0): degree values in a file that declares a metric "
            "CRS (e.g. EPSG:3857); declare EPSG:4326 or give metres"
        )
    to_net = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    with np.errstate(all="ignore"):
        sx, sy = to_net.transform(lat, lon)  # the same points with the axes exchanged
    swapped = (sx >= lo[0] - NEAR_M) & (sx <= hi[0] + NEAR_M)
    swapped &= (sy >= lo[1] - NEAR_M) & (sy <= hi[1] + NEAR_M)
    if swapped.mean() > MOST:
        return "lon and lat look swapped: exchange the two columns"
    median_km = float(np.nanmedian(off)) / 1000
    if median_km * 1000 < NEAR_M:
        return (
            "they lie near but off the roads: coordinates from 高德/腾讯 are GCJ-02 and from "
            "百度 BD-09 (give --coord-sys gcj02 or bd09), or raise --max-snap-m"
        )
    return (
        f"they lie a median {median_km:,.0f} km outside the road network: a wrong file "
        "(another county?) or a wrong CRS"
    )


def check_reachable(
    layer: str,
    points: gpd.GeoDataFrame,
    far: np.ndarray,
    *,
    node_xy: np.ndarray,
    crs: str,
    max_snap_m: float,
    source: str,
) -> None:
    """Stop with one line when all or most points of a layer are farther than any road.

    Raises
    ------
    InputError
        Naming the layer, how many points miss and the likely cause.
    """
    n = len(points)
    if n == 0 or not far.any() or (far.mean() <= MOST and not far.all()):
        return
    cause = likely_cause(points.loc[far], node_xy, crs)
    msg = (
        f"{source}: {int(far.sum())} of {n} {layer} are farther than {max_snap_m:g} m from any "
        f"usable road; {cause}"
    )
    raise InputError(msg)


def warn_population(
    residents: gpd.GeoDataFrame, *, bound: float = MAX_POINT_POPULATION, source: str
) -> int:
    """Warn about resident points whose population is above ``bound``; return how many."""
    pop = residents["population"].to_numpy(float)
    high = pop > bound
    if high.any():
        worst = residents.loc[high].sort_values("population").iloc[-1]
        log.warning(
            "%s: %d resident points have more than %s people (largest: id %s with %s); "
            "check the population column; to allow more, use %s",
            source,
            int(high.sum()),
            f"{bound:,.0f}",
            worst["id"],
            f"{worst['population']:,.0f}",
            OPTION_HINTS["population_bound"],
        )
    return int(high.sum())


def warn_units_outside(units: gpd.GeoDataFrame, node_xy: np.ndarray, *, source: str) -> bool:
    """Warn when no boundary overlaps the road network's extent; True when warned."""
    if units is None or units.empty:
        return False
    lo, hi = node_xy.min(axis=0), node_xy.max(axis=0)
    b = units.total_bounds
    overlaps = not (b[2] < lo[0] or b[0] > hi[0] or b[3] < lo[1] or b[1] > hi[1])
    if not overlaps:
        log.warning(
            "%s: the boundaries do not overlap the road network (a wrong CRS or another "
            "area?); residents get no town or village from them",
            source,
        )
    return not overlaps
