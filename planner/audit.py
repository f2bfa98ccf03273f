"""Standards audit: every site, village, town and the county against the plan's numbers.

Each rule is a function of an :class:`AuditContext` and its table of ``audit_rules.toml``; it
returns one finding per object checked (``FINDING_COLUMNS``) with ``status`` ``pass``,
``fail`` or ``no_data``. A rule that lacks the data to decide says ``no_data`` and names the
column or file that would decide it in ``decided_by``; "no data" is never a pass.

========== ======================================================= ========== =========
rule       checks                                                  objects    section
========== ======================================================= ========== =========
rooms      function rooms >= ``min``                                sites      二.7
functions  rooms cover the five functions (``required``)            sites      二.7
desk       a working volunteer service desk (``desk`` yes/no)       sites      二.7
staff      full-time staff >= ``min[tier]``                         sites      三.1
teams      centre: every named team (aliases, then fuzzy           sites      三.2
           matching); institute/station: teams >= ``min[tier]``
team_activity  every centre/institute team: activities >= ``min``  teams      三.2
activities activities in the site's name in the year >= ``min``     sites      四.7
theory_talks  station theory talks >= ``min[community|rural]``      sites      四.7
volunteers registered volunteers >= share of population and more    county     三.2
           than ``min_share_with_hours`` of them with logged hours
brand_projects projects >= ``min[tier]``; the centre needs          sites      五.4
           ``centre_min_large`` from ``large_population`` people
training   trainings held by the county centre >= ``min``          sites      三.3
five_haves every village/community: a station with a team, an      villages   一.2
           activity, a project, open hours and a named manager
circle     share of residents within their tier's standard          units      二.5
venue_points a service point within ``max_distance_m`` of a venue   venues     二.5
========== ======================================================= ========== =========
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.errors import InputError, read_toml
from planner.schema import REJECTED_COLUMNS
from planner.text import (
    AUDIT_RULES,
    FUNCTION_ALIASES,
    TEAM_ALIASES,
    TIERS,
    UNIT_KIND_ALIASES,
    YES_NO,
    normalise_token,
)

if TYPE_CHECKING:
    from planner.coverage import Coverage
    from planner.region import Region

log = logging.getLogger(__name__)

DEFAULT_RULES = Path(__file__).resolve().parent / "data" / "audit_rules.toml"
AUDITED_TIERS = ("centre", "institute", "station")
STATUSES = ("pass", "fail", "no_data")
FINDING_COLUMNS = [
    "level",
    "where_id",
    "where",
    "tier",
    "town",
    "rule",
    "status",
    "required",
    "found",
    "section",
    "decided_by",
    "site_id",
]
SITE_RULES = (
    "rooms",
    "functions",
    "desk",
    "staff",
    "teams",
    "team_activity",
    "activities",
    "theory_talks",
    "brand_projects",
    "training",
)
_TIER_ORDER = {t: i for i, t in enumerate(TIERS)}
_LEVEL_ORDER = {"county": 0, "town": 1, "site": 2, "team": 3, "village": 4, "venue": 5}


# --- rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRules:
    """The audit's numbers, one table per rule id (see ``planner/data/audit_rules.toml``)."""

    tables: dict[str, dict[str, Any]]
    version: str = ""
    name: str = ""
    path: str = ""

    @classmethod
    def from_toml(cls, path: str | Path | None = None) -> AuditRules:
        """Read the rules; the bundled provincial defaults when ``path`` is ``None``.

        A file may list only the rules and keys it changes; the rest keep their defaults.
        """
        base = read_toml(DEFAULT_RULES, what="audit rules")
        tables = {k: v for k, v in base.items() if isinstance(v, dict)}
        meta = {k: v for k, v in base.items() if not isinstance(v, dict)}
        if path is not None:
            data = read_toml(path, what="audit rules file")
            unknown = sorted(k for k, v in data.items() if isinstance(v, dict) and k not in tables)
            if unknown:
                msg = f"{path}: unknown rule(s) {', '.join(unknown)}; known: {', '.join(tables)}"
                raise InputError(msg)
            for key, value in data.items():
                if isinstance(value, dict):
                    _check_rule(path, key, tables[key], value)
                    tables[key] = _merged(tables[key], value)
                else:
                    meta[key] = value
        return cls(
            tables=tables,
            version=str(meta.get("version", "")),
            name=str(meta.get("name", "")),
            path=str(path or DEFAULT_RULES),
        )

    def __getitem__(self, rule: str) -> dict[str, Any]:
        return self.tables[rule]

    def number(self, rule: str, key: str, tier: str | None = None) -> float:
        """A threshold, checked to be a number (``min`` or ``min[tier]``)."""
        value = self.tables[rule].get(key)
        if isinstance(value, dict):
            value = value.get(tier) if tier else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"{self.path}: [{rule}] {key}{'.' + tier if tier else ''} must be a number, got {value!r}"
            raise InputError(msg)
        return float(value)


def _kind(value: Any) -> str:
    """What sort of TOML value ``value`` is, in the words of an error message."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    return "table" if isinstance(value, dict) else type(value).__name__


def _check_rule(
    path: str | Path, rule: str, default: dict[str, Any], given: dict[str, Any]
) -> None:
    """Raise :class:`InputError` for a key of rule ``[rule]`` that the defaults do not have
    (naming the close match and the allowed keys) or a value of another kind than the default's
    (a number, text, list or table of numbers)."""
    allowed = list(default)
    for key, value in given.items():
        if key not in default:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            inside = [k for k, v in default.items() if isinstance(v, dict) and key in v]
            if inside:  # `centre = 5` under [staff] for `min = { centre = 5 }`
                hint = f"; did you mean {key} in {inside[0]}, as [{rule}.{inside[0]}] {key} = ...?"
            msg = (
                f"{path}: unknown key {key!r} in rule [{rule}]{hint} "
                f"(the keys of [{rule}] are {', '.join(allowed)})"
            )
            raise InputError(msg)
        want = default[key]
        if _kind(value) != _kind(want):
            msg = (
                f"{path}: [{rule}] {key} must be a {_kind(want)} like the default "
                f"{key} = {_toml(want)}, got {_toml(value)}"
            )
            raise InputError(msg)
        inner = (
            [*want.values()] if isinstance(want, dict) else want if isinstance(want, list) else []
        )
        kinds = {_kind(v) for v in inner}
        if len(kinds) != 1:
            continue
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for sub, item in items:
            if _kind(item) not in kinds:
                where = f"{key}.{sub}" if isinstance(value, dict) else f"{key}[{sub}]"
                msg = f"{path}: [{rule}] {where} must be a {kinds.pop()}, got {_toml(item)}"
                raise InputError(msg)


def _merged(default: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The rule ``default`` with the keys ``given`` changes; a table such as ``min`` is changed
    key by key (``[staff.min] centre = 6`` keeps the other tiers' numbers)."""
    out = dict(default)
    for key, value in given.items():
        both = isinstance(value, dict) and isinstance(default.get(key), dict)
        out[key] = {**default[key], **value} if both else value
    return out


