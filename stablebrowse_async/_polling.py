"""Polling: single waits, and the fan-out engine behind `run_many`.

Schedule. When to poll is the schedule's business (`_schedule`): the learning
`AdaptiveSchedule` (the default) or a fixed geometric `PollSchedule`. The
pollers here only call its protocol: ``begin`` when a task starts being
watched, ``next_delay`` to plan each poll, ``observe`` with what each
successful poll saw, ``release`` when a task stops being watched unfinished.

Transient poll failures (connection errors, timeouts, 5xx, 408, 429, an
unreadable body) never fail a task: the poller waits (at least the server's
Retry-After, else a growing backoff) and polls again until `poll_timeout`.
Only a definitive answer (404, 401, 403, other 4xx) ends the wait early.

Shared backoff. Every request of a client passes its `RateLimitGate`; a 429
anywhere closes it for the Retry-After, so all pollers slow down together.

Fan-out. `RunMany` runs one scheduler per batch: a heap of (next poll time,
task) entries, a bounded number of requests in flight, and one short-lived
asyncio task per *request*, never a sleeping coroutine per *task*. An entry is
a small slotted object, which is what keeps 10 000 in-flight tasks cheap. The
requests in flight never outnumber the connection pool's connections: a
request that would only queue for a connection stays a heap entry instead of
becoming a coroutine. When the schedule learns something that may bring
provisional polls earlier (its ``epoch`` changes), the engine re-plans those
entries at once; a superseded heap item is skipped when popped.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from typing import Any

import anyio
import attrs
from anyio.abc import TaskGroup

from ._schedule import AdaptiveSchedule, PollSchedule, Schedule, Track
from .errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    InternalServerError,
    RateLimitError,
    StablebrowseError,
    TaskFailedError,
    TaskTimeoutError,
)
from .types import Task, TaskOutcome, TaskRequest, TaskStatus

__all__ = [
    "AdaptiveSchedule",
    "PollSchedule",
    "Progress",
    "RunMany",
    "is_transient",
    "wait_for_task",
]

_ERROR_BACKOFF_CAP = 30.0


def is_transient(error: BaseException) -> bool:
    """Whether a failed poll should be tried again (True) or end the wait (False)."""
    if isinstance(error, (APIConnectionError, APIResponseValidationError)):
        return True
    if isinstance(error, (InternalServerError, RateLimitError)):
        return True
    return isinstance(error, APIStatusError) and error.status_code == 408


def error_backoff(error: BaseException, failures: int) -> float:
    """Seconds to wait after the `failures`-th consecutive transient poll failure."""
    retry_after = getattr(error, "retry_after", None)
    backoff = min(_ERROR_BACKOFF_CAP, 0.5 * 2.0 ** (failures - 1))
    if isinstance(retry_after, (int, float)) and retry_after > 0:
        return max(min(float(retry_after), _ERROR_BACKOFF_CAP), backoff / 2)
    return random.uniform(backoff / 2, backoff)


def final_result(task: Task) -> Task:
    """Return a completed task; raise `TaskFailedError` for failed or cancelled."""
    if task.status is TaskStatus.COMPLETED:
        return task
    raise TaskFailedError(task)


FetchTask = Callable[[str], Awaitable[Task]]


async def wait_for_task(
    fetch: FetchTask,
    last: Task,
    *,
    schedule: Schedule,
    poll_timeout: float,
    clock: Callable[[], float] = time.monotonic,
    submitted: bool = True,
) -> Task:
    """Poll `fetch(task_id)` on `schedule` until `last`'s task is terminal.

    `submitted`: `last` was just created (so the task's age is the time since
    this call), rather than an existing task of unknown age.
    Returns the completed record; raises `TaskFailedError` (failed, cancelled),
    `TaskTimeoutError` (with the last record seen) or a definitive API error.
    """
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
                if not is_transient(error):
                    raise
                failures += 1
                delay = error_backoff(error, failures)
                continue
            failures = 0
            now = clock()
            schedule.observe(track, last, now)
            if not last.is_terminal:
                delay = schedule.next_delay(track, now)
    finally:
        schedule.release(track)
    return final_result(last)


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


class _Entry:
    """One submitted task being polled: the whole per-task state of the engine."""

    __slots__ = (
        "deadline",
        "due",
        "failures",
        "index",
        "last",
        "listed",
        "request",
        "seq",
        "track",
    )

    def __init__(
        self, index: int, request: TaskRequest, last: Task, deadline: float, track: Track
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


SubmitFn = Callable[[TaskRequest], Awaitable[Task]]
_DONE = object()


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
        requests: Iterable[TaskRequest | Mapping[str, Any]]
        | AsyncIterable[TaskRequest | Mapping[str, Any]],
        *,
        submit: SubmitFn,
        fetch: FetchTask,
        schedule: Schedule,
        poll_timeout: float,
        concurrency: int = 64,
        connection_limit: int | None = None,
        max_in_flight: int = 10_000,
        on_progress: Callable[[Progress], None] | None = None,
        on_submitted: Callable[[int, Task], None] | None = None,
        return_exceptions: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("concurrency", concurrency), ("max_in_flight", max_in_flight)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if isinstance(poll_timeout, bool) or not isinstance(poll_timeout, (int, float)):
            raise TypeError(f"poll_timeout must be a number, got {type(poll_timeout).__name__}")
        if not poll_timeout > 0:
            raise ValueError(f"poll_timeout must be > 0, got {poll_timeout!r}")
        if not isinstance(requests, (Iterable, AsyncIterable)):
            raise TypeError(
                f"requests must be an iterable or async iterable, got {type(requests).__name__}"
            )
        self._requests = requests
        self._submit = submit
        self._fetch = fetch
        self._schedule = schedule
        self._poll_timeout = float(poll_timeout)
        self._on_progress = on_progress
        self._on_submitted = on_submitted
        self._return_exceptions = return_exceptions
        self._clock = clock
        if connection_limit is not None:
            concurrency = max(1, min(concurrency, connection_limit))
        self._slots = asyncio.Semaphore(concurrency)
        self._room = asyncio.Semaphore(max_in_flight)
        self._heap: list[tuple[float, int, _Entry]] = []
        self._provisional: list[_Entry] = []
        self._queued = 0  # entries with a live heap item (stale items do not count)
        self._epoch = schedule.epoch
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._outcomes: asyncio.Queue[Any] = asyncio.Queue()
        self._runner: asyncio.Task[None] | None = None
        self._feeding = True
        self._active = 0
        self._counts = {"submitted": 0, "completed": 0, "failed": 0, "in_flight": 0, "started": 0}
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
            async with anyio.create_task_group() as group:
                group.start_soon(self._feed, group)
                await self._schedule_polls(group)
        except Exception as error:
            # Not a task's failure (those are outcomes) but a bug or a failing
            # callback: hand it to the consumer instead of leaving it waiting.
            self._outcomes.put_nowait(_unwrap_group(error))
            return
        # Every outcome is delivered before an input failure is raised to the consumer.
        self._outcomes.put_nowait(self._input_error if self._input_error is not None else _DONE)

    def _progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(Progress(**self._counts))

    def _deliver(self, outcome: TaskOutcome, *, was_in_flight: bool) -> None:
        self._counts["completed" if outcome.error is None else "failed"] += 1
        if was_in_flight:
            self._counts["in_flight"] -= 1
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

    async def _feed(self, group: TaskGroup) -> None:
        try:
            index = 0
            # Closed explicitly when the batch stops: an async generator left to
            # the garbage collector is finalized at an arbitrary later moment.
            async with contextlib.aclosing(self._iterate_requests()) as source:
                async for raw in source:
                    await self._room.acquire()
                    self._counts["started"] += 1
                    try:
                        request = TaskRequest.coerce(raw)
                    except (TypeError, ValueError) as error:
                        self._deliver(TaskOutcome(index, raw, error=error), was_in_flight=False)
                    else:
                        await self._slots.acquire()
                        self._active += 1
                        group.start_soon(self._submit_one, index, request)
                    index += 1
        except Exception as error:
            # The caller's input failed: submit nothing more, finish what is in
            # flight, then raise this to the consumer after the last outcome.
            self._input_error = error
        finally:
            self._feeding = False
            self._wake.set()

    async def _submit_one(self, index: int, request: TaskRequest) -> None:
        try:
            task = await self._submit(request)
        except StablebrowseError as error:
            self._deliver(TaskOutcome(index, request, error=error), was_in_flight=False)
            return
        finally:
            self._active -= 1
            self._slots.release()
            self._wake.set()
        self._counts["submitted"] += 1
        self._counts["in_flight"] += 1
        now = self._clock()
        track = self._schedule.begin(now, batch=True)
        entry = _Entry(index, request, task, now + self._poll_timeout, track)
        self._plan(entry, now)
        if self._on_submitted is not None:
            self._on_submitted(index, task)
        self._progress()

    def _reschedule(self, entry: _Entry, delay: float) -> None:
        """Poll `entry` again after `delay`, or report its timeout if its time is up.

        The last poll happens at the deadline itself, so a task that finished
        just in time is reported as finished, not timed out.
        """
        if self._clock() >= entry.deadline:
            self._schedule.release(entry.track)
            error = TaskTimeoutError(entry.last, self._poll_timeout)
            self._deliver(TaskOutcome(entry.index, entry.request, error=error), was_in_flight=True)
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
        """Bring forward the queued provisional polls that what was just learned improves."""
        self._epoch = self._schedule.epoch
        now = self._clock()
        keep: list[_Entry] = []
        for entry in self._provisional:
            entry.listed = False
            if entry.seq < 0:  # in flight or finished: planned afresh after its poll
                continue
            delay = self._schedule.next_delay(entry.track, now)
            if now + delay < entry.due - 1e-3:
                self._push(entry, delay)
            if entry.track.provisional:
                entry.listed = True
                keep.append(entry)
        self._provisional = keep

    async def _schedule_polls(self, group: TaskGroup) -> None:
        heap = self._heap
        while self._feeding or self._queued or self._active:
            while heap and heap[0][2].seq != heap[0][1]:
                heapq.heappop(heap)  # superseded by a re-plan: nothing to wait for
            if not heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = heap[0][0] - self._clock()
            if wait > 0:
                self._wake.clear()
                with anyio.move_on_after(wait):
                    await self._wake.wait()
                continue
            _, _, entry = heapq.heappop(heap)
            entry.seq = -1
            self._queued -= 1
            await self._slots.acquire()
            self._active += 1
            group.start_soon(self._poll_one, entry)

    async def _poll_one(self, entry: _Entry) -> None:
        try:
            try:
                task = await self._fetch(entry.last.task_id)
            except StablebrowseError as error:
                if not is_transient(error):
                    self._schedule.release(entry.track)
                    self._deliver(
                        TaskOutcome(entry.index, entry.request, error=error), was_in_flight=True
                    )
                    return
                entry.failures += 1
                self._reschedule(entry, error_backoff(error, entry.failures))
                return
            entry.failures = 0
            entry.last = task
            now = self._clock()
            self._schedule.observe(entry.track, task, now)
            if self._schedule.epoch != self._epoch:
                self._replan()
            if not task.is_terminal:
                if now >= entry.deadline:
                    self._reschedule(entry, 0.0)
                else:
                    self._plan(entry, now)
                return
            if task.status is TaskStatus.COMPLETED:
                outcome = TaskOutcome(entry.index, entry.request, task=task)
            else:
                outcome = TaskOutcome(entry.index, entry.request, error=TaskFailedError(task))
            self._deliver(outcome, was_in_flight=True)
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
    """

    __slots__ = ("_batch",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._batch = _Batch(*args, **kwargs)

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
