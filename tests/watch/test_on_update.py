"""on_update of wait/run/design.run/run_many, and tasks.wait_many, against the emulator."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import defaultdict
from typing import Any

import pytest

from stablebrowse_async import (
    AsyncClient,
    NotFoundError,
    PollSchedule,
    TaskFailedError,
    TaskStatus,
    TaskUpdate,
)
from stablebrowse_async.testing import Emulator

from .test_watch import STEADY

pytestmark = pytest.mark.anyio


class Boom(Exception):
    """A callback's own failure."""


def check_steps(updates: list[TaskUpdate]) -> None:
    """Every step of the final record reported exactly once, in order; one update per change."""
    reported = [(s.n, s.msg) for u in updates for s in u.new_steps]
    assert reported == [(s.n, s.msg) for s in updates[-1].task.step_summaries]
    assert updates[0].previous_status is None
    assert all(u.previous_status == p.task.status for p, u in itertools.pairwise(updates))
    assert updates[-1].task.is_terminal


async def test_run_reports_the_submitted_record_then_each_change(
    client: AsyncClient, emu: Emulator
) -> None:
    updates: list[TaskUpdate] = []
    done = await client.tasks.run(
        end_user_id="a",
        task="walk [[duration=0.6]] [[steps=9]] [[steps_fault=shuffle:0.5]]",
        poll_interval=STEADY,
        on_update=updates.append,
    )
    check_steps(updates)
    assert updates[0].task.status is TaskStatus.PENDING
    assert updates[-1].task == done
    assert len(done.step_summaries) == 9


async def test_on_update_costs_no_request(client: AsyncClient, emu: Emulator) -> None:
    gets = []
    for on_update in (None, lambda update: None):
        emu.clear_requests()
        await client.tasks.run(
            end_user_id="a", task="t [[duration=0.5]]", poll_interval=STEADY, on_update=on_update
        )
        gets.append(sum(1 for r in emu.requests if r.method == "GET"))
    assert abs(gets[0] - gets[1]) <= 1, gets


async def test_async_callbacks_are_awaited_and_wait_reports_too(client: AsyncClient) -> None:
    task = await client.tasks.submit(
        end_user_id="a", task="walk [[duration=0.4]] [[steps=5]] [[steps_fault=drop:0.5]]"
    )
    updates: list[TaskUpdate] = []

    async def record(update: TaskUpdate) -> None:
        await asyncio.sleep(0)
        updates.append(update)

    await client.tasks.wait(task.task_id, on_update=record)
    check_steps(updates)


async def test_a_raising_callback_raises_from_wait_run_and_design_run(
    client: AsyncClient, emu: Emulator
) -> None:
    def boom(update: TaskUpdate) -> None:
        if update.task.status is TaskStatus.RUNNING:
            raise Boom(update.task.task_id)

    with pytest.raises(Boom):
        await client.tasks.run(end_user_id="a", task="t [[duration=0.3]]", on_update=boom)
    task = await client.tasks.submit(end_user_id="a", task="t [[duration=0.3]]")
    with pytest.raises(Boom):
        await client.tasks.wait(task.task_id, on_update=boom)
    seen: list[TaskUpdate] = []
    done = await client.design.run(
        url="https://example.com", end_user_id="a", on_update=seen.append
    )
    assert seen[-1].task == done and done.design
    with pytest.raises(TypeError, match="on_update must be callable"):
        await client.tasks.run(end_user_id="a", task="t", on_update="print")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="on_update"):
        await client.design.run(url="https://e.com", end_user_id="a", on_update=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="on_update"):
        client.tasks.run_many([], on_update=1)  # type: ignore[arg-type]


