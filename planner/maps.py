"""Interactive folium maps with Chinese labels that work with no network (Leaflet inlined)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TextIO

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Element, Figure, MacroElement
from jinja2 import Template  # the class branca.element uses (not re-exported there)

from planner import map_layers
from planner.coords import round_lonlat
from planner.coverage import shown_minutes
from planner.geojson_text import texts_of
from planner.text import LABELS, MAP_WORDS, TIERS, tier_label
from planner.vocab import resolve_town, town_mask

if TYPE_CHECKING:
    from planner.coverage import Coverage
    from planner.network import RoadNetwork
    from planner.standards import Standards

_GAP_COLOR = "#d7301f"
_UNCOVERED_COLOR = "#e31a1c"
_PROPOSAL_COLOR = "#ff7f00"


@cache
def _asset(name: str) -> str:
    return resources.files("planner").joinpath("data", name).read_text(encoding="utf-8")


_PAGE = Template(
    "<!DOCTYPE html>\n"
    '<html lang="zh-CN">\n'
    "<head>\n"
    "{% if this.title %}<title>{{ this.title|e }}</title>{% endif %}"
    "    {{this.header.render(**kwargs)}}\n"
    "</head>\n"
    "<body>\n"
    "    {{this.html.render(**kwargs)}}\n"
    "</body>\n"
    "<script>\n"
    "    {{this.script.render(**kwargs)}}\n"
    "</script>\n"
    "</html>\n"
)
"""branca's page (``Figure._template``) in Chinese (``lang``, for screen readers, fonts and
translation offers), its title escaped: every map is written through it."""


def page_title(m: folium.Map, text: str) -> folium.Map:
    """Name the page of ``m`` (its ``<title>``: the browser tab, bookmarks, search results)."""
    root = m.get_root()
    assert isinstance(root, Figure)
    root.title = text
    return m


def _offline(m: folium.Map) -> None:
    """Inline Leaflet and the map's CSS into ``m`` so that it loads nothing from a CDN."""
    # Inline Leaflet instead of loading it (and jQuery/Bootstrap, unused) from CDNs.
    m.default_js = []
    m.default_css = []
    root = m.get_root()
    assert isinstance(root, Figure)
    root._template = _PAGE  # the same page, in Chinese
    header = root.header
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


def save_map(m: folium.Map | Figure, path: str | Path) -> None:
    """Write the map's page to ``path`` as it is rendered, piece by piece.

    What ``folium.Map.save`` writes, byte for byte, without joining the page into one string
    and encoding that into one bytes object: the page's script (its layers, tens to hundreds of
    megabytes on a county) is written element by element from the texts they rendered.
    """
    root = m.get_root()
    assert isinstance(root, Figure)
    for child in root._children.values():  # what Figure.render does before its template
        child.render()
    script = root.script
    # The figure's template asks its script for one string: it gets a mark instead, and the
    # script's own template (a loop over its elements) is written where the mark stands.
    mark = "\x00servicecircle-script\x00"
    script.render = lambda **kwargs: mark  # type: ignore[method-assign]  # for this write only
    try:
        with open(path, "w", encoding="utf-8", newline="") as out:
            for piece in root._template.generate(this=root, kwargs={}):
                head, found, tail = piece.partition(mark)
                _write(out, head)
                if found:
                    for part in script._template.generate(this=script, kwargs={}):
                        _write(out, part)
                    _write(out, tail)
    finally:
        del script.render  # the element's own method again


def _write(out: TextIO, text: str) -> None:
    for i in range(0, len(text), _WRITE_CHARS):
        out.write(text[i : i + _WRITE_CHARS])


_WRITE_CHARS = 1 << 20
"""Characters encoded and written at a time by :func:`save_map`."""


def _lonlat_bounds(frames: list[gpd.GeoDataFrame]) -> list[list[float]] | None:
    """The ``[[south, west], [north, east]]`` box of the non-empty ``frames`` (``None`` if none)."""
    boxes = [f.to_crs(4326).total_bounds for f in frames if f is not None and len(f)]
    if not boxes:
        return None
    b = np.array(boxes)
    return [
        [float(b[:, 1].min()), float(b[:, 0].min())],
        [float(b[:, 3].max()), float(b[:, 2].max())],
    ]


