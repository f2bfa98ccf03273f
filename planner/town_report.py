"""A printable one-town report: an A4 HTML page and its PDF (printed by headless Chromium)."""

from __future__ import annotations

import functools
import html
import io
import logging
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.errors import InputError, NoCandidates
from planner.text import AUDIT_RULES, AUDIT_STATUS, CANDIDATE_KINDS, MODES, REPORT_WORDS, TIERS
from planner.vocab import find_town, town_mask

if TYPE_CHECKING:
    from planner.audit import Audit
    from planner.coverage import Coverage
    from planner.region import Region
    from planner.siting import Suggestion

log = logging.getLogger(__name__)

_GAP_COLOR = "#d7301f"
_UNCOVERED_COLOR = "#e31a1c"
_PROPOSAL_COLOR = "#ff7f00"


def town_figures(coverage: Coverage, town: str) -> dict[str, Any]:
    """Population, coverage and per-tier coverage of one town's residents."""
    res = coverage.residents
    mine = res[town_mask(res, town)]
    pop = mine["population"].to_numpy(float)
    total = float(pop.sum())
    tiers = []
    for tier, info in TIERS.items():
        ts = coverage.standards.for_tier(tier)
        covered = float((pop * mine[f"covered_{tier}"].to_numpy()).sum())
        tiers.append(
            {
                "tier": tier,
                "name": info["zh"],
                "rule": f"{MODES.get(ts.mode, {}).get('zh', ts.mode)} {ts.minutes:g} 分钟",
                "population_covered": round(covered),
                "coverage": covered / total if total else 0.0,
            }
        )
    covered = float((pop * mine["covered"].to_numpy()).sum())
    return {
        "town": town,
        "residents": len(mine),
        "population": round(total),
        "population_covered": round(covered),
        "population_uncovered": round(total - covered),
        "coverage": covered / total if total else 0.0,
        "tiers": tiers,
    }


def _table(
    headers: list[str], rows: list[list[str]], numeric: Collection[int] = frozenset()
) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='n'>{html.escape(c)}</td>" if j in numeric else f"<td>{html.escape(c)}</td>"
            for j, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def town_map_svg(
    region: Region,
    coverage: Coverage,
    town: str,
    *,
    proposals: gpd.GeoDataFrame | None = None,
) -> str:
    """A static map of the town (SVG, text drawn as outlines so no font is needed to show it)."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone

    from planner.charts import cjk_font

    cjk_font()
    res = coverage.residents
    mine = res[town_mask(res, town)]
    units = region.units
    fig = Figure(figsize=(7.0, 5.2), dpi=100)
    ax = fig.subplots()
    outline = _town_outline(units, town)
    box, pad = _frame(outline if outline is not None else mine)
    _draw_roads(ax, region, box)
    _draw_units(ax, units, town, outline)
    _draw_gaps(ax, coverage, mine, town)
    _draw_sites(ax, region.sites, box)
    _draw_proposals(ax, proposals)
    ax.set_xlim(box[0], box[2])
    ax.set_ylim(box[1], box[3])
    ax.set_aspect("equal")
    ax.set_axis_off()
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", fontsize=7, frameon=True, markerscale=0.8)
    _scale_bar(ax, box, pad)
    fig.tight_layout(pad=0.2)
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def _town_outline(units: gpd.GeoDataFrame | None, town: str) -> gpd.GeoDataFrame | None:
    """The town's boundary polygon, or ``None`` when the boundaries lack it."""
    if units is not None and len(units):
        town_poly = units[(units["level"] == "town").to_numpy() & town_mask(units, town)]
        if len(town_poly):
            return town_poly
    return None


def _frame(shown: gpd.GeoDataFrame) -> tuple[tuple[float, float, float, float], float]:
    """The map's box around ``shown`` (metric CRS) and the margin added on each side."""
    x0, y0, x1, y1 = shown.total_bounds
    pad = max(x1 - x0, y1 - y0) * 0.06 + 200
    return (x0 - pad, y0 - pad, x1 + pad, y1 + pad), pad


