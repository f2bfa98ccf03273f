"""Map additions without a browser: the roads drawn, Tianditu backgrounds, escaped names."""

from __future__ import annotations

import json
import re

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely
from _sample import sample  # noqa: F401  (session fixture)

from planner import map_layers, maps
from planner.coords import round_lonlat
from planner.coverage import shown_minutes
from planner.errors import InputError
from planner.geojson_text import feature_texts, geometry_texts
from planner.map_layers import road_classes, road_lines
from planner.maps import coverage_map, save_map, stable_ids
from planner.report import write_geojson


def test_every_road_is_drawn_once_in_its_class(sample):  # noqa: F811
    region, _ = sample
    net = region.network
    lines = road_lines(net)
    # each two-way road once: the drawn length is the length of the undirected edges
    pairs = {
        (min(u, v), max(u, v), round(length, 1))
        for u, v, length in zip(net.edge_u, net.edge_v, net.edge_length, strict=True)
    }
    expected = sum(p[2] for p in pairs)
    drawn = 0.0
    for text in lines.values():
        geom = shapely.from_geojson(json.dumps(json.loads(text)["geometry"]))
        drawn += gpd.GeoSeries([geom], crs=4326).to_crs(net.crs).length.iloc[0]
    assert drawn == pytest.approx(expected, rel=0.01)
    classes = road_classes(net.edge_highway)
    assert set(lines) == set(classes)
    assert (classes[np.isin(net.edge_highway, ["primary", "trunk"])] == "major").all()
    assert (classes[net.edge_highway == "residential"] == "minor").all()


def test_tianditu_backgrounds_come_with_a_key_only(sample, monkeypatch):  # noqa: F811
    region, coverage = sample
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    page = coverage_map(coverage, sites=region.sites).get_root().render()
    assert "tianditu.gov.cn" not in page
    page = (
        coverage_map(coverage, sites=region.sites, tianditu_key="0123abcd4567ef")
        .get_root()
        .render()
    )
    for layer in ("vec", "cva", "img", "cia"):
        assert re.search(rf"{layer}_w/wmts\?[^\"']*LAYER={layer}[^\"']*tk=0123abcd4567ef", page)
    assert "TILEMATRIXSET=w" in page  # web mercator, like the other layers
    monkeypatch.setenv("TIANDITU_KEY", "fromtheenvironment1")
    assert (
        "tk=fromtheenvironment1" in coverage_map(coverage, sites=region.sites).get_root().render()
    )
    with pytest.raises(InputError, match="Tianditu key"):
        coverage_map(coverage, sites=region.sites, tianditu_key="a'b<script>")


def test_names_reach_the_page_as_data_never_as_markup(sample):  # noqa: F811
    region, coverage = sample
    sites = region.sites.copy()
    sites.loc[0, "name"] = "</script><script>alert(1)</script>"
    page = coverage_map(coverage, sites=sites, units=region.units).get_root().render()
    assert "</script><script>alert(1)" not in page
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in page


def test_names_are_never_run_as_page_templates(sample):  # noqa: F811
    # The page is rendered by Jinja: a name like "{{ 7 * 191 }}" must stay text, not compute.
    region, coverage = sample
    sites = region.sites.copy()
    sites.loc[0, "name"] = "村{{ 7 * 191 }}站{% if true %}X{% endif %}"
    page = coverage_map(coverage, sites=sites, units=region.units).get_root().render()
    assert "村1337站" not in page and "站X" not in page
    assert "{{ 7 * 191 }}" in page


def test_the_proposals_map_header_gives_before_and_after_for_both_figures(sample):  # noqa: F811
    from planner.scenario import Scenario, compare
    from planner.siting import suggest

    region, coverage = sample
    suggestion = suggest(region, coverage, k=5)
    props = suggestion.proposals.rename(columns={"candidate_id": "id"})
    plan = Scenario(add=props.assign(tier="station")[["id", "name", "tier", "geometry"]])
    after = compare(region, plan, before=coverage).summary  # an independent re-analysis
    total = coverage.summary["population_total"]
    was = total - coverage.summary["population_covered"]
    left = total - after["population_covered_after"]
    assert left < was
    page = (
        coverage_map(
            coverage,
            sites=region.sites,
            units=region.units,
            proposals=suggestion.proposals,
            proposal_summary=suggestion.summary,
        )
        .get_root()
        .render()
    )
    title = page[page.rindex("覆盖率 ") :]  # the title box, a JS string in the page
    assert f"未覆盖 {was:,} → {left:,}" in title
    s = suggestion.summary
    assert f"覆盖率 {s['coverage_before']:.1%} → {s['coverage_after']:.1%}" in title


def test_a_large_county_map_draws_main_roads_only_and_says_so(sample, monkeypatch):  # noqa: F811
    from planner import map_layers
    from planner.text import MAP_WORDS

    region, coverage = sample
    full = coverage_map(coverage, sites=region.sites, network=region.network).get_root().render()
    named = json.dumps(MAP_WORDS["roads_main_only"])  # layer names are JSON in the page
    assert '"class":"minor"' in full and named not in full
    # the sample's minor roads are some 0.1 MB of GeoJSON: call that a large county
    monkeypatch.setattr(map_layers, "MINOR_ROADS_MAX_MB", 0.01)
    page = coverage_map(coverage, sites=region.sites, network=region.network).get_root().render()
    assert '"class":"minor"' not in page and '"class":"major"' in page
    assert named in page


def test_save_map_writes_what_folium_writes(sample, tmp_path):  # noqa: F811
    region, cov = sample

    def page():
        return coverage_map(cov, sites=region.sites, units=region.units, network=region.network)

    save_map(page(), tmp_path / "ours.html")
    page().save(str(tmp_path / "folium.html"))  # a page renders once: a second map
    ours = (tmp_path / "ours.html").read_bytes()
    assert len(ours) > 1_000_000  # a whole page, with its layers
    assert ours == (tmp_path / "folium.html").read_bytes()


