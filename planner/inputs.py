"""Read and validate sites, residents, candidates and boundaries; every rejected row is kept.

Each reader opens its file with :func:`planner.io.read_table` and checks the rows with the
shared checks of :mod:`planner.schema`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.checks import MOST
from planner.coords import coord_system
from planner.errors import InputError
from planner.io import blank, read_table
from planner.schema import (
    GEOMETRY_NAMES,
    Rows,
    categorical,
    duplicate_ids,
    finish,
    missing_ids,
    nothing_usable,
    numeric,
    quoted,
    require_columns,
    wgs84_points,
)
from planner.text import CANDIDATE_KINDS, KIND_ALIASES, TIER_ALIASES, TIERS, normalise_token

log = logging.getLogger(__name__)

# Words for the level of a boundary (compared after normalise_token).
_LEVEL_ALIASES: dict[str, str] = {
    "town": "town",
    "township": "town",
    "乡镇": "town",
    "乡镇街道": "town",
    "镇": "town",
    "乡": "town",
    "街道": "town",
    "village": "village",
    "community": "village",
    "村": "village",
    "社区": "village",
    "村社区": "village",
    "村/社区": "village",
    "村委会": "village",
    "居委会": "village",
    "county": "county",
    "县": "county",
    "区县": "county",
    "县区": "county",
    "县级市": "county",
}

# OpenStreetMap's admin_level in China: 6 county/district, 7 (sometimes) county, 8 township
# (乡/镇/街道), 9 and 10 village or community (村/社区).
_ADMIN_LEVELS = {"6": "county", "7": "county", "8": "town", "9": "village", "10": "village"}


MAX_POPULATION = 1e9
"""More people than this at one resident point is impossible: such rows are rejected."""

NETWORK_MARGIN_M = 5000.0
"""How far beyond the road network's bounding box points are still assessed (metres).

