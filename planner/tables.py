"""Tables for people: Chinese-headed XLSX and CSV with formatted numbers and a 说明 sheet.

Machine-readable CSV/JSON (written by :mod:`planner.report`) keep stable English keys; the
tables here translate headers, tier and kind names to Chinese, show coverage as percentages
with one decimal and populations with thousands separators, freeze the header rows and explain
every column and the run's options on a 说明 sheet.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from planner.coords import COORD_SYSTEMS, from_wgs84, input_coord_columns
from planner.text import CANDIDATE_KINDS, COLUMNS, MODES, TABLE_WORDS, TIERS

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.worksheet import Worksheet

    from planner.coverage import Coverage
    from planner.region import Region
    from planner.siting import Suggestion

log = logging.getLogger(__name__)

_FORMATS = {
    "pct": "0.0%",
    "pctpt": "+0.0%;-0.0%;0.0%",
    "int": "#,##0",
    "min": "0.00",  # as written (rounded up to 0.01): one decimal would hide 15.01 as 15.0
    "coord": "0.000000",
    "text": "@",
}
_HEADER_ROWS = 2
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def column_info(key: str) -> dict[str, str]:
    """Chinese and English header, number format and meaning of a column key."""
    if key in COLUMNS:
        return COLUMNS[key]
    m = re.fullmatch(r"coverage_(\d+(?:\.\d+)?)min", key)
    if m:
        n = m.group(1)
        return {
            "zh": f"{n} 分钟覆盖率",
            "en": f"Coverage within {n} min",
            "fmt": "pct",
            "note": f"{n} 分钟内可到达该层级站点的人口比例",
        }
    for prefix, zh, en, fmt in (
        ("coverage_", "覆盖率·", "Coverage ", "pct"),
        ("minutes_", "用时·", "Minutes ", "min"),
        ("site_", "最近站点·", "Nearest site ", "text"),
    ):
        tier = key.removeprefix(prefix)
        if key.startswith(prefix) and tier in TIERS:
            return {
                "zh": f"{zh}{TIERS[tier]['zh']}",
                "en": f"{en}({TIERS[tier]['en']})",
                "fmt": fmt,
                "note": f"{COLUMNS[prefix.rstrip('_') if prefix != 'site_' else 'nearest_site']['note']}（{TIERS[tier]['zh']}）",
            }
    return {"zh": key, "en": key, "fmt": "text", "note": ""}


def for_people(frame: pd.DataFrame) -> pd.DataFrame:
    """The same table with tier, level, mode and kind keys written in Chinese.

    ``kind`` becomes the Chinese kind name; when the input's own words are known
    (``kind_input``) they are kept beside it unchanged.
    """
    out = pd.DataFrame(frame).copy()
    if "geometry" in out:
        out = out.drop(columns="geometry")
    zh = {key: info["zh"] for key, info in TIERS.items()} | {"any": TABLE_WORDS["any_tier"]}
    for col in ("tier", "nearest_tier"):
        if col in out:
            out[col] = out[col].map(lambda v: zh.get(v, v))
    if "level" in out:
        levels = {"town": TABLE_WORDS["town_level"], "village": TABLE_WORDS["village_level"]}
        out["level"] = out["level"].map(lambda v: levels.get(v, v))
    if "mode" in out:
        out["mode"] = out["mode"].map(lambda v: MODES.get(v, {}).get("zh", v))
    if "kind" in out:
        out["kind"] = out["kind"].map(lambda v: CANDIDATE_KINDS.get(v, {}).get("zh", v))
    out = out.drop(columns=[c for c in ("label", "source_row") if c in out])
    return out


def write_workbook(
    path: str | Path,
    sheets: Mapping[str, pd.DataFrame],
    *,
    title: str,
    options: Mapping[str, Any],
) -> Path:
    """Write ``sheets`` as a workbook people read, with a 说明 sheet first.

    Parameters
    ----------
    path
        The ``.xlsx`` file.
    sheets
        Sheet name -> table with English column keys (translated with :func:`column_info`);
        run the table through :func:`for_people` first to get Chinese tier and kind names.
    title
        What the workbook is, at the top of the 说明 sheet.
    options
        The run's options, listed on the 说明 sheet (label -> value).

    Returns
    -------
    Path
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    path = Path(path)
    book = Workbook()
    notes = book.active
    notes.title = TABLE_WORDS["notes_sheet"]
    style = _HeaderStyle(
        bold=Font(bold=True),
        fill=PatternFill("solid", fgColor="DDEBF7"),
        en_font=Font(italic=True, color="666666", size=9),
    )
    for name, frame in sheets.items():
        _write_sheet(book.create_sheet(name[:31]), frame, style)
    _write_notes(notes, sheets, title=title, options=options, style=style)
    path.parent.mkdir(parents=True, exist_ok=True)
    inert_formulas(book)
    book.save(path)
    fix_workbook_times(path)
    return path


