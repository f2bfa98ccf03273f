"""Road networks: read with osmnx, compile to arrays per travel mode, cache by content."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from planner import access
from planner.access import WAY_TAGS
from planner.errors import InputError
from planner.io import error_cause, feed_input
from planner.lines import Lines
from planner.osm_reader import highway_ways, read_osm_network
from planner.regions_config import is_query
from planner.standards import DEFAULT_SPEEDS_KMH
from planner.text import MODES

if TYPE_CHECKING:
    import networkx as nx

log = logging.getLogger(__name__)

CACHE_VERSION = "6"

# Typical speeds (km/h) for highway types without a maxspeed tag, for Chinese roads.
HIGHWAY_SPEEDS_KPH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 70.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 30.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 35.0,
    "tertiary_link": 25.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "track": 15.0,
    "road": 25.0,
}


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A road network as flat arrays in a metric CRS, independent of travel mode.

    Directed edges follow osmnx: two-way roads appear in both directions, one-way roads once.
    """

    crs: str
    node_osmid: np.ndarray
    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_highway: np.ndarray
    edge_speed_kph: np.ndarray
    edge_lines: Lines  # one line per directed edge, from u to v
    source: str = ""
    cache_file: str = ""  # the compiled copy in the cache, beside which snapping indexes live
    source_sha256: str = ""  # of the source file's content, when it was hashed for the cache

    # Raw OSM way tags per directed edge, keyed by planner.access.WAY_TAGS ("" where absent);
    # empty when the source had none (hand-built networks, graphs without tags).
    edge_tags: dict[str, np.ndarray] = field(default_factory=dict)
    # Travel-time factors from slopes per directed edge (planner.dem), keys walk_fwd,
    # walk_bwd, bike_fwd, bike_bwd (fwd: from u to v); empty without a DEM.
    edge_slope: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every way the network is made (OSM reader, osmnx graph, cache) keeps its tags lean.
        object.__setattr__(self, "edge_tags", access.compact_tags(self.edge_tags))

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_xy)

    def travel_graph(self, mode: str, *, speed_kmh: float | None = None) -> TravelGraph:
        """Compile the network for one travel mode.

        Parameters
        ----------
        mode
            ``walk`` (ignores one-way tags), ``bike`` or ``drive`` (respect them).
        speed_kmh
            Constant speed; default 4 km/h walking, 12 km/h cycling, and osmnx-imputed road
            speeds when driving.
        """
        path = _graph_cache(self, mode, speed_kmh)
        arrays = _load_graph_arrays(path) if path is not None else None
        if arrays is None:
            arrays = TravelGraph.compile(self, mode, speed_kmh=speed_kmh)
            if path is not None:
                _save_graph_arrays(path, arrays)
        return TravelGraph.assemble(self, mode, arrays, speed_kmh=speed_kmh)

    def one_way_each(self, among: np.ndarray | None = None) -> np.ndarray:
        """Positions of the edges that draw each road once, in order.

        A two-way road is two directed edges with swapped ends and the same length (parallel
        roads between two nodes differ in length), as :meth:`TravelGraph.build` pairs them.
        ``among``: the same choice among those edges only; they must be sorted and hold every
        edge that shares its two ends with one of them (:meth:`with_same_ends`).
        """
        pos = np.arange(len(self.edge_u)) if among is None else np.asarray(among)
        if len(pos) == 0:
            return np.array([], dtype=np.int64)
        ends = self._end_pairs()[pos]
        length = np.round(self.edge_length[pos], 1)
        order = np.lexsort((length, ends))
        ends, length = ends[order], length[order]
        first = np.r_[True, (ends[1:] != ends[:-1]) | (length[1:] != length[:-1])]
        return np.sort(pos[order[first]])

    def with_same_ends(self, edges: np.ndarray) -> np.ndarray:
        """Sorted positions of ``edges`` and of every other edge between the same two nodes
        (either way): what :meth:`one_way_each` needs to choose among them as among all."""
        ends = self._end_pairs()
        return np.flatnonzero(np.isin(ends, ends[np.asarray(edges, dtype=np.int64)]))

    def _end_pairs(self) -> np.ndarray:
        """Each edge's two nodes in one number, the same for both directions."""
        u, v = self.edge_u.astype(np.int64), self.edge_v.astype(np.int64)
        return (np.minimum(u, v) << 32) | np.maximum(u, v)

    def road_tree(self, near: np.ndarray | None = None) -> shapely.STRtree:
        """Spatial index over the roads, each drawn once (:meth:`one_way_each`).

        With ``near`` (``(n, 2)`` points in the network's metres), over only the roads that
        can be the nearest road of one of those points (:meth:`roads_near`): the nearest
        road and its distance are the same for them, and a few hundred points cost a few
        thousand lines, not a county's (1.5 s for 250,000 road nodes).
        """
        among = None if near is None else self.with_same_ends(self.roads_near(near))
        return shapely.STRtree(self.edge_lines.take(self.one_way_each(among)).geoms())

    def roads_near(self, xy: np.ndarray, *, max_cells: int = 1_000_000) -> np.ndarray:
        """Positions of the edges that can be the nearest road of a point of ``xy`` (metres).

        A point's nearest road is no farther than the nearest point where a road starts, so
        it passes through the square of that half-width around the point. A road lies within
        half its length of the middle of its two ends, so the box of that half-width meets the
        square. Boxes and squares meet only in cells they share on a grid: the cells the
        squares cover are counted once (a summed-area table), and each edge's box is looked
        up there. The result holds every nearest road (and some others), in a few passes
        over arrays of one value per edge.
        """
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        xy = xy[np.isfinite(xy).all(axis=1)]
        lines = self.edge_lines
        if len(xy) == 0 or len(lines) == 0:
            return np.array([], dtype=np.int64)
        start = lines.xy[lines.offsets[:-1]]
        _, first = np.unique(self.edge_u, return_index=True)  # one start per node
        reach = cKDTree(start[first], balanced_tree=False).query(xy)[0]  # (builds 2x faster)
        middle = (start + lines.xy[lines.offsets[1:] - 1]) / 2
        half = lines.length() / 2 + 1e-6  # (and a hair for rounding)
        margin = max(half.max(), reach.max())
        lo = np.minimum(self.node_xy.min(axis=0), xy.min(axis=0)) - margin
        hi = np.maximum(self.node_xy.max(axis=0), xy.max(axis=0)) + margin
        cell = max(float(np.median(reach)), float(np.prod(hi - lo) / max_cells) ** 0.5, 1.0)
        rows, cols = (np.floor((hi - lo) / cell).astype(np.int64) + 1)[::-1]

        def corners(centre: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, ...]:
            """Rows and columns of the cells of the boxes' lower and upper corners."""
            low = np.floor((centre - half[:, None] - lo) / cell).astype(np.int64)
            high = np.floor((centre + half[:, None] - lo) / cell).astype(np.int64)
            np.clip(low, 0, [cols - 1, rows - 1], out=low)
            np.clip(high, 0, [cols - 1, rows - 1], out=high)
            return low[:, 1], low[:, 0], high[:, 1], high[:, 0]

        r0, c0, r1, c1 = corners(xy, reach)
        # The squares' cells: marked at their corners and summed twice (then each cell holds
        # the count of squares over it); the covered cells summed twice again, with a zero
        # row and column in front, count the covered cells in any box with four lookups.
        marks = np.zeros((rows + 1, cols + 1), dtype=np.int32)
        np.add.at(marks, (r0, c0), 1)
        np.add.at(marks, (r0, c1 + 1), -1)
        np.add.at(marks, (r1 + 1, c0), -1)
        np.add.at(marks, (r1 + 1, c1 + 1), 1)
        table = np.zeros((rows + 1, cols + 1), dtype=np.int32)
        table[1:, 1:] = marks.cumsum(axis=0).cumsum(axis=1)[:-1, :-1] > 0
        table = table.cumsum(axis=0).cumsum(axis=1)
        r0, c0, r1, c1 = corners(middle, half)
        hits = table[r1 + 1, c1 + 1] - table[r0, c1 + 1] - table[r1 + 1, c0] + table[r0, c0]
        return np.flatnonzero(hits > 0)

    # --- persistence -------------------------------------------------------------------------

    def to_npz(self, path: Path) -> None:
        """Save the arrays to ``path``; strings as codes of their distinct values."""
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        strings = _coded("highway", self.edge_highway)
        for key, tag in self.edge_tags.items():
            strings.update(_coded(f"tag_{key}", tag))
        arrays = {
            "crs": np.array(self.crs),
            "source": np.array(self.source),
            "node_osmid": self.node_osmid,
            "node_xy": self.node_xy,
            "edge_u": self.edge_u,
            "edge_v": self.edge_v,
            "edge_length": self.edge_length,
            "edge_speed_kph": self.edge_speed_kph,
            "line_xy": self.edge_lines.xy,
            "line_offsets": self.edge_lines.offsets,
        }
        np.savez(tmp, **arrays, **strings)  # type: ignore[arg-type]  # numpy stub: ** could bind allow_pickle
        os.replace(tmp, path)

    @classmethod
    def from_npz(cls, path: Path) -> RoadNetwork:
        """Load arrays saved by :meth:`to_npz`."""
        with np.load(path, allow_pickle=False) as z:
            return cls(
                crs=str(z["crs"]),
                source=str(z["source"]),
                node_osmid=z["node_osmid"],
                node_xy=z["node_xy"],
                edge_u=z["edge_u"],
                edge_v=z["edge_v"],
                edge_length=z["edge_length"],
                edge_highway=_decoded(z, "highway"),
                edge_speed_kph=z["edge_speed_kph"],
                edge_lines=Lines(z["line_xy"], z["line_offsets"]),
                edge_tags={
                    k[4:-6]: _decoded(z, k[:-6])
                    for k in z.files
                    if k.startswith("tag_") and k.endswith("_codes")
                },
            )

    @classmethod
    def from_graph(cls, graph: nx.MultiDiGraph, *, source: str = "") -> RoadNetwork:
        """Compile an osmnx ``MultiDiGraph`` into arrays in a metric CRS.

        A graph in degrees (or in Web Mercator, whose metres stretch with latitude) goes to
        its local UTM zone; a graph already in another metric projection keeps it.
        """
        import osmnx as ox

        if graph.number_of_edges() == 0:
            msg = f"{source or 'graph'}: the road network has no roads (no ways tagged highway=*)"
            raise InputError(msg)
        graph = _with_speeds(graph)
        nodes, edges = ox.convert.graph_to_gdfs(graph, fill_edge_geometry=True)
        if nodes.crs is None:
            nodes = nodes.set_crs("EPSG:4326")
            edges = edges.set_crs("EPSG:4326")
        metric = _metric_crs(nodes)
        nodes = nodes.to_crs(metric)
        edges = edges.to_crs(metric)
        osmid = nodes.index.to_numpy()
        position = pd.Series(np.arange(len(osmid)), index=osmid)
        u = edges.index.get_level_values("u")
        v = edges.index.get_level_values("v")
        geoms = (
            edges.geometry.array.to_numpy()
            if hasattr(edges.geometry.array, "to_numpy")
            else np.asarray(edges.geometry.array)
        )
        length = shapely.length(geoms)
        highway = edges["highway"] if "highway" in edges else pd.Series("road", index=edges.index)
        highway = highway.map(_first).fillna("road").astype(str).to_numpy(dtype=object)
        return cls(
            crs=metric.to_wkt(),
            source=source,
            node_osmid=np.asarray(osmid, dtype=np.int64),
            node_xy=np.column_stack([nodes.geometry.x.to_numpy(), nodes.geometry.y.to_numpy()]),
            edge_u=position.loc[u].to_numpy(np.int32),
            edge_v=position.loc[v].to_numpy(np.int32),
            edge_length=np.maximum(length, 0.01),
            edge_highway=highway,
            edge_speed_kph=edges["speed_kph"].astype(float).to_numpy(),
            edge_lines=Lines.from_geoms(geoms),
            edge_tags=_edge_tags(edges),
        )


