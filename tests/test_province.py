"""Counties run as independent partitions on Dask and give the same numbers as alone."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from _sample import sample  # noqa: F401  (session fixture)
from conftest import first_line_of_python, sample_province_config

from planner.coverage import analyze
from planner.province import read_regions, run_regions
from planner.province_cluster import local_cluster
from planner.region import RegionFiles


def test_regions_on_dask_match_a_local_run(tmp_path):
    distributed = pytest.importorskip("distributed")
    sample = RegionFiles.sample()  # noqa: F811
    broken = RegionFiles(
        network=sample.network,
        sites=tmp_path / "missing.csv",
        residents=sample.residents,
        name="坏县",
    )
    regions = [sample, broken]
    local = run_regions(regions, cache_dir=tmp_path / "cache")
    with local_cluster(2) as cluster, distributed.Client(cluster) as client:
        remote = run_regions(
            regions, client=client, cache_dir=tmp_path / "cache", out=tmp_path / "out"
        )
        # Workers run without Dask's malloc trim threshold and profiler (a county cost 1.5x).
        settings = client.run(_worker_settings)
    assert list(settings.values()) == [(None, False)] * 2
    assert remote.loc[0, "population_covered"] == local.loc[0, "population_covered"]
    assert pd.isna(remote.loc[0, "error"])
    assert "missing.csv: file not found" in remote.loc[1, "error"]
    assert (tmp_path / "out" / "示范县" / "summary.json").exists()


def _worker_settings() -> tuple[str | None, bool]:
    import os

    import dask

    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), dask.config.get(
        "distributed.worker.profile.enabled"
    )


def test_region_config_resolves_paths_relative_to_it(tmp_path):
    cfg = tmp_path / "regions.toml"
    cfg.write_text(
        '[[regions]]\nname = "甲县"\nnetwork = "a.osm"\nsites = "s.csv"\nresidents = "r.csv"\ncoord_sys = "gcj02"\n',
        encoding="utf-8",
    )
    (files,) = read_regions(cfg)
    assert files.network == str(tmp_path / "a.osm")
    assert files.coord_sys == "gcj02" and files.name == "甲县"
    cfg.write_text('[[regions]]\nname = "乙县"\n', encoding="utf-8")
    from planner.errors import InputError

    with pytest.raises(InputError, match="lacks network, sites, residents"):
        read_regions(cfg)


def _province_config(folder, sites_b):
    counties = [("甲县", RegionFiles.sample().sites), ("乙县", sites_b)]
    return sample_province_config(folder, [*counties, ("坏县", folder / "missing.csv")], units=True)


def _province(cfg, out, *extra):
    cmd = [sys.executable, "-m", "planner", "province", "--config", str(cfg), "--out", str(out)]
    return subprocess.run(
        [*cmd, "--no-maps", *extra], capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.slow
def test_province_command_on_a_local_cluster_resumes_and_survives_a_broken_county(
    sample,  # noqa: F811
    tmp_path,
):
    """Two copies of the sample and a county with a missing file, on two worker processes.

    Each county's numbers equal the sample analysed alone in this process; the broken county
    is reported without stopping the others; a second run skips what did not change and
    re-runs the county whose sites file was edited.
    """
    pytest.importorskip("distributed")
    region, cov = sample
    sites_b = tmp_path / "sites_b.csv"
    shutil.copy(RegionFiles.sample().sites, sites_b)
    cfg = _province_config(tmp_path, sites_b)
    out = tmp_path / "out"

    first = _province(cfg, out, "--workers", "2")
    assert first.returncode == 1, first.stderr  # one county failed, the others are written
    assert "failed 坏县" in first.stdout and "missing.csv: file not found" in first.stdout
    assert "INFO distributed" not in first.stderr  # Dask's chatter stays out of the output
    serial = {k: v for k, v in cov.summary.items() if k != "region"}
    for name in ("甲县", "乙县"):
        got = json.loads((out / name / "summary.json").read_text(encoding="utf-8"))
        assert got["region"] == name
        assert {k: v for k, v in got.items() if k != "region"} == serial
    table = pd.read_csv(out / "province_summary.csv", encoding="utf-8-sig")
    assert list(table["status"]) == ["done", "done", "failed"]
    assert list(table["population_covered"].iloc[:2]) == [serial["population_covered"]] * 2
    text = pd.read_csv(out / "province_summary.csv", encoding="utf-8-sig", dtype=str)
    whole = str(serial["population_covered"])  # (not "1234.0" beside the failed county's blank)
    assert list(text["population_covered"].fillna("")) == [whole, whole, ""]
    xlsx = pd.read_excel(out / "province_summary.xlsx", sheet_name="县市区 Counties", header=[0, 1])
    assert len(xlsx) == 3
    counties = gpd.read_file(out / "province.gpkg", layer="counties")
    gaps = gpd.read_file(out / "province.gpkg", layer="gaps")
    assert list(counties["region"]) == ["甲县", "乙县"] and counties.is_valid.all()
    assert len(gaps) == 2 * serial["gaps"]
    # The gap areas the workers handed back are what each county wrote, in config order.
    assert_gaps_merged(gaps, out, ["甲县", "乙县"])

    # edit county B's sites: drop the last site; A is unchanged and skipped
    rows = sites_b.read_text(encoding="utf-8").splitlines()
    sites_b.write_text("\n".join(rows[:-1]) + "\n", encoding="utf-8")
    stamp = (out / "甲县" / "summary.json").stat().st_mtime_ns
    again = _province(cfg, out, "--workers", "0")
    assert again.returncode == 1, again.stderr
    table = pd.read_csv(out / "province_summary.csv", encoding="utf-8-sig")
    assert list(table["status"]) == ["skipped", "done", "failed"]
    assert (out / "甲县" / "summary.json").stat().st_mtime_ns == stamp
    fewer = analyze(region.with_sites(region.sites.iloc[:-1]), service_areas=False).summary
    got = json.loads((out / "乙县" / "summary.json").read_text(encoding="utf-8"))
    assert got["sites_total"] == serial["sites_total"] - 1
    assert got["population_covered"] == fewer["population_covered"]
    # 甲县's gaps are read from its folder (skipped), 乙县's come from its task.
    assert_gaps_merged(gpd.read_file(out / "province.gpkg", layer="gaps"), out, ["甲县", "乙县"])


def test_a_county_records_the_digests_of_what_it_read(tmp_path):
    """The manifest's inputs are each file's SHA-256 (the road network's taken from the
    network cache's key, not read again), computed here independently; a county without
    outputs is not read by the province's own process to decide that it must run."""
    import hashlib

    from planner.province import MANIFEST, analyse_county, finished

    files = RegionFiles.sample()
    folder = tmp_path / "甲县"
    assert finished(folder, files, maps=False) is None  # no manifest: nothing read
    row = analyse_county(files, folder, options={"maps": False, "cache_dir": tmp_path / "c"})
    assert row["status"] == "done"
    recorded = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["inputs"]
    for key in ("network", "sites", "residents", "units"):
        content = Path(getattr(files, key)).read_bytes()
        assert recorded[key] == hashlib.sha256(content).hexdigest(), key
    assert recorded["maps"] is False
    assert finished(folder, files, maps=False) == row  # unchanged: its recorded row
    assert finished(folder, files, maps=True) is None  # maps wanted now: not complete


def assert_gaps_merged(merged: gpd.GeoDataFrame, out: Path, names: list[str]) -> None:
    """The merged gaps layer equals each county's gaps.geojson in WGS 84, one after another."""
    each = [gpd.read_file(out / name / "gaps.geojson").to_crs(4326) for name in names]
    assert list(merged["region"]) == [n for n, g in zip(names, each, strict=True) for _ in g.index]
    expected = pd.concat(each, ignore_index=True)
    assert merged.geometry.geom_equals_exact(expected.geometry, tolerance=1e-9).all()
    columns = [c for c in expected.columns if c != "geometry"]
    pd.testing.assert_frame_equal(merged[columns], expected[columns], check_dtype=False)


def test_the_largest_counties_go_to_dask_first(tmp_path):
    """On Dask the counties are handed out by input bytes, largest first; serially in order."""
    from planner.province import _Counties

    sizes = {"小县": 10, "大县": 3000, "中县": 500}
    regions = []
    for name, size in sizes.items():
        files = {}
        for key in ("network", "sites", "residents"):
            path = tmp_path / f"{name}-{key}"
            path.write_bytes(b"x" * size)
            files[key] = str(path)
        regions.append(RegionFiles(**files, name=name))
    regions.append(RegionFiles(network="place:某县", sites="nowhere.csv", residents="x", name="?"))
    dask = _Counties({}, scheduler=None, workers=2)
    assert [regions[i].name for i in dask.order(regions)] == ["大县", "中县", "小县", "?"]
    serial = _Counties({}, scheduler=None, workers=0)
    assert serial.order(regions) == [0, 1, 2, 3]


needs_two_cores = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="CPU affinity of two cores or more (Linux)",
)


