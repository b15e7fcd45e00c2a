"""Poll schedules: the fixed geometric `PollSchedule` and the learning `AdaptiveSchedule`.

Both speak the same small protocol to the pollers (`follow_task` and the
`run_many` engine), which never look inside:

- ``track = schedule.begin(now, batch=...)``: a task starts being watched
  (``now`` on the poller's monotonic clock, at submission or at the start of
  a wait); ``batch=True`` lets the schedule *park* it (see below).
- ``schedule.next_delay(track, now)``: seconds until its next poll.
  ``track.provisional`` then says whether that plan may improve as the
  schedule learns (the engine re-plans such tasks whenever
  ``schedule.epoch`` changes, and takes a re-plan's answer when it is
  earlier, or later too when ``track.deferred`` says so).
- ``schedule.observe(track, task, now)``: what a successful poll saw.
- ``schedule.release(track)``: the task stops being watched without finishing
  (timeout, error, cancelled batch); optional, garbage collection does the rest.

`AdaptiveSchedule` places each poll from what the client learned about task
durations (`DurationModel`, a survival estimate fed by every poll, running
tasks included).

Plans. Where it can, a task follows a *plan*: the best fixed schedule for
the learned distribution (`_plan.best_polls` on `DurationModel.points`, at
the price of a poll below), the same optimum the benchmark's frontier
computes on true durations, under the ``max_interval`` rule below (a plan
whose gaps the cap would cut is planned with the cap in mind). A batch that
starts warm keeps one plan for the whole batch (computed again only if the
learned support grows, at the price of a poll it was first planned at, or if
the shift verdict changes: a plan that moved with the batch's own early
completions cost more lag than it saved, in simulation); tasks watched one
by one share a plan renewed every `_STREAM_REPLAN` completions. A poll a
little before a planned age stands for it; a poll planned on a plan since
replaced stands for the nearest age of the new one. Jitter moves a planned
poll by a fraction of the planned spacing around it, not of the wait before
it.

The local rule, where there is no plan (a batch that started cold, a model
following a shift, ages past the oldest seen running): for a task last seen running at age ``c`` (its
last poll), poll at the age ``t`` where the lag expected to have built up
since then, ``integral over (c, t) of P(finished by s | running at c) ds``,
reaches the cost of one poll ``lambda`` (right after a poll ``c`` is the age
now; when a plan is revised later, lag already built up counts, so a task
that has probably finished is polled at once). Past the oldest age at which
tasks were seen running, the hazard measured just before it is taken as
locally constant (a cold batch's tasks all have that age: it is what is
finishing now). Under a constant hazard ``h`` this is the
classic ``d = sqrt(2 * lambda / h)``; where completions are dense polls come
close together, where they are rare polls spread out. ``lambda`` is
``poll_cost`` times the median duration still expected, so the rule is
scale-free: a 2 s workload and a 20 min one get the same number of polls per
task.

Safety rules, each enforced after the model's answer:

- nothing learned yet: a task is polled on the geometric fallback from its
  age, ``fallback.first + (fallback.factor - 1) * age`` capped at
  ``fallback.max_interval``, which reproduces `PollSchedule`'s poll times;
  jitter only brings polls earlier, so a lone task on a fresh client is never
  polled later than `PollSchedule` would poll it;
- at or beyond the longest duration learned: never later than that geometric
  fallback from the task's age (a shifted workload or a long tail is never
  starved);
- no gap exceeds ``max_interval`` except one that ends at or before the
  shortest duration learned (a model that saw no completion below 20 min does
  not poll a 1 s old task every 30 s);
- no gap is shorter than ``min_interval``, and a re-planned poll comes at
  least ``min_interval`` after the re-plan; every gap is jittered.

Cold batches. When `run_many` submits many tasks to a client that has learned
nothing, a few *sentinels* (``sentinels``, default 8) are polled densely
while the rest are *parked* (up to 60 s). The first completion a sentinel
reports makes the model warm and bumps ``epoch``; the engine then re-plans
every parked task at once. So does any completion past the longest duration
learned, and any change in the model's shift test (at most once per 2 % of
the duration). Past the durations it has learned, a cold batch's tasks
wait for the sentinels up to 30 s after their last poll (six times the
fallback's cap, never past ``max_interval``), less up to 30 % fixed by each
task's own phase: a quiet gap between two modes costs each task one poll,
and those polls, spread over the gap, probe it continuously for the next
mode. Until the batch's completions are seen to stop (running time past the
longest duration learned, itself and not the upper edge of its bin, that at
the hazard just before it should have shown 16 completions or more, none
seen), a task past it follows the hazard measured there; from then on
(``epoch`` moves), the tasks seen running past that end wait for the
sentinels, and the polls planned before it was seen move there (deferred).

Shifts. The model tests each batch on its own evidence (`DurationModel`
keeps a recent copy of its counts, emptied when a batch starts and forgotten
over about as many completions as the batch has tasks) and uses the
recent estimate where it disagrees with the long-run one; while it does,
every plan stays provisional. A batch whose tasks run past where the learned
ones finished, none of them finished yet, is cold again: its plain tasks wait
(``max_interval`` from their last poll) for the sentinels instead of being
polled where the old workload used to finish, and the schedule says so as
soon as the first polls show it (``epoch`` moves; these waits are *deferred*:
the engine takes them even where they come later than the plan they replace,
which saves the polls that tasks not yet polled would spend at the old
durations). While the model follows a shift, a poll is priced on the task's
age where that is longer than the learned typical duration (a task already
20 s old says tasks now take at least that; priced on the old 1-2 s, the
polls of 20-30 s tasks cost a fifteenth of their worth). Sentinels
keep probing densely wherever the model has not seen completions (the tail,
or a workload that shifted), so its support grows as fast as tasks finish.
A sentinel that finishes is replaced by the next running task of its batch
to be planned: past the durations learned, up to ``sentinels``; inside them,
in a batch that started warm, while fewer than half (``sentinels // 2``, at
least one: the same half whose presence lets the other tasks wait) are
live. A warm batch's sentinels are its first tasks, and they may all be
short ones: once they finished, nothing would probe a stretch the plan
leaves quiet, and a shift into it would show only at the plan's next poll
there. A sentinel's polls are always provisional: when the schedule learns
(a shift, a longer task), a sentinel is polled as soon as any other task
would be. One completion between the shortest and the longest learned
durations where the model, when the batch began, expected none
(`DurationModel.unexpected`) puts the batch on watch: until its tasks are
~1.41 times that old (the shift test's wider window), each live sentinel is
polled at a tenth of its age (never later than the fallback), so that the
second completion, which shows a shift, is seen within about a tenth of the
age, not the fallback's 30 %.
"""

