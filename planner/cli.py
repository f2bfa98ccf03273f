"""The `servicecircle` command: analyze, suggest, serve (a thin shell over the library)."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer
from rich.console import Console
from rich.markup import escape

from planner.errors import InputError
from planner.runtime import freeze_loaded, return_freed_memory

if TYPE_CHECKING:
    import pandas as pd

    from planner.region import Region

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
        "--coord-sys",
        help="Coordinates of point files: wgs84, gcj02, bd09, auto (detect per file), or per file: sites=gcj02,residents=wgs84. "
        "Without it, points that fit the roads clearly better as GCJ-02/BD-09 stop with an error.",
    ),
]
NameOpt = Annotated[
    str | None,
    typer.Option("--name", help="Region name for titles and summaries, e.g. 贵溪市."),
]
DemOpt = Annotated[
    Path | None,
    typer.Option(
        "--dem", help="Elevation GeoTIFF (any CRS): slower walking/cycling uphill (Tobler)."
    ),
]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Where compiled road networks are cached.")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show library log messages.")]
SheetOpt = Annotated[
    str | None,
    typer.Option(
        "--sheet", help="Sheet of XLSX inputs to read (default: every sheet with the columns)."
    ),
]
MaxPopOpt = Annotated[
    float,
    typer.Option(
        "--max-population",
        help="Warn about resident points with more people than this (default 100,000).",
    ),
]
CandidatesOpt = Annotated[
    Path | None,
    typer.Option(
        "--candidates", help="Candidate buildings: id, name, kind, lon, lat (rooms, town)."
    ),
]
OutOpt = Annotated[Path, typer.Option("--out", help="Output folder.")]
TiandituOpt = Annotated[
    str | None,
    typer.Option(
        "--tianditu-key",
        envvar="TIANDITU_KEY",
        help="Key for 天地图 vector and imagery backgrounds on the map.",
    ),
]
CompliantOpt = Annotated[
    bool,
    typer.Option(
        "--compliant-only",
        help="Only sites that pass every site rule of the standards audit count as serving "
        "(ledgers named teams/activities/projects.csv beside the sites file).",
    ),
]


def _fail(message: str) -> typer.Exit:
    # One line whatever the message: the first line of a multi-line message says it all.
    line = " ".join(str(message).split("\n", 1)[0].split()) or "failed"
    console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


@contextmanager
def _user_errors(out: Path | None = None) -> Iterator[None]:
    try:
        yield
    except InputError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:  # a full disk, a folder made read-only during the run ...
        where = f"{exc.filename}: " if exc.filename else ""
        raise _fail(f"{where}{exc.strerror or exc}") from None
    except KeyboardInterrupt:
        kept = f"; {out} keeps its previous outputs" if out is not None and out.exists() else ""
        console.print(f"interrupted: no outputs written{kept}", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None


def _count(value: Any, spec: str = ",") -> str:
    # Summary figures are None when not finite (e.g. a sum that overflowed): show n/a.
    return "n/a" if value is None else format(value, spec)


@contextmanager
def _progress(verbose: bool) -> Iterator[Callable[[str], None]]:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    freeze_loaded()  # the command has imported what it runs: its modules live until exit
    with console.status("starting…") as status:

        def say(msg: str) -> None:
            console.log(msg, highlight=False)
            status.update(msg)

        yield say


# --- the region every analysing command reads: its flags declared once ------------------------


@dataclass(frozen=True)
class RegionInputs:
    """The flags saying which region to read and how to travel it, as given on the command line.

    Each field is declared with its typer option, once: every command that analyses a region
    takes these flags through :func:`region_command` and gets them as one object;
    :meth:`load` reads the region.
    """

    network: NetworkOpt = None
    sites: SitesOpt = None
    residents: ResidentsOpt = None
    units: UnitsOpt = None
    candidates: CandidatesOpt = None
    standards: StandardsOpt = None
    mode: ModeOpt = None
    minutes: MinutesOpt = None
    speed_kmh: SpeedOpt = None
    max_snap_m: SnapOpt = None
    coord_sys: CoordOpt = None
    name: NameOpt = None
    dem: DemOpt = None
    sheet: SheetOpt = None
    max_population: MaxPopOpt = 100_000.0
    cache_dir: CacheOpt = None

    def load(self, say: Callable[[str], None]) -> Region:
        """The region these flags name, with their standards and overrides applied.

        Raises
        ------
        InputError
            A bad ``--max-population`` (before any reading) or any bad input file or value.
        """
        from planner.checks import warn_population
        from planner.region import Region
        from planner.standards import Standards

        if not self.max_population > 0:
            msg = (
                f"--max-population must be a positive number of people, got {self.max_population:g}"
            )
            raise InputError(msg)
        say("reading road network and points")
        region = Region.from_files(
            cache_dir=self.cache_dir,
            network=self.network,
            sites=self.sites,
            residents=self.residents,
            units=self.units,
            candidates=self.candidates,
            coord_sys=self.coord_sys,
            name=self.name,
            dem=self.dem,
            sheet=self.sheet,
        )
        source = str(region.files.residents) if region.files else "residents"
        warn_population(region.residents, bound=self.max_population, source=source)
        std = Standards.from_toml(self.standards) if self.standards else region.standards
        return region.with_standards(std.override(**self.travel()))

    def travel(self) -> dict[str, Any]:
        """The travel overrides given for every tier (``None`` where not given)."""
        return {
            "mode": self.mode,
            "minutes": self.minutes,
            "speed_kmh": self.speed_kmh,
            "max_snap_m": self.max_snap_m,
        }

    def options(self) -> dict[str, Any]:
        """The options a run record (``summary.json``) keeps of these flags."""
        return {
            **self.travel(),
            "coord_sys": self.coord_sys,
            "name": self.name,
            "sheet": self.sheet,
            "max_population": self.max_population,
        }


def region_command(
    *, without: tuple[str, ...] = ()
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A command taking ``inputs: RegionInputs``, shown to typer with the region flags instead.

    The fields of :class:`RegionInputs` (but those named in ``without``) stand in the
    command's signature where its ``inputs`` parameter stands, so ``--help`` lists them in
    that place; when the command runs they are gathered into one :class:`RegionInputs`.
    Typer reads a command's flags from ``inspect.signature``, which honours
    ``__signature__``; every region flag is an option, passed by keyword.
    """
    hints = get_type_hints(RegionInputs, include_extras=True)
    kind = inspect.Parameter.KEYWORD_ONLY  # as a command's own flags
    flags = [
        inspect.Parameter(f.name, kind, default=f.default, annotation=hints[f.name])
        for f in fields(RegionInputs)
        if f.name not in without
    ]

    def wrap(command: Callable[..., None]) -> Callable[..., None]:
        own = inspect.signature(command, eval_str=True)
        params: list[inspect.Parameter] = []
        for p in own.parameters.values():
            params += flags if p.name == "inputs" else [p]

        @functools.wraps(command)
        def run(**given: Any) -> None:
            inputs = RegionInputs(**{p.name: given.pop(p.name) for p in flags})
            command(inputs=inputs, **given)

        run.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        return run

    return wrap


