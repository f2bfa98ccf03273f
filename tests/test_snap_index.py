"""Snapping indexes are saved with the compiled network and give the same snaps when reloaded."""

from __future__ import annotations

import numpy as np
import pytest

from planner.coverage import analyze
from planner.region import Region
from planner.snap import snap_points
from planner.snap_index import cache_report, index_path


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """The sample region read with a fresh cache, its residents snapped on foot (index saved)."""
    cache = tmp_path_factory.mktemp("cache")
    region = Region.from_files(cache_dir=cache)
    snapped = region.snap("residents", "walk")
    return cache, region, snapped


def _pieces(graph):
    return {k: v for k, v in graph.__dict__.items() if k.startswith("_snap_pieces_")}


def test_the_index_is_saved_beside_the_network_and_reloaded(cached):
    cache, region, first = cached
    path = index_path(region.network, "walk")
    assert path is not None and path.exists() and path.parent == cache
    built = _pieces(region.graph("walk"))
    assert built
    again = Region.from_files(cache_dir=cache)
    graph = again.graph("walk")
    loaded = _pieces(graph)  # on the graph before anything was snapped
    assert loaded.keys() == built.keys()
    for key, pieces in built.items():
        for field in ("a", "b", "segment", "start_m", "total_m"):
            assert np.array_equal(getattr(loaded[key], field), getattr(pieces, field))
    second = again.snap("residents", "walk")
    assert np.array_equal(second.segment, first.segment)
    assert np.array_equal(second.fraction, first.fraction)
    assert np.array_equal(second.access_m, first.access_m)


def test_a_damaged_index_file_is_only_a_slower_start(cached):
    cache, region, first = cached
    path = index_path(region.network, "walk")
    saved = path.read_bytes()
    try:
        path.write_bytes(b"not an npz")
        again = Region.from_files(cache_dir=cache)
        assert not _pieces(again.graph("walk"))
        xy = np.column_stack([again.residents.geometry.x, again.residents.geometry.y])
        fresh = snap_points(again.graph("walk"), xy, max_distance_m=again.standards.max_snap_m)
        assert np.array_equal(fresh.segment, first.segment)
    finally:
        path.write_bytes(saved)


def test_the_cache_reports_memory_of_the_network_graph_and_indexes(cached):
    cache, region, _ = cached
    report = cache_report(cache)
    kinds = set(report["what"])
    assert "network" in kinds and "graph walk" in kinds
    assert any(k.startswith("snap index walk") for k in kinds)
    assert (report["memory_mb"] > 0).all()
    # what analyze keeps beside the network is listed too
    analyze(Region.from_files(cache_dir=cache)).service_areas  # noqa: B018 (draws, keeps)
    kinds = set(cache_report(cache)["what"])
    kept = {k for k in kinds if k.startswith(("kept graph", "service areas", "map roads"))}
    assert "kept graph walk" in kept and "service areas" in kept
    report = cache_report(cache)
    assert report.loc[report["what"] == "service areas", "disk_mb"].sum() > 0
    # The network's arrays alone (without geometries) are a lower bound of its memory.
    network = region.network
    arrays = network.node_xy.nbytes + network.edge_u.nbytes * 2 + network.edge_length.nbytes
    assert report.loc[report["what"] == "network", "memory_mb"].iloc[0] > arrays / 1e6


def _rewrite(path, **changes):
    """Write the index file again with some arrays replaced (``None`` drops one)."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _tree_answers(graph, xy):
    return {k: p.tree.query(xy, k=8, distance_upper_bound=500.0) for k, p in _pieces(graph).items()}


@pytest.mark.parametrize(
    "damage",
    ["other scipy", "short tree", "no tree", "old layout"],
)
def test_a_saved_tree_that_does_not_fit_is_rebuilt_with_the_same_snaps(cached, damage):
    cache, region, first = cached
    path = index_path(region.network, "walk")
    saved = path.read_bytes()
    with np.load(path, allow_pickle=False) as z:
        name = str(z["names"][0])
        nodes = z[f"{name}.tree_nodes"]
    changes = {
        "other scipy": {"tree_build": np.array("scipy 0.0 elsewhere")},
        "short tree": {f"{name}.tree_nodes": nodes[:-7]},
        "no tree": {f"{name}.tree_nodes": None},
        "old layout": {"format": None},
    }[damage]
    xy = np.column_stack([region.residents.geometry.x, region.residents.geometry.y])
    try:
        _rewrite(path, **changes)
        again = Region.from_files(cache_dir=cache)
        graph = again.graph("walk")
        if damage == "old layout":  # ignored, built afresh on the first snap
            assert not _pieces(graph)
        else:  # pieces loaded, KD-tree rebuilt from their midpoints
            assert _pieces(graph)
            reference = _tree_answers(region.graph("walk"), xy)
            for key, (d, j) in _tree_answers(graph, xy).items():
                assert np.array_equal(d, reference[key][0])
                assert np.array_equal(j, reference[key][1])
        snapped = again.snap("residents", "walk")
        assert np.array_equal(snapped.segment, first.segment)
        assert np.array_equal(snapped.fraction, first.fraction)
        assert np.array_equal(snapped.access_m, first.access_m)
    finally:
        path.write_bytes(saved)


def test_the_network_piece_sizes_come_with_the_index(cached):
    cache, region, _ = cached
    graph = Region.from_files(cache_dir=cache).graph("walk")
    assert "segment_component_size" in graph.__dict__  # loaded, not recomputed
    fresh = region.network.travel_graph("walk")
    assert np.array_equal(graph.segment_component_size, fresh.segment_component_size)


def test_the_cell_lists_are_saved_and_reloaded(cached):
    cache, region, _ = cached
    built = _pieces(region.graph("walk"))
    assert all(p.grid is not None for p in built.values())  # built when the index was saved
    loaded = _pieces(Region.from_files(cache_dir=cache).graph("walk"))
    for key, pieces in built.items():
        got = loaded[key].grid
        assert got is not None
        assert np.array_equal(got.indptr, pieces.grid.indptr)
        assert np.array_equal(got.pieces, pieces.grid.pieces)
        assert np.array_equal(got.origin, pieces.grid.origin)
        assert np.array_equal(got.shape, pieces.grid.shape)
        assert (got.cell_m, got.reach_m) == (pieces.grid.cell_m, pieces.grid.reach_m)


@pytest.mark.parametrize("damage", ["short lists", "piece out of range"])
def test_cell_lists_that_do_not_fit_are_ignored_with_the_same_snaps(cached, damage):
    cache, region, first = cached
    path = index_path(region.network, "walk")
    saved = path.read_bytes()
    with np.load(path, allow_pickle=False) as z:
        name = str(z["names"][0])
        lists = z[f"{name}.grid_pieces"]
    bad = lists.copy()
    bad[0] = 10**9
    changes = {
        "short lists": {f"{name}.grid_pieces": lists[:-3]},
        "piece out of range": {f"{name}.grid_pieces": bad},
    }[damage]
    try:
        _rewrite(path, **changes)
        graph = Region.from_files(cache_dir=cache).graph("walk")
        assert _pieces(graph)[f"_snap_pieces_{name}"].grid is None  # KD-tree only
        again = Region.from_files(cache_dir=cache)
        snapped = again.snap("residents", "walk")
        assert np.array_equal(snapped.segment, first.segment)
        assert np.array_equal(snapped.access_m, first.access_m)
    finally:
        path.write_bytes(saved)
