"""Site suggestion: exact answers equal brute force, greedy never beats exact, spopt agrees."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from _sample import sample  # noqa: F401  (session fixture)
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from planner.reach import nearest
from planner.siting import CoverageProblem, coverage_matrix, suggest


def random_problem(seed: int, n_c: int, n_r: int, density: float, groups: bool = False):
    rng = np.random.default_rng(seed)
    reach = sp.csr_matrix(rng.random((n_c, n_r)) < density)
    weight = rng.integers(1, 50, n_r).astype(float)
    served = rng.random(n_r) < 0.2
    town = rng.integers(0, 3, n_c).astype(str) if groups else None
    problem = CoverageProblem.from_matrix(
        reach, weight, served=served, groups=town, group_limit=1 if groups else None
    )
    return reach, weight, served, town, problem


def brute_mclp(reach, weight, served, k, town=None, limit=None):
    n_c = reach.shape[0]
    dense = reach.toarray()
    best = 0.0
    for r in range(0, k + 1):
        for combo in itertools.combinations(range(n_c), r):
            if town is not None and limit is not None:
                _, counts = np.unique(town[list(combo)], return_counts=True)
                if (counts > limit).any():
                    continue
            hit = dense[list(combo)].any(axis=0) & ~served if combo else np.zeros(len(weight), bool)
            best = max(best, weight[hit].sum())
    return best


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n_c=st.integers(1, 8),
    n_r=st.integers(1, 25),
    k=st.integers(1, 4),
    density=st.floats(0.05, 0.6),
    groups=st.booleans(),
)
def test_exact_mclp_equals_brute_force_and_greedy_never_beats_it(
    seed, n_c, n_r, k, density, groups
):
    reach, weight, served, town, problem = random_problem(seed, n_c, n_r, density, groups)
    k = min(k, n_c)
    exact = problem.mclp(k, time_limit=10)
    expected = brute_mclp(reach, weight, served, k, town, 1 if groups else None)
    assert exact.objective == pytest.approx(expected)
    assert exact.status == "optimal"
    assert exact.gap == pytest.approx(0.0, abs=1e-6)
    assert problem.greedy(k).objective <= exact.objective + 1e-9
    # the reported gains add up to what the chosen sites cover
    assert exact.gains.sum() == pytest.approx(problem.covered_weight(exact.selected))
    # the reduced model keeps the optimum: brute force over it plus the fixed sites agrees
    assert problem.mclp(k, time_limit=10, reduce=False).objective == pytest.approx(expected)
    red = problem.reduced(k=k)
    assert len(red.forced) + red.problem.n_candidates <= problem.n_candidates
    left = k - len(red.forced)
    sub = red.problem.cover.T.tocsr()  # candidates x demand groups of the reduced model
    sub_town = town[red.kept] if groups else None
    fixed_town_ok = not groups or len(set(town[red.forced])) == len(red.forced)
    assert fixed_town_ok
    best = (
        brute_mclp(
            sub,
            red.problem.weight,
            np.zeros(len(red.problem.weight), bool),
            left,
            sub_town,
            1 if groups else None,
        )
        if left > 0 and sub.shape[0]
        else 0.0
    )
    assert best + red.forced_weight == pytest.approx(expected)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n_c=st.integers(1, 8),
    n_r=st.integers(1, 20),
    share=st.floats(0.1, 1.0),
)
def test_target_cover_uses_the_fewest_sites(seed, n_c, n_r, share):
    reach, weight, served, _, problem = random_problem(seed, n_c, n_r, 0.3)
    needed = share * problem.total_weight
    result = problem.target_cover(needed, time_limit=10)
    dense = reach.toarray()
    fewest = None
    for r in range(0, n_c + 1):
        for combo in itertools.combinations(range(n_c), r):
            hit = dense[list(combo)].any(axis=0) & ~served if combo else np.zeros(n_r, bool)
            if weight[hit].sum() >= needed - 1e-6:
                fewest = r
                break
        if fewest is not None:
            break
    assert result.objective == fewest
    assert problem.covered_weight(result.selected) >= needed - 1e-6
    assert problem.greedy_target(needed).objective >= result.objective
    assert problem.target_cover(needed, time_limit=10, reduce=False).objective == fewest


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n_c=st.integers(1, 8), n_r=st.integers(1, 20))
def test_covering_everything_fixes_only_sites_that_must_open(seed, n_c, n_r):
    """A demand point that one candidate alone reaches forces it open; the optimum stays."""
    *_, problem = random_problem(seed, n_c, n_r, 0.3)
    everything = problem.total_weight
    red = problem.reduced(needed=everything)
    fewest = problem.target_cover(everything, time_limit=10, reduce=False).objective
    assert problem.target_cover(everything, time_limit=10).objective == fewest
    # every fixed candidate is in every optimal answer: without it, one more site is needed
    for j in red.forced:
        others = np.setdiff1d(np.arange(problem.n_candidates), [j])
        assert problem.covered_weight(others) < everything - 1e-9


def test_reduction_drops_a_site_another_outdoes_and_fixes_one_nobody_can_replace():
    # candidate 0 alone reaches a village of 100; candidate 2 reaches a subset of candidate 1
    reach = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1]], bool))
    problem = CoverageProblem.from_matrix(reach, np.array([100.0, 1.0, 1.0]))
    red = problem.reduced(k=2)
    assert red.forced.tolist() == [0] and red.forced_weight == 100.0
    assert red.kept.tolist() == [1]
    result = problem.mclp(2)
    assert sorted(result.selected.tolist()) == [0, 1] and result.objective == 102.0
    assert result.extra["reduction"]["candidates_dropped"] == 1


def test_unreachable_target_reports_best_share():
    reach = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]], bool))
    problem = CoverageProblem.from_matrix(reach, np.array([10.0, 20.0, 70.0]))
    result = problem.target_cover(95.0)
    assert result.status == "target_unreachable"
    assert result.achievable == 30.0
    assert sorted(result.selected.tolist()) == [0, 1]


def test_greedy_breaks_ties_by_candidate_id():
    reach = sp.csr_matrix(np.array([[1, 0], [0, 1]], bool))
    problem = CoverageProblem.from_matrix(
        reach, np.array([5.0, 5.0]), candidate_ids=np.array(["B", "A"])
    )
    assert problem.greedy(1).selected.tolist() == [1]  # "A" before "B"


def test_same_objective_as_spopt_mclp(sample):  # noqa: F811
    """spopt's MCLP (CBC) on the same coverage sets reaches the same optimum."""
    pulp = pytest.importorskip("pulp")
    from spopt.locate import MCLP

    region, coverage = sample
    graph = region.graph("walk", 4.0)
    cand = region.snap("candidates", "walk", 4.0)
    res = region.snap("residents", "walk", 4.0)
    uncovered = np.flatnonzero(~coverage.residents["covered"].to_numpy())[:400]
    reach = coverage_matrix(graph, cand, res.subset(uncovered), limit_s=900)
    weight = coverage.residents["population"].to_numpy(float)[uncovered]
    keep = np.flatnonzero(np.asarray(reach.sum(axis=1)).ravel() > 0)[:60]
    reach = reach[keep]
    k = 5
    ours = CoverageProblem.from_matrix(reach, weight).mclp(k)
    cost = np.where(reach.T.toarray(), 1.0, 10.0)  # demand x facility
    model = MCLP.from_cost_matrix(cost, weight, service_radius=5.0, p_facilities=k)
    model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    assert ours.status == "optimal"
    assert ours.objective == pytest.approx(pulp.value(model.problem.objective))


