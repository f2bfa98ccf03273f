"""Snapping indexes kept with the compiled road network: saved beside its cache file, reloaded.

:func:`planner.snap.snap_points` builds, per travel graph, short straight pieces of the road
segments and a KD-tree over their midpoints (kept on the graph as ``_snap_pieces_<name>``).
Building them (segmentising every road, collecting coordinates, building the tree) costs more
than the search itself, so the pieces are saved per travel mode next to the network's cache
file (``network-<digest>.snap-<mode>.npz``, uncompressed) and put back on the graph when it is
next compiled, with the KD-tree's own arrays (its pickle state, restored without rebuilding
when the file was written by the same scipy release on the same platform; else the tree is
rebuilt), the cell lists that answer most points without a tree search (built here, when the
index is first saved: ``planner.snap._Grid``) and the size of each segment's road network piece
(the snapping tiers).
Each file records the memory the network and the indexes take (:func:`cache_report` lists
them).
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
from scipy.spatial import cKDTree

from planner.network import RoadNetwork, TravelGraph
from planner.snap import _Grid, _midpoint_tree, _Pieces

log = logging.getLogger(__name__)

_PREFIX = "_snap_pieces_"
_FIELDS = ("a", "b", "segment", "start_m", "total_m")
_FORMAT = 3
"""Layout of the index files; files of another layout are rebuilt (3: with the cell lists)."""
_COMPONENTS = "segment_component_size"
"""The graph's cached per-segment network piece size, saved with the indexes."""


def index_path(network: RoadNetwork, mode: str) -> Path | None:
    """Where the snapping indexes of ``mode`` live, or ``None`` for a network without cache."""
    if not network.cache_file:
        return None
    cache = Path(network.cache_file)
    return cache.with_name(f"{cache.stem}.snap-{mode}.npz")


def load_indexes(graph: TravelGraph, network: RoadNetwork) -> int:
    """Put the saved snapping pieces of ``graph``'s mode back on it; the number loaded."""
    path = index_path(network, graph.mode)
    if path is None or not path.exists():
        return 0
    try:
        with np.load(path, allow_pickle=False) as z:
            if "format" not in z or int(z["format"]) != _FORMAT:
                return 0  # written by an older version: rebuilt and saved again
            if str(z["checksum"]) != _checksum(graph):
                return 0  # another compilation of the roads (other rules): rebuild
            names = [str(x) for x in z["names"]]
            same_build = str(z["tree_build"]) == _tree_build()
            for name in names:
                a, b, segment, start_m, total_m = (z[f"{name}.{f}"] for f in _FIELDS)
                tree = _restore_tree(z, name, a, b) if same_build else None
                if tree is None:
                    tree = _midpoint_tree(a, b)
                half = float(z[f"{name}.half"])
                grid = _restore_grid(z, name, len(a))
                pieces = _Pieces(a, b, segment, start_m, total_m, half, tree, grid)
                graph.__dict__.setdefault(_PREFIX + name, pieces)
            if len(z[_COMPONENTS]) == len(graph.seg_u):
                graph.__dict__.setdefault(_COMPONENTS, z[_COMPONENTS])
    except (
        OSError,
        KeyError,
        ValueError,
        zipfile.BadZipFile,
    ) as exc:  # a damaged cache file is only slower
        log.warning("ignoring unreadable snapping index %s (%s)", path, exc)
        return 0
    log.info("snapping indexes %s from cache %s", ", ".join(names), path)
    return len(names)


def save_indexes(graph: TravelGraph, network: RoadNetwork) -> Path | None:
    """Save the snapping pieces built on ``graph`` (when some are not saved yet)."""
    path = index_path(network, graph.mode)
    built = {k[len(_PREFIX) :]: v for k, v in graph.__dict__.items() if k.startswith(_PREFIX)}
    if path is None or not built:
        return None
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                fresh = "format" in z and int(z["format"]) == _FORMAT
                if fresh and set(built) <= {str(x) for x in z["names"]}:
                    return path
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            pass
    arrays: dict[str, np.ndarray] = {}
    for name in list(built):
        # The cell lists are built here, once per compiled network: they pay off from the
        # second run on (they cost more than one snap of the residents saves).
        built[name] = built[name].with_grid()
        graph.__dict__[_PREFIX + name] = built[name]
    for name, pieces in built.items():
        arrays.update(_grid_arrays(name, pieces.grid))
        for f in _FIELDS:
            arrays[f"{name}.{f}"] = getattr(pieces, f)
        arrays[f"{name}.half"] = np.array(pieces.half)
        arrays.update(_tree_arrays(name, pieces.tree))
    index_bytes = {
        name: _pieces_bytes(p, arrays.get(f"{name}.tree_nodes")) for name, p in built.items()
    }
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npz")
    try:
        np.savez(
            tmp,
            names=np.array(sorted(built)),
            format=np.array(_FORMAT),
            checksum=np.array(_checksum(graph)),
            tree_build=np.array(_tree_build()),
            segment_component_size=graph.segment_component_size,
            network_bytes=np.array(network_bytes(network)),
            graph_bytes=np.array(_graph_bytes(graph)),
            index_names=np.array(list(index_bytes)),
            index_bytes=np.array(list(index_bytes.values()), dtype=np.int64),
            **arrays,  # type: ignore[arg-type]  # numpy stub: ** could bind allow_pickle
        )
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot write snapping index %s (%s); continuing without it", path, exc)
        return None
    return path


