"""Report charts with Chinese labels: coverage by tier and town, travel-time CDF, siting curves.

Every chart function returns a :class:`matplotlib.figure.Figure` that carries a title and axis
labels with units. Figures are not kept by pyplot (no build-up in long sessions, no double
display in Jupyter): leave one as the last expression of a cell to show it, and save it with
``fig.savefig("chart.png", dpi=150)``. Pass ``ax=`` to draw into an axes of your own layout.
"""

from __future__ import annotations

import logging
import re
import textwrap
import warnings
from functools import cache
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from planner.text import CHART_LABELS, MODES, TIERS, UNIT_LEVELS
from planner.vocab import UNKNOWN_TOWN, find_town, town_mask

if TYPE_CHECKING:
    from planner.coverage import Coverage

log = logging.getLogger(__name__)

# Preferred CJK families, Simplified Chinese first; the first one installed is used.
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans SC",
    "Sarasa Gothic SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "SimHei",
    "Droid Sans Fallback",
    "Noto Sans CJK TC",
    "Noto Sans CJK HK",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "AR PL UMing CN",
    "SimSun",
)

# Font files that may hold CJK glyphs (lower-case file names), tried when matplotlib's font
# cache predates the font installation: the cache is not refreshed when fonts are added.
_CJK_FILE = re.compile(
    r"cjk|sourcehan|wqy|wenquanyi|droidsansfallback|simhei|simsun|msyh|yahei|pingfang"
    r"|hiragino|heiti|sarasa|uming|ukai|notosanssc|notoserifsc"
)

_INSTALL_HINT = (
    "install one, e.g. `sudo apt-get install fonts-noto-cjk` (Debian/Ubuntu, also `make system`), "
    "`brew install --cask font-noto-sans-cjk-sc` (macOS) or Microsoft YaHei (Windows), "
    "then restart the Python kernel"
)


class MissingCJKFontWarning(UserWarning):
    """No font with Chinese glyphs is installed: Chinese chart labels would show as boxes."""


# Chart words, Chinese first (county officials read these), in one place per chart.


# --- fonts -------------------------------------------------------------------------------------


def cjk_font(*, configure: bool = True) -> str | None:
    """Find an installed font with Chinese glyphs and make matplotlib use it.

    Looks for the families in :data:`CJK_FAMILIES` (Noto Sans CJK SC first). Font files
    installed after matplotlib built its font cache are found too.

    Parameters
    ----------
    configure
        Put the font first in ``rcParams["font.sans-serif"]`` and make sans-serif the default
        family, so every later figure (also the caller's own) renders Chinese.

    Returns
    -------
    str or None
        The family name, or ``None`` after a :class:`MissingCJKFontWarning` when no CJK font
        is installed (Chinese labels would then render as empty boxes).
    """
    family = _find_cjk_family()
    if family is None:
        msg = f"no CJK font found: Chinese chart labels will render as empty boxes; {_INSTALL_HINT}"
        warnings.warn(msg, MissingCJKFontWarning, stacklevel=2)
        return None
    if configure:
        rest = [f for f in mpl.rcParams["font.sans-serif"] if f != family]
        mpl.rcParams["font.sans-serif"] = [family, *rest]
        mpl.rcParams["font.family"] = ["sans-serif"]
    return family


@cache
def _find_cjk_family() -> str | None:
    family = _known_cjk_family()
    if family is not None:
        return family
    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    added = 0
    for path in font_manager.findSystemFonts():
        if path not in known and _CJK_FILE.search(path.lower().replace(" ", "").replace("_", "")):
            try:
                font_manager.fontManager.addfont(path)
                added += 1
            except (OSError, RuntimeError, ValueError) as exc:  # unreadable or unsupported file
                log.debug("skipping font %s (%s)", path, exc)
    if added:
        log.info("added %d CJK font file(s) missing from matplotlib's font cache", added)
    return _known_cjk_family()


def _known_cjk_family() -> str | None:
    names = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in names:
            return family
    return None


def _start(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    cjk_font()
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    import matplotlib.pyplot as plt

    # Made through pyplot so Jupyter can render it, then released so pyplot does not keep it.
    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)
    return fig, fig.add_subplot()