def _compliant_only(region: Region, say: Callable[[str], None]) -> Region:
    """``region`` with only the sites that pass every site rule of the audit (--compliant-only)."""
    from planner.audit import AuditFiles, audit_region, compliant_region

    say("auditing sites against the plan (--compliant-only)")
    files = AuditFiles.beside(region.files.sites) if region.files else AuditFiles()
    if not any(files.__dict__.values()):
        folder = Path(str(region.files.sites)).parent if region.files else Path()
        msg = (
            f"--compliant-only needs the audit ledgers (teams, activities, projects, unit_stats, "
            f"venues as .csv or .xlsx) beside the sites file; none found in {folder}"
        )
        raise InputError(msg)
    result = audit_region(region, files=files)
    kept = compliant_region(region, result)
    say(f"{len(kept.sites)} of {len(region.sites)} sites count as serving")
    return kept


def _served_region(inputs: RegionInputs, say: Callable[[str], None], *, compliant: bool) -> Region:
    """The region of ``inputs``; with ``compliant``, only its sites that pass the audit."""
    region = inputs.load(say)
    return _compliant_only(region, say) if compliant else region


@app.command()
@region_command(without=("candidates",))
def analyze(
    *,
    inputs: RegionInputs,
    out: OutOpt = Path("output"),
    verbose: VerboseOpt = False,
    compliant_only: CompliantOpt = False,
    tianditu_key: TiandituOpt = None,
) -> None:
    """Coverage of every resident by each tier of sites; gaps; maps and tables in --out."""
    from planner.coverage import analyze as run
    from planner.report import (
        check_output_folder,
        region_digests,
        region_inputs,
        run_record,
        write_analysis,
    )

    with _user_errors(out), _progress(verbose) as say:
        check_output_folder(out)  # before any work: a bad --out fails in a second
        region = _served_region(inputs, say, compliant=compliant_only)
        coverage = run(region, progress=say)
        region.drop_indexes()  # every layer is snapped: outputs need no index
        say("writing outputs")
        files = region_inputs(region, standards=inputs.standards)
        record = run_record(
            "analyze", inputs=files, options=inputs.options(), digests=region_digests(region)
        )
        paths = write_analysis(coverage, region, out, run=record, tianditu_key=tianditu_key)
    _print_analysis(coverage.summary, region, paths, rejected=len(coverage.rejected), out=out)


