"""Bad input gives one clear line or a reported rejection, never a traceback or a silent drop."""

from __future__ import annotations

import bz2
import math
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import osmnx as ox
import pandas as pd
import pytest
from conftest import SAMPLE, TOWN_NODES_M, TOWN_WAYS, lonlat, osm_xml
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra
from typer.testing import CliRunner

from planner.cli import app
from planner.coords import bd09_to_gcj02, gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02
from planner.coverage import analyze
from planner.errors import InputError
from planner.inputs import read_candidates, read_residents, read_sites, read_units
from planner.network import RoadNetwork, load_network, read_graph
from planner.region import Region, RegionFiles
from planner.schema import to_number
from planner.standards import Standards

SITE_HEADER = ["id", "name", "tier", "lon", "lat"]
RES_HEADER = ["id", "lon", "lat", "population"]


def at(x: float, y: float) -> list[str]:
    """``lon, lat`` as text for a point ``x, y`` metres from the test town's origin."""
    lon, lat = lonlat(x, y)
    return [f"{lon:.7f}", f"{lat:.7f}"]


def site(sid: str, x: float, y: float, tier: str = "站") -> list[str]:
    return [sid, f"{sid}新时代文明实践站", tier, *at(x, y)]


def resident(rid: str, x: float, y: float, population: object = 10) -> list[object]:
    return [rid, *at(x, y), population]


def input_error(call, *args, **kwargs) -> str:
    """The message of the InputError ``call`` raises; it must be a single line."""
    with pytest.raises(InputError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def reasons(rejected: pd.DataFrame) -> dict[int, str]:
    return dict(zip(rejected["row"].astype(int), rejected["reason"], strict=True))


# --- files that cannot be read at all --------------------------------------------------------


@pytest.mark.parametrize(
    ("reader", "name"),
    [
        (read_sites, "sites.csv"),
        (read_residents, "residents.xlsx"),
        (read_candidates, "candidates.csv"),
        (read_units, "units.geojson"),
    ],
)
def test_an_empty_file_is_one_line_naming_it(tmp_path, reader, name):
    path = tmp_path / name
    path.write_bytes(b"")
    message = input_error(reader, path)
    assert str(path) in message and "empty" in message and "export the table again" in message


@pytest.mark.parametrize("name", ["sites.csv", "sites.xlsx", "sites.geojson"])
def test_a_header_without_rows_is_one_line(write_table, name):
    header = [*SITE_HEADER, "geometry"] if name.endswith("geojson") else SITE_HEADER
    path = write_table(name, header, [])
    message = input_error(read_sites, path)
    assert message.startswith(str(path)) and "no data rows" in message


def test_missing_columns_are_named_with_those_found(write_table):
    path = write_table("sites.csv", ["编号", "名称", "经度", "纬度"], [["S1", "甲", *at(0, 0)]])
    message = input_error(read_sites, path)
    assert "missing column(s) tier" in message
    assert "found id, name, lon, lat" in message
    assert "header is on the first row" in message
    path = write_table("residents.csv", ["id", "lon", "lat"], [["R1", *at(0, 0)]])
    assert "missing column(s) population" in input_error(read_residents, path)


def test_two_columns_meaning_the_same_thing_are_an_error(write_table):
    path = write_table(
        "sites.csv",
        ["id", "name", "tier", "lng", "longitude", "lat"],
        [["S1", "甲", "站", 1, 2, 3]],
    )
    message = input_error(read_sites, path)
    assert "'lng' and 'longitude' both mean 'lon'" in message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.csv", None, "file not found; check the path"),
        ("folder.csv", "DIR", "is a folder; give the CSV"),
        ("sites.docx", "x", "unsupported file type '.docx'; use CSV, XLSX"),
        ("sites", "x", "unsupported file type '(no extension)'"),
    ],
)
def test_paths_that_are_not_tables_are_one_line(tmp_path, name, content, expected):
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    assert expected in input_error(read_sites, path)


def test_a_ragged_csv_line_is_named(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "id,name,tier,lon,lat\nS1,甲,站,117.2,28.3\nS2,乙,站,117,2,28,3\n", encoding="utf-8"
    )
    message = input_error(read_sites, path)
    assert "line 3 has 7 values but the header has 5 columns" in message
    assert "double quotes" in message


def test_garbled_and_misnamed_files_are_one_line(tmp_path, write_table):
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(bytes(range(256)) * 4)
    assert "neither UTF-8 nor GBK" in input_error(read_sites, garbage)
    book = write_table("sites.xlsx", SITE_HEADER, [site("S1", 0, 0)])
    misnamed = tmp_path / "sites_from_excel.csv"
    misnamed.write_bytes(book.read_bytes())
    assert "rename it to .xlsx" in input_error(read_sites, misnamed)
    broken = tmp_path / "sites.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [{"type": ', encoding="utf-8")
    message = input_error(read_sites, broken)
    assert "cannot read file" in message and "QGIS" in message


