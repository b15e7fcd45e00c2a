"""The learning schedule through the real client and emulator: one schedule per client,
shared by every poller and by the sync facade; a cold batch; lean fan-out."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from stablebrowse_async import AdaptiveSchedule, AsyncClient, PollSchedule
from stablebrowse_async._estimator import RATIO
from stablebrowse_async.sync import Client
from stablebrowse_async.testing import Emulator, EmulatorThread

pytestmark = pytest.mark.anyio


def fast(**options: object) -> AdaptiveSchedule:
    """Small intervals so that tests of 0.05-0.2 s tasks stay quick."""
    return AdaptiveSchedule(
        min_interval=0.01,
        max_interval=0.3,
        fallback=PollSchedule(first=0.02, factor=1.5, max_interval=0.05),
        seed=3,
        **options,  # type: ignore[arg-type]
    )


async def test_one_schedule_learns_from_run_wait_run_many_and_design(emu: Emulator) -> None:
    schedule = fast()
    async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=schedule) as client:
        assert client.poll_schedule is schedule
        await client.tasks.run(end_user_id="a", task="one [[duration=0.1]]")
        assert schedule.observed == 1
        submitted = await client.tasks.submit(end_user_id="a", task="two [[duration=0.15]]")
        await client.with_options(max_retries=0).tasks.wait(submitted.task_id)
        assert schedule.observed == 2
        await client.design.run(url="https://example.com", end_user_id="a")
        assert schedule.observed == 3
        requests = [{"end_user_id": "a", "task": f"t{i} [[duration=0.1]]"} for i in range(20)]
        outcomes = [o async for o in client.tasks.run_many(requests)]
        assert all(o.ok for o in outcomes)
        assert schedule.observed == 23
        assert schedule.ignored == 0
        median = schedule.quantile(0.5)
        assert median is not None and 0.05 <= median <= 0.2


async def test_the_default_schedule_is_adaptive_and_per_client(emu: Emulator) -> None:
    async with (
        AsyncClient(emu.api_key, base_url=emu.url) as one,
        AsyncClient(emu.api_key, base_url=emu.url) as two,
    ):
        assert isinstance(one.poll_schedule, AdaptiveSchedule)
        assert one.poll_schedule is not two.poll_schedule
        assert one.with_options(timeout=3).poll_schedule is one.poll_schedule
        fixed = one.with_options(poll_interval=0.5).poll_schedule
        assert fixed == PollSchedule(first=0.5, max_interval=0.5)


async def test_a_cold_batch_learns_from_sentinels_and_every_task_finishes(emu: Emulator) -> None:
    schedule = fast(sentinels=4)
    requests = [{"end_user_id": "a", "task": f"t{i} [[duration=0.3]]"} for i in range(60)]
    async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=schedule) as client:
        outcomes = [o async for o in client.tasks.run_many(requests, poll_timeout=20)]
        assert all(o.ok for o in outcomes)
        assert schedule.observed == 60
        first = schedule.quantile(0.5)
        # The second batch is planned from what the first taught: about 0.3 s.
        outcomes = [o async for o in client.tasks.run_many(requests, poll_timeout=20)]
        assert all(o.ok for o in outcomes)
    gets = [r for r in emu.requests if r.method == "GET"]
    assert len(gets) < 60 * 2 * 10  # a wrong model may cost lag, never hammer the API
    # The model's resolution: bins a ratio RATIO apart, each pooled with its
    # neighbours, so a median within three bins of the truth (seen: 0.295-0.296 s
    # after each batch). After the second, it once read 0.226-0.234 s in one run
    # of four: all 60 completions in one burst read as a shift (the recent
    # counts forgot 16 a completion; they now forget over the batch's size).
    for q in (first, schedule.quantile(0.5)):
        assert q is not None and 0.3 / RATIO**3 <= q <= 0.3 * RATIO**3


async def test_concurrency_above_the_pool_starts_no_more_requests_than_connections() -> None:
    requests = [{"end_user_id": "a", "task": f"t{i} [[duration=0.2]]"} for i in range(200)]
    # The emulator on its own thread and loop: only the client's tasks are counted.
    with EmulatorThread(durations=(0.05, 0.1), seed=3) as emu:
        await _count_tasks(emu, requests)


async def _count_tasks(emu: EmulatorThread, requests: list[dict[str, str]]) -> None:
    most = 0
    async with AsyncClient(
        emu.api_key, base_url=emu.url, poll_interval=fast(), connection_limit=4
    ) as client:
        async for _ in client.tasks.run_many(requests, concurrency=10_000):
            most = max(most, _requests_in_flight())
    # At most one request task per connection (counted by name: anything else
    # the loop runs, aiohttp's own housekeeping included, is not a request).
    assert 1 <= most <= 4


def _requests_in_flight() -> int:
    names = ("._submit_one", "._poll_one")
    return sum(1 for task in asyncio.all_tasks() if task.get_name().endswith(names))


def test_the_sync_facade_shares_the_clients_schedule() -> None:
    schedule = fast()
    with (
        EmulatorThread(durations=(0.05, 0.1), seed=3) as emu,
        Client(emu.api_key, base_url=emu.url, poll_interval=schedule) as client,
    ):
        client.tasks.run(end_user_id="a", task="x")
        outcomes = list(client.tasks.run_many([{"end_user_id": "a", "task": "y"}] * 5))
        assert all(o.ok for o in outcomes)
        assert client.poll_schedule is schedule
        assert schedule.observed == 6
        assert schedule.snapshot()["observed"] == 6


async def test_concurrent_cold_batches_on_one_client_follow_the_first_batchs_sentinels(
    emu: Emulator,
) -> None:
    # The first batch takes every sentinel; the others' tasks are parked on
    # them and have no poll of their own: they must notice the sentinels'
    # report through the shared schedule, not wait out the parked interval
    # (60 s, capped here by poll_timeout at 30 s).
    schedule = fast(sentinels=4)

    async def batch(client: AsyncClient, name: str) -> list[bool]:
        requests = [{"end_user_id": "a", "task": f"{name}{i} [[duration=0.2]]"} for i in range(20)]
        return [o.ok async for o in client.tasks.run_many(requests, poll_timeout=30)]

    async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=schedule) as client:
        with anyio.fail_after(10):  # a liveness bound, not a speed target
            results = await asyncio.gather(*(batch(client, name) for name in "abc"))
    assert [sum(oks) for oks in results] == [20, 20, 20]
    assert schedule.observed == 60
