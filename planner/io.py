"""Read and validate sites, residents, candidates and boundaries; every rejected row is kept."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.errors import InputError
from planner.text import CANDIDATE_KINDS, KIND_ALIASES, TIER_ALIASES, TIERS, normalise_token

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"
REJECTED_COLUMNS = ["layer", "file", "row", "id", "reason"]

# Column names users bring, mapped to ours (compared after normalise_token).
_COLUMN_ALIASES: dict[str, str] = {
    "lng": "lon",
    "long": "lon",
    "longitude": "lon",
    "经度": "lon",
    "x": "lon",
    "latitude": "lat",
    "纬度": "lat",
    "y": "lat",
    "pop": "population",
    "人口": "population",
    "人数": "population",
    "编号": "id",
    "站点编号": "id",
    "名称": "name",
    "站点名称": "name",
    "层级": "tier",
    "类型": "kind",
    "级别": "tier",
    "乡镇": "town",
    "乡镇街道": "town",
    "村": "village",
    "村社区": "village",
    "功能室": "rooms",
    "coord_sys": "crs",
    "coordinate_system": "crs",
    "坐标系": "crs",
}

COORD_SYSTEMS = ("wgs84", "gcj02", "bd09")
_COORD_ALIASES = {
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
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
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
    if system == "wgs84":
        return np.asarray(lon, float), np.asarray(lat, float)
    if system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    msg = f"unknown coordinate system {system!r}: use one of {', '.join(COORD_SYSTEMS)}"
    raise InputError(msg)


def coord_system(value: str | None) -> str:
    """Normalise a coordinate-system name (``"GCJ-02"``, ``"百度"`` ...) to our key."""
    if value is None:
        return "wgs84"
    key = _COORD_ALIASES.get(normalise_token(value))
    if key is None:
        msg = f"unknown coordinate system {value!r}: use one of {', '.join(COORD_SYSTEMS)}"
        raise InputError(msg)
    return key


# --- tables ---------------------------------------------------------------------------------


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (UTF-8 or GBK), XLSX, GeoJSON, GeoPackage or Shapefile into a frame.

    Returns a plain DataFrame for tabular files and a GeoDataFrame in WGS84 for spatial ones.
    A ``_row`` column holds the row number people see (header is line 1 in CSV/XLSX; the
    feature number in spatial files).
    """
    path = Path(path)
    if not path.exists():
        msg = f"{path}: file not found"
        raise InputError(msg)
    if path.is_dir():
        msg = f"{path}: is a folder, expected a file"
        raise InputError(msg)
    if path.stat().st_size == 0:
        msg = f"{path}: file is empty"
        raise InputError(msg)
    suffix = "".join(path.suffixes[-1:]).lower()
    first_row = 2
    try:
        if suffix in (".csv", ".txt"):
            frame = _read_csv(path)
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            frame = pd.read_excel(path, dtype=str)
        elif suffix in (".geojson", ".json", ".gpkg", ".shp", ".fgb"):
            frame = gpd.read_file(path)
            first_row = 1
            if frame.crs is not None and not frame.empty:
                frame = frame.to_crs(WGS84)
            elif frame.crs is None:
                frame = frame.set_crs(WGS84)
        else:
            msg = f"{path}: unsupported file type {suffix!r}; use CSV, XLSX, GeoJSON or GeoPackage"
            raise InputError(msg)
    except InputError:
        raise
    except Exception as exc:  # every reader library has its own error types
        msg = f"{path}: cannot read file ({type(exc).__name__}: {exc})"
        raise InputError(msg) from None
    if frame.empty:
        msg = f"{path}: file has no data rows"
        raise InputError(msg)
    frame = frame.rename(columns=_canonical_columns(frame.columns))
    frame["_row"] = np.arange(len(frame)) + first_row
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    # Chinese spreadsheets are often saved as GBK; try UTF-8 (with BOM) first, then GB18030.
    last: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, dtype=str, encoding=encoding, keep_default_na=False)
        except UnicodeDecodeError as exc:
            last = exc
        except pd.errors.EmptyDataError:
            msg = f"{path}: file has no header or rows"
            raise InputError(msg) from None
    msg = f"{path}: neither UTF-8 nor GBK text ({last}); save the CSV as UTF-8"
    raise InputError(msg)


