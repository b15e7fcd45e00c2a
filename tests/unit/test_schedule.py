"""`AdaptiveSchedule` and its survival model, on their own (no I/O): the safety rules,
what it learns from censored observations, hostile records, seeding, threads and fork."""

from __future__ import annotations

import json
import math
import multiprocessing
import random
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stablebrowse_async import AdaptiveSchedule, PollSchedule, Task, TaskStatus
from stablebrowse_async._estimator import _ALPHA, DurationModel, _unlikely, bin_of, edge
from stablebrowse_async._schedule import coerce_schedule, duration_of

RUNNING = Task(task_id="t", status=TaskStatus.RUNNING)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def finished(seconds: float, **fields: Any) -> Task:
    return Task(
        task_id="t", status=TaskStatus.COMPLETED, duration_ms=round(seconds * 1000), **fields
    )


def taught(durations: list[float], **options: Any) -> AdaptiveSchedule:
    """A schedule that watched tasks of these durations from start to end, polling each once."""
    schedule = AdaptiveSchedule(seed=1, **options)
    for d in durations:
        track = schedule.begin(0.0)
        schedule.observe(track, finished(d), d)
    return schedule


def walk(
    schedule: AdaptiveSchedule, duration: float, *, batch: bool = False, start: float = 0.0
) -> list[float]:
    """Poll one task of `duration` as a poller would; return the gaps between polls."""
    track = schedule.begin(start, batch=batch)
    now, gaps = start, []
    for _ in range(10_000):
        gap = schedule.next_delay(track, now)
        gaps.append(gap)
        now += gap
        if now - start >= duration:
            schedule.observe(track, finished(duration), now)
            return gaps
        schedule.observe(track, RUNNING, now)
    raise AssertionError("never finished")


durations_st = st.lists(st.floats(min_value=0.1, max_value=600.0), min_size=0, max_size=40)


@settings(max_examples=60, deadline=None)
@given(durations_st, st.floats(min_value=0.05, max_value=900.0), st.booleans())
def test_gaps_respect_min_interval_and_max_interval_rule(
    learned: list[float], duration: float, batch: bool
) -> None:
    schedule = taught(learned)
    support = schedule._support
    shortest = support[0] if support else math.inf
    track = schedule.begin(0.0, batch=batch)
    now = 0.0
    while now < duration:
        gap = schedule.next_delay(track, now)
        assert gap >= schedule.min_interval
        if gap > schedule.max_interval:
            # Only where the model has seen no completion: before the shortest duration.
            assert now + gap <= shortest * 1.0001 or support is None
        now += gap
        schedule.observe(track, RUNNING if now < duration else finished(duration), now)


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0.1, max_value=3000.0), st.integers(0, 2**32))
def test_a_lone_task_on_a_fresh_client_is_polled_no_later_than_the_geometric_schedule(
    duration: float, seed: int
) -> None:
    geometric = PollSchedule(jitter=0.0)
    gaps = walk(AdaptiveSchedule(seed=seed), duration)
    age = reference = 0.0
    for n, gap in enumerate(gaps):
        age += gap
        reference += geometric.interval(n)
        assert age <= reference + 1e-9


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=0.5, max_value=5.0), min_size=1, max_size=30),
    st.floats(min_value=1.0, max_value=50.0),
)
def test_beyond_the_learned_support_polls_fall_back_to_geometric_from_the_age(
    learned: list[float], factor: float
) -> None:
    schedule = taught(learned)
    assert schedule._support is not None
    longest = schedule._support[1]
    age = longest * factor
    track = schedule.begin(0.0)
    schedule.observe(track, RUNNING, age)
    assert schedule.next_delay(track, age) <= PollSchedule().from_age(age) + 1e-9


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32))
def test_quantiles_are_recovered_from_censored_samples(seed: int) -> None:
    """Lognormal(median 20 s, sigma 0.5), each task also censored at a uniform 0-40 s age:
    about 40 % are still running when last seen. Stated tolerance: 10 % on p25, p50, p75
    with 4 000 tasks; the estimate ignoring the running tasks is far off."""
    rng = random.Random(seed)
    model, naive = DurationModel(half_life=1e9), DurationModel(half_life=1e9)
    for _ in range(4000):
        d, c = rng.lognormvariate(math.log(20.0), 0.5), rng.uniform(0.0, 40.0)
        if d <= c:
            model.learn(d)
            naive.learn(d)
        else:
            model.expose(0.0, c)
    for q, z in ((0.25, -0.6745), (0.5, 0.0), (0.75, 0.6745)):
        true = 20.0 * math.exp(0.5 * z)
        estimate = model.quantile(q)
        assert estimate is not None
        assert abs(estimate - true) <= 0.1 * true, (q, estimate, true)
    naive_median = naive.quantile(0.5)
    assert naive_median is not None and naive_median < 0.85 * 20.0


def test_a_seeded_schedule_is_deterministic() -> None:
    learned = [1.0, 1.5, 2.0, 2.5] * 5
    first = [walk(taught(learned), d) for d in (1, 7)]
    second = [walk(taught(learned), d) for d in (1, 7)]
    assert first == second
    other = AdaptiveSchedule(seed=2)
    assert walk(other, 30.0) != walk(AdaptiveSchedule(seed=3), 30.0)


def test_what_it_learned_moves_polls_to_where_tasks_finish() -> None:
    schedule = taught([19.0, 20.0, 21.0, 20.5, 19.5] * 8)
    gaps = walk(schedule, 20.2)
    # A model that knows tasks take ~20 s spends its first poll late, not at 1 s.
    assert gaps[0] > 5.0
    assert len(gaps) < len(walk(AdaptiveSchedule(seed=1), 20.2))
    q = schedule.quantile(0.5)
    assert q is not None and 19.0 <= q <= 21.5


def _hostile() -> list[Task]:
    far = T0 + timedelta(days=3650)
    return [
        Task(task_id="t", status=TaskStatus.COMPLETED),  # nothing at all
        Task(task_id="t", status=TaskStatus.COMPLETED, duration_ms=-5),
        Task(task_id="t", status=TaskStatus.COMPLETED, duration_ms=10**15),
        Task(task_id="t", status=TaskStatus.COMPLETED, duration_ms="abc"),  # type: ignore[arg-type]
        Task(task_id="t", status=TaskStatus.COMPLETED, duration_ms=True),  # type: ignore[arg-type]
        Task(task_id="t", status=TaskStatus.COMPLETED, duration_ms=float("nan")),  # type: ignore[arg-type]
        Task(
            task_id="t",
            status=TaskStatus.COMPLETED,
            created_at=T0,
            updated_at=T0 - timedelta(seconds=30),
        ),
        Task(task_id="t", status=TaskStatus.FAILED, created_at=T0, updated_at=far),
        Task(
            task_id="t",
            status=TaskStatus.COMPLETED,
            created_at=T0,
            updated_at=datetime(2026, 1, 1, 0, 0, 9),  # naive against aware
        ),
        # Plausible on its own, but longer than the client saw the task live.
        finished(3000.0),
    ]


