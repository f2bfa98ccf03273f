"""servicecircle: 15-minute service circles of civilization-practice sites over real road networks.

Typical use in a notebook::

    from planner import Region, analyze, coverage_map, suggest
    region = Region.from_files()            # the bundled sample county
    cov = analyze(region)
    cov.by_unit                             # coverage per town and village
    best = suggest(region, cov, k=8)        # best.proposals, best.summary
    coverage_map(cov, sites=region.sites, units=region.units, proposals=best.proposals)

Charts (matplotlib, Chinese labels) live in :mod:`planner.charts`.

The names load on first use (``lazy_loader``, from ``__init__.pyi``): a command or a Dask
worker imports only the modules it uses (``servicecircle province --no-maps`` never loads
folium).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)

__version__ = "0.1.0"
