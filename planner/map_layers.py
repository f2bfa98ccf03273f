"""Map additions that make a map explain itself offline: roads, place names, search, phone layout.

Everything here is inlined into the page (no plugin loads from a CDN); names reach the page as
JSON data and are put into the DOM as text, never as markup.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.features import GeoJsonStyleMapper
from folium.utilities import get_obj_in_upper_tree
from jinja2 import Template  # the class branca.element uses (not re-exported there)
from pyproj import Transformer

from planner.access import per_distinct
from planner.coords import round_lonlat
from planner.geojson_text import feature_texts
from planner.text import CANDIDATE_KINDS, LABELS, MAP_WORDS, TIERS

if TYPE_CHECKING:
    from planner.network import RoadNetwork

# Road classes drawn on the plain background: (highway types, colour, weight in px).
ROAD_CLASSES: dict[str, tuple[frozenset[str], str, float]] = {
    "major": (
        frozenset(
            {"motorway", "trunk", "primary", "secondary"}
            | {f"{t}_link" for t in ("motorway", "trunk", "primary", "secondary")}
        ),
        "#e8a33d",
        4.0,
    ),
    "medium": (frozenset({"tertiary", "tertiary_link", "unclassified"}), "#9e9e9e", 2.0),
    "minor": (frozenset(), "#c2c2c2", 1.0),  # everything else
}
PHONE_MAX_WIDTH = 600
"""Screens at most this wide (CSS px) get folded controls."""


def _js(value: Any) -> str:
    # JSON inside <script>: "</" and "<!--" must not end or open anything.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _Text(Element):
    """Text placed in the page as it is (branca would compile it as a Jinja template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class RawRender(MacroElement):
    """A macro element whose rendered header, html and script go into the page as text.

    branca's ``MacroElement.render`` wraps each rendered macro in ``Element(text)``, which
    compiles the text (megabytes of GeoJSON on a county map) as a Jinja template only to
    print it back: the map's slowest step, and text such as ``{{`` in a name would be read as
    template syntax. Mixed in after a folium class (``class X(folium.GeoJson, RawRender)``),
    it takes the place of ``MacroElement.render`` in that class's chain.
    """

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # as MacroElement's
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError("a map element is rendered only inside its map's figure")
        module = self._template.module.__dict__
        for part, target in (
            ("header", figure.header),
            ("html", figure.html),
            ("script", figure.script),
        ):
            macro = module.get(part)
            if macro is not None:
                target.add_child(_Text(self._macro_text(macro, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)

    def _macro_text(self, macro: Any, kwargs: dict[str, Any]) -> str:
        """One rendered macro of this element (a subclass may put text into it)."""
        return str(macro(self, kwargs))


class GeoJson(folium.GeoJson, RawRender):
    """``folium.GeoJson`` whose (large) rendered data is not compiled again as a template."""


@dataclass(frozen=True)
class LayerText:
    """A layer as GeoJSON text, made without a Python object per coordinate.

    Attributes
    ----------
    text
        The FeatureCollection, safe inside a ``<script>`` (``<``, ``>``, ``&``, ``'`` escaped
        as in JSON strings, as Jinja's ``tojson`` does); feature ``i`` has the id ``"i"``.
    properties
        The properties of the features, in order (as written in ``text``).
    first
        The first feature as a dict: what folium reads of the data (its checks of the style
        function and of tooltip fields).
    """

    text: str
    properties: pd.DataFrame
    first: dict[str, Any]


def layer_text(properties: pd.DataFrame, geometries: np.ndarray) -> LayerText:
    """:class:`LayerText` of features with ``properties`` (JSON-ready values: text, numbers,
    booleans, ``None``) and ``geometries`` (WGS84 shapely geometries, as drawn)."""
    props = properties.reset_index(drop=True)
    features = feature_texts(props, geometries, ids=True)
    text = '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"
    for raw, safe in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(raw, safe)
    first = json.loads(features[0]) if features else {}
    return LayerText(text=text, properties=props, first=first)


_DATA_MARK = "@@servicecircle-layer-data@@"


class GeoJsonText(GeoJson):
    """``folium.GeoJson`` of a :class:`LayerText`: its text goes into the page as it is.

    folium walks a layer's features as Python dicts three times (to build them, to map each
    to its style, to write them as JSON); a county's service areas are a million
    coordinates. Here the text is made by GEOS and pandas, and styles are mapped per distinct
    value of ``style_column`` (the one property the style function may read), not per feature.
    The page is the one folium writes for the same features.
    """

    def __init__(
        self,
        layer: LayerText,
        *,
        style_function: Any = None,
        style_column: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not len(layer.properties):
            msg = "a map layer needs at least one feature"
            raise ValueError(msg)
        if kwargs.get("highlight_function") is not None:
            msg = "GeoJsonText maps styles only (no highlight function)"
            raise ValueError(msg)
        self._layer = layer
        self._style_column = style_column
        collection = {"type": "FeatureCollection", "features": [layer.first]}
        super().__init__(collection, style_function=style_function, **kwargs)

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # as RawRender's
        self.parent_map: Any = get_obj_in_upper_tree(self, folium.Map)
        if self.style:
            self.style_map = self._style_map()
        # on past folium.GeoJson.render (its mapping per feature) to the layer's own render
        super(folium.GeoJson, self).render(**kwargs)  # type: ignore[no-untyped-call]

    def _style_map(self) -> dict[str, Any]:
        """folium's style map (style JSON -> feature ids; the largest group is ``default``)."""
        n = len(self._layer.properties)
        col = self._style_column
        values: Any = [None]
        codes = np.zeros(n, dtype=np.int64)
        if col is not None:
            codes, values = pd.factorize(self._layer.properties[col], use_na_sentinel=False)
        mapping: dict[str, Any] = {}
        for k, value in enumerate(values):  # one per distinct value, not per feature
            feature = {"type": "Feature", "properties": {col: value} if col else {}}
            key = GeoJsonStyleMapper._to_key(self.style_function(feature))
            ids = [str(i) for i in np.flatnonzero(codes == k)]
            mapping.setdefault(key, []).extend(ids)
        for ids in mapping.values():
            ids.sort(key=int)
        GeoJsonStyleMapper._set_default_key(mapping)
        return mapping

    def _macro_text(self, macro: Any, kwargs: dict[str, Any]) -> str:
        data: Any = self.data
        self.data = _DATA_MARK  # type: ignore[assignment]  # rendered as a string, then swapped
        try:
            text = str(macro(self, kwargs))
        finally:
            self.data = data
        return text.replace(json.dumps(_DATA_MARK), self._layer.text, 1)


def tooltip(frame: pd.DataFrame, fields: dict[str, str]) -> folium.GeoJsonTooltip | None:
    """A layer's tooltip of the ``fields`` (column -> label) that ``frame`` has, in order.

    Optional input columns (a resident's ``village``, a unit's ``code``, a site's ``name``)
    are shown when given and left out otherwise: folium refuses a field its data lacks, and a
    column with no value in any row (villages of residents given none) would show a blank
    line. ``None`` when ``frame`` has none of them (the layer gets no tooltip).
    """
    present = _present(frame, fields)
    return folium.GeoJsonTooltip(present, aliases=[fields[c] for c in present]) if present else None


def popup(frame: pd.DataFrame, fields: dict[str, str]) -> folium.GeoJsonPopup | None:
    """A layer's popup of the ``fields`` that ``frame`` has (see :func:`tooltip`)."""
    present = _present(frame, fields)
    return folium.GeoJsonPopup(present, aliases=[fields[c] for c in present]) if present else None


def _present(frame: pd.DataFrame, fields: dict[str, str]) -> list[str]:
    return [c for c in fields if c in frame.columns and _filled(frame[c])]


def _filled(column: pd.Series) -> bool:
    """Whether some row of ``column`` has a value (not missing, not blank text)."""
    given = column.notna()
    if column.dtype.kind in "OSU" or str(column.dtype) in ("string", "category", "str"):
        given &= column.astype(str).str.strip().ne("")
    return bool(given.any())


class _Script(RawRender):
    """A script run once the map exists; element names are looked up when the page renders.

    The body is inserted as a value, never parsed as a template (names in it stay text), and
    ``@{key}@`` stands for the name of ``refs[key]``: names change when the page's ids are
    made stable (:func:`planner.maps.stable_ids`), so they cannot be baked in earlier.
    """

    _template = Template(
        "{% macro script(this, kwargs) %}(function(){var map = {{ this.name_of('map') }};\n"
        "{{ this.code() }}\n})();{% endmacro %}"
    )

    def __init__(self, body: str, **refs: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's __init__ is unannotated
        self._name = "ScScript"
        self.body = body
        self.refs = refs

    def name_of(self, key: str) -> str:
        return str(self.refs[key].get_name())

    def code(self) -> str:
        text = self.body
        for key in self.refs:
            text = text.replace(f"@{{{key}}}@", self.name_of(key))
        return text


def _script(parent: Any, body: str, **refs: Any) -> MacroElement:
    return _Script(body, map=parent, **refs)


def road_classes(highway: np.ndarray) -> np.ndarray:
    """The drawing class (``major``, ``medium``, ``minor``) of each OSM highway type."""
    return per_distinct(highway, _road_class)


def _road_class(highway: np.ndarray) -> np.ndarray:
    names = highway.astype(str)
    out = np.full(len(names), "minor", dtype=object)
    for name, (types, _color, _weight) in ROAD_CLASSES.items():
        if types:
            out[np.isin(names, list(types))] = name
    return out


def road_lines(
    network: RoadNetwork, *, bounds: tuple[float, float, float, float] | None = None
) -> dict[str, str]:
    """The road network as one WGS84 GeoJSON MultiLineString feature (JSON text) per class.

    Parameters
    ----------
    network
        A :class:`planner.network.RoadNetwork` (directed edges; two-way roads appear once).
    bounds
        Keep only roads touching this box (metric CRS of the network).

    Returns
    -------
    dict
        Class name to the feature's JSON text, written straight from GEOS (a county's roads
        are tens of megabytes: no Python object is made per coordinate).
    """
    if bounds is not None and len(network.node_xy):
        lo, hi = network.node_xy.min(axis=0), network.node_xy.max(axis=0)
        if bounds[0] <= lo[0] and bounds[1] <= lo[1] and bounds[2] >= hi[0] and bounds[3] >= hi[1]:
            bounds = None  # the box holds every road: the whole, cacheable layer
    cached = _roads_cache(network) if bounds is None else None
    if cached is not None and cached.exists():
        drawn: dict[str, str] = json.loads(cached.read_text(encoding="utf-8"))
        return drawn
    keep = np.zeros(len(network.edge_u), bool)
    keep[network.one_way_each()] = True
    if bounds is not None:
        keep &= network.edge_lines.overlaps(bounds)  # by bounding box, then exactly in _drawn
    chosen = np.flatnonzero(keep)
    classes = road_classes(network.edge_highway[chosen])
    to_wgs84 = Transformer.from_crs(network.crs, "EPSG:4326", always_xy=True)
    out = {}
    for name in ROAD_CLASSES:
        mine = chosen[classes == name]
        # Drawn a block of lines at a time: a county's roads are millions of lines, and
        # geometries for all of them at once were most of a cold run's memory.
        parts = [
            _drawn(network, mine[i : i + ROAD_BLOCK], to_wgs84, bounds)
            for i in range(0, len(mine), ROAD_BLOCK)
        ]
        parts = [p for p in parts if p]
        if not parts:
            continue
        out[name] = (
            '{"type":"Feature","properties":{"class":'
            + _js(name)
            + '},"geometry":'
            + _MULTI
            + ",".join(parts)
            + "]}}"
        )
    if cached is not None:
        _write_atomic(cached, json.dumps(out))
    return out


MINOR_ROADS_MAX_MB = 8.0
"""Above this much GeoJSON of minor roads (some 150,000 streets), a map draws main roads only
and says so in the layer's name: a page of tens of megabytes of lanes opens slowly, or not
at all, on an official's laptop, and at a county's zoom they are not told apart anyway."""

ROADS_LAYER_VERSION = 1
"""Bump when :func:`road_lines` draws differently: cached road layers of older versions are
then left unused."""


ROAD_BLOCK = 100_000
"""Roads turned into geometries at a time by :func:`road_lines`."""

_MULTI = '{"type":"MultiLineString","coordinates":['


def _drawn(
    network: RoadNetwork,
    edges: np.ndarray,
    to_wgs84: Transformer,
    bounds: tuple[float, float, float, float] | None,
) -> str:
    """The GeoJSON coordinates of these edges' lines, simplified, in WGS84, comma-joined.

    That is the inside of a MultiLineString's coordinates, so that blocks join into one.
    """
    lines = network.edge_lines.take(edges).geoms()
    if bounds is not None:
        lines = lines[shapely.intersects(lines, shapely.box(*bounds))]
    if len(lines) == 0:
        return ""
    bent = shapely.get_num_coordinates(lines) > 2  # a straight piece has nothing to simplify
    # Douglas-Peucker: a line stays a valid line, and GEOS does it ~10x faster than with
    # topology preserved (which only polygons need)
    lines[bent] = shapely.simplify(lines[bent], 3.0, preserve_topology=False)
    lines = shapely.transform(lines, lambda xy: np.column_stack(to_wgs84.transform(*xy.T)))
    multi = round_lonlat(shapely.multilinestrings(lines), 5)  # 1 m: drawn under everything
    text = shapely.to_geojson(multi)
    assert text.startswith(_MULTI) and text.endswith("]}"), text[:60]
    return str(text[len(_MULTI) : -2])


def _roads_cache(network: RoadNetwork) -> Path | None:
    """Where a county's whole road layer is kept beside its compiled network (none uncached)."""
    if not network.cache_file:
        return None
    cache = Path(network.cache_file)
    return cache.with_name(f"{cache.stem}.roads-v{ROADS_LAYER_VERSION}.json")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a read-only cache still draws, only without keeping the layer
        tmp.unlink(missing_ok=True)


def add_roads(
    m: folium.Map,
    network: RoadNetwork,
    *,
    bounds: tuple[float, float, float, float] | None = None,
) -> None:
    """Draw the roads under every other layer, major roads wider and coloured."""
    roads = road_lines(network, bounds=bounds)
    name = MAP_WORDS["roads"]
    if len(roads.get("minor", "")) > MINOR_ROADS_MAX_MB * 1e6:
        del roads["minor"]
        name = MAP_WORDS["roads_main_only"]
    if not roads:
        return
    group = folium.FeatureGroup(name=name, show=True)
    group.add_to(m)
    styles = {k: {"color": c, "weight": w} for k, (_t, c, w) in ROAD_CLASSES.items()}
    # GEOS writes numbers only: the features' text needs no escaping inside <script>
    order = "[" + ",".join(roads[k] for k in ("minor", "medium", "major") if k in roads) + "]"
    group.add_child(
        _script(
            m,
            "if (!map.getPane('scRoads')) { map.createPane('scRoads').style.zIndex = 350; }\n"
            f"var styles = {_js(styles)};\n"
            f"L.geoJSON({order}, {{pane: 'scRoads', interactive: false,"
            " style: function (f) { var s = styles[f.properties['class']];"
            " return {color: s.color, weight: s.weight, opacity: 0.9, lineCap: 'round'}; }})"
            ".addTo(@{group}@);",
            group=group,
        )
    )


def place_names(
    units: gpd.GeoDataFrame | None, residents: gpd.GeoDataFrame | None
) -> list[dict[str, Any]]:
    """Town and village names at a point inside each (from boundaries, else from residents)."""
    rows: list[dict[str, Any]] = []
    if units is not None and len(units):
        pts = units.to_crs(4326).representative_point()
        level = units["level"] if "level" in units else pd.Series("town", index=units.index)
        for name, lvl, pt in zip(units["name"], level, pts, strict=True):
            rows.append({"n": str(name), "k": str(lvl), "lat": pt.y, "lon": pt.x})
        return rows
    if residents is None or not len(residents):
        return rows
    pts = residents.to_crs(4326)
    frame = pd.DataFrame(
        {
            "lon": pts.geometry.x * pts["population"],
            "lat": pts.geometry.y * pts["population"],
            "w": pts["population"],
        }
    )
    for level in ("town", "village"):
        if level not in residents:
            continue
        g = frame.groupby(residents[level].astype(str).to_numpy()).sum()
        g = g[g["w"] > 0]
        for name, r in g.iterrows():
            rows.append({"n": name, "k": level, "lat": r["lat"] / r["w"], "lon": r["lon"] / r["w"]})
    return rows


def add_labels(m: folium.Map, places: list[dict[str, Any]], sites: gpd.GeoDataFrame) -> None:
    """Town names always, village names from zoom 12 and site names from zoom 14."""
    pts = sites.to_crs(4326)
    site_rows = [
        {"n": str(n), "k": "site", "lat": p.y, "lon": p.x}
        for n, p in zip(sites["name"], pts.geometry, strict=True)
    ]
    body = (
        f"var rows = {_js(places + site_rows)};\n"
        "if (!map.getPane('scLabels')) { var p = map.createPane('scLabels');"
        " p.style.zIndex = 450; p.style.pointerEvents = 'none'; }\n"
        "rows.forEach(function (r) {\n"
        "  var el = document.createElement('span'); el.textContent = r.n;\n"
        "  L.marker([r.lat, r.lon], {pane: 'scLabels', interactive: false, keyboard: false,\n"
        "    icon: L.divIcon({className: 'sc-label sc-label-' + r.k, html: el,"
        " iconSize: null})}).addTo(map);\n"
        "});\n"
        "function zoomed() { var z = map.getZoom(), c = map.getContainer().classList;\n"
        "  c.toggle('sc-z12', z >= 12); c.toggle('sc-z14', z >= 14); }\n"
        "map.on('zoomend', zoomed); map.whenReady(zoomed);"
    )
    m.add_child(_script(m, body))


def search_index(
    sites: gpd.GeoDataFrame,
    places: list[dict[str, Any]],
    candidates: gpd.GeoDataFrame | None = None,
) -> list[dict[str, Any]]:
    """What the search box finds: sites, towns, villages and candidate buildings."""
    rows = []
    kinds = {"town": MAP_WORDS["town"], "village": MAP_WORDS["village"]}
    for r in places:
        rows.append({"n": r["n"], "d": kinds.get(r["k"], r["k"]), "lat": r["lat"], "lon": r["lon"]})
    pts = sites.to_crs(4326)
    for name, sid, tier, p in zip(
        sites["name"], sites["id"], sites["tier"], pts.geometry, strict=True
    ):
        label = TIERS.get(tier, {}).get("zh", tier)
        rows.append({"n": str(name), "d": f"{label} {sid}", "lat": p.y, "lon": p.x})
    if candidates is not None and len(candidates):
        pts = candidates.to_crs(4326)
        ids = candidates["candidate_id"] if "candidate_id" in candidates else candidates["id"]
        kind = candidates["kind"] if "kind" in candidates else pd.Series("", index=candidates.index)
        for name, cid, k, p in zip(candidates["name"], ids, kind, pts.geometry, strict=True):
            what = CANDIDATE_KINDS.get(k, {}).get("zh", k)
            rows.append(
                {
                    "n": str(name),
                    "d": f"{MAP_WORDS['candidate']} {what} {cid}",
                    "lat": p.y,
                    "lon": p.x,
                }
            )
    for r in rows:
        r["lat"], r["lon"] = round(float(r["lat"]), 6), round(float(r["lon"]), 6)
    return rows


def add_search(m: folium.Map, index: list[dict[str, Any]]) -> None:
    """A search box (top left) over ``index``; ``#q=name`` in the address searches on load."""
    body = (
        f"var index = {_js(index)}, words = {_js({k: MAP_WORDS[k] for k in ('search', 'no_match')})};\n"
        "var box = L.control({position: 'topleft'});\n"
        "box.onAdd = function () {\n"
        "  var div = L.DomUtil.create('div', 'sc-search');\n"
        "  var input = L.DomUtil.create('input', 'sc-search-input', div);\n"
        "  input.type = 'search'; input.placeholder = words.search; input.setAttribute('aria-label', words.search);\n"
        "  var list = L.DomUtil.create('ul', 'sc-search-results', div);\n"
        "  L.DomEvent.disableClickPropagation(div); L.DomEvent.disableScrollPropagation(div);\n"
        "  var marker = null;\n"
        "  function go(r) {\n"
        "    map.setView([r.lat, r.lon], Math.max(map.getZoom(), 15));\n"
        "    if (marker) { map.removeLayer(marker); }\n"
        "    var el = document.createElement('b'); el.textContent = r.n;\n"
        "    marker = L.circleMarker([r.lat, r.lon], {radius: 14, color: '#000', weight: 2, fill: false})\n"
        "      .addTo(map).bindPopup(el).openPopup();\n"
        "    map.getContainer().setAttribute('data-sc-found', r.n);\n"
        "    list.innerHTML = '';\n"
        "  }\n"
        "  function find() {\n"
        "    var q = input.value.trim().toLowerCase(); list.innerHTML = '';\n"
        "    if (!q) { return []; }\n"
        "    var hits = index.filter(function (r) { return r.n.toLowerCase().indexOf(q) >= 0 ||"
        " r.d.toLowerCase().indexOf(q) >= 0; }).slice(0, 8);\n"
        "    hits.forEach(function (r) {\n"
        "      var li = document.createElement('li'); li.textContent = r.n;\n"
        "      var small = document.createElement('small'); small.textContent = ' ' + r.d; li.appendChild(small);\n"
        "      li.addEventListener('click', function () { go(r); }); list.appendChild(li);\n"
        "    });\n"
        "    if (!hits.length) { var li = document.createElement('li'); li.className = 'sc-none';"
        " li.textContent = words.no_match; list.appendChild(li); }\n"
        "    return hits;\n"
        "  }\n"
        "  input.addEventListener('input', find);\n"
        "  input.addEventListener('keydown', function (e) { if (e.key === 'Enter') {"
        " var hits = find(); if (hits.length) { go(hits[0]); } } });\n"
        "  var m = /[#&]q=([^&]*)/.exec(window.location.hash);\n"
        "  if (m) { map.whenReady(function () { input.value = decodeURIComponent(m[1]);"
        " var hits = find(); if (hits.length) { go(hits[0]); } }); }\n"
        "  return div;\n"
        "};\n"
        "box.addTo(map);"
    )
    m.add_child(_script(m, body))


def add_phone_layout(m: folium.Map) -> None:
    """Fold the layer list and the legend on phones; the legend folds on a tap anywhere."""
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(
        Element(
            "<style>"
            ".sc-label{background:none;border:none;white-space:nowrap;pointer-events:none}"
            ".sc-label span{position:relative;left:-50%;display:inline-block;transform:translateY(-50%);"
            "text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 2px #fff;color:#333}"
            ".sc-label-town span{font-size:15px;font-weight:bold;letter-spacing:2px;color:#222}"
            ".sc-label-village span{font-size:12px;color:#555}"
            ".sc-label-site span{font-size:11px;color:#1a3d6d;transform:translate(8px,-50%)}"
            ".sc-label-village,.sc-label-site{display:none}"
            ".sc-z12 .sc-label-village{display:block}.sc-z14 .sc-label-site{display:block}"
            ".sc-search{background:#fff;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3)}"
            ".sc-search-input{width:190px;padding:6px 8px;border:0;border-radius:4px;font-size:14px}"
            ".sc-search-results{list-style:none;margin:0;padding:0;max-height:240px;overflow:auto}"
            ".sc-search-results li{padding:4px 8px;cursor:pointer;border-top:1px solid #eee;font-size:13px}"
            ".sc-search-results li:hover{background:#eef}.sc-search-results small{color:#777}"
            ".leaflet-control-layers-toggle{background-image:none!important;display:flex;"
            "align-items:center;justify-content:center;font-size:13px;color:#333;"
            "text-decoration:none}.leaflet-control-layers-toggle:after{content:'图层'}"
            ".sc-legend>b,.sc-proposals>b{cursor:pointer}"
            ".sc-legend>b:after,.sc-proposals>b:after{content:' ▾'}"
            ".sc-folded>b:after{content:' ▸'}.sc-folded>:not(b){display:none}"
            ".sc-proposals{background:rgba(255,255,255,.94);padding:6px 10px;border-radius:6px;"
            "box-shadow:0 1px 4px rgba(0,0,0,.3);font-size:12px;max-height:40vh;overflow:auto}"
            ".sc-proposals table{border-collapse:collapse}.sc-proposals td,.sc-proposals th"
            "{padding:1px 6px;border-bottom:1px solid #eee;text-align:left}"
            ".sc-proposals td.n{text-align:right}"
            f"@media (max-width:{PHONE_MAX_WIDTH}px){{"
            ".sc-title{font-size:13px!important;padding:4px 8px!important;max-width:60vw}"
            ".sc-title div{font-size:10px!important}"
            ".sc-legend,.sc-proposals{font-size:11px;padding:4px 8px}"
            ".sc-search-input{width:110px}.leaflet-control-scale{display:none}}"
            "</style>"
        ),
        name="sc_layers_css",
    )
    body = (
        f"var phone = window.matchMedia('(max-width: {PHONE_MAX_WIDTH}px)').matches;\n"
        "map.whenReady(function () { setTimeout(function () {\n"
        "  var c = map.getContainer();\n"
        "  c.querySelectorAll('.sc-legend, .sc-proposals').forEach(function (box) {\n"
        "    var head = box.querySelector('b'); if (!head) { return; }\n"
        "    if (phone) { box.classList.add('sc-folded'); }\n"
        "    L.DomEvent.disableClickPropagation(box);\n"
        "    head.addEventListener('click', function () { box.classList.toggle('sc-folded'); });\n"
        "  });\n"
        "  var layers = c.querySelector('.leaflet-control-layers');\n"
        "  if (layers && phone) {\n"
        "    layers.classList.remove('leaflet-control-layers-expanded');\n"
        "    var link = layers.querySelector('.leaflet-control-layers-toggle');\n"
        "    var open = 'leaflet-control-layers-expanded', was = false;\n"
        "    link.addEventListener('pointerdown', function () { was = layers.classList.contains(open); });\n"
        "    link.addEventListener('click', function (e) { e.preventDefault();"
        " layers.classList.toggle(open, !was); was = !was; });\n"
        "    map.on('click', function () { layers.classList.remove('leaflet-control-layers-expanded'); });\n"
        "  }\n"
        "}, 0); });"
    )
    m.add_child(_script(m, body))


def proposals_box(
    m: folium.Map,
    proposals: gpd.GeoDataFrame,
    *,
    remaining_gaps: gpd.GeoDataFrame | None = None,
) -> None:
    """A folding table of the proposals (rank, name, kind, town, people newly covered)."""
    rows = []
    for r in proposals.itertuples():
        kind = _kind_words(getattr(r, "kind", ""), getattr(r, "kind_input", None))
        cells = [
            str(r.rank),
            html.escape(str(r.name)),
            html.escape(str(kind)),
            html.escape(str(getattr(r, "town", "") or "")),
        ]
        tds = "".join(f"<td>{c}</td>" for c in cells)
        rows.append(f"<tr>{tds}<td class='n'>{float(r.population_newly_covered):,.0f}</td></tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            LABELS["rank"],
            LABELS["name"],
            LABELS["kind"],
            LABELS["town"],
            LABELS["newly_covered"],
        )
    )
    extra = ""
    if remaining_gaps is not None:
        extra = (
            "<div>"
            + html.escape(
                MAP_WORDS["remaining"].format(
                    n=len(remaining_gaps),
                    people=int(remaining_gaps["population"].sum()) if len(remaining_gaps) else 0,
                )
            )
            + "</div>"
        )
    box = (
        f"<b>{html.escape(MAP_WORDS['proposals_table'])}</b>"
        f"<table><tr>{head}</tr>{''.join(rows)}</table>{extra}"
    )
    from planner.maps import _corner_box

    _corner_box(m, box, "bottomleft", "sc-proposals")


def _kind_words(kind: str, given: Any) -> str:
    # The input's own words when they were Chinese (闲置厂房, 厂房); else the Chinese name.
    if isinstance(given, str) and given and not given.isascii():
        return given
    return CANDIDATE_KINDS.get(kind, {}).get("zh", kind)


def proposals_headline(before: float, after: float) -> str:
    """``覆盖率 82.0 % → 90.7 %``."""
    return MAP_WORDS["before_after"].format(before=before, after=after)


def uncovered_change(before: int, after: int) -> str:
    """``未覆盖 41,164 → 29,959``."""
    return MAP_WORDS["uncovered_change"].format(before=before, after=after)


def add_reference_layers(
    m: folium.Map,
    *,
    sites: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None,
    residents: gpd.GeoDataFrame,
    network: RoadNetwork | None = None,
    candidates: gpd.GeoDataFrame | None = None,
) -> None:
    """Roads (when the network is given), place and site names, search, and the phone layout."""
    frames = [f for f in (residents, sites) if f is not None and len(f)]
    if network is not None and frames:
        # Each layer's box carried into the roads' metres (its edges densified): the
        # residents as drawn are in WGS84, and reprojecting a county's points costs 0.3 s.
        boxes = []
        for f in frames:
            x0, y0, x1, y1 = f.total_bounds
            to_roads = Transformer.from_crs(f.crs, network.crs, always_xy=True)
            boxes.append(to_roads.transform_bounds(x0, y0, x1, y1, densify_pts=21))
        b = np.array(boxes)
        pad = 2000.0
        bounds = (
            b[:, 0].min() - pad,
            b[:, 1].min() - pad,
            b[:, 2].max() + pad,
            b[:, 3].max() + pad,
        )
        add_roads(m, network, bounds=bounds)
    places = place_names(units, residents)
    add_labels(m, places, sites)
    add_search(m, search_index(sites, places, candidates))
    add_phone_layout(m)


# 天地图 (Tianditu) web-mercator WMTS: CGCS2000 coordinates agree with WGS84 to centimetres, so
# our WGS84 layers sit right on them (unlike GCJ-02 tiles of commercial maps, never used here).
_TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
    "&TILECOL={x}&tk={key}"
)
TIANDITU_LAYERS = (("vec", "cva", "tianditu_vector"), ("img", "cia", "tianditu_imagery"))


def tianditu_key(given: str | None = None) -> str | None:
    """The Tianditu key: ``given``, else the ``TIANDITU_KEY`` environment variable, else none."""
    import os
    import re

    from planner.errors import InputError

    key = given if given is not None else os.environ.get("TIANDITU_KEY")
    if not key:
        return None
    key = key.strip()
    if not re.fullmatch(r"[0-9A-Za-z]{8,64}", key):
        msg = "Tianditu key must be 8-64 letters and digits (as issued on console.tianditu.gov.cn); check --tianditu-key or TIANDITU_KEY"
        raise InputError(msg)
    return key


def add_tianditu(m: folium.Map, key: str) -> None:
    """Tianditu vector and imagery backgrounds, each with its annotation (place names) layer."""
    for base, notes, label in TIANDITU_LAYERS:
        layer = folium.TileLayer(
            tiles=_TIANDITU.format(s="{s}", layer=base, z="{z}", y="{y}", x="{x}", key=key),
            attr="© 天地图 Tianditu (GS(2024)0568号)",
            name=MAP_WORDS[label],
            overlay=False,
            show=False,
            subdomains="01234567",
            max_zoom=18,
        )
        layer.add_to(m)
        url = _TIANDITU.format(s="{s}", layer=notes, z="{z}", y="{y}", x="{x}", key=key)
        m.add_child(
            _script(
                m,
                "var base = @{layer}@;\n"
                f"var notes = L.tileLayer({_js(url)}, {{subdomains: '01234567', maxZoom: 18}});\n"
                "base.on('add', function () { notes.addTo(map); });\n"
                "base.on('remove', function () { map.removeLayer(notes); });",
                layer=layer,
            )
        )
