"""The bundled sample county, loaded and analysed once per test session."""

from __future__ import annotations

import pytest

from planner.coverage import analyze
from planner.region import Region


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """``(region, coverage)`` of the bundled sample with default standards."""
    cache = tmp_path_factory.mktemp("network-cache")
    region = Region.from_files(cache_dir=cache)
    return region, analyze(region)