An extract clipped at the county line leaves residents just past its last road; they are kept
(and counted as far from a road when they are). Points beyond this margin lie where the
network has no roads at all and are rejected (:func:`reject_outside`)."""


@dataclass(frozen=True)
class NetworkArea:
    """The area a road network covers: its bounding box, enlarged by a margin, in its CRS."""

    crs: str
    bounds: tuple[float, float, float, float]
    """``(minx, miny, maxx, maxy)`` in ``crs``, the margin included."""
    margin_m: float = NETWORK_MARGIN_M

    @classmethod
    def around(cls, xy: np.ndarray, crs: str, *, margin_m: float = NETWORK_MARGIN_M) -> NetworkArea:
        """The box around the network's node coordinates ``xy`` (metric ``crs``) plus ``margin_m``."""
        lo = np.min(xy, axis=0) - margin_m
        hi = np.max(xy, axis=0) + margin_m
        return cls(crs, (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])), margin_m)

    def contains(self, points: gpd.GeoSeries) -> np.ndarray:
        """Whether each point lies inside the area (points in any CRS; missing ones do not)."""
        xy = points.to_crs(self.crs)
        x, y = xy.x.to_numpy(float), xy.y.to_numpy(float)
        minx, miny, maxx, maxy = self.bounds
        # Points half a world away may project to infinity or NaN: both compare as outside.
        inside: np.ndarray = (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
        return inside


def reject_outside(rows: Rows, points: gpd.GeoDataFrame, area: NetworkArea | None) -> None:
    """Reject the rows whose point lies outside the road network's ``area`` (none: no check).

    The one rule for sites, residents and candidates: such a point cannot be reached by any
    road of the network, so it is no gap, no site and no candidate, and is left out of every
    total. When most of a layer lies outside, the rows are kept: the whole layer is wrong, and
    the reachability check (:func:`planner.checks.check_reachable`) stops the run with the
    likely cause (swapped axes, a declared metric CRS, another county's file).
    """
    if area is None:
        return
    ok = rows.ok.to_numpy()
    outside = np.zeros(len(ok), bool)
    if ok.any():
        outside[ok] = ~area.contains(points.geometry[ok])
        if outside[ok].mean() > MOST:
            return
    rows.reject(outside, lambda m: outside_reason(points[m], area))


def outside_reason(points: gpd.GeoDataFrame, area: NetworkArea) -> pd.Series:
    """Why each of ``points`` (with ``lon, lat`` in WGS84) is rejected as outside ``area``."""
    text: pd.Series = (
        "lon/lat ("
        + points["lon"].map("{:.5f}".format)
        + ", "
        + points["lat"].map("{:.5f}".format)
        + f") lies outside the area the road network covers (its extent plus "
        f"{area.margin_m / 1000:g} km); check the coordinates, or extend the OSM extract "
        "to cover it"
    )
    return text


def _read_points(
    path: str | Path,
    kind: str,
    required: list[str],
    validate: Callable[[Rows], None],
    columns: list[str],
    coord_sys: str | None,
    sheet: str | None = None,
    area: NetworkArea | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    path = Path(path)
    system = coord_system(coord_sys)  # a wrong flag fails before the file is read
    frame = read_table(path, sheet=sheet, required=required)
    require_columns(frame, path, kind, required)
    rows = Rows(frame.reset_index(drop=True), path, kind)
    missing_ids(rows)
    validate(rows)
    points = wgs84_points(rows, system)
    reject_outside(rows, points, area)
    duplicate_ids(rows)
    return finish(rows, points, columns)


def read_sites(
    path: str | Path,
    *,
    coord_sys: str | None = None,
    sheet: str | None = None,
    area: NetworkArea | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read existing service sites.

    Parameters
    ----------
    path
        CSV, XLSX, GeoJSON or GeoPackage with ``id, name, tier`` and ``lon, lat`` (or point
        geometry). ``tier`` accepts English keys (``station``) and Chinese names (``站``).
        Other columns (``rooms``, ``staff``, ``town`` ...) are carried along.
    coord_sys
        Coordinate system of the file (``wgs84``, ``gcj02``, ``bd09``); a ``crs`` column
        overrides it per row.
    sheet
        Sheet of an XLSX workbook to read (default: every sheet with the columns).
    area
        The area the road network covers (:class:`NetworkArea`); rows outside it are
        rejected (:func:`reject_outside`). The same for residents and candidates.

    Returns
    -------
    sites, rejected
        Sites in WGS84 with normalised ``tier``; rejected rows with their reasons.
    """

    def validate(rows: Rows) -> None:
        rows.frame["tier"] = categorical(rows, "tier", TIER_ALIASES, TIERS)
        rows.frame["name"] = rows.frame["name"].fillna("").astype(str).str.strip()
        empty = rows.frame["name"] == ""
        rows.frame.loc[empty, "name"] = rows.frame.loc[empty, "id"]
        for col in ("rooms", "staff", "volunteer_teams", "activities_per_year"):
            if col in rows.frame:
                rows.frame[col] = numeric(rows, col, required=False)

    return _read_points(
        path,
        "sites",
        ["id", "name", "tier"],
        validate,
        ["id", "name", "tier"],
        coord_sys,
        sheet,
        area,
    )


def read_residents(
    path: str | Path,
    *,
    coord_sys: str | None = None,
    sheet: str | None = None,
    area: NetworkArea | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read resident points (buildings, households or village centroids) with population.

    Needs ``id, population`` and ``lon, lat`` (or point geometry); optional ``town`` and
    ``village`` (names) and ``town_code`` / ``village_code`` group the coverage tables.
    """

    def validate(rows: Rows) -> None:
        pop = numeric(rows, "population", required=True)
        rows.reject(
            pop > MAX_POPULATION,
            lambda m: (
                "population "
                + pop[m].map("{:.6g}".format)
                + f" is more than {MAX_POPULATION:,.0f} people at one point; check the population column"
            ),
        )
        rows.frame["population"] = pop

    return _read_points(
        path,
        "residents",
        ["id", "population"],
        validate,
        ["id", "population"],
        coord_sys,
        sheet,
        area,
    )


def read_candidates(
    path: str | Path,
    *,
    coord_sys: str | None = None,
    sheet: str | None = None,
    area: NetworkArea | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read candidate buildings for new sites (idle schools, houses, factories, venues).

    Needs ``id, name, kind`` and ``lon, lat``; optional ``rooms`` and ``town``. ``kind``
    accepts ``idle_school``/``闲置校舍``, ``idle_house``/``闲置民宅``,
    ``idle_factory``/``闲置厂房``, ``public_venue`` and ``other``.
    """

    def validate(rows: Rows) -> None:
        rows.frame["kind_input"] = rows.frame["kind"].astype("string").str.strip()  # as given
        rows.frame["kind"] = categorical(rows, "kind", KIND_ALIASES, CANDIDATE_KINDS)
        rows.frame["name"] = rows.frame["name"].fillna("").astype(str).str.strip()
        if "rooms" in rows.frame:
            rows.frame["rooms"] = numeric(rows, "rooms", required=False)

    return _read_points(
        path,
        "candidates",
        ["id", "name", "kind"],
        validate,
        ["id", "name", "kind"],
        coord_sys,
        sheet,
        area,
    )


def _osm_admin(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Boundaries exported from OSM: ``admin_level`` becomes ``level``, ``division_code`` or
    ``ref`` becomes ``code`` (when the file has no ``level`` / ``code`` columns of its own)."""
    if "level" in frame or "admin_level" not in frame:
        return frame
    frame = frame.copy()
    raw = frame["admin_level"].astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    frame["level"] = raw.map(_ADMIN_LEVELS).fillna("admin_level=" + raw)
    if "code" not in frame:
        for column in ("division_code", "ref"):
            if column in frame:
                frame["code"] = frame[column]
                break
    return frame


def _town_of_villages(frame: gpd.GeoDataFrame, ok: np.ndarray) -> None:
    """Fill ``town`` of villages from the township polygon around them (OSM has no such tag)."""
    towns = frame.loc[ok & (frame["level"] == "town").to_numpy(), ["name", "geometry"]]
    villages = ok & (frame["level"] == "village").to_numpy()
    if towns.empty or not villages.any():
        return
    inside = gpd.GeoDataFrame(
        geometry=frame.geometry[villages].representative_point(), crs=frame.crs
    )
    joined = gpd.sjoin(inside, towns, predicate="within", how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    frame.loc[villages, "town"] = joined["name"].reindex(inside.index).fillna("").to_numpy()


def read_units(path: str | Path) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read town and village boundaries.

    Needs polygons with ``name`` and ``level`` (``town``/``乡镇``/``街道`` or
    ``village``/``村``/``社区``, or ``county``/``县`` for the whole county); ``code`` and, for
    villages, ``town`` (or ``town_code``) are used when present. Boundaries exported from
    OpenStreetMap work as they are: ``admin_level`` 6 or 7 is the county, 8 a township, 9 or 10
    a village, and ``division_code`` (or ``ref``) the code; other admin levels are rejected. Broken polygons are repaired when possible and rejected otherwise;
    with a ``code`` column, a code used twice on one level is rejected.

    Returns
    -------
    units, rejected
        Boundaries in WGS84 with ``name, level, code, town``; rejected rows with reasons.
    """
    path = Path(path)
    frame, has_code = _boundary_table(path)
    rows = Rows(frame, path, "boundaries")
    rows.reject(blank(frame["name"]), "missing name")
    _check_levels(rows)
    frame = rows.frame = frame.set_geometry(_repaired_polygons(rows))
    if has_code:
        _duplicate_codes(rows)
    if "town" not in frame:
        frame["town"] = np.where(frame["level"] == "town", frame["name"], "")
        _town_of_villages(frame, rows.ok.to_numpy())
    kept = rows.ok.to_numpy()
    out = frame.loc[kept].drop(columns=["id"]).rename(columns={"_row": "source_row"})
    rejected = rows.rejected()
    if out.empty:
        raise InputError(nothing_usable(rows, rejected))
    return out.reset_index(drop=True), rejected


def _boundary_table(path: Path) -> tuple[gpd.GeoDataFrame, bool]:
    """The boundary file with ``name`` and ``code`` stripped (``code`` defaults to the name,
    ``id`` is the code); True when the file has codes of its own."""
    frame = read_table(path)
    if not isinstance(frame, gpd.GeoDataFrame):
        msg = f"{path}: boundaries need polygons; use GeoJSON, GeoPackage or Shapefile"
        raise InputError(msg)
    frame = _osm_admin(frame)
    require_columns(frame, path, "boundaries", ["name", "level"])
    frame = frame.reset_index(drop=True)
    name = frame["name"].astype(str).str.strip()
    frame["name"] = name
    has_code = "code" in frame
    if not has_code:
        frame["code"] = name
    frame["code"] = frame["code"].where(~blank(frame["code"]), name).astype(str).str.strip()
    frame["id"] = frame["code"]
    return frame, has_code


def _check_levels(rows: Rows) -> None:
    """Reject OSM admin levels we do not use and unknown levels; ``level`` becomes our key."""
    frame = rows.frame
    if "admin_level" in frame:
        raw = frame["level"].astype(str)
        rows.reject(
            raw.str.startswith("admin_level="),
            raw.str.replace("=", " ", regex=False)
            + " is no county (6/7), township (8) or village (9/10) boundary; left out",
        )
    level = frame["level"].map(
        lambda v: _LEVEL_ALIASES.get(normalise_token(v)) if not pd.isna(v) else None
    )
    rows.reject(
        level.isna(),
        "level " + quoted(frame["level"]) + " is neither town nor village; "
        "use town (乡镇/街道) or village (村/社区)",
    )
    frame["level"] = level


def _repaired_polygons(rows: Rows) -> gpd.GeoSeries:
    """The boundary polygons, repaired where broken; rejects empty, non-polygonal and
    unrepairable ones."""
    frame = rows.frame
    geom = np.asarray(frame.geometry.array, dtype=object)
    rows.reject(shapely.is_missing(geom) | shapely.is_empty(geom), "missing or empty geometry")
    type_id = pd.Series(shapely.get_type_id(geom), index=frame.index)
    rows.reject(
        ~type_id.isin([3, 6]),
        "geometry is a " + type_id.map(GEOMETRY_NAMES).fillna("point") + ", not a polygon",
    )
    fixed = shapely.make_valid(np.where(rows.ok.to_numpy(), geom, np.array(None, dtype=object)))
    # make_valid may return collections with stray lines; keep the polygonal part.
    fixed = shapely.intersection(fixed, fixed)
    rows.reject(
        ~(shapely.area(fixed) > 0), "broken polygon that cannot be repaired (it has no area)"
    )
    repaired = rows.ok.to_numpy() & ~shapely.is_valid(geom)
    if repaired.any():
        log.info("%s: %d broken polygons repaired", rows.path, int(repaired.sum()))
    return gpd.GeoSeries(fixed, index=frame.index, crs=frame.crs)


def _duplicate_codes(rows: Rows) -> None:
    """Reject a unit whose code an earlier accepted unit of the same level already uses."""
    frame = rows.frame
    key = frame["level"].astype(str) + "/" + frame["code"]
    ok = rows.ok
    dup = pd.Series(False, index=frame.index)
    dup[ok] = key[ok].duplicated(keep="first")
    first = frame.loc[ok & ~dup].assign(key=key).set_index("key")["_row"]
    rows.reject(
        dup,
        "duplicate code "
        + quoted(frame["code"])
        + " (first used on row "
        + key.map(first).astype("Int64").astype(str)
        + "); give each unit its own code",
    )
