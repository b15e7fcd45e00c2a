"""Sync facade overhead: sequential and threaded ``tasks.get`` on the emulator (loopback, real clock).

Compares, in the same run and against the same emulator (in its own process,
so that its CPU and the GIL it would hold do not weigh on the clients):

- ``stablebrowse_async.sync.Client``        (this SDK's blocking facade)
- ``stablebrowse.Stablebrowse``             (the official sync SDK, httpx)
- ``stablebrowse_async.AsyncClient``        (awaited in a plain loop, the floor)

and 16 threads sharing one sync Client against 16 official clients (one per
thread). Figures are calls per second; ratios are against the official SDK.
Target: the sync facade at least 1.2x the official SDK sequentially.

Reproduce::

    .venv/bin/python benchmarks/sync_overhead.py --quick   # about 10 s
    .venv/bin/python benchmarks/sync_overhead.py --full

Not a test: numbers depend on the machine; only their ratios are meaningful.
"""

from __future__ import annotations

import asyncio
import platform
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bench import SEED, EmulatorProcess, run_main, verdict
from stablebrowse import Stablebrowse

from stablebrowse_async import AsyncClient
from stablebrowse_async.sync import Client

THREADS = 16
TARGET_RATIO = 1.2


def _rate(calls: int, seconds: float) -> float:
    return calls / seconds if seconds > 0 else float("inf")


def _timed(fn: Callable[[], None], calls: int, repeats: int) -> float:
    """Best calls/s over `repeats` runs of `fn` (which makes `calls` calls)."""
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = max(best, _rate(calls, time.perf_counter() - started))
    return best


def _sequential(emu: EmulatorProcess, task_id: str, n: int, repeats: int) -> dict[str, float]:
    with Client(emu.api_key, base_url=emu.url, max_retries=0) as sync_client:
        get = sync_client.tasks.get
        get(task_id)  # warm up: loop thread, connection

        def run_sync() -> None:
            for _ in range(n):
                get(task_id)

        sync_rate = _timed(run_sync, n, repeats)

    official = Stablebrowse(api_key=emu.api_key, base_url=emu.url)
    try:
        official.tasks.get(task_id)

        def run_official() -> None:
            for _ in range(n):
                official.tasks.get(task_id)

        official_rate = _timed(run_official, n, repeats)
    finally:
        official._http.close()

    async def run_async() -> float:
        async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=0) as client:
            await client.tasks.get(task_id)
            best = 0.0
            for _ in range(repeats):
                started = time.perf_counter()
                for _ in range(n):
                    await client.tasks.get(task_id)
                best = max(best, _rate(n, time.perf_counter() - started))
            return best

    async_rate = asyncio.run(run_async())
    return {"sync": sync_rate, "official": official_rate, "async": async_rate}


def _thread_hop_us(emu: EmulatorProcess, n: int, repeats: int) -> float:
    """µs per blocking call of a coroutine that does nothing, through the sync Client's portal.

    This is the price of the design (one event-loop thread behind a blocking
    portal): every sync call wakes that thread and waits to be woken back.
    """

    async def nothing() -> None:
        return None

    with Client(emu.api_key, base_url=emu.url) as client:
        portal = client._portal

        def hops() -> None:
            for _ in range(n):
                portal.call(nothing)

        hops()
        return 1e6 / _timed(hops, n, repeats)


