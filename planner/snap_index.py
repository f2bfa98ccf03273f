"""Snapping indexes kept with the compiled road network: saved beside its cache file, reloaded.

:func:`planner.snap.snap_points` builds, per travel graph, short straight pieces of the road
segments and a KD-tree over their midpoints (kept on the graph as ``_snap_pieces_<name>``).
Building them (segmentising every road, collecting coordinates) costs more than the search
itself, so the pieces are saved per travel mode next to the network's cache file
(``network-<digest>.snap-<mode>.npz``) and put back on the graph when it is next compiled;
only the KD-tree is rebuilt from the stored midpoints. Each file records the memory the
network and the indexes take (:func:`cache_report` lists them).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from planner.network import RoadNetwork, TravelGraph
from planner.snap import _Pieces

log = logging.getLogger(__name__)

_PREFIX = "_snap_pieces_"
_FIELDS = ("a", "b", "segment", "start_m", "total_m")


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
            if str(z["checksum"]) != _checksum(graph):
                return 0  # another compilation of the roads (other rules): rebuild
            names = [str(x) for x in z["names"]]
            for name in names:
                a, b, segment, start_m, total_m = (z[f"{name}.{f}"] for f in _FIELDS)
                tree = cKDTree(0.5 * (a + b))
                half = float(z[f"{name}.half"])
                pieces = _Pieces(a, b, segment, start_m, total_m, half, tree)
                graph.__dict__.setdefault(_PREFIX + name, pieces)
    except (OSError, KeyError, ValueError) as exc:  # a damaged cache file is only slower
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
                if set(built) <= {str(x) for x in z["names"]}:
                    return path
        except (OSError, KeyError, ValueError):
            pass
    arrays: dict[str, np.ndarray] = {}
    for name, pieces in built.items():
        for f in _FIELDS:
            arrays[f"{name}.{f}"] = getattr(pieces, f)
        arrays[f"{name}.half"] = np.array(pieces.half)
    index_bytes = {name: _pieces_bytes(p) for name, p in built.items()}
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npz")
    try:
        np.savez(
            tmp,
            names=np.array(sorted(built)),
            checksum=np.array(_checksum(graph)),
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

    One row per network file and per saved travel mode: ``file``, ``what`` (``network``,
    ``graph <mode>`` or ``snap index <mode> <name>``), ``memory_mb`` in use once loaded and
    ``disk_mb`` of the file.
    """
    rows = []
    for path in sorted(Path(cache_dir).glob("network-*.npz")):
        if ".snap-" in path.name:
            mode = path.stem.split(".snap-")[-1]
            try:
                with np.load(path, allow_pickle=False) as z:
                    disk = path.stat().st_size / 1e6
                    rows.append((path.name, f"graph {mode}", int(z["graph_bytes"]) / 1e6, disk))
                    for name, size in zip(z["index_names"], z["index_bytes"], strict=True):
                        rows.append((path.name, f"snap index {mode} {name}", size / 1e6, 0.0))
            except (OSError, KeyError, ValueError):
                continue
        else:
            try:
                network = RoadNetwork.from_npz(path)
            except (OSError, KeyError, ValueError):
                continue
            size = network_bytes(network) / 1e6
            rows.append((path.name, "network", size, path.stat().st_size / 1e6))
    return pd.DataFrame(rows, columns=["file", "what", "memory_mb", "disk_mb"])


def network_bytes(network: RoadNetwork) -> int:
    """Approximate memory of a compiled network: its arrays plus its shapely geometries."""
    arrays = [v for v in vars(network).values() if isinstance(v, np.ndarray)]
    tags = sum(v.nbytes for v in network.edge_tags.values())
    return (
        sum(a.nbytes for a in arrays if a.dtype != object)
        + tags
        + _geometry_bytes(network.edge_geometry)
        + 8 * len(network.edge_highway)
    )


def _graph_bytes(graph: TravelGraph) -> int:
    arrays = [v for v in vars(graph).values() if isinstance(v, np.ndarray) and v.dtype != object]
    matrix = graph.matrix.data.nbytes + graph.matrix.indices.nbytes + graph.matrix.indptr.nbytes
    return int(sum(a.nbytes for a in arrays) + matrix + _geometry_bytes(graph.seg_geometry))


def _geometry_bytes(geoms: np.ndarray) -> int:
    # 16 bytes per 2-D coordinate plus about 100 bytes of GEOS and Python object per line.
    return int(shapely.get_num_coordinates(geoms).sum()) * 16 + 108 * len(geoms)


def _pieces_bytes(pieces: _Pieces) -> int:
    n = len(pieces.a)
    arrays = int(sum(getattr(pieces, f).nbytes for f in _FIELDS))
    # cKDTree: a copy of the points, an index per point, ~2n/leafsize nodes of ~80 bytes.
    return arrays + n * 16 + n * 8 + (2 * n // 16 + 1) * 80


def _checksum(graph: TravelGraph) -> str:
    digest = hashlib.sha256()
    for array in (graph.seg_u, graph.seg_v, graph.seg_length):
        digest.update(np.ascontiguousarray(array).tobytes())
    street = getattr(graph, "seg_street", None)  # segments where points may join, if known
    if street is not None:
        digest.update(np.ascontiguousarray(street).tobytes())
    return digest.hexdigest()[:32]
