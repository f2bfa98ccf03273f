"""The library's query layer answers the API's questions without HTTP, with domain errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from _sample import sample  # noqa: F401  (session fixture)

from planner import query
from planner.errors import InputError, NotFound, OutOfReach

CENTRE = (117.247640, 28.264903)  # the county centre 示范县新时代文明实践中心 (S0001)


@pytest.fixture(scope="module")
def qingshan(sample):  # noqa: F811
    _, cov = sample
    return query.find_unit(query.towns(cov), "青山乡", kind="town")


def test_a_town_is_found_by_name_or_code_and_an_unknown_one_is_not_found(sample):  # noqa: F811
    _, cov = sample
    towns = query.towns(cov)
    by_name = query.find_unit(towns, "青山乡", kind="town")
    by_code = query.find_unit(towns, " 360699201000 ", kind="town")
    assert by_name["code"] == by_code["code"] == "360699201000"
    with pytest.raises(NotFound) as caught:
        query.find_unit(towns, "青山镇", kind="town", where="示范县")
    assert isinstance(caught.value, InputError)  # the CLI shows it as one line
    assert caught.value.did_you_mean == ["青山乡"]
    assert str(caught.value) == "no town '青山镇' in 示范县; did you mean '青山乡'?"
    with pytest.raises(NotFound, match=r"known: .*青山乡 \(360699201000\)"):
        query.find_unit(towns, "zzz", kind="town")


def test_station_gaps_of_a_town_hold_exactly_its_people_beyond_a_station(sample, qingshan):  # noqa: F811
    region, cov = sample
    gaps = query.gaps(region, cov, town=qingshan, tier="station")
    res = cov.residents
    mine = res[(res["town"] == "青山乡") & (res["population"] > 0)]
    beyond = mine[~mine["covered_station"].astype(bool)]
    assert int(gaps["population"].sum()) == int(beyond["population"].sum())
    assert int(gaps["residents"].sum()) == len(beyond)
    # Every resident beyond a station lies inside one of the gap polygons.
    xy = beyond.geometry.x.to_numpy(), beyond.geometry.y.to_numpy()
    inside = shapely.contains_xy(shapely.union_all(gaps.geometry.to_numpy()), *xy)
    assert inside.all()
    assert query.gaps(region, cov) is cov.gaps  # the region under its standards: as analysed


def test_sites_of_a_tier_in_a_town_are_the_rows_of_the_sites_file(sample, qingshan):  # noqa: F811
    region, cov = sample
    found = query.sites(region, cov, tier="station", town=qingshan)
    raw = pd.read_csv(region.files.sites, dtype=str)
    expected = raw[(raw["tier"] == "站") & (raw["town_code"] == "360699201000")]
    assert sorted(found["id"]) == sorted(expected["id"])
    assert set(found["tier_zh"]) == {"站"} and set(found["mode"]) == {"walk"}
    assert found["compliance"].isna().all()  # no audit given: no verdict


def test_an_isochrone_covers_its_point_and_a_far_point_is_out_of_reach(sample):  # noqa: F811
    region, _ = sample
    area = query.isochrone_at(region, *CENTRE, minutes=10, mode="walk")
    assert len(area) == 1 and area.loc[0, "index"] == 0 and area.loc[0, "mode"] == "walk"
    poly = area.to_crs(4326).geometry.iloc[0]
    assert poly.buffer(1e-4).contains(shapely.Point(CENTRE))
    assert area.loc[0, "area_km2"] == pytest.approx(area.geometry.iloc[0].area / 1e6, abs=1e-4)
    bigger = query.isochrone_at(region, *CENTRE, minutes=15, mode="walk")
    assert bigger.geometry.iloc[0].area > area.geometry.iloc[0].area
    with pytest.raises(OutOfReach) as caught:
        query.isochrone_at(region, 100.0, 20.0, minutes=10, label="sample", index=3)
    err = caught.value
    assert err.code == "outside_region" and err.index == 3
    w, s, e, n = err.detail["bounds"]
    assert w < CENTRE[0] < e and s < CENTRE[1] < n
    assert str(err).startswith("(100.000000, 20.000000) is outside region 'sample'")
    assert np.allclose(query.region_bounds(region), err.detail["bounds"])