def _coded(name: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """``values`` (strings) as codes into their distinct values, for :func:`_decoded`."""
    codes, distinct = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return {
        f"{name}_codes": codes.astype(np.int32),
        f"{name}_values": np.asarray(distinct, dtype=str),
    }


def _decoded(z: Any, name: str) -> np.ndarray:
    """Strings saved by :func:`_coded`: one Python string per distinct value, shared by edges."""
    distinct, codes = z[f"{name}_values"].astype(object), z[f"{name}_codes"]
    if len(distinct) == 1 and distinct[0] == "":  # a tag no way has: a view of one ""
        return np.broadcast_to(distinct[:1], codes.shape)
    values: np.ndarray = distinct[codes]
    return values


def _edge_tags(edges: pd.DataFrame) -> dict[str, np.ndarray]:
    """The WAY_TAGS of every edge as strings ("" where absent); empty when the graph has none."""
    present = [k for k in WAY_TAGS if k in edges.columns]
    if not present:
        return {}
    out = {}
    for key in WAY_TAGS:
        if key not in edges.columns:
            out[key] = np.full(len(edges), "", dtype=object)
            continue
        values = edges[key].map(_first)
        if key == "oneway":  # osmnx turns oneway into booleans (True for oneway=yes/-1/...)
            values = values.map(
                lambda v: "yes" if v is True or str(v) in ("True", "yes", "1", "-1") else ""
            )
        out[key] = values.map(lambda v: "" if v is None or v != v else str(v)).to_numpy(object)
    return out


def _metric_crs(nodes: Any) -> Any:
    crs = nodes.crs
    if not crs.is_geographic:
        unit = crs.axis_info[0].unit_name if crs.axis_info else ""
        method = crs.coordinate_operation.method_name if crs.coordinate_operation else ""
        mercator = "Mercator" in method and "Transverse" not in method
        if unit in ("metre", "meter") and not mercator:
            return crs
        nodes = nodes.to_crs("EPSG:4326")
    return nodes.estimate_utm_crs()


def _first(value: Any) -> Any:
    # osmnx turns differing tags of merged ways into lists; the first is representative.
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _with_speeds(graph: Any) -> Any:
    import osmnx as ox

    has_speed = all("speed_kph" in d for _, _, d in graph.edges(data=True))
    if has_speed:
        return graph
    return ox.routing.add_edge_speeds(graph, hwy_speeds=HIGHWAY_SPEEDS_KPH, fallback=25.0)


# --- reading ---------------------------------------------------------------------------------

NETWORK_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf", ".graphml", ".xml")
# Read by planner.osm_reader; the others (.graphml, .xml) through osmnx.
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf")

# How OSM road graphs are simplified, by planner.osm_reader and by read_graph through osmnx
# (keyword arguments of osmnx.simplification.simplify_graph): one setting for both readers.
# A node where the highway type or any access/level tag changes stays a node, so that every
# simplified edge carries the tags of all its pieces (a foot=no piece must not close or open
# a whole merged edge); isolated rings (a footway around a square) stay, since a point beside
# one must snap to it.
OSM_SIMPLIFY: dict[str, Any] = {"edge_attrs_differ": ("highway", *WAY_TAGS), "remove_rings": False}

# Highway values that are no road to travel on (not yet, or not any more). Like osmnx's
# network_type="all", these and closed highway areas (squares, car parks) are left out;
# unlike it, access=private stays: people inside a gated compound use its lanes.
NOT_ROADS = frozenset(
    {
        "abandoned",
        "construction",
        "disused",
        "no",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
    }
)

# Way ids for the pieces of ways cut by the edge of an extract, above any real OSM id.
_PIECE_ID_BASE = 10**15

_REEXPORT = "export the area again from OpenStreetMap as .osm or .osm.pbf"


def load_network(
    source: str | Path,
    *,
    cache_dir: str | Path | None = None,
    simplify: bool = True,
) -> RoadNetwork:
    """Read a road network, reusing the compiled arrays from the cache when the file is unchanged.

    Parameters
    ----------
    source
        An ``.osm``, ``.osm.bz2``, ``.osm.pbf`` or ``.graphml`` file; or, with network access,
        ``"place:<name>"`` or ``"bbox:<west>,<south>,<east>,<north>"`` fetched through osmnx.
    cache_dir
        Where compiled networks are kept; ``None`` uses ``$SERVICECIRCLE_CACHE`` or
        ``~/.cache/servicecircle``. An unwritable cache is skipped with a warning.
    simplify
        Merge chains of degree-2 nodes (osmnx simplification); travel times are unchanged.

    Returns
    -------
    RoadNetwork

    Raises
    ------
    InputError
        With the file name, the cause and what to do, for a missing, empty, unreadable or
        road-less file.
    """
    text = str(source)
    if is_query(text):
        return RoadNetwork.from_graph(_download(text), source=text)
    path = Path(source)
    if not path.exists():
        msg = f"{path}: road network file not found; check the path"
        raise InputError(msg)
    if path.is_dir():
        msg = (
            f"{path}: is a folder; give the road network file inside it "
            f"({', '.join(NETWORK_SUFFIXES)})"
        )
        raise InputError(msg)
    if not text.lower().endswith(NETWORK_SUFFIXES):
        msg = (
            f"{path}: unsupported road network type {''.join(path.suffixes[-2:])!r}; "
            f"use one of {', '.join(NETWORK_SUFFIXES)}"
        )
        raise InputError(msg)
    if path.stat().st_size == 0:
        msg = f"{path}: road network file is empty; {_REEXPORT}"
        raise InputError(msg)
    cache, sha256 = _cache_path(path, cache_dir, simplify)
    if cache is not None and cache.exists():
        try:
            network = RoadNetwork.from_npz(cache)
            log.info("road network from cache %s", cache)
            # The cache is keyed by content: the same roads may have been read from elsewhere.
            return replace(network, source=str(path), cache_file=str(cache), source_sha256=sha256)
        except Exception as exc:  # a damaged cache file is only a slower start
            log.warning("ignoring unreadable cache %s (%s)", cache, error_cause(exc))
    if text.lower().endswith(OSM_SUFFIXES):
        network = _read_osm(path, simplify=simplify)
    else:
        network = _compile_graph(path, simplify=simplify)
    network = replace(network, source_sha256=sha256)  # (kept when the cache cannot be written)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            network.to_npz(cache)
            network = replace(network, cache_file=str(cache))
        except OSError as exc:
            log.warning("cannot write network cache %s (%s); continuing without it", cache, exc)
    return network


def _read_osm(path: Path, *, simplify: bool) -> RoadNetwork:
    # Straight into arrays (planner.osm_reader); equal to read_graph + from_graph, faster.
    try:
        arrays = read_osm_network(
            path,
            simplify=simplify,
            not_roads=NOT_ROADS,
            fallback_kph=25.0,
            highway_speeds=HIGHWAY_SPEEDS_KPH,
            reexport=_REEXPORT,
            edge_attrs_differ=tuple(OSM_SIMPLIFY["edge_attrs_differ"]),
            remove_rings=OSM_SIMPLIFY["remove_rings"],
        )
    except InputError:
        raise
    except Exception as exc:  # osmium raises many types; the user needs the file and the cause
        msg = f"{path}: cannot read road network ({error_cause(exc)}); {_REEXPORT}"
        raise InputError(msg) from None
    return RoadNetwork(source=str(path), **arrays)  # type: ignore[arg-type]


def _compile_graph(path: Path, *, simplify: bool) -> RoadNetwork:
    graph = read_graph(path, simplify=simplify)
    try:
        network = RoadNetwork.from_graph(graph, source=str(path))
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # Only graphml written by other tools gets here (osmnx fills every attribute used).
        msg = (
            f"{path}: cannot use this road graph ({error_cause(exc)}); save it with "
            f"osmnx.save_graphml or {_REEXPORT}"
        )
        raise InputError(msg) from None
    return network


def default_cache_dir() -> Path:
    """The cache folder used when none is given."""
    env = os.environ.get("SERVICECIRCLE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "servicecircle"


def _cache_path(
    path: Path, cache_dir: str | Path | None, simplify: bool
) -> tuple[Path | None, str]:
    """The compiled network's file in the cache (None: no cache), and the SHA-256 of the
    source's content it is keyed by (run records reuse it: "" when not hashed)."""
    if cache_dir is False:  # type: ignore[comparison-overlap]
        return None, ""
    content = feed_input(
        hashlib.sha256(), path, what="road network file", todo="check its permissions"
    )
    digest = content.copy()
    digest.update(f"v{CACHE_VERSION}-simplify{simplify}".encode())
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"network-{digest.hexdigest()[:24]}.npz", content.hexdigest()


def read_graph(path: str | Path, *, simplify: bool = True) -> Any:
    """Parse a road network file into an osmnx ``MultiDiGraph`` (unprojected or as saved).

    From OSM files (``.osm``, ``.osm.bz2``, ``.osm.pbf``) only ways tagged ``highway=*`` are
    kept, less those in :data:`NOT_ROADS` and closed highway areas; ways cut by the edge of an
    extract are split where their nodes are missing. ``.graphml`` is read as osmnx saved it.

    Raises
    ------
    InputError
        With the file name and the cause when the file cannot be parsed or has no roads.
    """
    import osmnx as ox

    path = Path(path)
    try:
        if path.name.lower().endswith(".graphml"):
            return _load_graphml(ox, path)
        with tempfile.TemporaryDirectory(prefix="servicecircle-") as tmp:
            xml = Path(tmp) / "roads.osm"
            _roads_to_xml(path, xml)
            with _osmnx_way_tags(ox):
                graph = ox.graph_from_xml(xml, bidirectional=False, simplify=False, retain_all=True)
        if simplify:
            differ = list(OSM_SIMPLIFY["edge_attrs_differ"]) or None
            graph = ox.simplification.simplify_graph(
                graph, edge_attrs_differ=differ, remove_rings=OSM_SIMPLIFY["remove_rings"]
            )
        return graph
    except InputError:
        raise
    except Exception as exc:  # parsers raise many types; the user needs the file and the cause
        msg = f"{path}: cannot read road network ({error_cause(exc)}); {_REEXPORT}"
        raise InputError(msg) from None


@contextmanager
def _osmnx_way_tags(ox: Any) -> Iterator[None]:
    # osmnx keeps only the way tags it is told of; the access rules need WAY_TAGS. Its
    # settings are module state, so they are put back as found.
    kept = ox.settings.useful_tags_way
    ox.settings.useful_tags_way = list(dict.fromkeys([*kept, *WAY_TAGS]))
    try:
        yield
    finally:
        ox.settings.useful_tags_way = kept


def _load_graphml(ox: Any, path: Path) -> Any:
    graph = ox.io.load_graphml(path)
    if "crs" not in graph.graph:
        x = np.array([d.get("x", 0.0) for _, d in graph.nodes(data=True)], dtype=float)
        if len(x) and np.nanmax(np.abs(x)) > 180:
            msg = (
                f"{path}: the graph has no 'crs' attribute and its x values are not degrees; "
                "save it with osmnx.save_graphml, which records the CRS"
            )
            raise InputError(msg)
        graph.graph["crs"] = "EPSG:4326"
    return graph


def _roads_to_xml(source: Path, xml: Path) -> None:
    # osmnx reads only OSM XML, turns every way into edges (buildings, rivers and land use
    # too) and refuses ways whose nodes an extract cut off. Hand it the roads alone, in XML,
    # split where nodes are missing.
    import osmium

    coords: dict[int, tuple[float, float]] = {}
    pieces: list[tuple[int, list[int], dict[str, str]]] = []
    clipped = 0
    piece_ids = itertools.count(_PIECE_ID_BASE)
    for way in highway_ways(source):
        tags = {tag.k: tag.v for tag in way.tags}
        if tags["highway"] in NOT_ROADS or tags.get("area") == "yes":
            continue
        runs: list[list[int]] = [[]]
        for ref in way.nodes:
            if ref.location.valid():
                coords[ref.ref] = (ref.location.lon, ref.location.lat)
                runs[-1].append(ref.ref)
            else:
                runs.append([])
        if len(runs) == 1:
            if len(runs[0]) >= 2:
                pieces.append((way.id, runs[0], tags))
            continue
        clipped += 1
        pieces.extend((next(piece_ids), run, tags) for run in runs if len(run) >= 2)
    if not pieces:
        msg = f"{source}: no roads found (no ways tagged highway=*); {_REEXPORT} with its roads"
        raise InputError(msg)
    if clipped:
        log.info("%s: %d ways cut by the edge of the extract kept in pieces", source, clipped)
    with osmium.SimpleWriter(str(xml), overwrite=True) as writer:
        for node_id, location in coords.items():
            writer.add_node(osmium.osm.mutable.Node(id=node_id, location=location))
        for way_id, refs, tags in pieces:
            writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags))


