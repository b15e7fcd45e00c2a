"""Fixtures for the sync facade: a real emulator on a background thread and sync clients on it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stablebrowse_async.sync import Client, PollSchedule
from stablebrowse_async.testing import EmulatorThread

FAST_POLLS = PollSchedule(first=0.02, factor=1.5, max_interval=0.05, jitter=0.1)
LOOP_THREAD = "stablebrowse-sync-loop"
ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def script_until_ready(script: str) -> Iterator[subprocess.Popen[str]]:
    """Run `script` in a fresh interpreter (ResourceWarnings are errors) until it prints
    READY; it is killed when the block ends, whatever happened."""
    proc = subprocess.Popen(
        [sys.executable, "-W", "error::ResourceWarning", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        yield proc
    finally:
        proc.kill()


def loop_threads() -> list[threading.Thread]:
    """The sync clients' event-loop threads alive now."""
    return [t for t in threading.enumerate() if t.name == LOOP_THREAD]


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(durations=(0.05, 0.2), seed=7) as emulator:
        yield emulator


@pytest.fixture
def client(emu: EmulatorThread) -> Iterator[Client]:
    with Client(emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS) as c:
        yield c


@pytest.fixture
def dashboard(emu: EmulatorThread) -> Iterator[Client]:
    with Client(emu.dashboard_token, base_url=emu.url, poll_interval=FAST_POLLS) as c:
        yield c
