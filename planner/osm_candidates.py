"""Candidate buildings for new sites, extracted from OpenStreetMap tags.

Rules (a feature matching several takes the first):

========================  =====================================================================
kind                      OSM tags
========================  =====================================================================
``idle_school``           ``disused:amenity=school`` / ``abandoned:amenity=school`` /
                          ``was:amenity=school``; or ``amenity=school`` or ``building=school``
                          together with ``disused=yes``, ``abandoned=yes`` or ``vacant=yes``
``idle_factory``          ``building=industrial|factory|warehouse|manufacture``,
                          ``landuse=industrial``, ``man_made=works`` (in use or not: each is a
                          building to inspect), and ``disused:landuse=industrial``; not
                          structures (``man_made=cooling_tower|chimney|silo|storage_tank`` ...)
``idle_house``            ``building=house|residential|detached|semidetached_house|farm``
                          with ``disused=yes``, ``abandoned=yes`` or ``vacant=yes``
``public_venue``          ``amenity=community_centre|social_facility`` and
                          ``building=public|civic`` with ``disused/abandoned/vacant=yes``
``other``                 any other ``building=*`` with ``disused=yes``, ``abandoned=yes`` or
                          ``vacant=yes``
========================  =====================================================================

A feature's point is a point inside it (``representative_point``). Function rooms are
estimated for buildings as floor area (footprint times ``building:levels``, default 1)
divided by 30 m² per room, up to 40, and marked ``rooms_source = "estimated"``; land-use
areas get no estimate (``rooms`` empty), so they need ``min_rooms=0`` or a surveyed value.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.errors import InputError

log = logging.getLogger(__name__)

SQM_PER_ROOM = 30.0
MAX_ROOMS = 40

_IDLE = ("disused", "abandoned", "vacant")
_QUERY: dict[str, bool | list[str]] = {
    "building": True,
    "landuse": ["industrial"],
    "man_made": ["works"],
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
        :func:`planner.io.read_candidates`.
    """
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
    return classify(features)


def classify(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Apply the extraction rules of this module to osmnx features (WGS84)."""
    columns = ["id", "name", "kind", "rooms", "rooms_source", "lon", "lat", "osm_tags"]
    if features.empty:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=4326)

    def tag(key: str) -> pd.Series:
        if key in features:
            return features[key].astype(object).where(features[key].notna(), "").astype(str)
        return pd.Series("", index=features.index)

    idle = np.zeros(len(features), bool)
    for key in _IDLE:
        idle |= tag(key).isin(["yes", "true", "1"]).to_numpy()
    building = tag("building")
    amenity = tag("amenity")
    kind = np.select(
        [
            tag("disused:amenity").eq("school").to_numpy()
            | tag("abandoned:amenity").eq("school").to_numpy()
            | tag("was:amenity").eq("school").to_numpy()
            | ((amenity.eq("school") | building.eq("school")).to_numpy() & idle),
            building.isin(["industrial", "factory", "warehouse", "manufacture"]).to_numpy()
            | tag("landuse").eq("industrial").to_numpy()
            | tag("man_made").eq("works").to_numpy()
            | tag("disused:landuse").eq("industrial").to_numpy(),
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
    # Structures tagged as buildings that no one can use as rooms.
    structure = (
        tag("man_made")
        .isin(
            [
                "cooling_tower",
                "chimney",
                "silo",
                "storage_tank",
                "water_tower",
                "tower",
                "reservoir_covered",
            ]
        )
        .to_numpy()
    )
    keep = (kind != "") & ~structure
    chosen = features.loc[keep]
    if chosen.empty:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=4326)
    metric = chosen.to_crs(chosen.estimate_utm_crs())
    area = metric.geometry.area.to_numpy()
    levels = (
        pd.to_numeric(tag("building:levels")[keep], errors="coerce")
        .fillna(1)
        .clip(1, 30)
        .to_numpy()
    )
    is_building = (building[keep] != "").to_numpy() & (area > 0)
    rooms = np.where(
        is_building, np.clip(np.floor(area * levels / SQM_PER_ROOM), 1, MAX_ROOMS), np.nan
    )
    point = metric.geometry.representative_point().to_crs(4326)
    idx = chosen.index
    ids = [
        f"osm:{t}/{i}"
        for t, i in zip(idx.get_level_values(0), idx.get_level_values(1), strict=True)
    ]
    names = tag("name")[keep].to_numpy()
    kinds = kind[keep]
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
    out = gpd.GeoDataFrame(
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
    log.info("%d candidate features from OSM (%s)", len(out), out["kind"].value_counts().to_dict())
    return out.reset_index(drop=True)


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
