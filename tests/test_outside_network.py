"""A point outside the area the road network covers is rejected, not counted as a gap."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import SAMPLE, TOWN_NODES_M, lonlat
from pyproj import Transformer
from typer.testing import CliRunner

from planner.cli import app
from planner.inputs import NETWORK_MARGIN_M
from planner.network import load_network
from planner.region import Region

OUTSIDE = "lies outside the area the road network covers"
PARIS = ("RX1", "2.35", "48.85", "41", "城关镇", "城北社区")
NEW_YORK = ("SX01", "纽约站", "站", "-73.98", "40.75")


def _append(source: Path, target: Path, row: tuple[str, ...]) -> Path:
    """``source`` with one more row; the columns missing from ``row`` are left blank."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    extra = list(row) + [""] * (len(frame.columns) - len(row))
    frame.loc[len(frame)] = extra
    frame.to_csv(target, index=False)
    return target


@pytest.fixture(scope="module")
def paris_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, str]:
    """``analyze`` of the sample with a resident in Paris and a site in New York."""
    tmp = tmp_path_factory.mktemp("outside")
    residents = _append(SAMPLE / "residents.csv", tmp / "res_outside.csv", PARIS)
    sites = _append(SAMPLE / "sites.csv", tmp / "sites_outside.csv", NEW_YORK)
    out = tmp / "out"
    args = ["analyze", "--network", str(SAMPLE / "county.osm"), "--sites", str(sites)]
    args += ["--residents", str(residents), "--out", str(out), "--cache-dir", str(tmp / "c")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out, residents, sites, result.output


def test_a_resident_in_paris_and_a_site_in_new_york_are_rejected_as_outside(paris_run):
    out, residents, sites, _ = paris_run
    rejected = pd.read_csv(out / "rejected.csv", dtype={"row": int}, encoding="utf-8-sig")
    outside = rejected[rejected["reason"].str.contains(OUTSIDE)]
    n_res = len(pd.read_csv(residents))  # the appended row is the last: line n + 1
    n_sites = len(pd.read_csv(sites))
    assert sorted(outside[["layer", "file", "row", "id"]].values.tolist()) == [
        ["residents", str(residents), n_res + 1, "RX1"],
        ["sites", str(sites), n_sites + 1, "SX01"],
    ]
    reason = outside["reason"].iloc[0]
    assert "check the coordinates" in reason and "extend the OSM extract" in reason


def test_points_outside_are_left_out_of_every_total(paris_run):
    out, _, _, output = paris_run
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    sample = pd.read_csv(SAMPLE / "residents.csv")
    sites = pd.read_csv(SAMPLE / "sites.csv")
    # The sample's own rows are all good: the totals are theirs, Paris adds nothing.
    assert summary["population_total"] == round(sample["population"].sum())
    assert summary["residents_total"] == len(sample)
    assert summary["sites_total"] == len(sites)
    assert summary["residents_far_from_road"] == 3  # the sample's own three, as before
    table = pd.read_csv(out / "residents.csv", encoding="utf-8-sig")
    assert "RX1" not in set(table["id"]) and len(table) == len(sample)
    gaps = json.loads((out / "gaps.geojson").read_text("utf-8"))
    assert summary["gaps"] == len(gaps["features"])
    for feature in gaps["features"]:
        text = json.dumps(feature["geometry"])
        assert "48.85" not in text and "2.35," not in text
    # New York is rejected, not a site left out for want of a road: every sample site is used.
    assert summary["sites_used"] == len(sites) and summary["sites_rejected"] == 1
    assert f"{len(sites)} sites used (1 rejected)" in output


def test_the_map_opens_on_the_county(paris_run):
    out, *_ = paris_run
    html = (out / "map.html").read_text("utf-8")
    found = re.search(
        r"\.fitBounds\(\s*\[\[([\d.-]+), ([\d.-]+)\], \[([\d.-]+), ([\d.-]+)\]\]", html
    )
    assert found, "map.html has no fitBounds of the layers"
    south, west, north, east = map(float, found.groups())
    res = pd.read_csv(SAMPLE / "residents.csv")
    assert res["lat"].min() - 0.05 < south < north < res["lat"].max() + 0.05
    assert res["lon"].min() - 0.05 < west < east < res["lon"].max() + 0.05


def _beyond_east_edge(network_path: Path, metres: float, cache: Path) -> tuple[float, float]:
    """Degrees of a point ``metres`` east of the network's easternmost node, at its latitude."""
    network = load_network(network_path, cache_dir=cache)
    x, y = network.node_xy[network.node_xy[:, 0].argmax()]
    to_deg = Transformer.from_crs(network.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_deg.transform(x + metres, y)
    return lon, lat


@pytest.mark.parametrize(("metres", "kept"), [(1000.0, True), (NETWORK_MARGIN_M + 1000, False)])
def test_a_resident_just_past_the_last_road_is_still_assessed(
    tmp_path, town_osm, write_table, metres, kept
):
    cache = tmp_path / "cache"
    lon, lat = _beyond_east_edge(town_osm, metres, cache)
    # The town's easternmost node is the forest track's end, 3400 m east of its origin.
    assert max(x for x, _ in TOWN_NODES_M.values()) == 3400.0
    home = lonlat(0, 0)
    residents = write_table(
        "residents.csv",
        ["id", "lon", "lat", "population"],
        [["R1", f"{home[0]:.7f}", f"{home[1]:.7f}", 5], ["EDGE", f"{lon:.7f}", f"{lat:.7f}", 7]],
    )
    site = lonlat(250, 0)
    sites = write_table(
        "sites.csv",
        ["id", "name", "tier", "lon", "lat"],
        [["S1", "甲站", "站", f"{site[0]:.7f}", f"{site[1]:.7f}"]],
    )
    region = Region.from_files(network=town_osm, sites=sites, residents=residents, cache_dir=cache)
    assert ("EDGE" in set(region.residents["id"])) is kept
    outside = region.rejected[region.rejected["reason"].str.contains(OUTSIDE)]
    assert outside["id"].tolist() == ([] if kept else ["EDGE"])
    assert region.residents["population"].sum() == (12 if kept else 5)
