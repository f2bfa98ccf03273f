"""Slopes from a DEM: on a synthetic tilted plane, walking up and down follows Tobler's function."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from conftest import TOWN_ORIGIN, lonlat
from pyproj import Transformer
from rasterio.transform import from_origin

from planner.dem import with_slopes
from planner.errors import InputError
from planner.network import load_network
from planner.reach import nearest
from planner.snap import snap_points

LENGTH_M = 1000.0
M_PER_DEG_LAT = 110_574.0  # as conftest.lonlat


def tobler_kmh(slope: float, flat_kmh: float = 4.0) -> float:
    """Tobler's hiking function 6 exp(-3.5 |s + 0.05|), rescaled to ``flat_kmh`` on the flat."""
    return flat_kmh * math.exp(-3.5 * abs(slope + 0.05)) / math.exp(-3.5 * 0.05)


def write_plane(path, grade: float) -> None:
    """A GeoTIFF in degrees (EPSG:4326) rising ``grade`` metres per metre northward."""
    west, south = lonlat(-300, -300)
    east, north = lonlat(300, LENGTH_M + 300)
    res = 0.0001  # about 10 m
    width, height = int((east - west) / res) + 1, int((north - south) / res) + 1
    lat = north - (np.arange(height) + 0.5) * res
    z = 100.0 + grade * (lat - TOWN_ORIGIN[1]) * M_PER_DEG_LAT
    data = np.repeat(z[:, None], width, axis=1).astype("float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=height,
        width=width,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(west, north, res, res),
    ) as dst:
        dst.write(data, 1)


@pytest.fixture
def straight_road(write_osm):
    """A 1 km street running north, one node every 100 m."""
    nodes = {i + 1: lonlat(0, 100 * i) for i in range(11)}
    return write_osm(nodes, [({"highway": "residential"}, list(nodes))])


def _minutes(network, mode, start_m, goal_m, speed_kmh):
    graph = network.travel_graph(mode, speed_kmh=speed_kmh)
    to_metric = Transformer.from_crs("EPSG:4326", network.crs, always_xy=True)
    xy = np.array([to_metric.transform(*lonlat(*p)) for p in (start_m, goal_m)])
    res = snap_points(graph, xy[:1], max_distance_m=100, min_component_nodes=1)
    site = snap_points(graph, xy[1:], max_distance_m=100, min_component_nodes=1)
    return float(nearest(graph, site, res)[0].minutes[0])


@pytest.mark.parametrize("grade", [0.03, 0.08, 0.15])
@pytest.mark.parametrize("speed_kmh", [4.0, 5.0])
def test_walking_up_and_down_a_tilted_plane_follows_tobler(
    straight_road, tmp_path, grade, speed_kmh
):
    dem = tmp_path / "plane.tif"
    write_plane(dem, grade)
    network = with_slopes(load_network(straight_road, cache_dir=tmp_path), dem, cache_dir=tmp_path)
    up = _minutes(network, "walk", (0, 0), (0, LENGTH_M), speed_kmh)
    down = _minutes(network, "walk", (0, LENGTH_M), (0, 0), speed_kmh)
    assert up == pytest.approx(LENGTH_M / (tobler_kmh(grade, speed_kmh) / 3.6) / 60, rel=0.01)
    assert down == pytest.approx(LENGTH_M / (tobler_kmh(-grade, speed_kmh) / 3.6) / 60, rel=0.01)
    # The flat speed is still --speed-kmh: without the DEM the same trip is length / speed.
    flat = _minutes(
        load_network(straight_road, cache_dir=tmp_path), "walk", (0, 0), (0, LENGTH_M), speed_kmh
    )
    assert flat == pytest.approx(LENGTH_M / (speed_kmh / 3.6) / 60, rel=0.005)


