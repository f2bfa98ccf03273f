"""The command line's flags: declared once, the same on every command, reaching the library."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from planner.cli import RegionInputs, _progress, app

# The flags every analysing command had before they were declared once (from their --help;
# --help itself is click's, not a parameter).
REGION = [
    "--network",
    "--sites",
    "--residents",
    "--units",
    "--standards",
    "--mode",
    "--minutes",
    "--speed-kmh",
    "--max-snap-m",
    "--coord-sys",
    "--name",
    "--dem",
    "--sheet",
    "--cache-dir",
    "--out",
    "--verbose",
    "-v",
]
OWN = {
    "analyze": ["--max-population", "--compliant-only", "--tianditu-key"],
    "suggest": [
        *("--candidates", "--k", "--target", "--tier", "--kinds", "--min-rooms"),
        *("--max-per-town", "--town", "--weight-column", "--greedy", "--time-limit"),
        *("--max-population", "--compliant-only", "--tianditu-key"),
    ],
    "audit": [
        *("--teams", "--activities", "--projects", "--unit-stats", "--venues", "--year"),
        *("--rules", "--spot-check", "--seed", "--tianditu-key"),
    ],
    "compare": ["--close", "--add", "--retier", "--scenario", "--add-tier", "--tianditu-key"],
    "report": ["--town", "--all-towns", "--k", "--pdf", "--no-pdf", "--candidates"],
}
MAP_KEY = "abcd1234efgh"  # a well-formed 天地图 key (8-64 letters and digits)

runner = CliRunner()


def command(name: str) -> Any:
    """The click command typer builds for ``name`` (typer carries its own copy of click)."""
    return typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]


def options(name: str) -> dict[str, Any]:
    """The options of command ``name`` by flag (every spelling)."""
    return {flag: p for p in command(name).params for flag in [*p.opts, *p.secondary_opts]}


@pytest.mark.parametrize("name", sorted(OWN))
def test_every_command_keeps_its_flags(name: str) -> None:
    assert sorted(options(name)) == sorted(REGION + OWN[name])


def test_a_region_flag_reads_the_same_on_every_command() -> None:
    """One declaration: the same help and default wherever a region flag appears."""
    seen: dict[str, set[tuple[Any, ...]]] = {}
    for name in OWN:
        for flag, p in options(name).items():
            if flag in [*REGION, "--candidates", "--max-population", "--tianditu-key"]:
                if flag != "--out":  # each command has its own output folder
                    seen.setdefault(flag, set()).add((p.help, p.default))
    assert {flag for flag, forms in seen.items() if len(forms) > 1} == set()
    assert seen["--tianditu-key"] == {
        ("Key for 天地图 vector and imagery backgrounds on the map.", None)
    }


def test_the_map_key_comes_from_the_environment_too() -> None:
    for name in ("analyze", "suggest", "audit", "compare"):
        assert options(name)["--tianditu-key"].envvar == "TIANDITU_KEY"


def test_region_inputs_fields_are_the_region_flags() -> None:
    flags = {f"--{f.replace('_', '-')}" for f in RegionInputs.__dataclass_fields__}
    assert flags == {*REGION[:14], "--candidates", "--max-population"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["analyze", "--max-population", "-1"], "--max-population must be a positive number"),
        (["report", "--town", "青山乡", "--max-population", "5"], "No such option"),
        (["audit", "--candidates", "c.csv"], "No such option"),
        (["compare", "--close", "S0012", "--max-population", "5"], "No such option"),
    ],
)
def test_flags_a_command_does_not_take_are_refused(
    args: list[str], words: str, tmp_path: Path
) -> None:
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert done.exit_code == 2
    assert words in done.output
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``analyze`` of the sample with travel flags, a name and a map key (none in the env)."""
    out = tmp_path_factory.mktemp("cli") / "analyze"
    args = ["analyze", "--minutes", "14", "--name", "测试县", "--tianditu-key", MAP_KEY]
    done = runner.invoke(app, [*args, "--out", str(out)], env={"TIANDITU_KEY": None})
    assert done.exit_code == 0, done.output
    return out


def test_region_flags_reach_the_analysis_and_its_record(analysed: Path) -> None:
    summary = json.loads((analysed / "summary.json").read_text(encoding="utf-8"))
    assert summary["region"] == "测试县"
    assert {row["minutes"] for row in summary["by_tier"].values()} == {14}
    assert list(summary["run"]["options"].items()) == [
        ("mode", None),
        ("minutes", 14.0),
        ("speed_kmh", None),
        ("max_snap_m", None),
        ("coord_sys", None),
        ("name", "测试县"),
        ("sheet", None),
        ("max_population", 100_000.0),
    ]


