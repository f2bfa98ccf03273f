"""Seeded synthetic road networks and point sets, built straight from arrays for benchmarks."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from planner.lines import Lines
from planner.network import HIGHWAY_SPEEDS_KPH, RoadNetwork

CRS = "EPSG:32650"
"""UTM zone 50N: metric, and where the bundled sample county lies."""

ORIGIN_XY = (400_000.0, 3_300_000.0)
"""South-west corner of every synthetic network, in ``CRS`` metres."""

# Ordinary blocks: mostly residential streets, some through roads and lanes.
_STREET_TAGS = np.array(
    ["residential", "unclassified", "tertiary", "living_street", "service"], dtype=object
)
_STREET_SHARE = np.array([0.68, 0.20, 0.06, 0.03, 0.03])
_DIAGONAL_TAGS = np.array(["footway", "service", "path"], dtype=object)
_DIAGONAL_SHARE = np.array([0.5, 0.3, 0.2])
_SPEEDS_KPH = {**HIGHWAY_SPEEDS_KPH, "footway": 5.0, "path": 5.0}

SEEDS: dict[str, int] = {"network": 0, "sites": 1, "residents": 2, "candidates": 3}
"""Seeds shared by the benchmarks, so they all measure the same city and people."""

Progress = Callable[[str], None]


def grid_network(
    side: int,
    *,
    seed: int = 0,
    spacing_m: float = 100.0,
    jitter_m: float = 20.0,
    drop_share: float = 0.08,
    diagonal_share: float = 0.05,
    oneway_share: float = 0.04,
    arterial_every: int = 10,
    progress: Progress | None = None,
) -> RoadNetwork:
    """A perturbed ``side`` x ``side`` street grid, reduced to its largest connected part.

    Parameters
    ----------
    side
        Grid nodes per row and column before disconnected pieces are dropped.
    seed
        Seed of every random choice; equal arguments give identical networks.
    spacing_m
        Block size.
    jitter_m
        Nodes move up to this far (uniformly, per axis) from their grid position.
    drop_share
        Share of ordinary street blocks removed (arterials are never cut).
    diagonal_share
        Share of grid cells crossed by a diagonal footway, lane or path.
    oneway_share
        Share of ordinary streets that are one-way (a single directed edge).
    arterial_every
        Every this many rows and columns is an arterial (never cut), alternately ``primary``
        (never one-way) and ``secondary``.
    progress
        Called with a short message at each stage.

    Returns
    -------
    RoadNetwork
        Directed edges as osmnx gives them (two-way roads in both directions, one-way roads
        once, reverse edges with reversed geometry), straight-line geometries, ``CRS``.
    """
    say = progress or (lambda _msg: None)
    rng = np.random.default_rng(seed)
    say(f"grid {side} x {side}: nodes")
    row, col = np.divmod(np.arange(side * side), side)
    xy = np.column_stack([col, row]).astype(float) * spacing_m
    xy += rng.uniform(-jitter_m, jitter_m, size=xy.shape)
    xy += ORIGIN_XY

    say("streets, arterials and diagonals")
    ids = np.arange(side * side).reshape(side, side)
    horiz_u, horiz_v = ids[:, :-1].ravel(), ids[:, 1:].ravel()
    vert_u, vert_v = ids[:-1, :].ravel(), ids[1:, :].ravel()
    # An edge lies on an arterial when its whole line (row for horizontal, column for
    # vertical) is one.
    horiz_line = np.repeat(np.arange(side), side - 1)
    vert_line = np.tile(np.arange(side), side - 1)
    u = np.concatenate([horiz_u, vert_u])
    v = np.concatenate([horiz_v, vert_v])
    line = np.concatenate([horiz_line, vert_line])
    arterial = line % arterial_every == 0
    highway = rng.choice(_STREET_TAGS, size=len(u), p=_STREET_SHARE)
    primary = arterial & ((line // arterial_every) % 2 == 0)
    highway[arterial] = "secondary"
    highway[primary] = "primary"
    keep = arterial | (rng.random(len(u)) >= drop_share)
    u, v, highway = u[keep], v[keep], highway[keep]

    cells = ids[:-1, :-1].ravel()
    crossed = cells[rng.random(len(cells)) < diagonal_share]
    rising = rng.random(len(crossed)) < 0.5
    diag_u = np.where(rising, crossed, crossed + 1)
    diag_v = np.where(rising, crossed + side + 1, crossed + side)
    u = np.concatenate([u, diag_u])
    v = np.concatenate([v, diag_v])
    highway = np.concatenate(
        [highway, rng.choice(_DIAGONAL_TAGS, size=len(diag_u), p=_DIAGONAL_SHARE)]
    )
    oneway = ~np.isin(highway, ["primary", "footway", "path"]) & (rng.random(len(u)) < oneway_share)
    flip = oneway & (rng.random(len(u)) < 0.5)
    u, v = np.where(flip, v, u), np.where(flip, u, v)

    say("largest connected part")
    kept_nodes, kept_edges = _largest_part(u, v, len(xy))
    renumber = np.cumsum(kept_nodes) - 1
    u, v = renumber[u[kept_edges]], renumber[v[kept_edges]]
    highway, oneway, xy = highway[kept_edges], oneway[kept_edges], xy[kept_nodes]

    say(f"{len(xy):,} nodes: geometries and directed edges")
    twin = ~oneway
    edge_u = np.concatenate([u, v[twin]]).astype(np.int32)
    edge_v = np.concatenate([v, u[twin]]).astype(np.int32)
    edge_highway = np.concatenate([highway, highway[twin]])
    geometry = shapely.linestrings(np.stack([xy[edge_u], xy[edge_v]], axis=1))
    edge_speed = pd.Series(edge_highway).map(_SPEEDS_KPH).to_numpy(float)
    return RoadNetwork(
        crs=CRS,
        node_osmid=np.arange(len(xy), dtype=np.int64) + 1_000_000_000,
        node_xy=xy,
        edge_u=edge_u,
        edge_v=edge_v,
        edge_length=np.maximum(shapely.length(geometry), 0.01),
        edge_highway=edge_highway,
        edge_speed_kph=edge_speed,
        edge_lines=Lines.from_geoms(geometry),
        source=f"synthetic grid {side}x{side} seed {seed}",
    )


def _largest_part(u: np.ndarray, v: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the nodes and edges in the largest (undirected) connected part."""
    # Residents snapped onto an island could never reach a site; real extracts are cleaned
    # the same way (osmnx retain_all=False), and it keeps node-snapping baselines honest.
    adjacency = sp.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    _, label = connected_components(adjacency, directed=False)
    kept = label == np.bincount(label).argmax()
    return kept, kept[u]  # both ends of an edge share a part