def _canonical_columns(columns: pd.Index) -> dict[str, str]:
    mapping = {}
    taken = {normalise_token(c) for c in columns}
    for col in columns:
        if col == "geometry":
            continue
        key = normalise_token(col)
        canon = _COLUMN_ALIASES.get(key, key)
        # Do not let an alias shadow a column that already has the canonical name.
        if canon != key and canon in taken:
            continue
        mapping[col] = canon
    return mapping


class _Rows:
    """Row-wise validation state: what is kept and why the rest was rejected."""

    def __init__(self, frame: pd.DataFrame, path: Path, kind: str) -> None:
        self.frame = frame
        self.path = path
        self.kind = kind
        self.bad = pd.Series("", index=frame.index, dtype=object)

    def reject(self, mask: pd.Series | np.ndarray, reason: str | pd.Series) -> None:
        mask = pd.Series(np.asarray(mask, bool), index=self.frame.index) & (self.bad == "")
        if isinstance(reason, pd.Series):
            self.bad[mask] = reason[mask]
        else:
            self.bad[mask] = reason

    @property
    def ok(self) -> pd.Series:
        return self.bad == ""

    def rejected(self) -> pd.DataFrame:
        bad = ~self.ok
        ids = self.frame["id"] if "id" in self.frame else pd.Series("", index=self.frame.index)
        return pd.DataFrame(
            {
                "layer": self.kind,
                "file": str(self.path),
                "row": self.frame.loc[bad, "_row"].astype(int),
                "id": ids[bad].astype(str),
                "reason": self.bad[bad],
            },
            columns=REJECTED_COLUMNS,
        ).reset_index(drop=True)


def _require(frame: pd.DataFrame, path: Path, kind: str, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = [c for c in frame.columns if c not in ("_row", "geometry")]
        hint = f"needs columns {', '.join(columns)}"
        msg = f"{path}: {kind} file is missing column(s) {', '.join(missing)} ({hint}; found {have})"
        raise InputError(msg)


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype(str).str.strip().isin(["", "nan", "None", "NaN"]))


def _points(rows: _Rows, coord_sys: str | None) -> gpd.GeoDataFrame:
    """Validate coordinates (columns lon/lat or point geometry) and return WGS84 points."""
    frame = rows.frame
    has_geometry = isinstance(frame, gpd.GeoDataFrame) and "geometry" in frame
    if has_geometry and not {"lon", "lat"} <= set(frame.columns):
        geom = frame.geometry.array
        rows.reject(geom.isna() | shapely.is_empty(geom), "missing or empty geometry")
        rows.reject(~shapely.is_valid(geom), "broken geometry (not valid)")
        is_point = shapely.get_type_id(geom) == 0
        rows.reject(~is_point, "geometry is not a point; give one point per row")
        xy = shapely.get_coordinates(np.where(rows.ok & is_point, geom, shapely.Point(np.nan, np.nan)))
        lon = pd.Series(xy[:, 0], index=frame.index)
        lat = pd.Series(xy[:, 1], index=frame.index)
    else:
        _require(frame, rows.path, rows.kind, ["lon", "lat"])
        lon = pd.to_numeric(frame["lon"], errors="coerce")
        lat = pd.to_numeric(frame["lat"], errors="coerce")
        rows.reject(_blank(frame["lon"]) | _blank(frame["lat"]), "missing lon/lat")
        rows.reject(lon.isna() | lat.isna(), "lon/lat is not a number")
    rows.reject(~(np.isfinite(lon) & np.isfinite(lat)), "lon/lat is not a finite number")
    swapped = lon.between(-90, 90) & (lat.abs() > 90) & (lon.abs() <= 90)
    rows.reject(
        swapped,
        "lat/lon look swapped (latitude above 90); swap the two columns for this row",
    )
    rows.reject(~(lon.between(-180, 180) & lat.between(-90, 90)), "lon/lat out of range")
    # Columns given the wrong way round for a Chinese county (lat ~ 20-50, lon ~ 75-135).
    china_swapped = lat.between(73, 136) & lon.between(3, 54)
    rows.reject(
        china_swapped,
        "lat/lon look swapped (latitude in 73-136 and longitude in 3-54); swap the two columns",
    )

    system = pd.Series(coord_system(coord_sys), index=frame.index)
    if "crs" in frame.columns:
        given = frame["crs"].where(~_blank(frame["crs"]), None)
        lookup = given.dropna().map(lambda v: _COORD_ALIASES.get(normalise_token(v)))
        unknown = lookup.isna().reindex(frame.index, fill_value=False)
        rows.reject(
            unknown,
            "unknown coordinate system in column crs; use wgs84, gcj02 or bd09",
        )
        system = lookup.dropna().reindex(frame.index).fillna(system)
    lon = lon.where(rows.ok, 0.0).astype(float)
    lat = lat.where(rows.ok, 0.0).astype(float)
    out_lon, out_lat = lon.to_numpy().copy(), lat.to_numpy().copy()
    for name in ("gcj02", "bd09"):
        sel = (system == name).to_numpy()
        if sel.any():
            out_lon[sel], out_lat[sel] = to_wgs84(out_lon[sel], out_lat[sel], name)
    data = pd.DataFrame(frame.drop(columns=["geometry", "lon", "lat"], errors="ignore"))
    data["lon"], data["lat"] = out_lon, out_lat
    return gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(out_lon, out_lat), crs=WGS84)


