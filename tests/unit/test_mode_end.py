"""A cold batch sees its completions stop (the end of a mode) and stops following them.

`DurationModel.quiet_after` tells when the running time seen past the longest
completion should have shown completions that did not come; `AdaptiveSchedule`
then parks the cold batch's tasks seen past that end on the sentinels, and
moves the polls it had planned from the hazard before the end. The end is the
longest duration learned itself, not the upper edge of its bin.
"""

from __future__ import annotations

import pytest

from stablebrowse_async import AdaptiveSchedule
from stablebrowse_async._estimator import DurationModel, bin_of, edge
from stablebrowse_async._schedule import Track
from stablebrowse_async.types import Task, TaskStatus

RUNNING = Task(task_id="t", status=TaskStatus.RUNNING)


def finished(seconds: float) -> Task:
    return Task(task_id="t", status=TaskStatus.COMPLETED, duration_ms=round(seconds * 1000))


def _mode_of_2_to_2_4_s(count: int = 60) -> tuple[DurationModel, float]:
    """`count` tasks that finished evenly over 2.0-2.4 s, and the longest of them."""
    model = DurationModel()  # forgetting: counts in weighted units, read back in seconds
    durations = [2.0 + 0.4 * i / count for i in range(count)]
    for duration in durations:
        model.expose(0.0, duration)
        model.finish(duration)
    model._settle()  # the whole bins `expose` left pending: read `_exposure` below
    return model, durations[-1]


def _middle_of_bin(k: int) -> float:
    """The middle of bin `k`."""
    return (edge(k) + edge(k + 1)) / 2


def _rate_before(model: DurationModel, end: float) -> float:
    """Completions a second of running time in the bin of `end` and the two before it."""
    k = bin_of(end)
    return sum(model._events[k - 2 : k + 1]) / sum(model._exposure[k - 2 : k + 1])


@pytest.mark.parametrize("count", [60, 600])
def test_running_time_past_the_longest_completion_tells_the_completions_stopped(
    count: int,
) -> None:
    model, end = _mode_of_2_to_2_4_s(count)
    # The hazard just before the end, times the running time seen past it, is
    # the count of completions expected there; none came (none can have: the
    # end is the longest). Sixteen expected (Z = 4) tell it, whatever the weights.
    # That running time is in the model too: 20 tasks seen past the end (the
    # bins after the end's are not part of the rate before it).
    for _ in range(20):
        model.expose(end, end + 3.0)
    model._settle()
    needed = 16.0 / _rate_before(model, end)
    assert not model.quiet_after(end, 0.99 * needed)
    assert model.quiet_after(end, 1.01 * needed)


def test_no_completion_before_the_end_and_no_running_time_say_nothing() -> None:
    model = DurationModel()
    assert not model.quiet_after(2.0, 100.0)  # nothing learned
    model.expose(2.0, 50.0)  # running time only, no completion
    assert not model.quiet_after(2.0, 100.0)
    model, end = _mode_of_2_to_2_4_s()
    assert not model.quiet_after(end, 0.0)  # nothing seen past the end yet
    assert not model.quiet_after(0.01, 1000.0)  # no completion near that age: no hazard


def _cold_batch(
    count: int = 100, width: float = 0.4, seen: float = 2.3, start: float = 2.0
) -> tuple[AdaptiveSchedule, list[Track]]:
    """`count` tasks submitted at 0 on a fresh client; 60 % of them finish evenly over
    `start` to `start` + `width`, the others are polled running at `seen`. Returns the
    schedule and the live tracks (by default 60 finish over 2.0-2.4 s, 40 are
    seen running at 2.3 s)."""
    schedule = AdaptiveSchedule(seed=1, sentinels=4)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(count)]
    for track in tracks:
        schedule.next_delay(track, 0.0)
    done = count * 6 // 10
    for i, track in enumerate(tracks[:done]):
        duration = start + width * i / done
        schedule.observe(track, finished(duration), duration + 0.05)
    live = tracks[done:]
    for track in live:
        schedule.observe(track, RUNNING, seen)
        schedule.next_delay(track, seen)
    return schedule, live


