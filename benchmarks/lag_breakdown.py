"""Where the detection lag of many tasks at once goes: the plan, the client's queue, the wire.

Runs N tasks of 1-3 s through ``run_many(concurrency=N)`` against the
emulator (in its own process) and records, for every poll, when it fell due
in the engine, when it was sent and when its answer came back, by wrapping
the engine's private poll and fetch steps (a diagnostic, not a benchmark:
the wrapping costs a little CPU). For the poll that saw each task finish, the
lag splits into

- ``due - done``: the plan (negative: the poll was due before the task finished);
- ``sent - due``: the client's queue (polls that fell due wait for the CPU);
- ``answered - sent``: the round trip;
- ``delivered - answered``: the engine handing the outcome to the caller.

It also prints the submissions and polls sent per half second and the polls
due but not yet sent at the end of each, which shows what makes a queue: a
batch submitted faster than its polls can later be sent.

Usage: ``python benchmarks/lag_breakdown.py [--tasks N] [--submit-rate R]``.
Not part of `run_all.py`: a breakdown is for reading, not a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from _at_once import scale_batch, scale_durations
from _bench import SEED, EmulatorProcess

from stablebrowse_async import AsyncClient
from stablebrowse_async import _polling as engine
from stablebrowse_async.types import Task

#: Per task id: "due", "sent", "answered" of its latest poll (engine clock).
Times = dict[str, dict[str, float]]


def _instrument(times: Times, submissions: list[float], polls: list[tuple[float, float]]) -> None:
    """Wrap `_Batch`'s fetch, submit and poll steps to record their times."""
    init = engine._Batch.__init__
    poll_one = engine._Batch._poll_one

    def recording_init(self: engine._Batch, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        fetch: Callable[[str], Awaitable[Task]] = self._fetch
        submit = self._submit
        clock = self._clock

        async def timed_fetch(task_id: str) -> Task:
            task = await fetch(task_id)
            times.setdefault(task_id, {})["answered"] = clock()
            return task

        async def timed_submit(request: Any) -> Task:
            submissions.append(clock())
            return await submit(request)

        self._fetch = timed_fetch
        self._submit = timed_submit

    async def recording_poll_one(self: engine._Batch, entry: engine._Entry) -> None:
        record = times.setdefault(entry.last.task_id, {})
        record["due"], record["sent"] = entry.due, self._clock()
        polls.append((entry.due, record["sent"]))
        await poll_one(self, entry)

    engine._Batch.__init__ = recording_init  # type: ignore[method-assign]
    engine._Batch._poll_one = recording_poll_one  # type: ignore[method-assign]


def _quantiles(values: Sequence[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (
        f"mean {statistics.fmean(ordered):6.3f}  median {statistics.median(ordered):6.3f}"
        f"  p90 {p90:6.3f}"
    )


async def _run(url: str, api_key: str, count: int, submit_rate: float | None) -> None:
    times: Times = {}
    submissions: list[float] = []
    polls: list[tuple[float, float]] = []
    _instrument(times, submissions, polls)
    durations = scale_durations(count)
    rows: list[tuple[float, float, float, float, float]] = []
    offset = time.time() - time.monotonic()  # the engine's clock is time.monotonic
    async with AsyncClient(api_key, base_url=url) as client:
        started, cpu = time.monotonic(), time.process_time()
        async for outcome in scale_batch(client, durations, "breakdown", submit_rate):
            delivered = time.monotonic()
            task = outcome.task
            if task is None or task.created_at is None or task.duration_ms is None:
                continue
            done = task.created_at.timestamp() + task.duration_ms / 1000 - offset
            record = times[task.task_id]
            rows.append((done, record["due"], record["sent"], record["answered"], delivered))
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
    lags = [row[4] - row[0] for row in rows]
    print(
        f"{count} tasks, submit_rate={submit_rate}: median lag {statistics.median(lags):.3f} s, "
        f"wall {wall:.2f} s, client CPU {cpu / count * 1e6:.0f} us/task, "
        f"{len(polls) / count:.2f} polls/task"
    )
    for label, index in (("due - done", 1), ("sent - due", 2), ("answered - sent", 3)):
        print(f"  {label:20s} {_quantiles([row[index] - row[index - 1] for row in rows])}")
    print(f"  {'delivered - answered':20s} {_quantiles([row[4] - row[3] for row in rows])}")
    first = min(submissions)
    for step in range(int(wall / 0.5) + 1):
        low, high = first + 0.5 * step, first + 0.5 * (step + 1)
        sent = sum(1 for at in submissions if low <= at < high)
        polled = sum(1 for _, at in polls if low <= at < high)
        waiting = sum(1 for due, at in polls if due <= high < at)
        print(
            f"  t {0.5 * step:4.1f}-{0.5 * (step + 1):4.1f} s: {sent:5d} submissions, "
            f"{polled:5d} polls sent, {waiting:5d} polls due and not yet sent"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--submit-rate", type=float, default=None)
    options = parser.parse_args(argv)
    with EmulatorProcess(seed=SEED, pending_for=0.1) as emu:
        asyncio.run(_run(emu.url, emu.api_key, options.tasks, options.submit_rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
