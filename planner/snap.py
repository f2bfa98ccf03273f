"""Snap points onto the nearest road segment: projection point, position along it, access leg.

The roads are cut into short straight pieces (at most 50 m) and a KD-tree indexes their
midpoints. A point asks for its nearest midpoints and projects itself on those pieces; the
answer is proven exact when the farthest midpoint returned lies beyond the best distance plus
half the longest piece (no piece outside could be nearer), else the point asks for more
midpoints, and only points no step can prove go to shapely's R-tree. Points are put in spatial
order first (in cell order for the cell lists below) and the pieces are stored in spatial order,
so the tree walks and the gathers stay in cache: that, not the arithmetic, is what the time goes
to. The pieces and the tree are kept
on the travel graph and saved with the compiled network (:mod:`planner.snap_index`).

A saved index also holds cell lists (:class:`_Grid`): per 50 m cell, the pieces within 40 m of
it. A point near a road (most residents) then needs no tree search at all: it projects itself
on its cell's pieces, and the nearest is proven when it lies nearer than 40 m plus the point's
distance to its cell's border; the other points take the KD-tree steps. Both ways give the
same piece, ties included.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from scipy.spatial import cKDTree

from planner.network import TravelGraph
from planner.runtime import cores

log = logging.getLogger(__name__)


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
    off_street
        True where the point joined a bridge, an elevated road or a tunnel because no
        street-level road lies within the snap limit (``None``: all at street level).
    """

    segment: np.ndarray
    fraction: np.ndarray
    access_m: np.ndarray
    off_street: np.ndarray | None = None

    @property
    def ok(self) -> np.ndarray:
        """Mask of points that joined the network."""
        return self.segment >= 0

    def __len__(self) -> int:
        return len(self.segment)

    def subset(self, index: np.ndarray) -> Snapped:
        """The snaps of the points at ``index`` (positions or a boolean mask)."""
        off = None if self.off_street is None else self.off_street[index]
        return Snapped(self.segment[index], self.fraction[index], self.access_m[index], off)


_GRID_CELL_M = 50.0
"""Side of the cells of the snapping grid."""
_GRID_REACH_M = 40.0
"""How far around its cell a cell lists the pieces (the grid proves nearest pieces up to
this plus the point's distance to the cell's border; others go to the KD-tree)."""
_GRID_SLACK_M = 0.01
"""Pieces listed this much beyond the reach (rounding in the cell arithmetic)."""
_GRID_BUILD_BLOCK = 131_072
"""Pieces per block while building the grid (bounds the memory of the build)."""