@needs_two_cores
def test_each_local_worker_holds_a_core_of_its_own(tmp_path):
    """With as many workers as cores, each worker (all its threads) runs on its own core."""
    pytest.importorskip("distributed")
    from planner.province import _Counties

    cores = sorted(os.sched_getaffinity(0))
    counties = _Counties({}, scheduler=None, workers=len(cores))
    try:
        client = counties._start()
        held = client.run(_cores_of_every_thread)
        frozen = client.run(gc.get_freeze_count)
    finally:
        counties.close(wait=True)
    assert sorted(core for threads in held.values() for core in set(threads)) == cores
    assert all(len(set(threads)) == 1 for threads in held.values())  # no thread left behind
    # what the warm-up loaded is out of the collector's full passes
    assert all(count > 10_000 for count in frozen.values())


def _cores_of_every_thread() -> list[int]:
    """The core of each thread of this process (each held to one; else -1)."""
    affinities = [os.sched_getaffinity(int(tid)) for tid in os.listdir("/proc/self/task")]
    return [min(a) if len(a) == 1 else -1 for a in affinities]


@needs_two_cores
def test_service_areas_drawn_on_one_core_equal_the_two_thread_ones(sample):  # noqa: F811
    """A process held to one core rasters in its own thread: the same polygons, in order."""
    from planner.coverage import _service_areas

    region, cov = sample
    two = cov.service_areas  # drawn on the pool of two threads
    everything = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(everything)})
    try:
        one = _service_areas(region, cov.node_times)
    finally:
        os.sched_setaffinity(0, everything)
    assert len(one) == len(two) > 0
    assert list(one["site_id"]) == list(two["site_id"])
    assert one.geometry.to_wkb().tolist() == two.geometry.to_wkb().tolist()