# --- rows that are rejected, each with its row and reason -----------------------------------


def test_bad_population_is_rejected_row_by_row(write_table):
    rows = [
        resident("R1", 0, 0, "abc"),
        resident("R2", 0, 0, -5),
        resident("R3", 0, 0, ""),
        resident("R4", 0, 0, "1,200"),  # thousands separator
        resident("R5", 0, 0, "１２０"),  # full-width digits from a Chinese input method
        resident("R6", 0, 0, " 35 "),
        resident("R7", 0, 0, 0),  # an empty house is a valid record
    ]
    path = write_table("residents.csv", RES_HEADER, rows)
    kept, rejected = read_residents(path)
    assert reasons(rejected) == {
        2: "population 'abc' is not a number",
        3: "population -5 is below 0",
        4: "missing population; give a number (0 or more)",
    }
    assert set(rejected["file"]) == {str(path)}
    assert kept["id"].tolist() == ["R4", "R5", "R6", "R7"]
    assert kept["population"].tolist() == [1200, 120, 35, 0]
    assert kept["source_row"].tolist() == [5, 6, 7, 8]


def test_a_duplicate_id_keeps_the_first_usable_row(write_table):
    rows = [
        site("S1", 0, 0),
        ["S2", "乙站", "站", "not-a-number", "28.3"],  # S2's first row is unusable ...
        site("S2", 500, 0),  # ... so this one is kept
        site("S1", 1000, 0),  # a real duplicate
    ]
    kept, rejected = read_sites(write_table("sites.csv", SITE_HEADER, rows))
    assert kept["source_row"].tolist() == [2, 4]
    found = reasons(rejected)
    assert found[5] == "duplicate id (first used on row 2); give each row its own id"
    assert found[3].startswith("lon/lat 'not-a-number', '28.3' is not a pair of numbers")


def test_swapped_lat_lon_are_rejected_and_the_rest_kept(write_table):
    lon, lat = at(0, 0)
    rows = [
        ["R1", lat, lon, 5],  # Chinese latitude in the lon column
        ["R2", "60.5", "95.0", 5],  # latitude beyond 90
        ["R3", lon, lat, 5],
    ]
    kept, rejected = read_residents(write_table("residents.csv", RES_HEADER, rows))
    found = reasons(rejected)
    assert "look swapped" in found[2] and "swap the lon and lat values" in found[2]
    assert "look swapped (latitude beyond 90)" in found[3]
    assert kept["id"].tolist() == ["R3"]


def test_coordinates_in_metres_or_out_of_range_are_rejected(write_table):
    rows = [
        ["R1", "39512345.6", "3131234.5", 5],  # CGCS2000 Gauss-Kruger metres
        ["R2", "200", "28", 5],
        ["R3", *at(0, 0), 5],
    ]
    kept, rejected = read_residents(write_table("residents.csv", RES_HEADER, rows))
    found = reasons(rejected)
    assert "look like projected metres" in found[2] and "WGS84" in found[2]
    assert "out of range" in found[3]
    assert len(kept) == 1


def test_an_unknown_tier_lists_the_accepted_ones(write_table):
    rows = [
        site("S1", 0, 0, tier="乡镇文化站"),
        site("S2", 0, 0, tier=""),
        site("S3", 0, 0, tier="新时代文明实践所"),
        site("S4", 0, 0, tier="Village Station"),
        site("S5", 0, 0, tier="中心"),
    ]
    kept, rejected = read_sites(write_table("sites.csv", SITE_HEADER, rows))
    found = reasons(rejected)
    assert found[2].startswith(
        "unknown tier '乡镇文化站'; use one of centre (中心), institute (所)"
    )
    assert found[3].startswith("missing tier; use one of")
    assert kept["tier"].tolist() == ["institute", "station", "centre"]


def test_coordinates_as_text_with_spaces_or_full_width(write_table):
    lon, lat = at(0, 0)
    rows = [
        ["S1", "甲", "站", f"  {lon} ", f"\t{lat}"],
        [
            "S2",
            "乙",
            "站",
            lon.translate(str.maketrans("0123456789.", "０１２３４５６７８９．")),
            lat,
        ],
        ["S3", "丙", "站", lon.replace(".", ". "), lat],  # a space inside a number is no number
    ]
    kept, rejected = read_sites(write_table("sites.csv", SITE_HEADER, rows))
    assert kept["lon"].tolist() == pytest.approx([float(lon)] * 2, abs=1e-9)
    assert reasons(rejected)[4].startswith("lon/lat '")


def test_blank_lines_do_not_shift_row_numbers(tmp_path):
    lon, lat = at(0, 0)
    path = tmp_path / "sites.csv"
    path.write_text(
        f"id,name,tier,lon,lat\nS1,甲,站,{lon},{lat}\n\n,,,,\nS2,乙,站,x,{lat}\n", encoding="utf-8"
    )
    kept, rejected = read_sites(path)
    assert kept["source_row"].tolist() == [2]
    assert rejected["row"].tolist() == [5]  # what a spreadsheet shows, blank lines included