def test_hostile_records_are_ignored_and_counted_never_learned() -> None:
    schedule = taught([2.0] * 10)
    before = schedule.snapshot()
    for record in _hostile():
        track = schedule.begin(100.0)
        schedule.observe(track, record, 110.0)
        assert schedule.next_delay(schedule.begin(0.0), 0.5) >= schedule.min_interval
    after = schedule.snapshot()
    assert schedule.ignored == after["ignored"] == len(_hostile())
    assert after["quantiles"] == before["quantiles"]
    assert after["observed"] == before["observed"]


def test_a_skewed_server_clock_does_not_matter() -> None:
    """Only differences of the server's own timestamps are used, never the client's clock."""
    skewed = T0 + timedelta(hours=7)
    record = Task(
        task_id="t",
        status=TaskStatus.COMPLETED,
        created_at=skewed,
        updated_at=skewed + timedelta(seconds=3),
    )
    assert duration_of(record) == 3.0
    schedule = AdaptiveSchedule(seed=1)
    schedule.observe(schedule.begin(0.0), record, 3.2)
    assert schedule.observed == 1
    assert schedule.ignored == 0


def test_a_snapshot_is_json_and_seeds_another_schedule() -> None:
    schedule = taught([random.Random(i).uniform(10, 30) for i in range(200)])
    snapshot = json.loads(json.dumps(schedule.snapshot()))
    assert snapshot["observed"] == 200
    assert set(snapshot["quantiles"]) == {"p10", "p50", "p90"}
    seeded = AdaptiveSchedule(prior=snapshot, seed=1)
    assert seeded.quantile(0.5) == pytest.approx(schedule.quantile(0.5), rel=1e-6)
    # It plans like the schedule it came from (the first poll, before any new completion).
    assert walk(seeded, 20.0)[0] == pytest.approx(walk(schedule, 20.0)[0], rel=0.05)
    listed = AdaptiveSchedule(prior=[20.0] * 10)
    q = listed.quantile(0.5)
    assert q is not None and 18.0 <= q <= 22.0


@pytest.mark.parametrize(
    ("prior", "error", "match"),
    [
        ("20", TypeError, "prior must be"),
        ([20, "x"], TypeError, r"prior\[1\]"),
        ([20, -1], ValueError, r"prior\[1\]"),
        ([float("inf")], ValueError, r"prior\[0\]"),
        ({"version": 2}, ValueError, "version 1"),
        ({"version": 1, "bins": [[1, 0.5, 1, 1]]}, ValueError, r"bins'\]\[0\]"),
        ({"version": 1, "bins": [[1, 2, 1, True]]}, ValueError, r"bins'\]\[0\]"),
        ({"version": 1, "bins": [[1e9, 2e9, 1, 1]]}, ValueError, "beyond"),
    ],
)
def test_a_bad_prior_is_refused_naming_what_is_wrong(prior: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        AdaptiveSchedule(prior=prior)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"min_interval": 0}, ValueError, "min_interval"),
        ({"max_interval": "5"}, TypeError, "max_interval"),
        ({"min_interval": 6.0, "max_interval": 5.0}, ValueError, "must not exceed"),
        ({"poll_cost": -1}, ValueError, "poll_cost"),
        ({"jitter": 1.0}, ValueError, "jitter"),
        ({"jitter": "x"}, TypeError, "jitter"),
        ({"fallback": 5}, TypeError, "fallback"),
        ({"sentinels": -1}, ValueError, "sentinels"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"half_life": 0.5}, ValueError, "half_life"),
        ({"half_life": "x"}, TypeError, "half_life"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        AdaptiveSchedule(**options)


def test_poll_interval_accepts_either_schedule_or_a_number() -> None:
    adaptive = AdaptiveSchedule()
    assert coerce_schedule(adaptive) is adaptive
    assert isinstance(coerce_schedule(None), AdaptiveSchedule)
    assert coerce_schedule(2.0) == PollSchedule(first=1.0, max_interval=2.0)
    fixed = PollSchedule()
    assert coerce_schedule(fixed) is fixed
    assert "observed=0" in repr(adaptive)


def test_a_cold_batch_parks_all_but_the_sentinels_until_one_reports() -> None:
    schedule = AdaptiveSchedule(seed=1, sentinels=4)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(50)]
    delays = [schedule.next_delay(t, 0.0) for t in tracks]
    assert all(d <= 1.0 for d in delays[:4])  # sentinels: no later than geometric
    assert all(d > 1.0 and t.provisional for d, t in zip(delays[4:], tracks[4:], strict=True))
    # Parked until the sentinels report: no poll of theirs is spent before.
    assert min(delays[4:]) > 30.0
    epoch = schedule.epoch
    schedule.observe(tracks[0], finished(1.0), 1.0)
    assert schedule.epoch > epoch
    # Re-planned from what the sentinel saw: the parked tasks come due soon.
    assert schedule.next_delay(tracks[10], 1.0) <= PollSchedule().from_age(1.0)
    for track in tracks:
        schedule.release(track)
    assert not schedule._probes


def _a_batch_past_what_it_learned(schedule: AdaptiveSchedule, start: float) -> list[Any]:
    """60 tasks submitted at `start`; one sentinel finishes at 1 s; the others are
    polled running at 3 s, past the little learned. Returns the tracks of the
    live ones (the schedule holds them weakly, as the engine's entries hold them)."""
    tracks = [schedule.begin(start, batch=True) for _ in range(60)]
    for track in tracks:
        schedule.next_delay(track, start)
    schedule.observe(tracks[0], finished(1.0), start + 1.0)
    for track in tracks[1:]:
        schedule.next_delay(track, start + 1.0)
    for track in tracks[4:]:
        schedule.observe(track, RUNNING, start + 3.0)
    return tracks[1:]


