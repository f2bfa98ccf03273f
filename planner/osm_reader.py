"""Read OSM road networks straight into arrays: pyosmium ways, numpy simplification, no graph.

The result equals what osmnx builds from the same roads (``graph_from_xml(bidirectional=False,
retain_all=True)``, ``simplify_graph``, ``add_edge_speeds``) compiled by
:meth:`planner.network.RoadNetwork.from_graph`: the same nodes, the same directed edges with
the same geometries and lengths, the same highway types and imputed speeds.

Where a simplified edge merges ways whose values of a tag differ, osmnx keeps the distinct
values as a list in hash order and the first is taken, so the pick changes between Python
processes. Here the value on the longest stretch of the edge wins (ties: the value first in
alphabetical order); ways without the tag take no part, as in osmnx. The rule depends only on
the merged pieces, so an edge and its reverse twin always agree. Speeds follow osmnx exactly:
a merged edge's observed speed is the mean of its distinct ``maxspeed`` values.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from planner.access import WAY_TAGS
from planner.errors import InputError
from planner.lines import Lines

if TYPE_CHECKING:
    import osmium
    from pyproj import CRS

log = logging.getLogger(__name__)

# Tags read from every road way: highway first, then the shared per-edge tags.
_KEYS: tuple[str, ...] = ("highway", *WAY_TAGS)

# osmnx's one-way semantics (osmnx.graph._add_paths with bidirectional=False).
_ONEWAY_VALUES = frozenset({"yes", "true", "1", "-1", "reverse", "T", "F"})
_REVERSED_VALUES = frozenset({"-1", "reverse", "T"})

# libosmium stores coordinates as integers of 1e-7 degrees; an undefined location is out of range.
_PRECISION = 10_000_000
_MAX_X = 180 * _PRECISION
_MAX_Y = 90 * _PRECISION


def read_osm_network(
    path: str | Path,
    *,
    simplify: bool = True,
    not_roads: frozenset[str],
    fallback_kph: float,
    highway_speeds: dict[str, float],
    reexport: str,
    edge_attrs_differ: tuple[str, ...] = (),
    remove_rings: bool = True,
) -> dict[str, object]:
    """Read the roads of an OSM file (``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``).

    Keeps ways tagged ``highway=*`` less those in ``not_roads`` and closed highway areas
    (``area=yes``); ways cut by the edge of an extract are split where their nodes are missing.

    Parameters
    ----------
    path
        The OSM file.
    simplify
        Merge chains of interstitial nodes as ``osmnx.simplification.simplify_graph`` does.
    not_roads
        Highway values that are no road.
    fallback_kph, highway_speeds
        Speed imputation as ``osmnx.routing.add_edge_speeds(hwy_speeds=..., fallback=...)``.
    reexport
        What the user should do when the file has no roads (ends the error message).
    edge_attrs_differ, remove_rings
        As ``simplify_graph``'s: keep nodes where these tags (``highway`` or
        :data:`planner.access.WAY_TAGS`; ``oneway`` as osmnx's flag) change; drop components
        that are a lone ring.

    Returns
    -------
    dict
        The keyword arguments of :class:`planner.network.RoadNetwork` but ``source``.

    Raises
    ------
    InputError
        When the file has no roads; osmium's own errors pass through for the caller to word.
    """
    path = Path(path)
    ways = _collect_ways(path, not_roads)
    graph = None if ways is None else _directed_edges(*ways)
    if graph is None or graph.pieces == 0:  # no road with two nodes in the extract
        msg = f"{path}: no roads found (no ways tagged highway=*); {reexport} with its roads"
        raise InputError(msg)
    sigs = ways[-1]  # type: ignore[index]
    del ways  # the ways' node lists: the graph holds what is needed of them
    if graph.clipped:
        log.info("%s: %d ways cut by the edge of the extract kept in pieces", path, graph.clipped)
    differ = _differ_codes(sigs, edge_attrs_differ) if simplify else None
    return _compile(graph, sigs, simplify, differ, remove_rings, fallback_kph, highway_speeds, path)


# --- reading ways ------------------------------------------------------------------------------


def highway_ways(path: str | Path) -> Iterable[osmium.osm.Way]:
    """The ways tagged ``highway=*`` of an OSM file, with their node locations (pyosmium)."""
    import osmium

    # The entity filter lets only ways through; the processor's own type is any OSM object.
    return cast(
        "Iterable[osmium.osm.Way]",
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway")),
    )


def _collect_ways(
    path: Path, not_roads: frozenset[str]
) -> (
    tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[tuple[str, ...]]] | None
):
    """Node ids and fixed-point coordinates of every road way, one tag signature per way."""

    refs = array("q")
    xs = array("i")
    ys = array("i")
    way_len = array("q")
    way_sig = array("q")
    codes: dict[tuple[str, ...], int] = {}
    processor = highway_ways(path)
    sigs: list[tuple[str, ...]] = []
    by_tags: dict[tuple[tuple[str, str], ...], int] = {}  # a way's tags -> signature, -1: no road
    for way in processor:  # the one Python loop: pyosmium hands over ways one by one
        tags = way.tags
        # Sized, not iterated to its end: a StopIteration per way costs more than the tags.
        step = iter(tags)
        pairs = tuple([next(step) for _ in range(len(tags))])
        code = by_tags.get(pairs)
        if code is None:
            code = by_tags[pairs] = _signature(dict(pairs), not_roads, codes, sigs)
        if code < 0:
            continue
        nodes = way.nodes
        for ref in nodes:
            location = ref.location
            refs.append(ref.ref)
            xs.append(location.x)
            ys.append(location.y)
        way_len.append(len(nodes))
        way_sig.append(code)
    if not way_len:
        return None
    return (
        np.frombuffer(refs, dtype=np.int64),
        np.frombuffer(xs, dtype=np.int32),
        np.frombuffer(ys, dtype=np.int32),
        np.frombuffer(way_len, dtype=np.int64),
        np.frombuffer(way_sig, dtype=np.int64),
        sigs,
    )


def _signature(
    tags: dict[str, str],
    not_roads: frozenset[str],
    codes: dict[tuple[str, ...], int],
    sigs: list[tuple[str, ...]],
) -> int:
    """The number of a road way's values of ``_KEYS`` (registered on first sight), -1 if no road."""
    if tags.get("highway") in not_roads or tags.get("area") == "yes":
        return -1
    sig = tuple([tags.get(k, "") for k in _KEYS])
    if sig not in codes:
        codes[sig] = len(sigs)
        sigs.append(sig)
    return codes[sig]


