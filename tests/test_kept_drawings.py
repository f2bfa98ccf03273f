"""What is kept beside a compiled network: travel graphs and service areas, reused only when
every input they depend on is the same."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import shapely

from planner import areas, network
from planner.coverage import analyze
from planner.region import Region


def _drawings(cache):
    return sorted(cache.glob("network-*.areas-*.npz"))


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """A cache folder filled by one analysis of the sample, and that analysis' areas."""
    cache = tmp_path_factory.mktemp("areas-cache")
    region = Region.from_files(cache_dir=cache)
    drawn = analyze(region).service_areas
    return cache, drawn


def test_each_tier_with_sites_keeps_one_drawing(cached):
    cache, drawn = cached
    region = Region.from_files(cache_dir=cache)
    assert len(_drawings(cache)) == region.sites["tier"].nunique() == drawn["tier"].nunique()


def test_the_next_run_reads_the_kept_drawing(cached, tmp_path):
    cache, drawn = cached
    region = Region.from_files(cache_dir=cache)
    again = analyze(region).service_areas
    assert again["site_id"].tolist() == drawn["site_id"].tolist()
    assert shapely.equals_exact(again.geometry.values, drawn.geometry.values, tolerance=0).all()
    # Proof that it is read, not redrawn: a kept drawing replaced by other polygons is what
    # the next run shows (the file is trusted as the drawing of its key).
    path = _drawings(cache)[0]
    with np.load(path) as z:
        labels = z["labels"]
    fake = shapely.buffer(shapely.points(np.zeros((len(labels), 2)) + 1e5), 1.0)
    areas._save_areas(path, labels, fake)
    shown = analyze(Region.from_files(cache_dir=cache)).service_areas
    assert (shapely.area(shown.geometry.values) < 4.0).sum() == len(labels)
    # put the true drawing back for the other tests
    path.unlink()
    analyze(Region.from_files(cache_dir=cache)).service_areas  # noqa: B018 (draws again)
    assert len(_drawings(cache)) == drawn["tier"].nunique()


def test_moving_one_site_redraws_its_tier_only(cached):
    cache, drawn = cached
    region = Region.from_files(cache_dir=cache)
    before = set(_drawings(cache))
    sites = region.sites.copy()
    first = sites.index[sites["tier"] == "station"][0]
    sites.loc[first, "geometry"] = shapely.Point(
        sites.geometry[first].x + 300.0, sites.geometry[first].y
    )
    moved = analyze(region.with_sites(sites)).service_areas
    added = set(_drawings(cache)) - before
    assert len(added) == 1  # the stations' drawing; the other tiers' files were reused
    station = drawn["tier"] == "station"
    same = moved.loc[~station.to_numpy()].geometry.values
    assert shapely.equals_exact(same, drawn.loc[~station].geometry.values, tolerance=0).all()
    assert not shapely.equals_exact(
        moved.loc[station.to_numpy()].geometry.values, drawn.loc[station].geometry.values, 0
    ).all()


def test_a_damaged_drawing_is_ignored_and_replaced(cached, caplog):
    cache, drawn = cached
    # every drawing damaged (other tests leave drawings this analysis does not read)
    for path in _drawings(cache):
        path.write_bytes(b"not a zip file")
    with caplog.at_level(logging.WARNING):
        again = analyze(Region.from_files(cache_dir=cache)).service_areas
    assert "ignoring unreadable service areas" in caplog.text
    assert shapely.equals_exact(again.geometry.values, drawn.geometry.values, tolerance=0).all()
    whole = []  # the ones this analysis read are written again, whole
    for path in _drawings(cache):
        try:
            with np.load(path) as z:
                whole.append(int(z["format"]) == areas.AREAS_FORMAT)
        except (OSError, ValueError):
            continue
    assert len(whole) == drawn["tier"].nunique() and all(whole)