def _draw_roads(ax: Any, region: Region, box: tuple[float, float, float, float]) -> None:
    """The roads in the box, minor to major, in the web map's road colours."""
    from planner.map_layers import ROAD_CLASSES, road_classes

    net = region.network
    near = np.flatnonzero(net.edge_lines.overlaps(box))  # by bounding box, then exactly
    geoms = net.edge_lines.take(near).geoms()
    inside = shapely.intersects(geoms, shapely.box(*box))
    classes = road_classes(net.edge_highway[near])
    for name in ("minor", "medium", "major"):
        _types, color, weight = ROAD_CLASSES[name]
        mask = inside & (classes == name)
        if mask.any():
            gpd.GeoSeries(geoms[mask], crs=net.crs).plot(
                ax=ax, color=color, linewidth=weight * 0.45, zorder=1
            )


def _draw_units(
    ax: Any, units: gpd.GeoDataFrame | None, town: str, outline: gpd.GeoDataFrame | None
) -> None:
    """The town's villages with their names, and the town's outline dashed."""
    if units is None or not len(units):
        return
    villages = units[(units["level"] == "village").to_numpy() & town_mask(units, town)]
    if len(villages):
        villages.boundary.plot(ax=ax, color="#999999", linewidth=0.4, zorder=2)
        for name, pt in zip(villages["name"], villages.representative_point(), strict=True):
            ax.annotate(str(name), (pt.x, pt.y), fontsize=6, color="#555555", ha="center", zorder=6)
    if outline is not None:
        outline.boundary.plot(ax=ax, color="#555555", linewidth=1.0, linestyle="--", zorder=2)


def _draw_gaps(ax: Any, coverage: Coverage, mine: gpd.GeoDataFrame, town: str) -> None:
    """The town's gap areas and its uncovered residents."""
    gaps = coverage.gaps[town_mask(coverage.gaps, town)]
    if len(gaps):
        gaps.plot(ax=ax, color=_GAP_COLOR, alpha=0.3, edgecolor=_GAP_COLOR, linewidth=0.5, zorder=3)
    unc = mine[~mine["covered"].to_numpy()]
    if len(unc):
        ax.scatter(unc.geometry.x, unc.geometry.y, s=3, color=_UNCOVERED_COLOR, zorder=4, lw=0)


def _draw_sites(ax: Any, sites: gpd.GeoDataFrame, box: tuple[float, float, float, float]) -> None:
    """The sites in the box, one legend entry per tier."""
    for tier, info in TIERS.items():
        chosen = sites[(sites["tier"] == tier)]
        chosen = chosen[chosen.intersects(shapely.box(*box))]
        if len(chosen):
            ax.scatter(
                chosen.geometry.x,
                chosen.geometry.y,
                s=40 if tier in ("centre", "institute") else 22,
                color=info["color"],
                edgecolor="white",
                linewidth=0.8,
                zorder=5,
                label=info["zh"],
            )


def _draw_proposals(ax: Any, proposals: gpd.GeoDataFrame | None) -> None:
    """The proposed sites, numbered by rank."""
    if proposals is None or not len(proposals):
        return
    ax.scatter(
        proposals.geometry.x,
        proposals.geometry.y,
        s=70,
        color=_PROPOSAL_COLOR,
        edgecolor="black",
        linewidth=1,
        zorder=6,
        label=REPORT_WORDS["proposed"],
    )
    for r, pt in zip(proposals["rank"], proposals.geometry, strict=True):
        ax.annotate(str(r), (pt.x, pt.y), fontsize=6, ha="center", va="center", zorder=7)


