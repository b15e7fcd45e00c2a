"""Fan-out: ``run_many`` against the official SDK's ``tasks.run`` in 64 threads, and at 10 000 tasks.

The emulator runs in its own process on the real clock. Every task's duration
is drawn (seeded) uniformly from 1-5 s and written into its text as a
``[[duration=...]]`` directive, so both SDKs run exactly the same workload.

(a) N_a tasks (full 1 000, quick 200): ``client.tasks.run_many(requests,
    concurrency=64)`` with the default `PollSchedule`, against the official
    ``Stablebrowse.tasks.run`` (poll_interval 2.0, its default) in a
    ``ThreadPoolExecutor(64)`` sharing one client. Figure: wall-time ratio
    (target >= 10x at 1 000 tasks; the ratio grows with N, since 64 threads
    run the tasks in waves while ``run_many`` overlaps them all).
(b) N_b tasks (full 10 000, quick 2 000) with ``run_many`` under several
    schedules. For each: wall time against the floor (the submit phase plus
    the longest task), polls per task (GETs the emulator recorded / tasks it
    created), detection lag (the moment the outcome reached the consumer minus
    the task's completion time, which is the terminal record's ``updatedAt`` =
    createdAt + duration on the emulator's clock), and peak RSS growth of the
    client process (sampled every 50 ms; each batch runs in a fresh interpreter
    so that one batch's heap does not hide the next one's growth), and the
    client's CPU time per task (``time.process_time``; the emulator is another
    process), which is what the hot-path work lowers.
    Targets: wall <= 1.25x floor; <= 3 polls/task; median lag <= 0.5 s; <= 100 MB RSS.

Reproduce::

    .venv/bin/python benchmarks/fanout.py --quick   # 200 and 2 000 tasks, ~60 s
    .venv/bin/python benchmarks/fanout.py --full    # 1 000 and 10 000 tasks, several minutes
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _bench import (
    SEED,
    EmulatorProcess,
    median,
    rss_bytes,
    run_child,
    run_main,
    verdict,
)
from stablebrowse import Stablebrowse

from stablebrowse_async import AsyncClient, PollSchedule, Progress

CONCURRENCY = 64
DURATIONS = (1.0, 5.0)
TARGET_SPEEDUP = 10.0
TARGET_FLOOR = 1.25
TARGET_POLLS = 3.0
TARGET_LAG = 0.5
TARGET_RSS_MB = 100.0
# name -> schedule; "default" is PollSchedule().
SCHEDULES: dict[str, PollSchedule] = {
    "default": PollSchedule(),
    "first1.5_every1": PollSchedule(first=1.5, factor=1.0, max_interval=1.0, jitter=0.1),
    "first1_x1.2_max2": PollSchedule(first=1.0, factor=1.2, max_interval=2.0, jitter=0.1),
    "first0.5_x1.5_max3": PollSchedule(first=0.5, factor=1.5, max_interval=3.0, jitter=0.1),
    "fixed2_like_official": PollSchedule(first=2.0, factor=1.0, max_interval=2.0, jitter=0.1),
}
QUICK_SCHEDULES = ("default", "first1.5_every1")


def workload(count: int, seed: int) -> list[dict[str, str]]:
    """`count` task requests whose durations (seeded, 1-5 s) are written in their text."""
    rng = random.Random(seed)
    return [
        {
            "end_user_id": f"user-{i % 100}",
            "task": f"bench task {i}: read the page [[duration={rng.uniform(*DURATIONS):.3f}]]",
        }
        for i in range(count)
    ]


def _duration(request: dict[str, str]) -> float:
    return float(request["task"].rsplit("[[duration=", 1)[1].rstrip("]"))


async def _run_many(
    emu: EmulatorProcess, requests: list[dict[str, str]], schedule: PollSchedule
) -> dict[str, Any]:
    """One batch through run_many; timings, lags, errors and peak RSS growth."""
    lags: list[float] = []
    errors = 0
    submitted_at: float | None = None
    base_rss = rss_bytes()
    peak_rss = base_rss

    async def sample_rss() -> None:
        nonlocal peak_rss
        for _ in range(20 * 3600):  # bounded: one hour at 50 ms
            peak_rss = max(peak_rss, rss_bytes())
            await asyncio.sleep(0.05)

    def on_progress(progress: Progress) -> None:
        nonlocal submitted_at
        if submitted_at is None and progress.submitted + progress.failed >= len(requests):
            submitted_at = time.perf_counter()

    sampler = asyncio.ensure_future(sample_rss())
    try:
        async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=schedule) as client:
            started, cpu_started = time.perf_counter(), time.process_time()
            async with client.tasks.run_many(
                requests, concurrency=CONCURRENCY, poll_timeout=120, on_progress=on_progress
            ) as batch:
                async for outcome in batch:
                    received = time.time()
                    if outcome.task is None or outcome.task.updated_at is None:
                        errors += 1
                        continue
                    lags.append(received - outcome.task.updated_at.timestamp())
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
    finally:
        sampler.cancel()
        await asyncio.wait([sampler])
    submit_phase = (submitted_at or time.perf_counter()) - started
    return {
        "wall_s": wall,
        "cpu_us_per_task": cpu / max(1, len(requests)) * 1e6,
        "submit_s": submit_phase,
        "lags": lags,
        "errors": errors,
        "peak_rss_growth_mb": (peak_rss - base_rss) / 1e6,
    }


def _official(emu: EmulatorProcess, requests: list[dict[str, str]]) -> dict[str, Any]:
    client = Stablebrowse(api_key=emu.api_key, base_url=emu.url)
    errors = 0

    def one(request: dict[str, str]) -> bool:
        try:
            client.tasks.run(
                end_user_id=request["end_user_id"],
                task=request["task"],
                poll_interval=2.0,
                poll_timeout=300,
            )
        except Exception:
            return False
        return True

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            results = list(pool.map(one, requests))
        wall = time.perf_counter() - started
    finally:
        client._http.close()
    errors = results.count(False)
    return {"wall_s": wall, "errors": errors}


def _part_a(count: int) -> dict[str, Any]:
    requests = workload(count, SEED)
    with EmulatorProcess(seed=SEED, durations=DURATIONS, pending_for=0.1) as emu:
        ours = asyncio.run(_run_many(emu, requests, PollSchedule()))
        emu.clear()
        official = _official(emu, requests)
    speedup = official["wall_s"] / ours["wall_s"]
    return {
        "tasks": count,
        "longest_task_s": round(max(map(_duration, requests)), 2),
        "run_many_wall_s": round(ours["wall_s"], 2),
        "official_threads_wall_s": round(official["wall_s"], 2),
        "errors": {"run_many": ours["errors"], "official": official["errors"]},
        "speedup": round(speedup, 2),
        "target": TARGET_SPEEDUP,
        "target_met": speedup >= TARGET_SPEEDUP,
    }


def _part_b(count: int, names: Sequence[str]) -> dict[str, Any]:
    requests = workload(count, SEED + 1)
    longest = max(map(_duration, requests))
    results: dict[str, Any] = {}
    with EmulatorProcess(seed=SEED, durations=DURATIONS, pending_for=0.1) as emu:
        for name in names:
            emu.clear()
            figures = _spawn_b(emu, name, count)
            stats = emu.stats()
            created = max(1, stats["tasks_created"])
            floor = figures["submit_s"] + longest
            result = {
                "schedule": _describe(SCHEDULES[name]),
                "wall_s": round(figures["wall_s"], 2),
                "submit_s": round(figures["submit_s"], 2),
                "floor_s": round(floor, 2),
                "wall_vs_floor": round(figures["wall_s"] / floor, 3),
                "polls_per_task": round(stats["task_gets"] / created, 2),
                "polls_histogram": stats["polls_histogram"],
                "cpu_us_per_task": round(figures["cpu_us_per_task"]),
                "median_lag_s": round(figures["median_lag_s"], 3),
                "p90_lag_s": round(figures["p90_lag_s"], 3),
                "peak_rss_growth_mb": round(figures["peak_rss_growth_mb"], 1),
                "errors": figures["errors"],
                "tasks_created": stats["tasks_created"],
            }
            result["targets"] = {
                "wall_vs_floor": result["wall_vs_floor"] <= TARGET_FLOOR,
                "polls_per_task": result["polls_per_task"] <= TARGET_POLLS,
                "median_lag": result["median_lag_s"] <= TARGET_LAG,
                "rss": result["peak_rss_growth_mb"] <= TARGET_RSS_MB,
            }
            results[name] = result
    return {"tasks": count, "longest_task_s": round(longest, 2), "schedules": results}


def _spawn_b(emu: EmulatorProcess, name: str, count: int) -> dict[str, Any]:
    """One (b) batch in a fresh interpreter, so its peak RSS is its own."""
    return run_child(__file__, ["--child-b", name, str(count), emu.url, emu.api_key], timeout=900)


def _child_b(name: str, count: int, url: str, api_key: str) -> int:
    emu = EmulatorProcess()
    emu.url, emu.api_key = url, api_key
    figures = asyncio.run(_run_many(emu, workload(count, SEED + 1), SCHEDULES[name]))
    lags = sorted(figures.pop("lags"))
    figures["median_lag_s"] = median(lags)
    figures["p90_lag_s"] = lags[int(0.9 * (len(lags) - 1))] if lags else 0.0
    print(json.dumps(figures))
    return 0


def _describe(schedule: PollSchedule) -> str:
    return (
        f"first={schedule.first} factor={schedule.factor} "
        f"max_interval={schedule.max_interval} jitter={schedule.jitter}"
    )


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark; return its figures as a dict."""
    random.seed(SEED)
    part_a = _part_a(200 if quick else 1000)
    part_b = _part_b(2_000 if quick else 10_000, QUICK_SCHEDULES if quick else tuple(SCHEDULES))
    default = part_b["schedules"]["default"]
    return {
        "benchmark": "fanout",
        "mode": "quick" if quick else "full",
        "seed": SEED,
        "emulator": "separate process, real clock, durations 1-5 s",
        "a": part_a,
        "b": part_b,
        "targets_met": {"speedup": part_a["target_met"], **default["targets"]},
    }


