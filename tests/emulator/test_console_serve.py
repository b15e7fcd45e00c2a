"""The console emulator in-process: serving until Ctrl-C, its options, and its error paths.

`tests/emulator/test_console_and_plugin.py` runs it in a subprocess; here it
runs in this process (so the same code is measured), on a port chosen up
front. A helper thread waits until the port answers, checks what it serves,
then sends SIGINT to this process, as Ctrl-C in a terminal would.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

import stablebrowse_async.testing
from stablebrowse_async.cli import app
from stablebrowse_async.testing._console import serve

MAIN = Path(stablebrowse_async.testing.__file__).with_name("__main__.py")

needs_sigint = pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    or threading.current_thread() is not threading.main_thread(),
    reason="needs Python's own SIGINT handling in the main thread",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


@contextmanager
def ctrl_c_once_serving(port: int, path: str = "/v1/tasks") -> Iterator[list[int]]:
    """While the block runs: wait for the port, GET `path` once, then send SIGINT."""
    seen: list[int] = []
    finished = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + 30
        while not finished.is_set() and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                time.sleep(0.02)
                continue
            seen.append(_status(f"http://127.0.0.1:{port}{path}"))
            if not finished.is_set():
                os.kill(os.getpid(), signal.SIGINT)
            return

    watcher = threading.Thread(target=watch, name="ctrl-c", daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        finished.set()
        watcher.join()


@needs_sigint
def test_stablebrowse_emulator_serves_until_ctrl_c_then_exits_0() -> None:
    port = _free_port()
    with ctrl_c_once_serving(port) as seen:
        result = CliRunner().invoke(app, ["emulator", "--port", str(port), "--seed", "4"])
    assert seen == [401]  # it served the API: a request without a key is refused
    assert result.exit_code == 0, result.output
    assert f"STABLEBROWSE_BASE_URL=http://127.0.0.1:{port}/v1" in result.stdout
    assert "STABLEBROWSE_API_KEY=sb_live_" in result.stdout
    assert result.stdout.rstrip().endswith("emulator stopped")


@needs_sigint
def test_python_m_testing_passes_its_options_to_the_emulator(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()
    argv = [str(MAIN), "--port", str(port), "--fault", "status:1:503"]
    monkeypatch.setattr(sys, "argv", argv)
    # What `python -m stablebrowse_async.testing` does (runpy cannot load it under
    # pytest's import hook, which claims the package's modules).
    code = compile(MAIN.read_text(), str(MAIN), "exec")
    module = {"__name__": "__main__", "__package__": "stablebrowse_async.testing"}
    with ctrl_c_once_serving(port) as seen, pytest.raises(SystemExit) as stop:
        exec(code, module)
    assert seen == [503]  # the injected fault answers every request
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert f"listening on http://127.0.0.1:{port}/v1" in out
    assert "emulator stopped" in out


def test_a_port_in_use_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve(["--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_a_non_loopback_host_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert serve(["--host", "0.0.0.0", "--port", "0"]) == 1
    assert "loopback" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "status:1:503:extra"], "expected KIND:RATE[:STATUS]"),
        (["--fault", "status:often"], "could not convert string to float"),
        (["--fault", "status:2"], "rate must be within [0, 1]"),
        (["--fault", "status:1:teapot"], "invalid literal for int()"),
        (["--min-duration", "2", "--max-duration", "1"], "--min-duration <= --max-duration"),
        (["--min-duration", "-1"], "0 <= --min-duration"),
    ],
    ids=["too-many-parts", "bad-rate", "rate-out-of-range", "bad-status", "min-gt-max", "negative"],
)
def test_bad_options_exit_2_with_the_reason(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        serve(args)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
