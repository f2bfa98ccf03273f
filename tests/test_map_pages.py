"""Every map page says it is Chinese and is named: the region and what the map shows."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from _sample import sample  # noqa: F401  (session fixture)

from planner.maps import coverage_map, save_map
from planner.scenario import Scenario, compare
from planner.scenario_report import comparison_map
from planner.siting import suggest


class _Page(HTMLParser):
    """The ``lang`` of ``<html>`` and the text of ``<title>`` as a browser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.titles: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang")
        self._in_title = tag == "title"
        if self._in_title:
            self.titles.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.titles[-1] += data


def _read(m, tmp_path: Path) -> _Page:
    path = tmp_path / "map.html"
    save_map(m, path)  # as every command writes its map
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_the_analysis_map_is_named_for_its_region(sample, tmp_path):  # noqa: F811
    region, coverage = sample
    page = _read(coverage_map(coverage, sites=region.sites, units=region.units), tmp_path)
    assert page.lang == "zh-CN"
    assert page.titles == [f"{region.name} 新时代文明实践 15分钟服务圈"]
    town = _read(coverage_map(coverage, sites=region.sites, town="青山乡"), tmp_path)
    assert town.titles == [f"{region.name} 新时代文明实践 15分钟服务圈 · 青山乡"]


def test_the_proposals_and_scenario_maps_say_what_they_show(sample, tmp_path):  # noqa: F811
    region, coverage = sample
    best = suggest(region, coverage, k=2, method="greedy")
    m = coverage_map(coverage, sites=region.sites, proposals=best.proposals)
    assert _read(m, tmp_path).titles == [
        f"{region.name} 新时代文明实践 15分钟服务圈 · 建议新建站点"
    ]
    result = compare(region, Scenario(close=("S0012",)), before=coverage)
    page = _read(comparison_map(result, region), tmp_path)
    assert page.lang == "zh-CN"
    s = result.summary
    expected = (
        f"{region.name} 情景对比：覆盖率 {s['coverage_before']:.1%} → {s['coverage_after']:.1%}"
    )
    assert page.titles == [expected]


@pytest.mark.parametrize("name", ["<script>alert(1)</script>县", "{{ 7*7 }} 县"])
def test_a_title_is_text_whatever_the_name(sample, tmp_path, name):  # noqa: F811
    region, coverage = sample
    page = _read(coverage_map(coverage, sites=region.sites, title=name), tmp_path)
    assert page.titles == [name]  # shown as it is written, never run or rendered


def test_the_audit_map_is_named_for_the_audit(sample, tmp_path):  # noqa: F811
    from planner.audit import AuditFiles, audit_region
    from planner.audit_map import compliance_map

    region, coverage = sample
    result = audit_region(region, coverage, files=AuditFiles.sample())
    page = _read(compliance_map(coverage, result, sites=region.sites), tmp_path)
    assert page.lang == "zh-CN"
    assert page.titles == [f"{region.name} 新时代文明实践站点达标检查"]
