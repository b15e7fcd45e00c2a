"""One Client shared by many threads, and inherited by forked children."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from typing import Any

import pytest

from stablebrowse_async import AsyncClient
from stablebrowse_async.sync import Client, TaskStatus
from stablebrowse_async.testing import EmulatorThread

from .conftest import FAST_POLLS, loop_threads

THREADS = 16


def test_sixteen_threads_share_one_client(client: Client, emu: EmulatorThread) -> None:
    start = threading.Barrier(THREADS)

    def work(n: int) -> list[str]:
        start.wait()  # every thread hits the not-yet-started portal at once
        seen = [client.tasks.list(limit=5) is not None]
        task = client.tasks.run(end_user_id=f"user{n}", task=f"job {n}")
        for _ in range(5):
            assert client.tasks.get(task.task_id).status is TaskStatus.COMPLETED
        creds = client.end_users(f"user{n}").credentials
        creds.set(reddit_session=f"s{n}")
        assert creds.get().end_user_id == f"user{n}"
        assert seen
        return [task.task_id]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))

    assert len({tid for ids in results for tid in ids}) == THREADS
    assert emu.tasks_created() == THREADS
    assert len(loop_threads()) == 1, "one loop thread per client"


def _child_uses_inherited_client(client: Client, task_id: str, out: Queue[Any]) -> None:
    try:
        got = client.tasks.get(task_id)
        done = client.tasks.run(end_user_id="child", task="from the child")
        names = [t.name for t in threading.enumerate()]
        out.put(("ok", got.task_id, done.status.value, names))
    except BaseException as error:  # report anything to the parent
        out.put(("error", repr(error), None, None))


@pytest.mark.parametrize("use_in_parent_first", [True, False], ids=["started", "unstarted"])
def test_a_forked_child_gets_a_fresh_portal(emu: EmulatorThread, use_in_parent_first: bool) -> None:
    ctx = multiprocessing.get_context("fork")
    with Client(emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS) as client:
        task = client.tasks.submit(end_user_id="parent", task="from the parent")
        if not use_in_parent_first:
            client.close()
            client = Client(emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS)
        out: Queue[Any] = ctx.Queue()
        child = ctx.Process(target=_child_uses_inherited_client, args=(client, task.task_id, out))
        child.start()
        result = out.get(timeout=30)
        child.join(30)

        assert result[0] == "ok", result
        assert result[1] == task.task_id
        assert result[2] == "completed"
        assert result[3].count("stablebrowse-sync-loop") == 1
        assert child.exitcode == 0
        # The parent's client is untouched by the child's.
        assert client.tasks.get(task.task_id).task_id == task.task_id
        client.close()


def _child_runs_async_client(client: AsyncClient, task_id: str, out: Queue[Any]) -> None:
    try:
        out.put(("ok", asyncio.run(client.tasks.get(task_id)).task_id))
    except BaseException as error:  # report anything to the parent
        out.put(("error", repr(error)))


def test_an_async_client_used_in_the_parent_works_in_a_forked_child(emu: EmulatorThread) -> None:
    # The connection pool forgets the parent's session and loop in the child.
    ctx = multiprocessing.get_context("fork")

    async def scenario() -> tuple[Any, ...]:
        async with AsyncClient(emu.api_key, base_url=emu.url) as client:
            task_id = (await client.tasks.submit(end_user_id="parent", task="t")).task_id
            out: Queue[Any] = ctx.Queue()
            child = ctx.Process(target=_child_runs_async_client, args=(client, task_id, out))
            child.start()
            result = out.get(timeout=30)
            child.join(30)
            assert child.exitcode == 0
            assert (await client.tasks.get(task_id)).task_id == task_id  # parent untouched
            return (*result, task_id)

    status, got, task_id = asyncio.run(scenario())
    assert (status, got) == ("ok", task_id)
