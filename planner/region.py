"""A region: its road network and point layers, loaded once and passed along (picklable)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.coords import (
    AUTO,
    SYSTEM_NAMES,
    from_wgs84,
    layer_systems,
    likely_system,
    road_fit,
    wgs84_fits,
)
from planner.dem import with_slopes
from planner.errors import InputError
from planner.inputs import (
    NetworkArea,
    outside_reason,
    read_candidates,
    read_residents,
    read_sites,
    read_units,
)
from planner.io import blank
from planner.network import RoadNetwork, TravelGraph, load_network
from planner.osm_candidates import read_osm_candidates
from planner.runtime import trim_memory
from planner.schema import REJECTED_COLUMNS, rejected_table
from planner.snap import Snapped, snap_points
from planner.snap_index import load_indexes, save_indexes
from planner.standards import Standards

log = logging.getLogger(__name__)

SAMPLE_PACKAGE = "planner.sample_data"
"""The bundled sample's package: ``sample_data/`` of the repository, shipped in the wheel."""


def sample_dir() -> Path:
    """The folder of the bundled sample county, found as package data (wheel or editable).

    Raises
    ------
    InputError
        When the package is not installed (a source tree on ``PYTHONPATH`` only), saying how
        to install it or which files to give instead.
    """
    try:
        folder = resources.files(SAMPLE_PACKAGE)
    except ModuleNotFoundError:
        msg = (
            f"bundled sample not found: {SAMPLE_PACKAGE} is not installed; install servicecircle "
            "(pip install -e . in a checkout) or give --network, --sites and --residents"
        )
        raise InputError(msg) from None
    if not isinstance(folder, Path):  # e.g. inside a zip: no folder the readers can open
        msg = f"bundled sample not found: {SAMPLE_PACKAGE} is not a folder ({folder})"
        raise InputError(msg)
    return folder


@dataclass(frozen=True)
class RegionFiles:
    """Where a region's inputs live (the same names as the CLI flags)."""

    network: str | Path
    sites: str | Path
    residents: str | Path
    units: str | Path | None = None
    candidates: str | Path | None = None
    standards: str | Path | None = None
    coord_sys: str | None = None
    name: str | None = None
    dem: str | Path | None = None
    sheet: str | None = None
    """Sheet of every XLSX input to read (default: every sheet with the expected columns)."""

    @classmethod
    def sample(cls, folder: str | Path | None = None) -> RegionFiles:
        """The bundled synthetic sample county, from :func:`sample_dir` or the given ``folder``
        (e.g. a checkout's ``sample_data``)."""
        d = sample_dir() if folder is None else Path(folder)
        if not (d / "county.osm").exists():
            msg = f"bundled sample not found in {d}; run `python sample_data/generate.py`"
            raise InputError(msg)
        return cls(
            network=d / "county.osm",
            sites=d / "sites.csv",
            residents=d / "residents.csv",
            units=d / "units.geojson",
            candidates=d / "candidates.csv",
            name="示范县",
        )


