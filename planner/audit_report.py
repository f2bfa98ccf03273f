"""Write a standards audit for officials: audit.xlsx (Chinese sheets), audit.json and CSVs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from planner.audit import Audit
from planner.report import write_csv, write_json
from planner.tables import inert_formulas
from planner.text import (
    AUDIT_HEADERS,
    AUDIT_LEVELS,
    AUDIT_RULES,
    AUDIT_SHEETS,
    AUDIT_STATUS,
    PROJECT_LEVEL_ALIASES,
    TIERS,
)

log = logging.getLogger(__name__)

_STATUS_FILL = {v["zh"]: v["color"].lstrip("#").upper() for v in AUDIT_STATUS.values()}
_PERCENT_COLUMNS = {"volunteer_share", "with_hours_share", "coverage"}
_MAX_WIDTH = 60


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Chinese values for statuses, tiers, levels and rules; Chinese headers where known."""
    out = frame.copy()
    status_zh = {k: v["zh"] for k, v in AUDIT_STATUS.items()}
    for col in out.columns:
        if col == "status" or col == "verdict" or str(col).endswith("_status") or col == "circle":
            out[col] = out[col].map(lambda v: status_zh.get(v, v))
    if "tier" in out:
        out["tier"] = out["tier"].map(lambda t: TIERS.get(t, {}).get("zh", t) if t else "")
    if "level" in out:
        levels = {**AUDIT_LEVELS, **{v: k for k, v in PROJECT_LEVEL_ALIASES.items()}}
        out["level"] = out["level"].map(lambda v: AUDIT_LEVELS.get(v, levels.get(v, v)))
    if "rule" in out:
        out.insert(
            list(out.columns).index("rule") + 1,
            "rule_zh",
            out["rule"].map(lambda r: AUDIT_RULES.get(r, {}).get("zh", r)),
        )
    rename = {}
    for col in out.columns:
        base = str(col).removesuffix("_status")
        if col in AUDIT_HEADERS:
            rename[col] = AUDIT_HEADERS[col]
        elif str(col).endswith("_status") and base in AUDIT_RULES:
            rename[col] = f"{AUDIT_RULES[base]['zh']}（结果）"
        elif col.startswith("sites_") and col[6:] in AUDIT_STATUS:
            rename[col] = f"站点{AUDIT_STATUS[col[6:]]['zh']}"
    out = out.rename(columns=rename)
    return out.loc[:, ~out.columns.duplicated()]


def audit_tables(result: Audit, spot: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The audit's tables by sheet key (``county``, ``town`` ... ``issues``), in English columns."""
    f = result.findings
    county = f[f["level"] == "county"].reset_index(drop=True)
    headline = pd.DataFrame(
        [
            {"rule": r, "pass": v["pass"], "fail": v["fail"], "no_data": v["no_data"]}
            for r, v in result.summary["by_rule"].items()
        ]
    )
    headline.insert(1, "label", headline["rule"].map(lambda r: AUDIT_RULES[r]["zh"]))
    tables = {
        "county": county,
        "county_rules": headline,
        "town": result.towns,
        "village": result.villages,
        "site": result.sites,
        "team": result.teams,
        "projects": result.projects,
        "issues": result.issues,
    }
    if spot is not None:
        tables["spot_check"] = spot
    return tables


def write_audit(
    result: Audit, out: str | Path, *, spot: pd.DataFrame | None = None
) -> dict[str, Path]:
    """Write ``audit.xlsx``, ``audit.json``, one CSV per table and ``audit_rejected.csv``.

    The workbook has one sheet per level (县汇总, 乡镇, 村社区, 站点, 队伍, 品牌项目), a
    问题清单 of every failed rule ordered by tier and town, and 抽查名单 with a spot check;
    status cells are coloured (pass green, fail red, no data grey), shares are percentages,
    header rows are frozen and columns sized to their text.

    Returns
    -------
    dict
        The paths written, by name.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = audit_tables(result, spot)
    paths: dict[str, Path] = {"xlsx": out / "audit.xlsx", "json": out / "audit.json"}
    for key, table in tables.items():
        paths[f"csv_{key}"] = out / f"audit_{key}.csv"
        write_csv(table, paths[f"csv_{key}"])
    paths["rejected"] = out / "audit_rejected.csv"
    write_csv(result.rejected, paths["rejected"])
    _write_xlsx(tables, paths["xlsx"])
    write_json(_json(result, tables), paths["json"])
    return paths


def _json(result: Audit, tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
        clean = frame.astype(object).where(frame.notna(), None)
        return cast("list[dict[str, Any]]", clean.to_dict(orient="records"))  # str columns

    return {
        "summary": result.summary,
        **{key: records(t) for key, t in tables.items() if key != "county_rules"},
        "rejected": records(result.rejected),
    }


def _write_xlsx(tables: dict[str, pd.DataFrame], path: Path) -> None:
    from openpyxl.styles import Font, PatternFill

    sheets = {
        AUDIT_SHEETS["county"]: None,
        AUDIT_SHEETS["town"]: tables["town"],
        AUDIT_SHEETS["village"]: tables["village"],
        AUDIT_SHEETS["site"]: tables["site"],
        AUDIT_SHEETS["team"]: tables["team"],
        AUDIT_SHEETS["projects"]: tables["projects"],
        AUDIT_SHEETS["issues"]: tables["issues"],
    }
    if "spot_check" in tables:
        sheets[AUDIT_SHEETS["spot_check"]] = tables["spot_check"]
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, table in sheets.items():
            if table is None:  # 县汇总: county findings, then pass/fail/no data per rule
                county = _readable(tables["county"])
                county.to_excel(xl, sheet_name=name, index=False)
                rules = tables["county_rules"].rename(
                    columns={
                        "rule": "规则",
                        "label": "检查项",
                        "pass": "达标",
                        "fail": "不达标",
                        "no_data": "缺少数据",
                    }
                )
                rules.to_excel(xl, sheet_name=name, index=False, startrow=len(county) + 2)
                frames = [county, rules]
            else:
                readable = _readable(table)
                readable.to_excel(xl, sheet_name=name, index=False)
                frames = [readable]
            ws = xl.sheets[name]
            ws.freeze_panes = "A2"
            for cell in ws[1]:
                cell.font = Font(bold=True)
            _style(ws, table, frames, PatternFill)
        inert_formulas(xl.book)


def _style(ws: Any, table: pd.DataFrame | None, frames: list[pd.DataFrame], fill: Any) -> None:
    widths: dict[int, int] = {}
    for frame in frames:
        for i, col in enumerate(frame.columns, start=1):
            text = [str(col), *map(str, frame.iloc[:500, i - 1].tolist())]
            wide = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in t) for t in text)
            widths[i] = max(widths.get(i, 0), min(_MAX_WIDTH, wide + 2))
    for i, width in widths.items():
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = width
    del table
    percent_names = {AUDIT_HEADERS.get(c, c) for c in _PERCENT_COLUMNS}
    percent_cols = {cell.column for cell in ws[1] if cell.value in percent_names}
    fills = {
        k: fill(start_color=v, end_color=v, fill_type="solid") for k, v in _STATUS_FILL.items()
    }
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            value = cell.value
            if isinstance(value, str) and value in fills:
                cell.fill = fills[value]
            elif cell.column in percent_cols and isinstance(value, int | float | np.floating):
                cell.number_format = "0.0%"
