"""The `servicecircle` command: analyze, suggest, serve (a thin shell over the library)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

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


NetworkOpt = Annotated[
    Path | None,
    typer.Option(
        "--network",
        help="Road network: .osm, .osm.bz2, .osm.pbf or .graphml (default: bundled sample).",
    ),
]
SitesOpt = Annotated[
    Path | None,
    typer.Option("--sites", help="Sites CSV/XLSX/GeoJSON/GPKG with id, name, tier, lon, lat."),
]
ResidentsOpt = Annotated[
    Path | None,
    typer.Option(
        "--residents", help="Residents with id, lon, lat, population (optional town, village)."
    ),
]
UnitsOpt = Annotated[
    Path | None,
    typer.Option("--units", help="Town/village boundaries (GeoJSON/GPKG with name, level, code)."),
]
StandardsOpt = Annotated[
    Path | None, typer.Option("--standards", help="TOML file with per-tier mode and minutes.")
]
ModeOpt = Annotated[
    str | None, typer.Option("--mode", help="Travel mode for every tier: walk, bike or drive.")
]
MinutesOpt = Annotated[
    float | None, typer.Option("--minutes", help="Minutes threshold for every tier (default 15).")
]
SpeedOpt = Annotated[
    float | None,
    typer.Option(
        "--speed-kmh",
        help="Travel speed in km/h (default walk 4.0, bike 12; drive uses road speeds).",
    ),
]
SnapOpt = Annotated[
    float | None,
    typer.Option(
        "--max-snap-m", help="Points farther than this from a road are unreachable (default 500)."
    ),
]
CoordOpt = Annotated[
    str | None,
    typer.Option(
        "--coord-sys", help="Coordinates of point files: wgs84, gcj02 or bd09 (default wgs84)."
    ),
]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Where compiled road networks are cached.")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show library log messages.")]


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except InputError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@contextmanager
def _progress(verbose: bool) -> Iterator[Callable[[str], None]]:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
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
            say,
            cache_dir=cache_dir,
            network=network,
            sites=sites,
            residents=residents,
            units=units,
            standards=standards,
            mode=mode,
            minutes=minutes,
            speed_kmh=speed_kmh,
            max_snap_m=max_snap_m,
            coord_sys=coord_sys,
        )
        coverage = run(region, progress=say)
        say("writing outputs")
        paths = write_analysis(coverage, region, out)
    s = coverage.summary
    print(
        f"region {s['region']}: {s['residents_total']:,} resident points, {s['sites_total']} sites"
    )
    for row in s["by_tier"].values():
        print(
            f"  {row['label']:<34} {row['sites']:>4} sites  coverage {row['coverage']:6.1%}  ({row['mode']}, {row['minutes']:g} min)"
        )
    print(f"rejected input rows: {len(coverage.rejected)} (see {paths['rejected']})")
    print(
        f"gap areas: {s['gaps']} with {s['population_in_gaps']:,} people; Gini of minutes {s['equity']['gini_minutes']:.3f}"
    )
    print(
        f"population covered: {s['population_covered']:,} of {s['population_total']:,} = {s['coverage']:.1%}"
    )
    print(f"outputs in {Path(out).resolve()} (open map.html)")


@app.command()
def suggest(
    candidates: Annotated[
        Path | None,
        typer.Option(
            "--candidates", help="Candidate buildings: id, name, kind, lon, lat (rooms, town)."
        ),
    ] = None,
    k: Annotated[
        int | None,
        typer.Option(
            "--k", help="Number of new sites to choose (maximise newly covered population)."
        ),
    ] = None,
    target: Annotated[
        float | None,
        typer.Option(
            "--target", help="Coverage share to reach with the fewest new sites, e.g. 0.95."
        ),
    ] = None,
    tier: Annotated[
        str | None,
        typer.Option(
            "--tier",
            help="Tier of the new sites; only existing sites of this tier count (default: any site serves, new sites are stations).",
        ),
    ] = None,
    kinds: Annotated[
        str | None,
        typer.Option(
            "--kinds",
            help="Allowed kinds, comma-separated: idle_school,idle_house,idle_factory,public_venue,other.",
        ),
    ] = None,
    min_rooms: Annotated[
        float,
        typer.Option(
            "--min-rooms", help="Minimum function rooms of a candidate (the plan asks for 3)."
        ),
    ] = 3,
    max_per_town: Annotated[
        int | None, typer.Option("--max-per-town", help="At most this many new sites per town.")
    ] = None,
    town: Annotated[
        str | None,
        typer.Option("--town", help="Only this town's candidates and residents (name or code)."),
    ] = None,
    weight_column: Annotated[
        str | None,
        typer.Option("--weight-column", help="Resident column to maximise instead of population."),
    ] = None,
    greedy: Annotated[
        bool, typer.Option("--greedy", help="Fast greedy only, no exact solve.")
    ] = False,
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Seconds for the exact solver.")
    ] = 60.0,
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
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("output/suggest"),
    cache_dir: CacheOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Choose new sites among idle schools, houses, factories and venues (exact, with HiGHS)."""
    from planner.coverage import analyze as run
    from planner.report import write_suggestion
    from planner.siting import check_request
    from planner.siting import suggest as propose
    from planner.text import TIER_ALIASES, normalise_token

    with _user_errors(), _progress(verbose) as say:
        if k is None and target is None:
            k = 5
        tier_key = None if tier is None else TIER_ALIASES.get(normalise_token(tier), tier)
        method = "greedy" if greedy else "exact"
        check_request(k=k, target=target, tier=tier_key, method=method, max_per_town=max_per_town)
        region = _load_region(
            say,
            cache_dir=cache_dir,
            network=network,
            sites=sites,
            residents=residents,
            units=units,
            candidates=candidates,
            standards=standards,
            mode=mode,
            minutes=minutes,
            speed_kmh=speed_kmh,
            max_snap_m=max_snap_m,
            coord_sys=coord_sys,
        )
        coverage = run(region, progress=say)
        result = propose(
            region,
            coverage,
            k=k,
            target=target,
            tier=tier_key,
            kinds=[x for x in kinds.split(",") if x.strip()] if kinds else None,
            min_rooms=min_rooms,
            max_per_town=max_per_town,
            town=town,
            weight_column=weight_column,
            method=method,
            time_limit=time_limit,
            progress=say,
        )
        say("writing outputs")
        write_suggestion(result, coverage, region, out)
    s = result.summary
    for row in result.proposals.itertuples():
        print(
            f"  {row.rank:>3}. {row.candidate_id:<8} {row.name:<20} {getattr(row, 'town', '')}  +{row.population_newly_covered:,.0f}"
        )
    if s["note"]:
        print(f"note: {s['note']}")
    if s["status"] == "target_unreachable":
        print(
            f"note: target {s['target']:.0%} cannot be reached with these candidates; the best achievable coverage is {s['coverage_achievable']:.1%}"
        )
    if s["bound"] is None:  # greedy proves nothing
        print(
            f"solver greedy: objective {s['objective']:,.0f} (no bound), {s['solve_seconds']:.2f} s"
        )
    else:
        print(
            f"solver {s['solver']} ({s['status']}): objective {s['objective']:,.0f}, "
            f"bound {s['bound']:,.0f}, gap {s['gap']:.2%}, {s['solve_seconds']:.2f} s"
        )
    print(
        f"{s['new_sites']} new sites cover {s['population_newly_covered']:,} more people: coverage {s['coverage_before']:.1%} -> {s['coverage_after']:.1%}"
    )
    print(f"outputs in {Path(out).resolve()} (open map.html)")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.")] = 8000,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="TOML file naming the regions to load (default: the bundled sample)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 1,
) -> None:
    """Start the HTTP API and map server (uvicorn)."""
    import os

    import uvicorn

    if config is not None:
        if not config.exists():
            console.print(f"[bold red]error:[/] {escape(str(config))}: config file not found")
            raise typer.Exit(2)
        os.environ["SERVICECIRCLE_CONFIG"] = str(config.resolve())
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers)