def _download(spec: str) -> Any:
    import osmnx as ox

    bbox = None
    if spec.startswith("bbox:"):
        try:
            west, south, east, north = (float(x) for x in spec[5:].split(","))
        except ValueError:
            msg = f"{spec!r}: expected bbox:<west>,<south>,<east>,<north> in degrees"
            raise InputError(msg) from None
        bbox = (west, south, east, north)
    try:
        with _osmnx_way_tags(ox):
            if bbox is None:
                return ox.graph_from_place(spec[6:], network_type="all", retain_all=True)
            return ox.graph_from_bbox(bbox, network_type="all", retain_all=True)
    except Exception as exc:  # network errors from requests, "nothing found" from osmnx
        msg = (
            f"cannot download {spec!r} through osmnx ({error_cause(exc)}); "
            "offline? give a .osm or .osm.pbf file instead"
        )
        raise InputError(msg) from None


# --- travel graphs -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TravelGraph:
    """A road network for one mode: travel seconds on a sparse matrix plus snap-able segments.

    A *segment* is one physical road piece between two nodes; it can be traversed forward
    (``seg_u`` to ``seg_v``, ``seg_t_fwd`` seconds) and/or backward (``seg_t_bwd``; ``inf``
    where one-way rules forbid it).
    """

    mode: str
    speed_kmh: float | None
    crs: str
    node_xy: np.ndarray
    seg_u: np.ndarray
    seg_v: np.ndarray
    seg_length: np.ndarray
    seg_t_fwd: np.ndarray
    seg_t_bwd: np.ndarray
    seg_lines: Lines  # one line per segment, from seg_u to seg_v
    matrix: sp.csr_matrix = field(repr=False)
    # Segments at street level (planner.access.street_level), where points may join the roads.
    seg_street: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.matrix.shape[0])

    @cached_property
    def reverse_matrix(self) -> sp.csr_matrix:
        """Travel seconds with every edge reversed (searches toward sites instead of from them).

        The matrix itself when every segment takes as long both ways (walking on level
        ground): it then equals its transpose, element for element (:func:`_matrix` keeps the
        faster of parallel roads each way), and no transposed copy is made.
        """
        if np.array_equal(self.seg_t_fwd, self.seg_t_bwd):
            return self.matrix
        return self.matrix.T.tocsr()

    @cached_property
    def seg_geometry(self) -> np.ndarray:
        """The segments as shapely line strings, made on first use (most runs need none)."""
        return self.seg_lines.geoms()

    @cached_property
    def segment_tree(self) -> shapely.STRtree:
        """Spatial index over the segments."""
        return shapely.STRtree(self.seg_geometry)

    @cached_property
    def segment_component_size(self) -> np.ndarray:
        """Per segment, the number of nodes of the road network piece it belongs to."""
        _, label = connected_components(self.matrix, directed=True, connection="weak")
        size = np.bincount(label)
        sizes: np.ndarray = size[label[self.seg_u]]
        return sizes

    def subset_tree(self, name: str, keep: np.ndarray) -> shapely.STRtree:
        """Spatial index over the segments in mask ``keep``, cached under ``name``."""
        key = f"_tree_{name}"
        if key not in self.__dict__:
            self.__dict__[key] = shapely.STRtree(self.seg_geometry[keep])
        return self.__dict__[key]

    def main_segment_tree(self, min_nodes: int) -> shapely.STRtree:
        """Spatial index over the segments of pieces with at least ``min_nodes`` nodes."""
        return self.subset_tree(f"main{min_nodes}", self.segment_component_size >= min_nodes)

    _DERIVED = ("_tree_", "_snap_pieces_", "segment_tree", "seg_geometry", "reverse_matrix")
    """Keys (prefixes) of what is cached on the graph and can be made again from it."""

    def drop_indexes(self) -> None:
        """Forget the spatial indexes and other derived copies, to free their memory.

        They are made again (or loaded from the cache) if asked for later.
        """
        for key in [k for k in self.__dict__ if k.startswith(self._DERIVED)]:
            del self.__dict__[key]

    def __getstate__(self) -> dict[str, Any]:
        # Indexes are rebuilt on first use after unpickling (in a Dask worker).
        return {k: v for k, v in self.__dict__.items() if not k.startswith(self._DERIVED)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @classmethod
    def build(
        cls, network: RoadNetwork, mode: str, *, speed_kmh: float | None = None
    ) -> TravelGraph:
        """Compile ``network`` for ``mode`` (no cache); see :meth:`RoadNetwork.travel_graph`."""
        arrays = cls.compile(network, mode, speed_kmh=speed_kmh)
        return cls.assemble(network, mode, arrays, speed_kmh=speed_kmh)

    @staticmethod
    def compile(
        network: RoadNetwork, mode: str, *, speed_kmh: float | None = None
    ) -> dict[str, np.ndarray]:
        """The arrays of ``network``'s graph for ``mode`` (what :func:`_save_graph_arrays` keeps).

        ``edge`` is, per segment, the directed edge of ``network`` that draws it.
        """
        if mode not in access.NOT_FOR:
            msg = f"unknown travel mode {mode!r}; use walk, bike or drive"
            raise InputError(msg)
        usable = access.usable(network.edge_highway, network.edge_tags, mode)
        u = network.edge_u[usable]
        v = network.edge_v[usable]
        length = network.edge_length[usable]
        if speed_kmh is None and mode != "drive":
            speed_kmh = DEFAULT_SPEEDS_KMH[mode]
        if speed_kmh is not None:
            seconds = length / (speed_kmh / 3.6)
        else:
            kph = np.where(network.edge_speed_kph[usable] > 0, network.edge_speed_kph[usable], 25.0)
            seconds = length / (kph / 3.6)
        # One segment per physical road: a directed edge and its reverse twin have swapped
        # endpoints and the same length (parallel roads between two nodes differ in length).
        if len(u) == 0:
            kinds = ", ".join(sorted(set(network.edge_highway)))
            msg = (
                f"{network.source or 'road network'}: no road can be used {MODES[mode]['en']} "
                f"(it has only {kinds}); choose another travel mode or a fuller road network"
            )
            raise InputError(msg)
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        key = pd.DataFrame({"lo": lo, "hi": hi, "len": np.round(length, 1)})
        seg_id = key.groupby(["lo", "hi", "len"], sort=False).ngroup().to_numpy()
        n_seg = int(seg_id.max()) + 1 if len(seg_id) else 0
        rep = np.full(n_seg, -1, dtype=np.int64)
        rep[seg_id[::-1]] = np.arange(len(seg_id))[::-1]  # first edge of each segment
        seg_u, seg_v = u[rep], v[rep]
        forward = u == seg_u[seg_id]
        t_fwd = np.full(n_seg, np.inf)
        t_bwd = np.full(n_seg, np.inf)
        there = back = seconds  # along the edge (u to v), and the same road from v to u
        if mode != "drive" and network.edge_slope:
            there = seconds * network.edge_slope[f"{mode}_fwd"][usable]
            back = seconds * network.edge_slope[f"{mode}_bwd"][usable]
        np.minimum.at(t_fwd, seg_id[forward], there[forward])
        np.minimum.at(t_bwd, seg_id[~forward], there[~forward])
        if mode == "walk":  # pedestrians may walk both ways along one-way streets
            np.minimum.at(t_fwd, seg_id[~forward], back[~forward])
            np.minimum.at(t_bwd, seg_id[forward], back[forward])
        street = np.zeros(n_seg, bool)
        np.logical_or.at(
            street, seg_id, access.street_level(network.edge_tags, len(usable))[usable]
        )
        matrix = _matrix(seg_u, seg_v, t_fwd, t_bwd, network.n_nodes)
        return {
            "seg_u": seg_u.astype(np.int32),
            "seg_v": seg_v.astype(np.int32),
            "seg_length": length[rep],
            "seg_t_fwd": t_fwd,
            "seg_t_bwd": t_bwd,
            "seg_street": street,
            "edge": np.flatnonzero(usable)[rep],
            "matrix_data": matrix.data,
            "matrix_indices": matrix.indices,
            "matrix_indptr": matrix.indptr,
        }

    @classmethod
    def assemble(
        cls,
        network: RoadNetwork,
        mode: str,
        arrays: dict[str, np.ndarray],
        *,
        speed_kmh: float | None = None,
    ) -> TravelGraph:
        """The graph of :meth:`compile`'s ``arrays`` on ``network``."""
        if speed_kmh is None and mode != "drive":
            speed_kmh = DEFAULT_SPEEDS_KMH[mode]
        n = network.n_nodes
        matrix = sp.csr_matrix(
            (arrays["matrix_data"], arrays["matrix_indices"], arrays["matrix_indptr"]),
            shape=(n, n),
        )
        return cls(
            mode=mode,
            speed_kmh=speed_kmh,
            crs=network.crs,
            node_xy=network.node_xy,
            seg_u=arrays["seg_u"],
            seg_v=arrays["seg_v"],
            seg_length=arrays["seg_length"],
            seg_t_fwd=arrays["seg_t_fwd"],
            seg_t_bwd=arrays["seg_t_bwd"],
            seg_lines=network.edge_lines.take(arrays["edge"]),
            matrix=matrix,
            seg_street=arrays["seg_street"],
        )


_GRAPH_FORMAT = 1
"""Layout of the travel graph files kept beside a compiled network."""
_GRAPHS_KEPT = 4
"""Travel graph files kept per compiled network (the most recently used)."""
_GRAPH_FIELDS = (
    "seg_u",
    "seg_v",
    "seg_length",
    "seg_t_fwd",
    "seg_t_bwd",
    "seg_street",
    "edge",
    "matrix_data",
    "matrix_indices",
    "matrix_indptr",
)


def _graph_cache(network: RoadNetwork, mode: str, speed_kmh: float | None) -> Path | None:
    """Where ``network``'s graph for ``mode`` is kept (``None``: a network without cache).

    The name digests everything the graph depends on besides the network's own file: the
    mode, the speed, the slope factors and the code that compiles it (this module and the
    access rules, byte for byte, so an edited rule never reads an old graph).
    """
    if not network.cache_file:
        return None
    digest = hashlib.sha256(f"{_GRAPH_FORMAT}|{mode}|{speed_kmh!r}".encode())
    for module in (__file__, access.__file__):
        digest.update(Path(module).read_bytes())
    for key in sorted(network.edge_slope):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(network.edge_slope[key]).tobytes())
    return kept_path(network.cache_file, f"graph-{mode}", digest.hexdigest()[:24])