@dataclass(frozen=True, eq=False)
class _Grid:
    """Square cells over the pieces, each listing the pieces near it (a lookup instead of a search).

    A cell lists, in piece order, every piece whose bounding box comes within ``reach_m`` of
    the cell (compressed rows: the pieces of cell ``c`` are ``pieces[indptr[c]:indptr[c+1]]``).
    A piece it does not list lies farther than ``reach_m + margin`` from a point of the cell,
    ``margin`` being the point's distance to the cell's border: the nearest listed piece is
    proven the nearest of all when it lies nearer than that. Cells are numbered by rows,
    ``iy * shape[0] + ix``.
    """

    origin: np.ndarray
    cell_m: float
    reach_m: float
    shape: np.ndarray
    indptr: np.ndarray
    pieces: np.ndarray

    @classmethod
    def build(
        cls,
        a: np.ndarray,
        b: np.ndarray,
        cell_m: float = _GRID_CELL_M,
        reach_m: float = _GRID_REACH_M,
    ) -> _Grid:
        """List the pieces ``a``-``b`` per cell (two passes over blocks: bounded memory)."""
        # Listed a little beyond reach_m: rounding in the cell arithmetic never leaves out
        # a piece the proof counts on.
        pad = reach_m + _GRID_SLACK_M
        lo, hi = np.minimum(a, b) - pad, np.maximum(a, b) + pad
        if len(a) == 0:
            empty = np.zeros(1, dtype=np.int64)
            return cls(np.zeros(2), cell_m, reach_m, np.ones(2, np.int64), empty, empty[:0])
        origin = lo.min(axis=0)
        # Roads spread over a large, mostly empty area: larger cells keep the grid small
        # (at most about four cells per piece; any size keeps the answers exact).
        extent = hi.max(axis=0) - origin
        cell_m = max(cell_m, float(np.sqrt(extent[0] * extent[1] / (4 * len(a) + 65_536))))
        first = np.floor((lo - origin) / cell_m).astype(np.int64)
        width = np.floor((hi - origin) / cell_m).astype(np.int64) - first + 1
        shape = (first + width).max(axis=0)
        n_cells = int(shape[0] * shape[1])
        per_piece = width[:, 0] * width[:, 1]
        blocks = [
            np.arange(i, min(i + _GRID_BUILD_BLOCK, len(a)))
            for i in range(0, len(a), _GRID_BUILD_BLOCK)
        ]

        def cells_of(owner_block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            count = per_piece[owner_block]
            owner = np.repeat(owner_block, count)
            k = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
            wx = width[owner, 0]
            ix = first[owner, 0] + k % wx
            iy = first[owner, 1] + k // wx
            return iy * shape[0] + ix, owner

        per_cell = np.zeros(n_cells, dtype=np.int64)
        for block in blocks:
            per_cell += np.bincount(cells_of(block)[0], minlength=n_cells)
        indptr = np.zeros(n_cells + 1, dtype=np.int64)
        np.cumsum(per_cell, out=indptr[1:])
        pieces = np.empty(int(indptr[-1]), dtype=np.int32)
        fill = indptr[:-1].copy()
        for block in blocks:  # in piece order: each cell lists its pieces in piece order
            cell, owner = cells_of(block)
            order = np.argsort(cell, kind="stable")
            cell, owner = cell[order], owner[order]
            run = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
            length = np.diff(np.r_[run, len(cell)])
            rank = np.arange(len(cell)) - np.repeat(run, length)
            pieces[fill[cell] + rank] = owner
            fill[cell[run]] += length
        return cls(origin, float(cell_m), float(reach_m), shape, indptr, pieces)

    def locate(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell of each point (``-1`` outside the grid) and its distance to the cell's border."""
        f = (xy - self.origin) / self.cell_m
        with np.errstate(invalid="ignore"):
            i = np.floor(f)
            inside = ((i >= 0) & (i < self.shape)).all(axis=1)
        frac = f - i
        margin = self.cell_m * np.minimum(frac, 1.0 - frac).min(axis=1)
        ii = np.where(inside[:, None], i, 0).astype(np.int64)
        cell = np.where(inside, ii[:, 1] * self.shape[0] + ii[:, 0], -1)
        return cell, np.where(inside, margin, -np.inf)


@dataclass(frozen=True, eq=False)
class _Pieces:
    """Straight pieces (at most ``2 * half`` long) of a set of segments, indexed by midpoint.

    Pieces are kept in a spatial order (rows of :data:`_SORT_CELL_M` cells), so that the
    pieces near one another, and the answers for nearby points, lie close in memory.
    """

    a: np.ndarray
    b: np.ndarray
    segment: np.ndarray
    start_m: np.ndarray
    total_m: np.ndarray
    half: float
    tree: cKDTree
    grid: _Grid | None = None
    """Cell lists answering most points without the KD-tree (built when the index is saved,
    :meth:`with_grid`)."""
    packed: np.ndarray = field(init=False, repr=False)
    """Per piece ``a``, ``b - a`` and its squared length (1 if none) side by side, shape
    ``(m, 5)``: what a candidate needs comes in one gather (``a``: a view of the first two)."""

    def __post_init__(self) -> None:
        packed = np.empty((len(self.a), 5))
        packed[:, :2] = self.a
        ab = np.subtract(self.b, self.a, out=packed[:, 2:4])  # (written in place: fewer copies)
        den = ab[:, 0] * ab[:, 0]
        den += ab[:, 1] * ab[:, 1]
        packed[:, 4] = den
        packed[~(den > 0), 4] = 1.0  # (a point piece: any t gives its point)
        object.__setattr__(self, "packed", packed)
        object.__setattr__(self, "a", packed[:, :2])

    def with_grid(self) -> _Pieces:
        """These pieces with their cell lists (:class:`_Grid`), built if missing."""
        if self.grid is not None:
            return self
        return replace(self, grid=_Grid.build(self.a, self.b))

    @property
    def ab(self) -> np.ndarray:
        """``b - a`` per piece."""
        return self.packed[:, 2:4]

    @classmethod
    def build(cls, graph: TravelGraph, segments: np.ndarray, step_m: float = 50.0) -> _Pieces:
        xy, owner = graph.seg_lines.take(segments).segmentize(step_m)
        joined = owner[1:] == owner[:-1]
        a, b = xy[:-1][joined], xy[1:][joined]
        seg = owner[:-1][joined]
        length = np.hypot(*(b - a).T)
        cum = np.cumsum(length)
        first = np.r_[True, seg[1:] != seg[:-1]]
        start = cum - length
        start -= np.maximum.accumulate(np.where(first, start, 0.0))
        total = np.zeros(len(graph.seg_u))  # geometric length of every segment
        np.add.at(total, segments[seg], length)
        half = float(length.max()) / 2 if len(length) else 0.0
        order = _spatial_order(0.5 * (a + b))
        a, b, seg, start = a[order], b[order], seg[order], start[order]
        return cls(a, b, segments[seg], start, total, half, _midpoint_tree(a, b))

    def nearest(self, xy: np.ndarray, max_distance_m: float) -> tuple[np.ndarray, ...]:
        """Nearest piece within the limit: ``(piece, distance, t, complete)`` per point.

        The points the cell lists (:class:`_Grid`) prove are answered from them (visited cell
        by cell); the others, in spatial order, ask the KD-tree for their 8 nearest
        midpoints within a short radius (:data:`_K_STEPS`), then 16 and 128 within the snap
        limit where those cannot prove the answer. ``complete`` is false where even 128 cannot
        (then the caller asks the exact R-tree instead).
        """
        n = len(xy)
        piece = np.zeros(n, dtype=np.int64)
        dist = np.full(n, np.inf)
        t = np.zeros(n)
        todo = np.arange(n)
        if self.grid is not None:  # (it orders the points by cell itself)
            piece, dist, t, done = self._grid_answers(xy, max_distance_m)
            todo = np.flatnonzero(~done)
        if len(todo) > _SORT_FROM:
            todo = todo[_spatial_order(xy[todo])]
        for k, near_m in _K_STEPS:
            j_, d_, t_, done = self._query(xy[todo], max_distance_m, k, near_m)
            piece[todo], dist[todo], t[todo] = j_, d_, t_
            todo = todo[~done]
            if len(todo) == 0:
                break
        complete = np.ones(n, dtype=bool)
        complete[todo] = False
        return piece, dist, t, complete

    def _query(
        self, xy: np.ndarray, max_distance_m: float, k: int, near_m: float = np.inf
    ) -> tuple[np.ndarray, ...]:
        """One step of :meth:`nearest`: the ``k`` nearest midpoints within ``near_m + half``.

        Only midpoints that near are asked for (the tree search stops early): a point
        whose nearest piece lies farther than ``near_m`` is left incomplete for the next step.
        """
        m = len(self.a)
        k = min(k, m)
        full = near_m >= max_distance_m
        reach = min(near_m, max_distance_m) + self.half
        workers = -1 if len(xy) >= _THREADS_FROM else 1
        d_mid, j = self.tree.query(xy, k=k, distance_upper_bound=reach, workers=workers)
        d_mid, j = d_mid.reshape(len(xy), k), j.reshape(len(xy), k)
        piece = np.empty(len(xy), dtype=np.int64)
        best_d = np.empty(len(xy))
        best_t = np.empty(len(xy))
        # In blocks: the temporaries of a block stay in the processor's cache.
        for start in range(0, len(xy), _BLOCK):
            block = slice(start, start + _BLOCK)
            piece[block], best_d[block], best_t[block] = self._project(xy[block], j[block])
        found_last = j[:, -1] < m
        bound = np.minimum(best_d, max_distance_m) + self.half
        # Any piece nearer than best_d has its midpoint within best_d + half: all such
        # midpoints were among the k returned when the k-th lies beyond that (or none is left
        # within the radius asked, and that radius reaches beyond best_d + half).
        complete = (~found_last | (d_mid[:, -1] > bound)) & (full | (bound < reach))
        if k == m and full:
            complete[:] = True
        return piece, best_d, best_t, complete

    def _grid_answers(self, xy: np.ndarray, max_distance_m: float) -> tuple[np.ndarray, ...]:
        """:meth:`_grid_query`, on two threads for many points (as the KD-tree).

        Each thread takes one half of the map (the points in cell order, cut in two), so each
        works through half of the pieces.
        """
        threads = 2 if len(xy) >= _THREADS_FROM and cores() >= 2 else 1
        return self._grid_query(xy, max_distance_m, threads=threads)

    def _grid_query(
        self, xy: np.ndarray, max_distance_m: float, *, threads: int = 1
    ) -> tuple[np.ndarray, ...]:
        """Nearest piece among those listed in each point's cell: ``(piece, d, t, complete)``.

        The points are taken in cell order, so the cell lists and the pieces are read about in
        the order they are stored (a sweep over the map, not a jump per point); the candidates
        of a block of points are one flat array (:meth:`_listed`).
        """
        grid = self.grid
        assert grid is not None
        n = len(xy)
        piece = np.zeros(n, dtype=np.int64)
        best_d = np.full(n, np.inf)
        best_t = np.zeros(n)
        cell, margin = grid.locate(xy)
        inside = np.maximum(cell, 0)
        start = np.where(cell >= 0, grid.indptr[inside], 0)
        count = np.where(cell >= 0, grid.indptr[inside + 1] - start, 0)
        order = np.argsort(cell)
        order = order[count[order] > 0]  # (outside the grid, or a cell listing nothing)
        parts = np.array_split(order, threads) if len(order) else [order]
        if len(parts) > 1:
            with ThreadPoolExecutor(len(parts)) as pool:  # numpy lets go of the GIL in its loops
                answers = list(pool.map(lambda rows: self._listed(xy, start, count, rows), parts))
        else:
            answers = [self._listed(xy, start, count, parts[0])]
        for rows, (j_, d_, t_) in zip(parts, answers, strict=True):
            piece[rows], best_d[rows], best_t[rows] = j_, d_, t_
        # A piece the cell does not list lies beyond reach_m + margin (see _Grid).
        complete = np.minimum(best_d, max_distance_m) < grid.reach_m + margin - _PROOF_EPS_M
        return piece, best_d, best_t, complete

    def _listed(
        self, xy: np.ndarray, start: np.ndarray, count: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """Nearest listed piece of the points ``rows`` (each listing ``count`` pieces from
        ``start`` in the grid): ``(piece, d, t)``, as :meth:`_project` with ``tie_break``.

        Every (point, listed piece) pair of a block is one element of flat arrays: the same
        arithmetic as :meth:`_project`, element for element, without grouping points by how
        many pieces they list. A point with several candidates within :data:`_NEAR` of its
        least squared distance (a tie, as at a node) is decided by :meth:`_project` itself.
        """
        grid = self.grid
        assert grid is not None
        piece = np.zeros(len(rows), dtype=np.int64)
        best_d = np.full(len(rows), np.inf)
        best_t = np.zeros(len(rows))
        x, y = xy[:, 0], xy[:, 1]
        tied: list[np.ndarray] = []
        for lo in range(0, len(rows), _BLOCK):
            r = rows[lo : lo + _BLOCK]
            c = count[r]
            offset = np.cumsum(c) - c
            step = np.arange(int(offset[-1] + c[-1])) - np.repeat(offset, c)
            j = np.take(grid.pieces, np.repeat(start[r], c) + step)
            candidate = np.take(self.packed, j, axis=0)
            ax, ay, bx, by, den = (candidate[:, i] for i in range(5))
            apx = np.repeat(np.take(x, r), c) - ax
            apy = np.repeat(np.take(y, r), c) - ay
            t, ex, ey, d2 = _offsets(apx, apy, bx, by, den)
            least = np.minimum.reduceat(d2, offset)
            near = d2 <= np.repeat(least * (1.0 + _NEAR) + _NEAR_ABS, c)
            n_near = np.add.reduceat(near, offset, dtype=np.int64)
            # The first near candidate of each point (its only one, but where tied).
            first = np.flatnonzero(near)[np.cumsum(n_near) - n_near]
            out = slice(lo, lo + len(r))
            piece[out] = np.take(j, first)
            best_d[out] = np.hypot(np.take(ex, first), np.take(ey, first))
            best_t[out] = np.take(t, first)
            tied.append(lo + np.flatnonzero(n_near > 1))
        again = np.concatenate(tied) if tied else np.zeros(0, dtype=np.int64)
        if len(again):  # ties: by pieces listed, one rectangular gather per count
            by_count = again[np.argsort(count[rows[again]], kind="stable")]
            widths = count[rows[by_count]]
            for width in np.unique(widths):
                group = by_count[widths == width]
                r = rows[group]
                j = np.take(grid.pieces, start[r, None] + np.arange(width))
                piece[group], best_d[group], best_t[group] = self._project(
                    np.take(xy, r, axis=0), j, tie_break=True
                )
        return piece, best_d, best_t

    def _project(
        self, xy: np.ndarray, j: np.ndarray, *, tie_break: bool = False
    ) -> tuple[np.ndarray, ...]:
        """Nearest of the candidate pieces ``j`` (``m``: none) per point: piece, distance, t.

        Among pieces at the same distance the first candidate wins; the KD-tree lists them by
        distance to their midpoints, and ``tie_break`` applies that same rule to candidates
        listed in another order (the grid), so both give the same piece.
        """
        found = j < len(self.a)
        every = bool(found.all())
        candidate = np.take(self.packed, j if every else np.where(found, j, 0), axis=0)
        ax, ay, bx, by, den = (candidate[..., i] for i in range(5))
        # (in place where possible: the same operations in the same order, fewer temporaries)
        apx, apy = xy[:, :1] - ax, xy[:, 1:] - ay
        # Candidates are compared by squared distance (hypot, exact but careful, costs ten
        # times more); the distance is ``hypot`` of the winner. Only candidates within a
        # relative _NEAR of the least squared distance can be as near as the winner once
        # rounded (:data:`_NEAR`): where several are, hypot orders them, as it did all.
        t, ex, ey, d2 = _offsets(apx, apy, bx, by, den)
        if not every:
            d2[~found] = np.inf
        rows = np.arange(len(xy))
        best = np.argmin(d2, axis=1)
        least = d2[rows, best]
        near = d2 <= (least * (1.0 + _NEAR) + _NEAR_ABS)[:, None]
        if not every:
            near &= found
        several = np.flatnonzero(np.count_nonzero(near, axis=1) > 1)
        if len(several):
            dist = np.where(near[several], np.hypot(ex[several], ey[several]), np.inf)
            pick = np.argmin(dist, axis=1)
            if tie_break:
                tied = dist == dist[np.arange(len(several)), pick][:, None]
                again = np.flatnonzero(np.count_nonzero(tied, axis=1) > 1)
                if len(again):
                    which = several[again]
                    mid = self.tree.data[j[which]]
                    d_mid = (xy[which, None, 0] - mid[..., 0]) ** 2 + (
                        xy[which, None, 1] - mid[..., 1]
                    ) ** 2
                    pick[again] = np.argmin(np.where(tied[again], d_mid, np.inf), axis=1)
            best[several] = pick
        best_d = np.hypot(ex[rows, best], ey[rows, best])
        if not every:
            best_d[~found[rows, best]] = np.inf
        return j[rows, best], best_d, t[rows, best]


_K_STEPS = ((8, 50.0), (16, np.inf), (128, np.inf))
"""``(k, near_m)``: nearest midpoints asked per point, in turn, until they prove the nearest
piece; ``near_m``: the nearest-piece distance a step can prove (its tree search stops at that
plus half a piece: a short radius keeps the search small for the usual point near a road)."""
_BLOCK = 4096
"""Points per block of the projection arithmetic."""
_NEAR = 1e-12
"""Relative margin of squared distances within which :meth:`_Pieces._project` orders candidates
by ``hypot`` (rounding moves a squared distance by a few 1e-16 and hypot by less: a candidate
farther than this is farther by hypot too)."""
_NEAR_ABS = 1e-250
"""Absolute margin of the same (squares of distances below 1e-125 m lose precision)."""
_PROOF_EPS_M = 1e-6
"""Margin of the grid's proof against rounding (a point that close to its bound goes on)."""
_THREADS_FROM = 20_000
"""Points from which the KD-tree query runs on every core (below, threads cost more)."""
_SORT_FROM = 2048
"""Points are put in spatial order first from this many on (locality of the tree walks)."""
_SORT_CELL_M = 250.0
"""Cell size of the spatial order of points and pieces."""


def _spatial_order(xy: np.ndarray, cell_m: float = _SORT_CELL_M) -> np.ndarray:
    """Positions of ``xy`` by rows of square cells, cells in a row alternately left/right."""
    if len(xy) == 0 or not np.isfinite(xy).all():
        return np.arange(len(xy))  # (the KD-tree refuses non-finite points with a clear error)
    cell = np.floor((xy - xy.min(axis=0)) / cell_m).astype(np.int64)
    width = int(cell[:, 0].max()) + 1
    col = np.where(cell[:, 1] % 2 == 0, cell[:, 0], width - 1 - cell[:, 0])
    return np.argsort(cell[:, 1] * width + col)


def _midpoint_tree(a: np.ndarray, b: np.ndarray) -> cKDTree:
    """The KD-tree over piece midpoints (unbalanced build: 2-3x faster, queries as fast)."""
    return cKDTree(0.5 * (a + b), balanced_tree=False, compact_nodes=False)


def _pieces(graph: TravelGraph, name: str, keep: np.ndarray) -> _Pieces:
    key = f"_snap_pieces_{name}"
    if key not in graph.__dict__:  # cached with the graph, dropped when it is pickled
        graph.__dict__[key] = _Pieces.build(graph, np.flatnonzero(keep))
    pieces: _Pieces = graph.__dict__[key]
    return pieces


def _tiers(graph: TravelGraph, min_nodes: int) -> list[tuple[str, np.ndarray, bool]]:
    """Segment sets to snap onto, in order of preference: ``(name, mask, at_street_level)``.

    Street-level segments of the larger networks first, then street-level fragments, then
    bridges and tunnels (of the larger networks, then any); empty and repeated sets are left out.
    """
    main = graph.segment_component_size >= min_nodes
    street = graph.seg_street if graph.seg_street is not None else np.ones(len(main), bool)
    every = np.ones(len(main), bool)
    wanted = [
        (f"street_main{min_nodes}", street & main, True),
        ("street", street, True),
        (f"main{min_nodes}", main, False),
        ("all", every, False),
    ]
    tiers: list[tuple[str, np.ndarray, bool]] = []
    seen: list[np.ndarray] = []
    for name, mask, level in wanted:
        if not mask.any() or any(np.array_equal(mask, m) for m in seen):
            continue
        seen.append(mask)
        tiers.append((name, mask, level))
    return tiers


def snap_points(
    graph: TravelGraph,
    xy: np.ndarray,
    *,
    max_distance_m: float,
    min_component_nodes: int = 20,
) -> Snapped:
    """Project points (metric coordinates, shape ``(n, 2)``) onto their nearest road segment.

    Points join the roads at street level (:func:`planner.access.street_level`): a house
    beside an elevated expressway over a street joins the street; a bridge or tunnel is used
    only when no street-level segment lies within ``max_distance_m`` (those points are marked
    in :attr:`Snapped.off_street`). Likewise segments of road fragments with fewer than
    ``min_component_nodes`` nodes (a footpath ending on an untagged square, a cut-off piece at
    the edge of an extract) are used only when no segment of a larger network lies within
    ``max_distance_m``: otherwise a house beside such a fragment would be marked unreachable
    although a connected street is near. Points farther than ``max_distance_m`` from every
    segment are left unsnapped.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    n = len(xy)
    segment = np.full(n, -1, dtype=np.int64)
    fraction = np.zeros(n)
    access = np.full(n, np.inf)
    off_street = np.zeros(n, bool)
    if n == 0 or len(graph.seg_u) == 0:
        return Snapped(segment, fraction, access, off_street)
    todo = np.arange(n)
    for name, keep, level in _tiers(graph, min_component_nodes):
        if len(todo) == 0:
            break
        # Fast path: a KD-tree over short straight pieces of the segments of this tier.
        pieces = _pieces(graph, name, keep)
        j, dist, t, complete = pieces.nearest(xy[todo], max_distance_m)
        hit = complete & (dist <= max_distance_m)
        rows, jh = todo[hit], j[hit]
        seg = np.take(pieces.segment, jh)
        segment[rows] = seg
        access[rows] = dist[hit]
        ab = np.take(pieces.packed, jh, axis=0)[:, 2:4]  # (np.take: faster than [ ])
        along = np.take(pieces.start_m, jh) + t[hit] * np.hypot(ab[:, 0], ab[:, 1])
        total = np.take(pieces.total_m, seg)
        # A point at a node is at the node exactly (one-way rules must not see 1e-12 of a road).
        along = np.where(along < 1e-6, 0.0, np.where(total - along < 1e-6, total, along))
        fraction[rows] = along / np.maximum(total, 1e-12)
        # Exact R-tree queries for the few points the fast path could not prove.
        _rtree_snap(
            graph, xy, todo[~complete], segment, fraction, access, max_distance_m, name, keep
        )
        off_street[todo] = ~level & (segment[todo] >= 0)
        todo = todo[segment[todo] < 0]
    if off_street.any():
        log.info(
            "%d of %d points join the roads on a bridge or in a tunnel: no street-level road "
            "within %g m",
            int(off_street.sum()),
            n,
            max_distance_m,
        )
    return Snapped(segment, np.clip(fraction, 0.0, 1.0), access, off_street)


def _rtree_snap(
    graph: TravelGraph,
    xy: np.ndarray,
    which: np.ndarray,
    segment: np.ndarray,
    fraction: np.ndarray,
    access: np.ndarray,
    max_distance_m: float,
    name: str,
    keep: np.ndarray,
) -> None:
    if len(which) == 0:
        return
    points = shapely.points(xy[which])
    if keep.all():
        (idx, seg), dist = graph.segment_tree.query_nearest(
            points, max_distance=max_distance_m, return_distance=True, all_matches=False
        )
    else:
        (idx, pos), dist = graph.subset_tree(name, keep).query_nearest(
            points, max_distance=max_distance_m, return_distance=True, all_matches=False
        )
        seg = np.flatnonzero(keep)[pos]
    rows = which[idx]
    segment[rows] = seg
    access[rows] = dist
    fraction[rows] = shapely.line_locate_point(
        graph.seg_geometry[seg], points[idx], normalized=True
    )


def _offsets(
    apx: np.ndarray, apy: np.ndarray, bx: np.ndarray, by: np.ndarray, den: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points against pieces: the position ``t`` (0..1) of each point's projection on its
    piece, the offset ``(ex, ey)`` from it to the point and its squared length ``d2``.

    ``apx, apy`` is the point less the piece's start, ``bx, by`` the piece's direction and
    ``den`` its squared length (the packed pieces). Worked in place where possible, the same
    operations in the same order for every caller (so equal inputs give equal bits);
    ``apx`` and ``apy`` are overwritten (``d2`` is written into ``apx``).
    """
    t = apx * bx
    t += apy * by
    t /= den
    np.clip(t, 0.0, 1.0, out=t)
    ex, ey = t * bx, t * by
    np.subtract(apx, ex, out=ex)
    np.subtract(apy, ey, out=ey)
    d2 = np.multiply(ex, ex, out=apx)
    d2 += np.multiply(ey, ey, out=apy)
    return t, ex, ey, d2
