"""servicecircle: 15-minute service circles of civilization-practice sites over real road networks.

Typical use in a notebook::

    from planner import Region, analyze, coverage_map
    region = Region.from_files()            # the bundled sample county
    cov = analyze(region)
    cov.by_unit                             # coverage per town and village
    coverage_map(cov, sites=region.sites, units=region.units)
"""

from planner.coverage import Coverage, analyze, gap_areas, unit_table, weighted_gini
from planner.errors import InputError
from planner.io import (
    gcj02_to_wgs84,
    read_candidates,
    read_residents,
    read_sites,
    read_units,
    to_wgs84,
    wgs84_to_gcj02,
)
from planner.maps import coverage_map
from planner.network import RoadNetwork, TravelGraph, load_network
from planner.region import Region, RegionFiles
from planner.report import write_analysis
from planner.standards import Standards, TierStandard

__all__ = [
    "Coverage",
    "InputError",
    "Region",
    "RegionFiles",
    "RoadNetwork",
    "Standards",
    "TierStandard",
    "TravelGraph",
    "analyze",
    "coverage_map",
    "gap_areas",
    "gcj02_to_wgs84",
    "load_network",
    "read_candidates",
    "read_residents",
    "read_sites",
    "read_units",
    "to_wgs84",
    "unit_table",
    "weighted_gini",
    "wgs84_to_gcj02",
    "write_analysis",
]

__version__ = "0.1.0"
