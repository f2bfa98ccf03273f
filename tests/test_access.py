"""Who may walk, cycle or drive a road, and where a house joins the roads: small hand-made OSM files.

Every layout is drawn in metres (``conftest.lonlat``); the expected minutes are the hand-added
lengths of the route a pedestrian may take at 4 km/h.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from conftest import lonlat
from pyproj import Transformer

from planner.access import WAY_TAGS, street_level, usable
from planner.lines import Lines
from planner.network import RoadNetwork, load_network
from planner.reach import nearest
from planner.snap import snap_points

WALK_MPS = 4.0 / 3.6


def _minutes(path, cache_dir, start_m, goal_m, *, mode="walk", max_snap_m=500.0):
    """Minutes from a resident at ``start_m`` to a site at ``goal_m`` (metres), with the snaps."""
    network = load_network(path, cache_dir=cache_dir)
    graph = network.travel_graph(mode)
    to_metric = Transformer.from_crs("EPSG:4326", network.crs, always_xy=True)
    xy = np.array([to_metric.transform(*lonlat(*p)) for p in (start_m, goal_m)])
    res = snap_points(graph, xy[:1], max_distance_m=max_snap_m, min_component_nodes=1)
    site = snap_points(graph, xy[1:], max_distance_m=max_snap_m, min_component_nodes=1)
    reach, _ = nearest(graph, site, res)
    return float(reach.minutes[0]), res, graph


def _shortcut_and_detour(tags: dict[str, str]) -> tuple[dict, list]:
    """A 100 m shortcut A-B with ``tags`` and a 300 m residential detour A-C-D-B around it."""
    nodes_m = {1: (0, 0), 2: (100, 0), 3: (0, 100), 4: (100, 100)}
    ways = [
        ({"highway": "footway", **tags}, [1, 2]),
        ({"highway": "residential"}, [1, 3, 4, 2]),
    ]
    return {k: lonlat(*v) for k, v in nodes_m.items()}, ways


DIRECT = 100 / WALK_MPS / 60
DETOUR = 300 / WALK_MPS / 60


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        pytest.param({}, DIRECT, id="untagged footway is walked"),
        pytest.param({"foot": "no"}, DETOUR, id="footway with foot=no is not walked"),
        pytest.param({"access": "no"}, DETOUR, id="access=no is not walked"),
        pytest.param(
            {"highway": "service", "access": "no", "foot": "yes"},
            DIRECT,
            id="access=no road with foot=yes is walked",
        ),
        pytest.param(
            {"highway": "trunk", "motorroad": "yes"}, DETOUR, id="motorroad=yes trunk is not walked"
        ),
        pytest.param(
            {"highway": "service", "access": "private"},
            DIRECT,
            id="access=private lane of a gated compound is walked",
        ),
        pytest.param({"highway": "cycleway"}, DIRECT, id="a cycleway is walkable unless foot=no"),
        pytest.param({"highway": "cycleway", "foot": "no"}, DETOUR, id="cycleway with foot=no"),
    ],
)
def test_walking_follows_the_access_tags(write_osm, cache_dir, tags, expected):
    path = write_osm(*_shortcut_and_detour(tags))
    minutes, _, _ = _minutes(path, cache_dir, (0, 0), (100, 0))
    assert minutes == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize(
    ("tags", "mode", "expected_m"),
    [
        ({"highway": "cycleway", "foot": "no"}, "bike", 100),
        ({"highway": "footway", "bicycle": "no"}, "bike", 300),
        ({"highway": "footway", "bicycle": "yes"}, "bike", 100),
        ({"highway": "service", "access": "no", "bicycle": "yes"}, "bike", 100),
        ({"highway": "service", "vehicle": "no"}, "bike", 300),
        ({"highway": "trunk", "motorroad": "yes"}, "bike", 300),
        ({"highway": "trunk", "motorroad": "yes"}, "drive", 100),
        ({"highway": "service", "access": "no", "motor_vehicle": "yes"}, "drive", 100),
        ({"highway": "service", "motor_vehicle": "no"}, "drive", 300),
        ({"highway": "service", "motor_vehicle": "no", "motorcar": "yes"}, "drive", 100),
    ],
)
def test_cycling_and_driving_follow_their_own_tags(write_osm, cache_dir, tags, mode, expected_m):
    path = write_osm(*_shortcut_and_detour(tags))
    network = load_network(path, cache_dir=cache_dir)
    graph = network.travel_graph(mode, speed_kmh=10.0)
    # Total length of the roads this mode may use: the detour always, the shortcut if allowed.
    assert graph.seg_length.sum() == pytest.approx(expected_m + 300 * (expected_m == 100), rel=0.01)


def test_a_house_beside_an_elevated_expressway_joins_the_street_below(write_osm, cache_dir):
    # A street along y=0 and a viaduct 30 m north of it, ramps at both ends; the house stands
    # 15 m from the viaduct and 45 m from the street.
    nodes_m = {1: (0, 0), 2: (200, 0), 3: (400, 0), 4: (0, 30), 5: (400, 30)}
    ways = [
        ({"highway": "residential"}, [1, 2, 3]),
        ({"highway": "trunk", "bridge": "viaduct", "layer": "1"}, [4, 5]),
        ({"highway": "trunk_link"}, [1, 4]),
        ({"highway": "trunk_link"}, [3, 5]),
    ]
    path = write_osm({k: lonlat(*v) for k, v in nodes_m.items()}, ways)
    minutes, snap, graph = _minutes(path, cache_dir, (200, 45), (400, 0))
    assert graph.seg_street[snap.segment[0]]
    assert snap.access_m[0] == pytest.approx(45, rel=0.01)
    assert not snap.off_street[0]
    assert minutes == pytest.approx((45 + 200) / WALK_MPS / 60, rel=0.01)


def test_a_tunnel_is_used_for_travel_but_never_snapped_to(write_osm, cache_dir):
    # A 600 m tunnel P1-P2 and a 1,200 m surface detour; the house is 5 m from the tunnel's
    # line and 20 m from the street going north from P1.
    nodes_m = {1: (0, 0), 2: (600, 0), 3: (0, 300), 4: (600, 300)}
    ways = [
        ({"highway": "primary", "tunnel": "yes", "layer": "-1"}, [1, 2]),
        ({"highway": "residential"}, [1, 3, 4, 2]),
    ]
    path = write_osm({k: lonlat(*v) for k, v in nodes_m.items()}, ways)
    minutes, snap, graph = _minutes(path, cache_dir, (20, 5), (600, 0))
    assert graph.seg_street[snap.segment[0]]
    assert snap.access_m[0] == pytest.approx(20, rel=0.01)
    # In at P1 (5 m along the street), then through the tunnel.
    assert minutes == pytest.approx((20 + 5 + 600) / WALK_MPS / 60, rel=0.01)
    # With no street within the limit, the tunnel is the nearest way and the snap says so.
    _, far, graph = _minutes(path, cache_dir, (300, 5), (600, 0), max_snap_m=100)
    assert far.ok[0] and far.off_street[0]
    assert not graph.seg_street[far.segment[0]]


def test_without_tags_only_the_highway_type_counts():
    highway = np.array(["footway", "motorway", "steps", "residential"], dtype=object)
    assert usable(highway, {}, "walk").tolist() == [True, False, True, True]
    assert usable(highway, {}, "bike").tolist() == [True, False, False, True]
    assert usable(highway, {}, "drive").tolist() == [False, True, False, True]
    assert street_level({}, 4).all()


def test_street_level_reads_tunnel_bridge_layer_and_covered():
    cases = [
        ({}, True),
        ({"bridge": "yes"}, False),
        ({"bridge": "no"}, True),
        ({"tunnel": "yes"}, False),
        ({"tunnel": "building_passage"}, True),
        ({"layer": "-3"}, False),
        ({"layer": "2"}, False),
        ({"layer": "0"}, True),
        ({"covered": "yes"}, False),
    ]
    tags = {k: np.array([c[0].get(k, "") for c in cases], dtype=object) for k in WAY_TAGS}
    assert street_level(tags, len(cases)).tolist() == [c[1] for c in cases]


def test_tags_survive_the_network_cache(write_osm, cache_dir):
    path = write_osm(*_shortcut_and_detour({"foot": "no", "layer": "-1"}))
    first = load_network(path, cache_dir=cache_dir)
    again = load_network(path, cache_dir=cache_dir)
    assert set(first.edge_tags) == set(WAY_TAGS)
    assert sorted(again.edge_tags["foot"]) == sorted(first.edge_tags["foot"])
    assert "no" in set(again.edge_tags["foot"]) and "-1" in set(again.edge_tags["layer"])


def test_a_hand_built_network_without_tags_behaves_as_before():
    network = RoadNetwork(
        crs="EPSG:32650",
        node_osmid=np.arange(3),
        node_xy=np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0]]),
        edge_u=np.array([0, 1]),
        edge_v=np.array([1, 2]),
        edge_length=np.array([100.0, 100.0]),
        edge_highway=np.array(["footway", "motorway"], dtype=object),
        edge_speed_kph=np.array([5.0, 100.0]),
        edge_lines=Lines.from_geoms(
            np.array(
                [
                    shapely.LineString([(0, 0), (100, 0)]),
                    shapely.LineString([(100, 0), (200, 0)]),
                ],
                dtype=object,
            )
        ),
    )
    graph = network.travel_graph("walk")
    assert graph.seg_length.tolist() == [100.0]  # the motorway is left out, as before
    assert graph.seg_street.all()
    assert graph.seg_t_fwd[0] == graph.seg_t_bwd[0] == pytest.approx(90.0)


def test_graphml_attributes_carry_the_tags(write_osm, cache_dir, tmp_path):
    import osmnx as ox

    from planner.network import read_graph

    path = write_osm(*_shortcut_and_detour({"foot": "no"}))
    graphml = tmp_path / "roads.graphml"
    ox.save_graphml(read_graph(path), graphml)
    minutes, _, _ = _minutes(graphml, cache_dir, (0, 0), (100, 0))
    assert minutes == pytest.approx(DETOUR, rel=0.01)
