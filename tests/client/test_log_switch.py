"""``STABLEBROWSE_LOG``: one stderr line per HTTP attempt, route templates only, never a secret."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from stablebrowse_async import APIConnectionError, AsyncClient
from stablebrowse_async._logging import ENV_VAR, configure_from_env, logger
from stablebrowse_async.testing import Emulator, Fault

pytestmark = pytest.mark.anyio

LINE = re.compile(
    r"^\[[^\]]* (?P<level>INFO|DEBUG) stablebrowse_async\] (?P<method>[A-Z]+) (?P<route>\S+) -> "
    r"(?P<status>\d{3}) in (?P<ms>\d+\.\d) ms \(retry (?P<retry>\d+), request id (?P<rid>[^)]+)\)$"
)
COOKIE = "cookie-value-never-logged"

SCRIPT = """
import asyncio, json
from stablebrowse_async import AsyncClient, NotFoundError
from stablebrowse_async.testing import Emulator, Fault

async def main():
    async with Emulator() as emu, AsyncClient(emu.api_key, base_url=emu.url) as client:
        task = await client.tasks.submit(end_user_id="alice", task="x")
        emu.faults.append(Fault("status", status=503, route="GET /v1/tasks/{taskId}", times=1))
        await client.tasks.get(task.task_id)
        await client.end_users("alice").credentials.set(twitter_auth_token="COOKIE")
        try:
            await client.sessions.get("no-such-session")
        except NotFoundError:
            pass
        print(json.dumps({"key": emu.api_key, "task_id": task.task_id,
                          "requests": [[r.method, r.request_id] for r in emu.requests]}))

asyncio.run(main())
""".replace("COOKIE", COOKIE)


def _run(level: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), ENV_VAR: level}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_info_logs_one_line_per_attempt_to_stderr() -> None:
    done = _run("info")
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    lines = done.stderr.splitlines()
    attempts = [m for m in map(LINE.match, lines) if m]
    # One line per request the emulator saw, in order, with its request id.
    assert [[m["method"], m["rid"]] for m in attempts] == facts["requests"]
    assert [m["route"] for m in attempts] == [
        "/v1/tasks",
        "/v1/tasks/{taskId}",
        "/v1/tasks/{taskId}",
        "/v1/end-users/{endUserId}/credentials",
        "/v1/sessions/{sessionId}",
    ]
    assert [m["status"] for m in attempts] == ["201", "503", "200", "200", "404"]
    assert [m["retry"] for m in attempts] == ["0", "0", "1", "0", "0"]
    assert {m["level"] for m in attempts} == {"INFO"}
    # Besides those, only the retry decision, itself by template.
    others = [line for line in lines if not LINE.match(line)]
    assert len(others) == 1
    assert "retrying GET /v1/tasks/{taskId}" in others[0]
    # Never an id in a path, a key or a credential.
    for secret in (facts["task_id"], "alice", "no-such-session", facts["key"], COOKIE, "Bearer"):
        assert secret not in done.stderr


def test_debug_adds_a_line_as_each_attempt_is_sent() -> None:
    done = _run("DEBUG")
    assert done.returncode == 0, done.stderr
    sending = [line for line in done.stderr.splitlines() if ": sending (retry" in line]
    assert len(sending) == len(json.loads(done.stdout)["requests"])
    assert all(" DEBUG stablebrowse_async] " in line for line in sending)
    assert COOKIE not in done.stderr


def test_a_bad_value_is_a_warning_not_a_crash() -> None:
    done = _run("verbose\x1b[2J")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["requests"]
    assert "RuntimeWarning: STABLEBROWSE_LOG='verbose\\x1b[2J' is not a log level" in done.stderr
    assert "use STABLEBROWSE_LOG=debug or STABLEBROWSE_LOG=info" in done.stderr
    assert not any(LINE.match(line) for line in done.stderr.splitlines())


@pytest.fixture
def restored() -> Iterator[None]:
    level, handlers = logger.level, list(logger.handlers)
    try:
        yield
    finally:
        for handler in logger.handlers:
            if handler not in handlers:
                logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.usefixtures("restored")
def test_configure_from_env_in_process() -> None:
    assert configure_from_env({}) is None
    assert configure_from_env({ENV_VAR: "  "}) is None
    with pytest.warns(RuntimeWarning, match="not a log level"):
        assert configure_from_env({ENV_VAR: "trace"}) is None
    handler = configure_from_env({ENV_VAR: "Info"})
    assert handler is not None
    assert logger.level == logging.INFO
    assert handler.level == logging.INFO
    # Applying it again keeps one handler, at the new level.
    assert configure_from_env({ENV_VAR: "debug"}) is handler
    assert logger.level == handler.level == logging.DEBUG
    assert logger.handlers.count(handler) == 1


async def test_a_failed_attempt_is_logged_with_its_error_class(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stablebrowse_async")
    async with AsyncClient(emu.api_key, base_url="http://127.0.0.1:1/v1", max_retries=0) as dead:
        with pytest.raises(APIConnectionError):
            await dead.tasks.get("some-id")
    (line,) = [r.getMessage() for r in caplog.records if "->" in r.getMessage()]
    assert re.fullmatch(
        r"GET /v1/tasks/\{taskId\} -> ClientConnectorError after \d+\.\d ms \(retry 0\)", line
    )
    emu.faults.append(Fault("delay", delay=1.0, route="GET /v1/tasks", times=1))
    async with AsyncClient(emu.api_key, base_url=emu.url, timeout=0.2, max_retries=0) as slow:
        with pytest.raises(Exception, match="timed out"):
            await slow.tasks.list()
    assert any("GET /v1/tasks -> TimeoutError after" in r.getMessage() for r in caplog.records)