def _print_analysis(
    s: dict[str, Any], region: Region, paths: dict[str, Path], *, rejected: int, out: Path
) -> None:
    """What ``analyze`` prints: coverage per tier, rejected rows, far points, gaps, the total."""
    print(
        f"region {s['region']}: {s['residents_total']:,} resident points, "
        f"{s['sites_used']} sites used ({s['sites_rejected']} rejected)"
    )
    for row in s["by_tier"].values():
        print(
            f"  {row['label']:<34} {row['sites']:>4} sites  coverage {_count(row['coverage'], '6.1%')}  ({row['mode']}, {row['minutes']:g} min)"
        )
    print(f"rejected input rows: {rejected} (see {paths['rejected']})")
    if s["residents_far_from_road"]:
        print(
            f"resident points farther than {region.standards.max_snap_m:g} m from a usable road: "
            f"{s['residents_far_from_road']:,} ({_count(s['population_far_from_road'])} people), "
            f"counted as not covered (status in {paths['residents']})"
        )
    print(
        f"gap areas: {s['gaps']} with {_count(s['population_in_gaps'])} people; Gini of minutes {_count(s['equity']['gini_minutes'], '.3f')}"
    )
    print(
        f"population covered: {_count(s['population_covered'])} of {_count(s['population_total'])} = {_count(s['coverage'], '.1%')}"
    )
    print(f"outputs in {Path(out).resolve()} (open map.html)")


# the request of suggest, as siting checks and takes it (the rest of its options shape the pool)
_REQUEST = ("k", "target", "tier", "method", "max_per_town", "time_limit", "min_rooms")


# --- suggest's own flags

KOpt = Annotated[
    int | None,
    typer.Option("--k", help="Number of new sites to choose (maximise newly covered population)."),
]
TargetOpt = Annotated[
    float | None,
    typer.Option("--target", help="Coverage share to reach with the fewest new sites, e.g. 0.95."),
]
TierOpt = Annotated[
    str | None,
    typer.Option(
        "--tier",
        help="Tier of the new sites; only existing sites of this tier count (default: any site serves, new sites are stations).",
    ),
]
KindsOpt = Annotated[
    str | None,
    typer.Option(
        "--kinds",
        help="Allowed kinds, comma-separated: idle_school,idle_house,idle_factory,public_venue,other.",
    ),
]
MinRoomsOpt = Annotated[
    float,
    typer.Option(
        "--min-rooms", help="Minimum function rooms of a candidate (the plan asks for 3)."
    ),
]
MaxPerTownOpt = Annotated[
    int | None, typer.Option("--max-per-town", help="At most this many new sites per town.")
]
TownOpt = Annotated[
    str | None,
    typer.Option("--town", help="Only this town's candidates and residents (name or code)."),
]
WeightColumnOpt = Annotated[
    str | None,
    typer.Option("--weight-column", help="Resident column to maximise instead of population."),
]
GreedyOpt = Annotated[bool, typer.Option("--greedy", help="Fast greedy only, no exact solve.")]
TimeLimitOpt = Annotated[float, typer.Option("--time-limit", help="Seconds for the exact solver.")]


