"""Polling: single waits, and the fan-out engine behind `run_many`.

Schedule. When to poll is the schedule's business (`_schedule`): the learning
`AdaptiveSchedule` (the default) or a fixed geometric `PollSchedule`. The
pollers here only call its protocol: ``begin`` when a task starts being
watched, ``next_delay`` to plan each poll, ``observe`` with what each
successful poll saw, ``release`` when a task stops being watched unfinished.

Transient poll failures never fail a task: what is transient is what
`RetryPolicy.decide` retries for a GET (connection errors, timeouts, an
unreadable body, 408, 429, every 5xx). The poller waits `POLL_RETRY.backoff`
(at least the server's Retry-After, capped at 30 s, else a growing backoff with
equal jitter) and polls again until `poll_timeout`. Only a definitive answer
(404, 401, 403, other 4xx) ends the wait early.

Settings. `PollSettings` owns the defaults and the validation of
``poll_interval``/``poll_timeout``; the client holds one, and every call that
polls resolves its own arguments against it.

Shared backoff. Every request of a client passes its `RateLimitGate`; a 429
anywhere closes it for the Retry-After, so all pollers slow down together.

Fan-out. `RunMany` runs one scheduler per batch: a heap of (next poll time,
task) entries, a bounded number of requests in flight, and one short-lived
asyncio task per *request*, never a sleeping coroutine per *task*. An entry is
a small slotted object, which is what keeps 10 000 in-flight tasks cheap. The
requests in flight never outnumber the connection pool's connections: a
request that would only queue for a connection stays a heap entry instead of
becoming a coroutine. A poll that is due takes the next free connection before
the next submission does (`_Slots`): a finished task is reported without
waiting behind the rest of a large batch's submissions. When the schedule
learns something that may change provisional polls (its ``epoch``
changes), the engine re-plans those entries at once (within `_EPOCH_CHECK`
when the change came from another batch's polls); a re-plan brings a poll
earlier, never later unless the schedule marks the new plan ``deferred`` (a
batch found to be cold again waits for its sentinels). A superseded heap
item is skipped when popped. A client too busy to send its polls when they
fall due (`_BEHIND`) sends those its schedule ranks likeliest to find their
task finished first (``urgency``), none more than `_MAX_OVERDUE` late.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import heapq
import itertools
import math
import sys
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
)
from typing import Any

import anyio
import attrs

from . import _tracing
from ._retry import Retry, RetryPolicy
from ._schedule import AdaptiveSchedule, PollSchedule, Schedule, Track, coerce_schedule
from .errors import StablebrowseError, TaskFailedError, TaskTimeoutError
from .types import Task, TaskOutcome, TaskRequest, TaskStatus

__all__ = [
    "DEFAULT_POLL_TIMEOUT",
    "POLL_RETRY",
    "AdaptiveSchedule",
    "PollSchedule",
    "PollSettings",
    "Progress",
    "RunMany",
    "check_submit_rate",
    "follow_task",
]

DEFAULT_POLL_TIMEOUT = 300.0
#: How a failed poll is retried: the request rules for a GET, no count limit
#: (`poll_timeout` bounds the wait), waits capped at 30 s, equal jitter.
POLL_RETRY = RetryPolicy(
    max_retries=sys.maxsize,
    initial_backoff=0.5,
    max_backoff=30.0,
    max_retry_after=30.0,
    min_jitter=0.5,
)


def _check_poll_timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"poll_timeout must be a number, got {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"poll_timeout must be > 0, got {value!r}")
    return float(value)


#: How far ahead of its even spacing a paced submission may go (seconds): the
#: tolerance of the generic cell rate algorithm. It lets a feeder that fell
#: behind (every slot busy) catch up by a few submissions instead of losing its
#: rate, while a long stall never turns into a burst of more than this much.
_SUBMIT_TOLERANCE = 0.01


def check_submit_rate(value: object) -> float | None:
    """None (submissions as fast as slots allow) or a rate > 0 per second, as a float."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"submit_rate must be a number of submissions per second or None, "
            f"got {type(value).__name__}"
        )
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"submit_rate must be a finite number > 0, got {value!r}")
    return float(value)