class _CornerBox(MacroElement):
    """A fixed box in a corner of the map (title, legend); its HTML is a value, never a template."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(){
          var box = L.control({position: {{ this.position_js }}});
          box.onAdd = function () {
            var div = L.DomUtil.create('div', {{ this.class_js }});
            div.innerHTML = {{ this.html_js }};
            return div;
          };
          box.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, position: str, css_class: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's __init__ is unannotated
        self._name = "ScCornerBox"
        self.position_js = _js_string(position)
        self.class_js = _js_string(css_class)
        self.html_js = _js_string(html_text)


def _corner_box(m: folium.Map, html_text: str, position: str, css_class: str) -> None:
    m.add_child(_CornerBox(html_text, position, css_class))


def _js_string(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def _legend(extra: list[tuple[str, str]], present: set[str] | None = None) -> str:
    """The legend's HTML: the tiers present (every tier without ``present``), then ``extra``."""
    rows = [f"<b>{esc(LABELS['legend_title'])}</b>"]
    for key, info in TIERS.items():
        if present is not None and key not in present:
            continue
        rows.append(
            f"<div><span class='sc-swatch' style='background:{info['color']}'></span>"
            f"{esc(tier_label(key))}</div>"
        )
    for color, label in extra:
        rows.append(
            f"<div><span class='sc-swatch' style='background:{color};border-radius:0'></span>"
            f"{esc(label)}</div>"
        )
    rows.append(f"<div style='color:#666;font-size:11px'>{esc(LABELS['no_tiles'])}</div>")
    return "".join(rows)


def esc(value: Any) -> Any:
    """``value`` made safe to place in HTML: text is escaped (``<`` -> ``&lt;``, quotes too).

    Every user-supplied string shown on a map (site, village and candidate names, towns,
    titles, notes) goes through this, so a name such as ``<img src=x onerror=...>`` is shown
    as text and never runs. Numbers, ``None`` and other non-text values are returned as they
    are; anything else is turned into escaped text.
    """
    if value is None or isinstance(value, bool | int | float | np.integer | np.floating):
        return value
    return html.escape(str(value), quote=True)


def _geojson(
    frame: gpd.GeoDataFrame, columns: list[str], texts: pd.Series | None = None
) -> map_layers.LayerText:
    """``frame``'s ``columns`` as WGS84 GeoJSON text, text escaped and floats rounded to 2 places.

    Coordinates keep 6 decimals (about 0.1 m, as the GeoJSON files): full doubles would make
    a county's page some 40 % larger for nothing a screen can show. ``texts``: the geometries
    already written, by ``frame``'s index (:meth:`Coverage.geometry_json`).
    """
    # Tooltips and popups insert property values as HTML (folium's innerHTML): escape text.
    keep = [c for c in columns if c in frame.columns]
    props = pd.DataFrame(index=frame.index)
    for c in keep:
        column = frame[c]
        if column.dtype.kind == "f":  # minutes as the tables show them (rounded up)
            column = shown_minutes(column) if c.startswith("minutes") else column.round(2)
        values = column.astype(object).where(column.notna(), None)
        if column.dtype.kind in "OSU" or str(column.dtype) in ("string", "category", "str"):
            values = values.map(esc)
        props[c] = values
    if texts is not None:
        return map_layers.layer_text(props, texts_of(texts, frame.index))
    geoms = frame.geometry.to_crs(4326) if frame.crs is not None else frame.geometry
    return map_layers.layer_text(props, round_lonlat(geoms.to_numpy()))


_CANVAS_ABOVE = 3000
"""Draw on a canvas instead of SVG when more uncovered residents than this are shown."""


@dataclass(frozen=True)
class _View:
    """The frames one map draws, already cut to a town when the map is of one town."""

    residents: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    units: gpd.GeoDataFrame | None
    proposals: gpd.GeoDataFrame | None
    added_areas: gpd.GeoDataFrame | None