@app.command()
@region_command()
def suggest(
    *,
    k: KOpt = None,
    target: TargetOpt = None,
    tier: TierOpt = None,
    kinds: KindsOpt = None,
    min_rooms: MinRoomsOpt = 3,
    max_per_town: MaxPerTownOpt = None,
    town: TownOpt = None,
    weight_column: WeightColumnOpt = None,
    greedy: GreedyOpt = False,
    time_limit: TimeLimitOpt = 60.0,
    inputs: RegionInputs,
    out: OutOpt = Path("output/suggest"),
    verbose: VerboseOpt = False,
    compliant_only: CompliantOpt = False,
    tianditu_key: TiandituOpt = None,
) -> None:
    """Choose new sites among idle schools, houses, factories and venues (exact, with HiGHS)."""
    from planner.coverage import analyze as run
    from planner.report import (
        check_output_folder,
        region_digests,
        region_inputs,
        run_record,
        write_suggestion,
    )
    from planner.siting import check_request
    from planner.siting import suggest as propose
    from planner.vocab import DEFAULT_K, tier_key

    with _user_errors(out), _progress(verbose) as say:
        options: dict[str, Any] = {
            "k": DEFAULT_K if k is None and target is None else k,
            "target": target,
            "tier": None if tier is None else tier_key(tier, where="--tier"),
            "kinds": kinds,
            "min_rooms": min_rooms,
            "max_per_town": max_per_town,
            "town": town,
            "weight_column": weight_column,
            "method": "greedy" if greedy else "exact",
            "time_limit": time_limit,
        }
        request = {key: options[key] for key in _REQUEST}
        check_request(**request)
        check_output_folder(out)
        region = _served_region(inputs, say, compliant=compliant_only)
        coverage = run(region, progress=say)
        result = propose(
            region,
            coverage,
            **request,
            kinds=[x for x in kinds.split(",") if x.strip()] if kinds else None,
            town=town,
            weight_column=weight_column,
            progress=say,
        )
        say("writing outputs")
        # suggest's run record has never kept --name: left out so older records compare
        options |= {k_: v for k_, v in inputs.options().items() if k_ != "name"}
        record = run_record(
            "suggest",
            inputs=region_inputs(region, standards=inputs.standards),
            options=options,
            digests=region_digests(region),
        )
        write_suggestion(result, coverage, region, out, run=record, tianditu_key=tianditu_key)
    _print_suggestion(result.proposals, result.summary, out=out)


def _print_suggestion(proposals: pd.DataFrame, s: dict[str, Any], *, out: Path) -> None:
    """What ``suggest`` prints: the proposals in rank order, notes, the solver, the gain."""
    for row in proposals.itertuples():
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
    import socket

    import uvicorn

    from api.config import load_settings
    from api.main import create_app
    from api.state import RegionStore

    with _user_errors():
        if workers != 1:
            # Each worker would load every region again and multiply the suggest cap.
            msg = (
                f"--workers {workers}: one worker process serves every request (regions are "
                "loaded once, limits hold server-wide); run several servers behind a proxy to "
                "scale out"
            )
            raise InputError(msg)
        if not 0 < port < 65536:
            msg = f"--port {port}: give a port between 1 and 65535"
            raise InputError(msg)
        if config is not None and not config.exists():
            msg = f"{config}: config file not found"
            raise InputError(msg)
        settings = load_settings(config)
        try:
            with socket.create_server((host, port)):
                pass
        except OSError as exc:
            msg = f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})"
            raise InputError(msg) from None
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        store = RegionStore.load(settings)  # a bad region is an error line here, not a crash
        app_ = create_app(config, store=store)
    uvicorn.run(app_, host=host, port=port, workers=1)


# --- audit's own flags

