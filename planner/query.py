"""Questions asked of an analysed region: its towns, gap areas by tier and town, sites, isochrones.

The library side of the HTTP API, as handy in a notebook::

    from planner import Region, analyze, query

    region = Region.from_files()  # the bundled sample county
    cov = analyze(region, service_areas=True)
    town = query.find_unit(query.towns(cov), "青山乡", kind="town")
    gaps = query.gaps(region, cov, town=town, tier="station")  # GeoDataFrame, metric CRS
    sites = query.sites(region, cov, tier="station", town=town)  # with served population
    area = query.isochrone_at(region, 117.2476, 28.2649, minutes=15, mode="walk")

Unknown names raise :class:`planner.errors.NotFound`, points the roads cannot serve
:class:`planner.errors.OutOfReach`; both are :class:`~planner.errors.InputError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from planner.areas import isochrone
from planner.audit import Audit, AuditFiles, audit_region
from planner.coords import to_wgs84
from planner.coverage import Coverage, gap_areas
from planner.errors import NotFound, OutOfReach
from planner.region import Region
from planner.standards import Standards, TierStandard
from planner.text import TIERS
from planner.vocab import town_mask

BOUNDS_PAD = 0.02
"""Degrees (about 2 km) a point may lie beyond the last road node and still snap."""


# --- towns and villages -----------------------------------------------------------------------


def towns(coverage: Coverage) -> pd.DataFrame:
    """The town rows of ``coverage.by_unit`` (``code``, ``name``, population, coverage ...)."""
    units = coverage.by_unit
    return units[units["level"] == "town"].reset_index(drop=True)


def villages(coverage: Coverage) -> pd.DataFrame:
    """The village (and community) rows of ``coverage.by_unit``."""
    units = coverage.by_unit
    return units[units["level"] == "village"].reset_index(drop=True)


def villages_of(rows: pd.DataFrame, town: pd.Series) -> pd.DataFrame:
    """The rows of ``rows`` (villages) in ``town``."""
    found: pd.DataFrame = rows[in_town(rows, town)]
    return found


def find_unit(rows: pd.DataFrame, key: str, *, kind: str, where: str = "") -> pd.Series:
    """The first row of ``rows`` whose ``code``, else ``name``, is ``key``.

    Raises
    ------
    NotFound
        Naming ``kind`` and ``where``, with the closest names (or the known ones).
    """
    key = key.strip()
    for col in ("code", "name"):
        hit = rows[rows[col].astype(str) == key]
        if len(hit):
            return hit.iloc[0]
    choices = [*rows["name"].astype(str), *rows["code"].astype(str)]
    labels = [
        f"{n} ({c})" if str(n) != str(c) else str(n)
        for n, c in zip(rows["name"], rows["code"], strict=True)
    ]
    raise NotFound(kind, key, choices, where=where, labels=labels)


def in_town(frame: pd.DataFrame, town: pd.Series) -> np.ndarray:
    """Which rows of ``frame`` (residents, sites) lie in ``town`` (a row of :func:`towns`):
    by ``town_code`` where a row has one and the town a real code, else by name
    (:func:`planner.vocab.town_mask`)."""
    code = str(town["code"])
    return town_mask(frame, str(town["name"]), code=None if code == str(town["name"]) else code)


# --- gap areas under a standard ---------------------------------------------------------------


def travel_standard(
    region: Region,
    *,
    mode: str | None = None,
    minutes: float | None = None,
    tier: str | None = None,
) -> tuple[str, float]:
    """The (mode, minutes) a gap query answers: those given, else the tier's or the default."""
    std = region.standards
    base = std.for_tier(tier) if tier is not None else std.default
    return mode or base.mode, float(minutes) if minutes is not None else base.minutes


def standards_under(
    region: Region, *, mode: str | None = None, minutes: float | None = None
) -> Standards | None:
    """The region's standards with every tier reached by ``mode`` within ``minutes``, or
    ``None`` when that is what the region has already (its coverage answers as it is)."""
    if mode is None and minutes is None:
        return None
    std = region.standards.override(mode=mode, minutes=minutes)
    return None if std == region.standards else std


def gaps(
    region: Region,
    coverage: Coverage,
    *,
    town: pd.Series | None = None,
    tier: str | None = None,
) -> gpd.GeoDataFrame:
    """Gap areas (metric CRS) of ``coverage``: of the region or of one town's residents, with
    any site serving or, with ``tier``, only sites of that tier."""
    if town is None and tier is None:
        return coverage.gaps
    res = coverage.residents
    if town is not None:
        res = res[in_town(res, town)]
    return gap_areas(res, region.sites, tier=tier)


# --- sites and their standards audit ----------------------------------------------------------


def audit(region: Region, coverage: Coverage) -> Audit:
    """The standards audit of ``region`` from the ledgers beside its sites file (teams,
    activities, projects, unit_stats, venues; rules missing a ledger are no data)."""
    files = region.files
    ledgers = AuditFiles.beside(files.sites) if files is not None else AuditFiles()
    return audit_region(region, coverage, files=ledgers)


