"""The standards audit of a region or a town: every rule's verdict and the list of issues."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api import geojson
from api.deps import Region, Town
from api.models import error_responses
from planner.audit import FINDING_COLUMNS
from planner.coverage import json_ready
from planner.query import in_town

if TYPE_CHECKING:
    import pandas as pd

router = APIRouter(
    tags=["audit"],
    responses=error_responses({404: "Unknown region or town"}),
)

_SITE_COLUMNS = ["id", "name", "tier", "town", "village_code", "verdict", "failed_rules"]
_TOWN_COLUMNS = [
    "town",
    "sites",
    "sites_pass",
    "sites_fail",
    "sites_no_data",
    "villages",
    "five_haves",
    "issues",
    "population",
    "volunteers",
    "volunteers_with_hours",
    "volunteer_share",
    "with_hours_share",
    "coverage",
]
_VILLAGE_COLUMNS = [
    "code",
    "name",
    "town",
    "five_haves_status",
    "circle_status",
    "five_haves_detail",
]


class Finding(BaseModel):
    """One rule checked on one object."""

    model_config = ConfigDict(extra="allow")
    level: str = Field(description="county, town, village, site, team or venue")
    where_id: str
    where: str
    rule: str = Field(description="Rule id, e.g. rooms, five_haves (see planner.audit)")
    status: str = Field(description="pass, fail or no_data")
    required: str
    found: str
    section: str = Field(description="Section of the provincial plan, e.g. 二.7")
    decided_by: str = Field(description="For no_data: the column or file that would decide it")


class RegionAudit(BaseModel):
    """The audit of a whole region."""

    region: str
    summary: dict[str, Any] = Field(
        description="Sites by verdict, pass/fail/no data per rule, villages with the five haves"
    )
    county: list[Finding]
    towns: list[dict[str, Any]]
    issues: list[Finding] = Field(description="Every failed rule, ordered by tier and town")


class TownAudit(BaseModel):
    """The audit of one town: its sites, villages and issues."""

    region: str
    town: dict[str, Any]
    sites: list[dict[str, Any]]
    villages: list[dict[str, Any]]
    issues: list[Finding]


def _findings(frame: pd.DataFrame) -> list[Finding]:
    return [Finding.model_validate(r) for r in geojson.records(frame, FINDING_COLUMNS)]


@router.get("/regions/{region}/audit", summary="Standards audit of the region")
async def region_audit(loaded: Region) -> RegionAudit:
    """Every rule of the plan (rooms, staff, teams, activities, projects, five haves, the
    15-minute circle ...) on every site, village, town and the county; "no data" is never a
    pass and names what would decide it."""
    result = await run_in_threadpool(loaded.audit_result)
    f = result.findings
    return RegionAudit(
        region=loaded.id,
        summary=json_ready(result.summary),
        county=_findings(f[f["level"] == "county"]),
        towns=geojson.records(result.towns, _TOWN_COLUMNS),
        issues=_findings(result.issues),
    )


@router.get("/regions/{region}/towns/{town}/audit", summary="Standards audit of one town")
async def town_audit(loaded: Region, town: Town) -> TownAudit:
    """The town's sites with their verdict and failed rules, its villages (five haves,
    circle) and every failed rule in the town."""
    result = await run_in_threadpool(loaded.audit_result)
    name = str(town["name"])
    row = result.towns[in_town(result.towns, town)]
    return TownAudit(
        region=loaded.id,
        town=(geojson.records(row, _TOWN_COLUMNS) or [{"town": name}])[0],
        sites=geojson.records(result.sites[in_town(result.sites, town)], _SITE_COLUMNS),
        villages=geojson.records(result.villages[in_town(result.villages, town)], _VILLAGE_COLUMNS),
        issues=_findings(result.issues[in_town(result.issues, town)]),
    )
