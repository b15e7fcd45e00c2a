"""`PollSchedule` and `AdaptiveSchedule`: the details a mutation run of `_schedule`
found unchecked: validation messages, the documented defaults, what a track
starts with, which durations a record gives, how jitter spreads the polls, and
when `epoch` tells the pollers to re-plan (news past the longest learned, rate
limited; a jump of the support; surprises; a move of the typical duration; a
prior)."""

from __future__ import annotations

import itertools
import statistics
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from stablebrowse_async import AdaptiveSchedule, PollSchedule, Task, TaskStatus
from stablebrowse_async._estimator import RATIO, bin_of, edge
from stablebrowse_async._schedule import _STREAM_PLAN, Track, duration_of

RUNNING = Task(task_id="t", status=TaskStatus.RUNNING)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
WEEK = 7 * 86400.0


def finished(seconds: float) -> Task:
    return Task(task_id="t", status=TaskStatus.COMPLETED, duration_ms=round(seconds * 1000))


def timed(seconds: float, *, duration_ms: Any = None) -> Task:
    """A finished task whose record gives its duration by its timestamps."""
    return Task(
        task_id="t",
        status=TaskStatus.COMPLETED,
        duration_ms=duration_ms,
        created_at=T0,
        updated_at=T0 + timedelta(seconds=seconds),
    )


# -- PollSchedule ---------------------------------------------------------------------


def test_a_poll_schedule_accepts_a_factor_of_one_and_jitter_just_below_one() -> None:
    schedule = PollSchedule(factor=1.0, jitter=0.99)
    assert schedule.from_age(100.0) == schedule.first


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"factor": 0.5}, r"^factor must be >= 1, got 0\.5$"),
        ({"jitter": 1.0}, r"^jitter must be in \[0, 1\), got 1\.0$"),
        ({"jitter": 1.5}, r"^jitter must be in \[0, 1\), got 1\.5$"),
        ({"jitter": -0.1}, r"^jitter must be in \[0, 1\)"),
    ],
)
def test_a_bad_poll_schedule_is_refused_with_its_value(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PollSchedule(**options)


def test_a_bad_poll_interval_names_the_argument_and_the_type() -> None:
    with pytest.raises(TypeError, match=r"^poll_interval must be a number, got str$"):
        PollSchedule.coerce("5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^first must be a number, got NoneType$"):
        PollSchedule(first=None)  # type: ignore[arg-type]


def test_a_poll_schedule_track_starts_unpolled_and_counts_each_poll_once() -> None:
    schedule = PollSchedule(first=1.0, factor=2.0, max_interval=100.0, jitter=0.0)
    track = schedule.begin(5.0)
    assert (track.born, track.exact, track.polls, track.provisional) == (5.0, True, 0, False)
    assert schedule.begin(0.0, exact=False).exact is False
    assert schedule.next_delay(track, 5.0) == 1.0
    schedule.observe(track, RUNNING, 6.0)
    schedule.observe(track, RUNNING, 8.0)
    assert track.polls == 2
    assert schedule.next_delay(track, 8.0) == 4.0


# -- durations read from a record ---------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        (finished(0.001), 0.001),
        (finished(WEEK), WEEK),
        (timed(0.5), 0.5),
        (timed(WEEK), WEEK),
        (timed(0.0), None),
        (timed(WEEK + 1.0), None),
        (timed(3.0, duration_ms=0), 3.0),  # an impossible durationMs: the timestamps say
        (Task(task_id="t", status=TaskStatus.COMPLETED, created_at=T0), None),
    ],
)
def test_a_record_gives_a_duration_in_the_open_range_up_to_a_week(
    task: Task, expected: float | None
) -> None:
    assert duration_of(task) == expected


# -- AdaptiveSchedule: options --------------------------------------------------------------


def test_the_adaptive_schedule_s_defaults_are_the_documented_ones() -> None:
    schedule = AdaptiveSchedule()
    assert (schedule.min_interval, schedule.max_interval) == (0.2, 30.0)
    assert (schedule.poll_cost, schedule.jitter) == (0.04, 0.1)
    assert schedule.sentinels == 8
    assert schedule.fallback == PollSchedule()
    assert schedule.seed is None
    assert schedule.snapshot()["half_life"] == 256.0
    assert schedule.epoch == 0


