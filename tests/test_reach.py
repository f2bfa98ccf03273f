"""Travel times equal an independent networkx Dijkstra on the same travel model."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.lines import Lines
from planner.network import RoadNetwork
from planner.reach import nearest, same_segment, search, times_at
from planner.snap import Snapped, snap_points

WALK_MPS = 4.0 / 3.6


def random_network(rng: np.random.Generator, n_nodes: int, n_edges: int) -> RoadNetwork:
    xy = rng.uniform(0, 2000, size=(n_nodes, 2))
    pairs = set()
    while len(pairs) < n_edges:
        a, b = rng.integers(0, n_nodes, 2)
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    us, vs, hwy, speed = [], [], [], []
    for a, b in sorted(pairs):
        kind = rng.choice(["residential", "primary", "footway", "motorway"])
        oneway = rng.random() < 0.3 and kind != "footway"
        for u, v in [(a, b)] if oneway else [(a, b), (b, a)]:
            us.append(u)
            vs.append(v)
            hwy.append(kind)
            speed.append(
                {"residential": 25.0, "primary": 50.0, "footway": 5.0, "motorway": 90.0}[kind]
            )
    us, vs = np.array(us), np.array(vs)
    geoms = shapely.linestrings(np.stack([xy[us], xy[vs]], axis=1))
    return RoadNetwork(
        crs="EPSG:32650",
        node_osmid=np.arange(n_nodes, dtype=np.int64),
        node_xy=xy,
        edge_u=us.astype(np.int32),
        edge_v=vs.astype(np.int32),
        edge_length=shapely.length(geoms),
        edge_highway=np.array(hwy, dtype=object),
        edge_speed_kph=np.array(speed),
        edge_lines=Lines.from_geoms(geoms),
    )


def reference_minutes(network, mode, speed_kmh, sites_xy, res_xy, max_snap):
    """Independent model: split edges at projections in networkx, then multi-source Dijkstra."""
    banned = {"walk": {"motorway"}, "drive": {"footway"}}[mode]
    directed: dict[tuple[int, int], float] = {}
    geoms = {}
    for u, v, hw, ln, kph, _geom in zip(
        network.edge_u,
        network.edge_v,
        network.edge_highway,
        network.edge_length,
        network.edge_speed_kph,
        network.edge_lines.geoms(),
        strict=True,
    ):
        if hw in banned:
            continue
        mps = (speed_kmh if speed_kmh else kph) / 3.6
        t = ln / mps
        directed[(u, v)] = min(directed.get((u, v), np.inf), t)
        if mode == "walk":
            directed[(v, u)] = min(directed.get((v, u), np.inf), t)
        key = (min(u, v), max(u, v))
        geoms[key] = shapely.LineString([network.node_xy[key[0]], network.node_xy[key[1]]])
    keys = list(geoms)
    lines = np.array([geoms[k] for k in keys])
    G = nx.DiGraph()
    G.add_nodes_from(range(network.n_nodes))
    on_edge: dict[tuple[int, int], list[tuple[float, str]]] = {k: [] for k in keys}
    points = [("s", i, p) for i, p in enumerate(sites_xy)] + [
        ("r", i, p) for i, p in enumerate(res_xy)
    ]
    for kind, i, p in points:
        pt = shapely.Point(p)
        d = shapely.distance(lines, pt)
        j = int(np.argmin(d))
        if d[j] > max_snap:
            continue
        f = shapely.line_locate_point(lines[j], pt, normalized=True)
        name = f"{kind}{i}"
        on_edge[keys[j]].append((f, name + "_proj"))
        G.add_edge(name, name + "_proj", weight=d[j] / WALK_MPS)
        G.add_edge(name + "_proj", name, weight=d[j] / WALK_MPS)
    for (a, b), pts in on_edge.items():
        chain = [(0.0, a), *sorted(pts), (1.0, b)]
        t_ab = directed.get((a, b), np.inf)
        t_ba = directed.get((b, a), np.inf)
        for (f0, n0), (f1, n1) in itertools.pairwise(chain):
            if f1 - f0 <= 0:  # a projection exactly at a node is that node, whatever one-way says
                G.add_edge(n0, n1, weight=0.0)
                G.add_edge(n1, n0, weight=0.0)
                continue
            if np.isfinite(t_ab):
                G.add_edge(n0, n1, weight=max((f1 - f0) * t_ab, 0.0))
            if np.isfinite(t_ba):
                G.add_edge(n1, n0, weight=max((f1 - f0) * t_ba, 0.0))
    site_nodes = [f"s{i}" for i in range(len(sites_xy)) if f"s{i}" in G]
    if not site_nodes:
        return np.full(len(res_xy), np.inf)
    dist = nx.multi_source_dijkstra_path_length(G.reverse(copy=False), site_nodes)
    return np.array([dist.get(f"r{i}", np.inf) / 60.0 for i in range(len(res_xy))])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n_nodes=st.integers(2, 25),
    n_sites=st.integers(1, 6),
    n_res=st.integers(1, 30),
    mode=st.sampled_from(["walk", "drive"]),
    fixed_speed=st.booleans(),
)
def test_minutes_match_networkx(seed, n_nodes, n_sites, n_res, mode, fixed_speed):
    rng = np.random.default_rng(seed)
    n_edges = int(rng.integers(1, n_nodes * (n_nodes - 1) // 2 + 1))
    n_edges = min(n_edges, 3 * n_nodes)
    network = random_network(rng, n_nodes, n_edges)
    if mode == "walk" and set(network.edge_highway) == {"motorway"}:
        network.edge_highway[0] = "residential"
    if mode == "drive" and set(network.edge_highway) == {"footway"}:
        network.edge_highway[0] = "residential"
    speed = 4.0 if mode == "walk" else (30.0 if fixed_speed else None)
    graph = network.travel_graph(mode, speed_kmh=speed)
    sites_xy = rng.uniform(-100, 2100, size=(n_sites, 2))
    res_xy = rng.uniform(-100, 2100, size=(n_res, 2))
    if rng.random() < 0.3:  # residents sharing a segment with a site, both ways along it
        res_xy[0] = sites_xy[0] + rng.normal(0, 5, 2)
    max_snap = 400.0
    sites = snap_points(graph, sites_xy, max_distance_m=max_snap, min_component_nodes=1)
    residents = snap_points(graph, res_xy, max_distance_m=max_snap, min_component_nodes=1)
    reach, _ = nearest(graph, sites, residents)
    expected = reference_minutes(network, mode, speed, sites_xy, res_xy, max_snap)
    got = reach.minutes
    assert np.array_equal(np.isinf(got), np.isinf(expected))
    finite = np.isfinite(got)
    np.testing.assert_allclose(got[finite], expected[finite], atol=0.01)


def test_nearest_site_is_the_one_reached():
    """On a straight road the resident is assigned to the closer of two stations."""
    xy = np.array([[0.0, 0.0], [1000.0, 0.0], [2000.0, 0.0]])
    us, vs = np.array([0, 1, 1, 2]), np.array([1, 0, 2, 1])
    geoms = shapely.linestrings(np.stack([xy[us], xy[vs]], axis=1))
    network = RoadNetwork(
        crs="EPSG:32650",
        node_osmid=np.arange(3),
        node_xy=xy,
        edge_u=us.astype(np.int32),
        edge_v=vs.astype(np.int32),
        edge_length=shapely.length(geoms),
        edge_highway=np.array(["residential"] * 4, dtype=object),
        edge_speed_kph=np.full(4, 25.0),
        edge_lines=Lines.from_geoms(geoms),
    )
    graph = network.travel_graph("walk")
    sites = snap_points(graph, np.array([[100.0, 50.0], [1900.0, 0.0]]), max_distance_m=500)
    residents = snap_points(graph, np.array([[1200.0, 0.0], [700.0, 30.0]]), max_distance_m=500)
    reach, _ = nearest(graph, sites, residents)
    assert reach.source.tolist() == [1, 0]
    # 700 m along the road + 50 m and 30 m access legs at 4 km/h
    assert reach.minutes[1] == pytest.approx((600 + 50 + 30) / WALK_MPS / 60)
    # the same answers from a search bounded at 15 minutes, and nothing within 1 minute
    bounded = times_at(graph, search(graph, sites, limit_s=900), sites, residents, limit_s=900)
    assert bounded.source.tolist() == [1, 0]
    assert np.isfinite(bounded.seconds).all()
    assert np.isinf(
        times_at(graph, search(graph, sites, limit_s=60), sites, residents, limit_s=60).seconds
    ).all()


def test_houses_beside_a_path_fragment_join_the_street_network():
    """A 2-node footpath piece next to a house must not cut the house off from a near street."""
    xs = np.arange(0, 2501, 100.0)
    street = np.column_stack([xs, np.zeros_like(xs)])
    fragment = np.array([[1000.0, 60.0], [1100.0, 60.0]])
    xy = np.vstack([street, fragment])
    a = np.arange(len(xs) - 1)
    us = np.r_[a, a + 1, len(xs)]
    vs = np.r_[a + 1, a, len(xs) + 1]
    geoms = shapely.linestrings(np.stack([xy[us], xy[vs]], axis=1))
    network = RoadNetwork(
        crs="EPSG:32650",
        node_osmid=np.arange(len(xy)),
        node_xy=xy,
        edge_u=us.astype(np.int32),
        edge_v=vs.astype(np.int32),
        edge_length=shapely.length(geoms),
        edge_highway=np.array(["footway"] * len(us), dtype=object),
        edge_speed_kph=np.full(len(us), 5.0),
        edge_lines=Lines.from_geoms(geoms),
    )
    graph = network.travel_graph("walk")
    house = np.array([[1050.0, 70.0]])  # 10 m from the fragment, 70 m from the street
    joined = snap_points(graph, house, max_distance_m=500)
    assert joined.access_m[0] == pytest.approx(70.0)
    stranded = snap_points(graph, house, max_distance_m=500, min_component_nodes=1)
    assert stranded.access_m[0] == pytest.approx(10.0)
    # with no larger network within reach, the fragment is still used
    alone = snap_points(graph, house, max_distance_m=40)
    assert alone.access_m[0] == pytest.approx(10.0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_points=st.integers(1, 400), limit=st.floats(5, 800))
def test_snapping_finds_the_nearest_point_of_curved_roads(seed, n_points, limit):
    """The KD-tree fast path gives the exact nearest projection, as a brute-force search."""
    rng = np.random.default_rng(seed)
    network = random_network(rng, 30, 60)
    network.edge_highway[:] = "residential"
    # bend every road through a random midpoint so segments are polylines of uneven pieces
    mids = 0.5 * (network.node_xy[network.edge_u] + network.node_xy[network.edge_v])
    mids += rng.normal(0, 80, mids.shape)
    coords = np.stack(
        [network.node_xy[network.edge_u], mids, network.node_xy[network.edge_v]], axis=1
    )
    geoms = shapely.linestrings(coords)
    bent = RoadNetwork(
        **{
            **network.__dict__,
            "edge_lines": Lines.from_geoms(geoms),
            "edge_length": shapely.length(geoms),
        }
    )
    graph = bent.travel_graph("walk")
    xy = rng.uniform(-200, 2200, size=(n_points, 2))
    snapped = snap_points(graph, xy, max_distance_m=limit, min_component_nodes=1)
    dist = shapely.distance(graph.seg_geometry[None, :], shapely.points(xy)[:, None])
    best = dist.min(axis=1)
    assert np.array_equal(snapped.ok, best <= limit)
    ok = snapped.ok
    np.testing.assert_allclose(snapped.access_m[ok], best[ok], atol=1e-6)
    at = shapely.line_interpolate_point(
        graph.seg_geometry[snapped.segment[ok]], snapped.fraction[ok], normalized=True
    )
    np.testing.assert_allclose(shapely.distance(at, shapely.points(xy[ok])), best[ok], atol=1e-5)


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_reversed_matrix_is_the_transpose(mode):
    """Searches toward the sites run on the transposed matrix, or on the matrix when equal."""
    rng = np.random.default_rng(7)
    network = random_network(rng, 40, 90)
    network.edge_highway[:] = "residential"  # usable both on foot and by car
    graph = network.travel_graph(mode)
    reverse = graph.reverse_matrix
    np.testing.assert_array_equal(reverse.toarray(), graph.matrix.T.toarray())
    symmetric = np.array_equal(graph.seg_t_fwd, graph.seg_t_bwd)
    assert symmetric == (mode == "walk")  # the random network has one-way streets for cars
    assert (reverse is graph.matrix) == symmetric


@pytest.mark.parametrize("best_only", [True, False])
def test_same_segment_pairs_equal_brute_force(best_only):
    """Direct trips along a shared segment, against a loop over every (target, source) pair."""
    rng = np.random.default_rng(3)
    network = random_network(rng, 30, 60)
    network.edge_highway[:] = "residential"
    graph = network.travel_graph("drive", speed_kmh=None)  # one-way streets: times differ by way
    n_seg = len(graph.seg_u)
    # A few segments hold all the sources and most targets (the last one too: a target's -1
    # must not read as it).
    host = np.r_[rng.integers(0, n_seg, 3), n_seg - 1]
    sources = Snapped(
        segment=np.r_[rng.choice(host, 12), -1],  # the last source is not snapped
        fraction=np.r_[rng.choice([0.0, 0.3, 1.0], 6), rng.uniform(0, 1, 6), 0.5],
        access_m=rng.uniform(0, 50, 13),
    )
    t_seg = rng.permutation(np.r_[rng.choice(host, 40), rng.integers(0, n_seg, 20), -1, -1])
    t_frac = rng.uniform(0, 1, len(t_seg))
    t_idx, s_idx, seconds = same_segment(
        graph, sources, t_seg, t_frac, toward=True, best_only=best_only
    )
    mps = 4.0 / 3.6  # access legs at walking speed
    expected = []
    for i, (seg, x) in enumerate(zip(t_seg, t_frac, strict=True)):
        pairs = []
        for s in range(len(sources)):
            if seg < 0 or sources.segment[s] != seg:
                continue
            # toward the source: from the target at x to the source at fraction f
            f = sources.fraction[s]
            along = (f - x) * graph.seg_t_fwd[seg] if f >= x else (x - f) * graph.seg_t_bwd[seg]
            if f == x:
                along = 0.0
            pairs.append((i, s, along + sources.access_m[s] / mps))
        if best_only and pairs:
            pairs = [min(pairs, key=lambda p: (p[2], p[1]))]
        expected.extend(pairs)
    assert len(expected) > 0
    got = list(zip(t_idx.tolist(), s_idx.tolist(), seconds.tolist(), strict=True))
    assert [(i, s) for i, s, _ in got] == [(i, s) for i, s, _ in expected]
    np.testing.assert_allclose([t for *_, t in got], [t for *_, t in expected], rtol=1e-12)
