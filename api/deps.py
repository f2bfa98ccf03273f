"""Dependencies shared by the routers: the loaded region, town, limits and the API key."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import APIKeyHeader

from api.config import Limits, Settings
from api.errors import MESSAGES, ApiError, field_error, limit_exceeded, not_found
from api.models import Mode
from api.state import LoadedRegion, RegionStore
from planner import vocab
from planner.errors import InputError, NotFound

API_KEY_HEADER = "X-API-Key"

_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Needed by every endpoint that computes on request (suggest, isochrone, maps "
    "with proposals) when the server is configured with an API key.",
)


async def get_settings(request: Request) -> Settings:
    """The server settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> RegionStore:
    """The loaded regions."""
    store: RegionStore = request.app.state.store
    return store


async def get_limits(request: Request) -> Limits:
    """Bounds on the work of one request."""
    limits: Limits = request.app.state.settings.limits
    return limits


async def get_region(
    region: Annotated[
        str,
        Path(
            max_length=200,
            description="Region id (e.g. `sample`) or name (e.g. `示范县`).",
            examples=["sample"],
        ),
    ],
    request: Request,
) -> LoadedRegion:
    """The region named in the path (404 listing close names when unknown)."""
    store: RegionStore = request.app.state.store  # not a sub-dependency: this is a hot path
    return store.get(region)


async def get_town(
    town: Annotated[
        str,
        Path(
            max_length=200,
            description="Town name (e.g. `青山乡`) or 12-digit code (e.g. `360699201000`).",
            examples=["青山乡"],
        ),
    ],
    loaded: Annotated[LoadedRegion, Depends(get_region)],
) -> pd.Series:
    """The town named in the path (404 listing close names when unknown)."""
    return loaded.find_town(town)


def town_as_field(loaded: LoadedRegion, town: str, loc: list[str]) -> pd.Series:
    """A town given in a query or body field: unknown is a 404 with the close names, as in
    a path, naming the field in ``detail.loc``."""
    try:
        return loaded.find_town(town)
    except NotFound as exc:
        raise not_found(exc, loc) from None


def sites_as_field(loaded: LoadedRegion, given: Iterable[tuple[list[str | int], str]]) -> None:
    """Site ids given in a body, each with its field: an unknown one is a 404 with the close
    ids, as an unknown town is."""
    ids = loaded.region.sites["id"].astype(str)
    known = set(ids)
    for loc, site in given:
        if site not in known:
            where = f"the sites of region {loaded.id!r}"
            raise not_found(NotFound("site", site, ids, where=where), loc)


def tier_key(value: str | None, loc: list[str]) -> str | None:
    """A tier key from a key, alias or Chinese name (``站`` -> ``station``); 422 when unknown."""
    if value is None:
        return None
    try:
        return vocab.tier_key(value, where=loc[-1])
    except InputError as exc:
        raise field_error(loc, str(exc), "enum") from None


def check_minutes(minutes: float | None, limits: Limits, loc: list[str]) -> None:
    """Reject travel times above the server limit."""
    if minutes is not None and minutes > limits.max_minutes:
        raise limit_exceeded(loc, minutes, "max_minutes", limits.max_minutes)


TierQuery = Annotated[
    str | None,
    Query(
        max_length=40,
        description="Only sites of this tier serve: centre, institute, station, base, "
        "service_point, family (or 中心, 所, 站, 基地, 志愿服务站点, 家庭站). Default: any tier.",
        examples=["station"],
    ),
]
MinutesQuery = Annotated[
    float | None,
    Query(
        gt=0,
        le=240,
        allow_inf_nan=False,
        description="Travel-time limit for every tier (default: the region's standards; the "
        "server caps it at `max_minutes`).",
        examples=[15],
    ),
]
ModeQuery = Annotated[
    Mode | None, Query(description="Travel mode for every tier (default: the region's standards).")
]


async def gap_query(
    request: Request,
    tier: TierQuery = None,
    minutes: MinutesQuery = None,
    mode: ModeQuery = None,
    key: Annotated[str | None, Security(_api_key)] = None,
) -> dict[str, Any]:
    """The checked query of a gap request: ``tier``, ``mode``, ``minutes``.

    Gaps under the region's own standards come from memory; another ``mode`` or ``minutes``
    is a new analysis computed on request, so it takes the API key as well. (One dependency
    for both: FastAPI validates a dependency again wherever it is declared when the first
    try fails, so a query declared twice reported each error twice.)
    """
    settings: Settings = request.app.state.settings
    check_minutes(minutes, settings.limits, ["query", "minutes"])
    query = {"tier": tier_key(tier, ["query", "tier"]), "mode": mode, "minutes": minutes}
    if (mode is not None or minutes is not None) and not key_matches(settings, key):
        raise unauthorized()
    return query


def key_matches(settings: Settings, key: str | None) -> bool:
    """True when the server has no API key, or ``key`` is it (compared in constant time)."""
    expected = settings.security.api_key
    if expected is None:
        return True
    return key is not None and hmac.compare_digest(key.encode(), expected.encode())


def unauthorized() -> ApiError:
    """401 in the common shape, naming the header to send."""
    return ApiError(
        401,
        "unauthorized",
        MESSAGES["unauthorized"],
        {"header": API_KEY_HEADER},
        headers={"WWW-Authenticate": API_KEY_HEADER},
    )


async def require_api_key(
    settings: Annotated[Settings, Depends(get_settings)],
    key: Annotated[str | None, Security(_api_key)] = None,
) -> None:
    """When the server has an API key, the request must carry it in ``X-API-Key``.

    The one rule for every endpoint that computes on request: suggestions, isochrones and
    maps with proposals.
    """
    if not key_matches(settings, key):
        raise unauthorized()


async def map_api_key(
    settings: Annotated[Settings, Depends(get_settings)],
    header: Annotated[str | None, Security(_api_key)] = None,
    key: Annotated[
        str | None,
        Query(
            max_length=200,
            description="The API key, for a map opened in a browser (instead of X-API-Key).",
        ),
    ] = None,
) -> bool:
    """Whether a map request carries the key (header or ``?key=``); a wrong key is a 401."""
    given = header if header is not None else key
    if given is not None and not key_matches(settings, given):
        raise unauthorized()
    return key_matches(settings, given)


MapKey = Annotated[bool, Depends(map_api_key)]
Region = Annotated[LoadedRegion, Depends(get_region)]
Town = Annotated[pd.Series, Depends(get_town)]
GapQuery = Annotated[dict[str, Any], Depends(gap_query)]
LimitsDep = Annotated[Limits, Depends(get_limits)]
