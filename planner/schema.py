"""The checks every input table shares: required columns, ids, numbers, categories, points.

A :class:`Rows` holds one table while it is checked; each check rejects the rows it finds
wrong with a reason (the first reason wins), and :func:`finish` keeps the rest. Used by the
layer readers (:mod:`planner.inputs`) and the audit ledgers (:mod:`planner.ledgers`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.coords import COORD_ALIASES, coord_system, to_wgs84
from planner.errors import InputError
from planner.io import WGS84, blank
from planner.text import normalise_token
from planner.vocab import accepted

log = logging.getLogger(__name__)

REJECTED_COLUMNS = ["layer", "file", "row", "id", "reason"]
"""Columns of every table of rejected rows (and ``sheet`` after ``file`` for XLSX workbooks
read sheet by sheet: see :func:`rejected_table`)."""


def rejected_table(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The rejected rows of several files in one table of :data:`REJECTED_COLUMNS`.

    When a row comes from a sheet of a workbook read sheet by sheet, a ``sheet`` column after
    ``file`` names it (blank for rows of other files): row numbers count within each sheet.
    """
    used = [p for p in parts if len(p)]
    if not used:
        return pd.DataFrame(columns=REJECTED_COLUMNS)
    out = pd.concat(used, ignore_index=True)
    columns = list(REJECTED_COLUMNS)
    if "sheet" in out:
        out["sheet"] = out["sheet"].fillna("")
        columns.insert(columns.index("file") + 1, "sheet")
    return out[[*columns, *(c for c in out.columns if c not in columns)]]


def row_label(frame: pd.DataFrame) -> pd.Series:
    """Each row's number as people see it: ``7``, or ``7 of sheet '雄石街道'`` when the frame
    was read from several sheets of a workbook (numbers count within each sheet)."""
    label = frame["_row"].astype("Int64").astype(str)
    if "sheet" in frame:
        label = label + " of sheet " + quoted(frame["sheet"])
    return label


class Rows:
    """Row-wise validation state: what is kept and why the rest was rejected."""

    def __init__(self, frame: pd.DataFrame, path: Path, kind: str) -> None:
        self.frame = frame
        self.path = path
        self.kind = kind
        self.bad = pd.Series("", index=frame.index, dtype=object)

    def reject(
        self,
        mask: pd.Series | np.ndarray,
        reason: str | pd.Series | Callable[[pd.Series], pd.Series],
    ) -> None:
        """Give rows in ``mask`` that are still accepted this ``reason`` (the first one wins).

        ``reason`` is one text, a text per row, or a function that writes the texts of the
        rows it is given (a boolean mask), so that a reason quoting each row's values is
        written only for the rows rejected, not for a county's every resident.
        """
        mask = pd.Series(np.asarray(mask, bool), index=self.frame.index) & (self.bad == "")
        if callable(reason):
            if mask.any():
                self.bad[mask] = reason(mask)
        elif isinstance(reason, pd.Series):
            self.bad[mask] = reason[mask]
        else:
            self.bad[mask] = reason

    @property
    def ok(self) -> pd.Series:
        """Rows not rejected so far."""
        return self.bad == ""

    def rejected(self) -> pd.DataFrame:
        """The rejected rows as a table of :data:`REJECTED_COLUMNS`."""
        bad = ~self.ok
        ids = self.frame["id"] if "id" in self.frame else pd.Series("", index=self.frame.index)
        table = pd.DataFrame(
            {
                "layer": self.kind,
                "file": str(self.path),
                "row": self.frame.loc[bad, "_row"].astype(int),
                "id": ids[bad].astype(str),
                "reason": self.bad[bad],
            },
            columns=REJECTED_COLUMNS,
        ).reset_index(drop=True)
        if "sheet" in self.frame:  # rows of several sheets: the number counts within its sheet
            table.insert(2, "sheet", self.frame.loc[bad, "sheet"].astype(str).to_numpy())
        return table


