"""Counties run as independent partitions on Dask and give the same numbers as alone."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.province import read_regions, run_regions
from planner.region import RegionFiles


def test_regions_on_dask_match_a_local_run(tmp_path):
    distributed = pytest.importorskip("distributed")
    sample = RegionFiles.sample()
    broken = RegionFiles(
        network=sample.network,
        sites=tmp_path / "missing.csv",
        residents=sample.residents,
        name="坏县",
    )
    regions = [sample, broken]
    local = run_regions(regions, cache_dir=tmp_path / "cache")
    with distributed.Client(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as client:
        remote = run_regions(
            regions, client=client, cache_dir=tmp_path / "cache", out=tmp_path / "out"
        )
    assert remote.loc[0, "population_covered"] == local.loc[0, "population_covered"]
    assert pd.isna(remote.loc[0, "error"])
    assert "missing.csv: file not found" in remote.loc[1, "error"]
    assert (tmp_path / "out" / "示范县" / "summary.json").exists()


def test_region_config_resolves_paths_relative_to_it(tmp_path):
    cfg = tmp_path / "regions.toml"
    cfg.write_text(
        '[[regions]]\nname = "甲县"\nnetwork = "a.osm"\nsites = "s.csv"\nresidents = "r.csv"\ncoord_sys = "gcj02"\n',
        encoding="utf-8",
    )
    (files,) = read_regions(cfg)
    assert files.network == str(tmp_path / "a.osm")
    assert files.coord_sys == "gcj02" and files.name == "甲县"
    cfg.write_text('[[regions]]\nname = "乙县"\n', encoding="utf-8")
    from planner.errors import InputError

    with pytest.raises(InputError, match="lacks network, sites, residents"):
        read_regions(cfg)
