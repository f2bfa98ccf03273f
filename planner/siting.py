"""Where to open new sites: coverage sets, lazy greedy, and exact MILP models solved by HiGHS.

A suggestion is four steps, each usable on its own (in the manner of spopt's problem classes):

1. :func:`eligible_candidates`: the candidates that may be chosen, and every other one with
   the reason it is left out;
2. :meth:`CoverageProblem.from_region`: which residents each of them reaches, as a model
   (:meth:`CoverageProblem.from_matrix` builds one from any candidates x demand matrix);
3. :func:`solve` (one model: :meth:`CoverageProblem.solve`): the greedy selection, and the exact
   one on HiGHS warm-started from it;
4. :func:`describe`: the proposals, their service areas and the summary.

:func:`suggest` runs the four; :func:`coverage_curve` solves one problem for several ``k``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from planner.areas import service_area_polygons
from planner.coverage import analyze, json_ready
from planner.errors import InputError, NoCandidates
from planner.network import TravelGraph
from planner.reach import (
    _directed,
    access_speed_mps,
    augment,
    same_segment,
    search,
    source_legs,
    target_legs,
)
from planner.snap import Snapped
from planner.standards import TierStandard
from planner.text import CANDIDATE_REASONS, TIERS
from planner.vocab import UNKNOWN_TOWN, find_town, kind_keys, town_mask

if TYPE_CHECKING:
    from planner.coverage import Coverage
    from planner.region import Region

log = logging.getLogger(__name__)


# --- coverage sets ----------------------------------------------------------------------------


def coverage_matrix(
    graph: TravelGraph,
    candidates: Snapped,
    residents: Snapped,
    *,
    limit_s: float,
    max_pairs_per_block: int = 20_000_000,
) -> sp.csr_matrix:
    """Which residents each candidate reaches within ``limit_s`` (candidates x residents).

    Candidates are processed in spatial blocks. Each block searches only the subgraph of
    nodes within the farthest distance reachable in the time limit (fastest edge speed times
    the limit, plus the snap distance), with bounded Dijkstra, so the cost follows the reached
    area and not the size of the whole network; memory holds only the covered pairs.
    """
    n_c, n_r = len(candidates), len(residents)
    toward = True
    matrix, _, _ = _directed(graph, toward)
    cand_ok = np.flatnonzero(candidates.ok)
    res_ok = np.flatnonzero(residents.ok)
    if len(cand_ok) == 0 or len(res_ok) == 0:
        return sp.csr_matrix((n_c, n_r), dtype=bool)
    seconds = np.concatenate([graph.seg_t_fwd, graph.seg_t_bwd])
    lengths = np.concatenate([graph.seg_length, graph.seg_length])
    finite = np.isfinite(seconds) & (seconds > 0)
    vmax = float(np.max(lengths[finite] / seconds[finite])) if finite.any() else 1.0
    walk = access_speed_mps(graph)
    reach_m = vmax * limit_s + walk * limit_s  # network part plus the candidate's own access leg

    node_xy = graph.node_xy
    seg_mid = 0.5 * (node_xy[graph.seg_u] + node_xy[graph.seg_v])
    cand_xy = seg_mid[candidates.segment[cand_ok]]
    res_xy = seg_mid[residents.segment[res_ok]]
    # Square blocks about as wide as the reach: each block's subgraph is a few reaches across.
    block = max(reach_m, 500.0)
    keys = np.floor(cand_xy / block).astype(np.int64)
    order = np.lexsort((keys[:, 1], keys[:, 0]))
    keys, cand_sorted = keys[order], cand_ok[order]
    starts = np.flatnonzero(np.r_[True, np.any(keys[1:] != keys[:-1], axis=1)])
    bounds = np.r_[starts, len(cand_sorted)]
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    seg_len_max = float(np.max(graph.seg_length))
    # Nodes and residents sorted by x once: each block's window is a slice of a strip, not a
    # test of every node (that test, repeated per block, was 80 % of the time at 250k nodes).
    in_window = _WindowIndex(node_xy)
    res_window = _WindowIndex(res_xy)
    to_local = np.full(len(node_xy), -1, dtype=np.int64)  # reset after each block
    for b0, b1 in itertools.pairwise(bounds):
        group = cand_sorted[b0:b1]
        lo = cand_xy[order[b0:b1]].min(axis=0) - reach_m - seg_len_max
        hi = cand_xy[order[b0:b1]].max(axis=0) + reach_m + seg_len_max
        local = in_window(lo, hi)
        to_local[local] = np.arange(len(local))
        sub = matrix[local][:, local]
        res_idx = res_ok[res_window(lo, hi)]
        chunk = max(1, int(max_pairs_per_block // max(len(local), 1)))
        for c0 in range(0, len(group), chunk):
            cands = group[c0 : c0 + chunk]
            r, c = _block_pairs(
                graph,
                sub,
                to_local,
                candidates.subset(cands),
                residents.subset(res_idx),
                limit_s=limit_s,
                toward=toward,
            )
            rows.append(cands[r])
            cols.append(res_idx[c])
        to_local[local] = -1
    r, c = _direct_pairs(
        graph,
        candidates.subset(cand_ok),
        residents.subset(res_ok),
        limit_s=limit_s,
        toward=toward,
    )
    rows.append(cand_ok[r])
    cols.append(res_ok[c])
    row = np.concatenate(rows) if rows else np.array([], np.int64)
    col = np.concatenate(cols) if cols else np.array([], np.int64)
    out = sp.csr_matrix((np.ones(len(row), bool), (row, col)), shape=(n_c, n_r))
    out.sum_duplicates()
    return out


class _WindowIndex:
    """Positions of the points inside an axis-aligned window, in increasing order.

    The points are sorted by x once; a window takes the slice of its x range with a binary
    search and tests only those points' y.
    """

    def __init__(self, xy: np.ndarray) -> None:
        self._order = np.argsort(xy[:, 0], kind="stable")
        self._x = xy[self._order, 0]
        self._y = xy[self._order, 1]

    def __call__(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Positions ``i`` with ``lo <= xy[i] <= hi`` in both coordinates, sorted."""
        i0 = int(np.searchsorted(self._x, lo[0], side="left"))
        i1 = int(np.searchsorted(self._x, hi[0], side="right"))
        y = self._y[i0:i1]
        found = self._order[i0:i1][(y >= lo[1]) & (y <= hi[1])]
        return np.sort(found)


def _block_pairs(
    graph: TravelGraph,
    sub: sp.csr_matrix,
    to_local: np.ndarray,
    cands: Snapped,
    res: Snapped,
    *,
    limit_s: float,
    toward: bool,
) -> tuple[np.ndarray, np.ndarray]:
    n = sub.shape[0]
    index, nodes, secs = source_legs(graph, cands, toward=toward)
    local = to_local[nodes]
    keep = local >= 0
    k = len(cands)
    aug = augment(sub, index[keep], local[keep], secs[keep], k=k)
    dist = dijkstra(aug, directed=True, indices=n + np.arange(k), limit=limit_s)[:, :n]
    access, node_u, via_u, node_v, via_v = target_legs(graph, res, toward=toward)
    lu, lv = to_local[node_u], to_local[node_v]
    big = np.full((k, 1), np.inf)
    du = np.where(lu >= 0, dist[:, np.maximum(lu, 0)], big)
    dv = np.where(lv >= 0, dist[:, np.maximum(lv, 0)], big)
    total = np.minimum(du + via_u, dv + via_v) + access
    r, c = np.nonzero(total <= limit_s)
    return r, c