def _mode_zh(modes: set[str]) -> str:
    only = next(iter(modes)) if len(modes) == 1 else None
    return MODES[only]["zh"] if only in MODES else "出行"  # 出行: travel, for mixed modes


def _modes(coverage: Coverage, tiers: list[str] | None = None) -> set[str]:
    std = coverage.standards
    return {std.for_tier(t).mode for t in (tiers or list(TIERS))}


def _minutes_column(tier: str | None) -> str:
    if tier is None or tier == "any":
        return "minutes"
    if tier not in TIERS:
        msg = f"unknown tier {tier!r}: use one of any, {', '.join(TIERS)}"
        raise ValueError(msg)
    return f"minutes_{tier}"


def _tier_name(tier: str | None) -> str:
    if tier is None or tier == "any":
        return CHART_LABELS["any_tier"]
    return f"{TIERS[tier]['zh']} {TIERS[tier]['en']}"


def _tick_label(tier: str) -> str:
    zh, en = _tier_name(tier).split(" ", 1)
    return f"{zh}\n{textwrap.fill(en, 18, break_long_words=False)}"


def _within(coverage: Coverage, tier: str | None, thresholds: list[float]) -> np.ndarray:
    """Residents x thresholds: reached within each threshold.

    At the standard itself the ``covered`` flags are used, so the figures equal the coverage
    tables (``minutes`` is rounded to 0.01 and would count 15.004 minutes as within 15).
    """
    res = coverage.residents
    std = coverage.standards
    tiers = list(TIERS) if tier in (None, "any") else [tier]
    standard = {std.for_tier(t).minutes for t in tiers}
    covered = "covered" if tier in (None, "any") else f"covered_{tier}"
    minutes = res[_minutes_column(tier)].to_numpy(float)
    out = np.zeros((len(res), len(thresholds)), bool)
    with np.errstate(invalid="ignore"):
        for i, t in enumerate(thresholds):
            same = standard == {t} and len({std.for_tier(x).mode for x in tiers}) == 1
            out[:, i] = res[covered].to_numpy(bool) if same else minutes <= t
    return out


def _shares(within: np.ndarray, pop: np.ndarray) -> np.ndarray:
    total = pop.sum()
    return within.T.astype(float) @ pop / total if total > 0 else np.zeros(within.shape[1])


# --- coverage ----------------------------------------------------------------------------------