def test_given_options_are_kept() -> None:
    fallback = PollSchedule(first=2.0)
    schedule = AdaptiveSchedule(fallback=fallback, seed=7, min_interval=3.0, max_interval=3.0)
    assert schedule.fallback is fallback
    assert schedule.seed == 7
    assert AdaptiveSchedule(jitter=0).jitter == 0.0
    assert AdaptiveSchedule(sentinels=0).sentinels == 0


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"min_interval": "1"}, TypeError, r"^min_interval must be a number, got str$"),
        ({"max_interval": 0}, ValueError, r"^max_interval must be a finite number > 0"),
        ({"poll_cost": "x"}, TypeError, r"^poll_cost must be a number, got str$"),
        ({"jitter": "x"}, TypeError, r"^jitter must be a number, got str$"),
        ({"fallback": 5}, TypeError, r"^fallback must be a PollSchedule, got int$"),
        ({"seed": "1"}, TypeError, r"^seed must be an int or None, got str$"),
        ({"sentinels": True}, ValueError, r"^sentinels must be an int >= 0, got True$"),
        ({"sentinels": 2.0}, ValueError, r"^sentinels must be an int >= 0, got 2\.0$"),
    ],
)
def test_bad_options_are_refused_naming_the_option_and_the_type(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        AdaptiveSchedule(**options)


# -- AdaptiveSchedule: tracks, jitter, epochs ---------------------------------------------


def test_an_adaptive_track_starts_unpolled_and_counts_each_poll_once() -> None:
    schedule = AdaptiveSchedule(seed=1)
    track = schedule.begin(2.0)
    assert (track.born, track.polls, track.provisional) == (2.0, 0, False)
    schedule.observe(track, RUNNING, 3.0)
    schedule.observe(track, RUNNING, 4.0)
    assert track.polls == 2


def teach(schedule: AdaptiveSchedule, durations: list[float]) -> None:
    for d in durations:
        schedule.observe(schedule.begin(0.0), finished(d), d)


def warm(durations: list[float], **options: Any) -> AdaptiveSchedule:
    schedule = AdaptiveSchedule(seed=3, **options)
    teach(schedule, durations)
    return schedule


def test_jitter_spreads_a_poll_of_the_local_rule_both_ways_within_its_fraction() -> None:
    learned = [20.0 + (i % 7) for i in range(60)]
    # Tasks watched since before anything was learned follow the local rule, not a plan.
    plain = AdaptiveSchedule(seed=3, jitter=0.0)
    early = plain.begin(0.0)
    teach(plain, learned)
    planned = plain.next_delay(early, 18.0)  # in the learned range: below the caps
    assert plain.min_interval < planned < 10.0
    jittered = AdaptiveSchedule(seed=3, jitter=0.2)
    tracks = [jittered.begin(0.0) for _ in range(300)]
    teach(jittered, learned)
    delays = [jittered.next_delay(track, 18.0) for track in tracks]
    assert all(planned * 0.8 - 1e-9 <= d <= planned * 1.2 + 1e-9 for d in delays)
    assert min(delays) < planned * 0.85
    assert max(delays) > planned * 1.15
    assert statistics.fmean(delays) == pytest.approx(planned, rel=0.05)


def test_a_poll_planned_far_ahead_moves_by_a_fraction_of_the_planned_spacing() -> None:
    learned = [20.0 + (i % 7) for i in range(60)]
    plain = warm(learned, jitter=0.0)
    running = plain.begin(0.0)
    plain.observe(running, RUNNING, 1.0)
    planned = plain.next_delay(running, 1.0)  # from age 1 to the first planned poll near 20 s
    assert 15.0 < planned < 26.0
    jittered = warm(learned, jitter=0.2)
    delays = []
    for _ in range(300):
        track = jittered.begin(0.0)
        jittered.observe(track, RUNNING, 1.0)
        delays.append(jittered.next_delay(track, 1.0))
    # Both ways around the plan, by at most 20 % of the 1-2 s between planned polls
    # there (20 % of the ~20 s wait would be 4 s).
    assert min(delays) < planned < max(delays)
    assert max(delays) - min(delays) < 1.0
    assert statistics.fmean(delays) == pytest.approx(planned, abs=0.05)


def test_a_steady_workload_moves_epoch_at_powers_of_two_up_to_1024_completions() -> None:
    schedule = AdaptiveSchedule(seed=1)
    moved = []
    for n in range(1, 1026):
        epoch = schedule.epoch
        schedule.observe(schedule.begin(0.0), finished(10.0), 10.0 * n)
        if schedule.epoch != epoch:
            assert schedule.epoch == epoch + 1
            moved.append(n)
    assert moved[:3] == [1, 2, 4]
    # (and early on whenever the shift test changes its verdict)
    assert [n for n in moved if n > 8] == [16, 32, 64, 128, 256, 512, 1024]


def test_epoch_moves_once_when_the_sentinels_of_a_batch_stop_probing() -> None:
    schedule = AdaptiveSchedule(seed=1, sentinels=4)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(10)]
    epochs = []
    for track in tracks[:4]:  # the sentinels leave one by one
        schedule.release(track)
        epochs.append(schedule.epoch)
    # Probing needs half of them (2): the third leaving ends it, and says so once.
    assert epochs == [0, 0, 1, 1]
    schedule.release(tracks[4])
    assert schedule.epoch == 1


