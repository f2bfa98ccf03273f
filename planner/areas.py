"""Service-area polygons drawn from the road pieces actually reached within the time limit."""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from planner import reach
from planner.network import TravelGraph, kept_path, load_kept, save_kept
from planner.reach import NodeTimes, _directed, _part, same_segment
from planner.runtime import cores
from planner.snap import Snapped

log = logging.getLogger(__name__)

AREAS_FORMAT = 1
"""Layout of the service-area files kept beside a compiled network (their key also digests
this module and :mod:`planner.reach` byte for byte: edited drawing code never reads old
drawings)."""
AREAS_KEPT = 18
"""Drawings kept per compiled network, the most recently used (three runs of six tiers);
older ones are deleted."""


def service_area_polygons(
    graph: TravelGraph,
    nodes: NodeTimes,
    sources: Snapped,
    *,
    limit_s: float,
    cache_file: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """The service area of each source reached within ``limit_s``: labels and polygons.

    :func:`reached_pieces` drawn by :func:`area_polygons`. With ``cache_file`` (a compiled
    network's cache, :attr:`planner.network.RoadNetwork.cache_file`) the drawing is kept
    beside it, keyed by everything it depends on (the graph's segments and times, the
    searched times, the sources' snaps, the limit and :data:`AREAS_FORMAT`), and reused by
    the next run with the same sites: redrawing a county's areas takes most of a warm run.
    The key also digests the drawing code itself, so a changed rule never reads an old
    drawing.

    Returns
    -------
    labels, polygons
        The sources (positions in ``sources``) that reach some road, and their areas.
    """
    path = _areas_path(cache_file, graph, nodes, sources, limit_s)
    kept = _load_areas(path) if path is not None else None
    if kept is not None:
        return kept
    pieces, src = reached_pieces(graph, nodes, sources, limit_s=limit_s)
    labels, polygons = area_polygons(pieces, src)
    if path is not None:
        _save_areas(path, labels, polygons)
    return labels, polygons


def _areas_path(
    cache_file: str, graph: TravelGraph, nodes: NodeTimes, sources: Snapped, limit_s: float
) -> Path | None:
    """Where the drawing of these inputs is kept beside ``cache_file`` (``None``: not kept)."""
    if not cache_file:
        return None
    head = f"{AREAS_FORMAT}|{graph.mode}|{graph.speed_kmh!r}|{limit_s!r}|{nodes.toward}"
    digest = hashlib.sha256(head.encode())
    for module in (__file__, reach.__file__):  # the drawing code, byte for byte
        digest.update(Path(module).read_bytes())
    for array in (
        graph.seg_u,
        graph.seg_v,
        graph.seg_t_fwd,
        graph.seg_t_bwd,
        nodes.seconds,
        nodes.source,
        sources.segment,
        sources.fraction,
        sources.access_m,
    ):
        digest.update(np.ascontiguousarray(array).tobytes())
    return kept_path(cache_file, "areas", digest.hexdigest()[:32])


_WHAT = "service areas"


def _load_areas(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    arrays = load_kept(path, what=_WHAT, format_=AREAS_FORMAT)
    if arrays is None:
        return None
    try:
        blob, ends = arrays["wkb"].tobytes(), arrays["ends"]
        starts = np.r_[0, ends[:-1]]
        polygons = shapely.from_wkb([blob[a:b] for a, b in zip(starts, ends, strict=True)])
    except (KeyError, ValueError, shapely.errors.GEOSException) as exc:
        log.warning("ignoring unreadable %s %s (%s)", _WHAT, path, exc)
        return None
    return arrays["labels"], np.asarray(polygons, dtype=object)


def _save_areas(path: Path, labels: np.ndarray, polygons: np.ndarray) -> None:
    wkb = shapely.to_wkb(polygons) if len(polygons) else np.array([], dtype=object)
    arrays: dict[str, np.ndarray] = {
        "labels": np.asarray(labels, dtype=np.int64),
        "wkb": np.frombuffer(b"".join(wkb), dtype=np.uint8),
        "ends": np.cumsum([len(w) for w in wkb], dtype=np.int64),
    }
    save_kept(path, arrays, what=_WHAT, format_=AREAS_FORMAT, keep=AREAS_KEPT)


def reached_pieces(
    graph: TravelGraph,
    nodes: NodeTimes,
    sources: Snapped,
    *,
    limit_s: float,
    step_m: float = 25.0,
    block: int = 50_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Road pieces reached within ``limit_s`` and the source that reaches each.

    Segments are cut every ``step_m`` metres; a piece is kept up to the point where the time
    runs out (interpolated), so nothing beyond the limit is claimed. Segments are worked
    ``block`` at a time, which bounds the memory of the intermediate arrays.

    Returns
    -------
    ends, source
        The straight pieces as an ``(n, 2, 2)`` array of start and end points (metric CRS),
        and, for each, the index of its source. Arrays, not line strings: drawing burns them
        straight into a raster (:func:`area_polygons`), so no geometry object is made per piece.
    """
    _, t_fwd, t_bwd = _directed(graph, nodes.toward)
    d_u, d_v = nodes.seconds[graph.seg_u], nodes.seconds[graph.seg_v]
    hosts = np.unique(sources.segment[sources.ok])
    touched = np.flatnonzero((np.minimum(d_u, d_v) < limit_s) | np.isin(np.arange(len(d_u)), hosts))
    if len(touched) == 0:
        return np.zeros((0, 2, 2)), np.array([], dtype=np.int64)
    # Worked in blocks of segments: a county's reached roads are millions of vertices, and a
    # dozen temporary arrays of them would be most of the run's memory.
    blocks = [
        _reached_block(
            graph,
            nodes,
            sources,
            touched[i : i + block],
            (t_fwd, t_bwd, d_u, d_v),
            limit_s,
            step_m,
        )
        for i in range(0, len(touched), block)
    ]
    return (
        np.concatenate([b[0] for b in blocks]),
        np.concatenate([b[1] for b in blocks]),
    )


def _reached_block(
    graph: TravelGraph,
    nodes: NodeTimes,
    sources: Snapped,
    touched: np.ndarray,
    seconds: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    limit_s: float,
    step_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`reached_pieces` of the segments ``touched``.

    ``seconds``: per segment, the times along it forward and backward, and the times of its
    two end nodes (computed once for all blocks).
    """
    t_fwd, t_bwd, d_u, d_v = seconds
    xy, owner = graph.seg_lines.take(touched).segmentize(step_m)
    seg = touched[owner]
    step = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
    start = np.r_[True, owner[1:] != owner[:-1]]
    step[start] = 0.0
    along = np.cumsum(step)
    along -= np.maximum.accumulate(np.where(start, along, 0.0))
    total = np.bincount(owner, weights=step)[owner]
    x = np.divide(along, total, out=np.zeros_like(along), where=total > 0)

    via_u = _part(x, t_bwd[seg]) + d_u[seg]
    via_v = _part(1.0 - x, t_fwd[seg]) + d_v[seg]
    time = np.minimum(via_u, via_v)
    src = np.where(via_u <= via_v, nodes.source[graph.seg_u[seg]], nodes.source[graph.seg_v[seg]])
    # Vertices on a source's own segment may be reached directly along it.
    i, s, direct = same_segment(graph, sources, seg, x, toward=nodes.toward)
    better = direct < time[i]
    time[i[better]] = direct[better]
    src[i[better]] = s[better]

    a = np.flatnonzero(~start[1:])  # piece from vertex a to a + 1 on the same segment
    b = a + 1
    ta, tb = time[a], time[b]
    keep = (ta <= limit_s) | (tb <= limit_s)
    a, b, ta, tb = a[keep], b[keep], ta[keep], tb[keep]
    p, q = xy[a].copy(), xy[b].copy()
    a, p, q, ta, tb, piece_src = _split_at_meeting(
        a, b, p, q, ta, tb, src, x, (t_fwd[seg[a]] + t_bwd[seg[a]]) / 2
    )
    keep = (ta <= limit_s) | (tb <= limit_s)
    a, p, q, ta, tb, piece_src = a[keep], p[keep], q[keep], ta[keep], tb[keep], piece_src[keep]
    # Cut pieces that leave the limit at the point where time runs out.
    with np.errstate(invalid="ignore", divide="ignore"):
        cut_b = tb > limit_s
        frac = np.clip((limit_s - ta) / (tb - ta), 0.0, 1.0)
        q[cut_b] = p[cut_b] + (q[cut_b] - p[cut_b]) * frac[cut_b, None]
        cut_a = ta > limit_s
        frac = np.clip((limit_s - tb) / (ta - tb), 0.0, 1.0)
        p[cut_a] = q[cut_a] + (p[cut_a] - q[cut_a]) * frac[cut_a, None]
    ok = piece_src >= 0
    ends = np.stack([p[ok], q[ok]], axis=1)
    return ends, piece_src[ok]


def _split_at_meeting(
    a: np.ndarray,
    b: np.ndarray,
    p: np.ndarray,
    q: np.ndarray,
    ta: np.ndarray,
    tb: np.ndarray,
    src: np.ndarray,
    x: np.ndarray,
    seg_seconds: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Cut pieces whose ends two sources reach first where their times meet.

    Each half goes to the source that reaches it first, so a service area claims its road up
    to the meeting point rather than up to a whole piece beyond it.
    """
    tau = (x[b] - x[a]) * seg_seconds  # seconds to travel the piece
    split = (src[a] != src[b]) & (src[a] >= 0) & (src[b] >= 0) & np.isfinite(tau) & (tau > 0)
    piece_src = np.where(ta <= tb, src[a], src[b])
    if not split.any():
        return a, p, q, ta, tb, piece_src
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.clip((tb - ta + tau) / (2 * tau), 0.0, 1.0)
    f = np.where(split, f, 0.0)
    m = p + (q - p) * f[:, None]
    tm = ta + f * np.where(split, tau, 0.0)
    idx = np.repeat(np.arange(len(a)), np.where(split, 2, 1))
    second = np.r_[False, idx[1:] == idx[:-1]]
    first = split[idx] & ~second
    new_p, new_q, new_ta, new_tb = p[idx], q[idx], ta[idx], tb[idx]
    new_q[first], new_tb[first] = m[idx[first]], tm[idx[first]]
    new_p[second], new_ta[second] = m[idx[second]], tm[idx[second]]
    owner = piece_src[idx]
    owner[first] = src[a[idx[first]]]
    owner[second] = src[b[idx[second]]]
    return a[idx], new_p, new_q, new_ta, new_tb, owner


def area_polygons(
    pieces: np.ndarray,
    labels: np.ndarray,
    *,
    buffer_m: float = 60.0,
    fill_holes_m2: float = 40_000.0,
    cell_m: float = 10.0,
    tile: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw reached road pieces as one polygon per label (the strip beside the roads).

    The straight pieces (``(n, 2, 2)`` start and end points, from :func:`reached_pieces`) are
    burnt into a label raster of ``cell_m`` cells by sampling each piece every half cell;
    every cell within ``buffer_m`` of a burnt cell (the strip beside a road that residents
    reach on foot) takes the label of its nearest burnt cell, and the raster is polygonised.
    The raster is worked in tiles of ``tile`` x ``tile`` cells and only where pieces lie, so
    cost follows the reached roads' extent (not the county's, nor the number of labels) and
    the raster's memory stays bounded by one tile; an area that spans tiles is joined by one
    vectorised coverage union (the tiles' seams coincide exactly). Where strips of two labels
    overlap, each cell belongs to the nearer road, so areas do not overlap. Holes smaller than
    ``fill_holes_m2`` (blocks enclosed by reached roads) are filled; larger holes, such as a
    lake or hill inside a ring road, stay open.

    Returns
    -------
    labels, polygons
        The distinct labels and their (multi)polygons, in label order.
    """
    pieces = np.asarray(pieces, dtype=float).reshape(-1, 2, 2)
    if len(pieces) == 0:
        return np.array([], dtype=labels.dtype), np.array([], dtype=object)
    uniq, code = np.unique(labels, return_inverse=True)
    parts, owner, tile_of, grid = _raster_parts(
        pieces, code, buffer_m=buffer_m, cell_m=cell_m, tile=tile
    )
    polygons = np.empty(len(uniq), dtype=object)
    found = np.unique(owner)
    # An area within one tile is its tile's parts; one that spans tiles is joined by a
    # single vectorised coverage union, whose seams must share vertices: split every edge
    # there at each cell corner (coordinates are cells).
    pair = np.unique(np.column_stack([owner, tile_of]), axis=0)
    spans = np.bincount(pair[:, 0], minlength=len(uniq)) > 1
    joined = spans[owner]
    merged = np.empty(len(uniq), dtype=object)
    alone = ~joined
    if alone.any():
        idx = np.flatnonzero(alone)
        idx = idx[np.argsort(owner[idx], kind="stable")]
        one = shapely.multipolygons(parts[idx], indices=_dense(owner[idx]))
        single = shapely.get_num_geometries(one) == 1
        one[single] = shapely.get_geometry(one[single], 0)  # a Polygon stays a Polygon
        merged[np.unique(owner[idx])] = one
    if joined.any():
        spanning = np.unique(owner[joined])
        union = union_per_owner(
            shapely.segmentize(parts[joined], 1.0), owner[joined], coverage=True
        )
        # GDAL's polygons have vertices at corners only; the seams' split points are dropped
        # again by a light simplification that moves no edge (collinear vertices only).
        merged[spanning] = shapely.simplify(union, 0.1, preserve_topology=True)
    x0, y1, cell = grid
    polygons[found] = shapely.transform(
        merged[found], lambda xy: np.column_stack([x0 + xy[:, 0] * cell, y1 - xy[:, 1] * cell])
    )
    for k in np.setdiff1d(np.arange(len(uniq)), found):
        # every cell of this label went to a nearer road of another: draw its own strip
        lines = shapely.linestrings(pieces[code == k])
        polygons[k] = shapely.union_all(shapely.buffer(lines, buffer_m, quad_segs=4))
    if fill_holes_m2 > 0:
        polygons = fill_small_holes(polygons, fill_holes_m2)
    return uniq, _polygonal(polygons)


def _dense(owner: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 in sorted order (as ``shapely.multipolygons`` indices)."""
    return np.unique(owner, return_inverse=True)[1]


def union_per_owner(parts: np.ndarray, owner: np.ndarray, *, coverage: bool = False) -> np.ndarray:
    """The union of each owner's ``parts``, one per owner in sorted owner order.

    One vectorised call per thread: the owners are laid out as rows of a table padded with
    None, and on a process that may use two cores or more the rows are split between two
    threads by their count of parts (GEOS lets go of the interpreter). ``coverage`` says the
    parts of an owner only share edges (tiles of one area): GEOS's coverage union, faster.
    """
    order = np.argsort(owner, kind="stable")
    parts, owner = parts[order], owner[order]
    found, first, count = np.unique(owner, return_index=True, return_counts=True)
    table = np.full((len(found), int(count.max(initial=0))), None, dtype=object)
    table[
        np.repeat(np.arange(len(found)), count), np.arange(len(owner)) - np.repeat(first, count)
    ] = parts
    union = shapely.coverage_union_all if coverage else shapely.union_all
    done = np.cumsum(count)
    half = int(np.searchsorted(done, done[-1] / 2)) + 1 if len(done) else 0
    if cores() < 2 or half >= len(found):
        return np.asarray(union(table, axis=1), dtype=object)
    with ThreadPoolExecutor(max_workers=2) as pool:
        rows = pool.map(
            lambda t: np.asarray(union(t, axis=1), dtype=object), np.split(table, [half])
        )
        return np.concatenate(list(rows))


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Each geometry's polygons only: repairs (make_valid) may also return slivers as lines."""
    out = geoms.copy()
    types = shapely.get_type_id(geoms)
    for i in np.flatnonzero(types == shapely.GeometryType.GEOMETRYCOLLECTION):  # rare
        parts = shapely.get_parts(geoms[i])
        kinds = shapely.get_type_id(parts)
        polys = parts[
            np.isin(kinds, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
        ]
        out[i] = shapely.union_all(polys) if len(polys) else shapely.Polygon()
    return out


def _samples(pieces: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step`` (or closer) along each piece, both ends included, and their piece."""
    d = pieces[:, 1] - pieces[:, 0]
    n = np.ceil(np.hypot(d[:, 0], d[:, 1]) / step).astype(np.int64) + 1
    owner = np.repeat(np.arange(len(pieces)), n)
    first = np.cumsum(n) - n
    t = (np.arange(n.sum()) - first[owner]) / np.maximum(n - 1, 1)[owner]
    return pieces[owner, 0] + d[owner] * t[:, None], owner


def _raster_parts(
    pieces: np.ndarray, code: np.ndarray, *, buffer_m: float, cell_m: float, tile: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Polygons (in cell units) of each label's strip, tile by tile where pieces lie.

    Tiles are rastered (burn and distance transform, which free the interpreter) on a pool
    of two threads while this thread polygonises the tile before: at most three tiles are in
    memory at once. A process held to one core (``taskset``, a Dask worker of
    ``servicecircle province``) rasters each tile in this thread instead.

    Returns the polygons, the label and the tile (a number) of each, and the grid
    ``(x0, y1, cell_m)`` that maps cells to metres.
    """
    # Loaded here, once, before the pool's threads use them (first imports from several
    # threads at once are fragile): a run whose drawings are all kept, and a command that
    # draws none, does without them, a quarter of a second of start-up.
    import rasterio.features  # noqa: F401
    import scipy.ndimage  # noqa: F401

    x0, y1 = pieces[..., 0].min(), pieces[..., 1].max()
    halo = int(np.ceil(buffer_m / cell_m)) + 2
    x0, y1 = x0 - halo * cell_m, y1 + halo * cell_m
    # Pieces in cell units (column, row); each is sampled every half cell, tile by tile.
    cr = np.empty_like(pieces)
    cr[..., 0] = (pieces[..., 0] - x0) / cell_m
    cr[..., 1] = (y1 - pieces[..., 1]) / cell_m
    grid = _TileGrid(cr, code, halo=halo, tile=tile, reach=buffer_m / cell_m - 1.0)
    parts: list[np.ndarray] = []
    owner: list[np.ndarray] = []
    tile_of: list[np.ndarray] = []
    with ThreadPoolExecutor(max_workers=2) if cores() > 1 else _InThisThread() as pool:
        pending: deque[tuple[int, Future[np.ndarray | None]]] = deque()
        todo = iter(range(len(grid.ids)))
        for i in itertools.islice(todo, 2):
            pending.append((i, pool.submit(grid.raster, i)))
        while pending:  # one per tile of reached roads, not per piece or label
            i, job = pending.popleft()
            raster = job.result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(grid.raster, nxt)))
            if raster is None:
                continue
            polygons, labels = grid.polygons(i, raster)
            parts.append(polygons)
            owner.append(labels)
            tile_of.append(np.full(len(labels), grid.ids[i], dtype=np.int64))
    if not parts:
        empty = np.array([], dtype=np.int64)
        return np.array([], dtype=object), empty, empty, (x0, y1, cell_m)
    return np.concatenate(parts), np.concatenate(owner), np.concatenate(tile_of), (x0, y1, cell_m)


class _InThisThread:
    """Runs each raster at once in the calling thread: on one core a pool only takes turns."""

    def __enter__(self) -> _InThisThread:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[[int], np.ndarray | None], i: int) -> Future[np.ndarray | None]:
        """A finished future of ``fn(i)``."""
        future: Future[np.ndarray | None] = Future()
        future.set_result(fn(i))
        return future


_CHUNK = 20_000
"""Pieces sampled at a time while a tile is rastered: bounds the samples' memory (a county's
busiest tile has hundreds of thousands of pieces, two tiles are rastered at once)."""


class _TileGrid:
    """The tiles of ``tile`` x ``tile`` cells that pieces (in cell units) touch, with a halo."""

    def __init__(
        self, cr: np.ndarray, code: np.ndarray, *, halo: int, tile: int, reach: float
    ) -> None:
        self.cr, self.code, self.halo, self.tile = cr, code, halo, tile
        # A burnt cell's centre lies up to 0.7 cells off its road and a polygon's corner 0.7
        # cells off its cell centre: ``reach`` (buffer less one cell) keeps the drawn strip
        # within the buffer + 0.4 cells.
        self.reach = reach
        # Tiles touched by each piece's box grown by the halo: most pieces lie in one tile;
        # only the others are expanded to one row per tile (a county has millions of pieces,
        # so nothing here is made per piece and tile beyond what is needed).
        (c0, c1), (r0, r1) = (
            (
                (np.minimum(cr[:, 0, d], cr[:, 1, d]).astype(np.int32) - halo) // tile,
                (np.maximum(cr[:, 0, d], cr[:, 1, d]).astype(np.int32) + halo) // tile,
            )
            for d in (0, 1)
        )
        self.width = int(c1.max()) + 1 if len(c1) else 1
        one = (c0 == c1) & (r0 == r1)
        multi = np.flatnonzero(~one)
        span_c, span_r = c1[multi] - c0[multi] + 1, r1[multi] - r0[multi] + 1
        n = span_c * span_r
        k = np.repeat(multi, n)
        off = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        at = np.repeat(np.arange(len(multi)), n)
        tr = r0[k] + off // span_c[at]
        tc = c0[k] + off % span_c[at]
        piece = np.r_[np.flatnonzero(one), k]
        tile_id = np.r_[
            r0[one].astype(np.int64) * self.width + c0[one], tr.astype(np.int64) * self.width + tc
        ]
        del c0, c1, r0, r1, one, multi, k, off, at, tr, tc
        # by tile, and within a tile in piece order (the order pieces are burnt in)
        order = np.argsort(tile_id * len(cr) + piece)
        self.pieces, tile_id = piece[order], tile_id[order]
        self.ids, first = np.unique(tile_id, return_index=True)
        self.bounds = np.r_[first, len(piece)]

    def origin(self, i: int) -> tuple[int, int]:
        """Row and column (cells) of the i-th tile's haloed corner."""
        tid = int(self.ids[i])
        return (tid // self.width) * self.tile - self.halo, (
            tid % self.width
        ) * self.tile - self.halo

    def raster(self, i: int) -> np.ndarray | None:
        """The i-th tile's labels (0: none): each cell within reach takes its nearest road's."""
        halo, size = self.halo, self.tile + 2 * self.halo
        r0, c0 = self.origin(i)
        mine = self.pieces[self.bounds[i] : self.bounds[i + 1]]
        cells = [
            self._cells(mine[j : j + _CHUNK], r0, c0, size) for j in range(0, len(mine), _CHUNK)
        ]
        row, col, value = (np.concatenate([c[k] for c in cells]) for k in range(3))
        if len(row) == 0:
            return None
        # Only cells within the halo of a burnt cell can be reached: the distance transform
        # runs on that window of the tile (a tile of a sparse tier is mostly empty).
        r_lo, r_hi = max(int(row.min()) - halo, 0), min(int(row.max()) + halo + 1, size)
        c_lo, c_hi = max(int(col.min()) - halo, 0), min(int(col.max()) + halo + 1, size)
        burnt = np.zeros((r_hi - r_lo, c_hi - c_lo), dtype=np.int32)
        burnt[row - r_lo, col - c_lo] = value
        from scipy.ndimage import distance_transform_edt  # (loaded by _raster_parts)

        dist, (iy, ix) = distance_transform_edt(burnt == 0, return_indices=True)
        near = np.zeros((size, size), dtype=np.int32)
        near[r_lo:r_hi, c_lo:c_hi] = np.where(dist <= self.reach, burnt[iy, ix], 0)
        raster = near[halo : halo + self.tile, halo : halo + self.tile]
        return raster if raster.any() else None

    def _cells(
        self, pieces: np.ndarray, r0: int, c0: int, size: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row, column (in the tile) and label + 1 of the cells that ``pieces`` cross."""
        xy, which = _samples(self.cr[pieces], 0.5)
        col = np.floor(xy[:, 0]).astype(np.int32) - c0
        row = np.floor(xy[:, 1]).astype(np.int32) - r0
        inside = (col >= 0) & (col < size) & (row >= 0) & (row < size)
        value = (self.code[pieces[which[inside]]] + 1).astype(np.int32)
        return row[inside], col[inside], value

    def polygons(self, i: int, raster: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The polygons (cell units) of the i-th tile's labels, and the label of each."""
        import rasterio.features  # (loaded by _raster_parts)
        from affine import Affine

        r0, c0 = self.origin(i)
        cells = Affine(1.0, 0.0, float(c0 + self.halo), 0.0, 1.0, float(r0 + self.halo))
        rings: list[Any] = []
        ring_counts: list[int] = []
        labels: list[int] = []
        for geom, value in rasterio.features.shapes(
            raster, mask=raster > 0, connectivity=4, transform=cells
        ):
            rings.extend(geom["coordinates"])
            ring_counts.append(len(geom["coordinates"]))
            labels.append(int(value) - 1)
        # made into geometries tile by tile: GDAL's rings are Python tuples, heavy to keep
        polygons = _polygons_from_rings(rings, np.asarray(ring_counts, dtype=np.int64))
        return polygons, np.asarray(labels, dtype=np.int64)


def _polygons_from_rings(rings: list[Any], ring_counts: np.ndarray) -> np.ndarray:
    """Polygons from GeoJSON rings (shell then holes), ``ring_counts[i]`` rings for the i-th.

    One vectorised construction for all polygons instead of one shapely object per ring.
    """
    if not rings:
        return np.array([], dtype=object)
    sizes = np.fromiter((len(r) for r in rings), dtype=np.int64, count=len(rings))
    xy = np.array(list(itertools.chain.from_iterable(rings)), dtype=float).reshape(-1, 2)
    ring_geoms = shapely.linearrings(xy, indices=np.repeat(np.arange(len(rings)), sizes))
    polygon_of = np.repeat(np.arange(len(ring_counts)), ring_counts)
    return np.asarray(shapely.polygons(ring_geoms, indices=polygon_of), dtype=object)


def fill_small_holes(polygons: np.ndarray, max_area_m2: float) -> np.ndarray:
    """Drop interior rings smaller than ``max_area_m2`` from (multi)polygons."""
    parts, owner = shapely.get_parts(polygons, return_index=True)
    shells = shapely.get_exterior_ring(parts)
    rings, ring_owner = shapely.get_rings(parts, return_index=True)
    interior = np.r_[True, ring_owner[1:] != ring_owner[:-1]]  # first ring of a part is its shell
    holes, hole_owner = rings[~interior], ring_owner[~interior]
    big = shapely.area(shapely.polygons(holes)) >= max_area_m2
    holes, hole_owner = holes[big], hole_owner[big]
    fixed = np.empty(len(parts), dtype=object)
    order = np.argsort(hole_owner, kind="stable")
    holes, hole_owner = holes[order], hole_owner[order]
    bounds = np.searchsorted(hole_owner, np.arange(len(parts) + 1))
    for k in range(len(parts)):  # one per polygon part, not per road or resident
        fixed[k] = shapely.Polygon(shells[k], holes[bounds[k] : bounds[k + 1]])
    out = shapely.multipolygons(fixed, indices=owner)
    return np.asarray(shapely.make_valid(out), dtype=object)


def isochrone(
    graph: TravelGraph,
    xy: np.ndarray,
    *,
    minutes: float,
    max_snap_m: float,
    buffer_m: float = 60.0,
) -> shapely.Geometry | None:
    """The area reached from a point (metric ``xy``) within ``minutes``, drawn from roads.

    Returns ``None`` when the point is farther than ``max_snap_m`` from any usable road.
    """
    from planner.reach import search
    from planner.snap import snap_points

    snap = snap_points(graph, np.asarray(xy, float).reshape(1, 2), max_distance_m=max_snap_m)
    if not snap.ok[0]:
        return None
    limit = minutes * 60.0
    nodes = search(graph, snap, limit_s=limit, toward=False)
    pieces, src = reached_pieces(graph, nodes, snap, limit_s=limit)
    _, polygons = area_polygons(pieces, src, buffer_m=buffer_m)
    if len(polygons) == 0:
        return shapely.buffer(shapely.points(np.asarray(xy, float).reshape(2)), 1.0)
    return polygons[0]
