"""Gap areas: where residents are beyond the standard, as GeoJSON with population."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import GapQuery, Region, Town
from api.models import GapCollection, error_responses
from api.responses import GeoJSONResponse
from api.state import LoadedRegion

router = APIRouter(
    tags=["gaps"],
    responses=error_responses(
        {
            401: "API key missing or wrong (a mode or minutes of its own)",
            404: "Unknown region or town",
            422: "Invalid parameter or limit exceeded",
        }
    ),
)


_GAPS: dict[str, Any] = {
    "response_model": GapCollection,
    "response_class": GeoJSONResponse,
}


@router.get("/regions/{region}/towns/{town}/gaps", summary="Gap areas of a town (GeoJSON)", **_GAPS)
async def town_gaps(loaded: Region, town: Town, query: GapQuery) -> Response:
    """Contiguous areas of the town's residents outside the standard: population, most
    populous village, nearest site by travel time and the minutes to it. Their populations
    add up to the town's uncovered population.

    By default any tier serves under the region's standards; `tier`, `mode` and `minutes`
    ask for another view (computed once, then answered from memory); with an API key set
    on the server, a `mode` or `minutes` of its own needs the key (it is a new analysis).
    """
    return await _gaps(loaded, town, query)


@router.get("/regions/{region}/gaps", summary="Gap areas of the whole region (GeoJSON)", **_GAPS)
async def region_gaps(loaded: Region, query: GapQuery) -> Response:
    """As the town query, for every resident of the region."""
    return await _gaps(loaded, None, query)


async def _gaps(loaded: LoadedRegion, town: pd.Series | None, query: dict[str, Any]) -> Response:
    # The common views were computed at start-up: answer them without leaving the event loop.
    body = loaded.memo.peek(loaded.gaps_key(town, **query))
    if body is None:
        body = await run_in_threadpool(loaded.gaps_body, town, **query)
    return GeoJSONResponse(body)
