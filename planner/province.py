"""Many regions at once (a province of counties), one partition each, on Dask when given."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import InputError, read_toml
from planner.region import Region, RegionFiles
from planner.standards import Standards

log = logging.getLogger(__name__)

_FILE_KEYS = ("network", "sites", "residents", "units", "candidates", "standards")


def read_regions(path: str | Path) -> list[RegionFiles]:
    """Read ``[[regions]]`` tables (``name``, ``network``, ``sites``, ``residents`` ...).

    Relative paths are taken from the config file's folder.
    """
    path = Path(path)
    data = read_toml(path)
    entries = data.get("regions")
    if not isinstance(entries, list) or not entries:
        msg = f"{path}: no [[regions]] tables; each needs name, network, sites, residents"
        raise InputError(msg)
    out = []
    for n, entry in enumerate(entries, start=1):
        missing = [k for k in ("name", "network", "sites", "residents") if k not in entry]
        if missing:
            msg = f"{path}: region {n} lacks {', '.join(missing)}"
            raise InputError(msg)
        unknown = set(entry) - {*_FILE_KEYS, "name", "coord_sys", "id"}
        if unknown:
            msg = f"{path}: region {n} has unknown key(s) {sorted(unknown)}"
            raise InputError(msg)
        files = {k: _resolve(path.parent, entry.get(k)) for k in _FILE_KEYS}
        out.append(RegionFiles(**files, coord_sys=entry.get("coord_sys"), name=entry["name"]))
    return out


def _resolve(base: Path, value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    if text.startswith(("place:", "bbox:")):
        return text
    return str((base / text).resolve())


def run_region(
    files: RegionFiles,
    *,
    out: str | Path | None = None,
    standards: Standards | None = None,
    cache_dir: str | Path | None = None,
    map_html: bool = False,
) -> dict[str, Any]:
    """Analyse one region from its files and return its summary (a pure function of the inputs).

    With ``out`` the region's outputs are written to ``out/<name>/``.
    """
    from planner.coverage import analyze
    from planner.report import write_analysis

    region = Region.from_files(files, standards=standards, cache_dir=cache_dir)
    coverage = analyze(region, service_areas=map_html)
    if out is not None:
        write_analysis(coverage, region, Path(out) / region.name, map_html=map_html)
    return coverage.summary


def run_regions(
    regions: list[RegionFiles],
    *,
    client: Any = None,
    out: str | Path | None = None,
    standards: Standards | None = None,
    cache_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Analyse regions, one task each; on a ``dask.distributed.Client`` when given.

    Returns one row per region with its headline figures; a region whose inputs are wrong
    gets its error message in ``error`` instead of stopping the others.
    """
    kwargs = {"out": out, "standards": standards, "cache_dir": cache_dir}
    if client is None:
        results = [_guarded(files, kwargs) for files in regions]
    else:
        futures = [
            client.submit(_guarded, files, kwargs, pure=True, key=f"region-{i}-{files.name}")
            for i, files in enumerate(regions)
        ]
        results = client.gather(futures)
    return pd.DataFrame(results)


def _guarded(files: RegionFiles, kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        s = run_region(files, **kwargs)
    except InputError as exc:
        return {"region": files.name, "error": str(exc)}
    return {
        "region": s["region"],
        "population_total": s["population_total"],
        "population_covered": s["population_covered"],
        "coverage": s["coverage"],
        "gaps": s["gaps"],
        "population_in_gaps": s["population_in_gaps"],
        "gini_minutes": s["equity"]["gini_minutes"],
        "error": None,
    }