def test_gbk_csv_with_chinese_headers_and_names(write_table):
    header = ["编号", "站点名称", "层级", "经度", "纬度", "乡镇"]
    rows = [["S1", "雄石街道东门社区新时代文明实践站", "实践站", *at(0, 0), "雄石街道"]]
    path = write_table("站点.csv", header, rows, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really GBK
    kept, rejected = read_sites(path)
    assert rejected.empty
    assert kept.loc[0, "name"] == "雄石街道东门社区新时代文明实践站"
    assert kept.loc[0, "town"] == "雄石街道"
    assert kept.loc[0, "tier"] == "station"


def test_excel_unicode_text_and_tab_separated_exports(write_table):
    rows = [site("S1", 0, 0), site("S2", 500, 0)]
    utf16_tabs = write_table("sites.txt", SITE_HEADER, rows, encoding="utf-16", sep="\t")
    semicolons = write_table("sites.csv", SITE_HEADER, rows, sep=";")
    for path in (utf16_tabs, semicolons):
        kept, rejected = read_sites(path)
        assert kept["id"].tolist() == ["S1", "S2"] and rejected.empty


def test_xlsx_rows_are_numbered_as_excel_shows_them(write_table):
    lon, lat = (float(v) for v in at(0, 0))
    rows = [
        ["R1", lon, lat, 12],  # numbers stored as numbers
        [],  # a blank row in the sheet
        ["R2", lon, lat, None],
        [3, str(lon), str(lat), "7"],  # a numeric id and numbers stored as text
    ]
    kept, rejected = read_residents(write_table("residents.xlsx", RES_HEADER, rows))
    assert kept["id"].tolist() == ["R1", "3"]
    assert kept["population"].tolist() == [12, 7]
    assert kept["lon"].tolist() == pytest.approx([lon, lon])
    assert reasons(rejected) == {4: "missing population; give a number (0 or more)"}


@pytest.mark.filterwarnings("ignore:OGRGeoJSONReadRawPoint:RuntimeWarning")  # GDAL on S5
def test_geojson_points_are_read_and_other_shapes_rejected(write_table):
    lon, lat = (float(v) for v in at(0, 0))
    header = ["id", "name", "tier", "geometry"]
    rows = [
        ["S1", "甲", "站", {"type": "Point", "coordinates": [lon, lat]}],
        ["S2", "乙", "站", {"type": "MultiPoint", "coordinates": [[lon, lat]]}],
        ["S3", "丙", "站", None],
        ["S4", "丁", "站", {"type": "LineString", "coordinates": [[lon, lat], [lon, lat + 1e-3]]}],
        ["S5", "戊", "站", {"type": "Point", "coordinates": []}],
    ]
    kept, rejected = read_sites(write_table("sites.geojson", header, rows))
    assert kept["id"].tolist() == ["S1", "S2"]
    assert kept["lon"].tolist() == pytest.approx([lon, lon])
    found = reasons(rejected)  # GeoJSON rows are feature numbers
    assert found[3] == found[5] == "missing or empty geometry; give the point of this row"
    assert found[4] == "geometry is a line, not a point; give one point per row"


def test_a_file_without_one_usable_row_is_one_error_with_examples(write_table):
    rows = [site("S1", 0, 0, tier="x"), ["", "乙", "站", *at(0, 0)], site("S3", 0, 0, tier="y")]
    path = write_table("sites.csv", SITE_HEADER, rows)
    message = input_error(read_sites, path)
    assert message.startswith(f"{path}: no usable sites, all 3 rows rejected (row 2: unknown tier")
    assert "row 3: missing id" in message and message.endswith("fix these rows and run again")


# --- coordinate systems --------------------------------------------------------------------


def gcj02_to_bd09(lon, lat):
    """Baidu's published GCJ-02 -> BD-09 formula (written out here, independent of planner)."""
    x_pi = math.pi * 3000.0 / 180.0
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * x_pi)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * x_pi)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def test_gcj02_and_bd09_match_published_pairs():
    # Tiananmen, as in the issue.
    assert wgs84_to_gcj02(116.397128, 39.916527) == pytest.approx((116.403374, 39.917929), abs=5e-6)
    # wandergis/coordtransform's README example, to the last digit.
    assert wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-12
    )
    assert bd09_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.39762729119315, 39.90865673957631), abs=1e-12
    )
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-12
    )
    # Outside China GCJ-02 is WGS84.
    assert wgs84_to_gcj02(24.94, 60.17) == pytest.approx((24.94, 60.17))


