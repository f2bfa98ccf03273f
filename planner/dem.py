"""Slopes from a digital elevation model (GeoTIFF): walking and cycling time per road direction.

Elevations are sampled every :data:`STEP_M` metres along each road (bilinear, from a GeoTIFF in
any CRS, e.g. SRTM or the national 30 m DEM) and each straight piece between samples gets its
slope ``s = rise / run`` in the direction of travel (negative downhill). A road's time factor in
one direction is the length-weighted mean of its pieces' factors; without a DEM every factor
is 1 and travel times are unchanged.

Walking follows Tobler's hiking function, ``v(s) = 6 exp(-3.5 |s + 0.05|)`` km/h, scaled so that
the flat speed stays ``--speed-kmh``: the time factor is ``v(0) / v(s) = exp(3.5 (|s + 0.05| -
0.05))`` — fastest on a gentle 5 % descent (1.19 times the flat speed), 0.70 times at 5 % up,
0.49 times at 10 % up.

Cycling uses a simple documented model: uphill ``v = v0 max(0.25, 1 - 8 s)`` (0.6 v0 at 5 %,
0.25 v0 — pushing the bicycle — from 9.4 %), downhill ``v = v0 min(1.5, 1 + 4 |s|)`` (1.2 v0 at
5 %, capped at 1.5 v0 for safety). Driving ignores slopes.

Pieces whose elevation is unknown (outside the DEM, or nodata) count as flat; how many is
logged. Factors are cached beside the compiled network, keyed by the roads and the DEM's bytes.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from planner.errors import InputError
from planner.io import error_cause, feed_input
from planner.network import RoadNetwork, default_cache_dir

log = logging.getLogger(__name__)

STEP_M = 20.0
"""Spacing of the elevation samples along a road (a 30 m DEM resolves no finer slope)."""

DEM_VERSION = "1"
SLOPE_KEYS = ("walk_fwd", "walk_bwd", "bike_fwd", "bike_bwd")


def tobler_factor(slope: np.ndarray) -> np.ndarray:
    """Walking time relative to the flat, at ``slope`` (rise over run, negative downhill)."""
    return np.exp(3.5 * (np.abs(np.asarray(slope, float) + 0.05) - 0.05))


def bike_factor(slope: np.ndarray) -> np.ndarray:
    """Cycling time relative to the flat, at ``slope`` (see the module docstring)."""
    s = np.asarray(slope, float)
    speed = np.where(s >= 0, np.maximum(0.25, 1.0 - 8.0 * s), np.minimum(1.5, 1.0 - 4.0 * s))
    return 1.0 / speed


def sample_dem(path: str | Path, xy: np.ndarray, crs: str) -> np.ndarray:
    """Elevations (bilinear) at points ``xy`` given in ``crs``; ``nan`` outside or on nodata.

    Raises
    ------
    InputError
        For a missing or unreadable file, or one without a CRS.
    """
    import rasterio
    from pyproj import Transformer
    from rasterio.windows import Window, from_bounds
    from scipy.ndimage import map_coordinates

    path = Path(path)
    if not path.exists():
        msg = f"{path}: DEM file not found; check the path"
        raise InputError(msg)
    try:
        src = rasterio.open(path)
    except Exception as exc:  # rasterio raises its own error types
        msg = f"{path}: cannot read the DEM ({error_cause(exc)}); give a GeoTIFF (.tif)"
        raise InputError(msg) from None
    with src:
        if src.crs is None:
            msg = f"{path}: the DEM has no coordinate system; save it as a GeoTIFF with its CRS"
            raise InputError(msg)
        x, y = Transformer.from_crs(crs, src.crs, always_xy=True).transform(xy[:, 0], xy[:, 1])
        x, y = np.asarray(x, float), np.asarray(y, float)
        out = np.full(len(x), np.nan)
        left, bottom, right, top = src.bounds
        inside = (x >= left) & (x <= right) & (y >= bottom) & (y <= top)
        if not inside.any():
            return out
        window = from_bounds(
            x[inside].min(), y[inside].min(), x[inside].max(), y[inside].max(), src.transform
        )
        window = Window(
            int(np.floor(window.col_off)) - 2,
            int(np.floor(window.row_off)) - 2,
            int(np.ceil(window.width)) + 5,
            int(np.ceil(window.height)) + 5,
        ).intersection(Window(0, 0, src.width, src.height))
        data = src.read(1, window=window, masked=True).astype(float).filled(np.nan)
        col, row = ~src.window_transform(window) @ (x[inside], y[inside])
    # Pixel values sit at pixel centres; nan (nodata) spreads to the samples that touch it.
    out[inside] = map_coordinates(
        data, [np.asarray(row) - 0.5, np.asarray(col) - 0.5], order=1, mode="nearest"
    )
    return out


def slope_factors(network: RoadNetwork, dem: str | Path) -> dict[str, np.ndarray]:
    """Time factors per directed edge and direction (keys :data:`SLOPE_KEYS`) from ``dem``."""
    lines = network.edge_lines
    # Orient every geometry from the edge's u to its v (readers usually do; make sure).
    start = lines.first
    backwards = np.hypot(*(start - network.node_xy[network.edge_v]).T) < np.hypot(
        *(start - network.node_xy[network.edge_u]).T
    )
    xy, owner = lines.reversed_where(backwards).segmentize(STEP_M)
    z = sample_dem(dem, xy, network.crs)
    joined = owner[1:] == owner[:-1]
    edge = owner[:-1][joined]
    run = np.hypot(*(xy[1:] - xy[:-1])[joined].T)
    rise = (z[1:] - z[:-1])[joined]
    unknown = ~np.isfinite(rise)
    if unknown.any():
        log.warning(
            "%s: %d of %d road pieces lie outside the DEM or on nodata; counted as flat",
            dem,
            int(unknown.sum()),
            len(rise),
        )
    slope = np.where(unknown | (run <= 0), 0.0, rise / np.where(run > 0, run, 1.0))
    slope = np.round(slope, 9)  # interpolation noise on a flat DEM is no slope
    n = len(lines)
    total = np.bincount(edge, weights=run, minlength=n)

    def mean(factor: np.ndarray) -> np.ndarray:
        # 1 + mean excess: exactly 1.0 on the flat, so a flat DEM changes no time at all.
        excess = np.bincount(edge, weights=run * (factor - 1.0), minlength=n)
        return 1.0 + np.where(total > 0, excess / np.where(total > 0, total, 1.0), 0.0)

    return {
        "walk_fwd": mean(tobler_factor(slope)),
        "walk_bwd": mean(tobler_factor(-slope)),
        "bike_fwd": mean(bike_factor(slope)),
        "bike_bwd": mean(bike_factor(-slope)),
    }


def with_slopes(
    network: RoadNetwork, dem: str | Path, *, cache_dir: str | Path | None = None
) -> RoadNetwork:
    """``network`` with slope factors from ``dem``, reusing cached factors for the same inputs.

    Parameters
    ----------
    network
        The compiled road network.
    dem
        A GeoTIFF of elevations in metres, in any CRS.
    cache_dir
        As for :func:`planner.network.load_network` (``False``: no cache).
    """
    if not Path(dem).is_file():
        msg = f"{dem}: DEM file not found; give a GeoTIFF of elevations (--dem FILE.tif)"
        raise InputError(msg)
    cache = _cache_path(network, Path(dem), cache_dir)
    if cache is not None and cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as z:
                factors = {k: z[k] for k in SLOPE_KEYS}
            if all(len(v) == len(network.edge_u) for v in factors.values()):
                log.info("slopes from cache %s", cache)
                return replace(network, edge_slope=factors)
        except Exception as exc:  # a damaged cache file is only a slower start
            log.warning("ignoring unreadable slope cache %s (%s)", cache, error_cause(exc))
    factors = slope_factors(network, dem)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".tmp{os.getpid()}.npz")
            np.savez(tmp, **factors)  # type: ignore[arg-type]  # numpy stub: ** could bind allow_pickle
            os.replace(tmp, cache)
        except OSError as exc:
            log.warning("cannot write slope cache %s (%s); continuing without it", cache, exc)
    return replace(network, edge_slope=factors)


def _cache_path(network: RoadNetwork, dem: Path, cache_dir: str | Path | None) -> Path | None:
    if cache_dir is False:  # type: ignore[comparison-overlap]
        return None
    digest = feed_input(
        hashlib.sha256(), dem, what="the DEM", todo="check the path and permissions"
    )
    lines = network.edge_lines
    for array in (lines.xy, lines.offsets, network.edge_u, network.edge_v):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(f"{network.crs}-v{DEM_VERSION}-step{STEP_M}".encode())
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"slopes-{digest.hexdigest()[:24]}.npz"
