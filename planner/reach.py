"""Travel times from many points to their nearest site, by bounded multi-source Dijkstra."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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
    matrix, _, _ = _directed(graph, toward)
    live = np.flatnonzero(sources.ok)
    seconds = np.full(n, np.inf)
    source = np.full(n, -1, dtype=np.int64)
    if len(live) == 0:
        return NodeTimes(seconds, source, toward)
    augmented = augment(
        matrix, *source_legs(graph, sources.subset(live), toward=toward), k=len(live)
    )
    k = len(live)
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


def source_legs(
    graph: TravelGraph, sources: Snapped, *, toward: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges joining each (snapped) source, as a virtual node, to both ends of its segment.

    Returns ``(source_index, node, seconds)`` with the access leg and the partial trip along
    the segment; directions barred by one-way rules are left out.
    """
    _, t_fwd, t_bwd = _directed(graph, toward)
    seg = sources.segment
    f = sources.fraction
    access = sources.access_m / access_speed_mps(graph)
    to_u = access + _part(f, t_fwd[seg])
    to_v = access + _part(1.0 - f, t_bwd[seg])
    u, v = graph.seg_u[seg], graph.seg_v[seg]
    loop = u == v
    to_u = np.where(loop, np.minimum(to_u, to_v), to_u)
    to_v = np.where(loop, np.inf, to_v)
    nodes = np.stack([u, v], axis=1).ravel()
    seconds = np.stack([to_u, to_v], axis=1).ravel()
    keep = np.isfinite(seconds)
    index = np.repeat(np.arange(len(seg)), 2)
    return index[keep], nodes[keep], seconds[keep]


def augment(
    matrix: sp.csr_matrix,
    index: np.ndarray,
    nodes: np.ndarray,
    seconds: np.ndarray,
    *,
    k: int | None = None,
) -> sp.csr_matrix:
    """Append ``k`` virtual source nodes (rows after the real nodes) with the given legs."""
    n = matrix.shape[0]
    if k is None:
        k = int(index.max()) + 1 if len(index) else 0
    order = np.argsort(index, kind="stable")
    counts = np.bincount(index, minlength=k)
    return sp.csr_matrix(
        (
            np.concatenate([matrix.data, np.maximum(seconds[order], 1e-6)]),
            np.concatenate([matrix.indices, nodes[order]]),
            np.concatenate([matrix.indptr, matrix.indptr[-1] + np.cumsum(counts)]),
        ),
        shape=(n + k, n + k),
    )


def target_legs(
    graph: TravelGraph, targets: Snapped, *, toward: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For snapped targets: ``(access_s, node_u, seconds_via_u, node_v, seconds_via_v)``.

    A target's time is its access leg plus the cheaper of (partial trip to ``node_u`` plus the
    node's time) and the same through ``node_v``.
    """
    _, t_fwd, t_bwd = _directed(graph, toward)
    seg = targets.segment
    g = targets.fraction
    access = targets.access_m / access_speed_mps(graph)
    return (
        access,
        graph.seg_u[seg],
        _part(g, t_bwd[seg]),
        graph.seg_v[seg],
        _part(1.0 - g, t_fwd[seg]),
    )


def same_segment(
    graph: TravelGraph,
    sources: Snapped,
    target_segment: np.ndarray,
    target_fraction: np.ndarray,
    *,
    toward: bool,
    best_only: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct trips between targets and sources that lie on the same segment.

    Returns ``(target_index, source_index, seconds)`` where seconds include the source's
    access leg (not the target's). With ``best_only`` only the fastest source per target is
    kept (ties: lowest source index).
    """
    _, t_fwd, t_bwd = _directed(graph, toward)
    live = np.flatnonzero(sources.ok)
    empty = (np.array([], np.int64), np.array([], np.int64), np.array([], float))
    if len(live) == 0 or len(target_segment) == 0:
        return empty
    # Only targets on a segment that holds a source take part (a lookup, not a search: few do).
    hosts = np.zeros(len(graph.seg_u), dtype=bool)
    hosts[sources.segment[live]] = True
    on_host = np.flatnonzero(hosts[target_segment] & (target_segment >= 0))
    if len(on_host) == 0:
        return empty
    # Pairs by target, then by source (a join on the segment through a sorted search).
    order = live[np.argsort(sources.segment[live], kind="stable")]
    by_segment = sources.segment[order]
    host_segment = target_segment[on_host]
    first = np.searchsorted(by_segment, host_segment, side="left")
    count = np.searchsorted(by_segment, host_segment, side="right") - first
    t_idx = on_host[np.repeat(np.arange(len(on_host)), count)]
    step = np.arange(len(t_idx)) - np.repeat(np.cumsum(count) - count, count)
    s_idx = order[np.repeat(first, count) + step]
    pseg = target_segment[t_idx]
    delta = sources.fraction[s_idx] - target_fraction[t_idx]
    along = np.where(delta >= 0, _part(delta, t_fwd[pseg]), _part(-delta, t_bwd[pseg]))
    seconds = along + sources.access_m[s_idx] / access_speed_mps(graph)
    if best_only:
        order = np.lexsort((s_idx, seconds, t_idx))
        t_idx, s_idx, seconds = t_idx[order], s_idx[order], seconds[order]
        first = np.r_[True, t_idx[1:] != t_idx[:-1]]
        t_idx, s_idx, seconds = t_idx[first], s_idx[first], seconds[first]
    return t_idx, s_idx, seconds


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
    m = len(targets)
    seconds = np.full(m, np.inf)
    source = np.full(m, -1, dtype=np.int64)
    ok = np.flatnonzero(targets.ok)
    if len(ok) == 0:
        return Reach(seconds, source)
    snapped = targets.subset(ok)
    access, node_u, via_u, node_v, via_v = target_legs(graph, snapped, toward=nodes.toward)
    via_u = via_u + nodes.seconds[node_u]
    via_v = via_v + nodes.seconds[node_v]
    best = np.minimum(via_v, via_u)
    src = np.where(via_v <= via_u, nodes.source[node_v], nodes.source[node_u])
    # Sources on the target's own segment can be reached without touching a node.
    t_idx, s_idx, direct = same_segment(
        graph, sources, snapped.segment, snapped.fraction, toward=nodes.toward
    )
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
