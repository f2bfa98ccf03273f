"""Coverage per tier, town and village; equity figures; gap areas; service areas."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from planner.areas import service_area_polygons, union_per_owner
from planner.checks import check_reachable, warn_units_outside
from planner.coords import round_lonlat
from planner.geojson_text import geometry_texts
from planner.reach import NodeTimes, nearest
from planner.region import Region, unit_disagreements
from planner.runtime import trim_memory
from planner.schema import rejected_table
from planner.standards import Standards
from planner.text import TIERS, tier_label

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class Coverage:
    """Result of :func:`analyze`. Layers are in the region's metric CRS.

    Attributes
    ----------
    residents
        One row per resident point with ``minutes`` / ``nearest_site`` / ``nearest_tier`` (any
        tier), ``covered``, and per tier ``minutes_<tier>``, ``site_<tier>``, ``covered_<tier>``.
    by_tier
        Sites, covered population and coverage per tier, with coverage at each threshold.
    by_unit
        Coverage per town and per village.
    gaps
        Contiguous groups of uncovered residents with population and nearest site.
    service_areas
        Per site, the area reached within its tier's standard (drawn from reached roads) and
        ``population_served``. Drawn on first access (maps and ``service_areas.geojson``),
        never for the numbers; empty when ``analyze`` was told ``service_areas=False``.
    equity
        Share of units fully covered, worst units, population-weighted Gini of minutes.
    summary
        JSON-ready headline figures.
    rejected
        Input rows rejected on reading plus sites too far from any usable road.
    """

    region_name: str
    standards: Standards
    residents: gpd.GeoDataFrame
    by_tier: pd.DataFrame
    by_unit: pd.DataFrame
    gaps: gpd.GeoDataFrame
    equity: dict[str, Any]
    summary: dict[str, Any]
    rejected: pd.DataFrame
    node_times: dict[str, NodeTimes] = field(default_factory=dict, repr=False)
    region: Region | None = field(default=None, repr=False)
    """The analysed region, kept to draw service areas on demand (``None``: never drawn)."""
    _drawn: dict[tuple[str, str], pd.Series] = field(default_factory=dict, init=False, repr=False)

    def in_wgs84(self, layer: str) -> gpd.GeoDataFrame:
        """The layer ``residents``, ``gaps`` or ``service_areas`` with its geometry in WGS84.

        Reprojected once and kept with this object: the GeoJSON files, the GeoPackage and
        the map each draw the same layers (a county's service areas take 0.4 s to reproject,
        its residents 0.3 s). The copies live as long as the coverage does (the API's for the
        life of the server: some tens of MB for a county); two threads asking at once may
        each make them once.
        """
        frame: gpd.GeoDataFrame = getattr(self, layer)
        if (layer, "wgs84") not in self._drawn:
            self._drawn[layer, "wgs84"] = frame.geometry.to_crs(4326)
        return frame.set_geometry(self._drawn[layer, "wgs84"])

    def geometry_json(self, layer: str) -> pd.Series:
        """The GeoJSON text of each geometry of :meth:`in_wgs84` ``(layer)``, as the files and
        the map write it (6 decimals), by the layer's index; written once and kept."""
        if (layer, "json") not in self._drawn:
            geoms = self.in_wgs84(layer).geometry
            texts = geometry_texts(round_lonlat(geoms.to_numpy()))
            self._drawn[layer, "json"] = pd.Series(texts, index=geoms.index, dtype=object)
        return self._drawn[layer, "json"]

    @functools.cached_property
    def service_areas(self) -> gpd.GeoDataFrame:
        """Service areas per site, drawn once on first access and kept (see the class)."""
        if self.region is None:
            return _empty_areas(self.residents.crs)
        log.info("drawing service areas")
        areas = _service_areas(self.region, self.node_times)
        trim_memory()  # the rasters' and rings' pages, before the map is drawn
        res = self.residents
        served = res.loc[res["covered"]]
        counts = {}
        for tier in TIERS:
            col = served.loc[served[f"covered_{tier}"]]
            counts.update(col.groupby(f"site_{tier}")["population"].sum().to_dict())
        areas["population_served"] = areas["site_id"].map(counts).fillna(0).astype(int)
        return areas


