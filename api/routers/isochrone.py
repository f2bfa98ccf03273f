"""Service areas of arbitrary points, drawn from the roads actually reached."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api import geojson
from api.config import Limits
from api.deps import LimitsDep, Region, check_minutes, require_api_key
from api.errors import MESSAGES, ApiError, limit_exceeded
from api.models import CoordSys, IsochroneCollection, IsochroneRequest, Mode, error_responses
from api.responses import GeoJSONResponse
from api.state import LoadedRegion

router = APIRouter(
    tags=["isochrone"],
    responses=error_responses(
        {
            404: "Unknown region",
            422: "Invalid parameter, limit exceeded, point outside the region or too far "
            "from a usable road",
            401: "Missing or wrong API key",
            429: "Too many suggestions or isochrones being computed",
        }
    ),
    dependencies=[Depends(require_api_key)],
)


def check_work(loaded: LoadedRegion, limits: Limits, points: int, minutes: float) -> None:
    """Refuse an isochrone request whose points x minutes x graph size is over the budget."""
    edges = loaded.graph_edges
    work = points * minutes * edges
    if work > limits.max_isochrone_work:
        text = MESSAGES["work"].format(
            work=work, points=points, minutes=minutes, edges=edges,
            maximum=limits.max_isochrone_work,
        )  # fmt: skip
        detail = {
            "limit": "max_isochrone_work",
            "maximum": limits.max_isochrone_work,
            "value": work,
            "points": points,
            "minutes": minutes,
            "edges": edges,
        }
        raise ApiError(422, "limit_exceeded", text, detail)


@router.get(
    "/regions/{region}/isochrone",
    summary="Service area of a point (GeoJSON)",
    response_model=IsochroneCollection,
    response_class=GeoJSONResponse,
)
def isochrone(
    loaded: Region,
    limits: LimitsDep,
    lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False, examples=[117.2476])],
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, examples=[28.2649])],
    minutes: Annotated[
        float, Query(gt=0, le=240, allow_inf_nan=False, description="Capped at `max_minutes`.")
    ] = 15.0,
    mode: Annotated[Mode, Query(description="Travel mode.")] = "walk",
    coord_sys: Annotated[
        CoordSys,
        Query(description="Coordinates as given: wgs84, gcj02 (高德/腾讯) or bd09 (百度)."),
    ] = "wgs84",
) -> Response:
    """The area reached from (`lon`, `lat`) within `minutes` over the road network: only
    road pieces actually reached, with a walkable strip beside them; blocks enclosed by
    reached roads are filled, large unreachable areas (a lake, a hill) stay open."""
    check_minutes(minutes, limits, ["query", "minutes"])
    check_work(loaded, limits, 1, minutes)
    with loaded.work_slot():
        feature = loaded.isochrone_feature(
            lon, lat, minutes=minutes, mode=mode, coord_sys=coord_sys
        )
    return GeoJSONResponse(geojson.feature_collection([feature]))


@router.post(
    "/regions/{region}/isochrone",
    summary="Service areas of several points (GeoJSON)",
    response_model=IsochroneCollection,
    response_class=GeoJSONResponse,
)
def isochrones(loaded: Region, limits: LimitsDep, body: IsochroneRequest) -> Response:
    """One service area per point, in request order (at most `max_points` points)."""
    if len(body.locations) > limits.max_points:
        raise limit_exceeded(
            ["body", "locations"], len(body.locations), "max_points", limits.max_points
        )
    check_minutes(body.minutes, limits, ["body", "minutes"])
    check_work(loaded, limits, len(body.locations), body.minutes)
    with loaded.work_slot():  # a point the roads cannot serve is named by its index
        items = [
            loaded.isochrone_feature(
                lon, lat, minutes=body.minutes, mode=body.mode, coord_sys=body.coord_sys, index=i
            )
            for i, (lon, lat) in enumerate(body.locations)
        ]
    return GeoJSONResponse(geojson.feature_collection(items))