@dataclass(frozen=True, eq=False)
class Region:
    """Everything one analysis needs, in one object: network, sites, residents, boundaries.

    Point layers are kept in the network's metric CRS. Travel graphs and snaps are built on
    first use per mode and cached on the object; the object pickles (for Dask) without them.
    """

    name: str
    network: RoadNetwork
    sites: gpd.GeoDataFrame
    residents: gpd.GeoDataFrame
    units: gpd.GeoDataFrame | None = None
    candidates: gpd.GeoDataFrame | None = None
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECTED_COLUMNS))
    standards: Standards = field(default_factory=Standards)
    files: RegionFiles | None = None
    coord_sys: str = "wgs84"
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def crs(self) -> str:
        """The metric CRS of all layers."""
        return self.network.crs

    def graph(self, mode: str, speed_kmh: float | None = None) -> TravelGraph:
        """The travel graph for ``mode`` (built once per mode and speed)."""
        key = ("graph", mode, speed_kmh)
        if key not in self._cache:
            graph = self.network.travel_graph(mode, speed_kmh=speed_kmh)
            load_indexes(graph, self.network)  # snapping indexes saved with the network
            self._cache[key] = graph
        cached: TravelGraph = self._cache[key]
        return cached

    def snap(self, layer: str, mode: str, speed_kmh: float | None = None) -> Snapped:
        """Snaps of a point layer (``sites``, ``residents``, ``candidates``) onto a mode's roads."""
        key = ("snap", layer, mode, speed_kmh, self.standards.max_snap_m)
        if key not in self._cache:
            frame = getattr(self, layer)
            xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
            self._cache[key] = snap_points(
                self.graph(mode, speed_kmh), xy, max_distance_m=self.standards.max_snap_m
            )
            save_indexes(self.graph(mode, speed_kmh), self.network)
        snapped: Snapped = self._cache[key]
        return snapped

    def drop_indexes(self) -> None:
        """Free the travel graphs' spatial indexes (a county's are hundreds of megabytes).

        For when every layer is snapped (the snaps stay): drawing and writing outputs need no
        index. A later snap of a new layer makes them again.
        """
        for key, value in self._cache.items():
            if key[0] == "graph":
                value.drop_indexes()
        trim_memory()

    def with_standards(self, standards: Standards) -> Region:
        """The same region under other standards (shares the compiled graphs)."""
        out = replace(self, standards=standards, _cache={})
        out._cache.update({k: v for k, v in self._cache.items() if k[0] == "graph"})
        return out

    def with_sites(self, sites: gpd.GeoDataFrame) -> Region:
        """The same region with another set of sites (e.g. existing plus proposed)."""
        out = replace(self, sites=sites.reset_index(drop=True), _cache={})
        out._cache.update(
            {k: v for k, v in self._cache.items() if k[0] == "graph" or k[1] != "sites"}
        )
        return out

    # --- loading -------------------------------------------------------------------------------

    @classmethod
    def from_files(
        cls,
        files: RegionFiles | None = None,
        *,
        standards: Standards | str | Path | None = None,
        cache_dir: str | Path | None = None,
        **paths: Any,
    ) -> Region:
        """Read a region from files (the bundled sample when nothing is given).

        Parameters
        ----------
        files
            Input paths; keyword arguments (``network=``, ``sites=`` ...) replace single ones.
        standards
            Travel standards, or a TOML file of them; default: from ``files.standards`` or
            every tier 15 minutes on foot.
        cache_dir
            Folder for compiled road networks (see :func:`planner.network.load_network`).
        """
        files = _region_files(files, paths)
        if isinstance(standards, str | Path):
            standards = Standards.from_toml(standards)
        elif standards is None:
            standards = Standards.from_toml(files.standards) if files.standards else Standards()
        network = load_network(files.network, cache_dir=cache_dir)
        if files.dem:
            network = with_slopes(network, files.dem, cache_dir=cache_dir)
        given = layer_systems(files.coord_sys)
        unsure: list[str] = []  # layers read as WGS84 that the roads did not confirm
        area = network_area(network)  # rows outside it are rejected, in every layer
        layers, systems = _read_people(network, files, given, area, unsure)
        (sites, rej_sites), (residents, rej_res) = layers["sites"], layers["residents"]
        rejected = [rej_sites, rej_res]
        units = candidates = county_name = None
        if files.units:
            units, rej, county_name = _read_boundaries(files.units, network.crs)
            rejected.append(rej)
        if files.candidates:
            candidates, rej = _read_candidates(network, files, given, systems, area, unsure)
            rejected.append(rej)
        if unsure:
            _warn_unsure(unsure)
        sites = _input_coords(sites, systems["sites"])
        residents = _input_coords(residents, systems["residents"])
        residents = residents.to_crs(network.crs)
        if units is not None:
            residents = _attach_units(residents, units)
            if candidates is not None:
                candidates = _attach_units(candidates, units, layer="candidates")
            sites = _attach_units(sites.to_crs(network.crs), units, layer="sites")
        name = files.name or county_name or Path(str(files.network)).name.split(".")[0]
        return cls(
            name=name,
            network=network,
            sites=sites.to_crs(network.crs),
            residents=residents,
            units=units,
            candidates=candidates,
            rejected=rejected_table(rejected),
            standards=standards,
            files=files,
            coord_sys=systems["sites"],  # proposals paste back where the sites came from
        )