def analyze(
    region: Region,
    *,
    service_areas: bool = True,
    gap_link_m: float = 400.0,
    progress: Progress | None = None,
) -> Coverage:
    """Travel minutes from every resident to the nearest site of each tier, and what follows.

    Parameters
    ----------
    region
        The loaded region; its ``standards`` say mode and minutes per tier.
    service_areas
        Keep what is needed to draw service-area polygons on first access of
        ``Coverage.service_areas``; ``False`` leaves them empty. Never drawn here.
    gap_link_m
        Uncovered residents closer than this belong to the same gap area.
    progress
        Called with a short message before each long step.

    Returns
    -------
    Coverage
    """
    say = progress or (lambda msg: log.info(msg))
    std = region.standards
    res = region.residents
    sites = region.sites
    out = res[[c for c in res.columns if c != "source_row"]].copy()
    pop = out["population"].to_numpy(float)
    reach = _Reach.start(region)
    for tier in TIERS:
        _reach_tier(region, tier, out, reach, say)
    _check_layers(region, reach.far, reach.site_far)
    _nearest_columns(out, reach, std.max_snap_m)

    say("coverage by tier, town and village")
    by_tier = _by_tier(out, sites.loc[~reach.site_far], std)
    by_unit = unit_table(out, region.units, std)
    equity = equity_figures(out, by_unit)
    say("gap areas")
    gaps = gap_areas(out, sites, link_m=gap_link_m)
    rejected_all = rejected_table(reach.rejected)
    summary = _summary(region, out, by_tier, equity, gaps, rejected_all, std, pop)
    return Coverage(
        region_name=region.name,
        standards=std,
        residents=out,
        by_tier=by_tier,
        by_unit=by_unit,
        gaps=gaps,
        equity=equity,
        summary=summary,
        rejected=rejected_all,
        node_times=reach.node_times,
        region=region if service_areas else None,
    )


@dataclass(eq=False)
class _Reach:
    """What :func:`analyze` gathers tier by tier: the nearest site of any tier so far and the
    points that cannot reach the roads."""

    best: np.ndarray
    """Minutes to the nearest site of any tier (infinite: none reachable)."""
    best_site: np.ndarray
    best_tier: np.ndarray
    covered: np.ndarray
    """Covered by some tier within its standard."""
    far: np.ndarray
    """Residents too far from every road of some tier's mode."""
    off_street: np.ndarray
    """Residents that joined a bridge or tunnel: no street within reach."""
    site_far: np.ndarray
    """Sites too far from a road of their tier's mode (left out)."""
    rejected: list[pd.DataFrame]
    node_times: dict[str, NodeTimes] = field(default_factory=dict)

    @classmethod
    def start(cls, region: Region) -> _Reach:
        """Nothing reached yet; the rejected rows are those of reading the region."""
        n = len(region.residents)
        return cls(
            best=np.full(n, np.inf),
            best_site=np.full(n, None, dtype=object),
            best_tier=np.full(n, None, dtype=object),
            covered=np.zeros(n, bool),
            far=np.zeros(n, bool),
            off_street=np.zeros(n, bool),
            site_far=np.zeros(len(region.sites), bool),
            rejected=[region.rejected],
        )


