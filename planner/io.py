"""Open the tables people bring: CSV in any common encoding, XLSX sheets, spatial files.

:func:`read_table` turns a file into a frame with our column names and the row numbers people
see; what the rows must hold is checked by :mod:`planner.schema` and the layer readers
(:mod:`planner.inputs`). :func:`feed_file` hashes a file for cache keys and provenance.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import logging
import re
import warnings
from collections.abc import Sequence
from io import StringIO
from pathlib import Path
from typing import Any, Protocol, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.errors import InputError
from planner.text import normalise_token

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"

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


class Digest(Protocol):
    """What :func:`feed_file` needs of a ``hashlib`` object."""

    def update(self, data: bytes, /) -> None:
        """Add ``data`` to what is hashed."""


D = TypeVar("D", bound=Digest)


def feed_file(digest: D, path: str | Path) -> D:
    """Feed a file's content into a ``hashlib`` digest in 1 MiB blocks; return the digest.

    Raises ``OSError`` when the file cannot be read (callers say what that means for them).
    """
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's content (hex); ``OSError`` when it cannot be read."""
    return feed_file(hashlib.sha256(), path).hexdigest()


def feed_input(digest: D, path: str | Path, *, what: str, todo: str) -> D:
    """:func:`feed_file` for a file the user gave: when it cannot be read, an
    :class:`InputError` ``"<path>: cannot read <what> (<cause>); <todo>"``."""
    try:
        return feed_file(digest, path)
    except OSError as exc:
        msg = f"{path}: cannot read {what} ({error_cause(exc)}); {todo}"
        raise InputError(msg) from None


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
    empty = np.ones(len(frame), bool)
    for column in columns:
        empty &= blank(frame[column]).to_numpy()
    return empty


def blank(series: pd.Series) -> pd.Series:
    """Cells with nothing in them: missing, whitespace, or the text ``nan`` / ``None``."""
    text = np.strings.strip(np.asarray(series.to_numpy(), dtype=str))  # vectorised, no lambda
    empty = series.isna().to_numpy() | np.isin(text, ["", "nan", "None", "NaN"])
    return pd.Series(empty, index=series.index)
