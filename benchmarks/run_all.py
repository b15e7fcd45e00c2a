"""Run every benchmark, print every ratio, and write ``benchmarks/RESULTS.md``.

Usage::

    .venv/bin/python benchmarks/run_all.py --mode quick   # < 5 minutes on 2 cores
    .venv/bin/python benchmarks/run_all.py --mode full    # the sizes the targets are stated for
    make bench                                            # BENCH_MODE=quick by default

The hand-written "## Hot path: proposals" section of an existing RESULTS.md
is kept as is; everything above it is rewritten from this run's figures.
"""

from __future__ import annotations

import argparse
import importlib
import io
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from pathlib import Path
from types import ModuleType
from typing import Any

from _bench import HERE, machine, reproduce, verdict

BENCHMARKS = (
    "import_time",
    "overhead",
    "model_build",
    "memory",
    "fanout",
    "sync_overhead",
    "engines",
)
RESULTS = HERE / "RESULTS.md"
PROPOSALS_HEADING = "## Hot path: what changed, before and after"


def _load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _run_one(name: str, quick: bool) -> tuple[dict[str, Any] | None, str, float]:
    """(figures or None, printed report or why not, seconds)."""
    module = _load(name)
    if module is None or not hasattr(module, "run"):
        return None, "not available (module missing or without run())", 0.0
    started = time.perf_counter()
    try:
        figures: dict[str, Any] = module.run(quick)
    except Exception:
        return None, "failed:\n" + traceback.format_exc(limit=8), time.perf_counter() - started
    elapsed = time.perf_counter() - started
    report: Callable[[dict[str, Any]], None] | None = getattr(module, "report", None)
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        if report is not None:
            report(figures)
        else:
            for key, value in figures.items():
                print(f"  {key}: {value}")
        print(reproduce(f"{name}.py", quick))
    return figures, buffer.getvalue(), elapsed


# -- verdicts -----------------------------------------------------------------


def _targets(results: dict[str, dict[str, Any] | None]) -> list[tuple[str, str, str, str]]:
    """(target, measured, met?, gap and cause) rows for the summary table."""
    rows: list[tuple[str, str, str, str]] = []
    imp = results.get("import_time")
    if imp:
        ms = imp["median_ms"]
        pkgs = dict(imp["self_ms_by_package"]["ours_client"])
        cause = (
            f"{ms['ours_client'] - ms['official']:.0f} ms over: aiohttp (self time "
            f"{pkgs.get('aiohttp', 0):.0f} ms, plus asyncio, yarl, multidict, frozenlist) costs "
            f"more than the whole official import ({ms['official']:.0f} ms, httpx without "
            "asyncio); our own modules take "
            f"{pkgs.get('stablebrowse_async', 0):.0f} ms. Bare `import stablebrowse_async` is lazy "
            f"({imp['ratio_package_vs_official']:.2f}x)."
        )
        rows.append(
            (
                "import AsyncClient <= 1.0x official",
                f"{imp['ratio_client_vs_official']:.2f}x "
                f"({ms['ours_client']:.0f} ms vs {ms['official']:.0f} ms)",
                verdict(imp["target_met"]),
                "" if imp["target_met"] else cause,
            )
        )
    over = results.get("overhead")
    if over:
        m = over["medians"]
        cause = (
            "the client is CPU-bound on loopback (the emulator answers in well under a "
            "millisecond), so calls/s follows client CPU per call: the SDK spends "
            f"{m['sdk_conc_cpu_us']:.0f} vs {m['raw_conc_cpu_us']:.0f} µs (concurrent) and "
            f"{m['sdk_seq_cpu_us']:.0f} vs {m['raw_seq_cpu_us']:.0f} µs (sequential). Most of "
            "the gap is building the typed `Task` (cattrs), which raw aiohttp does not do"
            + (
                f" (measured split, concurrent: transport {over['cpu_us_transport_share_conc']:+.0f}"
                f" µs, model {over['cpu_us_model_share_conc']:+.0f} µs for a "
                f"{m.get('record_steps', '?')}-step record)"
                if "cpu_us_model_share_conc" in over
                else "; the transport itself is within a few µs of raw aiohttp"
            )
            + ". See the hot-path section."
        )
        rows.append(
            (
                "tasks.get calls/s >= 0.90x raw aiohttp (sequential, 64 concurrent)",
                f"{over['ratio_seq_sdk_vs_raw']:.2f}x, {over['ratio_conc_sdk_vs_raw']:.2f}x",
                verdict(over["target_met"]),
                "" if over["target_met"] else cause,
            )
        )
    fan = results.get("fanout")
    if fan:
        a = fan["a"]
        rows.append(
            (
                "run_many vs official tasks.run in 64 threads >= 10x (1 000 tasks)",
                f"{a['speedup']:.1f}x at {a['tasks']} tasks",
                verdict(a["target_met"]),
                ""
                if a["target_met"]
                else (
                    f"{a['tasks']} tasks is less than 1 000: with 64 threads the official SDK "
                    "runs them in few waves, so the ratio is smaller; run --mode full"
                    if a["tasks"] < 1000
                    else f"run_many's {a['run_many_wall_s']} s is the longest task "
                    f"({a['longest_task_s']} s) plus submission plus the last tasks' detection "
                    f"lag (default schedule, see below); official {a['official_threads_wall_s']} s"
                ),
            )
        )
        b = fan["b"]
        d = b["schedules"]["default"]
        t = d["targets"]
        rows.append(
            (
                f"{b['tasks']} tasks: wall <= 1.25x floor",
                f"{d['wall_vs_floor']:.2f}x ({d['wall_s']} s vs {d['floor_s']} s)",
                verdict(t["wall_vs_floor"]),
                ""
                if t["wall_vs_floor"]
                else "the last tasks are detected one poll interval late (see lag)",
            )
        )
        rows.append(
            (
                f"{b['tasks']} tasks: <= 3 polls/task",
                f"{d['polls_per_task']:.2f}",
                verdict(t["polls_per_task"]),
                ""
                if t["polls_per_task"]
                else "tasks of 4-5 s need a 4th poll with first=1.0, factor=1.3",
            )
        )
        rows.append(
            (
                f"{b['tasks']} tasks: median detection lag <= 0.5 s",
                f"{d['median_lag_s']:.2f} s (p90 {d['p90_lag_s']:.2f} s)",
                verdict(t["median_lag"]),
                ""
                if t["median_lag"]
                else "a task ends on average half a poll interval before the poll that sees "
                "it; by 2-4 s the default interval is 1.3-2.2 s. Fewer polls and lower lag "
                "trade against each other: see the schedule table.",
            )
        )
        rows.append(
            (
                f"{b['tasks']} tasks: peak RSS growth <= 100 MB",
                f"{d['peak_rss_growth_mb']:.1f} MB",
                verdict(t["rss"]),
                "",
            )
        )
    sync = results.get("sync_overhead")
    if sync and "ratio_sync_vs_official" in sync:
        rows.append(
            (
                "sync facade >= 1.2x official (sequential)",
                f"{sync['ratio_sync_vs_official']:.2f}x",
                verdict(bool(sync.get("target_met"))),
                ""
                if sync.get("target_met")
                else "every sync call wakes the client's event-loop thread and waits to be "
                f"woken back: {sync.get('thread_hop_us', 0):.0f} µs per call measured "
                "(portal.call of a no-op), the price of one portal in front of one loop; the "
                "official SDK does its I/O on the calling thread. 16 threads sharing one sync "
                f"Client: {sync['ratio_threaded_sync_vs_official']:.2f}x official.",
            )
        )
    return rows


