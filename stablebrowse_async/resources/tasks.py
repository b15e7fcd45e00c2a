"""`client.tasks`: submit, read, list, wait for, run, and run many tasks."""

from __future__ import annotations

import builtins
import functools
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import Any

from .._http import encode_segment, route
from .._polling import FetchTask, PollSettings, Progress, RunMany, SubmitFn, final_result
from .._response import RawResponses, raw_method
from .._schedule import AdaptiveSchedule, PollSchedule
from .._tracing import task_span
from .._watch import (
    PollingSource,
    RecordSource,
    TaskUpdate,
    TaskWatch,
    check_on_update,
    observer,
)
from ..types import SessionSummary, Task, TaskRequest
from ._base import Resource

MAX_LIST_LIMIT = 100


def _task_id(value: object) -> str:
    encode_segment(value, "task_ids item")
    assert isinstance(value, str)
    return value


class Tasks(Resource):
    """The task endpoints, plus the pollers built on them."""

    __slots__ = ()

    async def submit(
        self,
        *,
        end_user_id: str,
        task: str,
        session_id: str | None = None,
        start_url: str | None = None,
        schema: Mapping[str, Any] | None = None,
        max_steps: int | None = None,
        include_html_dump: bool | None = None,
    ) -> Task:
        """Submit a task; returns at once with the ``pending`` record.

        Arguments are validated before any request (`ValueError`/`TypeError`
        naming the argument). The POST is retried only where the server
        provably did not act (429, or no connection); if the answer is lost
        after sending, `AmbiguousRequestError` says the task may exist.
        """
        request = TaskRequest(
            end_user_id=end_user_id,
            task=task,
            session_id=session_id,
            start_url=start_url,
            schema=schema,
            max_steps=max_steps,
            include_html_dump=include_html_dump,
        )
        return await self.submit_request(request)

    async def submit_request(self, request: TaskRequest) -> Task:
        """Submit an already-built `TaskRequest` (what `run_many` does for each item)."""
        # The API answers with the id only; the rest of the pending record is known.
        fill = {"status": "pending", "task": request.task, "endUserId": request.end_user_id}
        return await self._transport.call(
            "POST", "/tasks", Task, body=request.to_wire(), fill=fill, request=request
        )

    async def get(self, task_id: str) -> Task:
        """Fetch the current record of a task. `NotFoundError` if unknown to your business."""
        return await self._transport.call("GET", route("/tasks/{taskId}", task_id=task_id), Task)

    async def list(self, *, limit: int = 50) -> builtins.list[SessionSummary]:
        """Summaries of your sessions, newest first (at most `limit`, 1 to 100)."""
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"limit must be an int, got {type(limit).__name__}")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
        return await self._transport.call(
            "GET", "/tasks", SessionSummary, envelope="sessions", params={"limit": str(limit)}
        )

    def _source(self, fetch: FetchTask | None = None) -> RecordSource:
        """Where `watch` and ``on_update`` get records: the one seam (see `_watch.py`).

        `fetch` defaults to `get`; a traced wait passes its counting wrapper.
        """
        return PollingSource(self.get if fetch is None else fetch)

    async def _follow(
        self,
        polling: PollSettings,
        on_update: Callable[[TaskUpdate], object] | None,
        *,
        task_id: str = "",
        submit: Callable[[], Awaitable[Task]] | None = None,
    ) -> Task:
        """Wait for a task in a ``stablebrowse.task`` span (`wait`, `run`, `design.run`).

        Either `task_id` (an existing task: its first record is fetched) or
        `submit`, which creates the task inside the span: its answer is the
        first record, and it dates the task for the poll schedule.
        """
        with task_span(self.get) as trace:
            first = None
            if submit is not None:
                first = await submit()
                trace.seen(first)
                task_id = first.task_id
            last = await self._source(trace.fetch).follow(
                task_id, polling, observer(on_update), first=first
            )
            return final_result(last)

    async def wait(
        self,
        task_id: str,
        *,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None = None,
        poll_timeout: float | None = None,
        on_update: Callable[[TaskUpdate], object] | None = None,
    ) -> Task:
        """Poll an existing task until it ends (for example to resume after a restart).

        Returns the completed record. Raises `TaskFailedError` (failed or
        cancelled), `TaskTimeoutError` after `poll_timeout` seconds (it holds
        the last record), or the API error that made waiting pointless (404,
        401, 403). Transient poll failures are retried until the timeout.

        `on_update` (a function, or an async function, which is awaited) is
        called with a `TaskUpdate` for the first record and for every change
        seen after it (status, new steps), from the same polls: it costs no
        request. If it raises, the wait stops and raises that exception.
        """
        encode_segment(task_id, "task_id")
        check_on_update(on_update)
        polling = self._client._polling.resolve(poll_interval, poll_timeout)
        return await self._follow(polling, on_update, task_id=task_id)

    def watch(
        self,
        task_id: str,
        *,
        poll_timeout: float | None = None,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None = None,
    ) -> TaskWatch:
        """Follow a task as it works: an async iterator of `TaskUpdate`, one per change.

        The first update holds the first record seen; each later one a change
        of status or the steps that appeared (each step in exactly one update,
        in order, however the server resends, drops or reorders its list); the
        last one the terminal record: completed, failed and cancelled are
        yielded, not raised. `TaskTimeoutError` after `poll_timeout`; the API
        error that makes waiting pointless (404, 401, 403) is raised as by
        `wait`. It makes exactly the polls `wait` would make. Leaving the loop
        early stops the polling: at once when the iterator is used as a
        context manager (or closed), otherwise as soon as it is dropped.
        """
        encode_segment(task_id, "task_id")
        polling = self._client._polling.resolve(poll_interval, poll_timeout)
        return TaskWatch(self._source(), task_id, polling)

    def stream(
        self,
        task_id: str,
        *,
        poll_timeout: float | None = None,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None = None,
    ) -> TaskWatch:
        """The same as `watch` (the name the official SDK keeps for the API's planned push route).

        Today it polls like `watch`; when ``GET /v1/tasks/{taskId}/stream``
        exists it can feed the same updates without a change here.
        """
        return self.watch(task_id, poll_timeout=poll_timeout, poll_interval=poll_interval)

    async def run(
        self,
        *,
        end_user_id: str,
        task: str,
        session_id: str | None = None,
        start_url: str | None = None,
        schema: Mapping[str, Any] | None = None,
        max_steps: int | None = None,
        include_html_dump: bool | None = None,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None = None,
        poll_timeout: float | None = None,
        on_update: Callable[[TaskUpdate], object] | None = None,
    ) -> Task:
        """Submit a task and poll until it ends; returns the completed record.

        Raises like `submit` and `wait`: `TaskFailedError`, `TaskTimeoutError`
        (resume with ``tasks.wait(err.task.task_id)``), or an API error.
        `on_update` is called as by `wait`, first with the submitted record.
        """
        check_on_update(on_update)
        polling = self._client._polling.resolve(poll_interval, poll_timeout)
        return await self._follow(
            polling,
            on_update,
            submit=lambda: self.submit(
                end_user_id=end_user_id,
                task=task,
                session_id=session_id,
                start_url=start_url,
                schema=schema,
                max_steps=max_steps,
                include_html_dump=include_html_dump,
            ),
        )

    def run_many(
        self,
        requests: Iterable[TaskRequest | Mapping[str, Any]]
        | AsyncIterable[TaskRequest | Mapping[str, Any]],
        *,
        concurrency: int = 64,
        max_in_flight: int = 10_000,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None = None,
        poll_timeout: float | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_submitted: Callable[[int, Task], None] | None = None,
        return_exceptions: bool = True,
        on_update: Callable[[int, TaskUpdate], object] | None = None,
        submit_rate: float | None = None,
    ) -> RunMany:
        """Run many tasks; iterate the result for one `TaskOutcome` per request, as each ends.

        `requests` may be a list, any iterable or an async iterable of
        `TaskRequest` or dicts with `submit`'s keyword names; it is read
        lazily. `concurrency` bounds the HTTP requests in flight (submissions
        and polls together); `max_in_flight` bounds tasks submitted but not yet
        handed to you; `submit_rate`, when given, spaces submissions evenly at
        at most that many per second (see the README, "Very large batches on
        one machine": a client that submits faster than it can poll detects
        completions late). An error of one task (invalid request, failed task,
        timeout, ambiguous submission) is its outcome and never stops the
        others, unless `return_exceptions` is False: then the first error is
        raised and the batch stops. `on_progress` receives a `Progress` after
        every change. `on_submitted` receives ``(index, task)`` as soon as the
        API accepts a request, before its first poll: journal ``task.task_id``
        there, and a batch that is killed can later be finished with
        `tasks.wait` instead of submitting (and paying for) its tasks again.
        Both callbacks run on the event loop and must not block; an exception
        they raise stops the batch and reaches the consumer. `on_update`
        receives ``(index, update)`` for each `TaskUpdate` of the task at
        ``index`` (as `wait`'s ``on_update``, from the same polls); it may be
        async (it is awaited), and an exception it raises becomes that task's
        outcome, never the batch's.
        """
        return self._fan_out(
            requests,
            submit=self.submit_request,
            concurrency=concurrency,
            poll_interval=poll_interval,
            poll_timeout=poll_timeout,
            on_update=on_update,
            max_in_flight=max_in_flight,
            submit_rate=submit_rate,
            on_progress=on_progress,
            on_submitted=on_submitted,
            return_exceptions=return_exceptions,
        )

    def wait_many(
        self,
        task_ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = 64,
        poll_timeout: float | None = None,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None = None,
        on_update: Callable[[int, TaskUpdate], object] | None = None,
    ) -> RunMany:
        """`run_many` for tasks already submitted: one `TaskOutcome` per id, as each ends.

        Outcomes come in completion order; ``index`` is the id's position in
        `task_ids` and ``request`` is None. Each task is waited for as by
        `wait` (a first GET, then polls on the same schedule), on the fan-out
        engine of `run_many`: no coroutine per task. An id that is not a valid
        one, a 404, a failed task or a timeout is that id's outcome. `on_update`
        is as for `run_many`.
        """
        if isinstance(task_ids, str):
            raise TypeError("task_ids must be an iterable of ids, not a single str")
        return self._fan_out(
            task_ids,
            submit=self.get,
            concurrency=concurrency,
            poll_interval=poll_interval,
            poll_timeout=poll_timeout,
            on_update=on_update,
            coerce=_task_id,
            keep_requests=False,
        )

    def _fan_out(
        self,
        items: Iterable[Any] | AsyncIterable[Any],
        *,
        submit: SubmitFn,
        concurrency: int,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None,
        poll_timeout: float | None,
        on_update: Callable[[int, TaskUpdate], object] | None,
        **options: Any,
    ) -> RunMany:
        """The fan-out engine of `run_many` and `wait_many` on this client's pool and schedule."""
        check_on_update(on_update)
        polling = self._client._polling.resolve(poll_interval, poll_timeout)
        return RunMany(
            items,
            submit=submit,
            fetch=self.get,
            schedule=polling.schedule,
            poll_timeout=polling.timeout,
            concurrency=concurrency,
            connection_limit=self._client._pool.limit,
            observe=_indexed_observers(on_update),
            **options,
        )

    @property
    def with_raw_response(self) -> TasksWithRawResponse:
        """The endpoints returning `RawResponse` (status, headers, request id) around the result.

        The pollers (`wait`, `run`, `run_many`) make many requests and have no raw
        variant: use ``with_raw_response.get`` to see one poll's answer.
        """
        return TasksWithRawResponse(self)


class TasksWithRawResponse(RawResponses[Tasks]):
    """`Tasks`' endpoints, each returning a `RawResponse` around its result."""

    __slots__ = ()

    submit = raw_method(Tasks.submit)
    submit_request = raw_method(Tasks.submit_request)
    get = raw_method(Tasks.get)
    list = raw_method(Tasks.list)


def _indexed_observers(
    on_update: Callable[[int, TaskUpdate], object] | None,
) -> Callable[[int], Callable[[Task], Any]] | None:
    """For the fan-out engine: the observer of the task at each index, reporting to `on_update`."""
    if on_update is None:
        return None

    def make(index: int) -> Callable[[Task], Any]:
        made = observer(functools.partial(on_update, index))
        assert made is not None
        return made

    return make
