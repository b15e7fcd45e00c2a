"""Watching a task: turn the records the SDK sees into `TaskUpdate`s.

Three parts, each small:

- `StepTracker` holds what one task's watcher has already reported and turns
  the next record into a `TaskUpdate`, or None when nothing changed. Steps are
  de-duplicated by their number `n`: each step is reported once, in order of
  `n`, whatever the server does to the list between polls (resend it whole,
  send it empty, reorder it, send only its tail).
- `RecordSource` is the one seam between "where records come from" and
  everything built on them (`tasks.watch`, and `on_update` of `tasks.wait`,
  `tasks.run`, `design.run`). Today the only source is `PollingSource`, the
  poller `tasks.wait` always used; the API's planned push route
  (``GET /v1/tasks/{taskId}/stream``) would be a second implementation of the
  same protocol, and `watch` would keep its signature.
- `TaskWatch` is the async iterator `tasks.watch` returns: one background
  asyncio task runs the source, and the iterator hands its updates over.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio
import attrs

from ._polling import FetchTask, Observe, PollSettings, follow_task
from .types import StepSummary, Task, TaskStatus

__all__ = [
    "OnUpdate",
    "PollingSource",
    "RecordSource",
    "StepTracker",
    "TaskUpdate",
    "TaskWatch",
    "check_on_update",
    "observer",
]


@attrs.frozen
class TaskUpdate:
    """One observed change of a task: its record, the steps new in it, the status before.

    Attributes:
        task: the record just seen.
        new_steps: the steps that were in no earlier update of this watch, in
            order of their number `n` (every step appears in exactly one update).
        previous_status: the status in the previous update; None on the first.
    """

    task: Task
    new_steps: tuple[StepSummary, ...]
    previous_status: TaskStatus | None


#: What ``on_update=`` accepts: a function of a `TaskUpdate`, plain or async.
OnUpdate = Callable[[TaskUpdate], "Awaitable[object] | object"]


class StepTracker:
    """What one watcher has reported; `observe` turns the next record into an update.

    Numbered steps are released in order of `n`. A record whose list looks
    whole (as long as its `total_steps`, or without a `total_steps` to compare
    with) releases every step it holds. A partial one (emptied, or cut to its
    last steps by a server capping the list) releases only the steps that
    continue the ones already reported without a gap; the rest wait for a
    later record, and a terminal record releases everything left. Steps
    without a number are de-duplicated by value.
    """

    __slots__ = ("_next", "_pending", "_seen", "_status", "_unnumbered")

    def __init__(self) -> None:
        self._status: TaskStatus | None = None
        self._seen: set[int] = set()  # numbers reported or pending
        self._pending: dict[int, StepSummary] = {}
        self._next = 1  # the number that continues the reported steps without a gap
        self._unnumbered: set[StepSummary] | None = None  # made on first need: rare

    def observe(self, task: Task) -> TaskUpdate | None:
        """The update `task` makes, or None when it changes neither status nor steps."""
        steps = task.step_summaries
        new = self._release(task, steps) if steps or self._pending else ()
        previous = self._status
        if not new and task.status == previous:  # by value: unknown states are new objects
            return None
        self._status = task.status
        return TaskUpdate(task, new, previous)

    def _release(self, task: Task, steps: tuple[StepSummary, ...]) -> tuple[StepSummary, ...]:
        seen = self._seen
        pending = self._pending
        loose: list[StepSummary] = []
        for step in steps:
            n = step.n
            if n is None:
                if self._unnumbered is None:
                    self._unnumbered = set()
                if step not in self._unnumbered:
                    self._unnumbered.add(step)
                    loose.append(step)
            elif n not in seen:
                seen.add(n)
                pending[n] = step
        if not pending:
            return tuple(loose)
        whole = task.total_steps is None or len(steps) >= task.total_steps
        if whole or task.is_terminal:
            ready = [pending[n] for n in sorted(pending)]
            pending.clear()
        else:
            ready = []
            while self._next in pending:
                ready.append(pending.pop(self._next))
                self._next += 1
        if ready:
            last = ready[-1].n
            assert last is not None
            self._next = max(self._next, last + 1)
        return (*ready, *loose) if loose else tuple(ready)


def check_on_update(on_update: object) -> None:
    """Raise `TypeError` unless `on_update` is None or callable (before any request)."""
    if on_update is not None and not callable(on_update):
        raise TypeError(f"on_update must be callable, got {type(on_update).__name__}")


def observer(on_update: OnUpdate | None) -> Observe | None:
    """The record observer that reports each change to `on_update` (None: no observer)."""
    if on_update is None:
        return None
    check_on_update(on_update)
    tracker = StepTracker()

    def observe(task: Task) -> Awaitable[object] | None:
        update = tracker.observe(task)
        if update is None:
            return None
        result = on_update(update)
        return result if result is not None and inspect.isawaitable(result) else None

    return observe


class RecordSource(Protocol):
    """Where a task's records come from: the one seam behind `watch` and ``on_update``."""

    async def follow(
        self,
        task_id: str,
        settings: PollSettings,
        observe: Observe | None,
        *,
        first: Task | None = None,
    ) -> Task:
        """Pass every record of `task_id` to `observe` until it is terminal; return that record.

        `observe` may be None (nobody watches). `first` is a record the caller
        already has (a submission's answer): it is observed first, and the
        source goes on from there. Raises `TaskTimeoutError` after
        ``settings.timeout`` seconds, or the API error that makes following
        pointless; a failed or cancelled task is returned.
        """


