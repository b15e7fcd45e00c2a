"""`make demo`: a batch of ~200 tasks through the `stablebrowse batch` code path, offline.

No API key and no network: the StableBrowse emulator runs in this process on
127.0.0.1 (real clock, tasks take 0.5-3 s), `AsyncClient` talks to it over
HTTP like it would to the real API, and the CLI's batch runner
(`stablebrowse_async._cli.batch.run_batch`, the function behind
``stablebrowse batch``) streams `scripts/demo_tasks.jsonl` through
`client.tasks.run_many` with the progress bar. Results land in
`demo-output/results.jsonl`; a summary and a few sample results follow.
Task texts, results and errors are shown as inert text (`_cli.safe`), as
the CLI shows them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from stablebrowse_async import AsyncClient, PollSchedule
from stablebrowse_async._cli import safe
from stablebrowse_async._cli.batch import BatchStats, run_batch
from stablebrowse_async.testing import Emulator

ROOT = Path(__file__).resolve().parent.parent
TASKS = Path(__file__).resolve().with_name("demo_tasks.jsonl")
OUT = ROOT / "demo-output" / "results.jsonl"
DEMO_POLLS = PollSchedule(first=0.5, factor=1.3, max_interval=1.0, jitter=0.1)


def write_default_tasks(path: Path, count: int = 200) -> None:
    """Recreate a task file if the shipped one is missing."""
    users = ["alice", "bob", "carol", "dave"]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            text = f"Find the top story on Hacker News (#{i})"
            if i % 40 == 7:
                text += " [[fail]]"
            handle.write(json.dumps({"end_user_id": users[i % 4], "task": text}) + "\n")


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest-rank; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[rank]


def short(value: Any, width: int = 70) -> Text:
    """A result or error on one line, cut to `width`, as inert text (results come from web pages)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return safe.text(" ".join(str(text).split()), limit=width)


def shown_path(path: Path) -> str:
    """`path` relative to the repository when it is inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def summary_table(
    stats: BatchStats,
    durations: list[float],
    wall: float,
    created: int,
    received: Counter[str],
) -> Table:
    """The demo's summary: counts, failure kinds, duration percentiles, requests served."""
    summary = Table(title="Summary", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    summary.add_row("tasks in file", str(stats.total))
    summary.add_row("completed", Text(str(stats.completed), "green"))
    kinds = ", ".join(f"{kind} {n}" for kind, n in stats.by_error.most_common())
    summary.add_row(
        "failed",
        safe.compose(
            "{failed}{kinds}",
            failed=Text(str(stats.failed), "red"),
            kinds=f" ({kinds})" if kinds else "",
        ),
    )
    summary.add_row("task duration p50", f"{percentile(durations, 0.50):.2f} s")
    summary.add_row("task duration p95", f"{percentile(durations, 0.95):.2f} s")
    summary.add_row("batch wall time", f"{stats.wall_seconds:.2f} s")
    summary.add_row("demo wall time", f"{wall:.2f} s")
    summary.add_row("tasks created on the emulator", str(created))
    summary.add_row(
        "requests the emulator received",
        safe.compose(
            "{total} ({each})",
            total=sum(received.values()),
            each=", ".join(f"{k} {v}" for k, v in sorted(received.items())),
        ),
    )
    return summary


def samples_table(records: list[dict[str, Any]]) -> Table:
    """A few outcomes: two structured, three plain, two failed, in line order."""
    samples = Table(title="Sample results", title_justify="left")
    for column in ("line", "status", "result / error"):
        samples.add_column(column, overflow="fold")
    picks = [r for r in records if r["ok"] and r.get("structured_content")][:2]
    picks += [r for r in records if r["ok"] and not r.get("structured_content")][:3]
    picks += [r for r in records if not r["ok"]][:2]
    for r in sorted(picks, key=lambda r: r["line"]):
        shown = r.get("structured_content") or r.get("result")
        if not r["ok"]:
            shown = f"{r['error']['type']}: {r['error']['message']}"
        style = "green" if r["ok"] else "red"
        samples.add_row(str(r["line"]), safe.text(r["status"], style), short(shown))
    return samples


async def run_demo(
    console: Console,
    tasks: Path = TASKS,
    out: Path = OUT,
    *,
    durations: tuple[float, float] = (0.5, 3.0),
    polls: PollSchedule = DEMO_POLLS,
) -> int:
    """Run `tasks` (an existing JSONL file) through the batch runner against an in-process
    emulator, results into `out` (its folder must exist); print the report.

    Exit status: 0 when at least one task completed.
    """
    records: list[dict[str, Any]] = []
    console.print(
        safe.compose(
            "{title}: {tasks} → {out}",
            title=Text("StableBrowse demo", "bold"),
            tasks=tasks.name,
            out=shown_path(out),
        )
    )
    started = time.monotonic()
    async with Emulator(durations=durations) as emu:
        console.print(
            safe.compose(
                "emulator listening on {url} (in-process, no network)",
                url=safe.text(emu.url, "cyan"),
            )
        )
        async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=polls) as client:
            stats = await run_batch(
                client,
                tasks,
                out,
                concurrency=64,
                overwrite=True,
                console=console,
                on_record=records.append,
            )
        received = Counter(f"{r.method} {r.path.split('/')[2]}" for r in emu.requests)
        created = emu.tasks_created()
    wall = time.monotonic() - started

    durations_s = [r["duration_ms"] / 1000 for r in records if r.get("duration_ms") is not None]
    console.print(summary_table(stats, durations_s, wall, created, received))
    console.print(samples_table(records))
    console.print(
        safe.compose(
            "All {count} outcomes are in {out}. The same run against the real API: "
            "{command} (with STABLEBROWSE_API_KEY set).",
            count=len(records),
            out=safe.text(shown_path(out), "cyan"),
            command=Text("stablebrowse batch scripts/demo_tasks.jsonl --out results.jsonl", "bold"),
        )
    )
    return 0 if stats.completed else 1


def main() -> int:
    """`make demo`: the shipped task file (recreated if missing) into demo-output/."""
    if not TASKS.exists():
        write_default_tasks(TASKS)
    OUT.parent.mkdir(exist_ok=True)
    return asyncio.run(run_demo(Console()))


if __name__ == "__main__":
    sys.exit(main())
