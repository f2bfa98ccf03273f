"""Read the audit ledgers: team rosters, the activity ledger, brand projects, unit figures, venues.

Every reader takes CSV (UTF-8 or GBK), XLSX, GeoJSON or GeoPackage with Chinese or English
headers (through :func:`planner.io.read_table`) and returns ``(table, rejected)``: the rows
kept, normalised, and every other row with file, row and reason (``REJECTED_COLUMNS``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.errors import InputError
from planner.io import WGS84, blank, read_table
from planner.schema import (
    REJECTED_COLUMNS,
    Rows,
    numeric,
    quoted,
    require_columns,
    wgs84_points,
)
from planner.text import (
    ACTIVITY_TYPE_ALIASES,
    PROJECT_LEVEL_ALIASES,
    TIER_ALIASES,
    UNIT_KIND_ALIASES,
    VENUE_KIND_ALIASES,
    VENUE_KINDS,
    normalise_token,
)

log = logging.getLogger(__name__)

# Ledger headers people write, mapped to ours (after read_table's own renaming, which
# already turns 编号 into id, 名称 into name, 类型 into kind, 级别/层级 into tier, 人数 into
# population). Only the first alias present for a target is used.
_LEDGER_ALIASES: dict[str, dict[str, str]] = {
    "teams": {
        "站点编号_": "site_id",
        "站点": "site_id",
        "所属站点": "site_id",
        "id": "site_id",
        "队伍": "team",
        "队伍名称": "team",
        "志愿服务队": "team",
        "志愿服务队伍": "team",
        "name": "team",
        "队员人数": "members",
        "成员数": "members",
        "队员数": "members",
        "population": "members",
    },
    "activities": {
        "站点": "site_id",
        "所属站点": "site_id",
        "id": "site_id",
        "日期": "date",
        "活动日期": "date",
        "活动时间": "date",
        "时间": "date",
        "队伍": "team",
        "队伍名称": "team",
        "志愿服务队": "team",
        "活动类型": "type",
        "kind": "type",
        "活动名称": "title",
        "活动主题": "title",
        "标题": "title",
        "主题": "title",
        "name": "title",
        "参与人数": "participants",
        "参加人数": "participants",
        "服务人数": "participants",
        "population": "participants",
        "志愿服务时长": "volunteer_hours",
        "服务时长": "volunteer_hours",
        "时长": "volunteer_hours",
    },
    "projects": {
        "项目名称": "name",
        "品牌项目": "name",
        "项目级别": "level",
        "tier": "level",
        "站点": "site_id",
        "所属站点": "site_id",
        "id": "site_id",
        "单位代码": "unit_code",
        "code": "unit_code",
        "代码": "unit_code",
        "village_code": "unit_code",
    },
    "units": {
        "代码": "code",
        "行政区划代码": "code",
        "village_code": "code",
        "常住人口": "population",
        "户籍人口": "registered_population",
        "注册志愿者": "volunteers",
        "注册志愿者人数": "volunteers",
        "志愿者人数": "volunteers",
        "有服务时长志愿者": "volunteers_with_hours",
        "有时长志愿者": "volunteers_with_hours",
        "有服务记录志愿者": "volunteers_with_hours",
        "村社区类型": "kind",
        "城乡类型": "kind",
    },
    "venues": {
        "场馆类型": "kind",
        "场馆名称": "name",
    },
}

ACTIVITY_COLUMNS = [
    "date",
    "site_id",
    "team",
    "type",
    "type_raw",
    "title",
    "participants",
    "volunteer_hours",
    "source_row",
]
TEAM_COLUMNS = ["site_id", "team", "members", "source_row"]
PROJECT_COLUMNS = ["name", "level", "site_id", "unit_code", "source_row"]
UNIT_STAT_COLUMNS = [
    "code",
    "population",
    "registered_population",
    "volunteers",
    "volunteers_with_hours",
    "kind",
]


def _ledger(path: str | Path, kind: str, required: list[str]) -> Rows:
    """Read one ledger table with its aliases; refuse workbooks with several filled sheets."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        _one_sheet(path)
    frame = read_table(path)
    aliases = _LEDGER_ALIASES[kind]
    renames: dict[str, str] = {}
    for col in frame.columns:
        target = aliases.get(col)
        if target and target not in frame.columns and target not in renames.values():
            renames[col] = target
    frame = frame.rename(columns=renames)
    require_columns(frame, path, kind, required)
    for col in frame.columns:
        text = frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col])
        if col not in ("_row", "geometry") and text:  # (pandas 3 reads text as str, not object)
            frame[col] = frame[col].where(~blank(frame[col]), None)
    return Rows(frame.reset_index(drop=True), path, kind)