def _ids(rows: _Rows) -> None:
    frame = rows.frame
    frame["id"] = frame["id"].astype(str).str.strip()
    rows.reject(_blank(frame["id"]), "missing id")
    first = frame.loc[rows.ok].drop_duplicates("id")
    dup_of = frame["id"].map(first.set_index("id")["_row"])
    dup = rows.ok & frame.duplicated("id", keep="first")
    rows.reject(dup, "duplicate id (first used on row " + dup_of.astype("Int64").astype(str) + ")")


def _numeric(
    rows: _Rows, column: str, *, required: bool, minimum: float = 0.0, label: str | None = None
) -> pd.Series:
    label = label or column
    frame = rows.frame
    if column not in frame:
        return pd.Series(np.nan, index=frame.index)
    blank = _blank(frame[column])
    value = pd.to_numeric(frame[column], errors="coerce")
    if required:
        rows.reject(blank, f"missing {label}")
    rows.reject(~blank & value.isna(), f"{label} is not a number")
    rows.reject(~blank & (value < minimum), f"{label} is below {minimum:g}")
    rows.reject(~blank & ~np.isfinite(value.fillna(0)), f"{label} is not finite")
    return value


def _categorical(
    rows: _Rows, column: str, aliases: dict[str, str], allowed: dict[str, dict[str, str]]
) -> pd.Series:
    raw = rows.frame[column]
    mapped = raw.map(lambda v: aliases.get(normalise_token(v)) if not pd.isna(v) else None)
    accepted = ", ".join(f"{k} ({v['zh']})" for k, v in allowed.items())
    rows.reject(_blank(raw), f"missing {column}")
    reason = f"unknown {column} " + raw.astype(str).map(repr) + f"; use one of {accepted}"
    rows.reject(mapped.isna(), reason)
    return mapped


