"""Learned plans: the best fixed schedule for a weighted distribution (`_plan.best_polls`),
the distribution the model hands it (`DurationModel.points`), and how `AdaptiveSchedule`
follows a plan (warm batches, tasks watched one by one, jitter, the safety caps)."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any
from unittest.mock import ANY

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stablebrowse_async import AdaptiveSchedule, Task, TaskStatus
from stablebrowse_async._estimator import MIN_GAP, RICH, SUB, DurationModel, bin_of, edge
from stablebrowse_async._plan import _fill, best_polls
from stablebrowse_async._schedule import _BATCH_PLAN, _STREAM_REPLAN, Track

RUNNING = Task(task_id="t", status=TaskStatus.RUNNING)


def finished(seconds: float) -> Task:
    return Task(task_id="t", status=TaskStatus.COMPLETED, duration_ms=round(seconds * 1000))


def cost(points: list[tuple[float, float]], polls: tuple[float, ...], price: float) -> float:
    """Expected lag + price * expected polls of the fixed schedule `polls` on `points`."""
    total = 0.0
    for age, weight in points:
        j = next(j for j, t in enumerate(polls) if t >= age)
        total += weight * (polls[j] - age + price * (j + 1))
    return total


points_st = st.lists(
    st.tuples(
        st.floats(min_value=0.1, max_value=60.0, allow_nan=False),
        st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
    ),
    min_size=1,
    max_size=7,
).map(sorted)


@settings(max_examples=150, deadline=None)
@given(points_st, st.floats(min_value=0.0, max_value=20.0))
def test_the_plan_is_the_brute_force_optimum_of_lag_plus_price_times_polls(
    points: list[tuple[float, float]], price: float
) -> None:
    plan = best_polls(points, price)
    ages = [age for age, _ in points]
    assert plan[-1] == ages[-1]  # everything is seen by the last poll
    assert list(plan) == sorted(set(plan)) and set(plan) <= set(ages)
    best = min(
        cost(points, (*subset, ages[-1]), price)
        for size in range(len(ages))
        for subset in itertools.combinations(sorted(set(ages[:-1])), size)
    )
    assert cost(points, plan, price) == pytest.approx(best, rel=1e-9, abs=1e-9)


def brute_force(points: list[tuple[float, float]], price: float) -> float:
    ages = [age for age, _ in points]
    return min(
        cost(points, (*subset, ages[-1]), price)
        for size in range(len(ages))
        for subset in itertools.combinations(sorted(set(ages[:-1])), size)
    )


FIXED_CASES = [
    [(1.0, 0.2), (2.0, 0.2), (3.0, 0.2), (4.0, 0.2), (5.0, 0.2)],
    [(0.5, 0.05), (0.9, 0.4), (1.1, 0.05), (7.0, 0.1), (7.5, 0.3), (9.0, 0.1)],
    [(1.0, 0.6), (1.2, 0.0), (30.0, 0.1), (31.0, 0.1), (33.0, 0.1), (35.0, 0.1)],
    [(2.0, 0.01), (2.5, 0.01), (3.0, 0.9), (3.5, 0.04), (40.0, 0.04)],
    [(1.0, 0.1), (1.0, 0.1), (2.0, 0.3), (2.0, 0.0), (6.0, 0.5)],
]


@pytest.mark.parametrize("points", FIXED_CASES)
@pytest.mark.parametrize("price", [0.0, 0.05, 0.3, 2.0, 50.0])
def test_the_plan_is_optimal_on_fixed_cases(
    points: list[tuple[float, float]], price: float
) -> None:
    # A few cases of each shape, checked every run (the property above draws
    # its own; mutation runs draw only ten).
    plan = best_polls(points, price)
    merged = [
        (age, sum(w for a, w in points if a == age)) for age in sorted({a for a, _ in points})
    ]
    assert plan[-1] == merged[-1][0]
    assert cost(merged, plan, price) == pytest.approx(brute_force(merged, price), abs=1e-12)


def test_the_price_of_a_poll_trades_polls_for_lag() -> None:
    points = [(1.0 + i / 10, 0.01) for i in range(100)]  # uniform 1-11 s
    assert best_polls([], 1.0) == ()
    assert best_polls(points, 100.0) == (points[-1][0],)  # polls too dear: one, at the end
    free = best_polls(points, 0.0)
    assert free == tuple(age for age, _ in points)  # free polls: one at every point
    moderate = best_polls(points, 0.05)
    assert 3 < len(moderate) < 30
    gaps = [b - a for a, b in itertools.pairwise(moderate)]
    # Polls get cheaper as tasks finish (fewer left to poll): the gaps shrink.
    assert gaps[0] > gaps[-1]


def test_zero_weight_points_never_attract_a_poll() -> None:
    points = [(1.0, 0.5), (2.0, 0.0), (3.0, 0.0), (10.0, 0.5)]
    assert best_polls(points, 0.01) == (1.0, 10.0)


def test_free_polls_are_not_spent_at_an_age_where_nothing_finishes() -> None:
    # Polls that cost nothing: one wherever a task may finish, none at 2 s.
    assert best_polls([(1.0, 0.5), (2.0, 0.0), (3.0, 0.5)], 0.0) == (1.0, 3.0)


def test_a_tie_between_two_plans_goes_to_the_one_with_less_lag() -> None:
    # Half the tasks take 1 s, half 2 s, a poll costs 1 s of lag: polling at 1 s
    # and 2 s (0.5 s of lag saved, 0.5 poll more) costs what polling once at 2 s
    # costs. The plan polls the 1 s tasks when they finish.
    points = [(1.0, 0.5), (2.0, 0.5)]
    assert cost(points, (1.0, 2.0), 1.0) == cost(points, (2.0,), 1.0)
    assert best_polls(points, 1.0) == (1.0, 2.0)


# -- plans under the max_interval rule -------------------------------------------


def keeps_gaps(plan: tuple[float, ...], max_gap: float, free_until: float) -> bool:
    return all(
        b <= max(a + max_gap, free_until) + 1e-9 for a, b in itertools.pairwise((0.0, *plan))
    )


@settings(max_examples=150, deadline=None)
@given(
    points_st,
    st.floats(min_value=0.0, max_value=20.0),
    st.floats(min_value=2.0, max_value=40.0),
    st.floats(min_value=0.0, max_value=30.0),
)
def test_a_plan_under_a_gap_rule_is_the_best_that_keeps_to_it(
    points: list[tuple[float, float]], price: float, max_gap: float, free_until: float
) -> None:
    plan = best_polls(points, price, max_gap=max_gap, free_until=free_until)
    ages = [age for age, _ in points]
    assert plan[-1] == ages[-1]
    assert list(plan) == sorted(set(plan))
    assert keeps_gaps(plan, max_gap, free_until)
    free = best_polls(points, price)
    if keeps_gaps(free, max_gap, free_until):
        assert plan == free  # the rule changes nothing where the optimum keeps to it
    # Never worse than the best plan on the points alone that keeps to the rule
    # (the polls of no weight added in sparse stretches can only help), and
    # the best among all plans on the points and those polls.
    candidates = sorted({*ages[:-1], *(a for a, w in _fill(points, max_gap, free_until))})
    candidates = [a for a in candidates if a < ages[-1]]
    if len(candidates) <= 10:
        kept = min(
            cost(points, (*subset, ages[-1]), price)
            for size in range(len(candidates) + 1)
            for subset in itertools.combinations(candidates, size)
            if keeps_gaps((*subset, ages[-1]), max_gap, free_until)
        )
        assert cost(points, plan, price) == pytest.approx(kept, rel=1e-9, abs=1e-9)
    on_points = [
        cost(points, (*subset, ages[-1]), price)
        for size in range(len(ages))
        for subset in itertools.combinations(sorted(set(ages[:-1])), size)
        if keeps_gaps((*subset, ages[-1]), max_gap, free_until)
    ]
    if on_points:
        assert cost(points, plan, price) <= min(on_points) + 1e-9
    assert cost(points, plan, price) >= cost(points, free, price) - 1e-9


GAP_CASES = [
    ([(1.0, 0.3), (5.0, 0.2), (9.0, 0.2), (25.0, 0.3)], 10.0, 2.0),
    ([(2.0, 0.4), (3.0, 0.1), (21.0, 0.2), (23.0, 0.3)], 8.0, 0.0),
    ([(0.5, 0.1), (14.0, 0.5), (15.0, 0.1), (16.0, 0.3)], 6.0, 9.0),
    ([(12.0, 0.6), (13.0, 0.4)], 5.0, 0.0),
]


@pytest.mark.parametrize(("points", "max_gap", "free_until"), GAP_CASES)
@pytest.mark.parametrize("price", [0.05, 0.5, 3.0])
def test_a_plan_under_a_gap_rule_is_optimal_on_fixed_cases(
    points: list[tuple[float, float]], max_gap: float, free_until: float, price: float
) -> None:
    # Checked against every plan on the points and the polls of no weight the
    # rule adds (a few cases every run: mutation runs draw only ten examples).
    plan = best_polls(points, price, max_gap=max_gap, free_until=free_until)
    assert keeps_gaps(plan, max_gap, free_until)
    last = points[-1][0]
    candidates = sorted({a for a, _ in _fill(points, max_gap, free_until)} - {last})
    assert len(candidates) <= 14
    best = min(
        cost(points, (*subset, last), price)
        for size in range(len(candidates) + 1)
        for subset in itertools.combinations(candidates, size)
        if keeps_gaps((*subset, last), max_gap, free_until)
    )
    assert cost(points, plan, price) == pytest.approx(best, rel=1e-12, abs=1e-12)


def test_the_fewest_polls_the_rule_forces_lie_a_whole_gap_back_from_the_next_point() -> None:
    # Tasks of 1 s and of 60.9 s, polls at most 30 s apart: one poll between,
    # at 30.9 s (a poll at 2 s, where a few finish, would not be worth it).
    plan = best_polls([(1.0, 0.5), (2.0, 1e-6), (60.9, 0.5)], 0.01, max_gap=30.0)
    assert plan == pytest.approx((1.0, 30.9, 60.9))
    # A first duration just past the cap: a poll before it, even with no
    # `free_until` (gaps are free only up to age 0 then).
    assert best_polls([(30.5, 1.0)], 0.1, max_gap=30.0) == pytest.approx((30.0, 30.5))
    short = best_polls([(0.9, 1.0)], 0.1, max_gap=0.5)
    assert len(short) == 2 and short[-1] == 0.9 and keeps_gaps(short, 0.5, 0.0)
    assert best_polls([(0.9, 1.0)], 0.1, max_gap=0.5, free_until=1.0) == (0.9,)


def test_a_plan_for_long_tasks_keeps_to_max_interval_from_its_first_poll() -> None:
    # Tasks of 40-110 s, the shortest learned 40 s, polls at most 30 s apart
    # once a completion is possible. The best plan for no rule polls first at
    # 55 s, then 70 s, ...: the cap would add a poll at 40 s in front of it.
    # Under the rule, the poll at 40 s is part of the plan, and the next ones
    # move for it (60 s, 75 s, ...).
    points = [(40.0 + 5.0 * i, 1 / 15) for i in range(15)]
    free = best_polls(points, 3.0)
    assert free[:2] == (55.0, 70.0)
    plan = best_polls(points, 3.0, max_gap=30.0, free_until=40.0)
    assert plan[:3] == (40.0, 60.0, 75.0)
    assert keeps_gaps(plan, 30.0, 40.0)
    assert cost(points, plan, 3.0) < cost(points, (40.0, *free), 3.0)
    assert best_polls(points, 3.0, max_gap=60.0, free_until=40.0) == free


def test_a_stretch_with_no_point_gets_polls_no_further_apart_than_the_rule() -> None:
    # Modes at 1 s and at 100 s: 99 s where nothing finishes, 30 s at most between
    # polls there, as few as the rule allows.
    points = [(1.0, 0.5), (100.0, 0.5)]
    plan = best_polls(points, 0.01, max_gap=30.0, free_until=1.0)
    assert plan[0] == 1.0 and plan[-1] == 100.0
    assert keeps_gaps(plan, 30.0, 1.0)
    assert len(plan) == 2 + math.ceil(99.0 / 30.0) - 1


# -- the learned distribution -------------------------------------------------------


def test_points_place_completions_in_the_eighth_of_the_bin_where_they_happened() -> None:
    model = DurationModel()
    model.seed([25.0] * 20)
    points = model.points(30.0)
    assert sum(weight for _, weight in points) == pytest.approx(1.0)
    k = bin_of(25.0)
    width = (edge(k + 1) - edge(k)) / SUB
    inside = [(age, weight) for age, weight in points if edge(k) < age <= edge(k + 1)]
    # One point, at the upper edge of 25 s's eighth of its bin (not at the bin's edge).
    assert inside == [(pytest.approx(edge(k) + width * (int((25.0 - edge(k)) / width) + 1)), ANY)]
    assert 25.0 <= inside[0][0] < 25.0 + width
    assert inside[0][1] == max(weight for _, weight in points)


def test_points_correct_for_tasks_still_running_and_end_at_the_horizon() -> None:
    model = DurationModel()
    for _ in range(10):
        model.learn(2.0)
    for _ in range(10):
        model.expose(0.0, 8.0)  # ten more seen running at 8 s, not finished
    points = model.points(8.0)
    assert points[-1] == (8.0, pytest.approx(0.5, abs=0.02))  # half are still running at 8 s
    assert sum(weight for age, weight in points if age < 3.0) == pytest.approx(0.5, abs=0.02)
    assert [age for age, _ in points] == sorted(age for age, _ in points)


def flat(points: list[tuple[float, float]]) -> list[float]:
    return [value for point in points for value in point]


def test_a_snapshot_keeps_where_in_their_bins_completions_happened() -> None:
    model = DurationModel()
    model.seed([1.0 + 0.37 * i for i in range(40)])
    copy = DurationModel()
    copy.seed(model.snapshot())
    assert flat(copy.points(20.0)) == pytest.approx(flat(model.points(20.0)))
    row = next(row for row in model.snapshot()["bins"] if row[2] > 0)
    assert len(row[4]) == SUB and sum(row[4]) == pytest.approx(row[2])


def test_a_snapshot_row_without_eighths_keeps_its_bin_s_mass_at_the_bin_s_upper_edge() -> None:
    model = DurationModel()
    model.seed([25.0] * 20)
    k = bin_of(25.0)
    rows = [row[:4] for row in model.snapshot()["bins"]]  # as written by earlier versions
    copy = DurationModel()
    copy.seed({"version": 1, "bins": rows})
    assert [age for age, _ in copy.points(30.0) if edge(k) < age <= edge(k + 1)] == [
        pytest.approx(edge(k + 1))
    ]


@pytest.mark.parametrize(
    "eighths",
    [[1.0] * (SUB - 1), [1.0] * (SUB - 1) + [-1.0], [1.0] * (SUB - 1) + [math.nan], "x" * SUB],
)
def test_a_snapshot_row_with_bad_eighths_is_refused(eighths: Any) -> None:
    k = bin_of(25.0)
    prior = {"version": 1, "bins": [[edge(k), edge(k + 1), 10.0, 250.0, eighths]]}
    with pytest.raises(ValueError, match=rf"prior\['bins'\]\[0\].*list of {SUB} completion"):
        DurationModel().seed(prior)


# -- following a plan ---------------------------------------------------------------


def bimodal(rng: random.Random, n: int) -> list[float]:
    return [rng.uniform(1.5, 2.5) if i % 3 else rng.uniform(25.0, 35.0) for i in range(n)]


def teach(schedule: AdaptiveSchedule, durations: list[float], *, batch: bool = False) -> None:
    for d in durations:
        schedule.observe(schedule.begin(0.0, batch=batch), finished(d), d)


def plain_batch_task(schedule: AdaptiveSchedule) -> tuple[Track, list[Track]]:
    """A task of a new batch that is not one of its sentinels (they probe on their own),
    and the sentinels (hold them: the batch lasts while its tasks are watched)."""
    sentinels = [schedule.begin(0.0, batch=True) for _ in range(schedule.sentinels)]
    return schedule.begin(0.0, batch=True), sentinels


def test_a_warm_batch_waits_for_the_long_mode_where_it_starts() -> None:
    # 2/3 of the tasks take 1.5-2.5 s, 1/3 take 25-35 s. The hazard's log bins are
    # ~2 s wide at 25 s; the plan places the first poll after the short mode where
    # the long tasks were seen to start finishing, not up to a bin earlier. (The
    # best fixed schedule for these 600 durations, at the schedule's price of a
    # poll, polls first at 26.78 s: benchmarks/frontier.py's best_for_price.)
    schedule = AdaptiveSchedule(seed=1, jitter=0.0)
    teach(schedule, bimodal(random.Random(1), 600), batch=True)
    track, _sentinels = plain_batch_task(schedule)
    schedule.observe(track, RUNNING, 3.0)
    first_long = 3.0 + schedule.next_delay(track, 3.0)
    assert 25.0 <= first_long <= 27.0


def test_a_warm_batch_keeps_its_plan_while_its_own_tasks_finish() -> None:
    schedule = AdaptiveSchedule(seed=1, jitter=0.0)
    teach(schedule, [10.0 + i % 10 for i in range(300)], batch=True)
    first, _sentinels = plain_batch_task(schedule)
    before = schedule.next_delay(first, 0.0)
    # The batch's first completions are its short tasks (10-12 s) while the others
    # run on: re-planned on a model that these keep moving, the plan of the rest of
    # the batch would move with every few of them.
    batch = [schedule.begin(0.0, batch=True) for _ in range(300)]
    for track in batch:
        schedule.observe(track, RUNNING, 10.0)
    for i, track in enumerate(batch):
        d = 10.0 + i % 10
        if d < 12.0:
            schedule.observe(track, finished(d), 12.0)
        else:
            schedule.observe(track, RUNNING, 12.0)
    assert schedule.observed == 360
    later = schedule.begin(0.0, batch=True)
    assert schedule.next_delay(later, 0.0) == before


def test_a_new_batch_plans_on_what_the_last_one_taught() -> None:
    schedule = AdaptiveSchedule(seed=1, jitter=0.0, half_life=32)
    teach(schedule, [10.0 + i % 10 for i in range(300)], batch=True)
    # A batch of 20-30 s tasks, then a new batch: planned on the 20-30 s tasks.
    batch = [schedule.begin(0.0, batch=True) for _ in range(300)]
    for track, d in zip(batch, [20.0 + i % 10 for i in range(300)], strict=True):
        schedule.observe(track, finished(d), d)
    fresh, _sentinels = plain_batch_task(schedule)
    assert 20.0 <= schedule.next_delay(fresh, 0.0) <= 30.0


def test_tasks_watched_one_by_one_follow_a_plan_renewed_as_completions_come_in() -> None:
    schedule = AdaptiveSchedule(seed=1, jitter=0.0, half_life=32)
    teach(schedule, [10.0 + i % 10 for i in range(300)])
    assert 10.0 <= schedule.next_delay(schedule.begin(0.0), 0.0) <= 20.0
    teach(schedule, [20.0 + i % 10 for i in range(300)])
    assert 20.0 <= schedule.next_delay(schedule.begin(0.0), 0.0) <= 30.0


def test_a_planned_poll_still_keeps_min_interval_and_max_interval() -> None:
    schedule = AdaptiveSchedule(seed=1, jitter=0.0, max_interval=5.0)
    teach(schedule, [1.0] * 50 + [30.0] * 50)
    track = schedule.begin(0.0)
    schedule.observe(track, RUNNING, 1.2)
    # The 30 s tasks are next, but completions are possible in between: 5 s at most.
    assert 0.0 < schedule.next_delay(track, 1.2) <= 5.0
    schedule.observe(track, RUNNING, 29.99)
    assert schedule.next_delay(track, 29.99) >= schedule.min_interval


def test_a_poll_made_early_stands_for_its_planned_age_and_one_made_late_for_itself() -> None:
    schedule = AdaptiveSchedule(seed=1, jitter=0.0)
    teach(schedule, [10.0 + i % 10 for i in range(300)])
    on_time, early, late = (schedule.begin(0.0) for _ in range(3))
    first = schedule.next_delay(on_time, 0.0)  # the plan's first age
    assert schedule.next_delay(early, 0.0) == schedule.next_delay(late, 0.0) == first
    schedule.observe(on_time, RUNNING, first)
    second = first + schedule.next_delay(on_time, first)
    assert second > first + 2 * schedule.min_interval
    # Polled 0.05 s early (jitter): polled again at the plan's second age, not
    # a few tenths after the first.
    schedule.observe(early, RUNNING, first - 0.05)
    assert first - 0.05 + schedule.next_delay(early, first - 0.05) == pytest.approx(second)
    # Polled late, closer to the second age than to the first (a busy client):
    # the second age still gets its poll.
    late_by = 0.75 * (second - first)
    schedule.observe(late, RUNNING, first + late_by)
    assert first + late_by + schedule.next_delay(late, first + late_by) == pytest.approx(
        max(second, first + late_by + schedule.min_interval)
    )


def planned_then_replaced(count: int) -> tuple[AdaptiveSchedule, list[Track], float]:
    """`count` tasks given their first poll on the plan learned from tasks of 10-19 s
    (at 12.0 s, returned), then that plan renewed by 256 tasks 0.5 s shorter."""
    schedule = AdaptiveSchedule(seed=1, jitter=0.0)
    teach(schedule, [10.0 + i % 10 for i in range(300)])
    tracks = [schedule.begin(0.0) for _ in range(count)]
    delays = [schedule.next_delay(track, 0.0) for track in tracks]  # each one planned
    teach(schedule, [9.5 + i % 10 for i in range(_STREAM_REPLAN)])
    return schedule, tracks, delays[0]


def plan_ages(schedule: AdaptiveSchedule, count: int) -> list[float]:
    """The first `count` poll ages of the current plan: a new task's, polled on time."""
    fresh = schedule.begin(0.0)
    ages = [schedule.next_delay(fresh, 0.0)]
    while len(ages) < count:
        schedule.observe(fresh, RUNNING, ages[-1])
        ages.append(ages[-1] + schedule.next_delay(fresh, ages[-1]))
    return ages