def test_a_cold_batch_spreads_its_parked_waits_past_what_it_learned() -> None:
    # Parked in step, all of a cold batch's tasks would poll a quiet gap between
    # two modes at the same ages. Each waits instead up to 30 s less a share
    # fixed by its own phase, counted from its last poll: one poll in the gap,
    # spread so that the batch probes it continuously.
    schedule = AdaptiveSchedule(seed=1, sentinels=4)
    tracks = _a_batch_past_what_it_learned(schedule, 0.0)
    planned = {track: schedule.next_delay(track, 3.0) for track in tracks}
    # (One plain task took the finished sentinel's place: sentinels keep probing.)
    plain = [track for track in tracks if track not in schedule._probes]
    assert not schedule._warm_batch and len(plain) > 40
    cap = min(schedule.max_interval, 6 * schedule.fallback.max_interval)
    delays = [planned[track] for track in plain]
    assert all(0.7 * cap - 1e-9 <= d <= cap for d in delays)
    assert max(delays) - min(delays) > 0.15 * cap  # spread, not in step
    # Re-planned later without a poll, each keeps its due time: the phase is
    # drawn once and the wait counts from the last poll.
    for track, delay in zip(plain, delays, strict=True):
        assert schedule.next_delay(track, 5.0) == pytest.approx(3.0 + delay - 5.0)
    # A warm batch's parked tasks keep the shorter cap (a tail, or a shift the
    # sentinels must find first).
    for track in tracks:
        schedule.release(track)
    warm = _a_batch_past_what_it_learned(schedule, 100.0)
    assert schedule._warm_batch
    delays = [schedule.next_delay(track, 103.0) for track in warm[3:]]
    assert max(delays) <= 3 * schedule.fallback.max_interval


def local_hazard(model: DurationModel, age: float) -> float:
    """The local rule's hazard at `age` (`DurationModel.segments`)."""
    return next(h for low, high, h in model.segments(0.0) if low <= age < high)


def test_the_local_rule_takes_a_bins_own_rate_where_its_neighbourhood_is_rich() -> None:
    # 20 tasks finish at 2.0 s, 20 more run on to 4.0 s. Pooled with its
    # neighbours, the bin holding 2.0 s reads a third of its own rate: a steep
    # edge flattened, where a batch of one age needs polls close together.
    model = DurationModel(half_life=1e9)  # no forgetting: exact counts
    for _ in range(20):
        model.learn(2.0)
        model.learn(4.0)
    low, high = edge(bin_of(2.0)), edge(bin_of(2.0) + 1)
    own = 20 / (20 * (2.0 - low) + 20 * (high - low))
    assert local_hazard(model, 2.0) == pytest.approx(own)
    assert model.hazard_at(2.0) < own / 2  # the pooled rate, for everything else
    # Where the bin saw no completion, pooled: "nothing finishes here" is what
    # pooling exists to prevent.
    assert local_hazard(model, 2.1) == model.hazard_at(2.1) > 0
    # Too few completions around it: pooled too.
    few = DurationModel(half_life=1e9)
    for _ in range(3):
        few.learn(2.0)
        few.learn(4.0)
    assert local_hazard(few, 2.0) == few.hazard_at(2.0)
    # A rate the shift test replaced stays replaced: here the new batch's tasks
    # all ran past 2.0 s, where the old ones finished.
    shifted = DurationModel(half_life=1e9)
    for _ in range(100):
        shifted.learn(2.0)
    shifted.forget_recent()
    for _ in range(30):
        shifted.learn(4.0)
    assert shifted.shifted > 0
    assert local_hazard(shifted, 2.0) == shifted.hazard_at(2.0) == 0.0


def test_a_batch_of_longer_tasks_than_learned_waits_for_its_sentinels() -> None:
    # Learned: tasks of 1-2 s. A new batch runs past 2 s with none finished:
    # once the model sees the shift, its plain tasks stop being polled where the
    # old tasks used to finish and wait (at most max_interval) for the sentinels.
    schedule = taught([1.0 + i / 100 for i in range(100)], sentinels=4)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(200)]
    plain = tracks[10]
    assert schedule.next_delay(plain, 1.0) < 2.0  # where the learned tasks finish
    for track in tracks:
        schedule.observe(track, RUNNING, 1.9)
    assert schedule._model.shifted > 0 and schedule._model.recent_completions == 0
    delay = schedule.next_delay(plain, 1.9)
    assert 0.85 * schedule.max_interval <= delay <= schedule.max_interval and plain.provisional
    assert schedule.next_delay(tracks[0], 1.9) < 2.0  # a sentinel keeps probing
    # The first completion of this batch re-plans it from what that completion says.
    epoch = schedule.epoch
    schedule.observe(tracks[0], finished(6.0), 6.0)
    assert schedule.epoch > epoch and schedule._model.recent_completions == 1
    assert schedule.next_delay(plain, 6.0) < 0.85 * schedule.max_interval


def test_the_first_polls_that_show_a_batch_cold_again_defer_the_others_plans() -> None:
    # Learned: tasks of 1-2 s. Polls of a new batch at 1.9 s all find their
    # tasks running: as soon as the model sees the shift, the epoch moves (no
    # completion needed), and the tasks not polled yet are re-planned to wait
    # for the sentinels, later than their plan: deferred, once per batch.
    schedule = taught([1.0 + i / 100 for i in range(100)], sentinels=4)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(200)]
    waiting = tracks[-1]
    assert schedule.next_delay(waiting, 0.0) < 2.0 and not waiting.deferred
    epoch, moved_after = schedule.epoch, None
    for polled, track in enumerate(tracks[:150], 1):
        schedule.observe(track, RUNNING, 1.9)
        if moved_after is None and schedule.epoch != epoch:
            moved_after = polled
    assert moved_after is not None and moved_after < 150
    assert schedule.epoch == epoch + 1  # the verdict moved it once, not at every poll
    delay = schedule.next_delay(waiting, 1.9)
    assert waiting.deferred and waiting.provisional
    assert 0.85 * schedule.max_interval - 1.9 <= delay <= schedule.max_interval - 1.9
    # However often re-planned, it waits at most max_interval after its last poll.
    polled = tracks[20]
    assert schedule.next_delay(polled, 12.0) <= 1.9 + schedule.max_interval - 12.0
    # Any other answer is not deferred.
    assert schedule.next_delay(tracks[0], 1.9) < 2.0 and not tracks[0].deferred


