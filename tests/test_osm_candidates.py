"""Idle schools, factories and houses are found in OpenStreetMap by their tags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.osm_candidates import candidates_from_osm

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
{nodes}
  <way id="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="disused:amenity" v="school"/><tag k="building" v="yes"/><tag k="name" v="原李家小学"/></way>
  <way id="2"><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="8"/><nd ref="5"/>
    <tag k="building" v="industrial"/><tag k="building:levels" v="2"/></way>
  <way id="3"><nd ref="9"/><nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="9"/>
    <tag k="building" v="house"/><tag k="vacant" v="yes"/></way>
  <way id="4"><nd ref="13"/><nd ref="14"/><nd ref="15"/><nd ref="16"/><nd ref="13"/>
    <tag k="building" v="house"/></way>
  <way id="5"><nd ref="17"/><nd ref="18"/><nd ref="19"/><nd ref="20"/><nd ref="17"/>
    <tag k="amenity" v="school"/><tag k="building" v="school"/></way>
  <way id="6"><nd ref="21"/><nd ref="22"/><nd ref="23"/><nd ref="24"/><nd ref="21"/>
    <tag k="building" v="industrial"/><tag k="man_made" v="chimney"/></way>
</osm>
"""


def _square(first: int, x0: float, size: float) -> str:
    corners = [(x0, 28.30), (x0 + size, 28.30), (x0 + size, 28.30 + size), (x0, 28.30 + size)]
    return "\n".join(
        f'  <node id="{first + i}" lat="{lat:.6f}" lon="{lon:.6f}"/>'
        for i, (lon, lat) in enumerate(corners)
    )


def test_tag_rules_pick_idle_buildings(tmp_path):
    nodes = "\n".join(_square(1 + 4 * i, 117.20 + 0.01 * i, 0.0004) for i in range(6))
    path = tmp_path / "town.osm"
    path.write_text(XML.format(nodes=nodes), encoding="utf-8")
    found = candidates_from_osm(path).set_index("id")
    assert found["kind"].to_dict() == {
        "osm:way/1": "idle_school",
        "osm:way/2": "idle_factory",
        "osm:way/3": "idle_house",
    }  # a house in use, a school in use and a chimney are not candidates
    assert found.loc["osm:way/1", "name"] == "原李家小学"
    # 0.0004 deg squares are about 39 m x 44 m: two floors give about 115 rooms of 30 m2, capped
    assert found.loc["osm:way/2", "rooms"] == 40
    assert 30 < found.loc["osm:way/3", "rooms"] < 70
    assert found["rooms_source"].eq("estimated").all()
    assert np.allclose(found["lat"], 28.3002, atol=1e-3)


def test_real_county_industrial_land_is_found():
    path = SHARED / "guixi" / "mapofgx.osm"
    if not path.exists():
        pytest.skip(f"{path} not available (shared data sits beside the repository)")
    found = candidates_from_osm(path)
    assert (found["kind"] == "idle_factory").sum() >= 1
    assert "贵溪发电有限责任公司" in set(found["name"])
    assert not found["osm_tags"].str.contains("cooling_tower").any()
