"""Residents from village totals: spread each village's population over its buildings.

Chinese statistics give population per village (村/社区), not per building. Coverage needs
people where they live, so each village total is shared out over the village's buildings in
proportion to floor area (footprint times levels), keeping every village total exact.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from planner.errors import InputError

log = logging.getLogger(__name__)

NON_RESIDENTIAL: frozenset[str] = frozenset(
    {
        "barn",
        "bridge",
        "bunker",
        "carport",
        "cathedral",
        "chapel",
        "church",
        "civic",
        "commercial",
        "construction",
        "cowshed",
        "digester",
        "entrance",
        "factory",
        "farm_auxiliary",
        "garage",
        "garages",
        "government",
        "grandstand",
        "greenhouse",
        "hangar",
        "hospital",
        "industrial",
        "kindergarten",
        "kiosk",
        "mosque",
        "museum",
        "office",
        "parking",
        "pavilion",
        "public",
        "retail",
        "roof",
        "ruins",
        "school",
        "service",
        "shed",
        "shrine",
        "silo",
        "sports_hall",
        "stable",
        "stadium",
        "storage_tank",
        "supermarket",
        "temple",
        "toilets",
        "train_station",
        "transformer_tower",
        "transportation",
        "university",
        "utility",
        "warehouse",
        "water_tower",
    }
)
"""``building=*`` values left out by default: nobody is counted as living in them."""


def buildings_from_osm(
    path: str | Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    exclude: Collection[str] = NON_RESIDENTIAL,
) -> gpd.GeoDataFrame:
    """Read the buildings of an OpenStreetMap extract.

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file (the same extract as the roads).
    bbox
        Keep only buildings inside ``(west, south, east, north)`` in degrees (WGS84).
    exclude
        ``building=*`` values to leave out (default: :data:`NON_RESIDENTIAL`); pass ``()``
        to keep every building.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per building in WGS84: ``osm_type`` (``way``, ``relation`` or ``node``),
        ``osm_id``, ``building`` (the tag value), ``levels`` (``building:levels``, NaN when
        untagged) and the footprint polygon (a point for buildings mapped as nodes).
    """
    import osmium

    path = Path(path)
    if not path.exists():
        msg = f"{path}: OSM file not found"
        raise InputError(msg)
    wkb = osmium.geom.WKBFactory()
    rows: list[tuple[str, int, str, str | None, str]] = []
    tags = osmium.filter.KeyFilter("building")
    try:
        for obj in osmium.FileProcessor(str(path)).with_areas(tags).with_filter(tags):
            # isinstance is what osmium's is_area() / is_node() test, and it narrows the type.
            if isinstance(obj, osmium.osm.Area):
                try:
                    geom = wkb.create_multipolygon(obj)
                except RuntimeError:  # a broken ring in the data; osmium cannot assemble it
                    continue
                kind, osm_id = ("way" if obj.from_way() else "relation"), obj.orig_id()
            elif isinstance(obj, osmium.osm.Node) and obj.location.valid():
                geom, kind, osm_id = wkb.create_point(obj), "node", obj.id
            else:  # the way behind an area (returned again as the area) or a broken node
                continue
            rows.append((kind, osm_id, obj.tags["building"], obj.tags.get("building:levels"), geom))
    except RuntimeError as exc:  # osmium reports unreadable files as RuntimeError
        msg = f"{path}: cannot read OSM file ({exc})"
        raise InputError(msg) from None
    frame = pd.DataFrame(rows, columns=["osm_type", "osm_id", "building", "levels", "wkb"])
    geometry = shapely.from_wkb(frame.pop("wkb").to_numpy()) if len(frame) else []  # hex WKB
    out = gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")
    out["levels"] = pd.to_numeric(
        out["levels"].astype(str).str.extract(r"(\d+(?:\.\d+)?)")[0], errors="coerce"
    )
    if exclude:
        out = out[~out["building"].isin(set(exclude))]
    if bbox is not None:
        west, south, east, north = bbox
        point = out.geometry.representative_point()
        out = out[point.x.between(west, east).to_numpy() & point.y.between(south, north).to_numpy()]
    if out.empty:
        where = f" inside {bbox}" if bbox is not None else ""
        msg = f"{path}: no buildings{where} (nothing tagged building=*, or all excluded)"
        raise InputError(msg)
    return out.reset_index(drop=True)


def spread_population(
    villages: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    units: gpd.GeoDataFrame | None = None,
    key: str = "village",
    weight: str | None = None,
    max_distance_m: float = 3000.0,
) -> gpd.GeoDataFrame:
    """Share each village's population out over its buildings (whole persons, totals exact).

    A building belongs to the village whose polygon contains it; when villages are given as
    points (e.g. the village committee's address), to the nearest village point within
    ``max_distance_m``. A village without any building keeps its whole population at its own
    point, so no one is lost.

    Parameters
    ----------
    villages
        One row per village with ``population`` and a location: polygon or point geometry
        (from :func:`planner.read_residents`, :func:`planner.read_units` or a GeoDataFrame),
        or, for a plain table, a ``key`` column matched against the ``name`` (or ``code``) of
        ``units``. Other columns (``town``, ``village_code`` ...) are copied to every building.
    buildings
        Building footprints or points, e.g. from :func:`buildings_from_osm`.
    units
        Village polygons with ``name`` and ``code`` (as :func:`planner.read_units` returns),
        for villages given without geometry.
    key
        Column naming the village (``village``); matched against ``units``.
    weight
        Building column to share by; default floor area (footprint area times ``levels``,
        one level when untagged), or equal shares when buildings are points.
    max_distance_m
        Buildings farther than this from every village point are left out.

    Returns
    -------
    geopandas.GeoDataFrame
        Resident points in the CRS of ``buildings``: ``id``, ``population`` (whole persons),
        the village columns, ``source`` (``building``, or ``village`` for a village placed at
        its own point) and ``building`` (row of ``buildings``, -1 for ``village``). Ready for
        :class:`planner.Region` after ``.to_crs(network.crs)``, or to save as a residents file.
    """
    if "population" not in villages:
        msg = f"villages need a 'population' column (found {list(villages.columns)})"
        raise InputError(msg)
    if len(buildings) == 0:
        msg = "no buildings to spread population over"
        raise InputError(msg)
    crs = buildings.crs or "EPSG:4326"
    buildings = buildings.set_crs(crs) if buildings.crs is None else buildings
    metric = buildings.estimate_utm_crs() if buildings.crs.is_geographic else buildings.crs
    places = _village_places(villages, units, key).to_crs(metric)
    totals = _village_totals(places, key)
    shapes = buildings.geometry.to_crs(metric)
    points = shapes.representative_point().to_numpy()
    owner = _assign(points, places.geometry.to_numpy(), max_distance_m)
    share, counts = _shares(totals, owner, _weights(buildings, shapes, weight))
    homes = _homes(places, key, totals, owner, share, counts, points)
    homes.insert(0, "id", [f"P{i + 1:06d}" for i in range(len(homes))])
    out = gpd.GeoDataFrame(homes, geometry="geometry", crs=metric).to_crs(crs)
    left = int(totals.sum() - out["population"].sum())
    if left:  # cannot happen by construction; guards the promise that totals are kept
        msg = f"{left} persons were not placed; please report this"
        raise RuntimeError(msg)
    return out


def _village_totals(places: gpd.GeoDataFrame, key: str) -> np.ndarray:
    """Each village's population in whole persons; raises for a missing or negative one."""
    totals = pd.to_numeric(places["population"], errors="coerce")
    bad = totals.isna() | (totals < 0)
    if bad.any():
        names = (
            places.loc[bad, key].astype(str).tolist()
            if key in places
            else places.index[bad].tolist()
        )
        msg = f"village population must be a number of at least 0 (check {names[:5]})"
        raise InputError(msg)
    whole: np.ndarray = np.round(totals.to_numpy(float)).astype(np.int64)
    return whole


def _shares(totals: np.ndarray, owner: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole persons per placed building (``owner >= 0``, in order) by weight ``w``, and the
    number of buildings of each village."""
    placed = owner >= 0
    n_village = len(totals)
    wsum = np.bincount(owner[placed], weights=w[placed], minlength=n_village)
    counts = np.bincount(owner[placed], minlength=n_village)
    # Villages whose buildings all weigh nothing share equally among them.
    flat = (wsum <= 0) & (counts > 0)
    w = np.where(placed & flat[np.maximum(owner, 0)], 1.0, w)
    wsum = np.bincount(owner[placed], weights=w[placed], minlength=n_village)
    return _largest_remainder(totals, owner[placed], w[placed], wsum), counts


def _homes(
    places: gpd.GeoDataFrame,
    key: str,
    totals: np.ndarray,
    owner: np.ndarray,
    share: np.ndarray,
    counts: np.ndarray,
    points: np.ndarray,
) -> pd.DataFrame:
    """One row per building with people, with its village's columns; a village without
    buildings keeps its whole population at its own point."""
    idx = np.flatnonzero(owner >= 0)
    attrs = places.drop(
        columns=[
            c for c in ("population", "geometry", "lon", "lat", "source_row", "_row") if c in places
        ]
    )
    attrs = attrs.rename(columns={"id": "village_id"}) if "id" in attrs else attrs
    homes = attrs.iloc[owner[idx]].reset_index(drop=True)
    homes["population"] = share
    homes["source"] = "building"
    homes["building"] = idx
    homes["geometry"] = points[idx]
    lonely = np.flatnonzero((counts == 0) & (totals > 0))
    if len(lonely):
        names = places[key].astype(str).to_numpy()[lonely] if key in places else lonely
        log.warning(
            "%d village(s) have no building and keep their population at the village point: %s",
            len(lonely),
            ", ".join(map(str, names[:10])),
        )
        alone = attrs.iloc[lonely].reset_index(drop=True)
        alone["population"] = totals[lonely]
        alone["source"] = "village"
        alone["building"] = -1
        alone["geometry"] = shapely.point_on_surface(places.geometry.to_numpy()[lonely])
        homes = pd.concat([homes, alone], ignore_index=True)
    kept: pd.DataFrame = homes[homes["population"] > 0].reset_index(drop=True)
    return kept


def _village_places(
    villages: pd.DataFrame, units: gpd.GeoDataFrame | None, key: str
) -> gpd.GeoDataFrame:
    """Villages as a GeoDataFrame with a polygon or point each (matched to ``units`` if needed)."""
    located = isinstance(villages, gpd.GeoDataFrame) and villages._geometry_column_name in villages
    if located and villages.geometry.notna().all() and not villages.geometry.is_empty.any():
        frame = villages.reset_index(drop=True)
        return frame.set_crs("EPSG:4326") if frame.crs is None else frame
    if units is None:
        msg = (
            "villages have no location: give them polygons or points (lon/lat), or pass units= "
            f"with village polygons matched on the {key!r} column"
        )
        raise InputError(msg)
    if key not in villages:
        msg = (
            f"villages have no {key!r} column to match with units (found {list(villages.columns)})"
        )
        raise InputError(msg)
    polys = units[units["level"] == "village"] if "level" in units else units
    column = "code" if key.endswith("code") and "code" in polys else "name"
    polys = polys.drop_duplicates(column)[[column, "geometry"]].rename(columns={column: "_match"})
    polys["_match"] = polys["_match"].astype(str)
    table = (
        pd.DataFrame(villages).drop(columns=["geometry"], errors="ignore").reset_index(drop=True)
    )
    table["_match"] = table[key].astype(str)
    merged = table.merge(polys, on="_match", how="left").drop(columns="_match")
    missing = merged["geometry"].isna()
    if missing.any():
        names = merged.loc[missing, key].astype(str).tolist()
        msg = f"{missing.sum()} village(s) not found among the units' {column}s: {names[:10]}"
        raise InputError(msg)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=units.crs)


def _assign(points: np.ndarray, places: np.ndarray, max_distance_m: float) -> np.ndarray:
    """Index of the village each building point belongs to (-1 for none)."""
    owner = np.full(len(points), -1, dtype=np.int64)
    polygonal = np.isin(shapely.get_type_id(places), [3, 6])
    if polygonal.any():
        poly_index = np.flatnonzero(polygonal)
        tree = shapely.STRtree(places[poly_index])
        pt, poly = tree.query(points, predicate="within")
        first = np.unique(pt, return_index=True)[
            1
        ]  # a building on a shared edge goes to one village
        owner[pt[first]] = poly_index[poly[first]]
    pointlike = ~polygonal
    if pointlike.any():
        point_index = np.flatnonzero(pointlike)
        xy = shapely.get_coordinates(shapely.point_on_surface(places[point_index]))
        free = np.flatnonzero(owner < 0)
        dist, near = cKDTree(xy).query(
            shapely.get_coordinates(points[free]), distance_upper_bound=max_distance_m
        )
        ok = np.isfinite(dist)
        owner[free[ok]] = point_index[near[ok]]
    return owner


def _weights(buildings: gpd.GeoDataFrame, shapes: gpd.GeoSeries, weight: str | None) -> np.ndarray:
    if weight is not None:
        if weight not in buildings:
            msg = f"weight column {weight!r} not in buildings (columns: {list(buildings.columns)})"
            raise InputError(msg)
        values = pd.to_numeric(buildings[weight], errors="coerce").to_numpy(float)
        return np.where(np.isfinite(values) & (values > 0), values, 0.0)
    area = shapely.area(shapes.to_numpy())
    if not (area > 0).any():
        return np.ones(len(shapes))
    levels = (
        pd.to_numeric(buildings["levels"], errors="coerce").to_numpy(float)
        if "levels" in buildings
        else np.ones(len(shapes))
    )
    levels = np.where(np.isfinite(levels) & (levels > 0), levels, 1.0)
    floor = area * levels
    # Buildings mapped as points get a typical floor area of their neighbours' footprints.
    return np.where(area > 0, floor, float(np.median(floor[area > 0])))


def _largest_remainder(
    totals: np.ndarray, group: np.ndarray, w: np.ndarray, wsum: np.ndarray
) -> np.ndarray:
    """Whole-person shares of ``totals[group]`` proportional to ``w`` that add up exactly."""
    if len(group) == 0:
        return np.zeros(0, dtype=np.int64)
    quota = totals[group] * w / np.where(wsum[group] > 0, wsum[group], 1.0)
    base = np.floor(quota + 1e-9).astype(np.int64)
    short = totals - np.bincount(group, weights=base, minlength=len(totals)).astype(np.int64)
    order = np.lexsort((-(quota - base), group))  # by village, largest remainder first
    starts = np.searchsorted(group[order], group[order], side="left")
    rank = np.empty(len(group), dtype=np.int64)
    rank[order] = np.arange(len(group)) - starts
    index: np.ndarray = base + (rank < short[group]).astype(np.int64)
    return index
