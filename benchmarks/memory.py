"""Memory: bytes per held `Task` model, and per in-flight task of a `run_many` batch.

1. Models. 10 000 realistic completed task records (seeded: 3-8 step
   summaries, 1-4 visited URLs, a result of a few hundred characters) are
   encoded to JSON bytes first; then each SDK decodes every record the way it
   does on the wire and keeps only its model:
   - ours: ``_json.loads`` (orjson) then ``_convert.from_wire(data, Task)``;
   - official: ``json.loads`` then ``stablebrowse.types.Task.from_json`` (which
     keeps the decoded dict on ``.raw``).
   Growth is measured in a fresh interpreter per SDK and per method (RSS from
   /proc/self/statm; tracemalloc in a separate child, since tracing inflates
   RSS), so neither allocator state nor the other SDK's imports leak in.
2. Fan-out state. ``run_many`` submits N tasks that last 10 minutes to the
   emulator (in its own process, so its memory is not counted); once all are
   submitted (``Progress.submitted == N``) the client's growth since before the
   batch is measured, then the batch is closed with ``aclose()``. This is the
   SDK's whole per-task state: heap entry, request, last record, pool buffers.

Reproduce::

    .venv/bin/python benchmarks/memory.py --quick   # 10 000 models, 2 000 in flight
    .venv/bin/python benchmarks/memory.py --full    # 10 000 models, 10 000 in flight
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from typing import Any

from _bench import SEED, EmulatorProcess, rss_bytes, run_child, run_main

MODELS = 10_000
STEP_TYPES = ("navigate", "click", "type", "scroll", "extract", "answer")


def wire_records(count: int, seed: int = SEED) -> list[bytes]:
    """`count` distinct, realistic completed task records as JSON bytes (seeded)."""
    rng = random.Random(seed)
    records = []
    for i in range(count):
        created = 1_776_765_600 + i * 3
        duration_ms = rng.randint(1_000, 60_000)
        steps = rng.randint(3, 8)
        words = [
            rng.choice(("price", "story", "title", "author", "link", "score")) for _ in range(60)
        ]
        record = {
            "taskId": f"tsk_{rng.getrandbits(96):024x}",
            "sessionId": f"ses_{rng.getrandbits(96):024x}",
            "endUserId": f"user-{rng.randint(1, 500)}",
            "businessId": "biz_0001",
            "status": "completed",
            "task": f"Find the top {rng.randint(3, 10)} stories on news site #{i} and summarise them",
            "result": " ".join(words),
            "totalSteps": steps,
            "durationMs": duration_ms,
            "visitedUrls": [
                f"https://news.example.com/{rng.getrandbits(32):08x}"
                for _ in range(rng.randint(1, 4))
            ],
            "stepSummaries": [
                {
                    "n": n + 1,
                    "type": rng.choice(STEP_TYPES),
                    "msg": f"step {n + 1}: looked at element {rng.getrandbits(24):06x}",
                    "success": rng.random() > 0.1,
                }
                for n in range(steps)
            ],
            "createdAt": _iso(created),
            "updatedAt": _iso(created + duration_ms / 1000),
        }
        records.append(json.dumps(record).encode())
    return records


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


# -- children -----------------------------------------------------------------


def _measure(trace: bool, build: Any) -> dict[str, int]:
    """Growth caused by `build()` while its result is held: RSS, or tracemalloc when `trace`."""
    gc.collect()
    if trace:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = rss_bytes()
    held = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] if trace else rss_bytes()
    if trace:
        tracemalloc.stop()
    count = len(held)
    del held
    return {"bytes": after - before, "count": count}


def _child_models(sdk: str, trace: bool) -> dict[str, int]:
    records = wire_records(MODELS)
    if sdk == "ours":
        from stablebrowse_async import _json
        from stablebrowse_async._convert import from_wire
        from stablebrowse_async.types import Task

        from_wire(_json.loads(records[0]), Task)  # warm: converter hooks, caches

        def build() -> list[Any]:
            return [from_wire(_json.loads(raw), Task) for raw in records]

    else:
        from stablebrowse.types import Task as OfficialTask

        OfficialTask.from_json(json.loads(records[0]))

        def build() -> list[Any]:
            return [OfficialTask.from_json(json.loads(raw)) for raw in records]

    return _measure(trace, build)


def _requests(count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {"end_user_id": f"user-{i % 500}", "task": f"benchmark task #{i}: read the page"}


async def _fanout_state(count: int, trace: bool) -> dict[str, Any]:
    from stablebrowse_async import AsyncClient, PollSchedule, Progress

    with EmulatorProcess(seed=SEED, durations=(600.0, 600.0), pending_for=0.1) as emu:
        async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=0) as client:
            await client.tasks.list(limit=1)  # open the pool before the baseline
            submitted = 0
            all_in = asyncio.Event()

            def on_progress(progress: Progress) -> None:
                nonlocal submitted
                submitted = progress.submitted
                if progress.submitted + progress.failed >= count:
                    all_in.set()

            gc.collect()
            if trace:
                tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0] if trace else rss_bytes()
            started = time.perf_counter()
            batch = client.tasks.run_many(
                _requests(count),
                concurrency=64,
                max_in_flight=count,
                poll_interval=PollSchedule(),
                poll_timeout=3600,
                on_progress=on_progress,
            )
            consumer = asyncio.ensure_future(batch.__anext__())
            waiter = asyncio.ensure_future(all_in.wait())
            # Bounded: all submitted, or the batch ended early (an error), or 10 minutes.
            await asyncio.wait([waiter, consumer], timeout=600, return_when="FIRST_COMPLETED")
            waiter.cancel()
            submit_s = time.perf_counter() - started
            gc.collect()
            grown = (tracemalloc.get_traced_memory()[0] if trace else rss_bytes()) - base
            engine = _engine_bytes(tracemalloc.take_snapshot()) if trace else 0
            if trace:
                tracemalloc.stop()
            consumer.cancel()
            await asyncio.wait([consumer])
            await batch.aclose()
    return {
        "bytes": grown,
        "engine_bytes": engine,
        "count": submitted,
        "submit_s": round(submit_s, 2),
    }


def _engine_bytes(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes allocated by the fan-out engine itself (`_polling.py`: entries, heap items).

    The rest of an in-flight task's memory is its data: the request it was
    given and the submission record (`Task`, its strings and datetimes),
    which the engine keeps for the outcome and for `TaskTimeoutError`.
    """
    engine = snapshot.filter_traces([tracemalloc.Filter(True, "*stablebrowse_async/_polling.py")])
    return sum(stat.size for stat in engine.statistics("filename"))