class _HeaderStyle(NamedTuple):
    """The look of header rows: bold, a light blue fill, the English line small and grey."""

    bold: Font
    fill: PatternFill
    en_font: Font


def _write_sheet(sheet: Worksheet, frame: pd.DataFrame, style: _HeaderStyle) -> None:
    """One table: Chinese and English header rows, formatted cells, widths, frozen header."""
    from openpyxl.styles import Alignment

    keys = list(frame.columns)
    infos = [column_info(k) for k in keys]
    for j, info in enumerate(infos, start=1):
        top = sheet.cell(row=1, column=j, value=info["zh"])
        top.font, top.fill = style.bold, style.fill
        top.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sub = sheet.cell(row=2, column=j, value=info["en"])
        sub.font, sub.fill = style.en_font, style.fill
        sub.alignment = Alignment(horizontal="center")
    values = frame.to_numpy(dtype=object)
    for i, row in enumerate(values, start=_HEADER_ROWS + 1):
        for j, value in enumerate(row, start=1):
            _set(sheet.cell(row=i, column=j), value, infos[j - 1]["fmt"])
    for j, info in enumerate(infos, start=1):
        letter = sheet.cell(row=1, column=j).column_letter
        shown = [info["zh"], info["en"], *(_shown(v, info["fmt"]) for v in values[:500, j - 1])]
        sheet.column_dimensions[letter].width = min(max(_width(s) for s in shown) + 2, 42)
    sheet.freeze_panes = sheet.cell(row=_HEADER_ROWS + 1, column=1)
    if len(values):
        sheet.auto_filter.ref = f"A2:{sheet.cell(row=2 + len(values), column=len(keys)).coordinate}"


def _write_notes(
    notes: Worksheet,
    sheets: Mapping[str, pd.DataFrame],
    *,
    title: str,
    options: Mapping[str, Any],
    style: _HeaderStyle,
) -> None:
    """The 说明 sheet: what the workbook is, every column of every sheet, the run's options."""
    from openpyxl.styles import Font

    notes.append([TABLE_WORDS["notes_title"].format(title=title)])
    notes["A1"].font = Font(bold=True, size=14)
    notes.append([TABLE_WORDS["machine_note"]])
    notes.append([])
    notes.append([TABLE_WORDS[k] for k in ("col_sheet", "col_zh", "col_en", "col_note")])
    for cell in notes[notes.max_row]:
        cell.font, cell.fill = style.bold, style.fill
    for name, frame in sheets.items():
        for key in frame.columns:
            info = column_info(key)
            notes.append([name, info["zh"], info["en"], info["note"]])
    notes.append([])
    notes.append([TABLE_WORDS["options_title"]])
    notes.cell(row=notes.max_row, column=1).font = style.bold
    notes.append([TABLE_WORDS["option"], TABLE_WORDS["value"]])
    for cell in notes[notes.max_row]:
        cell.font, cell.fill = style.bold, style.fill
    for label, value in options.items():
        _set(notes.cell(row=notes.max_row + 1, column=1), str(label), "text")
        _set(notes.cell(row=notes.max_row, column=2), _option_text(value), "text")
    for letter, width in zip("ABCD", (26, 28, 30, 60), strict=True):
        notes.column_dimensions[letter].width = width


def write_people_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """A CSV for people: Chinese header row, English header row, numbers as they are shown.

    Encoded UTF-8 with a byte-order mark so that Excel opens the Chinese correctly.
    """
    path = Path(path)
    infos = [column_info(k) for k in frame.columns]
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([i["zh"] for i in infos])
        writer.writerow([i["en"] for i in infos])
        for row in frame.to_numpy(dtype=object):
            writer.writerow(
                [_safe_text(_shown(v, i["fmt"])) for v, i in zip(row, infos, strict=True)]
            )
    return path


