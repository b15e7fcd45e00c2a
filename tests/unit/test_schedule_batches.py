"""`AdaptiveSchedule` driven by `benchmarks/polling_sim.py`, the engine's model with no clock:
what it learns from whole batches, polled as `run_many` polls them."""

from __future__ import annotations

import math
import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from stablebrowse_async import AdaptiveSchedule
from stablebrowse_async._estimator import RATIO, RECENT_HALF_LIFE
from stablebrowse_async._polling import _MAX_OVERDUE

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from polling_sim import SHIFTS, WORKLOADS, _grid_cell, main, sampler_of, simulate


def test_a_warm_batch_of_the_same_narrow_workload_is_not_read_as_a_shift() -> None:
    # Tasks of 20-30 s: the hazard climbs steeply to the end, and a batch's polls
    # see most of its running time near that end. Its completions there are what
    # the long-run counts predict bin by bin: no shift. (Tested against pooled
    # rates, the steep last bin read as a shift and the median fell to 20 s.)
    rng = random.Random(8)
    schedule = AdaptiveSchedule(seed=8)
    for _ in range(2):  # a cold batch, then a warm one, through the engine's model
        simulate(schedule, [rng.uniform(20.0, 30.0) for _ in range(400)])
    assert schedule._model.shifted == 0
    median = schedule.quantile(0.5)
    assert median is not None and 24.0 < median < 26.0


@pytest.mark.parametrize(("centre", "spread", "seed"), [(10.0, 0.5, 1), (60.0, 1.0, 4)])
def test_a_warm_batch_of_near_identical_durations_keeps_its_median(
    centre: float, spread: float, seed: int
) -> None:
    # All of a batch's completions come in one burst, after the running time
    # that explains them was counted at the polls before. Forgotten at 16
    # completions a half-life, that running time weighed a fraction of the
    # burst, the batch read as a shift and the median fell to 7.1 s (10 s
    # tasks) or 40.4 s (60 s tasks); the recent counts now forget over about
    # as many completions as the batch has tasks.
    rng = random.Random(seed)
    schedule = AdaptiveSchedule(seed=seed)
    for _ in range(2):
        durations = [rng.uniform(centre - spread, centre + spread) for _ in range(400)]
        simulate(schedule, durations, rate=5000.0)
        median = schedule.quantile(0.5)
        assert median is not None and centre / RATIO < median < centre * RATIO


def test_a_warm_batch_of_near_identical_durations_is_not_read_as_a_shift() -> None:
    # 60 +- 1 s, 400 tasks: the batch's longest tasks finish past 60.9 s, in a
    # bin where the last batch's ran a moment each. Its rate pooled with the
    # bin before expected 0.09 completions there and they read as a shift;
    # against the bin's own rate they do not (the test of completions where
    # the model said none happen, `_estimator`'s module docstring).
    rng = random.Random(4)
    schedule = AdaptiveSchedule(seed=4)
    for _ in range(2):
        simulate(schedule, [rng.uniform(59.0, 61.0) for _ in range(400)], rate=5000.0)
    assert schedule._model.shifted == 0


def test_the_recent_counts_forget_over_the_batch_being_watched() -> None:
    schedule = AdaptiveSchedule(seed=1)
    assert schedule._model.recent_half_life == RECENT_HALF_LIFE
    tracks = [schedule.begin(0.0, batch=True) for _ in range(50)]
    assert schedule._model.recent_half_life == 50.0
    for track in tracks:
        schedule.release(track)
    schedule.begin(1.0)  # watched one by one, no batch live: the default again
    assert schedule._model.recent_half_life == RECENT_HALF_LIFE
    for _ in range(5):
        schedule.begin(2.0, batch=True)
    assert schedule._model.recent_half_life == RECENT_HALF_LIFE  # never below it


def _learned_two_modes(seed: int) -> tuple[random.Random, AdaptiveSchedule]:
    """`shifting_into_gap`'s first two batches of 400 (2 s / 25-35 s tasks, cold
    then warm) through a schedule seeded `seed`: the generator, to draw the
    next batches from, and the schedule."""
    rng = random.Random(seed)
    schedule = AdaptiveSchedule(seed=seed)
    for sampler in SHIFTS["shifting_into_gap"][:2]:
        simulate(schedule, sampler(rng, 400))
    return rng, schedule


