"""One vocabulary: what people write for tiers, kinds and towns, read the same everywhere."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.errors import InputError
from planner.text import CANDIDATE_KINDS, TIERS
from planner.vocab import UNKNOWN_TOWN, find_town, kind_key, kind_keys, tier_key, town_mask


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("站", "station"),
        ("新时代文明实践所", "institute"),
        (" Centre ", "centre"),
        ("志愿服务站点/岗", "service_point"),
        ("family-station", "family"),
    ],
)
def test_a_tier_is_read_from_its_chinese_or_english_name(written, key):
    assert tier_key(written) == key


def test_every_tier_and_kind_reads_back_from_its_own_chinese_name():
    assert all(tier_key(info["zh"]) == key for key, info in TIERS.items())
    assert all(kind_key(info["zh"]) == key for key, info in CANDIDATE_KINDS.items())


@pytest.mark.parametrize("bad", ["乡镇文化站", "", None, float("nan")])
def test_an_unknown_tier_names_where_and_what_is_accepted(bad):
    with pytest.raises(InputError, match=r"^--tier: unknown tier .*use one of centre \(中心\)"):
        tier_key(bad, where="--tier")


def test_kinds_keep_their_order_and_an_unknown_one_is_named():
    assert kind_keys(["闲置厂房", "school"]) == ["idle_factory", "idle_school"]
    with pytest.raises(InputError, match=r"kinds: unknown candidate kind 'castle'"):
        kind_keys(["house", "castle"])


def test_a_town_is_found_by_name_or_code_and_a_boundary_row_by_its_code():
    frame = pd.DataFrame(
        {
            "town": ["青山乡", "桃源乡", None],
            "town_code": ["360681100", "360681101", "360681100"],
            "level": ["village", "village", "town"],
            "code": ["1", "2", "360681100"],
        }
    )
    assert town_mask(frame, "青山乡").tolist() == [True, False, False]
    assert town_mask(frame, "360681100").tolist() == [True, False, True]
    assert not town_mask(frame.drop(columns=["town", "town_code"]), "青山乡").any()


# One table of residents, two towns that share nothing but a spelling rule: 青山乡 (code A) and
# 桃源乡 (code B); row 2 has a code but no name, row 3 a name but no code, row 4 neither.
TOWNS = pd.DataFrame(
    {
        "town": ["青山乡", "桃源乡", None, "青山乡", None],
        "town_code": ["A", "B", "A", None, None],
    }
)


@pytest.mark.parametrize(
    ("columns", "town", "code", "expected"),
    [
        # only names: by name; a code finds nothing to match (there is no code column)
        (["town"], "青山乡", None, [True, False, False, True, False]),
        (["town"], "A", None, [False] * 5),
        (["town"], "青山乡", "A", [True, False, False, True, False]),
        # only codes: by code, given bare or known
        (["town_code"], "A", None, [True, False, True, False, False]),
        (["town_code"], "青山乡", "A", [True, False, True, False, False]),
        # both, the town as written: its name or its code, in either column
        (["town", "town_code"], "青山乡", None, [True, False, False, True, False]),
        (["town", "town_code"], "A", None, [True, False, True, False, False]),
        # both, the town known by name and code: a row's code decides, else its name
        (["town", "town_code"], "青山乡", "A", [True, False, True, True, False]),
        # a row without a town name is in the unknown town, as the per-town table names it
        (["town"], UNKNOWN_TOWN, None, [False, False, True, False, True]),
        (["town", "town_code"], UNKNOWN_TOWN, None, [False, False, True, False, True]),
        ([], "青山乡", None, [False] * 5),
    ],
)
def test_the_rows_of_a_town_by_name_or_code_in_any_table(columns, town, code, expected):
    assert town_mask(TOWNS[columns], town, code=code).tolist() == expected


def test_a_boundary_table_holds_the_town_itself_and_its_villages():
    units = pd.DataFrame(
        {
            "level": ["town", "village", "village", "town"],
            "code": ["A", "A01", "B01", "B"],
            "name": ["青山乡", "青山村", "桃源村", "桃源乡"],
            "town": [None, "青山乡", "桃源乡", None],
        }
    )
    assert town_mask(units, "青山乡").tolist() == [True, True, False, False]
    assert town_mask(units, "A").tolist() == [True, False, False, False]
    assert town_mask(units, "青山乡", code="A").tolist() == [True, True, False, False]


def test_a_town_written_by_code_is_found_with_its_name_else_the_towns_are_listed():
    assert find_town(TOWNS, "A") == ("青山乡", "A")
    assert find_town(TOWNS, "桃源乡") == ("桃源乡", "B")
    assert find_town(TOWNS[["town"]], "桃源乡") == ("桃源乡", None)
    with pytest.raises(
        InputError, match=r"^--town: no residents in town '青山镇'; use one of: 桃源乡, 青山乡$"
    ):
        find_town(TOWNS, "青山镇", where="--town")