def test_a_cold_batch_prices_a_poll_on_no_less_than_the_oldest_age_seen_running() -> None:
    # The first completions of a cold batch are its shortest: priced on them,
    # polls were cheap at half their worth. While the median is unknown it lies
    # past the age every task still running has reached.
    schedule = AdaptiveSchedule(seed=1, sentinels=0)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(100)]
    for i, track in enumerate(tracks[:5]):
        schedule.observe(track, finished(1.0 + i / 100), 1.05 + i / 100)
    for track in tracks[5:]:
        schedule.observe(track, RUNNING, 1.6)
    assert schedule._model.median is None
    assert schedule._model.edge()[0] >= 1.6
    assert math.exp(schedule._scale) < 1.1  # what the completions alone say
    assert schedule._cost(0.5) == schedule._cost(1.6) >= schedule.poll_cost * 1.6
    # Once half have finished, the median (or the completions, if shorter) again.
    for i, track in enumerate(tracks[5:60]):
        schedule.observe(track, finished(1.7 + i / 100), 2.4)
    median = schedule._model.median
    assert median is not None and median < 2.4
    assert schedule._cost(2.4) == pytest.approx(
        schedule.poll_cost * min(median, math.exp(schedule._scale))
    )


def test_a_schedule_seeded_with_a_prior_prices_polls_on_it_before_any_completion() -> None:
    # The prior's typical duration (its median) prices every poll from the
    # start, a task younger than it included: not the task's age.
    schedule = AdaptiveSchedule(seed=1, prior=[2.0 + i / 100 for i in range(100)])
    median = schedule._model.median
    assert median is not None and 2.0 < median < 3.0
    assert schedule._cost(0.5) == pytest.approx(schedule.poll_cost * median)
    assert schedule._cost(0.5) == schedule._cost(0.01)


def test_while_the_model_follows_a_shift_a_poll_is_priced_on_the_tasks_age() -> None:
    schedule = taught([1.0 + i / 100 for i in range(100)], sentinels=4)
    steady = schedule._cost(20.0)
    assert steady < schedule.poll_cost * 2.0  # priced on the learned 1-2 s
    tracks = [schedule.begin(0.0, batch=True) for _ in range(200)]
    for track in tracks[1:]:
        schedule.observe(track, RUNNING, 1.9)
    assert schedule._model.shifted > 0
    # Priced on the verdict seen at the last completion (no re-estimate per poll).
    assert schedule._cost(20.0) < schedule.poll_cost * 2.0
    schedule.observe(tracks[0], finished(6.0), 6.0)
    assert schedule._model.shifted > 0
    assert schedule._cost(20.0) == pytest.approx(schedule.poll_cost * 20.0)
    # Younger than the learned typical duration: priced on that, as before.
    assert schedule._cost(0.5) == schedule._cost(0.01) < schedule.poll_cost * 2.0


def test_threads_share_one_schedule_and_a_forked_child_can_use_it() -> None:
    schedule = taught([1.0, 2.0] * 10)
    errors: list[BaseException] = []

    def hammer(seed: int) -> None:
        try:
            rng = random.Random(seed)
            for _ in range(300):
                track = schedule.begin(0.0, batch=True)
                schedule.next_delay(track, rng.uniform(0, 3))
                schedule.observe(track, finished(rng.uniform(0.5, 2.5)), 3.0)
        except BaseException as error:  # pragma: no cover (reported below)
            errors.append(error)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert schedule.observed == 20 + 1200

    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return
    holder = threading.Thread(target=lambda: schedule._lock.acquire(timeout=0.5))
    with schedule._lock:  # held while forking: the child must not inherit a locked lock
        child = multiprocessing.get_context("fork").Process(target=_use_in_child, args=(schedule,))
        child.start()
    child.join(30)
    holder.start()
    holder.join()
    assert child.exitcode == 0


def _use_in_child(schedule: AdaptiveSchedule) -> None:
    track = schedule.begin(0.0)
    schedule.next_delay(track, 0.5)
    schedule.observe(track, finished(1.0), 1.0)


def test_the_model_forgets_and_stays_finite() -> None:
    model = DurationModel(half_life=1.0)  # each completion halves what came before
    for _ in range(600):  # 2**600 would overflow without rescaling
        model.learn(10.0)
    model.learn(1.0)
    assert model.weight == pytest.approx(2.0, rel=1e-6)  # 1 + 1/2 + 1/4 + ...
    assert math.isfinite(model.hazard_at(10.0)) and model.hazard_at(10.0) > 0
    model.expose(5.0, 2.0)  # backwards: ignored
    model.expose(0.0, 10.0**9)  # beyond a week: ignored
    assert 0 < model.survival(5.0) < 1
    with pytest.raises(ValueError, match="q must be"):
        model.quantile(1.0)


def test_after_a_shift_to_shorter_tasks_the_model_follows_within_32_completions() -> None:
    rng = random.Random(5)
    # The same counts without the recent copy's test (it never disagrees with itself).
    model, slow = DurationModel(), DurationModel(recent_half_life=256.0)
    for _ in range(500):
        d = rng.uniform(20.0, 30.0)
        model.learn(d)
        slow.learn(d)
    assert model.survival(2.5) > 0.95 and model.shifted == 0
    for _ in range(32):
        d = rng.uniform(1.0, 2.0)
        model.learn(d)
        slow.learn(d)
    assert model.shifted > 0
    assert slow.survival(2.5) > 0.8  # the long-run counts: "most tasks run past 2.5 s"
    assert model.survival(2.5) < 0.35
    # ... and the tail it knew is still there: nothing recent contradicts it.
    quantile = model.quantile(0.99)
    assert quantile is not None and quantile > 20.0


def test_after_a_shift_to_longer_tasks_the_old_durations_stop_drawing_polls() -> None:
    rng = random.Random(6)
    model, slow = DurationModel(), DurationModel(recent_half_life=256.0)
    for _ in range(500):
        d = rng.uniform(1.0, 2.0)
        model.learn(d)
        slow.learn(d)
    # A new batch of 100 longer tasks, all seen running at 3 s: none finished.
    for _ in range(100):
        model.expose(0.0, 3.0)
        slow.expose(0.0, 3.0)
    assert model.shifted > 0
    assert slow.hazard_at(1.5) > 1.0
    assert model.hazard_at(1.5) < 0.3


def _bimodal(rng: random.Random, n: int, long: tuple[float, float] = (25.0, 35.0)) -> list[float]:
    """`n` durations: two thirds of 1.5-2.5 s, the rest in the `long` range."""
    return [rng.uniform(1.5, 2.5) if rng.random() < 2 / 3 else rng.uniform(*long) for _ in range(n)]


