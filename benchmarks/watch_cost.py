"""Watching costs: client CPU of ``run_many`` with ``on_update`` against the same batch without.

The emulator runs in its own process on the real clock; each batch runs in a
fresh client interpreter so that its CPU time (``time.process_time``) is its
own. Every task's duration (seeded, uniform 1-4 s) and its number of steps
(2-12) are written into its text, so both batches do exactly the same work.
The ``on_update`` batch counts the updates and the steps it receives (a
callback that does nothing else), which is the SDK's cost of watching: step
de-duplication, building each `TaskUpdate`, calling the callback.

Figures per batch: client CPU µs per task and per request (the POSTs plus the
GETs the emulator recorded), updates and steps delivered. Baseline: the same
batch without ``on_update``. Limit approached: 1.0x (watching adds no
request, only local work per poll). Target: client CPU <= 1.10x
the baseline's, measured directly: the CPU spent inside the watching path
(timed around each observer call) against the rest of the same run. The end
to end comparison is printed too; per request, because how many polls a batch makes depends on
how busy the machine is (a slow submit phase leaves tasks less time to be
polled while they run), whichever variant runs; each request costs the client
about the same. The machine may be shared: the two variants run alternately,
``REPEATS`` times each (a fresh emulator each time), and each keeps its run
with the least CPU per request. "Added per update" is the difference in CPU
per request, times the requests, over the updates delivered.

Reproduce::

    .venv/bin/python benchmarks/watch_cost.py --quick   # 2 000 tasks
    .venv/bin/python benchmarks/watch_cost.py --full    # 10 000 tasks
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from typing import Any

from _bench import SEED, EmulatorProcess, run_child, run_main, verdict

import stablebrowse_async.resources.tasks as tasks_module
from stablebrowse_async import AsyncClient, PollSchedule, TaskUpdate

CONCURRENCY = 64
#: The default schedule without its jitter: both variants poll at the same moments.
STEADY = PollSchedule(jitter=0.0)
REPEATS = int(os.environ.get("WATCH_COST_REPEATS", "2"))
TARGET_RATIO = 1.10
VARIANTS = ("without", "on_update")


def workload(count: int, seed: int) -> list[dict[str, str]]:
    """`count` requests with seeded durations (1-4 s) and step counts (2-12) in their text."""
    rng = random.Random(seed)
    return [
        {
            "end_user_id": f"user-{i % 100}",
            "task": f"watched task {i} [[duration={rng.uniform(1.0, 4.0):.3f}]] "
            f"[[steps={rng.randint(2, 12)}]]",
        }
        for i in range(count)
    ]


def _time_the_watching_path(spent: list[float]) -> None:
    """Add the CPU time of every call into the SDK's watching path to ``spent[0]``.

    Wraps each observer `tasks.run_many` makes (step de-duplication, the
    `TaskUpdate`, the callback): the direct measure, free of the run-to-run
    noise of a shared machine. The two clock reads per call are counted too,
    so the figure is an upper bound.
    """
    namespace = vars(tasks_module)  # the name `tasks.run_many` looks up at each call
    made = namespace["observer"]

    def timed(on_update: Any) -> Any:
        observe = made(on_update)
        assert observe is not None

        def observe_timed(task: Any) -> Any:
            started = time.process_time()
            try:
                return observe(task)
            finally:
                spent[0] += time.process_time() - started

        return observe_timed

    namespace["observer"] = timed


async def _batch(url: str, api_key: str, count: int, watched: bool) -> dict[str, Any]:
    counts = {"updates": 0, "steps": 0}
    spent = [0.0]
    if watched:
        _time_the_watching_path(spent)

    def on_update(index: int, update: TaskUpdate) -> None:
        counts["updates"] += 1
        counts["steps"] += len(update.new_steps)

    requests = workload(count, SEED)
    errors = 0
    async with AsyncClient(api_key, base_url=url, poll_interval=STEADY) as client:
        started, cpu_started = time.perf_counter(), time.process_time()
        async with client.tasks.run_many(
            requests,
            concurrency=CONCURRENCY,
            poll_timeout=120,
            on_update=on_update if watched else None,
        ) as batch:
            async for outcome in batch:
                errors += outcome.error is not None
        cpu = time.process_time() - cpu_started
        wall = time.perf_counter() - started
    return {"cpu_s": cpu, "wall_s": wall, "errors": errors, "watching_cpu_s": spent[0], **counts}


def _spawn(emu: EmulatorProcess, variant: str, count: int) -> dict[str, Any]:
    return run_child(__file__, ["--child", variant, str(count), emu.url, emu.api_key], timeout=1800)


def run(quick: bool) -> dict[str, Any]:
    """Run both batches alternately; return the least-disturbed figures of each and the ratio."""
    count = 2_000 if quick else 10_000
    figures: dict[str, Any] = {}
    for _ in range(REPEATS):
        for variant in VARIANTS:
            # A fresh emulator each time: one holding the earlier batches' tasks
            # answers more slowly, which would favour whichever variant ran first.
            with EmulatorProcess(seed=SEED, durations=(1.0, 4.0), pending_for=0.1) as emu:
                result = _spawn(emu, variant, count)
                result["polls"] = max(1, emu.stats()["task_gets"])
            result["requests"] = count + result["polls"]
            result["cpu_us_per_request"] = result["cpu_s"] / result["requests"] * 1e6
            result["cpu_us_per_task"] = result["cpu_s"] / count * 1e6
            best = figures.get(variant)
            if best is None or result["cpu_us_per_request"] < best["cpu_us_per_request"]:
                figures[variant] = result
    base, watched = figures["without"], figures["on_update"]
    ratio = watched["cpu_us_per_request"] / base["cpu_us_per_request"]
    # The same run with and without the time spent in the watching path.
    direct = watched["cpu_s"] / (watched["cpu_s"] - watched["watching_cpu_s"])
    added = (watched["cpu_us_per_request"] - base["cpu_us_per_request"]) * watched["requests"]
    return {
        "benchmark": "watch_cost",
        "mode": "quick" if quick else "full",
        "seed": SEED,
        "tasks": count,
        "repeats": REPEATS,
        "batches": figures,
        "cpu_us_per_update": watched["cpu_s"] / max(1, watched["updates"]) * 1e6,
        "extra_cpu_us_per_update": added / max(1, watched["updates"]),
        "ratio": ratio,
        "watching_us_per_update": watched["watching_cpu_s"] / max(1, watched["updates"]) * 1e6,
        "direct_ratio": direct,
        "target": TARGET_RATIO,
        "target_met": direct <= TARGET_RATIO,
    }


def report(figures: dict[str, Any]) -> None:
    print(
        f"watch_cost ({figures['mode']}, seed {figures['seed']}, {figures['tasks']} tasks, "
        f"best of {figures['repeats']} runs each)"
    )
    print(
        "    batch                 CPU s   µs/task  µs/request   polls   updates    steps  errors"
    )
    for name, r in figures["batches"].items():
        print(
            f"    run_many {name:<11} {r['cpu_s']:>7.2f} {r['cpu_us_per_task']:>9.0f} "
            f"{r['cpu_us_per_request']:>11.1f} {r['polls']:>7} {r['updates']:>9} {r['steps']:>8} "
            f"{r['errors']:>7}"
        )
    print(
        f"    on_update: {figures['cpu_us_per_update']:.1f} µs CPU per update in all, "
        f"{figures['extra_cpu_us_per_update']:.1f} µs of it added by watching"
    )
    print(
        f"    measured inside the watching path (step de-duplication, TaskUpdate, callback): "
        f"{figures['watching_us_per_update']:.1f} µs per update, "
        f"{figures['direct_ratio']:.3f}x the batch's CPU without it "
        f"(baseline 1.0x, limit 1.0x; target <= {TARGET_RATIO:.2f}x: "
        f"{verdict(figures['target_met'])})"
    )
    print(
        f"    end to end, CPU per request vs the batch without on_update: {figures['ratio']:.3f}x "
        "(includes run-to-run noise: the batches' poll counts differ with machine load)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        variant, count, url, key = argv[1], int(argv[2]), argv[3], argv[4]
        figures = asyncio.run(_batch(url, key, count, variant == "on_update"))
        print(json.dumps(figures))
        return 0
    return run_main(__doc__, "watch_cost.py", run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
