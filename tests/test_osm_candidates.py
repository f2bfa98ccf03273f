"""Idle schools, factories and houses are found in OpenStreetMap by their tags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.osm_candidates import candidates_from_osm, read_osm_candidates

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
    found, excluded = read_osm_candidates(path)
    # Guixi's coal power station (landuse=industrial, power=plant, run by 国家电投) is at work:
    # neither it nor its cooling towers nor the schools in use are idle buildings.
    assert "贵溪发电有限责任公司" not in set(found["name"])
    reasons = excluded.set_index("id")["reason"]
    assert reasons["osm:way/757457458"] == "operating power infrastructure (power=plant)"
    assert reasons.str.contains("cooling_tower").sum() == 4
    assert {"贵溪五中", "贵溪市第九中学"} <= set(excluded["name"])


SITE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
{nodes}
  <way id="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="landuse" v="industrial"/><tag k="power" v="plant"/><tag k="name" v="某电厂"/></way>
  <way id="2"><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="8"/><nd ref="5"/>
    <tag k="building" v="industrial"/></way>
  <way id="3"><nd ref="9"/><nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="9"/>
    <tag k="man_made" v="works"/><tag k="building" v="industrial"/></way>
  <way id="4"><nd ref="13"/><nd ref="14"/><nd ref="15"/><nd ref="16"/><nd ref="13"/>
    <tag k="man_made" v="works"/><tag k="building" v="industrial"/><tag k="disused" v="yes"/></way>
  <way id="5"><nd ref="17"/><nd ref="18"/><nd ref="19"/><nd ref="20"/><nd ref="17"/>
    <tag k="building" v="factory"/><tag k="operator" v="某公司"/></way>
  <way id="6"><nd ref="21"/><nd ref="22"/><nd ref="23"/><nd ref="24"/><nd ref="21"/>
    <tag k="building" v="factory"/><tag k="operator" v="某公司"/>
    <tag k="operational_status" v="closed"/></way>
  <way id="7"><nd ref="25"/><nd ref="26"/><nd ref="27"/><nd ref="28"/><nd ref="25"/>
    <tag k="building" v="warehouse"/></way>
  <way id="8"><nd ref="29"/><nd ref="30"/><nd ref="31"/><nd ref="32"/><nd ref="29"/>
    <tag k="amenity" v="school"/><tag k="name" v="中心小学"/></way>
</osm>
"""


def test_operating_plants_works_and_schools_are_not_idle(tmp_path):
    # Way 2 (an untagged workshop) stands inside the power plant of way 1; the rest apart.
    squares = [_square(1, 117.20, 0.004), _square(5, 117.201, 0.0004)]
    squares += [_square(1 + 4 * i, 117.20 + 0.01 * i, 0.0004) for i in range(2, 8)]
    path = tmp_path / "works.osm"
    path.write_text(SITE_XML.format(nodes="\n".join(squares)), encoding="utf-8")
    found, excluded = read_osm_candidates(path)
    assert found.set_index("id")["kind"].to_dict() == {
        "osm:way/4": "idle_factory",  # works tagged disused
        "osm:way/6": "idle_factory",  # operator gone: operational_status=closed
        "osm:way/7": "idle_factory",  # a warehouse nobody is known to run: to inspect
    }
    reasons = excluded.set_index("id")["reason"].to_dict()
    assert reasons == {
        "osm:way/1": "operating power infrastructure (power=plant)",
        "osm:way/2": "inside 某电厂 (operating power infrastructure (power=plant))",
        "osm:way/3": "operating works (man_made=works) without disused/abandoned tags",
        "osm:way/5": "operator-run industry (operator=某公司) not tagged idle",
        "osm:way/8": "school in use (no disused:/abandoned: prefix or idle tag)",
    }
