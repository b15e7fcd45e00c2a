"""`client.tasks`: submit, read, list, wait for, run, and run many tasks."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import Any

from .._http import encode_segment
from .._polling import Progress, RunMany, wait_for_task
from .._schedule import AdaptiveSchedule, PollSchedule, coerce_schedule
from ..errors import APIResponseValidationError
from ..types import SessionSummary, Task, TaskRequest
from ._base import Resource, field, parse, parse_created

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
        data = await self._transport.request(
            "POST", "/tasks", body=request.to_wire(), context=request
        )
        if isinstance(data, dict):
            data = {
                "status": "pending",
                "task": request.task,
                "endUserId": request.end_user_id,
                **data,
            }
        return parse_created(data, Task, "POST", "/tasks", request)

    async def get(self, task_id: str) -> Task:
        """Fetch the current record of a task. `NotFoundError` if unknown to your business."""
        path = "/tasks/" + encode_segment(task_id, "task_id")
        data = await self._transport.request("GET", path)
        return parse(data, Task, "GET", path)

    async def list(self, *, limit: int = 50) -> builtins.list[SessionSummary]:
        """Summaries of your sessions, newest first (at most `limit`, 1 to 100)."""
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"limit must be an int, got {type(limit).__name__}")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
        data = await self._transport.request("GET", "/tasks", params={"limit": str(limit)})
        sessions = field(data, "sessions")
        if not isinstance(sessions, builtins.list):
            raise APIResponseValidationError(
                "GET /tasks: answer has no 'sessions' list", body=data, method="GET", path="/tasks"
            )
        return [parse(item, SessionSummary, "GET", "/tasks") for item in sessions]

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
        schedule, timeout = self._poll_settings(poll_interval, poll_timeout)
        first = await self.get(task_id)
        return await wait_for_task(
            self.get, first, schedule=schedule, poll_timeout=timeout, submitted=False
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
        schedule, timeout = self._poll_settings(poll_interval, poll_timeout)
        submitted = await self.submit(
            end_user_id=end_user_id,
            task=task,
            session_id=session_id,
            start_url=start_url,
            schema=schema,
            max_steps=max_steps,
            include_html_dump=include_html_dump,
        )
        return await wait_for_task(self.get, submitted, schedule=schedule, poll_timeout=timeout)

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
        schedule, timeout = self._poll_settings(poll_interval, poll_timeout)
        return RunMany(
            requests,
            submit=self.submit_request,
            fetch=self.get,
            schedule=schedule,
            poll_timeout=timeout,
            concurrency=concurrency,
            connection_limit=self._client._pool.limit,
            max_in_flight=max_in_flight,
            on_progress=on_progress,
            on_submitted=on_submitted,
            return_exceptions=return_exceptions,
        )

    def _poll_settings(
        self,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None,
        poll_timeout: float | None,
    ) -> tuple[PollSchedule | AdaptiveSchedule, float]:
        schedule = (
            self._client.poll_schedule if poll_interval is None else coerce_schedule(poll_interval)
        )
        timeout = self._client.poll_timeout if poll_timeout is None else poll_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"poll_timeout must be a number, got {type(timeout).__name__}")
        if not timeout > 0:
            raise ValueError(f"poll_timeout must be > 0, got {timeout!r}")
        return schedule, float(timeout)