def test_batches_finishing_in_a_learned_quiet_stretch_are_followed_within_seconds() -> None:
    # `shifting_into_gap`, 400 tasks a batch. Learned on 2 s / 25-35 s tasks, a
    # warm plan has no poll between ~2.5 s and ~26 s. When the long tasks now
    # take 9-12 s, the second of them to finish where the model (as the batch
    # began) expected none re-plans the batch; the long-run test alone saw them
    # at the plan's 26 s poll (worst lag ~17 s). Then 8-14 s tasks: those past
    # 12.8 s finish in a bin the plan treats as empty beside the 9-12 s mode's
    # last (before: 8.4x the frontier, 15.5 s worst).
    rng, schedule = _learned_two_modes(2)
    _, _, shorter, spread = SHIFTS["shifting_into_gap"]
    assert schedule._model.shifted == 0
    moved = simulate(schedule, shorter(rng, 400))
    assert schedule._model.shifted > 0
    assert moved["worst"] < 6.0
    assert moved["lag"] < 1.2  # the fixed geometric schedule's, on this workload
    spread_out = simulate(schedule, spread(rng, 400))
    assert spread_out["worst"] < 6.0
    assert spread_out["lag"] < 2.0  # the geometric schedule's: 2.1 s


def test_a_warm_batch_whose_sentinels_were_all_short_still_sees_a_shift_into_its_quiet_stretch() -> (
    None
):
    # As above, but the batch's first 8 tasks, its sentinels, are short ones:
    # they finish at ~2 s, and nothing would probe the quiet stretch if running
    # tasks did not take their place (without that: the 9-12 s tasks seen at
    # the plan's 26 s poll, 5.4 s mean lag, 16.7 s worst).
    rng, schedule = _learned_two_modes(4)
    shorter = SHIFTS["shifting_into_gap"][2]
    moved = simulate(schedule, [rng.uniform(1.5, 2.5) for _ in range(8)] + shorter(rng, 392))
    assert schedule._model.shifted > 0
    assert moved["worst"] < 10.0
    assert moved["lag"] < 1.0  # the fixed geometric schedule's on this batch: 1.14 s


def test_a_warm_batch_on_watch_sees_a_shift_into_its_quiet_stretch_soon_after_its_start() -> None:
    # As above (seed 2): a sentinel sees one 9-12 s task finish; at the
    # fallback's spacing the second came ~3 s later (0.67 s mean lag, 3.5 s
    # worst, 2.8x the frontier); on watch, the sentinels are polled at a tenth
    # of their age.
    rng, schedule = _learned_two_modes(2)
    moved = simulate(schedule, SHIFTS["shifting_into_gap"][2](rng, 400))
    assert schedule._model.shifted > 0
    assert moved["lag"] < 0.5
    assert moved["worst"] < 2.5


class _Clocked(AdaptiveSchedule):
    """An adaptive schedule that records the times it is told."""

    def __init__(self) -> None:
        super().__init__(seed=1)
        self.times: list[float] = []

    def begin(self, now: float, *, batch: bool = False, exact: bool = True) -> Any:
        self.times.append(now)
        return super().begin(now, batch=batch, exact=exact)

    def observe(self, track: Any, task: Any, now: float) -> None:
        self.times.append(now)
        super().observe(track, task, now)


@pytest.mark.parametrize("capacity", [None, 2000.0])
def test_batches_on_one_schedule_follow_each_other_on_one_clock(capacity: float | None) -> None:
    # The schedule keeps times across batches (when it last re-planned): a
    # batch that restarted the clock at 0 held back its re-plans on news.
    schedule = _Clocked()
    rng = random.Random(1)
    simulate(schedule, WORKLOADS["uniform"](rng, 50), capacity=capacity, frontier=False)
    split = len(schedule.times)
    simulate(schedule, WORKLOADS["uniform"](rng, 50), capacity=capacity, frontier=False)
    first, second = schedule.times[:split], schedule.times[split:]
    assert min(second) >= max(first) + 1.0  # a second between the two batches
    assert max(first) > 1.0


def test_a_client_that_cannot_keep_up_ranks_its_due_polls_and_sees_tasks_sooner() -> None:
    # 3 000 tasks of 1-3 s at once on a client of 900 requests a second (the
    # overload of 10 000 on two cores): its polls queue. Ranked by `urgency`,
    # fewer of them find their task still running, and the finished ones are
    # seen sooner (simulated, seed 1: median lag 0.60 -> 0.46 s), while no poll
    # waits more than `_MAX_OVERDUE` longer than oldest due first would make it.
    rng = random.Random(1)
    durations = [rng.uniform(1.0, 3.0) for _ in range(3000)]
    # No frontier: only the lags and polls are compared (the frontier of 3 000
    # durations was most of this test's time).
    oldest_first = simulate(
        AdaptiveSchedule(seed=1), durations, capacity=900, rank=False, frontier=False
    )
    ranked = simulate(AdaptiveSchedule(seed=1), durations, capacity=900, frontier=False)
    assert ranked["median"] < 0.85 * oldest_first["median"]
    assert ranked["lag"] < oldest_first["lag"]
    assert ranked["polls"] <= oldest_first["polls"]
    assert ranked["worst"] < oldest_first["worst"] + _MAX_OVERDUE


def _cold_polls(capsys: pytest.CaptureFixture[str], *options: str) -> float:
    assert main(["--tasks", "300", "--workload", "uniform", *options]) == 0
    found = re.search(r"\| cold +([0-9.]+)p", capsys.readouterr().out)
    assert found is not None
    return float(found.group(1))


