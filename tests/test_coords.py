"""Coordinates that cannot go silently wrong: Amap or Baidu points without the flag are caught.

The sample's residents and sites are WGS84; shifted into GCJ-02 (Amap, Tencent) or BD-09
(Baidu) with the published formulas they are what a user exporting from those maps brings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import SAMPLE, shared_file
from pyproj import Geod, Transformer

from planner.coords import (
    from_wgs84,
    gcj02_to_bd09,
    likely_system,
    road_distances,
    to_wgs84,
    wgs84_to_gcj02,
)
from planner.coverage import analyze
from planner.errors import InputError
from planner.network import load_network
from planner.region import Region, RegionFiles
from planner.report import residents_table

GEOD = Geod(ellps="WGS84")


def _shifted_sample(tmp_path, system: str) -> RegionFiles:
    """The sample with residents and sites written in ``system``."""
    paths = {}
    for layer in ("residents", "sites"):
        frame = pd.read_csv(SAMPLE / f"{layer}.csv", dtype=str)
        lon, lat = from_wgs84(frame["lon"].astype(float), frame["lat"].astype(float), system)
        frame["lon"], frame["lat"] = np.round(lon, 7), np.round(lat, 7)
        paths[layer] = tmp_path / f"{layer}_{system}.csv"
        frame.to_csv(paths[layer], index=False)
    base = RegionFiles.sample()
    return RegionFiles(**{**base.__dict__, **paths, "candidates": None})


def test_the_conversions_invert_each_other_and_move_points_hundreds_of_metres():
    lon = np.array([117.2345, 116.3975, 121.4737, 113.2644])
    lat = np.array([28.2716, 39.9087, 31.2304, 23.1291])
    # Baidu's published BD-09 inverse is approximate (decimetres); GCJ-02 is iterated to mm.
    for system, (low, high), tol in (("gcj02", (100, 800), 0.01), ("bd09", (600, 1500), 0.5)):
        x, y = from_wgs84(lon, lat, system)
        _, _, moved = GEOD.inv(lon, lat, x, y)
        assert ((moved > low) & (moved < high)).all(), (system, moved)
        back_lon, back_lat = to_wgs84(x, y, system)
        _, _, error = GEOD.inv(lon, lat, back_lon, back_lat)
        assert error.max() < tol  # metres
    # Outside China the three systems coincide.
    x, y = from_wgs84(np.array([24.94]), np.array([60.17]), "gcj02")
    assert (x[0], y[0]) == (24.94, 60.17)


def test_wgs84_sample_points_pass_without_a_false_alarm():
    region = Region.from_files()  # the session's network cache: the sample is parsed once
    assert region.coord_sys == "wgs84"
    assert not any(c.startswith(("lon_", "lat_")) for c in region.residents.columns)


@pytest.mark.parametrize(("system", "named"), [("gcj02", "GCJ-02"), ("bd09", "BD-09")])
def test_shifted_points_without_the_flag_stop_with_the_system_to_give(tmp_path, system, named):
    files = _shifted_sample(tmp_path, system)
    with pytest.raises(InputError) as caught:
        Region.from_files(files)
    message = str(caught.value)
    assert "\n" not in message
    assert named in message and f"--coord-sys {system}" in message
    assert str(files.sites) in message  # the first layer that does not fit the roads


@pytest.fixture(scope="module")
def gcj_region(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gcj")
    files = _shifted_sample(tmp, "gcj02")
    files = RegionFiles(**{**files.__dict__, "coord_sys": "auto"})
    return Region.from_files(files), files


def test_auto_uses_the_detected_system_and_lands_on_the_original_points(gcj_region):
    region, _ = gcj_region
    assert region.coord_sys == "gcj02"
    original = pd.read_csv(SAMPLE / "residents.csv")
    got = region.residents.set_index("id").loc[original["id"]]
    _, _, error = GEOD.inv(original["lon"], original["lat"], got["lon"], got["lat"])
    assert error.max() < 0.05  # metres


def test_outputs_carry_the_input_coordinates_beside_wgs84(gcj_region):
    region, files = gcj_region
    table = residents_table(analyze(region, service_areas=False))
    given = pd.read_csv(files.residents).set_index("id").loc[table["id"]]
    assert {"lon", "lat", "lon_gcj02", "lat_gcj02"} <= set(table.columns)
    assert np.abs(table["lon_gcj02"].to_numpy() - given["lon"].to_numpy()).max() < 2e-6
    assert np.abs(table["lat_gcj02"].to_numpy() - given["lat"].to_numpy()).max() < 2e-6
    # The WGS84 columns are the original sample points.
    original = pd.read_csv(SAMPLE / "residents.csv").set_index("id").loc[table["id"]]
    assert np.abs(table["lon"].to_numpy() - original["lon"].to_numpy()).max() < 1e-6


def test_on_the_real_guixi_network_only_the_true_system_fits():
    network = load_network(shared_file("guixi", "mapofgx.osm"))
    # Houses 5-40 m beside real streets, at random places along them (seeded).
    rng = np.random.default_rng(8)
    roads = network.edge_geometry[rng.integers(0, len(network.edge_geometry), 400)]
    along = shapely.line_interpolate_point(roads, rng.uniform(0, 1, 400), normalized=True)
    angle = rng.uniform(0, 2 * np.pi, 400)
    offset = rng.uniform(5, 40, 400)
    xy = (
        shapely.get_coordinates(along)
        + np.column_stack([np.cos(angle), np.sin(angle)]) * (offset[:, None])
    )
    lon, lat = Transformer.from_crs(network.crs, "EPSG:4326", always_xy=True).transform(*xy.T)
    tree = shapely.STRtree(network.edge_geometry)
    assert likely_system(road_distances(lon, lat, roads=tree, crs=network.crs)) is None
    gcj = wgs84_to_gcj02(lon, lat)
    assert likely_system(road_distances(*gcj, roads=tree, crs=network.crs)) == "gcj02"
    bd = gcj02_to_bd09(*gcj)
    assert likely_system(road_distances(*bd, roads=tree, crs=network.crs)) == "bd09"


def test_the_command_line_stops_with_one_error_line_naming_the_flag(tmp_path):
    from typer.testing import CliRunner

    from planner.cli import app

    files = _shifted_sample(tmp_path, "gcj02")
    args = ["analyze", "--network", str(files.network), "--sites", str(files.sites)]
    args += ["--residents", str(files.residents), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert "GCJ-02" in errors[0] and errors[0].count("--coord-sys gcj02") == 1
