"""The local rule's equation: when the lag expected since a task was last seen running
reaches the price of a poll (`_lag_gain`, `_solve_gain` in `_schedule`)."""

from __future__ import annotations

import math
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from stablebrowse_async import AdaptiveSchedule
from stablebrowse_async._estimator import MAX_DURATION, DurationModel
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


def expected_lag(model: DurationModel, seen: float, until: float, steps: int = 20_000) -> float:
    """The lag expected at age `until` of a task last seen running at age `seen`, by the
    rule's definition: the integral over (seen, until) of P(finished by s | running at
    seen), with the survival of the local rule's hazard (`segments`), and past the age
    where tasks were last seen running (`edge`) the hazard measured there taken as
    constant (trapezoids)."""
    horizon, measured = model.edge()
    pieces = list(model.segments(0.0))

    def local_survival(age: float) -> float:
        total = 0.0
        for low, high, hazard in pieces:
            if low >= age:
                break
            total += hazard * (min(high, age) - low)
        return math.exp(-total)

    def survival(age: float) -> float:
        if age <= horizon:
            return local_survival(age)
        return local_survival(horizon) * math.exp(-measured * (age - horizon))

    start = survival(seen)
    width = (until - seen) / steps
    values = [1.0 - survival(seen + i * width) / start for i in range(steps + 1)]
    return width * (sum(values) - (values[0] + values[-1]) / 2)


@pytest.mark.parametrize(
    ("seen", "age", "cost"),
    [
        (0.0, 0.0, 0.05),  # a new task: the first poll
        (1.0, 1.6, 0.05),  # seen at 1 s, asked again at 1.6 s (a re-plan)
        (1.9, 1.9, 0.01),  # just polled, in the middle of the short mode
        (2.0, 2.5, 0.3),  # the lag reaches the price past the short mode
        (3.0, 3.0, 0.2),  # between the modes
        (12.0, 12.0, 0.5),
        (26.0, 27.0, 0.4),
        # Near the edge of what was seen running (30.4 s): reached past it, where the
        # hazard measured before the edge is extrapolated.
        (28.0, 29.0, 1.5),
        (30.0, 30.0, 0.3),
        (31.0, 31.0, 0.1),  # all of it past the edge
    ],
)
def test_the_local_rule_polls_when_the_lag_expected_since_the_last_sighting_reaches_its_price(
    seen: float, age: float, cost: float
) -> None:
    # 2/3 of the tasks took 1.5-2.5 s, 1/3 20-30 s; ten more were seen running at 29 s.
    schedule = AdaptiveSchedule(
        prior=[1.5 + (i % 11) / 10 for i in range(60)] + [20.0 + i % 11 for i in range(30)]
    )
    model = schedule._model
    for _ in range(10):
        model.expose(0.0, 29.0)
    cap = 60.0
    delay = schedule._expected_lag_rule(seen, age, cap, cost)
    assert delay < cap
    assert expected_lag(model, seen, age + delay) == pytest.approx(cost, rel=2e-3)


def test_no_lag_asked_means_no_wait_even_where_none_can_build_up() -> None:
    assert _solve_gain(2.0, 1.0, 0.0, 0.0) == 0.0
    assert _solve_gain(2.0, 1.0, 1.0, 0.0) == 0.0


def test_a_gain_made_of_rounding_alone_still_gives_a_wait_within_the_span() -> None:
    # A hazard so small (a completion long forgotten) that exp(-hazard * x) rounds
    # to 1: the gain's slope reads 0, the gain itself a little rounding above 0.
    span, hazard = 31.15835858368455, 2.096011735324634e-27
    assert 1.0 - math.exp(-hazard * span) == 0.0
    target = _lag_gain(span, 1.0, hazard) / 2
    assert target > 0
    assert 0.0 < _solve_gain(span, 1.0, hazard, target) <= span


@pytest.mark.parametrize("span", [1e-6, 1e-4])
def test_a_short_span_is_solved_as_precisely_as_a_long_one(span: float) -> None:
    # A task last seen just below a bin's edge: its first segment is that short.
    target = _lag_gain(span, 1.0, 50.0) / 4
    x = _solve_gain(span, 1.0, 50.0, target)
    assert _lag_gain(x, 1.0, 50.0) == pytest.approx(target, rel=1e-6)


def test_no_hazard_is_found_before_the_first_age_where_tasks_finish() -> None:
    model = AdaptiveSchedule(prior=[1.5 + (i % 11) / 10 for i in range(60)])._model
    start = model.hazard_from()
    assert 1.0 < start < 1.5  # the pooled neighbourhood of the shortest duration
    pieces = list(model.segments(0.0))
    assert all(hazard == 0.0 for low, high, hazard in pieces if high <= start)
    assert next(hazard for low, high, hazard in pieces if low >= start) > 0.0
    assert DurationModel().hazard_from() >= MAX_DURATION  # nothing learned: no hazard anywhere


@settings(max_examples=200, deadline=None)
@given(
    durations=st.lists(st.floats(min_value=0.05, max_value=300.0), max_size=40),
    running=st.lists(st.floats(min_value=0.05, max_value=400.0), max_size=10),
    seen=st.floats(min_value=0.0, max_value=400.0),
    waited=st.floats(min_value=0.0, max_value=30.0),
    cap=st.floats(min_value=0.01, max_value=120.0),
    cost=st.floats(min_value=1e-4, max_value=10.0),
)
# Hazards below 1e-3 per second (one completion among 21 tasks seen running through
# the 250 s bins): small, not zero, and walked through.
@example(durations=[250.0], running=[400.0] * 20, seen=240.0, waited=0.0, cap=120.0, cost=0.5)
# No lag asked: the poll is due at once, not at the first hazard.
@example(durations=[2.0], running=[], seen=0.0, waited=0.0, cap=5.0, cost=0.0)
def test_the_rule_starting_at_the_first_hazard_answers_as_the_walk_from_the_last_sighting(
    durations: list[float],
    running: list[float],
    seen: float,
    waited: float,
    cap: float,
    cost: float,
) -> None:
    schedule = AdaptiveSchedule(prior=durations)
    model = schedule._model
    for age in running:
        model.expose(0.0, age)
    answer = schedule._expected_lag_rule(seen, seen + waited, cap, cost)
    with mock.patch.object(DurationModel, "hazard_from", return_value=0.0):
        walked = schedule._expected_lag_rule(seen, seen + waited, cap, cost)
    assert answer == walked  # the same floats, not only close
