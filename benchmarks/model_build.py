"""Model building: decoded task record -> typed `Task`, the part of a call that raw aiohttp skips.

`overhead.py` shows that the SDK's transport costs within a few µs of raw
aiohttp and that the rest of its per-call CPU is building the `Task` model.
This benchmark isolates that step, in process and without sockets, so a change
to `_convert.py` or `types.py` gets a repeatable before/after:

- ``from_wire(record, Task)``: our strict cattrs structuring (camelCase keys,
  aware datetimes, step summaries as models, unknown keys kept in ``extras``);
- ``orjson.loads``: decoding the same record's bytes, for scale;
- ``stablebrowse.Task.from_json``: the official SDK's dataclass built from the
  same dict (a subset of the fields, step summaries left as raw dicts).

Three records: a pending one (no steps), the emulator's completed 2-step
record shape, and a realistic 6-step record with an unknown field. Rounds
alternate the order of the contenders; figures are medians of per-call CPU
time (``time.process_time``).

Reproduce::

    .venv/bin/python benchmarks/model_build.py --quick   # 20 000 calls x 5 rounds, ~5 s
    .venv/bin/python benchmarks/model_build.py --full    # 100 000 calls x 9 rounds
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from _bench import median, run_main

from stablebrowse_async import Task
from stablebrowse_async._convert import from_wire

try:
    from stablebrowse.types import Task as OfficialTask
except ImportError:  # the official SDK is a dev extra; without it, its column is skipped
    OfficialTask = None


def _step(n: int) -> dict[str, Any]:
    return {"n": n, "type": "navigate" if n == 1 else "act", "msg": f"step {n}", "success": True}


def _record(status: str, steps: int, *, extra: bool = False) -> dict[str, Any]:
    record: dict[str, Any] = {
        "taskId": "tsk_8f3a2c1d9b7e4f60",
        "sessionId": "ses_1c2d3e4f5a6b7c8d",
        "endUserId": "user-42",
        "businessId": "biz_0001",
        "status": status,
        "task": "Find the cheapest flight from Berlin to Lisbon next Friday",
        "createdAt": "2026-11-23T10:00:00.000Z",
        "updatedAt": "2026-11-23T10:00:04.217Z",
        "totalSteps": steps,
        "durationMs": 4217 if status == "completed" else None,
        "visitedUrls": [f"https://example.com/page/{i}" for i in range(steps)],
        "stepSummaries": [_step(i + 1) for i in range(steps)],
    }
    if status == "completed":
        record["result"] = "EUR 89, TAP TP553, departs 07:05"
    if extra:
        record["costCredits"] = 3
    return record


RECORDS = {
    "pending, 0 steps": _record("pending", 0),
    "completed, 2 steps": _record("completed", 2),
    "completed, 6 steps + unknown key": _record("completed", 6, extra=True),
}


def _per_call_us(fn: Callable[[], object], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls * 1e6


def _contenders(record: dict[str, Any]) -> dict[str, Callable[[], object]]:
    body = orjson.dumps(record)
    contenders: dict[str, Callable[[], object]] = {
        "from_wire -> Task": lambda: from_wire(record, Task),
        "orjson.loads (scale)": lambda: orjson.loads(body),
    }
    if OfficialTask is not None:
        official = OfficialTask
        contenders["official Task.from_json"] = lambda: official.from_json(record)
    return contenders


def run(quick: bool) -> dict[str, Any]:
    """Measure every contender on every record; medians of interleaved rounds."""
    calls, rounds = (20_000, 5) if quick else (100_000, 9)
    figures: dict[str, Any] = {"mode": "quick" if quick else "full", "calls": calls}
    figures["rounds"] = rounds
    results: dict[str, dict[str, float]] = {}
    for label, record in RECORDS.items():
        contenders = _contenders(record)
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for round_index in range(rounds):
            order = names if round_index % 2 == 0 else names[::-1]
            for name in order:
                samples[name].append(_per_call_us(contenders[name], calls))
        results[label] = {name: median(values) for name, values in samples.items()}
    figures["us_per_call"] = results
    return figures


def report(figures: dict[str, Any]) -> None:
    """Print the table and the ratios."""
    print(
        f"model_build ({figures['mode']}, {figures['calls']} calls x {figures['rounds']} "
        "interleaved rounds, CPU µs per call, median)"
    )
    for label, row in figures["us_per_call"].items():
        cells = ", ".join(f"{name} {value:.2f}" for name, value in row.items())
        print(f"  {label:<34} {cells}")
        if "official Task.from_json" in row:
            ratio = row["from_wire -> Task"] / row["official Task.from_json"]
            print(f"  {'':<34} ours / official = {ratio:.2f}x")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--quick`` (default), ``--full``, ``--json``."""
    return run_main(__doc__, "model_build.py", run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
