"""One run of many 1-3 s tasks at once, in this interpreter: `polling.py`'s child.

`polling.py` starts this script once per run (``python _at_once.py COUNT URL
KEY SCHEDULE [SUBMIT_RATE]``) so that each run's RSS growth and CPU time are
its own, and it prints the run's figures as one JSON line. ``SCHEDULE`` is
``raw`` (bare aiohttp, `_raw_fan_out`), ``geometric`` (`PollSchedule`),
``adaptive`` or ``paced`` (the client's default), or ``issue``: the client's
default of whatever ``stablebrowse_async`` this interpreter imports, which
`polling.py` points at the package as it stood when the polling issue was
filed (``PYTHONPATH``), to measure that code in the same run.

It imports only what every version of the package has (`AsyncClient`,
`PollSchedule`, ``tasks.run_many``), and passes ``submit_rate`` only when it
is set (the package as the issue was filed had none).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from _bench import SEED, rss_bytes

from stablebrowse_async import AsyncClient, PollSchedule, RunMany

__all__ = ["SCHEDULES", "at_once", "requests_for", "scale_batch", "scale_durations"]

#: The kinds of run this script knows (its ``SCHEDULE`` argument).
SCHEDULES = ("raw", "geometric", "adaptive", "paced", "issue")


def requests_for(durations: Sequence[float], tag: str) -> list[dict[str, str]]:
    """One task request per duration, the duration written in its text (``[[duration=]]``)."""
    return [
        {"end_user_id": "bench", "task": f"{tag} {i} [[duration={d:.3f}]]"}
        for i, d in enumerate(durations)
    ]


def scale_durations(count: int) -> list[float]:
    """The many-at-once part's tasks: `count` durations of 1-3 s, the same in every run."""
    rng = random.Random(f"{SEED}:scale")
    return [rng.uniform(1.0, 3.0) for _ in range(count)]


def scale_batch(
    client: AsyncClient, durations: Sequence[float], tag: str, submit_rate: float | None
) -> RunMany:
    """The many-at-once part's batch: every task at once (``concurrency`` = their number)."""
    options: dict[str, Any] = {"concurrency": len(durations), "poll_timeout": 300}
    if submit_rate is not None:
        options["submit_rate"] = submit_rate
    return client.tasks.run_many(requests_for(durations, tag), **options)


async def at_once(
    url: str, api_key: str, count: int, schedule: str, submit_rate: float | None = None
) -> dict[str, Any]:
    """Run `count` tasks at once with `schedule`; median lag, wall, RSS growth, CPU."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, not {schedule!r}")
    durations = scale_durations(count)
    lags: list[float] = []
    finishes: list[float] = []
    base = peak = rss_bytes()

    async def sample() -> None:
        nonlocal peak
        for _ in range(20 * 3600):  # bounded: one hour at 50 ms
            peak = max(peak, rss_bytes())
            await asyncio.sleep(0.05)

    def delivered(created: float, duration_ms: float) -> None:
        done = created + duration_ms / 1000
        finishes.append(done)
        lags.append(time.time() - done)

    sampler = asyncio.ensure_future(sample())
    try:
        started, cpu = time.time(), time.process_time()
        if schedule == "raw":
            await _raw_fan_out(url, api_key, durations, delivered)
        else:
            polls = PollSchedule() if schedule == "geometric" else None
            async with AsyncClient(api_key, base_url=url, poll_interval=polls) as client:
                started, cpu = time.time(), time.process_time()
                async for outcome in scale_batch(client, durations, "scale", submit_rate):
                    task = outcome.task
                    if task is not None and task.created_at and task.duration_ms is not None:
                        delivered(task.created_at.timestamp(), task.duration_ms)
        wall = time.time() - started
        cpu = time.process_time() - cpu
    finally:
        sampler.cancel()
        await asyncio.wait([sampler])
    last = max(finishes) - started if finishes else float("nan")
    return {
        "tasks": count,
        "schedule": schedule,
        "submit_rate": submit_rate,
        "delivered": len(lags),
        "median_lag_s": round(statistics.median(lags), 3) if lags else None,
        "wall_s": round(wall, 2),
        "last_completion_s": round(last, 2),
        "wall_vs_last_completion": round(wall / last, 3),
        "rss_growth_mb": round((peak - base) / 1e6, 1),
        "cpu_us_per_task": round(cpu / count * 1e6),
    }


async def _raw_fan_out(
    url: str, api_key: str, durations: Sequence[float], delivered: Callable[[float, float], None]
) -> None:
    """The baseline: the same tasks with bare aiohttp, nothing an SDK adds.

    All submitted at once on one session (a 100-connection pool, as the
    SDK's), each polled on `PollSchedule`'s default intervals (first, factor,
    cap, jitter), every body decoded with orjson; no model, no retry, no
    rate-limit gate. Its CPU per *request* is what aiohttp itself costs on
    this machine in this run.
    """
    import aiohttp
    import orjson

    plan = PollSchedule()
    jitter = random.Random(f"{SEED}:raw")
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    connector = aiohttp.TCPConnector(limit=100, limit_per_host=100)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one(request: dict[str, str]) -> None:
            body = orjson.dumps({"endUserId": request["end_user_id"], "task": request["task"]})
            post = {"Content-Type": "application/json"}
            async with session.post(f"{url}/tasks", data=body, headers=post) as response:
                response.raise_for_status()
                task_id = orjson.loads(await response.read())["taskId"]
            interval = plan.first
            for _ in range(1000):  # bounded: 1 000 polls of at least ~1 s
                await asyncio.sleep(interval * (1.0 - plan.jitter * jitter.random()))
                interval = min(plan.max_interval, interval * plan.factor)
                async with session.get(f"{url}/tasks/{task_id}") as response:
                    response.raise_for_status()
                    record = orjson.loads(await response.read())
                if record["status"] in ("completed", "failed", "cancelled"):
                    created = datetime.fromisoformat(record["createdAt"].replace("Z", "+00:00"))
                    delivered(created.timestamp(), record["durationMs"])
                    return

        await asyncio.gather(*(one(request) for request in requests_for(durations, "scale")))


def main(argv: Sequence[str]) -> int:
    """``COUNT URL KEY SCHEDULE [SUBMIT_RATE]``: one run; its figures as one JSON line.

    An ``issue`` run refuses to start unless ``stablebrowse_async`` comes from
    the directory given as ``STABLEBROWSE_ISSUE_TREE`` (its figures would be
    the current code's under the issue's name otherwise).
    """
    count, url, key, schedule = int(argv[0]), argv[1], argv[2], argv[3]
    rate = float(argv[4]) if len(argv) > 4 else None
    if schedule == "issue":
        import stablebrowse_async

        tree = Path(os.environ.get("STABLEBROWSE_ISSUE_TREE", "/nonexistent")).resolve()
        loaded = Path(stablebrowse_async.__file__).resolve()
        if tree not in loaded.parents:
            raise SystemExit(f"issue run: stablebrowse_async loaded from {loaded}, not {tree}")
    print(json.dumps(asyncio.run(at_once(url, key, count, schedule, rate))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
