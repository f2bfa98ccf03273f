"""Scenarios: close sites, add proposals, change tiers, and compare coverage before and after."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.coords import COORD_SYSTEMS
from planner.coverage import Coverage, analyze, json_ready, shown_minutes
from planner.errors import InputError
from planner.inputs import read_sites
from planner.io import read_table
from planner.region import Region, _attach_units
from planner.text import SCENARIO_ACTIONS, TIERS, normalise_token
from planner.vocab import tier_key

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Scenario:
    """What changes: sites closed, sites added, sites given another tier.

    Attributes
    ----------
    close
        Ids of existing sites that close.
    add
        New sites (``id, name, tier`` and point geometry in WGS84), e.g. ``suggest``'s proposals.
    retier
        Existing site id -> its new tier key.
    rejected
        Rows of the added sites' file that were not read, with their reason.
    source
        The file the changes were read from (errors about an added site name it).
    """

    close: tuple[str, ...] = ()
    add: gpd.GeoDataFrame | None = None
    retier: dict[str, str] = field(default_factory=dict)
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing changes."""
        return not self.close and not self.retier and (self.add is None or self.add.empty)

    @classmethod
    def from_options(
        cls,
        *,
        close: str | list[str] | None = None,
        add: str | Path | None = None,
        retier: str | dict[str, str] | None = None,
        add_tier: str = "station",
        coord_sys: str | None = None,
    ) -> Scenario:
        """A scenario from the CLI's flags.

        Parameters
        ----------
        close
            ``"S0012,S0040"`` or a list of site ids.
        add
            A table of new sites (``proposals.csv`` of ``suggest`` works as it is:
            ``candidate_id`` counts as ``id``; a missing ``tier`` means ``add_tier``).
        retier
            ``"S0033=institute,S0034=所"`` or a dict.
        add_tier
            Tier of added sites whose file has no tier.
        coord_sys
            Coordinate system of the added sites' file.
        """
        ids = _split(close) if isinstance(close, str) else list(close or [])
        changes = _parse_retier(retier) if isinstance(retier, str) else dict(retier or {})
        changes = {k: tier_key(v, where=f"--retier {k}={v}") for k, v in changes.items()}
        added, rejected = (None, pd.DataFrame())
        if add is not None:
            added, rejected = read_additions(add, default_tier=add_tier, coord_sys=coord_sys)
        source = None if add is None else str(add)
        return cls(close=tuple(ids), add=added, retier=changes, rejected=rejected, source=source)

    @classmethod
    def from_table(cls, path: str | Path, *, coord_sys: str | None = None) -> Scenario:
        """A scenario from one table (CSV or XLSX), one change a row.

        Columns ``action`` (``close``/``关闭``, ``add``/``新增``, ``retier``/``调整层级``),
        ``id``; ``tier`` for ``retier`` and ``add``; ``name, lon, lat`` for ``add``.
        """
        path = Path(path)
        frame = read_table(path)
        if "action" not in frame:
            frame = frame.rename(columns={"操作": "action", "变化": "action"})
        missing = [c for c in ("action", "id") if c not in frame]
        if missing:
            msg = f"{path}: scenario table is missing column(s) {', '.join(missing)} (needs action, id; tier for retier; name, lon, lat for add)"
            raise InputError(msg)
        actions = frame["action"].map(
            lambda v: SCENARIO_ACTIONS.get(normalise_token(v)) if pd.notna(v) else None
        )
        bad = actions.isna()
        if bad.any():
            row = frame.loc[bad].iloc[0]
            msg = (
                f"{path}: row {row['_row']}: unknown action {row['action']!r}; "
                f"use close (关闭), add (新增) or retier (调整层级)"
            )
            raise InputError(msg)
        ids = frame["id"].astype(str).str.strip()
        close = tuple(ids[actions == "close"])
        retier = {}
        for i in np.flatnonzero((actions == "retier").to_numpy()):
            row = frame.iloc[i]
            retier[ids.iloc[i]] = tier_key(row.get("tier"), where=f"{path}: row {row['_row']}")
        added = rejected = None
        adds = frame.loc[actions == "add"].drop(columns=["action", "_row"])
        if len(adds):
            with tempfile.TemporaryDirectory() as tmp:
                table = Path(tmp) / "add.csv"
                adds.to_csv(table, index=False)
                added, rejected = _read_new_sites(table, path, "station", coord_sys)
        return cls(
            close=close,
            add=added,
            retier=retier,
            rejected=rejected if rejected is not None else pd.DataFrame(),
            source=str(path),
        )