def test_coverage_sets_equal_one_search_per_candidate(sample):  # noqa: F811
    """Local bounded searches give the same sets as a whole-graph search from each candidate."""
    region, _ = sample
    graph = region.graph("walk", 4.0)
    cand = region.snap("candidates", "walk", 4.0)
    res = region.snap("residents", "walk", 4.0)
    reach = coverage_matrix(graph, cand, res, limit_s=900, max_pairs_per_block=50_000)
    for j in range(0, len(cand), 7):
        single, _ = nearest(graph, cand.subset(np.array([j])), res)
        expected = np.flatnonzero(single.seconds <= 900)
        got = reach[j].indices
        assert np.array_equal(np.sort(got), expected), f"candidate {j}"


def test_suggested_sites_cover_what_analyze_says(sample):  # noqa: F811
    """Adding the proposals as stations and re-running analyze gives the promised coverage."""
    import pandas as pd

    from planner.coverage import analyze

    region, coverage = sample
    result = suggest(region, coverage, k=4)
    assert result.summary["status"] == "optimal"
    assert list(result.proposals["rank"]) == [1, 2, 3, 4]
    gains = result.proposals["population_newly_covered"].to_numpy()
    assert np.all(np.diff(gains) <= 0)  # selection order: biggest gain first
    new = result.proposals.rename(columns={"candidate_id": "id"}).assign(tier="station")
    sites = pd.concat([region.sites, new[["id", "name", "tier", "geometry"]]], ignore_index=True)
    after = analyze(region.with_sites(sites), service_areas=False)
    assert after.summary["coverage"] == pytest.approx(result.summary["coverage_after"], abs=1e-4)
    assert (
        after.summary["population_covered"] - coverage.summary["population_covered"]
        == (result.summary["population_newly_covered"])
    )