def test_gcj02_and_bd09_round_trip_across_china():
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(75, 134, 5000), rng.uniform(18, 53, 5000)
    gcj = wgs84_to_gcj02(lon, lat)
    assert np.abs(np.subtract(gcj, (lon, lat))).max() > 1e-4  # a real shift, hundreds of metres
    back = gcj02_to_wgs84(*gcj)
    assert np.abs(np.subtract(back, (lon, lat))).max() < 1e-6
    # BD-09 -> GCJ-02 is the usual one-step approximation: within 5e-6 degrees (half a metre).
    back = to_wgs84(*gcj02_to_bd09(*gcj), "bd09")
    assert np.abs(np.subtract(back, (lon, lat))).max() < 5e-6


def test_gcj02_flag_and_per_row_crs_column_convert_to_wgs84(write_table):
    wgs = np.array([float(v) for v in at(250, 250)])
    gcj = np.array(wgs84_to_gcj02(*wgs))
    bd = np.array(gcj02_to_bd09(*gcj))
    text = [f"{v:.9f}" for v in (*wgs, *gcj, *bd)]
    header = [*SITE_HEADER, "坐标系"]
    rows = [
        ["S1", "甲", "站", text[2], text[3], "gcj02"],
        ["S2", "乙", "站", text[2], text[3], "高德"],
        ["S3", "丙", "站", text[4], text[5], "BD-09"],
        ["S4", "丁", "站", text[0], text[1], "WGS84"],
        ["S5", "戊", "站", text[2], text[3], ""],  # blank: the file's system (the flag)
        ["S6", "己", "站", text[2], text[3], "mars"],
    ]
    path = write_table("sites.csv", header, rows)
    kept, rejected = read_sites(path, coord_sys="gcj02")
    assert kept["id"].tolist() == ["S1", "S2", "S3", "S4", "S5"]
    got = kept[["lon", "lat"]].to_numpy()
    assert np.abs(got - wgs).max() < 5e-6
    assert np.abs(got[[0, 1, 3, 4]] - wgs).max() < 1e-6
    assert np.allclose(np.column_stack([kept.geometry.x, kept.geometry.y]), got)
    assert reasons(rejected) == {
        7: "unknown coordinate system 'mars' in column crs; use wgs84, gcj02 or bd09"
    }
    # Without the flag, the blank row is taken as WGS84 and stays where it was written.
    kept, _ = read_sites(path)
    assert kept.loc[4, ["lon", "lat"]].tolist() == pytest.approx(gcj.tolist(), abs=1e-9)
    assert "unknown coordinate system 'mars'; use one of" in input_error(
        read_sites, path, coord_sys="mars"
    )


# --- boundaries ------------------------------------------------------------------------------


def square(x0: float, y0: float, size: float) -> dict:
    ring = [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size), (x0, y0)]
    return {"type": "Polygon", "coordinates": [[list(lonlat(x, y)) for x, y in ring]]}


def test_boundaries_repair_what_they_can_and_reject_the_rest(write_table):
    bowtie = {
        "type": "Polygon",
        "coordinates": [[list(lonlat(x, y)) for x, y in [(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)]]],
    }
    flat = {"type": "Polygon", "coordinates": [[list(lonlat(x, 0)) for x in (0, 1, 2, 0)]]}
    line = {"type": "LineString", "coordinates": [list(lonlat(0, 0)), list(lonlat(1, 1))]}
    header = ["code", "name", "level", "geometry"]
    rows = [
        ["360681001", "雄石街道", "街道", square(0, 0, 1000)],
        ["360681001001", "东门社区", "社区", bowtie],  # self-crossing: repaired
        ["360681001002", "西门社区", "村", flat],  # no area: cannot be repaired
        ["360681001003", "南门社区", "village", line],
        ["360681001004", "北门社区", "小组", square(0, 0, 10)],
        ["360681001001", "东门社区", "village", square(0, 0, 10)],  # code used twice
        ["360681002", "花园街道", "town", None],
    ]
    units, rejected = read_units(write_table("units.geojson", header, rows))
    assert units["code"].tolist() == ["360681001", "360681001001"]
    assert units["level"].tolist() == ["town", "village"]
    assert units.geometry.is_valid.all() and (units.to_crs(units.estimate_utm_crs()).area > 0).all()
    assert reasons(rejected) == {
        3: "broken polygon that cannot be repaired (it has no area)",
        4: "geometry is a line, not a polygon",
        5: "level '小组' is neither town nor village; use town (乡镇/街道) or village (村/社区)",
        6: "duplicate code '360681001001' (first used on row 2); give each unit its own code",
        7: "missing or empty geometry",
    }


def test_boundaries_in_a_plain_table_are_one_line(write_table):
    path = write_table("units.csv", ["name", "level"], [["雄石街道", "town"]])
    assert "boundaries need polygons; use GeoJSON" in input_error(read_units, path)


# --- road networks ---------------------------------------------------------------------------


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