def tier_coverage_chart(coverage: Coverage, *, ax: Axes | None = None) -> Figure:
    """Grouped bars: share of the population within each threshold (5/10/15 min), per tier.

    Parameters
    ----------
    coverage
        A :class:`planner.coverage.Coverage` (its ``by_tier`` table).
    ax
        Draw into this axes instead of a new figure.
    """
    fig, ax = _start(ax, (9, 5))
    table = coverage.by_tier
    thresholds = list(coverage.standards.thresholds)
    labels = [_tick_label(t) for t in table["tier"]]
    x = np.arange(len(table))
    width = 0.8 / max(len(thresholds), 1)
    colors = mpl.colormaps["Blues"](np.linspace(0.45, 0.9, len(thresholds)))
    for i, t in enumerate(thresholds):
        # At a tier's own standard the coverage column is exact (minutes are rounded to 0.01).
        at_standard = table["minutes"].to_numpy(float) == t
        values = np.where(at_standard, table["coverage"], table[f"coverage_{t:g}min"]).astype(float)
        bars = ax.bar(
            x + (i - (len(thresholds) - 1) / 2) * width,
            values,
            width,
            color=colors[i],
            label=CHART_LABELS["within"].format(minutes=t),
        )
        if i == len(thresholds) - 1:
            ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize=8, padding=2)
    ax.set_xticks(x, labels, fontsize=8, linespacing=1.1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1.08)
    ax.set_xlabel(CHART_LABELS["tier"])
    ax.set_ylabel(CHART_LABELS["coverage_pct"])
    mode = _mode_zh(_modes(coverage))
    ax.set_title(CHART_LABELS["by_tier_title"].format(region=coverage.region_name, mode=mode))
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def coverage_by_unit_chart(
    coverage: Coverage,
    *,
    level: str = "town",
    town: str | None = None,
    tier: str | None = None,
    thresholds: list[float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Horizontal bars per town (or village): share of its population within 5, 10 and 15 min.

    Bars for the thresholds are drawn over each other (each one contains the shorter ones);
    units are sorted so the worst served is on top. The dashed line is the share of everyone
    shown.

    Parameters
    ----------
    coverage
        A :class:`planner.coverage.Coverage` whose residents have ``town`` (and, for villages,
        ``village``) columns.
    level
        ``"town"`` or ``"village"`` (villages and communities).
    town
        Show only this town's residents (name or code), e.g. its villages.
    tier
        Count only sites of this tier (``"station"`` ...); default the nearest site of any tier.
    thresholds
        Minutes to show; default ``coverage.standards.thresholds``.
    ax
        Draw into this axes instead of a new figure.
    """
    thresholds = sorted(thresholds or coverage.standards.thresholds)
    names, shares, overall = _unit_shares(coverage, level, town, tier, thresholds)
    fig, ax = _start(ax, (8, 0.38 * len(names) + 2.2))
    y = np.arange(len(names))
    colors = mpl.colormaps["Blues"](np.linspace(0.35, 0.9, len(thresholds)))
    for i in range(len(thresholds) - 1, -1, -1):
        bars = ax.barh(
            y,
            shares[:, i],
            height=0.7,
            color=colors[i],
            label=CHART_LABELS["within"].format(minutes=thresholds[i]),
        )
        if i == len(thresholds) - 1:
            ax.bar_label(bars, labels=[f"{v:.1%}" for v in shares[:, i]], fontsize=8, padding=3)
    ax.axvline(
        overall,
        color="#b2182b",
        linestyle="--",
        linewidth=1,
        label=CHART_LABELS["all_line"].format(whole=town or coverage.region_name, share=overall),
    )
    ax.set_yticks(y, names, fontsize=9 if len(names) < 30 else 7)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(0, 1.12)
    ax.set_xlabel(CHART_LABELS["coverage_pct"])
    ax.set_ylabel(UNIT_LEVELS[level]["axis"])
    tiers = None if tier in (None, "any") else [tier]
    mode = _mode_zh(_modes(coverage, tiers))
    title = CHART_LABELS["by_unit_title"].format(
        region=town or coverage.region_name,
        unit=UNIT_LEVELS[level]["zh"],
        mode=mode,
        en=UNIT_LEVELS[level]["en"],
    )
    ax.set_title(f"{title}\n{_tier_name(tier)}", fontsize=11)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


def _unit_shares(
    coverage: Coverage, level: str, town: str | None, tier: str | None, thresholds: list[float]
) -> tuple[list[str], np.ndarray, float]:
    """Units (worst served first) x thresholds: population shares within each; and the share
    within the last threshold of everyone shown."""
    if level not in UNIT_LEVELS:
        msg = f"level must be 'town' or 'village', got {level!r}"
        raise ValueError(msg)
    res = coverage.residents
    if level not in res or (town is not None and "town" not in res):
        msg = f"residents have no {level!r} column; give it in the residents file or as boundaries"
        raise ValueError(msg)
    within = _within(coverage, tier, thresholds)
    pop = res["population"].to_numpy(float)
    units = res[level].fillna(UNKNOWN_TOWN).astype(str).to_numpy()
    keep = np.ones(len(res), bool)
    if town is not None:
        name, code = find_town(res, town)
        keep = town_mask(res, name, code=code)
    names = sorted(set(units[keep]))
    shares = np.array(
        [_shares(within[keep & (units == n)], pop[keep & (units == n)]) for n in names]
    )
    order = np.argsort(-shares[:, -1], kind="stable")  # barh draws the first row at the bottom
    overall = float(_shares(within[keep][:, -1:], pop[keep])[0])
    return [names[i] for i in order], shares[order], overall


def coverage_by_town_chart(
    coverage: Coverage,
    *,
    tier: str | None = None,
    thresholds: list[float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Bars per town: share of its population within 5, 10 and 15 minutes.

    The town level of :func:`coverage_by_unit_chart` (see there for the parameters).
    """
    return coverage_by_unit_chart(coverage, level="town", tier=tier, thresholds=thresholds, ax=ax)


def minutes_cdf_chart(
    coverage: Coverage,
    *,
    tiers: list[str] | None = None,
    max_minutes: float | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Population-weighted cumulative distribution of minutes to the nearest site.

    A point (m, p) reads: a share p of all residents reach a site within m minutes. Residents
    who reach no site count in the total, so a curve can stay below 100 %.

    Parameters
    ----------
    coverage
        A :class:`planner.coverage.Coverage`.
    tiers
        Curves to draw: ``"any"`` (nearest site of any tier) and tier keys; default ``any``
        and every tier that has sites.
    max_minutes
        Right end of the axis; default where 99 % of residents are reached, between twice the
        standard and four times it (at least 60 minutes).
    ax
        Draw into this axes instead of a new figure.
    """
    res = coverage.residents
    std = coverage.standards
    if tiers is None:
        tiers = [
            "any",
            *[
                t
                for t in coverage.by_tier["tier"]
                if t != "any" and int(coverage.by_tier.set_index("tier").loc[t, "sites"]) > 0
            ],
        ]
    limit = max_minutes or _default_limit(res["minutes"].to_numpy(float), std.default.minutes)
    pop = res["population"].to_numpy(float)
    total = pop.sum()
    fig, ax = _start(ax, (8, 5))
    for tier in tiers:
        minutes = res[_minutes_column(tier)].to_numpy(float)
        ok = np.isfinite(minutes)
        order = np.argsort(minutes[ok], kind="stable")
        m = minutes[ok][order]
        share = np.cumsum(pop[ok][order]) / total if total > 0 else np.zeros(len(m))
        m = np.r_[0.0, m, limit]
        share = np.r_[0.0, share, share[-1] if len(share) else 0.0]
        is_any = tier in (None, "any")
        ax.step(
            m,
            share,
            where="post",
            label=_tier_name(tier),
            color="black" if is_any else TIERS[tier]["color"],
            linewidth=2.2 if is_any else 1.2,
            alpha=1.0 if is_any else 0.85,
        )
    ax.axvline(
        std.default.minutes,
        color="grey",
        linestyle="--",
        linewidth=1,
        label=CHART_LABELS["standard"].format(minutes=std.default.minutes),
    )
    ax.set_xlim(0, limit)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    chosen = [t for t in tiers if t not in (None, "any")] or None
    mode = _mode_zh(_modes(coverage, chosen))
    ax.set_xlabel(CHART_LABELS["cdf_x"].format(mode=mode))
    ax.set_ylabel(CHART_LABELS["cdf_y"])
    ax.set_title(
        CHART_LABELS["cdf_title"].format(region=coverage.region_name, mode=mode), fontsize=11
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def _default_limit(minutes: np.ndarray, standard: float) -> float:
    finite = minutes[np.isfinite(minutes)]
    p99 = float(np.percentile(finite, 99)) if len(finite) else standard
    limit = max(2 * standard, min(max(60.0, 4 * standard), p99))
    return float(np.ceil(limit / 5) * 5)


# --- siting ------------------------------------------------------------------------------------


def coverage_curve_chart(curve: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Coverage against the number of new sites, with each site's marginal gain as bars.

    Draws a given table and solves nothing: make it with
    :meth:`planner.siting.Suggestion.coverage_curve` (or :func:`planner.siting.coverage_curve`
    for weights only).

    Parameters
    ----------
    curve
        One row per number of new sites ``k`` with ``gain_greedy`` and ``coverage_greedy`` (or
        ``newly_covered_greedy``), optionally the ``_exact`` columns; ``attrs`` with
        ``coverage_before`` and ``coverage_reachable`` (NaN when not weighed by population).
    ax
        Draw into this axes instead of a new figure.
    """
    by_population = bool(np.isfinite(curve.attrs.get("coverage_before", np.nan)))
    fig, ax = _start(ax, (9, 5))
    k = curve["k"].to_numpy()
    gain_ax = _gain_bars(ax, k, curve["gain_greedy"])
    column = "coverage" if by_population else "newly_covered"
    ax.plot(
        k,
        curve[f"{column}_greedy"],
        marker="o",
        markersize=3,
        color="#2166ac",
        label=CHART_LABELS["curve_greedy"],
    )
    if f"{column}_exact" in curve:
        ax.plot(
            k,
            curve[f"{column}_exact"],
            linestyle="--",
            color="#b2182b",
            label=CHART_LABELS["curve_exact"],
        )
    if by_population:
        before = curve.attrs["coverage_before"]
        reachable = curve.attrs["coverage_reachable"]
        for share, color, style, label in (
            (before, "grey", ":", "curve_before"),
            (reachable, "#1b7837", "-.", "curve_reachable"),
        ):
            line_label = CHART_LABELS[label].format(share=share)
            ax.axhline(share, color=color, linewidth=1, linestyle=style, label=line_label)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylabel(CHART_LABELS["curve_y"])
    else:
        ax.set_ylabel(CHART_LABELS["curve_y_weight"].format(weight=curve.attrs.get("weight", "")))
    ax.set_xlabel(CHART_LABELS["curve_x"])
    ax.set_xlim(0.3, k.max() + 0.7)
    ax.set_title(CHART_LABELS["curve_title"], fontsize=11)
    lines, labels = ax.get_legend_handles_labels()
    bars, bar_labels = gain_ax.get_legend_handles_labels()
    ax.legend(lines + bars, labels + bar_labels, loc="center right", fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.3)
    return fig


def _gain_bars(ax: Axes, k: np.ndarray, gains: pd.Series) -> Axes:
    """Each site's marginal gain as bars on a second y axis, drawn behind ``ax``'s lines."""
    gain_ax = ax.twinx()
    gain_ax.bar(
        k,
        gains,
        width=0.7,
        color="#fdae6b",
        alpha=0.6,
        label=CHART_LABELS["curve_gain_bars"],
        zorder=1,
    )
    gain_ax.set_ylabel(CHART_LABELS["curve_gain"])
    ax.set_zorder(gain_ax.get_zorder() + 1)
    ax.patch.set_visible(False)
    return gain_ax


def speed_sensitivity_chart(
    table: pd.DataFrame, *, minutes: float = 15.0, ax: Axes | None = None
) -> Figure:
    """Coverage at several walking speeds, for existing sites and with the proposed ones.

    Parameters
    ----------
    table
        One row per speed with ``speed_kmh`` and ``coverage`` (existing sites), and optionally
        ``coverage_after`` (with proposed sites), all shares between 0 and 1.
    minutes
        The time standard the coverage was computed for (labels the distance walked).
    ax
        Draw into this axes instead of a new figure.
    """
    missing = {"speed_kmh", "coverage"} - set(table.columns)
    if missing:
        msg = f"table needs columns speed_kmh and coverage (missing {sorted(missing)})"
        raise ValueError(msg)
    table = table.sort_values("speed_kmh")
    speed = table["speed_kmh"].to_numpy(float)
    fig, ax = _start(ax, (8, 5))
    series = [("coverage", CHART_LABELS["speed_before"], "#2166ac")]
    if "coverage_after" in table:
        series.append(("coverage_after", CHART_LABELS["speed_after"], "#ff7f00"))
    for column, label, color in series:
        values = table[column].to_numpy(float)
        ax.plot(speed, values, marker="o", color=color, label=label)
        for x, v in zip(speed, values, strict=True):
            ax.annotate(
                f"{v:.1%}",
                (x, v),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
                color=color,
            )
    ax.set_xticks(
        speed,
        [CHART_LABELS["speed_tick"].format(speed=s, metres=s / 3.6 * 60 * minutes) for s in speed],
        fontsize=8,
    )
    lo = float(np.nanmin(table[[c for c, _, _ in series]].to_numpy(float)))
    ax.set_ylim(max(0.0, lo - 0.1), 1.0)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(CHART_LABELS["speed_x"])
    ax.set_ylabel(CHART_LABELS["coverage_pct"])
    ax.set_title(CHART_LABELS["speed_title"].format(minutes=minutes), fontsize=11)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return fig