def test_max_per_town_and_kinds_are_respected(sample):  # noqa: F811
    region, coverage = sample
    result = suggest(region, coverage, k=5, max_per_town=1, kinds=["idle_school", "闲置厂房"])
    props = result.proposals
    assert props["town"].is_unique
    assert set(props["kind"]) <= {"idle_school", "idle_factory"}
    assert (props["rooms"].astype(float) >= 3).all()


def test_greedy_mode_is_close_to_exact(sample):  # noqa: F811
    region, coverage = sample
    exact = suggest(region, coverage, k=10)
    greedy = suggest(region, coverage, k=10, method="greedy")
    assert greedy.summary["solver"] == "greedy"
    assert greedy.summary["objective"] <= exact.summary["objective"]
    assert greedy.summary["objective"] >= 0.98 * exact.summary["objective"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be at least 1"),
        ({"k": 10_000}, "more than the"),
        ({"k": 2, "target": 0.9}, "either k"),
        ({"target": 1.5}, "between 0 and 1"),
        ({"k": 2, "kinds": ["castle"]}, "unknown candidate kind"),
        ({"k": 2, "tier": "palace"}, "unknown tier"),
        ({"k": 2, "max_per_town": 0}, "at least 1"),
        ({"k": 2, "town": "不存在乡"}, "no residents in town"),
    ],
)
def test_bad_requests_say_what_to_do(sample, kwargs, message):  # noqa: F811
    region, coverage = sample
    with pytest.raises(InputError, match=message):
        suggest(region, coverage, **kwargs)


def test_no_candidates_and_all_far_from_roads(sample):  # noqa: F811
    region, coverage = sample
    from dataclasses import replace

    with pytest.raises(InputError, match="no usable candidate buildings"):
        suggest(replace(region, candidates=None, _cache={}), coverage, k=1)
    far = region.candidates.copy()
    far["geometry"] = far.geometry.translate(xoff=80_000)
    with pytest.raises(InputError, match="farther than"):
        suggest(replace(region, candidates=far, _cache={}), coverage, k=1)


def test_target_above_reachable_is_reported_not_failed(sample):  # noqa: F811
    region, coverage = sample
    result = suggest(region, coverage, target=1.0)
    s = result.summary
    assert s["status"] == "target_unreachable"
    assert s["coverage_after"] == pytest.approx(s["coverage_achievable"], abs=1e-4)
    assert s["coverage_after"] < 1.0


