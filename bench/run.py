"""Run every benchmark in bench/ and print a summary (``make bench``).

A benchmark is a module ``bench/bench_<name>.py`` whose ``main`` prints its own tables, writes
``bench/results/<name>.json`` and returns a dict. Two shapes of ``main`` are understood:

- ``main(*, quick: bool = False)``, returning ``headline`` (summary lines) and ``targets_met``;
- ``main(argv: list[str] | None = None)``, a command-line entry point run with its defaults
  (or with the module's ``QUICK_ARGV`` under ``--quick``), returning ``ok``.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Names of the benchmarks found, in alphabetical order (``reach``, ``siting`` ...)."""
    return sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks named on the command line (all by default); 1 if any target missed."""
    names = discover()
    parser = argparse.ArgumentParser(description="servicecircle benchmarks")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(names)}")
    parser.add_argument("--quick", action="store_true", help="small smoke-test sizes")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}: choose from {', '.join(names)}")
    # Run as a script, Python puts bench/ on the path; the modules import bench.* and planner.*
    sys.path.insert(0, str(BENCH_DIR.parent))
    summaries: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for name in args.names or names:
        started = time.perf_counter()
        summary = _run(name, quick=args.quick)
        summary["wall_s"] = time.perf_counter() - started
        summaries.append(summary)
    print(f"\n== summary ({'quick' if args.quick else 'full'} size)")
    for s in summaries:
        status = "targets met" if s["targets_met"] else "TARGETS MISSED"
        print(f"{s['name']}: {status} ({s['wall_s']:.0f} s)")
        for line in s["headline"]:
            print(f"  {line}")
    print(f"total {time.perf_counter() - t0:.0f} s")
    missed = any(not s["targets_met"] for s in summaries)
    return 1 if args.strict and missed else 0


def _run(name: str, *, quick: bool) -> dict[str, Any]:
    """Run one benchmark module, whichever ``main`` shape it has; a normalised summary."""
    module = importlib.import_module(f"bench.bench_{name}")
    if "quick" in inspect.signature(module.main).parameters:
        result = module.main(quick=quick)
    else:
        result = module.main(list(getattr(module, "QUICK_ARGV", [])) if quick else [])
    headline = result.get("headline")
    if headline is None:  # a command-line benchmark: show its scalar figures
        headline = [
            ", ".join(
                f"{k} {v:g}"
                for k, v in result.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            )
        ]
    return {
        "name": name,
        "headline": headline,
        "targets_met": bool(result.get("targets_met", result.get("ok", False))),
    }


if __name__ == "__main__":
    sys.exit(main())
