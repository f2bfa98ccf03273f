"""Snap points onto the nearest road segment: projection point, position along it, access leg."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

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
    points = shapely.points(xy)
    main = graph.segment_component_size >= min_component_nodes
    todo = np.arange(n)
    if main.any() and not main.all():
        keep = np.flatnonzero(main)
        (idx, pos), dist = graph.main_segment_tree(min_component_nodes).query_nearest(
            points, max_distance=max_distance_m, return_distance=True, all_matches=False
        )
        segment[idx] = keep[pos]
        access[idx] = dist
        todo = np.flatnonzero(segment < 0)
    if len(todo):
        (idx, seg), dist = graph.segment_tree.query_nearest(
            points[todo], max_distance=max_distance_m, return_distance=True, all_matches=False
        )
        segment[todo[idx]] = seg
        access[todo[idx]] = dist
    ok = np.flatnonzero(segment >= 0)
    fraction[ok] = shapely.line_locate_point(
        graph.seg_geometry[segment[ok]], points[ok], normalized=True
    )
    return Snapped(segment, np.clip(fraction, 0.0, 1.0), access)
