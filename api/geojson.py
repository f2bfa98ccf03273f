"""Layers to RFC 7946 GeoJSON (WGS84, counter-clockwise shells) and compact JSON bytes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping

from planner.coords import LONLAT_DECIMALS, round_lonlat
from planner.coverage import json_ready

PRECISION = LONLAT_DECIMALS
"""Decimal places of longitude/latitude (about 0.1 m), as the CLI's GeoJSON files."""


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON with Chinese left readable."""
    return json.dumps(
        data, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_default
    ).encode("utf-8")


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return json_ready(value)
    msg = f"not JSON serialisable: {type(value).__name__}"
    raise TypeError(msg)


def records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of ``columns`` (those present) as JSON-safe dicts."""
    keep = [c for c in columns if c in frame.columns]
    part = frame[keep].astype(object)
    part = part.where(frame[keep].notna(), None)
    return [{str(k): json_ready(v) for k, v in row.items()} for row in part.to_dict("records")]


def wgs84_geometries(frame: gpd.GeoDataFrame) -> np.ndarray:
    """The geometries of ``frame`` in WGS84, rounded, valid, with counter-clockwise shells."""
    geoms = frame.geometry.to_crs(4326).to_numpy() if frame.crs else frame.geometry.to_numpy()
    rounded = round_lonlat(geoms, PRECISION)
    broken = ~shapely.is_valid(rounded) & shapely.is_valid(geoms)
    rounded[broken] = geoms[broken]  # rounding pinched a ring: keep full precision there
    invalid = ~shapely.is_valid(rounded) & ~shapely.is_missing(rounded)
    rounded[invalid] = shapely.make_valid(rounded[invalid])
    oriented: np.ndarray = shapely.orient_polygons(rounded, exterior_cw=False)
    return oriented


def features(
    frame: gpd.GeoDataFrame,
    columns: Sequence[str],
    *,
    id_column: str | None = None,
    extra: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """GeoJSON features of a layer: ``columns`` as properties, ``id_column`` as the id."""
    if len(frame) == 0:
        return []
    props = records(frame, columns)
    geoms = wgs84_geometries(frame)
    ids = frame[id_column].astype(str).tolist() if id_column else [None] * len(frame)
    out = []
    for fid, geom, prop in zip(ids, geoms, props, strict=True):
        if extra:
            prop.update(extra)
        feature: dict[str, Any] = {"type": "Feature"}
        if fid is not None:
            feature["id"] = fid
        feature["geometry"] = None if geom is None or geom.is_empty else mapping(geom)
        feature["properties"] = prop
        out.append(feature)
    return out


def feature_collection(items: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    """A FeatureCollection; ``members`` are added at the top (RFC 7946 foreign members)."""
    return {"type": "FeatureCollection", **json_ready(members), "features": items}