def _threaded(emu: EmulatorProcess, task_id: str, n: int, repeats: int) -> dict[str, float]:
    per_thread = max(1, n // THREADS)
    total = per_thread * THREADS

    def in_threads(make_worker: Callable[[int], Callable[[], object]]) -> float:
        workers = [make_worker(i) for i in range(THREADS)]
        best = 0.0
        for _ in range(repeats):
            barrier = threading.Barrier(THREADS + 1)

            def body(worker: Callable[[], object], barrier: threading.Barrier) -> None:
                barrier.wait()
                for _ in range(per_thread):
                    worker()

            with ThreadPoolExecutor(THREADS) as pool:
                futures = [pool.submit(body, w, barrier) for w in workers]
                barrier.wait()
                started = time.perf_counter()
                for future in futures:
                    future.result()
                best = max(best, _rate(total, time.perf_counter() - started))
        return best

    with Client(emu.api_key, base_url=emu.url, max_retries=0) as shared:
        shared.tasks.get(task_id)
        sync_rate = in_threads(lambda _: partial(shared.tasks.get, task_id))

    officials = [Stablebrowse(api_key=emu.api_key, base_url=emu.url) for _ in range(THREADS)]
    try:
        for official in officials:
            official.tasks.get(task_id)
        official_rate = in_threads(lambda i: partial(officials[i].tasks.get, task_id))
    finally:
        for official in officials:
            official._http.close()
    return {"sync_shared": sync_rate, "official_per_thread": official_rate}


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark; return its figures (calls/s and ratios) as a dict."""
    random.seed(SEED)
    n = 300 if quick else 3000
    repeats = 3 if quick else 5
    with EmulatorProcess(durations=(0.05, 0.2), seed=SEED) as emu:
        with Client(emu.api_key, base_url=emu.url, poll_interval=0.02) as setup:
            task_id = setup.tasks.run(end_user_id="bench", task="benchmark subject").task_id
        sequential = _sequential(emu, task_id, n, repeats)
        threaded = _threaded(emu, task_id, n, repeats)
        hop_us = _thread_hop_us(emu, n, repeats)
    ratio = sequential["sync"] / sequential["official"]
    return {
        "benchmark": "sync_overhead",
        "mode": "quick" if quick else "full",
        "seed": SEED,
        "calls_per_run": n,
        "repeats": repeats,
        "threads": THREADS,
        "python": platform.python_version(),
        "sequential_calls_per_s": {k: round(v, 1) for k, v in sequential.items()},
        "threaded_calls_per_s": {k: round(v, 1) for k, v in threaded.items()},
        "ratio_sync_vs_official": round(ratio, 2),
        "ratio_async_vs_sync": round(sequential["async"] / sequential["sync"], 2),
        "ratio_threaded_sync_vs_official": round(
            threaded["sync_shared"] / threaded["official_per_thread"], 2
        ),
        "thread_hop_us": round(hop_us, 1),
        "target_ratio_sync_vs_official": TARGET_RATIO,
        "target_met": ratio >= TARGET_RATIO,
    }


def report(figures: dict[str, Any]) -> None:
    """Print the calls/s table and the ratios for people."""
    seq, thr = figures["sequential_calls_per_s"], figures["threaded_calls_per_s"]
    print(
        f"sync_overhead ({figures['mode']}, seed {SEED}, N={figures['calls_per_run']}, "
        f"best of {figures['repeats']}, Python {figures['python']})"
    )
    print("sequential tasks.get, calls/s:")
    print(f"  stablebrowse_async.sync.Client  {seq['sync']:>10.1f}")
    print(f"  stablebrowse (official, httpx)  {seq['official']:>10.1f}")
    print(f"  AsyncClient (awaited in a loop) {seq['async']:>10.1f}")
    print(
        f"  sync / official = {figures['ratio_sync_vs_official']:.2f}x "
        f"(target >= {TARGET_RATIO}x: {verdict(figures['target_met'])}); "
        f"async / sync = {figures['ratio_async_vs_sync']:.2f}x"
    )
    per_call = {name: 1e6 / rate for name, rate in seq.items()}
    print(
        f"  µs per call: sync {per_call['sync']:.0f} = async {per_call['async']:.0f} + thread hop "
        f"(portal.call of a no-op coroutine: {figures['thread_hop_us']:.0f} µs); "
        f"official {per_call['official']:.0f}"
    )
    print(f"{THREADS} threads, calls/s:")
    print(f"  one shared sync Client          {thr['sync_shared']:>10.1f}")
    print(f"  one official client per thread  {thr['official_per_thread']:>10.1f}")
    print(f"  shared sync / official = {figures['ratio_threaded_sync_vs_official']:.2f}x")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--quick`` (default), ``--full``, ``--json``."""
    return run_main(__doc__, "sync_overhead.py", run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
