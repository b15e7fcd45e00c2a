"""Profile the hot paths: ``tasks.get`` in a tight loop, or ``run_many`` at 10 000 tasks.

Uses pyinstrument when installed (``.venv/bin/pip install pyinstrument``; not a
project dependency), else cProfile sorted by own time. The emulator runs in
its own process, so the profile holds the client only.

Reproduce::

    .venv/bin/python benchmarks/profile_hot_path.py get --calls 20000
    .venv/bin/python benchmarks/profile_hot_path.py run_many --tasks 10000
    .venv/bin/python benchmarks/profile_hot_path.py get --cprofile

Not part of `run_all.py`: a profile is for reading, not a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import pstats
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from _bench import SEED, EmulatorProcess

from stablebrowse_async import AsyncClient


class _Profiler:
    def __init__(self, use_cprofile: bool) -> None:
        self.pyinstrument: Any = None
        if not use_cprofile and importlib.util.find_spec("pyinstrument") is not None:
            import pyinstrument

            self.pyinstrument = pyinstrument.Profiler(interval=0.0005, async_mode="disabled")
        self.cprofile = cProfile.Profile()

    def __enter__(self) -> _Profiler:
        if self.pyinstrument is not None:
            self.pyinstrument.start()
        else:
            self.cprofile.enable()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.pyinstrument is not None:
            self.pyinstrument.stop()
        else:
            self.cprofile.disable()

    def print(self) -> None:
        if self.pyinstrument is not None:
            print(self.pyinstrument.output_text(unicode=False, color=False))
        else:
            pstats.Stats(self.cprofile).sort_stats("tottime").print_stats(30)


async def _get_loop(url: str, api_key: str, calls: int, profiler: _Profiler) -> None:
    async with AsyncClient(api_key, base_url=url) as client:
        task = await client.tasks.run(
            end_user_id="bench", task="profile me [[steps=6]]", poll_interval=0.05
        )
        per_worker = max(1, calls // 64)

        async def worker() -> None:
            for _ in range(per_worker):
                await client.tasks.get(task.task_id)

        async def fan(call: Callable[[], Awaitable[None]]) -> None:
            await asyncio.gather(*(call() for _ in range(64)))

        await fan(worker)  # warm up
        cpu = time.process_time()
        with profiler:
            await fan(worker)
        spent = time.process_time() - cpu
        print(f"{per_worker * 64} calls, {spent / (per_worker * 64) * 1e6:.1f} µs CPU per call")


async def _run_many(url: str, api_key: str, tasks: int, profiler: _Profiler) -> None:
    requests = [
        {"end_user_id": f"user-{i % 100}", "task": f"profile {i} [[duration={1 + i % 5}]]"}
        for i in range(tasks)
    ]
    async with AsyncClient(api_key, base_url=url) as client:
        cpu, wall = time.process_time(), time.perf_counter()
        with profiler:
            async with client.tasks.run_many(requests) as batch:
                async for _ in batch:
                    pass
        print(
            f"{tasks} tasks: {time.perf_counter() - wall:.1f} s wall, "
            f"{(time.process_time() - cpu) / tasks * 1e6:.0f} µs CPU per task"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("what", choices=("get", "run_many"))
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--cprofile", action="store_true", help="cProfile even if pyinstrument")
    args = parser.parse_args(argv)
    profiler = _Profiler(args.cprofile)
    with EmulatorProcess(seed=SEED, durations=(1.0, 5.0), pending_for=0.1) as emu:
        if args.what == "get":
            asyncio.run(_get_loop(emu.url, emu.api_key, args.calls, profiler))
        else:
            asyncio.run(_run_many(emu.url, emu.api_key, args.tasks, profiler))
    profiler.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
