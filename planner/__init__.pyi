# The package's public names: read by type checkers, and by lazy_loader at run time
# (planner/__init__.py), which imports each module on its first use. Relative imports only.
# The modules the package loaded eagerly before (planner.coverage after a bare
# `import planner`, as it always worked) stay reachable as attributes, loaded on first use.
from . import coords as coords
from . import coverage as coverage
from . import errors as errors
from . import inputs as inputs
from . import maps as maps
from . import network as network
from . import population as population
from . import region as region
from . import report as report
from . import siting as siting
from . import standards as standards
from .coords import gcj02_to_wgs84 as gcj02_to_wgs84
from .coords import to_wgs84 as to_wgs84
from .coords import wgs84_to_gcj02 as wgs84_to_gcj02
from .coverage import Coverage as Coverage
from .coverage import analyze as analyze
from .coverage import gap_areas as gap_areas
from .coverage import unit_table as unit_table
from .coverage import weighted_gini as weighted_gini
from .errors import InputError as InputError
from .inputs import read_candidates as read_candidates
from .inputs import read_residents as read_residents
from .inputs import read_sites as read_sites
from .inputs import read_units as read_units
from .maps import coverage_map as coverage_map
from .network import RoadNetwork as RoadNetwork
from .network import TravelGraph as TravelGraph
from .network import clip_osm as clip_osm
from .network import load_network as load_network
from .population import buildings_from_osm as buildings_from_osm
from .population import spread_population as spread_population
from .region import Region as Region
from .region import RegionFiles as RegionFiles
from .report import write_analysis as write_analysis
from .report import write_geopackage as write_geopackage
from .report import write_suggestion as write_suggestion
from .siting import Suggestion as Suggestion
from .siting import suggest as suggest
from .standards import Standards as Standards
from .standards import TierStandard as TierStandard

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
    "coords",
    "coverage",
    "coverage_map",
    "errors",
    "gap_areas",
    "gcj02_to_wgs84",
    "inputs",
    "load_network",
    "maps",
    "network",
    "population",
    "read_candidates",
    "read_residents",
    "read_sites",
    "read_units",
    "region",
    "report",
    "siting",
    "spread_population",
    "standards",
    "suggest",
    "to_wgs84",
    "unit_table",
    "weighted_gini",
    "wgs84_to_gcj02",
    "write_analysis",
    "write_geopackage",
    "write_suggestion",
]
__version__: str
