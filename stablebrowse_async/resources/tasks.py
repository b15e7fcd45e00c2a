"""`client.tasks`: submit, read, list, wait for, run, and run many tasks."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import Any

from .._http import encode_segment, route
from .._polling import Progress, RunMany, wait_for_task
from .._response import RawResponses, raw_method
from .._schedule import AdaptiveSchedule, PollSchedule
from .._tracing import task_span
from ..types import SessionSummary, Task, TaskRequest
from ._base import Resource

MAX_LIST_LIMIT = 100


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

    async def wait(
        self,
        task_id: str,
        *,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None = None,
        poll_timeout: float | None = None,
    ) -> Task:
        """Poll an existing task until it ends (for example to resume after a restart).

        Returns the completed record. Raises `TaskFailedError` (failed or
        cancelled), `TaskTimeoutError` after `poll_timeout` seconds (it holds
        the last record), or the API error that made waiting pointless (404,
        401, 403). Transient poll failures are retried until the timeout.
        """
        encode_segment(task_id, "task_id")
        polling = self._client._polling.resolve(poll_interval, poll_timeout)
        with task_span(self.get) as watch:
            first = await watch.fetch(task_id)
            return await wait_for_task(
                watch.fetch,
                first,
                schedule=polling.schedule,
                poll_timeout=polling.timeout,
                submitted=False,
            )

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
    ) -> Task:
        """Submit a task and poll until it ends; returns the completed record.

        Raises like `submit` and `wait`: `TaskFailedError`, `TaskTimeoutError`
        (resume with ``tasks.wait(err.task.task_id)``), or an API error.
        """
        polling = self._client._polling.resolve(poll_interval, poll_timeout)
        with task_span(self.get) as watch:
            submitted = await self.submit(
                end_user_id=end_user_id,
                task=task,
                session_id=session_id,
                start_url=start_url,
                schema=schema,
                max_steps=max_steps,
                include_html_dump=include_html_dump,
            )
            watch.seen(submitted)
            return await wait_for_task(
                watch.fetch, submitted, schedule=polling.schedule, poll_timeout=polling.timeout
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
    ) -> RunMany:
        """Run many tasks; iterate the result for one `TaskOutcome` per request, as each ends.

        `requests` may be a list, any iterable or an async iterable of
        `TaskRequest` or dicts with `submit`'s keyword names; it is read
        lazily. `concurrency` bounds the HTTP requests in flight (submissions
        and polls together); `max_in_flight` bounds tasks submitted but not yet
        handed to you. An error of one task (invalid request, failed task,
        timeout, ambiguous submission) is its outcome and never stops the
        others, unless `return_exceptions` is False: then the first error is
        raised and the batch stops. `on_progress` receives a `Progress` after
        every change. `on_submitted` receives ``(index, task)`` as soon as the
        API accepts a request, before its first poll: journal ``task.task_id``
        there, and a batch that is killed can later be finished with
        `tasks.wait` instead of submitting (and paying for) its tasks again.
        Both callbacks run on the event loop and must not block; an exception
        they raise stops the batch and reaches the consumer.
        """
        polling = self._client._polling.resolve(poll_interval, poll_timeout)
        return RunMany(
            requests,
            submit=self.submit_request,
            fetch=self.get,
            schedule=polling.schedule,
            poll_timeout=polling.timeout,
            concurrency=concurrency,
            connection_limit=self._client._pool.limit,
            max_in_flight=max_in_flight,
            on_progress=on_progress,
            on_submitted=on_submitted,
            return_exceptions=return_exceptions,
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