def test_a_poll_planned_on_a_plan_since_replaced_stands_for_the_nearest_age_of_the_new_one() -> (
    None
):
    schedule, (track,), first = planned_then_replaced(1)  # 12.0 s on the plan learned first
    # Tasks now take 0.5 s less: the plan renewed after 256 of them polls at
    # 12.53 s, 14.59 s, ... The poll at 12.0 s stands for 12.53 s, the nearest
    # age of the new plan: next at 14.59 s, not half a second later.
    renewed, renewed_second = plan_ages(schedule, 2)
    assert first < renewed < renewed_second
    assert renewed - first < (renewed_second - renewed) / 2
    schedule.observe(track, RUNNING, first)
    assert first + schedule.next_delay(track, first) == pytest.approx(renewed_second)


def test_a_late_poll_planned_on_a_replaced_plan_stands_for_the_age_it_is_nearest() -> None:
    schedule, (track, other), _ = planned_then_replaced(2)
    first, second, third = plan_ages(schedule, 3)  # 12.53 s, 14.59 s, 16.6 s
    # Polled late (a busy client), past the middle between the new plan's first
    # two ages: it stands for the second, and the next poll is the third.
    late = second - 0.4 * (second - first)
    schedule.observe(track, RUNNING, late)
    assert late + schedule.next_delay(track, late) == pytest.approx(third)
    # Polled before that middle: it stands for the first, the next is the second.
    early = first + 0.4 * (second - first)
    schedule.observe(other, RUNNING, early)
    assert early + schedule.next_delay(other, early) == pytest.approx(second)


