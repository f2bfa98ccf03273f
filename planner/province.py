"""Many regions at once (a province of counties), one partition each, on Dask when given."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import shapely

from planner.errors import InputError
from planner.io import file_sha256
from planner.region import Region, RegionFiles
from planner.regions_config import FILE_KEYS, is_query, read_regions_config
from planner.runtime import core_ids
from planner.standards import Standards
from planner.text import PROVINCE

if TYPE_CHECKING:
    from distributed import Client

    from planner.coverage import Coverage

log = logging.getLogger(__name__)


def read_regions(path: str | Path) -> list[RegionFiles]:
    """Read ``[[regions]]`` tables (``name``, ``network``, ``sites``, ``residents`` ...).

    Relative paths are taken from the config file's folder (see
    :func:`planner.regions_config.read_regions_config`).
    """
    data = read_regions_config(
        path,
        required=("name", "network", "sites", "residents"),
        allowed={*FILE_KEYS, "name", "coord_sys", "sheet", "id"},
    )
    return [
        RegionFiles(
            **{k: entry.get(k) for k in FILE_KEYS},
            coord_sys=entry.get("coord_sys"),
            sheet=entry.get("sheet"),
            name=entry["name"],
        )
        for entry in data["regions"]
    ]


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
    client: Client | None = None,
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
    row = _headline(s)
    return {**{k: row[k] for k in _REGION_FIGURES}, "error": None}


_REGION_FIGURES = (
    "region",
    "population_total",
    "population_covered",
    "coverage",
    "gaps",
    "population_in_gaps",
    "gini_minutes",
)
"""The figures :func:`run_regions` returns per region, a part of the county headline."""


# --- the province command -----------------------------------------------------------------

MANIFEST = "manifest.json"
"""Written last into each county's folder: input hashes, outputs and headline figures."""

_OUTPUTS = (
    "summary.json",
    "residents.csv",
    "coverage_by_unit.csv",
    "coverage_by_unit.xlsx",
    "gaps.geojson",
    "service_areas.geojson",
    "rejected.csv",
)

Progress = Callable[[dict[str, Any], int, int], None]
"""Called with a county's row, the number of counties finished and the total."""


@dataclass(frozen=True)
class ProvinceRun:
    """Result of :func:`run_province`.

    Attributes
    ----------
    counties
        One row per county, in config order: ``status`` (done, skipped, failed), headline
        figures, ``error`` and the county's output ``folder``.
    paths
        The merged outputs written by name (``xlsx``, ``gpkg``, ``csv``).
    """

    counties: pd.DataFrame
    paths: dict[str, Path]


def input_hashes(files: RegionFiles, *, maps: bool, network: bool = True) -> dict[str, Any]:
    """What a county's outputs were made from: SHA-256 of each input file's content (a
    ``place:``/``bbox:`` query is kept as text), its names and whether maps were drawn.

    A file that cannot be read hashes to ``None``, so its county is never taken as unchanged.
    ``network=False`` leaves the road network out (for a caller that has its digest).
    """
    out: dict[str, Any] = {"coord_sys": files.coord_sys, "name": files.name, "maps": maps}
    keys = [key for key in FILE_KEYS if network or key != "network"]
    return out | {key: _digest(getattr(files, key)) for key in keys}


def _digest(value: str | Path | None) -> str | None:
    if value is None or is_query(value):
        return None if value is None else str(value)
    try:
        return file_sha256(value)
    except OSError:
        return None


def finished(folder: Path, files: RegionFiles, *, maps: bool) -> dict[str, Any] | None:
    """The county's recorded row when its outputs are complete and its inputs unchanged.

    Its input files are read (hashed) only when it has a manifest to compare them with: a
    county run for the first time has them hashed by its own task (:func:`analyse_county`).
    """
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    inputs = input_hashes(files, maps=maps)
    if any(inputs.get(k) is None for k in ("network", "sites", "residents")):
        return None  # a file that cannot be read is never taken as unchanged
    if manifest.get("inputs") != inputs:
        return None
    if not all((folder / name).exists() for name in manifest.get("outputs", [])):
        return None
    row: dict[str, Any] | None = manifest.get("row")
    return row