def _scale_bar(ax: Any, box: tuple[float, float, float, float], pad: float) -> None:
    """A scale bar of a round length (1, 2 or 5 times a power of ten metres), bottom right."""
    width = box[2] - box[0]
    bar = 10 ** np.floor(np.log10(width / 4))
    bar *= 5 if width / 4 / bar >= 5 else 2 if width / 4 / bar >= 2 else 1
    sx, sy = box[2] - pad * 0.4 - bar, box[1] + pad * 0.4
    ax.plot([sx, sx + bar], [sy, sy], color="black", linewidth=2, zorder=8)
    label = f"{bar / 1000:g} 公里" if bar >= 1000 else f"{bar:g} 米"
    ax.annotate(
        label,
        (sx + bar / 2, sy),
        xytext=(0, 3),
        textcoords="offset points",
        ha="center",
        fontsize=7,
    )


def gap_village_labels(residents: gpd.GeoDataFrame, gaps: gpd.GeoDataFrame) -> dict[str, str]:
    """The villages each gap area spans, by ``gap_id``: its most populous village, plus
    "等N村" when its uncovered residents live in N > 1 villages."""
    if "village" not in residents or gaps.empty:
        return {}
    people = residents.loc[
        ~residents["covered"].to_numpy(bool) & (residents["population"].to_numpy() > 0),
        ["village", "geometry"],
    ]
    # A gap is the union of discs around its own uncovered residents, and gaps lie further
    # apart than a disc's radius: each uncovered resident falls in exactly its own gap.
    hit = gpd.sjoin(people, gaps[["gap_id", "geometry"]].to_crs(people.crs), predicate="within")
    spread = hit.dropna(subset=["village"]).groupby("gap_id")["village"].nunique()
    village = gaps.set_index("gap_id")["village"].astype(str)
    return {
        str(g): REPORT_WORDS["gap_villages"].format(village=village[g], n=int(n))
        if n > 1
        else village[g]
        for g, n in spread.items()
    }


def town_report_html(
    region: Region,
    coverage: Coverage,
    town: str,
    *,
    suggestion: Suggestion | None = None,
    note: str | None = None,
    audit: Audit | None = None,
) -> str:
    """The A4 page of one town: map, coverage per tier, villages, gaps, proposals, and the
    standards' status of its sites when an ``audit`` is given."""
    name, code = find_town(region.residents, town)
    w = REPORT_WORDS
    fig = town_figures(coverage, name)
    gaps = coverage.gaps[town_mask(coverage.gaps, name)].sort_values("population", ascending=False)
    proposals = suggestion.proposals if suggestion is not None else None
    parts = [
        *_heading(coverage, name, code, fig, gaps),
        f"<section class='map'>{town_map_svg(region, coverage, name, proposals=proposals)}</section>",
        f"<h2>{html.escape(w['by_tier'])}</h2>",
        _table(
            [w["tier"], w["rule"], w["covered"], w["coverage"]],
            [
                [t["name"], t["rule"], f"{t['population_covered']:,}", f"{t['coverage']:.1%}"]
                for t in fig["tiers"]
            ],
            numeric={2, 3},
        ),
        *_village_section(coverage, name),
    ]
    if len(gaps):
        parts += _gap_section(coverage, gaps)
    if suggestion is not None and proposals is not None and len(proposals):
        parts += _proposal_section(suggestion.summary, proposals)
    if audit is not None:
        parts += _standards_section(audit, name)
    if note:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    parts.append(f"<footer>{html.escape(w['footer'])}</footer>")
    title = html.escape(w["title"].format(region=coverage.region_name, town=name))
    return (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{_CSS}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )


