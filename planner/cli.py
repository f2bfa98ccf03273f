"""The `servicecircle` command: analyze, suggest, serve (a thin shell over the library)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from planner.errors import InputError

app = typer.Typer(
    help="Plan 15-minute service circles of civilization-practice sites (新时代文明实践 15分钟服务圈).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Plan 15-minute service circles (新时代文明实践 15分钟服务圈)."""

NetworkOpt = Annotated[Path | None, typer.Option("--network", help="Road network: .osm, .osm.bz2, .osm.pbf or .graphml (default: bundled sample).")]
SitesOpt = Annotated[Path | None, typer.Option("--sites", help="Sites CSV/XLSX/GeoJSON/GPKG with id, name, tier, lon, lat.")]
ResidentsOpt = Annotated[Path | None, typer.Option("--residents", help="Residents with id, lon, lat, population (optional town, village).")]
UnitsOpt = Annotated[Path | None, typer.Option("--units", help="Town/village boundaries (GeoJSON/GPKG with name, level, code).")]
StandardsOpt = Annotated[Path | None, typer.Option("--standards", help="TOML file with per-tier mode and minutes.")]
ModeOpt = Annotated[str | None, typer.Option("--mode", help="Travel mode for every tier: walk, bike or drive.")]
MinutesOpt = Annotated[float | None, typer.Option("--minutes", help="Minutes threshold for every tier (default 15).")]
SpeedOpt = Annotated[float | None, typer.Option("--speed-kmh", help="Travel speed in km/h (default walk 4.0, bike 12; drive uses road speeds).")]
SnapOpt = Annotated[float | None, typer.Option("--max-snap-m", help="Points farther than this from a road are unreachable (default 500).")]
CoordOpt = Annotated[str | None, typer.Option("--coord-sys", help="Coordinates of point files: wgs84, gcj02 or bd09 (default wgs84).")]
CacheOpt = Annotated[Path | None, typer.Option("--cache-dir", help="Where compiled road networks are cached.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show library log messages.")]


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except InputError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@contextmanager
def _progress(verbose: bool) -> Iterator[Callable[[str], None]]:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with console.status("starting…") as status:

        def say(msg: str) -> None:
            console.log(msg, highlight=False)
            status.update(msg)

        yield say


def _load_region(say: Callable[[str], None], *, cache_dir: Path | None, **kwargs: Any) -> Any:
    from planner.region import Region
    from planner.standards import Standards

    standards_path = kwargs.pop("standards")
    override = {k: kwargs.pop(k) for k in ("mode", "minutes", "speed_kmh", "max_snap_m")}
    say("reading road network and points")
    region = Region.from_files(cache_dir=cache_dir, **kwargs)
    std = Standards.from_toml(standards_path) if standards_path else region.standards
    return region.with_standards(std.override(**override))


@app.command()
def analyze(
    network: NetworkOpt = None,
    sites: SitesOpt = None,
    residents: ResidentsOpt = None,
    units: UnitsOpt = None,
    standards: StandardsOpt = None,
    mode: ModeOpt = None,
    minutes: MinutesOpt = None,
    speed_kmh: SpeedOpt = None,
    max_snap_m: SnapOpt = None,
    coord_sys: CoordOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("output"),
    cache_dir: CacheOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Coverage of every resident by each tier of sites; gaps; maps and tables in --out."""
    from planner.coverage import analyze as run
    from planner.report import write_analysis

    with _user_errors(), _progress(verbose) as say:
        region = _load_region(
            say, cache_dir=cache_dir, network=network, sites=sites, residents=residents,
            units=units, standards=standards, mode=mode, minutes=minutes, speed_kmh=speed_kmh,
            max_snap_m=max_snap_m, coord_sys=coord_sys,
        )
        coverage = run(region, progress=say)
        say("writing outputs")
        paths = write_analysis(coverage, region, out)
    s = coverage.summary
    print(f"region {s['region']}: {s['residents_total']:,} resident points, {s['sites_total']} sites")
    for tier, row in s["by_tier"].items():
        print(f"  {row['label']:<34} {row['sites']:>4} sites  coverage {row['coverage']:6.1%}  ({row['mode']}, {row['minutes']:g} min)")
    print(f"rejected input rows: {len(coverage.rejected)} (see {paths['rejected']})")
    print(f"gap areas: {s['gaps']} with {s['population_in_gaps']:,} people; Gini of minutes {s['equity']['gini_minutes']:.3f}")
    print(f"population covered: {s['population_covered']:,} of {s['population_total']:,} = {s['coverage']:.1%}")
    print(f"outputs in {Path(out).resolve()} (open map.html)")


def main() -> None:  # pragma: no cover - console entry point
    app()