def _reach_tier(region: Region, tier: str, out: pd.DataFrame, reach: _Reach, say: Progress) -> None:
    """Minutes from every resident to the nearest site of ``tier``: the columns
    ``minutes_<tier>``, ``site_<tier>``, ``covered_<tier>`` of ``out``, and ``reach`` updated."""
    std = region.standards
    sites = region.sites
    site_ids = sites["id"].to_numpy()
    ts = std.for_tier(tier)
    speed = std.speed_of(ts)
    say(f"{tier_label(tier)}: travel times {ts.mode} within {ts.minutes:g} min")
    graph = region.graph(ts.mode, speed)
    site_snap = region.snap("sites", ts.mode, speed)
    res_snap = region.snap("residents", ts.mode, speed)
    reach.far |= ~res_snap.ok
    if res_snap.off_street is not None:
        reach.off_street |= res_snap.off_street
    mask = sites["tier"].to_numpy() == tier
    lost = mask & ~site_snap.ok
    reach.site_far |= lost
    if lost.any():
        reach.rejected.append(_unreachable_sites(region, lost, ts.mode))
    index = np.flatnonzero(mask)
    found, nodes = nearest(graph, site_snap.subset(index), res_snap)
    reach.node_times[tier] = nodes
    minutes = found.minutes
    ids = np.full(len(out), None, dtype=object)
    hit = found.source >= 0
    ids[hit] = site_ids[index[found.source[hit]]]
    covered = minutes <= ts.minutes
    out[f"minutes_{tier}"] = _finite(minutes)
    out[f"site_{tier}"] = ids
    out[f"covered_{tier}"] = covered
    closer = minutes < reach.best
    reach.best = np.where(closer, minutes, reach.best)
    reach.best_site = np.where(closer, ids, reach.best_site)
    reach.best_tier = np.where(closer, tier, reach.best_tier)
    reach.covered |= covered


def _unreachable_sites(region: Region, lost: np.ndarray, mode: str) -> pd.DataFrame:
    """Rejected rows for the sites in ``lost``: too far from any road usable ``mode``."""
    sites = region.sites
    table = pd.DataFrame(
        {
            "layer": "sites",
            "file": str(region.files.sites) if region.files else "sites",
            "row": sites.loc[lost, "source_row"].to_numpy(),
            "id": sites["id"].to_numpy()[lost],
            "reason": f"farther than {region.standards.max_snap_m:g} m from any road usable "
            f"{mode}; the site cannot be reached and is left out",
        }
    )
    if "sheet" in sites:  # read from several sheets: rows count within each
        table.insert(2, "sheet", sites.loc[lost, "sheet"].astype(str).to_numpy())
    return table


def _nearest_columns(out: pd.DataFrame, reach: _Reach, max_snap_m: float) -> None:
    """Columns of the nearest site of any tier: ``minutes``, ``nearest_site``,
    ``nearest_tier``, ``covered``, ``status`` and ``joins_road_at``."""
    far = reach.far
    out["minutes"] = _finite(reach.best)
    out["nearest_site"] = reach.best_site
    out["nearest_tier"] = reach.best_tier
    out["covered"] = reach.covered
    out["status"] = np.where(
        far,
        f"farther than {max_snap_m:g} m from a road",
        np.where(np.isinf(reach.best), "no site reachable", "ok"),
    )
    out["joins_road_at"] = np.where(
        far, "", np.where(reach.off_street, "bridge_or_tunnel", "street")
    )