def test_a_finished_track_is_done_and_not_counted_again() -> None:
    schedule = AdaptiveSchedule(seed=1, sentinels=2)
    track = schedule.begin(0.0, batch=True)
    schedule.observe(track, finished(1.0), 1.0)
    assert schedule.observed == 1
    epoch = schedule.epoch
    schedule.release(track)  # already retired by its completion
    assert schedule.epoch == epoch


@pytest.mark.parametrize("sentinels", [2, 4, 5])
def test_probing_lasts_while_half_the_sentinels_are_live(sentinels: int) -> None:
    schedule = warm([10.0], sentinels=sentinels)  # epoch 1 already: moves count from there
    tracks = [schedule.begin(0.0, batch=True) for _ in range(sentinels + 3)]
    start = schedule.epoch
    epochs = []
    for track in tracks[:sentinels]:
        schedule.release(track)
        epochs.append(schedule.epoch - start)
    # It stops when fewer than max(1, sentinels // 2) are left, and says so once.
    stops = sentinels - max(1, sentinels // 2) + 1
    assert epochs == [0] * (stops - 1) + [1] * (sentinels - stops + 1)


@pytest.mark.parametrize(("batch", "spread"), [(10, 0.3), (2000, 0.1), (1005, 0.1)])
def test_sentinels_of_a_cold_batch_poll_more_densely_the_larger_the_batch(
    batch: int, spread: float
) -> None:
    schedule = AdaptiveSchedule(seed=1, jitter=0.0, sentinels=2)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(batch)]
    # A sentinel polls at `spread` times its age: the fallback's growth (0.3) for a
    # small batch, down to 0.1 for a thousand tasks or more.
    assert schedule.next_delay(tracks[0], 10.0) == pytest.approx(spread * 10.0)
    assert schedule.next_delay(tracks[0], 0.1) == schedule.min_interval
    # The others wait for them (parked).
    assert schedule.next_delay(tracks[5], 10.0) == 60.0


@pytest.mark.parametrize(("duration", "learned"), [(11.0, True), (11.01, False), (10.99, True)])
def test_a_completion_longer_than_the_time_watched_plus_slack_is_refused(
    duration: float, learned: bool
) -> None:
    # Watched from submission for 10 s: the slack is 0.5 s + 5 % of the age (1 s).
    schedule = AdaptiveSchedule(seed=1)
    schedule.observe(schedule.begin(0.0), finished(duration), 10.0)
    assert (schedule.observed, schedule.ignored) == ((1, 0) if learned else (0, 1))


@pytest.mark.parametrize(("duration", "learned"), [(18.0, True), (17.9, False)])
def test_a_completion_shorter_than_the_time_seen_running_minus_slack_is_refused(
    duration: float, learned: bool
) -> None:
    schedule = AdaptiveSchedule(seed=1)
    track = schedule.begin(0.0, exact=False)
    schedule.observe(track, RUNNING, 20.0)
    # Seen running at 20 s, finished by 30 s: the slack is 0.5 s + 5 % of 30 s (2 s).
    schedule.observe(track, finished(duration), 30.0)
    assert (schedule.observed, schedule.ignored) == ((1, 0) if learned else (0, 1))


# -- AdaptiveSchedule: which completions re-plan (epoch) in a steady state ----------------


