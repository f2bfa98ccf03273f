"""Interactive maps for people: the region or one town, with gaps and proposed sites."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.config import Limits
from api.deps import LimitsDep, MapKey, Region, Town, unauthorized
from api.errors import limit_exceeded
from api.models import error_responses
from api.responses import MapResponse
from api.state import LoadedRegion, Page
from planner import vocab

router = APIRouter(
    tags=["maps"],
    responses=error_responses(
        {
            401: "Proposals (k > 0) asked for without the API key the server requires",
            404: "Unknown region or town",
            422: "Invalid parameter or limit exceeded",
            429: "Too many suggestions being solved",
        }
    ),
)

TOWN_MAP_K = 3
"""Proposals on a town's map by default (a region's map shows ``vocab.DEFAULT_K``)."""

KQuery = Annotated[
    int | None,
    Query(
        ge=0,
        le=1000,
        description="Proposed new sites to show (0 for none; capped at `max_k`). Proposals "
        "run the solver: when the server has an API key they need it (header or `?key=`); "
        "without it the default is 0.",
    ),
]


def _proposals(k: int | None, default: int, authorised: bool) -> int:
    if k is None:
        return default if authorised else 0
    if k > 0 and not authorised:
        raise unauthorized()
    return k


@router.get(
    "/regions/{region}/map",
    summary="Interactive map of the region (HTML)",
    response_class=MapResponse,
    responses={200: {"content": {"text/html": {}}, "description": "The map page"}},
)
async def region_map(
    request: Request, loaded: Region, limits: LimitsDep, authorised: MapKey, k: KQuery = None
) -> Response:
    """A Leaflet map with Chinese labels: sites coloured by tier, service areas, gap areas,
    uncovered residents and `k` proposed sites, with a legend and layer control. It loads
    nothing from the network except optional background tiles."""
    page = await _page(loaded, None, _proposals(k, vocab.DEFAULT_K, authorised), limits)
    return _send(request, page)


@router.get(
    "/regions/{region}/towns/{town}/map",
    summary="Interactive map of a town (HTML)",
    response_class=MapResponse,
    responses={200: {"content": {"text/html": {}}, "description": "The map page"}},
)
async def town_map(
    request: Request,
    loaded: Region,
    town: Town,
    limits: LimitsDep,
    authorised: MapKey,
    k: KQuery = None,
) -> Response:
    """The map of one town: its sites, villages, gap areas and `k` proposed sites."""
    page = await _page(loaded, town, _proposals(k, TOWN_MAP_K, authorised), limits)
    return _send(request, page)


async def _page(loaded: LoadedRegion, town: pd.Series | None, k: int, limits: Limits) -> Page:
    if k > limits.max_k:
        raise limit_exceeded(["query", "k"], k, "max_k", limits.max_k)
    page: Page | None = loaded.pages.peek(loaded.map_key(town, k=k))  # no thread when cached
    if page is None:
        page = await run_in_threadpool(loaded.map_page, town, k=k)
    return page


def _send(request: Request, page: Page) -> Response:
    # Compressed once when built; the gzip middleware passes encoded bodies through.
    policy = {"Content-Security-Policy": page.csp} if page.csp else {}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding", **policy}
        return MapResponse(page.gz, headers=headers)
    return MapResponse(page.html, headers={"Vary": "Accept-Encoding", **policy})