def test_duplicate_candidate_ids_are_rejected_with_their_row(tmp_path):
    from planner.inputs import read_candidates

    path = tmp_path / "c.csv"
    path.write_text(
        "id,name,kind,lon,lat,rooms\nC1,甲,idle_school,117.2,28.3,4\nC1,乙,idle_house,117.3,28.3,5\n",
        encoding="utf-8",
    )
    cands, rejected = read_candidates(path)
    assert cands["name"].tolist() == ["甲"]
    assert rejected["row"].tolist() == [3]
    assert "duplicate id (first used on row 2)" in rejected["reason"].iloc[0]


def test_fewer_sites_than_asked_are_explained(sample):  # noqa: F811
    region, coverage = sample
    result = suggest(region, coverage, k=3, town="青山乡", max_per_town=1)
    assert len(result.proposals) == 1
    assert "only 1 of the 3 new sites" in result.summary["note"]
    assert suggest(region, coverage, k=2).summary["note"] is None


def test_an_unknown_town_lists_the_towns_there_are(sample):  # noqa: F811
    region, coverage = sample
    with pytest.raises(InputError) as err:
        suggest(region, coverage, k=2, town="不存在乡")
    towns = sorted(coverage.residents["town"].unique())
    assert len(towns) > 1 and str(err.value).endswith("use one of: " + ", ".join(towns))


def test_a_town_given_by_code_is_the_town_given_by_name(sample):  # noqa: F811
    region, coverage = sample
    res = coverage.residents
    code = str(res.loc[res["town"] == "青山乡", "town_code"].iloc[0])
    by_name = suggest(region, coverage, k=2, town="青山乡")
    by_code = suggest(region, coverage, k=2, town=code)
    assert by_code.proposals["candidate_id"].tolist() == by_name.proposals["candidate_id"].tolist()
    assert by_code.excluded.equals(by_name.excluded)
    assert (by_name.proposals["town"] == "青山乡").all() and len(by_name.proposals) == 2


def test_candidates_left_out_add_up_or_say_top_reasons(tmp_path):
    import re

    from planner.region import Region

    tags = [
        '<tag k="power" v="plant"/><tag k="building" v="yes"/>',
        '<tag k="man_made" v="works"/><tag k="building" v="industrial"/>',
        '<tag k="building" v="industrial"/><tag k="operator" v="某公司"/>',
        '<tag k="amenity" v="school"/><tag k="building" v="school"/>',
        '<tag k="building" v="industrial"/><tag k="man_made" v="chimney"/>',
    ]
    nodes, ways = [], []
    for i, tag in enumerate(tags):
        x = 117.20 + 0.01 * i
        corners = [(x, 28.30), (x + 4e-4, 28.30), (x + 4e-4, 28.3004), (x, 28.3004)]
        nodes += [
            f'<node id="{4 * i + j + 1}" lat="{lat}" lon="{lon}"/>'
            for j, (lon, lat) in enumerate(corners)
        ]
        refs = "".join(f'<nd ref="{4 * i + j + 1}"/>' for j in (0, 1, 2, 3, 0))
        ways.append(f'<way id="{i + 1}">{refs}{tag}</way>')
    path = tmp_path / "candidates.osm"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        + "\n".join(nodes + ways)
        + "\n</osm>\n",
        encoding="utf-8",
    )
    region = Region.from_files(candidates=path, cache_dir=tmp_path / "cache")
    reasons = region.rejected.loc[region.rejected["layer"] == "candidates", "reason"]
    assert len(reasons) == 5 and reasons.nunique() == 5
    with pytest.raises(InputError) as err:
        suggest(region, k=2)
    said = re.search(r"\((\d+) left out(, top reasons)?: (.*)\); give a candidates", str(err.value))
    assert said is not None and int(said.group(1)) == 5
    listed = sum(int(n) for n in re.findall(r"(?:^|; )(\d+) ", said.group(3)))
    assert listed == 3 and said.group(2) == ", top reasons"  # 3 of 5 listed: it says so


