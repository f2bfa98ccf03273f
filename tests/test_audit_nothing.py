"""An audit without village boundaries says the five haves have no data, not "0 of 0"."""

from __future__ import annotations

from conftest import lonlat
from typer.testing import CliRunner

from planner.cli import app
from planner.text import AUDIT_NOTHING


def _at(x: float, y: float) -> list[str]:
    lon, lat = lonlat(x, y)
    return [f"{lon:.7f}", f"{lat:.7f}"]


def test_an_audit_without_villages_says_there_is_nothing_to_judge(tmp_path, town_osm, write_table):
    sites = write_table(
        "sites.csv",
        ["id", "name", "tier", "lon", "lat", "rooms", "staff"],
        [["S1", "甲站", "站", *_at(250, 0), 3, 1], ["S2", "乙站", "站", *_at(750, 1000), 1, 1]],
    )
    residents = write_table(
        "residents.csv",
        ["id", "lon", "lat", "population"],
        [["R1", *_at(0, 0), 10], ["R2", *_at(500, 500), 20]],
    )
    args = ["audit", "--network", str(town_osm), "--sites", str(sites)]
    args += ["--residents", str(residents), "--out", str(tmp_path / "out")]
    args += ["--cache-dir", str(tmp_path / "c")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    five = [line for line in lines if line.strip().startswith("five_haves")]
    assert len(five) == 1 and five[0].rstrip().endswith(AUDIT_NOTHING["rule"]), five
    assert "0 of 0" not in result.output
    assert f"villages meeting the five haves: {AUDIT_NOTHING['five_haves']}" in lines
    assert "无村（社区）边界" in AUDIT_NOTHING["five_haves"] and "no data" in AUDIT_NOTHING["rule"]
    # A rule judged on the two sites still prints its counts: one passes rooms, one fails.
    rooms = [line for line in lines if line.strip().startswith("rooms")]
    assert rooms[0].split()[-3:] == ["1", "1", "0"], rooms