def _finish(
    rows: _Rows, points: gpd.GeoDataFrame, columns: list[str]
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    ok = rows.ok.to_numpy()
    keep = [c for c in columns if c in points.columns] + ["lon", "lat"]
    extras = [
        c for c in points.columns if c not in keep and c not in ("geometry", "_row", "crs")
    ]
    out = points.loc[ok, [*keep, *extras, "_row", "geometry"]].reset_index(drop=True)
    out = out.rename(columns={"_row": "source_row"})
    rejected = rows.rejected()
    if len(rejected):
        log.info("%s: %d of %d rows rejected", rows.path, len(rejected), len(rows.frame))
    if out.empty:
        reasons = rejected["reason"].value_counts().head(3).to_dict()
        msg = f"{rows.path}: no usable {rows.kind} rows ({len(rejected)} rejected: {reasons})"
        raise InputError(msg)
    return out, rejected


def _read_points(
    path: str | Path,
    kind: str,
    required: list[str],
    validate: Callable[[_Rows], None],
    columns: list[str],
    coord_sys: str | None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    path = Path(path)
    frame = read_table(path)
    _require(frame, path, kind, required)
    rows = _Rows(frame.reset_index(drop=True), path, kind)
    _ids(rows)
    validate(rows)
    points = _points(rows, coord_sys)
    return _finish(rows, points, columns)


def read_sites(
    path: str | Path, *, coord_sys: str | None = None
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

    Returns
    -------
    sites, rejected
        Sites in WGS84 with normalised ``tier``; rejected rows with their reasons.
    """

    def validate(rows: _Rows) -> None:
        rows.frame["tier"] = _categorical(rows, "tier", TIER_ALIASES, TIERS)
        rows.frame["name"] = rows.frame["name"].fillna("").astype(str).str.strip()
        empty = rows.frame["name"] == ""
        rows.frame.loc[empty, "name"] = rows.frame.loc[empty, "id"]
        for col in ("rooms", "staff", "volunteer_teams", "activities_per_year"):
            if col in rows.frame:
                rows.frame[col] = _numeric(rows, col, required=False)

    return _read_points(
        path, "sites", ["id", "name", "tier"], validate, ["id", "name", "tier"], coord_sys
    )


def read_residents(
    path: str | Path, *, coord_sys: str | None = None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read resident points (buildings, households or village centroids) with population.

    Needs ``id, population`` and ``lon, lat`` (or point geometry); optional ``town`` and
    ``village`` (names) and ``town_code`` / ``village_code`` group the coverage tables.
    """

    def validate(rows: _Rows) -> None:
        rows.frame["population"] = _numeric(rows, "population", required=True)

    return _read_points(
        path, "residents", ["id", "population"], validate, ["id", "population"], coord_sys
    )


def read_candidates(
    path: str | Path, *, coord_sys: str | None = None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read candidate buildings for new sites (idle schools, houses, factories, venues).

    Needs ``id, name, kind`` and ``lon, lat``; optional ``rooms`` and ``town``. ``kind``
    accepts ``idle_school``/``闲置校舍``, ``idle_house``/``闲置民宅``,
    ``idle_factory``/``闲置厂房``, ``public_venue`` and ``other``.
    """

    def validate(rows: _Rows) -> None:
        rows.frame["kind"] = _categorical(rows, "kind", KIND_ALIASES, CANDIDATE_KINDS)
        rows.frame["name"] = rows.frame["name"].fillna("").astype(str).str.strip()
        if "rooms" in rows.frame:
            rows.frame["rooms"] = _numeric(rows, "rooms", required=False)

    return _read_points(
        path, "candidates", ["id", "name", "kind"], validate, ["id", "name", "kind"], coord_sys
    )


def read_units(path: str | Path) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read town and village boundaries.

    Needs polygons with ``name`` and ``level`` (``town`` or ``village``); ``code`` and, for
    villages, ``town`` (or ``town_code``) are used when present. Broken polygons are repaired
    when possible and rejected otherwise.
    """
    path = Path(path)
    frame = read_table(path)
    if not isinstance(frame, gpd.GeoDataFrame):
        msg = f"{path}: boundaries need geometry; use GeoJSON or GeoPackage"
        raise InputError(msg)
    _require(frame, path, "boundaries", ["name", "level"])
    frame = frame.reset_index(drop=True)
    if "code" not in frame:
        frame["code"] = frame["name"]
    frame["id"] = frame["code"].astype(str)
    rows = _Rows(frame, path, "boundaries")
    level = frame["level"].map(lambda v: {"乡镇": "town", "村": "village"}.get(v, normalise_token(v)))
    frame["level"] = level
    rows.reject(~level.isin(["town", "village"]), "level must be 'town' or 'village'")
    geom = frame.geometry.array
    rows.reject(geom.isna() | shapely.is_empty(geom), "missing or empty geometry")
    polygonal = np.isin(shapely.get_type_id(geom), [3, 6])
    rows.reject(~polygonal, "geometry is not a polygon")
    fixed = shapely.make_valid(np.where(rows.ok, geom, None))
    fixed = shapely.intersection(fixed, fixed)  # normalise collections from make_valid
    area_ok = shapely.area(fixed) > 0
    rows.reject(~np.asarray(area_ok, bool), "broken polygon that cannot be repaired")
    frame = frame.set_geometry(gpd.GeoSeries(fixed, index=frame.index, crs=frame.crs))
    if "town" not in frame:
        frame["town"] = np.where(frame["level"] == "town", frame["name"], "")
    ok = rows.ok.to_numpy()
    out = frame.loc[ok].drop(columns=["id"]).rename(columns={"_row": "source_row"})
    return out.reset_index(drop=True), rows.rejected()