def require_columns(frame: pd.DataFrame, path: Path, kind: str, columns: list[str]) -> None:
    """Raise :class:`InputError` naming the ``columns`` the ``kind`` file at ``path`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = [str(c) for c in frame.columns if c not in ("_row", "geometry")]
        msg = (
            f"{path}: {kind} file is missing column(s) {', '.join(missing)} (needs "
            f"{', '.join(columns)}; found {', '.join(have) or 'none'}); rename the columns, "
            "and check that the header is on the first row"
        )
        raise InputError(msg)


def quoted(series: pd.Series) -> pd.Series:
    """Each value as text in quotes, to quote it in a reason."""
    return series.astype(str).str.strip().map(repr)


def to_number(series: pd.Series, *, thousands: bool = False) -> pd.Series:
    """Numbers of text cells (NaN where not a number); ``thousands`` drops ``1,234`` commas."""
    # Most cells of a county's columns are plain numbers: they are parsed as they are, and
    # only the others are cleaned (same parser, so a number reads the same either way).
    plain = pd.to_numeric(series, errors="coerce")
    redo = plain.isna().to_numpy()
    if not redo.any():
        return plain
    # Full-width digits and signs (from Chinese input methods) become ASCII under NFKC.
    raw = np.asarray(series.to_numpy()[redo], dtype=str)
    wide = np.strings.str_len(np.strings.encode(raw, "utf-8")) != np.strings.str_len(raw)
    if wide.any():  # only non-ASCII cells need the (per-cell) Unicode normalisation
        fixed = raw.astype(object)
        fixed[wide] = pd.Series(raw[wide]).str.normalize("NFKC").to_numpy(dtype=object)
        raw = fixed.astype(str)
    text: pd.Series[str] = pd.Series(np.strings.strip(raw), index=series.index[redo], dtype=object)
    if thousands:
        text = text.str.replace(r"(?<=\d),(?=\d{3}(?!\d))", "", regex=True)
    cells = series.astype(object)
    cells[redo] = text.to_numpy()
    return pd.to_numeric(cells, errors="coerce")


def wgs84_points(rows: Rows, coord_sys: str | None) -> gpd.GeoDataFrame:
    """Validate coordinates (point geometry, or columns lon/lat) and return WGS84 points."""
    frame = rows.frame
    spatial = isinstance(frame, gpd.GeoDataFrame) and "geometry" in frame
    if spatial and not (frame.geometry.isna().all() and {"lon", "lat"} <= set(frame.columns)):
        lon, lat = _geometry_xy(rows, np.asarray(frame.geometry.array, dtype=object))
    else:
        require_columns(frame, rows.path, rows.kind, ["lon", "lat"])
        lon, lat = _column_xy(rows)
    _check_degrees(rows, lon, lat)

    system = pd.Series(coord_system(coord_sys), index=frame.index)
    if "crs" in frame.columns:
        given = frame["crs"].where(~blank(frame["crs"]), None)
        lookup = given.dropna().map(lambda v: COORD_ALIASES.get(normalise_token(v)))
        unknown = lookup.isna().reindex(frame.index, fill_value=False)
        rows.reject(
            unknown,
            "unknown coordinate system "
            + quoted(frame["crs"])
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


GEOMETRY_NAMES = {
    1: "line",
    2: "ring",
    3: "polygon",
    4: "multipoint",
    5: "multiline",
    6: "multipolygon",
    7: "geometry collection",
}


def _geometry_xy(rows: Rows, geom: np.ndarray) -> tuple[pd.Series, pd.Series]:
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
        "geometry is a " + type_id.map(GEOMETRY_NAMES).fillna("shape") + ", not a point; "
        "give one point per row",
    )
    points = np.where(type_id.to_numpy() == 0, geom, np.array(None, dtype=object))
    return (
        pd.Series(shapely.get_x(points), index=index),
        pd.Series(shapely.get_y(points), index=index),
    )


def _column_xy(rows: Rows) -> tuple[pd.Series, pd.Series]:
    raw_lon, raw_lat = rows.frame["lon"], rows.frame["lat"]
    lon, lat = to_number(raw_lon), to_number(raw_lat)
    rows.reject(blank(raw_lon) | blank(raw_lat), "missing lon or lat")
    rows.reject(
        lon.isna() | lat.isna(),
        lambda m: (
            "lon/lat "
            + quoted(raw_lon[m])
            + ", "
            + quoted(raw_lat[m])
            + " is not a pair of numbers; write decimal degrees such as 117.2345, 28.2716"
        ),
    )
    return lon, lat


def _check_degrees(rows: Rows, lon: pd.Series, lat: pd.Series) -> None:
    rows.reject(
        ~(np.isfinite(lon) & np.isfinite(lat)),
        "lon/lat is not a finite number; give the point of this row",
    )

    def pair(m: pd.Series) -> pd.Series:
        return (
            "lon/lat (" + lon[m].map("{:.10g}".format) + ", " + lat[m].map("{:.10g}".format) + ")"
        )

    rows.reject(
        (lon.abs() > 1000) | (lat.abs() > 1000),
        lambda m: (
            pair(m) + " look like projected metres; give WGS84 longitude and latitude in degrees"
        ),
    )
    # A Chinese point with the columns the wrong way round: latitude 73-136, longitude 3-54.
    rows.reject(
        lat.between(73, 136) & lon.between(3, 54),
        lambda m: (
            pair(m) + " look swapped (longitude and latitude fit China the other way round); "
            "swap the lon and lat values"
        ),
    )
    rows.reject(
        lon.between(-90, 90) & (lat.abs() > 90) & (lat.abs() <= 180),
        lambda m: pair(m) + " look swapped (latitude beyond 90); swap the lon and lat values",
    )
    rows.reject(
        ~(lon.between(-180, 180) & lat.between(-90, 90)),
        lambda m: (
            pair(m) + " is out of range; longitude must be within ±180 and latitude within ±90"
        ),
    )


def missing_ids(rows: Rows) -> None:
    """Strip the ``id`` column and reject rows without an id."""
    frame = rows.frame
    frame["id"] = frame["id"].astype(str).str.strip()
    rows.reject(blank(frame["id"]), "missing id; give every row an id")


def duplicate_ids(rows: Rows) -> None:
    """Reject rows whose id an earlier accepted row already uses."""
    # Among rows otherwise accepted, so "first used on row N" names a row that is kept.
    frame = rows.frame
    ok = rows.ok
    dup = pd.Series(False, index=frame.index)
    dup[ok] = frame.loc[ok, "id"].duplicated(keep="first")
    kept = frame.loc[ok & ~dup]

    def reason(m: pd.Series) -> pd.Series:
        # The id itself is in the id column of the rejected table.
        first = row_label(kept).set_axis(kept["id"].to_numpy())
        text: pd.Series = (
            "duplicate id (first used on row "
            + frame.loc[m, "id"].map(first)
            + ("); give each row its own id")
        )
        return text

    rows.reject(dup, reason)


def numeric(
    rows: Rows, column: str, *, required: bool, minimum: float = 0.0, label: str | None = None
) -> pd.Series:
    """The numbers of ``column`` (NaN when absent or blank); rejects text, infinities, values
    below ``minimum`` and, when ``required``, blanks. ``label`` names the column in reasons."""
    label = label or column
    frame = rows.frame
    if column not in frame:
        return pd.Series(np.nan, index=frame.index)
    raw = frame[column]
    empty = blank(raw)
    value = to_number(raw, thousands=True)
    if required:
        rows.reject(empty, f"missing {label}; give a number ({minimum:g} or more)")
    # Reasons quoting values are written for the rejected rows only (lazily).
    rows.reject(~empty & value.isna(), lambda m: f"{label} " + quoted(raw[m]) + " is not a number")
    rows.reject(~empty & ~np.isfinite(value.fillna(0)), f"{label} is not a finite number")
    rows.reject(
        ~empty & (value < minimum),
        lambda m: f"{label} " + value[m].map("{:.10g}".format) + f" is below {minimum:g}",
    )
    return value


def categorical(
    rows: Rows, column: str, aliases: dict[str, str], allowed: dict[str, dict[str, str]]
) -> pd.Series:
    """The keys of ``column`` through ``aliases``; rejects blanks and words not in them,
    listing the ``allowed`` keys with their Chinese names."""
    raw = rows.frame[column]
    mapped = raw.map(lambda v: aliases.get(normalise_token(v)) if not pd.isna(v) else None)
    words = accepted(allowed)
    rows.reject(blank(raw), f"missing {column}; use one of {words}")
    rows.reject(
        mapped.isna(), lambda m: f"unknown {column} " + quoted(raw[m]) + f"; use one of {words}"
    )
    return mapped


def finish(
    rows: Rows, points: gpd.GeoDataFrame, columns: list[str]
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The accepted ``points`` (``columns`` first, then ``lon, lat``, other columns and
    ``source_row``) and the rejected rows; raises when no row is usable."""
    ok = rows.ok.to_numpy()
    keep = [c for c in columns if c in points.columns] + ["lon", "lat"]
    extras = [c for c in points.columns if c not in keep and c not in ("geometry", "_row", "crs")]
    out = points.loc[ok, [*keep, *extras, "_row", "geometry"]].reset_index(drop=True)
    out = out.rename(columns={"_row": "source_row"})
    rejected = rows.rejected()
    if len(rejected):
        log.info("%s: %d of %d rows rejected", rows.path, len(rejected), len(rows.frame))
    if out.empty:
        raise InputError(nothing_usable(rows, rejected))
    return out, rejected


def nothing_usable(rows: Rows, rejected: pd.DataFrame) -> str:
    """The error when every row of a file was rejected, with the first reasons."""
    head = rejected.head(3)
    where = row_label(head.rename(columns={"row": "_row"}))
    examples = "; ".join(f"row {w}: {r}" for w, r in zip(where, head["reason"], strict=True))
    more = f"; and {len(rejected) - 3} more" if len(rejected) > 3 else ""
    return (
        f"{rows.path}: no usable {rows.kind}, all {len(rejected)} rows rejected "
        f"({examples}{more}); fix these rows and run again"
    )
