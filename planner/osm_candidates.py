"""Candidate buildings for new sites, extracted from OpenStreetMap tags.

Rules (a feature matching several takes the first):

========================  =====================================================================
kind                      OSM tags
========================  =====================================================================
``idle_school``           ``disused:amenity=school`` / ``abandoned:amenity=school`` /
                          ``was:amenity=school``; or ``amenity=school`` or ``building=school``
                          together with ``disused=yes``, ``abandoned=yes`` or ``vacant=yes``
``idle_factory``          ``building=industrial|factory|warehouse|manufacture`` and
                          ``landuse=industrial`` (each is a building to inspect, unless it is
                          run: see below), ``disused:landuse=industrial``,
                          ``disused:man_made=works``, and ``man_made=works`` only when idle;
                          not structures (``man_made=cooling_tower|chimney|silo`` ...)
``idle_house``            ``building=house|residential|detached|semidetached_house|farm``
                          with ``disused=yes``, ``abandoned=yes`` or ``vacant=yes``
``public_venue``          ``amenity=community_centre|social_facility`` and
                          ``building=public|civic`` with ``disused/abandoned/vacant=yes``
``other``                 any other ``building=*`` with ``disused=yes``, ``abandoned=yes`` or
                          ``vacant=yes``
========================  =====================================================================

A feature is *idle* with ``disused=yes``, ``abandoned=yes`` or ``vacant=yes``, or an
``operational_status`` of ``closed``, ``abandoned``, ``disused``, ``idle``, ``vacant``,
``inactive`` or ``out_of_service``. Features in use are never proposed; those matching a kind's
tags but left out are returned (:func:`read_osm_candidates`) with their reason:

- operating power infrastructure: ``power=plant|generator|substation`` (not idle);
- operating works: ``man_made=works`` (a factory at work, by definition) not idle;
- operator-run industry: industrial buildings or land with an ``operator`` or an
  ``operational_status`` that is not idle;
- schools in use: ``amenity=school`` or ``building=school`` without ``disused:`` /
  ``abandoned:`` / ``was:`` prefixes or an idle tag;
- structures tagged as buildings (chimneys, cooling towers, silos, tanks ...);
- anything whose point lies inside an operating site of the first three rules (a workshop
  inside a running power plant is no idle building).

A feature's point is a point inside it (``representative_point``). Function rooms are
estimated for buildings as floor area (footprint times ``building:levels``, default 1)
divided by 30 m² per room, up to 40, and marked ``rooms_source = "estimated"``; land-use
areas get no estimate (``rooms`` empty), so they need ``--min-rooms 0`` (``min_rooms=0``) or
a surveyed value.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.errors import InputError

log = logging.getLogger(__name__)

SQM_PER_ROOM = 30.0
MAX_ROOMS = 40

_IDLE = ("disused", "abandoned", "vacant")
_IDLE_STATUS = ("closed", "abandoned", "disused", "idle", "vacant", "inactive", "out_of_service")
_STRUCTURES = (
    "cooling_tower",
    "chimney",
    "silo",
    "storage_tank",
    "water_tower",
    "tower",
    "reservoir_covered",
)
_QUERY: dict[str, bool | str | list[str]] = {  # osmnx's tag query type
    "building": True,
    "landuse": ["industrial"],
    "man_made": ["works"],
    "power": ["plant", "generator", "substation"],
    "disused:man_made": True,
    "amenity": ["school", "community_centre", "social_facility"],
    "disused:amenity": True,
    "abandoned:amenity": True,
    "was:amenity": True,
    "disused:landuse": True,
}


def candidates_from_osm(path: str | Path) -> gpd.GeoDataFrame:
    """Extract candidate buildings from an ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.

    Returns
    -------
    geopandas.GeoDataFrame
        WGS84 points with ``id`` (``osm:<type>/<id>``), ``name``, ``kind``, ``rooms``,
        ``rooms_source``, ``lon``, ``lat`` and the OSM tags used, in the layout of
        :func:`planner.inputs.read_candidates`.
    """
    return read_osm_candidates(path)[0]


def read_osm_candidates(path: str | Path) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Candidate buildings and the features left out, from an OSM file.

    Returns
    -------
    candidates, excluded
        As :func:`candidates_from_osm`; and ``id, name, reason`` of every feature that matched
        a kind's tags but is in use (see the module docstring).
    """
    return _classify(_features(path))


def _features(path: str | Path) -> gpd.GeoDataFrame:
    import osmnx as ox

    path = Path(path)
    if not path.exists():
        msg = f"{path}: OSM file not found"
        raise InputError(msg)
    try:
        if path.name.lower().endswith(".pbf"):
            with tempfile.TemporaryDirectory() as tmp:
                xml = Path(tmp) / "features.osm"
                _pbf_to_xml(path, xml, list(_QUERY))
                features = ox.features_from_xml(xml, tags=_QUERY)
        else:
            features = ox.features_from_xml(path, tags=_QUERY)
    except ox._errors.InsufficientResponseError:
        features = gpd.GeoDataFrame(geometry=[], crs=4326)
    except Exception as exc:  # parser errors of many kinds; the user needs file and cause
        msg = f"{path}: cannot read OSM features ({type(exc).__name__}: {exc})"
        raise InputError(msg) from None
    return features


