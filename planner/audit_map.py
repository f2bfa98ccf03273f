"""The compliance layer: each audited site pass / fail / no data on the coverage map."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import pandas as pd

from planner.audit import Audit
from planner.map_layers import GeoJson
from planner.maps import _corner_box, coverage_map, layer_control_last, page_title, stable_ids
from planner.text import AUDIT_RULES, AUDIT_STATUS, MAP_WORDS, TIERS

if TYPE_CHECKING:
    from planner.coverage import Coverage


def compliance_layer(result: Audit, sites: gpd.GeoDataFrame) -> folium.FeatureGroup:
    """A layer of the audited sites coloured by verdict; the popup lists the failed rules
    with what was required and found. Every user string is HTML-escaped."""
    table = result.sites.set_index("id")
    chosen = sites[sites["id"].astype(str).isin(table.index)].to_crs(4326)
    ids = chosen["id"].astype(str)
    verdict = ids.map(table["verdict"]).fillna("no_data")
    issues = result.findings[
        result.findings["status"].isin(["fail", "no_data"])
        & result.findings["level"].isin(["site", "team"])
    ]
    issues = issues.assign(site=issues["site_id"])
    line = (
        "<li>"
        + issues["status"].map(lambda s: AUDIT_STATUS[s]["zh"])
        + "："
        + issues["rule"].map(lambda r: html.escape(AUDIT_RULES[r]["zh"]))
        + "（要求 "
        + issues["required"].map(html.escape)
        + "，实际 "
        + issues["found"].map(lambda v: html.escape(v) or "—")
        + "，"
        + issues["section"].map(html.escape)
        + "）</li>"
    )
    detail = line.groupby(issues["site"]).agg("".join)
    popup = (
        "<b>"
        + chosen["name"].astype(str).map(html.escape)
        + "</b><br>"
        + chosen["tier"].map(lambda t: html.escape(TIERS.get(t, {}).get("zh", str(t))))
        + " · "
        + verdict.map(lambda v: AUDIT_STATUS[v]["zh"])
        + "<ul style='padding-left:16px;margin:4px 0'>"
        + ids.map(detail).fillna("")
        + "</ul>"
    )
    frame = gpd.GeoDataFrame(
        {"popup": popup.to_numpy(), "verdict": verdict.to_numpy()},
        geometry=chosen.geometry.to_numpy(),
        crs=4326,
    )
    counts = verdict.value_counts()
    label = (
        "达标情况 Compliance ("
        + " / ".join(f"{AUDIT_STATUS[s]['zh']} {int(counts.get(s, 0))}" for s in AUDIT_STATUS)
        + ")"
    )
    layer = folium.FeatureGroup(name=label, show=True)
    GeoJson(
        frame.__geo_interface__,
        marker=folium.CircleMarker(radius=8, weight=3, fill=False),
        style_function=lambda f: {"color": AUDIT_STATUS[f["properties"]["verdict"]]["color"]},
        popup=folium.GeoJsonPopup(["popup"], labels=False),
        tooltip=folium.GeoJsonTooltip(["popup"], labels=False),
    ).add_to(layer)
    return layer


def town_summary_html(result: Audit) -> str:
    """Per-town counts of sites by verdict and villages with the five haves (escaped HTML)."""
    towns = result.towns
    rows = [
        "<b>乡镇达标情况</b><table style='font-size:11px'>"
        "<tr><th>乡镇</th><th>达标</th><th>不达标</th><th>缺数据</th><th>五有</th></tr>"
    ]
    for t in towns.itertuples():  # one row per town: a handful, not a hot path
        rows.append(
            f"<tr><td>{html.escape(str(t.town))}</td><td>{t.sites_pass}</td>"
            f"<td>{t.sites_fail}</td><td>{t.sites_no_data}</td>"
            f"<td>{t.five_haves}/{t.villages}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def compliance_map(
    coverage: Coverage,
    result: Audit,
    *,
    sites: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None = None,
    **kwargs: Any,
) -> folium.Map:
    """The coverage map (:func:`planner.maps.coverage_map`) with the compliance layer and a
    per-town summary box; ``kwargs`` go to ``coverage_map``."""
    m = coverage_map(coverage, sites=sites, units=units, **kwargs)
    page_title(m, MAP_WORDS["page_audit"].format(region=coverage.region_name))
    compliance_layer(result, sites).add_to(m)
    _corner_box(m, town_summary_html(result), "bottomleft", "sc-legend")
    return stable_ids(layer_control_last(m))


def site_compliance(result: Audit, sites: pd.DataFrame) -> pd.DataFrame:
    """``verdict`` and ``failed_rules`` per site id (empty for tiers the plan does not audit)."""
    table = result.sites.set_index("id")[["verdict", "failed_rules"]]
    ids = sites["id"].astype(str)
    return pd.DataFrame(
        {
            "verdict": ids.map(table["verdict"]).to_numpy(),
            "failed_rules": ids.map(table["failed_rules"]).to_numpy(),
        },
        index=sites.index,
    )
