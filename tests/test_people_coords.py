"""The people's tables (XLSX, _zh.csv) carry coordinates in the system the inputs came in:
points given in GCJ-02 (Amap) paste back into Amap from the proposals and gaps tables."""

from __future__ import annotations

import csv

import numpy as np
import openpyxl
import pandas as pd
import pytest

from planner.coords import wgs84_to_gcj02
from planner.coverage import analyze
from planner.outputs import after_proposals
from planner.region import Region, RegionFiles
from planner.siting import suggest
from planner.tables import write_suggestion_tables

SAMPLE = RegionFiles.sample()


@pytest.fixture(scope="module")
def gcj(tmp_path_factory):
    """The sample with its sites, residents and candidates written in GCJ-02, a 3-site
    suggestion, and its people's tables."""
    folder = tmp_path_factory.mktemp("gcj02")
    files = {}
    for layer in ("sites", "residents", "candidates"):
        frame = pd.read_csv(getattr(SAMPLE, layer), dtype=str)
        lon, lat = wgs84_to_gcj02(frame["lon"].astype(float), frame["lat"].astype(float))
        frame["lon"], frame["lat"] = np.round(lon, 7), np.round(lat, 7)
        frame.to_csv(folder / f"{layer}.csv", index=False)
        files[layer] = folder / f"{layer}.csv"
    region = Region.from_files(SAMPLE, coord_sys="gcj02", cache_dir=folder / "cache", **files)
    cov = analyze(region, service_areas=False)
    result = suggest(region, cov, k=3, method="greedy")
    after = after_proposals(result, cov, region)
    paths = write_suggestion_tables(result, cov, region, folder, remaining_gaps=after.gaps)
    given = pd.read_csv(files["candidates"], dtype={"id": str}).set_index("id")
    return result, paths, given


def _sheet(path, index):
    rows = list(openpyxl.load_workbook(path).worksheets[index].iter_rows(values_only=True))
    return rows[0], rows[1], rows[2:]


def test_proposals_carry_the_amap_coordinates_as_given(gcj):
    result, paths, given = gcj
    zh, en, rows = _sheet(paths["proposals_xlsx"], 1)
    assert "经度(GCJ-02)" in zh and "纬度(GCJ-02)" in zh and "Lon (GCJ-02)" in en
    table = pd.DataFrame(rows, columns=zh)
    assert len(table) == len(result.proposals) == 3
    want = given.loc[table["候选点编号"]]
    # the GCJ-02 columns are the points as the user gave them (to 6 decimals, ~0.1 m)
    assert np.abs(table["经度(GCJ-02)"].to_numpy(float) - want["lon"].to_numpy()).max() < 2e-6
    assert np.abs(table["纬度(GCJ-02)"].to_numpy(float) - want["lat"].to_numpy()).max() < 2e-6
    # and WGS84 beside them is hundreds of metres away (the offset that misled the user)
    assert np.abs(table["经度"].to_numpy(float) - want["lon"].to_numpy()).min() > 1e-3
    for col in ("经度", "纬度", "经度(GCJ-02)", "纬度(GCJ-02)"):  # 6 decimals, not 13
        values = table[col].to_numpy(float)
        assert (np.round(values, 6) == values).all(), col


def test_the_zh_csv_and_the_gap_sheet_have_them_too(gcj):
    _, paths, _ = gcj
    with paths["proposals_people_csv"].open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    xlsx_zh, _, xlsx_rows = _sheet(paths["proposals_xlsx"], 1)
    assert rows[0] == list(xlsx_zh)
    at = rows[0].index("经度(GCJ-02)")
    assert [r[at] for r in rows[2:]] == [f"{r[at]:.6f}" for r in xlsx_rows]
    zh, _, gaps = _sheet(paths["proposals_xlsx"], 2)
    assert "中心经度(GCJ-02)" in zh and "中心纬度(GCJ-02)" in zh
    table = pd.DataFrame(gaps, columns=zh)
    lon, lat = wgs84_to_gcj02(table["中心经度"].to_numpy(float), table["中心纬度"].to_numpy(float))
    assert np.abs(table["中心经度(GCJ-02)"].to_numpy(float) - lon).max() < 1e-6
    assert np.abs(table["中心纬度(GCJ-02)"].to_numpy(float) - lat).max() < 1e-6
