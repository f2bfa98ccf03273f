"""Liveness and the API's front door."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.deps import get_store
from api.models import Health
from api.state import RegionStore
from planner import __version__

router = APIRouter(tags=["meta"])


@router.get("/health", summary="The server is up and its regions are loaded")
async def health(store: Annotated[RegionStore, Depends(get_store)]) -> Health:
    """Answered once every configured region is in memory."""
    return Health(
        version=__version__,
        regions=list(store.regions),
        uptime_s=round(time.time() - store.started, 3),
    )


@router.get("/", include_in_schema=False)
async def index(store: Annotated[RegionStore, Depends(get_store)]) -> dict[str, Any]:
    """Where to go next."""
    return {
        "name": "servicecircle",
        "version": __version__,
        "docs": "/docs",
        "openapi": "/openapi.json",
        "regions": {rid: f"/regions/{rid}" for rid in store.regions},
    }
