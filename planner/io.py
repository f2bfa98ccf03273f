"""Read and validate sites, residents, candidates and boundaries; every rejected row is kept."""

from __future__ import annotations

import codecs
import csv
import logging
import re
import warnings
from collections.abc import Callable, Sequence
from io import StringIO
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.coords import (  # noqa: F401  (re-exported: io was their first home)
    _COORD_ALIASES,
    COORD_SYSTEMS,
    bd09_to_gcj02,
    coord_system,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_gcj02,
)
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
    # site attributes read by the standards audit (planner.audit)
    "专职人员": "staff",
    "专职人员数": "staff",
    "功能": "functions",
    "功能室功能": "functions",
    "志愿服务站": "desk",
    "开放时间": "open_hours",
    "负责人": "manager",
    "管理员": "manager",
    "联系电话": "phone",
    "电话": "phone",
}

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

# --- tables ---------------------------------------------------------------------------------

_TABLE_SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
    ".geojson": "spatial",
    ".json": "spatial",
    ".gpkg": "spatial",
    ".shp": "spatial",
    ".fgb": "spatial",
}
_TABLE_TYPES = "CSV, XLSX, GeoJSON, GeoPackage or Shapefile"
# What to do when a reader library cannot parse a file, by kind of file.
_RESAVE = {
    "csv": "open it in Excel or WPS and save it again as CSV (UTF-8) or XLSX",
    "excel": "open it in Excel or WPS and save it again as .xlsx",
    "spatial": "open it in QGIS and export it again as GeoJSON or GeoPackage",
}


def error_cause(exc: BaseException) -> str:
    """The type and message of ``exc`` on one shortened line, to quote in a user-facing error."""
    text = " ".join(str(exc).split())
    if len(text) > 240:
        text = text[:237] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def feed_file(digest: Any, path: str | Path) -> Any:
    """Feed a file's content into a ``hashlib`` digest in 1 MiB blocks; return the digest.

    Raises ``OSError`` when the file cannot be read (callers say what that means for them).
    """
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest


MAX_POPULATION = 1e9
"""More people than this at one resident point is impossible: such rows are rejected."""


def read_table(
    path: str | Path, *, sheet: str | None = None, required: Sequence[str] = ()
) -> pd.DataFrame:
    """Read a CSV (UTF-8, GBK or UTF-16), XLSX, GeoJSON, GeoPackage or Shapefile into a frame.

    An XLSX workbook is read whole: every sheet that has the ``required`` columns is read
    (a ``sheet`` column says which; a warning lists them when there are several), a sheet
    with data but without those columns is named in a warning, never skipped silently.
    ``sheet`` reads that one sheet only.

    Returns a plain DataFrame of strings for tabular files and a GeoDataFrame in WGS84 for
    spatial ones, with our column names (``经度`` becomes ``lon`` ...). A ``_row`` column
    holds the row number people see: the line in a CSV or XLSX (the header is line 1), the
    feature number in a spatial file. Entirely blank lines are skipped; they are no records.

    Raises
    ------
    InputError
        For a missing, empty or unreadable file, one of an unsupported type, or one without
        data rows; the message names the file and says what to do.
    """
    path = Path(path)
    if not path.exists():
        msg = f"{path}: file not found; check the path"
        raise InputError(msg)
    if path.is_dir():
        msg = f"{path}: is a folder; give the {_TABLE_TYPES} file inside it"
        raise InputError(msg)
    if path.stat().st_size == 0:
        msg = (
            f"{path}: file is empty (0 bytes); export the table again with a header row "
            "and one row per record"
        )
        raise InputError(msg)
    suffix = path.suffix.lower()
    kind = _TABLE_SUFFIXES.get(suffix)
    if kind is None:
        msg = f"{path}: unsupported file type {suffix or '(no extension)'!r}; use {_TABLE_TYPES}"
        raise InputError(msg)
    try:
        if kind == "csv":
            frame = _read_csv(path)
        elif kind == "excel":
            frame = _read_excel(path, sheet=sheet, required=required)
        else:
            frame = _read_spatial(path)
    except InputError:
        raise
    except Exception as exc:  # every reader library has its own error types
        msg = f"{path}: cannot read file ({error_cause(exc)}); {_RESAVE[kind]}"
        raise InputError(msg) from None
    frame = frame.rename(columns=_canonical_columns(frame.columns, path))
    if "_row" not in frame:
        frame["_row"] = np.arange(len(frame)) + (1 if kind == "spatial" else 2)
    if kind != "spatial":  # a feature is a record even when blank; a blank line is not
        frame = frame.loc[~_blank_rows(frame)].reset_index(drop=True)
    if frame.empty:
        msg = f"{path}: file has no data rows; add one row per record below the header"
        raise InputError(msg)
    return frame


