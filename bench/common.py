"""Shared benchmark plumbing: progress lines, best-of-N timing, tables, JSON results."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"

_START = time.perf_counter()
_LOAD_AT_START = os.getloadavg()


def say(msg: str) -> None:
    """A progress line on stderr, stamped with seconds since the run started."""
    print(f"[{time.perf_counter() - _START:7.1f}s] {msg}", file=sys.stderr, flush=True)


@dataclass
class Timings:
    """Wall-clock seconds of named phases, every repetition kept."""

    runs: dict[str, list[float]] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the ``with`` block and add it to the runs of ``name``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.runs.setdefault(name, []).append(time.perf_counter() - t0)

    def best(self, name: str) -> float:
        """The fastest run of ``name``."""
        return min(self.runs[name])

    def best_sum(self, names: Sequence[str]) -> float:
        """The fastest repetition of several phases run one after another.

        Phases timed fewer times than others (a slow baseline run once) contribute their
        best run to every repetition.
        """
        reps = max(len(self.runs[n]) for n in names)
        totals = [
            sum(self.runs[n][i] if i < len(self.runs[n]) else self.best(n) for n in names)
            for i in range(reps)
        ]
        return min(totals)

    def median(self, name: str) -> float:
        """The median run of ``name``."""
        return float(statistics.median(self.runs[name]))

    def totals(self, names: Sequence[str]) -> list[float]:
        """Per repetition, the sum of several phases run once each per repetition."""
        return [sum(parts) for parts in zip(*(self.runs[n] for n in names), strict=True)]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Best, median and every run per phase, for JSON."""
        return {
            n: {"best": min(r), "median": float(statistics.median(r)), "runs": r}
            for n, r in self.runs.items()
        }


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence stdout at the file-descriptor level (C++ extensions print past ``sys.stdout``)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table; the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells if len(r) > 1) for i in range(len(headers))]
    lines = []
    for k, row in enumerate(cells):
        if len(row) == 1:  # a section heading spanning the table
            lines.append(row[0])
            continue
        parts = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("-" * len(lines[-1]))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 100 else f"{value:,.1f}"
    return str(value)


def machine() -> dict[str, Any]:
    """What the numbers were measured on (load average: the machine may be shared)."""
    import numpy
    import scipy

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": _LOAD_AT_START,
        "load_average_now": os.getloadavg(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as ``bench/results/<name>.json`` and return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    msg = f"cannot write {type(value).__name__} to JSON: {value!r}"
    raise TypeError(msg)
