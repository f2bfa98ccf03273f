"""Interactive folium maps with Chinese labels that work with no network (Leaflet inlined)."""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from typing import Any

import folium
import geopandas as gpd
import numpy as np
from branca.element import Element, MacroElement, Template

from planner.text import LABELS, TIERS, tier_label

_GAP_COLOR = "#d7301f"
_UNCOVERED_COLOR = "#e31a1c"
_PROPOSAL_COLOR = "#ff7f00"


@cache
def _asset(name: str) -> str:
    return resources.files("planner").joinpath("data", name).read_text(encoding="utf-8")


def _offline(m: folium.Map) -> None:
    # Inline Leaflet instead of loading it (and jQuery/Bootstrap, unused) from CDNs.
    m.default_js = []
    m.default_css = []
    header = m.get_root().header
    header.add_child(Element(f"<style>{_asset('leaflet.css')}</style>"), name="leaflet_css")
    header.add_child(Element(f"<script>{_asset('leaflet.js')}</script>"), name="leaflet_js")
    header.add_child(
        Element(
            "<style>.leaflet-container{background:#f2efe9;font-family:'Noto Sans CJK SC',"
            "'Microsoft YaHei','PingFang SC',sans-serif}"
            ".sc-legend,.sc-title{background:rgba(255,255,255,.92);padding:8px 12px;"
            "border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.3);font-size:13px;line-height:1.5}"
            ".sc-title{font-size:17px;font-weight:bold}"
            ".sc-swatch{display:inline-block;width:12px;height:12px;margin-right:6px;"
            "vertical-align:middle;border-radius:6px}</style>"
        ),
        name="sc_css",
    )


def _lonlat_bounds(frames: list[gpd.GeoDataFrame]) -> list[list[float]] | None:
    boxes = [f.to_crs(4326).total_bounds for f in frames if f is not None and len(f)]
    if not boxes:
        return None
    b = np.array(boxes)
    return [[float(b[:, 1].min()), float(b[:, 0].min())], [float(b[:, 3].max()), float(b[:, 2].max())]]


def _corner_box(m: folium.Map, html_text: str, position: str, css_class: str) -> None:
    template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(){
          var box = L.control({position: '""" + position + """'});
          box.onAdd = function () {
            var div = L.DomUtil.create('div', '""" + css_class + """');
            div.innerHTML = """ + _js_string(html_text) + """;
            return div;
          };
          box.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )
    macro = MacroElement()
    macro._template = template
    m.add_child(macro)