def _one_county(folder: Path, keys: tuple[str, ...]) -> Path:
    """``regions.toml`` in ``folder``: one county, 甲县, of the sample's files ``keys``."""
    files = RegionFiles.sample()
    cfg = folder / "regions.toml"
    cfg.write_text(
        '[[regions]]\nname = "甲县"\n'
        + "".join(f'{key} = "{Path(getattr(files, key)).as_posix()}"\n' for key in keys),
        encoding="utf-8",
    )
    return cfg


def test_a_province_run_one_by_one_never_loads_dask(tmp_path):
    """``--workers 0`` (and every other command) runs without importing dask or distributed;
    called from Python, it leaves its caller's collector as it was (nothing frozen)."""
    cfg = _one_county(tmp_path, ("network", "sites", "residents"))
    code = (
        "import gc, sys\n"
        "from planner.cli import main\n"
        "from planner.province import run_province\n"
        f"run = run_province({str(cfg)!r}, {str(tmp_path / 'out')!r}, workers=0, maps=False)\n"
        "print(list(run.counties['status']), 'dask' in sys.modules, 'distributed' in sys.modules,"
        " gc.get_freeze_count())\n"
    )
    assert first_line_of_python(code) == "['done'] False False 0"
    assert (tmp_path / "out" / "甲县" / "summary.json").exists()


def _wait_for(event: str) -> str:
    import distributed

    distributed.Event(event).wait()
    return event


def _task_states(dask_scheduler) -> dict[str, str]:
    return {str(key): ts.state for key, ts in dask_scheduler.tasks.items()}