@attrs.frozen
class PollSettings:
    """How a wait polls: the one owner of the poll defaults and their validation.

    Attributes:
        schedule: when to poll a running task.
        timeout: seconds to wait for one task (> 0), a float.
    """

    schedule: PollSchedule | AdaptiveSchedule = attrs.Factory(AdaptiveSchedule)
    timeout: float = attrs.field(default=DEFAULT_POLL_TIMEOUT, converter=_check_poll_timeout)

    @classmethod
    def create(
        cls,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None,
        poll_timeout: float,
    ) -> PollSettings:
        """A client's settings: None for ``poll_interval`` is a new `AdaptiveSchedule`."""
        return cls(coerce_schedule(poll_interval), poll_timeout)

    def resolve(
        self,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None = None,
        poll_timeout: float | None = None,
    ) -> PollSettings:
        """These settings with a call's ``poll_interval``/``poll_timeout`` (None keeps ours).

        None keeps the client's own schedule: an `AdaptiveSchedule` is shared by
        every call of a client (and its `with_options` copies), so that all of
        them learn from, and profit by, the same polls. Raises
        `TypeError`/`ValueError` naming the argument for a bad value.
        """
        if poll_interval is None and poll_timeout is None:
            return self
        return PollSettings(
            self.schedule if poll_interval is None else coerce_schedule(poll_interval),
            self.timeout if poll_timeout is None else poll_timeout,
        )


def _retry_delay(error: StablebrowseError, failures: int) -> float | None:
    """Seconds before polling again after the `failures`-th failure in a row; None: give up."""
    decision = POLL_RETRY.decide("GET", error, attempt=failures)
    return decision.delay if isinstance(decision, Retry) else None


def final_result(task: Task) -> Task:
    """Return a completed task; raise `TaskFailedError` for failed or cancelled."""
    if task.status is TaskStatus.COMPLETED:
        return task
    raise TaskFailedError(task)


FetchTask = Callable[[str], Awaitable[Task]]
#: Sees each record of a task; what it returns, when not None, is awaited (an
#: async ``on_update``), so the common synchronous case costs no coroutine.
Observe = Callable[[Task], "Awaitable[object] | None"]


async def follow_task(
    fetch: FetchTask,
    last: Task,
    *,
    schedule: Schedule,
    poll_timeout: float,
    observe: Observe | None = None,
    clock: Callable[[], float] = time.monotonic,
    submitted: bool = True,
) -> Task:
    """Poll `fetch(task_id)` on `schedule` until `last`'s task is terminal; return that record.

    A failed or cancelled task is returned (`final_result` turns it into
    `TaskFailedError`); raises `TaskTimeoutError` (with the last record seen)
    or a definitive API error. `submitted`: `last` was just created (so the
    task's age is the time since this call), rather than an existing task of
    unknown age. `observe` (when given) sees `last`, then the record of every
    successful poll: the observation point of `tasks.watch` and ``on_update``.
    What it returns, when not None, is awaited; what it raises ends the wait.
    """
    if observe is not None:
        await _observe(observe, last)
    start = clock()
    deadline = start + poll_timeout
    track = schedule.begin(start, exact=submitted)
    failures = 0
    try:
        delay = schedule.next_delay(track, start)
        while not last.is_terminal:
            remaining = deadline - clock()
            if remaining <= 0:
                raise TaskTimeoutError(last, poll_timeout)
            await asyncio.sleep(min(delay, remaining))
            try:
                last = await fetch(last.task_id)
            except StablebrowseError as error:
                failures += 1
                retry_in = _retry_delay(error, failures)
                if retry_in is None:
                    raise
                delay = retry_in
                continue
            failures = 0
            now = clock()
            schedule.observe(track, last, now)
            if not last.is_terminal:
                delay = schedule.next_delay(track, now)
            if observe is not None:
                await _observe(observe, last)
    finally:
        schedule.release(track)
    return last


async def _observe(observe: Observe, task: Task) -> None:
    pending = observe(task)
    if pending is not None:
        await pending


@attrs.frozen
class Progress:
    """Counts `run_many` reports to its `on_progress` callback after every change.

    Attributes:
        submitted: tasks accepted by the API so far.
        completed: outcomes delivered that hold a completed task.
        failed: outcomes delivered that hold an error (of any kind).
        in_flight: tasks submitted whose outcome is not yet known.
        started: requests taken from the input so far.
    """

    submitted: int
    completed: int
    failed: int
    in_flight: int
    started: int

    @property
    def done(self) -> int:
        """Outcomes delivered so far."""
        return self.completed + self.failed