def _direct_pairs(
    graph: TravelGraph, cands: Snapped, res: Snapped, *, limit_s: float, toward: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (candidate, resident) on the same segment, within ``limit_s`` along it.

    One table join for all candidates: per block of :func:`coverage_matrix` it was half of the
    time. A pair is covered when the network trip or this direct one is within the limit.
    """
    access = target_legs(graph, res, toward=toward)[0]
    t_idx, s_idx, direct = same_segment(
        graph, cands, res.segment, res.fraction, toward=toward, best_only=False
    )
    near = direct + access[t_idx] <= limit_s
    return s_idx[near], t_idx[near]


# --- step 1: the candidates that may be chosen ---------------------------------------------------


def eligible_candidates(
    region: Region,
    *,
    tier: str | None = None,
    kinds: list[str] | None = None,
    min_rooms: float = 3,
    town: str | None = None,
    max_per_town: int | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The candidates a suggestion may choose, and every other one with why it is left out.

    A candidate is left out for the first rule it fails, in this order: its kind is not among
    ``kinds``; its function rooms are unknown or fewer than ``min_rooms``; it lies farther than
    the snap distance from a road usable by the new tier's mode; its town is unknown (neither
    name nor code) while ``town`` or ``max_per_town`` is given; it is in another town than
    ``town``. With boundaries (``--units``), candidates take their town from the polygon they
    lie in (:mod:`planner.region`).

    Parameters
    ----------
    region
        A :class:`planner.region.Region` with ``candidates``.
    tier
        Tier of the new sites (its travel mode decides which roads count); default station.
    kinds, min_rooms, town, max_per_town
        As in :func:`suggest`.

    Returns
    -------
    usable : numpy.ndarray
        Positions (rows of ``region.candidates``) of the candidates that may be chosen.
    excluded : pandas.DataFrame
        ``candidate_id`` and ``reason`` of every other candidate, in file order.

    Raises
    ------
    InputError
        When there are no candidates, a kind is unknown, or the town has no residents;
        :class:`planner.errors.NoCandidates` when no candidate is left.
    """
    cands = _require_candidates(region)
    std = region.standards.for_tier(tier or "station")
    on_road = region.snap("candidates", std.mode, region.standards.speed_of(std)).ok
    words = dict(min_rooms=min_rooms, max_snap_m=region.standards.max_snap_m, mode=std.mode)
    keys = pd.Series("", index=cands.index, dtype=object)

    def leave_out(mask: np.ndarray | pd.Series, key: str) -> None:
        keys[np.asarray(mask, bool) & (keys == "").to_numpy()] = key

    if kinds:
        leave_out(~cands["kind"].isin(kind_keys(kinds, where="--kinds")), "kind")
    if min_rooms > 0:
        rooms = (
            pd.to_numeric(cands["rooms"], errors="coerce")
            if "rooms" in cands
            else pd.Series(np.nan, index=cands.index)
        )
        leave_out(rooms.isna(), "rooms_unknown")
        leave_out(rooms < min_rooms, "few_rooms")
    leave_out(~on_road, "far")
    if town is not None or max_per_town is not None:
        # a town limit or a town asked for needs each candidate's town; unknown is not "elsewhere"
        leave_out(~town_known(cands), "town_unknown")
    if town is not None:
        name, code = find_town(region.residents, town, where="--town")
        leave_out(~town_mask(cands, name, code=code), "other_town")
    texts = {k: CANDIDATE_REASONS[k]["en"].format(**words) for k in set(keys) - {""}}
    reasons = keys.map(lambda k: texts.get(k, ""))
    usable = np.flatnonzero((keys == "").to_numpy())
    excluded = pd.DataFrame({"candidate_id": cands["id"], "reason": reasons})[keys != ""]
    if len(usable) == 0:
        raise _no_candidates(keys, words)
    return usable, excluded.reset_index(drop=True)


def town_known(frame: pd.DataFrame) -> np.ndarray:
    """Which rows of ``frame`` (candidates) name their town, by name or code."""
    known = np.zeros(len(frame), bool)
    for col in ("town", "town_code"):
        if col in frame:
            text = frame[col].astype(str).str.strip()
            known |= (frame[col].notna() & (text != "") & (text != UNKNOWN_TOWN)).to_numpy()
    return known


def _town_groups(cands: pd.DataFrame) -> np.ndarray:
    """Each candidate's town, by code where it has one, else by name (for ``max_per_town``)."""
    names = cands["town"] if "town" in cands else pd.Series(None, index=cands.index, dtype=object)
    if "town_code" in cands:
        code = cands["town_code"].astype(str).str.strip()
        has = cands["town_code"].notna() & (code != "")
        # a row with the name alone counts under the code other rows give that name
        known = dict(zip(names[has], code[has], strict=True))
        code = code.where(has, names.map(known))
        names = ("code:" + code).where(code.notna() & (has | names.isin(known)), names)
    return names.fillna("").astype(str).to_numpy()


def _no_candidates(keys: pd.Series, words: dict[str, Any]) -> NoCandidates:
    """The error when every candidate is left out: counts per reason, in English and Chinese."""
    counts = keys.value_counts()
    reasons = [
        {
            "reason": key,
            "count": int(n),
            "text": CANDIDATE_REASONS[str(key)]["en"].format(**words),
            "text_zh": CANDIDATE_REASONS[str(key)]["zh"].format(**words),
        }
        for key, n in counts.items()
    ]
    head = CANDIDATE_REASONS["no_usable"]
    en = ", ".join(f"{r['count']} {r['text']}" for r in reasons)
    zh = "，".join(f"{r['count']} 个{r['text_zh']}" for r in reasons)
    return NoCandidates(
        f"{head['en'].format(total=len(keys))}: {en}",
        total=len(keys),
        reasons=reasons,
        zh=f"{head['zh'].format(total=len(keys))}：{zh}",
    )


def _require_candidates(region: Region) -> gpd.GeoDataFrame:
    """The region's candidates, or an error saying why there are none (and what to give)."""
    cands = region.candidates
    if cands is not None and len(cands):
        return cands
    msg = "no candidate buildings: give a candidates file (id, name, kind, lon, lat, rooms)"
    given = region.files.candidates if region.files is not None else None
    if given is not None:
        rej = region.rejected
        rej = rej[rej["layer"] == "candidates"] if len(rej) else rej
        counts = rej["reason"].value_counts() if len(rej) else pd.Series(dtype=int)
        why = "; ".join(f"{n} {r}" for r, n in counts.head(3).items())
        some = ", top reasons" if len(counts) > 3 else ""  # the listed counts add up, or say so
        msg = (
            f"{given}: no usable candidate buildings"
            + (f" ({len(rej)} left out{some}: {why})" if len(rej) else "")
            + "; give a candidates file (id, name, kind, lon, lat, rooms) or an OSM file "
            "with idle schools, factories or houses"
        )
    raise InputError(msg)


# --- step 2: the problem ---------------------------------------------------------------------


@dataclass(frozen=True)
class SitingResult:
    """A selection of candidates and how good it is.

    Attributes
    ----------
    selected
        Candidate positions in selection order (each adds the most of what is left).
    gains
        Weight newly covered by each selected candidate, in that order.
    objective
        Weight newly covered (MCLP) or number of sites (target cover).
    bound
        Best proven bound on the objective (equal to it when optimal).
    gap
        Relative gap between objective and bound (0 when optimal).
    status
        ``optimal``, ``time_limit``, ``greedy``, ``target_unreachable`` ...
    solver
        ``highs`` or ``greedy``.
    seconds
        Wall time spent solving.
    """

    selected: np.ndarray
    gains: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    solver: str
    seconds: float
    achievable: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Origin:
    """What :meth:`CoverageProblem.from_region` built a problem from, kept to describe results.

    Attributes
    ----------
    usable
        Positions in ``region.candidates`` of the problem's candidates.
    reach
        Those candidates x all residents: who each one reaches within the standard.
    weight, population
        Per resident: the weight maximised, and the population (both 0 outside ``town``).
    served
        Per resident: already served by an existing site (of tier ``serving``, or any).
    standard, speed_kmh
        Travel standard and speed of the new sites' tier.
    tier, serving, town, weight_column
        Tier of the new sites; tier of the existing sites that count (``None``: any); the town
        asked for; the resident column maximised (``None``: population).
    sets_seconds
        Time spent computing ``reach``.
    """

    usable: np.ndarray
    reach: sp.csr_matrix
    weight: np.ndarray
    population: np.ndarray
    served: np.ndarray
    standard: TierStandard
    speed_kmh: float | None
    tier: str
    serving: str | None
    town: str | None
    weight_column: str | None
    sets_seconds: float

    def needed(self, target: float) -> float:
        """Weight still to cover for a share ``target`` of all weight (0 when reached)."""
        needed = target * self.weight.sum() - (self.weight * self.served).sum()
        return float(max(needed, 0.0))


@dataclass(frozen=True, eq=False)
class CoverageProblem:
    """Candidates, the demand each one reaches, and constraints, ready for the models.

    Build with :meth:`from_region` (a region's candidates and residents) or
    :meth:`from_matrix` (any candidates x demand matrix); already-served demand is removed,
    and demand points with the same candidate set are merged (their weights add up), which
    shrinks the models. :meth:`reduced` shrinks them further without changing the optimum;
    :meth:`solve` chooses sites (greedy, or exact with HiGHS).
    """

    cover: sp.csc_matrix  # merged demand groups x candidates
    weight: np.ndarray  # weight of each demand group
    candidate_ids: np.ndarray
    group_of: np.ndarray  # per candidate: constraint group (e.g. town) code, -1 for none
    group_limit: int | None
    origin: Origin | None = None  # set by from_region

    @classmethod
    def from_matrix(
        cls,
        reach: sp.csr_matrix,
        weight: np.ndarray,
        *,
        candidate_ids: np.ndarray | None = None,
        served: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        group_limit: int | None = None,
    ) -> CoverageProblem:
        """Problem from a candidates x demand boolean matrix and demand weights.

        Parameters
        ----------
        reach
            ``reach[j, i]`` is true when candidate ``j`` reaches demand point ``i``.
        weight
            Demand weights (population, or population times an extra weight).
        served
            Demand already served by existing sites (not counted again).
        groups, group_limit
            At most ``group_limit`` candidates may be chosen per group label (e.g. town).
        """
        n_c = reach.shape[0]
        weight = np.asarray(weight, float)
        live = weight > 0
        if served is not None:
            live &= ~np.asarray(served, bool)
        a = sp.csc_matrix(reach[:, live].T.astype(bool))  # demand x candidates
        w = weight[live]
        has = np.diff(sp.csr_matrix(a).indptr) > 0
        a, w = sp.csr_matrix(a)[has], w[has]
        a, w = _merge_identical_rows(a, w)
        ids = np.asarray(candidate_ids if candidate_ids is not None else np.arange(n_c)).astype(str)
        code = np.full(n_c, -1, dtype=np.int64)
        if groups is not None and group_limit is not None:
            code = pd.factorize(pd.Series(groups).fillna("").astype(str))[0]
        return cls(sp.csc_matrix(a), w, ids, code, group_limit)

    @classmethod
    def from_region(
        cls,
        region: Region,
        candidates: np.ndarray,
        *,
        coverage: Coverage | None = None,
        tier: str | None = None,
        town: str | None = None,
        weight_column: str | None = None,
        max_per_town: int | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> CoverageProblem:
        """The problem of choosing among a region's candidates (as spopt's ``from_geodataframe``).

        Parameters
        ----------
        region
            The region: its candidates at positions ``candidates`` (the ``usable`` of
            :func:`eligible_candidates`) are the choices, its residents the demand.
        coverage
            The region's :func:`planner.coverage.analyze` result (computed when not given):
            residents that existing sites serve are not counted again.
        tier
            Tier of the new sites (its mode and minutes decide whom a candidate reaches); only
            existing sites of this tier count as serving. Default: stations, any site serves.
        town
            Count only this town's residents (name or code).
        weight_column
            Resident column to maximise instead of population.
        max_per_town
            At most this many chosen candidates per town.
        progress
            Called with a short message before each long step.
        """
        say = progress or log.info
        if coverage is None:
            say("coverage of existing sites")
            coverage = analyze(region, service_areas=False)
        std = region.standards.for_tier(tier or "station")
        speed = region.standards.speed_of(std)
        cands, n_res = _require_candidates(region), len(coverage.residents)
        say(
            f"coverage sets: {len(candidates)} candidates x {n_res} residents within {std.minutes:g} min {std.mode}"
        )
        graph = region.graph(std.mode, speed)
        cand_snap = region.snap("candidates", std.mode, speed)
        res_snap = region.snap("residents", std.mode, speed)
        t0 = time.perf_counter()
        usable = cand_snap.subset(candidates)
        reach = coverage_matrix(graph, usable, res_snap, limit_s=std.minutes * 60.0)
        sets_seconds = time.perf_counter() - t0
        origin = Origin(
            usable=candidates,
            reach=reach,
            **_resident_weights(coverage.residents, tier, town, weight_column),
            standard=std,
            speed_kmh=speed,
            tier=tier or "station",
            serving=tier,
            town=town,
            weight_column=weight_column,
            sets_seconds=sets_seconds,
        )
        problem = cls.from_matrix(
            reach,
            origin.weight,
            candidate_ids=cands["id"].to_numpy()[candidates],
            served=origin.served,
            groups=_town_groups(cands)[candidates] if town_known(cands).any() else None,
            group_limit=max_per_town,
        )
        return replace(problem, origin=origin)

    @property
    def n_candidates(self) -> int:
        """Number of candidates."""
        return int(self.cover.shape[1])

    @property
    def total_weight(self) -> float:
        """Weight that some candidate can reach."""
        return float(self.weight.sum())

    def covered_weight(self, chosen: np.ndarray) -> float:
        """Weight reached by the chosen candidates (positions)."""
        if len(chosen) == 0:
            return 0.0
        hit = np.asarray(self.cover[:, np.asarray(chosen)].sum(axis=1)).ravel() > 0
        return float(self.weight[hit].sum())

    def order_by_gain(self, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Chosen candidates in greedy order with their marginal gains (ties: by id)."""
        return _lazy_greedy(self, k=len(chosen), allowed=np.asarray(chosen))

    def reduced(self, *, k: int | None = None, needed: float | None = None) -> Reduction:
        """A smaller model with the same optimum (for MCLP with ``k`` or a ``needed`` target).

        - A candidate whose demand another candidate also reaches entirely (a subset; for equal
          sets, the later id) is dropped: swapping it for that one never covers less. With a
          per-group limit only a candidate of the same group can stand in.
        - MCLP without group limits: a candidate is fixed open when the weight only it reaches
          exceeds ``U / k``, where ``U`` bounds the optimum from above (total weight, the ``k``
          largest candidates, and greedy / (1 - (1 - 1/k)^k)). Some site of any solution adds
          at most ``U / k``; swapping it for this candidate would cover more, so every optimal
          solution contains it.
        - Target cover of everything reachable: a candidate that is the only one reaching some
          demand is fixed open.
        - Demand points that end up with the same candidate set are merged again.
        """
        return _reduce(self, k=k, needed=needed)

    # --- models ---

    def solve(
        self,
        *,
        k: int | None = None,
        needed: float | None = None,
        method: str = "exact",
        time_limit: float = 60.0,
        node_limit: int | None = None,
    ) -> SitingResult:
        """Choose ``k`` sites covering the most weight, or the fewest covering ``needed``.

        ``method`` ``exact`` runs :meth:`mclp` or :meth:`target_cover` (HiGHS), ``greedy``
        runs :meth:`greedy` or :meth:`greedy_target`.
        """
        if (k is None) == (needed is None) or method not in ("exact", "greedy"):
            msg = f"give either k or needed, and method exact or greedy (got {k=}, {needed=}, {method=})"
            raise ValueError(msg)
        limits: dict[str, Any] = {"time_limit": time_limit, "node_limit": node_limit}
        if k is not None:
            return self.greedy(k) if method == "greedy" else self.mclp(k, **limits)
        assert needed is not None  # checked above
        return (
            self.greedy_target(needed)
            if method == "greedy"
            else self.target_cover(needed, **limits)
        )

    def greedy(self, k: int) -> SitingResult:
        """Lazy greedy for MCLP (at least 63 % of the optimum; usually within 1-2 %)."""
        t0 = time.perf_counter()
        sel, gains = _lazy_greedy(self, k=k)
        obj = float(gains.sum())
        nan = float("nan")
        return SitingResult(sel, gains, obj, nan, nan, "greedy", "greedy", time.perf_counter() - t0)

    def greedy_target(self, needed: float) -> SitingResult:
        """Greedy for target cover: add the best candidate until ``needed`` is reached."""
        t0 = time.perf_counter()
        achievable = self.total_weight
        status = "greedy" if needed <= achievable + 1e-9 else "target_unreachable"
        sel, gains = _lazy_greedy(self, k=self.n_candidates, stop_at=min(needed, achievable))
        nan, seconds = float("nan"), time.perf_counter() - t0
        return SitingResult(
            sel, gains, float(len(sel)), nan, nan, status, "greedy", seconds, achievable
        )

    def mclp(
        self,
        k: int,
        *,
        time_limit: float = 60.0,
        node_limit: int | None = None,
        progress: Callable[[str], None] | None = None,
        reduce: bool = True,
    ) -> SitingResult:
        """Choose ``k`` candidates maximising newly covered weight, exactly (HiGHS MILP).

        With ``reduce`` the model is first shrunk without changing its optimum (see
        :meth:`reduced`); the reduction's sizes are in ``extra``.
        """
        return _mclp(self, k, time_limit=time_limit, node_limit=node_limit, reduce=reduce)

    def target_cover(
        self,
        needed: float,
        *,
        time_limit: float = 60.0,
        node_limit: int | None = None,
        reduce: bool = True,
    ) -> SitingResult:
        """Fewest candidates whose newly covered weight reaches ``needed``, exactly.

        With ``reduce`` the model is first shrunk without changing its optimum (see
        :meth:`reduced`).

        When ``needed`` exceeds what all candidates together reach, the result has status
        ``target_unreachable`` and selects the fewest candidates reaching everything reachable.
        """
        return _target_cover(
            self, needed, time_limit=time_limit, node_limit=node_limit, reduce=reduce
        )


@dataclass(frozen=True, eq=False)
class Reduction:
    """A coverage model shrunk by :meth:`CoverageProblem.reduced`.

    Attributes
    ----------
    problem
        The smaller model over the kept candidates.
    kept
        Positions (in the original model) of ``problem``'s candidates.
    forced
        Positions of candidates fixed open.
    forced_weight
        Weight the fixed candidates cover.
    sizes
        Counts before and after, for reports.
    """

    problem: CoverageProblem
    kept: np.ndarray
    forced: np.ndarray
    forced_weight: float
    sizes: dict[str, Any]


def _resident_weights(
    residents: pd.DataFrame, tier: str | None, town: str | None, weight_column: str | None
) -> dict[str, np.ndarray]:
    """Per resident: ``served`` by an existing site (of ``tier``, or any), ``population`` and
    the ``weight`` maximised (population or ``weight_column``), both 0 outside ``town``."""
    res = residents
    in_town = np.ones(len(res), bool)
    if town is not None:
        name, code = find_town(res, town, where="--town")
        in_town = town_mask(res, name, code=code)
    served = res[f"covered_{tier}"].to_numpy() if tier else res["covered"].to_numpy()
    population = res["population"].to_numpy(float) * in_town
    weight = population
    if weight_column is not None:
        if weight_column not in res:
            msg = f"weight column {weight_column!r} not in residents (columns: {list(res.columns)})"
            raise InputError(msg)
        values = pd.to_numeric(res[weight_column], errors="coerce").fillna(0).to_numpy(float)
        weight = values * in_town
    return {"served": served, "population": population, "weight": weight}


# --- step 3: solving ---------------------------------------------------------------------------


def solve(
    problem: CoverageProblem,
    *,
    k: int | None = None,
    target: float | None = None,
    method: str = "exact",
    time_limit: float = 60.0,
    node_limit: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[SitingResult, SitingResult]:
    """A suggestion's selection: greedy, then (``exact``) the HiGHS model warm-started by it.

    Parameters
    ----------
    problem
        A problem from :meth:`CoverageProblem.from_region` (``target`` needs its residents).
    k, target
        The number of new sites, or the share of the weight to cover with the fewest.
    method
        ``exact`` or ``greedy``.
    time_limit, node_limit
        Limits of the exact solve (see :func:`suggest`).
    progress
        Called with a short message before each step.

    Returns
    -------
    result, greedy : SitingResult
        The selection (the greedy one itself with ``method="greedy"``) and the greedy one.
    """
    say = progress or log.info
    needed = None
    if k is None:
        if target is None or problem.origin is None:
            msg = "give k, or a target with a problem built by CoverageProblem.from_region"
            raise ValueError(msg)
        needed = problem.origin.needed(target)
    say("greedy selection")
    greedy = problem.solve(k=k, needed=needed, method="greedy")
    if method == "greedy":
        return greedy, greedy
    say(f"exact model with HiGHS (time limit {time_limit:g} s)")
    result = problem.solve(k=k, needed=needed, time_limit=time_limit, node_limit=node_limit)
    return result, greedy


def coverage_curve(
    problem: CoverageProblem,
    ks: Iterable[int] | None = None,
    *,
    exact: bool = True,
    time_limit: float = 10.0,
) -> pd.DataFrame:
    """Weight newly covered by the best ``k`` new sites, for each ``k`` in ``ks``.

    Greedy adds one site at a time (its picks for k+1 contain those for k); the exact model is
    solved again for every k (:meth:`CoverageProblem.mclp`), so its picks may change from one
    k to the next.

    Parameters
    ----------
    problem
        The coverage problem.
    ks
        Numbers of new sites (at least 1 each); default 1, 2, ... until no candidate adds anyone.
    exact
        Also solve the exact model for every k (one HiGHS solve each).
    time_limit
        Seconds per exact solve.

    Returns
    -------
    pandas.DataFrame
        One row per k: ``k``, ``gain_greedy`` (what the k-th greedy site adds),
        ``newly_covered_greedy`` and, when ``exact``, ``newly_covered_exact``, ``bound_exact``,
        ``gap_exact`` and ``status_exact``.
    """
    full = problem.greedy(problem.n_candidates)
    top = len(full.selected)
    k = np.arange(1, top + 1) if ks is None else np.asarray(list(ks), dtype=np.int64)
    if len(k) == 0:
        msg = "no candidate reaches anyone not yet covered: there is no curve to draw"
        raise ValueError(msg)
    if k.min() < 1:
        msg = f"a curve needs k of at least 1, got {k.min()}"
        raise ValueError(msg)
    gains = np.zeros(max(top, int(k.max())))  # greedy adds nothing once everyone is reached
    gains[:top] = full.gains
    table = pd.DataFrame({"k": k, "gain_greedy": gains[k - 1]})
    table["newly_covered_greedy"] = np.cumsum(gains)[k - 1]
    if exact:
        rows = []
        for n in table["k"]:  # one HiGHS solve per point of the curve
            result = problem.mclp(int(n), time_limit=time_limit)
            rows.append((result.objective, result.bound, result.gap, result.status))
        exact_cols = pd.DataFrame(
            rows, columns=["newly_covered_exact", "bound_exact", "gap_exact", "status_exact"]
        )
        table = pd.concat([table, exact_cols], axis=1)
    return table


def _mclp(
    problem: CoverageProblem, k: int, *, time_limit: float, node_limit: int | None, reduce: bool
) -> SitingResult:
    """:meth:`CoverageProblem.mclp`: on the reduced model, or on the whole one."""
    t0 = time.perf_counter()
    if not reduce:
        return _mclp_model(problem, k, time_limit=time_limit, node_limit=node_limit, t0=t0)
    red = problem.reduced(k=k)
    k_left = min(k, problem.n_candidates) - len(red.forced)
    sub = None
    if k_left > 0 and red.problem.n_candidates > 0:
        sub = red.problem.mclp(k_left, time_limit=time_limit, node_limit=node_limit, reduce=False)
    return _lift(problem, red, sub, t0, target=False)


def _mclp_model(
    problem: CoverageProblem, k: int, *, time_limit: float, node_limit: int | None, t0: float
) -> SitingResult:
    """Maximise the covered weight with at most ``k`` sites, on HiGHS (greedy warm start)."""
    warm, _ = _lazy_greedy(problem, k=k)
    n_c = problem.n_candidates
    sol, info = _highs(
        problem,
        cost=np.r_[np.zeros(n_c), problem.weight],
        row=(np.ones(n_c), -np.inf, float(min(k, n_c))),  # at most k sites
        sense=highspy.ObjSense.kMaximize,
        warm=warm,
        time_limit=time_limit,
        options=dict(_MCLP_OPTIONS),
        node_limit=node_limit,
    )
    chosen = np.flatnonzero(sol[:n_c] > 0.5)
    bound = min(info["bound"], problem.total_weight)
    return _scored(problem, chosen, bound, info["status"], t0, target=False)


_PROVING_OPTIONS: dict[str, Any] = {
    # The time goes into proving, not finding: the greedy start is close and the LP
    # relaxation's integral nodes find the optimum. HiGHS' primal heuristics (sub-MIPs
    # RINS/RENS, feasibility jump, reduced-cost heuristic) took half of the CPU time and cuts
    # separated at every node did not pay for themselves. MCLP 2,000 x 300, p = 30:
    # 17.9 s -> 8.2 s CPU; target cover of 90 % on 100,000 x 5,000: 37 s -> 23 s CPU; the
    # same proven optima.
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
    "mip_allow_cut_separation_at_nodes": False,
}
"""HiGHS options of both coverage models (a constant: callers pass a copy)."""

_MCLP_OPTIONS: dict[str, Any] = {
    **_PROVING_OPTIONS,
    # Trust pseudo-costs at once and keep more solutions: about 2x on hard MCLPs
    # (2,000 x 300, p = 30: 17 s -> 8 s); no gain for target cover.
    "mip_pscost_minreliable": 0,
    "mip_pool_soft_limit": 1000,
}
"""HiGHS options of the MCLP model (a constant: callers pass a copy)."""


def _target_cover(
    problem: CoverageProblem,
    needed: float,
    *,
    time_limit: float,
    node_limit: int | None,
    reduce: bool,
) -> SitingResult:
    """:meth:`CoverageProblem.target_cover`: on the reduced model, or on the whole one."""
    t0 = time.perf_counter()
    achievable = problem.total_weight
    note = None
    if needed > achievable + 1e-9:
        note, needed = "target_unreachable", achievable
    if needed <= 0:
        none = np.array([], np.int64)
        return SitingResult(
            none, np.array([]), 0.0, 0.0, 0.0, note or "optimal", "highs", 0.0, achievable
        )
    if not reduce:
        return _target_model(
            problem, needed, time_limit=time_limit, node_limit=node_limit, t0=t0, note=note
        )
    red = problem.reduced(needed=needed)
    left = needed - red.forced_weight
    sub = None
    if left > 1e-9 and red.problem.n_candidates > 0:
        sub = red.problem.target_cover(
            left, time_limit=time_limit, node_limit=node_limit, reduce=False
        )
        if sub.status == "infeasible":
            return sub
    out = _lift(problem, red, sub, t0, target=True)
    return replace(out, status=note or out.status, achievable=achievable)


def _target_model(
    problem: CoverageProblem,
    needed: float,
    *,
    time_limit: float,
    node_limit: int | None,
    t0: float,
    note: str | None,
) -> SitingResult:
    """Fewest sites covering ``needed``, on HiGHS (greedy warm start); ``note`` overrides the
    status (``target_unreachable``)."""
    achievable = problem.total_weight
    greedy_sel, _ = _lazy_greedy(problem, k=problem.n_candidates, stop_at=needed)
    n_c = problem.n_candidates
    sol, info = _highs(
        problem,
        cost=np.r_[np.ones(n_c), np.zeros(len(problem.weight))],
        row=(np.r_[np.zeros(n_c), problem.weight], needed - 1e-6, np.inf),  # enough covered
        sense=highspy.ObjSense.kMinimize,
        warm=greedy_sel,
        time_limit=time_limit,
        options=dict(_PROVING_OPTIONS),
        node_limit=node_limit,
    )
    if info["status"] == "infeasible":
        nan, seconds = float("nan"), time.perf_counter() - t0
        none = np.array([], np.int64)
        return SitingResult(
            none, np.array([]), nan, nan, nan, "infeasible", "highs", seconds, achievable
        )
    chosen = np.flatnonzero(sol[:n_c] > 0.5)
    raw = info["bound"]
    bound = float(np.ceil(raw - 1e-6)) if np.isfinite(raw) else float("nan")
    status = note or info["status"]
    return _scored(problem, chosen, bound, status, t0, target=True, achievable=achievable)


def _lift(
    problem: CoverageProblem,
    red: Reduction,
    sub: SitingResult | None,
    t0: float,
    *,
    target: bool,
) -> SitingResult:
    """The whole model's result from its reduction's: the fixed sites plus the sub-model's
    picks (``sub`` is None when the fixed sites settle it: nothing is left to solve)."""
    if sub is None:
        chosen, status, raw = np.array([], np.int64), "optimal", float("nan")
    else:
        offset = float(len(red.forced)) if target else red.forced_weight
        chosen, status, raw = red.kept[sub.selected], sub.status, sub.bound + offset
    bound = None  # no bound from a solver: the objective is proven
    if np.isfinite(raw):
        bound = float(np.ceil(raw - 1e-6)) if target else min(raw, problem.total_weight)
    sites = np.r_[red.forced, chosen]
    return _scored(problem, sites, bound, status, t0, target=target, extra={"reduction": red.sizes})


def _scored(
    problem: CoverageProblem,
    chosen: np.ndarray,
    bound: float | None,
    status: str,
    t0: float,
    *,
    target: bool,
    achievable: float = float("nan"),
    extra: dict[str, Any] | None = None,
) -> SitingResult:
    """A solver's choice as a result: sites in greedy order with their gains, the objective
    (sites for a ``target`` cover, else weight), and its gap to ``bound`` (None: proven)."""
    sel, gains = problem.order_by_gain(np.asarray(chosen, np.int64))
    obj = float(len(sel)) if target else float(gains.sum())
    bound = obj if bound is None else bound
    if target:
        gap = 0.0 if bound >= obj - 1e-9 else (obj - bound) / max(obj, 1e-12)
    else:
        gap = 0.0 if bound <= obj + 1e-9 else (bound - obj) / max(bound, 1e-12)
    seconds = time.perf_counter() - t0
    return SitingResult(
        sel, gains, obj, bound, gap, status, "highs", seconds, achievable, extra or {}
    )


def _reduce(problem: CoverageProblem, *, k: int | None, needed: float | None) -> Reduction:
    """:meth:`CoverageProblem.reduced`: drop outdone candidates, fix indispensable ones."""
    cover = problem.cover.tocsc()
    n_c = problem.n_candidates
    rank = pd.Series(problem.candidate_ids).rank(method="first").to_numpy()
    limited = problem.group_of if problem.group_limit is not None else None
    keep = ~_dominated(cover, rank, limited)
    forced = _fixed_open(problem, cover, k=k, needed=needed)
    keep[forced] = False
    hit = np.zeros(cover.shape[0], bool)
    if len(forced):
        hit = np.asarray(cover[:, forced].sum(axis=1)).ravel() > 0
    kept = np.flatnonzero(keep)
    a = sp.csr_matrix(cover[~hit][:, kept])
    w = problem.weight[~hit]
    has = np.diff(a.indptr) > 0
    a, w = _merge_identical_rows(a[has], w[has])
    smaller = CoverageProblem(
        sp.csc_matrix(a),
        w,
        problem.candidate_ids[kept],
        problem.group_of[kept],
        problem.group_limit,
    )
    sizes = {
        "candidates": n_c,
        "candidates_dropped": int(n_c - len(kept) - len(forced)),
        "candidates_fixed": len(forced),
        "demand_groups": len(problem.weight),
        "demand_groups_reduced": len(w),
    }
    log.info("model reduced: %s", sizes)
    return Reduction(smaller, kept, forced, float(problem.weight[hit].sum()), sizes)


def _fixed_open(
    problem: CoverageProblem, cover: sp.csc_matrix, *, k: int | None, needed: float | None
) -> np.ndarray:
    """Candidates every optimal solution opens (the rules in :meth:`CoverageProblem.reduced`)."""
    none = np.array([], np.int64)
    n_c = problem.n_candidates
    csr = cover.tocsr()
    unique_rows = np.diff(csr.indptr) == 1  # demand only one candidate reaches
    if not unique_rows.any() or problem.group_limit is not None:
        return none
    only = csr.indices[csr.indptr[:-1][unique_rows]]
    alone = np.bincount(only, weights=problem.weight[unique_rows], minlength=n_c)
    if k is not None and 0 < k < n_c:
        colsum = np.asarray(cover.T @ problem.weight).ravel()
        top_k = np.sort(colsum)[::-1][:k].sum()
        _, gains = _lazy_greedy(problem, k=k)
        ratio = 1.0 - (1.0 - 1.0 / k) ** k
        upper = min(problem.total_weight, top_k, gains.sum() / ratio)
        forced = np.flatnonzero(alone > upper / k * (1 + 1e-9))
        return forced if len(forced) <= k else none  # more cannot happen (they would exceed U)
    if needed is not None and needed >= problem.total_weight - 1e-9:
        return np.flatnonzero(alone > 0)
    return none


def _highs(
    problem: CoverageProblem,
    *,
    cost: np.ndarray,
    row: tuple[np.ndarray, float, float],
    sense: highspy.ObjSense,
    warm: np.ndarray,
    time_limit: float,
    options: dict[str, Any] | None = None,
    node_limit: int | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Solve a coverage model on HiGHS with objective ``cost`` and the extra ``row``.

    Variables: x_j (open candidate j, binary), then y_i (demand group i covered, [0, 1]),
    linked by y_i <= sum_j a_ij x_j; per-group limits are added as rows.
    """
    # A node limit is deterministic (same request, same answer); time is a backstop.
    if node_limit is not None:
        options = {**(options or {}), "mip_max_nodes": int(node_limit)}
    n = problem.n_candidates + len(problem.weight)
    return _run_highs(
        cost,
        np.zeros(n),
        np.ones(n),
        _link_rows(problem.cover),  # y_i - sum_j a_ij x_j <= 0
        [row, *_group_rows(problem)],
        problem.n_candidates,
        sense=sense,
        warm=_warm_vector(problem, warm),
        time_limit=time_limit,
        options=options,
    )


def _group_rows(problem: CoverageProblem) -> list[tuple[np.ndarray, float, float]]:
    """At most ``group_limit`` sites per group, one row per group with more candidates."""
    if problem.group_limit is None or (problem.group_of < 0).all():
        return []
    out = []
    for g in np.unique(problem.group_of[problem.group_of >= 0]):
        coef = (problem.group_of == g).astype(float)
        if coef.sum() > problem.group_limit:
            out.append((coef, -np.inf, float(problem.group_limit)))
    return out


def _dominated(cover: sp.csc_matrix, rank: np.ndarray, group_of: np.ndarray | None) -> np.ndarray:
    """Candidates whose demand set lies within another's (ties: the later ranked one)."""
    a = cover.astype(np.int32)
    size = np.diff(a.indptr)
    overlap = (a.T @ a).tocoo()  # shared demand groups of every pair of candidates
    j, k, n = overlap.row, overlap.col, overlap.data
    inside = (j != k) & (n == size[j])
    inside &= (size[k] > size[j]) | (rank[k] < rank[j])
    if group_of is not None:
        inside &= group_of[j] == group_of[k]
    out: np.ndarray = size == 0
    out[j[inside]] = True
    return out


def _merge_identical_rows(a: sp.csr_matrix, w: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    # Two hashes of each row's column set; rows with equal hashes and equal counts are merged.
    if a.shape[0] == 0:
        return a, w
    rng = np.random.default_rng(12345)
    h = a.astype(float) @ rng.random((a.shape[1], 2))
    counts = np.diff(a.indptr)
    key = pd.DataFrame({"h0": np.round(h[:, 0], 9), "h1": np.round(h[:, 1], 9), "n": counts})
    group = key.groupby(["h0", "h1", "n"], sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(group))).groupby(group).first().to_numpy()
    weight = np.bincount(group, weights=w)
    return a[first], weight


def _link_rows(cover: sp.csc_matrix) -> sp.csr_matrix:
    n_d = cover.shape[0]
    return sp.hstack([-cover.astype(float), sp.identity(n_d, format="csc")], format="csr")


def _warm_vector(problem: CoverageProblem, chosen: np.ndarray) -> np.ndarray:
    x = np.zeros(problem.n_candidates)
    x[np.asarray(chosen, dtype=np.int64)] = 1.0
    y = (np.asarray(problem.cover @ x).ravel() > 0).astype(float)
    start: np.ndarray = np.r_[x, y]
    return start


def _run_highs(
    cost: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    link: sp.csr_matrix,
    extra: list[tuple[np.ndarray, float, float]],
    n_int: int,
    *,
    sense: highspy.ObjSense,
    warm: np.ndarray,
    time_limit: float,
    options: dict[str, Any] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    n = len(cost)
    blocks = [link]
    row_lo = [np.full(link.shape[0], -np.inf)]
    row_hi = [np.zeros(link.shape[0])]
    for coef, lo, hi in extra:
        blocks.append(sp.csr_matrix(np.pad(coef, (0, n - len(coef)))[None, :]))
        row_lo.append(np.array([lo]))
        row_hi.append(np.array([hi]))
    a = sp.vstack(blocks, format="csc")
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = a.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_ = lower
    lp.col_upper_ = upper
    lp.row_lower_ = np.concatenate(row_lo)
    lp.row_upper_ = np.concatenate(row_hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_int + [
        highspy.HighsVarType.kContinuous
    ] * (n - n_int)
    lp.sense_ = sense
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 1e-7)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("threads", 1)
    # Coverage models are mostly integral at the root: HiGHS' presolve costs more than it
    # saves (measured 2.5 s -> 0.5 s on 100,000 x 5,000, k = 100).
    h.setOptionValue("presolve", "off")
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    h.passModel(lp)
    start = highspy.HighsSolution()
    start.col_value = list(warm)
    start.value_valid = True
    h.setSolution(start)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    names = {
        highspy.HighsModelStatus.kOptimal: "optimal",
        highspy.HighsModelStatus.kTimeLimit: "time_limit",
        highspy.HighsModelStatus.kSolutionLimit: "node_limit",
        highspy.HighsModelStatus.kInfeasible: "infeasible",
    }
    label = names.get(status, h.modelStatusToString(status).lower().replace(" ", "_"))
    sol = np.asarray(h.getSolution().col_value) if info.primal_solution_status else warm
    bound = info.mip_dual_bound
    log.info(
        "HiGHS %s: objective %s, bound %s, %d nodes",
        label,
        info.objective_function_value,
        bound,
        info.mip_node_count,
    )
    return sol, {"status": label, "bound": float(bound), "objective": info.objective_function_value}


def _new_highs() -> highspy.Highs:
    # HiGHS prints a banner from C++ on its first construction; keep command output clean.
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def _lazy_greedy(
    problem: CoverageProblem,
    *,
    k: int,
    allowed: np.ndarray | None = None,
    stop_at: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    # CELF: marginal gains only shrink, so a stale gain at the top of the heap that is still
    # best after refreshing is the true best. Ties go to the lowest candidate id.
    cover = problem.cover.tocsc()
    w = problem.weight
    covered = np.zeros(len(w), bool)
    pool = np.arange(problem.n_candidates) if allowed is None else np.asarray(allowed, np.int64)
    rank = pd.Series(problem.candidate_ids).rank(method="first").to_numpy()
    per_group: dict[int, int] = {}
    colsum = np.asarray(cover.T @ w).ravel()
    heap = [(-colsum[j], rank[j], int(j)) for j in pool if colsum[j] > 0]
    heapq.heapify(heap)
    selected: list[int] = []
    gains: list[float] = []
    total = 0.0
    while heap and len(selected) < k:
        if stop_at is not None and total >= stop_at - 1e-9:
            break
        _, r, j = heapq.heappop(heap)
        g = problem.group_of[j]
        if (
            problem.group_limit is not None
            and g >= 0
            and per_group.get(g, 0) >= problem.group_limit
        ):
            continue
        rows = cover.indices[cover.indptr[j] : cover.indptr[j + 1]]
        gain = float(w[rows[~covered[rows]]].sum())
        if heap and (gain < -heap[0][0] or (gain == -heap[0][0] and r > heap[0][1])):
            if gain > 0:
                heapq.heappush(heap, (-gain, r, j))
            continue
        if gain <= 0:
            break
        covered[rows] = True
        selected.append(j)
        gains.append(gain)
        total += gain
        if g >= 0:
            per_group[g] = per_group.get(g, 0) + 1
    return np.array(selected, dtype=np.int64), np.array(gains, dtype=float)


# --- step 4: describing the selection ----------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Suggestion:
    """Result of :func:`suggest`. Layers are in the region's metric CRS.

    Attributes
    ----------
    proposals
        Selected candidates in selection order with ``population_newly_covered``.
    excluded
        Candidates left out, with the reason (kind, rooms, far from roads, other town).
    result, greedy
        The model result, and the greedy result it was warm-started from.
    added_areas
        Service areas the proposals would add.
    summary
        JSON-ready figures (coverage before and after, objective, bound, gap, solver, status).
    problem
        The coverage problem (for curves such as coverage vs number of new sites).
    """

    proposals: gpd.GeoDataFrame
    excluded: pd.DataFrame
    result: SitingResult
    greedy: SitingResult
    added_areas: gpd.GeoDataFrame
    summary: dict[str, Any]
    problem: CoverageProblem

    def coverage_curve(
        self, *, k_max: int | None = None, exact: bool = True, time_limit: float = 10.0
    ) -> pd.DataFrame:
        """Coverage after 1, 2, ... new sites: the table :func:`planner.charts.coverage_curve_chart` draws.

        Parameters
        ----------
        k_max
            Largest number of new sites; default until no candidate adds anyone.
        exact, time_limit
            As in :func:`coverage_curve` (one HiGHS solve of ``time_limit`` seconds per k).

        Returns
        -------
        pandas.DataFrame
            :func:`coverage_curve`'s table of this suggestion's problem, with
            ``coverage_greedy`` (and ``coverage_exact``): a share of the whole population when
            the objective is population, NaN otherwise. ``attrs`` hold ``coverage_before``,
            ``coverage_reachable``, ``weight``, ``minutes``, ``mode`` and ``region``.
        """
        problem, summary = self.problem, self.summary
        ks = None if k_max is None else range(1, min(int(k_max), problem.n_candidates) + 1)
        table = coverage_curve(problem, ks, exact=exact, time_limit=time_limit)
        total = float(summary.get("population_total") or 0)
        by_population = summary.get("weight", "population") == "population" and total > 0
        before = float(summary.get("coverage_before", 0.0))
        for name in ("greedy", "exact"):
            if f"newly_covered_{name}" in table:
                table[f"coverage_{name}"] = (
                    before + table[f"newly_covered_{name}"] / total if by_population else np.nan
                )
        table.attrs.update(
            coverage_before=before if by_population else np.nan,
            coverage_reachable=before + problem.total_weight / total if by_population else np.nan,
            weight=summary.get("weight", "population"),
            minutes=summary.get("minutes"),
            mode=summary.get("mode"),
            region=summary.get("region", ""),
        )
        return table


def describe(
    region: Region,
    problem: CoverageProblem,
    result: SitingResult,
    greedy: SitingResult,
    *,
    excluded: pd.DataFrame,
    k: int | None = None,
    target: float | None = None,
    time_limit: float = 60.0,
    node_limit: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Suggestion:
    """The proposals, their service areas and the summary of a selection.

    Parameters
    ----------
    region
        The region the problem was built from.
    problem
        A problem from :meth:`CoverageProblem.from_region`.
    result, greedy
        What :func:`solve` chose.
    excluded
        The candidates left out (from :func:`eligible_candidates`).
    k, target, time_limit, node_limit
        The request, for the summary.
    progress
        Called with a short message before the long step.
    """
    say = progress or log.info
    origin = problem.origin
    if origin is None:
        msg = "describe needs a problem built by CoverageProblem.from_region"
        raise ValueError(msg)
    cands = _require_candidates(region)
    picked = origin.usable[result.selected]
    # Population newly covered by each pick, in selection order (the objective may weigh otherwise).
    people = CoverageProblem.from_matrix(
        origin.reach,
        origin.population,
        candidate_ids=cands["id"].to_numpy()[origin.usable],
        served=origin.served,
    )
    pop_gain = _marginal(people, result.selected)
    proposals = proposals_frame(cands, replace_positions(result, picked, pop_gain))
    say("service areas of the proposals")
    added = _added_areas(region, origin, picked)
    figures = {
        "newly": float(pop_gain.sum()),
        "reachable": people.total_weight,
        "placed": len(picked),
        "candidates": len(cands),
    }
    request = {"k": k, "target": target, "time_limit": time_limit, "node_limit": node_limit}
    summary = _summary(region, problem, result, greedy, excluded, figures, request)
    return Suggestion(
        proposals, excluded.reset_index(drop=True), result, greedy, added, summary, problem
    )


def _added_areas(region: Region, origin: Origin, picked: np.ndarray) -> gpd.GeoDataFrame:
    """Service areas the candidates at positions ``picked`` would add (site_id, name, minutes)."""
    if len(picked) == 0:
        empty: dict[str, list[Any]] = {"site_id": [], "name": [], "minutes": []}
        return gpd.GeoDataFrame(empty, geometry=[], crs=region.crs)
    std, speed = origin.standard, origin.speed_kmh
    graph = region.graph(std.mode, speed)
    snap = region.snap("candidates", std.mode, speed).subset(picked)
    nodes = search(graph, snap, limit_s=std.minutes * 60.0, toward=True)
    labels, polygons = service_area_polygons(
        graph, nodes, snap, limit_s=std.minutes * 60.0, cache_file=region.network.cache_file
    )
    cands = _require_candidates(region)
    return gpd.GeoDataFrame(
        {
            "site_id": cands["id"].to_numpy()[picked[labels]],
            "name": cands["name"].to_numpy()[picked[labels]],
            "minutes": std.minutes,
        },
        geometry=polygons,
        crs=region.crs,
    )


def _summary(
    region: Region,
    problem: CoverageProblem,
    result: SitingResult,
    greedy: SitingResult,
    excluded: pd.DataFrame,
    figures: dict[str, float],
    request: dict[str, Any],
) -> dict[str, Any]:
    """JSON-ready headline figures of a selection (coverage before and after, solver, sizes)."""
    origin = problem.origin
    assert origin is not None  # describe checked it
    k = request["k"]
    pop = origin.population
    total_pop = pop.sum()
    before_pop = pop[origin.served].sum()
    newly, reachable = figures["newly"], figures["reachable"]
    summary: dict[str, Any] = json_ready(
        {
            "region": region.name,
            "town": origin.town,
            "model": "mclp" if k is not None else "target_cover",
            "k": k,
            "target": request["target"],
            "tier": origin.tier,
            "existing_serving": origin.serving or "any",
            "mode": origin.standard.mode,
            "minutes": origin.standard.minutes,
            "population_total": round(total_pop),
            "population_newly_covered": round(newly),
            "coverage_before": round(before_pop / total_pop, 4) if total_pop else 0.0,
            "coverage_after": round((before_pop + newly) / total_pop, 4) if total_pop else 0.0,
            "coverage_achievable": round((before_pop + reachable) / total_pop, 4)
            if total_pop
            else 0.0,
            "new_sites": int(figures["placed"]),
            "objective": result.objective,
            "bound": result.bound,
            "gap": result.gap,
            "solver": result.solver,
            "status": result.status,
            "solve_seconds": round(result.seconds, 3),
            "coverage_sets_seconds": round(origin.sets_seconds, 3),
            "model_reduction": result.extra.get("reduction"),
            "greedy_objective": greedy.objective,
            "weight": origin.weight_column or "population",
            "candidates_total": int(figures["candidates"]),
            "candidates_usable": len(origin.usable),
            "candidates_excluded": excluded["reason"].value_counts().to_dict(),
            "time_limit": request["time_limit"],
            "node_limit": request["node_limit"],
            "note": _shortfall_note(k, int(figures["placed"]), problem.group_limit),
        }
    )
    return summary


def proposals_frame(
    candidates: gpd.GeoDataFrame, result: SitingResult, *, weight_name: str = "population"
) -> gpd.GeoDataFrame:
    """The selected candidates in selection order, with what each newly covers."""
    chosen = candidates.iloc[result.selected].copy()
    chosen.insert(0, "rank", np.arange(1, len(chosen) + 1))
    chosen.insert(1, "candidate_id", chosen.pop("id"))
    chosen[f"{weight_name}_newly_covered"] = np.round(result.gains, 2)
    chosen["cumulative_newly_covered"] = np.round(np.cumsum(result.gains), 2)
    return chosen.reset_index(drop=True)


def replace_positions(
    result: SitingResult, positions: np.ndarray, gains: np.ndarray
) -> SitingResult:
    """The same result with candidate positions in another indexing and other gains."""
    return replace(result, selected=positions, gains=gains)


def _marginal(problem: CoverageProblem, order: np.ndarray) -> np.ndarray:
    covered = np.zeros(len(problem.weight), bool)
    cover = problem.cover.tocsc()
    out = np.zeros(len(order))
    for n, j in enumerate(order):  # one step per selected site
        rows = cover.indices[cover.indptr[j] : cover.indptr[j + 1]]
        out[n] = problem.weight[rows[~covered[rows]]].sum()
        covered[rows] = True
    return out


def _shortfall_note(k: int | None, placed: int, max_per_town: int | None) -> str | None:
    if k is None or placed >= k:
        return None
    why = f"at most {max_per_town} per town, and " if max_per_town else ""
    return (
        f"only {placed} of the {k} new sites are proposed: {why}no further candidate "
        "reaches anyone still uncovered"
    )


# --- the whole step: from a region and its coverage to proposals --------------------------------


def suggest(
    region: Region,
    coverage: Coverage | None = None,
    *,
    k: int | None = None,
    target: float | None = None,
    tier: str | None = None,
    kinds: list[str] | None = None,
    min_rooms: float = 3,
    max_per_town: int | None = None,
    town: str | None = None,
    weight_column: str | None = None,
    method: str = "exact",
    time_limit: float = 60.0,
    node_limit: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Suggestion:
    """Propose new sites among the region's candidates.

    The four steps of this module in a row: :func:`eligible_candidates`,
    :meth:`CoverageProblem.from_region`, :func:`solve` and :func:`describe`.

    Parameters
    ----------
    region
        A :class:`planner.region.Region` with ``candidates``.
    coverage
        Its :func:`planner.coverage.analyze` result (computed when not given).
    k, target
        Either the number of new sites (MCLP), or the coverage share to reach with the fewest
        new sites (e.g. 0.95).
    tier
        Existing sites of this tier count as serving, and the new sites are of this tier; by
        default any existing site serves and new sites are stations (站).
    kinds
        Allowed candidate kinds (default all).
    min_rooms
        Candidates need at least this many function rooms (the plan asks for 3).
    max_per_town
        At most this many new sites in one town.
    town
        Consider only this town's candidates and residents (name or code).
    weight_column
        Resident column to maximise instead of population (e.g. elderly residents).
    method
        ``exact`` (HiGHS MILP warm-started by greedy) or ``greedy``.
    time_limit
        Seconds for the solver; the best solution found and its proven gap are reported.
    node_limit
        Most branch-and-bound nodes: a work limit that, unlike time, gives the same answer to
        the same request on any machine (status ``node_limit`` when reached).
    progress
        Called with a short message before each long step.
    """
    say = progress or log.info
    ask: dict[str, Any] = dict(k=k, target=target, time_limit=time_limit, node_limit=node_limit)
    check_request(tier=tier, method=method, max_per_town=max_per_town, min_rooms=min_rooms, **ask)
    usable, excluded = eligible_candidates(
        region, tier=tier, kinds=kinds, min_rooms=min_rooms, town=town, max_per_town=max_per_town
    )
    if k is not None:
        check_k(k, len(usable))
    problem = CoverageProblem.from_region(
        region,
        usable,
        coverage=coverage,
        tier=tier,
        town=town,
        weight_column=weight_column,
        max_per_town=max_per_town,
        progress=say,
    )
    result, greedy = solve(problem, method=method, progress=say, **ask)
    return describe(region, problem, result, greedy, excluded=excluded, progress=say, **ask)


def check_request(
    *,
    k: int | None,
    target: float | None,
    tier: str | None = None,
    method: str = "exact",
    max_per_town: int | None = None,
    time_limit: float | None = None,
    min_rooms: float | None = None,
    node_limit: int | None = None,
) -> None:
    """Reject impossible requests before any work is done.

    The one validation of a suggestion's parameters: the CLI and the API both call it, so a
    value one refuses the other refuses too, with the same words.
    """
    if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
        msg = f"time limit must be a positive number of seconds (e.g. 60), got {time_limit:g}"
        raise InputError(msg)
    if min_rooms is not None and not (math.isfinite(min_rooms) and min_rooms >= 0):
        msg = f"min rooms must be 0 or more, got {min_rooms:g}"
        raise InputError(msg)
    if node_limit is not None and node_limit < 1:
        msg = f"node limit must be at least 1, got {node_limit}"
        raise InputError(msg)

    if (k is None) == (target is None):
        msg = (
            "give either k (number of new sites) or target (coverage share such as 0.95), not both"
        )
        raise InputError(msg)
    if target is not None and not 0 < target <= 1:
        msg = f"target must be a share between 0 and 1 (e.g. 0.95), got {target}"
        raise InputError(msg)
    if method not in ("exact", "greedy"):
        msg = f"method must be 'exact' or 'greedy', got {method!r}"
        raise InputError(msg)
    if tier is not None and tier not in TIERS:
        msg = f"unknown tier {tier!r}: use one of {', '.join(TIERS)}"
        raise InputError(msg)
    if max_per_town is not None and max_per_town < 1:
        msg = f"max per town must be at least 1, got {max_per_town}"
        raise InputError(msg)
    if k is not None and k <= 0:
        check_k(k, 1)


def check_k(k: int, available: int) -> None:
    """Reject a ``k`` that cannot be honoured, with what to do instead."""
    if k <= 0:
        msg = f"k must be at least 1 (got {k}); to see current coverage run `servicecircle analyze`"
        raise InputError(msg)
    if k > available:
        msg = f"k = {k} is more than the {available} usable candidates; choose a smaller k or add candidates"
        raise InputError(msg)
