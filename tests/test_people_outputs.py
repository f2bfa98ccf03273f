"""Tables and layers for people: Chinese workbooks a county office can read, a styled GeoPackage."""

from __future__ import annotations

import csv
import sqlite3
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
from _sample import sample  # noqa: F401  (session fixture)

from planner.gpkg import _rgba
from planner.inputs import read_candidates
from planner.region import _attach_units
from planner.report import write_analysis, write_suggestion
from planner.siting import suggest
from planner.tables import write_workbook
from planner.text import CANDIDATE_KINDS, TIERS

SAMPLE_CANDIDATES = Path(__file__).resolve().parents[1] / "sample_data" / "candidates.csv"


@pytest.fixture(scope="module")
def analysis_out(sample, tmp_path_factory):  # noqa: F811
    region, coverage = sample
    out = tmp_path_factory.mktemp("analysis")
    return write_analysis(coverage, region, out, map_html=False)


@pytest.fixture(scope="module")
def chinese_kinds(sample, tmp_path_factory):  # noqa: F811
    """The sample's candidates with every kind written in Chinese words, then suggest k=5."""
    region, coverage = sample
    frame = pd.read_csv(SAMPLE_CANDIDATES, dtype=str)
    words = {k: v["zh"] for k, v in CANDIDATE_KINDS.items()}
    words["idle_factory"] = "厂房"  # an alias: must come back as written, not as 闲置厂房
    frame["kind"] = frame["kind"].map(lambda k: words.get(k, k))
    folder = tmp_path_factory.mktemp("chinese-kinds")
    path = folder / "候选点.csv"
    frame.to_csv(path, index=False)
    cands, _ = read_candidates(path)
    cands = _attach_units(cands.to_crs(region.crs), region.units)
    own = replace(region, candidates=cands, _cache={})
    own._cache.update({k: v for k, v in region._cache.items() if k[1] != "candidates"})
    result = suggest(own, coverage, k=8, method="greedy")
    paths = write_suggestion(result, coverage, own, folder / "out", map_html=False)
    given = dict(zip(frame["id"], frame["kind"], strict=True))
    return result, paths, given


def sheet_rows(sheet):
    return [[c.value for c in row] for row in sheet.iter_rows()]


def test_the_unit_workbook_speaks_chinese_with_english_below(sample, analysis_out):  # noqa: F811
    _, coverage = sample
    book = openpyxl.load_workbook(analysis_out["by_unit_xlsx"])
    assert book.sheetnames[0] == "说明"
    sheet = book["分单元 By unit"]
    rows = sheet_rows(sheet)
    assert rows[0][:3] == ["级别", "代码", "名称"]
    assert rows[1][:3] == ["Level", "Code", "Name"]
    assert sheet.freeze_panes == "A3"
    col = rows[0].index("覆盖率")
    pop = rows[0].index("人口")
    assert rows[1][col] == "Coverage"
    data = rows[2:]
    assert len(data) == len(coverage.by_unit)
    for i in range(3, 3 + len(data)):
        assert sheet.cell(row=i, column=col + 1).number_format == "0.0%"
        assert sheet.cell(row=i, column=pop + 1).number_format == "#,##0"
    assert {r[0] for r in data} == {"乡镇", "村（社区）"}
    towns = [r for r in data if r[0] == "乡镇"]
    assert sum(r[pop] for r in towns) == int(coverage.residents["population"].sum())
    # every column wide enough for its Chinese header (two units a character)
    for j, header in enumerate(rows[0], start=1):
        letter = sheet.cell(row=1, column=j).column_letter
        assert sheet.column_dimensions[letter].width >= 2 * len(header)


def test_tiers_are_named_in_chinese_and_notes_explain_every_column(analysis_out):
    book = openpyxl.load_workbook(analysis_out["by_unit_xlsx"])
    tiers = sheet_rows(book["分层级 By tier"])
    assert tiers[0][0] == "层级"
    assert [r[0] for r in tiers[2:]] == [*(t["zh"] for t in TIERS.values()), "任一层级"]
    assert {r[1] for r in tiers[2:]} == {"步行"}
    notes = sheet_rows(book["说明"])
    explained = {(r[0], r[1]) for r in notes if r[0]}
    for name in book.sheetnames[1:]:
        for header in sheet_rows(book[name])[0]:
            assert (name, header) in explained, (name, header)
    options = {r[0]: r[1] for r in notes if r[0] and r[1]}
    assert options["标准·站 Standard (station)"].startswith("步行 15 分钟")
    assert options["区域 Region"] == "示范县"


def test_the_people_csv_has_two_header_rows_and_shown_numbers(sample, analysis_out):  # noqa: F811
    _, coverage = sample
    with open(analysis_out["by_unit_people_csv"], encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][5] == "人口" and rows[1][5] == "Population"
    first = coverage.by_unit.iloc[0]
    assert rows[2][5] == f"{first['population']:,}"
    assert rows[2][8] == f"{first['coverage'] * 100:.1f}%"
    # the machine CSV keeps its English keys and raw fractions
    machine = pd.read_csv(analysis_out["by_unit_csv"], encoding="utf-8-sig")
    assert {"population_uncovered", "coverage"} <= set(machine.columns)


