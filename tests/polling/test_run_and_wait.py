"""tasks.run / tasks.wait / design.run: success, failure, timeout, resume, transient faults."""

from __future__ import annotations

import time

import pytest

from stablebrowse_async import (
    AsyncClient,
    NotFoundError,
    PollSchedule,
    TaskFailed,
    TaskFailedError,
    TaskStatus,
    TaskTimeout,
    TaskTimeoutError,
)
from stablebrowse_async.testing import Emulator, Fault, VirtualClock

from .conftest import FAST_POLLS

pytestmark = pytest.mark.anyio


async def test_run_returns_the_completed_task(client: AsyncClient) -> None:
    done = await client.tasks.run(end_user_id="alice", task="hello")
    assert done.status is TaskStatus.COMPLETED
    assert done.is_terminal
    assert done.result is not None


async def test_run_raises_task_failed_with_the_record(client: AsyncClient) -> None:
    with pytest.raises(TaskFailedError) as info:
        await client.tasks.run(end_user_id="alice", task="doomed [[fail]]")
    assert info.value.task.status is TaskStatus.FAILED
    assert info.value.task.error
    assert TaskFailed is TaskFailedError


async def test_cancelled_counts_as_failed(client: AsyncClient) -> None:
    with pytest.raises(TaskFailedError) as info:
        await client.tasks.run(end_user_id="alice", task="stop [[status=cancelled]]")
    assert info.value.task.status is TaskStatus.CANCELLED


async def test_unknown_states_keep_the_poller_waiting_until_timeout(client: AsyncClient) -> None:
    with pytest.raises(TaskTimeoutError) as info:
        await client.tasks.run(
            end_user_id="alice", task="odd [[status=paused_by_operator]]", poll_timeout=0.6
        )
    assert info.value.task.status == "paused_by_operator"


async def test_timeout_carries_the_last_record_and_wait_resumes() -> None:
    clock = VirtualClock()
    async with Emulator(clock=clock, durations=(100.0, 100.0)) as emu:
        async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS) as client:
            with pytest.raises(TaskTimeoutError) as info:
                await client.tasks.run(end_user_id="alice", task="slow", poll_timeout=0.3)
            last = info.value.task
            assert TaskTimeout is TaskTimeoutError
            assert last.status in {TaskStatus.PENDING, TaskStatus.RUNNING}
            assert last.task_id in str(info.value)
            clock.advance(200.0)
            done = await client.tasks.wait(last.task_id, poll_timeout=5)
            assert done.status is TaskStatus.COMPLETED
            assert emu.tasks_created() == 1


async def test_wait_on_an_unknown_task_fails_fast(client: AsyncClient) -> None:
    started = time.monotonic()
    with pytest.raises(NotFoundError):
        await client.tasks.wait("no-such-task", poll_timeout=30)
    assert time.monotonic() - started < 5


async def test_transient_poll_failures_never_fail_the_task(
    client: AsyncClient, emu: Emulator
) -> None:
    task = await client.tasks.submit(end_user_id="alice", task="x [[duration=0.3]]")
    emu.faults.extend(
        [
            Fault("status", status=503, route="GET /v1/tasks/{taskId}", rate=0.3),
            Fault("html", status=502, route="GET /v1/tasks/{taskId}", rate=0.2),
            Fault("truncated", route="GET /v1/tasks/{taskId}", rate=0.2),
            Fault("reset_before", route="GET /v1/tasks/{taskId}", rate=0.1),
        ]
    )
    done = await client.with_options(max_retries=0).tasks.wait(task.task_id, poll_timeout=20)
    assert done.status is TaskStatus.COMPLETED


async def test_design_run_returns_design_output(client: AsyncClient) -> None:
    done = await client.design.run(url="https://example.com", end_user_id="alice")
    assert done.design is not None


async def test_a_number_as_poll_interval_is_the_cap(emu: Emulator) -> None:
    schedule = PollSchedule.coerce(0.05)
    assert schedule.max_interval == 0.05 and schedule.first == 0.05
    async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=0.05) as client:
        done = await client.tasks.run(end_user_id="a", task="x")
        assert done.is_terminal


def test_schedule_grows_to_its_cap_with_bounded_jitter() -> None:
    schedule = PollSchedule(first=1.0, factor=2.0, max_interval=5.0, jitter=0.1)
    intervals = [schedule.interval(n) for n in range(6)]
    assert 0.9 <= intervals[0] <= 1.1
    assert 1.8 <= intervals[1] <= 2.2
    assert all(4.5 <= i <= 5.5 for i in intervals[3:])
    with pytest.raises(ValueError, match="factor"):
        PollSchedule(factor=0.5)
    with pytest.raises(ValueError, match="jitter"):
        PollSchedule(jitter=1.5)
    with pytest.raises(TypeError, match="first"):
        PollSchedule(first="1")  # type: ignore[arg-type]
