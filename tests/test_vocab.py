"""One vocabulary: what people write for tiers, kinds and towns, read the same everywhere."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.errors import InputError
from planner.text import CANDIDATE_KINDS, TIERS
from planner.vocab import kind_key, kind_keys, tier_key, town_mask


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
