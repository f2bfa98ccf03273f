"""Regions loaded at start-up with their coverage; other answers computed once and cached.

Everything a request asks for is a pure function of the loaded inputs and the query (the
questions themselves are :mod:`planner.query`, their JSON :mod:`api.views`), so answers
(GeoJSON bytes, coverage under other standards, suggestions, map pages) are kept in a small
LRU per region and computed at most once even when many requests ask at the same time.
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
import pandas as pd

from api import views
from api.config import Limits, RegionConfig, Settings
from api.errors import MESSAGES, ApiError
from api.security import content_security_policy
from planner import query
from planner.audit import Audit
from planner.coverage import Coverage, analyze
from planner.errors import InputError, NotFound
from planner.maps import coverage_map
from planner.region import Region, RegionFiles
from planner.siting import Suggestion
from planner.siting import suggest as propose

log = logging.getLogger(__name__)

T = TypeVar("T")

LABELS_NO_PROPOSALS = "未给出建议站点 No proposals"

PAGE_CACHE = 32
"""Map pages and suggestions kept per region (a page can weigh a few MB)."""


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
    """One region in memory: inputs, coverage under its standards, towns and villages, and
    the answers computed so far (each a :mod:`planner.query` question, cached)."""

    id: str
    region: Region
    coverage: Coverage
    limits: Limits
    towns: pd.DataFrame = field(init=False)
    villages: pd.DataFrame = field(init=False)
    bounds: tuple[float, float, float, float] = field(init=False)
    memo: Memo = field(init=False)  # GeoJSON answers, gap areas, coverage under other standards
    pages: Memo = field(init=False)  # heavier: map pages and suggestions
    _work_slots: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self.towns = query.towns(self.coverage)
        self.villages = query.villages(self.coverage)
        self.bounds = query.region_bounds(self.region)
        self.memo = Memo(self.limits.cache_size)
        self.pages = Memo(PAGE_CACHE)
        # Every accepted spelling of a town (code and name) to its row, for O(1) lookups.
        self._town_keys: dict[str, pd.Series] = {}
        for _, row in self.towns.iloc[::-1].iterrows():  # the first row wins on a clash
            self._town_keys[str(row["name"])] = row
        for _, row in self.towns.iterrows():
            self._town_keys[str(row["code"])] = row
        self._work_slots = threading.BoundedSemaphore(self.limits.max_concurrent_suggest)

    @property
    def name(self) -> str:
        """Display name, e.g. 示范县."""
        return self.region.name

    # --- towns and villages --------------------------------------------------------------------

    def find_town(self, key: str) -> pd.Series:
        """The town row named or coded ``key`` (:class:`NotFound` listing close names)."""
        row = self._town_keys.get(key)
        if row is not None:
            return row
        where = f"region {self.id!r} ({self.name})"
        return query.find_unit(self.towns, key, kind="town", where=where)

    def find_village(self, town: pd.Series, key: str) -> pd.Series:
        """The village (or community) of ``town`` named or coded ``key``."""
        where = f"town {town['name']} ({town['code']})"
        return query.find_unit(self.villages_of(town), key, kind="village", where=where)

    def villages_of(self, town: pd.Series) -> pd.DataFrame:
        """Village rows of a town."""
        return query.villages_of(self.villages, town)

    # --- gap areas under a standard -------------------------------------------------------------

    def coverage_for(self, mode: str | None, minutes: float | None) -> Coverage:
        """Coverage when every tier is reached by ``mode`` within ``minutes`` (cached)."""
        std = query.standards_under(self.region, mode=mode, minutes=minutes)
        if std is None:
            return self.coverage
        return self.memo.get(
            ("coverage", mode, minutes),
            lambda: analyze(self.region.with_standards(std), service_areas=False),
        )

    def gap_frame(self, town: pd.Series | None, **view: Any) -> gpd.GeoDataFrame:
        """Gap areas (metric CRS) of the region or of one town's residents; ``view`` is
        ``tier``, ``mode`` and ``minutes`` (any of them, default the region's standards)."""
        tier, mode, minutes = (view.get(k) for k in ("tier", "mode", "minutes"))
        if town is None and tier is None and mode is None and minutes is None:
            return self.coverage.gaps

        def compute() -> gpd.GeoDataFrame:
            coverage = self.coverage_for(mode, minutes)
            return query.gaps(self.region, coverage, town=town, tier=tier)

        return self.memo.get(("gap_frame", *self.gaps_key(town, **view)[1:]), compute)

    def gaps_body(self, town: pd.Series | None, **view: Any) -> bytes:
        """The gap areas as GeoJSON bytes (cached; see :meth:`gaps_key`)."""

        def compute() -> bytes:
            mode, minutes = query.travel_standard(
                self.region,
                mode=view.get("mode"),
                minutes=view.get("minutes"),
                tier=view.get("tier"),
            )
            summary = {
                "region": self.id,
                "town": None if town is None else town["name"],
                "town_code": None if town is None else str(town["code"]),
                "tier": view.get("tier"),
                "mode": mode,
                "minutes": minutes,
            }
            return views.gap_collection(self.gap_frame(town, **view), summary)

        return self.memo.get(self.gaps_key(town, **view), compute)

    @staticmethod
    def gaps_key(town: pd.Series | None, **view: Any) -> tuple[Any, ...]:
        """The cache key of a gap answer (for a lookup without leaving the event loop)."""
        code = None if town is None else str(town["code"])
        return ("gaps", code, *(view.get(k) for k in ("tier", "mode", "minutes")))

    # --- sites and their standards audit ----------------------------------------------------

    def sites_body(self, *, tier: str | None, town: pd.Series | None) -> bytes:
        """Sites as GeoJSON bytes, optionally one tier and one town (cached)."""

        def compute() -> bytes:
            try:
                audited: Audit | None = self.audit_result()
            except InputError as exc:  # a broken ledger must not take the sites down
                log.warning("region %s: no compliance on sites: %s", self.id, exc)
                audited = None
            found = query.sites(self.region, self.coverage, tier=tier, town=town, audited=audited)
            return views.site_collection(found)

        key = ("sites", tier, None if town is None else str(town["code"]))
        return self.memo.get(key, compute)

    def audit_result(self) -> Audit:
        """The standards audit of the region (cached; see :func:`planner.query.audit`)."""
        return self.memo.get(("audit",), lambda: query.audit(self.region, self.coverage))

    # --- isochrones ---------------------------------------------------------------------------

    def isochrone_feature(
        self,
        lon: float,
        lat: float,
        *,
        minutes: float,
        mode: str,
        coord_sys: str,
        index: int | None = None,
    ) -> dict[str, Any]:
        """The area reached from one point over the roads, as a GeoJSON feature (cached).

        ``index`` is the point's position among several (``None`` for a single point).
        """
        key = ("isochrone", round(lon, 7), round(lat, 7), float(minutes), mode, coord_sys)

        def compute() -> dict[str, Any]:
            area = query.isochrone_at(
                self.region, lon, lat, minutes=minutes, mode=mode, coord_sys=coord_sys,
                bounds=self.bounds, label=self.id, index=index,
            )  # fmt: skip
            return views.isochrone_feature(area)

        feature = self.memo.get(key, compute)
        number = 0 if index is None else index
        return {**feature, "properties": {**feature["properties"], "index": number}}

    @property
    def graph_edges(self) -> int:
        """Directed road edges of the region's network (the size in the isochrone budget)."""
        return len(self.region.network.edge_u)

    # --- work on request: suggestions, scenarios ------------------------------------------------

    @contextmanager
    def work_slot(self, busy: str = "busy") -> Iterator[None]:
        """Hold one of the ``max_concurrent_suggest`` slots shared by suggestions, scenarios
        and isochrones (the work a request computes); none free is a 429 worded as
        ``MESSAGES[busy]``."""
        if not self._work_slots.acquire(blocking=False):
            n = self.limits.max_concurrent_suggest
            text = MESSAGES[busy].format(running=n, limit="max_concurrent_suggest", maximum=n)
            detail = {"limit": "max_concurrent_suggest", "maximum": n}
            raise ApiError(429, "busy", text, detail, headers={"Retry-After": "2"})
        try:
            yield
        finally:
            self._work_slots.release()

    def bounded(self, key: Hashable, compute: Callable[[], T], *, busy: str = "busy") -> T:
        """A cached page, else ``compute`` in a work slot (a 429 when none is free)."""
        cached: T | None = self.pages.peek(key)
        if cached is not None:
            return cached
        with self.work_slot(busy):
            return self.pages.get(key, compute)

    def suggestion(self, request: dict[str, Any]) -> Suggestion:
        """New sites for a checked request (keyword arguments of ``planner.siting.suggest``)."""
        key = ("suggest", *sorted((k, _hashable(v)) for k, v in request.items()))
        return self.bounded(key, lambda: propose(self.region, self.coverage, **request))

    # --- maps ---------------------------------------------------------------------------------

    def map_page(self, town: pd.Series | None, *, k: int) -> Page:
        """The interactive map page of the region or a town, with ``k`` proposed sites."""

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
        raise NotFound("region", key, choices, labels=labels)


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


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