def sites(
    region: Region,
    coverage: Coverage,
    *,
    tier: str | None = None,
    town: pd.Series | None = None,
    audited: Audit | None = None,
) -> gpd.GeoDataFrame:
    """The region's sites, optionally one tier and one town, with ``tier_zh``, the ``mode``
    and ``minutes`` of their tier, ``population_served`` (when ``coverage`` has service
    areas) and, from ``audited``, ``compliance`` (pass / fail / no_data) and ``failed_rules``.
    """
    all_sites = region.sites
    keep = np.ones(len(all_sites), bool)
    if tier is not None:
        keep &= (all_sites["tier"] == tier).to_numpy()
    if town is not None:
        keep &= in_town(all_sites, town)
    chosen = all_sites[keep]
    std = region.standards
    areas = coverage.service_areas
    served = None
    if "population_served" in areas:
        served = areas.drop_duplicates("site_id").set_index("site_id")["population_served"]
    if audited is not None:
        verdict = audited.sites.set_index("id")
    else:
        verdict = pd.DataFrame(columns=["verdict", "failed_rules"])
    found: gpd.GeoDataFrame = chosen.assign(
        compliance=chosen["id"].astype(str).map(verdict["verdict"]),
        failed_rules=chosen["id"].astype(str).map(verdict["failed_rules"]),
        tier_zh=chosen["tier"].map(lambda t: TIERS.get(t, {}).get("zh", t)),
        mode=chosen["tier"].map(lambda t: std.for_tier(t).mode),
        minutes=chosen["tier"].map(lambda t: std.for_tier(t).minutes),
        population_served=chosen["id"].map(served) if served is not None else None,
    )
    return found


# --- isochrones -------------------------------------------------------------------------------


def region_bounds(region: Region) -> tuple[float, float, float, float]:
    """(west, south, east, north) in WGS84 of the region's road nodes."""
    xy = region.network.node_xy
    pts = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=region.crs).to_crs(4326)
    lon, lat = pts.x.to_numpy(), pts.y.to_numpy()
    return (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))


def check_inside(
    region: Region,
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    label: str | None = None,
    index: int | None = None,
    names: Sequence[str] | None = None,
) -> None:
    """Refuse WGS84 points outside the region: beyond its road nodes' box by ``BOUNDS_PAD``.

    The one test of "inside the region" for every point a user places (an isochrone's start,
    a scenario's added site): a point farther out is on no road of the region.

    Parameters
    ----------
    region
        The region.
    lon, lat
        The points, WGS84.
    bounds
        :func:`region_bounds`, when known already.
    label
        How the error names the region (default its name).
    index
        The position the error reports for a single point (default: the first point outside,
        counted from 0, when several are given).
    names
        How the error names each point (e.g. ``added site N1 in add.csv``); default none.

    Raises
    ------
    OutOfReach
        ``outside_region``, naming the first point outside (and how many more are).
    """
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    w, s, e, n = bounds or region_bounds(region)
    pad = BOUNDS_PAD
    outside = ~((x >= w - pad) & (x <= e + pad) & (y >= s - pad) & (y <= n + pad))
    if not outside.any():
        return
    first = int(np.flatnonzero(outside)[0])
    name = label if label is not None else region.name
    what = f"{names[first]}: " if names is not None else ""
    more = int(outside.sum()) - 1
    msg = (
        f"{what}({x[first]:.6f}, {y[first]:.6f}) is outside region {name!r} (lon {w:.4f}..{e:.4f}, "
        f"lat {s:.4f}..{n:.4f})"
    ) + (f"; {more} more point(s) outside too" if more else "")
    at = index if index is not None or len(x) == 1 else first
    raise OutOfReach(msg, code="outside_region", detail={"bounds": [w, s, e, n]}, index=at)


def isochrone_at(
    region: Region,
    lon: float,
    lat: float,
    *,
    minutes: float,
    mode: str = "walk",
    coord_sys: str = "wgs84",
    bounds: tuple[float, float, float, float] | None = None,
    label: str | None = None,
    index: int | None = None,
) -> gpd.GeoDataFrame:
    """The area reached from (``lon``, ``lat``) within ``minutes`` by ``mode`` over the roads.

    Parameters
    ----------
    region
        The region whose roads are travelled.
    lon, lat
        The point, in ``coord_sys`` (wgs84, gcj02 or bd09).
    minutes, mode
        Travel time and mode (walk and bike at the standards' speeds, drive on road limits).
    bounds
        :func:`region_bounds`, when known already.
    label
        How errors name the region (default its name).
    index
        The point's position among several asked at once: kept in the ``index`` column
        (0 when ``None``) and in the error.

    Returns
    -------
    geopandas.GeoDataFrame
        One row in the region's CRS: ``index``, ``lon``/``lat`` (WGS84), ``minutes``,
        ``mode``, ``speed_kmh`` (``None`` when driving on road limits) and ``area_km2``.

    Raises
    ------
    OutOfReach
        When the point is outside the region's roads or too far from a usable road.
    """
    wlon, wlat = (float(v[0]) for v in to_wgs84(np.array([lon]), np.array([lat]), coord_sys))
    check_inside(region, [wlon], [wlat], bounds=bounds, label=label, index=index)
    std = region.standards
    speed = std.speed_of(std.default if std.default.mode == mode else TierStandard(mode=mode))
    point = gpd.GeoSeries(gpd.points_from_xy([wlon], [wlat]), crs=4326).to_crs(region.crs)
    xy = np.array([float(point.x.iloc[0]), float(point.y.iloc[0])])
    poly = isochrone(region.graph(mode, speed), xy, minutes=minutes, max_snap_m=std.max_snap_m)
    if poly is None:
        msg = f"no road usable {mode} within {std.max_snap_m:g} m of ({wlon:.6f}, {wlat:.6f})"
        detail = {"max_snap_m": std.max_snap_m}
        raise OutOfReach(msg, code="unreachable_point", detail=detail, index=index)
    row = {
        "index": 0 if index is None else index,
        "lon": round(wlon, 7),
        "lat": round(wlat, 7),
        "minutes": float(minutes),
        "mode": mode,
        "speed_kmh": speed,
        "area_km2": round(float(poly.area) / 1e6, 4),
    }
    return gpd.GeoDataFrame({k: [v] for k, v in row.items()}, geometry=[poly], crs=region.crs)