@attrs.define(slots=True)
class _Counts:
    """The live counters behind `Progress` (which is their immutable snapshot)."""

    submitted: int = 0
    completed: int = 0
    failed: int = 0
    in_flight: int = 0
    started: int = 0

    def snapshot(self) -> Progress:
        return Progress(
            submitted=self.submitted,
            completed=self.completed,
            failed=self.failed,
            in_flight=self.in_flight,
            started=self.started,
        )


class _Entry:
    """One submitted task being polled: the whole per-task state of the engine."""

    __slots__ = (
        "deadline",
        "due",
        "failures",
        "index",
        "last",
        "listed",
        "observe",
        "request",
        "seq",
        "span",
        "track",
    )

    def __init__(
        self, index: int, request: TaskRequest | None, last: Task, deadline: float, track: Track
    ) -> None:
        self.index = index
        self.request = request
        self.last = last
        self.deadline = deadline
        self.track = track
        self.failures = 0
        self.seq = -1  # the sequence number of its live heap item; -1 while not queued
        self.due = 0.0
        self.listed = False  # in the engine's list of provisional plans
        self.observe: Observe | None = None
        tracer = _tracing.TRACER
        self.span = None if tracer is None else _tracing.batch_task_span(tracer, last)


SubmitFn = Callable[[Any], Awaitable[Task]]
#: Makes the record observer of the task at an index (``on_update`` of `run_many`).
ObserverFactory = Callable[[int], Observe]


_DONE = object()
#: Seconds within which a batch notices that the shared schedule's ``epoch``
#: moved through another poller's polls (its own polls re-plan at once): a
#: batch whose tasks are all parked on sentinels of a concurrent batch has no
#: poll of its own to notice that they reported.
_EPOCH_CHECK = 0.05
#: After a re-plan, the next one waits this many times as long as it took: a
#: re-plan of thousands of queued polls costs tens of milliseconds of CPU (a
#: `next_delay` each), and a batch that learns fast (a cold batch of 10 000
#: tasks moved ``epoch`` every 30-40 ms while its first tasks finished, and
#: re-planned for 20-50 ms each time) would otherwise spend most of those
#: seconds re-planning while the polls already due wait.
#: Re-plans take at most a quarter of the client's time; a small batch's
#: re-plans (under a millisecond) still follow every report at once.
_REPLAN_SPACING = 3.0
#: The client is behind when its oldest due poll has waited this long (seconds)
#: for the CPU or a connection; it then sends the due polls likeliest to find
#: their task finished first (`_Batch._rank_due`), not the oldest due first.
_BEHIND = 0.1
#: How often (seconds) the due polls are ranked again while the client is
#: behind: each one's odds grow as it waits, by its own task's hazard.
_RANK_EVERY = 0.1
#: ... and at least this many times as long as the last ranking took: ranking
#: costs ~2 us a due poll (a few ms for 10 000 tasks at once on two cores), so a
#: backlog of 100 000 would otherwise spend most of the client's time ranking.
#: Rankings take at most a tenth of its time.
_RANK_SPACING = 9.0
#: No poll waits longer than this (seconds) past its time for being ranked low:
#: past it, it goes before every ranked one, the oldest due first.
_MAX_OVERDUE = 2.0


class _Slots:
    """The batch's requests in flight: a counting semaphore where polls go first.

    Two coroutines wait on it, the feeder (submissions) and the poll scheduler,
    one request at a time each. When both wait, a freed slot goes to the poll:
    it reports work already done, while a submission only adds work.
    """

    __slots__ = ("_free", "_polls", "_submissions")

    def __init__(self, size: int) -> None:
        self._free = size
        self._polls: collections.deque[asyncio.Future[None]] = collections.deque()
        self._submissions: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self, *, poll: bool) -> None:
        """Take a slot, waiting while none is free (a poll ahead of any submission)."""
        waiting = self._polls if poll else self._submissions
        if self._free > 0 and not self._polls and (poll or not self._submissions):
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting.append(granted)
        try:
            await granted
        except BaseException:
            if granted.done() and not granted.cancelled():
                self.release()  # granted, then cancelled before it could be used
            else:
                with contextlib.suppress(ValueError):  # release() may have dropped it
                    waiting.remove(granted)
            raise

    def release(self) -> None:
        """Give a slot back: to a waiting poll first, then to a waiting submission."""
        for waiting in (self._polls, self._submissions):
            while waiting:
                granted = waiting.popleft()
                if not granted.done():
                    granted.set_result(None)
                    return
        self._free += 1


