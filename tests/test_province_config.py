"""One regions file, one reader: `province --config` and `serve --config` read it alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.config import load_settings
from planner.errors import InputError
from planner.province import read_regions

TWO_COUNTIES = """\
[[regions]]
name = "甲县"
network = "data/a.osm"
sites = "data/s.csv"
residents = "../shared/r.csv"

[[regions]]
name = "乙县"
network = "place:乙县, 江西省"
sites = "/abs/s.csv"
residents = "r.csv"
"""


def test_both_commands_take_the_same_paths_from_one_file(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    cfg = folder / "regions.toml"
    cfg.write_text(TWO_COUNTIES, encoding="utf-8")
    province = read_regions(cfg)
    served = load_settings(cfg).regions
    # Relative to the file's folder, '..' folded; absolute paths and place queries kept.
    assert province[0].network == str(folder / "data" / "a.osm")
    assert province[0].residents == str(tmp_path / "shared" / "r.csv")
    assert province[1].network == "place:乙县, 江西省" and province[1].sites == "/abs/s.csv"
    for files, region in zip(province, served, strict=True):
        for key in ("network", "sites", "residents"):
            assert str(getattr(region, key)) == str(getattr(files, key)), key
        assert region.name == files.name


def test_a_region_that_is_not_a_table_is_named_by_its_number(tmp_path: Path) -> None:
    cfg = tmp_path / "regions.toml"
    cfg.write_text('regions = ["甲县"]\n', encoding="utf-8")
    for read in (read_regions, load_settings):
        with pytest.raises(InputError, match=r"regions\.toml: region 1 is not a table"):
            read(cfg)


def test_province_names_the_region_and_key_at_fault(tmp_path: Path) -> None:
    cfg = tmp_path / "regions.toml"
    cfg.write_text(
        TWO_COUNTIES.replace('residents = "r.csv"', 'residents = "r.csv"\ncolour = "red"'),
        encoding="utf-8",
    )
    with pytest.raises(
        InputError, match=r"regions\.toml: region 2 has unknown key\(s\) \['colour'\]"
    ):
        read_regions(cfg)
    cfg.write_text("[limits]\nmax_k = 5\n", encoding="utf-8")
    with pytest.raises(InputError, match="no \\[\\[regions\\]\\] tables; each needs name, network"):
        read_regions(cfg)
    # The server without [[regions]] serves its default, the bundled sample.
    assert [r.sample for r in load_settings(cfg).regions] == [True]