def _toml(value: Any) -> str:
    """``value`` written as in a TOML file."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        shown = ", ".join(_toml(v) for v in value[:3])
        return "[" + shown + (", …" if len(value) > 3 else "") + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AuditInputs:
    """The ledgers an audit reads beyond the region (each ``None`` when not given)."""

    teams: pd.DataFrame | None = None
    activities: pd.DataFrame | None = None
    projects: pd.DataFrame | None = None
    unit_stats: pd.DataFrame | None = None
    venues: gpd.GeoDataFrame | None = None
    year: int | None = None
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECTED_COLUMNS))

    @classmethod
    def from_files(
        cls,
        sites: pd.DataFrame,
        *,
        units: gpd.GeoDataFrame | None = None,
        teams: str | Path | None = None,
        activities: str | Path | None = None,
        projects: str | Path | None = None,
        unit_stats: str | Path | None = None,
        venues: str | Path | None = None,
        year: int | None = None,
        coord_sys: str | None = None,
    ) -> AuditInputs:
        """Read the ledgers given; rows naming unknown sites or units are rejected."""
        from planner.ledgers import (
            read_activities,
            read_projects,
            read_teams,
            read_unit_stats,
            read_venues,
            unit_stats_from_units,
        )

        ids = sites["id"].astype(str)
        rejected: list[pd.DataFrame] = []
        out: dict[str, Any] = {"year": year}
        if teams:
            out["teams"], rej = read_teams(teams, site_ids=ids)
            rejected.append(rej)
        if activities:
            out["activities"], rej, out["year"] = read_activities(
                activities, year=year, site_ids=ids
            )
            rejected.append(rej)
        codes = None if units is None else units["code"].astype(str)
        if projects:
            out["projects"], rej = read_projects(projects, site_ids=ids, unit_codes=codes)
            rejected.append(rej)
        stats = unit_stats_from_units(units) if units is not None else None
        if unit_stats:
            stats, rej = read_unit_stats(unit_stats)
            rejected.append(rej)
        out["unit_stats"] = stats
        if venues:
            out["venues"], rej = read_venues(venues, coord_sys=coord_sys)
            rejected.append(rej)
        kept = [r for r in rejected if len(r)]
        return cls(
            **out,
            rejected=pd.concat(kept, ignore_index=True)
            if kept
            else pd.DataFrame(columns=REJECTED_COLUMNS),
        )


@dataclass(frozen=True, eq=False)
class AuditContext:
    """What every rule reads: sites (metric CRS), units, ledgers and optional coverage."""

    sites: pd.DataFrame
    inputs: AuditInputs
    rules: AuditRules
    units: pd.DataFrame | None = None
    by_unit: pd.DataFrame | None = None
    county_coverage: float | None = None
    county_population: float | None = None
    region_name: str = ""
    tallies: dict[str, pd.Series | None] = field(default_factory=dict)

    def audited(self, tiers: list[str] | tuple[str, ...]) -> pd.DataFrame:
        """Sites of ``tiers`` (the objects of a site rule)."""
        return self.sites[self.sites["tier"].isin(list(tiers))]


# --- helpers --------------------------------------------------------------------------------


def _findings(
    level: str,
    objects: pd.DataFrame,
    rule: str,
    status: np.ndarray | pd.Series | list[str],
    required: Any,
    found: Any,
    section: str,
    decided_by: str,
) -> pd.DataFrame:
    """One finding per object row (``where_id``, ``where``, ``tier``, ``town`` from its columns)."""
    n = len(objects)
    status = np.asarray(status, dtype=object)
    frame = pd.DataFrame(
        {
            "level": level,
            "where_id": objects["where_id"].astype(str).to_numpy() if n else [],
            "where": objects["where"].astype(str).to_numpy() if n else [],
            "tier": objects["tier"].to_numpy() if "tier" in objects and n else None,
            "town": objects["town"].fillna("").astype(str).to_numpy()
            if "town" in objects and n
            else "",
            "rule": rule,
            "status": status,
            "required": _as_text(required, n),
            "found": _as_text(found, n),
            "section": section,
            "decided_by": np.where(status == "no_data", decided_by, ""),
            "site_id": objects["site_id"].astype(str).to_numpy()
            if "site_id" in objects and n
            else objects["where_id"].astype(str).to_numpy()
            if level == "site" and n
            else "",
        },
        index=range(n),
        columns=FINDING_COLUMNS,
    )
    return frame


def _as_text(value: Any, n: int) -> np.ndarray:
    if isinstance(value, pd.Series | np.ndarray | list):
        return np.asarray(pd.Series(value).astype(str), dtype=object)
    return np.full(n, str(value), dtype=object)


def decide(value: pd.Series | np.ndarray, ok: pd.Series | np.ndarray) -> np.ndarray:
    """``no_data`` where ``value`` is missing, else ``pass`` where ``ok``, else ``fail``."""
    missing = pd.isna(np.asarray(value, dtype=object))
    ok = np.asarray(ok, dtype=bool)
    return np.where(missing, "no_data", np.where(ok, "pass", "fail"))


def _site_objects(sites: pd.DataFrame) -> pd.DataFrame:
    return sites.assign(where_id=sites["id"].astype(str), where=sites["name"].astype(str))


def tally(ctx: AuditContext) -> dict[str, pd.Series | None]:
    """Ledger rows per site id, counted once per audit: ``teams``, ``activities``, ``theory``
    (theory talks), ``training`` and ``projects`` (``None`` without the ledger)."""
    acts, teams = ctx.inputs.activities, ctx.inputs.teams
    out: dict[str, pd.Series | None] = dict.fromkeys(
        ("teams", "activities", "theory", "training", "projects")
    )
    if teams is not None:
        out["teams"] = teams["site_id"].value_counts()
    if acts is not None:
        out["activities"] = acts["site_id"].value_counts()
        by_type = acts.groupby(["type", "site_id"]).size()
        for key in ("theory", "training"):
            # A first-level key of the (type, site_id) index selects a Series.
            out[key] = (
                cast("pd.Series", by_type[key])
                if key in by_type.index.get_level_values(0)
                else by_type.iloc[:0]
            )
    if ctx.inputs.projects is not None:
        counted = out["project_sites"] = project_sites(ctx)
        out["projects"] = counted.value_counts()
    return out


def _count(ctx: AuditContext, what: str, sites: pd.DataFrame) -> pd.Series:
    """Ledger rows of ``what`` per site (0 for a site absent from it); NaN without the ledger."""
    counts = ctx.tallies[what]
    if counts is None:
        return pd.Series(np.nan, index=sites.index)
    return sites["id"].astype(str).map(counts).fillna(0).astype(float)


def _lookup(series: pd.Series, fn: Callable[[Any], Any]) -> pd.Series:
    """``fn`` of each value, computed once per distinct value (free text repeats a lot)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    table = np.array([fn(u) for u in uniques] + [np.nan], dtype=object)
    return pd.Series(table[codes], index=series.index, dtype=object)


def _fmt(value: pd.Series, unit: str = "") -> pd.Series:
    return _lookup(value, lambda v: f"{v:g}{unit}").fillna("")


def _col(sites: pd.DataFrame, name: str) -> pd.Series:
    if name not in sites:
        return pd.Series(np.nan, index=sites.index, dtype=object)
    col = sites[name]
    return col.where(~col.astype(str).str.strip().isin(["", "nan", "None", "NaN"]), np.nan)


def _numbers(sites: pd.DataFrame, name: str) -> pd.Series:
    # (as floats: pandas keeps an empty text column as text, which compares with nothing)
    return pd.to_numeric(_col(sites, name), errors="coerce").astype(float)


# --- site rules -----------------------------------------------------------------------------