def analyse_county(
    files: RegionFiles, folder: str | Path, *, options: dict[str, Any]
) -> dict[str, Any]:
    """Analyse one county into ``folder`` and record its manifest.

    The manifest's inputs (:func:`input_hashes`) are hashed before the files are read (a file
    changed meanwhile is then taken as changed at the next run, never as unchanged), the road
    network's by the network cache's lookup. A county whose inputs are wrong gets ``status``
    failed and the message in ``error``.
    """
    from planner.coverage import analyze
    from planner.report import write_analysis

    folder = Path(folder)
    clock = time.time()
    marks = [(time.perf_counter(), time.process_time())]
    maps = options.get("maps", True)
    try:
        cached = options.get("cache_dir") is not False  # (False: no network cache)
        inputs = input_hashes(files, maps=maps, network=not cached)  # before the files are read
        region = Region.from_files(
            files, standards=options.get("standards"), cache_dir=options.get("cache_dir")
        )
        if cached:  # the network cache's key, hashed before the file was parsed: read once
            inputs["network"] = region.network.source_sha256 or _digest(files.network)
        marks.append((time.perf_counter(), time.process_time()))
        coverage = analyze(region, service_areas=True)
        region.drop_indexes()  # every layer is snapped: outputs need no index
        marks.append((time.perf_counter(), time.process_time()))
        paths = write_analysis(coverage, region, folder, map_html=maps)
        marks.append((time.perf_counter(), time.process_time()))
    except InputError as exc:
        return _failed(files, folder, str(exc))
    (start, cpu_start), (end, cpu_end) = marks[0], marks[-1]
    row = {
        **_headline(coverage.summary),
        "status": "done",
        "seconds": round(end - start, 2),
        "cpu_seconds": round(cpu_end - cpu_start, 2),
        "error": None,
        "folder": str(folder),
        "extent_wkt": _extent(coverage, region),
    }
    timing: dict[str, Any] = {"pid": os.getpid(), "started": clock, "ended": clock + end - start}
    for phase, (t0, c0), (t1, c1) in zip(_PHASES, marks[:-1], marks[1:], strict=True):
        timing[f"{phase}_s"], timing[f"{phase}_cpu_s"] = round(t1 - t0, 3), round(c1 - c0, 3)
    manifest = {
        "inputs": inputs,
        "outputs": sorted(p.name for p in paths.values()),
        "row": row,
        "timing": timing,  # where the seconds went, and when and in which process
    }
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(folder / MANIFEST)  # written last: a county without it is not complete
    return row


def load_county_modules(*, maps: bool) -> None:
    """Import what every county's analysis and outputs use (``maps``: and its map).

    The command loads them before its first county, so that they are frozen with the rest
    (:func:`planner.runtime.freeze_loaded`), and before the local workers fork, once for all
    of them.
    """
    import openpyxl  # noqa: F401  (the workbooks)
    import pyogrio  # noqa: F401  (GeoPackage and GeoJSON)
    import rasterio.features  # noqa: F401  (planner.areas loads these where it first draws)
    import scipy.ndimage  # noqa: F401

    import planner.coverage
    import planner.report

    if maps:
        import planner.maps  # noqa: F401  (folium)


_PHASES = ("read", "analyse", "write")
"""A county's phases timed in its manifest: reading its files, the analysis, its outputs."""


