"""The local rule's equation: when the lag expected since a task was last seen running
reaches the price of a poll (`_lag_gain`, `_solve_gain` in `_schedule`)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stablebrowse_async._schedule import _lag_gain, _solve_gain


@settings(max_examples=300, deadline=None)
@given(
    span=st.floats(min_value=1e-3, max_value=1e4),
    alive=st.floats(min_value=0.0, max_value=1.0),
    # Hazards are events / exposure: zero, or far from the float's denormal range.
    hazard=st.one_of(st.just(0.0), st.floats(min_value=1e-9, max_value=50.0)),
    share=st.floats(min_value=1e-6, max_value=1.0),
)
def test_the_wait_found_builds_up_exactly_the_lag_asked_for(
    span: float, alive: float, hazard: float, share: float
) -> None:
    most = _lag_gain(span, alive, hazard)
    if most <= 0:
        return  # nothing can finish: the caller never asks
    target = share * most
    x = _solve_gain(span, alive, hazard, target)
    assert 0.0 <= x <= span
    assert _lag_gain(x, alive, hazard) == pytest.approx(target, rel=1e-6, abs=1e-9 * span)


def test_the_lag_expected_grows_with_the_time_waited_and_the_share_finished() -> None:
    # Nobody still running: the lag grows one second per second waited.
    assert _lag_gain(2.0, 0.0, 0.0) == 2.0
    # Half still running and none finishing: half a second per second.
    assert _lag_gain(2.0, 0.5, 0.0) == 1.0
    # All running, finishing at 1 per second: 2 - (1 - e^-2) after 2 s.
    assert _lag_gain(2.0, 1.0, 1.0) == pytest.approx(2.0 - (1.0 - math.exp(-2.0)))
    assert _solve_gain(2.0, 0.5, 0.0, 0.5) == pytest.approx(1.0)
    assert _solve_gain(2.0, 0.5, 0.0, 0.0) == 0.0
    assert _solve_gain(2.0, 1.0, 0.0, 0.5) == 2.0  # nothing can be gained: the whole span