def _learned_then_a_batch(
    learned: list[float], running_to: float, finished_at: list[float]
) -> DurationModel:
    """`learned` tasks, then a new batch: 5 sentinels seen running to `running_to`
    seconds, and the batch's tasks finishing at `finished_at`."""
    model = DurationModel()
    for duration in learned:
        model.learn(duration)
    model.forget_recent()
    for _ in range(5):
        model.expose(0.0, running_to)
    for duration in finished_at:
        model.learn(duration)
    return model


def test_two_completions_where_the_model_said_none_happen_show_a_shift() -> None:
    # The long-run counts take the new completions in too, so the 4-sigma test
    # alone needed 5 of them there; against the model as the batch began
    # (nothing between 2.5 s and 25 s), two are a shift. The batch's 5
    # sentinels ran 12 s, through the quiet stretch between the modes.
    learned = _bimodal(random.Random(3), 600)
    assert _learned_then_a_batch(learned, 12.0, [10.0, 10.6]).shifted > 0
    assert _learned_then_a_batch(learned, 12.0, [10.0]).shifted == 0  # one is noise
    # Where tasks did finish.
    assert _learned_then_a_batch(learned, 12.0, [2.0, 2.2, 1.9]).shifted == 0
    assert _learned_then_a_batch(learned, 12.0, []).shifted == 0


def _two_modes_then_shorter(rng: random.Random) -> list[float]:
    """What `shifting_into_gap` teaches before its last batch: 2 s / 30 s tasks,
    then 2 s / 9-12 s ones (so nothing ever finished between 12 s and 25 s)."""
    return _bimodal(rng, 400) + _bimodal(rng, 400, (9.0, 12.0))


def test_completions_just_past_a_learned_mode_where_none_ever_finished_show_a_shift() -> None:
    # The bin past the 9-12 s mode's last saw no completion, and its pooled rate
    # (spilled from that last bin) expects a few: what tells a shift there is
    # two completions in a bin the plan treats as empty, beside a dense one.
    learned = _two_modes_then_shorter(random.Random(5))
    past = bin_of(12.0) + 1
    inside = (edge(past) + edge(past + 1)) / 2
    assert _learned_then_a_batch(learned, 16.0, [inside, inside + 0.1]).shifted > 0
    assert _learned_then_a_batch(learned, 16.0, [inside]).shifted == 0  # one is noise
    # In the mode's own last bin: where tasks did finish.
    assert _learned_then_a_batch(learned, 16.0, [11.9, 11.95]).shifted == 0


def test_two_completions_in_a_sparse_tail_are_not_a_shift() -> None:
    # Bins between scattered long durations hold none, and their neighbours one
    # each: two completions in one of them are the tail's noise, not a shift.
    rng = random.Random(6)
    tail = [40.0 * 1.19**i for i in range(8)]  # about two bins apart
    learned = [rng.uniform(1.0, 3.0) for _ in range(400)] + tail * 3
    gap = (tail[2] * tail[3]) ** 0.5  # between two of them, in a bin with none
    assert not any(bin_of(duration) == bin_of(gap) for duration in tail)
    assert _learned_then_a_batch(learned, 130.0, [gap, gap * 1.01]).shifted == 0


def test_completions_at_the_end_of_a_learned_mode_are_not_a_shift() -> None:
    # The 2 s mode's last bin, the bin past it quiet (the 30 s tasks ran through
    # it): completions there are what the model expects, whatever follows it
    # (its sentinels ran through the mode, as a batch's tasks do).
    rng = random.Random(7)
    short = [rng.uniform(1.5, 2.5) for _ in range(400)]
    learned = short + [rng.uniform(25.0, 35.0) for _ in range(200)]
    top = max(short)
    assert bin_of(top - 0.02) == bin_of(top)
    assert _learned_then_a_batch(learned, 3.0, [top - 0.02, top - 0.01]).shifted == 0


def test_completions_at_the_top_of_a_narrow_mode_are_not_a_shift() -> None:
    # 59-61 s tasks: the last bin holding completions (from 60.89 s) saw each of
    # its tasks run a moment and finish. Pooled with the long running time of
    # the bin before, its rate read 0.2/s where its own is ~15/s, and the next
    # batch's longest tasks there read as a shift (four: Poisson odds below a
    # 4-sigma deviation's); the rate a batch is tested against is never below
    # the bin's own.
    rng = random.Random(4)
    learned = [rng.uniform(59.0, 61.0) for _ in range(400)]
    top = bin_of(max(learned))
    assert sum(bin_of(duration) == top for duration in learned) >= 5
    past = [edge(top) + 0.03 * i for i in range(1, 5)]
    assert _learned_then_a_batch(learned, 58.0, past).shifted == 0
    # Far past the mode, where no task ran: still a shift.
    assert _learned_then_a_batch(learned, 58.0, [75.0, 75.5]).shifted > 0


def test_a_batch_is_tested_against_a_bins_own_rate_only_where_the_model_trusts_it() -> None:
    # Counts set exactly through a snapshot (no forgetting yet: one unit).
    k = bin_of(10.0)

    def rates(rows: dict[int, tuple[float, float]]) -> list[float]:
        model = DurationModel()
        bins = [[edge(j), edge(j + 1), events, spent] for j, (events, spent) in rows.items()]
        model.seed({"version": 1, "bins": bins})
        model.forget_recent()
        return model._batch_rates

    # One completion in 0.5 s of running time, five around it: its own 2/s
    # (not 5 / 100.5 s pooled), at each bound of the rule.
    trusted = rates({k - 1: (4.0, 100.0), k: (1.0, 0.5)})
    assert trusted[k] == pytest.approx(2.0)
    assert trusted[k - 1] == pytest.approx(5.0 / 100.5)  # its own (0.04/s) is lower
    # Four around it: pooled.
    assert rates({k - 1: (3.0, 100.0), k: (1.0, 0.5)})[k] == pytest.approx(4.0 / 100.5)
    # Half a completion in the bin (after forgetting, say): pooled.
    assert rates({k - 1: (4.5, 100.0), k: (0.5, 0.25)})[k] == pytest.approx(5.0 / 100.25)
    # Completions and no running time (a hand-made snapshot): pooled, no division.
    assert rates({k - 1: (5.0, 100.0), k: (1.0, 0.0)})[k] == pytest.approx(6.0 / 100.0)