def coverage_map(
    coverage: Coverage,
    *,
    sites: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None = None,
    proposals: gpd.GeoDataFrame | None = None,
    added_areas: gpd.GeoDataFrame | None = None,
    town: str | None = None,
    title: str | None = None,
    max_residents: int = 20_000,
    gaps: gpd.GeoDataFrame | None = None,
    note: str | None = None,
    prefer_canvas: bool | None = None,
    network: RoadNetwork | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    proposal_summary: dict[str, Any] | None = None,
    remaining_gaps: gpd.GeoDataFrame | None = None,
    tianditu_key: str | None = None,
) -> folium.Map:
    """Build the interactive map of a coverage result.

    Parameters
    ----------
    coverage
        A :class:`planner.coverage.Coverage`.
    sites
        The sites drawn (a layer per tier).
    units
        Town/village boundaries to outline (villages too on a town's map).
    proposals, added_areas
        Proposed new sites and the service areas they would add (from ``suggest``).
    town
        Restrict every layer to one town (name or code).
    max_residents
        Draw at most this many uncovered residents (the most populous first).
    gaps
        Gap areas to draw instead of ``coverage.gaps`` (e.g. those of one town's residents).
    note
        A line shown under the title (e.g. why no proposals are shown).
    prefer_canvas
        Draw vectors on a canvas (fast for many points) rather than as SVG elements; by
        default SVG unless more than 3,000 uncovered residents are drawn.
    network, candidates
        The road network, drawn on the background, and candidates the search box finds
        (see :mod:`planner.map_layers`).
    proposal_summary, remaining_gaps
        ``suggest``'s summary (the header says coverage before -> after) and the gaps that
        remain after the proposals (counted under the proposals table).
    tianditu_key
        Adds 天地图 vector and imagery backgrounds (default: the ``TIANDITU_KEY`` variable).

    Returns
    -------
    folium.Map
        A map whose HTML loads nothing from the network but optional background tiles; when
        the tile server cannot be reached it falls back to a plain background by itself.
    """
    view = _town_view(coverage, sites, units, proposals, added_areas, gaps=gaps, town=town)
    uncovered = view.residents[~view.residents["covered"].to_numpy()]
    uncovered = uncovered.sort_values("population", ascending=False).head(max_residents)
    if prefer_canvas is None:
        prefer_canvas = len(uncovered) > _CANVAS_ABOVE
    bounds = _lonlat_bounds([view.residents, view.sites])
    m = _base_map(bounds, prefer_canvas=prefer_canvas, tianditu_key=tianditu_key)
    _add_boundaries(m, view.units, villages_too=town is not None)
    _add_service_areas(m, view.areas, coverage.geometry_json("service_areas"))
    _add_gaps(m, view.gaps, coverage.geometry_json("gaps") if gaps is None else None)
    _add_uncovered(m, uncovered)
    _add_sites_by_tier(m, view.sites, view.areas, coverage.standards)
    extra = [(_GAP_COLOR, LABELS["gaps"]), (_UNCOVERED_COLOR, LABELS["uncovered"])]
    extra += _add_proposals(m, view.proposals, view.added_areas)
    heading = _heading(coverage, view, town=town, title=title, note=note, summary=proposal_summary)
    _corner_box(m, heading, "topleft", "sc-title")
    name = _title(coverage, title=title, town=town)
    drawn = view.proposals is not None and len(view.proposals)
    page_title(m, f"{name} · {MAP_WORDS['page_proposals']}" if drawn else name)
    _corner_box(m, _legend(extra, set(view.sites["tier"])), "bottomright", "sc-legend")
    return _finish(
        m, view, bounds, network=network, candidates=candidates, remaining_gaps=remaining_gaps
    )


def _town_view(
    coverage: Coverage,
    sites: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None,
    proposals: gpd.GeoDataFrame | None,
    added_areas: gpd.GeoDataFrame | None,
    *,
    gaps: gpd.GeoDataFrame | None,
    town: str | None,
) -> _View:
    """The frames of the map: every row, or only those of ``town`` (name or code)."""
    # In WGS84 as drawn (reprojected once per analysis, for the files and every map).
    res = coverage.in_wgs84("residents")
    areas = coverage.in_wgs84("service_areas")
    if town is not None:
        name, code = resolve_town(res, town) or (town, None)

        def inside(frame: pd.DataFrame) -> np.ndarray:
            return town_mask(frame, name, code=code)

        if gaps is None:  # areas whose most populous town is this one
            gaps = coverage.in_wgs84("gaps")[inside(coverage.gaps)]
        res = res[inside(res)]
        sites = sites[inside(sites)] if "town" in sites or "town_code" in sites else sites
        areas = areas[areas["site_id"].isin(sites["id"])]
        if proposals is not None and ("town" in proposals or "town_code" in proposals):
            proposals = proposals[inside(proposals)]
        if added_areas is not None and proposals is not None and "site_id" in added_areas:
            added_areas = added_areas[added_areas["site_id"].isin(proposals["candidate_id"])]
        if units is not None:
            units = units[inside(units)]
    gaps = coverage.in_wgs84("gaps") if gaps is None else gaps
    return _View(res, sites, areas, gaps, units, proposals, added_areas)