def _read_excel(path: Path, *, sheet: str | None, required: Sequence[str]) -> pd.DataFrame:
    book = pd.read_excel(path, dtype=str, sheet_name=None)
    if sheet is not None:
        if sheet not in book:
            msg = f"{path}: no sheet {sheet!r}; the sheets are {', '.join(map(repr, book))}"
            raise InputError(msg)
        book = {sheet: book[sheet]}
    frames = {}
    for name, frame in book.items():
        frame = frame.rename(columns=_canonical_columns(frame.columns, path))
        frame["_row"] = np.arange(len(frame)) + 2
        frame = frame.loc[~_blank_rows(frame)]
        if len(frame) or sheet is not None:
            frames[name] = frame
    if not frames:
        return next(iter(book.values())).iloc[0:0]
    if len(frames) == 1:
        return next(iter(frames.values()))
    usable = {n: f for n, f in frames.items() if all(c in f.columns for c in required)}
    other = [n for n in frames if n not in usable]
    if not usable:
        return next(iter(frames.values()))  # the caller names the missing columns
    if other:
        log.warning(
            "%s: sheets %s have data but not the columns %s; they are not read "
            "(give --sheet to choose one sheet)",
            path,
            ", ".join(map(repr, other)),
            ", ".join(required),
        )
    if len(usable) > 1:
        log.warning(
            "%s: read %d sheets: %s",
            path,
            len(usable),
            ", ".join(f"{n!r} ({len(f)} rows)" for n, f in usable.items()),
        )
    parts = [f.assign(sheet=n) for n, f in usable.items()]
    return pd.concat(parts, ignore_index=True)


def _read_spatial(path: Path) -> gpd.GeoDataFrame:
    frame = gpd.read_file(path)
    if frame.crs is None:  # GeoJSON is WGS84 by definition; a bare shapefile is a guess
        return frame.set_crs(WGS84)
    return frame.to_crs(WGS84) if len(frame) else frame


def _read_csv(path: Path) -> pd.DataFrame:
    text = _decode(path.read_bytes(), path)
    header = text.split("\n", 1)[0]
    # Comma unless the header says otherwise (tab-separated exports, European semicolons).
    counts = {sep: header.count(sep) for sep in ",\t;|"}
    sep = "," if counts[","] else max(counts, key=counts.__getitem__)
    sep = sep if counts[sep] else ","
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            # index_col=False: extra values on the first row must not turn into an index.
            frame = pd.read_csv(
                StringIO(text),
                dtype=str,
                sep=sep,
                keep_default_na=False,
                skip_blank_lines=False,
                index_col=False,
            )
    except pd.errors.EmptyDataError:
        msg = f"{path}: file has no header row; put the column names on the first line"
        raise InputError(msg) from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found is None:
            msg = f"{path}: cannot read CSV ({error_cause(exc)}); {_RESAVE['csv']}"
            raise InputError(msg) from None
        want, line, got = (int(g) for g in found.groups())
        raise InputError(_too_many_values(path, line, got, want, sep)) from None
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        # pandas cut values beyond the header off; only empty ones (trailing separators) may go.
        reader = csv.reader(StringIO(text), delimiter=sep)
        width = len(next(reader))
        for record in reader:
            if any(value.strip() for value in record[width:]):
                msg = _too_many_values(path, reader.line_num, len(record), width, sep)
                raise InputError(msg)
    return frame


