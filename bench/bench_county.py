"""A county at scale (issue 12): cold and warm ``analyze`` vs osmnx and the code it started from.

Every step runs in its own process under ``/usr/bin/time``, so its peak memory (maximum
resident set) is its own, not this script's; each is timed ``--repeats`` times (min and
median), with the load average before and after every run (the machine may be shared):

- ``write``: a synthetic county written as ``.osm`` (``bench/synthetic_osm.py``), once;
- ``osmnx.graph_from_xml`` alone on that file (the baseline);
- a **cold** ``python -m planner analyze`` of the county (empty ``--cache-dir``, parse
  included, every default output written: tables, GeoPackage and ``map.html``);
- a **warm** analyze (the cache a cold run filled), side by side with the same command of the
  code at ``--old-ref`` (default ``9e9401b``), checked out in a throwaway worktree outside
  the repo, run with the same Python and its own cache (filled first by one cold run, shown
  in the table but not a target); a run past ``--old-timeout`` seconds is killed and recorded
  as that bound. Two more warm runs say what the kept files buy: **network kept only** (the
  cache without the travel graphs and service areas a run keeps, i.e. what the old code's
  cache held) and **one station moved** (a plan being iterated: the stations' service areas
  are redrawn, the other tiers' read back);
- ``--huge``: a cold analyze of a 1,000,000-node county (400,000 residents, 8,000 sites).

Targets: cold analyze faster than ``graph_from_xml`` alone and under 1 GB at peak; warm
analyze at least 5x faster than the old code's; the huge cold analyze under 3 GB at peak.

Run through ``make bench`` or alone::

    .venv/bin/python -m bench.bench_county                     # 250k nodes, 3 repeats
    .venv/bin/python -m bench.bench_county --nodes 20000 --residents 8000 --sites 160
    .venv/bin/python -m bench.bench_county --huge --old-ref ''  # adds the 1M county, no old code
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench.common import machine, say, table, write_results  # noqa: E402

NAME = "county"
QUICK_ARGV = ["--nodes", "20000", "--residents", "8000", "--sites", "160"]
"""What ``bench/run.py --quick`` passes to :func:`main`."""
TIME = "/usr/bin/time"
GB = 1e9
HUGE = {"nodes": 1_000_000, "residents": 400_000, "sites": 8_000}
_WRITE = (
    "import sys; from pathlib import Path; from bench.synthetic_osm import write_county; "
    "write_county(Path(sys.argv[1]), int(sys.argv[2]), residents=int(sys.argv[3]), "
    "sites=int(sys.argv[4]))"
)
_OSMNX = "import sys, osmnx; g = osmnx.graph_from_xml(sys.argv[1]); print(len(g), 'nodes')"


def run_measured(
    cmd: list[str], *, code: Path, log: Path, timeout: float | None = None
) -> dict[str, Any]:
    """Run ``cmd`` (``PYTHONPATH=code``, in ``code``) in its own process; what it cost.

    Returns
    -------
    dict
        ``wall_s``, ``cpu_s`` (user + system), ``peak_mb`` (maximum resident set of the
        process, from ``/usr/bin/time``), ``load_before`` / ``load_after`` (1, 5, 15 min),
        ``returncode`` and ``timed_out`` (killed after ``timeout`` seconds: times are then
        that bound and ``cpu_s`` / ``peak_mb`` are ``None``).
    """
    env = {**os.environ, "PYTHONPATH": str(code)}
    stats = log.with_suffix(".time")
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [TIME, "-f", "%U %S %M", "-o", str(stats), *cmd],
            cwd=code,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a timeout kills the whole group
        )
        try:
            returncode: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            returncode = None
    wall = time.perf_counter() - t0
    result: dict[str, Any] = {
        "wall_s": wall,
        "cpu_s": None,
        "peak_mib": None,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "returncode": returncode,
        "timed_out": returncode is None,
    }
    if returncode is not None:
        user, system, max_kb = stats.read_text().split()[-3:]  # after any "exited with" line
        result["cpu_s"] = float(user) + float(system)
        result["peak_mib"] = int(max_kb) / 1024
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print its table, write ``bench/results/county.json``.

    Returns
    -------
    dict
        ``headline`` (lines for the run summary), ``ok`` (every target measured and met) and
        the best seconds and peak megabytes of each step.
    """
    args = _parse(argv)
    steps: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-county-") as tmp:
        work = Path(tmp)
        runner = _Runner(work, steps)
        county = runner.write(
            "write county", work / "county", args.nodes, args.residents, args.sites
        )
        cold_repeats = args.repeats if args.cold_repeats is None else args.cold_repeats
        for rep in range(cold_repeats):
            if args.osmnx:
                say(f"county: repeat {rep + 1}/{cold_repeats}: osmnx.graph_from_xml")
                cmd = [sys.executable, "-c", _OSMNX, county["network"]]
                runner.run("osmnx.graph_from_xml", cmd)
            say("county: cold analyze (empty cache)")
            warm_cache = work / f"cache-cold{rep}"
            runner.analyze("cold analyze", county, warm_cache, ROOT)
        old = _old_worktree(args.old_ref, work / "old") if args.old_ref else None
        try:
            old_ok = old is not None and _fill_old_cache(runner, county, old, work, args)
            moved = _one_station_moved(county, work)
            for rep in range(args.repeats):
                say(f"county: repeat {rep + 1}/{args.repeats}: warm analyze, new then old")
                runner.analyze("warm analyze", county, warm_cache, ROOT)
                # What the old code's cache held (the compiled network and snapping
                # indexes): no kept travel graph, no kept service areas.
                cache = _linked_copy(warm_cache, work / "cache-network-only", _DRAWN)
                runner.analyze("warm analyze, network kept only", county, cache, ROOT)
                # Iterating a plan: one station moved, so the stations' areas are redrawn.
                cache = _linked_copy(warm_cache, work / "cache-moved", ())
                runner.analyze("warm analyze, one station moved", moved, cache, ROOT)
                if old_ok and old is not None:
                    old_ok = not runner.analyze(
                        f"warm analyze, old {args.old_ref}",
                        county,
                        work / "cache-old",
                        old,
                        timeout=args.old_timeout,
                    )["timed_out"]
        finally:
            if old is not None:
                _git("worktree", "remove", "--force", str(old))
        if args.huge:
            huge = runner.write("write huge county", work / "huge", **HUGE)
            for rep in range(args.repeats):
                say(f"county: repeat {rep + 1}/{args.repeats}: cold analyze of the huge county")
                runner.analyze("huge cold analyze", huge, work / f"cache-huge{rep}", ROOT)
    return _report(args, steps)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=250_000, help="road intersections")
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--cold-repeats",
        type=int,
        default=None,
        help="repeats of the slow cold steps (graph_from_xml, cold analyze); default --repeats",
    )
    parser.add_argument(
        "--old-ref", default="9e9401b", help="commit to compare warm runs with ('' to skip)"
    )
    parser.add_argument(
        "--old-timeout", type=float, default=1800.0, help="seconds before an old run is killed"
    )
    parser.add_argument(
        "--huge", action="store_true", help="add a cold analyze of a 1,000,000-node county"
    )
    parser.add_argument(
        "--no-osmnx",
        dest="osmnx",
        action="store_false",
        help="skip osmnx.graph_from_xml (minutes; the cold target is then not measured)",
    )
    return parser.parse_args(argv)


