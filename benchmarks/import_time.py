"""Import time: this SDK against the official `stablebrowse` SDK, in fresh interpreters.

Each statement runs in a new ``python -X importtime -c ...`` process, several
times, interleaved, after one warm-up run each (so bytecode caches exist).
The figure for a statement is the sum of the cumulative times of the modules
it imported that the bare interpreter (``-c pass``) had not already imported:
interpreter start-up is excluded on both sides. Medians are reported.

Statements:
- ``import stablebrowse_async``                 (lazy: errors and version only)
- ``from stablebrowse_async import AsyncClient`` (what a program needs to make a request)
- ``import stablebrowse``                        (official SDK; imports its client and httpx)

Target: ``from stablebrowse_async import AsyncClient`` <= 1.0x ``import stablebrowse``.

Reproduce::

    .venv/bin/python benchmarks/import_time.py --quick   # 5 runs each, about 5 s
    .venv/bin/python benchmarks/import_time.py --full    # 15 runs each
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from _bench import median, run_main, verdict

STATEMENTS = {
    "ours_package": "import stablebrowse_async",
    "ours_client": "from stablebrowse_async import AsyncClient",
    "official": "import stablebrowse",
}
TARGET = 1.0
_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")
Rows = list[tuple[int, int, int, str]]


def _importtime(statement: str) -> list[tuple[int, int, int, str]]:
    """(depth, self µs, cumulative µs, module) for every line ``-X importtime`` prints."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows: Rows = []
    for line in proc.stderr.splitlines():
        match = _LINE.match(line)
        if match:
            depth = (len(match.group(3)) - 1) // 2
            rows.append((depth, int(match.group(1)), int(match.group(2)), match.group(4)))
    return rows


def _cost(rows: Rows, startup: frozenset[str]) -> float:
    """Milliseconds spent importing what the bare interpreter had not imported."""
    return sum(cum for depth, _, cum, name in rows if depth == 0 and name not in startup) / 1000


def _by_package(rows: Rows, startup: frozenset[str]) -> dict[str, int]:
    """Self time (µs) summed by top-level package: who the time really goes to."""
    totals: dict[str, int] = defaultdict(int)
    for _, own, _, name in rows:
        if name not in startup:
            totals[name.split(".")[0]] += own
    return totals


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark; return its figures as a dict."""
    repeats = 5 if quick else 15
    startup = frozenset(row[3] for row in _importtime("pass"))
    for statement in STATEMENTS.values():  # warm-up: bytecode caches, page cache
        _importtime(statement)
    samples: dict[str, list[float]] = defaultdict(list)
    modules: dict[str, list[int]] = defaultdict(list)
    packages: dict[str, dict[str, list[int]]] = {key: defaultdict(list) for key in STATEMENTS}
    for round_no in range(repeats):
        order = list(STATEMENTS.items())
        if round_no % 2:
            order.reverse()
        for key, statement in order:
            rows = _importtime(statement)
            samples[key].append(_cost(rows, startup))
            for package, own in _by_package(rows, startup).items():
                packages[key][package].append(own)
            if key == "ours_client":
                for _, _, cum, name in rows:
                    if name not in startup:
                        modules[name].append(cum)
    ms = {key: round(median(values), 1) for key, values in samples.items()}
    top = sorted(
        ((name, median([float(v) for v in values]) / 1000) for name, values in modules.items()),
        key=lambda item: -item[1],
    )[:12]
    by_package = {
        key: [
            [name, round(median([float(v) for v in values]) / 1000, 1)]
            for name, values in sorted(per.items(), key=lambda item: -median(item[1]))[:8]
        ]
        for key, per in packages.items()
        if key != "ours_package"
    }
    ratio_client = ms["ours_client"] / ms["official"]
    ratio_package = ms["ours_package"] / ms["official"]
    return {
        "benchmark": "import_time",
        "mode": "quick" if quick else "full",
        "repeats": repeats,
        "median_ms": ms,
        "ratio_client_vs_official": round(ratio_client, 2),
        "ratio_package_vs_official": round(ratio_package, 2),
        "target": TARGET,
        "target_met": ratio_client <= TARGET,
        "top_cumulative_ms_ours_client": [[name, round(value, 1)] for name, value in top],
        "self_ms_by_package": by_package,
    }


def report(figures: dict[str, Any]) -> None:
    ms = figures["median_ms"]
    print(
        f"import_time ({figures['mode']}, median of {figures['repeats']} fresh interpreters, "
        "start-up excluded)"
    )
    for key, statement in STATEMENTS.items():
        print(f"  {statement:<45} {ms[key]:>8.1f} ms")
    print(
        f"  AsyncClient / official = {figures['ratio_client_vs_official']:.2f}x "
        f"(target <= {TARGET}x: {verdict(figures['target_met'])}); "
        f"package / official = {figures['ratio_package_vs_official']:.2f}x"
    )
    print("  top cumulative imports under `from stablebrowse_async import AsyncClient`:")
    for name, value in figures["top_cumulative_ms_ours_client"]:
        print(f"    {name:<40} {value:>8.1f} ms")
    for key, rows in figures["self_ms_by_package"].items():
        shown = ", ".join(f"{name} {value:.1f}" for name, value in rows)
        print(f"  self time by package, `{STATEMENTS[key]}` (ms): {shown}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(__doc__, "import_time.py", run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