def json_ready(value: Any) -> Any:
    """Plain Python numbers (NaN and infinities as ``None``) in nested dicts and lists."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _finite(minutes: np.ndarray) -> np.ndarray:
    # Unreached is "no value" in tables, not infinity; figures use the exact minutes.
    return np.where(np.isfinite(minutes), minutes, np.nan)


def shown_minutes(minutes: Any) -> Any:
    """Travel minutes as every table, file and answer shows them: rounded up to 0.01.

    The value shown is the least multiple of 0.01 (as a float, ``k / 100``) not below the exact
    minutes, so that for any standard that is a multiple of 0.01 the shown value is within the
    standard exactly when the resident is covered (``covered`` compares the exact minutes:
    14.996 shows 15.0 and is covered, 15.000000001 shows 15.01 and is not). Unreached
    (infinite or missing) minutes come back as NaN.

    Parameters
    ----------
    minutes
        An array, a Series or a number of exact travel minutes.

    Returns
    -------
    The same shape (a Series keeps its index and name; a number gives a float).
    """
    if isinstance(minutes, pd.Series):
        return pd.Series(
            shown_minutes(minutes.to_numpy(float, na_value=np.nan)),
            index=minutes.index,
            name=minutes.name,
        )
    m = np.asarray(minutes, dtype=float)
    with np.errstate(invalid="ignore"):
        k = np.ceil(m * 100.0)
        # m * 100 is itself rounded: step k so that k / 100 is the least such float >= m.
        k = np.where(k / 100.0 < m, k + 1, k)
        k = np.where((k - 1) / 100.0 >= m, k - 1, k)
        shown = np.where(np.isfinite(m), k / 100.0, np.nan)
    return float(shown) if shown.ndim == 0 else shown


def _share(part: float, whole: float) -> float:
    return float(part / whole) if whole > 0 else 0.0


def _by_tier(res: pd.DataFrame, sites: pd.DataFrame, std: Standards) -> pd.DataFrame:
    pop = res["population"].to_numpy(float)
    total = pop.sum()
    rows = []
    for tier in TIERS:
        ts = std.for_tier(tier)
        minutes = res[f"minutes_{tier}"].to_numpy(float)
        row: dict[str, Any] = {
            "tier": tier,
            "label": tier_label(tier),
            "mode": ts.mode,
            "minutes": ts.minutes,
            "sites": int((sites["tier"] == tier).sum()),
            "population_covered": int(pop[res[f"covered_{tier}"].to_numpy()].sum()),
        }
        row["coverage"] = _share(row["population_covered"], total)
        for t in std.thresholds:
            row[f"coverage_{t:g}min"] = _share(pop[minutes <= t].sum(), total)
        rows.append(row)
    minutes = res["minutes"].to_numpy(float)
    row = {
        "tier": "any",
        "label": "任一层级 Any tier",
        "mode": std.default.mode,
        "minutes": std.default.minutes,
        "sites": len(sites),
        "population_covered": int(pop[res["covered"].to_numpy()].sum()),
    }
    row["coverage"] = _share(row["population_covered"], total)
    for t in std.thresholds:
        row[f"coverage_{t:g}min"] = _share(pop[minutes <= t].sum(), total)
    rows.append(row)
    return pd.DataFrame(rows)


UNIT_FIGURES = [
    "level",
    "code",
    "name",
    "town",
    "residents",
    "population",
    "population_covered",
    "population_uncovered",
    "coverage",
    "mean_minutes",
    "max_minutes",
]
"""Columns of :func:`unit_table` before the per-tier ``coverage_<tier>`` columns."""

_UNIT_COLUMNS = [*UNIT_FIGURES, *[f"coverage_{t}" for t in TIERS]]


def unit_table(res: pd.DataFrame, units: gpd.GeoDataFrame | None, std: Standards) -> pd.DataFrame:
    """Coverage per town and per village (units from boundaries or resident attributes)."""
    frames = []
    res = res.assign(
        _covpop=res["population"] * res["covered"],
        _wmin=res["population"] * res["minutes"].fillna(0),
        _wpop=res["population"] * res["minutes"].notna(),
    )
    for tier in TIERS:
        res[f"_cov_{tier}"] = res["population"] * res[f"covered_{tier}"]
    for level, keys in (("town", ["town"]), ("village", ["town", "village"])):
        if not set(keys) <= set(res.columns):
            continue
        code_col = f"{level}_code"
        group_keys = [*keys, code_col] if code_col in res else keys
        frame = res.assign(**{k: res[k].fillna("(未知)").astype(str) for k in group_keys})
        g = frame.groupby(group_keys, sort=True)
        table = pd.DataFrame(
            {
                "residents": g.size(),
                "population": g["population"].sum(),
                "population_covered": g["_covpop"].sum(),
                "_wmin": g["_wmin"].sum(),
                "_wpop": g["_wpop"].sum(),
                "max_minutes": g["minutes"].max(),
                **{f"coverage_{t}": g[f"_cov_{t}"].sum() for t in TIERS},
            }
        ).reset_index()
        table.insert(0, "level", level)
        table["name"] = table[keys[-1]]
        table["code"] = table[code_col] if code_col in table else table["name"]
        if level == "town":
            table["town"] = table["name"]
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=_UNIT_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    if units is not None:  # units with nobody in them still belong in the table
        known = set(zip(table["level"], table["code"].astype(str), strict=True))
        extra = units.loc[
            [
                (lv, str(c)) not in known
                for lv, c in zip(units["level"], units["code"], strict=True)
            ],
            ["level", "code", "name", "town"],
        ]
        if len(extra):
            table = pd.concat([table, extra.assign(population=0, residents=0)], ignore_index=True)
    table = table.fillna({"population": 0, "population_covered": 0, "residents": 0})
    pop = table["population"].astype(float)
    table["coverage"] = np.where(
        pop > 0, table["population_covered"] / pop.where(pop > 0, 1), np.nan
    )
    for t in TIERS:
        table[f"coverage_{t}"] = np.where(
            pop > 0, table[f"coverage_{t}"] / pop.where(pop > 0, 1), np.nan
        )
    table["mean_minutes"] = np.where(
        table["_wpop"] > 0, table["_wmin"] / table["_wpop"].where(table["_wpop"] > 0, 1), np.nan
    )
    table["population_uncovered"] = table["population"] - table["population_covered"]
    table = (
        table[_UNIT_COLUMNS]
        .sort_values(["level", "town", "code"], kind="stable")
        .reset_index(drop=True)
    )
    for c in ("population", "population_covered", "population_uncovered", "residents"):
        table[c] = table[c].astype(int)
    for c in ("mean_minutes", "max_minutes"):
        table[c] = shown_minutes(table[c].to_numpy(float))
    return table.round({"coverage": 4, **{f"coverage_{t}": 4 for t in TIERS}})


def weighted_gini(values: np.ndarray, weights: np.ndarray) -> float:
    """Gini coefficient of ``values`` with population ``weights`` (0 = everyone equal)."""
    values = np.asarray(values, float)
    weights = np.asarray(weights, float)
    keep = np.isfinite(values) & (weights > 0)
    values, weights = values[keep], weights[keep]
    if len(values) == 0 or (values * weights).sum() == 0:
        return 0.0
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    p = w / w.sum()
    lorenz = np.cumsum(v * w) / (v * w).sum()
    prev = np.r_[0.0, lorenz[:-1]]
    return float(1.0 - np.sum(p * (lorenz + prev)))


def equity_figures(res: pd.DataFrame, by_unit: pd.DataFrame) -> dict[str, Any]:
    """Share of units fully covered, the ten worst units, and the Gini of travel minutes."""
    level = "village" if (by_unit["level"] == "village").any() else "town"
    units = by_unit[(by_unit["level"] == level) & (by_unit["population"] > 0)]
    worst = units.sort_values(["coverage", "population_uncovered"], ascending=[True, False]).head(
        10
    )
    minutes = res["minutes"].to_numpy(float)
    return {
        "unit_level": level,
        "units": len(units),
        "units_fully_covered": int((units["coverage"] >= 1.0).sum()),
        "share_units_fully_covered": _share((units["coverage"] >= 1.0).sum(), len(units)),
        "worst_units": [
            {
                "code": str(r["code"]),
                "name": str(r["name"]),
                "town": str(r["town"]),
                "population": int(r["population"]),
                "coverage": float(r["coverage"]),
            }
            for r in worst.to_dict("records")
        ],
        "gini_minutes": round(weighted_gini(minutes, res["population"].to_numpy(float)), 4),
        "population_no_site_reachable": int(res.loc[np.isnan(minutes), "population"].sum()),
    }


def residents_for_tier(res: gpd.GeoDataFrame, tier: str) -> gpd.GeoDataFrame:
    """Residents as if only sites of ``tier`` served (``covered``, ``minutes``, ``nearest_*``)."""
    site = res[f"site_{tier}"]
    return res.assign(
        covered=res[f"covered_{tier}"],
        minutes=res[f"minutes_{tier}"],
        nearest_site=site,
        nearest_tier=site.mask(site.notna(), tier),
    )


GAP_COLUMNS = [
    "gap_id",
    "population",
    "residents",
    "town",
    "village",
    "centroid_lon",
    "centroid_lat",
    "nearest_site",
    "nearest_site_name",
    "nearest_tier",
    "minutes_min",
    "minutes_mean",
]
"""Columns of :func:`gap_areas` (besides the polygon)."""


def gap_areas(
    res: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    *,
    tier: str | None = None,
    link_m: float = 400.0,
    buffer_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Group uncovered residents into contiguous gap areas.

    Residents within ``link_m`` of each other (chains included) form one area; its polygon is
    the union of discs around them (radius ``buffer_m``, default half of ``link_m`` so linked
    residents touch). With ``tier``, only sites of that tier count as serving.
    """
    if tier is not None:
        res = residents_for_tier(res, tier)
    gap = res.loc[~res["covered"].to_numpy() & (res["population"].to_numpy() > 0)]
    if gap.empty:
        return gpd.GeoDataFrame(
            columns=[*GAP_COLUMNS, "geometry"], geometry="geometry", crs=res.crs
        )
    xy = np.column_stack([gap.geometry.x.to_numpy(), gap.geometry.y.to_numpy()])
    pairs = cKDTree(xy).query_pairs(link_m, output_type="ndarray")
    n = len(xy)
    adj = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(adj, directed=False)
    table = _gap_figures(gap, xy, label)
    table["nearest_site_name"] = table["nearest_site"].map(sites.set_index("id")["name"])
    radius = link_m / 2 + 1.0 if buffer_m is None else buffer_m
    discs = shapely.buffer(shapely.points(xy), radius, quad_segs=6)
    polygons = union_per_owner(discs, label)  # labels are 0..k-1: one polygon per label
    centroid = gpd.GeoSeries(shapely.points(table["cx"], table["cy"]), crs=res.crs).to_crs(4326)
    table["centroid_lon"] = np.round(centroid.x.to_numpy(), 6)
    table["centroid_lat"] = np.round(centroid.y.to_numpy(), 6)
    table = table.sort_values(["population", "cx"], ascending=[False, True])
    polygons = polygons[table.index.to_numpy()]
    table = table.reset_index(drop=True)
    table["gap_id"] = [f"G{i + 1:03d}" for i in range(len(table))]
    table["population"] = table["population"].round().astype(int)
    table["minutes_min"] = shown_minutes(table["minutes_min"].to_numpy(float))
    table["minutes_mean"] = shown_minutes(table["minutes_mean"].to_numpy(float))
    return gpd.GeoDataFrame(table[GAP_COLUMNS], geometry=polygons, crs=res.crs)


