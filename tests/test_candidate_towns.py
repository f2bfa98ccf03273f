"""Candidates without a town: boundaries give them one; otherwise a suggestion for a town (or
with a limit per town) leaves them out as "town unknown", never as "in another town", and the
error when none is left counts its reasons in words, in Chinese for the Chinese report and as
data in the API."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import replace

import httpx
import numpy as np
import pandas as pd
import pytest
from _sample import sample  # noqa: F401  (session fixture)
from api_harness import LocalServer

from planner.errors import NoCandidates
from planner.region import Region, RegionFiles
from planner.siting import eligible_candidates, suggest
from planner.town_report import write_town_report

SAMPLE = RegionFiles.sample()
TOWN = "青山乡"


@pytest.fixture(scope="module")
def townless_csv(tmp_path_factory):
    """The sample's candidates.csv without its town column (as the user's Guixi file)."""
    path = tmp_path_factory.mktemp("townless") / "candidates.csv"
    pd.read_csv(SAMPLE.candidates, dtype=str).drop(columns="town").to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def townless(sample, townless_csv):  # noqa: F811
    """The sample region with those candidates and no boundaries, and the sample's coverage."""
    region, cov = sample
    cands = region.candidates.drop(columns=[c for c in region.candidates if "town" in c])
    return replace(region, candidates=cands, units=None, _cache={}), cov


def test_boundaries_give_townless_candidates_their_town(townless_csv, tmp_path):
    region = Region.from_files(SAMPLE, candidates=townless_csv, cache_dir=tmp_path / "cache")
    written = pd.read_csv(
        SAMPLE.candidates, dtype=str
    )  # the sample's towns agree with its polygons
    assert region.candidates["town"].tolist() == written["town"].tolist()
    usable, excluded = eligible_candidates(region, town=TOWN)
    assert (region.candidates["town"].iloc[usable] == TOWN).all()
    assert "town unknown" not in " ".join(excluded["reason"])


def test_a_town_asked_for_leaves_townless_candidates_out_as_unknown(townless):
    region, _ = townless
    with pytest.raises(NoCandidates) as caught:
        eligible_candidates(region, town=TOWN)
    err = caught.value
    rooms = pd.to_numeric(region.candidates["rooms"], errors="coerce")
    few, far = int((rooms < 3).sum()), len(region.candidates) - int((rooms >= 3).sum())
    counts = {r["reason"]: r["count"] for r in err.reasons}
    assert counts["few_rooms"] == few and sum(counts.values()) == len(region.candidates)
    assert counts["town_unknown"] == len(region.candidates) - far  # every one with rooms enough
    assert "other_town" not in counts
    message = str(err)
    assert message.startswith(f"no usable candidates among {len(region.candidates)}: ")
    assert f"{counts['town_unknown']} town unknown" in message
    assert f"{few} fewer than 3 function rooms" in message
    assert "{" not in message and "'" not in message  # words, not a Python dict
    assert err.detail == {"candidates": len(region.candidates), "excluded": err.reasons}
    assert f"{counts['town_unknown']} 个所属乡镇不明" in err.zh


def test_another_town_is_worded_apart_from_an_unknown_one(sample, townless):  # noqa: F811
    full, _ = sample
    region, _ = townless
    cands = region.candidates.copy()
    half = np.arange(len(cands)) % 2 == 0
    cands["town"] = full.candidates["town"].where(half, None)
    mixed = replace(region, candidates=cands, _cache={})
    usable, excluded = eligible_candidates(mixed, town=TOWN, min_rooms=0)
    reason = excluded.set_index("candidate_id")["reason"]
    ids = cands["id"]
    assert (cands["town"].iloc[usable] == TOWN).all()
    elsewhere = ids[half & (cands["town"] != TOWN)]
    unknown = ids[~half]
    assert (reason.reindex(elsewhere) == "in another town").all()
    assert reason.reindex(unknown).str.startswith("town unknown").all()


def test_max_per_town_is_enforced_or_the_townless_reported(sample, townless):  # noqa: F811
    full, cov = sample
    region, _ = townless
    cands = region.candidates.copy()
    known = np.arange(len(cands)) % 3 != 0
    cands["town"] = full.candidates["town"].where(known, None)
    mixed = replace(region, candidates=cands, _cache={})
    result = suggest(mixed, cov, k=4, max_per_town=1, method="greedy", min_rooms=0)
    towns = cands.set_index("id").loc[result.proposals["candidate_id"], "town"]
    assert towns.notna().all() and towns.is_unique  # one per town, each town known
    reason = result.excluded.set_index("candidate_id")["reason"]
    assert reason.reindex(cands.loc[~known, "id"]).str.startswith("town unknown").all()
    # without a town column at all the limit cannot hold: every candidate is reported
    with pytest.raises(NoCandidates, match="town unknown"):
        suggest(region, cov, k=2, max_per_town=1, method="greedy", min_rooms=0)


def test_the_chinese_report_says_why_in_chinese(townless, tmp_path):
    region, cov = townless
    paths = write_town_report(region, cov, TOWN, tmp_path, k=3, pdf=False)
    page = paths["html"].read_text(encoding="utf-8")
    assert "未提出新建站点：" in page and "所属乡镇不明" in page
    assert "no usable candidates" not in page and "town unknown" not in page


@pytest.fixture(scope="module")
def server(tmp_path_factory, townless_csv) -> Iterator[LocalServer]:
    config = tmp_path_factory.mktemp("api-townless") / "regions.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [[regions]]
            id = "townless"
            name = "示范县"
            network = "{SAMPLE.network}"
            sites = "{SAMPLE.sites}"
            residents = "{SAMPLE.residents}"
            candidates = "{townless_csv}"
            """
        ),
        encoding="utf-8",
    )
    with LocalServer(config=config, cache_dir=tmp_path_factory.getbasetemp() / "sc-cache") as s:
        yield s


def test_the_api_error_carries_the_counts_as_data(server):
    reply = httpx.post(
        f"{server.url}/regions/townless/suggest", json={"k": 3, "town": TOWN}, timeout=120
    )
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == "invalid_request"
    detail = error["detail"]
    assert detail["candidates"] == len(pd.read_csv(SAMPLE.candidates))
    reasons = {r["reason"]: r for r in detail["excluded"]}
    assert {"town_unknown", "few_rooms"} <= set(reasons)
    assert sum(r["count"] for r in detail["excluded"]) == detail["candidates"]
    assert reasons["town_unknown"]["text"] in error["message"]


def test_a_town_named_alone_counts_with_the_same_town_by_code():
    from planner.siting import _town_groups

    cands = pd.DataFrame(
        {
            "town": ["青山乡", "青山乡", "城关镇", None, "某镇"],
            "town_code": ["201", None, "001", "301", None],
        }
    )
    groups = _town_groups(cands)
    assert groups[0] == groups[1] != groups[2]  # one limit for 青山乡, whether coded or not
    assert len(set(groups)) == 4