def test_the_map_key_flag_reaches_the_analyze_map(analysed: Path) -> None:
    html = (analysed / "map.html").read_text(encoding="utf-8")
    assert "tianditu.gov.cn" in html
    assert MAP_KEY in html


def test_suggest_records_its_request_and_draws_with_the_key(tmp_path: Path) -> None:
    out = tmp_path / "suggest"
    args = ["suggest", "--k", "2", "--greedy", "--tier", "站", "--tianditu-key", MAP_KEY]
    done = runner.invoke(app, [*args, "--out", str(out)], env={"TIANDITU_KEY": None})
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    recorded = summary["run"]["options"]
    assert list(recorded) == [
        *("k", "target", "tier", "kinds", "min_rooms", "max_per_town", "town"),
        *("weight_column", "method", "time_limit", "mode", "minutes", "speed_kmh"),
        *("max_snap_m", "coord_sys", "sheet", "max_population"),
    ]
    assert (recorded["k"], recorded["tier"], recorded["method"]) == (2, "station", "greedy")
    assert summary["new_sites"] == 2
    assert MAP_KEY in (out / "map.html").read_text(encoding="utf-8")


def test_a_command_freezes_what_it_loaded_before_its_work() -> None:
    """What a command imported lives until it exits: kept out of its full collections."""
    assert gc.get_freeze_count() == 0  # the suite's autouse fixture unfroze the last test's
    with _progress(False) as say:
        assert gc.get_freeze_count() > 10_000
        say("working")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["province", "--workers", "-1"], "--workers must be 0 or more"),
        (["report", "--town", "城关镇", "--k", "-1"], "--k must be 0 or more"),
        (["suggest", "--k", "-2"], "k must be at least 1"),
        (["suggest", "--k", "2", "--max-per-town", "0"], "max per town must be at least 1"),
        (["serve", "--workers", "0"], "--workers 0: one worker process"),
        (["audit", "--spot-check", "3", "--seed", "-1"], "--seed must be 0 or more"),
    ],
    ids=[
        *("province-workers", "report-k", "suggest-k", "suggest-max-per-town"),
        *("serve-workers", "audit-seed"),
    ],
)
def test_a_count_below_its_least_is_refused_before_any_work(
    args: list[str], words: str, tmp_path: Path
) -> None:
    """``province --workers -1`` once hung starting a cluster of -1 workers."""
    out = tmp_path / "out"
    config = tmp_path / "regions.toml"  # never read: the count is refused first
    given = {"province": ["--config", str(config)], "serve": []}.get(args[0], [])
    folder = [] if args[0] == "serve" else ["--out", str(out)]
    done = runner.invoke(app, [*args, *given, *folder])
    assert done.exit_code == 2, done.output
    assert "error:" in done.output and words in done.output
    assert "Traceback" not in done.output
    assert not out.exists()


def test_a_python_caller_gets_the_same_refusal(tmp_path: Path) -> None:
    from planner.errors import InputError
    from planner.province import run_province
    from planner.town_report import check_proposals

    with pytest.raises(InputError, match=r"--workers must be 0 or more .*got -1"):
        run_province(tmp_path / "regions.toml", tmp_path / "out", workers=-1)
    with pytest.raises(InputError, match="--k must be 0 or more"):
        check_proposals(-1)
    check_proposals(0)  # 0: a report without proposals


def test_messages_name_the_flag_a_user_types_and_the_python_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A message once said "use min_rooms=0": no flag has that name (it is --min-rooms)."""
    from dataclasses import replace

    import geopandas as gpd

    from planner.checks import warn_population
    from planner.errors import InputError
    from planner.region import Region
    from planner.siting import eligible_candidates

    residents = gpd.GeoDataFrame({"id": ["R1", "R2"], "population": [10.0, 250_000.0]})
    with caplog.at_level("WARNING"):
        assert warn_population(residents, bound=100_000, source="r.csv") == 1
    hint = "to allow more, use --max-population N (bound=N of warn_population in Python)"
    assert hint in caplog.text
    region = Region.from_files()
    cands = region.candidates.assign(rooms=None)  # rooms unknown everywhere
    with pytest.raises(InputError) as refused:
        eligible_candidates(replace(region, candidates=cands, _cache={}), min_rooms=3)
    assert "to allow, use --min-rooms 0 (min_rooms=0 in Python and the API)" in str(refused.value)