def test_proposals_csv_has_six_decimal_coordinates_and_whole_people(sample, tmp_path):  # noqa: F811
    import csv

    from planner.report import write_suggestion

    region, coverage = sample
    suggestion = suggest(region, coverage, k=3)
    paths = write_suggestion(suggestion, coverage, region, tmp_path, map_html=False)
    with open(paths["proposals_csv"], encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    for row, (_, p) in zip(rows, suggestion.proposals.to_crs(4326).iterrows(), strict=True):
        for col, value in (("lon", p.geometry.x), ("lat", p.geometry.y)):
            assert len(row[col].split(".")[1]) <= 6 and abs(float(row[col]) - value) < 1e-6
        newly = row["population_newly_covered"]
        assert newly.isdigit() and int(newly) == round(p["population_newly_covered"])
    total = sum(int(r["population_newly_covered"]) for r in rows)
    assert int(rows[-1]["cumulative_newly_covered"]) == total


def test_eligible_candidates_report_every_one_left_out_with_its_rule(sample):  # noqa: F811
    """Each candidate is usable or excluded with the first rule it fails, checked row by row."""
    from dataclasses import replace

    import pandas as pd

    from planner.siting import eligible_candidates

    region, _ = sample
    cands = region.candidates.copy()
    far = cands.index[::9]  # some candidates moved 80 km away from every road
    cands.loc[far, "geometry"] = cands.loc[far, "geometry"].translate(xoff=80_000)
    moved = replace(region, candidates=cands, _cache={})
    usable, excluded = eligible_candidates(
        moved, kinds=["idle_school", "闲置厂房", "public_venue"], min_rooms=4, town="青山乡"
    )

    def first_rule(row: pd.Series, is_far: bool) -> str:
        rooms = pd.to_numeric(row["rooms"], errors="coerce")
        if row["kind"] not in {"idle_school", "idle_factory", "public_venue"}:
            return "kind not allowed"
        if pd.isna(rooms):
            return (
                "rooms unknown, at least 4 required; to allow, use --min-rooms 0 "
                "(min_rooms=0 in Python and the API)"
            )
        if rooms < 4:
            return "fewer than 4 function rooms"
        if is_far:
            return "farther than 500 m from a road usable walk"
        if row["town"] != "青山乡":
            return "in another town"
        return ""

    expected = [first_rule(row, i in set(far)) for i, row in cands.iterrows()]
    assert {  # the case exercises the rules
        "kind not allowed",
        "fewer than 4 function rooms",
        "farther than 500 m from a road usable walk",
        "in another town",
    } <= set(expected)
    assert usable.tolist() == [i for i, why in enumerate(expected) if not why]
    assert len(usable) > 0 and len(usable) + len(excluded) == len(cands)
    assert excluded["candidate_id"].tolist() == [
        c for c, why in zip(cands["id"], expected, strict=True) if why
    ]
    assert excluded["reason"].tolist() == [why for why in expected if why]


@pytest.mark.parametrize("seed", [3, 17, 2024])
def test_coverage_curve_equals_a_solve_at_each_k(seed):
    from planner.siting import coverage_curve

    reach, weight, served, _, problem = random_problem(seed, 8, 30, 0.25)
    ks = [1, 2, 4, 7]
    curve = coverage_curve(problem, ks, time_limit=10)
    assert curve["k"].tolist() == ks
    for row in curve.itertuples():
        greedy = problem.greedy(row.k)
        exact = problem.mclp(row.k, time_limit=10)
        assert row.newly_covered_greedy == pytest.approx(greedy.objective)
        last = greedy.gains[-1] if len(greedy.selected) == row.k else 0.0
        assert row.gain_greedy == pytest.approx(last)
        assert row.newly_covered_exact == pytest.approx(exact.objective)
        assert row.newly_covered_exact == pytest.approx(brute_mclp(reach, weight, served, row.k))
        assert row.status_exact == "optimal" and row.gap_exact == 0.0


@pytest.mark.parametrize("limit_s", [60.0, 300.0])
def test_coverage_sets_with_residents_on_candidate_segments_equal_one_search_each(
    sample,  # noqa: F811
    limit_s,
):
    """Small horizons (many blocks) and residents on the candidates' own segments: the sets
    equal a whole-graph search from each candidate, direct trips along a segment included."""
    from planner.snap import Snapped

    region, _ = sample
    graph = region.graph("walk", 4.0)
    cand = region.snap("candidates", "walk", 4.0)
    res = region.snap("residents", "walk", 4.0)
    on = np.flatnonzero(cand.ok)
    # two residents on each candidate's segment, on either side of it, a few metres off it
    seg = np.r_[cand.segment[on], cand.segment[on]]
    frac = np.clip(np.r_[cand.fraction[on] + 0.2, cand.fraction[on] - 0.3], 0.0, 1.0)
    extra = Snapped(seg, frac, np.full(len(seg), 5.0))
    both = Snapped(
        np.r_[res.segment, extra.segment],
        np.r_[res.fraction, extra.fraction],
        np.r_[res.access_m, extra.access_m],
    )
    reach = coverage_matrix(graph, cand, both, limit_s=limit_s, max_pairs_per_block=20_000)
    same_segment_pairs = 0
    for j in range(len(cand)):
        single, _ = nearest(graph, cand.subset(np.array([j])), both)
        expected = np.flatnonzero(single.seconds <= limit_s)
        assert np.array_equal(np.sort(reach[j].indices), expected), f"candidate {j}"
        same_segment_pairs += int(np.sum(both.segment[expected] == cand.segment[j]))
    assert same_segment_pairs > 0  # the case exercises direct trips along a segment


def test_window_index_finds_the_points_a_full_scan_finds():
    """Points in a window, boundaries and equal coordinates included, as a scan of all."""
    from planner.siting import _WindowIndex

    rng = np.random.default_rng(7)
    xy = rng.integers(0, 20, size=(500, 2)).astype(float)  # many equal x, points on edges
    index = _WindowIndex(xy)
    for _ in range(200):
        lo = rng.integers(-2, 20, 2).astype(float)
        hi = lo + rng.integers(0, 8, 2)
        expected = np.flatnonzero(np.all((xy >= lo) & (xy <= hi), axis=1))
        assert np.array_equal(index(lo, hi), expected)


@pytest.mark.parametrize("seed", [1, 5, 11])
def test_exact_mclp_equals_an_independent_milp_on_a_medium_instance(seed):
    """Our tuned HiGHS (heuristics and node cuts off, reduced model) against the textbook MCLP
    built here and solved by scipy's MILP with default settings, where branching is needed."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    rng = np.random.default_rng(seed)
    n_c, n_r, k = 40, 400, 6
    reach = sp.csr_matrix(rng.random((n_c, n_r)) < 0.08)
    weight = rng.integers(1, 60, n_r).astype(float)
    ours = CoverageProblem.from_matrix(reach, weight).mclp(k, time_limit=60)
    a = reach.T.toarray().astype(float)  # demand x candidates
    cost = -np.r_[np.zeros(n_c), weight]  # maximise covered weight
    link = LinearConstraint(np.hstack([-a, np.eye(n_r)]), -np.inf, 0.0)  # y_i <= sum_j a_ij x_j
    sites = LinearConstraint(np.r_[np.ones(n_c), np.zeros(n_r)][None, :], -np.inf, k)
    integral = np.r_[np.ones(n_c), np.zeros(n_r)]
    res = milp(cost, constraints=[link, sites], integrality=integral, bounds=Bounds(0, 1))
    assert res.status == 0
    assert ours.status == "optimal"
    assert ours.objective == pytest.approx(-res.fun)
    assert len(ours.selected) <= k
    assert ours.objective == pytest.approx(weight[reach[ours.selected].getnnz(axis=0) > 0].sum())
