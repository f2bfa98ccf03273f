"""Who may use a road and where a pedestrian can step onto it: OSM way tags per travel mode.

Access per mode
---------------
OSM's tag hierarchy, the most specific tag that is present deciding:

=========  ==============================================  ===================================
mode       tags, most specific first                       highway types / tags forbidding it
=========  ==============================================  ===================================
``walk``   ``foot`` > ``access``                           ``motorway``, ``motorway_link``,
                                                           ``motorroad=yes`` and
                                                           :data:`NOT_FOR` ``["walk"]``
``bike``   ``bicycle`` > ``vehicle`` > ``access``          ``motorway``, ``motorway_link``,
                                                           ``steps``, ``motorroad=yes`` and
                                                           :data:`NOT_FOR` ``["bike"]``
``drive``  ``motorcar`` > ``motor_vehicle`` >              footways, paths, cycleways, steps
           ``vehicle`` > ``access``                        ... (:data:`NOT_FOR` ``["drive"]``)
=========  ==============================================  ===================================

A way may be used by a mode when

1. a mode-specific tag (every key in the list but ``access``) is present: it decides alone —
   ``foot=yes`` opens an ``access=no`` road and a ``motorroad=yes`` trunk to walking;
2. otherwise, when its highway type or ``motorroad=yes`` forbids the mode: no;
3. otherwise ``access`` decides; with no tag at all: yes.

A tag value *forbids* when it is one of :data:`DENY` (``no``, ``use_sidepath``); every other
value allows. ``access=private``, ``destination``, ``customers`` ... stay usable on purpose:
in Chinese counties many residents live in gated compounds (小区) whose lanes are private, and
the people living there walk them. Cycleways stay walkable unless ``foot=no``. A value with
several parts (``no;destination``) is read by its first part. Without tags (hand-built
networks, graphs without them) only the highway type counts, as before.

Street level (where points join the network)
--------------------------------------------
A way is *at street level* — a pedestrian can step onto it from a building or a street —
unless it is underground or raised: ``tunnel=*`` (but ``tunnel=building_passage``, a passage
through a building at ground level), ``covered=yes``, ``bridge=*``, or a ``layer`` other than
0. ``no`` values (``bridge=no``) count as absent. Points snap to street-level ways only, unless
none lies within the snap limit; travel uses every way.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

# The OSM way tags kept per directed edge in ``RoadNetwork.edge_tags`` (raw values, "" when the
# way has no such tag), besides ``highway`` which has its own array. Every reader of road
# networks (the OSM reader, the osmnx graph compiler, graphml files) fills exactly these keys;
# the access rules per mode and the street-level test for snapping read only these.
WAY_TAGS: tuple[str, ...] = (
    "access",
    "foot",
    "bicycle",
    "vehicle",
    "motor_vehicle",
    "motorcar",
    "motorroad",
    "oneway",
    "junction",
    "tunnel",
    "bridge",
    "layer",
    "covered",
    "indoor",
    "level",
    "maxspeed",
)

MODES = ("walk", "bike", "drive")

# Keys deciding access per mode, most specific first; ``access`` is always last.
ACCESS_KEYS: dict[str, tuple[str, ...]] = {
    "walk": ("foot", "access"),
    "bike": ("bicycle", "vehicle", "access"),
    "drive": ("motorcar", "motor_vehicle", "vehicle", "access"),
}

DENY = frozenset({"no", "use_sidepath"})
"""Tag values that forbid a mode; any other value (``yes``, ``private``, ``permissive`` ...) allows."""

# Which highway types each mode may not use (the rest of the ways tagged highway=* may be used).
NOT_FOR: dict[str, frozenset[str]] = {
    "walk": frozenset(
        {"motorway", "motorway_link", "construction", "proposed", "raceway", "bus_guideway"}
    ),
    "bike": frozenset(
        {
            "motorway",
            "motorway_link",
            "steps",
            "construction",
            "proposed",
            "raceway",
            "bus_guideway",
        }
    ),
    "drive": frozenset(
        {
            "footway",
            "path",
            "pedestrian",
            "steps",
            "cycleway",
            "bridleway",
            "corridor",
            "elevator",
            "escalator",
            "platform",
            "construction",
            "proposed",
            "raceway",
            "bus_guideway",
            "busway",
        }
    ),
}

# Modes that ``motorroad=yes`` (a road for motor vehicles only, 汽车专用公路) closes by default.
MOTORROAD_CLOSES = frozenset({"walk", "bike"})


def compact_tags(tags: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``tags`` as object arrays, where a key no edge has (every value "") takes no memory.

    Such a key becomes a read-only view of one "" (eight bytes, not eight per edge): a county
    where no way carries ``motorroad`` or ``indoor`` keeps nothing of them, and every rule
    reads them as before. :class:`planner.network.RoadNetwork` applies it to its tags.
    """
    out = {}
    for key, values in tags.items():
        values = np.asarray(values)
        if values.ndim == 1 and len(values) > 1 and values.strides[0] == 0:
            out[key] = values.astype(object, copy=False)  # one value already: a view of it
        elif len(values) and not (values != "").any():
            out[key] = np.broadcast_to(np.array("", dtype=object), values.shape)
        else:
            out[key] = values.astype(object, copy=False)
    return out