NO_HIGHWAYS = osm_xml(
    {1: lonlat(0, 0), 2: lonlat(100, 0), 3: lonlat(100, 100)},
    [({"building": "yes"}, [1, 2, 3, 1]), ({"waterway": "river"}, [1, 3])],
)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.osm", b"", "road network file is empty; export the area again"),
        ("buildings.osm", NO_HIGHWAYS, "no roads found (no ways tagged highway=*)"),
        ("truncated.osm", "TRUNCATE", "cannot read road network (RuntimeError: XML parsing error"),
        ("garbage.osm.pbf", b"\x00garbage" * 50, "cannot read road network (RuntimeError: PBF"),
        ("garbage.osm.bz2", b"BZh9garbage" * 50, "cannot read road network"),
        ("html.osm", "<html><body>Too many requests</body></html>", "cannot read road network"),
        ("garbage.graphml", "<graphml>", "cannot read road network (ParseError"),
        ("roads.shp", "x", "unsupported road network type '.shp'; use one of .osm"),
        ("folder.osm", None, "is a folder; give the road network file inside it"),
        ("missing.osm.pbf", False, "road network file not found; check the path"),
    ],
)
def test_bad_road_network_files_are_one_line(tmp_path, town_osm, name, content, expected):
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif content == "TRUNCATE":
        _write(path, town_osm.read_bytes()[:1500])
    elif content is not False:
        _write(path, content)
    message = input_error(load_network, path, cache_dir=tmp_path / "cache")
    assert message.startswith(str(path)) and expected in message


def test_a_network_of_only_footpaths_cannot_be_driven(write_osm):
    path = write_osm({1: lonlat(0, 0), 2: lonlat(300, 0)}, [({"highway": "footway"}, [1, 2])])
    network = load_network(path, cache_dir=False)
    assert network.travel_graph("walk").matrix.nnz == 2
    message = input_error(network.travel_graph, "drive")
    assert message.startswith(str(path)) and "only footway" in message


def test_buildings_and_unbuilt_roads_are_not_roads(town_osm):
    network = load_network(town_osm, cache_dir=False)
    assert set(network.edge_highway) == {"residential", "tertiary", "track", "footway"}
    residents = gpd_points(network, [(250, 250), (1450, 1000)])
    region = Region(name="镇", network=network, sites=residents.iloc[:0], residents=residents)
    snap = region.snap("residents", "walk")
    # The building's centre is 250 m from the nearest street, not 50 m from its own walls,
    # and the end of the road under construction is 450 m from the nearest built road.
    assert snap.access_m == pytest.approx([250, 450], rel=0.01)


def test_an_extract_that_cuts_through_ways_still_loads(write_osm):
    # Node 2, the middle of 横0路 and the foot of one-way 中山路, lies outside the extract.
    nodes = {nid: lonlat(*xy) for nid, xy in TOWN_NODES_M.items() if nid != 2}
    path = write_osm(nodes, TOWN_WAYS, name="clipped.osm")
    with pytest.raises(ValueError, match="missing nodes"):
        ox.graph_from_xml(path, retain_all=True)  # what osmnx alone does with such a file
    network = load_network(path, cache_dir=False)
    graph = network.travel_graph("walk")
    # 横0路 falls apart into single nodes and 中山路 keeps its northern 500 m.
    assert graph.seg_length.sum() == pytest.approx(6 * 1000 - 1000 - 500 + 400 + 424, rel=0.01)


def _times(network, osmids):
    graph = network.travel_graph("drive")
    position = {o: i for i, o in enumerate(network.node_osmid)}
    rows = dijkstra(graph.matrix, indices=[position[o] for o in osmids])
    order = [position[o] for o in sorted(position)]
    return rows[:, order]


@pytest.fixture(scope="module")
def county_graph():
    """The sample county's osmnx graph, in degrees, read once."""
    return read_graph(SAMPLE / "county.osm")


