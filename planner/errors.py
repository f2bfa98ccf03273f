"""The error raised for user mistakes, distinct from bugs."""

from __future__ import annotations


class InputError(ValueError):
    """A user mistake in an input file, flag or configuration; the message says what to do.

    Command-line and HTTP shells catch this and show the message alone, never a traceback.
    """
