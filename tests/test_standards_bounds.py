"""A refused travel standard names the bound it broke: 0 itself is refused, 240 is allowed."""

from __future__ import annotations

import pytest

from planner import InputError
from planner.standards import Standards, TierStandard


@pytest.mark.parametrize("minutes", [0, 0.0, -5, 240.5])
def test_minutes_outside_the_bound_are_refused_naming_it(minutes: float) -> None:
    with pytest.raises(InputError) as info:
        TierStandard(minutes=minutes)
    message = str(info.value)
    assert "more than 0 and at most 240" in message
    assert "between" not in message  # "between 0 and 240" read as if 0 were allowed
    assert repr(minutes) in message


def test_the_bounds_themselves_are_as_the_message_says() -> None:
    assert TierStandard(minutes=240).minutes == 240
    assert TierStandard(minutes=0.1).minutes == 0.1


@pytest.mark.parametrize("metres", [0, -1, 10_001])
def test_a_snap_distance_outside_the_bound_is_refused_naming_it(metres: float) -> None:
    with pytest.raises(InputError, match="more than 0 and at most 10000 m"):
        Standards(max_snap_m=metres)
    assert Standards(max_snap_m=10_000).max_snap_m == 10_000