def per_distinct(values: np.ndarray, rule: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``rule`` applied to each distinct value once, spread back over ``values``.

    A county's edges share a handful of tag values and highway types: a string rule then
    costs per distinct value, not per edge. ``rule`` takes and returns arrays of equal length.
    """
    codes, distinct = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    done: np.ndarray = rule(np.asarray(distinct, dtype=object))
    return done[codes]


def _value(tags: dict[str, np.ndarray], key: str, n: int) -> np.ndarray:
    """The first part of the tag's values, lower-cased ("" where absent)."""
    raw = tags.get(key)
    if raw is None or len(raw) == 0:
        return np.full(n, "", dtype=object)
    return per_distinct(raw, _first_part)


def _first_part(values: np.ndarray) -> np.ndarray:
    text = np.char.lower(np.char.strip(values.astype(str)))
    return np.char.partition(text, ";")[:, 0].astype(object)


def usable(highway: np.ndarray, tags: dict[str, np.ndarray], mode: str) -> np.ndarray:
    """Mask of the directed edges that ``mode`` may travel, by the table of this module.

    Parameters
    ----------
    highway
        The ``highway`` value per edge.
    tags
        Raw tag values per edge keyed by (a subset of) :data:`WAY_TAGS`; empty for networks
        without tags, then only the highway type counts.
    mode
        ``walk``, ``bike`` or ``drive``.
    """
    highway = np.asarray(highway, dtype=object)
    n = len(highway)
    allowed = ~np.isin(highway, list(NOT_FOR[mode]))
    if not tags:
        return allowed
    if mode in MOTORROAD_CLOSES:
        allowed &= _value(tags, "motorroad", n) != "yes"
    *specific, generic = ACCESS_KEYS[mode]
    access = _value(tags, generic, n)
    allowed &= ~np.isin(access, list(DENY))
    decided = np.zeros(n, bool)
    for key in specific:  # most specific first: the first tag present decides
        value = _value(tags, key, n)
        here = ~decided & (value != "")
        allowed = np.where(here, ~np.isin(value, list(DENY)), allowed)
        decided |= here
    return allowed


def street_level(tags: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Mask of the ``n`` edges at street level (see the module docstring); all without tags."""
    if not tags:
        return np.ones(n, bool)
    tunnel = _value(tags, "tunnel", n)
    bridge = _value(tags, "bridge", n)
    covered = _value(tags, "covered", n)
    layer = per_distinct(_value(tags, "layer", n), _layer)
    below = ((tunnel != "") & (tunnel != "no") & (tunnel != "building_passage")) | (
        covered == "yes"
    )
    above = (bridge != "") & (bridge != "no")
    ground: np.ndarray = ~below & ~above & (layer == 0)
    return ground


def _layer(values: np.ndarray) -> np.ndarray:
    # layer is an integer; odd values ("-1.5", "ground") count as 0 unless clearly signed.
    out = np.zeros(len(values))
    text = values.astype(str)
    numeric = np.char.lstrip(np.char.lstrip(text, "-"), "+")
    ok = np.char.isdigit(np.char.replace(numeric, ".", "")) & (numeric != "")
    out[ok] = text[ok].astype(float)
    return out
