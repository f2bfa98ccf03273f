"""Process settings of the command line."""

from __future__ import annotations

import platform

import pytest

from planner.runtime import return_freed_memory, trim_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_glibc_takes_the_malloc_thresholds():
    assert return_freed_memory() is True


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_glibc_trims_its_heap():
    assert trim_memory() is True