def rule_rooms(ctx: AuditContext) -> pd.DataFrame:
    """Function rooms: at least ``min`` (二.7); decided by the sites column ``rooms``."""
    cfg = ctx.rules["rooms"]
    sites = _site_objects(ctx.audited(cfg["tiers"]))
    need = ctx.rules.number("rooms", "min")
    rooms = _numbers(sites, "rooms")
    required = f">= {need:g} 间"
    return _at_least(
        ctx, sites, "rooms", rooms, need, required, " 间", "sites file column rooms (功能室)"
    )


def function_table(values: pd.Series, required: list[str]) -> pd.DataFrame:
    """Whether each site's ``functions`` text names each required function (``;``, ``、``,
    ``,``, ``/`` separate; Chinese or English names, see ``planner.text.FUNCTION_ALIASES``)."""
    text = values.fillna("").astype(str).str.normalize("NFKC")
    parts = text.str.split(r"[;；、,，/|]", regex=True).explode().str.strip()
    canon = _lookup(parts, lambda v: FUNCTION_ALIASES.get(normalise_token(v)))
    has = pd.DataFrame({f: (canon == f) for f in required})
    return has.groupby(level=0).any().reindex(values.index, fill_value=False)


def rule_functions(ctx: AuditContext) -> pd.DataFrame:
    """Rooms cover the five functions (二.7); decided by the sites column ``functions``."""
    cfg = ctx.rules["functions"]
    sites = _site_objects(ctx.audited(cfg["tiers"]))
    required = list(cfg["required"])
    raw = _col(sites, "functions")
    has = function_table(raw, required)
    missing = _joined(~has, "、")
    complete = has.all(axis=1)
    found = np.where(complete, "齐全", "缺少：" + missing)
    found = np.where(raw.isna(), "", found)
    return _findings(
        "site",
        sites,
        "functions",
        decide(raw, complete),
        "、".join(required),
        found,
        cfg["section"],
        "sites file column functions (功能)",
    )


def _joined(flags: pd.DataFrame, sep: str) -> pd.Series:
    """The names of the columns that are true in each row, joined by ``sep``."""
    text = pd.Series("", index=flags.index, dtype=object)
    for col in flags.columns:
        text = text + np.where(flags[col].to_numpy(), f"{col}{sep}", "")
    return text.str.removesuffix(sep)


def yes_no(values: pd.Series) -> pd.Series:
    """``True``/``False`` for yes/no, 是/否, 有/无 ...; NaN for anything else."""
    return _lookup(values, lambda v: YES_NO.get(normalise_token(v), np.nan))


def rule_desk(ctx: AuditContext) -> pd.DataFrame:
    """A working volunteer service desk (二.7); decided by the sites column ``desk``."""
    cfg = ctx.rules["desk"]
    sites = _site_objects(ctx.audited(cfg["tiers"]))
    desk = yes_no(_col(sites, "desk"))
    found = desk.map({True: "有", False: "无"}).fillna("")
    return _findings(
        "site",
        sites,
        "desk",
        decide(desk, desk == True),  # noqa: E712 - NaN must not count as yes
        "有且正常运行",
        found,
        cfg["section"],
        "sites file column desk (志愿服务站: 是/否)",
    )


def _per_tier(ctx: AuditContext, rule: str, sites: pd.DataFrame) -> pd.Series:
    table = ctx.rules[rule]["min"]
    need = sites["tier"].map({t: ctx.rules.number(rule, "min", t) for t in table})
    return need.astype(float)  # (an empty text column maps to empty text)


def rule_staff(ctx: AuditContext) -> pd.DataFrame:
    """Full-time staff per tier (三.1); decided by the sites column ``staff``."""
    cfg = ctx.rules["staff"]
    sites = _site_objects(ctx.audited(list(cfg["min"])))
    need = _per_tier(ctx, "staff", sites)
    staff = _numbers(sites, "staff")
    required = ">= " + _fmt(need, " 人")
    decided_by = "sites file column staff (专职人员)"
    return _at_least(ctx, sites, "staff", staff, need, required, " 人", decided_by)


_TEAM_SUFFIX = re.compile(r"(志愿者?服务(总)?队|志愿者?队|志愿服务团|服务队|分队|小分队|队)$")


def match_team(name: str, named: list[str], *, score: float = 80) -> str | None:
    """The named team a roster name stands for, or ``None``.

    The name loses its county prefix and a ``志愿服务队``-style suffix; then the alias table
    (``planner.text.TEAM_ALIASES``), containment of a named team, and last a fuzzy ratio of
    at least ``score`` (0-100, :class:`difflib.SequenceMatcher`) decide.
    """
    text = normalise_token(name)
    text = re.sub(r"^.*?[县市区]", "", text) if re.search(r"[县市区]", text[:4]) else text
    text = _TEAM_SUFFIX.sub("", text)
    if text in named:
        return text
    if text in TEAM_ALIASES:
        return TEAM_ALIASES[text]
    contained = [n for n in named if n in text]
    if contained:
        return max(contained, key=len)
    for alias, target in TEAM_ALIASES.items():
        if alias in text:
            return target
    best = max(named, key=lambda n: difflib.SequenceMatcher(None, text, n).ratio())
    ratio = difflib.SequenceMatcher(None, text, best).ratio() * 100
    return best if ratio >= score else None


def rule_teams(ctx: AuditContext) -> pd.DataFrame:
    """Volunteer teams (三.2): the centre's named teams; enough teams at institutes and stations.

    Decided by the team roster (``--teams``).
    """
    cfg = ctx.rules["teams"]
    sites = _site_objects(ctx.audited(["centre", *cfg["min"]]))
    teams = ctx.inputs.teams
    count = _count(ctx, "teams", sites)
    need = _per_tier(ctx, "teams", sites)
    ok = count >= need
    required = ">= " + _fmt(need, " 支")
    found = _fmt(count, " 支")
    named = list(cfg["centre_named"])
    centre = (sites["tier"] == "centre").to_numpy()
    required = required.where(~centre, f"{len(named)} 支指定队伍")
    if teams is not None and centre.any():
        for idx in sites.index[centre]:
            names = teams.loc[teams["site_id"] == str(sites.at[idx, "id"]), "team"]
            matched = {match_team(n, named, score=float(cfg.get("match_score", 80))) for n in names}
            missing = [n for n in named if n not in matched]
            ok.at[idx] = not missing
            found.at[idx] = f"{len(named) - len(missing)}/{len(named)} 支指定队伍" + (
                f"；缺少：{'、'.join(missing)}" if missing else ""
            )
    return _findings(
        "site",
        sites,
        "teams",
        decide(count, ok),
        required,
        found,
        cfg["section"],
        "team roster (--teams)",
    )


def rule_team_activity(ctx: AuditContext) -> pd.DataFrame:
    """Every team of the centre and institutes: at least ``min`` activities a year (三.2).

    Activities count for a team when the ledger's ``team`` equals the roster name. Decided by
    the team roster and the activity ledger; without the roster there is one ``no_data``
    finding per site.
    """
    cfg = ctx.rules["team_activity"]
    sites = ctx.audited(cfg["tiers"])
    need = ctx.rules.number("team_activity", "min")
    teams = ctx.inputs.teams
    decided = "team roster (--teams) and activity ledger (--activities)"
    if teams is None:
        objects = _site_objects(sites)
        return _findings(
            "site", objects, "team_activity", np.full(len(objects), "no_data"), f">= {need:g} 次/队",
            "", cfg["section"], decided,
        )  # fmt: skip
    mine = teams.merge(
        sites[["id", "name", "tier", "town"]].astype({"id": str}),
        left_on="site_id",
        right_on="id",
    )
    objects = mine.assign(
        where_id=mine["site_id"] + "/" + mine["team"], where=mine["name"] + " " + mine["team"]
    )
    acts = ctx.inputs.activities
    if acts is None:
        count = pd.Series(np.nan, index=objects.index)
    else:
        # One key per (site, team); a separator no name contains keeps pairs apart.
        per_team = (acts["site_id"] + "\x1f" + acts["team"]).value_counts()
        key = objects["site_id"] + "\x1f" + objects["team"]
        count = key.map(per_team).fillna(0).astype(float)
    return _findings(
        "team",
        objects,
        "team_activity",
        decide(count, count >= need),
        f">= {need:g} 次",
        _fmt(count, " 次"),
        cfg["section"],
        decided,
    )