def analysis_options(coverage: Coverage, region: Region) -> dict[str, Any]:
    """The options of an ``analyze`` run, labelled for the 说明 sheet."""
    std = coverage.standards
    out: dict[str, Any] = {"区域 Region": coverage.region_name}
    files = getattr(region, "files", None)
    if files is not None:
        for key, label in (
            ("network", "路网 Network"),
            ("sites", "站点 Sites"),
            ("residents", "居民 Residents"),
            ("units", "行政边界 Units"),
            ("candidates", "候选点 Candidates"),
            ("standards", "标准 Standards"),
        ):
            value = getattr(files, key, None)
            if value:
                out[label] = Path(str(value)).name
    for tier, info in TIERS.items():
        ts = std.for_tier(tier)
        speed = std.speed_of(ts)
        mode = MODES.get(ts.mode, {}).get("zh", ts.mode)
        text = f"{mode} {ts.minutes:g} 分钟"
        if speed:
            text += f"（{speed:g} 公里/小时）"
        out[f"标准·{info['zh']} Standard ({tier})"] = text
    out["最远接入道路距离 Max snap (m)"] = std.max_snap_m
    out["统计时间阈值 Thresholds (min)"] = ", ".join(f"{t:g}" for t in std.thresholds)
    return out


def write_analysis_tables(coverage: Coverage, region: Region, out: str | Path) -> dict[str, Path]:
    """The people's workbook ``coverage_by_unit.xlsx`` and ``coverage_by_unit_zh.csv``."""
    out = Path(out)
    by_unit = for_people(coverage.by_unit)
    sheets = {
        TABLE_WORDS["by_unit"]: by_unit,
        TABLE_WORDS["by_tier"]: for_people(coverage.by_tier),
        TABLE_WORDS["gaps"]: for_people(gaps_in_input_coords(coverage.gaps, region)),
        TABLE_WORDS["worst"]: for_people(pd.DataFrame(coverage.equity["worst_units"])),
    }
    xlsx = write_workbook(
        out / "coverage_by_unit.xlsx",
        sheets,
        title=f"{coverage.region_name} 15分钟服务圈覆盖分析",
        options=analysis_options(coverage, region),
    )
    return {
        "by_unit_xlsx": xlsx,
        "by_unit_people_csv": write_people_csv(by_unit, out / "coverage_by_unit_zh.csv"),
    }


def gaps_in_input_coords(gaps: pd.DataFrame, region: Region) -> pd.DataFrame:
    """Gap areas with their centres also in the system the inputs came in.

    ``centroid_lon_gcj02, centroid_lat_gcj02`` (6 decimals) follow the WGS84 ``centroid_lon,
    centroid_lat`` when the region's points were given in GCJ-02 (BD-09 likewise); the table
    unchanged for WGS84 inputs.
    """
    system = getattr(region, "coord_sys", "wgs84")
    if system not in COORD_SYSTEMS or system == "wgs84" or "centroid_lon" not in gaps:
        return gaps
    lon, lat = from_wgs84(
        gaps["centroid_lon"].to_numpy(float), gaps["centroid_lat"].to_numpy(float), system
    )
    out = pd.DataFrame(gaps).copy()
    at = list(out.columns).index("centroid_lat") + 1
    out.insert(at, f"centroid_lon_{system}", np.round(lon, 6))
    out.insert(at + 1, f"centroid_lat_{system}", np.round(lat, 6))
    return out


PROPOSAL_COLUMNS = (
    "rank",
    "candidate_id",
    "name",
    "kind",
    "kind_input",
    "town",
    "village",
    "rooms",
    "population_newly_covered",
    "cumulative_newly_covered",
    "lon",
    "lat",
)
"""The columns of a proposals table, in order (``proposals.csv`` leaves ``village`` out)."""