def _gap_figures(gap: pd.DataFrame, xy: np.ndarray, label: np.ndarray) -> pd.DataFrame:
    """Per gap area (``label``): population, residents, weighted centre ``cx, cy``, minutes,
    the most populous town and village, and the nearest site of its closest resident."""
    frame = pd.DataFrame(
        {
            "label": label,
            "population": gap["population"].to_numpy(float),
            "x": xy[:, 0],
            "y": xy[:, 1],
            "town": gap["town"].astype(str).to_numpy() if "town" in gap else "",
            "village": gap["village"].astype(str).to_numpy() if "village" in gap else "",
            "minutes": gap["minutes"].to_numpy(float),
            "nearest_site": gap["nearest_site"].to_numpy(),
            "nearest_tier": gap["nearest_tier"].to_numpy(),
        }
    )
    frame["wx"] = frame["x"] * frame["population"]
    frame["wy"] = frame["y"] * frame["population"]
    g = frame.groupby("label")
    table = pd.DataFrame(
        {
            "population": g["population"].sum(),
            "residents": g.size(),
            "cx": g["wx"].sum() / g["population"].sum(),
            "cy": g["wy"].sum() / g["population"].sum(),
            "minutes_min": g["minutes"].min(),
            "minutes_mean": g["minutes"].mean(),
        }
    )
    for col in ("town", "village"):
        top = frame.groupby(["label", col])["population"].sum().reset_index()
        top = top.sort_values(["label", "population", col], ascending=[True, False, True])
        table[col] = top.drop_duplicates("label").set_index("label")[col]
    closest = frame.sort_values(["label", "minutes"]).drop_duplicates("label").set_index("label")
    table["nearest_site"] = closest["nearest_site"]
    table["nearest_tier"] = closest["nearest_tier"]
    return table


