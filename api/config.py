"""Server settings from a small TOML file: regions to load, limits, API key and CORS."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.errors import InputError
from planner.regions_config import read_regions_config, resolve_path

CONFIG_ENV = "SERVICECIRCLE_CONFIG"
"""Environment variable naming the TOML config (set by ``servicecircle serve --config``)."""

API_KEY_ENV = "SERVICECIRCLE_API_KEY"
"""Environment variable that sets (or replaces) ``[security] api_key``."""

SAMPLE_ID = "sample"

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

EXAMPLE = """\
# servicecircle serve --config regions.toml
[[regions]]
id = "sample"            # used in URLs: /regions/sample/...
sample = true            # the bundled 示范县

[[regions]]
id = "yushan"
name = "玉山县"
network = "data/yushan.osm.pbf"      # paths are relative to this file
sites = "data/sites.xlsx"
residents = "data/residents.csv"
units = "data/units.geojson"
candidates = "data/candidates.csv"
standards = "data/standards.toml"
coord_sys = "gcj02"

[limits]
max_minutes = 60
max_k = 50
max_points = 20
suggest_time_limit = 10

[security]
api_key = "change-me"    # POST endpoints then need the header X-API-Key

[cors]
origins = ["https://dashboard.example.gov.cn"]
"""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionConfig(_Strict):
    """One region: the same inputs as the CLI flags, or the bundled sample."""

    id: str | None = Field(
        default=None, description="URL id, e.g. 'yushan' (default: from name or file)."
    )
    name: str | None = Field(default=None, description="Display name, e.g. 玉山县.")
    sample: bool = Field(default=False, description="Load the bundled sample county (示范县).")
    network: Path | None = None
    sites: Path | None = None
    residents: Path | None = None
    units: Path | None = None
    candidates: Path | None = None
    standards: Path | None = None
    coord_sys: str | None = None
    dem: Path | None = Field(
        default=None, description="Elevation GeoTIFF: walking and cycling times follow slopes."
    )
    sheet: str | None = Field(default=None, description="Sheet of XLSX inputs to read.")

    @model_validator(mode="after")
    def _inputs_given(self) -> RegionConfig:
        missing = [k for k in ("network", "sites", "residents") if getattr(self, k) is None]
        if missing and not self.sample:
            msg = f"give {', '.join(missing)} (or sample = true for the bundled sample county)"
            raise ValueError(msg)
        if self.id is not None and not _ID_PATTERN.match(self.id):
            msg = f"id {self.id!r} must be letters, digits, '.', '_' or '-' (it is used in URLs)"
            raise ValueError(msg)
        return self

    def url_id(self) -> str:
        """The id used in URLs."""
        if self.id:
            return self.id
        if self.sample and self.network is None:
            return SAMPLE_ID
        if self.name and _ID_PATTERN.match(self.name):
            return self.name
        stem = Path(str(self.network)).name.split(".")[0]
        return re.sub(r"[^A-Za-z0-9_.-]", "-", stem).strip("-") or "region"


class Limits(_Strict):
    """Bounds on the work one request may ask for; exceeding one is a 422 naming the limit."""

    max_minutes: float = Field(
        default=60.0, gt=0, le=240, description="Largest travel time asked for."
    )
    max_k: int = Field(
        default=50, ge=1, le=1000, description="Most new sites one suggestion may ask for."
    )
    max_points: int = Field(
        default=20, ge=1, le=1000, description="Most points in one isochrone request."
    )
    suggest_time_limit: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Most seconds the exact solver may run for one request.",
    )
    max_concurrent_suggest: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Suggestions solved at once; more get 429 (retry later).",
    )
    max_body_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        le=100_000_000,
        description="Largest request body; a larger one is refused with 413 before it is read.",
    )
    max_isochrone_work: float = Field(
        default=2e7,
        gt=0,
        description="Most work one isochrone request may ask for: points x minutes x road "
        "edges of the region's graph (2e7 allows 20 points x 60 minutes on 16,000 edges).",
    )
    suggest_node_limit: int = Field(
        default=2000,
        ge=1,
        le=10_000_000,
        description="Most branch-and-bound nodes of the exact solver per request: a work limit "
        "that gives the same answer to the same request (the time limit is a backstop).",
    )
    max_map_residents: int = Field(
        default=5000, ge=0, le=200_000, description="Most uncovered residents drawn on one map."
    )
    cache_size: int = Field(default=256, ge=8, le=100_000, description="Cached answers per kind.")


class SecurityConfig(_Strict):
    """An optional shared key for every endpoint that computes on request.

    POST /suggest, GET and POST /isochrone and maps with proposals (``k`` > 0) then need it in
    the ``X-API-Key`` header (or, for a map opened in a browser, ``?key=``).
    """

    api_key: str | None = Field(default=None, min_length=8)


class CorsConfig(_Strict):
    """Browser origins allowed to call the API (none by default; ``["*"]`` for any)."""

    origins: list[str] = Field(default_factory=list)


class Settings(_Strict):
    """Everything the server needs to start."""

    regions: list[RegionConfig] = Field(default_factory=lambda: [RegionConfig(sample=True)])
    limits: Limits = Limits()  # frozen models: sharing the default instance is safe
    security: SecurityConfig = SecurityConfig()
    cors: CorsConfig = CorsConfig()
    cache_dir: Path | None = Field(
        default=None, description="Compiled road networks (default as CLI)."
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> Settings:
        if not self.regions:
            msg = "regions: list at least one [[regions]] table"
            raise ValueError(msg)
        ids = [r.url_id() for r in self.regions]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            msg = f"regions: ids must be unique, {dup} appear more than once (set id = ...)"
            raise ValueError(msg)
        return self


def load_settings(path: str | Path | None = None) -> Settings:
    """Read settings from ``path``, else from ``$SERVICECIRCLE_CONFIG``, else the defaults.

    Relative paths in the file are taken relative to the file's folder. The environment
    variable ``SERVICECIRCLE_API_KEY`` sets the API key without writing it into the file.

    Raises
    ------
    InputError
        When the file is missing, not TOML, or has unknown keys or bad values.
    """
    path = path or os.environ.get(CONFIG_ENV) or None
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        # The same reader as `servicecircle province`; pydantic then checks every value.
        data = read_regions_config(path, optional=True)
        data["cache_dir"] = resolve_path(path.parent, data.get("cache_dir"))
    key = os.environ.get(API_KEY_ENV)
    if key:
        data.setdefault("security", {})["api_key"] = key
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(err['loc'])}: {err['msg']}" for err in exc.errors())
        where = path or "settings"
        # The first line says it all (the CLI shows only it); the example follows for logs.
        msg = f"{where}: {problems} (see the example in api/config.py)\nexample config:\n{EXAMPLE}"
        raise InputError(msg) from None


def _where(loc: tuple[int | str, ...]) -> str:
    """A validation error's place as people count: ``regions.2.id`` -> ``region 3, id``."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int) and i > 0 and loc[i - 1] == "regions":
            parts[-1] = f"region {part + 1}"
        else:
            parts.append(str(part))
    return ", ".join(parts) or "config"