def test_a_cold_batch_seen_running_past_its_mode_waits_for_the_sentinels() -> None:
    schedule, live = _cold_batch()
    support = schedule._support
    assert support is not None and 2.4 < support[1] < 2.9
    plain = [track for track in live[:30] if track.role == 0]  # (a few became sentinels)
    first = plain[0]
    schedule.observe(first, RUNNING, 2.9)
    # One task seen past the end is no evidence yet: it follows the hazard
    # measured before the end, polled again soon.
    before = schedule.next_delay(first, 2.9)
    assert before < 2.0 and not first.deferred
    assert schedule._quiet is None
    epoch = schedule.epoch
    for track in live[:30]:
        schedule.observe(track, RUNNING, 2.9)
    assert schedule._quiet == support and schedule.epoch == epoch + 1
    cap = min(schedule.max_interval, 6 * schedule.fallback.max_interval)
    delays = {track: schedule.next_delay(track, 2.9) for track in plain}
    parked = [track for track in plain if track.role == 0]  # not made sentinels meanwhile
    assert len(parked) > 20
    for track in parked:
        # The cold batch's parked wait, from the last poll, less its phase's share.
        assert 0.7 * cap - 1e-9 <= delays[track] <= cap
        assert track.deferred  # the engine moves the earlier plan here
    # Seen again past the end: the verdict is not given twice.
    schedule.observe(plain[0], RUNNING, 3.5)
    assert schedule.epoch == epoch + 1


def test_the_end_is_the_longest_completion_not_the_edge_of_its_bin() -> None:
    # 180 tasks finished by 2.298 s; their bin ends at 2.468 s (support[1]).
    # Tasks seen running between the two tell that the completions stopped, and
    # wait for the sentinels from there: not polled once more past the edge.
    schedule, live = _cold_batch(300, 0.3, 2.2)
    support = schedule._support
    assert support is not None
    longest = 2.0 + 0.3 * 179 / 180
    assert schedule._longest_seen == pytest.approx(longest, abs=1e-3)
    between = support[1] - 0.03
    assert between > longest + 0.1
    epoch = schedule.epoch
    for track in live:
        schedule.observe(track, RUNNING, between)
    assert schedule._quiet == support and schedule.epoch == epoch + 1
    assert schedule._quiet_end == schedule._longest_seen
    cap = min(schedule.max_interval, 6 * schedule.fallback.max_interval)
    plain = [track for track in live if track.role == 0]
    delays = [schedule.next_delay(track, between) for track in plain]
    parked = [(track, d) for track, d in zip(plain, delays, strict=True) if track.role == 0]
    assert len(parked) > 100
    for track, delay in parked:
        assert 0.7 * cap - 1e-9 <= delay <= cap and track.deferred


def test_a_longer_completion_starts_the_count_past_the_end_again() -> None:
    schedule, live = _cold_batch()
    for track in live[:5]:
        schedule.observe(track, RUNNING, 2.6)
    assert schedule._running_past == pytest.approx(5 * (2.6 - schedule._longest_seen), abs=1e-3)
    schedule.observe(live[5], finished(2.55), 2.6)  # a longer one: the end moves
    assert schedule._longest_seen == pytest.approx(2.55)
    assert schedule._running_past == 0.0
    schedule.observe(live[0], RUNNING, 2.7)  # counted from the new end, not its last poll
    assert schedule._running_past == pytest.approx(0.1, abs=1e-6)
    assert schedule._quiet is None


def test_a_completion_as_long_as_the_end_keeps_the_count_past_it() -> None:
    # Durations come in whole milliseconds: a second task of the longest
    # duration is common, and is no evidence that the end moved.
    schedule, live = _cold_batch()
    for track in live[:5]:
        schedule.observe(track, RUNNING, 2.6)
    counted = schedule._running_past
    assert counted > 0.0
    schedule.observe(live[5], finished(schedule._longest_seen), 2.6)
    assert schedule._running_past == counted


