"""The installed command in real processes: the emulator it serves, and interrupted batches."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

import pytest

from stablebrowse_async.testing import EmulatorThread

CLI = [sys.executable, "-m", "stablebrowse_async.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STABLEBROWSE_")}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="120", **extra)
    return env


def _read_until(stream: IO[str], patterns: dict[str, str], timeout: float) -> dict[str, str]:
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(patterns) and time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        for name, pattern in patterns.items():
            match = re.search(pattern, line)
            if match and name not in found:
                found[name] = match.group(0)
    return found


def test_emulator_command_serves_a_working_api() -> None:
    proc = subprocess.Popen(
        [*CLI, "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        found = _read_until(
            proc.stdout,
            {"url": r"http://127\.0\.0\.1:\d+[^\s'\"]*", "key": r"sb_live_[A-Za-z0-9_\-]+"},
            timeout=30,
        )
        assert set(found) == {"url", "key"}, found
        env = _env(
            STABLEBROWSE_API_KEY=found["key"],
            STABLEBROWSE_BASE_URL=found["url"],
            STABLEBROWSE_POLL_INTERVAL="0.1",
        )
        done = subprocess.run(
            [*CLI, "run", "Hello [[duration=0.2]] [[result=hi]]", "--end-user", "a", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["result"] == "hi"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _records(path: Path) -> list[dict[str, Any]]:
    records = []
    for raw in path.read_text().splitlines():
        try:
            records.append(json.loads(raw))
        except ValueError:
            continue  # a torn last line after SIGKILL
    return records


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default, which Python then handles."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_an_interrupted_batch_resumes_without_resubmitting_finished_lines(
    sig: signal.Signals, tmp_path: Path
) -> None:
    count = 60
    source = tmp_path / "tasks.jsonl"
    source.write_text(
        "".join(
            json.dumps(
                {"end_user_id": "u", "task": f"line {n} [[duration={0.2 + (n % 5) * 0.15}]]"}
            )
            + "\n"
            for n in range(1, count + 1)
        )
    )
    out = tmp_path / "results.jsonl"
    with EmulatorThread(seed=2) as emu:
        env = _env(
            STABLEBROWSE_API_KEY=emu.api_key,
            STABLEBROWSE_BASE_URL=emu.url,
            STABLEBROWSE_POLL_INTERVAL="0.05",
        )
        args = [*CLI, "batch", str(source), "--out", str(out), "--concurrency", "8"]
        args += ["--max-in-flight", "8", "--no-progress"]
        first = subprocess.Popen(
            args,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # A test run started in the background of a shell ignores SIGINT, and
            # an ignored signal stays ignored across exec: the CLI gets Python's own.
            preexec_fn=_default_sigint,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if out.exists() and len(out.read_text().splitlines()) >= 10:
                break
            time.sleep(0.02)
        first.send_signal(sig)
        _, err = first.communicate(timeout=30)
        if sig == signal.SIGINT:
            assert first.returncode == 130, err
            assert b"--resume" in err
        else:
            assert first.returncode == -signal.SIGKILL
        finished = {r["line"] for r in _records(out)}
        assert 10 <= len(finished) < count

        second = subprocess.run(
            [*args, "--resume"], env=env, capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 0, second.stderr

        lines = Counter(r["line"] for r in _records(out))
        assert sorted(lines) == list(range(1, count + 1))
        assert set(lines.values()) == {1}
        posts = Counter(
            r.json["task"].split(" [[")[0]
            for r in emu.requests
            if r.method == "POST" and r.path == "/v1/tasks"
        )
        for line in finished:
            assert posts[f"line {line}"] == 1, line
        # Only tasks in flight at the interruption (at most --max-in-flight) ran twice.
        assert sum(posts.values()) - count <= 8
        assert emu.tasks_created() == sum(posts.values())