@dataclass(frozen=True)
class _Graph:
    """The unsimplified directed graph in osmnx's insertion order."""

    node_osmid: np.ndarray
    node_lonlat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    sig: np.ndarray
    clipped: int
    pieces: int


def _directed_edges(
    refs: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    way_len: np.ndarray,
    way_sig: np.ndarray,
    sigs: list[tuple[str, ...]],
) -> _Graph:
    n_ways = len(way_len)
    way_of = np.repeat(np.arange(n_ways), way_len)
    valid = (np.abs(xs.astype(np.int64)) <= _MAX_X) & (np.abs(ys.astype(np.int64)) <= _MAX_Y)
    clipped = int(np.count_nonzero(np.bincount(way_of[~valid], minlength=n_ways)))
    # A piece is a run of nodes with locations; a missing node ends one and starts the next.
    start = _opens(way_of)
    piece = np.cumsum(start | ~valid)  # each missing node opens a new (empty) run
    refs_v, way_v, piece_v = refs[valid], way_of[valid], piece[valid]
    # Every located node of a road way is a graph node, in order of first appearance.
    ids, first, inverse = np.unique(refs_v, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    node = rank[inverse]
    xy = np.column_stack([xs[valid], ys[valid]])[first[order]]
    # Runs of fewer than two nodes are no road; osmnx then drops consecutive duplicates.
    run_size = np.bincount(piece_v)
    keep = run_size[piece_v] >= 2
    node, way_v, piece_v = node[keep], way_v[keep], piece_v[keep]
    dup = np.zeros(len(node), dtype=bool)
    dup[1:] = (node[1:] == node[:-1]) & (piece_v[1:] == piece_v[:-1])
    node, way_v, piece_v = node[~dup], way_v[~dup], piece_v[~dup]
    pair = piece_v[1:] == piece_v[:-1]
    a, b, w = node[:-1][pair], node[1:][pair], way_v[:-1][pair]
    p = piece_v[:-1][pair]
    sig = way_sig[w]
    oneway_key = _KEYS.index("oneway")
    junction_key = _KEYS.index("junction")
    oneway = np.array(
        [s[oneway_key] in _ONEWAY_VALUES or s[junction_key] == "roundabout" for s in sigs]
    )
    reverse = np.array([s[oneway_key] in _REVERSED_VALUES for s in sigs]) & oneway
    rev = reverse[sig]
    fwd_u, fwd_v = np.where(rev, b, a), np.where(rev, a, b)
    # osmnx adds a way's edges in node order (reversed for oneway=-1), then their twins.
    pos = np.arange(len(a))
    pos = np.where(rev, -pos, pos)
    twin = ~oneway[sig]
    u = np.r_[fwd_u, fwd_v[twin]]
    v = np.r_[fwd_v, fwd_u[twin]]
    sort = np.lexsort(
        (np.r_[pos, pos[twin]], np.r_[np.zeros(len(a)), np.ones(twin.sum())], np.r_[p, p[twin]])
    )
    return _Graph(
        node_osmid=ids[order].astype(np.int64),
        node_lonlat=xy / _PRECISION,
        u=u[sort],
        v=v[sort],
        sig=np.r_[sig, sig[twin]][sort],
        clipped=clipped,
        pieces=int(np.count_nonzero(run_size >= 2)),
    )


# --- simplification ---------------------------------------------------------------------------


def _unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sorting beats numpy's hash table on these large int keys)."""
    x = np.sort(x)
    distinct: np.ndarray = x[_opens(x)]
    return distinct


def _endpoints(u: np.ndarray, v: np.ndarray, n: int, differ: np.ndarray | None) -> np.ndarray:
    """osmnx's ``_is_endpoint`` for every node, from its edge multiset.

    ``differ`` numbers each edge's values of the ``edge_attrs_differ`` tags: a node whose
    edges differ there is an endpoint (rule 5).
    """
    out_deg = np.bincount(u, minlength=n)
    in_deg = np.bincount(v, minlength=n)
    loop = np.zeros(n, dtype=bool)
    loop[u[u == v]] = True
    both = _unique(np.r_[u, v] * np.int64(n) + np.r_[v, u])
    neighbours = np.bincount(both // n, minlength=n)
    degree = in_deg + out_deg
    chain = (neighbours == 2) & ((degree == 2) | (degree == 4))
    endpoint = loop | (out_deg == 0) | (in_deg == 0) | ~chain
    if differ is not None and len(u):
        low = np.full(n, np.iinfo(np.int64).max)
        high = np.full(n, -1)
        for end in (u, v):
            np.minimum.at(low, end, differ)
            np.maximum.at(high, end, differ)
        endpoint |= (high >= 0) & (low != high)
    mask: np.ndarray = endpoint
    return mask


def _simplify(
    u: np.ndarray, v: np.ndarray, n: int, differ: np.ndarray | None
) -> tuple[np.ndarray, ...]:
    """Merge chains of interstitial nodes as ``osmnx.simplification.simplify_graph``.

    Returns
    -------
    kept_edges, path_pair, path_id, pair_u, pair_v, pair_edge, removed
        Indices of the original edges that stay; for the new edges, the unique directed node
        pairs they follow (``path_pair``, ordered along each new edge, ``path_id`` numbering
        the new edges); every unique pair's ends and its first original edge; the mask of
        the interstitial nodes removed.
    """
    endpoint = _endpoints(u, v, n, differ)
    # osmnx walks unique node pairs and takes the first of parallel edges.
    key = u * np.int64(n) + v
    pair_key, pair_edge = np.unique(key, return_index=True)
    pu, pv = u[pair_edge], v[pair_edge]
    m = len(pair_key)
    # The two neighbours of each interstitial node.
    und = _unique(np.r_[u, v] * np.int64(n) + np.r_[v, u])
    und_node, und_nbr = und // n, und % n
    first_nbr = np.full(n, -1, dtype=np.int64)
    last_nbr = np.full(n, -1, dtype=np.int64)
    first_nbr[und_node[::-1]] = und_nbr[::-1]
    last_nbr[und_node] = und_nbr
    # From pair (a, b) with b interstitial, the walk goes on to (b, c), c the other neighbour.
    inner = ~endpoint[pv]
    c = first_nbr[pv] + last_nbr[pv] - pu
    nxt_key = pv * np.int64(n) + c
    at = np.searchsorted(pair_key, nxt_key)
    at = np.minimum(at, m - 1)
    nxt = np.where(inner & (pair_key[at] == nxt_key), at, -1)
    prev = np.full(m, -1, dtype=np.int64)
    has = nxt >= 0
    prev[nxt[has]] = np.flatnonzero(has)
    # List ranking by pointer doubling: each pair's chain root and its step from there.
    root = np.where(prev >= 0, prev, np.arange(m))
    step = (prev >= 0).astype(np.int64)
    for _ in range(int(np.ceil(np.log2(max(m, 2)))) + 2):
        up = root[root]
        if np.array_equal(up, root):
            break
        step = step + step[root]
        root = up
    # An endpoint followed by an interstitial node opens a path; pairs on closed rings of
    # interstitial nodes have no such start and stay as they are.
    start = endpoint[pu] & inner
    on_path = (prev[root] < 0) & start[root]
    pairs = np.flatnonzero(on_path)
    pairs = pairs[np.lexsort((step[pairs], root[pairs]))]
    path_id = np.cumsum(_opens(root[pairs])) - 1
    removed = np.zeros(n, dtype=bool)
    removed[pv[pairs[nxt[pairs] >= 0]]] = True
    kept = np.flatnonzero(~removed[u] & ~removed[v])
    return kept, pairs, path_id, pu, pv, pair_edge, removed


def _differ_codes(sigs: list[tuple[str, ...]], keys: tuple[str, ...]) -> np.ndarray | None:
    """Per tag signature, a number for its values of ``keys`` as osmnx's edges hold them."""
    if not keys:
        return None
    unknown = sorted(set(keys) - set(_KEYS))
    if unknown:
        msg = f"edge_attrs_differ: only highway and planner.access.WAY_TAGS are read, not {unknown}"
        raise ValueError(msg)
    oneway = _KEYS.index("oneway")
    junction = _KEYS.index("junction")
    numbers: dict[tuple[object, ...], int] = {}
    out = np.empty(len(sigs), dtype=np.int64)
    for i, sig in enumerate(sigs):
        flag = sig[oneway] in _ONEWAY_VALUES or sig[junction] == "roundabout"
        values = tuple(flag if k == "oneway" else sig[_KEYS.index(k)] for k in keys)
        out[i] = numbers.setdefault(values, len(numbers))
    return out


def _opens(label: np.ndarray) -> np.ndarray:
    """Mask of the elements that start a run of equal labels."""
    opens: np.ndarray = np.r_[True, label[1:] != label[:-1]][: len(label)]
    return opens


def _drop_rings(
    u: np.ndarray, v: np.ndarray, alive: np.ndarray, differ: np.ndarray | None
) -> np.ndarray:
    """Nodes kept by osmnx's ``_remove_rings``: components with at least one endpoint."""
    n = len(alive)
    endpoint = _endpoints(u, v, n, differ)
    graph = coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    _, label = connected_components(graph, directed=True, connection="weak")
    good = np.zeros(label.max() + 1, dtype=bool)
    good[label[endpoint & alive]] = True
    kept: np.ndarray = alive & good[label]
    return kept


# --- arrays for RoadNetwork --------------------------------------------------------------------


def _compile(
    graph: _Graph,
    sigs: list[tuple[str, ...]],
    simplify: bool,
    differ: np.ndarray | None,
    remove_rings: bool,
    fallback_kph: float,
    highway_speeds: dict[str, float],
    path: Path,
) -> dict[str, object]:
    n = len(graph.node_osmid)
    u, v, sig = graph.u, graph.v, graph.sig
    alive = np.ones(n, dtype=bool)
    # Every final edge as a run of vertices (node indices) and the tag signatures of its pieces.
    if simplify and len(u):
        edge_differ = None if differ is None else differ[sig]
        kept, pairs, path_id, pu, pv, pair_edge, removed = _simplify(u, v, n, edge_differ)
        firsts = np.flatnonzero(_opens(path_id))
        lasts = np.r_[firsts[1:] - 1, len(pairs) - 1][: len(firsts)]
        new_u, new_v = pu[pairs[firsts]], pv[pairs[lasts]]
        edge_u = np.r_[u[kept], new_u]
        edge_v = np.r_[v[kept], new_v]
        alive = ~removed
        if remove_rings:
            new_differ = None
            if edge_differ is not None:
                new_differ = np.r_[edge_differ[kept], edge_differ[pair_edge[pairs[firsts]]]]
            alive = _drop_rings(edge_u, edge_v, alive, new_differ)
        # Pieces of each final edge: one for a kept edge, the pairs walked for a new one.
        n_kept = len(kept)
        piece_edge = np.r_[np.arange(n_kept), n_kept + path_id]
        piece_sig = np.r_[sig[kept], sig[pair_edge[pairs]]]
        piece_a = np.r_[u[kept], pu[pairs]]
        piece_b = np.r_[v[kept], pv[pairs]]
    else:
        edge_u, edge_v = u, v
        piece_edge = np.arange(len(u))
        piece_sig, piece_a, piece_b = sig, u, v
    if not len(edge_u) or not alive[edge_u].any():
        msg = f"{path}: the road network has no roads (no ways tagged highway=*)"
        raise InputError(msg)
    crs, node_xy = _project(graph.node_lonlat, alive)
    # Geometry: each edge's first node, then the far node of every piece, in order.
    n_edges = len(edge_u)
    first_piece = np.flatnonzero(_opens(piece_edge))
    vert_node = np.r_[piece_a[first_piece], piece_b]
    vert_edge = np.r_[piece_edge[first_piece], piece_edge]
    order = np.argsort(vert_edge, kind="stable")
    lines = Lines.from_owner(node_xy[vert_node[order]], vert_edge[order], n_edges)
    piece_len = np.hypot(*(node_xy[piece_b] - node_xy[piece_a]).T)
    merged = np.bincount(piece_edge, minlength=n_edges) > 1
    values = _edge_values(piece_edge, piece_sig, piece_len, merged, sigs, n_edges)
    highway = values.pop("highway")
    speed = _speeds(
        piece_edge, piece_sig, merged, sigs, highway, n_edges, fallback_kph, highway_speeds
    )
    # Keep the nodes and edges that survive, renumbered.
    keep_edge = alive[edge_u]
    lines = lines.take(keep_edge)
    new_index = np.cumsum(alive) - 1
    return {
        "crs": crs.to_wkt(),
        "node_osmid": graph.node_osmid[alive],
        "node_xy": node_xy[alive],
        "edge_u": new_index[edge_u[keep_edge]].astype(np.int32),
        "edge_v": new_index[edge_v[keep_edge]].astype(np.int32),
        "edge_length": np.maximum(lines.length(), 0.01),
        "edge_highway": highway[keep_edge],
        "edge_speed_kph": speed[keep_edge],
        "edge_lines": lines,
        "edge_tags": {k: _kept(values[k], keep_edge) for k in WAY_TAGS},
    }


def _project(lonlat: np.ndarray, alive: np.ndarray) -> tuple[CRS, np.ndarray]:
    """The UTM zone ``RoadNetwork.from_graph`` picks for these nodes, and their coordinates."""
    import geopandas as gpd
    from pyproj import Transformer

    lo = lonlat[alive].min(axis=0)
    hi = lonlat[alive].max(axis=0)
    corners = gpd.GeoSeries(gpd.points_from_xy([lo[0], hi[0]], [lo[1], hi[1]]), crs="EPSG:4326")
    crs = corners.estimate_utm_crs()
    transformer = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = transformer.transform(lonlat[:, 0], lonlat[:, 1])
    return crs, np.column_stack([x, y])


def _edge_values(
    piece_edge: np.ndarray,
    piece_sig: np.ndarray,
    piece_len: np.ndarray,
    merged: np.ndarray,
    sigs: list[tuple[str, ...]],
    n_edges: int,
) -> dict[str, np.ndarray]:
    """Per key, each edge's tag value ("" when absent): on a merged edge, the longest stretch's."""
    first_piece = np.flatnonzero(_opens(piece_edge))
    out: dict[str, np.ndarray] = {}
    for k, key in enumerate(_KEYS):
        labels, code_of_sig = np.unique(
            np.array([s[k] for s in sigs], dtype=object), return_inverse=True
        )
        if len(labels) == 1:  # one value on every edge (most often none): a view, not n copies
            out[key] = np.broadcast_to(np.array(labels[0], dtype=object), (n_edges,))
            continue
        absent = np.flatnonzero(labels == "")
        code = code_of_sig[piece_sig]
        edge_code = code[first_piece]
        # Mixed values on a merged edge: sum the length per present value, longest wins,
        # alphabetical order (code order) breaks ties.
        rows = merged[piece_edge] & ((code != absent[0]) if len(absent) else True)
        frame = pd.DataFrame({"e": piece_edge[rows], "c": code[rows], "w": piece_len[rows]})
        sums = frame.groupby(["e", "c"], sort=False)["w"].sum().reset_index()
        sums = sums.sort_values(["e", "w", "c"], ascending=[True, False, True])
        best = sums.drop_duplicates("e")
        edge_code[merged] = absent[0] if len(absent) else edge_code[merged]
        edge_code[best["e"].to_numpy()] = best["c"].to_numpy()
        out[key] = labels[edge_code]
    return out


def _kept(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``values[keep]``, where a one-value view (:func:`_edge_values`) stays a view."""
    if values.strides == (0,):
        return np.broadcast_to(values[:1], (int(np.count_nonzero(keep)),))
    kept: np.ndarray = values[keep]
    return kept


def _speeds(
    piece_edge: np.ndarray,
    piece_sig: np.ndarray,
    merged: np.ndarray,
    sigs: list[tuple[str, ...]],
    highway: np.ndarray,
    n_edges: int,
    fallback_kph: float,
    highway_speeds: dict[str, float],
) -> np.ndarray:
    """``osmnx.routing.add_edge_speeds``: observed ``maxspeed``, else the highway type's speed."""
    from osmnx.routing import _clean_maxspeed

    k = _KEYS.index("maxspeed")
    raw = [s[k] for s in sigs]
    labels, code_of_sig = np.unique(np.array(raw, dtype=object), return_inverse=True)
    clean = np.array([_clean_maxspeed(x) if x else None for x in labels], dtype=float)
    # Merged edges: the mean of their distinct maxspeed values that can be read as speeds.
    frame = pd.DataFrame({"e": piece_edge, "c": code_of_sig[piece_sig]}).drop_duplicates()
    frame["kph"] = clean[frame["c"].to_numpy()]
    observed = frame.groupby("e", sort=True)["kph"].mean().reindex(range(n_edges)).to_numpy()
    kinds = pd.Series(observed).groupby(highway).mean()
    known = pd.Series(highway_speeds, dtype=float).dropna()
    typical = pd.concat([known, kinds[~kinds.index.isin(known.index)]]).fillna(fallback_kph)
    imputed = typical.reindex(highway).to_numpy()
    return np.where(np.isnan(observed), imputed, observed)