def rule_activities(ctx: AuditContext) -> pd.DataFrame:
    """Activities in the site's name in the audited year (四.7); decided by the ledger."""
    tiers = ctx.rules["activities"]["tiers"]
    return _yearly_count(ctx, "activities", tiers, "activity ledger (--activities)")


def unit_kind(ctx: AuditContext, codes: pd.Series, names: pd.Series) -> pd.Series:
    """``community`` or ``rural`` per village code: the unit figures' ``kind``, else the name
    (ending in 社区 is a community, in 村 rural), else NaN."""
    kind = pd.Series(np.nan, index=codes.index, dtype=object)
    stats = ctx.inputs.unit_stats
    if stats is not None and "kind" in stats:
        kind = codes.astype(str).map(stats.set_index("code")["kind"].dropna()).astype(object)
    by_name = (
        names.fillna("")
        .astype(str)
        .map(
            lambda n: "community" if n.endswith("社区") else "rural" if n.endswith("村") else np.nan
        )
    )
    return kind.fillna(by_name).map(
        lambda v: UNIT_KIND_ALIASES.get(v, np.nan) if isinstance(v, str) else np.nan
    )


def _village_names(ctx: AuditContext, codes: pd.Series) -> pd.Series:
    if ctx.units is None:
        return pd.Series(np.nan, index=codes.index, dtype=object)
    villages = ctx.units[ctx.units["level"] == "village"]
    return codes.astype(str).map(villages.set_index(villages["code"].astype(str))["name"])


def rule_theory_talks(ctx: AuditContext) -> pd.DataFrame:
    """Theory/policy talks at stations (四.7): ``min.community`` in communities,
    ``min.rural`` in villages; decided by the ledger's ``type`` and the unit's kind."""
    cfg = ctx.rules["theory_talks"]
    sites = _site_objects(ctx.audited(["station"]))
    codes = _col(sites, "village_code").fillna("").astype(str)
    kind = unit_kind(ctx, codes, _village_names(ctx, codes))
    need = kind.map({k: ctx.rules.number("theory_talks", "min", k) for k in cfg["min"]})
    count = _count(ctx, "theory", sites)
    # An unknown kind cannot decide, except that fewer talks than any kind needs fail.
    fewest = min(ctx.rules.number("theory_talks", "min", k) for k in cfg["min"])
    need = need.where(need.notna() | ~(count < fewest), fewest)
    value = count.where(need.notna())
    kind_zh = kind.map({"community": "社区", "rural": "村"}).fillna("")
    return _findings(
        "site",
        sites,
        "theory_talks",
        decide(value, count >= need),
        np.where(need.notna(), kind_zh + " >= " + _fmt(need, " 次/年"), ""),
        _fmt(count, " 次"),
        cfg["section"],
        "activity ledger (--activities, type 理论宣讲) and the unit kind (community/rural)",
    )


def centre_projects_required(population: float, rules: AuditRules) -> float:
    """Brand projects the county centre needs: ``centre_min_large`` from ``large_population``
    residents on, else ``centre_min``."""
    large = rules.number("brand_projects", "large_population")
    key = "centre_min_large" if population >= large else "centre_min"
    return rules.number("brand_projects", key)


def city_projects_required(registered_population: float, rules: AuditRules) -> int:
    """City-level brand projects: ``city_per_million`` per million registered people, rounded up."""
    per = rules.number("brand_projects", "city_per_million")
    return math.ceil(round(registered_population * per / 1_000_000, 9))


def city_findings(
    counties: list[Audit],
    *,
    registered_population: float,
    city_projects: int,
    rules: AuditRules | None = None,
    name: str = "",
) -> pd.DataFrame:
    """The city-level brand-project rule when several counties are audited together (五.4):
    ``city_per_million`` projects per million registered people, rounded up.

    Parameters
    ----------
    counties
        The audits of the city's counties (their county findings are listed with the city's).
    registered_population
        The city's registered (户籍) population.
    city_projects
        Brand projects at city level (``level = city`` in the project lists).
    """
    rules = rules or AuditRules.from_toml()
    need = city_projects_required(registered_population, rules)
    city = pd.DataFrame({"where_id": ["city"], "where": [name]})
    own = _findings(
        "city",
        city,
        "brand_projects",
        decide(pd.Series([float(city_projects)]), pd.Series([city_projects >= need])),
        f">= {need} 个（每百万户籍人口 {rules.number('brand_projects', 'city_per_million'):g} 个）",
        f"{city_projects} 个",
        rules["brand_projects"]["section"],
        "city-level projects (level city) and the registered population",
    )
    county = [a.findings[a.findings["level"] == "county"] for a in counties]
    return pd.concat([own, *county], ignore_index=True)


def project_sites(ctx: AuditContext) -> pd.Series:
    """The site id of each brand project: its ``site_id``, else the site of its tier in the
    unit named by ``unit_code`` (a station by village code, an institute by town code, the
    centre by the county); NaN for city projects."""
    projects = ctx.inputs.projects
    if projects is None:
        return pd.Series(dtype=object)
    site = projects["site_id"].where(projects["site_id"] != "", np.nan)
    sites = ctx.sites.astype({"id": str})
    for tier, column in (("station", "village_code"), ("institute", "town_code")):
        if column not in sites:
            continue
        lookup = sites[sites["tier"] == tier].drop_duplicates(column).set_index(column)["id"]
        mask = site.isna() & (projects["level"] == tier)
        site = site.where(~mask, projects["unit_code"].map(lookup))
    centre = sites.loc[sites["tier"] == "centre", "id"]
    if len(centre):
        mask = site.isna() & (projects["level"] == "centre")
        site = site.where(~mask, centre.iloc[0])
    return site


def rule_brand_projects(ctx: AuditContext) -> pd.DataFrame:
    """Brand projects per tier (五.4); the centre's number depends on the county population.

    Decided by the project list (``--projects``).
    """
    cfg = ctx.rules["brand_projects"]
    sites = _site_objects(ctx.audited(["centre", *cfg["min"]]))
    need = _per_tier(ctx, "brand_projects", sites)
    if ctx.county_population is not None:
        need = need.where(
            sites["tier"] != "centre", centre_projects_required(ctx.county_population, ctx.rules)
        )
    count = _count(ctx, "projects", sites)
    return _findings(
        "site",
        sites,
        "brand_projects",
        decide(count.where(need.notna()), count >= need),
        ">= " + _fmt(need, " 个"),
        _fmt(count, " 个"),
        cfg["section"],
        "brand project list (--projects) and the county population",
    )


def rule_training(ctx: AuditContext) -> pd.DataFrame:
    """Concentrated trainings held by the county centre (三.3); ledger ``type`` 培训."""
    return _yearly_count(ctx, "training", ["centre"], "activity ledger (--activities, type 培训)")


