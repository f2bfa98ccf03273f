"""Written travel minutes are rounded up to 0.01, so a shown value is within a standard
exactly when the exact minutes are (the rule ``covered`` follows)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.coverage import shown_minutes


def test_a_hair_over_the_standard_shows_over_it():
    # a sum of edge times 1e-9 over 15 minutes is not covered (covered: minutes <= 15)
    assert shown_minutes(15.000000001) == 15.01
    assert shown_minutes(15 + 1e-14) == 15.01
    assert shown_minutes(15.004) == 15.01


def test_values_at_or_below_a_hundredth_keep_it():
    assert shown_minutes(15.0) == 15.0
    assert shown_minutes(14.996) == 15.0
    assert shown_minutes(0.0) == 0.0
    assert shown_minutes(0.001) == 0.01
    # 14.99 * 100 is 1499.0000000000002 in floats: still 14.99, not 15.00
    assert shown_minutes(14.99) == 14.99
    assert shown_minutes(0.29) == 0.29


def test_shown_within_any_standard_exactly_when_the_exact_minutes_are():
    rng = np.random.default_rng(7)
    standards = np.arange(1, 6001) / 100.0  # every multiple of 0.01 up to 60 minutes
    exact = np.concatenate(
        [
            rng.uniform(0, 60, 20_000),
            np.nextafter(standards, np.inf),
            np.nextafter(standards, -np.inf),
            standards,
            standards / 60 * 60,  # seconds / 60, as reach computes them
        ]
    )
    shown = shown_minutes(exact)
    assert (shown >= exact).all()
    assert (shown - exact < 0.01 + 1e-9).all()
    idx = np.searchsorted(standards, exact)  # the least standard >= exact
    ok = idx < len(standards)
    assert (shown[ok] == standards[idx[ok]]).all()


def test_unreached_stays_empty_and_series_keep_their_index():
    s = pd.Series([np.inf, np.nan, 3.141], index=[5, 6, 7], name="minutes_station")
    got = shown_minutes(s)
    assert got.index.tolist() == [5, 6, 7] and got.name == "minutes_station"
    assert got.isna().tolist() == [True, True, False] and got[7] == 3.15