def run_province(
    config: str | Path,
    out: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    maps: bool = True,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> ProvinceRun:
    """Analyse every county of ``config`` (``[[regions]]``) into ``out/<name>/`` and merge.

    Parameters
    ----------
    config
        TOML file of ``[[regions]]`` tables (see :func:`read_regions`).
    out
        Output folder: one folder per county, and ``province_summary.xlsx`` /
        ``province.gpkg`` / ``province_summary.csv`` merging them.
    scheduler
        Address of a running ``dask.distributed`` scheduler; by default a ``LocalCluster`` of
        ``workers`` processes is started (``workers=0`` runs the counties one after another
        in this process, without Dask).
    workers
        Worker processes of the local cluster (default: the machine's cores).
    maps
        Also write each county's ``map.html``.
    cache_dir
        Folder for compiled road networks, shared by the workers.
    progress
        Called after each county with its row, the number finished and the total.

    Returns
    -------
    ProvinceRun
        Counties whose outputs are complete and whose input files did not change since are
        skipped (their recorded figures are reused); a failed county does not stop the others.

    Notes
    -----
    On Dask the largest counties (by input bytes) are handed out first, so that no large
    county starts last while the other workers sit idle; the cluster starts only when a
    county needs analysing, and each county is submitted as soon as it is known to need it.
    Only a county with outputs already has its input files hashed here, to compare with its
    manifest; each task hashes its own (the road network once, as the network cache's key).
    Each task writes its county's outputs and returns only its row and gap areas, so the
    merged summary re-reads no county; it is written while the cluster shuts down.
    ``distributed`` is imported only then. Local workers are forked with what this process
    holds frozen out of their collections (:func:`planner.runtime.frozen_while_forking`);
    this process is left as it was (the command freezes its own before: ``freeze_loaded``).
    """
    _mark("start")
    if workers is not None and workers < 0:  # a local cluster of -1 workers never starts
        msg = f"--workers must be 0 or more (workers= in Python; 0: one by one), got {workers}"
        raise InputError(msg)
    regions = read_regions(config)
    names = [files.name for files in regions]
    twice = sorted({n for n in names if names.count(n) > 1}, key=str)  # names are set, as str
    if twice:
        msg = f"{config}: region name(s) {twice} appear more than once; each needs its own folder"
        raise InputError(msg)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    options = {"maps": maps, "cache_dir": None if cache_dir is None else str(cache_dir)}
    rows: list[dict[str, Any] | None] = [None] * len(regions)
    gaps: dict[int, gpd.GeoDataFrame | None] = {}

    def record(i: int, row: dict[str, Any]) -> None:
        rows[i] = row
        if progress:
            progress(row, sum(r is not None for r in rows), len(regions))

    with _Counties(options, scheduler=scheduler, workers=workers) as counties:
        for i in counties.order(regions):
            files = regions[i]
            folder = out / _folder_name(files.name)
            done = finished(folder, files, maps=maps)
            if done is not None:
                record(i, {**done, "status": "skipped", "seconds": 0.0})
            else:
                counties.submit(i, files, folder)
        _mark("counties submitted")
        log.info("%d of %d counties unchanged", sum(r is not None for r in rows), len(rows))
        for i, row, layer in counties.results():
            gaps[i] = layer
            record(i, row)
        _mark("counties finished")
        counties.close(wait=False)  # shut the cluster down while the summary is written
        table = pd.DataFrame(rows)
        run = {PROVINCE["config"]: str(config), PROVINCE["maps"]: maps}
        paths = write_province(table, out, gaps=gaps, options=run)
        _mark("province summary written")
    _mark("cluster closed")
    return ProvinceRun(counties=table, paths=paths)


def _mark(phase: str) -> None:
    """Log when a phase of the province run ends (``--verbose``; bench_province reads them)."""
    log.info("province phase %s at %.3f cpu %.2f", phase, time.time(), time.process_time())


County = tuple[dict[str, Any], gpd.GeoDataFrame | None]
"""What a county task returns: its row, and its gap areas (WGS 84) for the merged GeoPackage."""


class _Counties:
    """Counties handed out one by one: in this process, or on Dask started at the first one."""

    def __init__(
        self, options: dict[str, Any], *, scheduler: str | None, workers: int | None
    ) -> None:
        self.options = options
        self.scheduler = scheduler
        self.workers = workers
        self.serial = scheduler is None and workers == 0
        self.todo: list[tuple[int, RegionFiles, Path]] = []
        self.futures: dict[Any, tuple[int, RegionFiles, Path]] = {}
        self.client: Client | None = None
        self.stack = ExitStack()
        self.closing: threading.Thread | None = None

    def __enter__(self) -> _Counties:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(wait=True)

    def order(self, regions: list[RegionFiles]) -> list[int]:
        """Config order in this process; on Dask the largest inputs first."""
        if self.serial:
            return list(range(len(regions)))
        return sorted(range(len(regions)), key=lambda i: -_input_bytes(regions[i]))

    def submit(self, i: int, files: RegionFiles, folder: Path) -> None:
        """Queue county ``i`` (in this process) or hand it to Dask now."""
        if self.serial:
            self.todo.append((i, files, folder))
            return
        client = self.client or self._start()
        future = client.submit(
            _county_task,
            files,
            folder,
            self.options,
            key=f"county-{i}-{uuid.uuid4().hex[:8]}",
            pure=False,
            priority=-len(self.futures),  # in the order submitted, the largest first
        )
        self.futures[future] = (i, files, folder)

    def results(self) -> Iterator[tuple[int, dict[str, Any], gpd.GeoDataFrame | None]]:
        """``(index, row, gap areas)`` of each county as it finishes."""
        for i, files, folder in self.todo:
            yield i, *_county_task(files, folder, self.options)
        if not self.futures:
            return
        from distributed import as_completed

        for future in as_completed(self.futures):
            i, files, folder = self.futures[future]
            if future.status == "finished":
                row, layer = future.result()
                yield i, row, layer
            else:  # a worker died or the task raised a bug: report it, keep going
                exc = future.exception()
                yield i, _failed(files, folder, f"{type(exc).__name__}: {exc}"), None
        self.futures.clear()  # released: the scheduler keeps no result while it shuts down

    def close(self, *, wait: bool) -> None:
        """Shut Dask down (the client, and the local cluster if this started one)."""
        if self.closing is None:
            self.closing = threading.Thread(target=self.stack.close, name="close-cluster")
            self.closing.start()
        if wait:
            self.closing.join()

    def _start(self) -> Client:
        _mark("cluster starting")  # distributed is loaded from here on, only when it is used
        from distributed import Client

        from planner.province_cluster import OneCoreEach, WarmUp, local_cluster

        dask_log = logging.getLogger("distributed")
        if not dask_log.handlers:
            # Loaded after logging was set up (the command does so first), distributed adds no
            # stderr handler of its own (one LocalCluster turns down to warnings) and its INFO
            # lines would reach the command's output through the root handler.
            dask_log.setLevel(max(dask_log.getEffectiveLevel(), logging.WARNING))
        # Closed by callbacks, not as context managers: close() may run in another thread.
        if self.scheduler is not None:
            client = Client(self.scheduler)
        else:
            n = self.workers or os.cpu_count() or 1
            cluster = local_cluster(n, maps=self.options.get("maps", True))
            self.stack.callback(cluster.close)
            client = Client(cluster)
            cores = core_ids()
            if 1 < len(cores) <= n:  # the workers share every core: one each
                client.register_plugin(OneCoreEach(cores))
        self.stack.callback(client.close)
        _mark("cluster up")
        client.register_plugin(WarmUp(maps=self.options.get("maps", True)))
        _mark("workers warmed")
        self.client = client
        return client


def _input_bytes(files: RegionFiles) -> int:
    """Bytes of a county's input files (0 for a place query or a missing file): its size."""
    total = 0
    for key in FILE_KEYS:
        value = getattr(files, key)
        if value is not None and not is_query(value):
            with suppress(OSError):
                total += Path(value).stat().st_size
    return total


def _county_task(files: RegionFiles, folder: Path, options: dict[str, Any]) -> County:
    """One county (one Dask task): its row, and its gap areas read back from what it wrote."""
    try:
        row = analyse_county(files, folder, options=options)
        return row, _gap_layer(row) if row["status"] == "done" else None
    except Exception as exc:  # one county's bug must not stop a province
        log.exception("county %s failed", files.name)
        return _failed(files, folder, f"{type(exc).__name__}: {exc}"), None


def _gap_layer(row: dict[str, Any]) -> gpd.GeoDataFrame | None:
    """A county's ``gaps.geojson`` in WGS 84 with its ``region`` (None when it has no gaps)."""
    layer = gpd.read_file(Path(str(row["folder"])) / "gaps.geojson")
    if not len(layer):
        return None
    return layer.assign(region=row["region"]).to_crs(4326)


def _failed(files: RegionFiles, folder: Path, error: str) -> dict[str, Any]:
    # No folder: a failed county has no outputs of this run (the summary's error says why).
    return {"region": files.name, "status": "failed", "error": error, "folder": None}


def _headline(s: dict[str, Any]) -> dict[str, Any]:
    row = {
        "region": s["region"],
        "residents_total": s["residents_total"],
        "sites_total": s["sites_total"],
        "population_total": s["population_total"],
        "population_covered": s["population_covered"],
        "coverage": s["coverage"],
        "gaps": s["gaps"],
        "population_in_gaps": s["population_in_gaps"],
        "gini_minutes": s["equity"]["gini_minutes"],
        "residents_rejected": s["residents_rejected"],
        "sites_rejected": s["sites_rejected"],
    }
    for tier, t in s["by_tier"].items():
        row[f"coverage_{tier}"] = t["coverage"]
    return row


def _extent(coverage: Coverage, region: Region) -> str:
    """The county's outline for the merged GeoPackage: its towns, or the hull of its points."""
    units = region.units
    if units is not None and len(units) and (units["level"] == "town").any():
        shape = shapely.union_all(units.loc[units["level"] == "town"].to_crs(4326).geometry.values)
    else:
        points = pd.concat([coverage.residents.geometry, region.sites.geometry])
        shape = gpd.GeoSeries(points, crs=region.crs).to_crs(4326).union_all().convex_hull
    wkt: str = shapely.to_wkt(shape, rounding_precision=6)
    return wkt


def _folder_name(name: str | None) -> str:
    text = (name or "region").strip()
    return "".join("_" if c in '<>:"/\\|?*' or ord(c) < 32 else c for c in text) or "region"


def write_province(
    table: pd.DataFrame,
    out: Path,
    *,
    gaps: Mapping[int, gpd.GeoDataFrame | None] | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Merge the counties' rows and gap areas into ``out`` (XLSX, CSV and GeoPackage).

    ``province_summary.csv`` is the machine table (English keys); ``province_summary.xlsx``
    (with its 说明 sheet) and ``province_summary_zh.csv`` are the people's, as ``analyze``
    writes its tables (:mod:`planner.tables`). ``gaps`` holds the gap layers the county tasks
    returned, by row; a county not in it (skipped as unchanged) has its ``gaps.geojson``
    read. ``options``: the run's options for the 说明 sheet (label -> value).
    """
    from planner.tables import for_people, write_people_csv, write_workbook

    gaps = gaps or {}
    paths = {
        "xlsx": out / "province_summary.xlsx",
        "csv": out / "province_summary.csv",
        "people_csv": out / "province_summary_zh.csv",
        "gpkg": out / "province.gpkg",
    }
    for col in table.columns:  # whole numbers stay whole beside a failed county's blanks
        values = table[col]
        if values.dtype.kind == "f" and bool((values.dropna() % 1 == 0).all()):
            table[col] = values.astype("Int64")
    figures = table.drop(columns=[c for c in ("extent_wkt",) if c in table])
    figures.to_csv(paths["csv"], index=False, encoding="utf-8-sig")
    people = for_people(figures.assign(status=figures["status"].map(PROVINCE)))
    failed = people.loc[(figures["status"] == "failed").to_numpy(), ["region", "error"]]
    write_workbook(
        paths["xlsx"],
        {PROVINCE["sheet_counties"]: people, PROVINCE["sheet_failed"]: failed},
        title=PROVINCE["title"],
        options=options or {},
    )
    write_people_csv(people, paths["people_csv"])
    paths["gpkg"].unlink(missing_ok=True)
    ok = table.loc[table["status"] != "failed"]
    if len(ok):
        counties = gpd.GeoDataFrame(
            ok.drop(columns=["extent_wkt"]),
            geometry=shapely.from_wkt(ok["extent_wkt"].to_numpy()),
            crs=4326,
        )
        counties.to_file(paths["gpkg"], layer="counties", driver="GPKG")
        layers = [
            gaps[i] if i in gaps else _gap_layer({"folder": folder, "region": region})
            for i, folder, region in zip(ok.index.tolist(), ok["folder"], ok["region"], strict=True)
        ]
        layers = [layer for layer in layers if layer is not None]
        if layers:
            merged = pd.concat(layers, ignore_index=True)
            merged.to_file(paths["gpkg"], layer="gaps", driver="GPKG")
    return paths