def _one_sheet(path: Path) -> None:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True)
    except Exception:
        return  # read_table reports an unreadable workbook with its own message
    try:
        filled = [ws.title for ws in book.worksheets if (ws.max_row or 0) > 1]
    finally:
        book.close()
    if len(filled) > 1:
        msg = (
            f"{path}: the workbook has {len(filled)} sheets with data ({', '.join(filled)}); "
            "put the ledger on one sheet (copy the others below it) or save each sheet "
            "as its own file"
        )
        raise InputError(msg)


def _rejected(rows: Rows, key: str) -> pd.DataFrame:
    frame = rows.frame
    if key in frame:
        rows.frame = frame.assign(id=frame[key].fillna("").astype(str))
    out = rows.rejected()
    rows.frame = frame
    if len(out):
        log.info("%s: %d of %d rows rejected", rows.path, len(out), len(frame))
    return out


def _text(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.normalize("NFKC").str.strip()


def _known_site(rows: Rows, site_ids: pd.Series | None, column: str = "site_id") -> None:
    if site_ids is None:
        return
    known = set(site_ids.astype(str))
    ids = _text(rows.frame[column])
    rows.reject(
        (ids != "") & ~ids.isin(known),
        "unknown site id " + quoted(ids) + "; it is not in the sites file",
    )


# --- teams ----------------------------------------------------------------------------------


def read_teams(
    path: str | Path, *, site_ids: pd.Series | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read volunteer team rosters: one row per team with ``site_id, team`` (and ``members``).

    Parameters
    ----------
    path
        The roster file; headers such as ``站点编号, 队伍名称, 队员人数`` are understood.
    site_ids
        Ids of the known sites; rows naming another site are rejected.

    Returns
    -------
    teams, rejected
        Teams with ``site_id, team, members, source_row``; rejected rows with reasons
        (missing site or team, unknown site, negative members, a team listed twice).
    """
    rows = _ledger(path, "teams", ["site_id", "team"])
    frame = rows.frame
    frame["site_id"] = _text(frame["site_id"])
    frame["team"] = _text(frame["team"])
    rows.reject(frame["site_id"] == "", "missing site_id; give the site the team belongs to")
    rows.reject(frame["team"] == "", "missing team name")
    _known_site(rows, site_ids)
    frame["members"] = numeric(rows, "members", required=False)
    dup = frame.duplicated(["site_id", "team"], keep="first") & rows.ok
    rows.reject(dup, "team " + quoted(frame["team"]) + " is listed twice for this site")
    out = frame.loc[rows.ok, ["site_id", "team", "members", "_row"]]
    return out.rename(columns={"_row": "source_row"}).reset_index(drop=True), _rejected(
        rows, "site_id"
    )


# --- activity ledger ------------------------------------------------------------------------


def parse_dates(values: pd.Series) -> pd.Series:
    """Dates as people write them (``2025-03-14``, ``2025/3/14``, ``2025年3月14日``,
    ``20250314``, an Excel timestamp or serial number such as ``45730``) to ``datetime64``;
    ``NaT`` where it is no date."""
    text = _text(values)
    # A date cell Excel exports as its serial number (days since 1899-12-30).
    serial = text.str.fullmatch(r"[3-6]\d{4}(\.0+)?")
    text = text.str.split(r"[ T]", n=1, regex=True).str[0]
    text = text.str.replace(r"[年月./]", "-", regex=True).str.replace("日", "", regex=False)
    compact = text.str.fullmatch(r"\d{8}")
    text = text.where(~compact, text.str[:4] + "-" + text.str[4:6] + "-" + text.str[6:])
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    if serial.any():
        days = pd.to_numeric(text.where(serial), errors="coerce")
        dates = dates.where(~serial, pd.Timestamp("1899-12-30") + pd.to_timedelta(days, unit="D"))
    return dates


# A year holding fewer rows than this share of the busiest year's is a wrong --year (a stray
# row or two), not a year to audit: every site would fail for want of activities.
_ALMOST_NO_ROWS = 0.05


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def _check_audited_year(path: Path, year: int, per_year: pd.Series) -> None:
    """Refuse an audited year with no (or almost no) ledger rows, naming the years there are."""
    have = int(per_year.get(year, 0))
    busy = per_year[per_year >= _ALMOST_NO_ROWS * per_year.max()]
    if year in busy.index:
        return
    found = "no rows" if have == 0 else f"only {_rows(have)}"
    years = ", ".join(f"{y} ({_rows(n)})" for y, n in busy.items())
    raise InputError(
        f"{path}: the activity ledger has {found} in {year}; it has {years}: "
        f"give --year {int(busy.index.max())}"
    )


def read_activities(
    path: str | Path, *, year: int | None = None, site_ids: pd.Series | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Read the activity ledger (活动台账) for one year.

    Parameters
    ----------
    path
        One row per activity: ``date, site_id`` (and ``team, type, title, participants,
        volunteer_hours``).
    year
        The year audited; default the latest year with a valid date in the ledger.
    site_ids
        Ids of the known sites; rows naming another site are rejected.

    Returns
    -------
    activities, rejected, year
        Activities of the year with ``type`` normalised (``theory``, ``training`` ... or
        ``other``); every other row with its reason (missing or unparseable date, date outside
        the year, unknown site, negative participants or hours, a duplicated row).
    """
    rows = _ledger(path, "activities", ["date", "site_id"])
    frame = rows.frame
    for col in ("team", "type", "title"):
        frame[col] = _text(frame[col]) if col in frame else ""
    frame["site_id"] = _text(frame["site_id"])
    rows.reject(_text(frame["date"]) == "", "missing date")
    date = parse_dates(frame["date"])
    rows.reject(
        date.isna(),
        "date " + quoted(frame["date"]) + " is not a date; write it as 2025-03-14",
    )
    valid = date[rows.ok]
    if valid.empty:
        msg = f"{rows.path}: no row of the activity ledger has a valid date; write dates as 2025-03-14"
        raise InputError(msg)
    per_year = valid.dt.year.astype(int).value_counts().sort_index()
    if year is None:
        year = int(per_year.index.max())
    _check_audited_year(rows.path, year, per_year)
    rows.reject(
        date.dt.year != year,
        "date " + date.dt.strftime("%Y-%m-%d").fillna("") + f" is outside the audited year {year}",
    )
    rows.reject(frame["site_id"] == "", "missing site_id; give the site that held the activity")
    _known_site(rows, site_ids)
    frame["participants"] = numeric(rows, "participants", required=False)
    frame["volunteer_hours"] = numeric(rows, "volunteer_hours", required=False)
    frame["date"] = date
    frame["type_raw"] = frame["type"]
    frame["type"] = frame["type"].map(lambda v: ACTIVITY_TYPE_ALIASES.get(normalise_token(v)))
    frame["type"] = frame["type"].fillna("other")
    key = ["date", "site_id", "team", "type_raw", "title"]
    ok = rows.ok
    dup = pd.Series(False, index=frame.index)
    dup[ok] = frame.loc[ok].duplicated(key, keep="first")
    first = frame.loc[ok & ~dup].drop_duplicates(key).set_index(key)["_row"]
    first_row = pd.Series(
        first.reindex(pd.MultiIndex.from_frame(frame[key])).to_numpy(), index=frame.index
    )
    rows.reject(
        dup,
        "duplicate of row " + first_row.astype("Int64").astype(str) + " (same date, site, team, "
        "type and title); delete one of them",
    )
    out = frame.loc[rows.ok, [c for c in ACTIVITY_COLUMNS if c != "source_row"] + ["_row"]]
    out = out.rename(columns={"_row": "source_row"}).reset_index(drop=True)
    return out, _rejected(rows, "site_id"), year


# --- brand projects -------------------------------------------------------------------------


def read_projects(
    path: str | Path,
    *,
    site_ids: pd.Series | None = None,
    unit_codes: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read brand projects (品牌项目): ``name, level`` and ``site_id`` or ``unit_code``.

    ``level`` is a tier (``centre``/``中心``/``县级`` ...) or ``city``/``市级``. A project
    belongs to the site named, or to the unit code (a village code counts for that village).
    """
    rows = _ledger(path, "projects", ["name", "level"])
    frame = rows.frame
    frame["name"] = _text(frame["name"])
    for col in ("site_id", "unit_code"):
        frame[col] = _text(frame[col]) if col in frame else ""
    rows.reject(frame["name"] == "", "missing project name")
    aliases = {**TIER_ALIASES, **PROJECT_LEVEL_ALIASES}
    level = frame["level"].map(lambda v: aliases.get(normalise_token(v)) if v else None)
    rows.reject(
        ~level.isin(["centre", "institute", "station", "city"]),
        "level "
        + quoted(frame["level"].fillna(""))
        + " is not centre (县级/中心), institute (乡镇/所), station (村/站) or city (市级)",
    )
    frame["level"] = level
    rows.reject(
        (frame["site_id"] == "") & (frame["unit_code"] == "") & (level != "city"),
        "neither site_id nor unit_code; say where the project belongs",
    )
    _known_site(rows, site_ids)
    if unit_codes is not None:
        known = set(unit_codes.astype(str))
        rows.reject(
            (frame["unit_code"] != "") & ~frame["unit_code"].isin(known),
            "unknown unit_code " + quoted(frame["unit_code"]) + "; it is not in the units",
        )
    dup = frame.duplicated(["name", "level", "site_id", "unit_code"], keep="first") & rows.ok
    rows.reject(dup, "project " + quoted(frame["name"]) + " is listed twice")
    out = frame.loc[rows.ok, [c for c in PROJECT_COLUMNS if c != "source_row"] + ["_row"]]
    return out.rename(columns={"_row": "source_row"}).reset_index(drop=True), _rejected(
        rows, "name"
    )


# --- unit figures ---------------------------------------------------------------------------


def read_unit_stats(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read village/community figures keyed by ``code``.

    Columns used when present: ``population``, ``registered_population``, ``volunteers``,
    ``volunteers_with_hours`` and ``kind`` (``community``/``社区`` or ``rural``/``村``).
    Numbers must be 0 or more, and volunteers with hours cannot exceed volunteers.
    """
    rows = _ledger(path, "units", ["code"])
    return _unit_stats(rows)


def unit_stats_from_units(units: gpd.GeoDataFrame) -> pd.DataFrame:
    """The figures carried by the boundary file itself (columns missing there stay empty)."""
    frame = pd.DataFrame(units.drop(columns="geometry")).copy()
    frame["_row"] = frame.get("source_row", pd.Series(np.arange(len(frame)) + 1))
    rows = Rows(frame.reset_index(drop=True), Path("units"), "units")
    stats, _ = _unit_stats(rows)
    return stats


def _unit_stats(rows: Rows) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = rows.frame
    frame["code"] = _text(frame["code"])
    rows.reject(frame["code"] == "", "missing code")
    for col in UNIT_STAT_COLUMNS[1:5]:
        frame[col] = numeric(rows, col, required=False) if col in frame else np.nan
    rows.reject(
        frame["volunteers_with_hours"] > frame["volunteers"],
        "volunteers_with_hours "
        + frame["volunteers_with_hours"].map("{:.10g}".format)
        + " is more than volunteers "
        + frame["volunteers"].map("{:.10g}".format),
    )
    if "kind" in frame:
        kind = frame["kind"].map(lambda v: UNIT_KIND_ALIASES.get(normalise_token(v)) if v else None)
        rows.reject(
            frame["kind"].notna() & kind.isna(),
            "kind "
            + quoted(frame["kind"].fillna(""))
            + " is neither community (社区) nor rural (村)",
        )
        frame["kind"] = kind
    else:
        frame["kind"] = None
    dup = frame.duplicated("code", keep="first") & rows.ok
    rows.reject(dup, "code " + quoted(frame["code"]) + " is listed twice")
    out = frame.loc[rows.ok, UNIT_STAT_COLUMNS].reset_index(drop=True)
    return out, _rejected(rows, "code")


# --- venues ---------------------------------------------------------------------------------

_OSM_VENUES: dict[str, bool | str | list[str]] = {  # osmnx's tag query type
    "amenity": ["library", "arts_centre", "community_centre"],
    "tourism": ["museum"],
    "leisure": ["sports_centre", "stadium"],
}


def read_venues(
    path: str | Path, *, coord_sys: str | None = None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read public cultural venues: ``name, kind`` with ``lon, lat`` (or point geometry).

    ``kind`` is ``library`` (图书馆), ``museum`` (博物馆/纪念馆), ``cultural_centre`` (文化馆)
    or ``stadium`` (体育馆/体育场). An ``.osm``/``.osm.pbf`` file is read by its tags:
    ``amenity=library`` is a library, ``amenity=arts_centre|community_centre`` a cultural
    centre, ``tourism=museum`` a museum and ``leisure=sports_centre|stadium`` a stadium.
    """
    path = Path(path)
    if path.name.lower().endswith((".osm", ".osm.bz2", ".pbf")):
        return _venues_from_osm(path), pd.DataFrame(columns=REJECTED_COLUMNS)
    rows = _ledger(path, "venues", ["name", "kind"])
    frame = rows.frame
    if "id" not in frame:
        frame["id"] = "V" + frame["_row"].astype(str)
    frame["id"] = _text(frame["id"])
    frame["name"] = _text(frame["name"])
    kind = frame["kind"].map(lambda v: VENUE_KIND_ALIASES.get(normalise_token(v)) if v else None)
    accepted = ", ".join(f"{k} ({v['zh']})" for k, v in VENUE_KINDS.items())
    rows.reject(kind.isna(), "kind " + quoted(frame["kind"].fillna("")) + f"; use {accepted}")
    frame["kind"] = kind
    points = wgs84_points(rows, coord_sys)
    ok = rows.ok.to_numpy()
    out = points.loc[ok, ["id", "name", "kind", "lon", "lat", "geometry"]].reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84), _rejected(rows, "id")


def _venues_from_osm(path: Path) -> gpd.GeoDataFrame:
    import osmnx as ox

    if not path.exists():
        msg = f"{path}: OSM file not found"
        raise InputError(msg)
    if path.name.lower().endswith(".pbf"):
        msg = f"{path}: venues from .pbf are not read; convert with `osmium cat {path.name} -o venues.osm`"
        raise InputError(msg)
    try:
        feats = ox.features_from_xml(path, tags=_OSM_VENUES)
    except Exception:  # osmnx raises when no feature matches
        feats = gpd.GeoDataFrame(geometry=[], crs=WGS84)
    if feats.empty:
        return gpd.GeoDataFrame(
            columns=["id", "name", "kind", "lon", "lat"], geometry=[], crs=WGS84
        )
    feats = feats.reset_index()
    kind = pd.Series("cultural_centre", index=feats.index)
    for col, values, key in (
        ("amenity", ["library"], "library"),
        ("tourism", ["museum"], "museum"),
        ("leisure", ["sports_centre", "stadium"], "stadium"),
    ):
        if col in feats:
            kind = kind.mask(feats[col].isin(values), key)
    points = feats.geometry.representative_point()
    out = gpd.GeoDataFrame(
        {
            "id": "osm:" + feats["element"].astype(str) + "/" + feats["id"].astype(str),
            "name": feats["name"].fillna("") if "name" in feats else "",
            "kind": kind,
            "lon": points.x,
            "lat": points.y,
        },
        geometry=points.to_numpy(),
        crs=WGS84,
    )
    return out
