"""Points in China read as WGS84 without the roads confirming it get one warning line."""

from __future__ import annotations

import logging
import re

import pytest
from conftest import TOWN_NODES_M, TOWN_WAYS, lonlat

from planner.region import Region

HELSINKI = (24.94, 60.17)


def _rows(points: list[tuple[float, float]], kind: str, origin=None) -> list[list[str]]:
    rows = []
    for k, (x, y) in enumerate(points):
        lon, lat = lonlat(x, y) if origin is None else lonlat(x, y, origin)
        extra = [f"站{k}", "站"] if kind == "sites" else ["10"]
        rows.append([f"{kind[0].upper()}{k}", f"{lon:.7f}", f"{lat:.7f}", *extra])
    return rows


def _files(write_table, sites, residents, origin=None):
    return (
        write_table(
            "sites.csv", ["id", "lon", "lat", "name", "tier"], _rows(sites, "sites", origin)
        ),
        write_table(
            "residents.csv", ["id", "lon", "lat", "population"], _rows(residents, "res", origin)
        ),
    )


# On the streets of the test town (x = 0, 500, 1000 and y = 0, 500, 1000 m): WGS84 fits.
ON_ROADS = [(25.0 + 50 * k, 0.0) for k in range(20)] + [(500.0, 30.0 + 45 * k) for k in range(20)]
# 2 km north of the town's last street (y = 1000 m): no system fits clearly.
FAR_NORTH = [(50.0 * k, 3000.0) for k in range(21)]


def _warnings(caplog, network, sites, residents, **kwargs) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="planner.region"):
        Region.from_files(network=network, sites=sites, residents=residents, **kwargs)
    return [r.getMessage() for r in caplog.records if r.name == "planner.region"]


def test_points_that_fit_the_roads_as_wgs84_give_no_warning(
    caplog, tmp_path, town_osm, write_table
):
    sites, residents = _files(write_table, ON_ROADS, ON_ROADS)
    assert _warnings(caplog, town_osm, sites, residents, cache_dir=tmp_path / "c") == []


def test_points_the_roads_do_not_decide_give_one_line_with_the_figures(
    caplog, tmp_path, town_osm, write_table
):
    sites, residents = _files(write_table, ON_ROADS, FAR_NORTH)
    found = _warnings(caplog, town_osm, sites, residents, cache_dir=tmp_path / "c")
    assert len(found) == 1
    line = found[0]
    assert "--coord-sys gcj02" in line and "--coord-sys wgs84" in line
    assert "sites" not in line  # the sites fit as WGS84
    # Every resident is 2000 m from the street y = 1000 m (lonlat() is good to 0.1 %).
    metres = re.search(r"residents (\d+) m as WGS84, (\d+) m as GCJ-02", line)
    assert metres, line
    assert abs(int(metres.group(1)) - 2000) <= 5
    # Given explicitly, the system is the user's word: no warning.
    kw = {"cache_dir": tmp_path / "c", "coord_sys": "wgs84"}
    assert _warnings(caplog, town_osm, sites, residents, **kw) == []


def test_too_few_points_to_judge_are_still_named(caplog, tmp_path, town_osm, write_table):
    sites, residents = _files(write_table, ON_ROADS[:3], ON_ROADS)
    found = _warnings(caplog, town_osm, sites, residents, cache_dir=tmp_path / "c")
    assert len(found) == 1 and "sites, too few points to judge, 0 m as WGS84" in found[0]
    assert "residents" not in found[0]


def test_auto_says_when_it_cannot_decide_and_what_to_give(caplog, tmp_path, town_osm, write_table):
    sites, residents = _files(write_table, ON_ROADS, FAR_NORTH)
    found = _warnings(
        caplog, town_osm, sites, residents, cache_dir=tmp_path / "c", coord_sys="auto"
    )
    (line,) = [m for m in found if "residents read as WGS84" in m]
    assert "no system fits the roads clearly better" in line and "--coord-sys gcj02" in line


def test_points_outside_china_give_no_warning(caplog, tmp_path, write_osm, write_table):
    nodes = {nid: lonlat(*xy, HELSINKI) for nid, xy in TOWN_NODES_M.items()}
    network = write_osm(nodes, TOWN_WAYS, name="helsinki.osm")
    sites, residents = _files(write_table, ON_ROADS[:3], FAR_NORTH, HELSINKI)
    assert _warnings(caplog, network, sites, residents, cache_dir=tmp_path / "c") == []


@pytest.fixture(autouse=True)
def _propagate():
    """The CLI's handler may have turned propagation off; caplog needs the records."""
    log = logging.getLogger("planner")
    before = log.propagate
    log.propagate = True
    yield
    log.propagate = before
