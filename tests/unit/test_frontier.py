"""The frontier (benchmarks/frontier.py) against brute force on small cases."""

from __future__ import annotations

import itertools
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import frontier

durations_st = st.lists(
    st.floats(min_value=0.1, max_value=50.0, allow_nan=False), min_size=1, max_size=7
)


def brute_force(durations: list[float], lam: float) -> float:
    """min over every subset of candidate times (ending at the longest) of lag + lam * polls."""
    candidates = sorted(set(durations))
    last = candidates[-1]
    best = float("inf")
    for size in range(len(candidates)):
        for subset in itertools.combinations(candidates[:-1], size):
            polls, lag = frontier.evaluate(durations, (*subset, last))
            best = min(best, lag + lam * polls)
    return best


@settings(max_examples=150, deadline=None)
@given(durations_st, st.floats(min_value=0.0, max_value=30.0))
def test_the_dynamic_programme_finds_the_brute_force_optimum(
    durations: list[float], lam: float
) -> None:
    polls, lag, times = frontier.best_for_price(durations, lam, grid=None)
    assert (polls, lag) == pytest.approx(frontier.evaluate(durations, times))
    assert lag + lam * polls == pytest.approx(brute_force(durations, lam), rel=1e-9, abs=1e-9)


def test_hand_checked_case() -> None:
    # Durations 1, 2, 3: polling at each costs 2 polls on average and no lag;
    # polling once at 3 costs 1 poll and a mean lag of (2 + 1 + 0) / 3 = 1.
    assert frontier.evaluate([1, 2, 3], [1, 2, 3]) == (2.0, 0.0)
    assert frontier.evaluate([1, 2, 3], [3]) == (1.0, 1.0)
    assert frontier.best_for_price([1, 2, 3], 0.0)[1] == 0.0
    assert frontier.best_for_price([1, 2, 3], 100.0)[2] == (3,)
    with pytest.raises(ValueError, match="longest"):
        frontier.evaluate([1, 5], [2])


@settings(max_examples=40, deadline=None)
@given(durations_st)
def test_the_curve_is_a_decreasing_convex_lower_bound(durations: list[float]) -> None:
    curve = frontier.frontier_curve(durations, grid=None)
    xs = [p[0] for p in curve]
    ys = [p[1] for p in curve]
    assert xs == sorted(xs)
    assert all(b < a for a, b in itertools.pairwise(ys))
    # Every fixed schedule on the candidates lies on or above the curve.
    candidates = sorted(set(durations))
    for size in range(len(candidates)):
        for subset in itertools.combinations(candidates[:-1], size):
            polls, lag = frontier.evaluate(durations, (*subset, candidates[-1]))
            assert lag >= frontier.frontier_at(curve, polls) - 1e-9


def test_the_grid_keeps_the_duration_below_each_quantile_so_no_gap_hides_a_mode() -> None:
    # Quantile picks 1, 4, 100, 103: alone, the tasks of 5 and 6 s could only be
    # seen at 100 s. The duration below each pick (3, 6, 102) closes the gap.
    durations = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0, 101.0, 102.0, 103.0]
    assert frontier._grid(durations, 4) == [1.0, 3.0, 4.0, 6.0, 100.0, 102.0, 103.0]
    # Polling at 6 and 103: 1.4 polls per task, mean lag (15 + 6) / 10 = 2.1 s,
    # exactly as on every candidate.
    exact = frontier.frontier_at(frontier.frontier_curve(durations, grid=None), 1.4)
    on_grid = frontier.frontier_at(frontier.frontier_curve(durations, grid=4), 1.4)
    assert exact == pytest.approx(2.1)
    assert on_grid == pytest.approx(exact)


def test_an_informed_schedule_cannot_know_the_batch() -> None:
    # The distribution: half the tasks take 1 s, half 3 s. The batch drew two
    # tasks of 2 s, so the frontier polls once at 2 s, with no lag. A schedule
    # for the distribution polls at 3 s, or at 1 s and 3 s: 1 s of lag either
    # way, at 1 or 2 polls a task.
    curve = frontier.informed_curve(frontier.plan_informed([1.0, 3.0] * 50), [2.0, 2.0])
    assert [p[:2] for p in curve] == [(1.0, 1.0)]
    assert frontier.frontier_at(curve, 1.0) == 1.0
    assert frontier.frontier_at(frontier.frontier_curve([2.0, 2.0], grid=None), 1.0) == 0.0
    # A batch longer than anything the population drew is still seen, at its end.
    plan = frontier.plan_informed([1.0, 3.0])
    assert [p[:2] for p in frontier.informed_curve(plan, [4.0])] == [(1.0, 0.0)]
    # One plan serves every batch of the distribution.
    assert frontier.informed_curve(plan, [2.0, 2.0]) == curve


@settings(max_examples=40, deadline=None)
@given(durations_st, durations_st)
def test_the_informed_curve_lies_on_or_above_the_frontier(
    population: list[float], durations: list[float]
) -> None:
    curve = frontier.informed_curve(frontier.plan_informed(population, prices=12), durations)
    exact = frontier.frontier_curve(durations, grid=None)
    for polls, lag, times in curve:
        # Each vertex is a real schedule, evaluated on the batch, that sees every task.
        assert (polls, lag) == pytest.approx(frontier.evaluate(durations, times))
        assert lag >= frontier.frontier_at(exact, polls) - 1e-9


def test_planned_on_the_batch_itself_the_informed_curve_meets_the_frontier() -> None:
    durations = [1.0, 2.0, 3.0, 7.0, 8.0, 20.0]
    curve = frontier.informed_curve(frontier.plan_informed(durations, prices=200), durations)
    exact = frontier.frontier_curve(durations, grid=None)
    for polls, lag, _ in exact:
        assert frontier.frontier_at(curve, polls) == pytest.approx(lag, abs=1e-9)


def test_the_informed_curve_refuses_empty_input_and_too_few_prices() -> None:
    with pytest.raises(ValueError, match="empty"):
        frontier.plan_informed([])
    with pytest.raises(ValueError, match="durations must not be empty"):
        frontier.informed_curve(frontier.plan_informed([1.0]), [])
    with pytest.raises(ValueError, match="prices must be >= 2"):
        frontier.plan_informed([1.0], prices=1)


def test_the_lower_hull_drops_dominated_and_inner_points() -> None:
    points = [(1.0, 4.0, ()), (2.0, 3.5, ()), (3.0, 1.0, ()), (2.5, 5.0, ()), (4.0, 0.5, ())]
    assert [p[:2] for p in frontier._lower_hull(points)] == [(1.0, 4.0), (3.0, 1.0), (4.0, 0.5)]


def test_a_distribution_is_planned_on_its_own_seeded_sample_20_times_a_batch() -> None:
    drawn: list[int] = []

    def sampler(rng: random.Random, n: int) -> list[float]:
        drawn.append(n)
        return [rng.uniform(1.0, 3.0) for _ in range(n)]

    plan = frontier.plan_for_distribution(sampler, "uniform", 5)
    assert drawn == [5 * frontier.POPULATION_PER_TASK] == [100]
    expected = frontier.plan_informed(sampler(random.Random("population:uniform"), 100))
    assert plan == expected
    # Another key, another sample: the same distribution, other schedules.
    assert frontier.plan_for_distribution(sampler, "other", 5) != plan
