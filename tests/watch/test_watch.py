"""tasks.watch / tasks.stream against the emulator: updates, steps, ends, errors, request counts."""

from __future__ import annotations

import asyncio
import functools
import gc
import itertools
from typing import Any

import anyio
import pytest

from stablebrowse_async import (
    AsyncClient,
    NotFoundError,
    PollSchedule,
    TaskStatus,
    TaskTimeoutError,
    TaskUpdate,
    TaskWatch,
)
from stablebrowse_async.testing import Emulator

pytestmark = pytest.mark.anyio

#: No jitter: two pollers on the same schedule poll the same number of times.
STEADY = PollSchedule(first=0.05, factor=1.4, max_interval=0.15, jitter=0.0)


def steps_of(updates: list[TaskUpdate]) -> list[Any]:
    return [(s.n, s.msg) for u in updates for s in u.new_steps]


def whole(updates: list[TaskUpdate]) -> list[Any]:
    return [(s.n, s.msg) for s in updates[-1].task.step_summaries]


@pytest.mark.parametrize(
    "fault",
    [
        "",
        "[[steps_fault=drop:0.5]]",
        "[[steps_fault=shuffle]]",
        "[[steps_fault=truncate]]",
        "[[steps_fault=truncate:0.5]]",
    ],
)
async def test_watch_reports_every_step_once_in_order(client: AsyncClient, fault: str) -> None:
    task = await client.tasks.submit(
        end_user_id="alice", task=f"walk [[duration=0.8]] [[steps=12]] {fault}"
    )
    updates = [u async for u in client.tasks.watch(task.task_id, poll_interval=STEADY)]
    assert updates[-1].task.status is TaskStatus.COMPLETED
    assert len(whole(updates)) == 12
    assert steps_of(updates) == whole(updates)
    assert [s.n for s in updates[-1].task.step_summaries] == list(range(1, 13))
    statuses = [u.task.status for u in updates]
    assert statuses[0] is TaskStatus.PENDING and updates[0].previous_status is None
    assert all(u.previous_status == p.task.status for p, u in itertools.pairwise(updates))
    # One update per change: never two in a row with nothing new.
    assert all(u.new_steps or u.task.status != u.previous_status for u in updates)


@pytest.mark.parametrize("status", ["failed", "cancelled"])
async def test_a_failed_or_cancelled_task_is_the_last_update_not_an_error(
    client: AsyncClient, status: str
) -> None:
    directive = "[[fail]]" if status == "failed" else "[[status=cancelled]]"
    task = await client.tasks.submit(end_user_id="a", task=f"x {directive} [[duration=0.1]]")
    updates = [u async for u in client.tasks.stream(task.task_id)]
    assert updates[-1].task.status == status
    assert updates[-1].previous_status != status


async def test_unknown_status_is_a_change_and_the_timeout_raises(client: AsyncClient) -> None:
    task = await client.tasks.submit(
        end_user_id="a", task="odd [[status=reviewing]] [[duration=0.1]]"
    )
    seen: list[TaskUpdate] = []
    with pytest.raises(TaskTimeoutError) as info:
        async for update in client.tasks.watch(task.task_id, poll_timeout=0.6):
            seen.append(update)
    assert [str(u.task.status) for u in seen][-1] == "reviewing"
    assert not seen[-1].task.status.is_known
    assert sum(1 for u in seen if str(u.task.status) == "reviewing") == 1
    assert info.value.task.task_id == task.task_id


async def test_definitive_errors_raise_as_in_wait(client: AsyncClient) -> None:
    with pytest.raises(NotFoundError):
        async for _ in client.tasks.watch("no-such-task"):
            pass
    with pytest.raises(ValueError, match="task_id"):
        client.tasks.watch("..")
    with pytest.raises(ValueError, match="poll_timeout"):
        client.tasks.watch("t", poll_timeout=0)


async def test_watch_makes_the_polls_wait_makes(client: AsyncClient, emu: Emulator) -> None:
    durations = (0.3, 0.6, 1.0)
    for duration in durations:
        ids = [
            (await client.tasks.submit(end_user_id="a", task=f"t [[duration={duration}]]")).task_id
            for _ in range(2)
        ]
        emu.clear_requests()
        async with anyio.create_task_group() as group:
            group.start_soon(functools.partial(client.tasks.wait, ids[0], poll_interval=STEADY))
            group.start_soon(_drain, client.tasks.watch(ids[1], poll_interval=STEADY))
        gets = {i: sum(1 for r in emu.requests if r.path.endswith(i)) for i in ids}
        assert abs(gets[ids[0]] - gets[ids[1]]) <= 1, (duration, gets)
        assert all(r.method == "GET" for r in emu.requests)


async def _drain(watch: TaskWatch) -> None:
    async for _ in watch:
        await asyncio.sleep(0.02)  # a slow reader delays no poll


def _ours() -> list[asyncio.Task[Any]]:
    return [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task() and "_WatchState" in t.get_coro().__qualname__
    ]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.01)
    gc.collect()
    await asyncio.sleep(0.01)


def _connections_in_use(client: AsyncClient) -> int:
    connector = client.connector
    assert connector is not None
    return sum(len(v) for v in connector._acquired_per_host.values())


async def test_break_stops_the_polling_and_leaves_nothing(
    client: AsyncClient, emu: Emulator
) -> None:
    task = await client.tasks.submit(end_user_id="a", task="long [[duration=30]] [[steps=20]]")
    async for update in client.tasks.watch(task.task_id):
        assert update.task.task_id == task.task_id
        break
    await _settle()
    assert _ours() == []
    assert _connections_in_use(client) == 0
    before = len(emu.requests)
    await asyncio.sleep(0.3)
    assert len(emu.requests) == before  # no poll after the break


async def test_async_with_and_aclose_stop_at_once(client: AsyncClient, emu: Emulator) -> None:
    task = await client.tasks.submit(end_user_id="a", task="long [[duration=30]]")
    async with client.tasks.watch(task.task_id) as updates:
        first = await updates.__anext__()
        assert first.task.status is TaskStatus.PENDING
    assert _ours() == []
    assert [u async for u in updates] == []  # closed: nothing more
    await updates.aclose()  # idempotent


async def test_task_group_cancel_mid_stream_leaves_nothing(
    client: AsyncClient, emu: Emulator
) -> None:
    task = await client.tasks.submit(end_user_id="a", task="long [[duration=30]] [[steps=20]]")
    seen: list[TaskUpdate] = []

    async def follow() -> None:
        async with client.tasks.watch(task.task_id) as updates:
            async for update in updates:
                seen.append(update)

    async with anyio.create_task_group() as group:
        group.start_soon(follow)
        await asyncio.sleep(0.3)
        group.cancel_scope.cancel()
    assert seen
    await _settle()
    assert _ours() == []
    assert _connections_in_use(client) == 0
    before = len(emu.requests)
    await asyncio.sleep(0.2)
    assert len(emu.requests) == before


async def test_cancelled_outside_with_a_timeout_scope_then_dropped(client: AsyncClient) -> None:
    task = await client.tasks.submit(end_user_id="a", task="long [[duration=30]]")
    with anyio.move_on_after(0.2):
        async for _ in client.tasks.watch(task.task_id):
            pass
    await _settle()
    assert _ours() == []
    assert _connections_in_use(client) == 0
