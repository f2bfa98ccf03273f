"""Towns and villages: coverage of each, addressable by Chinese name or code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path

from api import geojson, views
from api.deps import Region, Town
from api.models import GapCount, TownDetail, TownList, UnitCoverage, VillageDetail, error_responses
from api.state import LoadedRegion
from planner.coverage import UNIT_FIGURES
from planner.text import TIERS

if TYPE_CHECKING:
    import pandas as pd

router = APIRouter(
    tags=["towns"],
    responses=error_responses(
        {404: "Unknown region, town or village", 422: "Invalid path parameter"}
    ),
)


def unit_json(row: dict[str, Any]) -> dict[str, Any]:
    """A ``by_unit`` row as :class:`UnitCoverage` fields."""
    out = {k: row.get(k) for k in UNIT_FIGURES}
    out["code"] = str(out["code"])
    out["coverage_by_tier"] = {t: row.get(f"coverage_{t}") for t in TIERS}
    return out


def _units(loaded: LoadedRegion, frame: pd.DataFrame) -> list[UnitCoverage]:
    cols = [*UNIT_FIGURES, *(f"coverage_{t}" for t in TIERS)]
    return [UnitCoverage.model_validate(unit_json(r)) for r in geojson.records(frame, cols)]


@router.get("/regions/{region}/towns", summary="Towns with their coverage")
async def list_towns(loaded: Region) -> TownList:
    """Every town (乡镇/街道) of the region: population, covered share, mean minutes, and
    coverage by each tier."""
    return TownList(region=loaded.id, towns=_units(loaded, loaded.towns))


@router.get("/regions/{region}/towns/{town}", summary="A town and its villages")
def town_detail(loaded: Region, town: Town) -> TownDetail:
    """Coverage of the town and of each of its villages and communities (村/社区), and how
    many people live in its gap areas."""
    gaps = loaded.gap_frame(town)
    return TownDetail(
        region=loaded.id,
        town=_units(loaded, town.to_frame().T)[0],
        villages=_units(loaded, loaded.villages_of(town)),
        gaps=GapCount(
            count=len(gaps), population=int(gaps["population"].sum()) if len(gaps) else 0
        ),
        links=views.links(loaded.id, town),
    )


@router.get("/regions/{region}/towns/{town}/villages/{village}", summary="One village")
async def village_detail(
    loaded: Region,
    town: Town,
    village: Annotated[
        str,
        Path(max_length=200, description="Village name (e.g. `岗上村`) or 12-digit code."),
    ],
) -> VillageDetail:
    """Coverage of one village or community of the town."""
    row = loaded.find_village(town, village)
    return VillageDetail(
        region=loaded.id,
        town=str(town["name"]),
        town_code=str(town["code"]),
        village=_units(loaded, row.to_frame().T)[0],
    )