def test_a_poll_on_a_replaced_plan_seen_past_all_of_the_new_plan_leaves_it() -> None:
    schedule, (track,), _ = planned_then_replaced(1)
    # Seen running at 40 s, past every age of the renewed plan (9.5-19.5 s tasks):
    # no planned age stands for that poll, and the next comes from the local rule,
    # never later than the geometric fallback.
    late = 40.0
    schedule.observe(track, RUNNING, late)
    delay = schedule.next_delay(track, late)
    assert schedule.min_interval <= delay <= schedule.fallback.from_age(late)


def test_a_plan_keeps_max_interval_and_a_jittered_gap_cut_by_it_costs_no_extra_poll() -> None:
    # Tasks of 1 s and of 30 s, at most 5 s between polls: the plan polls at
    # 1.2 s, then every 5 s or so until 30.13 s (the 30 s tasks' eighth of a
    # bin), six polls before 30 s with no jitter.
    def polls_before_30_s(seed: int, jitter: float) -> list[float]:
        schedule = AdaptiveSchedule(seed=seed, jitter=jitter, max_interval=5.0)
        teach(schedule, [1.0] * 50 + [30.0] * 50)
        track = schedule.begin(0.0)
        ages = [1.2]
        while ages[-1] < 30.0:
            schedule.observe(track, RUNNING, ages[-1])
            ages.append(ages[-1] + schedule.next_delay(track, ages[-1]))
        assert all(b - a <= 5.0 + 1e-9 for a, b in itertools.pairwise(ages))
        assert ages[-1] - 30.0 < 2.5  # the 30 s tasks seen within half the cap
        return [age for age in ages if age < 30.0]

    assert len(polls_before_30_s(1, 0.0)) == 6
    # Jittered, a planned gap of 5 s can come out longer, and the cap cuts it: a
    # poll the cap brought less early than the jitter could have stands for the
    # planned age (7.9 polls before 30 s on average when none stood, over these
    # 40 seeds; 6.7 now, the ones more from planned ages jittered early).
    counts = [len(polls_before_30_s(seed, 0.1)) for seed in range(1, 41)]
    assert sum(counts) / len(counts) < 7.0