def _heading(
    coverage: Coverage, name: str, code: str | None, fig: dict[str, Any], gaps: gpd.GeoDataFrame
) -> list[str]:
    """The page's title, its line of code, rule and date, and the town's headline figures."""
    w = REPORT_WORDS
    std = coverage.standards.default
    rule = f"{MODES.get(std.mode, {}).get('zh', std.mode)} {std.minutes:g} 分钟"
    return [
        f"<header><h1>{html.escape(w['title'].format(region=coverage.region_name, town=name))}</h1>",
        f"<div class='meta'>{html.escape(w['meta'].format(code=code or '—', rule=rule, day=date.today().isoformat()))}</div></header>",
        "<section class='figures'>",
        *(
            f"<div class='fig'><div class='v'>{html.escape(v)}</div><div class='k'>{html.escape(k)}</div></div>"
            for k, v in (
                (w["coverage"], f"{fig['coverage']:.1%}"),
                (w["population"], f"{fig['population']:,}"),
                (w["covered"], f"{fig['population_covered']:,}"),
                (w["uncovered"], f"{fig['population_uncovered']:,}"),
                (w["gaps"], f"{len(gaps)}"),
            )
        ),
        "</section>",
    ]


def _village_section(coverage: Coverage, name: str) -> list[str]:
    """The town's villages, the most uncovered people first."""
    w = REPORT_WORDS
    by_unit = coverage.by_unit
    villages = by_unit[(by_unit["level"] == "village") & (by_unit["town"].astype(str) == name)]
    villages = villages.sort_values(["population_uncovered", "population"], ascending=False)
    return [
        f"<h2>{html.escape(w['villages'])}</h2>",
        _table(
            [w["village"], w["population"], w["uncovered"], w["coverage"], w["mean_minutes"]],
            [
                [
                    str(r["name"]),
                    f"{r['population']:,}",
                    f"{r['population_uncovered']:,}",
                    "—" if pd.isna(r["coverage"]) else f"{r['coverage']:.1%}",
                    "—" if pd.isna(r["mean_minutes"]) else f"{r['mean_minutes']:.1f}",
                ]
                for r in villages.to_dict("records")
            ],
            numeric={1, 2, 3, 4},
        ),
    ]


def _gap_section(coverage: Coverage, gaps: gpd.GeoDataFrame) -> list[str]:
    """The town's 15 most populous gaps, each with its villages and nearest site."""
    w = REPORT_WORDS
    labels = gap_village_labels(coverage.residents, gaps.head(15))
    return [
        f"<h2>{html.escape(w['gap_list'])}</h2>",
        _table(
            [w["gap"], w["village"], w["population"], w["nearest"], w["minutes"]],
            [
                [
                    str(r.gap_id),
                    labels.get(str(r.gap_id), str(r.village)),
                    f"{r.population:,}",
                    w["no_site"] if pd.isna(r.nearest_site_name) else str(r.nearest_site_name),
                    "—" if pd.isna(r.minutes_min) else f"{r.minutes_min:g}",  # rounded up
                ]
                for r in gaps.head(15).itertuples()
            ],
            numeric={2, 4},
        ),
    ]


def _proposal_section(summary: dict[str, Any], proposals: gpd.GeoDataFrame) -> list[str]:
    """The proposed sites of the town, with coverage before -> after in the heading."""
    w = REPORT_WORDS
    heading = w["proposals"].format(
        before=summary["coverage_before"], after=summary["coverage_after"]
    )
    return [
        f"<h2>{html.escape(heading)}</h2>",
        _table(
            [w["rank"], w["name"], w["kind"], w["village"], w["newly"]],
            [
                [
                    str(r.rank),
                    str(r.name),
                    _kind(r),
                    str(getattr(r, "village", "") or ""),
                    f"{r.population_newly_covered:,.0f}",
                ]
                for r in proposals.itertuples()
            ],
            numeric={0, 4},
        ),
    ]


