"""Scenarios (before / after) and the printable town report."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import geopandas as gpd
from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api import geojson
from api.deps import LimitsDep, Region, Town, require_api_key, sites_as_field
from api.errors import limit_exceeded
from api.models import error_responses
from planner import vocab
from planner.coverage import json_ready
from planner.errors import InputError, OutOfReach
from planner.scenario import Scenario
from planner.scenario import compare as run
from planner.town_report import fix_text_layer, print_pdf, town_report_html

router = APIRouter(
    tags=["scenarios"],
    responses=error_responses(
        {
            401: "Missing or wrong API key",
            404: "Unknown region, town or site id",
            422: "Invalid body or limit exceeded",
            429: "Too many scenarios or suggestions being computed",
        }
    ),
)

MAX_CHANGES = 1000
"""Most sites one scenario may close or re-tier."""


def _tier(value: str) -> str:
    return vocab.tier_key(value, where="tier")


class NewSite(BaseModel):
    """A site added by the scenario (WGS84)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(..., min_length=1, max_length=100)
    name: str = Field("", max_length=200)
    tier: str = Field("station", max_length=40)
    lon: float = Field(..., ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(..., ge=-90, le=90, allow_inf_nan=False)

    _tier_key = field_validator("tier")(classmethod(lambda cls, v: _tier(v)))


class CompareRequest(BaseModel):
    """What changes: sites closed, sites added (at most ``max_k``), sites re-tiered."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"close": ["S0012"]},
                {"add": [{"id": "N1", "name": "新站", "lon": 117.33, "lat": 28.135}]},
                {"retier": {"S0033": "institute"}},
            ]
        },
    )

    close: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=MAX_CHANGES
    )
    add: list[NewSite] = Field(default_factory=list)
    retier: dict[str, str] = Field(default_factory=dict, max_length=MAX_CHANGES)

    @field_validator("retier")
    @classmethod
    def _tiers(cls, value: dict[str, str]) -> dict[str, str]:
        return {str(k): _tier(v) for k, v in value.items()}


class TierChange(BaseModel):
    """Coverage of one tier (or ``any``) before and after."""

    tier: str
    sites_before: int
    sites_after: int
    population_before: int
    population_after: int
    before: float
    after: float
    change: float


class UnitChange(BaseModel):
    """Coverage of one town before and after, and the people losing or gaining it."""

    level: str
    code: str
    name: str
    population: int
    before: float | None
    after: float | None
    change: float | None
    population_lost: int
    population_gained: int


class CompareResponse(BaseModel):
    """Before / after per tier and town, and the residents who lose or gain coverage."""

    region: str
    summary: dict[str, Any]
    by_tier: list[TierChange]
    towns: list[UnitChange]
    changed: dict[str, Any] = Field(
        description="GeoJSON FeatureCollection of resident points with `change_kind` lost/gained."
    )


def _scenario(body: CompareRequest) -> Scenario:
    add = None
    if body.add:
        add = gpd.GeoDataFrame(
            {
                "id": [s.id for s in body.add],
                "name": [s.name or s.id for s in body.add],
                "tier": [s.tier for s in body.add],
            },
            geometry=gpd.points_from_xy([s.lon for s in body.add], [s.lat for s in body.add]),
            crs=4326,
        )
    return Scenario(close=tuple(body.close), add=add, retier=dict(body.retier))


@router.post(
    "/regions/{region}/compare",
    summary="Compare coverage before and after a scenario",
    dependencies=[Depends(require_api_key)],
)
async def compare(loaded: Region, limits: LimitsDep, body: CompareRequest) -> CompareResponse:
    """Close sites, add sites (e.g. the proposals of `/suggest`) or change their tier, and get
    coverage per tier and per town before and after, with the residents who lose or gain
    coverage. At most `max_k` sites may be added."""
    if len(body.add) > limits.max_k:
        raise limit_exceeded(["body", "add"], len(body.add), "max_k", limits.max_k)
    given: list[tuple[list[str | int], str]] = [
        (["body", "close", i], site) for i, site in enumerate(body.close)
    ]
    given += [(["body", "retier", s], s) for s in body.retier]
    sites_as_field(loaded, given)
    key = ("compare", body.model_dump_json())

    def compute() -> dict[str, Any]:
        try:
            result = run(loaded.region, _scenario(body), before=loaded.coverage)
        except OutOfReach as exc:  # an added site outside the region: point at it in the body
            exc.detail = {**exc.detail, "loc": ["body", "add", exc.index]}
            raise
        towns = result.by_unit[result.by_unit["level"] == "town"]
        return {
            "region": loaded.id,
            "summary": json_ready(dict(result.summary)),
            "by_tier": geojson.records(result.by_tier, list(TierChange.model_fields)),
            "towns": geojson.records(towns.astype({"code": str}), list(UnitChange.model_fields)),
            "changed": geojson.feature_collection(
                geojson.features(
                    result.changed,
                    [
                        "id",
                        "population",
                        "town",
                        "village",
                        "change_kind",
                        "site_before",
                        "site_after",
                    ],
                    id_column="id",
                )
            ),
        }

    answer = await run_in_threadpool(loaded.bounded, key, compute, busy="busy_scenario")
    return CompareResponse.model_validate(answer)


@router.get(
    "/regions/{region}/towns/{town}/report",
    summary="Printable report of a town (HTML or PDF)",
    response_class=HTMLResponse,
    responses={
        200: {
            "content": {"text/html": {}, "application/pdf": {}},
            "description": "The A4 report page, or its PDF with `format=pdf`",
        }
    },
)
async def town_report(
    loaded: Region,
    town: Town,
    limits: LimitsDep,
    k: Annotated[int, Query(ge=0, le=1000, description="Proposed new sites (0: none).")] = 3,
    format: Annotated[Literal["html", "pdf"], Query(description="html or pdf")] = "html",
) -> Response:
    """The town's map, coverage per tier, villages ranked by uncovered people, gaps and `k`
    proposals, on one A4 page; `format=pdf` prints it with the server's headless Chromium."""
    if k > limits.max_k:
        raise limit_exceeded(["query", "k"], k, "max_k", limits.max_k)
    name = str(town["name"])

    def page() -> str:
        suggestion = note = None
        if k > 0:
            request = {"k": k, "town": name, "time_limit": min(5.0, limits.suggest_time_limit)}
            try:
                suggestion = loaded.suggestion(request)
            except InputError as exc:
                note = str(exc)
        return town_report_html(
            loaded.region, loaded.coverage, name, suggestion=suggestion, note=note
        )

    html = await run_in_threadpool(loaded.pages.get, ("report", name, k), page)
    if format == "html":
        return HTMLResponse(html)

    def pdf() -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "report.html"
            src.write_text(html, encoding="utf-8")
            out = print_pdf(src, Path(tmp) / "report.pdf")
            fix_text_layer(out)
            return out.read_bytes()

    key = ("report-pdf", name, k)
    data = await run_in_threadpool(loaded.bounded, key, pdf, busy="busy_scenario")
    return Response(data, media_type="application/pdf")