def test_the_model_counts_a_batchs_completions_where_none_were_when_it_began() -> None:
    learned = _bimodal(random.Random(3), 600)  # nothing between ~2.5 s and 25 s
    # 10 s: inside the quiet stretch; 2 s and 30 s: where tasks finish.
    model = _learned_then_a_batch(learned, 12.0, [10.0, 2.0, 30.0])
    assert model.unexpected == 1
    assert _learned_then_a_batch(learned, 16.0, [10.0, 2.0, 15.0]).unexpected == 2
    assert model.shifted == 0  # one is not a shift
    model.forget_recent()  # a new batch
    assert model.unexpected == 0
    # Past the longest learned when the batch began, or below the shortest, also
    # once the batch's own shorter tasks were learned: news of other kinds,
    # which sentinels follow at the fallback's spacing or closer.
    assert _learned_then_a_batch(learned, 12.0, [40.0, 0.5, 0.8]).unexpected == 0
    # Just past a dense mode's last bin, in a bin the plan treats as empty.
    shorter = _two_modes_then_shorter(random.Random(5))
    past = bin_of(12.0) + 1
    inside = (edge(past) + edge(past + 1)) / 2
    assert _learned_then_a_batch(shorter, 16.0, [inside]).unexpected == 1
    assert _learned_then_a_batch(shorter, 16.0, [11.9]).unexpected == 0


def test_one_completion_in_a_quiet_stretch_puts_a_warm_batchs_sentinels_on_watch() -> None:
    # Learned 2 s / 30 s tasks: the plan skips ~2.5-26 s, and four sentinels
    # probe that stretch at the fallback's spacing (~30 % of their age). One
    # completion there (9.02 s) may be the first of a shift: until the batch's
    # tasks are ~1.41 times that old, each sentinel is polled at a tenth of its
    # age.
    schedule, running, live = _its_short_mode_finished()
    assert len(live) == 4
    for track in live:
        schedule.observe(track, RUNNING, 8.0)
    assert schedule.next_delay(live[1], 8.0) > 0.2 * 8.0  # the fallback's spacing
    epoch = schedule.epoch
    schedule.observe(live[0], finished(9.02), 9.3)
    assert schedule.epoch > epoch  # re-planned at once
    assert schedule._model.shifted == 0
    assert 0.9 * 0.1 * 9.3 <= schedule.next_delay(live[1], 9.3) <= 0.1 * 9.3  # jitter 10 %
    for track in running:
        schedule.next_delay(track, 9.3)
    assert len(schedule._probes) == 4  # no more of them
    # Past 9.02 s * 1.41 = 12.7 s: the fallback's spacing again.
    schedule.observe(live[1], RUNNING, 13.0)
    assert schedule.next_delay(live[1], 13.0) > 0.2 * 13.0


@pytest.mark.parametrize(
    ("long", "options", "limit"),
    [
        # 2 s / 100-120 s tasks, on watch from 45 s to 63.6 s: at 60 s a tenth
        # of the age (6 s) is past the fallback's 5 s cap.
        ((100.0, 120.0), {}, 5.0),
        # max_interval=1 (2 s / 40-60 s tasks, on watch from 18 s to 25.5 s):
        # every gap past the shortest duration keeps to it, including one of
        # the plan's that jitter stretched a little past it (one sentinel's at
        # 24 s, with this seed).
        ((40.0, 60.0), {"max_interval": 1.0}, 1.0),
    ],
)
def test_a_sentinel_on_watch_is_polled_no_later_than_the_fallback_nor_max_interval(
    long: tuple[float, float], options: dict[str, Any], limit: float
) -> None:
    schedule, _, live = _its_short_mode_finished(long=long, **options)
    for track in live:
        schedule.observe(track, RUNNING, 0.4 * long[0])
    schedule.observe(live[0], finished(0.45 * long[0]), 0.46 * long[0])
    assert schedule._watch_until > 0.6 * long[0]
    for track in live[1:]:
        for age in (0.5 * long[0], 0.6 * long[0]):
            schedule.observe(track, RUNNING, age)
            assert 0.0 < schedule.next_delay(track, age) <= limit


def test_a_completion_where_the_plan_expects_them_puts_no_sentinel_on_watch() -> None:
    schedule, sentinels, plain = _a_warm_bimodal_batch()
    for i, track in enumerate(sentinels[:4] + plain[:30]):
        schedule.observe(track, finished(1.55 + 0.025 * i), 2.5)
    live = sentinels[4:]
    for track in live:
        schedule.observe(track, RUNNING, 8.0)
    schedule.observe(plain[30], finished(2.45), 9.3)  # late seen, in the short mode
    assert schedule._model.unexpected == 0
    assert schedule.next_delay(live[0], 9.3) > 0.2 * 9.3
    # Nor does anything in a cold batch: nothing was expected when it began.
    cold = AdaptiveSchedule(seed=1)
    tracks = [cold.begin(0.0, batch=True) for _ in range(20)]
    cold.observe(tracks[0], finished(2.0), 2.1)
    cold.observe(tracks[1], finished(30.0), 30.1)
    assert cold._watch_until == 0.0


def test_a_few_completions_below_a_mode_where_none_finished_show_a_shift() -> None:
    # Two bins below the 25-35 s mode's first: the model (pooled over one bin
    # each side) expected none there.
    rng = random.Random(7)
    learned = [rng.uniform(1.5, 2.5) for _ in range(300)] + [
        rng.uniform(25.0, 35.0) for _ in range(300)
    ]
    below = bin_of(min(d for d in learned if d > 20.0)) - 2
    inside = (edge(below) + edge(below + 1)) / 2
    assert _learned_then_a_batch(learned, 36.0, [inside, inside + 0.1]).shifted > 0


def test_three_completions_where_the_model_expected_a_few_hundredths_show_a_shift() -> None:
    # One 10 s task among 600 of 2 s / 30 s: the rate around 10 s is tiny, not
    # zero; three completions there in a batch are a shift all the same.
    learned = [*_bimodal(random.Random(3), 600), 10.0]
    assert _learned_then_a_batch(learned, 12.0, [10.2, 10.4, 10.6]).shifted > 0
    assert _learned_then_a_batch(learned, 12.0, [10.2]).shifted == 0