async def test_run_many_1000_tasks_every_step_once_in_order(
    client: AsyncClient, emu: Emulator
) -> None:
    rng = random.Random(5)
    faults = [
        "",
        "[[steps_fault=drop:0.3]]",
        "[[steps_fault=shuffle:0.5]]",
        "[[steps_fault=truncate:0.5]]",
    ]
    requests = [
        {
            "end_user_id": "a",
            "task": f"t{i} [[duration={rng.uniform(0.1, 0.6):.2f}]] "
            f"[[steps={rng.randint(0, 8)}]] {faults[i % 4]}",
        }
        for i in range(1000)
    ]
    updates: dict[int, list[TaskUpdate]] = defaultdict(list)

    def on_update(index: int, update: TaskUpdate) -> None:
        updates[index].append(update)

    outcomes = [
        o
        async for o in client.tasks.run_many(
            requests, concurrency=100, poll_interval=STEADY, on_update=on_update
        )
    ]
    assert len(outcomes) == 1000 and all(o.ok for o in outcomes)
    assert sorted(updates) == list(range(1000))
    for outcome in outcomes:
        mine = updates[outcome.index]
        check_steps(mine)
        assert mine[-1].task == outcome.task
        assert mine[0].task.status is TaskStatus.PENDING


async def test_a_raising_callback_fails_its_task_only(client: AsyncClient) -> None:
    async def on_update(index: int, update: TaskUpdate) -> None:
        if index % 3 == 0 and update.task.status is not TaskStatus.PENDING:
            raise Boom(index)

    requests = [{"end_user_id": "a", "task": f"t{i} [[duration=0.1]]"} for i in range(12)]
    outcomes = {o.index: o async for o in client.tasks.run_many(requests, on_update=on_update)}
    assert sorted(outcomes) == list(range(12))
    for index, outcome in outcomes.items():
        if index % 3 == 0:
            assert isinstance(outcome.error, Boom) and outcome.error.args == (index,)
        else:
            assert outcome.ok

    # Raising on the very first (submitted) record fails the task before any poll.
    def first(index: int, update: TaskUpdate) -> None:
        raise Boom(index)

    [only] = [o async for o in client.tasks.run_many(requests[:1], on_update=first)]
    assert isinstance(only.error, Boom)


async def test_wait_many_yields_in_completion_order_with_positions(
    client: AsyncClient, emu: Emulator
) -> None:
    durations = [0.6, 0.1, 0.3]
    ids = [
        (await client.tasks.submit(end_user_id="a", task=f"t [[duration={d}]] [[steps=3]]")).task_id
        for d in durations
    ]
    failed = (await client.tasks.submit(end_user_id="a", task="x [[fail]] [[duration=0]]")).task_id
    await asyncio.sleep(0.05)
    task_ids: list[Any] = [*ids, failed, "missing", ""]
    updates: dict[int, list[TaskUpdate]] = defaultdict(list)
    outcomes = [
        o
        async for o in client.tasks.wait_many(task_ids, on_update=lambda i, u: updates[i].append(u))
    ]
    by_index = {o.index: o for o in outcomes}
    assert sorted(by_index) == list(range(6))
    assert all(o.request is None for o in outcomes)
    ok = [o.index for o in outcomes if o.ok]
    assert ok == [1, 2, 0]
    assert isinstance(by_index[3].error, TaskFailedError)
    assert isinstance(by_index[4].error, NotFoundError)
    assert isinstance(by_index[5].error, ValueError)
    for index in (0, 1, 2):
        check_steps(updates[index])
        assert updates[index][-1].task == by_index[index].task
    assert updates[3] and updates[3][-1].task.status is TaskStatus.FAILED  # already over: one GET
    with pytest.raises(TypeError, match="task_ids"):
        client.tasks.wait_many("abc")


async def test_wait_many_polls_like_wait(client: AsyncClient, emu: Emulator) -> None:
    counts = []
    for use_wait_many in (False, True):
        task = await client.tasks.submit(end_user_id="a", task="t [[duration=0.5]]")
        emu.clear_requests()
        if use_wait_many:
            outcomes = client.tasks.wait_many([task.task_id], poll_interval=STEADY)
            assert [o.ok async for o in outcomes] == [True]
        else:
            await client.tasks.wait(task.task_id, poll_interval=STEADY)
        counts.append(len(emu.requests))
    assert abs(counts[0] - counts[1]) <= 1, counts


async def test_wait_many_honours_poll_timeout(client: AsyncClient) -> None:
    task = await client.tasks.submit(end_user_id="a", task="t [[duration=30]]")
    schedule = PollSchedule(first=0.02, max_interval=0.05)
    [outcome] = [
        o
        async for o in client.tasks.wait_many(
            [task.task_id], poll_timeout=0.2, poll_interval=schedule
        )
    ]
    assert type(outcome.error).__name__ == "TaskTimeoutError"