from __future__ import annotations

import bisect
import math
import os
import random
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from ._estimator import MAX_DURATION, RATIO, RECENT_HALF_LIFE, WIDE_POOL, DurationModel
from ._plan import best_polls
from .types import Task

__all__ = [
    "AdaptiveSchedule",
    "PollSchedule",
    "Schedule",
    "Track",
    "coerce_schedule",
    "duration_of",
]


def _positive(name: str) -> Callable[[Any, Any, Any], None]:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")

    return check


class Track:
    """What a schedule knows about one watched task (created by ``begin``)."""

    __slots__ = (
        "__weakref__",
        "born",
        "deferred",
        "exact",
        "phase",
        "plan",
        "polls",
        "provisional",
        "role",
        "seen",
        "target",
    )

    def __init__(self, born: float, *, exact: bool, role: int, plan: int = 0) -> None:
        self.born = born
        self.exact = exact  # born at submission: the client's age is the task's age
        self.role = role
        self.plan = plan  # which learned plan it may follow (`_NO_PLAN`: the local rule only)
        # The planned age its next poll is for, from what age a poll stands for
        # it, the age (jittered) at which that poll is due, and `polls` then.
        self.target = (0.0, 0.0, 0.0, -1)
        self.polls = 0
        self.seen = 0.0  # age up to which the model was credited with its running time
        self.provisional = False
        # Whether the engine's re-plan may move its next poll later, not only earlier.
        self.deferred = False
        # Its share of a cold batch's parked wait, drawn once (-1: not yet; `next_delay`).
        self.phase = -1.0


_PLAIN, _SENTINEL, _PARKED, _DONE = 0, 1, 2, 3
#: The learned plan a task follows: none, its batch's (fixed for the batch) or the stream's.
_NO_PLAN, _BATCH_PLAN, _STREAM_PLAN = 0, 1, 2
#: The share of the way the lead estimate moves towards each task's bounds on it.
_LEAD_STEP = 0.1
#: The largest lead taken (seconds): past it the client is too busy for a lead to help.
_LEAD_MAX = 2.0
#: Completions after which the plan of tasks watched one by one is computed again.
_STREAM_REPLAN = 256
#: Completions over which the typical duration (the scale of a poll's cost) moves.
_SCALE_MEMORY = 32.0
#: A parked task waits this many times the fallback interval (re-planned when sentinels report).
_PARK = 8.0
#: A task of a cold batch waits this long (seconds) unless the sentinels report sooner.
_PARKED_COLD = 60.0
#: Past the learned durations, a task parked on the sentinels waits at most this many
#: times the fallback's cap (15 s by default), however long `max_interval` allows.
_PARKED_MAX = 3.0
#: ... except in a batch that started cold: at most this many times that cap (30 s by
#: default, and never more than `max_interval`), less up to `_PARKED_SPREAD` of it.
_PARKED_COLD_MAX = 6.0
_PARKED_SPREAD = 0.3
#: A sentinel on watch for a suspected shift is polled at this fraction of its age (as
#: a large cold batch's sentinels are), at most the fallback's interval.
_WATCH_SPREAD = 0.1


@attrs.frozen
class PollSchedule:
    """A fixed geometric schedule: when to poll a running task, whatever was seen before.

    Attributes:
        first: seconds from submission (or from the start of a wait) to the first poll.
        factor: each interval is the previous one times this (>= 1).
        max_interval: the cap on any interval.
        jitter: each interval is scaled by a random factor in [1 - jitter, 1 + jitter].
    """

    first: float = attrs.field(default=1.0, validator=_positive("first"))
    factor: float = attrs.field(default=1.3, validator=_positive("factor"))
    max_interval: float = attrs.field(default=5.0, validator=_positive("max_interval"))
    jitter: float = 0.1

    #: A fixed schedule never learns, so its plans never change.
    epoch = 0

    def __attrs_post_init__(self) -> None:
        if self.factor < 1:
            raise ValueError(f"factor must be >= 1, got {self.factor!r}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter!r}")

    @classmethod
    def coerce(cls, value: float | PollSchedule | None) -> PollSchedule:
        """A schedule from a `PollSchedule`, None (the default), or a number of seconds.

        A number is the cap: the first poll comes after ``min(1.0, seconds)``.
        """
        if value is None:
            return cls()
        if isinstance(value, PollSchedule):
            return value
        _positive("poll_interval")(None, None, value)
        return cls(first=min(1.0, float(value)), max_interval=float(value))

    def interval(self, polls_done: int) -> float:
        """Seconds before the next poll when `polls_done` polls already happened."""
        base = min(self.max_interval, self.first * self.factor**polls_done)
        if self.jitter:
            base *= random.uniform(1.0 - self.jitter, 1.0 + self.jitter)
        return base

    def from_age(self, age: float) -> float:
        """The un-jittered interval this schedule would use for a task polled at `age`.

        Equal to ``interval(n)`` at the n-th poll time ``first * (factor**n - 1) / (factor - 1)``.
        """
        return min(self.max_interval, self.first + (self.factor - 1.0) * max(0.0, age))

    # -- the pollers' protocol ---------------------------------------------

    def begin(self, now: float, *, batch: bool = False, exact: bool = True) -> Track:
        """Start watching a task at `now`."""
        return Track(now, exact=exact, role=_PLAIN)

    def next_delay(self, track: Track, now: float) -> float:
        """Seconds until the next poll of `track`."""
        return self.interval(track.polls)

    def observe(self, track: Track, task: Task, now: float) -> None:
        """Count a successful poll."""
        track.polls += 1

    def release(self, track: Track) -> None:
        """Nothing to release for a fixed schedule."""


