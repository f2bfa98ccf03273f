"""Boundary polygons decide a resident's town and village; a column that disagrees is kept
as written, counted and warned about, and never splits a unit."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from planner.coverage import analyze
from planner.region import Region, RegionFiles
from planner.report import residents_table

SAMPLE = RegionFiles.sample()


@pytest.fixture(scope="module")
def relabelled(tmp_path_factory):
    """The sample with 20 青山乡 residents relabelled 城关镇 and no code columns (the user's
    res_wrongtown.csv), analysed, with the warnings logged while reading it."""
    folder = tmp_path_factory.mktemp("wrongtown")
    res = pd.read_csv(SAMPLE.residents, dtype=str)
    moved = res.index[res["town"] == "青山乡"][:20]
    res.loc[moved, "town"] = "城关镇"
    res = res.drop(columns=["town_code", "village_code"])
    res.to_csv(folder / "residents.csv", index=False)
    handler = _Records()
    logging.getLogger("planner.region").addHandler(handler)
    try:
        region = Region.from_files(
            SAMPLE, residents=folder / "residents.csv", cache_dir=folder / "cache"
        )
    finally:
        logging.getLogger("planner.region").removeHandler(handler)
    cov = analyze(region, service_areas=False)
    return res, res.loc[moved, "id"].tolist(), cov, handler.messages


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_one_name_per_code_and_the_town_keeps_its_people(relabelled):
    _, _, cov, _ = relabelled
    towns = cov.by_unit[cov.by_unit["level"] == "town"]
    assert towns.groupby("code")["name"].nunique().max() == 1
    assert towns["code"].is_unique
    # 青山乡's totals are those of the sample's own (correct) columns
    original = pd.read_csv(SAMPLE.residents, dtype={"population": int})
    want = original[original["town"] == "青山乡"]
    row = towns[towns["name"] == "青山乡"].iloc[0]
    assert row["residents"] == len(want)
    assert row["population"] == want["population"].sum()
    villages = cov.by_unit[cov.by_unit["level"] == "village"]
    assert villages["code"].is_unique


def test_the_disagreement_is_counted_warned_and_kept_as_written(relabelled):
    _, moved, cov, messages = relabelled
    assert cov.summary["residents_unit_column_overruled"] == 20
    warned = [m for m in messages if "differs from their own column" in m]
    assert len(warned) == 1
    assert warned[0].startswith("20 residents") and f"{moved[0]} 城关镇 -> 青山乡" in warned[0]
    table = residents_table(cov).set_index("id")
    assert (table.loc[moved, "town"] == "青山乡").all()
    assert (table.loc[moved, "town_input"] == "城关镇").all()
    assert list(table.columns[:5]) == ["population", "town", "village", "town_input", "minutes"]
    others = table.drop(index=moved)
    assert (others["town_input"] == others["town"]).all()
    assert "village_input" not in table  # every village column agreed with its polygon
