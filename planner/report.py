"""Write analysis results as files people open: JSON, CSV, XLSX, GeoJSON and an HTML map."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.coords import input_coord_columns, round_lonlat
from planner.coverage import Coverage, shown_minutes
from planner.errors import InputError
from planner.geojson_text import feature_texts, texts_of
from planner.gpkg import analysis_layers, write_styled_geopackage
from planner.io import file_sha256
from planner.outputs import after_proposals, people_outputs
from planner.region import Region
from planner.tables import PROPOSAL_COLUMNS, fix_workbook_times, inert_formulas
from planner.text import TIERS

if TYPE_CHECKING:
    from planner.siting import Suggestion

log = logging.getLogger(__name__)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    msg = f"not JSON serialisable: {type(value).__name__}"
    raise TypeError(msg)


# --- complete outputs or none ---------------------------------------------------------------

_PARTIAL = ".partial-"
_OLD = ".previous-"
_CARRIED = ".carried-over"  # names of entries being moved from the old into the new folder


def check_output_folder(out: str | Path) -> Path:
    """Check that ``out`` can become an output folder, before any work is done.

    Returns
    -------
    Path
        ``out`` made absolute.

    Raises
    ------
    InputError
        When ``out`` is a file, lies under a file, or its folder cannot be written.
    """
    out = Path(out).expanduser().absolute()
    if out.exists() and not out.is_dir():
        msg = f"--out {out}: is a file, not a folder; give a folder for the outputs"
        raise InputError(msg)
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        msg = f"--out {out}: {parent} is a file, so no folder can be made under it"
        raise InputError(msg)
    for folder in (parent, out) if out.exists() else (parent,):
        if not os.access(folder, os.W_OK | os.X_OK):
            msg = f"--out {out}: {folder} is not writable; choose another output folder"
            raise InputError(msg)
    try:  # the real test (root passes os.access on read-only file systems)
        os.rmdir(tempfile.mkdtemp(prefix=f".{out.name}.probe-", dir=parent))
    except OSError as exc:
        msg = f"--out {out}: cannot write in {parent} ({exc.strerror}); choose another folder"
        raise InputError(msg) from None
    return out


@contextmanager
def output_folder(out: str | Path, *, owns: Iterable[str] = ()) -> Iterator[Path]:
    """A temporary folder beside ``out`` that replaces ``out`` only when the block completes.

    Write every output into the yielded folder. When the block ends normally the folder is
    moved into place (previous outputs in ``out`` go at the same moment); when it raises or
    the process is interrupted (Ctrl-C, SIGTERM, SIGKILL) ``out`` keeps its previous complete
    outputs, or stays absent, and the temporary folder is removed (after SIGKILL: by the
    next run into the same ``out``, which also restores a previous folder caught mid-swap).

    Parameters
    ----------
    out
        The output folder.
    owns
        Names this command writes: stale copies in ``out`` are dropped; any other entry of
        ``out`` (e.g. the ``suggest/`` folder inside ``output/``, a user's own file) is
        carried over into the new folder.

    Raises
    ------
    InputError
        As :func:`check_output_folder`, before the block runs.
    """
    out = check_output_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _recover(out)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}{_PARTIAL}", dir=out.parent))
    except OSError as exc:
        msg = f"--out {out}: cannot create a folder beside it ({exc.strerror})"
        raise InputError(msg) from None
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; outputs are for people
    try:
        yield tmp
        # Ctrl-C or SIGTERM between the renames would leave neither folder in place.
        blocked = {signal.SIGINT, signal.SIGTERM}
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            _swap(tmp, out, set(owns))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _swap(tmp: Path, out: Path, owns: set[str]) -> None:
    if not out.exists():
        os.rename(tmp, out)
        return
    journal = tmp / _CARRIED
    moved: list[str] = []
    old: Path | None = None
    try:
        for entry in sorted(out.iterdir()):
            if entry.name in owns or (tmp / entry.name).exists():
                continue
            # Journal first: a run killed now leaves the entry findable by _recover.
            with journal.open("a", encoding="utf-8") as f:
                f.write(entry.name + "\n")
            os.rename(entry, tmp / entry.name)  # carried over, same file system: cheap
            moved.append(entry.name)
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}{_OLD}", dir=out.parent))
        os.rename(out, old / "out")
        os.rename(tmp, out)
    except BaseException:
        # Put everything back as it was: the previous folder and the entries carried over.
        if old is not None and (old / "out").is_dir() and not out.exists():
            os.rename(old / "out", out)
        for name in moved:
            if (tmp / name).exists() and not (out / name).exists():
                os.rename(tmp / name, out / name)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        raise
    journal_done = out / _CARRIED
    journal_done.unlink(missing_ok=True)
    shutil.rmtree(old, ignore_errors=True)


def _recover(out: Path) -> None:
    # What a killed run left beside ``out``: a previous complete folder caught between the
    # two renames of _swap goes back into place, entries being carried over go back into
    # ``out``, then the partial folders go.
    for leftover in sorted(out.parent.glob(f".{out.name}{_OLD}*")):
        previous = leftover / "out"
        if previous.is_dir() and not out.exists():
            os.rename(previous, out)
            log.warning("restored %s from an interrupted run", out)
        shutil.rmtree(leftover, ignore_errors=True)
    (out / _CARRIED).unlink(missing_ok=True)
    for leftover in out.parent.glob(f".{out.name}{_PARTIAL}*"):
        journal = leftover / _CARRIED
        if journal.exists() and out.is_dir():
            for name in journal.read_text(encoding="utf-8").split("\n"):
                if name and (leftover / name).exists() and not (out / name).exists():
                    os.rename(leftover / name, out / name)
        log.warning("removing %s left by an interrupted run", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


# --- provenance -------------------------------------------------------------------------------


def run_record(
    command: str,
    *,
    inputs: dict[str, Any],
    options: dict[str, Any],
    digests: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What ``summary.json`` records of a run so its folder can be traced back to it.

    Parameters
    ----------
    command
        ``analyze``, ``suggest`` ...
    inputs
        Input files by role (``None`` for absent ones): each is recorded with its path, size
        and SHA-256 of its content.
    options
        The command's options as given (paths are written as text).
    digests
        SHA-256 already taken, by path (:func:`region_digests`: the road network's, taken
        when it was loaded): a county's ``.osm`` is not read through again.

    Returns
    -------
    dict
        ``command``, ``version``, ``created`` (UTC time: the one field that differs between
        two runs on the same input), ``inputs`` and ``options``.
    """
    from planner import __version__

    files: dict[str, Any] = {}
    for role, path in inputs.items():
        if path is None:
            continue
        p = Path(path)
        if p.is_file():
            sha256 = (digests or {}).get(str(p)) or file_sha256(p)
            files[role] = {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256}
        else:  # e.g. place:<name> for an online download
            files[role] = {"path": str(path)}
    return {
        "command": command,
        "version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": files,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in options.items()},
    }


