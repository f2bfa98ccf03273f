"""Boundaries exported from OpenStreetMap (admin_level, division_code) work as they are."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
from conftest import SAMPLE, shared_file

from planner.coverage import analyze
from planner.inputs import read_units
from planner.region import Region, RegionFiles


def test_qingdao_admin_boundaries_map_to_county_and_town_levels():
    path = shared_file("qingdao_admin", "qingdao_admin_boundaries_osm.geojson")
    raw = gpd.read_file(path)
    units, rejected = read_units(path)
    # 10 districts (admin_level 6) and 135 towns/subdistricts (8); the city (5) is left out.
    assert units["level"].value_counts().to_dict() == {"town": 135, "county": 10}
    assert len(rejected) == 1 and rejected["id"].iloc[0] == "370200"
    assert rejected["reason"].iloc[0].startswith("admin_level 5 is no county")
    # division_code is the code where OSM has one (26 of 146 here); else the name stands in.
    codes = raw.dropna(subset=["division_code"]).set_index("name")["division_code"].astype(str)
    expected = units["name"].map(codes).fillna(units["name"])
    assert (units["code"] == expected).all()
    assert units["code"].str.fullmatch(r"\d{6,12}").sum() == 25
    assert units.loc[units["name"] == "即墨区", "level"].item() == "county"


def _osm_style_units(tmp_path, county: str) -> str:
    """The sample's towns and villages as an OSM export: admin_level, division_code, a county."""
    units = gpd.read_file(SAMPLE / "units.geojson")
    osm = gpd.GeoDataFrame(
        {
            "name": units["name"],
            "admin_level": units["level"].map({"town": "8", "village": "10"}),
            "division_code": units["code"],
        },
        geometry=units.geometry,
        crs=units.crs,
    )
    outline = shapely.union_all(units.loc[units["level"] == "town"].geometry.to_numpy())
    whole = gpd.GeoDataFrame(
        {"name": [county], "admin_level": ["6"], "division_code": ["360699"]},
        geometry=[outline],
        crs=units.crs,
    )
    path = tmp_path / "boundaries_osm.geojson"
    pd.concat([whole, osm], ignore_index=True).to_file(path, driver="GeoJSON")
    return path


def test_an_osm_boundary_export_gives_the_same_units_and_names_the_region(tmp_path):
    path = _osm_style_units(tmp_path, "示范县（OSM）")
    base = RegionFiles.sample().__dict__
    ours = Region.from_files(RegionFiles(**{**base, "units": path, "name": None}))
    theirs = Region.from_files()
    assert ours.name == "示范县（OSM）"  # from the county polygon, not the file name
    assert len(ours.units) == len(theirs.units)  # the county is a name, not a unit
    # Villages found their township by the polygon around them, as the sample's own table says.
    expected = theirs.units.set_index("code")["town"]
    got = ours.units.set_index("code")["town"]
    assert (got.loc[expected.index] == expected).all()
    coverage = analyze(ours, service_areas=False)
    assert coverage.summary["region"] == "示范县（OSM）"


def test_the_name_flag_wins(tmp_path):
    path = _osm_style_units(tmp_path, "示范县（OSM）")
    base = RegionFiles.sample().__dict__
    region = Region.from_files(RegionFiles(**{**base, "units": path, "name": "贵溪市"}))
    assert region.name == "贵溪市"