def test_a_planned_poll_at_the_end_of_a_mode_is_not_jittered_into_it() -> None:
    # Tasks of 1.0-1.1 s and of 30 s: the plan's first age is the end of the
    # short mode, and a long gap follows. A poll jittered early there would
    # miss the last short tasks for ~29 s; jittered late, it costs a little lag.
    durations = [1.0 + 0.01 * (i % 10) if i % 3 else 30.0 for i in range(150)]
    exact = AdaptiveSchedule(seed=1, jitter=0.0)
    teach(exact, durations)
    planned = exact.next_delay(exact.begin(0.0), 0.0)
    jittered = AdaptiveSchedule(seed=1, jitter=0.1)
    teach(jittered, durations)
    firsts = [jittered.next_delay(jittered.begin(0.0), 0.0) for _ in range(200)]
    before, after = planned, 30.0 - planned  # the spacings around the planned age
    assert min(firsts) >= planned - 0.1 * before * before / after - 1e-9
    # Still spread later, by up to the jitter's share of the shorter spacing.
    assert planned + 0.09 * before < max(firsts) <= planned + 0.1 * before + 1e-9
    assert len(set(firsts)) > 100


def test_a_later_planned_poll_is_jittered_by_the_spacings_around_it() -> None:
    # Tasks of 1.0-1.9 s and of 30 s: the plan's last age for the short ones
    # sits between a short spacing before it and a long gap after. Its jitter
    # is a share of the shorter of the two (the spacing before).
    durations = [1.0 + 0.1 * (i % 10) if i % 3 else 30.0 for i in range(300)]
    exact = AdaptiveSchedule(seed=1, jitter=0.0)
    teach(exact, durations)
    exact.next_delay(exact.begin(0.0), 0.0)
    ages = exact._plans[2][1]
    i = next(j for j in range(1, len(ages) - 1) if ages[j + 1] - ages[j] > 2.0)
    before, after = ages[i] - ages[i - 1], ages[i + 1] - ages[i]
    assert before < after / 10
    jittered = AdaptiveSchedule(seed=1, jitter=0.1)
    teach(jittered, durations)
    polls = []
    for _ in range(60):  # few: more tasks seen running at that age would read as a shift
        task = jittered.begin(0.0)
        jittered.observe(task, RUNNING, ages[i - 1])
        polls.append(ages[i - 1] + jittered.next_delay(task, ages[i - 1]))
    assert jittered._plans[2][1] == ages
    assert all(abs(at - ages[i]) <= 0.1 * before + 1e-9 for at in polls)
    assert jittered._model.shifted == 0
    assert max(polls) > ages[i] + 0.08 * before  # spread later by up to that share
    assert len(set(polls)) > 50