def report(figures: dict[str, Any]) -> None:
    a, b = figures["a"], figures["b"]
    print(f"fanout ({figures['mode']}, seed {figures['seed']}, {figures['emulator']})")
    print(f"  (a) {a['tasks']} tasks, longest {a['longest_task_s']} s:")
    print(f"    run_many (concurrency 64, default schedule)  {a['run_many_wall_s']:>8.2f} s")
    print(
        f"    official tasks.run x 64 threads (poll 2.0 s) {a['official_threads_wall_s']:>8.2f} s"
    )
    print(
        f"    speedup {a['speedup']:.1f}x (target >= {TARGET_SPEEDUP:.0f}x at 1 000 tasks: "
        f"{verdict(a['target_met'])}); errors {a['errors']}"
    )
    print(f"  (b) {b['tasks']} tasks with run_many, longest {b['longest_task_s']} s:")
    print(
        "    schedule                 wall s  floor s  wall/floor  polls/task  "
        "lag p50  lag p90  peak RSS MB  CPU µs/task"
    )
    for name, r in b["schedules"].items():
        print(
            f"    {name:<22} {r['wall_s']:>8.2f} {r['floor_s']:>8.2f} {r['wall_vs_floor']:>11.2f} "
            f"{r['polls_per_task']:>11.2f} {r['median_lag_s']:>8.2f} {r['p90_lag_s']:>8.2f} "
            f"{r['peak_rss_growth_mb']:>12.1f} {r['cpu_us_per_task']:>12}"
        )
    default = b["schedules"]["default"]["targets"]
    print(
        f"    targets (default schedule): wall <= {TARGET_FLOOR}x floor "
        f"{verdict(default['wall_vs_floor'])}; <= {TARGET_POLLS:.0f} polls/task "
        f"{verdict(default['polls_per_task'])}; median lag <= {TARGET_LAG} s "
        f"{verdict(default['median_lag'])}; RSS <= {TARGET_RSS_MB:.0f} MB {verdict(default['rss'])}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child-b"]:
        return _child_b(argv[1], int(argv[2]), argv[3], argv[4])
    return run_main(__doc__, "fanout.py", run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
