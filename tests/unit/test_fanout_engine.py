"""The run_many engine on its own, with in-memory submit/fetch callables (no HTTP involved)."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from stablebrowse_async import (
    APIConnectionError,
    NotFoundError,
    PollSchedule,
    Task,
    TaskFailedError,
    TaskRequest,
    TaskStatus,
    TaskTimeoutError,
)
from stablebrowse_async._polling import RunMany, _Slots, final_result, follow_task

pytestmark = pytest.mark.anyio

FAST = PollSchedule(first=0.01, factor=1.5, max_interval=0.03, jitter=0.0)


class FakeApi:
    """Tasks finish `duration` seconds after submission; statuses come from the task text."""

    def __init__(self, duration: float = 0.05) -> None:
        self.duration = duration
        self.created: dict[str, tuple[float, TaskRequest]] = {}
        self.ids = itertools.count()
        self.polls = 0
        self.fail_polls: set[str] = set()

    async def submit(self, request: TaskRequest) -> Task:
        await asyncio.sleep(0)
        task_id = f"t{next(self.ids)}"
        self.created[task_id] = (time.monotonic(), request)
        return Task(task_id=task_id, status=TaskStatus.PENDING, task=request.task)

    async def fetch(self, task_id: str) -> Task:
        self.polls += 1
        await asyncio.sleep(0)
        if task_id in self.fail_polls:
            self.fail_polls.discard(task_id)
            raise APIConnectionError("flaky")
        if task_id not in self.created:
            raise NotFoundError("gone", status_code=404)
        started, request = self.created[task_id]
        if time.monotonic() - started < self.duration:
            return Task(task_id=task_id, status=TaskStatus.RUNNING)
        status = "failed" if "fail" in request.task else "completed"
        return Task(
            task_id=task_id, status=TaskStatus(status), error="x" if status == "failed" else None
        )


def _engine(api: FakeApi, requests: Any, **kwargs: Any) -> RunMany:
    return RunMany(
        requests,
        submit=api.submit,
        fetch=api.fetch,
        schedule=FAST,
        poll_timeout=kwargs.pop("poll_timeout", 5.0),
        **kwargs,
    )


async def test_every_request_gets_exactly_one_outcome() -> None:
    api = FakeApi()
    requests = [
        {"end_user_id": "a", "task": f"t{i}{' fail' if i % 7 == 0 else ''}"} for i in range(300)
    ]
    outcomes = [o async for o in _engine(api, requests, concurrency=8)]
    assert sorted(o.index for o in outcomes) == list(range(300))
    assert len(api.created) == 300
    failed = [o for o in outcomes if isinstance(o.error, TaskFailedError)]
    assert len(failed) == len([i for i in range(300) if i % 7 == 0])


async def test_transient_poll_errors_are_retried() -> None:
    api = FakeApi(duration=0.0)
    api.fail_polls = {"t0", "t1"}
    outcomes = [o async for o in _engine(api, [{"end_user_id": "a", "task": "x"}] * 2)]
    assert all(o.ok for o in outcomes)


async def test_the_last_poll_happens_at_the_deadline() -> None:
    api = FakeApi(duration=10.0)
    started = time.monotonic()
    outcomes = [
        o async for o in _engine(api, [{"end_user_id": "a", "task": "x"}], poll_timeout=0.2)
    ]
    assert isinstance(outcomes[0].error, TaskTimeoutError)
    assert outcomes[0].error.task.status is TaskStatus.RUNNING
    assert 0.2 <= time.monotonic() - started < 2


async def test_definitive_errors_end_a_wait() -> None:
    api = FakeApi()

    async def vanish(task_id: str) -> Task:
        raise NotFoundError("gone", status_code=404)

    engine = RunMany(
        [{"end_user_id": "a", "task": "x"}],
        submit=api.submit,
        fetch=vanish,
        schedule=FAST,
        poll_timeout=5,
    )
    outcomes = [o async for o in engine]
    assert isinstance(outcomes[0].error, NotFoundError)


async def test_a_bug_in_a_callback_reaches_the_consumer() -> None:
    api = FakeApi()

    def explode(progress: object) -> None:
        raise RuntimeError("callback bug")

    with pytest.raises(Exception, match="callback bug") as info:
        async for _ in _engine(api, [{"end_user_id": "a", "task": "x"}], on_progress=explode):
            pass
    assert info.value is not None


async def test_a_wait_returns_at_once_for_a_finished_task() -> None:
    api = FakeApi()
    done = Task(task_id="t", status=TaskStatus.COMPLETED)
    assert await follow_task(api.fetch, done, schedule=FAST, poll_timeout=1) is done
    assert api.polls == 0


async def test_a_wait_keeps_going_through_transient_errors() -> None:
    api = FakeApi(duration=0.05)
    first = await api.submit(TaskRequest(end_user_id="a", task="x"))
    api.fail_polls = {first.task_id}
    done = final_result(await follow_task(api.fetch, first, schedule=FAST, poll_timeout=5))
    assert done.status is TaskStatus.COMPLETED


async def test_connection_slots_go_to_polls_first_and_survive_cancellation() -> None:
    slots = _Slots(1)
    await slots.acquire(poll=False)  # the one slot is taken
    order: list[str] = []

    async def take(name: str, *, poll: bool) -> None:
        await slots.acquire(poll=poll)
        order.append(name)

    submission = asyncio.ensure_future(take("submission", poll=False))
    await asyncio.sleep(0)
    doomed = asyncio.ensure_future(take("cancelled poll", poll=True))
    poll = asyncio.ensure_future(take("poll", poll=True))
    await asyncio.sleep(0)
    doomed.cancel()  # cancelled while waiting: it must not keep a place in the queue
    await asyncio.sleep(0)
    slots.release()
    await asyncio.sleep(0)
    assert order == ["poll"]  # the poll went first although the submission waited longer
    slots.release()
    await asyncio.wait([submission, poll, doomed])
    assert order == ["poll", "submission"] and doomed.cancelled()

    # A waiter granted a slot but cancelled before it ran hands the slot on.
    late = asyncio.ensure_future(take("late", poll=True))
    after = asyncio.ensure_future(take("after", poll=False))
    await asyncio.sleep(0)
    slots.release()  # granted to `late`...
    late.cancel()  # ...which is cancelled before it runs
    await asyncio.wait([late])
    await asyncio.wait_for(after, 1.0)
    assert order[-1] == "after"
    slots.release()
    await asyncio.wait_for(slots.acquire(poll=False), 1.0)  # one slot, free again
