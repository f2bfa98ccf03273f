"""A province on Dask: 16 copies of the sample county, two local worker processes vs serial.

Both runs are the real command as a user types it (``servicecircle province --workers 0`` and
``--workers 2``, each a fresh process that pays its own imports), start from the same warm
network cache (the sample's compiled roads), and write every county's outputs (maps left out)
and the merged province summary; the Dask run includes starting its ``LocalCluster``. Each
county's own seconds and CPU seconds are kept, so the cost of a task on a worker can be compared
with the same task in one process. Target: >= 1.8x serial with 2 workers, with equal results.

Run through ``make bench`` (``bench/run.py``) or alone::

    .venv/bin/python -m bench.bench_province            # 16 counties, a few minutes
    .venv/bin/python -m bench.bench_province --quick    # 4 counties
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench.common import Timings, machine, say, table, write_results  # noqa: E402
from planner.region import Region, RegionFiles  # noqa: E402

NAME = "province"
SPEEDUP_TARGET = 1.8
WORKERS = 2
_FIGURES = ["region", "population_total", "population_covered", "coverage", "gaps", "gini_minutes"]


def main(
    *, quick: bool = False, counties: int | None = None, repeats: int | None = None
) -> dict[str, Any]:
    """Time the province serially and on a 2-worker LocalCluster; write ``results/province.json``.

    Returns
    -------
    dict
        ``name``, ``headline``, ``targets_met``.
    """
    n = counties or (4 if quick else 16)
    repeats = repeats or (1 if quick else 3)
    timings = Timings()
    with tempfile.TemporaryDirectory(prefix="bench-province-") as tmp:
        tmp_path = Path(tmp)
        cache = tmp_path / "cache"
        config = _config(tmp_path, n)
        say(f"province: warming the network cache ({n} copies of the sample)")
        Region.from_files(cache_dir=cache)
        results = {}
        for rep in range(repeats):
            for label, workers in (("serial", 0), (f"dask_{WORKERS}_workers", WORKERS)):
                out = tmp_path / f"{label}-{rep}"
                say(f"province: {label} (run {rep + 1} of {repeats})")
                with timings.phase(label):
                    _command(config, out, workers=workers, cache=cache)
                results[label] = pd.read_csv(out / "province_summary.csv")
                for column in ("seconds", "cpu_seconds"):
                    timings.runs.setdefault(f"{label}.county_{column}", []).extend(
                        results[label][column].tolist()
                    )
    serial, dask = results["serial"], results[f"dask_{WORKERS}_workers"]
    same = serial[_FIGURES].equals(dask[_FIGURES]) and (dask["status"] == "done").all()
    t_serial = statistics.median(timings.runs["serial"])
    t_dask = statistics.median(timings.runs[f"dask_{WORKERS}_workers"])
    ratio = t_serial / t_dask
    met = same and ratio >= SPEEDUP_TARGET
    text = (
        f"{n} counties: serial {t_serial:.1f} s, {WORKERS} workers {t_dask:.1f} s = {ratio:.2f}x "
        f"(target >= {SPEEDUP_TARGET:g}x), results {'equal' if same else 'DIFFERENT'}: "
        f"{'met' if met else 'MISSED'}"
    )
    print(f"\n== province: {n} copies of the sample county")
    print(
        table(
            ["run", "median s", "min s", "runs"],
            [
                [k, statistics.median(v), min(v), ", ".join(f"{x:.1f}" for x in v)]
                for k, v in timings.runs.items()
            ],
        )
    )
    print(text)
    path = write_results(
        NAME,
        {
            "config": {"counties": n, "workers": WORKERS, "repeats": repeats, "maps": False},
            "machine": machine(),
            "timings_s": timings.as_dict(),
            "speedup": ratio,
            "same_results": bool(same),
        },
    )
    say(f"province: results in {path}")
    return {"name": NAME, "headline": [text], "targets_met": met}


def _command(config: Path, out: Path, *, workers: int, cache: Path) -> None:
    """``servicecircle province`` in a fresh process, as a user runs it."""
    argv = ["province", "--config", config, "--out", out, "--workers", workers]
    argv += ["--no-maps", "--cache-dir", cache]
    subprocess.run(
        [sys.executable, "-m", "planner", *map(str, argv)],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )


def _config(folder: Path, n: int) -> Path:
    files = RegionFiles.sample()
    lines = []
    for i in range(n):
        lines += [
            "[[regions]]",
            f'name = "county-{i + 1:02d}"',
            *(
                f'{key} = "{Path(getattr(files, key)).as_posix()}"'
                for key in ("network", "sites", "residents", "units")
            ),
            "",
        ]
    path = folder / "regions.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 counties")
    parser.add_argument("--counties", type=int, help="number of counties (default 16)")
    parser.add_argument("--repeats", type=int, help="runs of each (default 3; --quick 1)")
    args = parser.parse_args()
    result = main(quick=args.quick, counties=args.counties, repeats=args.repeats)
    sys.exit(0 if result["targets_met"] else 1)