def test_poisson_odds_of_a_few_completions() -> None:
    assert pytest.approx(3.167e-5, rel=1e-3) == _ALPHA  # a 4-sigma deviation, one-sided
    assert _unlikely(2.0, 0.0) and _unlikely(1.96, 0.004)  # weights rounded
    assert _unlikely(3.0, 0.01)  # P = 1.7e-7
    assert not _unlikely(2.0, 0.05)  # P = 1.2e-3
    assert not _unlikely(5.0, 4.0) and not _unlikely(2.0, 2.0) and not _unlikely(1.0, 3.0)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=30), st.floats(min_value=0.0, max_value=0.99))
def test_poisson_odds_fall_with_more_completions_and_fewer_expected(
    seen: int, expected: float
) -> None:
    if _unlikely(seen, expected):
        assert _unlikely(seen + 1, expected)
        assert _unlikely(seen, expected / 2)


def _a_warm_bimodal_batch(
    long: tuple[float, float] = (25.0, 35.0), **options: Any
) -> tuple[AdaptiveSchedule, list[Any], list[Any]]:
    """A schedule taught 2 s / 30 s tasks (the long ones in `long`; `options` for
    `AdaptiveSchedule`) and a batch of 60 planned at 0 s: the schedule, the
    batch's sentinels and its other tasks."""
    schedule = taught(_bimodal(random.Random(3), 600, long=long), **options)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(60)]
    for track in tracks:
        schedule.next_delay(track, 0.0)
    sentinels = [track for track in tracks if track in schedule._probes]
    plain = [track for track in tracks if track not in schedule._probes]
    return schedule, sentinels, plain


def _its_short_mode_finished(**batch: Any) -> tuple[AdaptiveSchedule, list[Any], list[Any]]:
    """`_a_warm_bimodal_batch(**batch)` once its sentinels and 30 other tasks
    finished in the short mode (1.55-2.5 s) and the rest were seen running at
    2.6 s: the schedule, the running tasks and those of them now sentinels (live)."""
    schedule, sentinels, plain = _a_warm_bimodal_batch(**batch)
    for i, track in enumerate(sentinels + plain[:30]):
        schedule.observe(track, finished(1.55 + 0.025 * i), 2.5)
    running = plain[30:]
    for track in running:
        schedule.observe(track, RUNNING, 2.6)
        schedule.next_delay(track, 2.6)
    return schedule, running, [track for track in running if track in schedule._probes]


def test_a_warm_batch_finishing_in_a_learned_quiet_stretch_is_replanned() -> None:
    schedule, sentinels, plain = _a_warm_bimodal_batch()
    for track in plain[:30]:
        schedule.observe(track, finished(2.0), 2.1)
    for track in plain[30:] + sentinels:
        schedule.observe(track, RUNNING, 2.6)
    late = plain[30]
    # The plan learned skips the quiet stretch: next poll at ~27 s of age.
    assert schedule.next_delay(late, 2.6) > 20.0 and late.provisional
    for track in sentinels:
        schedule.observe(track, RUNNING, 9.0)
    epoch = schedule.epoch
    schedule.observe(sentinels[0], finished(10.0), 10.2)
    schedule.observe(sentinels[1], finished(10.1), 10.3)
    # Two of the batch's sentinels finished there: a shift, re-planned at once,
    # and the task last seen running at 2.6 s is polled now.
    assert schedule.epoch > epoch and schedule._model.shifted > 0
    assert schedule.next_delay(late, 10.3) <= schedule.min_interval * (1 + schedule.jitter)


def test_a_steady_workload_raises_few_shift_alarms() -> None:
    """A 3-sigma test per pooled bin: on a steady workload, false alarms stay rare."""
    rng = random.Random(7)
    model = DurationModel()
    alarms = 0
    for _ in range(2000):
        model.learn(rng.uniform(1.0, 3.0))
        alarms += model.shifted > 0 if model.median is not None else 0
    assert alarms < 0.05 * 2000


def test_a_plan_counts_the_lag_built_up_since_the_task_was_last_seen_running() -> None:
    schedule = taught([1.0 + 0.25 * i for i in range(13)] * 3)
    track = schedule.begin(0.0)
    # Never polled: by age 2.2 many tasks like it have finished, so poll now,
    # not where a task known to be running at 2.2 would be polled.
    delay = schedule.next_delay(track, 2.2)
    assert delay <= schedule.min_interval * (1 + schedule.jitter)
    # "Now" is min_interval after the re-plan, though its last poll (none: its
    # start) was 2.2 s ago: the module docstring's safety rules say why.
    assert delay >= schedule.min_interval
    seen = schedule.begin(0.0)
    schedule.observe(seen, RUNNING, 2.2)
    assert schedule.next_delay(seen, 2.2) > schedule.min_interval * (1 + schedule.jitter)


def test_past_the_oldest_age_seen_the_hazard_measured_there_is_extrapolated() -> None:
    """A batch of one age at the edge of what was learned: completions are dense now, so
    the next poll comes sooner than the geometric fallback (the cap there)."""
    schedule = AdaptiveSchedule(seed=1, sentinels=0)
    tracks = [schedule.begin(0.0) for _ in range(60)]
    for i, track in enumerate(tracks[:40]):
        schedule.observe(track, RUNNING, 9.0)
        schedule.observe(track, finished(9.0 + i / 40), 9.0 + i / 40)
    live = tracks[40]
    schedule.observe(live, RUNNING, 10.0)
    assert schedule.next_delay(live, 10.0) < 0.5 * PollSchedule().from_age(10.0)


def test_a_completion_past_the_support_replans_at_once() -> None:
    schedule = taught([1.0, 1.1, 1.2] * 4)
    epoch = schedule.epoch
    track = schedule.begin(0.0)
    schedule.observe(track, finished(5.0), 5.0)
    assert schedule.epoch > epoch


def test_urgency_ranks_a_due_poll_by_how_likely_its_task_finished_since_last_seen() -> None:
    schedule = taught([1.0 + 2.0 * i / 99 for i in range(100)])  # learned: 1-3 s
    long_ago, recent, sentinel = (schedule.begin(0.0) for _ in range(3))
    schedule.observe(long_ago, RUNNING, 1.0)
    schedule.observe(recent, RUNNING, 2.6)
    sentinel.role = 1  # what `begin` makes the first tasks of a cold batch
    hazard = schedule._model.cumulative_hazard
    lead = schedule._lead_for(recent)  # ages as the server counts them
    assert lead > 0
    sentinel_odds, *odds = schedule.urgency([sentinel, long_ago, recent], 2.7)
    assert sentinel_odds == math.inf  # a sentinel's poll is what every plan learns from
    # Each is the cumulative hazard between the age last seen running and the age now.
    assert odds == [
        pytest.approx(hazard(2.7 + lead) - hazard(1.0 + lead)),
        pytest.approx(hazard(2.7 + lead) - hazard(2.6 + lead)),
    ]
    assert odds[0] > odds[1] > 0  # seen running long ago: likelier finished since
    assert schedule.urgency([long_ago], 1.5)[0] < odds[0]  # and likelier as it waits


