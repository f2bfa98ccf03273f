"""Many line strings as one coordinate array: the road network's geometry without objects.

A county's road network is about a million directed edges. Held as shapely line strings, each
costs a GEOS geometry and a Python object (some 200 bytes beside its coordinates), and making
them costs seconds. :class:`Lines` keeps all coordinates in one ``(m, 2)`` array with offsets,
so that loading, selecting and cutting lines are numpy operations; shapely objects are made
(:meth:`Lines.geoms`) only for the lines a step really needs as geometries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely


@dataclass(frozen=True, eq=False)
class Lines:
    """Line strings ``i`` = ``xy[offsets[i]:offsets[i + 1]]``, each of two or more points.

    Attributes
    ----------
    xy
        ``(m, 2)`` coordinates of all lines, one line after another.
    offsets
        ``(n + 1,)`` int64, where each line starts in ``xy`` (and the end of the last).
    """

    xy: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        if len(self.offsets) == 0 or self.offsets[-1] != len(self.xy):
            msg = "Lines: offsets must start each line in xy and end with len(xy)"
            raise ValueError(msg)

    # --- making ------------------------------------------------------------------------------

    @classmethod
    def from_owner(cls, xy: np.ndarray, owner: np.ndarray, n: int | None = None) -> Lines:
        """Lines from coordinates and the (sorted) line of each, as ``get_coordinates`` gives."""
        owner = np.asarray(owner, dtype=np.int64)
        n = int(owner[-1]) + 1 if n is None and len(owner) else (n or 0)
        counts = np.bincount(owner, minlength=n)
        if n and counts.min() < 2:
            msg = "Lines: every line needs two or more points"
            raise ValueError(msg)
        return cls(np.asarray(xy, dtype=float).reshape(-1, 2), np.r_[0, np.cumsum(counts)])

    @classmethod
    def from_geoms(cls, geoms: np.ndarray) -> Lines:
        """Lines from an array of shapely line strings."""
        geoms = np.asarray(geoms, dtype=object)
        xy, owner = shapely.get_coordinates(geoms, return_index=True)
        return cls.from_owner(xy, owner, len(geoms))

    # --- reading -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        """Number of points of each line."""
        return np.diff(self.offsets)

    @property
    def owner(self) -> np.ndarray:
        """The line of each coordinate."""
        return np.repeat(np.arange(len(self)), self.counts)

    @property
    def nbytes(self) -> int:
        """Memory of the arrays."""
        return int(self.xy.nbytes + self.offsets.nbytes)

    @property
    def first(self) -> np.ndarray:
        """``(n, 2)`` first point of each line."""
        first: np.ndarray = self.xy[self.offsets[:-1]]
        return first

    def take(self, index: np.ndarray) -> Lines:
        """The lines ``index`` (positions or a boolean mask), in that order."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        counts = self.counts[index]
        offsets = np.r_[0, np.cumsum(counts)]
        src = np.repeat(self.offsets[:-1][index] - offsets[:-1], counts) + np.arange(offsets[-1])
        return Lines(self.xy[src], offsets)

    def reversed_where(self, flip: np.ndarray) -> Lines:
        """These lines, those where ``flip`` is true running the other way."""
        owner = self.owner
        start, end = self.offsets[:-1][owner], self.offsets[1:][owner] - 1
        at = np.arange(len(self.xy))
        src = np.where(np.asarray(flip, bool)[owner], start + end - at, at)
        return Lines(self.xy[src], self.offsets)

    def geoms(self) -> np.ndarray:
        """The lines as shapely line strings (costly for many lines: make them for few)."""
        if len(self) == 0:
            return np.array([], dtype=object)
        return np.asarray(shapely.linestrings(self.xy, indices=self.owner), dtype=object)

    def length(self) -> np.ndarray:
        """Length of each line, as GEOS measures it (the same float, point by point in order)."""
        # (in place where possible: a county's lines are millions of points)
        step = np.diff(self.xy[:, 0])
        step *= step
        dy = np.diff(self.xy[:, 1])
        dy *= dy
        step += dy
        del dy
        np.sqrt(step, out=step)
        # From one line's last point to the next's first is no step: adding 0.0 to the sum of
        # the line it is counted with leaves that sum unchanged.
        step[self.offsets[1:-1] - 1] = 0.0
        return np.bincount(self.owner[:-1], weights=step, minlength=len(self))

    def bounds(self) -> np.ndarray:
        """``(n, 4)`` minimum x, y and maximum x, y of each line."""
        if len(self) == 0:
            return np.zeros((0, 4))
        starts = self.offsets[:-1]
        return np.column_stack(
            [
                np.minimum.reduceat(self.xy, starts, axis=0),
                np.maximum.reduceat(self.xy, starts, axis=0),
            ]
        )

    def overlaps(self, box: tuple[float, float, float, float] | np.ndarray) -> np.ndarray:
        """Whether each line's bounding box meets ``box`` (minimum x, y, maximum x, y).

        A cheap first filter: a line whose box misses ``box`` cannot meet it.
        """
        x0, y0, x1, y1 = box
        b = self.bounds()
        return (b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0)

    def segmentize(self, step_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates (and owning line) of ``shapely.segmentize(lines, step_m)``, in numpy.

        The same points, bit for bit, as GEOS's densifier (each straight part longer than
        ``step_m`` cut into ``ceil(length / step_m)`` equal parts, the point at fraction
        ``j * (length / count) / length`` of it; a point equal to the previous one of its line
        left out), several times faster: no line objects are made.
        """
        return densify(self.xy, self.owner, step_m)


def densify(xy: np.ndarray, owner: np.ndarray, step_m: float) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`Lines.segmentize` of the lines given as coordinates and the line of each."""
    if len(xy) == 0:
        return xy, owner
    same = owner[1:] == owner[:-1]  # vertex i and i + 1 bound a straight part
    dx, dy = xy[1:, 0] - xy[:-1, 0], xy[1:, 1] - xy[:-1, 1]
    length = np.sqrt(dx * dx + dy * dy)  # as GEOS measures it (not hypot)
    parts = np.where(same & (length > step_m), np.ceil(length / step_m), 1.0).astype(np.int64)
    emit = np.ones(len(xy), dtype=np.int64)  # points starting at each vertex
    emit[:-1] = np.where(same, parts, 1)
    source = np.repeat(np.arange(len(xy)), emit)
    j = np.arange(len(source)) - (np.cumsum(emit) - emit)[source]
    out = xy[source]
    inner = np.flatnonzero(j > 0)
    at = source[inner]
    fraction = (j[inner] * (length[at] / parts[at])) / length[at]
    out[inner, 0] = xy[at, 0] + fraction * dx[at]
    out[inner, 1] = xy[at, 1] + fraction * dy[at]
    own = owner[source]
    repeat = (own[1:] == own[:-1]) & (out[1:] == out[:-1]).all(axis=1)
    keep = np.r_[True, ~repeat]
    return out[keep], own[keep]
