"""Regions loaded at start-up with their coverage; other answers computed once and cached.

Everything a request asks for is a pure function of the loaded inputs and the query, so
answers (GeoJSON bytes, coverage under other standards, suggestions, map pages) are kept in a
small LRU per region and computed at most once even when many requests ask at the same time.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from api import geojson
from api.config import Limits, RegionConfig, Settings
from api.errors import MESSAGES, ApiError, not_found
from api.security import content_security_policy
from planner.areas import isochrone
from planner.audit import Audit, AuditFiles, audit_region
from planner.coords import to_wgs84
from planner.coverage import Coverage, analyze, gap_areas, json_ready, residents_for_tier
from planner.errors import InputError
from planner.region import Region, RegionFiles
from planner.siting import Suggestion
from planner.siting import suggest as propose
from planner.standards import TierStandard
from planner.text import CANDIDATE_KINDS, TIERS

log = logging.getLogger(__name__)

T = TypeVar("T")

LABELS_NO_PROPOSALS = "未给出建议站点 No proposals"

PAGE_CACHE = 32
"""Map pages and suggestions kept per region (a page can weigh a few MB)."""

UNKNOWN = "(未知)"
"""How ``planner.coverage.unit_table`` names residents without a town or village."""

GAP_COLUMNS = [
    "gap_id",
    "population",
    "residents",
    "town",
    "village",
    "nearest_site",
    "nearest_site_name",
    "nearest_tier",
    "minutes_min",
    "minutes_mean",
    "centroid_lon",
    "centroid_lat",
    "area_km2",
]
SITE_COLUMNS = [
    "id",
    "name",
    "tier",
    "tier_zh",
    "town",
    "town_code",
    "village_code",
    "rooms",
    "staff",
    "volunteer_teams",
    "activities_per_year",
    "mode",
    "minutes",
    "population_served",
]
PROPOSAL_COLUMNS = [
    "rank",
    "candidate_id",
    "name",
    "kind",
    "kind_zh",
    "rooms",
    "town",
    "town_code",
    "village",
    "village_code",
    "tier",
    "population_newly_covered",
    "cumulative_newly_covered",
]


class Memo:
    """A thread-safe LRU that computes each missing key once, however many ask at once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Lock] = {}

    def peek(self, key: Hashable) -> Any | None:
        """The cached value, or ``None`` (never computes: safe on the event loop)."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value of ``key``, computing it (once) when missing."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return cast(T, self._data[key])  # stored by compute() for this key
            pending = self._pending.setdefault(key, threading.Lock())
        with pending:
            with self._lock:
                if key in self._data:
                    return cast(T, self._data[key])
            try:
                value = compute()
                with self._lock:
                    self._data[key] = value
                    while len(self._data) > self.size:
                        self._data.popitem(last=False)
            finally:  # stored (or failed) before the next caller may start computing it
                with self._lock:
                    self._pending.pop(key, None)
            return value


@dataclass(frozen=True)
class Page:
    """A map page, plain and gzip-compressed once (it can weigh megabytes), and its CSP."""

    html: bytes
    gz: bytes
    csp: str = ""


@dataclass(eq=False)
class LoadedRegion:
    """One region in memory: inputs, coverage under its standards, towns and villages."""

    id: str
    region: Region
    coverage: Coverage
    limits: Limits
    towns: pd.DataFrame = field(init=False)
    villages: pd.DataFrame = field(init=False)
    bounds: tuple[float, float, float, float] = field(init=False)
    memo: Memo = field(init=False)  # GeoJSON answers, gap areas, coverage under other standards
    pages: Memo = field(init=False)  # heavier: map pages and suggestions
    _suggest_slots: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        units = self.coverage.by_unit
        self.towns = units[units["level"] == "town"].reset_index(drop=True)
        self.villages = units[units["level"] == "village"].reset_index(drop=True)
        xy = self.region.network.node_xy
        lon, lat = _to_lonlat(xy[:, 0], xy[:, 1], self.region.crs)
        self.bounds = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
        self.memo = Memo(self.limits.cache_size)
        self.pages = Memo(PAGE_CACHE)
        # Every accepted spelling of a town (code and name) to its row, for O(1) lookups.
        self._town_keys: dict[str, pd.Series] = {}
        for _, row in self.towns.iloc[::-1].iterrows():  # the first row wins on a clash
            self._town_keys[str(row["name"])] = row
        for _, row in self.towns.iterrows():
            self._town_keys[str(row["code"])] = row
        self._suggest_slots = threading.BoundedSemaphore(self.limits.max_concurrent_suggest)

    @property
    def name(self) -> str:
        """Display name, e.g. 示范县."""
        return self.region.name

    # --- towns and villages --------------------------------------------------------------------

    def find_town(self, key: str) -> pd.Series:
        """The town row named or coded ``key`` (404 listing close names when unknown)."""
        row = self._town_keys.get(key)
        if row is not None:
            return row
        return _find(self.towns, key, kind="town", where=f"region {self.id!r} ({self.name})")

    def find_village(self, town: pd.Series, key: str) -> pd.Series:
        """The village (or community) of ``town`` named or coded ``key``."""
        villages = self.villages_of(town)
        return _find(villages, key, kind="village", where=f"town {town['name']} ({town['code']})")

    def villages_of(self, town: pd.Series) -> pd.DataFrame:
        """Village rows of a town."""
        rows: pd.DataFrame = self.villages[self.villages["town"] == town["name"]]
        return rows

    def _in_town(self, frame: pd.DataFrame, town: pd.Series) -> np.ndarray:
        if "town_code" in frame and str(town["code"]) != str(town["name"]):
            col = frame["town_code"]
            return (col.fillna(UNKNOWN).astype(str) == str(town["code"])).to_numpy()
        if "town" in frame:
            return (frame["town"].fillna(UNKNOWN).astype(str) == str(town["name"])).to_numpy()
        return np.zeros(len(frame), bool)

    # --- coverage under other standards and gap areas -------------------------------------------

    def standard(
        self, mode: str | None, minutes: float | None, tier: str | None = None
    ) -> tuple[str, float]:
        """The (mode, minutes) a gap query answers: those given, else the tier's or default."""
        std = self.region.standards
        base = std.for_tier(tier) if tier is not None else std.default
        return mode or base.mode, float(minutes) if minutes is not None else base.minutes

    def coverage_for(self, mode: str | None, minutes: float | None) -> Coverage:
        """Coverage when every tier is reached by ``mode`` within ``minutes`` (cached)."""
        if mode is None and minutes is None:
            return self.coverage
        std = self.region.standards.override(mode=mode, minutes=minutes)
        if std == self.region.standards:
            return self.coverage
        return self.memo.get(
            ("coverage", mode, minutes),
            lambda: analyze(self.region.with_standards(std), service_areas=False),
        )

    def gap_frame(
        self,
        town: pd.Series | None,
        *,
        tier: str | None = None,
        mode: str | None = None,
        minutes: float | None = None,
    ) -> gpd.GeoDataFrame:
        """Gap areas (metric CRS) of the region or of one town's residents."""
        code = None if town is None else str(town["code"])
        if town is None and tier is None and mode is None and minutes is None:
            return self.coverage.gaps

        def compute() -> gpd.GeoDataFrame:
            res = self.coverage_for(mode, minutes).residents
            if tier is not None:
                res = residents_for_tier(res, tier)
            if town is not None:
                res = res[self._in_town(res, town)]
            return gap_areas(res, self.region.sites)

        return self.memo.get(("gap_frame", code, tier, mode, minutes), compute)

    def gaps_body(
        self,
        town: pd.Series | None,
        *,
        tier: str | None = None,
        mode: str | None = None,
        minutes: float | None = None,
    ) -> bytes:
        """The gap areas as GeoJSON bytes (cached; see :meth:`gaps_key`)."""

        def compute() -> bytes:
            gaps = self.gap_frame(town, tier=tier, mode=mode, minutes=minutes)
            gaps = gaps.assign(area_km2=np.round(shapely.area(gaps.geometry.to_numpy()) / 1e6, 4))
            used_mode, used_minutes = self.standard(mode, minutes, tier)
            summary = {
                "region": self.id,
                "town": None if town is None else town["name"],
                "town_code": None if town is None else str(town["code"]),
                "tier": tier,
                "mode": used_mode,
                "minutes": used_minutes,
                "count": len(gaps),
                "population_in_gaps": int(gaps["population"].sum()) if len(gaps) else 0,
            }
            items = geojson.features(gaps, GAP_COLUMNS, id_column="gap_id")
            return geojson.dumps(geojson.feature_collection(items, summary=summary))

        return self.memo.get(self.gaps_key(town, tier=tier, mode=mode, minutes=minutes), compute)

    @staticmethod
    def gaps_key(
        town: pd.Series | None,
        *,
        tier: str | None = None,
        mode: str | None = None,
        minutes: float | None = None,
    ) -> tuple[Any, ...]:
        """The cache key of a gap answer (for a lookup without leaving the event loop)."""
        return ("gaps", None if town is None else str(town["code"]), tier, mode, minutes)

    # --- sites --------------------------------------------------------------------------------

    def sites_body(self, *, tier: str | None, town: pd.Series | None) -> bytes:
        """Sites as GeoJSON bytes, optionally one tier and one town (cached)."""

        def compute() -> bytes:
            sites = self.region.sites
            keep = np.ones(len(sites), bool)
            if tier is not None:
                keep &= (sites["tier"] == tier).to_numpy()
            if town is not None:
                keep &= self._in_town(sites, town)
            chosen = sites[keep]
            std = self.region.standards
            areas = self.coverage.service_areas
            served = None
            if "population_served" in areas:
                served = areas.drop_duplicates("site_id").set_index("site_id")["population_served"]
            try:
                verdict = self.audit_result().sites.set_index("id")
            except InputError as exc:  # a broken ledger must not take the sites down
                log.warning("region %s: no compliance on sites: %s", self.id, exc)
                verdict = pd.DataFrame(columns=["verdict", "failed_rules"])
            chosen = chosen.assign(
                compliance=chosen["id"].astype(str).map(verdict["verdict"]),
                failed_rules=chosen["id"].astype(str).map(verdict["failed_rules"]),
                tier_zh=chosen["tier"].map(lambda t: TIERS.get(t, {}).get("zh", t)),
                mode=chosen["tier"].map(lambda t: std.for_tier(t).mode),
                minutes=chosen["tier"].map(lambda t: std.for_tier(t).minutes),
                population_served=chosen["id"].map(served) if served is not None else None,
            )
            extra = [c for c in chosen.columns if c not in SITE_COLUMNS and c not in _HIDDEN]
            items = geojson.features(chosen, [*SITE_COLUMNS, *extra], id_column="id")
            return geojson.dumps(geojson.feature_collection(items))

        key = ("sites", tier, None if town is None else str(town["code"]))
        return self.memo.get(key, compute)

    # --- standards audit ----------------------------------------------------------------------

    def audit_result(self) -> Audit:
        """The standards audit of the region (ledgers named teams/activities/projects/
        unit_stats/venues beside its sites file; rules missing a ledger are no data)."""

        def compute() -> Audit:
            files = self.region.files
            ledgers = AuditFiles.beside(files.sites) if files is not None else AuditFiles()
            return audit_region(self.region, self.coverage, files=ledgers)

        return self.memo.get(("audit",), compute)

    # --- isochrones ---------------------------------------------------------------------------

    def isochrone_feature(
        self, lon: float, lat: float, *, minutes: float, mode: str, coord_sys: str, index: int = 0
    ) -> dict[str, Any]:
        """The area reached from one point over the roads, as a GeoJSON feature (cached).

        Raises 422 when the point is outside the region or too far from a usable road.
        """
        key = ("isochrone", round(lon, 7), round(lat, 7), float(minutes), mode, coord_sys)
        feature = self.memo.get(
            key, lambda: self._isochrone(lon, lat, minutes=minutes, mode=mode, coord_sys=coord_sys)
        )
        return {**feature, "properties": {**feature["properties"], "index": index}}

    def _isochrone(
        self, lon: float, lat: float, *, minutes: float, mode: str, coord_sys: str
    ) -> dict[str, Any]:
        wlon, wlat = (float(v[0]) for v in to_wgs84(np.array([lon]), np.array([lat]), coord_sys))
        w, s, e, n = self.bounds
        pad = 0.02  # about 2 km: points just beyond the last road node still snap
        if not (w - pad <= wlon <= e + pad and s - pad <= wlat <= n + pad):
            text = MESSAGES["outside"].format(
                lon=wlon, lat=wlat, region=self.id, w=w, e=e, s=s, n=n
            )
            raise ApiError(
                422, "outside_region", text, {"loc": ["query", "lon"], "bounds": [w, s, e, n]}
            )
        std = self.region.standards
        speed = std.speed_of(std.default if std.default.mode == mode else TierStandard(mode=mode))
        graph = self.region.graph(mode, speed)
        x, y = _from_lonlat(wlon, wlat, self.region.crs)
        poly = isochrone(graph, np.array([x, y]), minutes=minutes, max_snap_m=std.max_snap_m)
        if poly is None:
            text = MESSAGES["unreachable"].format(
                mode=mode, max_snap_m=std.max_snap_m, lon=wlon, lat=wlat
            )
            detail = {"loc": ["query", "lon"], "max_snap_m": std.max_snap_m}
            raise ApiError(422, "unreachable_point", text, detail)
        frame = gpd.GeoDataFrame(geometry=[poly], crs=self.region.crs)
        props = {
            "index": 0,
            "lon": round(wlon, 7),
            "lat": round(wlat, 7),
            "minutes": float(minutes),
            "mode": mode,
            "speed_kmh": speed,
            "area_km2": round(float(poly.area) / 1e6, 4),
        }
        return geojson.features(frame, [], extra=props)[0]

    # --- suggestions --------------------------------------------------------------------------

    def suggestion(self, request: dict[str, Any]) -> Suggestion:
        """New sites for a checked request (keyword arguments of ``planner.siting.suggest``).

        At most ``limits.max_concurrent_suggest`` are solved at once; more get a 429.
        """
        key = ("suggest", *sorted((k, _hashable(v)) for k, v in request.items()))
        cached: Suggestion | None = self.pages.peek(key)
        if cached is not None:
            return cached
        with self.work_slot():
            return self.pages.get(key, lambda: propose(self.region, self.coverage, **request))

    @contextmanager
    def work_slot(self) -> Iterator[None]:
        """Hold one of the ``max_concurrent_suggest`` slots shared by suggestions and
        isochrones (the work a request computes); none free is a 429."""
        if not self._suggest_slots.acquire(blocking=False):
            n = self.limits.max_concurrent_suggest
            text = MESSAGES["busy"].format(running=n, limit="max_concurrent_suggest", maximum=n)
            detail = {"limit": "max_concurrent_suggest", "maximum": n}
            raise ApiError(429, "busy", text, detail, headers={"Retry-After": "2"})
        try:
            yield
        finally:
            self._suggest_slots.release()

    @property
    def graph_edges(self) -> int:
        """Directed road edges of the region's network (the size in the isochrone budget)."""
        return len(self.region.network.edge_u)

    def suggestion_json(self, request: dict[str, Any]) -> dict[str, Any]:
        """A suggestion as JSON: summary (before/after), proposals and added areas (GeoJSON)."""
        result = self.suggestion(request)
        summary = json_ready(dict(result.summary))
        summary["region"] = self.id
        proposals = result.proposals
        proposals = proposals.assign(
            tier=summary["tier"],
            kind_zh=proposals["kind"].map(lambda k: CANDIDATE_KINDS.get(k, {}).get("zh", k))
            if "kind" in proposals
            else None,
        )
        return {
            "summary": summary,
            "proposals": geojson.feature_collection(
                geojson.features(proposals, PROPOSAL_COLUMNS, id_column="candidate_id")
            ),
            "added_areas": geojson.feature_collection(
                geojson.features(
                    result.added_areas, ["site_id", "name", "minutes"], id_column="site_id"
                )
            ),
        }

    # --- maps ---------------------------------------------------------------------------------

    def map_page(self, town: pd.Series | None, *, k: int) -> Page:
        """The interactive map page of the region or a town, with ``k`` proposed sites."""
        from planner.maps import coverage_map

        def compute() -> Page:
            proposals = added = None
            note = None
            if k > 0:
                request = {
                    "k": k,
                    "town": None if town is None else town["name"],
                    "time_limit": min(5.0, self.limits.suggest_time_limit),
                    "node_limit": self.limits.suggest_node_limit,
                }
                try:
                    result = self.suggestion(request)
                    proposals, added = result.proposals, result.added_areas
                except InputError as exc:  # e.g. no usable candidates: the map is still useful
                    note = f"{LABELS_NO_PROPOSALS}: {exc}"
            m = coverage_map(
                self.coverage,
                sites=self.region.sites,
                units=self.region.units,
                proposals=proposals,
                added_areas=added,
                town=None if town is None else town["name"],
                gaps=None if town is None else self.gap_frame(town),
                max_residents=self.limits.max_map_residents,
                note=note,
                network=self.region.network,  # roads and names on the plain background
                candidates=self.region.candidates,
            )
            html = m.get_root().render().encode("utf-8")
            return Page(html, gzip.compress(html, compresslevel=6), content_security_policy(html))

        return self.pages.get(self.map_key(town, k=k), compute)

    @staticmethod
    def map_key(town: pd.Series | None, *, k: int) -> tuple[Any, ...]:
        """The cache key of a map page (for a lookup without leaving the event loop)."""
        return ("map", None if town is None else str(town["code"]), k)

    # --- JSON views ---------------------------------------------------------------------------

    def summary_json(self) -> dict[str, Any]:
        """Headline figures: population, coverage per tier and threshold, equity."""
        s = json_ready(self.coverage.summary)
        by_tier = [
            {
                "tier": tier,
                "label": row["label"],
                "label_zh": TIERS[tier]["zh"],
                "color": TIERS[tier]["color"],
                **{k: row[k] for k in ("mode", "minutes", "sites", "population_covered")},
                "coverage": row["coverage"],
                "coverage_at": row["coverage_at"],
            }
            for tier, row in s["by_tier"].items()
            if tier in TIERS
        ]
        keys = (
            "population_total",
            "population_covered",
            "coverage",
            "mode",
            "minutes",
            "thresholds",
            "coverage_at",
            "residents_total",
            "residents_far_from_road",
            "population_far_from_road",
            "sites_total",
            "gaps",
            "population_in_gaps",
            "equity",
        )
        return {
            "id": self.id,
            "name": self.name,
            **{k: s[k] for k in keys},
            "by_tier": by_tier,
            "towns": len(self.towns),
            "villages": len(self.villages),
            "links": self.links(),
        }

    def item_json(self) -> dict[str, Any]:
        """The short entry of the region list."""
        s = self.coverage.summary
        return {
            "id": self.id,
            "name": self.name,
            "population_total": int(s["population_total"]),
            "population_covered": int(s["population_covered"]),
            "coverage": float(s["coverage"]),
            "towns": len(self.towns),
            "villages": len(self.villages),
            "sites_total": int(s["sites_total"]),
            "links": self.links(),
        }

    def links(self, town: pd.Series | None = None) -> dict[str, str]:
        """URLs of the related resources."""
        base = f"/regions/{self.id}"
        if town is None:
            return {
                "self": base,
                "towns": f"{base}/towns",
                "sites": f"{base}/sites",
                "map": f"{base}/map",
                "suggest": f"{base}/suggest",
            }
        t = f"{base}/towns/{town['code']}"
        return {
            "self": t,
            "gaps": f"{t}/gaps",
            "map": f"{t}/map",
            "sites": f"{base}/sites?town={town['code']}",
        }


