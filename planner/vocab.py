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


def town_mask(frame: pd.DataFrame, town: str) -> np.ndarray:
    """Rows of ``frame`` in ``town``, given by name or code (``town``/``town_code`` columns;
    for boundary tables also the town row itself by its ``code``)."""
    mask = np.zeros(len(frame), bool)
    for col in ("town", "town_code"):
        if col in frame:
            mask |= frame[col].astype(str).to_numpy() == str(town)
    if "level" in frame and "code" in frame:
        mask |= (frame["level"] == "town").to_numpy() & (
            frame["code"].astype(str).to_numpy() == str(town)
        )
    return mask


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
