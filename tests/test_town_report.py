"""A town's printable report: the PDF says the town's name and coverage, in real Chinese glyphs."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from _sample import sample  # noqa: F401  (session fixture)
from typer.testing import CliRunner

from planner.cli import app
from planner.town_report import chromium_path, write_town_report

pypdf = pytest.importorskip("pypdf")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="Chromium is not installed"),
]
TOWN = "青山乡"


@pytest.fixture(scope="module")
def report(sample, tmp_path_factory):  # noqa: F811
    region, coverage = sample
    out = tmp_path_factory.mktemp("town-report")
    return write_town_report(region, coverage, TOWN, out, k=3)


def town_coverage(coverage, town):
    res = coverage.residents
    mine = res[res["town"] == town]
    return mine.loc[mine["covered"], "population"].sum() / mine["population"].sum()


def test_the_pdf_text_holds_the_town_and_its_coverage(sample, report):  # noqa: F811
    _, coverage = sample
    reader = pypdf.PdfReader(report["pdf"])
    text = "".join(page.extract_text() for page in reader.pages)
    assert TOWN in text
    assert f"{town_coverage(coverage, TOWN):.1%}" in text
    assert "各村（社区）未覆盖人口排名" in text
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (210, 297)


def glyph_programs(reader, chars):
    """For each character, the drawing program of its glyph in an embedded Type 3 font."""
    found = {}
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            if font.get("/Subtype") != "/Type3" or "/ToUnicode" not in font:
                continue
            cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
            codes = {
                chr(int(dst, 16)): int(src, 16)
                for src, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]{4})>", cmap)
            }
            names, code = {}, 0
            for item in font["/Encoding"]["/Differences"]:
                if isinstance(item, int):
                    code = item
                else:
                    names[code] = item
                    code += 1
            for ch in chars:
                if ch in codes and ch not in found:
                    proc = font["/CharProcs"][names[codes[ch]]].get_object()
                    found[ch] = (proc.get_data(), font["/CharProcs"]["/g0"].get_object().get_data())
    return found


def test_the_chinese_is_drawn_with_real_glyphs_not_boxes(report, tmp_path):
    reader = pypdf.PdfReader(report["pdf"])
    programs = glyph_programs(reader, TOWN)
    if not programs:
        pytest.skip("this Chromium embeds fonts other than as Type 3; glyph check not possible")
    assert set(programs) == set(TOWN)
    drawn = [p for p, _ in programs.values()]
    notdef = next(iter(programs.values()))[1]
    assert len(set(drawn)) == len(TOWN), "different characters share one glyph (tofu)"
    for ch, (prog, _) in programs.items():
        assert prog != notdef, f"{ch} is drawn with the missing-glyph box"
        curves = len(re.findall(rb"\s[cl]\s", prog))
        assert curves > 12, f"{ch}: glyph of {curves} segments looks like a box"
    if shutil.which("pdftoppm"):  # the rendered page is kept as an artefact and is not blank
        from PIL import Image

        subprocess.run(
            ["pdftoppm", "-r", "60", "-f", "1", "-l", "1", "-png", str(report["pdf"]),
             str(tmp_path / "page")],
            check=True, timeout=60,
        )  # fmt: skip
        page = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
        dark = sum(n for n, v in page.getcolors(1 << 16) if v < 128)
        assert dark > 2000


def test_the_html_ranks_villages_by_uncovered_people(sample, report):  # noqa: F811
    _, coverage = sample
    page = report["html"].read_text(encoding="utf-8")
    assert "@page { size: A4" in page and "<svg" in page
    section = page.split("各村（社区）未覆盖人口排名")[1].split("</table>")[0]
    numbers = [
        int(x.replace(",", ""))
        for x in re.findall(r"<td class='n'>([\d,]+)</td><td class='n'>[\d.]+%", section)
    ]
    assert numbers and numbers == sorted(numbers, reverse=True)
    by_unit = coverage.by_unit
    worst = by_unit[(by_unit["level"] == "village") & (by_unit["town"] == TOWN)]
    assert numbers[0] == worst["population_uncovered"].max()
    assert "建议新建站点" in page


def test_an_unknown_town_is_named_in_a_one_line_error(tmp_path):
    done = CliRunner().invoke(app, ["report", "--town", "无此乡", "--out", str(tmp_path)])
    assert done.exit_code == 2
    assert "error:" in done.output and "无此乡" in done.output and TOWN in done.output
    assert "Traceback" not in done.output


def _gap_rows(page):
    section = page.split("服务空白区（人口最多的前 15 个）")[1].split("</table>")[0]
    return [
        re.findall(r"<td[^>]*>(.*?)</td>", row)
        for row in re.findall(r"<tr>(.*?)</tr>", section)
        if "<td" in row
    ]


def test_gaps_are_labelled_with_the_villages_they_span(sample):  # noqa: F811
    import shapely

    from planner.town_report import town_report_html

    region, coverage = sample
    rows = _gap_rows(town_report_html(region, coverage, TOWN))
    gaps = coverage.gaps.set_index("gap_id")
    res = coverage.residents
    out = res[~res["covered"] & (res["population"] > 0)]
    spans = 0
    for gap_id, label, population, *_ in rows:
        gap = gaps.loc[gap_id]
        inside = out[shapely.contains_xy(gap.geometry, out.geometry.x, out.geometry.y)]
        assert inside["population"].sum() == int(population.replace(",", ""))  # its own people
        villages = inside.groupby("village")["population"].sum()
        top = villages.sort_values(ascending=False).index[0]
        want = top if len(villages) == 1 else f"{top}等{len(villages)}村"
        assert label == want
        spans += len(villages) > 1
    assert spans >= 1  # the sample town has gaps across several villages


def test_a_gap_without_a_reachable_site_says_so_not_nan(sample):  # noqa: F811
    import dataclasses

    import numpy as np

    from planner.town_report import town_report_html

    region, coverage = sample
    gaps = coverage.gaps.copy()
    first = gaps.index[(gaps["town"] == TOWN).to_numpy()][0]
    gaps.loc[first, ["nearest_site", "nearest_site_name", "minutes_min"]] = np.nan
    page = town_report_html(region, dataclasses.replace(coverage, gaps=gaps), TOWN)
    assert "nan" not in page.lower().replace("nanum", "")
    row = next(r for r in _gap_rows(page) if r[0] == gaps.loc[first, "gap_id"])
    assert row[3:] == ["—（无可达站点）", "—"]


def test_the_report_shows_the_standards_status_of_the_towns_sites(sample):  # noqa: F811
    from planner.audit import AuditFiles, audit_region
    from planner.text import AUDIT_RULES
    from planner.town_report import town_report_html

    region, coverage = sample
    audit = audit_region(region, coverage, files=AuditFiles.sample())
    mine = audit.sites[audit.sites["town"].astype(str) == "青山乡"]
    counts = mine["verdict"].value_counts()
    page = town_report_html(region, coverage, "青山乡", audit=audit)
    head = (
        f"站点标准达标情况（{counts.get('pass', 0)} 达标 / {counts.get('fail', 0)} 不达标"
        f" / {counts.get('no_data', 0)} 缺少数据）"
    )
    assert head in page
    for row in mine[mine["verdict"] == "fail"].itertuples():
        for rule in str(row.failed_rules).split(","):
            assert AUDIT_RULES[rule]["zh"] in page
    assert "站点标准达标情况" not in town_report_html(region, coverage, "青山乡")
