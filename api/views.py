"""The JSON of each answer, built from what :mod:`planner.query` and the library return."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from api import geojson
from planner.coverage import json_ready
from planner.text import CANDIDATE_KINDS, TIERS

if TYPE_CHECKING:
    import geopandas as gpd

    from api.state import LoadedRegion
    from planner.siting import Suggestion

GAP_COLUMNS = [
    "gap_id",
    "population",
    "residents",
    "town",
    "village",
    "nearest_site",
    "nearest_site_name",
    "nearest_tier",
    "minutes_min",
    "minutes_mean",
    "centroid_lon",
    "centroid_lat",
    "area_km2",
]
SITE_COLUMNS = [
    "id",
    "name",
    "tier",
    "tier_zh",
    "town",
    "town_code",
    "village_code",
    "rooms",
    "staff",
    "volunteer_teams",
    "activities_per_year",
    "mode",
    "minutes",
    "population_served",
]
PROPOSAL_COLUMNS = [
    "rank",
    "candidate_id",
    "name",
    "kind",
    "kind_zh",
    "rooms",
    "town",
    "town_code",
    "village",
    "village_code",
    "tier",
    "population_newly_covered",
    "cumulative_newly_covered",
]
ISOCHRONE_COLUMNS = ["index", "lon", "lat", "minutes", "mode", "speed_kmh", "area_km2"]
SUMMARY_KEYS = (
    "population_total",
    "population_covered",
    "coverage",
    "mode",
    "minutes",
    "thresholds",
    "coverage_at",
    "residents_total",
    "residents_far_from_road",
    "population_far_from_road",
    "sites_total",
    "gaps",
    "population_in_gaps",
    "equity",
)
_HIDDEN = {"geometry", "source_row", "lon", "lat"}


def gap_collection(gaps: gpd.GeoDataFrame, summary: dict[str, Any]) -> bytes:
    """Gap areas as GeoJSON bytes, with their area, ``summary`` and its count and population."""
    gaps = gaps.assign(area_km2=np.round(shapely.area(gaps.geometry.to_numpy()) / 1e6, 4))
    summary = {
        **summary,
        "count": len(gaps),
        "population_in_gaps": int(gaps["population"].sum()) if len(gaps) else 0,
    }
    items = geojson.features(gaps, GAP_COLUMNS, id_column="gap_id")
    return geojson.dumps(geojson.feature_collection(items, summary=summary))


def site_collection(sites: gpd.GeoDataFrame) -> bytes:
    """Sites as GeoJSON bytes: the known columns first, then any other of the sites file."""
    extra = [c for c in sites.columns if c not in SITE_COLUMNS and c not in _HIDDEN]
    items = geojson.features(sites, [*SITE_COLUMNS, *extra], id_column="id")
    return geojson.dumps(geojson.feature_collection(items))


def isochrone_feature(area: gpd.GeoDataFrame) -> dict[str, Any]:
    """The one row of :func:`planner.query.isochrone_at` as a GeoJSON feature."""
    return geojson.features(area, ISOCHRONE_COLUMNS)[0]


def suggestion(result: Suggestion, region_id: str) -> dict[str, Any]:
    """A suggestion as JSON: summary (before/after), proposals and added areas (GeoJSON)."""
    summary = json_ready(dict(result.summary))
    summary["region"] = region_id
    proposals = result.proposals
    proposals = proposals.assign(
        tier=summary["tier"],
        kind_zh=proposals["kind"].map(lambda k: CANDIDATE_KINDS.get(k, {}).get("zh", k))
        if "kind" in proposals
        else None,
    )
    return {
        "summary": summary,
        "proposals": geojson.feature_collection(
            geojson.features(proposals, PROPOSAL_COLUMNS, id_column="candidate_id")
        ),
        "added_areas": geojson.feature_collection(
            geojson.features(
                result.added_areas, ["site_id", "name", "minutes"], id_column="site_id"
            )
        ),
    }


def region_summary(loaded: LoadedRegion) -> dict[str, Any]:
    """Headline figures: population, coverage per tier and threshold, equity."""
    s = json_ready(loaded.coverage.summary)
    by_tier = [
        {
            "tier": tier,
            "label": row["label"],
            "label_zh": TIERS[tier]["zh"],
            "color": TIERS[tier]["color"],
            **{k: row[k] for k in ("mode", "minutes", "sites", "population_covered")},
            "coverage": row["coverage"],
            "coverage_at": row["coverage_at"],
        }
        for tier, row in s["by_tier"].items()
        if tier in TIERS
    ]
    return {
        "id": loaded.id,
        "name": loaded.name,
        **{k: s[k] for k in SUMMARY_KEYS},
        "by_tier": by_tier,
        "towns": len(loaded.towns),
        "villages": len(loaded.villages),
        "links": links(loaded.id),
    }


def region_item(loaded: LoadedRegion) -> dict[str, Any]:
    """The short entry of the region list."""
    s = loaded.coverage.summary
    return {
        "id": loaded.id,
        "name": loaded.name,
        "population_total": int(s["population_total"]),
        "population_covered": int(s["population_covered"]),
        "coverage": float(s["coverage"]),
        "towns": len(loaded.towns),
        "villages": len(loaded.villages),
        "sites_total": int(s["sites_total"]),
        "links": links(loaded.id),
    }


def links(region_id: str, town: pd.Series | None = None) -> dict[str, str]:
    """URLs of the resources related to a region or one of its towns."""
    base = f"/regions/{region_id}"
    if town is None:
        return {
            "self": base,
            "towns": f"{base}/towns",
            "sites": f"{base}/sites",
            "map": f"{base}/map",
            "suggest": f"{base}/suggest",
        }
    t = f"{base}/towns/{town['code']}"
    return {
        "self": t,
        "gaps": f"{t}/gaps",
        "map": f"{t}/map",
        "sites": f"{base}/sites?town={town['code']}",
    }
