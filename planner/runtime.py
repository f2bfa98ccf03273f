"""Settings of the Python process that runs an analysis (not of the analysis itself)."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

MALLOC_THRESHOLD = 8 * 1024 * 1024
"""Bytes from which glibc maps an allocation on its own and unmaps it when freed.

On the 250k-node county's warm ``analyze`` (one run each, load about 1): glibc's default
41.1 s and 0.94 GB at peak; 64 KiB 46.2 s (mapping every small array costs 7 s of system
time) and 0.83 GB; 1 MiB 41.4 s and 0.83 GB; 8 MiB 38.2 s and 0.82 GB."""


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018  (glibc has both)
    except (OSError, AttributeError):  # macOS, Windows, musl: their allocators differ
        return None
    return libc


def trim_memory() -> bool:
    """Give the free pages inside the process's heap back to the system; False if not glibc.

    Freed small blocks (a geometry's, a Python object's) stay in the heap, between blocks in
    use, and count in the process's memory until reused. ``malloc_trim`` hands their whole
    pages back. Worth it after a step that made and dropped millions of small objects (the
    coordinate check's road index on a county: 0.1 GB at 250,000 nodes); it takes a few ms.
    """
    libc = _libc()
    return libc is not None and bool(libc.malloc_trim(0))


def return_freed_memory() -> bool:
    """Have glibc give large freed blocks back to the system at once; False if not glibc.

    By default glibc raises its mmap threshold up to 32 MB after the first large block is
    freed, so the many temporary arrays of a few to tens of megabytes a county's run makes
    then come from the heap, whose freed holes it keeps: a 250,000-node county's warm
    ``analyze`` held about 0.1 GB more at its peak than it was using. A fixed threshold (and
    trim threshold) keeps the process at what it uses. Dask's worker nannies set a trim threshold
    the same way (``MALLOC_TRIM_THRESHOLD_``); this is the in-process form (``mallopt``), for when the
    environment variables can no longer take effect.
    """
    libc = _libc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    done = bool(mallopt(m_mmap_threshold, MALLOC_THRESHOLD)) and bool(
        mallopt(m_trim_threshold, MALLOC_THRESHOLD)
    )
    log.debug("glibc returns freed blocks of %d bytes or more: %s", MALLOC_THRESHOLD, done)
    return done


def core_ids() -> list[int]:
    """The cores this process may run on (its CPU affinity: ``taskset``, a Dask worker held
    to one); empty where the system does not say (no ``sched_getaffinity``)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def cores() -> int:
    """How many cores this process may run on: :func:`core_ids`, else every core."""
    return len(core_ids()) or os.cpu_count() or 1


def freeze_loaded() -> None:
    """Keep every object this process holds now out of the collector's full passes.

    For a process of ours (a command, the API server), once what its run needs is loaded
    (modules, the served regions): those objects live as long as the process, and each full
    collection would walk all of them again. Garbage waiting for a collection is collected
    first (a reference cycle dropped just before, such as a parsed osmnx graph, would
    otherwise be kept for good). Frozen objects are freed as usual once no longer referenced,
    but a cycle among them only at exit: a library call never freezes its caller's process
    (:func:`frozen_while_forking` leaves it as it was).

    On the 250,000-node county's warm ``analyze``, full collections took 0.61 s unfrozen and
    0.11 s frozen after the imports; on 4 serial 50,000-node counties, 0.60 s and 0.10 s. The
    collection first takes about 0.1 s.
    """
    gc.collect()
    gc.freeze()


@contextmanager
def frozen_while_forking() -> Iterator[None]:
    """Hold what this process has out of its collections while child processes are forked.

    The children inherit it frozen: their collections never write to the pages they share
    with this process (Python's gc documentation advises freezing right before a fork). This
    process is then left as it was: unfrozen again, unless it had frozen objects itself
    (:func:`freeze_loaded`, a process of ours).
    """
    had_frozen = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        yield
    finally:
        if not had_frozen:
            gc.unfreeze()