def test_the_simulator_prices_polls_as_told(capsys: pytest.CaptureFixture[str]) -> None:
    # `--poll-cost` is the schedule's price of a poll: a dearer poll, fewer of them.
    default = _cold_polls(capsys)
    assert _cold_polls(capsys, "--poll-cost", "0.04") == default  # the schedule's default
    assert _cold_polls(capsys, "--poll-cost", "0.2") < default - 0.3
    with pytest.raises(ValueError, match="poll_cost"):
        main(["--tasks", "10", "--workload", "uniform", "--poll-cost", "0"])


def _fingerprints(capsys: pytest.CaptureFixture[str], *options: str) -> list[str]:
    assert main(["--tasks", "200", "--workload", "bimodal", "--fingerprint", *options]) == 0
    return re.findall(r"\b[0-9a-f]{12}\b", capsys.readouterr().out)


def test_the_simulator_fingerprints_every_decision_of_a_batch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `--fingerprint` is for changes meant to decide nothing differently: the
    # same seed gives the same hashes, and any other decision another hash.
    first = _fingerprints(capsys)
    assert len(first) == 2 and first[0] != first[1]  # the cold batch, the warm one
    assert _fingerprints(capsys) == first
    assert _fingerprints(capsys, "--seed", "2") != first
    dearer = _fingerprints(capsys, "--poll-cost", "0.05")
    assert dearer[0] != first[0] and dearer[1] != first[1]
    # The hash is `simulate`'s, over every task's polls and lags.
    rng = random.Random(1)
    schedule = AdaptiveSchedule(seed=1)
    cold = simulate(schedule, WORKLOADS["bimodal"](rng, 200), frontier=False)
    assert cold["fingerprint"] == first[0]
    assert "frontier" not in cold and "ratio" not in cold
    assert "ratio" in simulate(AdaptiveSchedule(seed=1), WORKLOADS["bimodal"](rng, 200))


def test_the_simulators_seed_grid_is_the_mean_and_worst_of_single_seeds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `--seeds N` summarises what `--seed 1` .. `--seed N` print one by one.
    single = re.compile(r"(cold|warm) +([0-9.]+)p +[0-9.]+s med [0-9.]+ +([0-9.]+)x")
    runs = []
    for seed in ("1", "2"):
        assert main(["--tasks", "120", "--workload", "uniform", "--seed", seed]) == 0
        runs.append(
            {label: (float(p), float(r)) for label, p, r in single.findall(capsys.readouterr().out)}
        )
    assert main(["--tasks", "120", "--workload", "uniform", "--seeds", "2"]) == 0
    grid = re.findall(
        r"(cold|warm) ([0-9.]+)x \(worst ([0-9.]+)x\) at ([0-9.]+)p", capsys.readouterr().out
    )
    assert [label for label, *_ in grid] == ["cold", "warm"]
    for label, mean, worst, polls in grid:
        ratios = [run[label][1] for run in runs]
        assert float(mean) == pytest.approx(sum(ratios) / 2, abs=0.006)
        assert float(worst) == max(ratios)
        assert float(polls) == pytest.approx(sum(run[label][0] for run in runs) / 2, abs=0.006)
    for bad, why in (
        (["--seeds", "0"], "--seeds must be >= 1, got 0"),
        (["--seeds", "2", "--fingerprint"], "--seeds and --fingerprint do not go together"),
        (["--informed"], "--informed needs --seeds"),
    ):
        with pytest.raises(SystemExit):
            main(["--tasks", "10", "--workload", "uniform", *bad])
        assert why in capsys.readouterr().err


def test_the_seed_grid_prints_the_informed_schedules_ratio_beside_each_batch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Cell by cell: a schedule for the distribution, not the batch, never beats
    # the frontier; the grid prints the mean over seeds.
    options = {"rate": 500.0, "latency": 0.005}
    cells = [_grid_cell(("shifting", seed, 120, options, {}, True)) for seed in (1, 2)]
    for cell in cells:
        assert [label for label, *_ in cell] == ["p1", "p2", "p3"]
        assert all(informed >= 1.0 - 1e-9 for *_, informed in cell)
    assert sampler_of("shifting", "p2") is SHIFTS["shifting"][1]
    assert sampler_of("uniform", "warm") is WORKLOADS["uniform"]
    assert math.isnan(_grid_cell(("uniform", 1, 60, options, {}, False))[0][3])
    assert main(["--tasks", "120", "--workload", "shifting", "--seeds", "2", "--informed"]) == 0
    printed = re.findall(r"(p[123]) [^|]*\[informed ([0-9.]+)x\]", capsys.readouterr().out)
    assert [label for label, _ in printed] == ["p1", "p2", "p3"]
    for k, (_, informed) in enumerate(printed):
        assert float(informed) == pytest.approx((cells[0][k][3] + cells[1][k][3]) / 2, abs=0.006)
