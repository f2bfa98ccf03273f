"""Coverage, equity, gaps and service areas read like a planner's story."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _sample import sample  # noqa: F401  (session fixture)
from conftest import SAMPLE

from planner.coverage import analyze, weighted_gini
from planner.lines import Lines
from planner.network import RoadNetwork, TravelGraph
from planner.region import Region
from planner.snap import snap_points
from planner.standards import Standards, TierStandard

ROOT = Path(__file__).resolve().parents[1]


def line_region(resident_x: list[float], site_x: list[float], tiers: list[str]) -> Region:
    """A straight 5 km road along y = 0 with residents and sites beside it."""
    xs = np.arange(0, 5001, 500.0)
    xy = np.column_stack([xs, np.zeros_like(xs)])
    a = np.arange(len(xs) - 1)
    us, vs = np.r_[a, a + 1], np.r_[a + 1, a]
    geoms = shapely.linestrings(np.stack([xy[us], xy[vs]], axis=1))
    network = RoadNetwork(
        crs="EPSG:32650",
        node_osmid=np.arange(len(xs)),
        node_xy=xy,
        edge_u=us.astype(np.int32),
        edge_v=vs.astype(np.int32),
        edge_length=shapely.length(geoms),
        edge_highway=np.array(["residential"] * len(us), dtype=object),
        edge_speed_kph=np.full(len(us), 25.0),
        edge_lines=Lines.from_geoms(geoms),
    )
    residents = gpd.GeoDataFrame(
        {
            "id": [f"R{i}" for i in range(len(resident_x))],
            "population": [100] * len(resident_x),
            "town": ["东乡"] * len(resident_x),
            "village": [f"村{i}" for i in range(len(resident_x))],
        },
        geometry=gpd.points_from_xy(resident_x, [20.0] * len(resident_x)),
        crs="EPSG:32650",
    )
    sites = gpd.GeoDataFrame(
        {
            "id": [f"S{i}" for i in range(len(site_x))],
            "name": [f"站{i}" for i in range(len(site_x))],
            "tier": tiers,
            "source_row": np.arange(len(site_x)) + 2,
        },
        geometry=gpd.points_from_xy(site_x, [0.0] * len(site_x)),
        crs="EPSG:32650",
    )
    return Region(name="line", network=network, sites=sites, residents=residents)


def test_a_village_beyond_15_minutes_is_a_gap():
    # 4 km/h: 15 minutes is 1,000 m. Access legs are 20 m.
    region = line_region([500, 900, 2500, 4800], [0.0], ["station"])
    cov = analyze(region)
    res = cov.residents.set_index("id")
    assert res.loc["R0", "minutes"] == pytest.approx((500 + 20) / (4 / 3.6) / 60, abs=0.01)
    assert res["covered"].tolist() == [True, True, False, False]
    assert cov.summary["coverage"] == 0.5
    # the two far villages are 2.3 km apart: two separate gap areas, nearest site S0
    assert len(cov.gaps) == 2
    assert set(cov.gaps["nearest_site"]) == {"S0"}
    assert cov.gaps["population"].sum() == 200


def test_each_tier_has_its_own_standard():
    """The county centre may be reached by car in 30 minutes while stations need 15 on foot."""
    region = line_region([4800], [0.0, 4500.0], ["centre", "station"])
    std = Standards(tiers={"centre": TierStandard(mode="drive", minutes=30)})
    cov = analyze(region.with_standards(std))
    row = cov.residents.iloc[0]
    assert row["covered_centre"]  # 4.8 km at 25 km/h is well within 30 minutes
    assert row["covered_station"]  # 300 m walk
    assert row["nearest_site"] == "S1"
    by_tier = cov.by_tier.set_index("tier")
    assert by_tier.loc["centre", "mode"] == "drive"
    assert by_tier.loc["family", "sites"] == 0 and by_tier.loc["family", "coverage"] == 0


def test_thresholds_are_answered_in_one_pass():
    region = line_region([100, 700, 1300, 2100], [0.0], ["station"])
    cov = analyze(region)
    at = cov.summary["coverage_at"]
    # minutes: ~1.8, ~10.8, ~19.8, ~31.8
    assert at == {"5": 0.25, "10": 0.25, "15": 0.5}


def test_faster_walkers_reach_more():
    region = line_region(list(range(100, 5000, 200)), [0.0], ["station"])
    shares = [
        analyze(
            region.with_standards(Standards().override(speed_kmh=v)), service_areas=False
        ).summary["coverage"]
        for v in (3.6, 4.0, 5.0)
    ]
    assert shares[0] < shares[1] < shares[2]


def test_weighted_gini_matches_pairwise_definition():
    rng = np.random.default_rng(3)
    x = rng.random(40) * 30
    w = rng.integers(1, 9, 40).astype(float)
    pairwise = (w[:, None] * w[None, :] * np.abs(x[:, None] - x[None, :])).sum()
    expected = pairwise / (2 * w.sum() ** 2 * np.average(x, weights=w))
    assert weighted_gini(x, w) == pytest.approx(expected)
    assert weighted_gini(np.full(5, 7.0), np.ones(5)) == pytest.approx(0.0)


def test_sample_totals_add_up(sample):  # noqa: F811
    _, cov = sample
    res = cov.residents
    assert cov.summary["population_total"] == int(res["population"].sum())
    towns = cov.by_unit[cov.by_unit["level"] == "town"]
    villages = cov.by_unit[cov.by_unit["level"] == "village"]
    assert towns["population"].sum() == cov.summary["population_total"]
    assert villages["population"].sum() == cov.summary["population_total"]
    assert towns["population_covered"].sum() == cov.summary["population_covered"]
    assert len(towns) >= 7 and len(villages) >= 80
    # the deliberately under-served townships are the worst
    worst_towns = towns.sort_values("coverage")["name"].head(2).tolist()
    assert set(worst_towns) == {"青山乡", "桃源乡"}
    # residents in the hills are reported, not dropped
    far = res[res["status"].str.startswith("farther")]
    assert len(far) == 3 and not far["covered"].any()
    assert cov.summary["residents_far_from_road"] == 3


def test_any_tier_minutes_is_the_minimum_over_tiers(sample):  # noqa: F811
    _, cov = sample
    res = cov.residents
    per_tier = res[[c for c in res.columns if c.startswith("minutes_")]].min(axis=1)
    pd.testing.assert_series_equal(res["minutes"], per_tier, check_names=False)


def test_service_areas_claim_only_reachable_road_sides(sample):  # noqa: F811
    """A service area is the strip beside roads reached in time, and all of that strip.

    Checked against road points timed independently: every part of the polygon lies within
    the 60 m strip of a road point reached within 15 minutes, except filled small blocks
    (< 40,000 m2, enclosed by reached roads); and every road point reached within 15 minutes
    lies inside the polygon.
    """
    region, cov = sample
    from planner.reach import nearest
    from planner.snap import snap_points

    graph = region.graph("walk", 4.0)
    areas = cov.service_areas[cov.service_areas["tier"] == "station"].head(12)
    assert len(areas) == 12
    for row in areas.itertuples():
        poly = row.geometry
        assert shapely.is_valid(poly)
        site = region.sites[region.sites["id"] == row.site_id]
        site_xy = shapely.get_coordinates(site.geometry.values)
        near = shapely.buffer(shapely.points(site_xy[0]), 1_600)
        roads = shapely.intersection(graph.seg_geometry, near)
        roads = roads[~shapely.is_empty(roads)]
        pts = shapely.get_coordinates(shapely.segmentize(roads, 10.0))
        site_snap = snap_points(graph, site_xy, max_distance_m=500)
        reach, _ = nearest(graph, site_snap, snap_points(graph, pts, max_distance_m=1))
        # road points owned by another station are drawn in that station's area
        others = region.sites[
            (region.sites["tier"] == "station") & (region.sites["id"] != row.site_id)
        ]
        other_snap = snap_points(
            graph, shapely.get_coordinates(others.geometry.values), max_distance_m=500
        )
        rival, _ = nearest(graph, other_snap, snap_points(graph, pts, max_distance_m=1))
        own = reach.minutes <= rival.minutes
        reached = shapely.points(pts[(reach.minutes <= 15.0) & own])
        strip = shapely.buffer(shapely.multipoints(reached), 60.0 + 8.0)
        extra = shapely.get_parts(shapely.difference(poly, strip))
        assert np.all(shapely.area(extra) < 40_000), row.site_id
        inner = shapely.points(
            pts[(reach.minutes <= 14.9) & own & (rival.minutes > reach.minutes + 0.2)]
        )
        assert shapely.contains(shapely.buffer(poly, 1.0), inner).all(), row.site_id


def test_region_pickles_for_distributed_runs(sample):  # noqa: F811
    region, cov = sample
    clone = pickle.loads(pickle.dumps(region))
    again = analyze(clone, service_areas=False)
    assert again.summary["population_covered"] == cov.summary["population_covered"]


def test_dropped_indexes_are_made_again_with_the_same_snaps(sample):  # noqa: F811
    region, _ = sample
    clone = pickle.loads(pickle.dumps(region))  # the shared sample keeps its own indexes
    graph = clone.graph("walk", None)
    xy = np.column_stack([clone.residents.geometry.x, clone.residents.geometry.y])
    before = snap_points(graph, xy, max_distance_m=500.0)
    assert any(k.startswith("_snap_pieces_") for k in graph.__dict__)
    clone.drop_indexes()
    assert not any(k.startswith(TravelGraph._DERIVED) for k in graph.__dict__)
    after = snap_points(graph, xy, max_distance_m=500.0)
    assert np.array_equal(after.segment, before.segment)
    assert np.array_equal(after.fraction, before.fraction)


def test_analyze_command_writes_every_output(tmp_path):
    out = tmp_path / "out"
    env_cache = tmp_path / "cache"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "planner",
            "analyze",
            "--out",
            str(out),
            "--cache-dir",
            str(env_cache),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "population covered:" in proc.stdout
    for name in (
        "summary.json",
        "residents.csv",
        "coverage_by_unit.csv",
        "coverage_by_unit.xlsx",
        "gaps.geojson",
        "service_areas.geojson",
        "rejected.csv",
        "map.html",
    ):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for key in (
        "population_total",
        "population_covered",
        "coverage",
        "by_tier",
        "minutes",
        "mode",
        "residents_rejected",
    ):
        assert key in summary
    residents = pd.read_csv(out / "residents.csv")
    assert {"id", "population", "minutes", "nearest_site"} <= set(residents.columns)
    assert residents["minutes"].isna().sum() == 3  # only the three hill hamlets far from roads
    gaps = gpd.read_file(out / "gaps.geojson")
    assert gaps.crs.to_epsg() == 4326 and len(gaps) > 0
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in html and "服务空白区" in html


def test_own_county_never_borrows_the_sample_boundaries(tmp_path):
    from planner.errors import InputError

    with pytest.raises(InputError, match="give --residents, --sites too"):
        Region.from_files(network=SAMPLE / "county.osm", cache_dir=tmp_path)
    region = Region.from_files(
        network=SAMPLE / "county.osm",
        sites=SAMPLE / "sites.csv",
        residents=SAMPLE / "residents.csv",
        cache_dir=tmp_path,
    )
    assert region.units is None and region.candidates is None
    cov = analyze(region, service_areas=False)
    # towns and villages then come from the residents' own columns
    assert set(cov.by_unit["level"]) == {"town", "village"}


def test_service_areas_are_drawn_on_first_use_not_for_the_numbers(sample):  # noqa: F811
    region, drawn = sample
    cov = analyze(region)
    assert "service_areas" not in vars(cov)  # analyze itself drew nothing
    clone = pickle.loads(pickle.dumps(cov))  # still picklable before and after drawing
    areas = clone.service_areas
    assert clone.service_areas is areas  # drawn once, then kept
    assert list(areas["site_id"]) == list(drawn.service_areas["site_id"])
    assert shapely.equals(areas.geometry.values, drawn.service_areas.geometry.values).all()
    pickle.loads(pickle.dumps(clone))
    assert analyze(region, service_areas=False).service_areas.empty


def test_service_areas_of_one_tier_do_not_overlap(sample):  # noqa: F811
    """Where two sites' strips meet, each stretch of land goes to the nearer reached road."""
    _, cov = sample
    station = np.asarray(cov.service_areas[cov.service_areas["tier"] == "station"].geometry)
    overlap = shapely.area(shapely.intersection(station[:, None], station[None, :]))
    np.fill_diagonal(overlap, 0.0)
    assert overlap.max() < 1.0


def test_service_areas_and_isochrones_are_polygons_only(sample):  # noqa: F811
    # GeoJSON readers (and the API's schema) expect (Multi)Polygons, never a collection with
    # the slivers a repair leaves as lines.
    from pyproj import Transformer

    from planner.areas import isochrone

    region, cov = sample
    assert set(cov.service_areas.geom_type) <= {"Polygon", "MultiPolygon"}
    to_metric = Transformer.from_crs(4326, region.crs, always_xy=True)
    xy = np.array(to_metric.transform(117.2476, 28.2649))
    for mode, speed in (("bike", 12.0), ("walk", 4.0)):
        area = isochrone(region.graph(mode, speed), xy, minutes=15, max_snap_m=500)
        assert area is not None and area.geom_type in {"Polygon", "MultiPolygon"}
        assert area.area > 0