def _unwrap_group(error: Exception) -> Exception:
    """The single error inside (nested) exception groups, else the group itself."""
    inner = getattr(error, "exceptions", None)
    while isinstance(inner, tuple) and len(inner) == 1 and isinstance(inner[0], Exception):
        error = inner[0]
        inner = getattr(error, "exceptions", None)
    return error


class _Batch:
    """Submit many tasks and yield a `TaskOutcome` for each as it finishes.

    Iterate it with ``async for``. With ``return_exceptions=False`` the first
    failed outcome is raised instead of yielded, and the batch stops. Leaving the loop early (break, an
    exception, cancellation) stops the work: call ``await it.aclose()`` or use
    ``async with`` to make that immediate; otherwise it happens when the
    iterator is garbage-collected. Tasks already submitted keep running on the
    server; their ids are on the outcomes you did receive only.
    """

    def __init__(
        self,
        requests: Iterable[Any] | AsyncIterable[Any],
        *,
        submit: SubmitFn,
        fetch: FetchTask,
        schedule: Schedule,
        poll_timeout: float,
        concurrency: int,
        connection_limit: int | None,
        max_in_flight: int,
        submit_rate: float | None,
        on_progress: Callable[[Progress], None] | None,
        on_submitted: Callable[[int, Task], None] | None,
        return_exceptions: bool,
        clock: Callable[[], float],
        observe: ObserverFactory | None,
        coerce: Callable[[Any], Any],
        keep_requests: bool,
    ) -> None:
        # Every argument is given by RunMany, whose signature holds the defaults.
        for name, value in (("concurrency", concurrency), ("max_in_flight", max_in_flight)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        poll_timeout = _check_poll_timeout(poll_timeout)
        rate = check_submit_rate(submit_rate)
        if not isinstance(requests, (Iterable, AsyncIterable)):
            raise TypeError(
                f"requests must be an iterable or async iterable, got {type(requests).__name__}"
            )
        self._requests = requests
        self._submit = submit
        self._fetch = fetch
        self._schedule = schedule
        self._poll_timeout = poll_timeout
        self._on_progress = on_progress
        self._on_submitted = on_submitted
        self._return_exceptions = return_exceptions
        self._clock = clock
        if connection_limit is not None:
            concurrency = max(1, min(concurrency, connection_limit))
        self._observe = observe
        self._coerce = coerce
        self._keep_requests = keep_requests
        self._slots = _Slots(concurrency)
        self._room = asyncio.Semaphore(max_in_flight)
        self._submit_spacing = None if rate is None else 1.0 / rate
        self._paced_at = -math.inf  # when the next paced submission is due
        self._heap: list[tuple[float, int, _Entry]] = []
        # While the client is behind: due heap items, the next to send last.
        self._ranked: list[tuple[float, int, _Entry]] = []
        self._rank_after = -math.inf  # when the due polls may be ranked again
        # A schedule that can rank due polls (`AdaptiveSchedule`); a fixed one cannot.
        self._urgency: Callable[[list[Track], float], list[float]] | None = getattr(
            schedule, "urgency", None
        )
        self._provisional: list[_Entry] = []
        self._queued = 0  # entries with a live heap item (stale items do not count)
        self._epoch = schedule.epoch
        self._replan_after = -math.inf  # when the next re-plan may run (`_REPLAN_SPACING`)
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._outcomes: asyncio.Queue[Any] = asyncio.Queue()
        self._runner: asyncio.Task[None] | None = None
        self._requests_in_flight: set[asyncio.Task[None]] = set()
        self._crash: BaseException | None = None
        self._feeding = True
        self._active = 0
        self._counts = _Counts()
        self._closed = False
        self._input_error: Exception | None = None

    # -- consumer side -----------------------------------------------------

    def __aiter__(self) -> AsyncIterator[TaskOutcome]:
        return self

    async def __anext__(self) -> TaskOutcome:
        if self._closed:
            raise StopAsyncIteration
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run())
        item = await self._outcomes.get()
        if item is _DONE:
            self._closed = True
            await self._runner
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._closed = True
            raise item
        self._room.release()
        assert isinstance(item, TaskOutcome)
        if item.error is not None and not self._return_exceptions:
            await self.aclose()
            raise item.error
        return item

    async def aclose(self) -> None:
        """Stop submitting and polling now, and wait until everything is cleaned up."""
        self._closed = True
        runner, self._runner = self._runner, None
        if runner is not None and not runner.done():
            runner.cancel()
            # Shielded: under a cancel scope that is already cancelled (a
            # framework's request timeout) the wait would end at once and
            # `async with` would exit while the engine still unwinds. The
            # engine only has to notice its own cancellation, so this is short.
            # asyncio.wait, unlike awaiting the task, does not re-raise its
            # cancellation: a CancelledError here is our own caller's.
            with anyio.CancelScope(shield=True):
                await asyncio.wait([runner])
        elif runner is not None and not runner.cancelled():
            runner.exception()  # retrieved, so asyncio does not warn

    # -- engine ---------------------------------------------------------------

    async def _run(self) -> None:
        try:
            try:
                async with anyio.create_task_group() as group:
                    group.start_soon(self._feed)
                    await self._schedule_polls()
            finally:
                await self._stop_requests()
            if self._crash is not None:
                raise self._crash
        except Exception as error:
            # Not a task's failure (those are outcomes) but a bug or a failing
            # callback: hand it to the consumer instead of leaving it waiting.
            self._outcomes.put_nowait(_unwrap_group(error))
            return
        # Every outcome is delivered before an input failure is raised to the consumer.
        self._outcomes.put_nowait(self._input_error if self._input_error is not None else _DONE)

    def _start(self, request: Coroutine[Any, Any, None]) -> None:
        """Run one request (a submission or a poll) as its own asyncio task.

        A plain task, not a task group's child: spawning one costs about a
        sixth of an anyio ``start_soon`` (5 against 31 us here), and a batch
        spawns one per request. The structure a task group gives is kept by
        hand: the first error a request raises (a failing callback, a bug)
        stops the batch (`_schedule_polls` raises it) and `_run` cancels and
        waits for every request still running before it returns.
        """
        name = getattr(request, "__qualname__", None)  # "_Batch._poll_one": what it runs
        task = asyncio.get_running_loop().create_task(request, name=name)
        self._requests_in_flight.add(task)
        task.add_done_callback(self._reap)

    def _reap(self, task: asyncio.Task[None]) -> None:
        """Forget a finished request; keep the first error one raised (idempotent)."""
        self._requests_in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None and self._crash is None:
            self._crash = task.exception()
            self._wake.set()

    async def _stop_requests(self) -> None:
        running = list(self._requests_in_flight)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)
        for task in running:  # their done callbacks may not have run yet
            self._reap(task)

    def _progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self._counts.snapshot())

    def _deliver(self, outcome: TaskOutcome, *, was_in_flight: bool) -> None:
        if outcome.error is None:
            self._counts.completed += 1
        else:
            self._counts.failed += 1
        if was_in_flight:
            self._counts.in_flight -= 1
        self._outcomes.put_nowait(outcome)
        self._progress()

    async def _iterate_requests(self) -> AsyncGenerator[Any, None]:
        source = self._requests
        if isinstance(source, AsyncIterable):
            async for item in source:
                yield item
        else:
            for item in source:
                yield item

    async def _feed(self) -> None:
        try:
            index = 0
            # Closed explicitly when the batch stops: an async generator left to
            # the garbage collector is finalized at an arbitrary later moment.
            async with contextlib.aclosing(self._iterate_requests()) as source:
                async for raw in source:
                    await self._room.acquire()
                    self._counts.started += 1
                    try:
                        request = self._coerce(raw)
                    except (TypeError, ValueError) as error:
                        kept = raw if self._keep_requests else None
                        self._deliver(TaskOutcome(index, kept, error=error), was_in_flight=False)
                    else:
                        await self._pace()
                        await self._slots.acquire(poll=False)
                        self._active += 1
                        self._start(self._submit_one(index, request))
                    index += 1
        except Exception as error:
            # The caller's input failed: submit nothing more, finish what is in
            # flight, then raise this to the consumer after the last outcome.
            self._input_error = error
        finally:
            self._feeding = False
            self._wake.set()

    def _pacing_delay(self) -> float:
        """Seconds until `submit_rate` allows the next submission (0.0: at once).

        The generic cell rate algorithm: submissions are due `_submit_spacing`
        apart and each may go up to `_SUBMIT_TOLERANCE` early; `_pace` moves
        the due time from when one actually went, so a feeder that waited for
        a slot never makes up for it with a burst, and the average rate stays
        at most `submit_rate`. Drift-free at thousands per second, where
        sleeping one spacing after each submission would be bound by the event
        loop's millisecond timer.
        """
        if self._submit_spacing is None:
            return 0.0
        return max(0.0, self._paced_at - _SUBMIT_TOLERANCE - self._clock())

    async def _pace(self) -> None:
        """Wait until `submit_rate` allows the next submission, and count it."""
        spacing = self._submit_spacing
        if spacing is None:
            return
        delay = self._pacing_delay()
        if delay > 0:
            await anyio.sleep(delay)
        self._paced_at = max(self._paced_at, self._clock()) + spacing

    async def _submit_one(self, index: int, item: Any) -> None:
        request = item if self._keep_requests else None
        try:
            task = await self._submit(item)
        except StablebrowseError as error:
            self._deliver(TaskOutcome(index, request, error=error), was_in_flight=False)
            return
        finally:
            self._active -= 1
            self._slots.release()
            self._wake.set()
        self._counts.submitted += 1
        self._counts.in_flight += 1
        now = self._clock()
        # A task given by id (`wait_many`, no request kept) is of unknown age.
        track = self._schedule.begin(now, batch=True, exact=self._keep_requests)
        entry = _Entry(index, request, task, now + self._poll_timeout, track)
        if self._on_submitted is not None:
            self._on_submitted(index, task)
        if self._observe is not None:
            entry.observe = self._observe(index)
        if await self._observed(entry, task):
            if task.is_terminal:  # a task resumed by id may have ended already
                self._schedule.observe(track, task, now)
                self._finish(entry, task)
            else:
                self._plan(entry, now)
        self._progress()

    async def _observed(self, entry: _Entry, task: Task) -> bool:
        """Report `task` to the entry's observer; False (its outcome delivered) if that raised."""
        if entry.observe is None:
            return True
        try:
            await _observe(entry.observe, task)
        except Exception as error:  # the caller's callback: it fails this task only
            self._schedule.release(entry.track)
            self._settle(entry, TaskOutcome(entry.index, entry.request, error=error))
            return False
        return True

    def _finish(self, entry: _Entry, task: Task) -> None:
        if task.status is TaskStatus.COMPLETED:
            outcome = TaskOutcome(entry.index, entry.request, task=task)
        else:
            outcome = TaskOutcome(entry.index, entry.request, error=TaskFailedError(task))
        self._settle(entry, outcome)

    def _settle(self, entry: _Entry, outcome: TaskOutcome) -> None:
        """Deliver the outcome of a task that was in flight, ending its span (when tracing)."""
        if entry.span is not None:
            entry.span.end(entry.last, outcome.error)
        self._deliver(outcome, was_in_flight=True)

    def _reschedule(self, entry: _Entry, delay: float) -> None:
        """Poll `entry` again after `delay`, or report its timeout if its time is up.

        The last poll happens at the deadline itself, so a task that finished
        just in time is reported as finished, not timed out.
        """
        if self._clock() >= entry.deadline:
            self._schedule.release(entry.track)
            error = TaskTimeoutError(entry.last, self._poll_timeout)
            self._settle(entry, TaskOutcome(entry.index, entry.request, error=error))
        else:
            self._push(entry, delay)

    def _plan(self, entry: _Entry, now: float) -> None:
        """Queue `entry`'s next poll where its schedule says."""
        self._push(entry, self._schedule.next_delay(entry.track, now))
        if entry.track.provisional and not entry.listed:
            entry.listed = True
            self._provisional.append(entry)

    def _push(self, entry: _Entry, delay: float) -> None:
        due = min(self._clock() + delay, entry.deadline)
        if entry.seq < 0:
            self._queued += 1
        entry.seq = seq = next(self._seq)
        entry.due = due
        heapq.heappush(self._heap, (due, seq, entry))
        self._wake.set()

    def _replan(self) -> None:
        """Bring forward the queued provisional polls that what was just learned improves
        (or move them later, where the schedule marks its new plan ``deferred``)."""
        self._epoch = self._schedule.epoch
        now = self._clock()
        keep: list[_Entry] = []
        for entry in self._provisional:
            entry.listed = False
            if entry.seq < 0:  # in flight or finished: planned afresh after its poll
                continue
            delay = self._schedule.next_delay(entry.track, now)
            if now + delay < entry.due - 1e-3 or (
                entry.track.deferred and now + delay > entry.due + 1e-3
            ):
                self._push(entry, delay)
            if entry.track.provisional:
                entry.listed = True
                keep.append(entry)
        self._provisional = keep
        took = self._clock() - now
        self._replan_after = now + took * (1.0 + _REPLAN_SPACING)

    def _replan_due(self) -> bool:
        """Whether the schedule learned something since the last re-plan, and the
        spacing after that re-plan (`_REPLAN_SPACING`) has passed."""
        return self._schedule.epoch != self._epoch and self._clock() >= self._replan_after

    async def _schedule_polls(self) -> None:
        heap = self._heap
        while self._feeding or self._queued or self._active:
            if self._crash is not None:
                raise self._crash  # the task group stops the feeder; `_run` the requests
            if self._replan_due():
                self._replan()
            while heap and heap[0][2].seq != heap[0][1]:
                heapq.heappop(heap)  # superseded by a re-plan: nothing to wait for
            entry = self._ranked_entry()
            if entry is None:
                if not heap:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                wait = heap[0][0] - self._clock()
                if wait > 0:
                    self._wake.clear()
                    if self._provisional:
                        wait = min(wait, _EPOCH_CHECK)  # a re-plan held back runs by then too
                    with anyio.move_on_after(wait):
                        await self._wake.wait()
                    continue
                _, _, entry = heapq.heappop(heap)
            entry.seq = -1
            self._queued -= 1
            await self._slots.acquire(poll=True)
            self._active += 1
            self._start(self._poll_one(entry))

    def _ranked_entry(self) -> _Entry | None:
        """The due poll to send next while the client is behind (`_BEHIND`), else None.

        Sent oldest due first, the polls of a client that cannot keep up go
        round the running tasks, the young (unlikely to have finished) and the
        old alike, each a whole backlog apart. Ranked by the schedule's
        `~AdaptiveSchedule.urgency` instead, the polls likeliest to find their
        task finished go first and the others wait, at most `_MAX_OVERDUE`:
        fewer polls find a task still running, and the finished ones are seen
        sooner. (10 000 tasks of 1-3 s at once, 4 real runs each: median lag
        0.47-0.62 s -> 0.37-0.41 s at the same CPU; simulated on a client of
        3 000 requests a second, seeds 1-3: 0.59-0.61 s -> 0.47-0.48 s at
        1.62-1.68 -> 1.56-1.62 polls a task; `benchmarks/RESULTS.md`.)
        """
        urgency = self._urgency
        if urgency is None:
            return None
        heap, now = self._heap, self._clock()
        if (now >= self._rank_after) if self._ranked else (heap and now - heap[0][0] > _BEHIND):
            self._rank_due(now, urgency)
        ranked = self._ranked
        while ranked:
            _, seq, entry = ranked.pop()
            if entry.seq == seq:  # not re-planned since it was ranked
                return entry
        return None

    def _rank_due(self, now: float, urgency: Callable[[list[Track], float], list[float]]) -> None:
        """Rank every due poll (those ranked before and those fallen due since)."""
        heap = self._heap
        due = [item for item in self._ranked if item[2].seq == item[1]]
        while heap and heap[0][0] <= now:
            item = heapq.heappop(heap)
            if item[2].seq == item[1]:
                due.append(item)
        odds = urgency([entry.track for _, _, entry in due], now)
        late = now - _MAX_OVERDUE
        # The next to send last: likeliest, then (among equals) the oldest due, the first planned.
        keys = [
            (math.inf if at < late else chance, -at, -seq)
            for (at, seq, _), chance in zip(due, odds, strict=True)
        ]
        self._ranked = [due[k] for k in sorted(range(len(due)), key=keys.__getitem__)]
        took = self._clock() - now
        self._rank_after = now + max(_RANK_EVERY, took * (1.0 + _RANK_SPACING))

    async def _poll_one(self, entry: _Entry) -> None:
        try:
            try:
                if entry.span is None:
                    task = await self._fetch(entry.last.task_id)
                else:
                    with entry.span.polling():
                        task = await self._fetch(entry.last.task_id)
            except StablebrowseError as error:
                entry.failures += 1
                retry_in = _retry_delay(error, entry.failures)
                if retry_in is None:
                    self._schedule.release(entry.track)
                    self._settle(entry, TaskOutcome(entry.index, entry.request, error=error))
                    return
                self._reschedule(entry, retry_in)
                return
            entry.failures = 0
            entry.last = task
            now = self._clock()
            self._schedule.observe(entry.track, task, now)
            if self._replan_due():
                self._replan()
            if entry.observe is not None and not await self._observed(entry, task):
                return
            if not task.is_terminal:
                if now >= entry.deadline:
                    self._reschedule(entry, 0.0)
                else:
                    self._plan(entry, now)
                return
            self._finish(entry, task)
        finally:
            self._active -= 1
            self._slots.release()
            self._wake.set()


