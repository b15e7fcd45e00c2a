"""`DurationModel` (the survival estimate behind `AdaptiveSchedule`): the details a
mutation run of `_estimator` found unchecked: its bins, its validation messages,
what a snapshot holds and how seeding adds up, and when it re-estimates."""

from __future__ import annotations

import math
from typing import Any

import pytest

from stablebrowse_async._estimator import NBINS, SUB, DurationModel, bin_of, edge
from tests.unit.test_schedule import local_hazard

FIRST_EDGE = edge(1)
STEP = edge(2) / edge(1)
WEEK = 7 * 86400.0


def test_bins_start_at_zero_then_grow_geometrically_from_50_ms() -> None:
    assert edge(0) == 0.0
    assert edge(-2) == 0.0
    assert FIRST_EDGE == 0.05
    assert edge(2) / edge(1) == pytest.approx(2 ** (1 / 8))
    assert edge(9) == pytest.approx(0.1)  # eight bins per doubling
    assert edge(NBINS) > 2 * 86400.0


@pytest.mark.parametrize(
    "seconds", [0.0, 0.01, 0.049, 0.05, 0.051, 0.3, 1.0, 20.0, 3600.0, 150_000.0]
)
def test_every_duration_falls_in_the_bin_between_its_edges(seconds: float) -> None:
    k = bin_of(seconds)
    assert edge(k) <= seconds < edge(k + 1)


def test_a_duration_past_the_last_bin_falls_in_the_last_bin() -> None:
    assert bin_of(10 * WEEK) == NBINS - 1
    assert bin_of(1e12) == NBINS - 1


@pytest.mark.parametrize("name", ["half_life", "recent_half_life"])
def test_bad_half_lives_are_refused_naming_the_argument_and_the_type(name: str) -> None:
    with pytest.raises(TypeError, match=rf"^{name} must be a number, got str$"):
        DurationModel(**{name: "10"})
    with pytest.raises(ValueError, match=rf"^{name} must be a finite number >= 1"):
        DurationModel(**{name: 0.5})


def test_the_half_lives_default_to_256_and_16_completions() -> None:
    model = DurationModel()
    assert (model.half_life, model.recent_half_life) == (256.0, 16.0)
    assert model.snapshot()["half_life"] == 256.0


def test_a_fresh_model_knows_nothing() -> None:
    model = DurationModel()
    assert model.support() is None
    assert model.median is None
    assert model.edge() == (0.0, 0.0)
    assert model.shifted == 0
    assert model.survival(30.0) == 1.0
    assert model.hazard_at(1.0) == 0.0
    assert model.refreshes == 0
    assert model.snapshot() == {
        "version": 1,
        "observed": 0,
        "ignored": 0,
        "weight": 0.0,
        "half_life": 256.0,
        "quantiles": {"p10": None, "p50": None, "p90": None},
        "bins": [],
    }


def test_tasks_shorter_than_the_first_bin_have_a_median_below_it() -> None:
    model = DurationModel()
    model.seed([0.01] * 10)
    median = model.median
    assert median is not None and median < FIRST_EDGE


def test_prior_durations_in_the_open_range_up_to_a_week_are_accepted() -> None:
    model = DurationModel()
    model.seed([0.5, WEEK])
    assert model.observed == 2
    with pytest.raises(ValueError, match=r"prior\[0\]"):
        DurationModel().seed([0.0])
    with pytest.raises(
        TypeError,
        match=r"^prior must be a snapshot\(\) dict or a list of durations in seconds, got int$",
    ):
        DurationModel().seed(5)  # type: ignore[arg-type]


def test_re_estimation_happens_once_per_change_and_counts_by_one() -> None:
    model = DurationModel()
    model.learn(10.0)
    assert model.median is not None
    assert model.refreshes == 1
    assert model.median is not None
    assert model.refreshes == 1  # nothing new: no new estimate
    model.learn(12.0)
    assert model.median is not None
    assert model.refreshes == 2