def _yearly_count(ctx: AuditContext, rule: str, tiers: list[str], decided_by: str) -> pd.DataFrame:
    """Sites of ``tiers`` with at least the rule's ``min`` ledger rows of ``rule`` in the year."""
    sites = _site_objects(ctx.audited(tiers))
    need = ctx.rules.number(rule, "min")
    count = _count(ctx, rule, sites)
    return _at_least(ctx, sites, rule, count, need, f">= {need:g} 次/年", " 次", decided_by)


def _at_least(
    ctx: AuditContext,
    sites: pd.DataFrame,
    rule: str,
    found: pd.Series,
    need: float | pd.Series,
    required: str | pd.Series,
    unit: str,
    decided_by: str,
) -> pd.DataFrame:
    """Findings of ``rule`` on ``sites``: met when ``found`` is at least ``need`` (per site)."""
    return _findings(
        "site",
        sites,
        rule,
        decide(found, found >= need),
        required,
        _fmt(found, unit),
        ctx.rules[rule]["section"],
        decided_by,
    )


# --- area rules -----------------------------------------------------------------------------


def _villages(ctx: AuditContext) -> pd.DataFrame:
    """Every village/community: from the boundaries, else from the sites' village codes."""
    if ctx.units is not None and (ctx.units["level"] == "village").any():
        v = ctx.units[ctx.units["level"] == "village"]
        return pd.DataFrame(
            {"where_id": v["code"].astype(str), "where": v["name"], "town": v["town"]}
        ).reset_index(drop=True)
    return pd.DataFrame(columns=["where_id", "where", "town"])


def rule_five_haves(ctx: AuditContext) -> pd.DataFrame:
    """Every village and community has the five haves (一.2): a station (有场所), a team
    (有队伍), an activity this year (有活动), a brand project (有项目) and a mechanism: open
    hours and a named manager (有机制). Any missing item fails; items without data make it
    ``no_data`` only when nothing known is missing."""
    cfg = ctx.rules["five_haves"]
    villages = _villages(ctx)
    stations = ctx.audited(["station"])
    if "village_code" in stations:
        stations = stations.assign(village_code=stations["village_code"].astype(str))
    else:
        stations = stations.assign(village_code="")
    code = villages["where_id"]
    has_site = code.isin(stations["village_code"]).astype(float)

    def per_village(series: pd.Series) -> pd.Series:
        return code.map(series.groupby(stations["village_code"]).max()).astype(float)

    teams = _count(ctx, "teams", stations)
    acts = _count(ctx, "activities", stations)
    projects = _count(ctx, "projects", stations)
    open_hours = _col(stations, "open_hours").notna()
    manager = _col(stations, "manager").notna()
    mechanism = (open_hours & manager).astype(float)
    if "open_hours" not in stations and "manager" not in stations:
        mechanism[:] = np.nan
    items = {
        "有场所": has_site,
        "有队伍": per_village((teams >= 1).astype(float).where(teams.notna())),
        "有活动": per_village((acts >= 1).astype(float).where(acts.notna())),
        "有项目": per_village((projects >= 1).astype(float).where(projects.notna())),
        "有机制": per_village(mechanism),
    }
    table = pd.DataFrame(items)
    # Without a station the other four cannot be had.
    table.loc[has_site == 0, list(items)[1:]] = 0.0
    failed = (table == 0).any(axis=1)
    unknown = table.isna().any(axis=1)
    status = np.where(failed, "fail", np.where(unknown, "no_data", "pass"))
    lacking = _joined(table == 0, "、")
    found = np.where(failed, "缺少：" + lacking.astype(str), np.where(unknown, "", "五有齐全"))
    return _findings(
        "village",
        villages,
        "five_haves",
        status,
        "有场所、有队伍、有活动、有项目、有机制",
        found,
        cfg["section"],
        "team roster, activity ledger, project list and sites columns open_hours, manager",
    )


def rule_circle(ctx: AuditContext) -> pd.DataFrame:
    """Share of residents within their tier's travel standard (二.5), per village, town and the
    county; decided by the coverage analysis."""
    cfg = ctx.rules["circle"]
    need = ctx.rules.number("circle", "min_share")
    frames = []
    if ctx.by_unit is not None:
        for level in ("town", "village"):
            units = ctx.by_unit[ctx.by_unit["level"] == level]
            units = units.assign(where_id=units["code"].astype(str), where=units["name"])
            share = units["coverage"].astype(float)
            frames.append(
                _findings(
                    level, units, "circle", decide(share, share >= need), f">= {need:.0%}",
                    share.map(lambda v: "" if pd.isna(v) else f"{v:.1%}"), cfg["section"],
                    "coverage analysis (residents of the unit)",
                )
            )  # fmt: skip
    county = pd.DataFrame({"where_id": ["county"], "where": [ctx.region_name]})
    share = pd.Series([np.nan if ctx.county_coverage is None else ctx.county_coverage])
    frames.insert(
        0,
        _findings(
            "county", county, "circle", decide(share, share >= need), f">= {need:.0%}",
            share.map(lambda v: "" if pd.isna(v) else f"{v:.1%}"), cfg["section"],
            "coverage analysis (servicecircle analyze)",
        ),
    )  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def volunteer_figures(ctx: AuditContext) -> pd.DataFrame:
    """Population, volunteers and volunteers with hours per town and for the county."""
    stats = ctx.inputs.unit_stats
    villages = _villages(ctx)
    if stats is None or villages.empty:
        return pd.DataFrame(columns=["town", "population", "volunteers", "volunteers_with_hours"])
    cols = ["population", "volunteers", "volunteers_with_hours"]
    stats = stats.reindex(columns=list(dict.fromkeys(["code", *cols, *stats.columns])))
    stats = stats.astype({"code": str, **dict.fromkeys(cols, float)})
    merged = villages.merge(stats, left_on="where_id", right_on="code", how="left")
    # A column counts only when every village reports it (a partial sum would mislead).
    towns = merged.groupby("town")[cols].sum(min_count=1)
    complete = merged[cols].notna().groupby(merged["town"]).all()
    towns = towns.where(complete)
    county = merged[cols].sum(min_count=1).where(merged[cols].notna().all())
    return pd.concat([towns, county.to_frame("county").T]).rename_axis("town").reset_index()


def rule_volunteers(ctx: AuditContext) -> pd.DataFrame:
    """Registered volunteers (三.2): at least ``min_share_of_population`` of the county's
    population, and more than ``min_share_with_hours`` of them with logged hours. Decided by
    ``population, volunteers, volunteers_with_hours`` of the unit figures."""
    cfg = ctx.rules["volunteers"]
    share_need = ctx.rules.number("volunteers", "min_share_of_population")
    hours_need = ctx.rules.number("volunteers", "min_share_with_hours")
    figures = volunteer_figures(ctx)
    row = figures[figures["town"] == "county"]
    if row.empty:
        pop = vol = hrs = np.nan
    else:
        pop, vol, hrs = (
            float(row.iloc[0][c]) for c in ("population", "volunteers", "volunteers_with_hours")
        )
    share = vol / pop if pop and not np.isnan(pop) else np.nan
    hours = hrs / vol if vol and not np.isnan(vol) else np.nan
    value = np.nan if np.isnan(share) or np.isnan(hours) else share
    ok = (share >= share_need) and (hours > hours_need)
    found = "" if np.isnan(value) else f"注册 {share:.1%}，有服务时长 {hours:.1%}"
    county = pd.DataFrame({"where_id": ["county"], "where": [ctx.region_name]})
    return _findings(
        "county",
        county,
        "volunteers",
        decide(pd.Series([value]), pd.Series([ok])),
        f"注册 >= {share_need:.0%} 常住人口，有服务时长 > {hours_need:.0%}",
        found,
        cfg["section"],
        "unit figures population, volunteers, volunteers_with_hours (--unit-stats)",
    )


