"""Every number ``analyze`` writes for the sample stays what it was before the scale work.

The expected files in ``tests/data/sample_outputs`` were written by ``servicecircle analyze``
on the bundled sample at commit bc48cf9, before service areas became lazy and raster-drawn.
Only service-area geometry may change; the population each site serves may not.

Since then one change on purpose: written minutes are rounded up to 0.01, no longer to the
nearest 0.01 (a resident shown at 15.00 minutes is covered by a 15-minute standard). The
expected files keep the old, nearest-rounded minutes; the minute columns are checked against
them as "at most 0.01 above, never below by more than the old rounding", and every other
column and every count exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from _sample import sample  # noqa: F401  (session fixture)

from planner.report import write_analysis
from planner.text import TIERS

EXPECTED = Path(__file__).parent / "data" / "sample_outputs"


@pytest.fixture(scope="module")
def written(sample, tmp_path_factory):  # noqa: F811
    region, cov = sample
    out = tmp_path_factory.mktemp("sample-outputs")
    write_analysis(cov, region, out, map_html=False)
    return out


# What later issues added on purpose beside the numbers (nothing else may appear or change):
# the count of sites used (issue 9), and where residents join the roads (issue 8).
# and how many residents' own town/village a boundary polygon overruled (0 in the sample).
ADDED_KEYS = {"sites_used", "residents_joining_bridge_or_tunnel", "residents_unit_column_overruled"}
ADDED_COLUMNS = {"joins_road_at"}
# Minute columns: rounded up to 0.01 now (see the module docstring); everything else unchanged.
MINUTE_COLUMNS = {"minutes", "mean_minutes", "max_minutes"}


def _minute_columns(frame):
    return [c for c in frame.columns if c in MINUTE_COLUMNS or c.startswith("minutes_")]


def test_summary_numbers_are_unchanged(written):
    got = json.loads((written / "summary.json").read_text(encoding="utf-8"))
    want = json.loads((EXPECTED / "summary.json").read_text(encoding="utf-8"))
    assert set(got) - set(want) <= ADDED_KEYS | {"run"}
    assert {k: got[k] for k in want} == want
    assert got["sites_used"] == want["sites_total"] - want["sites_rejected"]
    assert got["residents_joining_bridge_or_tunnel"] == 0  # the sample has no bridges
    assert got["residents_unit_column_overruled"] == 0  # its columns agree with its polygons


@pytest.mark.parametrize(
    ("name", "expected"),
    [("residents.csv", "residents.csv.gz"), ("coverage_by_unit.csv", "coverage_by_unit.csv")],
)
def test_tables_are_unchanged(written, name, expected):
    got = pd.read_csv(written / name, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    want = pd.read_csv(EXPECTED / expected, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert set(got.columns) - set(want.columns) <= ADDED_COLUMNS
    minutes = _minute_columns(want)
    assert minutes
    others = [c for c in want.columns if c not in minutes]
    pd.testing.assert_frame_equal(got[others], want[others])
    up = pd.to_numeric(got[minutes].stack(future_stack=True).replace("", None))
    old = pd.to_numeric(want[minutes].stack(future_stack=True).replace("", None))
    assert (up.isna() == old.isna()).all()
    step = (up - old).dropna()
    # nearest-rounded was at most 0.005 below the exact value, rounded-up at most 0.01 above
    assert step.between(-1e-9, 0.01 + 1e-9).all()
    assert (step > 1e-9).any()  # it did change: some minutes were rounded down before


def test_shown_minutes_agree_with_covered(written, sample):  # noqa: F811
    """For every resident and tier, the minutes residents.csv shows are within the tier's
    standard exactly when the analysis counts the resident covered (R004578 was shown at
    15.00 minutes and not covered)."""
    _, cov = sample
    table = pd.read_csv(written / "residents.csv", encoding="utf-8-sig", dtype={"id": str})
    res = cov.residents
    assert list(table["id"]) == list(res["id"].astype(str))
    for tier in TIERS:
        limit = cov.standards.for_tier(tier).minutes
        shown = table[f"minutes_{tier}"].to_numpy(float)
        assert ((shown <= limit) == res[f"covered_{tier}"].to_numpy()).all(), tier
    # every tier's standard is 15 minutes in the sample: the nearest of any tier agrees too
    assert ((table["minutes"].to_numpy(float) <= 15) == table["covered"]).all()
    row = table.loc[table["id"] == "R004578"].iloc[0]
    assert row["minutes_station"] > 15 and not row["covered"]
    # the user's filter now gives summary.json's figure
    summary = json.loads((written / "summary.json").read_text(encoding="utf-8"))
    station = table.loc[table["minutes_station"] <= 15, "population"].sum()
    assert station == summary["by_tier"]["station"]["population_covered"]


def test_population_served_per_site_is_unchanged(sample):  # noqa: F811
    _, cov = sample
    got = cov.service_areas.drop(columns="geometry").reset_index(drop=True)
    want = pd.read_csv(EXPECTED / "service_areas_population.csv", dtype={"site_id": str})
    assert list(got["site_id"]) == list(want["site_id"])
    assert list(got["population_served"]) == list(want["population_served"])