def duration_of(task: Task) -> float | None:
    """Seconds a terminal task ran by the server's account, or None if its record cannot say.

    ``durationMs`` first, else ``updatedAt - createdAt``; values that are not
    finite, not positive or longer than a week are refused.
    """
    millis = task.duration_ms
    if isinstance(millis, (int, float)) and not isinstance(millis, bool):
        seconds = float(millis) / 1000.0
        if math.isfinite(seconds) and 0 < seconds <= MAX_DURATION:
            return seconds
    if task.created_at is not None and task.updated_at is not None:
        try:
            seconds = (task.updated_at - task.created_at).total_seconds()
        except (TypeError, OverflowError):  # naive against aware datetimes
            return None
        if 0 < seconds <= MAX_DURATION:
            return seconds
    return None


_SCHEDULES: weakref.WeakSet[AdaptiveSchedule] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for schedule in list(_SCHEDULES):
        schedule._reset_after_fork()


if hasattr(os, "register_at_fork"):  # pragma: no branch (POSIX)
    os.register_at_fork(after_in_child=_after_fork_in_child)


class AdaptiveSchedule:
    """A poll schedule that learns how long this client's tasks take (the default).

    One instance per client is shared by ``tasks.run``, ``wait``, ``run_many``,
    ``design.run`` and the sync facade; it is thread-safe and, after
    ``os.fork()``, the child keeps what was learned with fresh randomness.
    See the module docstring of `stablebrowse_async._schedule` for the rules.

    Args:
        prior: a `snapshot()` of another schedule, or durations in seconds
            (``prior=[20.0] * 10`` for tasks known to take about 20 s).
        min_interval: no two polls of one task closer than this (seconds).
        max_interval: no gap longer than this once completions are possible
            (30 s: the longest an unexpected completion inside the learned
            durations can wait; between two learned modes, e.g. 2 s and 30 s
            tasks, a smaller cap forces polls where nothing finishes).
        poll_cost: the cost of one poll, as a fraction of the expected duration
            (more polls and less lag when smaller).
        jitter: each gap is scaled by a random factor in [1 - jitter, 1 + jitter]
            (only shrunk where a safety cap applies).
        fallback: the geometric schedule used where nothing was learned.
        sentinels: tasks of a batch polled densely to learn quickly (and, in a
            warm batch, to notice a shift); one that finishes is replaced by a
            running task (in a warm batch, inside the durations learned, while
            fewer than half remain). Their polls are a fixed cost however
            few tasks the batch has, while more of them see its first
            completions sooner: 8 read closer to the frontier than 16 on 10 of
            the 11 simulated workloads at 1 000 tasks a batch, and on all but
            one shifting phase at 200 (benchmarks/RESULTS.md, hand round of 6
            December).
        half_life: completions after which an old observation weighs half.
        seed: seed of the jitter's random generator (None: unpredictable).
    """

    def __init__(
        self,
        *,
        prior: Mapping[str, Any] | Iterable[float] | None = None,
        min_interval: float = 0.2,
        max_interval: float = 30.0,
        poll_cost: float = 0.04,
        jitter: float = 0.1,
        fallback: PollSchedule | None = None,
        sentinels: int = 8,
        half_life: float = 256.0,
        seed: int | None = None,
    ) -> None:
        for name, value in (
            ("min_interval", min_interval),
            ("max_interval", max_interval),
            ("poll_cost", poll_cost),
        ):
            _positive(name)(None, None, value)
        if min_interval > max_interval:
            raise ValueError(
                f"min_interval ({min_interval!r}) must not exceed max_interval ({max_interval!r})"
            )
        if isinstance(jitter, bool) or not isinstance(jitter, (int, float)):
            raise TypeError(f"jitter must be a number, got {type(jitter).__name__}")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {jitter!r}")
        if fallback is not None and not isinstance(fallback, PollSchedule):
            raise TypeError(f"fallback must be a PollSchedule, got {type(fallback).__name__}")
        if isinstance(sentinels, bool) or not isinstance(sentinels, int) or sentinels < 0:
            raise ValueError(f"sentinels must be an int >= 0, got {sentinels!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        self.min_interval = float(min_interval)
        self.max_interval = float(max_interval)
        self.poll_cost = float(poll_cost)
        self.jitter = float(jitter)
        self.fallback = fallback if fallback is not None else PollSchedule()
        self.sentinels = sentinels
        self.seed = seed
        self._model = DurationModel(half_life)
        if prior is not None:
            self._model.seed(prior)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._batch: weakref.WeakSet[Track] = weakref.WeakSet()
        self._probes: weakref.WeakSet[Track] = weakref.WeakSet()
        self._support = self._model.support()
        median = self._model.quantile(0.5)
        self._scale = math.log(median) if median is not None else None
        self._planned_scale = self._scale  # the scale when `epoch` last moved
        self._surprises = 0
        self._shifted = 0
        self._verdicts = 0  # changes of the model's shift verdict
        self._lead = 0.0  # how far the server's age of a task leads the client's (seconds)
        self._replanned = -math.inf
        self._memo: dict[Any, Any] = {}
        self._generation = 0  # batches started (a batch: run_many tasks watched together)
        self._warm_batch = False  # whether the current batch started with something learned
        self._cold_again = False  # whether the current batch was found to be cold again
        self._watch_until = 0.0  # ages up to which the sentinels watch a suspected shift
        # The support at which a cold batch's completions were seen to stop
        # (`DurationModel.quiet_after`), once the schedule said so (`epoch`),
        # and the longest duration learned then: where they stopped.
        self._quiet: tuple[float, float] | None = None
        self._quiet_end = 0.0
        # The current batch's longest completion (seconds, exact) and the running time
        # its tasks were seen past it since it last grew (`DurationModel.quiet_after`).
        self._longest_seen = 0.0
        self._running_past = 0.0
        # The price of a poll of the current batch's first plan, and for which
        # batch and shift verdict (`_plan`).
        self._batch_price: tuple[tuple[int, int], float] | None = None
        self._plans: dict[int, tuple[Any, tuple[float, ...]]] = {}
        self.epoch = 0
        """Bumped when what was learned may bring provisional polls earlier (or defer them)."""
        _SCHEDULES.add(self)

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)

    def __repr__(self) -> str:
        model = self._model
        return (
            f"AdaptiveSchedule(observed={model.observed}, ignored={model.ignored}, "
            f"min_interval={self.min_interval!r}, max_interval={self.max_interval!r})"
        )

    # -- what was learned ------------------------------------------------------

    @property
    def ignored(self) -> int:
        """Records refused as implausible (no usable duration, impossible timestamps)."""
        return self._model.ignored

    @property
    def observed(self) -> int:
        """Completions learned from."""
        return self._model.observed

    def snapshot(self) -> dict[str, Any]:
        """A small JSON-safe summary of what was learned; ``AdaptiveSchedule(prior=...)`` takes it."""
        with self._lock:
            return self._model.snapshot()

    def quantile(self, q: float) -> float | None:
        """The learned duration (seconds) by which a fraction `q` of tasks finish, or None."""
        with self._lock:
            return self._model.quantile(q)

    # -- the pollers' protocol ---------------------------------------------

    def begin(self, now: float, *, batch: bool = False, exact: bool = True) -> Track:
        """Start watching a task at `now` (monotonic seconds).

        `batch`: the task is one of many submitted together and may be parked
        while the schedule is cold. `exact`: `now` is (about) when the task was
        created, so the client's age of the task is its real age.
        """
        with self._lock:
            role = _PLAIN
            if batch:
                if not self._batch:
                    self._model.forget_recent()  # a new batch: tested on its own evidence
                    self._generation += 1
                    self._warm_batch = self._support is not None
                    self._cold_again = False
                    self._watch_until = 0.0
                    self._longest_seen = self._running_past = 0.0
                if len(self._probes) < self.sentinels:
                    role = _SENTINEL
                elif self._support is None:
                    role = _PARKED
                plan = _BATCH_PLAN if self._warm_batch else _NO_PLAN
            else:
                plan = _STREAM_PLAN if self._support is not None else _NO_PLAN
            track = Track(now, exact=exact, role=role, plan=plan)
            if batch:
                self._batch.add(track)
                if role == _SENTINEL:
                    self._probes.add(track)
            # The recent counts forget over about as many completions as the
            # batch has tasks (the `_estimator` docstring, "Forgetting the
            # recent copy within a batch"; 16 for tasks watched one by one).
            self._model.recent_half_life = max(RECENT_HALF_LIFE, float(len(self._batch)))
            return track

    def release(self, track: Track) -> None:
        """Stop watching `track` (it timed out, failed to poll, or its batch closed)."""
        with self._lock:
            self._retire(track)

    def _retire(self, track: Track) -> None:
        probing = self._probing()
        track.role = _DONE
        self._probes.discard(track)
        self._batch.discard(track)
        if probing and not self._probing():
            self.epoch += 1  # tasks parked on the sentinels' word: plan them afresh

    def observe(self, track: Track, task: Task, now: float) -> None:
        """Learn from one successful poll of `track` that returned `task` at `now`."""
        age = max(0.0, now - track.born)
        with self._lock:
            track.polls += 1
            model = self._model
            lead = self._lead_for(track)
            if not task.is_terminal:
                past = 0.0  # running time seen past the batch's longest completion
                if self._longest_seen > 0.0 and not self._warm_batch and track in self._batch:
                    past = age + lead - max(track.seen + lead, self._longest_seen)
                model.expose(track.seen + lead, age + lead)
                track.seen = max(track.seen, age)
                # The first polls of a warm batch that show it shifted past what
                # was learned re-plan its tasks (`next_delay`: cold again), before
                # the ones not yet polled spend polls at the old durations.
                if not self._cold_again and self._batch_ran_past_learned(track):
                    self._cold_again = True
                    self.epoch += 1
                # A cold batch seen running past its longest completion long
                # enough to tell that its completions stopped there (the end of
                # a mode) re-plans its tasks: polls planned from the hazard
                # measured just before that end move to the sentinels' wait.
                # The end is the longest duration itself, not the upper edge of
                # its bin: tasks seen running between the two (2.5-2.69 s after
                # a mode that ended at 2.5 s) tell it, and are not polled once
                # more past the edge to show it (simulated cold bimodal batches,
                # seeds 1-6: 1.47x -> 1.42x the frontier at 4.28 -> 4.12 polls
                # a task, unlimited client; 1.40x -> 1.34x at 3.90 -> 3.75, busy).
                if past > 0.0:
                    self._running_past += past
                    support = self._support
                    if (
                        support is not None
                        and self._quiet != support
                        and model.quiet_after(self._longest_seen, self._running_past)
                    ):
                        self._quiet = support
                        self._quiet_end = self._longest_seen
                        self.epoch += 1
                return
            duration = duration_of(task)
            slack = 0.5 + 0.05 * age
            if (
                duration is None
                or duration < track.seen - slack
                or (track.exact and duration > age + slack)
            ):
                model.ignored += 1
            else:
                surprise = self._support is not None and model.survival(duration) > 0.98
                model.expose(track.seen + lead, duration)
                unexpected = model.unexpected
                model.finish(duration)
                if model.unexpected > unexpected and duration >= self._watch_until:
                    # A completion where the model expected none when the batch
                    # began: noise, or the first of a shift, which the shift test
                    # needs a second completion nearby to show (its wider window:
                    # `WIDE_POOL` bins, a factor ~1.41). Until the batch's tasks
                    # are that much older, its sentinels watch for it (`next_delay`).
                    self._watch_until = duration * RATIO**WIDE_POOL
                    self.epoch += 1
                if duration > self._longest_seen:
                    self._longest_seen = duration
                    self._running_past = 0.0
                self._learned(duration, surprise, now)
                if track.exact:
                    self._follow_lead(duration - age, duration - track.seen)
            self._retire(track)

    def _follow_lead(self, low: float, high: float) -> None:
        """Move the estimate of how far a task's age on the server leads its age here.

        A task is created on the server before its submission's answer reaches
        the client (by the answer's latency, and by the client's own queue
        when it is busy), so the server's age of a task is the client's plus
        a *lead*; durations are the server's. A task that took ``d`` seconds,
        seen running at client age ``s`` and finished at ``a``, says the lead
        lies in ``[d - a, d - s)``; the estimate moves part of the way into
        each such interval it lies outside, and stays within [0, `_LEAD_MAX`].
        """
        lead = self._lead
        if lead < low:
            lead += (low - lead) * _LEAD_STEP
        elif lead > high:
            lead -= (lead - high) * _LEAD_STEP
        self._lead = min(_LEAD_MAX, max(0.0, lead))

    def _learned(self, duration: float, surprise: bool, now: float) -> None:
        log = math.log(duration)
        scale = self._scale
        self._scale = log if scale is None else scale + (log - scale) / _SCALE_MEMORY
        support = self._model.support()
        before = self._support
        self._support = support
        observed = self._model.observed
        self._surprises += surprise
        planned = self._planned_scale
        shifted = self._model.shifted
        # A completion past what was learned, or one that moved the model's
        # verdict on a shift, re-plans at once (a sentinel reporting), at most
        # once per 2 % of the duration so that re-plans stay few.
        news = (before is not None and duration > before[1]) or shifted != self._shifted
        self._verdicts += shifted != self._shifted
        self._shifted = shifted
        if (news and now - self._replanned >= max(self.min_interval, 0.02 * duration)) or (
            planned is None
            or abs(self._scale - planned) > 0.25  # the price of a poll moved by more than ~28 %
            or before is None
            or (support is not None and support[1] > before[1] * RATIO * 1.01)
            or (observed <= 1024 and observed & (observed - 1) == 0)
            or (surprise and self._surprises & (self._surprises - 1) == 0)
        ):
            self.epoch += 1
            self._planned_scale = self._scale
            self._replanned = now

    def urgency(self, tracks: Sequence[Track], now: float) -> list[float]:
        """How likely each of `tracks` finished since it was last seen running, as the
        model's cumulative hazard between that age and its age at `now` (larger: likelier).

        For an engine with more polls due than it can send: it sends the likeliest
        first. A sentinel ranks above every other task (it is what the others'
        plans learn from), and a task of unknown age or with nothing learned ranks 0.
        """
        with self._lock:
            model = self._model
            if self._support is None:
                return [math.inf if t.role == _SENTINEL else 0.0 for t in tracks]
            # Two ages a task (sentinels too, their ranks replaced below): one pass
            # over the model for the lot, the ranking's whole cost being this.
            ages: list[float] = []
            for t in tracks:
                lead = self._lead_for(t)
                age = now - t.born
                if age < 0.0:
                    age = 0.0
                ages.append(age + lead)
                ages.append((t.seen if t.seen <= age else age) + lead)
            hazards = model.cumulative_hazards(ages)
            return [
                math.inf if t.role == _SENTINEL else hazards[i] - hazards[i + 1]
                for t, i in zip(tracks, range(0, len(ages), 2), strict=True)
            ]

    def next_delay(self, track: Track, now: float) -> float:
        """Seconds from `now` until the next poll of `track`; sets ``track.provisional``."""
        age = max(0.0, now - track.born)
        fallback = self.fallback.from_age(age)
        with self._lock:
            track.deferred = False
            phased = False  # the gap is a cold batch's parked wait, spread by the task's phase
            rng = self._rng.random
            support = self._support
            if support is None:
                track.provisional = track.role == _PARKED
                if track.role == _PARKED:
                    # The sentinels' first report re-plans it: until then, rare.
                    cap = _PARKED_COLD
                elif track.role == _SENTINEL:
                    cap = min(fallback, self._dense(age))
                else:
                    cap = fallback
                return max(self.min_interval, cap * (1.0 - self.jitter * rng()))
            shortest, longest = support
            if track.role == _PLAIN and self._batch_ran_past_learned(track):
                # This batch's tasks run where the learned ones had finished, and
                # none of them has finished yet: what was learned says nothing
                # about them. Cold again: wait for the sentinels, at most
                # max_interval after its last poll (or its start), however often
                # re-planned; deferred: a poll already planned earlier moves here.
                track.provisional = track.deferred = True
                return self._after_last_poll(
                    track, age, self.max_interval * (1.0 - self.jitter * rng())
                )
            # Where a cold batch's completions were seen to stop (`observe`), a
            # task seen running past that end is past what was learned too.
            end = self._quiet_end if self._quiet == support else longest
            beyond = age >= longest or min(track.seen, age) >= end
            if (
                track.role == _PLAIN
                and (beyond or self._warm_batch)
                and len(self._probes) < (self.sentinels if beyond else self._quorum())
                and track in self._batch
            ):
                # It replaces a sentinel that finished: sentinels keep probing.
                # Inside the learned durations too in a batch that started warm,
                # while fewer than half are live (the quorum that lets the other
                # tasks wait for them, `_probing`): the first tasks, drawn as its
                # sentinels, may all have been short, and then nothing would
                # probe a stretch its plan leaves quiet, where a shift into it
                # shows only at the plan's next poll (simulated, 18 seeds, 1 000
                # tasks a batch: 2 s / 9-12 s tasks after 2 s / 30 s ones 8.0x
                # -> 3.1x the frontier, the worst seed 22.5x -> 3.8x; the 8-14 s
                # batch after them 3.1x -> 2.1x, the worst 8.8x -> 5.8x).
                track.role = _SENTINEL
                self._probes.add(track)
            if beyond:
                # Past what was learned: never later than the fallback, except a
                # batch task while sentinels probe (parked, re-planned when they report).
                parked = track.role == _PLAIN and track in self._batch and self._probing()
                cap = min(
                    _PARK * fallback if parked else fallback,
                    self.max_interval,
                    _PARKED_MAX * self.fallback.max_interval,
                )
                if parked and not self._warm_batch:
                    # A batch that started cold: every task runs past the little
                    # learned, and all of them waited in step, polled together at
                    # the same ages where nothing finishes. Each waits instead a
                    # share of a longer cap fixed by its own phase (drawn once: a
                    # re-plan keeps it), counted from its last poll: one poll in
                    # a quiet gap where two were spent, and the batch's polls
                    # spread into a steady stream that probes every moment, so
                    # that a new mode is seen soon after it begins. (Simulated
                    # cold batches, 18 seeds: bimodal 1.74x -> 1.61x the
                    # frontier at 4.71 -> 4.42 polls/task, trimodal 2.64x ->
                    # 2.47x at 7.57 -> 6.94; a spread of 0.15 or 0.5 instead of
                    # 0.3, 12 seeds: bimodal 1.52x or 1.61x, not 1.51x.) Not in
                    # a warm batch: its parked tasks are a tail, or a shift the
                    # sentinels must find first (simulated shifting workload,
                    # its long phase, 6 seeds: 1.93x -> 2.04x when warm batches
                    # did it too).
                    if track.phase < 0:
                        track.phase = rng()
                    wait = min(self.max_interval, _PARKED_COLD_MAX * self.fallback.max_interval)
                    wait *= 1.0 - _PARKED_SPREAD * track.phase
                    cap = self._after_last_poll(track, age, wait)
                    phased = True
            else:
                cap = min(
                    max(self.max_interval, shortest - age),
                    longest - age + self.fallback.from_age(longest),
                )
            if track.role == _SENTINEL:
                # Sentinels never wait longer than the fallback (they notice a
                # shift to shorter tasks) and probe densely past the support.
                if age < self._watch_until and not beyond:
                    # On watch for a suspected shift (`observe`): at the fallback's
                    # spacing (~30 % of the age), a second completion in a quiet
                    # stretch came up to 3 s after the first (simulated 9-12 s
                    # tasks after 2 s / 30 s ones), and the batch waited for the
                    # plan's poll at ~26 s until then.
                    cap = min(cap, fallback, max(self.min_interval, _WATCH_SPREAD * age))
                else:
                    cap = min(cap, self._dense(age) if beyond else fallback)
            elif track.role == _PARKED:
                track.role = _PLAIN
            lead = self._lead_for(track)
            seen = min(track.seen, age) + lead
            planned = self._from_plan(track, seen, age + lead, rng)
            if planned is None:
                if phased and self._quiet == support and seen >= end:
                    # Seen running past where this cold batch's completions
                    # stopped: what the hazard before that end says no longer
                    # holds. Wait for the sentinels; a plan made from it
                    # before the end was seen moves here (deferred). A task
                    # last seen before the end is planned as before: it may
                    # have finished there.
                    delay = cap
                    track.deferred = True
                else:
                    delay = self._until_expected_lag(seen, age + lead, cap)
            else:
                delay = min(cap, planned)
                if not beyond and planned > cap >= self.max_interval:
                    # A gap cut by `max_interval` (the plan keeps to it, and
                    # jitter stretched it): that poll stands for the planned
                    # age only if no earlier than the jitter of that age and
                    # of the cap could have moved it (2 * jitter * the cap).
                    # (Also bounded by the jitter of a planned age before a
                    # shorter gap, as in `_from_plan`: simulated trimodal warm
                    # batches 1.54x -> 1.65x the frontier, the extra polls at
                    # the start of the 80-120 s mode.) Before plans
                    # kept to the cap, it stood when past the middle of the
                    # gap: polled 16 s before a planned 85 s, 73 s after the
                    # planned 12 s, a task's next poll came at the planned
                    # 91 s (simulated trimodal warm batch, seed 1, the 80-120 s
                    # tasks). Other caps do stand: they follow a model still
                    # learning, where a poll more is seldom worth its price.
                    target, since, at, polls = track.target
                    reach = 2.0 * self.jitter * self.max_interval
                    track.target = (target, max(since, target - reach), at, polls)
            # Re-planned when the model changes: plans near or past the edge of
            # what was learned, and plans that wait longer than the fallback would.
            # And every plan while the model follows a shift: its answers move fast.
            # And a sentinel's: held to the fallback's spacing, it may be polled
            # later than a re-plan on news would poll it (a task made a sentinel
            # at 16.7 s, seen running at 12.2 s, kept its poll at 21.4 s while
            # the others of its batch, once a shift past the learned end was
            # seen, were polled at once; simulated 8-14 s tasks after 2 s /
            # 9-12 s ones, 12 seeds of 400: the worst lag 6.2 s -> 4.4 s, the
            # mean over seeds).
            track.provisional = (
                age * RATIO * RATIO >= longest
                or delay > fallback
                or self._model.shifted > 0
                or track.role == _SENTINEL
            )
        if delay >= cap:
            # A phased wait is spread by the task's phase already.
            delay = cap if phased else cap * (1.0 - self.jitter * rng())
        else:
            # Drawn for a planned poll too (already jittered, in `_from_plan`): one
            # draw per plan keeps a seeded schedule's sequence of draws.
            wobble = 2.0 * rng() - 1.0
            if planned is None:
                delay = min(cap, delay + self.jitter * delay * wobble)
        # At least `min_interval` from now, not only from the last poll: a
        # re-plan's "poll at once" waits that long too. Counted from the last
        # poll instead, a cold batch's re-plans pull its waves forward and
        # one more fits (simulated, seeds 1-6, unlimited client: uniform
        # cold 3.18 -> 3.44 polls/task), and a warm task re-planned near the
        # end of a mode was polled 0.2 s after its last poll, before its own
        # completion, and then not until the next mode (23 s late;
        # benchmarks/RESULTS.md, round of 7 December from 13:34 UTC).
        return max(self.min_interval, delay)

    def _after_last_poll(self, track: Track, age: float, wait: float) -> float:
        """Seconds from `age` until `wait` after `track`'s last poll (its start if none
        yet), at least `min_interval`: a bound that re-plans cannot push back."""
        return max(self.min_interval, min(track.seen, age) + wait - age)

    def _lead_for(self, track: Track) -> float:
        """The lead (`_follow_lead`) to add to `track`'s ages: the model counts ages as the
        server does for tasks of known age on a plan; 0 for the others (see `begin`)."""
        return self._lead if track.exact and track.plan != _NO_PLAN else 0.0

    def _from_plan(
        self, track: Track, seen: float, age: float, rng: Callable[[], float]
    ) -> float | None:
        """Seconds until the task's next poll on its learned plan, jittered.

        None where the plan does not apply: the task follows none, the model is
        following a shift, or the next planned age lies at or past the oldest
        age at which tasks were seen running (the local rule extrapolates there).

        The jitter moves a planned age by up to ``jitter`` times the planned
        spacing around it (earlier, by that times the spacing before over the
        spacing after, when the gap after is the longer: a poll at the end of a
        mode, early, misses the last completions for the whole gap; simulated
        trimodal warm batch, seed 1: the tasks of the 1 s mode detected 0.87 s
        late on average, 0.21 s by the plan), drawn once per task and planned
        age: a plan revised again and again (the engine re-plans on every move
        of `epoch`) keeps its poll where it was, instead of keeping the
        earliest of many draws.
        """
        model = self._model
        if track.plan == _NO_PLAN or model.shifted > 0:
            return None
        horizon = model.edge()[0]
        ages = self._plan(track.plan, horizon)
        # A poll made a little before the planned age it was for (jitter: past
        # the midpoint from the planned age before) stands for it, unless the
        # `max_interval` cap brought it forward (`next_delay`); one made late
        # (a busy client or server) is followed by the next planned age after
        # it, not by the one after that; one made much earlier (a re-plan) by
        # the next planned age after it too; one planned on a plan since
        # replaced, by the age after the one it is nearest to.
        target, since, at, polls = track.target
        # The age planned last. Not polled since (a re-plan): it stands while
        # the plan holds it. Polled since: the age after the one polled for.
        i = bisect.bisect_left(ages, target)
        if polls != track.polls:
            if i < len(ages) and ages[i] == target:
                i = bisect.bisect_right(ages, target if since <= seen < target else seen)
            else:
                # The plan changed since this poll was planned (the batch's
                # support grew): the poll stands for the nearest age of this
                # plan, as it did for the one it was planned for. (Else a task
                # polled at the old plan's 18.1 s was polled again at the new
                # plan's 18.7 s: simulated warm lognormal batch, seed 1, 2.58
                # -> 3.25 polls/task.)
                i = bisect.bisect_right(ages, seen)
                if i < len(ages) and seen >= ages[i] - (ages[i] - (ages[i - 1] if i else 0.0)) / 2:
                    i += 1
        if i >= len(ages) or ages[i] >= horizon:
            return None
        if ages[i] != target or polls != track.polls:
            before = ages[i] - (ages[i - 1] if i else 0.0)
            after = ages[i + 1] - ages[i] if i + 1 < len(ages) else before
            spread = self.jitter * min(before, after) * (2.0 * rng() - 1.0)
            if spread < 0:
                # Early, a poll misses the completions just before its planned age,
                # and they wait for the next one: by a long gap after a mode's end.
                spread *= min(1.0, before / after)
            at = ages[i] + spread
            track.target = (ages[i], ages[i] - before / 2, at, track.polls)
        return max(0.0, at - age)

    def _plan(self, kind: int, horizon: float) -> tuple[float, ...]:
        """The poll ages of the best fixed schedule for what was learned (`_plan.best_polls`).

        A batch's plan is computed once, when its tasks first need it, and kept
        for the batch unless the learned support or the shift verdict changes: measured on the
        simulated engine, re-planning a running batch on a model its own early
        completions keep moving costs more lag than it saves. Computed again on
        a grown support, it keeps the price of a poll it was first computed at
        (until the shift verdict changes): the recent completions' scale that
        `_cost` reads is then the batch's own first, shortest ones (a warm
        trimodal batch re-planned after its 1 s tasks had finished priced a poll
        at 0.048 s instead of 0.4 s and spent 8.8 polls a task instead of 4.7;
        simulated, seed 2, busy client). Tasks watched one by one share a plan
        computed again every `_STREAM_REPLAN` completions.
        """
        model = self._model
        key: Any = (
            (self._generation, self._support, self._verdicts)
            if kind == _BATCH_PLAN
            else (self._support, self._verdicts, model.observed // _STREAM_REPLAN)
        )
        cached = self._plans.get(kind)
        if cached is not None and cached[0] == key:
            return cached[1]
        shortest = self._support[0] if self._support is not None else 0.0
        if kind == _BATCH_PLAN:
            batch = (self._generation, self._verdicts)
            if self._batch_price is None or self._batch_price[0] != batch:
                self._batch_price = (batch, self._cost(horizon))
            price = self._batch_price[1]
        else:
            price = self._cost(horizon)
        ages = best_polls(
            model.points(horizon),
            price,
            max_gap=self.max_interval,
            free_until=shortest,
        )
        self._plans[kind] = (key, ages)
        return ages

    def _batch_ran_past_learned(self, track: Track) -> bool:
        """Whether `track`'s batch is cold again: sentinels probe for it, none of it
        has finished, and its tasks run where the learned ones had finished (the
        model's shift test)."""
        model = self._model
        # Cheapest first: once one of the batch's tasks finished (nearly every
        # call), neither weak set is consulted.
        return (
            model.recent_completions == 0
            and track in self._batch
            and self._probing()
            and model.shifted > 0
        )

    def _quorum(self) -> int:
        """Half the sentinels, at least one (none without sentinels): the live ones a
        batch's other tasks may wait for (`_probing`), and how many a batch that
        started warm keeps live inside the learned durations (`next_delay`)."""
        return min(self.sentinels, max(1, self.sentinels // 2))

    def _probing(self) -> bool:
        """Whether enough sentinels are live to let the other tasks of a batch wait for them."""
        return 0 < self._quorum() <= len(self._probes)

    def _dense(self, age: float) -> float:
        """A sentinel's interval: denser than the fallback the more tasks it probes for."""
        watched = max(1, len(self._batch))
        spread = min(self.fallback.factor - 1.0, max(0.1, 100.0 / watched))
        return max(self.min_interval, spread * age)

    def _cost(self, age: float) -> float:
        """The price of a poll in seconds of lag.

        A fraction of the typical duration: the smaller of the model's median
        (unbiased by censoring, slow to follow a shift) and the recent
        completions' (fast, but biased long within a batch whose short tasks
        finished first); while the model follows a shift, at least `age`.
        While the median is unknown (most tasks outlived every age seen, a
        cold batch's first completions), at least the oldest age at which
        tasks were seen running (to the end of its bin, `DurationModel.edge`):
        the median lies past it, and the first completions, the shortest,
        priced polls at half their worth (simulated cold batches, 18 seeds:
        uniform 1-3 s 1.34x -> 1.21x the frontier at 3.54 -> 3.23 polls/task,
        exponential 1.48x -> 1.31x, trimodal 2.35x -> 2.19x; warm batches as
        before).
        """
        model = self._model
        median = model.median
        scale = min(
            median if median is not None else age,
            math.exp(self._scale) if self._scale is not None else age,
        )
        if median is None:
            scale = max(scale, model.edge()[0])
        if self._shifted > 0:  # the verdict at the last completion: no re-estimate here
            # A task this old says tasks now take at least that (simulated
            # shift from 1-2 s to 20-30 s tasks, 4 seeds: 2.28x -> 2.00x the
            # frontier at 3.58 -> 2.81 polls/task).
            scale = max(scale, age)
        return self.poll_cost * max(self.min_interval, scale)

    def _until_expected_lag(self, seen: float, age: float, cap: float) -> float:
        """Seconds from `age` until the lag expected since the task was last seen
        running (at age `seen`) reaches the cost of a poll (at most `cap`).

        Counting from `seen`, not from now, matters when a plan is revised: a
        task parked since age 0 whose siblings are now finishing has built up
        lag already and is polled at once.

        Memoised per model state, to 0.5 % of the ages and of the cap: a re-plan
        of thousands of tasks of about the same age costs a few evaluations.
        """
        model = self._model
        cost = self._cost(age)
        key = (
            model.refreshes,
            round(cost, 4),
            round(math.log1p(seen) * 200),
            round(math.log1p(age) * 200),
            round(cap, 2),
        )
        memo = self._memo
        if memo.get("state") != model.refreshes:
            memo.clear()
            memo["state"] = model.refreshes
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = self._expected_lag_rule(seen, age, cap, cost)
        return min(cap, max(0.0, hit))

    def _expected_lag_rule(self, seen: float, age: float, cap: float, cost: float) -> float:
        model = self._model
        end = age + cap
        gathered = 0.0
        alive = 1.0  # P(still running at the segment's start | running at `seen`)
        # Past the ages where tasks were ever seen running, the hazard measured
        # just before (what a batch of one age sees finishing now) is taken as
        # locally constant; the caller's cap keeps the fallback there.
        horizon, measured = model.edge()
        start = seen
        if cost > 0:
            # Before the first age with a hazard no lag builds up (nothing is
            # gathered, nothing dies): the walk starts there, with the same
            # floats as through the empty bins (most of them for short tasks).
            # Never past `horizon`: a hazard needs running time in its bins.
            start = max(seen, model.hazard_from())
        for low, high, hazard in model.segments(start):
            if low >= end:
                break
            if low >= horizon:
                hazard = measured
                high = end
            high = min(high, end)
            gain = _lag_gain(high - low, alive, hazard)
            if gathered + gain >= cost:
                return low - age + _solve_gain(high - low, alive, hazard, cost - gathered)
            gathered += gain
            alive *= math.exp(-hazard * (high - low))
        return cap


def _lag_gain(span: float, alive: float, hazard: float) -> float:
    """Lag expected to build up over `span` seconds starting with `alive` still running."""
    if hazard <= 0:
        return span * (1.0 - alive)
    return span - alive * -math.expm1(-hazard * span) / hazard


def _solve_gain(span: float, alive: float, hazard: float, target: float) -> float:
    """The x in (0, span] where ``_lag_gain(x, alive, hazard)`` reaches `target`.

    The caller guarantees ``_lag_gain(span, ...) >= target``. The gain is
    increasing and convex in x, so Newton's method started at `span` comes
    down to the answer without overshooting it, in a few steps (bisection
    took 30 evaluations, most of the schedule's time in a 10 000-task batch).
    """
    if target <= 0:
        return 0.0
    if hazard <= 0:  # the gain is linear: span * (1 - alive) reaches target at ...
        return span if alive >= 1.0 else min(span, target / (1.0 - alive))
    x = span
    for _ in range(60):
        excess = _lag_gain(x, alive, hazard) - target
        slope = 1.0 - alive * math.exp(-hazard * x)
        if excess <= 0 or slope <= 0:
            break
        step = excess / slope
        x -= step
        if step <= 1e-12 * span:
            break
    return max(0.0, x)


class Schedule(Protocol):
    """What the pollers need from a schedule (`PollSchedule` and `AdaptiveSchedule`)."""

    @property
    def epoch(self) -> int: ...

    def begin(self, now: float, *, batch: bool = False, exact: bool = True) -> Track: ...

    def next_delay(self, track: Track, now: float) -> float: ...

    def observe(self, track: Track, task: Task, now: float) -> None: ...

    def release(self, track: Track) -> None: ...


def coerce_schedule(
    value: float | PollSchedule | AdaptiveSchedule | None,
) -> PollSchedule | AdaptiveSchedule:
    """The schedule `poll_interval=` means: a schedule as given, a number of seconds
    (a `PollSchedule` capped there), or None for a new `AdaptiveSchedule`."""
    if value is None:
        return AdaptiveSchedule()
    if isinstance(value, AdaptiveSchedule):
        return value
    return PollSchedule.coerce(value)
