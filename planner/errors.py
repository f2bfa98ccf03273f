"""The errors raised for user mistakes, distinct from bugs, and the reader of config files."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """A user mistake in an input file, flag or configuration; the message says what to do.

    Command-line and HTTP shells catch this and show the message alone, never a traceback.
    """


def read_toml(path: str | Path, *, what: str = "config file") -> dict[str, Any]:
    """Parse a TOML file, turning a missing or malformed file into an :class:`InputError`."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError):
        msg = f"{path}: {what} not found"
        raise InputError(msg) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"{path}: not a valid TOML file ({exc})"
        raise InputError(msg) from None


class NoCandidates(InputError):
    """No candidate building is left for a suggestion; how many were left out, and why.

    Attributes
    ----------
    total
        How many candidates there were.
    reasons
        One dict per reason, most frequent first: ``reason`` (a key of
        :data:`planner.text.CANDIDATE_REASONS`), ``count``, ``text`` (English) and
        ``text_zh`` (Chinese).
    detail
        ``{"candidates": total, "excluded": reasons}``, as the HTTP API returns it.
    """

    def __init__(self, message: str, *, total: int, reasons: list[dict[str, Any]], zh: str) -> None:
        super().__init__(message)
        self.total = total
        self.reasons = reasons
        self.zh = zh
        self.detail = {"candidates": total, "excluded": reasons}


class NotFound(InputError):
    """A name or code that matches nothing (a town, village, region); the message suggests
    the closest known names, or lists the known ones when none is close.

    Attributes
    ----------
    kind, value
        What was looked for (``"town"``) and the name given.
    did_you_mean
        Up to three close names.
    known
        How the known ones are listed (at most 200).
    """

    def __init__(
        self,
        kind: str,
        value: str,
        choices: Iterable[str],
        *,
        where: str = "",
        labels: Sequence[str] = (),
    ) -> None:
        names = list(dict.fromkeys(str(c) for c in choices))
        close = difflib.get_close_matches(value, names, n=3, cutoff=0.5) if len(value) < 100 else []
        if not close and len(value) < 100:  # a fragment such as "青山" or "2010"
            close = [c for c in names if value and (value in c or c in value)][:3]
        known = list(labels or names)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        message = f"no {kind} {value!r}{f' in {where}' if where else ''}{hint}"
        if not close:
            message += f"; known: {', '.join(known[:20])}{' …' if len(known) > 20 else ''}"
        super().__init__(message)
        self.kind = kind
        self.value = value
        self.did_you_mean = close
        self.known = known[:200]


class OutOfReach(InputError):
    """A point the roads cannot serve: outside the region, or too far from a usable road.

    Attributes
    ----------
    code
        ``outside_region`` or ``unreachable_point``.
    detail
        The figures that decided it (the region's ``bounds``, or ``max_snap_m``).
    index
        The point's position among several asked at once (``None`` for a single point).
    """

    def __init__(
        self, message: str, *, code: str, detail: dict[str, Any], index: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail
        self.index = index