def _empty_areas(crs: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"site_id": [], "name": [], "tier": [], "mode": [], "minutes": []},
        geometry=[],
        crs=crs,
    )


def _service_areas(region: Region, node_times: dict[str, NodeTimes]) -> gpd.GeoDataFrame:
    std = region.standards
    sites = region.sites
    frames = []
    for tier, nodes in node_times.items():
        ts = std.for_tier(tier)
        speed = std.speed_of(ts)
        index = np.flatnonzero(sites["tier"].to_numpy() == tier)
        if len(index) == 0:
            continue
        graph = region.graph(ts.mode, speed)
        snap = region.snap("sites", ts.mode, speed).subset(index)
        labels, polygons = service_area_polygons(
            graph, nodes, snap, limit_s=ts.minutes * 60.0, cache_file=region.network.cache_file
        )
        chosen = sites.iloc[index[labels]]
        frames.append(
            gpd.GeoDataFrame(
                {
                    "site_id": chosen["id"].to_numpy(),
                    "name": chosen["name"].to_numpy(),
                    "tier": tier,
                    "mode": ts.mode,
                    "minutes": ts.minutes,
                },
                geometry=polygons,
                crs=region.crs,
            )
        )
    if not frames:
        return _empty_areas(region.crs)
    return pd.concat(frames, ignore_index=True)


