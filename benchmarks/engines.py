"""Past one machine: the same tasks through Ray Data and Celery against one process's ``run_many``.

The emulator runs in its own process on the real clock. N tasks (full 1 000,
quick 200), each with a seeded duration uniform in 1-3 s written into its text
(``[[duration=...]]``), run four ways against the same emulator:

- ``run_many``: one `AsyncClient` in this process, ``concurrency=64``;
- Ray Data: ``run_dataset(ds, actors=2, batch_size=64)`` on a local
  ``ray.init(num_cpus=2)`` (start-up timed apart; actor start-up is inside);
- Celery, batches: a ``celery worker --pool=prefork -c 2`` subprocess
  (filesystem broker, no server), the tasks sent as ``stablebrowse.run_batch``
  chunks of 64; worker start-up excluded;
- Celery, one message per task: ``stablebrowse.run``, for a smaller N (full
  100, quick 20): each task holds a child for its whole life, so 2 children
  run 2 tasks at a time.

Figures: wall time, ratio to ``run_many``, and requests per task (every
request the emulator recorded / tasks), with its ratio to ``run_many``.

Reproduce::

    .venv/bin/python benchmarks/engines.py --quick   # 200 tasks, ~2 minutes
    .venv/bin/python benchmarks/engines.py --full    # 1 000 tasks
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _bench import HERE, EmulatorProcess, run_main

from stablebrowse_async import AsyncClient

CHUNK = 64
START_BOUND = 120.0


def _requests(n: int, tag: str) -> list[dict[str, Any]]:
    rng = random.Random(f"engines:{tag}:{n}")
    return [
        {"end_user_id": f"user{i % 16}", "task": f"{tag} {i} [[duration={rng.uniform(1, 3):.2f}]]"}
        for i in range(n)
    ]


def _per_task(emu: EmulatorProcess, n: int) -> dict[str, Any]:
    stats = emu.stats()
    return {
        "requests": stats["requests"],
        "requests_per_task": round(stats["requests"] / n, 2),
        "posts": stats["task_posts"],
    }


def _run_many(emu: EmulatorProcess, n: int) -> dict[str, Any]:
    async def go() -> int:
        async with AsyncClient(emu.api_key, base_url=emu.url) as client:
            done = 0
            async with client.tasks.run_many(_requests(n, "run_many"), concurrency=64) as results:
                async for outcome in results:
                    done += outcome.ok
            return done

    emu.clear()
    started = time.perf_counter()
    completed = asyncio.run(go())
    return {"wall_s": round(time.perf_counter() - started, 2), "completed": completed} | _per_task(
        emu, n
    )


def _ray(emu: EmulatorProcess, n: int) -> dict[str, Any]:
    import ray
    import ray.data

    from stablebrowse_async.contrib.ray import run_dataset

    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    init_s = time.perf_counter() - started
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        emu.clear()
        started = time.perf_counter()
        ds = ray.data.from_items(_requests(n, "ray"))
        rows = run_dataset(ds, actors=2, batch_size=64, api_key=emu.api_key, base_url=emu.url)
        completed = sum(row["status"] == "completed" for row in rows.take_all())
        wall = time.perf_counter() - started
    finally:
        ray.shutdown()
    return {
        "wall_s": round(wall, 2),
        "ray_init_s": round(init_s, 2),
        "completed": completed,
    } | _per_task(emu, n)


class _Worker:
    """A ``celery worker --pool=prefork -c 2`` subprocess on a filesystem broker in `home`."""

    def __init__(self, home: Path, emu: EmulatorProcess) -> None:
        self.home = home
        env = {
            **os.environ,
            "SB_CELERY_HOME": str(home),
            "STABLEBROWSE_API_KEY": emu.api_key,
            "STABLEBROWSE_BASE_URL": emu.url,
        }
        self.log = home / "worker.log"
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "celery", "-A", "_celery_bench_app", "worker"),
                    *("--pool=prefork", "-c", "2", "--loglevel=WARNING"),
                    *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                ],
                cwd=HERE,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, app: Any) -> None:
        """Ready once a ping task (an empty batch) comes back."""
        from stablebrowse_async.contrib.celery import BATCH_TASK_NAME

        app.send_task(BATCH_TASK_NAME, kwargs={"requests": []}).get(timeout=START_BOUND)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(START_BOUND)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(START_BOUND)


def _celery(emu: EmulatorProcess, n: int, n_single: int) -> dict[str, Any]:
    from stablebrowse_async.contrib.celery import BATCH_TASK_NAME, TASK_NAME

    with tempfile.TemporaryDirectory(prefix="sb-celery-bench-") as folder:
        home = Path(folder)
        os.environ["SB_CELERY_HOME"] = str(home)
        sys.path.insert(0, str(HERE))
        import _celery_bench_app

        app = _celery_bench_app.app
        worker = _Worker(home, emu)
        try:
            worker.wait_ready(app)
            figures: dict[str, Any] = {}
            emu.clear()
            started = time.perf_counter()
            requests = _requests(n, "celery-batch")
            chunks = [
                app.send_task(BATCH_TASK_NAME, kwargs={"requests": requests[i : i + CHUNK]})
                for i in range(0, n, CHUNK)
            ]
            outcomes = [o for c in chunks for o in c.get(timeout=START_BOUND * 5, interval=0.05)]
            figures["batch"] = {
                "wall_s": round(time.perf_counter() - started, 2),
                "completed": sum(o["status"] == "completed" for o in outcomes),
                "chunk": CHUNK,
            } | _per_task(emu, n)
            emu.clear()
            started = time.perf_counter()
            single = [
                app.send_task(TASK_NAME, kwargs=r) for r in _requests(n_single, "celery-single")
            ]
            ones = [r.get(timeout=START_BOUND * 5, interval=0.05) for r in single]
            figures["single"] = {
                "tasks": n_single,
                "wall_s": round(time.perf_counter() - started, 2),
                "completed": sum(o["status"] == "completed" for o in ones),
            } | _per_task(emu, n_single)
            return figures
        finally:
            worker.stop()


def run(quick: bool) -> dict[str, Any]:
    """Run the four ways; the figures as a dict."""
    n, n_single = (200, 20) if quick else (1000, 100)
    with EmulatorProcess(durations=[1, 3], seed=11) as emu:
        base = _run_many(emu, n)
        ray_figures = _ray(emu, n)
        celery_figures = _celery(emu, n, n_single)
    for figures in (ray_figures, celery_figures["batch"]):
        figures["wall_ratio"] = round(figures["wall_s"] / base["wall_s"], 2)
        figures["requests_ratio"] = round(
            figures["requests_per_task"] / base["requests_per_task"], 2
        )
    single = celery_figures["single"]
    single["requests_ratio"] = round(single["requests_per_task"] / base["requests_per_task"], 2)
    return {
        "tasks": n,
        "run_many": base,
        "ray": ray_figures,
        "celery_batch": celery_figures["batch"],
        "celery_single": single,
    }


def report(figures: dict[str, Any]) -> None:
    """Print the figures for people."""
    n = figures["tasks"]
    base = figures["run_many"]
    print(f"engines: {n} tasks of 1-3 s each (seeded), emulator in its own process")
    print(
        f"  run_many, 1 process        {base['wall_s']:7.2f} s   "
        f"{base['requests_per_task']:.2f} requests/task   ({base['completed']} completed)"
    )
    ray_f = figures["ray"]
    print(
        f"  Ray Data, 2 actors         {ray_f['wall_s']:7.2f} s   "
        f"{ray_f['requests_per_task']:.2f} requests/task   "
        f"wall {ray_f['wall_ratio']:.2f}x, requests {ray_f['requests_ratio']:.2f}x of run_many "
        f"({ray_f['completed']} completed; ray.init {ray_f['ray_init_s']:.1f} s not included)"
    )
    batch = figures["celery_batch"]
    print(
        f"  Celery, 2 children, run_batch of {batch['chunk']}  {batch['wall_s']:7.2f} s   "
        f"{batch['requests_per_task']:.2f} requests/task   "
        f"wall {batch['wall_ratio']:.2f}x, requests {batch['requests_ratio']:.2f}x "
        f"({batch['completed']} completed)"
    )
    single = figures["celery_single"]
    print(
        f"  Celery, 2 children, one message per task: {single['tasks']} tasks in "
        f"{single['wall_s']:.2f} s ({single['wall_s'] / single['tasks']:.2f} s/task), "
        f"{single['requests_per_task']:.2f} requests/task "
        f"({single['requests_ratio']:.2f}x of run_many; {single['completed']} completed)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--quick`` (default), ``--full``, ``--json``."""
    return run_main(__doc__, "engines.py", run, report, argv)


if __name__ == "__main__":
    raise SystemExit(main())