_HIDDEN = {"geometry", "source_row", "lon", "lat"}


class RegionStore:
    """The regions a server answers for, addressable by id or by name."""

    def __init__(self, regions: list[LoadedRegion], settings: Settings) -> None:
        self.regions = {r.id: r for r in regions}
        self.settings = settings
        self.started = time.time()

    @classmethod
    def load(cls, settings: Settings) -> RegionStore:
        """Read every configured region and precompute its coverage (once, at start-up)."""
        loaded = []
        for cfg in settings.regions:
            t0 = time.perf_counter()
            region = _read_region(cfg, settings)
            coverage = analyze(region, service_areas=True)
            entry = LoadedRegion(cfg.url_id(), region, coverage, settings.limits)
            for _, town in entry.towns.iterrows():  # the most asked: answer them from memory
                entry.gaps_body(town)
            loaded.append(entry)
            log.info(
                "region %s (%s): %d residents, %d sites, coverage %.1f%% in %.1f s",
                cfg.url_id(),
                region.name,
                len(region.residents),
                len(region.sites),
                100 * coverage.summary["coverage"],
                time.perf_counter() - t0,
            )
        return cls(loaded, settings)

    def get(self, key: str) -> LoadedRegion:
        """The region with id or name ``key`` (404 listing close names when unknown)."""
        if key in self.regions:
            return self.regions[key]
        for region in self.regions.values():
            if key == region.name or key.lower() == region.id.lower():
                return region
        choices = [*self.regions, *(r.name for r in self.regions.values())]
        labels = [f"{r.id} ({r.name})" for r in self.regions.values()]
        raise not_found("region", key, choices, labels=labels)


