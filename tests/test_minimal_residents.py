"""Residents of only the README's minimal columns (id, lon, lat, population) get every map."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.region import RegionFiles

runner = CliRunner()
SAMPLE = RegionFiles.sample()


@pytest.fixture(scope="module")
def minimal(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The sample's flags with residents of no village, town or other optional column."""
    path = tmp_path_factory.mktemp("minimal") / "residents.csv"
    table = pd.read_csv(SAMPLE.residents)
    table[["id", "lon", "lat", "population"]].to_csv(path, index=False)
    return [
        "--network",
        str(SAMPLE.network),
        "--sites",
        str(SAMPLE.sites),
        "--residents",
        str(path),
    ]


def _fields(page: str) -> list[list[str]]:
    """The fields of every tooltip and popup of a map page."""
    return [json.loads(f) for f in re.findall(r"let fields = (\[.*?\]);", page)]


def test_compare_draws_who_loses_without_villages(minimal: list[str], tmp_path: Path) -> None:
    out = tmp_path / "compare"
    done = runner.invoke(app, ["compare", *minimal, "--close", "S0012", "--out", str(out)])
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    changed = pd.read_csv(out / "changed_residents.csv")
    lost = changed[changed["change_kind"] == "lost"]
    assert summary["population_lost"] == int(lost["population"].sum()) > 0
    page = (out / "map.html").read_text(encoding="utf-8")
    assert json.dumps("失去覆盖的居民")[1:-1] in page  # folium writes layer names as JSON escapes
    assert not [f for f in _fields(page) if "village" in f]  # no field, no blank line
    assert ["population", "site_before", "site_after"] in _fields(page)


@pytest.mark.parametrize(
    "args",
    [["analyze"], ["suggest", "--k", "2", "--greedy", "--candidates", str(SAMPLE.candidates)]],
    ids=["analyze", "suggest"],
)
def test_analysis_maps_without_villages(
    minimal: list[str], tmp_path: Path, args: list[str]
) -> None:
    out = tmp_path / args[0]
    done = runner.invoke(app, [*args, *minimal, "--out", str(out)])
    assert done.exit_code == 0, done.output
    page = (out / "map.html").read_text(encoding="utf-8")
    fields = _fields(page)
    assert ["population", "minutes", "nearest_site"] in fields  # the uncovered, drawn
    assert not [f for f in fields if "village" in f]