def test_points_put_no_probability_where_no_task_was_seen_finishing() -> None:
    # Pooled with its neighbours, a mode's edge spilled probability into the
    # empty bins beside it, and the plan polled there (at 2.93 s, before 25 s).
    # Every neighbourhood that holds completions holds RICH of them or more
    # (nothing forgotten), where the bins' own estimates are trusted.
    durations = bimodal(random.Random(1), 600)
    model = DurationModel(half_life=10_000)
    for d in durations:
        model.learn(d)
    end = edge(bin_of(max(durations)) + 1)  # a bin's upper edge: no bin cut in two
    *inside, (horizon, past) = model.points(end)
    for age, weight in inside:
        k = bin_of(age - 1e-9)
        eighth = (edge(k + 1) - edge(k)) / SUB
        assert weight > 0
        assert any(age - eighth - 1e-9 <= d <= age + 1e-9 for d in durations), age
    assert horizon == end
    assert past == pytest.approx(0.0, abs=1e-9)
    assert sum(weight for _, weight in inside) == pytest.approx(1.0)


def test_points_pool_where_completions_are_few() -> None:
    # Four tasks of 2.0-2.1 s: too few to trust bin by bin (RICH), so the
    # pooled hazard spreads them over the bins beside theirs too.
    model = DurationModel()
    for d in (2.0, 2.03, 2.07, 2.1):
        model.learn(d)
    assert RICH > 4
    end = edge(bin_of(2.1) + 3)
    *inside, (_, past) = model.points(end)
    assert any(age > edge(bin_of(2.1) + 1) for age, _ in inside)
    assert any(age <= edge(bin_of(2.0)) for age, _ in inside)
    assert sum(weight for _, weight in inside) + past == pytest.approx(1.0)