@app.command()
def province(
    config: Annotated[
        Path,
        typer.Option(
            "--config", help="TOML file of [[regions]] (name, network, sites, residents ...)."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Output folder (one folder per county).")
    ] = Path("province"),
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Address of a running Dask scheduler (tcp://host:8786)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", help="Local worker processes (default: cores; 0: one by one, no Dask)."
        ),
    ] = None,
    maps: Annotated[
        bool, typer.Option("--maps/--no-maps", help="Write each county's map.html.")
    ] = True,
    cache_dir: CacheOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Analyse every county of a province on Dask; unchanged counties are skipped."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from planner.province import run_province
    from planner.text import PROVINCE

    if scheduler is not None and workers is not None:
        console.print("[bold red]error:[/] give --scheduler or --workers, not both")
        raise typer.Exit(2)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with _user_errors(), Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("counties", total=None)

        def step(row: dict[str, Any], done: int, total: int) -> None:
            note = f"  {escape(str(row['region']))}: {PROVINCE[row['status']]}"
            if row.get("error"):
                note += f" — {escape(str(row['error']))}"
            bar.console.print(note, highlight=False, soft_wrap=True)
            bar.update(task, completed=done, total=total)

        result = run_province(
            config,
            out,
            scheduler=scheduler,
            workers=workers,
            maps=maps,
            cache_dir=cache_dir,
            progress=step,
        )
    table = result.counties
    failed = table[table["status"] == "failed"]
    print(
        f"{len(table)} counties: {int((table['status'] == 'done').sum())} analysed, "
        f"{int((table['status'] == 'skipped').sum())} unchanged, {len(failed)} failed"
    )
    for row in failed.itertuples():
        print(f"  failed {row.region}: {row.error}")
    print(f"province summary: {result.paths['xlsx']} and {result.paths['gpkg']}")
    if len(failed):
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - console entry point
    app()