def cache_report(cache_dir: str | Path) -> pd.DataFrame:
    """Memory (MB) of every compiled network and snapping index in a cache folder.

    One row per network file, per saved travel mode and per file kept beside a network:
    ``file``, ``what`` (``network``, ``graph <mode>``, ``snap index <mode> <name>``, ``kept
    graph <mode>``, ``service areas`` or ``map roads``), ``memory_mb`` in use once loaded and
    ``disk_mb`` of the file.
    """
    rows = []
    folder = Path(cache_dir)
    for path in sorted(folder.glob("network-*.roads-*.json")):
        size = path.stat().st_size / 1e6
        rows.append((path.name, "map roads", size, size))
    for path in sorted(folder.glob("network-*.npz")):
        kept = next((k for k in (".graph-", ".areas-") if k in path.name), None)
        if kept is not None:  # planner.network.save_kept: arrays, loaded as they are stored
            try:
                with np.load(path, allow_pickle=False) as z:
                    memory = sum(z[k].nbytes for k in z.files) / 1e6
            except (OSError, KeyError, ValueError, zipfile.BadZipFile):
                continue
            mode = path.name.split(".graph-")[-1].rsplit("-", 1)[0]
            what = f"kept graph {mode}" if kept == ".graph-" else "service areas"
            rows.append((path.name, what, memory, path.stat().st_size / 1e6))
        elif ".snap-" in path.name:
            mode = path.stem.split(".snap-")[-1]
            try:
                with np.load(path, allow_pickle=False) as z:
                    disk = path.stat().st_size / 1e6
                    rows.append((path.name, f"graph {mode}", int(z["graph_bytes"]) / 1e6, disk))
                    for name, size in zip(z["index_names"], z["index_bytes"], strict=True):
                        rows.append((path.name, f"snap index {mode} {name}", size / 1e6, 0.0))
            except (OSError, KeyError, ValueError, zipfile.BadZipFile):
                continue
        else:
            try:
                network = RoadNetwork.from_npz(path)
            except (OSError, KeyError, ValueError, zipfile.BadZipFile):
                continue
            size = network_bytes(network) / 1e6
            rows.append((path.name, "network", size, path.stat().st_size / 1e6))
    return pd.DataFrame(rows, columns=["file", "what", "memory_mb", "disk_mb"])


def network_bytes(network: RoadNetwork) -> int:
    """Approximate memory of a compiled network: its arrays and its strings' pointers."""
    arrays = [v for v in vars(network).values() if isinstance(v, np.ndarray)]
    tags = sum(v.nbytes for v in network.edge_tags.values())
    return (
        sum(a.nbytes for a in arrays if a.dtype != object)
        + tags
        + network.edge_lines.nbytes
        + 8 * len(network.edge_highway)
    )


def _graph_bytes(graph: TravelGraph) -> int:
    arrays = [v for v in vars(graph).values() if isinstance(v, np.ndarray) and v.dtype != object]
    matrix = graph.matrix.data.nbytes + graph.matrix.indices.nbytes + graph.matrix.indptr.nbytes
    return int(sum(a.nbytes for a in arrays) + matrix + graph.seg_lines.nbytes)


