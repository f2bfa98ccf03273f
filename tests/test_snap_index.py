"""Snapping indexes are saved with the compiled network and give the same snaps when reloaded."""

from __future__ import annotations

import numpy as np
import pytest

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
    # The network's arrays alone (without geometries) are a lower bound of its memory.
    network = region.network
    arrays = network.node_xy.nbytes + network.edge_u.nbytes * 2 + network.edge_length.nbytes
    assert report.loc[report["what"] == "network", "memory_mb"].iloc[0] > arrays / 1e6