def test_proposals_come_back_with_the_kind_words_as_given(chinese_kinds):
    result, paths, given = chinese_kinds
    book = openpyxl.load_workbook(paths["proposals_xlsx"])
    sheet = book["建议站点 Proposals"]
    rows = sheet_rows(sheet)
    head = rows[0]
    assert sheet.freeze_panes == "A3"
    ids = [r[head.index("候选点编号")] for r in rows[2:]]
    assert ids == list(result.proposals["candidate_id"])
    for r in rows[2:]:
        cid = r[head.index("候选点编号")]
        assert r[head.index("原填类型")] == given[cid]
        assert r[head.index("类型")] in {v["zh"] for v in CANDIDATE_KINDS.values()}
    j = head.index("新增覆盖人口") + 1
    assert sheet.cell(row=3, column=j).number_format == "#,##0"
    machine = pd.read_csv(paths["proposals_csv"], encoding="utf-8-sig")
    assert set(machine["kind"]) <= set(CANDIDATE_KINDS)  # stable keys for machines
    assert list(machine["kind_input"]) == [given[c] for c in machine["candidate_id"]]
    notes = {r[0]: r[1] for r in sheet_rows(book["说明"]) if r[0]}
    s = result.summary
    assert notes["覆盖率（现状） Coverage before"] == f"{s['coverage_before']:.1%}"
    assert notes["覆盖率（建成后） Coverage after"] == f"{s['coverage_after']:.1%}"


def test_a_name_that_looks_like_a_formula_stays_text(tmp_path):
    frame = pd.DataFrame({"name": ['=HYPERLINK("http://x")', "+1"], "population": [1200, 5]})
    path = write_workbook(tmp_path / "t.xlsx", {"s": frame}, title="t", options={})
    sheet = openpyxl.load_workbook(path)["s"]
    assert sheet["A3"].data_type == "s" and sheet["A3"].value.startswith("=HYPERLINK")
    assert sheet["B3"].value == 1200 and sheet["B3"].number_format == "#,##0"


def test_the_geopackage_holds_every_layer_with_a_style(sample, analysis_out):  # noqa: F811
    region, coverage = sample
    path = analysis_out["gpkg"]
    layers = {name for name, _ in pyogrio.list_layers(path)} - {"layer_styles"}
    assert layers == {"sites", "residents", "units", "gaps", "service_areas"}
    with sqlite3.connect(path) as db:
        styled = db.execute("SELECT f_table_name, styleQML, useAsDefault FROM layer_styles")
        styles = {name: qml for name, qml, default in styled if default}
    assert set(styles) == layers
    # the sites' style colours each tier as the web map does
    root = ET.fromstring(styles["sites"])
    cats = {c.get("value"): c.get("symbol") for c in root.iter("category")}
    assert set(cats) == set(TIERS)
    symbols = {s.get("name"): s for s in root.iter("symbol")}
    for tier, info in TIERS.items():
        colour = next(
            o.get("value") for o in symbols[cats[tier]].iter("Option") if o.get("name") == "color"
        )
        assert colour == _rgba(info["color"])
    residents = pyogrio.read_dataframe(path, layer="residents")
    assert len(residents) == len(coverage.residents)
    assert np.allclose(
        residents["minutes"].to_numpy(float),
        coverage.residents["minutes"].to_numpy(float),
        equal_nan=True,
    )
    units = pyogrio.read_dataframe(path, layer="units")
    assert units["coverage"].notna().all() and len(units) == len(region.units)


def test_the_suggestion_geopackage_adds_the_proposals(chinese_kinds):
    result, paths, _ = chinese_kinds
    layers = {name for name, _ in pyogrio.list_layers(paths["gpkg"])}
    assert {"proposals", "added_service_areas", "sites"} <= layers
    props = pyogrio.read_dataframe(paths["gpkg"], layer="proposals")
    assert list(props["candidate_id"]) == list(result.proposals["candidate_id"])
    with sqlite3.connect(paths["gpkg"]) as db:
        names = [r[0] for r in db.execute("SELECT f_table_name FROM layer_styles")]
    assert sorted(names) == sorted(layers - {"layer_styles"})


def test_the_gaps_that_remain_after_the_proposals_are_listed(sample, chinese_kinds):  # noqa: F811
    _, coverage = sample
    result, paths, _ = chinese_kinds
    book = openpyxl.load_workbook(paths["proposals_xlsx"])
    rows = sheet_rows(book["剩余空白区 Remaining gaps"])
    assert rows[0][:2] == ["空白区编号", "人口"]
    res = coverage.residents
    covered = int(res.loc[res["covered"], "population"].sum())
    left = int(res["population"].sum()) - covered - result.summary["population_newly_covered"]
    assert sum(r[1] for r in rows[2:]) == left


def test_a_text_fid_column_from_qgis_does_not_break_the_geopackage(tmp_path):
    # QGIS exports carry "fid"; GeoPackage keeps that name for its own ids.
    import geopandas as gpd
    import pyogrio
    import shapely

    from planner.gpkg import write_styled_geopackage

    units = gpd.GeoDataFrame(
        {"fid": ["a1", "b2"], "name": ["甲镇", "乙镇"], "level": ["town", "town"]},
        geometry=[shapely.box(117, 28, 117.1, 28.1), shapely.box(117.1, 28, 117.2, 28.1)],
        crs=4326,
    )
    path = write_styled_geopackage({"units": units}, tmp_path / "x.gpkg")
    back = pyogrio.read_dataframe(path, layer="units")
    assert list(back["fid_input"]) == ["a1", "b2"] and list(back["name"]) == ["甲镇", "乙镇"]