def _too_many_values(path: Path, line: int, got: int, want: int, sep: str) -> str:
    return (
        f"{path}: line {line} has {got} values but the header has {want} columns; "
        f"put values containing {sep!r} in double quotes or remove the extra ones"
    )


def _decode(raw: bytes, path: Path) -> str:
    if raw.startswith(b"PK\x03\x04"):
        msg = f"{path}: this is an Excel workbook (XLSX) with a CSV name; rename it to .xlsx"
        raise InputError(msg)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")  # Excel's "Unicode text"
    # Chinese spreadsheets are often saved as GBK; GB18030 is its superset.
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        msg = (
            f"{path}: the text is neither UTF-8 nor GBK ({error_cause(exc)}); save it as CSV UTF-8"
        )
        raise InputError(msg) from None


def _canonical_columns(columns: pd.Index, path: Path) -> dict[Any, str]:
    mapping: dict[Any, str] = {}
    claimed: dict[str, Any] = {}
    taken = {normalise_token(c) for c in columns}
    for col in columns:
        if col == "geometry":
            continue
        key = normalise_token(col)
        canon = _COLUMN_ALIASES.get(key, key)
        # Do not let an alias shadow a column that already has the canonical name.
        if canon != key and canon in taken:
            continue
        if canon in claimed:
            msg = (
                f"{path}: columns {claimed[canon]!r} and {col!r} both mean {canon!r}; "
                "delete or rename one of them"
            )
            raise InputError(msg)
        claimed[canon] = col
        mapping[col] = canon
    return mapping


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    columns = [c for c in frame.columns if c not in ("_row", "geometry")]
    blank = np.ones(len(frame), bool)
    for column in columns:
        blank &= _blank(frame[column]).to_numpy()
    return blank


class _Rows:
    """Row-wise validation state: what is kept and why the rest was rejected."""

    def __init__(self, frame: pd.DataFrame, path: Path, kind: str) -> None:
        self.frame = frame
        self.path = path
        self.kind = kind
        self.bad = pd.Series("", index=frame.index, dtype=object)

    def reject(self, mask: pd.Series | np.ndarray, reason: str | pd.Series) -> None:
        """Give rows in ``mask`` that are still accepted this ``reason`` (the first one wins)."""
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
        have = [str(c) for c in frame.columns if c not in ("_row", "geometry")]
        msg = (
            f"{path}: {kind} file is missing column(s) {', '.join(missing)} (needs "
            f"{', '.join(columns)}; found {', '.join(have) or 'none'}); rename the columns, "
            "and check that the header is on the first row"
        )
        raise InputError(msg)


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype(str).str.strip().isin(["", "nan", "None", "NaN"]))


def _quoted(series: pd.Series) -> pd.Series:
    return series.astype(str).str.strip().map(repr)


def _to_number(series: pd.Series, *, thousands: bool = False) -> pd.Series:
    # Full-width digits and signs (from Chinese input methods) become ASCII under NFKC.
    text = series.astype(str).str.normalize("NFKC").str.strip()
    if thousands:
        text = text.str.replace(r"(?<=\d),(?=\d{3}(?!\d))", "", regex=True)
    return pd.to_numeric(text, errors="coerce")


