"""Regions: the list and each region's headline figures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api import views
from api.deps import Region, get_store
from api.models import RegionList, RegionSummary, error_responses
from api.state import RegionStore

router = APIRouter(tags=["regions"])


@router.get("/regions", summary="Loaded regions")
async def list_regions(store: Annotated[RegionStore, Depends(get_store)]) -> RegionList:
    """Every region the server loaded at start-up, with population and coverage."""
    items = [views.region_item(r) for r in store.regions.values()]
    return RegionList.model_validate({"regions": items})


@router.get(
    "/regions/{region}",
    summary="Region summary: population, coverage per tier and threshold",
    responses=error_responses({404: "Unknown region", 422: "Invalid region parameter"}),
)
async def region_summary(loaded: Region) -> RegionSummary:
    """Population, coverage per tier (under its travel standard) and at each threshold,
    gap areas and equity figures, as computed at start-up."""
    return RegionSummary.model_validate(views.region_summary(loaded))
