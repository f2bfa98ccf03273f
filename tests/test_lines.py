"""Lines (coordinates + offsets) against shapely's own answers on the same line strings."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from planner.lines import Lines


@pytest.fixture(scope="module")
def geoms() -> np.ndarray:
    rng = np.random.default_rng(7)
    counts = rng.integers(2, 9, 300)
    lines = [
        shapely.LineString(np.cumsum(rng.normal(0, 80, (k, 2)), axis=0) + 3.4e6) for k in counts
    ]
    lines.append(shapely.LineString([(0, 0), (0, 0), (5, 0)]))  # a repeated point
    lines.append(shapely.LineString([(0, 0), (10, 0), (10, 10), (0, 0)]))  # a closed loop
    return np.array(lines, dtype=object)


def test_round_trip_keeps_every_coordinate(geoms):
    lines = Lines.from_geoms(geoms)
    assert len(lines) == len(geoms)
    assert shapely.equals_exact(lines.geoms(), geoms, tolerance=0).all()
    assert np.array_equal(lines.counts, shapely.get_num_coordinates(geoms))


def test_take_selects_lines_in_the_order_asked(geoms):
    lines = Lines.from_geoms(geoms)
    index = np.array([5, 0, 301, 5, 17])
    assert shapely.equals_exact(lines.take(index).geoms(), geoms[index], tolerance=0).all()
    mask = np.arange(len(geoms)) % 3 == 1
    assert shapely.equals_exact(lines.take(mask).geoms(), geoms[mask], tolerance=0).all()
    assert len(lines.take(np.array([], dtype=np.int64))) == 0


def test_length_bounds_and_first_point_are_shapelys(geoms):
    lines = Lines.from_geoms(geoms)
    assert np.array_equal(lines.length(), shapely.length(geoms))  # the same floats
    assert np.array_equal(lines.bounds(), shapely.bounds(geoms))
    assert np.array_equal(lines.first, shapely.get_coordinates(shapely.get_point(geoms, 0)))


def test_reversed_where_flips_only_the_lines_asked(geoms):
    lines = Lines.from_geoms(geoms)
    flip = np.arange(len(geoms)) % 2 == 0
    expected = np.where(flip, shapely.reverse(geoms), geoms)
    assert shapely.equals_exact(lines.reversed_where(flip).geoms(), expected, tolerance=0).all()


@pytest.mark.parametrize("step_m", [25.0, 7.3])
def test_segmentize_gives_the_points_of_shapely_segmentize(geoms, step_m):
    expected, owner = shapely.get_coordinates(shapely.segmentize(geoms, step_m), return_index=True)
    got, got_owner = Lines.from_geoms(geoms).segmentize(step_m)
    assert np.array_equal(got, expected)
    assert np.array_equal(got_owner, owner)


def test_overlaps_is_the_bounding_box_test(geoms):
    lines = Lines.from_geoms(geoms)
    box = (3.4e6 - 100, 3.4e6 - 100, 3.4e6 + 150, 3.4e6 + 200)
    expected = shapely.intersects(shapely.envelope(geoms), shapely.box(*box))
    got = lines.overlaps(box)
    assert got.any() and not got.all()
    assert np.array_equal(got, expected)


def test_a_line_of_one_point_is_refused():
    with pytest.raises(ValueError, match="two or more points"):
        Lines.from_owner(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), np.array([0, 0, 1]))
