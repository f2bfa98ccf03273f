"""Travel times from many points to their nearest site, by bounded multi-source Dijkstra."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from planner.network import TravelGraph
from planner.snap import Snapped
from planner.standards import WALK_KMH


@dataclass(frozen=True)
class NodeTimes:
    """Result of one multi-source search: per node, seconds to (or from) its nearest source."""

    seconds: np.ndarray
    source: np.ndarray
    toward: bool


@dataclass(frozen=True)
class Reach:
    """Per target point: seconds to the nearest source and which source (``-1``: none)."""

    seconds: np.ndarray
    source: np.ndarray

    @property
    def minutes(self) -> np.ndarray:
        """Travel minutes (``inf`` where no source was reached)."""
        return self.seconds / 60.0


def access_speed_mps(graph: TravelGraph) -> float:
    """Speed of the straight-line leg between a point and the road: walking speed."""
    kmh = graph.speed_kmh if graph.mode == "walk" and graph.speed_kmh else WALK_KMH
    return kmh / 3.6


def _part(fraction: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Seconds to travel ``fraction`` of a segment (zero distance costs nothing, even if barred)."""
    with np.errstate(invalid="ignore"):
        return np.where(fraction > 0, fraction * seconds, 0.0)


def _directed(graph: TravelGraph, toward: bool) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    # Searching toward the sources runs on reversed edges; the segment arithmetic below is
    # written for that case, and swapping forward/backward times turns it into "from".
    if toward:
        return graph.reverse_matrix, graph.seg_t_fwd, graph.seg_t_bwd
    return graph.matrix, graph.seg_t_bwd, graph.seg_t_fwd


def search(
    graph: TravelGraph,
    sources: Snapped,
    *,
    limit_s: float = np.inf,
    toward: bool = True,
) -> NodeTimes:
    """Multi-source Dijkstra from snapped points over the compiled graph.

    Parameters
    ----------
    graph
        The travel graph of one mode.
    sources
        Snapped source points (sites); unsnapped ones are ignored.
    limit_s
        Stop once times exceed this many seconds (nodes beyond stay ``inf``).
    toward
        ``True``: seconds from each node *to* its nearest source (residents walking to sites);
        ``False``: seconds *from* the nearest source to each node (an isochrone).
    """
    n = graph.n_nodes
    matrix, t_fwd, t_bwd = _directed(graph, toward)
    live = np.flatnonzero(sources.ok)
    seconds = np.full(n, np.inf)
    source = np.full(n, -1, dtype=np.int64)
    if len(live) == 0:
        return NodeTimes(seconds, source, toward)
    seg = sources.segment[live]
    f = sources.fraction[live]
    access = sources.access_m[live] / access_speed_mps(graph)
    # Each source is a virtual node joined to both ends of its segment by the partial trip.
    to_u = access + _part(f, t_fwd[seg])
    to_v = access + _part(1.0 - f, t_bwd[seg])
    u, v = graph.seg_u[seg], graph.seg_v[seg]
    loop = u == v
    to_u = np.where(loop, np.minimum(to_u, to_v), to_u)
    to_v = np.where(loop, np.inf, to_v)
    k = len(live)
    cols = np.stack([u, v], axis=1).ravel()
    data = np.stack([to_u, to_v], axis=1).ravel()
    keep = np.isfinite(data)
    rows = np.repeat(np.arange(k), 2)[keep]
    counts = np.bincount(rows, minlength=k)
    augmented = sp.csr_matrix(
        (
            np.concatenate([matrix.data, np.maximum(data[keep], 1e-6)]),
            np.concatenate([matrix.indices, cols[keep]]),
            np.concatenate([matrix.indptr, matrix.indptr[-1] + np.cumsum(counts)]),
        ),
        shape=(n + k, n + k),
    )
    dist, _, origin = dijkstra(
        augmented,
        directed=True,
        indices=n + np.arange(k),
        limit=limit_s,
        min_only=True,
        return_predecessors=True,
    )
    seconds = dist[:n]
    reached = origin[:n] >= 0
    source[reached] = live[origin[:n][reached] - n]
    return NodeTimes(seconds, source, toward)


def times_at(
    graph: TravelGraph,
    nodes: NodeTimes,
    sources: Snapped,
    targets: Snapped,
    *,
    limit_s: float = np.inf,
) -> Reach:
    """Seconds between each snapped target point and its nearest source, given a search result.

    The trip is: access leg of the target, along its segment to one end, the network, and the
    source's partial segment and access leg; or, when both lie on the same segment, directly
    along it.
    """
    _, t_fwd, t_bwd = _directed(graph, nodes.toward)
    m = len(targets)
    seconds = np.full(m, np.inf)
    source = np.full(m, -1, dtype=np.int64)
    ok = np.flatnonzero(targets.ok)
    if len(ok) == 0:
        return Reach(seconds, source)
    seg = targets.segment[ok]
    g = targets.fraction[ok]
    speed = access_speed_mps(graph)
    access = targets.access_m[ok] / speed
    via_v = _part(1.0 - g, t_fwd[seg]) + nodes.seconds[graph.seg_v[seg]]
    via_u = _part(g, t_bwd[seg]) + nodes.seconds[graph.seg_u[seg]]
    best = np.minimum(via_v, via_u)
    src = np.where(via_v <= via_u, nodes.source[graph.seg_v[seg]], nodes.source[graph.seg_u[seg]])

    # Sources on the target's own segment can be reached without touching a node.
    live = np.flatnonzero(sources.ok)
    if len(live):
        left = pd.DataFrame({"t": np.arange(len(ok)), "seg": seg, "g": g})
        right = pd.DataFrame(
            {"s": live, "seg": sources.segment[live], "f": sources.fraction[live]}
        )
        pairs = left.merge(right, on="seg")
        if len(pairs):
            t_idx = pairs["t"].to_numpy()
            s_idx = pairs["s"].to_numpy()
            pseg = pairs["seg"].to_numpy()
            delta = pairs["f"].to_numpy() - pairs["g"].to_numpy()
            along = np.where(delta >= 0, _part(delta, t_fwd[pseg]), _part(-delta, t_bwd[pseg]))
            direct = along + sources.access_m[s_idx] / speed
            # Keep the best direct pair per target (ties: lowest source index).
            order = np.lexsort((s_idx, direct, t_idx))
            t_idx, s_idx, direct = t_idx[order], s_idx[order], direct[order]
            first = np.ones(len(t_idx), bool)
            first[1:] = t_idx[1:] != t_idx[:-1]
            t_idx, s_idx, direct = t_idx[first], s_idx[first], direct[first]
            better = direct < best[t_idx]
            best[t_idx[better]] = direct[better]
            src[t_idx[better]] = s_idx[better]
    total = access + best
    within = total <= limit_s
    seconds[ok[within]] = total[within]
    source[ok[within]] = src[within]
    return Reach(seconds, source)


def nearest(
    graph: TravelGraph,
    sources: Snapped,
    targets: Snapped,
    *,
    limit_s: float = np.inf,
) -> tuple[Reach, NodeTimes]:
    """Seconds from every target point to its nearest source point, in one search.

    Returns the per-target result and the per-node search (for drawing service areas).
    """
    nodes = search(graph, sources, limit_s=limit_s, toward=True)
    return times_at(graph, nodes, sources, targets, limit_s=limit_s), nodes