def _mode_then_quiet(reach: float) -> tuple[DurationModel, int]:
    """A mode of 2 s tasks whose last bin `k` holds 4 completions, and 100 longer
    tasks seen running up to `reach`: the bin after `k` saw none (fewer than
    RICH nearby, so pooled), while bin `k` is estimated bin by bin."""
    k = bin_of(2.5)
    model = DurationModel(half_life=10_000)
    for i in range(60):
        model.learn(edge(k - 1) + (edge(k) - edge(k - 1)) * (i + 0.5) / 60)
    for i in range(4):
        model.learn(edge(k) + (edge(k + 1) - edge(k)) * (i + 0.5) / 5)
    for _ in range(100):
        model.expose(0.0, reach)
    model.forget_recent()  # as a new batch does: no shift verdict (plans need none)
    assert model.shifted == 0
    return model, k


def test_a_mode_does_not_spill_into_the_quiet_bin_after_it() -> None:
    # Pooled with bin k, bin k + 1 read as "a few finish here" although its
    # running time, at bin k's own rate, should have shown MIN_GAP completions
    # and showed none: the plan spent a poll at its edge (2.93 s in the
    # benchmark's warm bimodal batch).
    model, k = _mode_then_quiet(30.0)
    assert model._nearby(k + 1) < RICH * model._unit <= model._nearby(k)
    rate_k = model._events[k] / model._exposure[k]
    assert rate_k * model._exposure[k + 1] >= MIN_GAP * model._unit
    assert model.hazard_at(edge(k + 1)) > 0  # the pooled hazard (quantiles, local rule)
    *inside, _ = model.points(edge(k + 4))
    assert max(bin_of(age - 1e-9) for age, _ in inside) == k
    assert best_polls(model.points(edge(k + 4)), 0.05)[-2] <= edge(k + 1)


def test_a_quiet_bin_barely_reached_keeps_the_pooled_hazard() -> None:
    # Tasks seen running only just past bin k: too little running time to say
    # nothing finishes there (a shifted batch's first completions), so pooled.
    k = bin_of(2.5)
    model, _ = _mode_then_quiet(edge(k + 1) + 0.01)
    rate_k = model._events[k] / model._exposure[k]
    assert 0 < rate_k * model._exposure[k + 1] < MIN_GAP * model._unit
    points = model.points(edge(k + 2))
    before = 1.0 - sum(w for age, w in points if age <= edge(k + 1) + 1e-9)
    spilled = sum(w for age, w in points[:-1] if bin_of(age - 1e-9) == k + 1)
    width = edge(k + 2) - edge(k + 1)
    assert spilled == pytest.approx(before * -math.expm1(-model.hazard_at(edge(k + 1)) * width))
    assert spilled > 1e-3


