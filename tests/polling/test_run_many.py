"""tasks.run_many: completion order, lazy input, errors as outcomes, clean break-out, scale."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from stablebrowse_async import (
    AmbiguousRequestError,
    AsyncClient,
    PollSchedule,
    Progress,
    TaskFailedError,
    TaskOutcome,
    TaskRequest,
    TaskStatus,
    TaskTimeoutError,
)
from stablebrowse_async.testing import Emulator, Fault

pytestmark = pytest.mark.anyio


def _other_tasks() -> set[asyncio.Task[Any]]:
    """The SDK's own background tasks (the in-process emulator's connection tasks are not ours)."""
    return {
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task() and "_Batch" in getattr(t.get_coro(), "__qualname__", "")
    }


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_outcomes_arrive_in_completion_order_with_their_index(client: AsyncClient) -> None:
    requests = [
        {"end_user_id": "a", "task": "slow [[duration=0.5]]"},
        TaskRequest(end_user_id="a", task="fast [[duration=0.05]]"),
        {"end_user_id": "a", "task": "medium [[duration=0.25]]"},
    ]
    outcomes = [o async for o in client.tasks.run_many(requests)]
    assert [o.index for o in outcomes] == [1, 2, 0]
    assert all(o.ok and o.task is not None for o in outcomes)
    assert outcomes[0].request == TaskRequest(end_user_id="a", task="fast [[duration=0.05]]")
    assert outcomes[0].unwrap().task == "fast [[duration=0.05]]"


async def test_errors_are_outcomes_and_never_stop_the_others(
    client: AsyncClient, emu: Emulator
) -> None:
    requests: list[Any] = [
        {"end_user_id": "a", "task": "ok"},
        {"end_user_id": "a", "task": "bad [[fail]]"},
        {"end_user_id": "", "task": "invalid"},
        {"end_user_id": "a", "task": "typo", "sesion_id": "s"},
        {"end_user_id": "a", "task": "slow [[duration=30]]"},
        {"end_user_id": "a", "task": "fine too"},
    ]
    outcomes = {o.index: o async for o in client.tasks.run_many(requests, poll_timeout=0.8)}
    assert sorted(outcomes) == list(range(6))
    assert outcomes[0].ok and outcomes[5].ok
    assert isinstance(outcomes[1].error, TaskFailedError)
    assert isinstance(outcomes[2].error, ValueError)
    assert isinstance(outcomes[3].error, TypeError) and "sesion_id" in str(outcomes[3].error)
    assert isinstance(outcomes[4].error, TaskTimeoutError)
    # the timeout reports the newest record polled (running), not the submission's
    assert outcomes[4].error.task.status is TaskStatus.RUNNING
    assert outcomes[4].error.task.updated_at is not None
    with pytest.raises(TaskFailedError):
        outcomes[1].unwrap()
    assert emu.tasks_created() == 4


async def test_input_is_consumed_lazily(client: AsyncClient) -> None:
    pulled = 0

    def endless() -> Iterator[dict[str, str]]:
        nonlocal pulled
        while True:
            pulled += 1
            yield {"end_user_id": "a", "task": f"t{pulled}"}

    received = 0
    async with client.tasks.run_many(endless(), max_in_flight=5) as outcomes:
        async for _ in outcomes:
            received += 1
            if received == 10:
                break
    assert pulled <= 10 + 5 + 1


async def test_async_iterables_are_accepted(client: AsyncClient) -> None:
    async def source() -> AsyncIterator[dict[str, str]]:
        for i in range(5):
            await asyncio.sleep(0)
            yield {"end_user_id": "a", "task": f"t{i}"}

    outcomes = [o async for o in client.tasks.run_many(source())]
    assert sorted(o.index for o in outcomes) == list(range(5))


async def test_a_failing_input_is_raised_after_in_flight_outcomes(client: AsyncClient) -> None:
    def broken() -> Iterator[dict[str, str]]:
        yield {"end_user_id": "a", "task": "one"}
        yield {"end_user_id": "a", "task": "two"}
        raise OSError("disk went away")

    seen: list[TaskOutcome] = []
    with pytest.raises(OSError, match="disk went away"):
        async for outcome in client.tasks.run_many(broken()):
            seen.append(outcome)
    assert sorted(o.index for o in seen) == [0, 1]


async def test_progress_reports_every_change(client: AsyncClient) -> None:
    reports: list[Progress] = []
    requests = [{"end_user_id": "a", "task": f"t{i}"} for i in range(4)]
    requests.append({"end_user_id": "a", "task": "boom [[fail]]"})
    async for _ in client.tasks.run_many(requests, on_progress=reports.append):
        pass
    final = reports[-1]
    assert (final.submitted, final.completed, final.failed, final.in_flight) == (5, 4, 1, 0)
    assert final.done == 5 and final.started == 5
    assert max(r.in_flight for r in reports) >= 1


async def test_breaking_out_cancels_polling_cleanly(client: AsyncClient, emu: Emulator) -> None:
    requests = [{"end_user_id": "a", "task": f"t{i} [[duration=0.05]]"} for i in range(3)]
    requests += [{"end_user_id": "a", "task": f"long{i} [[duration=60]]"} for i in range(20)]
    before = _other_tasks()
    async for _ in client.tasks.run_many(requests):
        break
    gc.collect()
    await _settle()
    assert _other_tasks() <= before
    polls = len(emu.requests)
    await asyncio.sleep(0.2)
    assert len(emu.requests) == polls, "no request after the loop was left"
    assert await client.tasks.list() is not None


async def test_aclose_stops_at_once(client: AsyncClient) -> None:
    requests = [{"end_user_id": "a", "task": f"long{i} [[duration=60]]"} for i in range(10)]
    before = _other_tasks()
    run = client.tasks.run_many(requests)
    consumer = asyncio.ensure_future(run.__anext__())
    await asyncio.sleep(0.2)
    consumer.cancel()
    await run.aclose()
    assert _other_tasks() - before <= {consumer}
    await _settle()
    assert _other_tasks() <= before


async def test_cancelling_the_consumer_cancels_the_batch(client: AsyncClient) -> None:
    requests = [{"end_user_id": "a", "task": f"long{i} [[duration=60]]"} for i in range(10)]
    before = _other_tasks()

    async def consume() -> None:
        async with client.tasks.run_many(requests) as outcomes:
            async for _ in outcomes:
                pass

    job = asyncio.ensure_future(consume())
    await asyncio.sleep(0.2)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    await _settle()
    assert _other_tasks() <= before


async def test_bad_arguments_are_refused_at_once(client: AsyncClient) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        client.tasks.run_many([], concurrency=0)
    with pytest.raises(ValueError, match="max_in_flight"):
        client.tasks.run_many([], max_in_flight=0)
    with pytest.raises(TypeError, match="iterable"):
        client.tasks.run_many(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="poll_timeout"):
        client.tasks.run_many([], poll_timeout=-1)
    assert [o async for o in client.tasks.run_many([])] == []


async def test_shared_backoff_slows_every_poller_then_recovers(emu: Emulator) -> None:
    emu.faults.append(Fault("rate_limit", route="GET /v1/tasks/{taskId}", retry_after=1, times=1))
    polls = PollSchedule(first=0.02, max_interval=0.05)
    async with AsyncClient(
        emu.api_key, base_url=emu.url, poll_interval=polls, max_retries=0
    ) as client:
        requests = [{"end_user_id": "a", "task": f"t{i} [[duration=0.3]]"} for i in range(20)]
        outcomes = [o async for o in client.tasks.run_many(requests)]
    assert all(o.ok for o in outcomes)
    limited = next(r for r in emu.requests if r.method == "GET" and r.path.startswith("/v1/tasks/"))
    later_gets = [
        r.received_at - limited.received_at
        for r in emu.requests
        if r.method == "GET" and r.received_at > limited.received_at
    ]
    assert later_gets, "polling resumed"
    # Polls already on the wire when the 429 was answered may land just after it;
    # after that, nobody polls until Retry-After has passed.
    assert not [t for t in later_gets if 0.15 < t < 0.9], "every poller waited out Retry-After"


async def test_ambiguous_submission_is_an_outcome_not_a_duplicate(
    client: AsyncClient, emu: Emulator
) -> None:
    emu.faults.append(Fault("reset_after", route="POST /v1/tasks", times=1))
    requests = [{"end_user_id": "a", "task": f"t{i}"} for i in range(3)]
    outcomes = [o async for o in client.tasks.run_many(requests, concurrency=1)]
    ambiguous = [o for o in outcomes if isinstance(o.error, AmbiguousRequestError)]
    assert len(ambiguous) == 1
    assert emu.tasks_created() == 3
    assert sum(1 for r in emu.requests if r.method == "POST") == 3


async def test_two_thousand_tasks_with_faults_one_outcome_and_one_task_each() -> None:
    faults = [
        Fault("status", status=503, route="GET /v1/tasks/{taskId}", rate=0.05),
        Fault("html", status=502, route="GET /v1/tasks/{taskId}", rate=0.02),
        Fault("reset_before", route="GET /v1/tasks/{taskId}", rate=0.02),
        Fault("truncated", route="GET /v1/tasks/{taskId}", rate=0.01),
        Fault("rate_limit", route="POST /v1/tasks", rate=0.03, retry_after=0),
    ]
    async with Emulator(durations=(0.05, 0.4), seed=11, faults=faults) as emu:
        polls = PollSchedule(first=0.05, max_interval=0.2)
        async with AsyncClient(
            emu.api_key, base_url=emu.url, poll_interval=polls, max_retries=5
        ) as client:
            requests = [{"end_user_id": f"u{i % 50}", "task": f"task {i}"} for i in range(2000)]
            outcomes = [o async for o in client.tasks.run_many(requests, concurrency=64)]
        assert sorted(o.index for o in outcomes) == list(range(2000))
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok][:3]
        assert len({o.unwrap().task_id for o in outcomes}) == 2000
        assert all(o.unwrap().task == f"task {o.index}" for o in outcomes)
        assert emu.tasks_created() == 2000


async def test_return_exceptions_false_raises_the_first_error(client: AsyncClient) -> None:
    requests = [{"end_user_id": "a", "task": "boom [[fail]] [[duration=0.05]]"}]
    requests += [{"end_user_id": "a", "task": f"long{i} [[duration=60]]"} for i in range(5)]
    before = _other_tasks()
    with pytest.raises(TaskFailedError):
        async for _ in client.tasks.run_many(requests, return_exceptions=False):
            pass
    await _settle()
    assert _other_tasks() <= before


async def test_on_submitted_reports_each_accepted_request_once_before_its_outcome(
    client: AsyncClient, emu: Emulator
) -> None:
    emu.faults.append(Fault("reset_after", route="POST /v1/tasks", times=1))
    requests: list[Any] = [{"end_user_id": "a", "task": f"t{i}"} for i in range(5)]
    requests.append({"end_user_id": "", "task": "invalid"})
    journal: dict[int, str] = {}
    seen_before_outcome: set[int] = set()

    def on_submitted(index: int, task: Any) -> None:
        assert index not in journal
        journal[index] = task.task_id

    outcomes = []
    async for outcome in client.tasks.run_many(requests, concurrency=1, on_submitted=on_submitted):
        if outcome.index in journal:
            seen_before_outcome.add(outcome.index)
        outcomes.append(outcome)
    accepted = {o.index: o.task.task_id for o in outcomes if o.task is not None}
    assert len(journal) == 4  # five submitted, one ambiguous (not reported), one invalid
    assert {i: journal[i] for i in accepted} == accepted
    assert seen_before_outcome == set(journal)
    assert 5 not in journal


async def test_a_journal_of_submitted_ids_finishes_a_killed_batch_without_resubmitting(
    client: AsyncClient, emu: Emulator
) -> None:
    requests = [{"end_user_id": "a", "task": f"t{i} [[duration=0.3]]"} for i in range(6)]
    journal: dict[int, str] = {}
    batch = client.tasks.run_many(
        requests, on_submitted=lambda index, task: journal.setdefault(index, task.task_id)
    )
    async with batch:
        async for _ in batch:
            break  # the "crash": the first outcome arrives, the rest are abandoned
    assert len(journal) == 6
    created = emu.tasks_created()
    finished = [await client.tasks.wait(task_id) for task_id in journal.values()]
    assert all(task.status is TaskStatus.COMPLETED for task in finished)
    assert emu.tasks_created() == created == 6


async def test_a_due_poll_goes_before_the_next_submission(emu: Emulator) -> None:
    # One connection slot and slow submissions: the feeder is always waiting for
    # the slot. A finished task's poll must not queue behind the rest of the batch.
    emu.faults.append(Fault("delay", delay=0.15, route="POST /v1/tasks"))
    schedule = PollSchedule(first=0.05, factor=1.0, max_interval=0.05, jitter=0.0)
    requests = [{"end_user_id": "u", "task": f"quick {n} [[duration=0]]"} for n in range(4)]
    async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=schedule) as client:
        outcomes = [o async for o in client.tasks.run_many(requests, concurrency=1)]
    assert all(o.task is not None and o.task.status is TaskStatus.COMPLETED for o in outcomes)
    order = [(r.method, r.json.get("task") if r.method == "POST" else None) for r in emu.requests]
    posts = [i for i, (method, _) in enumerate(order) if method == "POST"]
    first_get = next(i for i, (method, _) in enumerate(order) if method == "GET")
    # The first task's poll is due while the second is being submitted: it goes
    # next, ahead of the third submission that was waiting longer.
    assert posts[1] < first_get < posts[2], order