def test_a_county_waits_at_the_scheduler_until_a_worker_is_free(tmp_path):
    """A worker running a county is not sent another to queue behind it (worker-saturation 1.0).

    Six counties on two single-thread workers, each county held until its event is set: the
    first four are handed out as they arrive (two to each worker: Dask treats a group of
    tasks no larger than twice the threads as not worth queueing), the others wait at the
    scheduler; when a county finishes, its worker runs the one it holds and is sent nothing
    more, so the waiting counties go to whichever worker is free first.
    """
    distributed = pytest.importorskip("distributed")
    from planner.province import _Counties

    counties = _Counties({}, scheduler=None, workers=2)
    try:
        client = counties._start()
        names = [f"county-{i}-{tmp_path.name}" for i in range(6)]
        futures = [
            client.submit(_wait_for, name, key=name, pure=False, priority=-i)
            for i, name in enumerate(names)
        ]
        assert _settled(client, {"processing": 4, "queued": 2})
        distributed.Event(names[0], client=client).set()
        assert futures[0].result(timeout=30) == names[0]
        assert _settled(client, {"memory": 1, "processing": 3, "queued": 2})
        for name in names[1:]:
            distributed.Event(name, client=client).set()
        assert client.gather(futures) == names
    finally:
        counties.close(wait=True)


def _settled(client, expected: dict[str, int]) -> bool:
    """Whether the scheduler's task states come to ``expected`` counts (polled up to 10 s)."""
    import collections
    import time

    for _ in range(100):
        counts = collections.Counter(client.run_on_scheduler(_task_states).values())
        if dict(counts) == expected:
            return True
        time.sleep(0.1)
    return False


def test_local_workers_are_forked_with_the_county_modules_loaded_and_frozen():
    """In a fresh process (as the command runs) the writers and the analysis modules every
    county uses are loaded once, in this process, before the workers are forked (so they are
    loaded in this process after the start, and the workers have them); the workers hold what
    they inherited frozen out of their collections, and this process is left unfrozen (a
    library caller's)."""
    pytest.importorskip("distributed")
    code = (
        "import gc, sys\n"
        "import planner.cli\n"
        "from planner.province import _Counties\n"
        f"used = {sorted(_COUNTY_MODULES | {'planner.maps'})!r}\n"  # counties with maps
        "before = (sorted(m for m in used if m in sys.modules), gc.get_freeze_count())\n"
        "counties = _Counties({'maps': True}, scheduler=None, workers=2)\n"
        "client = counties._start()\n"
        "here = set(used) <= set(sys.modules)\n"
        "mods = client.run(lambda: set(used) <= set(sys.modules))\n"
        "frozen = client.run(lambda: __import__('gc').get_freeze_count() > 100_000)\n"
        "print(before, here, sorted(mods.values()), sorted(frozen.values()),"
        " gc.get_freeze_count())\n"
        "counties.close(wait=True)\n"
    )
    assert first_line_of_python(code) == "([], 0) True [True, True] [True, True] 0"


_COUNTY_MODULES = {
    "openpyxl",
    "pyogrio",
    "planner.coverage",
    "planner.report",
    "rasterio.features",
    "scipy.ndimage",
}
"""What every county loads (maps aside), and the province command before its first county not."""


def test_a_province_on_a_running_scheduler_uses_it_and_leaves_it_running(
    sample,  # noqa: F811
    tmp_path,
):
    """``--scheduler ADDRESS``: the counties run on that cluster's worker, which stays up."""
    distributed = pytest.importorskip("distributed")
    from planner.province import run_province

    _, cov = sample
    cfg = _one_county(tmp_path, ("network", "sites", "residents", "units"))
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        run = run_province(cfg, tmp_path / "out", scheduler=cluster.scheduler_address, maps=False)
        with distributed.Client(cluster) as client:  # still there for its next user
            assert len(client.scheduler_info()["workers"]) == 1
            assert client.submit(sum, [1, 2]).result() == 3
    assert list(run.counties["status"]) == ["done"]
    got = json.loads((tmp_path / "out" / "甲县" / "summary.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in got.items() if k != "region"} == {
        k: v for k, v in cov.summary.items() if k != "region"
    }