def _load_graph_arrays(path: Path) -> dict[str, np.ndarray] | None:
    arrays = load_kept(path, what="travel graph", format_=_GRAPH_FORMAT)
    if arrays is None or not set(_GRAPH_FIELDS) <= set(arrays):
        return None
    return arrays


def _save_graph_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    save_kept(path, arrays, what="travel graph", format_=_GRAPH_FORMAT, keep=_GRAPHS_KEPT)


# --- files kept beside a compiled network --------------------------------------------------


def kept_path(cache_file: str, kind: str, digest: str) -> Path | None:
    """``<network>.<kind>-<digest>.npz`` beside a network's ``cache_file`` (``None``: none)."""
    if not cache_file:
        return None
    cache = Path(cache_file)
    return cache.with_name(f"{cache.stem}.{kind}-{digest}.npz")


def load_kept(path: Path, *, what: str, format_: int) -> dict[str, np.ndarray] | None:
    """The arrays of a file from :func:`save_kept`; ``None`` when it is missing, of another
    format or unreadable (a damaged file only makes a run slower: it is logged and rebuilt)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != format_:
                return None
            arrays = {k: z[k] for k in z.files if k != "format"}
        os.utime(path)  # recently used: kept by the clean-up
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        log.warning("ignoring unreadable %s %s (%s)", what, path, exc)
        return None
    log.info("%s from cache %s", what, path)
    return arrays


def save_kept(
    path: Path, arrays: dict[str, np.ndarray], *, what: str, format_: int, keep: int
) -> None:
    """Write ``arrays`` to ``path`` (from :func:`kept_path`) whole or not at all, then delete
    all but the ``keep`` most recently used files of its kind beside the same network."""
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npz")
    try:
        np.savez(tmp, format=np.array(format_), **arrays)  # type: ignore[arg-type]  # numpy stub: ** could bind allow_pickle
        os.replace(tmp, path)
    except OSError as exc:  # a read-only or full cache only makes the next run slower
        tmp.unlink(missing_ok=True)
        log.warning("could not keep the %s in %s (%s)", what, path.parent, exc)
        return
    kind = path.name.rsplit("-", 1)[0]  # <network>.<kind>
    try:
        files = sorted(
            path.parent.glob(f"{kind}-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for old in files[keep:]:
            old.unlink(missing_ok=True)
    except OSError:  # another run cleaning up at the same time
        pass


def _matrix(
    seg_u: np.ndarray, seg_v: np.ndarray, t_fwd: np.ndarray, t_bwd: np.ndarray, n: int
) -> sp.csr_matrix:
    rows = np.concatenate([seg_u, seg_v])
    cols = np.concatenate([seg_v, seg_u])
    data = np.concatenate([t_fwd, t_bwd])
    keep = np.isfinite(data) & (rows != cols)
    rows, cols, data = rows[keep], cols[keep], data[keep]
    # csr construction sums duplicates; parallel roads must keep the faster one instead.
    order = np.lexsort((data, cols, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    first = np.ones(len(rows), bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    # Explicit zeros would read as missing edges; a microsecond floor keeps them.
    data = np.maximum(data[first], 1e-6)
    return sp.csr_matrix((data, (rows[first], cols[first])), shape=(n, n))


def clip_osm(
    source: str | Path,
    target: str | Path,
    *,
    bbox: tuple[float, float, float, float],
    margin_m: float = 1000.0,
    keys: tuple[str, ...] = ("highway", "building"),
) -> Path:
    """Cut a county out of a regional OSM extract (``.osm.pbf`` or ``.osm``).

    Keeps whole ways tagged with one of ``keys`` that touch ``bbox`` (west, south, east,
    north in degrees) grown by ``margin_m`` metres on every side (so roads just outside the
    county still connect it), and the nodes they use. The output format follows the suffix of
    ``target``.
    """
    import osmium

    source, target = Path(source), Path(target)
    if not source.exists():
        msg = f"{source}: OSM file not found"
        raise InputError(msg)
    west, south, east, north = bbox
    if not (west < east and south < north):
        msg = f"bbox must be (west, south, east, north) with west < east and south < north, got {bbox}"
        raise InputError(msg)
    dlat = margin_m / 111_320.0
    dlon = margin_m / (111_320.0 * max(np.cos(np.radians((south + north) / 2)), 1e-6))
    box = osmium.osm.Box(west - dlon, south - dlat, east + dlon, north + dlat)
    target.parent.mkdir(parents=True, exist_ok=True)
    with osmium.BackReferenceWriter(str(target), ref_src=str(source), overwrite=True) as writer:
        for obj in (
            osmium.FileProcessor(str(source))
            .with_locations()
            .with_filter(osmium.filter.KeyFilter(*keys))
        ):
            # isinstance is what osmium's is_way() / is_node() test, and it narrows the type.
            if isinstance(obj, osmium.osm.Way) and any(box.contains(n.location) for n in obj.nodes):
                writer.add(obj)  # one check per way of the regional file, in C++ iteration
            elif isinstance(obj, osmium.osm.Node) and box.contains(obj.location):
                writer.add(obj)
    return target
