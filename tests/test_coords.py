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
    road_fit,
    to_wgs84,
    wgs84_to_gcj02,
)
from planner.coverage import analyze
from planner.errors import InputError
from planner.lines import Lines
from planner.network import RoadNetwork, load_network
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
    roads = network.edge_lines.geoms()[rng.integers(0, len(network.edge_lines.geoms()), 400)]
    along = shapely.line_interpolate_point(roads, rng.uniform(0, 1, 400), normalized=True)
    angle = rng.uniform(0, 2 * np.pi, 400)
    offset = rng.uniform(5, 40, 400)
    xy = (
        shapely.get_coordinates(along)
        + np.column_stack([np.cos(angle), np.sin(angle)]) * (offset[:, None])
    )
    lon, lat = Transformer.from_crs(network.crs, "EPSG:4326", always_xy=True).transform(*xy.T)
    tree = shapely.STRtree(network.edge_lines.geoms())
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


# --- one layer in GCJ-02, the other in WGS84 (sites from Amap, residents from a census table) ---


def _amap_sites(tmp_path) -> RegionFiles:
    """The sample with only the sites shifted to GCJ-02; residents stay WGS84."""
    shifted = _shifted_sample(tmp_path, "gcj02")
    base = RegionFiles.sample()
    return RegionFiles(**{**base.__dict__, "sites": shifted.sites, "candidates": None})


def test_amap_sites_with_wgs84_residents_stop_naming_the_sites_file(tmp_path):
    files = _amap_sites(tmp_path)
    with pytest.raises(InputError) as caught:
        Region.from_files(files)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{files.sites}: the sites look like GCJ-02")
    assert str(files.residents) not in message
    assert "--coord-sys gcj02" in message and "--coord-sys sites=gcj02" in message


@pytest.fixture(scope="module")
def wgs84_coverage():
    return analyze(Region.from_files(), service_areas=False)


@pytest.mark.parametrize("flag", ["auto", "sites=gcj02,residents=wgs84", "sites=amap"])
def test_each_layer_lands_in_its_own_system(tmp_path, caplog, wgs84_coverage, flag):
    files = _amap_sites(tmp_path)
    files = RegionFiles(**{**files.__dict__, "coord_sys": flag})
    with caplog.at_level("WARNING", logger="planner.region"):
        region = Region.from_files(files)
    original = pd.read_csv(SAMPLE / "sites.csv").set_index("id")
    got = region.sites.to_crs("EPSG:4326").set_index("id").loc[original.index]
    _, _, error = GEOD.inv(original["lon"], original["lat"], got.geometry.x, got.geometry.y)
    assert error.max() < 0.05  # metres
    assert not any(c.startswith(("lon_", "lat_")) for c in region.residents.columns)
    assert "lon_gcj02" in region.sites.columns
    if flag == "auto":
        said = caplog.text
        assert "sites" in said and "GCJ-02" in said and "residents read as WGS84" in said
    coverage = analyze(region, service_areas=False)
    assert coverage.summary["coverage"] == wgs84_coverage.summary["coverage"]
    pd.testing.assert_series_equal(
        coverage.residents.set_index("id")["minutes"],
        wgs84_coverage.residents.set_index("id")["minutes"],
        atol=1e-3,  # the sites were written with 7 decimals: centimetres off
    )


def test_an_unknown_layer_in_the_flag_is_a_one_line_error(tmp_path):
    files = RegionFiles(**{**RegionFiles.sample().__dict__, "coord_sys": "shops=gcj02"})
    with pytest.raises(InputError, match=r"unknown layer 'shops'.*sites, residents, candidates"):
        Region.from_files(files)