def _read_region(cfg: RegionConfig, settings: Settings) -> Region:
    paths = {
        k: getattr(cfg, k)
        for k in (
            "network",
            "sites",
            "residents",
            "units",
            "candidates",
            "standards",
            "coord_sys",
            "name",
            "dem",
            "sheet",
        )
        if getattr(cfg, k) is not None
    }
    # Whole RegionFiles, not keyword overrides: from_files(standards=...) means a Standards
    # object, so a standards *path* must travel inside the RegionFiles.
    base = RegionFiles.sample().__dict__ if cfg.sample else {}
    files = RegionFiles(**{**base, **paths})
    return Region.from_files(files, cache_dir=settings.cache_dir)


def _find(rows: pd.DataFrame, key: str, *, kind: str, where: str) -> pd.Series:
    key = key.strip()
    for col in ("code", "name"):
        hit = rows[rows[col].astype(str) == key]
        if len(hit):
            return hit.iloc[0]
    choices = [*rows["name"].astype(str), *rows["code"].astype(str)]
    labels = [
        f"{n} ({c})" if str(n) != str(c) else str(n)
        for n, c in zip(rows["name"], rows["code"], strict=True)
    ]
    raise not_found(kind, key, choices, where=where, labels=labels)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _to_lonlat(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=crs).to_crs(4326)
    return pts.x.to_numpy(), pts.y.to_numpy()


def _from_lonlat(lon: float, lat: float, crs: str) -> tuple[float, float]:
    pt = gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs=4326).to_crs(crs)
    return float(pt.x.iloc[0]), float(pt.y.iloc[0])