def _child(argv: Sequence[str]) -> int:
    kind, option, trace = argv[0], argv[1], argv[2] == "trace"
    if kind == "models":
        result: dict[str, Any] = _child_models(option, trace)
    else:
        result = asyncio.run(_fanout_state(int(option), trace))
    print(json.dumps(result))
    return 0


def _spawn(*args: str) -> dict[str, Any]:
    return run_child(__file__, ["--child", *args], timeout=900)


# -- the benchmark ------------------------------------------------------------


def run(quick: bool, include_fanout: bool = True) -> dict[str, Any]:
    """Run the benchmark; return its figures as a dict."""
    in_flight = 2_000 if quick else 10_000
    models: dict[str, dict[str, float]] = {}
    for sdk in ("ours", "official"):
        rss = _spawn("models", sdk, "rss")
        traced = _spawn("models", sdk, "trace")
        models[sdk] = {
            "rss_bytes_per_task": round(rss["bytes"] / rss["count"], 1),
            "traced_bytes_per_task": round(traced["bytes"] / traced["count"], 1),
        }
    figures: dict[str, Any] = {
        "benchmark": "memory",
        "mode": "quick" if quick else "full",
        "models_held": MODELS,
        "models": models,
        "ratio_models_traced_ours_vs_official": round(
            models["ours"]["traced_bytes_per_task"] / models["official"]["traced_bytes_per_task"],
            2,
        ),
        "ratio_models_rss_ours_vs_official": round(
            models["ours"]["rss_bytes_per_task"] / models["official"]["rss_bytes_per_task"], 2
        ),
    }
    if include_fanout:
        rss = _spawn("fanout", str(in_flight), "rss")
        traced = _spawn("fanout", str(in_flight), "trace")
        figures["fanout"] = {
            "in_flight": in_flight,
            "submitted": rss["count"],
            "submit_s": rss["submit_s"],
            "rss_growth_mb": round(rss["bytes"] / 1e6, 1),
            "rss_bytes_per_task": round(rss["bytes"] / max(1, rss["count"]), 1),
            "traced_bytes_per_task": round(traced["bytes"] / max(1, traced["count"]), 1),
            "engine_bytes_per_task": round(traced["engine_bytes"] / max(1, traced["count"]), 1),
        }
    return figures


def report(figures: dict[str, Any]) -> None:
    models = figures["models"]
    print(f"memory ({figures['mode']}, seed {SEED})")
    print(f"  {figures['models_held']} Task models held, bytes per task (tracemalloc / RSS):")
    print(
        f"    stablebrowse_async (attrs + cattrs)   {models['ours']['traced_bytes_per_task']:>9.0f}"
        f" / {models['ours']['rss_bytes_per_task']:>9.0f}"
    )
    print(
        f"    stablebrowse official (dataclass+raw) {models['official']['traced_bytes_per_task']:>9.0f}"
        f" / {models['official']['rss_bytes_per_task']:>9.0f}"
    )
    print(
        f"    ours / official = {figures['ratio_models_traced_ours_vs_official']:.2f}x (tracemalloc), "
        f"{figures['ratio_models_rss_ours_vs_official']:.2f}x (RSS); lower is better"
    )
    fanout = figures.get("fanout")
    if fanout:
        print(
            f"  run_many with {fanout['in_flight']} tasks in flight "
            f"(submitted {fanout['submitted']} in {fanout['submit_s']} s):"
        )
        print(
            f"    client growth {fanout['rss_growth_mb']} MB RSS; per task "
            f"{fanout['traced_bytes_per_task']:.0f} B tracemalloc, "
            f"{fanout['rss_bytes_per_task']:.0f} B RSS"
        )
        print(
            f"    of which the engine's own state (entry, heap item): "
            f"{fanout['engine_bytes_per_task']:.0f} B; the rest is the request and the "
            "submission record kept for the outcome"
        )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return _child(argv[1:])
    return run_main(__doc__, "memory.py", run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