def rule_venue_points(ctx: AuditContext) -> pd.DataFrame:
    """A volunteer service point within ``max_distance_m`` of every public cultural venue
    (二.5); decided by the venues file (``--venues``)."""
    cfg = ctx.rules["venue_points"]
    limit = ctx.rules.number("venue_points", "max_distance_m")
    venues = ctx.inputs.venues
    if venues is None:
        county = pd.DataFrame({"where_id": ["county"], "where": [ctx.region_name]})
        return _findings(
            "county", county, "venue_points", ["no_data"], f"<= {limit:g} 米", "",
            cfg["section"], "venues file (--venues) with library, museum, cultural centre, stadium",
        )  # fmt: skip
    points = ctx.sites[ctx.sites["tier"].isin(list(cfg["point_tiers"]))]
    v = venues.to_crs(ctx.sites.crs).reset_index(drop=True)
    if points.empty:
        dist = pd.Series(np.inf, index=v.index)
        nearest = pd.Series("", index=v.index)
    else:
        idx, d = points.sindex.nearest(v.geometry, return_distance=True, return_all=False)
        dist = pd.Series(np.inf, index=v.index)
        dist.iloc[idx[0]] = d
        nearest = pd.Series("", index=v.index)
        nearest.iloc[idx[0]] = points["name"].to_numpy()[idx[1]]
    objects = v.assign(where_id=v["id"].astype(str), where=v["name"], tier=None)
    if "town" not in objects:
        objects["town"] = ""
    found = np.where(
        np.isfinite(dist), nearest + " " + dist.round(0).map("{:g}".format) + " 米", "无"
    )
    return _findings(
        "venue",
        objects,
        "venue_points",
        decide(dist, dist <= limit),
        f"<= {limit:g} 米",
        found,
        cfg["section"],
        "venues file (--venues)",
    )


RULES: dict[str, Callable[[AuditContext], pd.DataFrame]] = {
    "rooms": rule_rooms,
    "functions": rule_functions,
    "desk": rule_desk,
    "staff": rule_staff,
    "teams": rule_teams,
    "team_activity": rule_team_activity,
    "activities": rule_activities,
    "theory_talks": rule_theory_talks,
    "volunteers": rule_volunteers,
    "brand_projects": rule_brand_projects,
    "training": rule_training,
    "five_haves": rule_five_haves,
    "circle": rule_circle,
    "venue_points": rule_venue_points,
}
"""Every rule, by id, in the order of the plan's table."""


# --- the audit ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Audit:
    """Result of :func:`audit`.

    Attributes
    ----------
    findings
        Every rule on every object (``FINDING_COLUMNS``), ordered by level, tier and town.
    sites
        Audited sites with their figures, ``verdict`` (pass/fail/no_data over the site
        rules) and ``failed_rules``.
    teams
        Centre and institute teams with their activities in the year.
    villages, towns
        Villages (five haves, circle) and towns (sites by verdict, volunteers, circle).
    projects
        Brand projects with the site they count for.
    summary
        JSON-ready headline: per rule pass/fail/no data, sites by verdict, five haves.
    rejected
        Ledger rows not used, with file, row and reason.
    """

    region_name: str
    year: int | None
    rules: AuditRules
    findings: pd.DataFrame
    sites: pd.DataFrame
    teams: pd.DataFrame
    villages: pd.DataFrame
    towns: pd.DataFrame
    projects: pd.DataFrame
    summary: dict[str, Any]
    rejected: pd.DataFrame

    @property
    def issues(self) -> pd.DataFrame:
        """Every failed rule (问题清单), ordered by tier and town."""
        return self.findings[self.findings["status"] == "fail"].reset_index(drop=True)

    def site_verdict(self) -> pd.Series:
        """``pass``/``fail``/``no_data`` per audited site id (other tiers are not audited)."""
        return self.sites.set_index("id")["verdict"]


def audit(
    sites: gpd.GeoDataFrame,
    inputs: AuditInputs | None = None,
    *,
    rules: AuditRules | None = None,
    units: gpd.GeoDataFrame | None = None,
    by_unit: pd.DataFrame | None = None,
    county_coverage: float | None = None,
    population: float | None = None,
    region_name: str = "",
) -> Audit:
    """Check every rule on every site, team, village, town, venue and the county.

    Parameters
    ----------
    sites
        The region's sites (metric CRS) with ``id, name, tier`` and the attribute columns
        ``rooms, functions, staff, desk, open_hours, manager``, ``town``, ``village_code``.
    inputs
        The ledgers (:meth:`AuditInputs.from_files`); missing ones make their rules no data.
    rules
        The numbers (default: the bundled provincial plan).
    units
        Town and village boundaries (``level, code, name, town``): the villages of the five
        haves.
    by_unit, county_coverage
        Coverage per unit and for the county from :func:`planner.coverage.analyze` (the
        circle rule); without them the circle is no data.
    population
        County population for the brand-project switch (default: the unit figures, else
        no data for the centre).
    region_name
        Name shown for county-level findings.

    Returns
    -------
    Audit
    """
    inputs = inputs or AuditInputs()
    rules = rules or AuditRules.from_toml()
    ctx = _context(
        sites,
        inputs,
        rules,
        units=units,
        by_unit=by_unit,
        county_coverage=county_coverage,
        population=population,
        region_name=region_name,
    )
    population = ctx.county_population
    _check_rule_tables(rules)
    findings = pd.concat([fn(ctx) for fn in RULES.values()], ignore_index=True)
    findings = _ordered(findings)
    site_table = _site_table(ctx, findings)
    villages = _village_table(ctx, findings)
    towns = _town_table(ctx, findings, site_table)
    teams = findings[findings["rule"] == "team_activity"]
    summary = _summary(region_name, inputs.year, rules, findings, site_table, villages, population)
    return Audit(
        region_name=region_name,
        year=inputs.year,
        rules=rules,
        findings=findings,
        sites=site_table,
        teams=teams.reset_index(drop=True),
        villages=villages,
        towns=towns,
        projects=_project_table(ctx),
        summary=summary,
        rejected=inputs.rejected,
    )


def _context(
    sites: gpd.GeoDataFrame,
    inputs: AuditInputs,
    rules: AuditRules,
    *,
    units: gpd.GeoDataFrame | None,
    by_unit: pd.DataFrame | None,
    county_coverage: float | None,
    population: float | None,
    region_name: str,
) -> AuditContext:
    """What the rules read: sites with text ids, the county's population, the ledger tallies.

    Without ``population`` the county's figure comes from the unit figures (else no data).
    """
    sites = sites.reset_index(drop=True)
    sites = sites.assign(id=sites["id"].astype(str))
    if "town" not in sites:
        sites["town"] = ""
    ctx = AuditContext(
        sites=sites,
        inputs=inputs,
        rules=rules,
        units=None if units is None else pd.DataFrame(units.drop(columns="geometry")),
        by_unit=by_unit,
        county_coverage=county_coverage,
        county_population=None,
        region_name=region_name,
    )
    if population is None:
        figures = volunteer_figures(ctx)
        county = figures.loc[figures["town"] == "county", "population"]
        population = None if county.empty or pd.isna(county.iloc[0]) else float(county.iloc[0])
    ctx = AuditContext(**{**ctx.__dict__, "county_population": population})
    return AuditContext(**{**ctx.__dict__, "tallies": tally(ctx)})