class _Runner:
    """Runs the steps, keeps every measurement under its step's name, stops on a failure."""

    def __init__(self, work: Path, steps: dict[str, list[dict[str, Any]]]) -> None:
        self.work, self.steps = work, steps

    def run(
        self, step: str, cmd: list[str], *, code: Path = ROOT, timeout: float | None = None
    ) -> dict[str, Any]:
        """Measure one run of ``step``; a failure (not a timeout) stops the benchmark."""
        runs = self.steps.setdefault(step, [])
        log = self.work / f"{len(self.steps)}-{len(runs)}.log"
        measured = run_measured(cmd, code=code, log=log, timeout=timeout)
        runs.append(measured)
        peak = "-" if measured["peak_mib"] is None else f"{measured['peak_mib']:,.0f} MiB"
        status = "timed out" if measured["timed_out"] else f"{measured['wall_s']:.1f} s"
        say(f"  {step}: {status}, peak {peak}, load {measured['load_after'][0]:.2f}")
        if measured["returncode"] not in (0, None):
            tail = log.read_text(errors="replace")[-2000:]
            msg = f"{step} failed (exit {measured['returncode']}):\n{tail}"
            raise SystemExit(msg)
        return measured

    def write(
        self, step: str, folder: Path, nodes: int, residents: int, sites: int
    ) -> dict[str, str]:
        """Write a synthetic county as ``.osm`` plus point CSVs; its file paths."""
        say(f"county: writing {nodes:,} intersections, {residents:,} residents as .osm")
        cmd = [sys.executable, "-c", _WRITE, str(folder), str(nodes), str(residents), str(sites)]
        self.run(step, cmd)
        files = {k: str(folder / f) for k, f in _FILES.items()}
        self.steps[step][-1]["osm_mb"] = Path(files["network"]).stat().st_size / 1e6
        return files

    def analyze(
        self,
        step: str,
        county: dict[str, str],
        cache: Path,
        code: Path,
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One ``python -m planner analyze`` of ``county``, measured with its coverage and files."""
        out = self.work / "out"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, "-m", "planner", "analyze", "--cache-dir", str(cache)]
        for flag in ("network", "sites", "residents"):
            cmd += [f"--{flag}", county[flag]]
        measured = self.run(step, [*cmd, "--out", str(out)], code=code, timeout=timeout)
        if measured["timed_out"]:
            return measured
        measured["coverage"] = json.loads((out / "summary.json").read_text()).get("coverage")
        measured["outputs"] = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
        shutil.rmtree(out)
        return measured


_FILES = {"network": "county.osm", "sites": "sites.csv", "residents": "residents.csv"}
_DRAWN = (".graph-", ".areas-")
"""What analyze keeps beside the compiled network besides the network and snapping indexes."""


def _linked_copy(cache: Path, to: Path, leave_out: tuple[str, ...]) -> Path:
    """A fresh copy of the cache folder (hard links) without files whose names hold
    ``leave_out``: a run writing into it leaves ``cache`` as it was."""
    shutil.rmtree(to, ignore_errors=True)
    to.mkdir(parents=True)
    for f in cache.iterdir():
        if not any(part in f.name for part in leave_out):
            os.link(f, to / f.name)
    return to


def _one_station_moved(county: dict[str, str], work: Path) -> dict[str, str]:
    """The county with its first station moved about 300 m east (a new sites file)."""
    import pandas as pd

    sites = pd.read_csv(county["sites"], dtype=str)
    first = sites.index[sites["tier"] == "站"][0]
    sites.loc[first, "lon"] = f"{float(sites.loc[first, 'lon']) + 0.003:.6f}"
    path = work / "sites-one-moved.csv"
    sites.to_csv(path, index=False)
    return {**county, "sites": str(path)}


def _git(*args: str) -> None:
    subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True)


def _old_worktree(ref: str, where: Path) -> Path:
    """Check ``ref`` out in a throwaway worktree at ``where`` (outside the repository)."""
    say(f"county: checking out {ref} in {where}")
    _git("worktree", "add", "--detach", str(where), ref)
    return where


def _fill_old_cache(
    runner: _Runner, county: dict[str, str], old: Path, work: Path, args: argparse.Namespace
) -> bool:
    """One cold run of the old code, which fills its cache; false if it timed out."""
    limit = f"at most {args.old_timeout:g} s"
    say(f"county: cold analyze with {args.old_ref} (fills its cache; {limit})")
    done = runner.analyze(
        f"cold analyze, old {args.old_ref}",
        county,
        work / "cache-old",
        old,
        timeout=args.old_timeout,
    )
    return not done["timed_out"]


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_s"] for r in runs]
    peaks = [r["peak_mib"] for r in runs if r["peak_mib"] is not None]
    return {
        "runs": len(runs),
        "timed_out": sum(r["timed_out"] for r in runs),
        "min_s": min(walls),
        "median_s": float(statistics.median(walls)),
        "cpu_s_min": min((r["cpu_s"] for r in runs if r["cpu_s"] is not None), default=None),
        "peak_mib_max": max(peaks, default=None),
        "coverage": next((r["coverage"] for r in runs if "coverage" in r), None),
        "outputs": next((sorted(r["outputs"]) for r in runs if "outputs" in r), None),
        "load_1min_before": [r["load_before"][0] for r in runs],
        "load_1min_after": [r["load_after"][0] for r in runs],
    }


def _targets(args: argparse.Namespace, s: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets against what was measured; a bound where the old code gave up."""
    cold, osmnx = s["cold analyze"], s.get("osmnx.graph_from_xml")
    out = [
        _target("cold analyze < osmnx.graph_from_xml alone", None, "osmnx not run")
        if osmnx is None
        else _target(
            "cold analyze < osmnx.graph_from_xml alone",
            cold["min_s"] < osmnx["min_s"],
            f"{cold['min_s']:.1f} s vs {osmnx['min_s']:.1f} s",
        ),
        _peak("cold analyze", cold, 1),
    ]
    warm = s["warm analyze"]
    old_warm = s.get(f"warm analyze, old {args.old_ref}")
    old_cold = s.get(f"cold analyze, old {args.old_ref}")
    if not args.old_ref:
        out.append(_target("warm analyze >= 5x faster than old", None, "old code not run"))
    elif old_warm and not old_warm["timed_out"]:
        for step in (
            "warm analyze",
            "warm analyze, network kept only",
            "warm analyze, one station moved",
        ):
            if step not in s:
                continue
            new = s[step]
            ratio = old_warm["median_s"] / new["median_s"]
            out.append(
                _target(
                    f"{step} >= 5x faster than old (medians)",
                    ratio >= 5,
                    f"{ratio:.1f}x ({new['median_s']:.1f} s vs {old_warm['median_s']:.1f} s; "
                    f"min {old_warm['min_s'] / new['min_s']:.1f}x)",
                )
            )
    else:
        what = "warm" if old_warm else "cold (cache fill)"
        ratio = args.old_timeout / warm["min_s"]
        out.append(
            _target(
                "warm analyze >= 5x faster than old",
                ratio >= 5,
                f"bound: old {what} run killed after {args.old_timeout:g} s, >= {ratio:.1f}x",
                bound=True,
            )
        )
    if old_cold and not old_cold["timed_out"]:
        out[-1]["old_cold_s"] = old_cold["min_s"]
    if "huge cold analyze" in s:
        out.append(_peak("huge cold analyze", s["huge cold analyze"], 3))
    return out


def _peak(step: str, summary: dict[str, Any], limit_gb: float) -> dict[str, Any]:
    peak = summary["peak_mib_max"]
    met = peak is not None and peak * 2**20 < limit_gb * GB
    shown = "-" if peak is None else f"{peak:,.0f} MiB"
    return _target(f"{step} peak < {limit_gb:g} GB", met, shown)


def _target(target: str, met: bool | None, value: str, *, bound: bool = False) -> dict[str, Any]:
    verdict = "not measured" if met is None else ("met" if met else "MISSED")
    return {"target": target, "met": met, "bound": bound, "text": f"{target}: {value}: {verdict}"}


def _report(args: argparse.Namespace, steps: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Print the table and the targets, write ``results/county.json``; the run's summary."""
    summaries = {step: _summary(runs) for step, runs in steps.items()}
    targets = _targets(args, summaries)
    info = machine()
    osm_mb = steps["write county"][0]["osm_mb"]
    print(
        f"\n== county: {args.nodes:,} road nodes ({osm_mb:,.0f} MB of OSM XML), "
        f"{args.residents:,} residents, {args.sites:,} sites; {info['cpus']} cores, "
        f"each step its own process, {args.repeats} repeat(s)"
    )
    rows = [
        [
            step,
            s["runs"] - s["timed_out"] if not s["timed_out"] else f"{s['timed_out']} killed",
            s["min_s"],
            s["median_s"],
            s["cpu_s_min"],
            s["peak_mib_max"],
            "-" if s["coverage"] is None else f"{s['coverage']:.2%}",
            " ".join(
                f"{a:.1f}>{b:.1f}"
                for a, b in zip(s["load_1min_before"], s["load_1min_after"], strict=True)
            ),
        ]
        for step, s in summaries.items()
    ]
    print(
        table(
            ["step", "runs", "min s", "median s", "cpu s", "peak MiB", "coverage", "load 1m"], rows
        )
    )
    for step in ("cold analyze", f"cold analyze, old {args.old_ref}"):
        if summaries.get(step, {}).get("outputs"):
            files = summaries[step]["outputs"]
            maps = "map.html included" if "map.html" in files else "no map.html"
            print(f"{step.replace('cold ', '')} writes {', '.join(files)} ({maps})")
    for t in targets:
        print(t["text"])
    write_results(
        NAME,
        {
            "config": vars(args),
            "steps": steps,
            "summary": summaries,
            "targets": targets,
            "machine": info,
        },
    )
    result: dict[str, Any] = {
        f"{step} s": s["min_s"] for step, s in summaries.items() if not s["timed_out"]
    }
    result["headline"] = [t["text"] for t in targets]
    result["ok"] = all(t["met"] for t in targets)
    return result


if __name__ == "__main__":
    main()
