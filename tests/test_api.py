"""The HTTP API, served by uvicorn, answers with the library's own numbers and valid GeoJSON."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import numpy as np
import pytest
import shapely
from api_harness import LocalServer
from conftest import SAMPLE as SAMPLE_DIR
from shapely.geometry import shape

from api.config import load_settings
from planner import InputError, Region, Standards, analyze
from planner.areas import isochrone
from planner.coords import wgs84_to_gcj02
from planner.coverage import gap_areas
from planner.siting import suggest
from planner.text import TIERS

pytestmark = pytest.mark.slow

API_KEY = "test-key-0123456789"
KEY = {"X-API-Key": API_KEY}  # every endpoint that computes on request needs it
QINGSHAN = ("青山乡", "360699201000")  # the under-served township of the sample county
ORIGIN = "https://dashboard.example.org"
CENTRE = (117.247640, 28.264903)  # the county centre 示范县新时代文明实践中心 (S0001)
AT_CENTRE = {"lon": CENTRE[0], "lat": CENTRE[1]}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "servicecircle-cache"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[LocalServer]:
    config = tmp_path_factory.mktemp("api") / "regions.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [[regions]]
            id = "sample"
            sample = true

            [[regions]]
            id = "sample-drive"
            name = "示范县（中心驾车）"
            sample = true
            standards = "{SAMPLE_DIR / "standards.toml"}"

            [limits]
            max_k = 20
            max_points = 5

            [security]
            api_key = "{API_KEY}"

            [cors]
            origins = ["{ORIGIN}"]
            """
        ),
        encoding="utf-8",
    )
    # Started as users start it: `servicecircle serve --config regions.toml --port ...`.
    with LocalServer(config=config, cache_dir=cache_dir, cli=True) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: LocalServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def sample(cache_dir: Path) -> tuple[Region, Any]:
    """The same region analysed in this process, to compare the answers with."""
    region = Region.from_files(cache_dir=cache_dir)
    return region, analyze(region)


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the one error shape and return its ``error`` member."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "detail"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


