"""The fast snapping path (KD-tree over short pieces) equals shapely's exact nearest segment.

The oracle is independent of ``planner.snap``: a shapely ``STRtree.query_nearest`` over the
segments of each snapping tier (every tied nearest segment), ``shapely.distance`` and
``line_locate_point`` on the chosen segment, on random points over real road graphs.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from conftest import shared_file

from bench.synthetic import grid_network
from planner.lines import Lines
from planner.network import TravelGraph, load_network
from planner.region import Region
from planner.snap import _K_STEPS, _Grid, _pieces, _tiers, snap_points
from planner.standards import Standards

MAX_SNAP_M = Standards().max_snap_m
TOL_M = 1e-6


@pytest.fixture(scope="module")
def sample_graphs():
    region = Region.from_files()
    return {mode: region.network.travel_graph(mode) for mode in ("walk", "drive")}


@pytest.fixture(scope="module")
def guixi_walk():
    return load_network(shared_file("guixi", "mapofgx.osm")).travel_graph("walk")


def _random_points(graph: TravelGraph, n: int, seed: int) -> np.ndarray:
    """Points over the graph's extent and a margin beyond the snap limit (some unsnapped)."""
    rng = np.random.default_rng(seed)
    lo = graph.node_xy.min(axis=0) - 1.5 * MAX_SNAP_M
    hi = graph.node_xy.max(axis=0) + 1.5 * MAX_SNAP_M
    xy = rng.uniform(lo, hi, size=(n, 2))
    # Points on the roads themselves (at nodes and along segments) are the tie-prone cases.
    at_nodes = graph.node_xy[rng.integers(0, graph.n_nodes, n // 10)]
    along = shapely.get_coordinates(
        shapely.line_interpolate_point(
            graph.seg_geometry[rng.integers(0, len(graph.seg_u), n // 10)],
            rng.uniform(0, 1, n // 10),
            normalized=True,
        )
    )
    return np.concatenate([xy, at_nodes, along])


def _oracle_check(graph: TravelGraph, xy: np.ndarray) -> dict[str, int]:
    """Assert ``snap_points`` equals the shapely oracle tier by tier; counts per outcome."""
    got = snap_points(graph, xy, max_distance_m=MAX_SNAP_M)
    points = shapely.points(xy)
    todo = np.arange(len(xy))
    counts = {"snapped": 0, "unsnapped": 0, "ties": 0}
    for _name, keep, level in _tiers(graph, 20):
        segments = np.flatnonzero(keep)
        tree = shapely.STRtree(graph.seg_geometry[segments])
        (row, pos), dist = tree.query_nearest(
            points[todo], max_distance=MAX_SNAP_M, return_distance=True, all_matches=True
        )
        hit_rows = np.unique(row)
        here = todo[hit_rows]
        # Our segment is one of the (tied) nearest ones, at the same distance.
        tied = {}
        for r, s, d in zip(todo[row], segments[pos], dist, strict=True):
            tied.setdefault(r, (d, set()))[1].add(s)
        for r in here:
            d, choices = tied[r]
            assert got.segment[r] in choices, (r, got.segment[r], choices)
            assert abs(got.access_m[r] - d) <= TOL_M
            counts["ties"] += len(choices) > 1
        # The projection on that segment is where shapely puts it (compared as positions:
        # on a loop, the start and the end are the same place).
        geom = graph.seg_geometry[got.segment[here]]
        ours = shapely.line_interpolate_point(geom, got.fraction[here], normalized=True)
        theirs = shapely.get_point(shapely.shortest_line(geom, points[here]), 0)
        assert (shapely.distance(ours, theirs) <= 1e-5).all()
        np.testing.assert_allclose(
            shapely.distance(geom, points[here]), got.access_m[here], atol=TOL_M, rtol=0
        )
        assert (got.off_street[here] == (not level)).all()
        counts["snapped"] += len(here)
        todo = np.setdiff1d(todo, here)
    counts["unsnapped"] = len(todo)
    assert (got.segment[todo] == -1).all() and np.isinf(got.access_m[todo]).all()
    return counts


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_the_sample_snaps_equal_the_shapely_oracle(sample_graphs, mode):
    counts = _oracle_check(sample_graphs[mode], _random_points(sample_graphs[mode], 4000, 1))
    assert counts["snapped"] > 1000 and counts["unsnapped"] > 50  # both outcomes were checked


def test_guixi_snaps_equal_the_shapely_oracle(guixi_walk):
    xy = _random_points(guixi_walk, 6000, 2)
    counts = _oracle_check(guixi_walk, xy)
    assert counts["snapped"] > 3000 and counts["unsnapped"] > 50
    assert counts["ties"] > 0  # points at shared nodes were among them


def test_guixi_points_need_more_than_the_first_nearest_midpoints(guixi_walk):
    """The real county's curved roads make the first KD-tree step insufficient for some points.

    So the oracle test above also covered the later steps (more nearest midpoints).
    """
    name, keep, _ = _tiers(guixi_walk, 20)[0]
    pieces = _pieces(guixi_walk, name, keep)
    xy = _random_points(guixi_walk, 6000, 2)
    *_, complete = pieces._query(xy, MAX_SNAP_M, *_K_STEPS[0])
    assert (~complete).sum() > 10
    *_, complete = pieces.nearest(xy, MAX_SNAP_M)
    assert complete.all()


def test_snaps_do_not_depend_on_the_order_or_batching_of_the_points(sample_graphs):
    graph = sample_graphs["walk"]
    xy = _random_points(graph, 5000, 3)  # above the spatial-sort threshold
    whole = snap_points(graph, xy, max_distance_m=MAX_SNAP_M)
    flip = np.random.default_rng(0).permutation(len(xy))
    shuffled = snap_points(graph, xy[flip], max_distance_m=MAX_SNAP_M)
    one_by_one = [snap_points(graph, xy[i : i + 1], max_distance_m=MAX_SNAP_M) for i in range(50)]
    assert np.array_equal(shuffled.segment, whole.segment[flip])
    assert np.array_equal(shuffled.fraction, whole.fraction[flip])
    assert np.array_equal(shuffled.access_m, whole.access_m[flip])
    for i, single in enumerate(one_by_one):
        assert single.segment[0] == whole.segment[i]
        assert single.access_m[0] == whole.access_m[i]


def _crafted_lines() -> np.ndarray:
    coords = [
        [(0, 0), (100, 0)],  # an exact multiple of the step
        [(0, 0), (0, 0), (120.5, 3.25), (120.5, 3.25), (130, 400)],  # repeated vertices
        [(5, 5), (5.0000001, 5)],  # shorter than the step
        [(0, 0), (300, 0), (300, 300), (0, 0)],  # a closed loop
        [(3.3e6, 4.1e5), (3.3e6 + 1234.567, 4.1e5 - 987.654)],  # large coordinates
    ]
    return np.array([shapely.LineString(c) for c in coords], dtype=object)


@pytest.mark.parametrize("step_m", [50.0, 7.3])
def test_segmentize_gives_the_points_of_shapely_segmentize(sample_graphs, guixi_walk, step_m):
    for lines in (
        sample_graphs["walk"].seg_geometry,
        sample_graphs["drive"].seg_geometry,
        guixi_walk.seg_geometry,
        _crafted_lines(),
    ):
        expected, owner = shapely.get_coordinates(
            shapely.segmentize(lines, step_m), return_index=True
        )
        got, got_owner = Lines.from_geoms(lines).segmentize(step_m)
        assert np.array_equal(got, expected)
        assert np.array_equal(got_owner, owner)


def _with_grids(graph: TravelGraph) -> dict[str, object]:
    """Give every tier's pieces their cell lists (as a saved index has); the old pieces back."""
    before = {}
    for name, keep, _ in _tiers(graph, 20):
        pieces = _pieces(graph, name, keep)
        before[f"_snap_pieces_{name}"] = pieces
        graph.__dict__[f"_snap_pieces_{name}"] = pieces.with_grid()
    return before


@pytest.fixture(scope="module")
def grid_walk():
    """The benchmark's jittered street grid: many points are nearest to a node, where the
    pieces meeting there tie (the cell lists must break ties as the KD-tree does)."""
    return grid_network(60, seed=0).travel_graph("walk")


@pytest.mark.parametrize("which", ["sample walk", "sample drive", "guixi", "street grid"])
def test_the_cell_lists_give_the_same_snaps_as_the_kd_tree(
    sample_graphs, guixi_walk, grid_walk, which
):
    graph = {
        "sample walk": sample_graphs["walk"],
        "sample drive": sample_graphs["drive"],
        "guixi": guixi_walk,
        "street grid": grid_walk,
    }[which]
    xy = _random_points(graph, 6000, 4)
    if which == "street grid":  # dense: points in the node cones, where pieces tie
        inside = np.random.default_rng(4).uniform(
            graph.node_xy.min(axis=0), graph.node_xy.max(axis=0), size=(20_000, 2)
        )
        xy = np.concatenate([xy, inside])
    plain = snap_points(graph, xy, max_distance_m=MAX_SNAP_M)
    before = _with_grids(graph)
    try:
        name, keep, _ = _tiers(graph, 20)[0]
        pieces = _pieces(graph, name, keep)
        assert pieces.grid is not None
        *_, proven = pieces._grid_query(xy, MAX_SNAP_M)
        assert proven.mean() > 0.15  # the cell lists answered many points (many lie far out)
        assert (~proven).any()  # and the KD-tree the others
        gridded = snap_points(graph, xy, max_distance_m=MAX_SNAP_M)
        assert np.array_equal(gridded.segment, plain.segment)
        assert np.array_equal(gridded.fraction, plain.fraction)
        assert np.array_equal(gridded.access_m, plain.access_m)
        counts = _oracle_check(graph, xy)  # and both equal shapely's exact nearest segment
        assert counts["snapped"] > 1000 and counts["ties"] > 0
    finally:
        graph.__dict__.update(before)


def _check_cell_lists(a: np.ndarray, b: np.ndarray, grid: _Grid, xy: np.ndarray) -> None:
    """Brute force: a piece a cell leaves out lies beyond reach + margin of the cell's points."""
    cell, margin = grid.locate(xy)
    assert (cell >= 0).all()
    lines = shapely.linestrings(np.stack([a, b], axis=1))
    for p, c, m in zip(xy, cell, margin, strict=True):
        # The point lies in its cell, margin is its distance to the cell's border.
        iy, ix = divmod(int(c), int(grid.shape[0]))
        x0, y0 = grid.origin + grid.cell_m * np.array([ix, iy])
        assert x0 <= p[0] <= x0 + grid.cell_m and y0 <= p[1] <= y0 + grid.cell_m
        border = min(p[0] - x0, x0 + grid.cell_m - p[0], p[1] - y0, y0 + grid.cell_m - p[1])
        assert abs(border - m) < 1e-6
        listed = np.zeros(len(lines), bool)
        listed[grid.pieces[grid.indptr[c] : grid.indptr[c + 1]]] = True
        left_out = shapely.distance(shapely.Point(p), lines[~listed])
        assert (left_out > grid.reach_m + m).all()


def test_a_cell_lists_every_piece_its_proof_counts_on(guixi_walk):
    name, keep, _ = _tiers(guixi_walk, 20)[0]
    pieces = _pieces(guixi_walk, name, keep).with_grid()
    rng = np.random.default_rng(5)
    lo, hi = pieces.a.min(axis=0), pieces.a.max(axis=0)
    xy = rng.uniform(lo, hi, size=(300, 2))
    _check_cell_lists(pieces.a, pieces.b, pieces.grid, xy)


def test_roads_far_apart_get_larger_cells_not_a_huge_grid():
    # Two short roads 300 km apart (e.g. an exclave): 50 m cells would be 36 million.
    a = np.array([[0.0, 0.0], [3e5, 3e5], [10.0, 5.0]])
    b = np.array([[30.0, 0.0], [3e5 + 30.0, 3e5], [10.0, 45.0]])
    grid = _Grid.build(a, b)
    assert len(grid.indptr) - 1 < 100_000 and grid.cell_m > 50
    rng = np.random.default_rng(6)
    near = np.concatenate(
        [rng.uniform(-35, 75, (100, 2)), rng.uniform(3e5 - 35, 3e5 + 75, (100, 2))]
    )
    _check_cell_lists(a, b, grid, near)