def _points(rows: _Rows, coord_sys: str | None) -> gpd.GeoDataFrame:
    """Validate coordinates (point geometry, or columns lon/lat) and return WGS84 points."""
    frame = rows.frame
    spatial = isinstance(frame, gpd.GeoDataFrame) and "geometry" in frame
    if spatial and not (frame.geometry.isna().all() and {"lon", "lat"} <= set(frame.columns)):
        lon, lat = _geometry_xy(rows, np.asarray(frame.geometry.array, dtype=object))
    else:
        _require(frame, rows.path, rows.kind, ["lon", "lat"])
        lon, lat = _column_xy(rows)
    _check_degrees(rows, lon, lat)

    system = pd.Series(coord_system(coord_sys), index=frame.index)
    if "crs" in frame.columns:
        given = frame["crs"].where(~_blank(frame["crs"]), None)
        lookup = given.dropna().map(lambda v: _COORD_ALIASES.get(normalise_token(v)))
        unknown = lookup.isna().reindex(frame.index, fill_value=False)
        rows.reject(
            unknown,
            "unknown coordinate system "
            + _quoted(frame["crs"])
            + " in column crs; use wgs84, gcj02 or bd09",
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


_GEOMETRY_NAMES = {
    1: "line",
    2: "ring",
    3: "polygon",
    4: "multipoint",
    5: "multiline",
    6: "multipolygon",
    7: "geometry collection",
}


def _geometry_xy(rows: _Rows, geom: np.ndarray) -> tuple[pd.Series, pd.Series]:
    index = rows.frame.index
    rows.reject(
        shapely.is_missing(geom) | shapely.is_empty(geom),
        "missing or empty geometry; give the point of this row",
    )
    # Shapefile exports often wrap single points as multipoints.
    single = (shapely.get_type_id(geom) == 4) & (shapely.get_num_geometries(geom) == 1)
    geom = np.where(single, shapely.get_geometry(geom, 0), geom)
    type_id = pd.Series(shapely.get_type_id(geom), index=index)
    rows.reject(
        type_id != 0,
        "geometry is a " + type_id.map(_GEOMETRY_NAMES).fillna("shape") + ", not a point; "
        "give one point per row",
    )
    points = np.where(type_id.to_numpy() == 0, geom, np.array(None, dtype=object))
    return (
        pd.Series(shapely.get_x(points), index=index),
        pd.Series(shapely.get_y(points), index=index),
    )


def _column_xy(rows: _Rows) -> tuple[pd.Series, pd.Series]:
    raw_lon, raw_lat = rows.frame["lon"], rows.frame["lat"]
    lon, lat = _to_number(raw_lon), _to_number(raw_lat)
    rows.reject(_blank(raw_lon) | _blank(raw_lat), "missing lon or lat")
    rows.reject(
        lon.isna() | lat.isna(),
        "lon/lat "
        + _quoted(raw_lon)
        + ", "
        + _quoted(raw_lat)
        + " is not a pair of numbers; write decimal degrees such as 117.2345, 28.2716",
    )
    return lon, lat


def _check_degrees(rows: _Rows, lon: pd.Series, lat: pd.Series) -> None:
    rows.reject(
        ~(np.isfinite(lon) & np.isfinite(lat)),
        "lon/lat is not a finite number; give the point of this row",
    )
    pair = "lon/lat (" + lon.map("{:.10g}".format) + ", " + lat.map("{:.10g}".format) + ")"
    rows.reject(
        (lon.abs() > 1000) | (lat.abs() > 1000),
        pair + " look like projected metres; give WGS84 longitude and latitude in degrees",
    )
    # A Chinese point with the columns the wrong way round: latitude 73-136, longitude 3-54.
    rows.reject(
        lat.between(73, 136) & lon.between(3, 54),
        pair + " look swapped (longitude and latitude fit China the other way round); "
        "swap the lon and lat values",
    )
    rows.reject(
        lon.between(-90, 90) & (lat.abs() > 90) & (lat.abs() <= 180),
        pair + " look swapped (latitude beyond 90); swap the lon and lat values",
    )
    rows.reject(
        ~(lon.between(-180, 180) & lat.between(-90, 90)),
        pair + " is out of range; longitude must be within ±180 and latitude within ±90",
    )


def _missing_ids(rows: _Rows) -> None:
    frame = rows.frame
    frame["id"] = frame["id"].astype(str).str.strip()
    rows.reject(_blank(frame["id"]), "missing id; give every row an id")


def _duplicate_ids(rows: _Rows) -> None:
    # Among rows otherwise accepted, so "first used on row N" names a row that is kept.
    frame = rows.frame
    ok = rows.ok
    dup = pd.Series(False, index=frame.index)
    dup[ok] = frame.loc[ok, "id"].duplicated(keep="first")
    first = frame.loc[ok & ~dup].set_index("id")["_row"]
    reason = (
        # The id itself is in the id column of the rejected table.
        "duplicate id (first used on row "
        + frame["id"].map(first).astype("Int64").astype(str)
        + "); give each row its own id"
    )
    rows.reject(dup, reason)


def _numeric(
    rows: _Rows, column: str, *, required: bool, minimum: float = 0.0, label: str | None = None
) -> pd.Series:
    label = label or column
    frame = rows.frame
    if column not in frame:
        return pd.Series(np.nan, index=frame.index)
    raw = frame[column]
    blank = _blank(raw)
    value = _to_number(raw, thousands=True)
    if required:
        rows.reject(blank, f"missing {label}; give a number ({minimum:g} or more)")
    rows.reject(~blank & value.isna(), f"{label} " + _quoted(raw) + " is not a number")
    rows.reject(~blank & ~np.isfinite(value.fillna(0)), f"{label} is not a finite number")
    rows.reject(
        ~blank & (value < minimum),
        f"{label} " + value.map("{:.10g}".format) + f" is below {minimum:g}",
    )
    return value


def _categorical(
    rows: _Rows, column: str, aliases: dict[str, str], allowed: dict[str, dict[str, str]]
) -> pd.Series:
    raw = rows.frame[column]
    mapped = raw.map(lambda v: aliases.get(normalise_token(v)) if not pd.isna(v) else None)
    accepted = ", ".join(f"{k} ({v['zh']})" for k, v in allowed.items())
    rows.reject(_blank(raw), f"missing {column}; use one of {accepted}")
    rows.reject(mapped.isna(), f"unknown {column} " + _quoted(raw) + f"; use one of {accepted}")
    return mapped


def _finish(
    rows: _Rows, points: gpd.GeoDataFrame, columns: list[str]
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    ok = rows.ok.to_numpy()
    keep = [c for c in columns if c in points.columns] + ["lon", "lat"]
    extras = [c for c in points.columns if c not in keep and c not in ("geometry", "_row", "crs")]
    out = points.loc[ok, [*keep, *extras, "_row", "geometry"]].reset_index(drop=True)
    out = out.rename(columns={"_row": "source_row"})
    rejected = rows.rejected()
    if len(rejected):
        log.info("%s: %d of %d rows rejected", rows.path, len(rejected), len(rows.frame))
    if out.empty:
        raise InputError(_nothing_usable(rows, rejected))
    return out, rejected


def _nothing_usable(rows: _Rows, rejected: pd.DataFrame) -> str:
    examples = "; ".join(f"row {r.row}: {r.reason}" for r in rejected.head(3).itertuples())
    more = f"; and {len(rejected) - 3} more" if len(rejected) > 3 else ""
    return (
        f"{rows.path}: no usable {rows.kind}, all {len(rejected)} rows rejected "
        f"({examples}{more}); fix these rows and run again"
    )


def _read_points(
    path: str | Path,
    kind: str,
    required: list[str],
    validate: Callable[[_Rows], None],
    columns: list[str],
    coord_sys: str | None,
    sheet: str | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    path = Path(path)
    system = coord_system(coord_sys)  # a wrong flag fails before the file is read
    frame = read_table(path, sheet=sheet, required=required)
    _require(frame, path, kind, required)
    rows = _Rows(frame.reset_index(drop=True), path, kind)
    _missing_ids(rows)
    validate(rows)
    points = _points(rows, system)
    _duplicate_ids(rows)
    return _finish(rows, points, columns)


def read_sites(
    path: str | Path, *, coord_sys: str | None = None, sheet: str | None = None
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
        path, "sites", ["id", "name", "tier"], validate, ["id", "name", "tier"], coord_sys, sheet
    )


def read_residents(
    path: str | Path, *, coord_sys: str | None = None, sheet: str | None = None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read resident points (buildings, households or village centroids) with population.

    Needs ``id, population`` and ``lon, lat`` (or point geometry); optional ``town`` and
    ``village`` (names) and ``town_code`` / ``village_code`` group the coverage tables.
    """

    def validate(rows: _Rows) -> None:
        pop = _numeric(rows, "population", required=True)
        rows.reject(
            pop > MAX_POPULATION,
            "population " + pop.map("{:.6g}".format) + f" is more than {MAX_POPULATION:,.0f} "
            "people at one point; check the population column",
        )
        rows.frame["population"] = pop

    return _read_points(
        path, "residents", ["id", "population"], validate, ["id", "population"], coord_sys, sheet
    )


def read_candidates(
    path: str | Path, *, coord_sys: str | None = None, sheet: str | None = None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read candidate buildings for new sites (idle schools, houses, factories, venues).

    Needs ``id, name, kind`` and ``lon, lat``; optional ``rooms`` and ``town``. ``kind``
    accepts ``idle_school``/``闲置校舍``, ``idle_house``/``闲置民宅``,
    ``idle_factory``/``闲置厂房``, ``public_venue`` and ``other``.
    """

    def validate(rows: _Rows) -> None:
        rows.frame["kind_input"] = rows.frame["kind"].astype("string").str.strip()  # as given
        rows.frame["kind"] = _categorical(rows, "kind", KIND_ALIASES, CANDIDATE_KINDS)
        rows.frame["name"] = rows.frame["name"].fillna("").astype(str).str.strip()
        if "rooms" in rows.frame:
            rows.frame["rooms"] = _numeric(rows, "rooms", required=False)

    return _read_points(
        path,
        "candidates",
        ["id", "name", "kind"],
        validate,
        ["id", "name", "kind"],
        coord_sys,
        sheet,
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
    frame = read_table(path)
    if not isinstance(frame, gpd.GeoDataFrame):
        msg = f"{path}: boundaries need polygons; use GeoJSON, GeoPackage or Shapefile"
        raise InputError(msg)
    frame = _osm_admin(frame)
    _require(frame, path, "boundaries", ["name", "level"])
    frame = frame.reset_index(drop=True)
    name = frame["name"].astype(str).str.strip()
    frame["name"] = name
    has_code = "code" in frame
    if not has_code:
        frame["code"] = name
    frame["code"] = frame["code"].where(~_blank(frame["code"]), name).astype(str).str.strip()
    frame["id"] = frame["code"]
    rows = _Rows(frame, path, "boundaries")
    rows.reject(_blank(frame["name"]), "missing name")
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
        "level " + _quoted(frame["level"]) + " is neither town nor village; "
        "use town (乡镇/街道) or village (村/社区)",
    )
    frame["level"] = level
    geom = np.asarray(frame.geometry.array, dtype=object)
    rows.reject(shapely.is_missing(geom) | shapely.is_empty(geom), "missing or empty geometry")
    type_id = pd.Series(shapely.get_type_id(geom), index=frame.index)
    rows.reject(
        ~type_id.isin([3, 6]),
        "geometry is a " + type_id.map(_GEOMETRY_NAMES).fillna("point") + ", not a polygon",
    )
    fixed = shapely.make_valid(np.where(rows.ok.to_numpy(), geom, np.array(None, dtype=object)))
    # make_valid may return collections with stray lines; keep the polygonal part.
    fixed = shapely.intersection(fixed, fixed)
    rows.reject(
        ~(shapely.area(fixed) > 0), "broken polygon that cannot be repaired (it has no area)"
    )
    repaired = rows.ok.to_numpy() & ~shapely.is_valid(geom)
    if repaired.any():
        log.info("%s: %d broken polygons repaired", path, int(repaired.sum()))
    frame = frame.set_geometry(gpd.GeoSeries(fixed, index=frame.index, crs=frame.crs))
    if has_code:
        key = frame["level"].astype(str) + "/" + frame["code"]
        ok = rows.ok
        dup = pd.Series(False, index=frame.index)
        dup[ok] = key[ok].duplicated(keep="first")
        first = frame.loc[ok & ~dup].assign(key=key).set_index("key")["_row"]
        rows.reject(
            dup,
            "duplicate code "
            + _quoted(frame["code"])
            + " (first used on row "
            + key.map(first).astype("Int64").astype(str)
            + "); give each unit its own code",
        )
    if "town" not in frame:
        frame["town"] = np.where(frame["level"] == "town", frame["name"], "")
        _town_of_villages(frame, rows.ok.to_numpy())
    kept = rows.ok.to_numpy()
    out = frame.loc[kept].drop(columns=["id"]).rename(columns={"_row": "source_row"})
    rejected = rows.rejected()
    if out.empty:
        raise InputError(_nothing_usable(rows, rejected))
    return out.reset_index(drop=True), rejected