def _beside_guixi_streets(network, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` WGS84 points 5-40 m beside real Guixi streets, at random places along them."""
    rng = np.random.default_rng(seed)
    roads = network.edge_lines.geoms()[rng.integers(0, len(network.edge_lines.geoms()), n)]
    along = shapely.line_interpolate_point(roads, rng.uniform(0, 1, n), normalized=True)
    angle = rng.uniform(0, 2 * np.pi, n)
    offset = rng.uniform(5, 40, n)
    xy = (
        shapely.get_coordinates(along)
        + np.column_stack([np.cos(angle), np.sin(angle)]) * (offset[:, None])
    )
    lon, lat = Transformer.from_crs(network.crs, "EPSG:4326", always_xy=True).transform(*xy.T)
    return np.asarray(lon), np.asarray(lat)


def test_on_guixi_amap_sites_beside_census_residents_are_caught_and_wgs84_passes(tmp_path):
    path = shared_file("guixi", "mapofgx.osm")
    network = load_network(path)
    lon, lat = _beside_guixi_streets(network, 30, seed=3)
    sites = pd.DataFrame({"id": [f"S{i}" for i in range(30)], "name": "站", "tier": "站"})
    rlon, rlat = _beside_guixi_streets(network, 300, seed=4)
    residents = pd.DataFrame({"id": [f"R{i}" for i in range(300)], "population": 10})
    residents["lon"], residents["lat"] = np.round(rlon, 7), np.round(rlat, 7)
    residents.to_csv(tmp_path / "residents.csv", index=False)
    sites["lon"], sites["lat"] = np.round(lon, 7), np.round(lat, 7)
    sites.to_csv(tmp_path / "sites_wgs.csv", index=False)
    glon, glat = wgs84_to_gcj02(lon, lat)
    sites["lon"], sites["lat"] = np.round(glon, 7), np.round(glat, 7)
    sites.to_csv(tmp_path / "sites_gcj.csv", index=False)
    own = {"network": path, "residents": tmp_path / "residents.csv"}

    plain = Region.from_files(**own, sites=tmp_path / "sites_wgs.csv")
    assert plain.coord_sys == "wgs84" and len(plain.sites) == 30

    with pytest.raises(InputError) as caught:
        Region.from_files(**own, sites=tmp_path / "sites_gcj.csv")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'sites_gcj.csv'}: the sites look like GCJ-02")
    assert "--coord-sys gcj02" in message and "\n" not in message

    auto = Region.from_files(RegionFiles(**own, sites=tmp_path / "sites_gcj.csv", coord_sys="auto"))
    back = auto.sites.to_crs("EPSG:4326")
    _, _, error = GEOD.inv(lon, lat, back.geometry.x, back.geometry.y)
    assert error.max() < 0.05


def test_small_real_wgs84_layers_far_from_the_roads_raise_no_alarm():
    """Draws of 20 real Guixi building centroids (WGS84, 70 m median from the mapped roads):
    the medians alone point at BD-09 or GCJ-02 in a few draws; with the paired rule none."""
    import xml.etree.ElementTree as ET

    path = shared_file("guixi", "mapofgx.osm")
    network = load_network(path)
    tree = shapely.STRtree(network.edge_lines.geoms())
    root = ET.parse(path).getroot()
    nodes = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    buildings = [
        np.array([nodes[nd.get("ref")] for nd in way.iter("nd") if nd.get("ref") in nodes])
        for way in root.iter("way")
        if any(tag.get("k") == "building" for tag in way.iter("tag"))
    ]
    centroids = np.array([b.mean(axis=0) for b in buildings if len(b)])
    assert len(centroids) > 150
    median_only = paired = 0
    for seed in range(25):
        order = np.random.default_rng(seed).permutation(len(centroids))
        for start in range(0, len(centroids) - 19, 20):
            lon, lat = centroids[order[start : start + 20]].T
            medians, closer = road_fit(lon, lat, roads=tree, crs=network.crs)
            median_only += likely_system(medians) is not None
            paired += likely_system(medians, closer) is not None
    assert median_only > 0  # the draws are hard: the old rule alone raised false alarms
    assert paired == 0
    # Points near the streets, shifted into GCJ-02, are still told apart in a layer of 20.
    near = wgs84_to_gcj02(*_beside_guixi_streets(network, 20, seed=6))
    assert likely_system(*road_fit(*near, roads=tree, crs=network.crs)) == "gcj02"


@pytest.mark.parametrize("osm", ["sample", "guixi"])
def test_the_roads_near_points_hold_each_points_nearest_road(osm):
    """``road_tree(near)`` indexes only the roads that can be nearest to the points given: for
    them the nearest distance is the whole index's, bit for bit, and its roads are the ones
    the whole index draws once (so ``road_fit``'s medians do not move)."""
    path = SAMPLE / "county.osm" if osm == "sample" else shared_file("guixi", "mapofgx.osm")
    network = load_network(path)
    full = network.road_tree()
    rng = np.random.default_rng(3)
    lo, hi = network.node_xy.min(axis=0), network.node_xy.max(axis=0)
    points = np.vstack(
        [
            network.node_xy[rng.integers(0, len(network.node_xy), 300)]  # on road ends
            + rng.normal(0, 30, (300, 2)),  # and beside them
            rng.uniform(lo - 2_000, hi + 2_000, (300, 2)),  # anywhere, off the map too
            [hi + 15_000, lo - 8_000],  # far out, alone
            network.node_xy[:1],  # exactly on a road
        ]
    )
    near = network.road_tree(points)
    few = network.road_tree(points[:5])  # a few points beside roads: a few roads
    assert 0 < len(few.geometries) < len(full.geometries) / 4
    want = full.query_nearest(shapely.points(points), return_distance=True, all_matches=False)
    got = near.query_nearest(shapely.points(points), return_distance=True, all_matches=False)
    np.testing.assert_array_equal(got[1], want[1])
    kept = network.roads_near(points)
    assert set(network.one_way_each(kept)) == set(network.one_way_each()) & set(kept)
    # road_fit with the function gives the medians the whole index gives
    lon, lat = Transformer.from_crs(network.crs, "EPSG:4326", always_xy=True).transform(*points.T)
    assert road_fit(lon, lat, roads=network.road_tree, crs=network.crs) == road_fit(
        lon, lat, roads=full, crs=network.crs
    )


def _hand_network(lines: list[list[list[float]]], u: list[int], v: list[int], length: list[float]):
    """A network of the given drawn lines between nodes ``u`` and ``v`` (node i at the first
    point of a line leaving it) with the given lengths, as an OSM file would give them."""
    drawn = Lines.from_geoms(np.array([shapely.linestrings(xy) for xy in lines], dtype=object))
    nodes = np.zeros((max(u + v) + 1, 2))
    for line, a, b in zip(lines, u, v, strict=True):
        nodes[a], nodes[b] = line[0], line[-1]
    return RoadNetwork(
        crs="EPSG:32650",
        node_osmid=np.arange(len(nodes)),
        node_xy=nodes,
        edge_u=np.array(u, dtype=np.int32),
        edge_v=np.array(v, dtype=np.int32),
        edge_length=np.array(length, dtype=float),
        edge_highway=np.array(["residential"] * len(u), dtype=object),
        edge_speed_kph=np.full(len(u), 30.0),
        edge_lines=drawn,
    )


@pytest.mark.parametrize(
    ("lines", "u", "v", "length", "points"),
    [
        # a straight road and a detour between the same nodes, of the same recorded length:
        # the whole index draws the straight one; near the detour the answer must be the same
        (
            [
                [[0, 0], [100, 0]],
                [[0, 0], [0, 2000], [100, 2000], [100, 0]],
                [[50, 2030], [60, 2030]],
            ],
            [0, 0, 2],
            [1, 1, 3],
            [100.0, 100.0, 10.0],
            [[50, 2010.0]],
        ),
        # a long U-shaped road whose ends are close, and a point by its far bend
        (
            [[[0, 0], [0, -3000], [10, -3000], [10, 0]], [[5000, 5000], [5010, 5000]]],
            [0, 2],
            [1, 3],
            [3010.0, 10.0],
            [[5, -3001.0], [5, -2990.0]],
        ),
        # a road of no length beside a normal one, points far off and on the road
        (
            [[[0, 0], [0, 0]], [[0, 0], [500, 0]]],
            [0, 0],
            [0, 1],
            [0.0, 500.0],
            [[1, 1.0], [250, 3.0], [1e6, -1e6], [0, 0.0]],
        ),
    ],
)
def test_the_roads_near_hand_drawn_cases(lines, u, v, length, points):
    network = _hand_network(lines, u, v, length)
    points = np.array(points)
    want = network.road_tree().query_nearest(
        shapely.points(points), return_distance=True, all_matches=False
    )[1]
    got = network.road_tree(points).query_nearest(
        shapely.points(points), return_distance=True, all_matches=False
    )[1]
    np.testing.assert_array_equal(got, want)
    # points that are nowhere give an empty index, not an error
    assert len(network.road_tree(np.array([[np.nan, np.nan]])).geometries) == 0