_BUILT: dict[tuple[int, int], RoadNetwork] = {}


def large_network(
    seed: int = 0, n_nodes: int = 250_000, *, progress: Progress | None = None
) -> RoadNetwork:
    """A synthetic city-sized road network of at least ``n_nodes`` nodes.

    About 100 m blocks (a 50 km square at the default size), mostly residential streets,
    primary/secondary arterials every kilometre, a few one-way streets and diagonal paths.
    Kept per ``(seed, n_nodes)`` so benchmarks in one run share it: treat it as read-only.
    """
    key = (seed, n_nodes)
    if key not in _BUILT:
        side = math.ceil(math.sqrt(n_nodes * 1.002))
        while True:
            network = grid_network(side, seed=seed, progress=progress)
            if network.n_nodes >= n_nodes:
                break
            side += 1
        _BUILT[key] = network
    return _BUILT[key]


def random_points(network: RoadNetwork, n: int, seed: int) -> np.ndarray:
    """``n`` points uniformly spread over the network's extent, shape ``(n, 2)`` in its CRS.

    Different ``seed`` values give independent sets (residents, sites, candidates ...).
    """
    rng = np.random.default_rng(seed)
    lo = network.node_xy.min(axis=0)
    hi = network.node_xy.max(axis=0)
    return rng.uniform(lo, hi, size=(n, 2))