def _js_string(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def _legend(extra: list[tuple[str, str]]) -> str:
    rows = [f"<b>{LABELS['legend_title']}</b>"]
    for key, info in TIERS.items():
        rows.append(
            f"<div><span class='sc-swatch' style='background:{info['color']}'></span>"
            f"{html.escape(tier_label(key))}</div>"
        )
    for color, label in extra:
        rows.append(
            f"<div><span class='sc-swatch' style='background:{color};border-radius:0'></span>"
            f"{html.escape(label)}</div>"
        )
    rows.append(f"<div style='color:#666;font-size:11px'>{LABELS['no_tiles']}</div>")
    return "".join(rows)


def _geojson(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    keep = [c for c in columns if c in frame.columns]
    out = frame[[*keep, "geometry"]].to_crs(4326).copy()
    for c in keep:
        if out[c].dtype.kind == "f":
            out[c] = out[c].round(2)
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out.__geo_interface__


def coverage_map(
    coverage: Any,
    *,
    sites: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None = None,
    proposals: gpd.GeoDataFrame | None = None,
    added_areas: gpd.GeoDataFrame | None = None,
    town: str | None = None,
    title: str | None = None,
    max_residents: int = 20_000,
) -> folium.Map:
    """Build the interactive map of a coverage result.

    Parameters
    ----------
    coverage
        A :class:`planner.coverage.Coverage`.
    sites
        The sites drawn (a layer per tier).
    units
        Town/village boundaries to outline.
    proposals, added_areas
        Proposed new sites and the service areas they would add (from ``suggest``).
    town
        Restrict every layer to one town (name or code).
    max_residents
        Draw at most this many uncovered residents (the most populous first).

    Returns
    -------
    folium.Map
        A map whose HTML loads nothing from the network but optional background tiles.
    """
    res = coverage.residents
    gaps = coverage.gaps
    areas = coverage.service_areas
    if town is not None:
        res = res[_in_town(res, town)]
        gaps = gaps[gaps["town"].astype(str) == str(res["town"].iloc[0])] if len(res) and "town" in res else gaps.iloc[0:0]
        sites = sites[_in_town(sites, town)] if "town" in sites else sites
        areas = areas[areas["site_id"].isin(sites["id"])]
        if proposals is not None and "town" in proposals:
            proposals = proposals[_in_town(proposals, town)]
        if units is not None:
            units = units[_in_town(units, town)]
    bounds = _lonlat_bounds([res, sites])
    center = [28.0, 117.0] if bounds is None else [
        (bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2
    ]
    m = folium.Map(location=center, zoom_start=11, tiles=None, control_scale=True, prefer_canvas=True)
    _offline(m)
    folium.TileLayer(
        "OpenStreetMap", name=LABELS["osm_background"], attr="© OpenStreetMap contributors", show=True
    ).add_to(m)
    folium.TileLayer(
        tiles="data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==",
        attr=" ",
        name=LABELS["plain_background"],
        overlay=False,
        show=False,
    ).add_to(m)

    if units is not None and len(units):
        layer = folium.FeatureGroup(name=LABELS["boundaries"], show=True)
        towns = units[units["level"] == "town"] if "level" in units else units
        folium.GeoJson(
            _geojson(towns, ["name", "code"]),
            style_function=lambda _f: {"color": "#555", "weight": 1.5, "fill": False, "dashArray": "4 4"},
            tooltip=folium.GeoJsonTooltip(["name", "code"], aliases=[LABELS["town"], "代码"]),
        ).add_to(layer)
        layer.add_to(m)

    if len(areas):
        layer = folium.FeatureGroup(name=LABELS["service_areas"], show=True)
        folium.GeoJson(
            _geojson(areas, ["site_id", "name", "tier", "minutes", "population_served"]),
            style_function=lambda f: {
                "color": TIERS.get(f["properties"]["tier"], {}).get("color", "#3388ff"),
                "weight": 0.5,
                "fillOpacity": 0.18,
            },
            tooltip=folium.GeoJsonTooltip(
                ["name", "minutes", "population_served"],
                aliases=[LABELS["name"], LABELS["minutes"], LABELS["population"]],
            ),
        ).add_to(layer)
        layer.add_to(m)

    if len(gaps):
        layer = folium.FeatureGroup(name=LABELS["gaps"], show=True)
        folium.GeoJson(
            _geojson(gaps, ["gap_id", "population", "town", "village", "nearest_site_name", "minutes_min"]),
            style_function=lambda _f: {"color": _GAP_COLOR, "weight": 2, "fillOpacity": 0.35, "fillColor": _GAP_COLOR},
            tooltip=folium.GeoJsonTooltip(
                ["gap_id", "population", "town", "village", "nearest_site_name", "minutes_min"],
                aliases=["空白区", LABELS["population"], LABELS["town"], LABELS["village"], LABELS["nearest_site"], LABELS["minutes"]],
            ),
        ).add_to(layer)
        layer.add_to(m)

    uncovered = res[~res["covered"].to_numpy()]
    if len(uncovered):
        uncovered = uncovered.sort_values("population", ascending=False).head(max_residents)
        layer = folium.FeatureGroup(name=LABELS["uncovered"], show=True)
        folium.GeoJson(
            _geojson(uncovered, ["id", "population", "village", "minutes", "nearest_site"]),
            marker=folium.CircleMarker(radius=3, color=_UNCOVERED_COLOR, fill=True, fill_opacity=0.8, weight=0),
            tooltip=folium.GeoJsonTooltip(
                ["population", "village", "minutes", "nearest_site"],
                aliases=[LABELS["population"], LABELS["village"], LABELS["minutes"], LABELS["nearest_site"]],
            ),
        ).add_to(layer)
        layer.add_to(m)

    for tier, info in TIERS.items():
        chosen = sites[sites["tier"] == tier]
        if chosen.empty:
            continue
        layer = folium.FeatureGroup(name=f"{info['zh']} {info['en']} ({len(chosen)})", show=True)
        radius = 9 if tier in ("centre", "institute") else 6
        folium.GeoJson(
            _geojson(chosen.assign(tier_zh=info["zh"]), ["id", "name", "tier_zh"]),
            marker=folium.CircleMarker(radius=radius, color="#ffffff", weight=1.5, fill=True, fill_color=info["color"], fill_opacity=0.95),
            tooltip=folium.GeoJsonTooltip(["name", "tier_zh", "id"], aliases=[LABELS["name"], LABELS["tier"], "编号"]),
        ).add_to(layer)
        layer.add_to(m)

    extra = [(_GAP_COLOR, LABELS["gaps"]), (_UNCOVERED_COLOR, LABELS["uncovered"])]
    if added_areas is not None and len(added_areas):
        layer = folium.FeatureGroup(name=LABELS["new_areas"], show=True)
        folium.GeoJson(
            _geojson(added_areas, ["site_id", "name", "minutes"]),
            style_function=lambda _f: {"color": _PROPOSAL_COLOR, "weight": 1, "fillOpacity": 0.25, "dashArray": "3 3"},
            tooltip=folium.GeoJsonTooltip(["name", "minutes"], aliases=[LABELS["name"], LABELS["minutes"]]),
        ).add_to(layer)
        layer.add_to(m)
        extra.append((_PROPOSAL_COLOR, LABELS["new_areas"]))
    if proposals is not None and len(proposals):
        layer = folium.FeatureGroup(name=LABELS["proposals"], show=True)
        cols = ["rank", "candidate_id", "name", "kind_zh", "rooms", "population_newly_covered"]
        frame = proposals.assign(kind_zh=proposals["kind"].map(_kind_zh)) if "kind" in proposals else proposals
        folium.GeoJson(
            _geojson(frame, cols),
            marker=folium.CircleMarker(radius=11, color="#000000", weight=2, fill=True, fill_color=_PROPOSAL_COLOR, fill_opacity=1.0),
            tooltip=folium.GeoJsonTooltip(
                [c for c in cols if c in frame.columns],
                aliases=[a for c, a in zip(cols, ["序号", "编号", LABELS["name"], LABELS["kind"], LABELS["rooms"], LABELS["newly_covered"]], strict=True) if c in frame.columns],
            ),
        ).add_to(layer)
        layer.add_to(m)
        extra.append((_PROPOSAL_COLOR, LABELS["proposals"]))

    heading = title or LABELS["map_title"].format(region=coverage.region_name)
    if town:
        heading = f"{heading} · {town}"
    s = coverage.summary
    sub = (
        f"覆盖率 {s['coverage']:.1%} · 人口 {s['population_total']:,} · 未覆盖 "
        f"{s['population_total'] - s['population_covered']:,}"
        if town is None
        else f"覆盖率 {_share(res):.1%} · 人口 {int(res['population'].sum()):,}"
    )
    _corner_box(m, f"{html.escape(heading)}<div style='font-size:13px;font-weight:normal'>{sub}</div>", "topleft", "sc-title")
    _corner_box(m, _legend(extra), "bottomright", "sc-legend")
    folium.LayerControl(collapsed=False).add_to(m)
    if bounds is not None:
        m.fit_bounds(bounds)
    return m


def _share(res: gpd.GeoDataFrame) -> float:
    pop = res["population"].sum()
    return float(res.loc[res["covered"], "population"].sum() / pop) if pop > 0 else 0.0


def _kind_zh(kind: str) -> str:
    from planner.text import CANDIDATE_KINDS

    return CANDIDATE_KINDS.get(kind, {}).get("zh", kind)


def _in_town(frame: gpd.GeoDataFrame, town: str) -> np.ndarray:
    mask = np.zeros(len(frame), bool)
    for col in ("town", "town_code"):
        if col in frame:
            mask |= frame[col].astype(str).to_numpy() == str(town)
    if "level" in frame and "code" in frame:
        mask |= (frame["level"] == "town").to_numpy() & (frame["code"].astype(str).to_numpy() == str(town))
    return mask


def save_map(m: folium.Map, path: str) -> None:
    """Write a map as one self-contained HTML file."""
    m.save(path)