def steady(durations: list[float], n: int = 1100, **options: Any) -> tuple[AdaptiveSchedule, float]:
    """A schedule past its first 1024 completions (taking `durations` in turn, one
    every 10 s), and the time of the last: no power of two of completions is near."""
    schedule = AdaptiveSchedule(seed=1, **options)
    now = 0.0
    for i in range(n):
        now += 10.0
        duration = durations[i % len(durations)]
        schedule.observe(schedule.begin(now - duration), finished(duration), now)
    return schedule, now


def moves(schedule: AdaptiveSchedule, duration: float, now: float) -> int:
    """How much `epoch` moves when a task that took `duration` is seen finished at `now`."""
    epoch = schedule.epoch
    schedule.observe(schedule.begin(now - duration), finished(duration), now)
    return schedule.epoch - epoch


def test_completions_past_the_longest_learned_replan_at_most_once_per_2_percent() -> None:
    schedule, now = steady([20.0])
    assert moves(schedule, 20.0, now + 5.0) == 0  # a typical completion is no news
    now += 100.0
    above = bin_of(20.0) + 1  # the bins above the longest learned, one by one
    assert moves(schedule, edge(above) * 1.001, now) == 1
    # Within 2 % of its duration (0.47 s) of that re-plan, the next bin up waits...
    assert moves(schedule, edge(above + 1) * 1.001, now + 0.3) == 0
    # ...after it, it re-plans.
    assert moves(schedule, edge(above + 2) * 1.001, now + 1.0) == 1
    # A jump of two bins and more re-plans at once, however recent the last re-plan.
    assert moves(schedule, edge(above + 4) * 1.001, now + 1.1) == 1


def test_completions_much_shorter_than_learned_replan_at_powers_of_two_of_them() -> None:
    schedule, now = steady([20.0])
    seen = [moves(schedule, 5.0, now + 10.0 * k) for k in range(1, 5)]
    assert [k for k, moved in enumerate(seen, 1) if moved] == [1, 2, 4]
    # The fifth moves it too, for another reason: the model's shift test now
    # takes the short ones for a new workload.
    assert moves(schedule, 5.0, now + 50.0) == 1
    assert schedule._model.shifted > 0


def test_a_move_of_the_typical_duration_by_more_than_28_percent_replans_once() -> None:
    schedule, now = steady([10.0, 30.0])  # typical: about 17 s
    seen = [moves(schedule, 30.0, now + 10.0 * k) for k in range(1, 61)]
    assert [k for k, moved in enumerate(seen, 1) if moved] == [20]


def test_a_schedule_seeded_with_a_prior_does_not_replan_at_a_typical_completion() -> None:
    schedule = AdaptiveSchedule(seed=1, prior=[20.0] * 10)
    assert moves(schedule, 20.0, 100.0) == 0
    assert schedule.observed == 11


def test_news_may_replan_again_exactly_min_interval_after_the_last_replan() -> None:
    # min_interval is more than 2 % of these durations: the wait between re-plans.
    schedule, now = steady([5.0], min_interval=0.25)
    now += 1000.0  # times exact in binary: 0.25 s apart to the last bit
    above = bin_of(5.0) + 1
    assert moves(schedule, edge(above) * 1.001, now) == 1
    assert moves(schedule, edge(above + 1) * 1.001, now + 0.25) == 1


def test_a_prior_without_a_count_of_completions_replans_at_the_first_one() -> None:
    learned = steady([20.0], n=40)[0].snapshot()
    del learned["observed"]
    schedule = AdaptiveSchedule(seed=1, prior=learned)
    assert moves(schedule, 20.0, 100.0) == 1
    assert schedule.observed == 1


def spread_10_to_100(watched: int = 0) -> tuple[AdaptiveSchedule, list[Track]]:
    """Durations spread over 10-100 s: the older a running task, the likelier it ends soon.

    And `watched` tasks begun before anything was learned: they follow the local
    rule (tasks begun later follow the learned plan).
    """
    schedule = AdaptiveSchedule(seed=1, jitter=0.0)
    early = [schedule.begin(0.0) for _ in range(watched)]
    for i in range(200):
        duration = 10.0 + i % 91
        schedule.observe(schedule.begin(0.0), finished(duration), duration)
    return schedule, early


