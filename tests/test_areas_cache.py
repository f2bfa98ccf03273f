"""Service areas kept beside the compiled network: reused for the same sites, redrawn otherwise."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import shapely

from planner import areas
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
    path = _drawings(cache)[-1]
    path.write_bytes(b"not a zip file")
    with caplog.at_level(logging.WARNING, logger="planner.areas"):
        again = analyze(Region.from_files(cache_dir=cache)).service_areas
    assert "ignoring unreadable service areas" in caplog.text
    assert shapely.equals_exact(again.geometry.values, drawn.geometry.values, tolerance=0).all()
    with np.load(path) as z:  # written again, whole
        assert int(z["format"]) == areas.AREAS_FORMAT


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