def _base_map(
    bounds: list[list[float]] | None, *, prefer_canvas: bool, tianditu_key: str | None
) -> folium.Map:
    """An offline map centred on ``bounds`` with its backgrounds: OSM, plain, 天地图 if keyed."""
    center = (
        [28.0, 117.0]
        if bounds is None
        else [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    )
    m = folium.Map(
        location=center, zoom_start=11, tiles=None, control_scale=True, prefer_canvas=prefer_canvas
    )
    _offline(m)
    osm = folium.TileLayer(
        "OpenStreetMap",
        name=LABELS["osm_background"],
        attr="© OpenStreetMap contributors",
        show=True,
    )
    osm.add_to(m)
    plain = folium.TileLayer(
        tiles="data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==",
        attr=" ",
        name=LABELS["plain_background"],
        overlay=False,
        show=False,
    )
    plain.add_to(m)
    _tile_fallback(m, osm, plain)
    if (key := map_layers.tianditu_key(tianditu_key)) is not None:
        map_layers.add_tianditu(m, key)
    return m


def _add_boundaries(m: folium.Map, units: gpd.GeoDataFrame | None, *, villages_too: bool) -> None:
    """Town outlines (dashed) and, on a town's map, its villages."""
    if units is None or not len(units):
        return
    layer = folium.FeatureGroup(name=LABELS["boundaries"], show=True)
    towns = units[units["level"] == "town"] if "level" in units else units
    map_layers.GeoJsonText(
        _geojson(towns, ["name", "code"]),
        style_function=lambda _f: {
            "color": "#555",
            "weight": 1.5,
            "fill": False,
            "dashArray": "4 4",
        },
        tooltip=map_layers.tooltip(towns, _fields(name="town", code="code")),
    ).add_to(layer)
    layer.add_to(m)
    villages = (
        units[units["level"] == "village"] if "level" in units and villages_too else units.iloc[0:0]
    )
    if len(villages):
        layer = folium.FeatureGroup(name=LABELS["villages"], show=True)
        map_layers.GeoJsonText(
            _geojson(villages, ["name", "code"]),
            style_function=lambda _f: {"color": "#999", "weight": 0.8, "fill": False},
            tooltip=map_layers.tooltip(villages, _fields(name="village", code="code")),
        ).add_to(layer)
        layer.add_to(m)


def _add_service_areas(
    m: folium.Map, areas: gpd.GeoDataFrame, texts: pd.Series | None = None
) -> None:
    """The sites' service areas, each in its tier's colour (``texts``: see :func:`_geojson`)."""
    if not len(areas):
        return
    layer = folium.FeatureGroup(name=LABELS["service_areas"], show=True)
    cols = ["name", "minutes", "population_served"]
    map_layers.GeoJsonText(
        _geojson(areas, ["site_id", *cols, "tier"], texts),
        style_column="tier",
        style_function=lambda f: {
            "color": TIERS.get(f["properties"]["tier"], {}).get("color", "#3388ff"),
            "weight": 0.5,
            "fillOpacity": 0.18,
        },
        tooltip=map_layers.tooltip(
            areas, _fields(name="name", minutes="minutes", population_served="served")
        ),
    ).add_to(layer)
    layer.add_to(m)


def _add_gaps(m: folium.Map, gaps: gpd.GeoDataFrame, texts: pd.Series | None = None) -> None:
    """The gap areas, with their people and nearest site in a popup (``texts``: see
    :func:`_geojson`)."""
    if not len(gaps):
        return
    layer = folium.FeatureGroup(name=f"{LABELS['gaps']} ({len(gaps)})", show=True)
    fields = _fields(
        gap_id="gap_id",
        population="population",
        town="town",
        village="village",
        nearest_site_name="nearest_site",
        minutes_min="minutes_to_site",
    )
    map_layers.GeoJsonText(
        _geojson(gaps, list(fields), texts),
        style_function=lambda _f: {
            "color": _GAP_COLOR,
            "weight": 2,
            "fillOpacity": 0.35,
            "fillColor": _GAP_COLOR,
        },
        tooltip=map_layers.tooltip(
            gaps, {k: fields[k] for k in ("gap_id", "population", "village")}
        ),
        popup=map_layers.popup(gaps, fields),
    ).add_to(layer)
    layer.add_to(m)


def _add_uncovered(m: folium.Map, uncovered: gpd.GeoDataFrame) -> None:
    """The uncovered residents drawn (the most populous), as small red dots."""
    if not len(uncovered):
        return
    layer = folium.FeatureGroup(
        name=f"{LABELS['uncovered']} ({int(uncovered['population'].sum()):,} 人)", show=True
    )
    fields = _fields(
        population="population",
        village="village",
        minutes="minutes_to_site",
        nearest_site="nearest_site",
    )
    map_layers.GeoJsonText(
        _geojson(uncovered, ["id", *fields]),
        marker=folium.CircleMarker(
            radius=3,
            color=_UNCOVERED_COLOR,
            fill=True,
            fill_color=_UNCOVERED_COLOR,
            fill_opacity=0.8,
            weight=0,
        ),
        tooltip=map_layers.tooltip(uncovered, fields),
    ).add_to(layer)
    layer.add_to(m)


def _add_sites_by_tier(
    m: folium.Map, sites: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, std: Standards | None
) -> None:
    """A layer of sites per tier, with the people each serves and its tier's standard."""
    served = (
        areas.drop_duplicates("site_id").set_index("site_id")["population_served"]
        if "population_served" in areas
        else None
    )
    for tier, info in TIERS.items():
        chosen = sites[sites["tier"] == tier]
        if chosen.empty:
            continue
        ts = std.for_tier(tier) if std is not None else None
        chosen = chosen.assign(
            tier_zh=info["zh"],
            population_served=chosen["id"].map(served) if served is not None else np.nan,
            standard=LABELS["mode_minutes"].format(mode=_mode_zh(ts.mode), minutes=ts.minutes)
            if ts
            else "",
        )
        layer = folium.FeatureGroup(name=f"{info['zh']} {info['en']} ({len(chosen)})", show=True)
        fields = _fields(
            name="name",
            tier_zh="tier",
            id="site_id",
            population_served="served",
            standard="standard",
        )
        map_layers.GeoJsonText(
            _geojson(chosen, list(fields)),
            marker=folium.CircleMarker(
                radius=9 if tier in ("centre", "institute") else 6,
                color="#ffffff",
                weight=1.5,
                fill=True,
                fill_color=info["color"],
                fill_opacity=0.95,
            ),
            tooltip=map_layers.tooltip(chosen, {k: fields[k] for k in ("name", "tier_zh")}),
            popup=map_layers.popup(chosen, fields),
        ).add_to(layer)
        layer.add_to(m)


def _add_proposals(
    m: folium.Map, proposals: gpd.GeoDataFrame | None, added_areas: gpd.GeoDataFrame | None
) -> list[tuple[str, str]]:
    """The areas proposals would add and the proposals; their legend rows."""
    extra: list[tuple[str, str]] = []
    if added_areas is not None and len(added_areas):
        layer = folium.FeatureGroup(name=LABELS["new_areas"], show=True)
        map_layers.GeoJsonText(
            _geojson(added_areas, ["site_id", "name", "minutes"]),
            style_function=lambda _f: {
                "color": _PROPOSAL_COLOR,
                "weight": 1,
                "fillOpacity": 0.25,
                "dashArray": "3 3",
            },
            tooltip=map_layers.tooltip(added_areas, _fields(name="name", minutes="minutes")),
        ).add_to(layer)
        layer.add_to(m)
        extra.append((_PROPOSAL_COLOR, LABELS["new_areas"]))
    if proposals is not None and len(proposals):
        _add_proposal_markers(m, proposals)
        extra.append((_PROPOSAL_COLOR, LABELS["proposals"]))
    return extra


def _add_proposal_markers(m: folium.Map, proposals: gpd.GeoDataFrame) -> None:
    """The proposed sites as large orange dots, their rank, kind and people in the popup."""
    layer = folium.FeatureGroup(name=f"{LABELS['proposals']} ({len(proposals)})", show=True)
    fields = _fields(
        rank="rank",
        candidate_id="site_id",
        name="name",
        kind_zh="kind",
        rooms="rooms",
        population_newly_covered="newly_covered",
    )
    frame = (
        proposals.assign(kind_zh=proposals["kind"].map(_kind_zh))
        if "kind" in proposals
        else proposals
    )
    map_layers.GeoJsonText(
        _geojson(frame, list(fields)),
        marker=folium.CircleMarker(
            radius=11,
            color="#000000",
            weight=2,
            fill=True,
            fill_color=_PROPOSAL_COLOR,
            fill_opacity=1.0,
        ),
        tooltip=map_layers.tooltip(frame, fields),
        popup=map_layers.popup(frame, fields),
    ).add_to(layer)
    layer.add_to(m)


def _heading(
    coverage: Coverage,
    view: _View,
    *,
    town: str | None,
    title: str | None,
    note: str | None,
    summary: dict[str, Any] | None,
) -> str:
    """The title box's HTML: title, coverage and people (before -> after with proposals)."""
    heading = _title(coverage, title=title, town=town)
    s = coverage.summary
    res, proposals, std = view.residents, view.proposals, coverage.standards
    uncovered = (
        int(s["population_total"] - s["population_covered"])
        if town is None
        else int(res.loc[~res["covered"], "population"].sum())
    )
    sub = (
        f"覆盖率 {s['coverage']:.1%} · 人口 {s['population_total']:,} · 未覆盖 {uncovered:,}"
        if town is None
        else f"覆盖率 {_share(res):.1%} · 人口 {int(res['population'].sum()):,} · 未覆盖 "
        f"{uncovered:,}"
    )
    if proposals is not None and len(proposals):
        sub = _proposal_headline(sub, res, proposals, summary, town, uncovered)
    if std is not None:
        rule = LABELS["mode_minutes"].format(
            mode=_mode_zh(std.default.mode), minutes=std.default.minutes
        )
        sub += f" · {LABELS['standard']} {rule}"
    lines = f"<div style='font-size:13px;font-weight:normal'>{esc(sub)}</div>"
    if note:
        style = "font-size:12px;font-weight:normal;color:#8c510a"
        lines += f"<div style='{style}'>{esc(note)}</div>"
    return f"{esc(heading)}{lines}"


def _title(coverage: Coverage, *, title: str | None, town: str | None) -> str:
    """The map's title: ``title``, else the region's service circles; then the town."""
    heading = title or LABELS["map_title"].format(region=coverage.region_name)
    return f"{heading} · {town}" if town else heading


def _finish(
    m: folium.Map,
    view: _View,
    bounds: list[list[float]] | None,
    *,
    network: RoadNetwork | None,
    candidates: gpd.GeoDataFrame | None,
    remaining_gaps: gpd.GeoDataFrame | None,
) -> folium.Map:
    """The proposals table, roads, labels and search, then the layer list; ids numbered."""
    if view.proposals is not None and len(view.proposals):
        map_layers.proposals_box(m, view.proposals, remaining_gaps=remaining_gaps)
    map_layers.add_reference_layers(
        m,
        sites=view.sites,
        units=view.units,
        residents=view.residents,
        network=network,
        candidates=candidates,
    )
    folium.LayerControl(collapsed=False).add_to(m)
    if bounds is not None:
        m.fit_bounds(bounds)
    stable_ids(m)
    return m


def _fields(**labels: str) -> dict[str, str]:
    """Column -> map word (``LABELS[key]``), in order: the fields of a tooltip or popup."""
    return {column: LABELS[key] for column, key in labels.items()}


def layer_control_last(m: folium.Map) -> folium.Map:
    """Move the layer list after every layer: its script names each layer, which must exist.

    Call it after adding layers to a finished map (a compliance or scenario layer).
    """
    for key in [k for k, c in m._children.items() if isinstance(c, folium.LayerControl)]:
        m._children.move_to_end(key)
    return m


_JINJA_OPENERS = re.compile(r"\{[{%#]")


def _inert(text: str) -> str:
    """``text`` such that one more pass of Jinja over it gives ``text`` back unchanged."""
    if not _JINJA_OPENERS.search(text):
        return text  # nothing Jinja would read (every page we draw, unless a name has "{{")
    return "{% raw %}" + text.replace("{%", "{% endraw %}{{ '{%' }}{% raw %}") + "{% endraw %}"


class _Sealed:
    """A macro template whose outputs pass branca's second rendering unchanged.

    branca renders each macro (``header``, ``html``, ``script``) and then parses the output
    *again* as a Jinja template (``Element(script(...))`` in ``MacroElement.render``): a site
    named ``{{ ... }}`` in a tooltip or GeoJSON property would run as template code while the
    page is made. Wrapping each output in a raw block keeps every name as text.
    """

    def __init__(self, template: Any) -> None:
        self._inner = template

    @property
    def module(self) -> SimpleNamespace:
        found = self._inner.module.__dict__
        return SimpleNamespace(
            **{k: _sealed(found[k]) for k in ("header", "html", "script") if k in found}
        )

    def render(self, *args: Any, **kwargs: Any) -> str:
        return str(self._inner.render(*args, **kwargs))


def _sealed(macro: Any) -> Any:
    def run(*args: Any, **kwargs: Any) -> str:
        return _inert(str(macro(*args, **kwargs)))

    return run


def stable_ids(m: folium.Map) -> folium.Map:
    """Give every element of ``m`` an id from its place in the page instead of a random one.

    folium names each element (``map_<32 hex>``, ``geo_json_<32 hex>`` ...) from random bytes,
    so the same map rendered twice differed; numbering the elements in document order makes
    the HTML a function of the map's content (rerun outputs compare byte for byte). It also
    seals every macro's output against a second pass of Jinja (:class:`_Sealed`), so that no
    name runs as template code (our large layers, :class:`planner.map_layers.RawRender`, have
    no second pass). Call it again after adding elements.
    """
    root = m.get_root()
    seen: set[int] = set()
    stack: list[Any] = [root]
    n = 0
    while stack:
        element = stack.pop(0)
        if id(element) in seen:
            continue
        seen.add(id(element))
        element._id = f"{n:032x}"
        if (
            isinstance(element, MacroElement)
            and not isinstance(element, map_layers.RawRender)  # no second pass to seal against
            and not isinstance(element._template, _Sealed)
        ):
            element._template = _Sealed(element._template)
        n += 1
        stack.extend(getattr(element, "_children", {}).values())
    return m


def _mode_zh(mode: str) -> str:
    from planner.text import MODES

    return MODES.get(mode, {}).get("zh", mode)


class _TileFallback(MacroElement):
    """The fallback script's element: the template reads both tile layers from it."""

    osm: folium.TileLayer
    plain: folium.TileLayer

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's __init__ is unannotated


def _tile_fallback(m: folium.Map, osm: folium.TileLayer, plain: folium.TileLayer) -> None:
    """Switch ``m`` from the OSM tiles to the plain background once tiles fail and none loaded."""
    # With no tile server in reach (offline county networks) the map would show grey tiles
    # with broken-image icons; switch to the plain background once tiles fail and none loaded.
    template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(){
          var map = {{ this._parent.get_name() }}, osm = {{ this.osm.get_name() }},
              plain = {{ this.plain.get_name() }}, failed = 0, loaded = 0;
          osm.on('tileload', function () { loaded += 1; });
          osm.on('tileerror', function () {
            failed += 1;
            if (!loaded && failed >= 2 && map.hasLayer(osm)) {
              map.removeLayer(osm);
              plain.addTo(map);
            }
          });
        })();
        {% endmacro %}
        """
    )
    macro = _TileFallback()
    macro._template = template
    macro.osm = osm
    macro.plain = plain
    m.add_child(macro)


def _share(res: gpd.GeoDataFrame) -> float:
    pop = res["population"].sum()
    return float(res.loc[res["covered"], "population"].sum() / pop) if pop > 0 else 0.0


def _kind_zh(kind: str) -> str:
    from planner.text import CANDIDATE_KINDS

    return CANDIDATE_KINDS.get(kind, {}).get("zh", kind)


def _proposal_headline(
    sub: str,
    res: gpd.GeoDataFrame,
    proposals: gpd.GeoDataFrame,
    summary: dict[str, Any] | None,
    town: str | None,
    uncovered: int,
) -> str:
    # The proposals map says what they change: coverage and the uncovered, before -> after.
    if summary is not None and town is None:
        before, after = summary["coverage_before"], summary["coverage_after"]
        newly = float(summary["population_newly_covered"])
    else:
        pop = float(res["population"].sum())
        covered = float(res.loc[res["covered"], "population"].sum())
        newly = float(proposals["population_newly_covered"].sum())
        before = covered / pop if pop else 0.0
        after = min(covered + newly, pop) / pop if pop else 0.0
    head = map_layers.proposals_headline(before, after)
    rest = sub[sub.index(" · ") : sub.rindex(" · ")] if sub.count(" · ") > 1 else ""
    left = max(uncovered - round(newly), 0)
    return f"{head}{rest} · {map_layers.uncovered_change(uncovered, left)}"