def _region_files(files: RegionFiles | None, paths: dict[str, Any]) -> RegionFiles:
    """``files`` with the paths given one by one (the sample's when neither names a county)."""
    given = {k: v for k, v in paths.items() if v is not None}
    own = {"network", "sites", "residents"} & set(given)
    if files is None and own:
        # A county of one's own: never mix in the sample's boundaries or candidates.
        missing = sorted({"network", "sites", "residents"} - own)
        if missing:
            flags = ", ".join(f"--{m}" for m in missing)
            msg = f"give {flags} too: your own county needs a road network, sites and residents"
            raise InputError(msg)
        return RegionFiles(**given)
    base = files or RegionFiles.sample()
    return RegionFiles(**{**base.__dict__, **given})


Layers = dict[str, tuple[gpd.GeoDataFrame, pd.DataFrame]]


def _read_people(
    network: RoadNetwork,
    files: RegionFiles,
    given: dict[str, str | None],
    area: NetworkArea,
    unsure: list[str],
) -> tuple[Layers, dict[str, str]]:
    """Sites and residents (with rejected rows) read in their coordinate systems, and the
    system chosen for each layer (given, or detected from the roads: see :func:`_layer_choices`)."""
    found: dict[str, str | None] = {}
    layers: Layers = {}
    for layer, reader in (("sites", read_sites), ("residents", read_residents)):
        path = getattr(files, layer)
        layers[layer] = reader(path, coord_sys=given[layer], sheet=files.sheet, area=area)
    for layer in ("sites", "residents"):
        if given[layer] in (None, AUTO):
            found[layer] = _detect_coord_sys(
                network,
                layers[layer][0],
                path=getattr(files, layer),
                layer=layer,
                auto=given[layer] == AUTO,
                unsure=unsure,
            )
    systems = _layer_choices(given, found)
    for layer, reader in (("sites", read_sites), ("residents", read_residents)):
        if found.get(layer) is not None and systems[layer] != "wgs84":  # auto: read again
            path = getattr(files, layer)
            layers[layer] = reader(path, coord_sys=systems[layer], sheet=files.sheet, area=area)
    return layers, systems


def network_area(network: RoadNetwork) -> NetworkArea:
    """The area ``network`` covers: sites, residents and candidates outside it are rejected."""
    return NetworkArea.around(network.node_xy, network.crs)


def _read_boundaries(
    path: str | Path, crs: str
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, str | None]:
    """Towns and villages in ``crs``, rejected rows, and the county's name when the file
    outlines one county (it names the region; coverage is counted by town and village)."""
    units, rejected = read_units(path)
    county = units.loc[units["level"] == "county", "name"]
    county_name = str(county.iloc[0]) if len(county) == 1 else None
    units = units.loc[units["level"] != "county"].reset_index(drop=True).to_crs(crs)
    return units, rejected, county_name