def read_additions(
    path: str | Path, *, default_tier: str = "station", coord_sys: str | None = None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read new sites for a scenario; ``suggest``'s ``proposals.csv`` reads as it is."""
    path = Path(path)
    frame = read_table(path).drop(columns="_row")
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "add.csv"
        frame.to_csv(table, index=False)
        return _read_new_sites(table, path, default_tier, coord_sys)


def _read_new_sites(
    table: Path, source: Path, default_tier: str, coord_sys: str | None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    frame = pd.read_csv(table, dtype=str)
    suggested = _is_suggestion(frame)
    if "id" not in frame and "candidate_id" in frame:
        frame = frame.rename(columns={"candidate_id": "id"})
    if "name" not in frame and "id" in frame:
        frame["name"] = frame["id"]
    if "tier" not in frame:
        frame["tier"] = default_tier
    frame["tier"] = frame["tier"].fillna(default_tier)
    if suggested:
        # suggest writes WGS84 in lon/lat (and the input system in lon_<sys>, lat_<sys>):
        # read them as WGS84 whatever --coord-sys says, or they are converted a second time.
        frame = frame.drop(columns=[c for c in frame.columns if c.startswith(("lon_", "lat_"))])
        coord_sys = "wgs84"
    frame.to_csv(table, index=False)
    try:
        sites, rejected = read_sites(table, coord_sys=coord_sys)
    except InputError as exc:
        raise InputError(str(exc).replace(str(table), str(source))) from None
    if len(rejected) and "file" in rejected:
        rejected = rejected.assign(file=str(source))
    return sites, rejected


def _is_suggestion(frame: pd.DataFrame) -> bool:
    """Whether a table is ``suggest``'s ``proposals.csv`` (its ``lon``/``lat`` are WGS84)."""
    cols = set(frame.columns)
    if not {"lon", "lat"} <= cols or "crs" in cols:
        return False
    marked = any(f"lon_{s}" in cols and f"lat_{s}" in cols for s in COORD_SYSTEMS)
    return marked or {"candidate_id", "population_newly_covered"} <= cols


def apply_scenario(region: Region, scenario: Scenario) -> Region:
    """The region with the scenario's sites closed, added and re-tiered."""
    sites = region.sites
    known = set(sites["id"].astype(str))
    for flag, ids in (("close", scenario.close), ("retier", scenario.retier)):
        unknown = [i for i in ids if str(i) not in known]
        if unknown:
            msg = f"--{flag}: no site with id {', '.join(map(str, unknown))}; use ids from the sites file (e.g. {sites['id'].iloc[0]})"
            raise InputError(msg)
    keep = ~sites["id"].astype(str).isin(scenario.close)
    out = sites.loc[keep].copy()
    if scenario.retier:
        new = out["id"].astype(str).map(scenario.retier)
        out["tier"] = new.fillna(out["tier"])
    if scenario.add is not None and len(scenario.add):
        add = scenario.add.to_crs(region.crs)
        twice = sorted(set(add.loc[add["id"].astype(str).duplicated(), "id"].astype(str)))
        if twice:
            msg = f"--add: site id {', '.join(twice)} is given more than once; give each new site its own id"
            raise InputError(msg)
        clash = sorted(set(add["id"].astype(str)) & set(out["id"].astype(str)))
        if clash:
            msg = f"--add: site id {', '.join(clash)} already exists; give the new sites other ids"
            raise InputError(msg)
        _check_added_inside(region, scenario)
        if region.units is not None:
            add = _attach_units(add, region.units)
        out = pd.concat([out, add], ignore_index=True)
        out = gpd.GeoDataFrame(out, geometry="geometry", crs=region.crs)
    return region.with_sites(out)


def _check_added_inside(region: Region, scenario: Scenario) -> None:
    """Refuse added sites outside the region, as an isochrone's start is refused (one test)."""
    from planner.query import check_inside  # the API's questions; loaded only for additions

    assert scenario.add is not None
    points = scenario.add.geometry.to_crs(4326)
    where = f" in {scenario.source}" if scenario.source else ""
    names = [f"added site {i}{where}" for i in scenario.add["id"].astype(str)]
    check_inside(region, points.x.to_numpy(), points.y.to_numpy(), names=names)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Result of :func:`compare`.

    Attributes
    ----------
    before, after
        Coverage of the region as it is and under the scenario.
    by_tier
        Per tier (and ``any``): covered population and coverage before / after / change.
    by_unit
        Per town and village: the same, with the people who lose and gain coverage.
    changed
        Residents whose coverage changes, with ``change_kind`` ``lost`` or ``gained``.
    closed, added
        The sites closed and added (metric CRS).
    summary
        JSON-ready headline figures.
    """

    before: Coverage
    after: Coverage
    by_tier: pd.DataFrame
    by_unit: pd.DataFrame
    changed: gpd.GeoDataFrame
    closed: gpd.GeoDataFrame
    added: gpd.GeoDataFrame
    after_sites: gpd.GeoDataFrame
    summary: dict[str, Any]


def compare(
    region: Region,
    scenario: Scenario,
    *,
    before: Coverage | None = None,
    service_areas: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Coverage before and after ``scenario``, per tier and unit, and who loses or gains.

    Parameters
    ----------
    region
        The region as it is.
    scenario
        The changes.
    before
        The region's analysis when already computed.
    service_areas
        Also draw the service areas after the change (for maps).
    progress
        Called with a short message before each long step.
    """
    say = progress or (lambda msg: log.info(msg))
    if scenario.empty:
        msg = "the scenario changes nothing: give --close, --add, --retier or --scenario"
        raise InputError(msg)
    changed_region = apply_scenario(region, scenario)
    if before is None:
        say("coverage as it is")
        before = analyze(region, service_areas=service_areas)
    say("coverage under the scenario")
    after = analyze(changed_region, service_areas=service_areas)
    rb, ra = before.residents, after.residents
    by_tier = _tier_changes(region.sites, changed_region.sites, rb, ra)
    cov_b, cov_a = rb["covered"].to_numpy(), ra["covered"].to_numpy()
    lost, gained = cov_b & ~cov_a, ~cov_b & cov_a
    by_unit = _unit_changes(before.by_unit, after.by_unit, rb, lost, gained)
    closed = region.sites[region.sites["id"].astype(str).isin(scenario.close)]
    added = (
        scenario.add.to_crs(region.crs)
        if scenario.add is not None and len(scenario.add)
        else changed_region.sites.iloc[0:0]
    )
    return Comparison(
        before=before,
        after=after,
        by_tier=by_tier,
        by_unit=by_unit,
        changed=_changed_residents(rb, ra, lost, gained),
        closed=closed,
        added=added,
        after_sites=changed_region.sites,
        summary=_comparison_summary(region.name, scenario, added, rb, cov_a, by_tier),
    )


def _tier_changes(
    sites_before: pd.DataFrame, sites_after: pd.DataFrame, rb: pd.DataFrame, ra: pd.DataFrame
) -> pd.DataFrame:
    """Per tier (and ``any``): sites, covered population and coverage before / after / change."""
    pop = rb["population"].to_numpy(float)
    total = pop.sum()
    rows = []
    for tier in [*TIERS, "any"]:
        col = "covered" if tier == "any" else f"covered_{tier}"
        pb = float((pop * rb[col].to_numpy()).sum())
        pa = float((pop * ra[col].to_numpy()).sum())
        rows.append(
            {
                "tier": tier,
                "sites_before": int((sites_before["tier"] == tier).sum())
                if tier != "any"
                else len(sites_before),
                "sites_after": int((sites_after["tier"] == tier).sum())
                if tier != "any"
                else len(sites_after),
                "population_before": round(pb),
                "population_after": round(pa),
                "before": pb / total if total else 0.0,
                "after": pa / total if total else 0.0,
            }
        )
    by_tier = pd.DataFrame(rows)
    by_tier["change"] = by_tier["after"] - by_tier["before"]
    return by_tier


def _changed_residents(
    rb: gpd.GeoDataFrame, ra: gpd.GeoDataFrame, lost: np.ndarray, gained: np.ndarray
) -> gpd.GeoDataFrame:
    """Residents whose coverage changes (``change_kind`` lost or gained), nearest site and
    minutes before and after."""
    keep = [
        c for c in ("id", "population", "town", "village", "town_code", "village_code") if c in rb
    ]
    return gpd.GeoDataFrame(
        rb.loc[lost | gained, keep].assign(
            change_kind=np.where(lost[lost | gained], "lost", "gained"),
            site_before=rb.loc[lost | gained, "nearest_site"].to_numpy(),
            site_after=ra.loc[lost | gained, "nearest_site"].to_numpy(),
            minutes_before=shown_minutes(rb.loc[lost | gained, "minutes"].to_numpy(float)),
            minutes_after=shown_minutes(ra.loc[lost | gained, "minutes"].to_numpy(float)),
        ),
        geometry=rb.geometry[lost | gained],
        crs=rb.crs,
    )


def _comparison_summary(
    region_name: str,
    scenario: Scenario,
    added: gpd.GeoDataFrame,
    rb: pd.DataFrame,
    cov_a: np.ndarray,
    by_tier: pd.DataFrame,
) -> dict[str, Any]:
    """JSON-ready headline figures: what changed, coverage before and after, who lost or gained
    (``rb``: residents before; ``cov_a``: covered after)."""
    pop = rb["population"].to_numpy(float)
    total = pop.sum()
    cov_b = rb["covered"].to_numpy()
    lost, gained = cov_b & ~cov_a, ~cov_b & cov_a
    summary: dict[str, Any] = json_ready(
        {
            "region": region_name,
            "closed": list(scenario.close),
            "added": [] if added.empty else list(added["id"].astype(str)),
            "retiered": dict(scenario.retier),
            "population_total": round(total),
            "population_covered_before": round(float((pop * cov_b).sum())),
            "population_covered_after": round(float((pop * cov_a).sum())),
            "coverage_before": round(float((pop * cov_b).sum()) / total, 4) if total else 0.0,
            "coverage_after": round(float((pop * cov_a).sum()) / total, 4) if total else 0.0,
            "population_lost": round(float(pop[lost].sum())),
            "population_gained": round(float(pop[gained].sum())),
            "residents_lost": int(lost.sum()),
            "residents_gained": int(gained.sum()),
            "by_tier": by_tier.round(4).to_dict(orient="records"),
        }
    )
    return summary


def _unit_changes(
    before: pd.DataFrame,
    after: pd.DataFrame,
    res: pd.DataFrame,
    lost: np.ndarray,
    gained: np.ndarray,
) -> pd.DataFrame:
    keys = ["level", "code"]
    b = before[["level", "code", "name", "town", "population", "population_covered", "coverage"]]
    a = after[[*keys, "population_covered", "coverage"]]
    table = b.merge(a, on=keys, how="outer", suffixes=("_before", "_after"))
    table = table.rename(
        columns={
            "population_covered_before": "population_before",
            "population_covered_after": "population_after",
            "coverage_before": "before",
            "coverage_after": "after",
        }
    )
    table["change"] = table["after"] - table["before"]
    pop = res["population"].to_numpy(float)
    for level in ("town", "village"):
        code_col = f"{level}_code"
        col = code_col if code_col in res else level
        if col not in res:
            continue
        codes = res[col].fillna("(未知)").astype(str)
        for name, mask in (("population_lost", lost), ("population_gained", gained)):
            sums = pd.Series(pop * mask).groupby(codes.to_numpy()).sum()
            at = table["level"] == level
            table.loc[at, name] = table.loc[at, "code"].astype(str).map(sums).fillna(0).to_numpy()
    for c in ("population_lost", "population_gained"):
        table[c] = table.get(c, pd.Series(0, index=table.index)).fillna(0).astype(int)
    return table.sort_values(["level", "town", "code"], kind="stable").reset_index(drop=True)


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.replace("，", ",").split(",") if x.strip()]


def _parse_retier(text: str) -> dict[str, str]:
    out = {}
    for part in _split(text):
        if "=" not in part:
            msg = f"--retier {part!r}: write SITE=TIER, e.g. S0033=institute or S0033=所"
            raise InputError(msg)
        site, tier = part.split("=", 1)
        out[site.strip()] = tier.strip()
    return out