def region_inputs(region: Region, **extra: Any) -> dict[str, Any]:
    """The input files of ``region`` by role, plus ``extra`` ones (e.g. ``standards``)."""
    files = region.files
    roles = ("network", "sites", "residents", "units", "candidates", "standards", "dem")
    found = {r: getattr(files, r, None) for r in roles} if files is not None else {}
    found.update({k: v for k, v in extra.items() if v is not None})
    return found


def region_digests(region: Region) -> dict[str, str]:
    """The SHA-256 already taken of ``region``'s files, by path (for :func:`run_record`)."""
    network = region.network
    return {network.source: network.source_sha256} if network.source_sha256 else {}


# --- spreadsheets that never run user text ----------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with text cells that a spreadsheet would run made inert (OWASP CSV rule).

    A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
    leading ``'``: Excel and LibreOffice then show it as text instead of evaluating it (a
    village named ``=HYPERLINK(...)`` stays a name). Numbers are left as they are.
    """
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype.kind != "O" and str(out[c].dtype) not in ("string", "str"):
            continue
        values = out[c]
        # Judged per distinct value (a county's columns repeat a few towns, sites, statuses).
        codes, distinct = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
        if not len(distinct):
            continue
        is_text = np.fromiter(
            (isinstance(v, str) for v in distinct), dtype=bool, count=len(distinct)
        )
        first = np.strings.slice(np.asarray(np.where(is_text, distinct, ""), dtype=str), 0, 1)
        risky = np.r_[is_text & np.isin(first, _FORMULA_START), False]  # last: missing (-1)
        text = pd.Series(risky[codes], index=values.index)
        if text.any():
            out[c] = values.where(~text, "'" + values[text].astype(str))
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as UTF-8 CSV with a BOM (Excel reads Chinese) and formulas neutralised."""
    neutralise(pd.DataFrame(frame)).to_csv(path, index=False, encoding="utf-8-sig")