class RunMany:
    """Submit many tasks and yield a `TaskOutcome` for each as it finishes.

    Iterate it with ``async for``. With ``return_exceptions=False`` the first
    failed outcome is raised instead of yielded, and the batch stops. Leaving
    the loop early (break, an exception, cancellation) stops the work: at once
    with ``await it.aclose()`` or ``async with``, otherwise as soon as this
    object is dropped (the engine's tasks never hold a reference to it, so a
    plain ``break`` is enough). Tasks already submitted keep running on the
    server.

    The engine is shared by `tasks.run_many` and `tasks.wait_many`: each input
    item is checked by ``coerce`` (a `TypeError`/`ValueError` is that item's
    outcome) and started by ``submit`` (a POST, or the first GET of a task
    resumed by id; outcomes then carry no request when ``keep_requests`` is
    False). ``observe(index)`` makes the observer that sees each record of the
    task at ``index`` (its first, then every successful poll); what an
    observer raises is that task's outcome.
    """

    __slots__ = ("_batch",)

    def __init__(
        self,
        requests: Iterable[Any] | AsyncIterable[Any],
        *,
        submit: SubmitFn,
        fetch: FetchTask,
        schedule: Schedule,
        poll_timeout: float,
        concurrency: int = 64,
        connection_limit: int | None = None,
        max_in_flight: int = 10_000,
        submit_rate: float | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_submitted: Callable[[int, Task], None] | None = None,
        return_exceptions: bool = True,
        clock: Callable[[], float] = time.monotonic,
        observe: ObserverFactory | None = None,
        coerce: Callable[[Any], Any] = TaskRequest.coerce,
        keep_requests: bool = True,
    ) -> None:
        self._batch = _Batch(
            requests,
            submit=submit,
            fetch=fetch,
            schedule=schedule,
            poll_timeout=poll_timeout,
            concurrency=concurrency,
            connection_limit=connection_limit,
            max_in_flight=max_in_flight,
            submit_rate=submit_rate,
            on_progress=on_progress,
            on_submitted=on_submitted,
            return_exceptions=return_exceptions,
            clock=clock,
            observe=observe,
            coerce=coerce,
            keep_requests=keep_requests,
        )

    def __aiter__(self) -> RunMany:
        return self

    async def __anext__(self) -> TaskOutcome:
        return await self._batch.__anext__()

    async def aclose(self) -> None:
        """Stop submitting and polling now, and wait until everything is cleaned up."""
        await self._batch.aclose()

    async def __aenter__(self) -> RunMany:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        runner = getattr(getattr(self, "_batch", None), "_runner", None)
        if runner is not None and not runner.done():
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                runner.get_loop().call_soon_threadsafe(runner.cancel)
