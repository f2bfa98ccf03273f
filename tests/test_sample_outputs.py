"""Every number ``analyze`` writes for the sample stays what it was before the scale work.

The expected files in ``tests/data/sample_outputs`` were written by ``servicecircle analyze``
on the bundled sample at commit bc48cf9, before service areas became lazy and raster-drawn.
Only service-area geometry may change; the population each site serves may not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from _sample import sample  # noqa: F401  (session fixture)

from planner.report import write_analysis

EXPECTED = Path(__file__).parent / "data" / "sample_outputs"


@pytest.fixture(scope="module")
def written(sample, tmp_path_factory):  # noqa: F811
    region, cov = sample
    out = tmp_path_factory.mktemp("sample-outputs")
    write_analysis(cov, region, out, map_html=False)
    return out


# What later issues added on purpose beside the numbers (nothing else may appear or change):
# the count of sites used (issue 9), and where residents join the roads (issue 8).
ADDED_KEYS = {"sites_used", "residents_joining_bridge_or_tunnel"}
ADDED_COLUMNS = {"joins_road_at"}


def test_summary_numbers_are_unchanged(written):
    got = json.loads((written / "summary.json").read_text(encoding="utf-8"))
    want = json.loads((EXPECTED / "summary.json").read_text(encoding="utf-8"))
    assert set(got) - set(want) <= ADDED_KEYS | {"run"}
    assert {k: got[k] for k in want} == want
    assert got["sites_used"] == want["sites_total"] - want["sites_rejected"]
    assert got["residents_joining_bridge_or_tunnel"] == 0  # the sample has no bridges


@pytest.mark.parametrize(
    ("name", "expected"),
    [("residents.csv", "residents.csv.gz"), ("coverage_by_unit.csv", "coverage_by_unit.csv")],
)
def test_tables_are_unchanged(written, name, expected):
    got = pd.read_csv(written / name, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    want = pd.read_csv(EXPECTED / expected, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert set(got.columns) - set(want.columns) <= ADDED_COLUMNS
    pd.testing.assert_frame_equal(got[list(want.columns)], want)


def test_population_served_per_site_is_unchanged(sample):  # noqa: F811
    _, cov = sample
    got = cov.service_areas.drop(columns="geometry").reset_index(drop=True)
    want = pd.read_csv(EXPECTED / "service_areas_population.csv", dtype={"site_id": str})
    assert list(got["site_id"]) == list(want["site_id"])
    assert list(got["population_served"]) == list(want["population_served"])
