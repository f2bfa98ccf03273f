"""Standards audit at county-ledger scale: 100,000 activity rows over 5,000 sites.

Synthetic sites (1 centre, 100 institutes, 4,899 stations in 100 towns and 5,000 villages),
~20,000 teams, 100,000 ledger rows, brand projects and village figures are written as CSV,
read once with :meth:`planner.audit.AuditInputs.from_files` (timed apart), then audited
three times with :func:`planner.audit.audit`. Target: median audit time after reading < 2 s.

Run through ``make bench`` (``bench/run.py``) or alone::

    .venv/bin/python -m bench.bench_audit            # full size
    .venv/bin/python -m bench.bench_audit --quick    # 10,000 rows over 500 sites
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench.common import machine, say, table, write_results  # noqa: E402
from planner.audit import AuditInputs, AuditRules, audit  # noqa: E402

NAME = "audit"
TARGET_S = 2.0
TYPES = ["理论宣讲", "文化活动", "教育服务", "体育健身", "科学普及", "培训"]


def synthetic(
    folder: Path, *, sites: int, rows: int, seed: int = 11
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Write the ledgers into ``folder``; return the sites and village units."""
    rng = np.random.default_rng(seed)
    towns = max(2, sites // 50)
    institutes = towns
    tier = np.array(
        ["centre"] + ["institute"] * institutes + ["station"] * (sites - 1 - institutes)
    )
    town = np.concatenate(
        [[0], np.arange(institutes), rng.integers(0, towns, sites - 1 - institutes)]
    )
    ids = np.array([f"S{k:05d}" for k in range(sites)])
    village = np.array([f"V{k:05d}" for k in range(sites)])
    frame = gpd.GeoDataFrame(
        {
            "id": ids,
            "name": [f"站点{k}" for k in range(sites)],
            "tier": tier,
            "town": [f"镇{t}" for t in town],
            "town_code": [f"T{t:03d}" for t in town],
            "village_code": village,
            "rooms": rng.integers(2, 8, sites),
            "staff": rng.integers(0, 6, sites),
            "functions": "理论宣讲、教育服务、文化活动、体育健身、科学普及",
            "desk": rng.choice(["是", "否", ""], sites, p=[0.9, 0.05, 0.05]),
            "open_hours": "9:00-17:00",
            "manager": "王建华",
        },
        geometry=gpd.points_from_xy(rng.uniform(0, 50_000, sites), rng.uniform(0, 50_000, sites)),
        crs="EPSG:32650",
    )
    units = gpd.GeoDataFrame(
        {
            "level": "village",
            "code": village,
            "name": [f"村{k}" if k % 5 else f"社区{k}" for k in range(sites)],
            "town": frame["town"],
        },
        geometry=frame.geometry,
        crs=frame.crs,
    )
    n_teams = rng.integers(2, 7, sites)
    team_site = np.repeat(ids, n_teams)
    team_no = np.concatenate([np.arange(n) for n in n_teams])
    team_name = pd.Series(team_site).str.slice(1) + "队" + pd.Series(team_no).astype(str)
    pd.DataFrame({"site_id": team_site, "team": team_name, "members": 20}).to_csv(
        folder / "teams.csv", index=False
    )
    pick = rng.integers(0, len(team_site), rows)
    day = np.datetime64("2025-01-01") + rng.integers(0, 365, rows)
    pd.DataFrame(
        {
            "date": day.astype(str),
            "site_id": team_site[pick],
            "team": team_name.to_numpy()[pick],
            "type": rng.choice(TYPES, rows),
            "title": [f"活动{k}" for k in range(rows)],
            "participants": rng.integers(5, 200, rows),
            "volunteer_hours": rng.integers(1, 300, rows),
        }
    ).to_csv(folder / "activities.csv", index=False)
    n_proj = sites * 2
    pd.DataFrame(
        {
            "name": [f"项目{k}" for k in range(n_proj)],
            "level": np.where(tier[np.arange(n_proj) % sites] == "station", "村级", "乡镇级"),
            "site_id": ids[np.arange(n_proj) % sites],
        }
    ).assign(level=lambda f: np.where(f["site_id"] == ids[0], "县级", f["level"])).to_csv(
        folder / "projects.csv", index=False
    )
    pop = rng.integers(500, 5000, sites)
    vol = (pop * rng.uniform(0.1, 0.2, sites)).astype(int)
    pd.DataFrame(
        {
            "code": village,
            "population": pop,
            "volunteers": vol,
            "volunteers_with_hours": (vol * rng.uniform(0.3, 0.8, sites)).astype(int),
        }
    ).to_csv(folder / "unit_stats.csv", index=False)
    return frame, units


def main(*, quick: bool = False) -> dict[str, Any]:
    """Time reading and auditing; print a table and write ``bench/results/audit.json``."""
    sites_n, rows_n = (500, 10_000) if quick else (5_000, 100_000)
    rules = AuditRules.from_toml()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        say(f"audit: writing {rows_n:,} ledger rows over {sites_n:,} sites")
        sites, units = synthetic(folder, sites=sites_n, rows=rows_n)
        t0 = time.perf_counter()
        inputs = AuditInputs.from_files(
            sites,
            units=units,
            teams=folder / "teams.csv",
            activities=folder / "activities.csv",
            projects=folder / "projects.csv",
            unit_stats=folder / "unit_stats.csv",
        )
        read_s = time.perf_counter() - t0
    runs, cpu = [], []
    for k in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        result = audit(sites, inputs, rules=rules, units=units, region_name="bench")
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        say(f"audit: run {k + 1} {runs[-1]:.2f} s ({cpu[-1]:.2f} s CPU)")
    median = statistics.median(runs)
    met = median < TARGET_S or quick
    print(
        table(
            ["phase", "seconds", "CPU seconds"],
            [
                ["read ledgers", read_s, None],
                *[
                    [f"audit run {k + 1}", r, c]
                    for k, (r, c) in enumerate(zip(runs, cpu, strict=True))
                ],
            ],
        )
    )
    text = (
        f"audit of {rows_n:,} ledger rows over {sites_n:,} sites: median {median:.2f} s after "
        f"reading (target < {TARGET_S:g} s; CPU {statistics.median(cpu):.2f} s), "
        f"reading {read_s:.2f} s, "
        f"{len(result.findings):,} findings"
    )
    print(text)
    path = write_results(
        NAME,
        {
            "config": {"sites": sites_n, "rows": rows_n, "quick": quick},
            "machine": machine(),
            "read_s": read_s,
            "audit_runs_s": runs,
            "audit_median_s": median,
            "audit_cpu_s": cpu,
            "load_average": __import__("os").getloadavg(),
            "findings": len(result.findings),
            "target_s": TARGET_S,
        },
    )
    say(f"audit: results in {path}")
    return {"name": NAME, "headline": [text], "targets_met": met}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    main(quick=parser.parse_args().quick)