def test_a_sub_second_mode_ends_at_its_own_longest_completion() -> None:
    # 60 tasks finish over 0.3-0.4 s: the count past the end starts there, and
    # the verdict comes from tasks seen running well before 1 s.
    schedule, live = _cold_batch(start=0.3, width=0.1, seen=0.35)
    assert schedule._longest_seen == pytest.approx(0.3 + 0.1 * 59 / 60, abs=1e-3)
    epoch = schedule.epoch
    for track in live:
        schedule.observe(track, RUNNING, 0.6)
    assert schedule._quiet == schedule._support and schedule.epoch == epoch + 1
    assert schedule._quiet_end == schedule._longest_seen


def test_a_task_last_seen_before_the_end_is_still_polled_soon() -> None:
    # It may have finished between its last poll and the end: lag built up.
    schedule, live = _cold_batch()
    for track in live[:30]:
        schedule.observe(track, RUNNING, 2.9)
        schedule.next_delay(track, 2.9)  # (the first few replace finished sentinels)
    assert schedule._quiet is not None and len(schedule._probes) == schedule.sentinels
    unseen = live[-1]  # last seen at 2.3 s, before the end
    delay = schedule.next_delay(unseen, 2.9)
    assert unseen.role == 0  # plain, parked on the sentinels like the others
    assert delay < 1.0 and not unseen.deferred


def test_a_warm_batch_never_waits_on_a_silence() -> None:
    # A batch that starts warm follows its learned plan (its tail, a shift:
    # the sentinels and the shift test watch those); the verdict is for cold ones.
    schedule, live = _cold_batch()
    for track in live:
        schedule.release(track)
    warm = [schedule.begin(10.0, batch=True) for _ in range(40)]
    assert schedule._warm_batch
    for track in warm:
        schedule.next_delay(track, 10.0)
        schedule.observe(track, RUNNING, 12.9)
    assert schedule._quiet is None


@pytest.mark.parametrize("seen", [2.3, 2.9])
def test_the_verdict_needs_the_batch_s_own_tasks(seen: float) -> None:
    # Tasks watched one by one (not a batch) never give the verdict.
    schedule, _live = _cold_batch()  # (held: the batch lives on)
    lone = [schedule.begin(0.0) for _ in range(40)]
    for track in lone:
        schedule.observe(track, RUNNING, seen)
        schedule.observe(track, RUNNING, 2.9)
    assert schedule._quiet is None


def test_the_rate_before_the_end_reads_the_end_s_bin_and_the_two_before_it_only() -> None:
    # Completions learned in the bin after the end's (an earlier batch's longer
    # tasks) and three bins before it do not count: with either, the rate would
    # be higher and 99 % of the running time needed would already tell.
    model, end = _mode_of_2_to_2_4_s()
    k = bin_of(end)
    for duration in (_middle_of_bin(k + 1), _middle_of_bin(k - 3)):
        for _ in range(30):
            model.expose(0.0, duration)
            model.finish(duration)
    model._settle()
    assert model._events[k + 1] > 0 and model._events[k - 3] > 0
    needed = 16.0 / _rate_before(model, end)
    assert not model.quiet_after(end, 0.99 * needed)
    assert model.quiet_after(end, 1.01 * needed)


def test_the_first_bins_count_for_a_mode_that_ends_within_a_tenth_of_a_second() -> None:
    # Tasks of 10-57 ms: the end's bin is the third (k = 2), and the two before
    # it include the bin of everything under 50 ms.
    model = DurationModel()
    durations = [0.010 + 0.047 * i / 59 for i in range(60)]
    for duration in durations:
        model.expose(0.0, duration)
        model.finish(duration)
    model._settle()
    end = durations[-1]
    assert bin_of(end) == 2 and model._events[0] > 0
    needed = 16.0 / (sum(model._events[0:3]) / sum(model._exposure[0:3]))
    assert not model.quiet_after(end, 0.99 * needed)
    assert model.quiet_after(end, 1.01 * needed)


def test_less_than_a_second_of_running_time_before_the_end_still_gives_a_rate() -> None:
    # One task of 0.3 s: 0.3 s of running time in all, one completion. At that
    # rate (above 3 a second) 100 s past the end expected hundreds.
    model = DurationModel()
    model.expose(0.0, 0.3)
    model.finish(0.3)
    model._settle()
    assert 0 < sum(model._exposure) < 1.0
    assert model.quiet_after(0.3, 100.0)
    assert not model.quiet_after(0.3, 0.0)
