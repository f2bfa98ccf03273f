"""Snap points onto the nearest road segment: projection point, position along it, access leg."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from planner.network import TravelGraph


@dataclass(frozen=True)
class Snapped:
    """Where points join the road network.

    Attributes
    ----------
    segment
        Index of the nearest segment, ``-1`` for points farther than the snap limit.
    fraction
        Position of the projection along the segment, 0 at ``seg_u`` and 1 at ``seg_v``.
    access_m
        Straight-line distance from the point to its projection (``inf`` when not snapped).
    """

    segment: np.ndarray
    fraction: np.ndarray
    access_m: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        """Mask of points that joined the network."""
        return self.segment >= 0

    def __len__(self) -> int:
        return len(self.segment)

    def subset(self, index: np.ndarray) -> Snapped:
        """The snaps of the points at ``index`` (positions or a boolean mask)."""
        return Snapped(self.segment[index], self.fraction[index], self.access_m[index])


@dataclass(frozen=True, eq=False)
class _Pieces:
    """Straight pieces (at most ``2 * half`` long) of a set of segments, indexed by midpoint."""

    a: np.ndarray
    b: np.ndarray
    segment: np.ndarray
    start_m: np.ndarray
    total_m: np.ndarray
    half: float
    tree: cKDTree

    @classmethod
    def build(cls, graph: TravelGraph, segments: np.ndarray, step_m: float = 50.0) -> _Pieces:
        lines = shapely.segmentize(graph.seg_geometry[segments], step_m)
        xy, owner = shapely.get_coordinates(lines, return_index=True)
        joined = owner[1:] == owner[:-1]
        a, b = xy[:-1][joined], xy[1:][joined]
        seg = owner[:-1][joined]
        length = np.hypot(*(b - a).T)
        cum = np.cumsum(length)
        first = np.r_[True, seg[1:] != seg[:-1]]
        start = cum - length
        start -= np.maximum.accumulate(np.where(first, start, 0.0))
        total = np.zeros(len(graph.seg_geometry))  # geometric length of every segment
        np.add.at(total, segments[seg], length)
        half = float(length.max()) / 2 if len(length) else 0.0
        return cls(a, b, segments[seg], start, total, half, cKDTree(0.5 * (a + b)))

    def nearest(self, xy: np.ndarray, max_distance_m: float, k: int = 8) -> tuple[np.ndarray, ...]:
        """Nearest piece within the limit: ``(piece, distance, t, complete)`` per point.

        ``complete`` is false where the ``k`` nearest midpoints cannot prove the answer (then
        the caller asks the exact R-tree instead).
        """
        m = len(self.a)
        k = min(k, m)
        bound = max_distance_m + self.half
        d_mid, j = self.tree.query(xy, k=k, distance_upper_bound=bound, workers=-1)
        d_mid, j = d_mid.reshape(len(xy), k), j.reshape(len(xy), k)
        found = j < m
        jj = np.where(found, j, 0)
        a, b = self.a[jj], self.b[jj]
        ab = b - a
        ap = xy[:, None, :] - a
        den = np.einsum("ijk,ijk->ij", ab, ab)
        t = np.clip(np.einsum("ijk,ijk->ij", ap, ab) / np.where(den > 0, den, 1.0), 0.0, 1.0)
        gap = ap - t[..., None] * ab
        dist = np.where(found, np.hypot(gap[..., 0], gap[..., 1]), np.inf)
        best = np.argmin(dist, axis=1)
        rows = np.arange(len(xy))
        best_d = dist[rows, best]
        # Any piece nearer than best_d has its midpoint within best_d + half: all such
        # midpoints were among the k returned when the k-th lies beyond that (or none is left).
        complete = ~found[:, -1] | (d_mid[:, -1] > np.minimum(best_d, max_distance_m) + self.half)
        return j[rows, best], best_d, t[rows, best], complete


def _pieces(graph: TravelGraph, min_nodes: int) -> _Pieces:
    key = f"_snap_pieces_{min_nodes}"
    if key not in graph.__dict__:  # cached with the graph, dropped when it is pickled
        keep = np.flatnonzero(graph.segment_component_size >= min_nodes)
        graph.__dict__[key] = _Pieces.build(graph, keep)
    return graph.__dict__[key]


def snap_points(
    graph: TravelGraph,
    xy: np.ndarray,
    *,
    max_distance_m: float,
    min_component_nodes: int = 20,
) -> Snapped:
    """Project points (metric coordinates, shape ``(n, 2)``) onto their nearest road segment.

    Segments of road fragments with fewer than ``min_component_nodes`` nodes (a footpath
    ending on an untagged square, a cut-off piece at the edge of an extract) are used only
    when no segment of a larger network lies within ``max_distance_m``: otherwise a house
    beside such a fragment would be marked unreachable although a connected street is near.
    Points farther than ``max_distance_m`` from every segment are left unsnapped.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    n = len(xy)
    segment = np.full(n, -1, dtype=np.int64)
    fraction = np.zeros(n)
    access = np.full(n, np.inf)
    if n == 0 or len(graph.seg_geometry) == 0:
        return Snapped(segment, fraction, access)
    main = graph.segment_component_size >= min_component_nodes
    # Fast path: a KD-tree over short straight pieces of the roads of the larger networks.
    pieces = _pieces(graph, min_component_nodes if main.any() else 0)
    if len(pieces.a):
        j, dist, t, complete = pieces.nearest(xy, max_distance_m)
        hit = complete & (dist <= max_distance_m)
        segment[hit] = pieces.segment[j[hit]]
        access[hit] = dist[hit]
        along = pieces.start_m[j[hit]] + t[hit] * np.hypot(*(pieces.b[j[hit]] - pieces.a[j[hit]]).T)
        total = pieces.total_m[segment[hit]]
        # A point at a node is at the node exactly (one-way rules must not see 1e-12 of a road).
        along = np.where(along < 1e-6, 0.0, np.where(total - along < 1e-6, total, along))
        fraction[hit] = along / np.maximum(total, 1e-12)
        todo = np.flatnonzero(~complete)
        missed = np.flatnonzero(complete & (dist > max_distance_m))
    else:
        todo = np.arange(n)
        missed = np.array([], dtype=np.int64)
    # Exact R-tree queries for the few points the fast path could not prove, then fragments.
    _rtree_snap(
        graph, xy, todo, segment, fraction, access, max_distance_m, main, min_component_nodes
    )
    if main.any() and not main.all():
        left = np.r_[missed, todo[segment[todo] < 0]]
        _rtree_snap(graph, xy, left, segment, fraction, access, max_distance_m, None, 0)
    return Snapped(segment, np.clip(fraction, 0.0, 1.0), access)


def _rtree_snap(
    graph: TravelGraph,
    xy: np.ndarray,
    which: np.ndarray,
    segment: np.ndarray,
    fraction: np.ndarray,
    access: np.ndarray,
    max_distance_m: float,
    main: np.ndarray | None,
    min_nodes: int,
) -> None:
    if len(which) == 0:
        return
    points = shapely.points(xy[which])
    if main is not None and main.any() and not main.all():
        keep = np.flatnonzero(main)
        (idx, pos), dist = graph.main_segment_tree(min_nodes).query_nearest(
            points, max_distance=max_distance_m, return_distance=True, all_matches=False
        )
        seg = keep[pos]
    else:
        (idx, seg), dist = graph.segment_tree.query_nearest(
            points, max_distance=max_distance_m, return_distance=True, all_matches=False
        )
    rows = which[idx]
    segment[rows] = seg
    access[rows] = dist
    fraction[rows] = shapely.line_locate_point(
        graph.seg_geometry[seg], points[idx], normalized=True
    )
