"""Scenarios: what changes when a site closes, proposals are built or a station is upgraded."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from _sample import sample  # noqa: F401  (session fixture)
from typer.testing import CliRunner

from planner.cli import app
from planner.coverage import analyze
from planner.errors import InputError
from planner.report import write_suggestion
from planner.scenario import Scenario, compare
from planner.siting import suggest


@pytest.fixture(scope="module")
def busiest_station(sample):  # noqa: F811
    """The station that is the nearest in-time site of the most people."""
    _, coverage = sample
    res = coverage.residents
    mine = res[res["covered"] & (res["nearest_tier"] == "station")]
    return mine.groupby("nearest_site")["population"].sum().idxmax()


def test_closing_a_station_changes_exactly_its_own_residents(sample, busiest_station):  # noqa: F811
    region, before = sample
    result = compare(region, Scenario(close=(busiest_station,)), before=before)
    rerun = analyze(
        region.with_sites(region.sites[region.sites["id"] != busiest_station]),
        service_areas=False,
    )
    rb, ra = before.residents, result.after.residents
    assert np.array_equal(ra["covered"].to_numpy(), rerun.residents["covered"].to_numpy())
    own = (rb["nearest_site"] == busiest_station).to_numpy()
    moved = (rb["nearest_site"].to_numpy() != ra["nearest_site"].to_numpy()) & rb[
        "nearest_site"
    ].notna().to_numpy()
    assert np.array_equal(moved, own)  # nobody else's nearest site changes
    lost = rb["covered"].to_numpy() & ~rerun.residents["covered"].to_numpy()
    assert lost.any() and not (lost & ~own).any()
    assert set(result.changed["id"]) == set(rb.loc[lost, "id"])
    assert (result.changed["change_kind"] == "lost").all()
    pop = rb["population"].to_numpy()
    assert result.summary["population_lost"] == int(pop[lost].sum())
    assert result.summary["population_gained"] == 0
    # the per-town table adds up to the same people
    towns = result.by_unit[result.by_unit["level"] == "town"]
    assert towns["population_lost"].sum() == int(pop[lost].sum())
    station = result.by_tier.set_index("tier").loc["station"]
    assert station["sites_after"] == station["sites_before"] - 1
    assert station["population_after"] == int((pop * ra["covered_station"]).sum())


def test_adding_the_proposals_reproduces_suggests_coverage(sample, tmp_path):  # noqa: F811
    region, before = sample
    suggestion = suggest(region, before, k=5)
    paths = write_suggestion(suggestion, before, region, tmp_path, map_html=False)
    plan = Scenario.from_options(add=paths["proposals_csv"])
    result = compare(region, plan, before=before)
    s = suggestion.summary
    assert result.summary["coverage_after"] == s["coverage_after"]
    assert (
        result.summary["population_covered_after"]
        == result.summary["population_covered_before"] + s["population_newly_covered"]
    )
    assert result.summary["population_lost"] == 0
    assert result.summary["population_gained"] == s["population_newly_covered"]


def test_a_scenario_table_runs_from_the_command_line(sample, busiest_station, tmp_path):  # noqa: F811
    region, _ = sample
    institute = region.sites[region.sites["tier"] == "station"]["id"].iloc[-1]
    table = pd.DataFrame(
        {
            "操作": ["关闭", "调整层级", "新增"],
            "id": [busiest_station, institute, "N001"],
            "tier": [None, "所", "站"],
            "name": [None, None, "新建<b>站</b>"],
            "lon": [None, None, 117.33],
            "lat": [None, None, 28.135],
        }
    )
    table.to_excel(tmp_path / "scenario.xlsx", index=False)
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app, ["compare", "--scenario", str(tmp_path / "scenario.xlsx"), "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    assert summary["closed"] == [busiest_station]
    assert summary["retiered"] == {institute: "institute"}
    assert summary["added"] == ["N001"]
    book = openpyxl.load_workbook(out / "comparison.xlsx")
    tiers = book["分层级 By tier"]
    assert [c.value for c in tiers[1]][:3] == ["层级", "变化前站点数", "变化后站点数"]
    assert tiers.freeze_panes == "A3"
    heads = [c.value for c in tiers[1]]
    assert tiers.cell(row=3, column=heads.index("变化") + 1).number_format.startswith("+0.0%")
    page = (out / "map.html").read_text(encoding="utf-8")
    for layer in ("失去覆盖的居民", "新增的站点", "关闭的站点"):
        assert json.dumps(layer)[1:-1] in page  # folium writes layer names as JSON escapes
    # the layer control comes after every layer it lists (else the page stops at an error)
    assert page.rindex("= L.featureGroup(") < page.index("L.control.layers(")
    name = json.dumps({"name": "新建&lt;b&gt;站&lt;/b&gt;"})[1:-1].replace("&", "\\u0026")
    assert name in page  # the name is escaped text in the data, never markup


def test_closing_an_unknown_site_is_a_user_error(sample, tmp_path):  # noqa: F811
    region, before = sample
    with pytest.raises(InputError, match="S9999"):
        compare(region, Scenario(close=("S9999",)), before=before)
    done = CliRunner().invoke(app, ["compare", "--retier", "S0001", "--out", str(tmp_path)])
    assert done.exit_code == 2
    assert "error:" in done.output and "SITE=TIER" in done.output


def test_proposals_of_a_gcj02_run_land_where_suggest_put_them(tmp_path):
    """``compare --add proposals.csv --coord-sys gcj02`` must not convert the WGS84 lon/lat again."""
    from planner.coords import from_wgs84
    from planner.region import Region, RegionFiles

    base = RegionFiles.sample()
    paths = {}
    for layer in ("residents", "sites", "candidates"):
        frame = pd.read_csv(getattr(base, layer), dtype=str)
        lon, lat = from_wgs84(frame["lon"].astype(float), frame["lat"].astype(float), "gcj02")
        frame["lon"], frame["lat"] = np.round(lon, 7), np.round(lat, 7)
        paths[layer] = tmp_path / f"{layer}_gcj02.csv"
        frame.to_csv(paths[layer], index=False)
    files = RegionFiles(**{**base.__dict__, **paths, "coord_sys": "gcj02"})
    region = Region.from_files(files, cache_dir=tmp_path / "cache")
    before = analyze(region, service_areas=False)
    suggestion = suggest(region, before, k=5)
    out = write_suggestion(suggestion, before, region, tmp_path / "s", map_html=False)
    assert {"lon_gcj02", "lat_gcj02"} <= set(pd.read_csv(out["proposals_csv"]).columns)
    plan = Scenario.from_options(add=out["proposals_csv"], coord_sys="gcj02")
    # the sites land on suggest's points (WGS84), not shifted a second time
    got = plan.add.set_index("id").loc[suggestion.proposals["candidate_id"]]
    want = suggestion.proposals.to_crs(4326)
    assert np.abs(got.geometry.x.to_numpy() - want.geometry.x.to_numpy()).max() < 1e-5
    assert np.abs(got.geometry.y.to_numpy() - want.geometry.y.to_numpy()).max() < 1e-5
    result = compare(region, plan, before=before)
    gained = suggestion.summary["population_newly_covered"]
    assert gained > 0 and result.summary["population_gained"] == gained


def test_a_site_added_outside_the_region_is_refused_as_the_isochrone_refuses_it(
    sample,  # noqa: F811
    tmp_path,
):
    """A site 100 degrees west (a typo in lon) once 'covered' nobody and was reported added."""
    from planner.errors import OutOfReach

    region, before = sample
    lonlat = region.network.node_xy  # the road nodes' box, WGS84, computed here on its own
    nodes = gpd.GeoSeries(gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]), crs=region.crs)
    west = float(nodes.to_crs(4326).x.min())
    table = pd.DataFrame(
        {
            "id": ["N1", "N2"],
            "name": ["新站", "远站"],
            "tier": ["站", "站"],
            "lon": [117.33, west - 0.03],  # the isochrone allows 0.02 degrees past the roads
            "lat": [28.135, 28.2],
        }
    )
    path = tmp_path / "add.csv"
    table.to_csv(path, index=False)
    plan = Scenario.from_options(add=path)
    with pytest.raises(OutOfReach, match=r"added site N2 in .*add\.csv: .* is outside region") as e:
        compare(region, plan, before=before)
    assert (e.value.code, e.value.index) == ("outside_region", 1)
    out = tmp_path / "out"
    done = CliRunner().invoke(app, ["compare", "--add", str(path), "--out", str(out)])
    assert done.exit_code == 2, done.output
    assert "error:" in done.output and "N2" in done.output and "outside region" in done.output
    assert not out.exists()
    # just inside the allowance it is a site like any other
    table.loc[1, "lon"] = west - 0.01
    table.to_csv(path, index=False)
    result = compare(region, Scenario.from_options(add=path), before=before)
    assert result.summary["added"] == ["N1", "N2"]
