"""Report charts: titled, labelled with units, and their Chinese really drawn (no empty boxes)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from _sample import sample  # noqa: F401  (session fixture)
from matplotlib import font_manager
from matplotlib import image as mpimg
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text

from planner import charts
from planner.siting import suggest
from planner.text import CHART_LABELS

CJK = re.compile(r"[\u3400-\u9fff]")
UNIT = re.compile(r"\((%|[^)]*(分钟|min|个|人|km/h|公里)[^)]*)\)")


@pytest.fixture(scope="module")
def cjk_family() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", charts.MissingCJKFontWarning)
        family = charts.cjk_font()
    if family is None:
        pytest.skip(
            "no CJK font installed (Debian: apt-get install fonts-noto-cjk, or `make system`)"
        )
    return family


@pytest.fixture(scope="module")
def suggestion(sample):  # noqa: F811
    region, cov = sample
    return suggest(region, cov, k=8)


def _render(text: str, family: str) -> np.ndarray:
    fig = Figure(figsize=(1.2, 1.2), dpi=100)
    FigureCanvasAgg(fig)
    fig.text(0.5, 0.5, text, family=family, fontsize=48, ha="center", va="center")
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., 0].copy()


def _covers(path: str, text: str) -> bool:
    font = FT2Font(path)
    return all(font.get_char_index(ord(c)) != 0 for c in set(CJK.findall(text)))


def test_chinese_renders_as_distinct_glyphs_not_boxes(cjk_family):
    # A font without Chinese draws every character as the same empty box ("tofu"); the CJK
    # font must draw different characters differently.
    county, station = _render("县", cjk_family), _render("站", cjk_family)
    assert (county < 128).sum() > 50, "nothing drawn"
    assert not np.array_equal(county, station)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        box_a, box_b = _render("县", "DejaVu Sans"), _render("站", "DejaVu Sans")
    assert np.array_equal(box_a, box_b), "the tofu check would not notice missing glyphs"
    assert any("missing from font" in str(w.message) for w in caught)


def test_the_chosen_font_has_every_chinese_character_used(cjk_family):
    path = font_manager.findfont(
        font_manager.FontProperties(family=cjk_family), fallback_to_default=False
    )
    assert _covers(
        path, "".join(CHART_LABELS.values()) + "中心所站基地志愿服务站点家庭站乡镇村社区"
    )


def test_a_missing_cjk_font_is_a_clear_warning(monkeypatch):
    monkeypatch.setattr(charts, "_find_cjk_family", lambda: None)
    with pytest.warns(charts.MissingCJKFontWarning, match="fonts-noto-cjk"):
        assert charts.cjk_font() is None


def _charts(sample, suggestion):  # noqa: F811
    _, cov = sample
    curve = suggestion.coverage_curve(k_max=12)
    sensitivity = pd.DataFrame(
        {
            "speed_kmh": [3.6, 4.0, 4.5, 5.0],
            "coverage": [0.77, 0.80, 0.81, 0.82],
            "coverage_after": [0.82, 0.85, 0.87, 0.88],
        }
    )
    return {
        "tier_coverage": charts.tier_coverage_chart(cov),
        "coverage_by_town": charts.coverage_by_town_chart(cov),
        "coverage_by_village": charts.coverage_by_unit_chart(cov, level="village", town="青山乡"),
        "minutes_cdf": charts.minutes_cdf_chart(cov),
        "coverage_curve": charts.coverage_curve_chart(curve),
        "speed_sensitivity": charts.speed_sensitivity_chart(sensitivity),
    }


# The axes whose label must carry a unit (categorical axes such as towns need none).
VALUE_AXES = {
    "tier_coverage": ["y"],
    "coverage_by_town": ["x"],
    "coverage_by_village": ["x"],
    "minutes_cdf": ["x", "y"],
    "coverage_curve": ["x", "y", "y2"],
    "speed_sensitivity": ["x", "y"],
}


def test_each_chart_has_title_units_and_real_chinese(sample, suggestion, cjk_family, tmp_path):  # noqa: F811
    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()
    figures = _charts(sample, suggestion)
    assert plt.get_fignums() == open_before, "charts must not pile up in pyplot"
    for name, fig in figures.items():
        png = tmp_path / f"{name}.png"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.savefig(png, dpi=100)
        missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
        assert not missing, f"{name}: {missing[:3]}"
        assert png.stat().st_size > 10_000
        assert mpimg.imread(png).shape[2] in (3, 4)

        ax, *others = fig.axes
        assert CJK.search(ax.get_title()), f"{name}: title needs Chinese: {ax.get_title()!r}"
        labels = {"x": ax.get_xlabel(), "y": ax.get_ylabel()}
        if others:
            labels["y2"] = others[0].get_ylabel()
        assert all(labels.values()), f"{name}: empty axis label in {labels}"
        for axis in VALUE_AXES[name]:
            assert UNIT.search(labels[axis]), f"{name}: {axis} label has no unit: {labels[axis]!r}"
            assert CJK.search(labels[axis]), f"{name}: {axis} label needs Chinese"
        for text in fig.findobj(Text):
            content = text.get_text()
            if CJK.search(content):
                path = font_manager.findfont(text.get_fontproperties())
                assert _covers(path, content), f"{name}: {content!r} drawn with {path}"


def test_coverage_curve_shows_diminishing_returns(suggestion):
    curve = suggestion.coverage_curve()
    gains = curve["gain_greedy"].to_numpy()
    assert (np.diff(gains) <= 1e-9).all(), "greedy adds the best site first"
    assert (np.diff(curve["coverage_greedy"]) >= 0).all()
    assert (curve["newly_covered_exact"] >= curve["newly_covered_greedy"] - 1e-6).all()
    before = suggestion.summary["coverage_before"]
    assert curve.loc[7, "coverage_exact"] == pytest.approx(
        suggestion.summary["coverage_after"], abs=1e-4
    )
    assert curve["coverage_greedy"].iloc[-1] == pytest.approx(curve.attrs["coverage_reachable"])
    assert curve.attrs["coverage_before"] == before


def test_town_bars_agree_with_the_coverage_table(sample):  # noqa: F811
    _, cov = sample
    fig = charts.coverage_by_town_chart(cov)
    ax = fig.axes[0]
    towns = [t.get_text() for t in ax.get_yticklabels()]
    outer = [p for p in ax.patches][: len(towns)]  # the standard's bars are drawn first
    table = cov.by_unit.query("level == 'town'").set_index("name")["coverage"]
    for town, bar in zip(towns, outer, strict=True):
        assert bar.get_width() == pytest.approx(table[town], abs=1e-4), town
