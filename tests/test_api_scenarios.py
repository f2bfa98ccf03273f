"""The HTTP API answers scenarios and serves the town report, as the library computes them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from _sample import sample  # noqa: F401  (session fixture)
from api_harness import LocalServer

from planner.scenario import Scenario, compare
from planner.town_report import chromium_path

pytestmark = pytest.mark.slow
TOWN = "青山乡"


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[httpx.Client]:
    cache = tmp_path_factory.mktemp("api-cache")
    with (
        LocalServer(cache_dir=cache) as running,
        httpx.Client(base_url=running.url, timeout=120) as c,
    ):
        yield c


def test_closing_a_site_over_http_equals_the_library(client, sample):  # noqa: F811
    region, coverage = sample
    site = str(region.sites.loc[region.sites["tier"] == "station", "id"].iloc[3])
    response = client.post("/regions/sample/compare", json={"close": [site]})
    assert response.status_code == 200, response.text
    data = response.json()
    expected = compare(region, Scenario(close=(site,)), before=coverage)
    for key in ("coverage_before", "coverage_after", "population_lost", "population_gained"):
        assert data["summary"][key] == expected.summary[key], key
    lost = {f["id"] for f in data["changed"]["features"]}
    assert lost == set(expected.changed["id"])
    assert {t["tier"] for t in data["by_tier"]} == {*expected.by_tier["tier"]}
    assert sum(t["population_lost"] for t in data["towns"]) == expected.summary["population_lost"]


def test_a_scenario_is_bounded_and_checked(client, sample):  # noqa: F811
    add = [{"id": f"N{i}", "lon": 117.3, "lat": 28.2} for i in range(51)]
    response = client.post("/regions/sample/compare", json={"add": add})
    assert response.status_code == 422
    assert response.json()["error"]["detail"]["limit"] == "max_k"
    # An unknown site id is an unknown name: 404 with the close ids, naming the field.
    response = client.post("/regions/sample/compare", json={"close": ["S0001", "S0O12"]})
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "not_found" and "S0O12" in error["message"]
    assert error["detail"]["loc"] == ["body", "close", 1]
    assert error["detail"]["did_you_mean"], error  # close ids from the sites file
    assert set(error["detail"]["did_you_mean"]) <= set(sample[0].sites["id"].astype(str))
    response = client.post("/regions/sample/compare", json={"retier": {"S9O01": "institute"}})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["detail"]["loc"] == ["body", "retier", "S9O01"]
    response = client.post("/regions/sample/compare", json={"retier": {"S0001": "城堡"}})
    assert response.status_code == 422


def test_a_site_added_outside_the_region_is_refused_as_by_the_isochrone(client):
    """``add`` at lon 17.225 (a dropped digit) was answered 200 with a gain of 0."""
    add = [
        {"id": "N1", "tier": "站", "lon": 117.33, "lat": 28.135},
        {"id": "N2", "tier": "站", "lon": 17.225, "lat": 28.305},
    ]
    response = client.post("/regions/sample/compare", json={"add": add})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "outside_region"
    assert error["detail"]["loc"] == ["body", "add", 1]
    assert "N2" in error["message"] and "outside region" in error["message"]
    same = client.get("/regions/sample/isochrone", params={"lon": 17.225, "lat": 28.305})
    assert same.json()["error"]["detail"]["bounds"] == error["detail"]["bounds"]


def test_the_town_report_is_served_as_html_and_pdf(client, sample):  # noqa: F811
    _, coverage = sample
    res = coverage.residents
    mine = res[res["town"] == TOWN]
    share = f"{mine.loc[mine['covered'], 'population'].sum() / mine['population'].sum():.1%}"
    page = client.get(f"/regions/sample/towns/{quote(TOWN)}/report", params={"k": 2})
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert TOWN in page.text and share in page.text
    if chromium_path() is None:
        pytest.skip("Chromium is not installed: no PDF")
    pypdf = pytest.importorskip("pypdf")
    pdf = client.get(f"/regions/sample/towns/{quote(TOWN)}/report", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert TOWN in text and share in text
