"""A cold batch sees its completions stop (the end of a mode) and stops following them.

`DurationModel.quiet_past` tells when the running time seen past the longest
completion should have shown completions that did not come; `AdaptiveSchedule`
then parks the cold batch's tasks seen past that end on the sentinels, and
moves the polls it had planned from the hazard before the end.
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
    """`count` tasks that finished evenly over 2.0-2.4 s, and the support's upper edge."""
    model = DurationModel()  # forgetting: counts in weighted units, read back in seconds
    for i in range(count):
        duration = 2.0 + 0.4 * i / count
        model.expose(0.0, duration)
        model.finish(duration)
    model._settle()  # the whole bins `expose` left pending: read `_exposure` below
    support = model.support()
    assert support is not None
    return model, support[1]


def test_running_time_past_the_longest_completion_tells_the_completions_stopped() -> None:
    model, end = _mode_of_2_to_2_4_s()
    assert end == edge(bin_of(2.39) + 1)
    # The hazard of the two bins before the end, times the running time seen
    # past it, is the count of completions expected there; none came.
    k = bin_of(2.39)
    rate = sum(model._events[k - 1 : k + 1]) / sum(model._exposure[k - 1 : k + 1])
    needed = 16.0 / rate  # the running time at which 16 are expected (Z = 4, none seen)
    model.expose(end, end + 0.9 * needed)
    assert not model.quiet_past(end)
    model.expose(end, end + 0.2 * needed)
    assert model.quiet_past(end)


def test_completions_that_go_on_past_the_end_are_no_silence() -> None:
    model, end = _mode_of_2_to_2_4_s()
    k = bin_of(2.39)
    rate = sum(model._events[k - 1 : k + 1]) / sum(model._exposure[k - 1 : k + 1])
    model.expose(end, end + 40.0 / rate)  # 40 completions expected
    for _ in range(30):  # 30 came: fewer, but within the noise of a rising hazard
        model.finish(end + 0.01)
    assert not model.quiet_past(end)


def test_a_few_completions_past_the_end_where_many_were_due_still_tell_it() -> None:
    # 600 tasks learned (the counts are weighted: forgetting), then running time
    # past the end where 40 were due and 10 came: 30 fewer is beyond the noise.
    model, end = _mode_of_2_to_2_4_s(600)
    k = bin_of(2.39)
    rate = sum(model._events[k - 1 : k + 1]) / sum(model._exposure[k - 1 : k + 1])
    model.expose(end, end + 40.0 / rate)
    for _ in range(10):
        model.finish(end + 0.01)
    assert model.quiet_past(end)


def test_no_completion_before_the_end_and_no_running_time_say_nothing() -> None:
    model = DurationModel()
    assert not model.quiet_past(2.0)  # nothing learned
    model.expose(2.0, 50.0)  # running time only past the age
    assert not model.quiet_past(2.0)
    model, end = _mode_of_2_to_2_4_s()
    assert not model.quiet_past(end)  # nothing seen past the end yet


def _cold_batch_after_its_short_mode() -> tuple[AdaptiveSchedule, list[Track]]:
    """100 tasks submitted at 0 on a fresh client; 60 finish over 2.0-2.4 s, the other
    40 are polled running at 2.3 s. Returns the schedule and the 40 live tracks."""
    schedule = AdaptiveSchedule(seed=1, sentinels=4)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(100)]
    for track in tracks:
        schedule.next_delay(track, 0.0)
    for i, track in enumerate(tracks[:60]):
        duration = 2.0 + 0.4 * i / 60
        schedule.observe(track, finished(duration), duration + 0.05)
    live = tracks[60:]
    for track in live:
        schedule.observe(track, RUNNING, 2.3)
        schedule.next_delay(track, 2.3)
    return schedule, live


def test_a_cold_batch_seen_running_past_its_mode_waits_for_the_sentinels() -> None:
    schedule, live = _cold_batch_after_its_short_mode()
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


def test_a_task_last_seen_before_the_end_is_still_polled_soon() -> None:
    # It may have finished between its last poll and the end: lag built up.
    schedule, live = _cold_batch_after_its_short_mode()
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
    schedule, live = _cold_batch_after_its_short_mode()
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
    schedule, _live = _cold_batch_after_its_short_mode()  # (held: the batch lives on)
    lone = [schedule.begin(0.0) for _ in range(40)]
    for track in lone:
        schedule.observe(track, RUNNING, seen)
        schedule.observe(track, RUNNING, 2.9)
    assert schedule._quiet is None
