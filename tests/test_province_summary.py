"""The province summary people open: Chinese headers, a 说明 sheet, no folder that is not there."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import sample_province_config

from planner.province import run_province
from planner.region import RegionFiles


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A province of the sample (甲县) and a county whose sites file is missing (坏县)."""
    folder = tmp_path_factory.mktemp("province")
    sites = [("甲县", RegionFiles.sample().sites), ("坏县", folder / "missing.csv")]
    cfg = sample_province_config(folder, sites)
    out = folder / "out"
    run = run_province(cfg, out, workers=0, maps=False, cache_dir=folder / "cache")
    assert list(run.counties["status"]) == ["done", "failed"]
    return out


def test_a_failed_county_names_no_folder(province: Path) -> None:
    """A folder column pointed at ``out/坏县``, which no run had made."""
    table = pd.read_csv(province / "province_summary.csv", encoding="utf-8-sig")
    done, failed = table.iloc[0], table.iloc[1]
    assert Path(done["folder"]) == province / "甲县"
    assert (Path(done["folder"]) / "summary.json").exists()
    assert pd.isna(failed["folder"])  # blank: it has no outputs
    assert "missing.csv" in failed["error"]
    assert not (province / "坏县").exists()


def test_the_summary_workbook_is_for_people(province: Path) -> None:
    book = openpyxl.load_workbook(province / "province_summary.xlsx")
    assert book.sheetnames == ["说明", "县市区 Counties", "失败 Failed"]
    counties = book["县市区 Counties"]
    zh = [c.value for c in counties[1]]
    en = [c.value for c in counties[2]]
    assert zh[:6] == ["县市区", "居民点数", "站点数", "总人口", "已覆盖人口", "覆盖率"]
    assert en[:3] == ["Region", "Resident points", "Sites"]
    assert all(not any("a" <= ch <= "z" for ch in h) for h in zh if h != "CPU 时间（秒）")
    assert counties.freeze_panes == "A3"
    rows = {r[0]: dict(zip(zh, r, strict=True)) for r in counties.iter_rows(3, values_only=True)}
    summary = json.loads((province / "甲县" / "summary.json").read_text(encoding="utf-8"))
    assert rows["甲县"]["已覆盖人口"] == summary["population_covered"]
    assert rows["甲县"]["覆盖率"] == pytest.approx(summary["coverage"])
    assert counties.cell(row=3, column=zh.index("覆盖率") + 1).number_format == "0.0%"
    assert rows["甲县"]["状态"] == "done 已完成" and rows["坏县"]["状态"] == "failed 失败"
    assert rows["坏县"]["输出文件夹"] is None
    failed = list(book["失败 Failed"].iter_rows(values_only=True))
    assert failed[0] == ("县市区", "错误") and failed[2][0] == "坏县"
    assert "missing.csv" in failed[2][1]
    notes = [r[1] for r in book["说明"].iter_rows(values_only=True) if r[0] == "县市区 Counties"]
    assert "覆盖率" in notes and "输出文件夹" in notes  # every column explained
    people = pd.read_csv(province / "province_summary_zh.csv", encoding="utf-8-sig", header=[0, 1])
    assert list(people.columns[:2]) == [("县市区", "Region"), ("居民点数", "Resident points")]
    assert list(people[("状态", "Status")]) == ["done 已完成", "failed 失败"]