@settings(max_examples=150, deadline=None)
@given(
    durations=st.lists(st.floats(min_value=0.01, max_value=100.0), min_size=1, max_size=60),
    running=st.lists(st.floats(min_value=0.01, max_value=100.0), max_size=30),
    horizon=st.floats(min_value=0.05, max_value=200.0),
)
def test_points_are_a_distribution_ending_at_the_horizon(
    durations: list[float], running: list[float], horizon: float
) -> None:
    # Rich bins (their own estimates) beside sparse ones (pooled), censored
    # tasks, horizons inside a bin or past everything: always a distribution.
    model = DurationModel()
    for d in durations:
        model.learn(d)
    for age in running:
        model.expose(0.0, age)
    points = model.points(horizon)
    ages = [age for age, _ in points]
    assert ages == sorted(ages)
    assert ages[-1] == horizon
    assert all(0.0 < age <= horizon for age in ages)
    assert all(weight >= 0.0 for _, weight in points)
    assert sum(weight for _, weight in points) == pytest.approx(1.0)


# -- the server's age of a task leads the client's -----------------------------------


def teach_with_lead(schedule: AdaptiveSchedule, durations: list[float], lead: float) -> None:
    """Tasks created `lead` seconds before their submission's answer reached the client:
    each is seen running at client age d - lead - 0.5 and finished at d - lead + 0.05."""
    for d in durations:
        track = schedule.begin(0.0)
        schedule.observe(track, RUNNING, d - lead - 0.5)
        schedule.observe(track, finished(d), d - lead + 0.05)


def test_a_plan_is_followed_in_the_server_s_ages_of_the_tasks() -> None:
    durations = [10.0 + (i % 20) / 2 for i in range(400)]
    on_time = AdaptiveSchedule(seed=1, jitter=0.0)
    teach_with_lead(on_time, durations, 0.0)
    late = AdaptiveSchedule(seed=1, jitter=0.0)
    teach_with_lead(late, durations, 0.4)
    # The same durations, the same plan; the client that sees its tasks 0.4 s
    # after they were created polls 0.4 s earlier by its own clock.
    early = on_time.next_delay(on_time.begin(0.0), 0.0) - late.next_delay(late.begin(0.0), 0.0)
    assert early == pytest.approx(0.4, abs=0.1)


def test_a_lead_of_more_than_two_seconds_is_taken_as_two() -> None:
    # Answers that say tasks finished 5 s before the client's age said (the
    # schedule accepts such within its slack of 0.5 s + 5 % of the age); max_interval
    # 300 s so that the plan's first poll, near 100 s, is not capped.
    durations = [100.0 + i % 10 for i in range(400)]
    schedule = AdaptiveSchedule(seed=1, jitter=0.0, max_interval=300.0)
    teach_with_lead(schedule, durations, 5.0)
    reference = AdaptiveSchedule(seed=1, jitter=0.0, max_interval=300.0)
    teach_with_lead(reference, durations, 2.0)
    assert schedule.observed == reference.observed == 400
    first = reference.next_delay(reference.begin(0.0), 0.0)
    assert first > 95.0
    assert schedule.next_delay(schedule.begin(0.0), 0.0) == pytest.approx(first, abs=0.3)


def test_answers_that_say_tasks_ended_before_they_were_seen_running_give_no_lead() -> None:
    durations = [100.0 + i % 10 for i in range(400)]
    schedule = AdaptiveSchedule(seed=1, jitter=0.0, max_interval=300.0)
    teach_with_lead(schedule, durations, -1.0)
    # The same answers, on tasks whose age the client does not know (no lead learned).
    reference = AdaptiveSchedule(seed=1, jitter=0.0, max_interval=300.0)
    for d in durations:
        track = reference.begin(0.0, exact=False)
        reference.observe(track, RUNNING, d + 0.5)
        reference.observe(track, finished(d), d + 1.05)
    assert schedule.observed == reference.observed == 400
    assert schedule.next_delay(schedule.begin(0.0), 0.0) == pytest.approx(
        reference.next_delay(reference.begin(0.0), 0.0)
    )


def test_a_plan_revised_before_its_poll_keeps_the_poll_where_it_was() -> None:
    schedule = AdaptiveSchedule(seed=1, jitter=0.2)
    teach(schedule, [10.0 + i % 10 for i in range(300)])
    track = schedule.begin(0.0)
    first = schedule.next_delay(track, 0.0)
    # The engine revises provisional plans whenever `epoch` moves: the revised
    # poll is the same one, not a new jitter draw (the earliest of many draws
    # would come systematically early).
    assert [schedule.next_delay(track, 1.0) for _ in range(20)] == [first - 1.0] * 20
    schedule.observe(track, RUNNING, first)
    second = schedule.next_delay(track, first)
    assert second > 2 * schedule.min_interval
    assert schedule.next_delay(track, first + 0.5) == pytest.approx(second - 0.5)


def test_a_plan_is_made_while_most_tasks_are_still_running() -> None:
    # One task finished at 5 s, nine still running at 60 s: no median yet, so the
    # price of a poll comes from the durations seen (the plan still follows).
    schedule = AdaptiveSchedule(seed=1, jitter=0.0)
    running = [schedule.begin(0.0) for _ in range(9)]
    teach(schedule, [5.0])
    for track in running:
        schedule.observe(track, RUNNING, 60.0)
    assert schedule.quantile(0.5) is None
    first = schedule.next_delay(schedule.begin(0.0), 0.0)
    assert 5.0 <= first <= 6.0  # where the one completion was seen


