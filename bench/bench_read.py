"""Reading OSM: the array reader against osmnx, and a cold ``analyze`` against osmnx's parse alone.

On a synthetic county written as ``.osm`` (``bench/synthetic_osm.py``), timed ``--repeat``
times each (min and median):

- ``osmnx.graph_from_xml`` alone (its defaults: simplified, largest component);
- the osmnx path this reader replaces: ``read_graph`` (osmium -> XML -> osmnx) and
  ``RoadNetwork.from_graph``;
- the array reader (``load_network`` without cache);
- a cold ``analyze``: loading the region with an empty cache, then ``coverage.analyze``.

Target (issue 12): the cold analyze finishes sooner than ``osmnx.graph_from_xml`` alone.
Run through ``make bench`` or alone: ``python -m bench.bench_read --nodes 50000``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Timings, machine, quiet_stdout, say, table, write_results
from bench.synthetic_osm import write_county

NAME = "read"
QUICK_ARGV = ["--nodes", "10000", "--residents", "4000", "--sites", "80"]
"""What ``bench/run.py --quick`` passes to :func:`main`."""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print its table, write ``bench/results/read.json``.

    Returns
    -------
    dict
        Seconds per phase (min), ratios and ``ok`` (the cold-analyze target met).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=250_000, help="road intersections")
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-old", action="store_true", help="skip the osmium->XML->osmnx path")
    args = parser.parse_args(argv)

    import osmnx as ox

    from planner.coverage import analyze
    from planner.network import RoadNetwork, load_network, read_graph
    from planner.region import Region

    timings = Timings()
    with tempfile.TemporaryDirectory(prefix="bench-read-") as tmp:
        folder = Path(tmp)
        say(f"read: writing a synthetic county of {args.nodes:,} intersections as .osm")
        files = write_county(
            folder / "county", args.nodes, residents=args.residents, sites=args.sites
        )
        size_mb = files["network"].stat().st_size / 1e6
        sizes: dict[str, int] = {}
        for rep in range(args.repeat):
            say(f"repeat {rep + 1}/{args.repeat}: osmnx.graph_from_xml")
            with quiet_stdout(), timings.phase("osmnx.graph_from_xml"):
                graph = ox.graph_from_xml(files["network"])
            sizes["osmnx_nodes"] = len(graph)
            del graph
            if not args.skip_old:
                say("osmium -> XML -> osmnx -> from_graph (the old path)")
                with quiet_stdout(), timings.phase("old path (read_graph + from_graph)"):
                    old = RoadNetwork.from_graph(read_graph(files["network"]))
                sizes["old_nodes"] = old.n_nodes
                del old
            say("array reader")
            with timings.phase("array reader (load_network, no cache)"):
                new = load_network(files["network"], cache_dir=False)
            sizes["nodes"], sizes["directed_edges"] = new.n_nodes, len(new.edge_u)
            del new
            say("cold analyze")
            cache = folder / f"cache{rep}"
            with timings.phase("cold analyze (load + analyze)"):
                region = Region.from_files(
                    network=files["network"],
                    sites=files["sites"],
                    residents=files["residents"],
                    cache_dir=cache,
                )
                analyze(region)
            del region

    rows = []
    for name, runs in timings.runs.items():
        rows.append([name, min(runs), statistics.median(runs), len(runs)])
    info = machine()
    print(f"\n== read: synthetic county, {sizes['nodes']:,} nodes, {size_mb:.0f} MB of OSM XML")
    print(f"cores {info['cpus']}, load average {info['load_average_now'][0]:.2f} (1 min)")
    print(table(["phase", "min s", "median s", "runs"], rows))
    best = {name: min(runs) for name, runs in timings.runs.items()}
    osmnx_s = best["osmnx.graph_from_xml"]
    reader_s = best["array reader (load_network, no cache)"]
    cold_s = best["cold analyze (load + analyze)"]
    result: dict[str, Any] = {
        "nodes": sizes["nodes"],
        "osm_mb": size_mb,
        "osmnx_s": osmnx_s,
        "reader_s": reader_s,
        "cold_analyze_s": cold_s,
        "osmnx_over_reader": osmnx_s / reader_s,
        "cold_analyze_over_osmnx": cold_s / osmnx_s,
    }
    if not args.skip_old:
        old_s = best["old path (read_graph + from_graph)"]
        result["old_s"] = old_s
        result["old_over_reader"] = old_s / reader_s
        print(f"array reader {result['old_over_reader']:.1f}x faster than the old path")
    print(
        f"array reader {result['osmnx_over_reader']:.1f}x faster than osmnx.graph_from_xml; "
        f"cold analyze takes {result['cold_analyze_over_osmnx']:.2f}x graph_from_xml's time"
    )
    result["ok"] = cold_s < osmnx_s
    write_results(
        NAME,
        {
            "config": vars(args),
            "sizes": sizes,
            "timings": timings.as_dict(),
            "result": result,
            "machine": info,
            "pid": os.getpid(),
        },
    )
    return result


if __name__ == "__main__":
    main()