def proposals_for_people(proposals: pd.DataFrame) -> pd.DataFrame:
    """Proposals with Chinese kind names and the input's kind words kept as given.

    Coordinates have 6 decimals (about 0.1 m): WGS84 ``lon, lat`` and, when the inputs came
    in another system (GCJ-02 from Amap, BD-09 from Baidu), that system's columns beside them
    (``lon_gcj02, lat_gcj02``, headed 经度(GCJ-02)), as ``proposals.csv`` has them, so that a
    location pastes back into the map it came from.
    """
    cols = [c for c in PROPOSAL_COLUMNS if c in proposals.columns]
    cols += input_coord_columns(proposals)
    table = pd.DataFrame(proposals[cols])
    for col in ("lon", "lat", *input_coord_columns(table)):
        if col in table:
            table[col] = table[col].astype(float).round(6)
    return for_people(table)


def write_suggestion_tables(
    suggestion: Suggestion,
    coverage: Coverage,
    region: Region,
    out: str | Path,
    *,
    remaining_gaps: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """``proposals.xlsx`` (proposals, gaps that remain, 说明) and ``proposals_zh.csv``."""
    out = Path(out)
    s = suggestion.summary
    table = proposals_for_people(suggestion.proposals)
    sheets = {TABLE_WORDS["proposals"]: table}
    if remaining_gaps is not None:
        sheets[TABLE_WORDS["remaining_gaps"]] = for_people(
            gaps_in_input_coords(remaining_gaps, region)
        )
    options = analysis_options(coverage, region)
    options.update(
        {
            "覆盖率（现状） Coverage before": f"{s['coverage_before']:.1%}",
            "覆盖率（建成后） Coverage after": f"{s['coverage_after']:.1%}",
            "新增站点 New sites": s["new_sites"],
            "新增覆盖人口 Newly covered": f"{s['population_newly_covered']:,}",
            "模型 Model": s["model"],
            "新站点数 k": s["k"],
            "目标覆盖率 Target": s["target"],
            "新站点层级 New tier": TIERS.get(s["tier"], {}).get("zh", s["tier"]),
            "求解器 Solver": f"{s['solver']} ({s['status']})",
            "最优性差距 Gap": s["gap"],
            "可用候选点 Usable candidates": f"{s['candidates_usable']} / {s['candidates_total']}",
        }
    )
    if s.get("note"):
        options["备注 Note"] = s["note"]
    xlsx = write_workbook(
        out / "proposals.xlsx",
        sheets,
        title=f"{coverage.region_name} 新建站点建议",
        options=options,
    )
    return {
        "proposals_xlsx": xlsx,
        "proposals_people_csv": write_people_csv(table, out / "proposals_zh.csv"),
    }


# --- cells --------------------------------------------------------------------------------


def _set(cell: Any, value: Any, fmt: str) -> None:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        cell.value = None
        return
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        value = str(value)
    if isinstance(value, str):
        cell.value = value
        # A name such as "=HYPERLINK(...)" stays text, never a formula.
        cell.data_type = "s"
        return
    cell.value = value
    cell.number_format = _FORMATS.get(fmt, "General") if fmt != "text" else "General"


def _shown(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if fmt == "pct":
        return f"{value:.1%}"
    if fmt == "pctpt":
        return f"{value * 100:+.1f}%"
    if fmt == "int":
        return f"{value:,.0f}"
    if fmt == "min":
        return f"{value:.2f}"
    if fmt == "coord":
        return f"{value:.6f}"
    return str(value)


def _safe_text(text: str) -> str:
    # Spreadsheet programs run cells starting with = + - @ as formulas; numbers keep their sign.
    if text.startswith(_FORMULA_START) and not re.fullmatch(r"[+-][\d,.]+%?", text):
        return "'" + text
    return text


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(text))


def _option_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def inert_formulas(book: Workbook) -> None:
    """Store every cell of an openpyxl workbook that would run as a formula as text instead."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":  # openpyxl takes text starting with "=" as one
                    cell.data_type = "s"


FIXED_TIME = "2000-01-01T00:00:00Z"
"""The time stamp stored in the workbooks and GeoPackages we write (same tables, same bytes)."""


def fix_workbook_times(path: Path) -> None:
    """Replace the creation times a workbook records by a fixed time (same tables, same bytes)."""
    # A workbook records when it was made (docProps/core.xml and every zip entry): replace
    # those by a fixed time so the same tables give the same bytes.
    import re
    import zipfile

    with zipfile.ZipFile(path) as z:
        entries = [(info.filename, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                    rb"\g<1>" + FIXED_TIME.encode() + rb"\g<2>",
                    data,
                )
            z.writestr(
                zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED
            )