def test_cycling_slows_uphill_and_speeds_up_downhill(straight_road, tmp_path):
    dem = tmp_path / "plane.tif"
    write_plane(dem, 0.05)
    network = with_slopes(load_network(straight_road, cache_dir=tmp_path), dem, cache_dir=tmp_path)
    up = _minutes(network, "bike", (0, 0), (0, LENGTH_M), 12.0)
    down = _minutes(network, "bike", (0, LENGTH_M), (0, 0), 12.0)
    # The documented model: 1 - 8 s of the flat speed uphill, 1 + 4 |s| downhill.
    assert up == pytest.approx(LENGTH_M / (12.0 * 0.6 / 3.6) / 60, rel=0.01)
    assert down == pytest.approx(LENGTH_M / (12.0 * 1.2 / 3.6) / 60, rel=0.01)
    drive = network.travel_graph("drive")
    plain = load_network(straight_road, cache_dir=tmp_path).travel_graph("drive")
    assert np.array_equal(drive.seg_t_fwd, plain.seg_t_fwd)  # driving ignores slopes


def test_without_a_dem_or_on_the_flat_times_are_unchanged_to_the_bit(straight_road, tmp_path):
    plain = load_network(straight_road, cache_dir=tmp_path)
    dem = tmp_path / "flat.tif"
    write_plane(dem, 0.0)
    flat = with_slopes(plain, dem, cache_dir=tmp_path)
    assert set(flat.edge_slope) == {"walk_fwd", "walk_bwd", "bike_fwd", "bike_bwd"}
    for mode in ("walk", "bike"):
        a, b = plain.travel_graph(mode), flat.travel_graph(mode)
        assert np.array_equal(a.seg_t_fwd, b.seg_t_fwd) and np.array_equal(a.seg_t_bwd, b.seg_t_bwd)
        assert (a.matrix != b.matrix).nnz == 0
    # And without a DEM walking time is length over speed, exactly as before slopes existed.
    walk = plain.travel_graph("walk")
    assert np.array_equal(walk.seg_t_fwd, walk.seg_length / (4.0 / 3.6))


def test_slopes_are_cached_by_the_dem_content(straight_road, tmp_path):
    network = load_network(straight_road, cache_dir=tmp_path)
    dem = tmp_path / "plane.tif"
    write_plane(dem, 0.08)
    first = with_slopes(network, dem, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("slopes-*.npz"))) == 1
    again = with_slopes(network, dem, cache_dir=tmp_path)
    assert np.array_equal(first.edge_slope["walk_fwd"], again.edge_slope["walk_fwd"])
    write_plane(dem, 0.02)  # same name, other heights: a new key, other factors
    other = with_slopes(network, dem, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("slopes-*.npz"))) == 2
    assert other.edge_slope["walk_fwd"].max() < first.edge_slope["walk_fwd"].max()


def test_a_missing_dem_is_a_one_line_error(straight_road, tmp_path):
    network = load_network(straight_road, cache_dir=tmp_path)
    with pytest.raises(InputError, match="DEM file not found"):
        with_slopes(network, tmp_path / "nope.tif", cache_dir=tmp_path)


def test_a_regions_config_takes_a_dem_as_the_cli_does(straight_road, tmp_path):
    # The API's regions file names the DEM beside the other inputs (relative to the file).
    from api.config import load_settings
    from api.state import _read_region

    write_plane(tmp_path / "plane.tif", 0.08)
    lon, lat = lonlat(0, 500)
    (tmp_path / "sites.csv").write_text(f"id,name,tier,lon,lat\nS1,站,station,{lon},{lat}\n")
    (tmp_path / "res.csv").write_text(f"id,lon,lat,population\nR1,{lon},{lat},10\n")
    config = tmp_path / "regions.toml"
    config.write_text(
        f'[[regions]]\nid = "hill"\nnetwork = "{straight_road}"\nsites = "sites.csv"\n'
        'residents = "res.csv"\ndem = "plane.tif"\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    region = _read_region(settings.regions[0], settings)
    assert region.files is not None and str(region.files.dem).endswith("plane.tif")
    assert set(region.network.edge_slope) and region.network.edge_slope["walk_fwd"].size
    flat = _read_region(settings.regions[0].model_copy(update={"dem": None}), settings)
    assert not flat.network.edge_slope