def test_a_task_not_polled_yet_follows_its_plan_when_the_plan_moves() -> None:
    schedule = AdaptiveSchedule(seed=1, jitter=0.0, half_life=32)
    teach(schedule, [10.0 + i % 10 for i in range(300)])
    track = schedule.begin(0.0)
    assert 10.0 <= schedule.next_delay(track, 0.0) <= 20.0
    teach(schedule, [20.0 + i % 10 for i in range(300)])  # the workload moved to 20-30 s
    assert schedule.next_delay(track, 0.0) == schedule.next_delay(schedule.begin(0.0), 0.0)
    assert schedule.next_delay(track, 0.0) >= 20.0


def skewed(n: int) -> list[float]:
    """Durations within 10-20 s, as `teach`'s 10-20 s, but bunched towards 10-12 s."""
    return [10.0 + (i % 10) * 0.2 + (5.0 if i % 4 == 0 else 0.0) for i in range(n)]


def test_the_plan_of_tasks_watched_one_by_one_is_renewed_every_few_hundred_completions() -> None:
    schedule = AdaptiveSchedule(seed=1, jitter=0.0, half_life=32)
    teach(schedule, [10.0 + i % 10 for i in range(_STREAM_REPLAN)])
    before = schedule.next_delay(schedule.begin(0.0), 0.0)
    # The workload moves within the same range: the plan holds until the next renewal...
    teach(schedule, skewed(_STREAM_REPLAN - 1))
    assert schedule.next_delay(schedule.begin(0.0), 0.0) == before
    teach(schedule, [10.4])  # ... and is renewed there, on what was learned meanwhile
    assert schedule.next_delay(schedule.begin(0.0), 0.0) < before


def test_a_warm_batch_keeps_its_plan_past_a_renewal_of_the_one_by_one_plan() -> None:
    schedule = AdaptiveSchedule(seed=1, jitter=0.0, half_life=32)
    teach(schedule, [10.0 + i % 10 for i in range(_STREAM_REPLAN - 6)])
    first, _sentinels = plain_batch_task(schedule)
    before = schedule.next_delay(first, 0.0)
    teach(schedule, skewed(40), batch=True)  # past a multiple of _STREAM_REPLAN completions
    later = schedule.begin(0.0, batch=True)
    assert schedule.next_delay(later, 0.0) == before


def test_past_the_plan_s_last_age_but_one_a_task_is_polled_by_the_local_rule() -> None:
    # Tasks of 10-20 s: the plan's last age is the oldest age seen running (the
    # upper edge of 19.x s's bin). A task seen running at 19.3 s is polled where
    # the local rule says, as a task that follows no plan is, not at that edge.
    delays = []
    for planned in (True, False):
        schedule = AdaptiveSchedule(seed=1, jitter=0.0)
        planless = schedule.begin(0.0)  # watched before anything was learned: no plan
        teach(schedule, [10.0 + i % 10 for i in range(300)])
        track = schedule.begin(0.0) if planned else planless
        schedule.observe(track, RUNNING, 19.3)
        delays.append(schedule.next_delay(track, 19.3))
    assert delays[0] == delays[1]
    assert 19.3 + delays[0] > edge(bin_of(19.0) + 1)


def test_a_prior_that_knows_no_median_yet_still_gives_a_plan() -> None:
    donor = AdaptiveSchedule(seed=1)
    running = [donor.begin(0.0) for _ in range(9)]
    teach(donor, [5.0])
    for track in running:
        donor.observe(track, RUNNING, 60.0)
    schedule = AdaptiveSchedule(prior=donor.snapshot(), seed=1, jitter=0.0)
    assert schedule.quantile(0.5) is None
    assert 5.0 <= schedule.next_delay(schedule.begin(0.0), 0.0) <= 6.0


def test_a_warm_batch_re_planned_mid_batch_keeps_the_price_of_its_first_plan() -> None:
    # Learned: a third each at ~1 s, ~10 s and ~100 s. A warm batch's 1 s tasks
    # finish first and pull the recent completions' scale (what `_cost` reads)
    # down to ~1 s; a completion shorter than any learned then grows the support
    # and the batch is planned again, at the price it was first planned at, not
    # at a tenth of it (simulated trimodal, seed 2, busy client: 8.8 polls a
    # task instead of 4.7, the 100 s mode polled about every second).
    rng = random.Random(1)
    modes = ((0.8, 1.2), (8.0, 12.0), (80.0, 120.0))
    schedule = AdaptiveSchedule(
        prior=[rng.uniform(*rng.choice(modes)) for _ in range(600)], seed=1, jitter=0.0
    )
    track, sentinels = plain_batch_task(schedule)
    schedule.next_delay(track, 0.0)
    first = schedule._batch_price
    assert first is not None and schedule._support is not None
    before = schedule._plan(_BATCH_PLAN, schedule._support[1])
    schedule._scale = math.log(1.0)  # what the batch's first 32 completions leave
    schedule.observe(sentinels[0], finished(0.3), 0.35)  # shorter than any learned
    assert schedule._support[0] < 0.3 and schedule._verdicts == 0
    horizon = schedule._support[1]
    assert schedule._cost(horizon) < first[1] / 4
    key = schedule._plans[_BATCH_PLAN][0]
    after = schedule._plan(_BATCH_PLAN, horizon)
    assert schedule._plans[_BATCH_PLAN][0] != key  # planned again, on the grown support ...
    assert schedule._batch_price == first  # ... at the batch's price
    assert len(after) <= len(before) + 2
    # A new batch is priced afresh.
    del track, sentinels
    fresh = schedule.begin(10.0, batch=True)
    schedule.next_delay(fresh, 10.0)
    assert schedule._batch_price is not None and schedule._batch_price[0] != first[0]