def test_a_little_more_running_time_waits_for_the_next_estimate() -> None:
    model = DurationModel()
    for _ in range(200):
        model.learn(10.0)
    model.expose(0.0, 9.0)  # more running time of a task still running
    _ = model.median
    refreshes = model.refreshes
    model.expose(99.0, 100.0)  # one second: far less than 2 %, however old the task
    _ = model.median
    assert model.refreshes == refreshes
    model.expose(0.0, 100.0)  # 5 %: re-estimated
    _ = model.median
    assert model.refreshes == refreshes + 1


def test_running_time_of_exactly_2_percent_more_waits_for_the_next_estimate() -> None:
    model = DurationModel()
    model.expose(0.0, 50.0)
    _ = model.median
    refreshes = model.refreshes
    model.expose(0.0, 0.02 * model._total)  # exactly 2 %: not more
    _ = model.median
    assert model.refreshes == refreshes
    model.expose(0.0, 0.001)
    _ = model.median
    assert model.refreshes == refreshes + 1


def test_a_quantile_reached_exactly_at_a_bin_s_edge_lies_at_that_edge() -> None:
    # The cumulative hazard reaches the target exactly at the end of bin 40,
    # and the next bin has no hazard (a gap between modes): the walk stops at
    # that edge, not in the next bin with a hazard.
    model = DurationModel()
    k = 40
    model._hazard[k], model._hazard[k + 2] = 0.5, 0.25
    model._cum[k + 1] = model._cum[k] + 0.5 * (edge(k + 1) - edge(k))
    model._cum[k + 2] = model._cum[k + 1]
    model._cum[k + 3] = model._cum[k + 2] + 0.25 * (edge(k + 3) - edge(k + 2))
    assert model._walk(k, model._cum[k + 1], 0.0) == pytest.approx(edge(k + 1))


def test_a_completion_where_none_was_learned_is_estimated_at_once() -> None:
    model = DurationModel()
    for _ in range(300):
        model.learn(2.0)
    for _ in range(100):
        model.expose(0.0, 29.5)  # the long tasks, still running
    assert model.hazard_at(30.0) == 0.0
    refreshes = model.refreshes
    model.expose(29.5, 30.0)  # far less than 2 % more running time
    model.finish(30.0)  # the first long one: news, not 1 % more of what was learned
    assert model.hazard_at(30.0) > 0.0
    assert model.refreshes == refreshes + 1
    model.expose(29.5, 30.0)
    model.finish(30.0)  # the second in that bin waits for the next 1 %
    _ = model.median
    assert model.refreshes == refreshes + 1


def test_running_time_outside_zero_to_a_week_is_not_credited() -> None:
    model = DurationModel()
    for start, end in [(5.0, 5.0), (6.0, 5.0), (-1.0, 5.0), (0.0, WEEK * 1.01)]:
        model.expose(start, end)
    assert model.snapshot()["bins"] == []
    model.expose(0.0, WEEK)  # a week is the longest duration taken
    rows = model.snapshot()["bins"]
    assert rows[0] == [0.0, FIRST_EDGE, 0.0, pytest.approx(FIRST_EDGE), [0.0] * SUB]


def test_a_snapshot_rounds_and_lists_only_the_bins_that_saw_something() -> None:
    model = DurationModel()
    model.seed([3.3, 3.3, 47.0])
    snapshot = model.snapshot()
    assert snapshot["observed"] == 3
    # The weight (forgetting makes it a little less than 3) and the quantiles, to 3 decimals.
    assert snapshot["weight"] == round(model.weight, 3) < 3.0
    for name, q in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9)):
        value = model.quantile(q)
        assert value is not None and value != round(value)
        assert snapshot["quantiles"][name] == round(value, 3)
    rows = snapshot["bins"]
    # Exposure from 0 to 47 s covers every bin up to the one of 47 s, no further.
    assert len(rows) == bin_of(47.0) + 1
    for k, row in enumerate(rows):
        assert row[0] == round(edge(k), 6)
        assert row[1] == round(edge(k + 1), 6)
    assert rows[bin_of(3.3)][2] == pytest.approx(2.0, rel=0.02)


