"""A rejected row of a workbook read sheet by sheet names its sheet: rows count per sheet."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import lonlat
from typer.testing import CliRunner

from planner.cli import app
from planner.errors import InputError
from planner.inputs import read_sites

HEADER = ["id", "name", "tier", "lon", "lat"]


def _site(sid: str, x: float, y: float, tier: str = "站") -> list[str]:
    lon, lat = lonlat(x, y)
    return [sid, f"{sid}站", tier, f"{lon:.7f}", f"{lat:.7f}"]


def _workbook(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        sheet.append(HEADER)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


@pytest.fixture
def two_sheets(tmp_path: Path) -> Path:
    """Sites on two sheets: each has a bad row 3, so the row number alone is ambiguous."""
    return _workbook(
        tmp_path / "sites.xlsx",
        {
            "雄石街道": [
                _site("A1", 250, 0),
                _site("A2", 500, 250, tier="火星站"),  # row 3: unknown tier
                _site("A3", 1500, 2500),  # row 4: 1.5 km north of the last road
            ],
            "花园街道": [
                _site("B1", 750, 1000),
                _site("A1", 0, 500),  # row 3: the id of row 2 of the other sheet
            ],
        },
    )


def test_rejected_csv_names_the_sheet_of_each_row(tmp_path, town_osm, write_table, two_sheets):
    home = lonlat(0, 0)
    residents = write_table(
        "residents.csv",
        ["id", "lon", "lat", "population"],
        [["R1", f"{home[0]:.7f}", f"{home[1]:.7f}", 5], ["R2", "", "", 3]],
    )
    out = tmp_path / "out"
    args = ["analyze", "--network", str(town_osm), "--sites", str(two_sheets)]
    args += ["--residents", str(residents), "--out", str(out), "--cache-dir", str(tmp_path / "c")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rejected = pd.read_csv(
        out / "rejected.csv", dtype={"row": int, "sheet": str}, encoding="utf-8-sig"
    ).fillna("")
    assert list(rejected.columns[:4]) == ["layer", "file", "sheet", "row"]
    got = rejected[["layer", "sheet", "row", "id"]].values.tolist()
    assert sorted(got) == [
        ["residents", "", 3, "R2"],  # a CSV row has no sheet
        ["sites", "花园街道", 3, "A1"],
        ["sites", "雄石街道", 3, "A2"],
        ["sites", "雄石街道", 4, "A3"],  # too far from a road, found while analysing
    ]
    reasons = rejected.set_index(["sheet", "row"])["reason"]
    assert "first used on row 2 of sheet '雄石街道'" in reasons[("花园街道", 3)]
    assert "farther than 500 m" in reasons[("雄石街道", 4)]


def test_a_workbook_without_usable_rows_names_rows_with_their_sheet(tmp_path):
    path = _workbook(
        tmp_path / "bad.xlsx",
        {"甲": [_site("A1", 0, 0, tier="火星站")], "乙": [_site("B1", 0, 0, tier="火星站")]},
    )
    with pytest.raises(InputError) as caught:
        read_sites(path)
    message = str(caught.value)
    assert "row 2 of sheet '甲': unknown tier" in message
    assert "row 2 of sheet '乙': unknown tier" in message


def test_a_single_sheet_or_csv_has_no_sheet_column(tmp_path):
    path = _workbook(tmp_path / "one.xlsx", {"甲": [_site("A1", 0, 0), _site("A1", 9, 9)]})
    _, rejected = read_sites(path)
    assert list(rejected.columns) == ["layer", "file", "row", "id", "reason"]
    assert rejected["reason"].tolist() == [
        "duplicate id (first used on row 2); give each row its own id"
    ]
