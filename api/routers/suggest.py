"""Proposals for new sites among the region's candidate buildings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api import views
from api.deps import LimitsDep, Region, require_api_key, town_as_field
from api.errors import limit_exceeded
from api.models import SuggestRequest, SuggestResponse, error_responses
from planner.siting import check_request

router = APIRouter(
    tags=["suggest"],
    responses=error_responses(
        {
            401: "Missing or wrong API key",
            404: "Unknown region or town",
            422: "Invalid body, limit exceeded, or a request the candidates cannot answer "
            "(e.g. k above the usable candidates)",
            429: "Too many suggestions being solved",
        }
    ),
)


@router.post(
    "/regions/{region}/suggest",
    summary="Propose new sites",
    dependencies=[Depends(require_api_key)],
)
def suggest(loaded: Region, limits: LimitsDep, body: SuggestRequest) -> SuggestResponse:
    """Choose `k` candidate buildings covering the most uncovered people (or the fewest
    reaching `target` coverage), exactly with HiGHS within a node limit (`suggest_node_limit`:
    the same request gets the same answer) and the time limit (a backstop). Returns the
    proposals in selection order as GeoJSON points with the people each newly covers, the
    service areas they add, and coverage before and after."""
    if body.k is not None and body.k > limits.max_k:
        raise limit_exceeded(["body", "k"], body.k, "max_k", limits.max_k)
    time_limit = limits.suggest_time_limit if body.time_limit is None else body.time_limit
    if time_limit > limits.suggest_time_limit:
        raise limit_exceeded(
            ["body", "time_limit"], time_limit, "suggest_time_limit", limits.suggest_time_limit
        )
    town = None if body.town is None else town_as_field(loaded, body.town, ["body", "town"])
    check_request(  # the same checks as the command line, in the same words
        k=body.k,
        target=body.target,
        tier=body.tier,
        method=body.method,
        max_per_town=body.max_per_town,
        time_limit=time_limit,
        min_rooms=body.min_rooms,
    )
    request: dict[str, Any] = {
        "k": body.k,
        "target": body.target,
        "tier": body.tier,
        "kinds": body.kinds,
        "min_rooms": body.min_rooms,
        "max_per_town": body.max_per_town,
        "town": None if town is None else str(town["name"]),
        "method": body.method,
        "time_limit": time_limit,
        "node_limit": limits.suggest_node_limit,
    }
    return SuggestResponse.model_validate(views.suggestion(loaded.suggestion(request), loaded.id))