def _check_rule_tables(rules: AuditRules) -> None:
    """An :class:`InputError` naming the tables of rules the rules file lacks."""
    unknown = sorted(set(RULES) - set(rules.tables))
    if unknown:
        msg = f"{rules.path}: rules file lacks [{'], ['.join(unknown)}]"
        raise InputError(msg)


def _project_table(ctx: AuditContext) -> pd.DataFrame:
    """The brand projects with the sites each is counted for (empty without projects)."""
    projects = ctx.inputs.projects
    if projects is None:
        return pd.DataFrame()
    # project_sites is tallied whenever projects are given
    return projects.assign(counted_for=cast("pd.Series", ctx.tallies["project_sites"]).to_numpy())


def _ordered(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings by level, tier, town, place and the rules' order."""
    rule_order = {r: i for i, r in enumerate(RULES)}
    key = pd.DataFrame(
        {
            "lv": findings["level"].map(_LEVEL_ORDER).fillna(9),
            "tier": findings["tier"].map(_TIER_ORDER).fillna(9),
            "town": findings["town"].fillna(""),
            "id": findings["where_id"],
            "rule": findings["rule"].map(rule_order),
        }
    )
    order = key.sort_values(["lv", "tier", "town", "id", "rule"], kind="stable").index
    return findings.loc[order].reset_index(drop=True)


_SEVERITY = {"pass": 0, "no_data": 1, "fail": 2}
_BY_SEVERITY = {v: k for k, v in _SEVERITY.items()}


def _site_table(ctx: AuditContext, findings: pd.DataFrame) -> pd.DataFrame:
    """One row per audited site: its attributes, each rule's status, the verdict, failed rules."""
    sites = ctx.audited(AUDITED_TIERS)
    f = findings[findings["level"].isin(["site", "team"])]
    # The worst status wins: any fail fails, else any no data is no data, else pass. A grid of
    # sites x rules filled by one unbuffered maximum keeps this free of Python callbacks.
    site_code, site_ids = pd.factorize(f["site_id"])
    rules = [r for r in SITE_RULES if r in set(f["rule"].unique())]
    rule_code = f["rule"].map({r: i for i, r in enumerate(rules)}).to_numpy(int)
    grid = np.full((len(site_ids), len(rules)), -1)
    np.maximum.at(grid, (site_code, rule_code), f["status"].map(_SEVERITY).to_numpy(int))
    labels = np.array([np.nan, *(_BY_SEVERITY[k] for k in range(3))], dtype=object)
    status = pd.DataFrame(labels[grid + 1], index=site_ids, columns=rules)
    verdict = pd.Series(labels[grid.max(axis=1, initial=-1) + 1], index=site_ids)
    failed = _joined(pd.DataFrame(grid == 2, index=site_ids, columns=rules), ",")
    keep = [
        c
        for c in ("id", "name", "tier", "town", "village_code", "rooms", "staff", "functions",
                  "desk", "open_hours", "manager")
        if c in sites
    ]  # fmt: skip
    table = pd.DataFrame(sites[keep]).reset_index(drop=True)
    table = table.join(status.add_suffix("_status"), on="id")
    table["verdict"] = table["id"].map(verdict).fillna("no_data")
    table["failed_rules"] = table["id"].map(failed).astype(object).fillna("")
    table["activities"] = _count(ctx, "activities", table)
    table["teams"] = _count(ctx, "teams", table)
    order = table["tier"].map(_TIER_ORDER).fillna(9)
    return (
        table.assign(_o=order)
        .sort_values(["_o", "town", "id"])
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def _village_table(ctx: AuditContext, findings: pd.DataFrame) -> pd.DataFrame:
    """One row per village: each rule's status, the five haves found, coverage when known."""
    villages = _villages(ctx)
    f = findings[findings["level"] == "village"]
    wide = f.pivot_table(index="where_id", columns="rule", values="status", aggfunc="first")
    found = f[f["rule"] == "five_haves"].set_index("where_id")["found"]
    out = villages.rename(columns={"where_id": "code", "where": "name"})
    out = out.join(wide.add_suffix("_status"), on="code")
    out["five_haves_detail"] = out["code"].map(found).fillna("")
    if ctx.by_unit is not None:
        cov = ctx.by_unit[ctx.by_unit["level"] == "village"].set_index(
            ctx.by_unit.loc[ctx.by_unit["level"] == "village", "code"].astype(str)
        )["coverage"]
        out["coverage"] = out["code"].map(cov)
    return out.sort_values(["town", "code"]).reset_index(drop=True)


def _town_table(ctx: AuditContext, findings: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """One row per town: sites by verdict, villages with the five haves, volunteers, circle."""
    towns = sorted(set(sites["town"].fillna("").astype(str)) - {""})
    if ctx.units is not None:
        towns = sorted(set(towns) | set(ctx.units.loc[ctx.units["level"] == "town", "name"]))
    out = pd.DataFrame({"town": towns})
    by_verdict = sites.groupby(["town", "verdict"]).size().unstack(fill_value=0)
    for v in STATUSES:
        out[f"sites_{v}"] = out["town"].map(by_verdict[v] if v in by_verdict else {}).fillna(0)
    out["sites"] = out[[f"sites_{v}" for v in STATUSES]].sum(axis=1)
    vill = findings[(findings["level"] == "village") & (findings["rule"] == "five_haves")]
    out["villages"] = out["town"].map(vill.groupby("town").size()).fillna(0)
    out["five_haves"] = (
        out["town"].map(vill[vill["status"] == "pass"].groupby("town").size()).fillna(0)
    )
    out["issues"] = (
        out["town"].map(findings[findings["status"] == "fail"].groupby("town").size()).fillna(0)
    )
    figures = volunteer_figures(ctx).set_index("town")
    for col in ("population", "volunteers", "volunteers_with_hours"):
        out[col] = out["town"].map(figures[col]) if col in figures else np.nan
    out["volunteer_share"] = out["volunteers"] / out["population"]
    out["with_hours_share"] = out["volunteers_with_hours"] / out["volunteers"]
    circle = findings[(findings["level"] == "town") & (findings["rule"] == "circle")]
    out["circle"] = out["town"].map(circle.set_index("where")["status"])
    if ctx.by_unit is not None:
        t = ctx.by_unit[ctx.by_unit["level"] == "town"].set_index("name")["coverage"]
        out["coverage"] = out["town"].map(t)
    ints = [*(f"sites_{v}" for v in STATUSES), "sites", "villages", "five_haves", "issues"]
    return out.astype({c: int for c in ints})


def _summary(
    region: str,
    year: int | None,
    rules: AuditRules,
    findings: pd.DataFrame,
    sites: pd.DataFrame,
    villages: pd.DataFrame,
    population: float | None,
) -> dict[str, Any]:
    """The audit's headline numbers: sites by verdict, findings by rule and status, issues."""
    counts = findings.groupby(["rule", "status"]).size().unstack(fill_value=0)
    by_rule = {
        r: {
            "label": AUDIT_RULES[r]["zh"],
            **{
                # pandas-stubs type .at as any scalar; these cells are counts
                s: int(counts.at[r, s]) if r in counts.index and s in counts else 0  # type: ignore[arg-type]
                for s in STATUSES
            },
        }
        for r in RULES
    }
    five = findings[(findings["rule"] == "five_haves")]
    verdicts = sites["verdict"].value_counts()
    return {
        "region": region,
        "year": year,
        "rules_version": rules.version,
        "rules_file": rules.path,
        "population": population,
        "sites_audited": len(sites),
        "sites": {s: int(verdicts.get(s, 0)) for s in STATUSES},
        "by_rule": by_rule,
        "villages": len(villages),
        "villages_five_haves": int((five["status"] == "pass").sum()),
        "issues": int((findings["status"] == "fail").sum()),
    }


# --- spot checks ----------------------------------------------------------------------------


def spot_check(result: Audit, n: int, *, seed: int = 0) -> pd.DataFrame:
    """A reproducible stratified random sample of ``n`` audited sites for inspectors (抽查).

    Strata are (tier, town). Each stratum gets a share of ``n`` proportional to its size
    (largest remainders, ties broken by the random draw); within a stratum sites are drawn
    at random. The same ``seed`` gives the same sample.

    Returns
    -------
    pandas.DataFrame
        The drawn sites with ``verdict``, ``failed_rules`` and the ``reason`` each was drawn.
    """
    sites = result.sites
    if n < 1 or n > len(sites):
        msg = f"--spot-check {n}: choose between 1 and {len(sites)} sites"
        raise InputError(msg)
    if seed < 0:  # numpy's generator takes none below 0
        msg = f"--seed must be 0 or more (seed= in Python), got {seed}"
        raise InputError(msg)
    rng = np.random.default_rng(seed)
    frame = sites.assign(
        _key=rng.random(len(sites)), _stratum=sites["tier"] + "|" + sites["town"].fillna("")
    )
    size = frame.groupby("_stratum").size()
    quota = size / size.sum() * n
    take = cast("pd.Series", np.floor(quota)).astype(int)  # a ufunc keeps the Series
    rest = n - int(take.sum())
    tiebreak = pd.Series(rng.random(len(quota)), index=quota.index)
    order = pd.DataFrame({"r": quota - take, "t": tiebreak}).sort_values(
        ["r", "t"], ascending=False
    )
    take[order.index[:rest]] += 1
    frame = frame.sort_values(["_stratum", "_key"])
    frame["_rank"] = frame.groupby("_stratum").cumcount()
    drawn = frame[frame["_rank"] < frame["_stratum"].map(take)].copy()
    tier_zh = drawn["tier"].map(lambda t: TIERS.get(t, {}).get("zh", t))
    drawn["reason"] = (
        "分层随机抽样（"
        + tier_zh
        + "·"
        + drawn["town"].fillna("")
        + f"，种子 {seed}）：本层 "
        + drawn["_stratum"].map(size).astype(str)
        + " 个站点抽 "
        + drawn["_stratum"].map(take).astype(str)
        + " 个"
    )
    cols = ["id", "name", "tier", "town", "verdict", "failed_rules", "reason"]
    return drawn[cols].reset_index(drop=True)


def compliant_sites(sites: gpd.GeoDataFrame, result: Audit) -> gpd.GeoDataFrame:
    """Sites that count as serving: audited sites that pass every site rule, plus sites of
    tiers the plan does not audit (bases, service points, family stations)."""
    verdict = sites["id"].astype(str).map(result.site_verdict())
    keep = ~sites["tier"].isin(AUDITED_TIERS) | (verdict == "pass")
    return sites[keep.to_numpy()]


def compliant_region(region: Region, result: Audit) -> Region:
    """``region`` with only :func:`compliant_sites` serving; every other site is reported in
    ``region.rejected`` with the rules it fails (or that it lacks the data to decide them)."""
    kept = compliant_sites(region.sites, result)
    out = region.sites.loc[~region.sites.index.isin(kept.index)]
    table = result.sites.set_index("id")
    ids = out["id"].astype(str)
    verdict = ids.map(table["verdict"]).fillna("no_data")
    failed = ids.map(table["failed_rules"]).fillna("")
    reason = np.where(
        verdict == "fail",
        "fails the standards audit (" + failed.astype(str) + "); left out by --compliant-only",
        "the standards audit lacks the data to pass it; left out by --compliant-only",
    )
    rows = pd.DataFrame(
        {
            "layer": "sites",
            "file": str(region.files.sites) if region.files else "sites",
            "row": out["source_row"].to_numpy() if "source_row" in out else 0,
            "id": ids.to_numpy(),
            "reason": reason,
        }
    )
    rejected = pd.concat([region.rejected, rows], ignore_index=True)
    return replace(region.with_sites(kept), rejected=rejected)


# --- a region's audit -----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFiles:
    """Where the audit ledgers live (the names of the ``servicecircle audit`` flags)."""

    teams: str | Path | None = None
    activities: str | Path | None = None
    projects: str | Path | None = None
    unit_stats: str | Path | None = None
    venues: str | Path | None = None

    @classmethod
    def sample(cls) -> AuditFiles:
        """The bundled sample county's ledgers."""
        from planner.region import sample_dir

        return cls.beside(sample_dir() / "sites.csv")

    @classmethod
    def beside(cls, sites: str | Path, **given: str | Path | None) -> AuditFiles:
        """Ledgers named ``teams``, ``activities``, ``projects``, ``unit_stats`` and ``venues``
        (``.csv`` or ``.xlsx``) in the folder of the sites file, where not ``given``."""
        folder = Path(sites).parent
        found: dict[str, Path | str | None] = {}
        for name in ("teams", "activities", "projects", "unit_stats", "venues"):
            if given.get(name) is not None:
                found[name] = given[name]
                continue
            hits = [folder / f"{name}{ext}" for ext in (".csv", ".xlsx")]
            found[name] = next((h for h in hits if h.exists()), None)
        return cls(**found)


def audit_region(
    region: Region,
    coverage: Coverage | None = None,
    *,
    files: AuditFiles | None = None,
    inputs: AuditInputs | None = None,
    rules: AuditRules | str | Path | None = None,
    year: int | None = None,
) -> Audit:
    """Audit a loaded :class:`planner.region.Region` (with its :func:`analyze` coverage).

    Parameters
    ----------
    region
        The region; its sites carry the site attributes.
    coverage
        Its :class:`planner.coverage.Coverage`, for the circle rule (no data without it).
    files
        The ledgers to read (ignored when ``inputs`` is given); none: every ledger rule is
        no data.
    inputs
        Ledgers already read.
    rules
        :class:`AuditRules` or a TOML file of them (default: the provincial plan).
    year
        The audited year (default: the latest year in the activity ledger).
    """
    if not isinstance(rules, AuditRules):
        rules = AuditRules.from_toml(rules)
    if inputs is None:
        files = files or AuditFiles()
        coord = region.files.coord_sys if region.files is not None else None
        inputs = AuditInputs.from_files(
            region.sites, units=region.units, year=year, coord_sys=coord, **files.__dict__
        )
    population = None
    stats = inputs.unit_stats
    if stats is None or stats["population"].isna().any():
        population = float(region.residents["population"].sum())
    return audit(
        region.sites,
        inputs,
        rules=rules,
        units=region.units,
        by_unit=None if coverage is None else coverage.by_unit,
        county_coverage=None if coverage is None else float(coverage.summary["coverage"]),
        population=population,
        region_name=region.name,
    )