def test_only_the_most_recent_drawings_are_kept(tmp_path):
    stem = "network-0123"
    for i in range(areas.AREAS_KEPT + 5):
        old = tmp_path / f"{stem}.areas-{i:04d}.npz"
        old.write_bytes(b"x")
        os.utime(old, (1_000_000 + i, 1_000_000 + i))
    areas._save_areas(
        tmp_path / f"{stem}.areas-new.npz", np.array([0]), np.array([shapely.box(0, 0, 1, 1)])
    )
    kept = sorted(p.name for p in tmp_path.glob(f"{stem}.areas-*.npz"))
    assert len(kept) == areas.AREAS_KEPT
    assert f"{stem}.areas-new.npz" in kept
    assert f"{stem}.areas-0000.npz" not in kept  # the oldest went first
    labels, polygons = areas._load_areas(tmp_path / f"{stem}.areas-new.npz")
    assert labels.tolist() == [0] and shapely.equals(polygons[0], shapely.box(0, 0, 1, 1))


def test_a_network_without_cache_draws_without_keeping(tmp_path):
    from dataclasses import replace

    region = Region.from_files(cache_dir=tmp_path)
    before = set(tmp_path.iterdir())
    uncached = replace(region, network=replace(region.network, cache_file=""), _cache={})
    drawn = analyze(uncached).service_areas
    assert len(drawn) and set(tmp_path.iterdir()) == before


def _same_graph(a, b):
    for name in ("seg_u", "seg_v", "seg_length", "seg_t_fwd", "seg_t_bwd", "seg_street"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.seg_lines.xy, b.seg_lines.xy)
    assert np.array_equal(a.seg_lines.offsets, b.seg_lines.offsets)
    assert (a.matrix != b.matrix).nnz == 0 and a.matrix.shape == b.matrix.shape
    assert (a.mode, a.speed_kmh) == (b.mode, b.speed_kmh)


def _graphs(cache):
    return sorted(cache.glob("network-*.graph-*.npz"))


@pytest.mark.parametrize(("mode", "speed"), [("walk", 4.0), ("walk", None), ("drive", None)])
def test_a_kept_travel_graph_is_the_graph_compiled_again(tmp_path, mode, speed):
    net = Region.from_files(cache_dir=tmp_path).network
    first = net.travel_graph(mode, speed_kmh=speed)  # compiled and kept
    kept = _graphs(tmp_path)
    assert len(kept) >= 1
    again = net.travel_graph(mode, speed_kmh=speed)  # read back
    _same_graph(again, first)
    _same_graph(again, network.TravelGraph.build(net, mode, speed_kmh=speed))
    assert _graphs(tmp_path) == kept  # nothing new written


def test_other_speeds_and_slopes_are_other_graphs(tmp_path):
    from dataclasses import replace

    net = Region.from_files(cache_dir=tmp_path).network
    walk = net.travel_graph("walk", speed_kmh=4.0)
    net.travel_graph("walk", speed_kmh=5.0)
    assert len(_graphs(tmp_path)) == 2
    n = len(net.edge_u)
    steep = {k: np.full(n, 2.0) for k in ("walk_fwd", "walk_bwd", "bike_fwd", "bike_bwd")}
    sloped = replace(net, edge_slope=steep).travel_graph("walk", speed_kmh=4.0)
    assert len(_graphs(tmp_path)) == 3
    assert np.allclose(sloped.seg_t_fwd, 2.0 * walk.seg_t_fwd)


def test_a_damaged_travel_graph_is_compiled_again(tmp_path, caplog):
    net = Region.from_files(cache_dir=tmp_path).network
    first = net.travel_graph("walk", speed_kmh=4.0)
    (path,) = _graphs(tmp_path)
    path.write_bytes(b"PK damaged")
    with caplog.at_level(logging.WARNING, logger="planner.network"):
        again = net.travel_graph("walk", speed_kmh=4.0)
    assert "ignoring unreadable travel graph" in caplog.text
    _same_graph(again, first)