def test_urgency_counts_ages_from_each_tasks_start() -> None:
    schedule = taught([0.2 + 0.6 * i / 99 for i in range(100)])  # learned: 0.2-0.8 s
    track = schedule.begin(10.0, exact=False)  # no lead: ages as the client counts them
    schedule.observe(track, RUNNING, 10.3)
    hazard = schedule._model.cumulative_hazard
    assert schedule.urgency([track], 10.6) == [pytest.approx(hazard(0.6) - hazard(0.3))]


def test_urgency_of_a_task_not_yet_started_by_the_clock_given_is_zero() -> None:
    # A clock reading before the task began (another clock, a task just begun)
    # counts as age 0: nothing can have finished since it was last seen.
    schedule = taught([0.2 + 0.6 * i / 99 for i in range(100)])  # learned: 0.2-0.8 s
    track = schedule.begin(10.0, exact=False)
    assert schedule.urgency([track], 9.0) == [0.0]


def test_urgency_is_zero_but_for_sentinels_while_nothing_is_learned() -> None:
    schedule = AdaptiveSchedule(seed=1, sentinels=2)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(4)]
    assert schedule.urgency(tracks, 5.0) == [math.inf, math.inf, 0.0, 0.0]
    assert schedule.urgency([], 5.0) == []


@settings(max_examples=60, deadline=None)
@given(
    durations_st,
    st.lists(
        st.tuples(st.floats(0.0, 1e4), st.floats(0.0, 1e4), st.floats(-10.0, 1e4)), max_size=8
    ),
)
def test_urgency_is_finite_and_never_negative(
    durations: list[float], tasks: list[tuple[float, float, float]]
) -> None:
    schedule = taught(durations)
    tracks = []
    for born, seen, _ in tasks:
        track = schedule.begin(born)
        schedule.observe(track, RUNNING, born + seen)
        tracks.append(track)
    for track, (_, _, now) in zip(tracks, tasks, strict=True):
        (odds,) = schedule.urgency([track], now)
        assert math.isfinite(odds) and odds >= 0.0


def test_a_warm_batch_replaces_its_finished_sentinels_up_to_half_of_them() -> None:
    # Its first tasks, drawn as its sentinels, may all be short: once they have
    # finished, running tasks take their place (up to half of them), so that a
    # stretch its plan leaves quiet is still probed.
    schedule, sentinels, plain = _a_warm_bimodal_batch()
    assert len(sentinels) == schedule.sentinels == 8
    for i, track in enumerate(sentinels + plain[:30]):  # the short mode, 1.55-2.5 s
        schedule.observe(track, finished(1.55 + 0.025 * i), 2.5)
    assert not schedule._probes
    running = plain[30:]
    for track in running:
        schedule.observe(track, RUNNING, 2.6)
        schedule.next_delay(track, 2.6)
    assert [track for track in running if track in schedule._probes] == running[:4]
    # They probe the quiet stretch no later than the fallback; the others keep
    # to the plan, which skips it (next poll at ~27 s of age).
    assert schedule.next_delay(running[0], 2.6) <= schedule.fallback.from_age(2.6)
    assert running[0].provisional  # a sentinel's poll moves when the schedule learns
    assert schedule.next_delay(running[10], 2.6) > 20.0


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_a_warm_batch_keeps_live_the_half_of_its_sentinels_its_other_tasks_wait_for(
    count: int,
) -> None:
    # One half for both rules: the sentinels a warm batch keeps live inside the
    # learned durations are exactly those whose presence lets its other tasks
    # wait (for 5: 2 and 2, where the replacement once kept 3).
    schedule = taught(_bimodal(random.Random(3), 600), sentinels=count)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(count + 20)]
    for track in tracks:
        schedule.next_delay(track, 0.0)
    for track in tracks[:count]:
        schedule.observe(track, finished(2.0), 2.1)
    assert not schedule._probing()
    for track in tracks[count:]:
        schedule.observe(track, RUNNING, 2.6)
        schedule.next_delay(track, 2.6)
    live = [track for track in tracks if track in schedule._probes]
    assert live == tracks[count : count + max(1, count // 2)]
    assert schedule._probing()
    schedule.release(live[0])
    assert not schedule._probing()


def test_a_cold_batch_replaces_its_sentinels_only_past_what_it_learned() -> None:
    schedule = AdaptiveSchedule(seed=1, sentinels=4)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(20)]
    for track in tracks:
        schedule.next_delay(track, 0.0)
    for i, track in enumerate(tracks[:4]):
        schedule.observe(track, finished(1.0 + 0.1 * i), 1.05 + 0.1 * i)
    assert not schedule._probes
    # Inside the durations learned (1.0-1.3 s): the plain tasks stay plain.
    for track in tracks[4:]:
        schedule.observe(track, RUNNING, 1.2)
        schedule.next_delay(track, 1.2)
    assert not schedule._probes
    # Past them, all the sentinels are replaced.
    for track in tracks[4:]:
        schedule.observe(track, RUNNING, 1.5)
        schedule.next_delay(track, 1.5)
    assert [track for track in tracks if track in schedule._probes] == tracks[4:8]


def test_a_warm_batch_without_sentinels_never_gains_any_nor_waits_for_them() -> None:
    # No sentinel is ever live: none is recruited, inside the learned durations
    # or past them, and past them the other tasks keep to the fallback instead
    # of being parked for sentinels that never come (a quorum of none is no
    # quorum).
    schedule = taught(_bimodal(random.Random(3), 600), sentinels=0)
    tracks = [schedule.begin(0.0, batch=True) for _ in range(20)]
    for track in tracks:
        schedule.observe(track, RUNNING, 2.6)
        schedule.next_delay(track, 2.6)
        schedule.observe(track, RUNNING, 40.0)  # past the longest learned too
        assert schedule.next_delay(track, 40.0) <= schedule.fallback.from_age(40.0)
    assert not schedule._probes
    assert not schedule._probing()