def classify(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Apply the extraction rules of this module to osmnx features (WGS84)."""
    return _classify(features)[0]


EXCLUDED_COLUMNS = ["id", "name", "reason"]


_CANDIDATE_COLUMNS = ["id", "name", "kind", "rooms", "rooms_source", "lon", "lat", "osm_tags"]

_Tag = Callable[[str], pd.Series]
"""A tag's values on every feature ("" where the feature lacks it)."""


def _classify(features: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Candidates and the features in use left out with their reasons (module docstring)."""
    if features.empty:
        return _no_candidates(), pd.DataFrame(columns=EXCLUDED_COLUMNS)
    tag = _tag_reader(features)
    idle = _idle(tag)
    industrial = (
        tag("building").isin(["industrial", "factory", "warehouse", "manufacture"]).to_numpy()
        | tag("landuse").eq("industrial").to_numpy()
        | tag("man_made").eq("works").to_numpy()
    )
    kind = _kinds(tag, idle, industrial)
    site_reason = _operating_site(tag, idle, industrial)
    reason = _in_use(tag, site_reason, kind)
    reason = _inside_sites(features, site_reason, reason, kind != "")
    shown = reason != ""
    excluded = pd.DataFrame(
        {
            "id": np.array(_osm_ids(features.index))[shown],
            "name": tag("name").to_numpy()[shown],
            "reason": reason[shown],
        },
        columns=EXCLUDED_COLUMNS,
    )
    if len(excluded):
        log.info("%d OSM features in use left out of the candidates", len(excluded))
    keep = (kind != "") & (reason == "")
    if features.loc[keep].empty:
        return _no_candidates(), excluded
    out = _candidates(features.loc[keep], tag, keep, kind[keep])
    log.info("%d candidate features from OSM (%s)", len(out), out["kind"].value_counts().to_dict())
    return out.reset_index(drop=True), excluded


def _no_candidates() -> gpd.GeoDataFrame:
    """An empty candidate layer with the usual columns."""
    return gpd.GeoDataFrame({c: [] for c in _CANDIDATE_COLUMNS}, geometry=[], crs=4326)


def _tag_reader(features: gpd.GeoDataFrame) -> _Tag:
    """A reader of one tag's values as text over ``features``."""

    def tag(key: str) -> pd.Series:
        if key in features:
            values: pd.Series = features[key].astype(object).where(features[key].notna(), "")
            return values.astype(str)
        return pd.Series("", index=features.index)

    return tag


def _idle(tag: _Tag) -> np.ndarray:
    """Features tagged disused, abandoned or vacant, or with an idle operational status."""
    idle = tag("operational_status").str.lower().isin(_IDLE_STATUS).to_numpy().copy()
    for key in _IDLE:
        idle |= tag(key).isin(["yes", "true", "1"]).to_numpy()
    return idle


def _kinds(tag: _Tag, idle: np.ndarray, industrial: np.ndarray) -> np.ndarray:
    """Each feature's candidate kind by the first rule that applies ("" for none)."""
    building = tag("building")
    amenity = tag("amenity")
    return np.select(
        [
            tag("disused:amenity").eq("school").to_numpy()
            | tag("abandoned:amenity").eq("school").to_numpy()
            | tag("was:amenity").eq("school").to_numpy()
            | ((amenity.eq("school") | building.eq("school")).to_numpy() & idle),
            industrial
            | tag("disused:landuse").eq("industrial").to_numpy()
            | tag("disused:man_made").eq("works").to_numpy(),
            building.isin(
                ["house", "residential", "detached", "semidetached_house", "farm"]
            ).to_numpy()
            & idle,
            amenity.isin(["community_centre", "social_facility"]).to_numpy()
            | (building.isin(["public", "civic"]).to_numpy() & idle),
            (building != "").to_numpy() & idle,
        ],
        ["idle_school", "idle_factory", "idle_house", "public_venue", "other"],
        default="",
    )


def _operating_site(tag: _Tag, idle: np.ndarray, industrial: np.ndarray) -> np.ndarray:
    """Why a feature is an operating site (power, works, operator-run industry), else ""."""
    power = tag("power")
    operated = (tag("operator") != "").to_numpy() | (tag("operational_status") != "").to_numpy()
    return np.select(
        [
            (power != "").to_numpy() & ~idle,
            tag("man_made").eq("works").to_numpy() & ~idle,
            industrial & operated & ~idle,
        ],
        [
            "operating power infrastructure (power=" + power + ")",
            pd.Series(
                "operating works (man_made=works) without disused/abandoned tags", index=power.index
            ),
            "operator-run industry (operator=" + tag("operator") + ") not tagged idle",
        ],
        default="",
    )


def _in_use(tag: _Tag, site_reason: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Why a feature is left out (a structure, an operating site, a school in use), else ""."""
    school = (tag("amenity").eq("school") | tag("building").eq("school")).to_numpy()
    return np.select(
        [
            tag("man_made").isin(_STRUCTURES).to_numpy(),
            site_reason != "",
            school & (kind == ""),
        ],
        [
            "a structure (man_made=" + tag("man_made") + "), not rooms",
            site_reason,
            pd.Series(
                "school in use (no disused:/abandoned: prefix or idle tag)",
                index=tag("power").index,
            ),
        ],
        default="",
    )


def _osm_ids(index: pd.Index) -> list[str]:
    """``osm:<type>/<id>`` of each feature of an osmnx (element type, id) index."""
    return [
        f"osm:{t}/{i}"
        for t, i in zip(index.get_level_values(0), index.get_level_values(1), strict=True)
    ]


def _candidates(
    chosen: gpd.GeoDataFrame, tag: _Tag, keep: np.ndarray, kinds: np.ndarray
) -> gpd.GeoDataFrame:
    """The candidate layer: a point inside each, its name, rooms estimated from the footprint."""
    metric = chosen.to_crs(chosen.estimate_utm_crs())
    area = metric.geometry.area.to_numpy()
    levels = (
        pd.to_numeric(tag("building:levels")[keep], errors="coerce")
        .fillna(1)
        .clip(1, 30)
        .to_numpy()
    )
    is_building = (tag("building")[keep] != "").to_numpy() & (area > 0)
    rooms = np.where(
        is_building, np.clip(np.floor(area * levels / SQM_PER_ROOM), 1, MAX_ROOMS), np.nan
    )
    point = metric.geometry.representative_point().to_crs(4326)
    ids = _osm_ids(chosen.index)
    names = tag("name")[keep].to_numpy()
    names = np.where(
        names == "", [f"{_KIND_ZH[k]} {i}" for k, i in zip(kinds, ids, strict=True)], names
    )
    used = [c for c in ("amenity", "building", "landuse", "man_made", *_IDLE) if c in chosen]
    tags = (
        chosen[used]
        .astype(object)
        .apply(
            lambda r: ";".join(f"{k}={v}" for k, v in r.items() if isinstance(v, str) and v), axis=1
        )
    )
    return gpd.GeoDataFrame(
        {
            "id": ids,
            "name": names,
            "kind": kinds,
            "rooms": rooms,
            "rooms_source": np.where(is_building, "estimated", ""),
            "lon": point.x.to_numpy(),
            "lat": point.y.to_numpy(),
            "osm_tags": tags.to_numpy(),
        },
        geometry=point.to_numpy(),
        crs=4326,
    )


def _inside_sites(
    features: gpd.GeoDataFrame, site: np.ndarray, reason: np.ndarray, candidate: np.ndarray
) -> np.ndarray:
    """``reason``, plus "inside <site> (...)" for would-be candidates within an operating site."""
    polygons = np.flatnonzero(
        (site != "") & features.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    )
    if len(polygons) == 0:
        return reason
    points = features.geometry.representative_point().to_numpy()
    tree = shapely.STRtree(features.geometry.to_numpy()[polygons])
    inner, outer = tree.query(points, predicate="within")
    different = inner != polygons[outer]
    inner, site_of = inner[different], polygons[outer][different]
    inner, first = np.unique(inner, return_index=True)  # the first site around each feature
    site_of = site_of[first]
    names = features["name"] if "name" in features else pd.Series("", index=features.index)
    label = names.fillna("").astype(str).to_numpy()[site_of]
    label = np.where(label == "", "an operating site", label)
    out = reason.astype(object).copy()
    free = (out[inner] == "") & candidate[inner]
    names_around: pd.Series = pd.Series(label)  # strings (the stubs guess floats from the array)
    text = names_around.radd("inside ") + " (" + pd.Series(site[site_of]) + ")"
    out[inner[free]] = text.to_numpy()[free]
    return out


_KIND_ZH = {
    "idle_school": "闲置校舍",
    "idle_factory": "闲置厂房",
    "idle_house": "闲置民宅",
    "public_venue": "公共场所",
    "other": "闲置建筑",
}


def _pbf_to_xml(pbf: Path, xml: Path, keys: list[str]) -> None:
    import osmium

    with osmium.BackReferenceWriter(str(xml), ref_src=str(pbf), overwrite=True) as writer:
        for obj in osmium.FileProcessor(str(pbf), osmium.osm.WAY | osmium.osm.NODE).with_filter(
            osmium.filter.KeyFilter(*keys)
        ):
            writer.add(obj)
