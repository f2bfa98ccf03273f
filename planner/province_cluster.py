"""The Dask side of a province: the local cluster, its settings and its workers' start-up.

Imported only when a province runs on Dask, so that ``--workers 0`` (and every other
command) never loads ``distributed``.
"""

from __future__ import annotations

import os
import sys
import warnings
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import dask
from distributed.diagnostics.plugin import WorkerPlugin

from planner.province import load_county_modules
from planner.runtime import frozen_while_forking

if TYPE_CHECKING:
    from distributed import LocalCluster

WORKER_CONFIG: dict[str, Any] = {
    # Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in every worker, which also freezes
    # glibc's mmap threshold: each large numpy array is then a fresh mmap whose pages fault in
    # one by one. On the sample county that made a worker's task 1.5x the CPU and 3x the wall
    # time of the same analysis in-process (bench/bench_province.py); None unsets it.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # The statistical profiler samples every thread's stack every 10 ms, holding the GIL; the
    # event loop's 20 ms tick and 100 ms memory poll also take the GIL from the county's thread.
    # Without the four, a task costs what it costs in one process (bench/bench_province.py).
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1000ms",
    "distributed.worker.memory.monitor-interval": "1000ms",
    "distributed.admin.system-monitor.interval": "5000ms",
    # A county goes to a worker only when the worker is free. Dask's default (1.1) sends each
    # single-thread worker a second county to queue behind the one it runs, where it waits
    # even when another worker falls idle first: the run can end a whole county later. With
    # the largest counties handed out first, free-worker-first is the longest-first list
    # schedule. (Dask queues a group of tasks only once it outnumbers twice the threads, so
    # the first counties are still handed out two per worker.)
    "distributed.scheduler.worker-saturation": 1.0,
    # On Linux a worker forked from this process has the analysis modules loaded already:
    # 2 workers up in about 1 s instead of 5-9 s for spawned ones importing everything again.
    # The cluster is started before this process uses any thread of its own, and macOS (where
    # forking breaks system frameworks) keeps Dask's default.
    "distributed.worker.multiprocessing-method": "fork" if sys.platform == "linux" else "spawn",
}
"""Dask settings for the cluster ``province`` starts (see the README for a running cluster)."""


def local_cluster(workers: int, *, maps: bool = True) -> LocalCluster:
    """A ``LocalCluster`` of single-threaded worker processes set up with :data:`WORKER_CONFIG`.

    What every forked worker would otherwise load or look up on its own is done once here,
    before the fork (see :func:`_before_fork`).
    """
    from distributed import LocalCluster

    _before_fork(maps=maps)
    with (
        dask.config.set(WORKER_CONFIG),  # read as the nannies start
        warnings.catch_warnings(),
        frozen_while_forking(),  # the workers' collections never walk what they inherit
    ):
        # Python 3.12+ warns on any fork of a process with threads (Dask's event loop here).
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        return LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )


def _before_fork(*, maps: bool) -> None:
    """Load in this process what each worker would otherwise pay for in its first moments.

    A worker registering with the scheduler reports its package versions and platform
    (``distributed.versions.get_versions``: package metadata and a ``uname -p`` subprocess),
    0.1 s in each fresh worker, cached per process; every worker's first county loads the
    analysis modules and the county writers (:func:`planner.province.load_county_modules`),
    which this process uses too for the merged summary. Forked workers inherit all of it:
    each module is loaded once, in one process, where each worker would otherwise load its
    own copy (the same wall time on idle cores, twice the CPU time on a shared machine).
    """
    from distributed.versions import get_versions

    load_county_modules(maps=maps)
    get_versions()


class WarmUp(WorkerPlugin):
    """Import the analysis modules once when a worker starts, not in its first task.

    Parameters
    ----------
    maps
        The counties draw maps: load folium too.
    """

    name = "servicecircle-warm-up"

    def __init__(self, *, maps: bool = True) -> None:
        self.maps = maps

    def setup(self, worker: Any) -> None:
        """Import planner's analysis modules (the worker's later tasks find them loaded).

        A worker forked by :func:`local_cluster` has them already (:func:`_before_fork`),
        frozen out of its collections; one on a cluster of its own (``--scheduler``) loads
        them here, and its process is left as it is (its owner's to tune).
        """
        load_county_modules(maps=self.maps)


class OneCoreEach(WorkerPlugin):
    """Hold each worker of a local cluster to one core of its own (Linux CPU affinity).

    With as many workers as cores, each county's in-task threads (the service-area rasters
    run on two when the process may use two cores: :func:`planner.areas.area_polygons`)
    would only take turns with the other workers' counties; held to one core, a county runs
    in one thread and its worker never moves between cores. On 16 copies of the sample and
    2 cores (bench/bench_province.py, load 0.5-2.6) a county's CPU seconds on a worker went
    from 4.64 to 4.26 (4.74 in one process) with this and a frozen warm-up (``gc.freeze``).

    Parameters
    ----------
    cores
        The cores to share out, worker ``k`` (by its local cluster name) taking
        ``cores[k % len(cores)]``.
    """

    name = "servicecircle-one-core-each"

    def __init__(self, cores: list[int]) -> None:
        self.cores = cores

    def setup(self, worker: Any) -> None:
        """Move every thread of the worker's process (and the threads it starts later)."""
        core = {self.cores[int(worker.name) % len(self.cores)]}
        for tid in os.listdir("/proc/self/task"):
            with suppress(OSError):  # a thread that ended meanwhile
                os.sched_setaffinity(int(tid), core)