def write_xlsx(sheets: dict[str, pd.DataFrame], path: str | Path) -> None:
    """Write one sheet per table; every text cell is stored as text, never as a formula."""
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, frame in sheets.items():
            pd.DataFrame(frame).to_excel(xl, sheet_name=name, index=False)
        inert_formulas(xl.book)
    fix_workbook_times(Path(path))


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` as UTF-8 JSON with Chinese left readable."""
    path.write_text(
        json.dumps(data, ensure_ascii=False, indent=2, default=_json_default), encoding="utf-8"
    )


def write_geojson(frame: gpd.GeoDataFrame, path: Path, *, texts: pd.Series | None = None) -> None:
    """Write a layer as WGS84 GeoJSON (an empty FeatureCollection when there is nothing).

    Coordinates have 6 decimals (about 0.1 m). GEOS writes the geometries and pandas the
    properties: GDAL's GeoJSON driver formats numbers about 20x slower (4 s for a county's
    service areas, against 0.2 s for the same layer as GeoPackage). ``texts``: the
    geometries already written, by ``frame``'s index (:meth:`Coverage.geometry_json`).
    """
    if frame.empty:
        path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
        return
    wgs = frame.to_crs(4326)
    table = pd.DataFrame(wgs.drop(columns=wgs.geometry.name))
    shapes = (
        round_lonlat(wgs.geometry.to_numpy()) if texts is None else texts_of(texts, frame.index)
    )
    features = ",\n".join(feature_texts(table, shapes))
    path.write_text(
        '{"type":"FeatureCollection","features":[\n' + features + "\n]}\n", encoding="utf-8"
    )


def residents_table(coverage: Coverage) -> pd.DataFrame:
    """The per-resident table of ``residents.csv``: the headline columns first."""
    res = coverage.residents
    head = [
        "id",
        "population",
        "town",
        "village",
        "minutes",
        "nearest_site",
        "nearest_tier",
        "covered",
        "status",
        "joins_road_at",
        "lon",
        "lat",
    ]
    tiers = [c for t in TIERS for c in (f"minutes_{t}", f"site_{t}")]
    # a town/village column as written, where a boundary polygon overruled it (region.py)
    written = [c for c in ("town_input", "village_input") if c in res.columns]
    head[head.index("village") + 1 : head.index("village") + 1] = written
    cols = [c for c in head if c in res.columns] + input_coord_columns(res) + tiers
    table = pd.DataFrame(res[cols])
    minutes = [c for c in table.columns if c == "minutes" or c.startswith("minutes_")]
    table[minutes] = table[minutes].apply(shown_minutes)
    return table


ANALYSIS_FILES = {
    "summary": "summary.json",
    "residents": "residents.csv",
    "by_unit_csv": "coverage_by_unit.csv",
    "by_unit_xlsx": "coverage_by_unit.xlsx",
    "gaps": "gaps.geojson",
    "service_areas": "service_areas.geojson",
    "rejected": "rejected.csv",
    "map": "map.html",
}
"""The files ``analyze`` writes, by name."""

SUGGESTION_FILES = {
    "proposals_csv": "proposals.csv",
    "proposals_geojson": "proposals.geojson",
    "summary": "summary.json",
    "excluded": "excluded_candidates.csv",
    "added_areas": "added_service_areas.geojson",
    "map": "map.html",
}
"""The files ``suggest`` writes, by name."""

PEOPLE_FILES = (
    "coverage_by_unit.xlsx",
    "coverage_by_unit_zh.csv",
    "proposals.xlsx",
    "proposals_zh.csv",
    "servicecircle.gpkg",
)
"""The files for people (planner.tables, planner.gpkg) either command may write."""


def _files_written(files: dict[str, str], *, map_html: bool) -> dict[str, str]:
    """The output files of a command by name, without ``map`` when no map is drawn."""
    return {k: v for k, v in files.items() if map_html or k != "map"}


def _with_run(summary: dict[str, Any], run: dict[str, Any] | None) -> dict[str, Any]:
    """``summary`` with the run record (:func:`run_record`) under ``"run"`` when given."""
    return summary if run is None else {**summary, "run": run}


def _final_paths(out: str | Path, names: dict[str, str], extra: dict[str, Path]) -> dict[str, Path]:
    """Where the files ``names`` (by name) and ``extra`` (written in the temporary folder)
    stand once the output folder ``out`` is in place."""
    final = check_output_folder(out)
    return {k: final / v for k, v in names.items()} | {k: final / p.name for k, p in extra.items()}


def write_analysis(
    coverage: Coverage,
    region: Region,
    out: str | Path,
    *,
    map_html: bool = True,
    run: dict[str, Any] | None = None,
    tianditu_key: str | None = None,
) -> dict[str, Path]:
    """Write every output of ``analyze`` into ``out``; return the paths written by name.

    The files appear together or not at all (see :func:`output_folder`); ``run`` (from
    :func:`run_record`) is stored in ``summary.json`` under ``"run"``; ``tianditu_key`` adds
    天地图 backgrounds to the map (default: ``TIANDITU_KEY`` from the environment).
    """
    names = _files_written(ANALYSIS_FILES, map_html=map_html)
    with output_folder(out, owns=[*ANALYSIS_FILES.values(), *PEOPLE_FILES]) as tmp:
        paths = {k: tmp / v for k, v in names.items()}
        write_json(_with_run(coverage.summary, run), paths["summary"])
        write_csv(residents_table(coverage), paths["residents"])
        write_csv(coverage.by_unit, paths["by_unit_csv"])
        for layer in ("gaps", "service_areas"):
            texts = coverage.geometry_json(layer)
            write_geojson(coverage.in_wgs84(layer), paths[layer], texts=texts)
        write_csv(coverage.rejected, paths["rejected"])
        extra = people_outputs(coverage, region, tmp)  # planner.tables, planner.gpkg
        if map_html:
            from planner.maps import coverage_map, save_map  # folium: only when a map is drawn

            page = coverage_map(
                coverage,
                sites=region.sites,
                units=region.units,
                network=region.network,
                tianditu_key=tianditu_key,
            )
            save_map(page, paths["map"])
    return _final_paths(out, names, extra)


def write_suggestion(
    suggestion: Suggestion,
    coverage: Coverage,
    region: Region,
    out: str | Path,
    *,
    map_html: bool = True,
    run: dict[str, Any] | None = None,
    tianditu_key: str | None = None,
) -> dict[str, Path]:
    """Write the outputs of ``suggest`` into ``out`` (all or none); return the paths by name.

    ``tianditu_key`` adds 天地图 backgrounds to the map (default: ``TIANDITU_KEY``).
    """
    names = _files_written(SUGGESTION_FILES, map_html=map_html)
    props = suggestion.proposals
    cols = [c for c in PROPOSAL_COLUMNS if c != "village"]
    table = pd.DataFrame(
        props[[c for c in cols if c in props.columns] + input_coord_columns(props)]
    )
    for col in ("lon", "lat", *input_coord_columns(table)):
        table[col] = table[col].astype(float).round(6)  # ~0.1 m, as the other tables
    for col in ("population_newly_covered", "cumulative_newly_covered"):
        if col in table:
            table[col] = table[col].astype(float).round().astype("Int64")  # people are whole
    after = after_proposals(suggestion, coverage, region)  # the gaps that remain
    with output_folder(out, owns=[*SUGGESTION_FILES.values(), *PEOPLE_FILES]) as tmp:
        paths = {k: tmp / v for k, v in names.items()}
        write_csv(table, paths["proposals_csv"])
        write_geojson(
            props[[*table.columns, "geometry"]] if len(props) else props,
            paths["proposals_geojson"],
        )
        write_json(_with_run(suggestion.summary, run), paths["summary"])
        write_csv(suggestion.excluded, paths["excluded"])
        write_geojson(suggestion.added_areas, paths["added_areas"])
        extra = people_outputs(coverage, region, tmp, suggestion=suggestion, after=after)
        if map_html:
            from planner.maps import coverage_map, save_map

            page = coverage_map(
                coverage,
                sites=region.sites,
                units=region.units,
                proposals=props,
                added_areas=suggestion.added_areas,
                network=region.network,
                candidates=region.candidates,
                proposal_summary=suggestion.summary,
                remaining_gaps=after.gaps,
                tianditu_key=tianditu_key,
            )
            save_map(page, paths["map"])
    return _final_paths(out, names, extra)


def write_geopackage(coverage: Coverage, region: Region, path: str | Path) -> Path:
    """Write residents, gaps, service areas, sites and boundaries as layers of one GeoPackage,
    styled for QGIS: the ``servicecircle.gpkg`` that ``analyze`` writes, at ``path``."""
    return write_styled_geopackage(analysis_layers(coverage, region), path)