def snapshot_with(bins: list[Any], **fields: Any) -> dict[str, Any]:
    return {"version": 1, "bins": bins, **fields}


def test_seeding_adds_the_snapshot_to_what_was_learned() -> None:
    donor = DurationModel()
    donor.seed([20.0] * 8)
    model = DurationModel()
    model.seed([20.0] * 40)  # its counts have a unit other than 1 by now
    before = model.snapshot()
    model.seed(donor.snapshot())
    after = model.snapshot()
    assert after["observed"] == 48
    k = bin_of(20.0)
    events = {round(row[0], 3): row[2] for row in after["bins"]}
    old = {round(row[0], 3): row[2] for row in before["bins"]}
    assert events[round(edge(k), 3)] == pytest.approx(old[round(edge(k), 3)] + 8.0, rel=0.02)
    # So do the running time and the completions by eighth of the bin.
    donated = {round(row[0], 3): row for row in donor.snapshot()["bins"]}
    olds = {round(row[0], 3): row for row in before["bins"]}
    for row in after["bins"]:
        low = round(row[0], 3)
        assert row[3] == pytest.approx(olds[low][3] + donated[low][3], rel=0.02)
        assert row[4] == pytest.approx(
            [a + b for a, b in zip(olds[low][4], donated[low][4], strict=True)], rel=0.02
        )
    assert any(sum(row[4]) > 0 for row in after["bins"])


def test_two_rows_of_one_bin_both_count() -> None:
    low, high = edge(40), edge(41)
    model = DurationModel()
    model.seed(snapshot_with([[low, high, 3.0, 1.0], [low, high, 2.0, 1.0]]))
    (row,) = model.snapshot()["bins"]
    assert row[2:4] == pytest.approx([5.0, 2.0])


@pytest.mark.parametrize(
    ("observed", "expected"),
    [(5, 5), (1, 1), (0, 0), (-3, 0), (True, 0), ("7", 0), (None, 0)],
)
def test_a_snapshot_s_observed_count_is_added_when_it_is_a_positive_int(
    observed: Any, expected: int
) -> None:
    model = DurationModel()
    model.learn(2.0)
    model.seed(snapshot_with([], observed=observed))
    assert model.observed == 1 + expected
    model.seed(snapshot_with([]))  # no count at all
    assert model.observed == 1 + expected


@pytest.mark.parametrize(
    "row",
    [
        [1.0, 2.0, -1.0, 1.0],
        [1.0, 2.0, 1.0, -1.0],
        [-1.0, 2.0, 1.0, 1.0],
        [2.0, 2.0, 1.0, 1.0],
        [1.0, 2.0, 1.0],
        "1, 2, 1, 1",
    ],
)
def test_a_bad_snapshot_row_is_refused_naming_it(row: Any) -> None:
    with pytest.raises(ValueError, match=r"^prior\['bins'\]\[1\] must be \[low, high"):
        DurationModel().seed(snapshot_with([[1.0, 2.0, 0.0, 1.0], row]))


def test_a_bin_with_completions_but_no_running_time_survives_a_snapshot() -> None:
    # Half a completion (what forgetting leaves of one), no running time credited.
    low, high = edge(40), edge(41)
    model = DurationModel()
    model.seed(snapshot_with([[low, high, 0.5, 0.0]]))
    (row,) = model.snapshot()["bins"]
    assert row[2:4] == [0.5, 0.0]


def test_a_model_seeded_from_a_snapshot_has_the_same_support() -> None:
    model = DurationModel()
    model.seed([3.0, 10.0, 47.0])
    copy = DurationModel()
    copy.seed(model.snapshot())
    assert copy.support() == model.support() == (edge(bin_of(3.0)), edge(bin_of(47.0) + 1))
    lone = DurationModel()
    lone.seed(snapshot_with([[edge(40), edge(41), 1.0, 1.0]]))
    assert lone.support() == (edge(40), edge(41))


