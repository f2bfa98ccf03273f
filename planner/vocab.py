"""What people write for tiers, candidate kinds and towns, turned into the keys the code uses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import InputError
from planner.text import CANDIDATE_KINDS, KIND_ALIASES, TIER_ALIASES, TIERS, normalise_token

DEFAULT_K = 5
"""New sites proposed when neither ``k`` nor a coverage target is asked for."""


def tier_key(value: Any, *, where: str = "tier") -> str:
    """The tier key of a key, alias or Chinese name (``"站"`` -> ``"station"``).

    Raises
    ------
    InputError
        Naming ``where`` (a flag, column or field) and the accepted tiers.
    """
    return _key(value, TIER_ALIASES, TIERS, noun="tier", where=where)


def kind_key(value: Any, *, where: str = "kind") -> str:
    """The candidate-kind key of a key, alias or Chinese word (``"闲置厂房"`` -> ``"idle_factory"``).

    Raises
    ------
    InputError
        Naming ``where`` and the accepted kinds.
    """
    return _key(value, KIND_ALIASES, CANDIDATE_KINDS, noun="candidate kind", where=where)


def accepted(vocabulary: dict[str, dict[str, str]]) -> str:
    """The keys of a vocabulary (:data:`~planner.text.TIERS` ...) with their Chinese names, as
    error messages list them: ``"station (站), institute (所), ..."``."""
    return ", ".join(f"{k} ({v['zh']})" for k, v in vocabulary.items())


def kind_keys(values: Iterable[Any], *, where: str = "kinds") -> list[str]:
    """:func:`kind_key` of each value, in order."""
    return [kind_key(v, where=where) for v in values]


UNKNOWN_TOWN = "(未知)"
"""The town (and village) of residents without one, as :func:`planner.coverage.unit_table`
names them."""


def town_mask(frame: pd.DataFrame, town: str, *, code: str | None = None) -> np.ndarray:
    """Which rows of ``frame`` (residents, sites, candidates, gaps, boundaries) lie in a town.

    A row names its town in ``town`` and/or ``town_code``; a row without a name is in
    :data:`UNKNOWN_TOWN` (as :func:`planner.coverage.unit_table` counts it); a boundary row of level ``"town"`` is also the town itself, by its
    ``code`` and ``name``.

    Parameters
    ----------
    frame
        The table.
    town
        The town as a person wrote it, its name or its code; with ``code``, its name.
    code
        The town's code, when known (a town row of ``coverage.by_unit``, :func:`find_town`):
        a row with a town code is then in the town when that code is ``code`` (names may
        repeat across codes), a row without one when its name is ``town``. Without
        ``code``, a row is in the town when its name or its code is ``town``.

    Returns
    -------
    numpy.ndarray
        One bool per row.
    """
    names = _labels(frame, "town")
    codes = _labels(frame, "town_code")
    has_code = pd.notna(codes) & (codes != UNKNOWN_TOWN)
    if code is None:
        mask = (names == str(town)) | (has_code & (codes == str(town)))
    else:  # by code where a row has one, else by name
        mask = np.where(has_code, codes == str(code), names == str(town))
    if "level" in frame:  # a boundary table: the town's own polygon
        spellings = {str(town)} if code is None else {str(town), str(code)}
        own = np.zeros(len(frame), bool)
        for col in ("code", "name"):
            if col in frame:
                own |= frame[col].astype(str).isin(spellings).to_numpy()
        mask |= (frame["level"] == "town").to_numpy() & own
    return np.asarray(mask, bool)


def resolve_town(frame: pd.DataFrame, key: str) -> tuple[str, str | None] | None:
    """The name and code (``None`` when ``frame`` has none) of the town named or coded ``key``
    among the rows of ``frame`` (residents), or ``None`` when no row is in it."""
    mask = town_mask(frame, key)
    if not mask.any():
        return None
    first = int(np.argmax(mask))
    name = _labels(frame, "town")[first]
    code = _labels(frame, "town_code")[first]
    return str(key) if name is None else name, None if code in (None, UNKNOWN_TOWN) else code


def find_town(frame: pd.DataFrame, key: str, *, where: str = "town") -> tuple[str, str | None]:
    """:func:`resolve_town`, or an error naming ``where`` and the towns of ``frame``.

    Raises
    ------
    InputError
        When no row of ``frame`` (residents) is in the town.
    """
    found = resolve_town(frame, key)
    if found is not None:
        return found
    names = sorted(frame["town"].dropna().astype(str).unique()) if "town" in frame else []
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    msg = f"{where}: no residents in town {key!r}; use one of: {shown or '(residents have no town column)'}"
    raise InputError(msg)


def _labels(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``frame[column]`` as strings, a missing value :data:`UNKNOWN_TOWN`; ``None`` for each
    row (equal to no town) when the column is absent."""
    if column not in frame:
        return np.full(len(frame), None, dtype=object)
    return frame[column].fillna(UNKNOWN_TOWN).astype(str).to_numpy()


def _key(
    value: Any,
    aliases: dict[str, str],
    vocabulary: dict[str, dict[str, str]],
    *,
    noun: str,
    where: str,
) -> str:
    """The key ``aliases`` give ``value``; else an error naming ``where`` and the keys of
    ``vocabulary`` with their Chinese names."""
    key = None
    if value is not None and (isinstance(value, str) or not pd.isna(value)):
        key = aliases.get(normalise_token(value))
    if key is None:
        msg = f"{where}: unknown {noun} {value!r}; use one of {accepted(vocabulary)}"
        raise InputError(msg)
    return key
