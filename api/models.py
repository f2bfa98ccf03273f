"""Request and response models: what every endpoint takes and gives, as shown at /docs."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from planner import vocab

Mode = Literal["walk", "bike", "drive"]
CoordSys = Literal["wgs84", "gcj02", "bd09"]


# --- errors -----------------------------------------------------------------------------------


class ErrorInfo(BaseModel):
    """What went wrong: a stable ``code`` to branch on, a message for people, and details."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["no town '青山镇' in region 'sample'; did you mean '青山乡'?"])
    detail: Any = Field(None, description="Field errors, close names or the limit exceeded.")


class ErrorResponse(BaseModel):
    """The one shape of every error response."""

    error: ErrorInfo


def error_responses(codes: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses: always JSON, whatever the endpoint's own type.

    (``{"model": ErrorResponse}`` would document errors of GeoJSON and HTML endpoints under
    those types; ``api.main`` registers the ``ErrorResponse`` schema referenced here.)
    """
    schema = {"$ref": "#/components/schemas/ErrorResponse"}
    return {
        code: {"description": text, "content": {"application/json": {"schema": schema}}}
        for code, text in codes.items()
    }


# --- regions, towns, villages -----------------------------------------------------------------


class Health(BaseModel):
    """The server is up and has its regions in memory."""

    status: Literal["ok"] = "ok"
    version: str
    regions: list[str]
    uptime_s: float


class TierCoverage(BaseModel):
    """Coverage by one tier of sites under its travel standard."""

    tier: str = Field(examples=["station"])
    label: str = Field(examples=["站 Village/community station"])
    label_zh: str = Field(examples=["站"])
    color: str = Field(examples=["#2166ac"])
    mode: str = Field(examples=["walk"])
    minutes: float = Field(examples=[15])
    sites: int
    population_covered: int
    coverage: float = Field(description="Share of the population within the standard.")
    coverage_at: dict[str, float] = Field(description="Coverage at each reported threshold.")


class WorstUnit(BaseModel):
    """A village (or town) among the least covered."""

    code: str
    name: str
    town: str
    population: int
    coverage: float | None


class Equity(BaseModel):
    """How evenly coverage is shared between units and people."""

    unit_level: str
    units: int
    units_fully_covered: int
    share_units_fully_covered: float
    worst_units: list[WorstUnit]
    gini_minutes: float
    population_no_site_reachable: int


class RegionItem(BaseModel):
    """A loaded region in the list."""

    id: str = Field(examples=["sample"])
    name: str = Field(examples=["示范县"])
    population_total: int
    population_covered: int
    coverage: float
    towns: int
    villages: int
    sites_total: int
    links: dict[str, str]


class RegionList(BaseModel):
    """Every region the server has loaded."""

    regions: list[RegionItem]


class RegionSummary(BaseModel):
    """Headline figures of a region under its standards."""

    id: str = Field(examples=["sample"])
    name: str = Field(examples=["示范县"])
    population_total: int
    population_covered: int
    coverage: float
    mode: str
    minutes: float
    thresholds: list[float]
    coverage_at: dict[str, float]
    by_tier: list[TierCoverage]
    residents_total: int
    residents_far_from_road: int
    population_far_from_road: int
    sites_total: int
    towns: int
    villages: int
    gaps: int
    population_in_gaps: int
    equity: Equity
    links: dict[str, str]


class UnitCoverage(BaseModel):
    """Coverage of one town or village (shares are ``null`` where nobody lives)."""

    level: Literal["town", "village"]
    code: str = Field(examples=["360699201000"])
    name: str = Field(examples=["青山乡"])
    town: str = Field(examples=["青山乡"])
    residents: int = Field(description="Resident points (households or buildings).")
    population: int
    population_covered: int
    population_uncovered: int
    coverage: float | None
    mean_minutes: float | None = Field(description="Population-weighted minutes to a site.")
    max_minutes: float | None
    coverage_by_tier: dict[str, float | None]


class TownList(BaseModel):
    """The towns of a region with their coverage."""

    region: str
    towns: list[UnitCoverage]


class GapCount(BaseModel):
    """How many gap areas a unit has and how many people live in them."""

    count: int
    population: int


class TownDetail(BaseModel):
    """A town, its villages and its gap areas (under the region's standards)."""

    region: str
    town: UnitCoverage
    villages: list[UnitCoverage]
    gaps: GapCount
    links: dict[str, str]


class VillageDetail(BaseModel):
    """One village (or community) of a town."""

    region: str
    town: str
    town_code: str
    village: UnitCoverage


# --- GeoJSON ----------------------------------------------------------------------------------

P = TypeVar("P")


class Geometry(BaseModel):
    """A GeoJSON geometry in WGS84 longitude/latitude (RFC 7946)."""

    type: Literal["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"]
    coordinates: list[Any]


class Feature(BaseModel, Generic[P]):
    """A GeoJSON feature."""

    type: Literal["Feature"] = "Feature"
    id: str | int | None = None
    geometry: Geometry | None
    properties: P


class GapProperties(BaseModel):
    """A contiguous area of residents outside the standard."""

    gap_id: str = Field(examples=["G001"])
    population: int
    residents: int
    town: str | None
    village: str | None = Field(description="The most populous village of the area.")
    nearest_site: str | None = Field(description="Site id nearest (by travel time) to the area.")
    nearest_site_name: str | None
    nearest_tier: str | None
    minutes_min: float | None = Field(description="Minutes from its best-placed resident.")
    minutes_mean: float | None
    centroid_lon: float
    centroid_lat: float
    area_km2: float


class GapQuery(BaseModel):
    """What a gap collection answers."""

    region: str
    town: str | None
    town_code: str | None
    tier: str | None = Field(description="Only sites of this tier serve (null: any tier).")
    mode: str
    minutes: float
    count: int
    population_in_gaps: int


class GapCollection(BaseModel):
    """Gap areas as a GeoJSON FeatureCollection, with the query in ``summary``."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    summary: GapQuery
    features: list[Feature[GapProperties]]


class SiteProperties(BaseModel):
    """An existing site; further columns of the sites file are passed through."""

    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    tier: str
    tier_zh: str
    town: str | None = None
    town_code: str | None = None
    mode: str
    minutes: float
    population_served: int | None = Field(None, description="Residents within its standard.")


class SiteCollection(BaseModel):
    """Sites as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature[SiteProperties]]


class IsochroneProperties(BaseModel):
    """The area reached from one point over the roads."""

    index: int = Field(description="Position of the point in the request.")
    lon: float = Field(description="The point in WGS84.")
    lat: float
    minutes: float
    mode: str
    speed_kmh: float | None = Field(description="null for driving on road speed limits.")
    area_km2: float


class IsochroneCollection(BaseModel):
    """Service areas as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature[IsochroneProperties]]


class IsochroneRequest(BaseModel):
    """Several points at once (at most the server's ``max_points``)."""

    model_config = ConfigDict(extra="forbid")

    locations: list[tuple[float, float]] = Field(
        min_length=1,
        description="[lon, lat] pairs.",
        examples=[[[117.2476, 28.2649], [117.3545, 28.2556]]],
    )
    minutes: float = Field(15.0, gt=0, allow_inf_nan=False)
    mode: Mode = "walk"
    coord_sys: CoordSys = "wgs84"

    @field_validator("locations")
    @classmethod
    def _lon_lat(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for lon, lat in value:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                msg = f"[{lon}, {lat}] is not a WGS84 [lon, lat] pair"
                raise ValueError(msg)
        return value


# --- suggestions ------------------------------------------------------------------------------


class SuggestRequest(BaseModel):
    """Where to open new sites: ``k`` of them, or the fewest reaching ``target`` coverage."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"k": 5}, {"target": 0.9, "town": "青山乡"}]},
    )

    k: int | None = Field(None, ge=1, description="Number of new sites (default 5).")
    target: float | None = Field(
        None, gt=0, le=1, allow_inf_nan=False, description="Coverage share to reach, e.g. 0.95."
    )
    tier: str | None = Field(
        None,
        max_length=40,
        description="Tier of the new sites (key or Chinese name); only existing sites of this "
        "tier count as serving. Default: any site serves, new sites are stations.",
    )
    kinds: list[str] | None = Field(
        None, max_length=10, description="Allowed candidate kinds, e.g. idle_school, 闲置民宅."
    )
    town: str | None = Field(None, max_length=100, description="Only this town (name or code).")
    min_rooms: float = Field(3, ge=0, le=1000, allow_inf_nan=False)
    max_per_town: int | None = Field(None, ge=1)
    method: Literal["exact", "greedy"] = "exact"
    time_limit: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Solver seconds (default: the server cap)."
    )

    @field_validator("tier")
    @classmethod
    def _tier_key(cls, value: str | None) -> str | None:
        return None if value is None else vocab.tier_key(value, where="tier")

    @field_validator("kinds")
    @classmethod
    def _kind_keys(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else vocab.kind_keys(value, where="kinds")

    @model_validator(mode="after")
    def _k_or_target(self) -> SuggestRequest:
        if self.k is not None and self.target is not None:
            msg = "give either k (number of new sites) or target (coverage share), not both"
            raise ValueError(msg)
        if self.k is None and self.target is None:
            self.k = vocab.DEFAULT_K
        return self


class ProposalProperties(BaseModel):
    """A candidate building proposed as a new site."""

    model_config = ConfigDict(extra="allow")

    rank: int
    candidate_id: str
    name: str
    kind: str | None = None
    kind_zh: str | None = None
    rooms: float | None = None
    town: str | None = None
    village: str | None = None
    tier: str
    population_newly_covered: float
    cumulative_newly_covered: float


class AddedAreaProperties(BaseModel):
    """The service area a proposed site would add."""

    site_id: str
    name: str
    minutes: float


class ProposalCollection(BaseModel):
    """Proposed sites in selection order."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature[ProposalProperties]]


class AddedAreaCollection(BaseModel):
    """Service areas of the proposed sites."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature[AddedAreaProperties]]


class SuggestSummary(BaseModel):
    """Coverage before and after, and how good the solution is."""

    model_config = ConfigDict(extra="allow")

    region: str
    town: str | None
    model: str = Field(description="mclp (k sites) or target_cover.")
    k: int | None
    target: float | None
    tier: str
    mode: str
    minutes: float
    population_total: int
    population_newly_covered: int
    coverage_before: float
    coverage_after: float
    coverage_achievable: float
    new_sites: int
    objective: float | None
    bound: float | None
    gap: float | None = Field(description="Proven relative optimality gap (0 = optimal).")
    solver: str
    status: str
    solve_seconds: float
    time_limit: float
    node_limit: int | None = Field(
        None,
        description="Most branch-and-bound nodes the solver may explore (a deterministic work "
        "limit: the same request gets the same answer); status `node_limit` when reached.",
    )
    note: str | None = Field(
        None, description="Why fewer sites than asked were proposed, when that happens."
    )


class SuggestResponse(BaseModel):
    """Proposed sites (GeoJSON points), the areas they add, and before/after figures."""

    summary: SuggestSummary
    proposals: ProposalCollection
    added_areas: AddedAreaCollection
