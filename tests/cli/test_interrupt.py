"""Ctrl-C in the middle of a command, in-process: exit 130, one line, and how to continue.

A helper thread waits until the command is visibly under way (a request on the
emulator, records in the output file), then sends SIGINT to this process, as a
terminal would. The tasks involved take a minute, so the command is certainly
still running when the signal arrives.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stablebrowse_async.testing import EmulatorThread

from .conftest import Invoke

pytestmark = pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    or threading.current_thread() is not threading.main_thread(),
    reason="needs Python's own SIGINT handling in the main thread",
)


@contextmanager
def ctrl_c_when(ready: Callable[[], bool], limit: float = 30.0) -> Iterator[threading.Event]:
    """Send SIGINT to this process once `ready()` holds (checked while the block runs)."""
    finished = threading.Event()
    sent = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + limit
        while not finished.is_set() and time.monotonic() < deadline:
            if ready():
                if not finished.is_set():
                    sent.set()
                    os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, name="ctrl-c", daemon=True)
    watcher.start()
    try:
        yield sent
    finally:
        finished.set()
        watcher.join()


def test_ctrl_c_during_run_exits_130_with_one_line(sb: Invoke, emu: EmulatorThread) -> None:
    def submitted() -> bool:
        return any(r.method == "POST" for r in emu.requests)

    with ctrl_c_when(submitted) as sent:
        result = sb("run", "Takes a minute [[duration=60]]", "--end-user", "alice")
    assert sent.is_set()
    assert result.exit_code == 130
    assert result.stderr == "error: interrupted\n"


def test_ctrl_c_during_batch_exits_130_and_says_how_to_resume(
    sb: Invoke, tmp_path: Path, emu: EmulatorThread
) -> None:
    source = tmp_path / "tasks.jsonl"
    lines = [{"end_user_id": "u", "task": f"quick {n} [[duration=0.05]]"} for n in range(3)]
    lines += [{"end_user_id": "u", "task": f"slow {n} [[duration=60]]"} for n in range(3)]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "results.jsonl"

    def quick_ones_recorded() -> bool:
        return out.exists() and out.read_text().count("\n") >= 3

    with ctrl_c_when(quick_ones_recorded) as sent:
        result = sb("batch", str(source), "--out", str(out), "--no-progress")
    assert sent.is_set()
    assert result.exit_code == 130
    assert "interrupted" in result.stderr
    assert f"results so far are in {out}" in result.stderr
    assert "--resume" in result.stderr
    recorded = sorted(json.loads(line)["line"] for line in out.read_text().splitlines())
    assert recorded == [1, 2, 3]  # the slow lines are left for --resume