def _read_candidates(
    network: RoadNetwork,
    files: RegionFiles,
    given: dict[str, str | None],
    systems: dict[str, str],
    area: NetworkArea,
    unsure: list[str],
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Candidates in the network's CRS, from an OSM extract or a table, and rejected rows.

    A table is read in its system: given, or detected on its own points like the others
    (``systems["candidates"]`` is updated); OSM is WGS84 and pastes back like the sites.
    """
    path = files.candidates
    assert path is not None
    if str(path).lower().endswith((".osm", ".osm.bz2", ".pbf")):
        frame, rej = _osm_candidates(path, area)
        return _input_coords(frame, systems["sites"]).to_crs(network.crs), rej
    system = given["candidates"]
    frame, rej = read_candidates(path, coord_sys=system, sheet=files.sheet, area=area)
    if system in (None, AUTO):
        found = _detect_coord_sys(
            network, frame, path=path, layer="candidates", auto=system == AUTO, unsure=unsure
        )
        systems["candidates"] = found or systems["candidates"]
        if system == AUTO and systems["candidates"] != "wgs84":
            frame, rej = read_candidates(
                path, coord_sys=systems["candidates"], sheet=files.sheet, area=area
            )
    return _input_coords(frame, systems["candidates"]).to_crs(network.crs), rej


def _osm_candidates(path: str | Path, area: NetworkArea) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Candidates from an OSM extract, and the buildings in use or outside the road
    network's ``area`` as rejected rows."""
    candidates, in_use = read_osm_candidates(path)
    if len(candidates):
        outside = ~area.contains(candidates.geometry)
        far = candidates.loc[outside]
        in_use = pd.concat(
            [in_use, pd.DataFrame({"id": far["id"], "reason": outside_reason(far, area)})],
            ignore_index=True,
        )
        candidates = candidates.loc[~outside].reset_index(drop=True)
    rejected = pd.DataFrame(
        {
            "layer": "candidates",
            "file": str(path),
            "row": 0,  # OSM features have ids, not rows
            "id": in_use["id"],
            "reason": in_use["reason"],
        },
        columns=REJECTED_COLUMNS,
    )
    return candidates, rejected


def _detect_coord_sys(
    network: RoadNetwork,
    frame: gpd.GeoDataFrame,
    *,
    path: str | Path,
    layer: str,
    auto: bool,
    unsure: list[str],
) -> str | None:
    """One point layer's coordinate system judged from the roads (see :mod:`planner.coords`).

    Without ``--coord-sys`` a clear mismatch stops, naming ``path`` and the system to give; a
    layer in China that WGS84 does not clearly fit (too few points to judge, or no system
    clearly better) is read as WGS84 and described in ``unsure`` (for :func:`_warn_unsure`).
    With ``--coord-sys auto`` the detected system is returned (and logged). None: too few
    points in China to judge.
    """
    lon, lat = frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    medians, closer = road_fit(lon, lat, roads=network.road_tree, crs=network.crs)
    if not medians:
        if auto:
            log.warning(
                "--coord-sys auto: too few %s in China to judge their system; "
                "give --coord-sys gcj02 (Amap, Tencent), bd09 (Baidu) or wgs84 (GPS, OSM)",
                layer,
            )
            return None
        few = road_fit(lon, lat, roads=network.road_tree, crs=network.crs, min_points=1)[0]
        if few:  # some points in China, too few to judge: say what they show
            unsure.append(f"{layer}, too few points to judge, {_medians(few)}")
        return None
    found = likely_system(medians, closer)
    if found is None:
        if auto:
            log.warning(
                "--coord-sys auto: %s read as WGS84: no system fits the roads clearly better "
                "(%s); give --coord-sys gcj02 (Amap, Tencent), bd09 (Baidu) or wgs84 (GPS, OSM) "
                "if you know their system",
                layer,
                _medians(medians),
            )
        elif not wgs84_fits(medians):
            unsure.append(f"{layer} {_medians(medians)}")
        return "wgs84"
    if auto:
        log.warning(
            "--coord-sys auto: %s (%s) look like %s (%s); converting them to WGS84",
            layer,
            path,
            SYSTEM_NAMES[found],
            _medians(medians),
        )
        return found
    msg = (
        f"{path}: the {layer} look like {SYSTEM_NAMES[found]} coordinates, not WGS84 "
        f"(median distance to the nearest road {_medians(medians)}); give --coord-sys {found} "
        f"(or --coord-sys {layer}={found}, --coord-sys auto, or coord_sys in the regions config)"
    )
    raise InputError(msg)


def _warn_unsure(unsure: list[str]) -> None:
    """One warning line for the layers read as WGS84 that the roads did not confirm."""
    log.warning(
        "coordinates read as WGS84, but the roads do not confirm it (median distance to the "
        "nearest road read as each system: %s); give --coord-sys gcj02 if they come from "
        "Amap or Tencent (bd09 for Baidu), or --coord-sys wgs84 if they are GPS or OSM points",
        "; ".join(unsure),
    )


def _layer_choices(given: dict[str, str | None], found: dict[str, str | None]) -> dict[str, str]:
    """The system each layer is read in: given, else detected, else (too few points) the
    system detected on the other layers when they agree, else WGS84."""
    seen = {v for v in found.values() if v is not None}
    fallback = seen.pop() if len(seen) == 1 else "wgs84"
    out = {}
    for layer, value in given.items():
        if value not in (None, AUTO):
            out[layer] = value
        elif found.get(layer) is not None:
            out[layer] = str(found[layer])
        elif value == AUTO:
            out[layer] = fallback
            if layer != "*" and fallback != "wgs84":
                log.warning("--coord-sys auto: %s read as %s like the others", layer, fallback)
        else:
            out[layer] = "wgs84"
    return out


def _medians(medians: dict[str, float]) -> str:
    short = {"wgs84": "WGS84", "gcj02": "GCJ-02", "bd09": "BD-09"}
    return ", ".join(f"{v:.0f} m as {short[k]}" for k, v in medians.items())


def _input_coords(frame: gpd.GeoDataFrame, system: str) -> gpd.GeoDataFrame:
    """Add ``lon_<system>, lat_<system>`` (6 decimals) so results paste back where they came from."""
    if system in ("wgs84", AUTO) or frame.empty:
        return frame
    wgs = frame.geometry.to_crs("EPSG:4326")
    lon, lat = from_wgs84(wgs.x.to_numpy(), wgs.y.to_numpy(), system)
    out = frame.copy()
    out[f"lon_{system}"] = np.round(lon, 6)
    out[f"lat_{system}"] = np.round(lat, 6)
    return out


def _attach_units(
    points: gpd.GeoDataFrame, units: gpd.GeoDataFrame, *, layer: str = "residents"
) -> gpd.GeoDataFrame:
    """Town and village names and codes of ``points`` from the boundary polygons they lie in.

    The polygon decides: a point inside a town (village) polygon gets that polygon's name and
    code, whatever its own columns say, so one code never stands under two names. A point
    outside every polygon keeps its own values. Where a point's own value differs from its
    polygon's, the column as written is kept beside it as ``<column>_input`` (``town_input``
    ...; only when some row differs) and a warning counts the points, with two examples.
    """
    out = points.copy()
    differs = np.zeros(len(out), bool)
    changed: list[str] = []
    for level, name_col, code_col in (
        ("town", "town", "town_code"),
        ("village", "village", "village_code"),
    ):
        polys = units.loc[units["level"] == level, ["name", "code", "geometry"]]
        if polys.empty:
            continue
        joined = gpd.sjoin(out[["geometry"]], polys, how="left", predicate="within")
        joined = joined[~joined.index.duplicated(keep="first")]
        for col, src in ((name_col, "name"), (code_col, "code")):
            found = joined[src].reindex(out.index)
            if col not in out:
                out[col] = found
                continue
            given = out[col]
            other = _overruled(given, found)
            if other.any():
                out[f"{col}_input"] = given
                changed.append(col)
                differs |= other
            out[col] = found.where(found.notna(), given)
    if differs.any():
        _warn_unit_columns(points, out, differs, changed, layer)
    return out


def unit_disagreements(points: pd.DataFrame) -> int:
    """How many rows of ``points`` (residents) had a town or village column that their
    boundary polygon overruled (see ``_attach_units``): 0 when none did."""
    differs = np.zeros(len(points), bool)
    for col in ("town", "town_code", "village", "village_code"):
        if f"{col}_input" in points and col in points:
            differs |= _overruled(points[f"{col}_input"], points[col])
    return int(differs.sum())


def _overruled(given: pd.Series, found: pd.Series) -> np.ndarray:
    """Rows whose own value ``given`` says something other than the polygon's ``found``."""
    other = found.notna() & ~blank(given)
    other &= given.astype(str).str.strip() != found.astype(str).str.strip()
    return other.to_numpy()


def _warn_unit_columns(
    points: gpd.GeoDataFrame,
    out: gpd.GeoDataFrame,
    differs: np.ndarray,
    cols: list[str],
    layer: str,
) -> None:
    """One warning: how many points' own town/village disagree with their polygon, two examples."""
    ids = out["id"].astype(str) if "id" in out else pd.Series(out.index.astype(str), out.index)
    examples = []
    for i in np.flatnonzero(differs)[:2]:
        was = "/".join(str(points[c].iloc[i]) for c in cols if c in points)
        now = "/".join(str(out[c].iloc[i]) for c in cols)
        examples.append(f"{ids.iloc[i]} {was} -> {now}")
    log.warning(
        "%d %s lie in a boundary polygon whose %s differs from their own column; the polygon "
        "decides (the column as written is kept as %s), e.g. %s",
        int(differs.sum()),
        layer,
        "/".join(dict.fromkeys(cols)),
        ", ".join(f"{c}_input" for c in dict.fromkeys(cols)),
        "; ".join(examples),
    )
