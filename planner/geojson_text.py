"""GeoJSON features as text, written by pandas (properties) and GEOS (geometries).

A county's layers are a million coordinates: building Python dicts with a float object per
coordinate, then writing them as JSON, is most of the time of writing them. Here no Python
object is made per coordinate, only one string per feature.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely


def geometry_texts(geometries: np.ndarray) -> np.ndarray:
    """Each geometry's GeoJSON text (``None`` stays ``None``), written by GEOS."""
    return np.asarray(shapely.to_geojson(np.asarray(geometries, dtype=object)), dtype=object)


def texts_of(texts: pd.Series, index: pd.Index) -> np.ndarray:
    """The geometry texts kept for a layer (by its index: :meth:`Coverage.geometry_json`) of
    the rows ``index``, a subset of that layer's rows with their labels."""
    if not index.is_unique or not index.isin(texts.index).all():
        msg = "geometry texts are looked up by the labels of the rows they were written for"
        raise ValueError(msg)
    return np.asarray(texts.loc[index].to_numpy(), dtype=object)


def feature_texts(
    properties: pd.DataFrame, geometries: np.ndarray, *, ids: bool = False
) -> list[str]:
    """Each row of ``properties`` with its geometry as one GeoJSON Feature (text).

    Parameters
    ----------
    properties
        JSON-ready values (text, numbers, booleans, missing values as null; dates in ISO).
    geometries
        Shapely geometries (``None`` for a feature without one), as they are to be written:
        transformed and rounded by the caller; or their texts (:func:`geometry_texts`).
    ids
        Give feature ``i`` the id ``"i"``.
    """
    props = properties.reset_index(drop=True)
    n = len(props)
    geometries = np.asarray(geometries, dtype=object)
    written = pd.api.types.infer_dtype(geometries, skipna=True) in ("string", "empty")
    shapes = geometries if written else geometry_texts(geometries)  # (None stays None)
    if len(props.columns):
        # pandas writes "/" as "\/" (its only escape of "/", so undoing it is exact)
        lines = props.to_json(
            orient="records", lines=True, force_ascii=False, date_format="iso"
        ).replace("\\/", "/")
        rows = lines.split("\n")[:n]  # text values have their line breaks escaped
    else:
        rows = ["{}"] * n
    head = [f'"id":"{i}",' for i in range(n)] if ids else [""] * n
    return [
        f'{{"type":"Feature",{h}"properties":{row},"geometry":{shape or "null"}}}'
        for h, row, shape in zip(head, rows, shapes, strict=True)
    ]
