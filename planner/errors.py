"""The error raised for user mistakes, distinct from bugs, and the reader of config files."""

from __future__ import annotations

import tomllib
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