def _check_layers(region: Region, res_far: np.ndarray, site_far: np.ndarray) -> None:
    files = region.files
    net = region.network
    snap_m = region.standards.max_snap_m
    for layer, points, far, source in (
        ("sites", region.sites, site_far, files.sites if files else "sites"),
        ("resident points", region.residents, res_far, files.residents if files else "residents"),
    ):
        check_reachable(
            layer,
            points,
            far,
            node_xy=net.node_xy,
            crs=net.crs,
            max_snap_m=snap_m,
            source=str(source),
        )
    if region.units is not None:
        warn_units_outside(region.units, net.node_xy, source=str(files.units if files else "units"))


def _summary(
    region: Region,
    res: pd.DataFrame,
    by_tier: pd.DataFrame,
    equity: dict[str, Any],
    gaps: gpd.GeoDataFrame,
    rejected: pd.DataFrame,
    std: Standards,
    pop: np.ndarray,
) -> dict[str, Any]:
    total = float(pop.sum())
    covered = float(pop[res["covered"].to_numpy()].sum())
    minutes = res["minutes"].to_numpy(float)
    far = res["status"].str.startswith("farther").to_numpy()
    tiers = {}
    for row in by_tier.to_dict("records"):
        tiers[row["tier"]] = {
            "label": row["label"],
            "mode": row["mode"],
            "minutes": row["minutes"],
            "sites": row["sites"],
            "population_covered": row["population_covered"],
            "coverage": round(row["coverage"], 4),
            "coverage_at": {f"{t:g}": round(row[f"coverage_{t:g}min"], 4) for t in std.thresholds},
        }
    rej = rejected["layer"].astype(str)
    summary: dict[str, Any] = json_ready(
        {
            "region": region.name,
            "population_total": round(total),
            "population_covered": round(covered),
            "coverage": round(_share(covered, total), 4),
            "mode": std.default.mode,
            "minutes": std.default.minutes,
            "thresholds": list(std.thresholds),
            "coverage_at": {
                f"{t:g}": round(_share(pop[minutes <= t].sum(), total), 4) for t in std.thresholds
            },
            "by_tier": {k: v for k, v in tiers.items() if k != "any"},
            "residents_total": len(res),
            "residents_rejected": int((rej == "residents").sum()),
            "residents_far_from_road": int(far.sum()),
            "population_far_from_road": int(pop[far].sum()),
            "residents_joining_bridge_or_tunnel": int(
                (res["joins_road_at"] == "bridge_or_tunnel").sum()
            ),
            "sites_total": len(region.sites),
            "sites_used": int(by_tier.loc[by_tier["tier"] == "any", "sites"].iloc[0]),
            "sites_rejected": int((rej == "sites").sum()),
            "gaps": len(gaps),
            "population_in_gaps": int(gaps["population"].sum()) if len(gaps) else 0,
            "equity": equity,
            "max_snap_m": std.max_snap_m,
        }
    )
    if region.units is not None:  # residents whose own town/village column a polygon overruled
        summary["residents_unit_column_overruled"] = unit_disagreements(res)
    return summary