TeamsOpt = Annotated[
    Path | None, typer.Option("--teams", help="Team rosters: site_id, team, members.")
]
ActivitiesOpt = Annotated[
    Path | None,
    typer.Option(
        "--activities",
        help="Activity ledger (活动台账): date, site_id, team, type, title, participants, volunteer_hours.",
    ),
]
ProjectsOpt = Annotated[
    Path | None,
    typer.Option("--projects", help="Brand projects: name, level, site_id or unit_code."),
]
UnitStatsOpt = Annotated[
    Path | None,
    typer.Option(
        "--unit-stats",
        help="Village figures by code: population, registered_population, volunteers, volunteers_with_hours, kind.",
    ),
]
VenuesOpt = Annotated[
    Path | None,
    typer.Option("--venues", help="Public cultural venues (name, kind, lon, lat) or an OSM file."),
]
YearOpt = Annotated[
    int | None, typer.Option("--year", help="Year audited (default: latest in the ledger).")
]
RulesOpt = Annotated[
    Path | None, typer.Option("--rules", help="TOML file replacing the plan's numbers.")
]
SpotCheckOpt = Annotated[
    int | None, typer.Option("--spot-check", help="Draw N sites for inspectors (抽查).")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the spot-check draw.")]


@app.command()
@region_command(without=("candidates", "max_population"))
def audit(
    *,
    teams: TeamsOpt = None,
    activities: ActivitiesOpt = None,
    projects: ProjectsOpt = None,
    unit_stats: UnitStatsOpt = None,
    venues: VenuesOpt = None,
    year: YearOpt = None,
    rules: RulesOpt = None,
    spot_check: SpotCheckOpt = None,
    seed: SeedOpt = 0,
    inputs: RegionInputs,
    out: OutOpt = Path("output/audit"),
    verbose: VerboseOpt = False,
    tianditu_key: TiandituOpt = None,
) -> None:
    """Standards audit (五有, rooms, staff, teams, activities, projects ...): audit.xlsx in --out.

    Ledgers default to files named teams, activities, projects, unit_stats and venues
    (.csv/.xlsx) beside the sites file (the bundled sample has them all).
    """
    from planner.audit import AuditFiles, AuditInputs, AuditRules, audit_region
    from planner.audit import spot_check as draw
    from planner.audit_map import compliance_map
    from planner.audit_report import write_audit
    from planner.coverage import analyze as run
    from planner.maps import save_map
    from planner.report import check_output_folder, output_folder

    ledgers = {
        "teams": teams,
        "activities": activities,
        "projects": projects,
        "unit_stats": unit_stats,
        "venues": venues,
    }
    with _user_errors(out), _progress(verbose) as say:
        check_output_folder(out)  # before any work
        rule_set = AuditRules.from_toml(rules)  # a wrong rules file fails before any reading
        region = inputs.load(say)
        files = AuditFiles.beside(region.files.sites if region.files else Path(), **ledgers)
        say("reading ledgers")  # before the analysis: a bad ledger fails fast
        found = AuditInputs.from_files(
            region.sites,
            units=region.units,
            year=year,
            coord_sys=inputs.coord_sys,
            **files.__dict__,
        )
        coverage = run(region, service_areas=False, progress=say)  # the circle needs numbers
        say("checking every rule")
        result = audit_region(region, coverage, inputs=found, rules=rule_set)
        spot = None if spot_check is None else draw(result, spot_check, seed=seed)
        say("writing outputs")
        written: list[str] = ["map.html"]
        with output_folder(out, owns=written) as tmp:
            paths = write_audit(result, tmp, spot=spot)
            site_map = compliance_map(
                coverage, result, sites=region.sites, units=region.units, tianditu_key=tianditu_key
            )
            save_map(site_map, tmp / "map.html")
            written += [p.name for p in paths.values()]
        paths = {k: Path(out) / p.name for k, p in paths.items()}
    _print_audit(
        result.summary, paths, rejected=len(result.rejected), spot=spot, seed=seed, out=out
    )


def _print_audit(
    s: dict[str, Any],
    paths: dict[str, Path],
    *,
    rejected: int,
    spot: pd.DataFrame | None,
    seed: int,
    out: Path,
) -> None:
    """What ``audit`` prints: sites by verdict, each rule's counts, villages, issues."""
    from planner.text import AUDIT_NOTHING

    v = s["sites"]
    print(
        f"region {s['region']}, year {s['year'] or 'n/a (no activity ledger)'}: "
        f"{s['sites_audited']} sites audited: "
        f"{v['pass']} pass, {v['fail']} fail, {v['no_data']} no data"
    )
    print(f"  {'rule':<34} {'pass':>6} {'fail':>6} {'no data':>8}")
    for key, row in s["by_rule"].items():
        label = f"{key} {row['label']}"
        pad = 34 - sum(2 if ord(ch) > 0x2E80 else 1 for ch in label)
        counts = f"{row['pass']:>6} {row['fail']:>6} {row['no_data']:>8}"
        if row["pass"] + row["fail"] + row["no_data"] == 0:  # no place to judge it at
            counts = f"  {AUDIT_NOTHING['rule']}"
        print(f"  {label}{' ' * max(pad, 1)} {counts}")
    if s["villages"]:
        print(f"villages meeting the five haves: {s['villages_five_haves']} of {s['villages']}")
    else:
        print(f"villages meeting the five haves: {AUDIT_NOTHING['five_haves']}")
    print(f"issues: {s['issues']} failed checks (sheet 问题清单 of {paths['xlsx']})")
    print(f"rejected ledger rows: {rejected} (see {paths['rejected']})")
    if spot is not None:
        print(f"spot check: {len(spot)} sites drawn with seed {seed} (sheet 抽查名单)")
    print(f"outputs in {Path(out).resolve()} (open audit.xlsx, map.html)")


@app.command()
@region_command(without=("candidates", "max_population"))
def compare(
    *,
    close: Annotated[
        str | None, typer.Option("--close", help="Sites that close, e.g. S0012,S0040.")
    ] = None,
    add: Annotated[
        Path | None,
        typer.Option("--add", help="New sites (suggest's proposals.csv works as it is)."),
    ] = None,
    retier: Annotated[
        str | None,
        typer.Option("--retier", help="Sites given another tier, e.g. S0033=institute,S0034=所."),
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option(
            "--scenario", help="A table of changes: action (close/add/retier), id, tier, lon, lat."
        ),
    ] = None,
    add_tier: Annotated[
        str, typer.Option("--add-tier", help="Tier of added sites whose file has none.")
    ] = "station",
    tianditu_key: TiandituOpt = None,
    inputs: RegionInputs,
    out: OutOpt = Path("output/compare"),
    verbose: VerboseOpt = False,
) -> None:
    """What changes if sites close, proposals are built or sites change tier (before / after)."""
    from planner.report import check_output_folder, output_folder, write_csv
    from planner.scenario import Scenario
    from planner.scenario import compare as run
    from planner.scenario_report import write_comparison

    with _user_errors(out), _progress(verbose) as say:
        check_output_folder(out)  # before any work
        if scenario is not None:
            plan = Scenario.from_table(scenario, coord_sys=inputs.coord_sys)
        else:
            plan = Scenario.from_options(
                close=close, add=add, retier=retier, add_tier=add_tier, coord_sys=inputs.coord_sys
            )
        region = inputs.load(say)
        result = run(region, plan, service_areas=True, progress=say)
        say("writing outputs")
        written: list[str] = ["rejected_added_sites.csv"]
        with output_folder(out, owns=written) as tmp:
            paths = write_comparison(result, region, tmp, tianditu_key=tianditu_key)
            written += [Path(p).name for p in (paths or {}).values()]
            if len(plan.rejected):
                write_csv(plan.rejected, tmp / "rejected_added_sites.csv")
    s = result.summary
    for row in result.by_tier.itertuples():
        print(f"  {row.tier:<14} {row.before:6.1%} -> {row.after:6.1%}  ({row.change:+.1%})")
    print(
        f"population covered {s['population_covered_before']:,} -> {s['population_covered_after']:,}: "
        f"{s['population_lost']:,} people lose coverage, {s['population_gained']:,} gain it"
    )
    if len(plan.rejected):
        rejected = Path(out) / "rejected_added_sites.csv"
        print(f"rejected rows of the added sites: {len(plan.rejected)} (see {rejected})")
    print(f"outputs in {Path(out).resolve()} (open map.html, comparison.xlsx)")


def _audit_if_ledgers(region: Region, coverage: Any, say: Callable[[str], None]) -> Any:
    """The standards audit when its ledgers lie beside the sites file, else None."""
    from planner.audit import AuditFiles, audit_region

    files = AuditFiles.beside(region.files.sites) if region.files else AuditFiles()
    if not any(files.__dict__.values()):
        return None
    say("standards audit of the sites (ledgers found beside the sites file)")
    return audit_region(region, coverage, files=files)


@app.command()
@region_command(without=("max_population",))
def report(
    *,
    town: Annotated[
        str | None, typer.Option("--town", help="The town (name or code) to report on.")
    ] = None,
    all_towns: Annotated[
        bool, typer.Option("--all-towns", help="A report for every town.")
    ] = False,
    k: Annotated[int, typer.Option("--k", help="New sites to propose in the town (0: none).")] = 3,
    pdf: Annotated[
        bool, typer.Option("--pdf/--no-pdf", help="Also print a PDF with headless Chromium.")
    ] = True,
    inputs: RegionInputs,
    out: OutOpt = Path("output/report"),
    verbose: VerboseOpt = False,
) -> None:
    """A printable A4 report of one town (or every town): HTML and PDF."""
    import pandas as pd

    from planner.coverage import analyze as run
    from planner.report import check_output_folder, output_folder
    from planner.town_report import check_proposals, town_figures, write_town_report
    from planner.vocab import find_town

    with _user_errors(out), _progress(verbose) as say:
        if (town is None) == (not all_towns):
            msg = "give --town NAME or --all-towns"
            raise InputError(msg)
        check_proposals(k)
        check_output_folder(out)  # before any work
        region = inputs.load(say)
        known = region.residents.get("town", pd.Series(dtype=object)).dropna().astype(str)
        if all_towns and known.empty:
            msg = (
                "--all-towns: no towns are known; give --units with town boundaries "
                "(level town) or a town column in the residents file"
            )
            raise InputError(msg)
        names = (
            sorted(known.unique())
            if all_towns
            else [find_town(region.residents, str(town), where="--town")[0]]
        )
        coverage = run(region, progress=say)
        audited = _audit_if_ledgers(region, coverage, say)
        written = []
        owns: list[str] = []
        with output_folder(out, owns=owns) as tmp:
            for name in names:
                say(f"report of {name}")
                paths = write_town_report(region, coverage, name, tmp, k=k, pdf=pdf, audit=audited)
                owns += [Path(p).name for p in paths.values()]
                written.append((name, {k_: Path(out) / Path(p).name for k_, p in paths.items()}))
    for name, paths in written:
        share = town_figures(coverage, name)["coverage"]
        print(f"  {name}: coverage {share:.1%}  {paths.get('pdf', paths['html'])}")
    print(f"outputs in {Path(out).resolve()}")


@app.command()
def province(
    config: Annotated[
        Path,
        typer.Option(
            "--config", help="TOML file of regions tables (name, network, sites, residents ...)."
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

    from planner.province import load_county_modules, run_province
    from planner.text import PROVINCE

    if scheduler is not None and workers is not None:
        console.print("[bold red]error:[/] give --scheduler or --workers, not both")
        raise typer.Exit(2)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if scheduler is None:  # the counties run here, or on workers forked from here
        load_county_modules(maps=maps)
    freeze_loaded()  # this process is the command's: what it loaded lives until exit
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


def main() -> None:
    """The console entry point: a wrong flag or value is one ``error:`` line, exit 2, too."""
    import gc
    import sys

    try:  # typer >= 0.20 carries its own copy of click
        from typer._click import exceptions as cx
    except ImportError:  # pragma: no cover - older typer
        from click import exceptions as cx  # type: ignore[no-redef]  # same module, older home

    return_freed_memory()  # a county's run keeps no freed memory it will not reuse
    try:
        code = app(prog_name="servicecircle", standalone_mode=False)
    except cx.NoArgsIsHelpError as exc:  # no command: the help, as typer shows it
        if exc.ctx is not None:
            print(exc.ctx.get_help(), file=sys.stderr)
        sys.exit(2)
    except cx.UsageError as exc:  # a wrong flag or value
        raise SystemExit(_fail(exc.format_message()).exit_code) from None
    except KeyboardInterrupt:  # Ctrl-C outside a run
        sys.exit(130)
    finally:
        # The command is done: Python's teardown would walk everything it loaded in full
        # garbage collections (0.6-0.9 s); frozen, it is freed without them.
        gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)