def _standards_section(audit: Audit, town: str) -> list[str]:
    """The town's audited sites: verdict and the rules each fails (failures first)."""
    sites = audit.sites[town_mask(audit.sites, town)]
    if sites.empty:
        return []
    w = REPORT_WORDS
    order = {"fail": 0, "no_data": 1, "pass": 2}
    sites = sites.assign(_o=sites["verdict"].map(order)).sort_values(["_o", "id"], kind="stable")
    counts = sites["verdict"].value_counts()
    head = w["standards"].format(
        passed=int(counts.get("pass", 0)),
        failed=int(counts.get("fail", 0)),
        no_data=int(counts.get("no_data", 0)),
    )

    def rules(text: Any) -> str:
        keys = [k for k in str(text or "").split(",") if k]
        return "、".join(AUDIT_RULES.get(k, {}).get("zh", k) for k in keys) or "—"

    return [
        f"<h2>{html.escape(head)}</h2>",
        _table(
            [w["name"], w["tier"], w["verdict"], w["failed_rules"]],
            [
                [
                    str(r["name"]),
                    TIERS.get(str(r["tier"]), {}).get("zh", str(r["tier"])),
                    AUDIT_STATUS.get(str(r["verdict"]), {}).get("zh", str(r["verdict"])),
                    rules(r["failed_rules"]),
                ]
                for r in sites.to_dict("records")
            ],
            numeric=set(),
        ),
    ]


def _kind(row: Any) -> str:
    given = getattr(row, "kind_input", None)
    if isinstance(given, str) and given and not given.isascii():
        return given
    kind = getattr(row, "kind", "")
    return CANDIDATE_KINDS.get(kind, {}).get("zh", kind)


_CSS = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: 'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'Microsoft YaHei',
  'PingFang SC', sans-serif; font-size: 10pt; color: #222; margin: 0; }