def _folium_page(layer: folium.GeoJson) -> str:
    m = folium.Map(location=[28.3, 117.2], tiles=None)
    layer.add_to(m)
    return stable_ids(m).get_root().render()


def _layer_data(page: str) -> list[dict]:
    found = re.search(r"_add\((\{.*?\})\);\n", page, re.S)
    assert found is not None
    return [
        {k: v for k, v in f.items() if k not in ("id", "bbox")}
        for f in json.loads(found.group(1))["features"]
    ]


def test_text_layers_write_the_page_folium_writes():
    """GeoJsonText (GEOS + pandas text, styles per distinct value) against folium's own
    GeoJson on the same features: the same data, the same styles, the same script around."""
    names = ["城关镇站", 'a "quoted" / slashed \\ name', "</script><b>x</b>", None, "站'4"]
    frame = gpd.GeoDataFrame(
        {
            "name": names,
            "tier": ["centre", "station", "station", "institute", "station"],
            "minutes": [1.234, np.nan, 15.0, 3.5, 7.0],
            "people": [1, 2, 3, 4, 5],
        },
        geometry=[
            shapely.Point(117.1234567, 28.7654321),
            shapely.box(117.0, 28.0, 117.1, 28.1),
            None,
            shapely.LineString([(117.2, 28.2), (117.3, 28.3)]),
            shapely.Point(117.5, 28.5),
        ],
        crs=4326,
    )
    colors = {"centre": "#f00", "station": "#0f0", "institute": "#00f"}

    def style(f):
        return {"color": colors[f["properties"]["tier"]], "weight": 1}

    cols = ["name", "tier", "minutes", "people"]
    ours = _folium_page(
        map_layers.GeoJsonText(
            maps._geojson(frame, cols),
            style_column="tier",
            style_function=style,
            tooltip=folium.GeoJsonTooltip(["name", "minutes"]),
        )
    )
    # folium's path, from the same escaped and rounded values as a Python dict
    expected = frame[cols].astype(object).where(frame[cols].notna(), None)
    expected["name"] = expected["name"].map(maps.esc)
    # minutes as every table shows them: rounded up to 0.01 (1.234 -> 1.24)
    shown = shown_minutes(frame["minutes"])
    expected["minutes"] = shown.astype(object).where(frame["minutes"].notna())
    data = gpd.GeoDataFrame(
        expected, geometry=round_lonlat(frame.geometry.to_numpy()), crs=4326
    ).__geo_interface__
    theirs = _folium_page(
        map_layers.GeoJson(
            data, style_function=style, tooltip=folium.GeoJsonTooltip(["name", "minutes"])
        )
    )
    assert _layer_data(ours) == _layer_data(theirs)
    assert "</script><b>" not in ours and "\\u003c/script\\u003e" not in ours  # escaped twice
    strip = re.compile(r"_add\(\{.*?\}\);\n", re.S)
    assert strip.sub("_add(DATA);\n", ours) == strip.sub("_add(DATA);\n", theirs)
    # the styles: one group per tier (folium picks the default group by its own rule)
    for color in colors.values():
        assert f'"color": "{color}"' in ours


def test_feature_texts_are_the_features_geopandas_describes():
    """pandas + GEOS text against geopandas' own __geo_interface__ of the same rows."""
    frame = gpd.GeoDataFrame(
        {
            "name": ["a\nb", "x/y\\z", "城关", None],
            "n": [1, 2, 3, 4],
            "share": [0.125, np.nan, 1e-7, 2.5],
            "ok": [True, False, True, False],
        },
        geometry=[shapely.Point(1.5, 2.25), None, shapely.box(0, 0, 1, 1), shapely.Point(0, 0)],
        crs=4326,
    )
    texts = feature_texts(frame.drop(columns="geometry"), frame.geometry.to_numpy())
    want = json.loads(json.dumps(frame.__geo_interface__))["features"]
    for text, feature in zip(texts, want, strict=True):
        got = json.loads(text)
        assert got["properties"] == {
            k: (None if isinstance(v, float) and np.isnan(v) else v)
            for k, v in feature["properties"].items()
        }
        assert got["geometry"] == feature["geometry"]
    # the same features from geometries written beforehand (None kept), text for text
    written = geometry_texts(frame.geometry.to_numpy())
    assert written[1] is None
    assert feature_texts(frame.drop(columns="geometry"), written) == texts


def test_the_files_and_the_map_share_each_layers_geometry_text(sample, tmp_path):  # noqa: F811
    """``service_areas.geojson`` and the map draw the geometries written once per analysis
    (``Coverage.geometry_json``): the same bytes as writing them afresh, for a town too."""
    region, cov = sample
    for layer in ("gaps", "service_areas"):
        frame = cov.in_wgs84(layer)
        assert frame.crs.to_epsg() == 4326
        assert getattr(cov, layer).crs == region.network.crs  # the analysis keeps its metres
        write_geojson(frame, tmp_path / "fresh.geojson")
        write_geojson(frame, tmp_path / "kept.geojson", texts=cov.geometry_json(layer))
        fresh = (tmp_path / "fresh.geojson").read_bytes()
        assert (tmp_path / "kept.geojson").read_bytes() == fresh
        assert cov.geometry_json(layer) is cov.geometry_json(layer)  # written once
        town = frame.iloc[::3]  # a subset, as a town's map draws
        cols = list(town.columns.drop("geometry"))
        kept = maps._geojson(town, cols, cov.geometry_json(layer)).text
        assert kept == maps._geojson(town, cols).text