def test_each_local_plan_is_for_its_task_s_own_age_and_last_sighting() -> None:
    schedule, (young, old, seen_late, unseen) = spread_10_to_100(watched=4)
    # Never polled since submission: the lag since age 0 counts, more of it the older.
    assert schedule.next_delay(old, 40.0) < schedule.next_delay(young, 12.0)
    schedule.observe(seen_late, RUNNING, 30.0)
    # Both 40 s old: the one seen running at 30 s has built up less lag.
    assert schedule.next_delay(unseen, 40.0) < schedule.next_delay(seen_late, 40.0)


def test_a_young_task_s_poll_is_priced_at_the_typical_duration_not_at_its_age() -> None:
    # Typical duration 40-50 s: a poll costs about 2 s of lag.
    schedule, (track,) = spread_10_to_100(watched=1)
    schedule.observe(track, RUNNING, 12.0)
    # Priced at its age (12 s) instead, the next poll would come after about 7.6 s.
    assert schedule.next_delay(track, 12.0) > 10.0


def test_a_task_of_a_sub_second_workload_is_polled_again_within_a_second() -> None:
    schedule = AdaptiveSchedule(seed=1, jitter=0.0)
    early = schedule.begin(0.0)  # watched before anything was learned: the local rule
    for i in range(50):
        d = 0.4 + (i % 5) / 50
        schedule.observe(schedule.begin(0.0), finished(d), d)
    schedule.observe(early, RUNNING, 0.3)
    assert schedule.next_delay(early, 0.3) < 0.5


def taught_1_to_2_s(**options: Any) -> AdaptiveSchedule:
    schedule = AdaptiveSchedule(seed=1, **options)
    for i in range(100):
        d = 1.0 + i / 100
        schedule.observe(schedule.begin(0.0), finished(d), d)
    return schedule


def test_polls_follow_a_task_s_age_not_the_clock_s_reading() -> None:
    delays = []
    for start in (0.0, 1000.0):
        schedule = taught_1_to_2_s(jitter=0.0)
        track = schedule.begin(start)
        schedule.observe(track, RUNNING, start + 0.5)
        delays.append(schedule.next_delay(track, start + 0.5))
    assert delays[0] == delays[1] < 1.5


def test_past_the_longest_learned_a_task_is_polled_on_the_fallback_within_max_interval() -> None:
    schedule = taught_1_to_2_s(jitter=0.0)
    track = schedule.begin(0.0)
    schedule.observe(track, RUNNING, 10.0)
    # The geometric fallback from age 10 s: 1 + 0.3 * 10 = 4 s.
    assert schedule.next_delay(track, 10.0) == pytest.approx(4.0)
    assert track.provisional
    capped = taught_1_to_2_s(jitter=0.0, max_interval=3.0)
    track = capped.begin(0.0)
    capped.observe(track, RUNNING, 10.0)
    assert capped.next_delay(track, 10.0) == pytest.approx(3.0)


def test_tasks_sent_back_cold_wait_max_interval_shortened_by_jitter_only() -> None:
    # A batch running past the 1-2 s learned, none finished: its plain tasks wait
    # for the sentinels, max_interval less at most `jitter` of it.
    schedule = taught_1_to_2_s(sentinels=4)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(60)]
    for track in tracks:
        schedule.observe(track, RUNNING, 1.9)
    delays = [schedule.next_delay(track, 1.9) for track in tracks[4:]]
    assert all(0.9 * schedule.max_interval <= d <= schedule.max_interval for d in delays)
    assert max(delays) - min(delays) > 0.05 * schedule.max_interval


def test_a_capped_poll_past_the_longest_learned_is_jittered_below_the_cap_only() -> None:
    schedule = taught_1_to_2_s(jitter=0.1)
    delays = []
    for _ in range(40):
        track = schedule.begin(0.0)
        schedule.observe(track, RUNNING, 10.0)
        delays.append(schedule.next_delay(track, 10.0))
    assert all(3.6 <= d <= 4.0 for d in delays)  # the fallback's 4 s, less up to 10 %
    assert max(delays) - min(delays) > 0.1


def test_plans_near_the_longest_learned_are_provisional_and_young_ones_are_not() -> None:
    schedule = taught_1_to_2_s(jitter=0.0)
    longest = edge(bin_of(1.99) + 1)  # the upper edge of the longest learned's bin
    young, old = schedule.begin(0.0), schedule.begin(0.0)
    schedule.observe(young, RUNNING, 0.5)
    schedule.next_delay(young, 0.5)
    assert not young.provisional
    # Within two bins of the longest learned: the plan may move as the model learns.
    age = longest / RATIO**1.5
    schedule.observe(old, RUNNING, age)
    schedule.next_delay(old, age)
    assert old.provisional