header h1 { font-size: 17pt; margin: 0 0 2mm; }
.meta { color: #666; font-size: 9pt; margin-bottom: 3mm; }
.figures { display: flex; gap: 3mm; margin-bottom: 3mm; }
.fig { flex: 1; border: 1px solid #ddd; border-radius: 2mm; padding: 2mm; text-align: center; }
.fig .v { font-size: 15pt; font-weight: bold; color: #2166ac; }
.fig .k { font-size: 8.5pt; color: #555; }
.map svg { width: 100%; height: auto; max-height: 120mm; }
h2 { font-size: 12pt; margin: 4mm 0 1.5mm; border-left: 3px solid #b2182b; padding-left: 2mm;
  break-after: avoid; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; }
th, td { border-bottom: 1px solid #ddd; padding: 1mm 2mm; text-align: left; }
th { background: #eef3f8; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr { break-inside: avoid; }
.note { color: #8c510a; }
footer { margin-top: 5mm; color: #888; font-size: 8pt; }
"""


def chromium_path() -> str | None:
    """The headless Chromium used to print PDFs (``SERVICECIRCLE_CHROMIUM`` overrides)."""
    given = os.environ.get("SERVICECIRCLE_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html_path: str | Path, pdf_path: str | Path, *, timeout: float = 120) -> Path:
    """Print an HTML file to PDF with headless Chromium (fonts are embedded by Chromium).

    Raises
    ------
    InputError
        When no Chromium is installed or it fails.
    """
    browser = chromium_path()
    if browser is None:
        msg = "cannot print the PDF: no Chromium found; install chromium (Debian: apt-get install chromium) or set SERVICECIRCLE_CHROMIUM; the HTML page was written"
        raise InputError(msg)
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path}",
            html_path.as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0 or not pdf_path.exists():
        msg = f"cannot print the PDF with {browser} (exit {done.returncode}): {done.stderr.strip()[-300:]}"
        raise InputError(msg)
    return pdf_path


@functools.cache
def _radical_map() -> dict[int, int]:
    """CJK radical code points -> the ideograph drawn by the same glyph of the installed font.

    Chromium writes a PDF's text layer from the font's glyphs back to the first code point
    that uses each glyph; in Noto CJK that is often a radical (⼭ U+2F2D for 山), and the PDF's
    text then does not match a search for 山.
    """
    out = {cp: ord(unicodedata.normalize("NFKC", chr(cp))) for cp in range(0x2F00, 0x2FD6)}
    found = (
        subprocess.run(
            ["fc-match", "-f", "%{file}", "Noto Sans CJK SC"],
            capture_output=True,
            text=True,
            check=False,
        )
        if shutil.which("fc-match")
        else None
    )
    path = found.stdout.strip() if found is not None and found.returncode == 0 else ""
    if not path or not Path(path).exists():
        return out
    try:
        from fontTools.ttLib import TTCollection, TTFont

        font = (
            TTCollection(path, lazy=True).fonts[0]
            if path.lower().endswith(".ttc")
            else TTFont(path, lazy=True)
        )
        cmap = font.getBestCmap()
    except Exception as exc:  # a font fontTools cannot read: keep the Kangxi mapping
        log.info("cannot read %s for radical mapping (%s)", path, exc)
        return out
    ideograph: dict[str, int] = {}
    for cp, glyph in sorted(cmap.items()):
        if 0x4E00 <= cp <= 0x9FFF:
            ideograph.setdefault(glyph, cp)
    out.update(
        {cp: ideograph[g] for cp, g in cmap.items() if 0x2E80 <= cp <= 0x2FDF and g in ideograph}
    )
    return out


def fix_text_layer(pdf_path: str | Path) -> int:
    """Map radicals in the PDF's ToUnicode tables back to ideographs; return how many."""
    from pypdf import PdfReader, PdfWriter

    table = _radical_map()
    writer = PdfWriter(clone_from=PdfReader(str(pdf_path)))
    changed = 0

    def repl(match: re.Match[bytes]) -> bytes:
        nonlocal changed
        cp = int(match.group(2), 16)
        if cp in table and table[cp] != cp:
            changed += 1
            return match.group(1) + f"<{table[cp]:04X}>".encode()
        return match.group(0)

    seen: set[int] = set()
    for page in writer.pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            todo = [font, *[d.get_object() for d in font.get("/DescendantFonts", [])]]
            for f in todo:
                cmap_ref = f.get("/ToUnicode")
                if cmap_ref is None or id(cmap_ref.get_object()) in seen:
                    continue
                stream = cmap_ref.get_object()
                seen.add(id(stream))
                data = re.sub(rb"(<[0-9A-Fa-f]+>\s*)<([0-9A-Fa-f]{4})>", repl, stream.get_data())
                stream.set_data(data)
    if changed:
        with open(pdf_path, "wb") as fh:
            writer.write(fh)
    return changed


def check_proposals(k: int) -> None:
    """Reject a negative number of proposals for a town report (0 asks for none)."""
    if k < 0:
        msg = f"--k must be 0 or more (k= in Python; 0: no proposals), got {k}"
        raise InputError(msg)


def write_town_report(
    region: Region,
    coverage: Coverage,
    town: str,
    out: str | Path,
    *,
    k: int = 3,
    pdf: bool = True,
    audit: Audit | None = None,
) -> dict[str, Path]:
    """Write ``<town>.html`` and ``<town>.pdf`` into ``out``; ``k`` proposals for the town (0: none)."""
    check_proposals(k)
    name, _ = find_town(region.residents, town)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    suggestion = note = None
    if k > 0 and region.candidates is not None and len(region.candidates):
        from planner.siting import suggest

        try:
            suggestion = suggest(region, coverage, k=k, town=name, time_limit=20)
        except InputError as exc:  # no usable candidate in the town: the report stands without
            why = exc.zh if isinstance(exc, NoCandidates) else str(exc)
            note = f"{REPORT_WORDS['no_proposals']}：{why}"
    page = town_report_html(region, coverage, name, suggestion=suggestion, note=note, audit=audit)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    paths = {"html": out / f"report_{safe}.html"}
    paths["html"].write_text(page, encoding="utf-8")
    if pdf:
        paths["pdf"] = print_pdf(paths["html"], out / f"report_{safe}.pdf")
        fix_text_layer(paths["pdf"])
    return paths
