"""servicecircle: 15-minute service circles of civilization-practice sites over real road networks.

Typical use in a notebook::

    from planner import Region, analyze, coverage_map, suggest
    region = Region.from_files()            # the bundled sample county
    cov = analyze(region)
    cov.by_unit                             # coverage per town and village
    best = suggest(region, cov, k=8)        # best.proposals, best.summary
    coverage_map(cov, sites=region.sites, units=region.units, proposals=best.proposals)

Charts (matplotlib, Chinese labels) live in :mod:`planner.charts`.
"""

from planner.coords import gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02
from planner.coverage import Coverage, analyze, gap_areas, unit_table, weighted_gini
from planner.errors import InputError
from planner.inputs import read_candidates, read_residents, read_sites, read_units
from planner.maps import coverage_map
from planner.network import RoadNetwork, TravelGraph, clip_osm, load_network
from planner.population import buildings_from_osm, spread_population
from planner.region import Region, RegionFiles
from planner.report import write_analysis, write_geopackage, write_suggestion
from planner.siting import Suggestion, suggest
from planner.standards import Standards, TierStandard

__all__ = [
    "Coverage",
    "InputError",
    "Region",
    "RegionFiles",
    "RoadNetwork",
    "Standards",
    "Suggestion",
    "TierStandard",
    "TravelGraph",
    "analyze",
    "buildings_from_osm",
    "clip_osm",
    "coverage_map",
    "gap_areas",
    "gcj02_to_wgs84",
    "load_network",
    "read_candidates",
    "read_residents",
    "read_sites",
    "read_units",
    "spread_population",
    "suggest",
    "to_wgs84",
    "unit_table",
    "weighted_gini",
    "wgs84_to_gcj02",
    "write_analysis",
    "write_geopackage",
    "write_suggestion",
]

__version__ = "0.1.0"
