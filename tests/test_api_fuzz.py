"""Requests generated from /openapi.json never make the server fail (no 5xx), and every answer
matches the documented status codes, content types and schemas."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from api_harness import LocalServer
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app

pytestmark = pytest.mark.slow

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Known names, so generated queries and bodies also reach the analysis behind each endpoint.
TOWNS = itertools.cycle(["青山乡", "360699203000", "城关镇", "白沙乡"])
FUZZ = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    cache = tmp_path_factory.getbasetemp() / "servicecircle-cache"
    with LocalServer(cache_dir=cache) as running:
        yield running


# The schema the app documents; the test below checks /openapi.json serves exactly this.
# (Built without the server: schemathesis's fixture-based loader does not run on pytest 9.)
OPENAPI = create_app().openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


def test_the_served_openapi_is_the_one_fuzzed(server: LocalServer) -> None:
    assert httpx.get(f"{server.url}/openapi.json", timeout=30).json() == OPENAPI


def is_point(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def into_county(lon: float, lat: float) -> tuple[float, float]:
    """Any generated point, moved into the sample county's extent (the outside is tested raw)."""
    return 117.07 + abs(lon) % 0.35, 28.13 + abs(lat) % 0.26


def check_error_shape(response: schemathesis.Response) -> None:
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        assert {"code", "message", "detail"} == set(body["error"]), body


@schema.parametrize()
@FUZZ
def test_generated_requests_never_fail_the_server(
    server: LocalServer, case: schemathesis.Case
) -> None:
    response = case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=60)
    check_error_shape(response)


@schema.parametrize()
@FUZZ
def test_generated_queries_on_a_known_town_never_fail(
    server: LocalServer, case: schemathesis.Case
) -> None:
    if case.path_parameters:
        if "region" in case.path_parameters:
            case.path_parameters["region"] = "sample"
        if "town" in case.path_parameters:
            case.path_parameters["town"] = next(TOWNS)
    query = case.query if isinstance(case.query, dict) else {}
    if is_point([query.get("lon"), query.get("lat")]):
        query["lon"], query["lat"] = into_county(query["lon"], query["lat"])
    locations = case.body.get("locations") if isinstance(case.body, dict) else None
    if isinstance(locations, list):
        case.body["locations"] = [list(into_county(*p)) if is_point(p) else p for p in locations]
    response = case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=60)
    check_error_shape(response)
