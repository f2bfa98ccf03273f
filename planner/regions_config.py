"""The regions file: a TOML of ``[[regions]]`` tables naming each region's input files.

One reader for ``servicecircle province --config`` and ``servicecircle serve --config``: the
same file format, paths taken relative to the file, and errors naming the file and the region
counted from 1 (``regions.toml: region 2 lacks sites``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from planner.errors import InputError, read_toml

FILE_KEYS = ("network", "sites", "residents", "units", "candidates", "standards", "dem")
"""Keys of a region table that name files (relative to the regions file)."""


def is_query(value: object) -> bool:
    """Whether a network value is an OpenStreetMap query (``place:...``, ``bbox:...``), not a
    file: it is downloaded (:func:`planner.network.load_network`), never read or resolved."""
    return str(value).startswith(("place:", "bbox:"))


def read_regions_config(
    path: str | Path,
    *,
    required: Sequence[str] = (),
    allowed: Collection[str] | None = None,
    optional: bool = False,
) -> dict[str, Any]:
    """The TOML at ``path`` with every region's file paths made absolute.

    Parameters
    ----------
    path
        The regions file.
    required
        Keys every region table must have.
    allowed
        Keys a region table may have (``None``: leave the check to the caller).
    optional
        Whether a file without ``[[regions]]`` is accepted (the server then loads its default).

    Returns
    -------
    dict
        The whole file; ``regions`` (when present) is a list of tables whose
        :data:`FILE_KEYS` are absolute paths (``place:`` and ``bbox:`` queries kept as text).

    Raises
    ------
    InputError
        When the file is missing or not TOML, has no ``[[regions]]`` (unless ``optional``), or
        a region is not a table, lacks a required key or has an unknown one.
    """
    path = Path(path)
    data = read_toml(path)
    entries = data.get("regions")
    if entries is None and optional:
        return data
    if not isinstance(entries, list) or not entries:
        needs = f"; each needs {', '.join(required)}" if required else ""
        msg = f"{path}: no [[regions]] tables{needs}"
        raise InputError(msg)
    data["regions"] = [
        _checked(entry, n, path, required=required, allowed=allowed)
        for n, entry in enumerate(entries, start=1)
    ]
    return data


def _checked(
    entry: Any,
    n: int,
    path: Path,
    *,
    required: Sequence[str],
    allowed: Collection[str] | None,
) -> dict[str, Any]:
    """Region ``n``'s table checked, with its file paths resolved against the file's folder."""
    if not isinstance(entry, dict):
        msg = f"{path}: region {n} is not a table; write it as [[regions]] with key = value lines"
        raise InputError(msg)
    missing = [k for k in required if k not in entry]
    if missing:
        msg = f"{path}: region {n} lacks {', '.join(missing)}"
        raise InputError(msg)
    if allowed is not None:
        unknown = set(entry) - set(allowed)
        if unknown:
            msg = f"{path}: region {n} has unknown key(s) {sorted(unknown)}"
            raise InputError(msg)
    base = path.parent
    return {k: resolve_path(base, v) if k in FILE_KEYS else v for k, v in entry.items()}


def resolve_path(base: Path, value: Any) -> Any:
    """``value`` as an absolute path taken from ``base`` (a ``place:``/``bbox:`` query, an
    empty or non-text value unchanged)."""
    if not isinstance(value, str) or not value or is_query(value):
        return value
    return str((base / value).resolve())
