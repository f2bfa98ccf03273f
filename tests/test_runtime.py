"""Process settings of the command line."""

from __future__ import annotations

import gc
import os
import platform
import weakref

import pytest

from planner.runtime import (
    core_ids,
    cores,
    freeze_loaded,
    frozen_while_forking,
    return_freed_memory,
    trim_memory,
)


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


class _Node:
    """An object in a reference cycle: freed only by a collection."""

    def __init__(self) -> None:
        self.me = self


def test_freezing_first_collects_the_garbage_waiting_for_a_collection():
    """A cycle dropped just before the freeze (a parsed graph) is freed, not kept for good;
    one still held is frozen; the suite's fixture unfreezes after the test."""
    gc.collect()
    gc.disable()  # no automatic collection between dropping the cycle and the freeze
    try:
        dropped, held = _Node(), _Node()
        gone = weakref.ref(dropped)
        del dropped
        assert gone() is not None  # waiting for a collection
        freeze_loaded()
    finally:
        gc.enable()
    assert gone() is None
    assert gc.get_freeze_count() > 0 and held.me is held


def test_forking_frozen_leaves_the_caller_as_it_was():
    """A library caller's objects are frozen only while children fork; a process that froze
    its own (a command) stays frozen."""
    assert gc.get_freeze_count() == 0
    with frozen_while_forking():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    freeze_loaded()
    before = gc.get_freeze_count()
    with frozen_while_forking():
        pass
    assert gc.get_freeze_count() >= before > 0
