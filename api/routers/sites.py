"""Existing sites as GeoJSON, filtered by tier and town."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import Region, TierQuery, tier_key, town_as_field
from api.models import SiteCollection, error_responses
from api.responses import GeoJSONResponse

router = APIRouter(
    tags=["sites"],
    responses=error_responses({404: "Unknown region or town", 422: "Unknown tier"}),
)


@router.get(
    "/regions/{region}/sites",
    summary="Sites (GeoJSON points)",
    response_model=SiteCollection,
    response_class=GeoJSONResponse,
)
async def list_sites(
    loaded: Region,
    tier: TierQuery = None,
    town: Annotated[
        str | None, Query(max_length=200, description="Town name or code.", examples=["青山乡"])
    ] = None,
) -> Response:
    """Civilization-practice sites with tier (key and Chinese), town, the travel standard of
    their tier and the population they serve within it."""
    key = tier_key(tier, ["query", "tier"])
    row = None if town is None else town_as_field(loaded, town, ["query", "town"])
    body = await run_in_threadpool(loaded.sites_body, tier=key, town=row)
    return GeoJSONResponse(body)