def test_snapshot_rows_with_no_completion_or_up_to_the_last_edge_are_accepted() -> None:
    model = DurationModel()
    model.seed(snapshot_with([[1.0, 2.0, 0.0, 0.0], [WEEK, WEEK * STEP, 1.0, 0.0]]))
    model.seed(snapshot_with([[WEEK / STEP, WEEK * 1.01, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="beyond"):
        DurationModel().seed(snapshot_with([[WEEK, WEEK * STEP * 1.001, 1.0, 1.0]]))


@pytest.mark.parametrize("prior", [{"version": 1, "bins": "x"}, {"version": 1}, {"bins": []}])
def test_a_snapshot_without_its_version_or_bins_is_refused(prior: Any) -> None:
    with pytest.raises(
        ValueError, match=r"^prior must be a snapshot\(\) of version 1 with a 'bins' list$"
    ):
        DurationModel().seed(prior)


def test_the_hazard_integrates_to_the_survival_within_a_bin() -> None:
    model = DurationModel()
    model.seed([float(d) for d in range(5, 60)])
    for age in (7.3, 21.0, 40.2):
        k = bin_of(age)
        inside = model.cumulative_hazard(age) - model.cumulative_hazard(edge(k))
        assert inside == pytest.approx(model.hazard_at(age) * (age - edge(k)))
        assert model.survival(age) == pytest.approx(math.exp(-model.cumulative_hazard(age)))
    assert [low for low, _, _ in model.segments(7.3)][:2] == [7.3, edge(bin_of(7.3) + 1)]
    segments = list(model.segments(0.0))
    assert len(segments) == NBINS
    assert all(high == pytest.approx(edge(k + 1)) for k, (_, high, _) in enumerate(segments))


def test_quantiles_are_refused_outside_zero_to_one() -> None:
    model = DurationModel()
    model.seed([10.0] * 5)
    for q in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="q must be in"):
            model.quantile(q)


def test_the_support_spans_the_bins_of_the_shortest_and_longest_completions() -> None:
    model = DurationModel()
    model.seed([10.0])
    assert model.support() == (edge(bin_of(10.0)), edge(bin_of(10.0) + 1))
    model.seed([3.0])
    assert model.support() == (edge(bin_of(3.0)), edge(bin_of(10.0) + 1))


def test_a_completion_long_forgotten_leaves_the_support() -> None:
    model = DurationModel()
    model.seed([3.0])
    model.seed([10.0] * 4000)  # 15 half-lives later the 3 s task weighs 2e-5
    assert model.support() == (edge(bin_of(10.0)), edge(bin_of(10.0) + 1))


@pytest.mark.parametrize("duration", [10.0, 0.03])
def test_the_edge_is_where_tasks_were_last_seen_running_and_its_measured_hazard(
    duration: float,
) -> None:
    model = DurationModel()
    model.seed([duration] * 5)
    k = bin_of(duration)
    horizon, rate = model.edge()
    assert horizon == edge(k + 1)
    # Completions over running time in the last two bins seen: each task ran
    # there from the lower edge of the first of them to its end.
    low = edge(max(0, k - 1))
    assert rate == pytest.approx(1.0 / (duration - low), rel=0.01)


def test_durations_up_to_a_week_have_bins_of_their_own() -> None:
    # The bins used to end at 53 h: exposure past it was credited as negative time.
    assert edge(NBINS) > 7 * 86400.0 >= edge(NBINS - 1)
    model = DurationModel()
    for _ in range(20):
        model.learn(10.0)
    model.expose(60 * 3600.0, 61 * 3600.0)
    model.learn(6 * 86400.0)
    model._settle()
    assert min(model._exposure) >= 0.0
    assert all(rate >= 0.0 for rate in model._hazard)
    assert model.survival(100.0) >= model.survival(61 * 3600.0) >= model.survival(7 * 86400.0)
    assert model.hazard_at(60.5 * 3600.0) == 0.0  # seen running there, nothing finished


def test_a_shift_verdict_is_taken_back_as_soon_as_a_new_batch_starts() -> None:
    model = DurationModel()
    for i in range(300):
        model.learn(10.0 + i % 10)
    for _ in range(20):
        model.learn(1.0)  # recent completions where the long run has none: a shift
    assert model.shifted > 0
    model.forget_recent()  # a new batch: tested on its own evidence, none yet
    assert model.shifted == 0


# -- the distribution the plans are made on (`points`) ---------------------------------


def test_points_below_one_second_and_their_horizon() -> None:
    model = DurationModel()
    for _ in range(10):
        model.learn(0.3)
    for _ in range(10):
        model.expose(0.0, 0.5)  # ten more seen running at 0.5 s
    points = model.points(0.5)
    assert sum(weight for age, weight in points if age < 0.4) == pytest.approx(0.5, abs=0.05)
    assert points[-1] == (0.5, pytest.approx(0.5, abs=0.05))


def test_points_of_tasks_shorter_than_the_first_bin_lie_in_it() -> None:
    model = DurationModel()
    for _ in range(10):
        model.learn(0.02)
    for _ in range(10):
        model.learn(1.0)
    points = model.points(2.0)
    assert points[0][0] < FIRST_EDGE
    assert sum(weight for age, weight in points if age <= FIRST_EDGE) == pytest.approx(
        0.5, abs=0.05
    )


def test_points_list_only_ages_where_tasks_may_finish() -> None:
    model = DurationModel()
    for _ in range(20):
        model.learn(10.0)
    points = model.points(12.0)
    # Not one point per bin from 0 s: those below 9 s hold nothing.
    assert all(weight > 0 for _, weight in points[:-1])
    assert min(age for age, _ in points) > 8.0
    assert sum(weight for _, weight in points) == pytest.approx(1.0)


def test_points_up_to_a_horizon_past_the_last_bin_end_there() -> None:
    model = DurationModel()
    for _ in range(10):
        model.learn(2.0)
    points = model.points(3 * WEEK)
    assert points[-1][0] == 3 * WEEK
    assert sum(weight for _, weight in points) == pytest.approx(1.0)


def test_no_points_up_to_age_zero() -> None:
    model = DurationModel()
    for _ in range(10):
        model.learn(2.0)
    assert model.points(0.0) == []


# -- `points`: each bin's own estimate where completions are plenty (RICH) -----------


def _bin_weight(points: list[tuple[float, float]], k: int) -> float:
    return sum(w for age, w in points if edge(k) < age <= edge(k + 1))


def _learned(*groups: tuple[int, float, int]) -> DurationModel:
    """A model that learned, for each (bin k, share, count), `count` tasks that
    took `share` of the way through bin `k`."""
    model = DurationModel()
    for k, share, count in groups:
        for _ in range(count):
            model.learn(edge(k) + share * (edge(k + 1) - edge(k)))
    return model


def _before(points: list[tuple[float, float]], age: float) -> float:
    return sum(w for a, w in points if a <= age + 1e-12)


def test_points_where_completions_are_few_follow_the_pooled_survival() -> None:
    model = DurationModel()
    for d in (2.0, 2.03, 2.07, 2.1):
        model.learn(d)
    k = bin_of(2.0)
    points = model.points(edge(k + 3))
    for j in range(k - 2, k + 2):
        assert _before(points, edge(j + 1)) == pytest.approx(
            1.0 - model.survival(edge(j + 1)), abs=1e-9
        )


def test_a_neighbourhood_of_exactly_rich_completions_is_estimated_bin_by_bin() -> None:
    # Learned tasks are forgotten a little at every completion, so only a
    # snapshot holds exactly RICH (5) completions: enough, no spill beside them.
    k = bin_of(10.0)
    rows = [[edge(j), edge(j + 1), 5.0 if j == k else 0.0, 5.0] for j in range(k - 2, k + 3)]
    model = DurationModel()
    model.seed({"version": 1, "bins": rows})
    *inside, _ = model.points(edge(k + 3))
    assert [bin_of(age - 1e-9) for age, _ in inside] == [k]
    # Its own rate (5 in 5 s of running time), not the pooled one (5 in 15 s).
    assert inside[0][1] == pytest.approx(-math.expm1(-(edge(k + 1) - edge(k))))


# -- `points`: a quiet bin beside a mode's edge ----------------------------------------

Q = bin_of(10.0)  # the quiet bin: no completion, fewer than RICH nearby (pooled)


def _seeded(bins: dict[int, tuple[float, float]], halvings: int = 0) -> DurationModel:
    """A model holding exactly these (completions, running seconds) per bin, then
    everything halved `halvings` times by completions far away (its weight unit
    doubles each time: stored counts stay, what they are worth halves)."""
    model = DurationModel(half_life=1.0)
    model.seed(
        {"version": 1, "bins": [[edge(k), edge(k + 1), ev, ex] for k, (ev, ex) in bins.items()]}
    )
    for _ in range(halvings):
        model.finish(5000.0)
    return model


def _quiet_mass(model: DurationModel, k: int = Q) -> float:
    return _bin_weight(model.points(edge(k + 2)), k)


# The mode's last bin Q-1 holds 4 completions in 4 s of running time (a rate of
# 1/s) and Q-2 many more, so Q-1 is estimated bin by bin; Q-6 and Q+2 hold two
# each, too few to be estimated bin by bin (and outside Q's neighbourhood).
_MODE = {Q - 6: (2.0, 2.0), Q - 2: (10.0, 10.0), Q - 1: (4.0, 4.0), Q + 2: (2.0, 2.0)}


@pytest.mark.parametrize(
    ("rows", "halvings", "spills"),
    [
        # Q's 3 s of running time at Q-1's rate: exactly MIN_GAP (3) completions.
        ({**_MODE, Q: (0.0, 3.0), Q + 1: (0.0, 1.0)}, 0, False),
        ({**_MODE, Q: (0.0, 2.9), Q + 1: (0.0, 1.0)}, 0, True),
        # Q-1's neighbourhood holds exactly RICH (5) completions.
        ({**_MODE, Q - 2: (1.0, 1.0), Q: (0.0, 3.0), Q + 1: (0.0, 1.0)}, 0, False),
        # Q-1's running time is short (0.5 s, a rate of 8/s): still its own estimate.
        ({**_MODE, Q - 1: (4.0, 0.5), Q: (0.0, 1.0), Q + 1: (0.0, 1.0)}, 0, False),
        # Q-1 saw completions but no running time: no rate of its own to go by.
        ({**_MODE, Q - 1: (4.0, 0.0), Q: (0.0, 3.0), Q + 1: (0.0, 1.0)}, 0, True),
        # Halved twice (a unit of 4): Q's stored 3 s are worth 0.75 s, 0.75
        # completions at Q-1's rate, short of MIN_GAP.
        ({**_MODE, Q - 2: (40.0, 40.0), Q: (0.0, 3.0), Q + 1: (0.0, 1.0)}, 2, True),
        # ... and Q-1's stored 10 completions around it are worth 2.5, short of RICH.
        ({**_MODE, Q - 2: (6.0, 6.0), Q: (0.0, 20.0), Q + 1: (0.0, 1.0)}, 2, True),
    ],
)
def test_a_quiet_bin_is_pooled_without_a_neighbour_whose_own_rate_it_contradicts(
    rows: dict[int, tuple[float, float]], halvings: int, spills: bool
) -> None:
    model = _seeded(rows, halvings)
    assert model.shifted == 0
    mass = _quiet_mass(model)
    if spills:
        # The pooled hazard of Q-1..Q+1 (Q-1's completions included).
        points = model.points(edge(Q + 2))
        alive = 1.0 - _before(points, edge(Q))
        width = edge(Q + 1) - edge(Q)
        assert mass == pytest.approx(alive * -math.expm1(-model.hazard_at(edge(Q)) * width))
        assert mass > 0
    else:
        # Pooled with Q+1 alone: neither saw a completion. (Not with Q-6 or
        # Q+2, outside Q's neighbourhood.)
        assert mass == 0.0


def test_a_quiet_bin_pooled_without_one_neighbour_keeps_the_other() -> None:
    # Q-1 (3 in 3 s) expects 3 completions in Q's 3 s and is left out; Q+1's
    # one completion in 1 s still counts: 1 in Q's and Q+1's 4 s, 0.25/s.
    model = _seeded({**_MODE, Q - 1: (3.0, 3.0), Q: (0.0, 3.0), Q + 1: (1.0, 1.0)})
    points = model.points(edge(Q + 2))
    alive = 1.0 - _before(points, edge(Q))
    width = edge(Q + 1) - edge(Q)
    assert _quiet_mass(model) == pytest.approx(alive * -math.expm1(-0.25 * width))


def test_a_bin_with_a_completion_is_pooled_with_all_its_neighbours() -> None:
    # One completion in Q: not a quiet bin, so Q-1 (whose rate would expect
    # five there) still counts in its pooled hazard.
    model = _seeded({**_MODE, Q - 1: (3.0, 3.0), Q: (1.0, 5.0), Q + 1: (0.0, 1.0)})
    points = model.points(edge(Q + 2))
    alive = 1.0 - _before(points, edge(Q))
    width = edge(Q + 1) - edge(Q)
    assert _quiet_mass(model) == pytest.approx(
        alive * -math.expm1(-model.hazard_at(edge(Q)) * width)
    )
    assert model.hazard_at(edge(Q)) == pytest.approx(4.0 / 9.0)


def test_the_first_bin_is_pooled_without_a_contradicting_second() -> None:
    # Tasks under 50 ms never finish (bin 0), bin 1 holds 4 completions and
    # bin 2 ten: bin 1 is estimated bin by bin, and bin 0 is not pooled with it.
    model = _seeded({0: (0.0, 3.0), 1: (4.0, 4.0), 2: (10.0, 10.0)})
    assert _quiet_mass(model, 0) == 0.0


def test_a_quiet_bin_keeps_the_hazard_a_shift_replaced() -> None:
    # Recent tasks ran through Q-4..Q+1 and none finished where the long-run
    # counts expect dozens (bins ): the shift test sets Q's hazard to
    # the recent estimate, none, though its long-run neighbourhood holds 2.
    model = _seeded(
        {Q - 4: (100.0, 100.0), Q - 3: (100.0, 100.0), Q + 1: (2.0, 2.0), Q: (0.0, 1.0)}
    )
    for _ in range(200):
        model.expose(0.0, edge(Q + 2))
    assert model.shifted > 0
    assert model.hazard_at(edge(Q)) == 0.0
    assert _quiet_mass(model) == 0.0


def test_tiny_bins_with_plenty_of_completions_are_estimated_bin_by_bin() -> None:
    # Bins of 25 ms at 0.3 s: the tasks spend less than a second in each, and
    # their completions in the bins beside are RICH or more: no spill there.
    k = bin_of(0.3)
    model = _learned(*((j, 0.5625, 6) for j in (k - 1, k, k + 1)))
    *inside, _ = model.points(edge(k + 2))
    assert {bin_of(age - 1e-9) for age, _ in inside} == {k - 1, k, k + 1}


def test_the_neighbourhood_is_one_bin_either_side() -> None:
    # Three completions two bins apart: neither neighbourhood holds RICH, so
    # each bin is pooled (its mass the pooled survival's drop across it).
    k = bin_of(10.0)
    model = _learned((k, 0.5625, 3), (k + 2, 0.5625, 3))
    points = model.points(edge(k + 4))
    drop = model.survival(edge(k)) - model.survival(edge(k + 1))
    assert _bin_weight(points, k) == pytest.approx(drop, abs=1e-9)


def test_the_first_bin_counts_in_the_neighbourhood_of_the_second() -> None:
    # Three tasks shorter than the first bin's edge, three in the second bin:
    # six nearby, so the second bin is estimated on its own, not pooled: all
    # three tasks still running at its start finish in it.
    model = _learned((0, 0.5625, 3), (1, 0.5625, 3))
    points = model.points(edge(4))
    at_start = 1.0 - _before(points, edge(1))
    assert _bin_weight(points, 1) == pytest.approx(at_start, rel=1e-9)
    pooled = model.survival(edge(1)) - model.survival(edge(2))
    assert abs(_bin_weight(points, 1) - pooled) > 1e-3


def test_one_completion_late_in_a_bin_is_one_of_those_at_risk_at_its_start() -> None:
    # The actuarial estimate: 1 of the 6 tasks running at the bin's start
    # (5 finish in the next bin). A constant hazard across the bin, from one
    # completion over ~5.9 bins of running time, would say 0.155.
    k = bin_of(10.0)
    model = _learned((k, 0.9375, 1), (k + 1, 0.0625, 5))
    points = model.points(edge(k + 3))
    share = _bin_weight(points, k) / (1.0 - _before(points, edge(k)))
    assert share == pytest.approx(1 / 6, abs=0.002)


def test_a_bin_cut_by_the_horizon_keeps_its_mass_at_the_horizon() -> None:
    # The bin's own constant hazard over the part before the horizon: five
    # completions over 0.1 of the bin each, over half the bin: 1 - exp(-5).
    k = bin_of(10.0)
    model = _learned((k, 0.9375, 1), (k + 1, 0.1, 5))
    horizon = edge(k + 1) + 0.5 * (edge(k + 2) - edge(k + 1))
    points = model.points(horizon)
    inside = [(age, w) for age, w in points if age > edge(k + 1)]
    assert [age for age, _ in inside] == [horizon, horizon]  # the bin's share, then the rest
    share = inside[0][1] / (1.0 - _before(points, edge(k + 1)))
    assert share == pytest.approx(1.0 - math.exp(-5.0), rel=1e-3)  # (forgetting: not exact)


def test_a_single_completion_of_a_snapshot_is_one_of_those_at_risk() -> None:
    # As above, from a snapshot (a learned completion weighs a little more
    # than one: forgetting scales up what comes later).
    k = bin_of(10.0)
    w = edge(k + 1) - edge(k)
    last = [0.0] * (SUB - 1) + [1.0]
    rows = [
        [edge(k), edge(k + 1), 1.0, 5.9375 * w, last],  # 1 at 15/16 of the bin, 5 through it
        [edge(k + 1), edge(k + 2), 5.0, 5.0 * (edge(k + 2) - edge(k + 1)) / 16],
    ]
    model = DurationModel()
    model.seed({"version": 1, "bins": rows})
    points = model.points(edge(k + 2))
    share = _bin_weight(points, k) / (1.0 - _before(points, edge(k)))
    assert share == pytest.approx(1 / 6, rel=1e-9)


def test_a_bins_own_rate_needs_one_completion_and_five_around_it_counted_exactly() -> None:
    k = bin_of(2.0)
    mid = (edge(k) + edge(k + 1)) / 2
    # One completion in the bin, five in the bin and its two neighbours: its own rate.
    at_the_bounds = _seeded({k - 1: (2.0, 2.0), k: (1.0, 2.0), k + 1: (2.0, 2.0)})
    assert local_hazard(at_the_bounds, mid) == pytest.approx(0.5)
    assert at_the_bounds.hazard_at(mid) == pytest.approx(5 / 6)  # pooled, for the rest
    # Four around it: pooled, whatever lies two bins away or far below.
    few = _seeded(
        {20: (10.0, 5.0), k - 1: (0.0, 2.0), k: (1.0, 2.0), k + 1: (0.0, 2.0), k + 2: (4.0, 2.0)}
    )
    assert local_hazard(few, mid) == few.hazard_at(mid) == pytest.approx(1 / 6)
    # The first bins: the neighbourhood starts at bin 0.
    first = _seeded({0: (3.0, 1.0), 1: (1.0, 1.0), 2: (1.0, 1.0)})
    age = (edge(1) + edge(2)) / 2
    assert local_hazard(first, age) == pytest.approx(1.0)
    assert first.hazard_at(age) == pytest.approx(5 / 3)
    # Past every bin the model computes, no hazard at all (as `hazard_at`).
    assert local_hazard(at_the_bounds, 1000.0) == at_the_bounds.hazard_at(1000.0) == 0.0