def assert_feature_collection(data: dict[str, Any], kinds: set[str]) -> list[Any]:
    """RFC 7946: WGS84 coordinates, closed counter-clockwise shells, valid geometries."""
    assert data["type"] == "FeatureCollection"
    geoms = []
    for feature in data["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["properties"], dict)
        geom = feature["geometry"]
        assert geom["type"] in kinds
        g = shape(geom)
        assert g.is_valid and not g.is_empty, feature.get("id")
        w, s, e, n = g.bounds
        assert 117.0 < w <= e < 117.5 and 28.0 < s <= n < 28.5, g.bounds
        for poly in getattr(g, "geoms", [g]) if g.geom_type.endswith("Polygon") else []:
            assert shapely.is_ccw(poly.exterior), "shell must be counter-clockwise"
            assert not any(shapely.is_ccw(r) for r in poly.interiors), "holes must be clockwise"
        if geom["type"] == "Polygon":
            assert all(ring[0] == ring[-1] for ring in geom["coordinates"])
        geoms.append(g)
    return geoms


# --- configuration ----------------------------------------------------------------------------


def test_a_bad_config_is_refused_with_the_key_at_fault(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[regions]]\nid = "x y"\nnetwork = "a.osm"\n\n[limits]\nmax_k = 0\n')
    with pytest.raises(InputError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "region 1" in message and "limits, max_k" in message and "[[regions]]" in message
    path.write_text("[[regions]]\nsample = true\n[[regions]]\nsample = true\n")
    with pytest.raises(InputError, match="unique"):
        load_settings(path)
    with pytest.raises(InputError, match="not found"):
        load_settings(tmp_path / "missing.toml")


# --- regions ----------------------------------------------------------------------------------


def test_health_says_ok_once_regions_are_loaded(client: httpx.Client) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["regions"] == ["sample", "sample-drive"]


def test_region_summary_equals_the_library(client: httpx.Client, sample: Any) -> None:
    _, cov = sample
    s = cov.summary
    listed = client.get("/regions").json()["regions"]
    assert [r["id"] for r in listed] == ["sample", "sample-drive"]
    assert listed[0]["population_total"] == s["population_total"] == 204_568
    body = client.get("/regions/sample").json()
    assert body["name"] == "示范县"
    for key in ("population_total", "population_covered", "coverage", "coverage_at", "gaps",
                "population_in_gaps", "residents_far_from_road"):  # fmt: skip
        assert body[key] == s[key], key
    assert body["thresholds"] == [5.0, 10.0, 15.0]
    assert body["towns"] == 9 and body["villages"] == 125
    by_tier = {row["tier"]: row for row in body["by_tier"]}
    assert list(by_tier) == list(TIERS)
    for tier, row in s["by_tier"].items():
        got = by_tier[tier]
        assert (got["sites"], got["coverage"], got["coverage_at"]) == (
            row["sites"], row["coverage"], row["coverage_at"],
        )  # fmt: skip
        assert got["label_zh"] == TIERS[tier]["zh"]
    assert body["equity"]["gini_minutes"] == s["equity"]["gini_minutes"]


def test_a_region_is_found_by_its_chinese_name_too(client: httpx.Client) -> None:
    assert client.get("/regions/示范县").json()["id"] == "sample"


def test_each_region_keeps_its_own_standards(client: httpx.Client, cache_dir: Path) -> None:
    body = client.get("/regions/sample-drive").json()
    centre = next(r for r in body["by_tier"] if r["tier"] == "centre")
    assert (centre["mode"], centre["minutes"]) == ("drive", 30.0)
    standards = Standards.from_toml(SAMPLE_DIR / "standards.toml")
    region = Region.from_files(cache_dir=cache_dir, standards=standards)
    expected = analyze(region, service_areas=False).summary["by_tier"]["centre"]
    assert centre["coverage"] == expected["coverage"] > 0.5


def test_an_unknown_region_is_a_404_naming_close_ones(client: httpx.Client) -> None:
    err = error_of(client.get("/regions/sampel/towns"), 404, "not_found")
    assert "sample" in err["message"]
    assert err["detail"]["did_you_mean"][0] == "sample"


# --- towns and villages -----------------------------------------------------------------------


def test_towns_equal_the_library_unit_table(client: httpx.Client, sample: Any) -> None:
    _, cov = sample
    towns = client.get("/regions/sample/towns").json()["towns"]
    table = cov.by_unit[cov.by_unit["level"] == "town"]
    assert [t["code"] for t in towns] == table["code"].tolist()
    for got, row in zip(towns, table.itertuples(), strict=True):
        assert (got["name"], got["population"], got["population_covered"]) == (
            row.name, row.population, row.population_covered,
        )  # fmt: skip
        assert got["coverage"] == row.coverage
        assert got["coverage_by_tier"]["station"] == row.coverage_station


def test_a_town_by_name_or_code_lists_its_villages(client: httpx.Client, sample: Any) -> None:
    _, cov = sample
    by_name = client.get(f"/regions/sample/towns/{QINGSHAN[0]}").json()
    by_code = client.get(f"/regions/sample/towns/{QINGSHAN[1]}").json()
    assert by_name == by_code
    assert by_name["town"]["code"] == QINGSHAN[1]
    villages = cov.by_unit[(cov.by_unit["level"] == "village") & (cov.by_unit["town"] == "青山乡")]
    assert [v["code"] for v in by_name["villages"]] == villages["code"].tolist()
    assert sum(v["population"] for v in by_name["villages"]) == by_name["town"]["population"]
    assert by_name["gaps"]["population"] == by_name["town"]["population_uncovered"] == 11_883


def test_an_unknown_town_is_a_404_suggesting_the_close_name(client: httpx.Client) -> None:
    err = error_of(client.get("/regions/sample/towns/青山镇"), 404, "not_found")
    assert err["detail"]["did_you_mean"] == ["青山乡"]
    assert "青山乡" in err["message"]
    err = error_of(client.get("/regions/sample/towns/360699201001/gaps"), 404, "not_found")
    assert QINGSHAN[1] in err["detail"]["did_you_mean"]


def test_a_village_is_addressed_within_its_town(client: httpx.Client) -> None:
    body = client.get("/regions/sample/towns/青山乡/villages/岗上村").json()
    assert body["village"]["code"] == "360699201203"
    assert body["village"]["coverage"] == 0.0
    same = client.get("/regions/sample/towns/360699201000/villages/360699201203").json()
    assert same == body
    error_of(client.get("/regions/sample/towns/城关镇/villages/岗上村"), 404, "not_found")


# --- gaps -------------------------------------------------------------------------------------


def test_town_gaps_are_geojson_adding_up_to_the_uncovered(
    client: httpx.Client, sample: Any
) -> None:
    region, cov = sample
    response = client.get(f"/regions/sample/towns/{QINGSHAN[0]}/gaps")
    assert response.headers["content-type"].startswith("application/geo+json")
    data = response.json()
    assert_feature_collection(data, {"Polygon", "MultiPolygon"})
    res = cov.residents
    expected = gap_areas(res[res["town"] == "青山乡"], region.sites)
    got = [f["properties"] for f in data["features"]]
    assert [g["gap_id"] for g in got] == expected["gap_id"].tolist()
    assert [g["population"] for g in got] == expected["population"].tolist()
    nearest = expected["nearest_site"].astype(object)
    assert [g["nearest_site"] for g in got] == nearest.where(nearest.notna(), None).tolist()
    assert [f["id"] for f in data["features"]] == expected["gap_id"].tolist()
    uncovered = int(res.loc[(res["town"] == "青山乡") & ~res["covered"], "population"].sum())
    assert data["summary"]["population_in_gaps"] == sum(g["population"] for g in got) == uncovered
    assert data["summary"]["mode"] == "walk" and data["summary"]["minutes"] == 15.0


def test_gaps_for_a_tier_mode_and_minutes(client: httpx.Client, sample: Any) -> None:
    region, _ = sample
    params = {"tier": "站", "mode": "bike", "minutes": 8}
    url = f"/regions/sample/towns/{QINGSHAN[1]}/gaps"
    error_of(client.get(url, params=params), 401, "unauthorized")  # a new analysis: the key
    data = client.get(url, params=params, headers=KEY).json()
    assert_feature_collection(data, {"Polygon", "MultiPolygon"})
    assert data["summary"]["tier"] == "station"
    std = region.standards.override(mode="bike", minutes=8)
    res = analyze(region.with_standards(std), service_areas=False).residents
    town = res[res["town"] == "青山乡"]
    # The API serves the library's tier view; what a tier view means is checked from the
    # residents' own per-tier columns: only stations serve, so the nearest is a station.
    expected = gap_areas(town, region.sites, tier="station")
    got = [f["properties"]["population"] for f in data["features"]]
    assert got == expected["population"].tolist()
    stations = set(region.sites.loc[region.sites["tier"] == "station", "id"].astype(str))
    for f in data["features"]:
        nearest = f["properties"]["nearest_site"]
        assert nearest is None or (
            nearest in stations and f["properties"]["nearest_tier"] == "station"
        )
    assert sum(got) == int(town.loc[~town["covered_station"], "population"].sum())
    again = client.get(url, params=params, headers=KEY).json()
    assert again == data


def test_region_gaps_equal_the_library(client: httpx.Client, sample: Any) -> None:
    _, cov = sample
    data = client.get("/regions/sample/gaps").json()
    assert len(data["features"]) == len(cov.gaps) == cov.summary["gaps"]
    assert [f["properties"]["population"] for f in data["features"]] == cov.gaps[
        "population"
    ].tolist()


def test_gap_queries_are_bounded_and_checked(client: httpx.Client) -> None:
    url = f"/regions/sample/towns/{QINGSHAN[0]}/gaps"
    err = error_of(client.get(url, params={"minutes": 61}), 422, "limit_exceeded")
    assert err["detail"]["limit"] == "max_minutes" and err["detail"]["maximum"] == 60
    assert "max_minutes" in err["message"]
    err = error_of(
        client.get(url, params={"mode": "fly", "minutes": "soon"}), 422, "validation_error"
    )
    assert {e["field"] for e in err["detail"]} == {"mode", "minutes"}
    err = error_of(client.get(url, params={"tier": "宫殿"}), 422, "validation_error")
    assert err["detail"][0]["loc"] == ["query", "tier"]


@pytest.mark.parametrize(
    "params",
    [
        {"minutes": "-5"},
        {"minutes": "abc"},
        {"minutes": "nan"},
        {"minutes": "inf"},
        {"minutes": "1000"},
        {"mode": "fly"},
    ],
)
def test_a_bad_gap_query_is_reported_once(client: httpx.Client, params: dict[str, str]) -> None:
    for url in (f"/regions/sample/towns/{QINGSHAN[0]}/gaps", "/regions/sample/gaps"):
        err = error_of(client.get(url, params=params, headers=KEY), 422, "validation_error")
        (field,) = params
        assert [e["field"] for e in err["detail"]] == [field], err
        assert err["message"].count(f"query.{field}:") == 1, err["message"]


def test_a_bad_region_in_a_town_path_is_reported_once(client: httpx.Client) -> None:
    # The region is read by the town's dependency and by the route: one error all the same.
    err = error_of(client.get(f"/regions/{'x' * 201}/towns/青山乡/gaps"), 422, "validation_error")
    assert [e["loc"] for e in err["detail"]] == [["path", "region"]], err


# --- sites ------------------------------------------------------------------------------------


def test_sites_filter_by_tier_and_town(client: httpx.Client, sample: Any) -> None:
    region, cov = sample
    data = client.get("/regions/sample/sites").json()
    assert_feature_collection(data, {"Point"})
    assert len(data["features"]) == len(region.sites) == 125
    stations = client.get("/regions/sample/sites", params={"tier": "station"}).json()
    assert len(stations["features"]) == int((region.sites["tier"] == "station").sum()) == 96
    assert client.get("/regions/sample/sites", params={"tier": "站"}).json() == stations
    town = client.get("/regions/sample/sites", params={"town": "青山乡", "tier": "station"}).json()
    assert len(town["features"]) == 2
    props = town["features"][0]["properties"]
    assert props["tier_zh"] == "站" and props["town"] == "青山乡"
    served = cov.service_areas.set_index("site_id")["population_served"]
    assert props["population_served"] == served[props["id"]]
    err = error_of(client.get("/regions/sample/sites", params={"town": "青山"}), 404, "not_found")
    assert err["detail"]["did_you_mean"] == ["青山乡"]
    assert err["detail"]["loc"] == ["query", "town"]


# --- isochrones -------------------------------------------------------------------------------


def test_isochrone_equals_the_library_area(client: httpx.Client, sample: Any) -> None:
    region, _ = sample
    params = {"lon": CENTRE[0], "lat": CENTRE[1], "minutes": 10, "mode": "walk"}
    data = client.get("/regions/sample/isochrone", params=params, headers=KEY).json()
    (geom,) = assert_feature_collection(data, {"Polygon", "MultiPolygon"})
    assert geom.contains(shapely.Point(CENTRE))
    xy = gpd.GeoSeries(gpd.points_from_xy([CENTRE[0]], [CENTRE[1]]), crs=4326).to_crs(region.crs)
    expected = isochrone(
        region.graph("walk", 4.0), np.array([xy.x[0], xy.y[0]]), minutes=10, max_snap_m=500
    )
    props = data["features"][0]["properties"]
    assert props["area_km2"] == pytest.approx(expected.area / 1e6, abs=1e-4)
    metric = gpd.GeoSeries([geom], crs=4326).to_crs(region.crs).iloc[0]
    assert metric.area == pytest.approx(expected.area, rel=1e-3)
    glon, glat = wgs84_to_gcj02(np.array([CENTRE[0]]), np.array([CENTRE[1]]))
    params |= {"lon": float(glon[0]), "lat": float(glat[0]), "coord_sys": "gcj02"}
    shifted = client.get("/regions/sample/isochrone", params=params, headers=KEY).json()
    assert shifted["features"][0]["properties"]["area_km2"] == props["area_km2"]


def test_isochrone_refuses_points_it_cannot_serve(client: httpx.Client, sample: Any) -> None:
    region, _ = sample
    err = error_of(
        client.get("/regions/sample/isochrone", params={"lon": 116.0, "lat": 28.2}, headers=KEY),
        422, "outside_region",
    )  # fmt: skip
    assert "outside" in err["message"]
    remote = region.residents.to_crs(4326).iloc[-1].geometry  # 1.3-2.3 km from any road
    err = error_of(
        client.get("/regions/sample/isochrone", params={"lon": remote.x, "lat": remote.y}, headers=KEY),
        422, "unreachable_point",
    )  # fmt: skip
    assert "500 m" in err["message"]
    err = error_of(
        client.get("/regions/sample/isochrone", params={**AT_CENTRE, "minutes": 90}, headers=KEY),
        422, "limit_exceeded",
    )  # fmt: skip
    assert err["detail"]["limit"] == "max_minutes"
    err = error_of(
        client.get("/regions/sample/isochrone", params={"lon": CENTRE[0], "mode": "boat"}, headers=KEY),
        422, "validation_error",
    )  # fmt: skip
    assert {e["field"] for e in err["detail"]} == {"lat", "mode"}


def test_isochrones_for_several_points_need_the_key(client: httpx.Client) -> None:
    body = {"locations": [list(CENTRE), [117.354524, 28.255600]], "minutes": 5, "mode": "bike"}
    error_of(client.post("/regions/sample/isochrone", json=body), 401, "unauthorized")
    wrong = {"X-API-Key": "not-the-key"}
    error_of(
        client.post("/regions/sample/isochrone", json=body, headers=wrong), 401, "unauthorized"
    )
    key = {"X-API-Key": API_KEY}
    data = client.post("/regions/sample/isochrone", json=body, headers=key).json()
    assert [f["properties"]["index"] for f in data["features"]] == [0, 1]
    assert_feature_collection(data, {"Polygon", "MultiPolygon"})
    many = {"locations": [list(CENTRE)] * 6}
    err = error_of(
        client.post("/regions/sample/isochrone", json=many, headers=key), 422, "limit_exceeded"
    )
    assert err["detail"]["limit"] == "max_points" and err["detail"]["maximum"] == 5


# --- suggestions ------------------------------------------------------------------------------


def test_suggest_equals_the_library(client: httpx.Client, sample: Any) -> None:
    region, cov = sample
    body = {"k": 3, "town": QINGSHAN[1], "kinds": ["idle_school", "闲置民宅", "public_venue"]}
    response = client.post("/regions/sample/suggest", json=body, headers={"X-API-Key": API_KEY})
    assert response.status_code == 200, response.text
    data = response.json()
    expected = suggest(
        region, cov, k=3, town="青山乡", kinds=["idle_school", "idle_house", "public_venue"],
        time_limit=10,
    )  # fmt: skip
    assert_feature_collection(data["proposals"], {"Point"})
    assert_feature_collection(data["added_areas"], {"Polygon", "MultiPolygon"})
    got = [f["properties"] for f in data["proposals"]["features"]]
    assert [p["candidate_id"] for p in got] == expected.proposals["candidate_id"].tolist()
    assert [p["population_newly_covered"] for p in got] == expected.proposals[
        "population_newly_covered"
    ].tolist()
    s, e = data["summary"], expected.summary
    for key in (
        "coverage_before",
        "coverage_after",
        "population_newly_covered",
        "population_total",
    ):
        assert s[key] == e[key], key
    assert s["town"] == "青山乡" and s["status"] == "optimal" and s["gap"] == 0.0
    assert s["coverage_after"] > s["coverage_before"]
    assert all(p["town"] == "青山乡" and p["tier"] == "station" for p in got)


def test_suggest_for_a_target_share(client: httpx.Client, sample: Any) -> None:
    region, cov = sample
    key = {"X-API-Key": API_KEY}
    data = client.post("/regions/sample/suggest", json={"target": 0.85}, headers=key).json()
    expected = suggest(region, cov, target=0.85, time_limit=10)
    assert data["summary"]["new_sites"] == expected.summary["new_sites"]
    assert data["summary"]["coverage_after"] >= 0.85


def test_suggest_is_guarded_and_bounded(client: httpx.Client) -> None:
    url = "/regions/sample/suggest"
    key = {"X-API-Key": API_KEY}
    err = error_of(client.post(url, json={"k": 3}), 401, "unauthorized")
    assert "X-API-Key" in err["message"]
    err = error_of(client.post(url, json={"k": 21}, headers=key), 422, "limit_exceeded")
    assert (err["detail"]["limit"], err["detail"]["maximum"]) == ("max_k", 20)
    err = error_of(
        client.post(url, json={"k": 2, "time_limit": 600}, headers=key), 422, "limit_exceeded"
    )
    assert err["detail"]["limit"] == "suggest_time_limit"
    err = error_of(
        client.post(url, json={"k": 2, "target": 0.9}, headers=key), 422, "validation_error"
    )
    assert "either k" in err["message"]
    err = error_of(
        client.post(url, json={"k": 2, "tier": "宫殿"}, headers=key), 422, "validation_error"
    )
    assert err["detail"][0]["loc"] == ["body", "tier"]
    err = error_of(client.post(url, json={"k": 0}, headers=key), 422, "validation_error")
    assert err["detail"][0]["field"] == "k"
    err = error_of(client.post(url, json={"k": 2, "town": "桃园乡"}, headers=key), 404, "not_found")
    assert err["detail"]["did_you_mean"] == ["桃源乡"]
    err = error_of(
        client.post(url, json={"k": 20, "town": "城关镇"}, headers=key), 422, "invalid_request"
    )
    assert "usable candidates" in err["message"]
    bad = client.post(
        url, content=b"{not json", headers={**key, "Content-Type": "application/json"}
    )
    error_of(bad, 422, "validation_error")


def test_an_unknown_town_is_a_404_in_a_body_or_query_as_in_a_path(client: httpx.Client) -> None:
    # The same name, the same answer wherever it is given: 404 with the close name.
    in_path = error_of(client.get("/regions/sample/towns/青山镇/gaps"), 404, "not_found")
    in_body = error_of(
        client.post("/regions/sample/suggest", json={"k": 2, "town": "青山镇"}, headers=KEY),
        404,
        "not_found",
    )
    in_query = error_of(
        client.get("/regions/sample/sites", params={"town": "青山镇"}), 404, "not_found"
    )
    for err in (in_path, in_body, in_query):
        assert err["detail"]["did_you_mean"] == ["青山乡"], err
        assert (err["detail"]["kind"], err["detail"]["value"]) == ("town", "青山镇")
        assert "青山乡" in err["message"]
    assert in_body["message"] == in_path["message"] == in_query["message"]
    assert in_body["detail"]["loc"] == ["body", "town"]
    assert in_query["detail"]["loc"] == ["query", "town"]


# --- maps, docs, CORS -------------------------------------------------------------------------


def test_map_pages_are_self_contained_html(client: httpx.Client) -> None:
    page = client.get("/regions/sample/map", headers=KEY)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "示范县 新时代文明实践 15分钟服务圈" in html
    for label in (
        "图例 Legend",
        "服务空白区 Gap areas",
        "建议新建站点 Proposed sites",
        "站 Village/community station",
    ):
        assert label in html, label
    assert "<script src=" not in html  # Leaflet is inlined: no CDN needed
    assert page.headers["content-encoding"] == "gzip"  # compressed once, when built
    town = client.get(f"/regions/sample/towns/{QINGSHAN[0]}/map", params={"k": 0}).text
    assert "示范县 新时代文明实践 15分钟服务圈 · 青山乡" in town
    assert "建议新建站点 Proposed sites" not in town
    error_of(client.get("/regions/sample/towns/青山/map"), 404, "not_found")
    error_of(
        client.get("/regions/sample/map", params={"k": 21}, headers=KEY), 422, "limit_exceeded"
    )


def test_a_map_asked_for_proposals_without_the_key_is_a_401_as_the_readme_says(
    client: httpx.Client,
) -> None:
    # The key guards the siting run: a map without it has no proposals unless asked for them,
    # and asking without it is refused in JSON rather than answered with a map lacking them.
    err = error_of(client.get("/regions/sample/map", params={"k": 3}), 401, "unauthorized")
    assert err["detail"] == {"header": "X-API-Key"}
    plain = client.get("/regions/sample/map")
    assert plain.status_code == 200 and "建议新建站点 Proposed sites" not in plain.text
    keyed = client.get("/regions/sample/map", params={"k": 3, "key": API_KEY})
    assert keyed.status_code == 200 and "建议新建站点 Proposed sites" in keyed.text
    readme = " ".join((SAMPLE_DIR.parent / "README.md").read_text(encoding="utf-8").split())
    assert "asking it for proposals (`k` > 0) without the key is a 401" in readme
    assert "without a key a map shows no proposals)" not in readme


def test_docs_and_openapi_list_every_endpoint(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/health", "/regions", "/regions/{region}", "/regions/{region}/towns",
        "/regions/{region}/towns/{town}", "/regions/{region}/towns/{town}/gaps",
        "/regions/{region}/sites", "/regions/{region}/isochrone", "/regions/{region}/suggest",
        "/regions/{region}/map", "/regions/{region}/towns/{town}/map",
    ):  # fmt: skip
        assert path in paths, path


def test_cors_allows_the_configured_origin_only(client: httpx.Client) -> None:
    ok = client.get("/regions", headers={"Origin": ORIGIN})
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    other = client.get("/regions", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = client.options(
        "/regions/sample/suggest",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
    )
    assert preflight.status_code == 200
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()


def test_unknown_endpoints_and_methods_use_the_error_shape(client: httpx.Client) -> None:
    error_of(client.get("/nowhere"), 404, "not_found")
    error_of(client.delete("/regions/sample"), 405, "method_not_allowed")


def test_a_body_that_is_not_json_is_a_422_in_the_common_shape(client):
    r = client.post(
        "/regions/sample/isochrone",
        content=b"\xff\xfe\x06",
        headers={"Content-Type": "application/json", "X-API-Key": API_KEY},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"


# --- standards audit --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_audit(sample: Any) -> Any:
    from planner.audit import AuditFiles, audit_region

    region, cov = sample
    return audit_region(region, cov, files=AuditFiles.sample())


def test_region_audit_equals_the_library(client: httpx.Client, sample_audit: Any) -> None:
    data = client.get("/regions/sample/audit").json()
    assert data["summary"]["sites"] == sample_audit.summary["sites"]
    assert data["summary"]["villages_five_haves"] == sample_audit.summary["villages_five_haves"]
    assert len(data["issues"]) == len(sample_audit.issues)
    county = {f["rule"]: f["status"] for f in data["county"]}
    assert county == {"volunteers": "fail", "circle": "fail"}
    assert "/regions/{region}/audit" in client.get("/openapi.json").json()["paths"]


def test_town_audit_lists_its_sites_and_issues(client: httpx.Client, sample_audit: Any) -> None:
    data = client.get(f"/regions/sample/towns/{QINGSHAN[1]}/audit").json()
    mine = sample_audit.sites[sample_audit.sites["town"] == QINGSHAN[0]]
    assert {s["id"] for s in data["sites"]} == set(mine["id"])
    assert data["town"]["town"] == QINGSHAN[0]
    assert all(i["town"] == QINGSHAN[0] and i["status"] == "fail" for i in data["issues"])
    assert len(data["issues"]) == int((sample_audit.issues["town"] == QINGSHAN[0]).sum())
    error_of(client.get("/regions/sample/towns/nowhere/audit"), 404, "not_found")


def test_sites_carry_their_compliance(client: httpx.Client, sample_audit: Any) -> None:
    data = client.get("/regions/sample/sites").json()
    verdict = sample_audit.site_verdict()
    for feature in data["features"]:
        props = feature["properties"]
        if props["tier"] in ("centre", "institute", "station"):
            assert props["compliance"] == verdict[props["id"]]
        else:
            assert props["compliance"] is None
