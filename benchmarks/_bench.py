"""Helpers shared by the benchmark scripts: machine facts, statistics, memory, the emulator process.

Not a benchmark itself. Every script in this directory imports it as a
sibling module (``python benchmarks/<name>.py`` puts this directory first on
``sys.path``; `run_all.py` does the same).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SEED = 20240601
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
PACKAGES = ("stablebrowse-async", "stablebrowse", "aiohttp", "yarl", "attrs", "cattrs", "anyio")
PACKAGES_EXTRA = ("orjson", "uvloop", "httpx")


def median(values: Sequence[float]) -> float:
    """The median (0.0 for no values)."""
    return float(statistics.median(values)) if values else 0.0


def rss_bytes() -> int:
    """Current resident set size of this process, in bytes (Linux /proc, else peak RSS)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def cpu_model() -> str:
    """The CPU's model name (Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version_of(dist: str) -> str:
    """Installed version of distribution `dist`, or "not installed"."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """What a reader needs to compare figures across machines."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count() or 0,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {name: version_of(name) for name in PACKAGES + PACKAGES_EXTRA},
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def mode_parser(description: str | None) -> argparse.ArgumentParser:
    """The ``--quick``/``--full``/``--json`` command line every benchmark shares."""
    parser = argparse.ArgumentParser(description=description)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="small sizes (the default)")
    group.add_argument("--full", action="store_true", help="the sizes the targets are stated for")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    return parser


def reproduce(script: str, quick: bool) -> str:
    """The line that tells a reader how to get these figures again."""
    return (
        f"reproduce with: .venv/bin/python benchmarks/{script} {'--quick' if quick else '--full'}"
    )


def verdict(met: bool) -> str:
    """How a target is reported: "met" or "NOT met"."""
    return "met" if met else "NOT met"


def run_main(
    doc: str | None,
    script: str,
    run: Callable[[bool], dict[str, Any]],
    report: Callable[[dict[str, Any]], None],
    argv: Sequence[str] | None,
) -> int:
    """The shared command line: parse ``--quick``/``--full``/``--json``, run, print.

    ``--json`` prints the figures with the machine facts; otherwise `report`
    prints them for people, followed by the line that reproduces them.
    """
    args = mode_parser(doc.splitlines()[0] if doc else None).parse_args(argv)
    quick = not args.full
    figures = run(quick)
    if args.json:
        print(json.dumps({**figures, "machine": machine()}, indent=2))
    else:
        report(figures)
        print(reproduce(script, quick))
    return 0


def run_child(
    script: str, args: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run `script` with `args` in a fresh interpreter (so its CPU time and RSS are its
    own), in `env` if given (else this one's), and return the JSON object its last
    line of output prints.

    Raises `RuntimeError` with the end of its stderr when it fails.
    """
    proc = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=None if env is None else dict(env),
    )
    if proc.returncode != 0:
        name = Path(script).stem
        raise RuntimeError(f"{name} child {list(args)} failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def deadline_loop(max_seconds: float) -> Callable[[], bool]:
    """A predicate that turns False once `max_seconds` have passed (bounds every wait loop)."""
    end = time.monotonic() + max_seconds
    return lambda: time.monotonic() < end


class EmulatorProcess:
    """The StableBrowse emulator in a child process (`_emulator_child.py`).

    The benchmarks measure the client's CPU (``time.process_time``) and memory
    (RSS, tracemalloc); an emulator in the same process would add its own CPU,
    memory and GIL contention to every figure. So it runs in its own
    interpreter, and the parent asks it over a pipe for what it recorded
    (request counts, per-task polls) with `stats()`.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.url = ""
        self.api_key = ""
        self.dashboard_token = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> EmulatorProcess:
        self._proc = subprocess.Popen(
            [sys.executable, str(HERE / "_emulator_child.py"), json.dumps(self.options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        hello = self._reply(timeout=60.0)
        self.url = hello["url"]
        self.api_key = hello["api_key"]
        self.dashboard_token = hello.get("dashboard_token", "")
        return self

    def _reply(self, timeout: float) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None
        assert proc.stdout is not None
        still_time = deadline_loop(timeout)
        while still_time():
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"emulator child exited (code {proc.poll()})")
            if line.startswith("{"):
                reply: dict[str, Any] = json.loads(line)
                if "error" in reply:
                    raise RuntimeError(f"emulator child: {reply['error']}")
                return reply
        raise TimeoutError("emulator child did not answer")

    def command(self, name: str, timeout: float = 120.0) -> dict[str, Any]:
        """Send one command line (``stats``, ``clear``) and return the child's JSON answer."""
        proc = self._proc
        assert proc is not None
        assert proc.stdin is not None
        proc.stdin.write(name + "\n")
        proc.stdin.flush()
        return self._reply(timeout)

    def stats(self) -> dict[str, Any]:
        """What the emulator recorded since the last `clear()` (see `_emulator_child.py`)."""
        return self.command("stats")

    def clear(self) -> None:
        """Forget the recorded requests."""
        self.command("clear")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.write("quit\n")
                proc.stdin.close()
            proc.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(timeout=15)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