# -- RESULTS.md ---------------------------------------------------------------


def _kept_proposals() -> str:
    if RESULTS.exists():
        text = RESULTS.read_text(encoding="utf-8")
        at = text.find(PROPOSALS_HEADING)
        if at >= 0:
            return text[at:].rstrip() + "\n"
    return f"{PROPOSALS_HEADING}\n\n(none written yet)\n"


def write_results(
    mode: str,
    results: dict[str, dict[str, Any] | None],
    reports: dict[str, str],
    seconds: dict[str, float],
) -> None:
    facts = machine()
    lines = [
        "# Benchmark results",
        "",
        f"Written by `benchmarks/run_all.py --mode {mode}` on {facts['date']}. "
        "Only ratios measured in the same run are meaningful; absolute figures depend "
        "on the machine. How to read them: `benchmarks/README.md`.",
        "",
        "## Machine",
        "",
        f"- CPU: {facts['cpu']}, {facts['cores']} cores; {facts['os']}",
        f"- Python: {facts['python']}",
        "- Packages: " + ", ".join(f"{k} {v}" for k, v in facts["packages"].items()),
        "",
        "## Targets",
        "",
        "| target | measured | verdict | gap and cause |",
        "|---|---|---|---|",
    ]
    for target, measured, met, cause in _targets(results):
        lines.append(f"| {target} | {measured} | {met} | {cause} |")
    lines += ["", "## Figures", ""]
    for name in BENCHMARKS:
        took = f" ({seconds[name]:.0f} s)" if seconds.get(name) else ""
        lines += [f"### {name}{took}", "", "```", reports[name].rstrip(), "```", ""]
    fan = results.get("fanout")
    if fan:
        lines += [
            "### fanout: schedules compared",
            "",
            "| schedule | wall/floor | polls/task | median lag s | p90 lag s | polls histogram |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in fan["b"]["schedules"].items():
            lines.append(
                f"| {name} (`{r['schedule']}`) | {r['wall_vs_floor']:.2f} | "
                f"{r['polls_per_task']:.2f} | {r['median_lag_s']:.2f} | {r['p90_lag_s']:.2f} | "
                f"{r['polls_histogram']} |"
            )
        lines.append("")
    RESULTS.write_text("\n".join(lines) + "\n" + _kept_proposals(), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mode", choices=("quick", "full"), default="quick")
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args(argv)
    quick = args.mode == "quick"
    names = tuple(args.only) if args.only else BENCHMARKS
    results: dict[str, dict[str, Any] | None] = {}
    reports: dict[str, str] = {}
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    for name in BENCHMARKS:
        if name not in names:
            results[name], reports[name], seconds[name] = None, "not run (--only)", 0.0
            continue
        print(f"== {name} ({args.mode})", flush=True)
        results[name], reports[name], seconds[name] = _run_one(name, quick)
        print(reports[name].rstrip(), flush=True)
        print(f"   [{seconds[name]:.1f} s]", flush=True)
    print("== targets")
    for target, measured, met, cause in _targets(results):
        print(
            f"  {met:<8} {target}: {measured}" + (f"\n           cause: {cause}" if cause else "")
        )
    print(f"== total {time.perf_counter() - started:.0f} s")
    if not args.no_write:
        write_results(args.mode, results, reports, seconds)
        print(f"wrote {Path(RESULTS).relative_to(HERE.parent)}")
    failed = [name for name in names if results.get(name) is None and name != "sync_overhead"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