@pytest.mark.parametrize("crs", ["utm", "EPSG:3857"])
def test_graphml_saved_in_a_projected_crs_gives_the_same_travel_times(tmp_path, county_graph, crs):
    from_osm = RoadNetwork.from_graph(county_graph.copy(), source="county.osm")
    projected = ox.project_graph(county_graph, to_crs=None if crs == "utm" else crs)
    assert projected.graph["crs"] != "EPSG:4326"
    path = tmp_path / "county.graphml"
    ox.io.save_graphml(projected, path)
    from_graphml = load_network(path, cache_dir=tmp_path / "cache")
    assert from_graphml.n_nodes == from_osm.n_nodes
    assert "Pseudo-Mercator" not in from_graphml.crs  # Web Mercator metres are not metres
    some = from_osm.node_osmid[:: max(1, from_osm.n_nodes // 6)]
    a, b = _times(from_osm, some), _times(from_graphml, some)
    assert np.array_equal(np.isinf(a), np.isinf(b))
    np.testing.assert_allclose(a[np.isfinite(a)], b[np.isfinite(b)], rtol=1e-3)


def test_the_cache_is_reused_and_names_the_file_given(tmp_path, town_osm):
    cache = tmp_path / "cache"
    first = load_network(town_osm, cache_dir=cache)
    assert len(list(cache.glob("network-*.npz"))) == 1
    copy = tmp_path / "copy" / "same.osm"
    copy.parent.mkdir()
    copy.write_bytes(town_osm.read_bytes())
    again = load_network(copy, cache_dir=cache)
    assert len(list(cache.glob("network-*.npz"))) == 1  # same content, same cache entry
    assert again.source == str(copy)
    np.testing.assert_array_equal(again.edge_length, first.edge_length)
    damaged = next(cache.glob("network-*.npz"))
    damaged.write_bytes(b"not a zip file")
    assert load_network(town_osm, cache_dir=cache).n_nodes == first.n_nodes


# --- a whole region: islands, far points, accounting -----------------------------------------


def gpd_points(network, xy_m, **columns):
    """Points at town metres, in the network's CRS, with an id and population of 10."""
    import geopandas as gpd

    lon, lat = zip(*(lonlat(x, y) for x, y in xy_m), strict=True)
    n = len(xy_m)
    data = {
        "id": [f"P{i}" for i in range(n)],
        "population": [10] * n,
        "source_row": range(2, n + 2),
    }
    frame = gpd.GeoDataFrame(
        {**data, **columns}, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326"
    )
    return frame.to_crs(network.crs)


@pytest.fixture
def messy_region(tmp_path, town_osm, write_table):
    """The test town with sites, residents, candidates and boundaries, some rows bad."""
    sites = [
        site("S1", 250, 0),
        site("S2", 750, 1000, tier="所"),
        site("S3", -1500, 2000),  # 1.5 km from any road
        site("S4", 250, 500, tier="中间站"),  # unknown tier
        site("S1", 500, 500),  # duplicate id
        ["S6", "乙", "站", "", ""],  # no coordinates
    ]
    residents = [
        ["R1", *map(float, at(500, 250)), 30],
        ["R2", *map(float, at(3200, 30)), 12],  # beside the forest track, an island
        ["R3", *map(float, at(1500, 2500)), 8],  # 1.6 km from any road
        [],
        ["R4", *map(float, at(0, 250)), "many"],
        ["R5", *map(float, at(1000, 750)), -1],
        ["R6", *map(float, at(750, 0)), 20],
    ]
    candidates = [
        ["C1", "原东街小学", "闲置校舍", *at(1000, 250), 4],
        ["C2", "老厂房", "warehouse", *at(0, 750), 2],
    ]
    units = [
        ["T1", "城关镇", "乡镇", square(-2000, -1000, 6000)],
        ["V1", "东门村", "村", square(-2000, -1000, 3000)],
        ["V2", "西门村", "村", None],
    ]
    files = RegionFiles(
        network=town_osm,
        sites=write_table("sites.csv", SITE_HEADER, sites),
        residents=write_table("residents.xlsx", RES_HEADER, residents),
        candidates=write_table(
            "candidates.csv", ["id", "name", "kind", "lon", "lat", "rooms"], candidates
        ),
        units=write_table("units.geojson", ["code", "name", "level", "geometry"], units),
        name="测试镇",
    )
    return Region.from_files(files, cache_dir=tmp_path / "cache")


def test_residents_on_an_island_or_far_from_roads_get_a_status_not_an_error(messy_region):
    coverage = analyze(messy_region, service_areas=False)
    status = coverage.residents.set_index("id")["status"]
    assert status["R2"] == "no site reachable"
    assert status["R3"] == "farther than 500 m from a road"
    assert status["R1"] == status["R6"] == "ok"
    assert coverage.residents.set_index("id")["covered"].to_dict() == {
        "R1": True,
        "R2": False,
        "R3": False,
        "R6": True,
    }
    tighter = analyze(messy_region.with_standards(Standards(max_snap_m=20)), service_areas=False)
    assert set(tighter.residents["status"]) == {"farther than 20 m from a road", "ok"}


def test_sites_far_from_roads_are_reported_in_coverage_rejected(messy_region):
    rejected = analyze(messy_region, service_areas=False).rejected
    far = rejected[(rejected["layer"] == "sites") & (rejected["id"] == "S3")]
    assert len(far) == 1
    assert far.iloc[0]["row"] == 4 and far.iloc[0]["file"] == str(messy_region.files.sites)
    assert far.iloc[0]["reason"].startswith("farther than 500 m from any road usable walk")


def _data_rows(path: Path) -> int:
    """Records in a file counted without planner: non-blank lines or rows, or features."""
    if path.suffix == ".xlsx":
        frame = pd.read_excel(path, header=None).dropna(how="all")
        return len(frame) - 1
    if path.suffix == ".geojson":
        import json

        return len(json.loads(path.read_text(encoding="utf-8"))["features"])
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip(", ")]
    return len(lines) - 1


def test_every_row_read_is_used_or_rejected(messy_region):
    region = messy_region
    coverage = analyze(region, service_areas=False)
    rejected = coverage.rejected
    used = {
        "sites": region.sites,
        "residents": region.residents,
        "candidates": region.candidates,
        "boundaries": region.units,
    }
    files = {
        "sites": region.files.sites,
        "residents": region.files.residents,
        "candidates": region.files.candidates,
        "boundaries": region.files.units,
    }
    read_rejected = region.rejected
    for layer, frame in used.items():
        mine = read_rejected[read_rejected["layer"] == layer]
        assert len(frame) + len(mine) == _data_rows(Path(files[layer])), layer
        assert set(mine["file"]) <= {str(files[layer])}
        rows = [*frame["source_row"], *mine["row"]]
        assert len(set(rows)) == len(rows), layer  # no row both kept and rejected
    assert len(region.sites) == 3 and len(region.residents) == 4
    # In the analysis a site too far from every road joins the rejected, with its own row.
    sites_out = rejected[rejected["layer"] == "sites"]
    assert sorted(sites_out["row"]) == [4, 5, 6, 7]
    assert len(coverage.residents) == len(region.residents)


def test_rejection_reasons_read_as_plain_sentences(messy_region):
    rejected = analyze(messy_region, service_areas=False).rejected
    assert len(rejected) >= 8
    for reason in rejected["reason"]:
        assert 10 < len(reason) < 220 and "\n" not in reason
        assert re.match(r"^[a-z]", reason), reason
        for artefact in ("nan", "None", "dtype", "np.", "Traceback", "Error", "<", "object at"):
            assert artefact not in reason, reason
    assert rejected[["layer", "file", "row", "reason"]].notna().all().all()


# --- the command line --------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, ["analyze", *args])
    return result.exit_code, result.output, result.exception


@pytest.fixture
def town_files(tmp_path, town_osm, write_table):
    """Good files for the test town: network, two sites, three residents, an output folder."""
    return {
        "--network": str(town_osm),
        "--sites": str(
            write_table("sites.csv", SITE_HEADER, [site("S1", 250, 0), site("S2", 750, 1000)])
        ),
        "--residents": str(
            write_table(
                "residents.csv", RES_HEADER, [resident("R1", 0, 0), resident("R2", 500, 500)]
            )
        ),
        "--out": str(tmp_path / "out"),
        "--cache-dir": str(tmp_path / "cache"),
    }


CLI_CASES = {
    "empty sites": ("--sites", "sites.csv", b"", "file is empty"),
    "header only": ("--residents", "residents.csv", "id,lon,lat,population\n", "no data rows"),
    "missing column": ("--sites", "sites.csv", "id,name,lon,lat\nS1,a,117.2,28.3\n", "tier"),
    "all rows bad": ("--sites", "s.csv", "id,name,tier,lon,lat\nS1,a,x,1,1\n", "no usable sites"),
    "ragged line": ("--sites", "s.csv", "id,name,tier,lon,lat\nS1,a,站,1,2,3,4\n", "line 2 has"),
    "binary": ("--sites", "sites.csv", bytes(range(256)) * 4, "neither UTF-8 nor GBK"),
    "xlsx named csv": ("--sites", "sites.csv", b"PK\x03\x04rest", "rename it to .xlsx"),
    "word file": ("--residents", "residents.docx", "x", "unsupported file type '.docx'"),
    "missing file": ("--residents", "nothing.csv", None, "file not found"),
    "folder": ("--sites", "folder", "DIR", "is a folder"),
    "units as csv": ("--units", "units.csv", "name,level\n城关镇,town\n", "need polygons"),
    "same meaning": ("--sites", "s.csv", "id,name,tier,x,lng,lat\nS1,a,站,1,2,3\n", "both mean"),
    "empty osm": ("--network", "roads.osm", b"", "road network file is empty"),
    "no highways": ("--network", "roads.osm", NO_HIGHWAYS, "no roads found"),
    "garbled osm": ("--network", "roads.osm", "<osm><node id='1'", "cannot read road network"),
    "garbled pbf": ("--network", "roads.osm.pbf", b"\x00\x01" * 99, "cannot read road network"),
    "garbled bz2": ("--network", "roads.osm.bz2", bz2.compress(b"<osm")[:20], "cannot read road"),
    "missing osm": ("--network", "roads.osm", None, "road network file not found"),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_bad_input_exits_2_with_one_line_naming_the_file(tmp_path, town_files, case):
    flag, name, content, expected = CLI_CASES[case]
    path = tmp_path / "bad" / name
    path.parent.mkdir()
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        _write(path, content)
    code, output, exception = _cli(
        *[a for k, v in {**town_files, flag: str(path)}.items() for a in (k, v)]
    )
    assert code == 2, output
    assert isinstance(exception, SystemExit)
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert errors[0].startswith(f"error: {path}: ") and expected in errors[0]
    hint = errors[0].rsplit(";", 1)[-1]  # every message ends with what to do
    assert re.search(r"\b(check|use|give|export|rename|add|save|fix|put|delete|open)\b", hint)


def test_cli_rejects_an_unknown_coordinate_system_flag(town_files):
    code, output, _ = _cli(*[a for kv in town_files.items() for a in kv], "--coord-sys", "mars")
    assert code == 2 and "error: unknown coordinate system 'mars'; use one of" in output


def test_cli_reports_rejected_rows_and_converts_gcj02(tmp_path, town_files, write_table):
    def gcj(x, y):
        return [f"{v:.8f}" for v in wgs84_to_gcj02(*lonlat(x, y))]

    sites = [["S1", "甲站", "站", *gcj(250, 0)], ["S2", "乙站", "火星站", *gcj(750, 1000)]]
    residents = [
        ["R1", *gcj(0, 10), 5, "城关镇"],
        ["R2", *gcj(3200, 30), 7, "城关镇"],
        ["R3", "", "", 9, "城关镇"],
        ["R3", *gcj(1000, 500), 9, "城关镇"],
    ]
    files = {
        **town_files,
        "--sites": str(write_table("gcj_sites.csv", SITE_HEADER, sites)),
        "--residents": str(write_table("gcj_res.csv", [*RES_HEADER, "乡镇"], residents)),
    }
    code, output, _ = _cli(*[a for kv in files.items() for a in kv], "--coord-sys", "gcj02")
    assert code == 0, output
    out = Path(files["--out"])
    rejected = pd.read_csv(out / "rejected.csv", dtype={"row": int}, encoding="utf-8-sig")
    assert rejected[["layer", "file", "row"]].values.tolist() == [
        ["sites", files["--sites"], 3],
        ["residents", files["--residents"], 4],
    ]
    assert rejected["reason"].str.len().min() > 10
    table = pd.read_csv(out / "residents.csv", encoding="utf-8-sig").set_index("id")
    assert table.loc["R2", "status"] == "no site reachable"
    # GCJ-02 input comes out where it belongs in WGS84 (within a few centimetres).
    expected = np.array([lonlat(0, 10), lonlat(3200, 30), lonlat(1000, 500)])
    assert np.abs(table[["lon", "lat"]].to_numpy() - expected).max() < 1e-6


def test_the_installed_command_prints_one_line_and_no_traceback(tmp_path, town_files):
    command = Path(sys.executable).with_name("servicecircle")
    if not command.exists():
        pytest.skip(f"{command} not installed (pip install -e .)")
    bad = _write(tmp_path / "sites.csv", "id,name,lon,lat\nS1,甲,117.2,28.3\n")
    args = [a for k, v in {**town_files, "--sites": str(bad)}.items() for a in (k, v)]
    done = subprocess.run(
        [str(command), "analyze", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert errors == [
        f"error: {bad}: sites file is missing column(s) tier (needs id, name, tier; found id, "
        "name, lon, lat); rename the columns, and check that the header is on the first row"
    ]


def test_cli_prints_paths_with_brackets_as_they_are(tmp_path, town_files):
    folder = tmp_path / "[/备份]"  # a Rich closing tag once the path is printed
    folder.mkdir(parents=True)
    bad = _write(folder / "sites.csv", b"")
    code, output, _ = _cli(
        *[a for k, v in {**town_files, "--sites": str(bad)}.items() for a in (k, v)]
    )
    assert code == 2 and f"error: {bad}: file is empty" in output


def test_residents_with_only_the_required_columns_can_be_analysed(town_files):
    # town_files' residents have id, lon, lat and population, nothing else.
    code, output, exception = _cli(*[a for kv in town_files.items() for a in kv])
    assert exception is None or isinstance(exception, SystemExit)
    assert code == 0, output


_CELLS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [
            "12",
            " 13 ",
            "1,234",
            "１２",
            "1e3",
            "-5",
            "inf",
            "nan",
            "+3",
            "－５",
            "１，２３４",
            "1,23",
            "\t7",
        ]
    ),
    st.none(),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_CELLS, min_size=1, max_size=12), st.booleans())
def test_numbers_read_the_same_whether_or_not_a_cell_needs_cleaning(cells, thousands):
    """to_number parses plain cells directly and cleans only the others: the answer is that
    of cleaning every cell (NFKC, strip, thousands commas) before parsing."""
    series = pd.Series(cells, dtype=object)
    clean = series.map(
        lambda v: unicodedata.normalize("NFKC", str(v)).strip() if v is not None else "None"
    )
    if thousands:
        clean = clean.str.replace(r"(?<=\d),(?=\d{3}(?!\d))", "", regex=True)
    expected = pd.to_numeric(clean, errors="coerce")
    got = to_number(series, thousands=thousands)
    assert got.dtype == expected.dtype  # whole numbers stay integers (the tables show 41, not 41.0)
    assert np.array_equal(got.to_numpy(float), expected.to_numpy(float), equal_nan=True)
