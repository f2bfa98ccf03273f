"""Write analysis results as files people open: JSON, CSV, XLSX, GeoJSON and an HTML map."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.coverage import Coverage
from planner.maps import coverage_map
from planner.outputs import after_proposals, people_outputs
from planner.region import Region
from planner.text import TIERS

log = logging.getLogger(__name__)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    msg = f"not JSON serialisable: {type(value).__name__}"
    raise TypeError(msg)


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` as UTF-8 JSON with Chinese left readable."""
    path.write_text(
        json.dumps(data, ensure_ascii=False, indent=2, default=_json_default), encoding="utf-8"
    )


def write_geojson(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Write a layer as WGS84 GeoJSON (an empty FeatureCollection when there is nothing)."""
    if frame.empty:
        path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
        return
    frame.to_crs(4326).to_file(path, driver="GeoJSON", COORDINATE_PRECISION=6)


def residents_table(coverage: Coverage) -> pd.DataFrame:
    """The per-resident table of ``residents.csv``: the headline columns first."""
    res = coverage.residents
    head = [
        "id",
        "population",
        "town",
        "village",
        "minutes",
        "nearest_site",
        "nearest_tier",
        "covered",
        "status",
        "lon",
        "lat",
    ]
    tiers = [c for t in TIERS for c in (f"minutes_{t}", f"site_{t}")]
    cols = [c for c in head if c in res.columns] + tiers
    table = pd.DataFrame(res[cols])
    minutes = [c for c in table.columns if c == "minutes" or c.startswith("minutes_")]
    table[minutes] = table[minutes].round(2)
    return table


def write_analysis(
    coverage: Coverage, region: Region, out: str | Path, *, map_html: bool = True
) -> dict[str, Path]:
    """Write every output of ``analyze`` into ``out``; return the paths written by name."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": out / "summary.json",
        "residents": out / "residents.csv",
        "by_unit_csv": out / "coverage_by_unit.csv",
        "by_unit_xlsx": out / "coverage_by_unit.xlsx",
        "gaps": out / "gaps.geojson",
        "service_areas": out / "service_areas.geojson",
        "rejected": out / "rejected.csv",
    }
    write_json(coverage.summary, paths["summary"])
    residents_table(coverage).to_csv(paths["residents"], index=False, encoding="utf-8-sig")
    coverage.by_unit.to_csv(paths["by_unit_csv"], index=False, encoding="utf-8-sig")
    with pd.ExcelWriter(paths["by_unit_xlsx"], engine="openpyxl") as xl:
        coverage.by_unit.to_excel(xl, sheet_name="by_unit 分单元", index=False)
        coverage.by_tier.to_excel(xl, sheet_name="by_tier 分层级", index=False)
        pd.DataFrame(coverage.gaps.drop(columns="geometry")).to_excel(
            xl, sheet_name="gaps 空白区", index=False
        )
        pd.DataFrame(coverage.equity["worst_units"]).to_excel(
            xl, sheet_name="worst 最差单元", index=False
        )
    write_geojson(coverage.gaps, paths["gaps"])
    write_geojson(coverage.service_areas, paths["service_areas"])
    coverage.rejected.to_csv(paths["rejected"], index=False, encoding="utf-8-sig")
    paths.update(people_outputs(coverage, region, out))  # planner.tables, planner.gpkg
    if map_html:
        paths["map"] = out / "map.html"
        coverage_map(coverage, sites=region.sites, units=region.units, network=region.network).save(
            str(paths["map"])
        )
    return paths


def write_suggestion(
    suggestion: Any, coverage: Coverage, region: Region, out: str | Path, *, map_html: bool = True
) -> dict[str, Path]:
    """Write the outputs of ``suggest`` into ``out``; return the paths written by name."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "proposals_csv": out / "proposals.csv",
        "proposals_geojson": out / "proposals.geojson",
        "summary": out / "summary.json",
        "excluded": out / "excluded_candidates.csv",
        "added_areas": out / "added_service_areas.geojson",
    }
    props = suggestion.proposals
    cols = [
        "rank",
        "candidate_id",
        "name",
        "kind",
        "kind_input",
        "town",
        "rooms",
        "population_newly_covered",
        "cumulative_newly_covered",
        "lon",
        "lat",
    ]
    table = pd.DataFrame(props[[c for c in cols if c in props.columns]])
    table.to_csv(paths["proposals_csv"], index=False, encoding="utf-8-sig")
    write_geojson(
        props[[*table.columns, "geometry"]] if len(props) else props, paths["proposals_geojson"]
    )
    write_json(suggestion.summary, paths["summary"])
    suggestion.excluded.to_csv(paths["excluded"], index=False, encoding="utf-8-sig")
    write_geojson(suggestion.added_areas, paths["added_areas"])
    after = after_proposals(suggestion, coverage, region)  # the gaps that remain
    paths.update(people_outputs(coverage, region, out, suggestion=suggestion, after=after))
    if map_html:
        paths["map"] = out / "map.html"
        coverage_map(
            coverage,
            sites=region.sites,
            units=region.units,
            proposals=props,
            added_areas=suggestion.added_areas,
            network=region.network,
            candidates=region.candidates,
            proposal_summary=suggestion.summary,
            remaining_gaps=after.gaps,
        ).save(str(paths["map"]))
    return paths


def write_geopackage(coverage: Coverage, region: Region, path: str | Path) -> Path:
    """Write residents, gaps, service areas, sites and boundaries as layers of one GeoPackage."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    layers = {
        "residents": coverage.residents,
        "gaps": coverage.gaps,
        "service_areas": coverage.service_areas,
        "sites": region.sites,
        "units": region.units,
    }
    for name, layer in layers.items():
        if layer is not None and len(layer):
            layer.to_crs(4326).to_file(path, layer=name, driver="GPKG")
    return path
