"""100 000 tasks: creating them is quick and reading stays fast."""

from __future__ import annotations

import time

import aiohttp
import pytest

from stablebrowse_async.testing import Emulator, VirtualClock

pytestmark = pytest.mark.anyio

N = 100_000


async def test_hundred_thousand_tasks_stay_fast() -> None:
    async with Emulator(clock=VirtualClock(), durations=(1.0, 60.0)) as emu:
        started = time.perf_counter()
        first = emu.create_task("task 0")
        for i in range(1, N):
            emu.create_task(f"task {i}", end_user_id=f"user-{i % 100}")
            if i % 1000 == 0:
                emu.clock.advance(0.5)  # type: ignore[attr-defined]
        created = time.perf_counter() - started
        assert emu.tasks_created() == N
        # Speed is measured in benchmarks/, never asserted here (noisy machines).
        print(f"creating {N} tasks took {created:.1f}s")
        headers = {"Authorization": f"Bearer {emu.api_key}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            started = time.perf_counter()
            for _ in range(20):
                async with session.get(f"{emu.url}/tasks/{first['taskId']}") as resp:
                    assert resp.status == 200
                async with session.get(f"{emu.url}/tasks?limit=100") as resp:
                    body = await resp.json()
                async with session.post(
                    f"{emu.url}/tasks", json={"endUserId": "a", "task": "one more"}
                ) as resp:
                    assert resp.status == 201
            reads = time.perf_counter() - started
        stamps = [s["updatedAt"] for s in body["sessions"]]
        assert len(stamps) == 100
        assert stamps == sorted(stamps, reverse=True)
        print(f"60 requests against {N} tasks took {reads:.2f}s")
        print(f"\ncreated {N} tasks in {created:.2f}s; 60 requests in {reads:.3f}s")