def _pieces_bytes(pieces: _Pieces, tree_nodes: np.ndarray | None) -> int:
    n = len(pieces.a)
    # ``a`` is a view of ``packed``; the other fields own their memory.
    arrays = pieces.packed.nbytes + sum(getattr(pieces, f).nbytes for f in _FIELDS[1:])
    if pieces.grid is not None:
        arrays += pieces.grid.indptr.nbytes + pieces.grid.pieces.nbytes
    # cKDTree: a copy of the points, an index per point and its nodes (estimated if unknown).
    nodes = len(tree_nodes) if tree_nodes is not None else (2 * n // 16 + 1) * _NODE_BYTES
    return int(arrays) + n * 16 + n * 8 + nodes


def _node_bytes() -> int:
    """Size of one cKDTree node in its pickle state (a one-point tree has a single node)."""
    return len(cKDTree(np.zeros((1, 2))).__getstate__()[0])


_NODE_BYTES = _node_bytes()


def _tree_build() -> str:
    """What a saved KD-tree state depends on: the scipy release and the platform's ABI."""
    return f"scipy {scipy.__version__} {platform.machine()} {np.dtype(np.intp).itemsize * 8}bit"


def _tree_arrays(name: str, tree: cKDTree) -> dict[str, np.ndarray]:
    """A KD-tree's pickle state as plain arrays (its data, the midpoints, are not repeated)."""
    buffer, _, n, m, leafsize, maxes, mins, indices, boxsize, _ = tree.__getstate__()
    if boxsize is not None:
        return {}  # periodic trees are never built here
    nodes = np.frombuffer(buffer, dtype=np.uint8)
    return {
        f"{name}.tree_nodes": nodes,
        f"{name}.tree_indices": indices,
        f"{name}.tree_shape": np.array([n, m, leafsize]),
        f"{name}.tree_box": np.stack([maxes, mins]),
    }


def _restore_tree(
    z: np.lib.npyio.NpzFile, name: str, a: np.ndarray, b: np.ndarray
) -> cKDTree | None:
    """The saved KD-tree of ``name``, or ``None`` when it is absent or does not check out.

    The state is handed to ``cKDTree.__setstate__`` (what unpickling does) only when its
    shape fits the pieces; a damaged file never gets here (``np.load`` checks each array's
    CRC-32 and raises).
    """
    if f"{name}.tree_nodes" not in z:
        return None
    nodes, indices = z[f"{name}.tree_nodes"], z[f"{name}.tree_indices"]
    n, m, leafsize = (int(v) for v in z[f"{name}.tree_shape"])
    maxes, mins = z[f"{name}.tree_box"]
    data = np.add(a, b)
    data *= 0.5  # (as 0.5 * (a + b), the midpoints the tree was built on, one copy fewer)
    fits = (
        n == len(a) == len(indices)
        and m == 2
        and len(nodes) % _NODE_BYTES == 0
        and 0 < len(nodes) // _NODE_BYTES <= 2 * n + 1
        and indices.dtype == np.intp
        and (n == 0 or (int(indices.min()) >= 0 and int(indices.max()) < n))
    )
    if not fits:
        log.warning("snapping index %s: saved KD-tree does not fit its pieces; rebuilding", name)
        return None
    tree = cKDTree.__new__(cKDTree)
    tree.__setstate__((nodes.view("S1"), data, n, m, leafsize, maxes, mins, indices, None, None))
    return tree


def _grid_arrays(name: str, grid: _Grid | None) -> dict[str, np.ndarray]:
    if grid is None:
        return {}
    frame = np.array([*grid.origin, grid.cell_m, grid.reach_m, *grid.shape], dtype=float)
    return {
        f"{name}.grid_frame": frame,
        f"{name}.grid_indptr": grid.indptr,
        f"{name}.grid_pieces": grid.pieces,
    }


def _restore_grid(z: np.lib.npyio.NpzFile, name: str, n_pieces: int) -> _Grid | None:
    """The saved cell lists of ``name``, or ``None`` (absent or not fitting: KD-tree only)."""
    if f"{name}.grid_frame" not in z:
        return None
    frame, indptr, pieces = (z[f"{name}.grid_{f}"] for f in ("frame", "indptr", "pieces"))
    x0, y0, cell_m, reach_m, nx, ny = (float(v) for v in frame)
    shape = np.array([nx, ny], dtype=np.int64)
    fits = (
        cell_m > 0
        and reach_m >= 0
        and len(indptr) == int(nx * ny) + 1
        and int(indptr[0]) == 0
        and int(indptr[-1]) == len(pieces)
        and bool((np.diff(indptr) >= 0).all())
        and (len(pieces) == 0 or (int(pieces.min()) >= 0 and int(pieces.max()) < n_pieces))
    )
    if not fits:
        log.warning("snapping index %s: saved cell lists do not fit its pieces; ignored", name)
        return None
    return _Grid(np.array([x0, y0]), cell_m, reach_m, shape, indptr, pieces)


def _checksum(graph: TravelGraph) -> str:
    digest = hashlib.sha256()
    for array in (graph.seg_u, graph.seg_v, graph.seg_length):
        digest.update(np.ascontiguousarray(array).tobytes())
    street = getattr(graph, "seg_street", None)  # segments where points may join, if known
    if street is not None:
        digest.update(np.ascontiguousarray(street).tobytes())
    # Which directions are open decides the network pieces (saved segment_component_size).
    digest.update(np.isfinite(graph.seg_t_fwd).tobytes())
    digest.update(np.isfinite(graph.seg_t_bwd).tobytes())
    return digest.hexdigest()[:32]