def test_a_lone_sentinel_polls_less_densely_than_one_of_two_under_a_steep_fallback() -> None:
    steep = PollSchedule(first=1.0, factor=201.0, max_interval=1000.0)
    delays = []
    for size in (1, 2):
        schedule = AdaptiveSchedule(fallback=steep, jitter=0.0, sentinels=size)
        tracks = [schedule.begin(0.0, batch=True) for _ in range(size)]
        delays.append(schedule.next_delay(tracks[0], 0.1))
    assert delays[0] > delays[1] > schedule.min_interval


# -- a batch found cold again by its running polls --------------------------------------


def _batch_on_learned_1_to_2_s(size: int) -> tuple[AdaptiveSchedule, list[Track]]:
    schedule = taught_1_to_2_s(sentinels=4)
    return schedule, [schedule.begin(0.0, batch=True) for _ in range(size)]


def test_running_polls_of_a_batch_like_the_learned_one_leave_the_epoch_alone() -> None:
    schedule, tracks = _batch_on_learned_1_to_2_s(200)
    epoch = schedule.epoch
    for track in tracks:
        schedule.observe(track, RUNNING, 0.8)  # before any learned task finished
    assert schedule._model.shifted == 0 and schedule.epoch == epoch


def test_one_shifted_bin_finds_a_batch_cold_again_and_prices_polls_on_age() -> None:
    schedule, tracks = _batch_on_learned_1_to_2_s(10)
    model = schedule._model
    assert model.shifted == 0  # re-estimated: the poll below is too small to dirty it
    # Exactly one pooled bin disagreeing is hard to produce from polls: set it.
    model._shifted = 1
    epoch = schedule.epoch
    schedule.observe(tracks[-1], RUNNING, 0.01)
    assert model.shifted == 1 and schedule.epoch == epoch + 1
    assert schedule._cost(20.0) < schedule.poll_cost * 2.0  # no completion said so yet
    schedule._shifted = 1  # the verdict a completion would have recorded
    assert schedule._cost(20.0) == pytest.approx(schedule.poll_cost * 20.0)


# -- AdaptiveSchedule: the learned plan itself ------------------------------------------


def _learned_plan(schedule: AdaptiveSchedule) -> tuple[float, ...]:
    """The plan a task watched on its own follows (`_plan`), up to the model's horizon."""
    return schedule._plan(_STREAM_PLAN, schedule._model.edge()[0])


def test_a_plan_keeps_to_max_interval_across_a_quiet_stretch_between_modes() -> None:
    # 2-2.5 s and 30-35 s tasks: nothing finishes in between, yet no planned gap
    # there exceeds max_interval (the plan chooses where its cut polls go,
    # instead of leaving a long gap for `next_delay`'s cap to cut anywhere).
    short = [2.0 + 0.5 * i / 40 for i in range(40)]
    schedule = warm(short + [30.0 + 5.0 * i / 20 for i in range(20)], max_interval=5.0)
    ages = _learned_plan(schedule)
    assert ages[0] < 2.5 and ages[-1] > 35.0
    assert max(b - a for a, b in itertools.pairwise(ages)) <= 5.0 + 1e-9


def test_a_plan_may_wait_longer_than_max_interval_before_the_shortest_duration() -> None:
    schedule = warm([40.0 + 10.0 * i / 40 for i in range(40)], max_interval=10.0)
    support = schedule._support
    assert support is not None
    ages = _learned_plan(schedule)
    # The first poll at the shortest duration learned, not every 10 s before it.
    assert ages[0] == pytest.approx(support[0])
    assert max(b - a for a, b in itertools.pairwise(ages)) <= 10.0 + 1e-9


def test_a_prior_s_first_completion_past_its_longest_replans_at_once() -> None:
    # Seeded, the schedule has re-planned on nothing yet: a completion just past
    # the prior's longest (news, within the bin after it: not a jump of the
    # support, and the 11th completion: no power of two) moves `epoch`.
    schedule = AdaptiveSchedule(seed=1, prior=[20.0] * 10)
    support = schedule._support
    assert support is not None and schedule.observed == 10
    assert moves(schedule, support[1] * 1.005, 100.0) == 1
