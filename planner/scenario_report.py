"""Write a scenario comparison: JSON, CSV, a Chinese workbook and a map of who loses or gains."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import pandas as pd

from planner import map_layers
from planner.maps import _corner_box, coverage_map, layer_control_last, save_map, stable_ids
from planner.report import write_json
from planner.scenario import Comparison
from planner.tables import analysis_options, for_people, write_workbook
from planner.text import COMPARE_WORDS, LABELS, TABLE_WORDS, TIERS

if TYPE_CHECKING:
    from planner.region import Region

LOST_COLOR = "#d73027"
GAINED_COLOR = "#1a9850"
STROKES = {"lost": "#67000d", "gained": "#00441b"}


def write_comparison(
    comparison: Comparison,
    region: Region,
    out: str | Path,
    *,
    map_html: bool = True,
    tianditu_key: str | None = None,
) -> dict[str, Path]:
    """Write every output of ``compare`` into ``out``; return the paths written by name."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": out / "comparison.json",
        "by_unit_csv": out / "comparison_by_unit.csv",
        "changed_csv": out / "changed_residents.csv",
    }
    write_json(comparison.summary, paths["summary"])
    comparison.by_unit.to_csv(paths["by_unit_csv"], index=False, encoding="utf-8-sig")
    changed = pd.DataFrame(comparison.changed.drop(columns="geometry"))
    changed.to_csv(paths["changed_csv"], index=False, encoding="utf-8-sig")
    people_changed = for_people(changed).assign(
        change_kind=changed["change_kind"].map(
            {"lost": TABLE_WORDS["lost"], "gained": TABLE_WORDS["gained"]}
        )
    )
    s = comparison.summary
    options = analysis_options(comparison.before, region)
    options.update(
        {
            "关闭站点 Closed": ", ".join(s["closed"]) or "—",
            "新增站点 Added": ", ".join(s["added"]) or "—",
            "调整层级 Retiered": ", ".join(
                f"{k}→{TIERS[v]['zh']}" for k, v in s["retiered"].items()
            )
            or "—",
            "覆盖率 Coverage": f"{s['coverage_before']:.1%} → {s['coverage_after']:.1%}",
            "失去覆盖 Losing": f"{s['population_lost']:,} 人",
            "新获覆盖 Gaining": f"{s['population_gained']:,} 人",
        }
    )
    paths["xlsx"] = write_workbook(
        out / "comparison.xlsx",
        {
            TABLE_WORDS["by_tier"]: for_people(comparison.by_tier),
            TABLE_WORDS["by_unit"]: for_people(comparison.by_unit),
            TABLE_WORDS["residents_changed"]: people_changed,
        },
        title=f"{comparison.before.region_name} 情景对比",
        options=options,
    )
    if map_html:
        paths["map"] = out / "map.html"
        save_map(comparison_map(comparison, region, tianditu_key=tianditu_key), paths["map"])
    return paths


def comparison_map(
    comparison: Comparison, region: Region, *, tianditu_key: str | None = None
) -> folium.Map:
    """The coverage after the scenario, with lost residents in red and gained in green."""
    s = comparison.summary
    note = COMPARE_WORDS["sub"].format(lost=s["population_lost"], gained=s["population_gained"])
    m = coverage_map(
        comparison.after,
        sites=comparison.after_sites,
        units=region.units,
        title=COMPARE_WORDS["title"].format(
            region=comparison.before.region_name,
            before=s["coverage_before"],
            after=s["coverage_after"],
        ),
        note=note,
        network=region.network,
        tianditu_key=tianditu_key,
    )
    for kind, color in (("lost", LOST_COLOR), ("gained", GAINED_COLOR)):
        rows = comparison.changed[comparison.changed["change_kind"] == kind]
        if rows.empty:
            continue
        group = folium.FeatureGroup(
            name=f"{COMPARE_WORDS[kind]} ({int(rows['population'].sum()):,} 人)", show=True
        )
        folium.GeoJson(
            _safe_geojson(rows, ["id", "population", "village", "site_before", "site_after"]),
            marker=folium.CircleMarker(
                radius=4,
                color=STROKES[kind],
                fill=True,
                fill_color=color,
                fill_opacity=0.95,
                weight=1.5,
            ),
            tooltip=map_layers.tooltip(
                rows,
                {
                    "population": LABELS["population"],
                    "village": LABELS["village"],
                    "site_before": "原最近站点",
                    "site_after": "现最近站点",
                },
            ),
        ).add_to(group)
        group.add_to(m)
    for key, frame, color in (
        ("closed", comparison.closed, "#444444"),
        ("added", comparison.added, "#ff7f00"),
    ):
        if frame is None or frame.empty:
            continue
        group = folium.FeatureGroup(name=f"{COMPARE_WORDS[key]} ({len(frame)})", show=True)
        folium.GeoJson(
            _safe_geojson(frame, ["id", "name", "tier"]),
            marker=folium.CircleMarker(
                radius=10,
                color="#000000",
                weight=2,
                dash_array="3 3" if key == "closed" else None,
                fill=True,
                fill_color=color,
                fill_opacity=0.6 if key == "closed" else 1.0,
            ),
            tooltip=map_layers.tooltip(frame, {"name": LABELS["name"], "id": LABELS["site_id"]}),
        ).add_to(group)
        group.add_to(m)
    rows = "".join(
        f"<div><span class='sc-swatch' style='background:{color}'></span>"
        f"{html.escape(COMPARE_WORDS[key])}</div>"
        for key, color in (
            ("lost", LOST_COLOR),
            ("gained", GAINED_COLOR),
            ("closed", "#444444"),
            ("added", "#ff7f00"),
        )
    )
    _corner_box(
        m, f"<b>{html.escape(COMPARE_WORDS['legend'])}</b>{rows}", "bottomleft", "sc-legend"
    )
    return stable_ids(layer_control_last(m))


def _safe_geojson(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    keep = [c for c in columns if c in frame.columns]
    out = frame[[*keep, "geometry"]].to_crs(4326).copy()
    for c in keep:
        if not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].map(lambda v: None if v is None or v != v else html.escape(str(v)))
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    collection: dict[str, Any] = out.__geo_interface__
    return collection
