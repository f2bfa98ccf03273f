"""Process settings of the command line."""

from __future__ import annotations

import os
import platform

import pytest

from planner.runtime import core_ids, cores, return_freed_memory, trim_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_glibc_takes_the_malloc_thresholds():
    assert return_freed_memory() is True


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_glibc_trims_its_heap():
    assert trim_memory() is True


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_cores_follow_the_process_affinity():
    everything = os.sched_getaffinity(0)
    assert core_ids() == sorted(everything) and cores() == len(everything)
    os.sched_setaffinity(0, {min(everything)})
    try:
        assert core_ids() == [min(everything)] and cores() == 1
    finally:
        os.sched_setaffinity(0, everything)