@attrs.frozen
class PollingSource:
    """The `RecordSource` of today: the polls `tasks.wait` makes, on its schedule.

    Without `first` it starts with one GET; every successful poll is observed.
    """

    fetch: FetchTask

    async def follow(
        self,
        task_id: str,
        settings: PollSettings,
        observe: Observe | None,
        *,
        first: Task | None = None,
    ) -> Task:
        """See `RecordSource.follow`."""
        # A submission's answer dates the task (its age is known to the schedule);
        # a task fetched by id is of unknown age.
        submitted = first is not None
        if first is None:
            first = await self.fetch(task_id)
        return await follow_task(
            self.fetch,
            first,
            schedule=settings.schedule,
            poll_timeout=settings.timeout,
            observe=observe,
            submitted=submitted,
        )


_DONE = object()


class _WatchState:
    """Everything the background task touches; `TaskWatch` wraps it so that it can be collected."""

    __slots__ = ("closed", "queue", "runner")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.runner: asyncio.Task[None] | None = None
        self.closed = False

    async def run(self, source: RecordSource, task_id: str, settings: PollSettings) -> None:
        tracker = StepTracker()
        queue = self.queue

        def observe(task: Task) -> None:
            update = tracker.observe(task)
            if update is not None:
                queue.put_nowait(update)

        try:
            await source.follow(task_id, settings, observe)
        except Exception as error:
            queue.put_nowait(error)
        else:
            queue.put_nowait(_DONE)


class TaskWatch:
    """The updates of one task, as `tasks.watch` returns them: iterate with ``async for``.

    The first update holds the first record seen; each later one a change of
    status or new steps; the last one the terminal record (completed, failed
    or cancelled: yielded, not raised). `TaskTimeoutError` after
    ``poll_timeout``; a definitive API error (404, 401, 403) is raised as
    `tasks.wait` raises it. Polling starts at the first ``__anext__`` and runs
    on the schedule of `tasks.wait`, whether or not you are reading: a slow
    reader delays nothing and misses nothing. Leaving the loop early stops the
    polling: at once with ``await it.aclose()`` or ``async with``, otherwise as
    soon as the iterator is dropped.
    """

    __slots__ = ("_settings", "_source", "_state", "_task_id")

    def __init__(self, source: RecordSource, task_id: str, settings: PollSettings) -> None:
        self._source = source
        self._task_id = task_id
        self._settings = settings
        self._state = _WatchState()

    def __aiter__(self) -> TaskWatch:
        return self

    async def __anext__(self) -> TaskUpdate:
        state = self._state
        if state.closed:
            raise StopAsyncIteration
        if state.runner is None:
            state.runner = asyncio.get_running_loop().create_task(
                state.run(self._source, self._task_id, self._settings)
            )
        item = await state.queue.get()
        if isinstance(item, TaskUpdate):
            return item
        state.closed = True
        await state.runner  # finished: it put its last item
        if isinstance(item, BaseException):
            raise item
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop polling now and wait until the background task has ended. Idempotent."""
        state = self._state
        state.closed = True
        runner, state.runner = state.runner, None
        if runner is not None and not runner.done():
            runner.cancel()
            # Shielded, like `RunMany.aclose`: under an already-cancelled scope
            # the wait would otherwise end before the runner has unwound.
            with anyio.CancelScope(shield=True):
                await asyncio.wait([runner])

    async def __aenter__(self) -> TaskWatch:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        runner = getattr(getattr(self, "_state", None), "runner", None)
        if runner is not None and not runner.done():
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                runner.get_loop().call_soon_threadsafe(runner.cancel)
