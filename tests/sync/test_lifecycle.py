"""The loop thread's life: eager validation, close, GC, interpreter exit, and the running-loop guard."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pytest

from stablebrowse_async.sync import Client, StablebrowseError
from stablebrowse_async.testing import EmulatorThread

from .conftest import loop_threads

ROOT = Path(__file__).resolve().parents[2]


def test_bad_arguments_fail_at_once_without_starting_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STABLEBROWSE_API_KEY", raising=False)
    with pytest.raises(StablebrowseError, match="missing API key"):
        Client()
    with pytest.raises(ValueError, match="base_url"):
        Client("sb_live_x", base_url="ftp://example.com")
    with pytest.raises(ValueError, match="plain http"):
        Client("sb_live_x", base_url="http://example.com")
    with pytest.raises(ValueError, match="poll_timeout"):
        Client("sb_live_x", poll_timeout=0)
    assert loop_threads() == []


def test_the_loop_thread_starts_on_first_use_and_stops_on_close(emu: EmulatorThread) -> None:
    client = Client(emu.api_key, base_url=emu.url)
    assert loop_threads() == []
    client.tasks.list()
    (thread,) = loop_threads()
    assert thread.daemon

    client.close()
    assert client.is_closed
    assert not thread.is_alive()
    client.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        client.tasks.list()


def test_close_without_use_is_fine() -> None:
    client = Client("sb_live_x", base_url="http://127.0.0.1:9")
    client.close()
    client.close()
    assert client.is_closed and loop_threads() == []


def test_with_block_closes_and_no_unclosed_warning(emu: EmulatorThread) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Client(emu.api_key, base_url=emu.url) as client:
            client.tasks.list()
        del client
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]
    assert loop_threads() == []


def test_a_client_dropped_without_close_stops_its_thread(emu: EmulatorThread) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = Client(emu.api_key, base_url=emu.url)
        client.tasks.list()
        (thread,) = loop_threads()
        del client
        gc.collect()
        thread.join(5)
    assert not thread.is_alive()
    assert not [w for w in caught if "Unclosed" in str(w.message)]


def test_calling_from_a_running_event_loop_raises_instead_of_deadlocking(
    client: Client,
) -> None:
    async def inside() -> None:
        with pytest.raises(RuntimeError, match="AsyncClient"):
            client.tasks.list()
        with pytest.raises(RuntimeError, match="AsyncClient"):
            client.close()

    asyncio.run(inside())
    assert client.tasks.list() is not None  # still usable from plain code


def test_calling_from_the_clients_own_loop_thread_raises(client: Client) -> None:
    # on_progress runs in the loop thread; a blocking call there would deadlock.
    errors: list[BaseException] = []

    def on_progress(_: object) -> None:
        try:
            client.tasks.list()
        except RuntimeError as error:
            errors.append(error)

    list(client.tasks.run_many([{"end_user_id": "a", "task": "t"}], on_progress=on_progress))
    assert errors and "AsyncClient" in str(errors[0])


def _run_script(source: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-X",
            "dev",
            "-W",
            "error::ResourceWarning",
            "-c",
            textwrap.dedent(source),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_interpreter_exit_closes_a_client_left_open() -> None:
    done = _run_script(
        """
        import threading
        from stablebrowse_async.sync import Client
        from stablebrowse_async.testing import EmulatorThread

        with EmulatorThread(durations=(0.05, 0.1)) as emu:
            client = Client(emu.api_key, base_url=emu.url, poll_interval=0.02)
            client.tasks.run(end_user_id="a", task="t")
            worker = threading.Thread(target=client.tasks.list)
            worker.start()
            worker.join()
        # the emulator is gone; the client is still open and is closed at exit
        print("OK", flush=True)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK"
    assert "Unclosed" not in done.stderr
    assert "Traceback" not in done.stderr


def test_close_from_another_thread_ends_a_call_in_flight(
    client: Client, emu: EmulatorThread
) -> None:
    slow = client.tasks.submit(end_user_id="alice", task="Slow [[duration=60]]")
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            client.tasks.wait(slow.task_id, poll_timeout=60)
        except BaseException as error:
            errors.append(error)

    waiter = threading.Thread(target=wait)
    waiter.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(r.method == "GET" for r in emu.requests):
        time.sleep(0.01)  # the wait is polling
    client.close()
    waiter.join(10)
    assert not waiter.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert "closed while this call was in flight" in str(errors[0])


def test_a_timeout_error_raised_in_the_loop_reaches_the_caller(client: Client) -> None:
    def on_progress(_: object) -> None:
        raise TimeoutError("from the callback")

    batch = client.tasks.run_many([{"end_user_id": "a", "task": "t"}], on_progress=on_progress)
    with pytest.raises(TimeoutError, match="from the callback"):
        next(batch)
    batch.close()


def test_closing_an_iterator_after_its_client_is_a_no_op(client: Client) -> None:
    batch = client.tasks.run_many([{"end_user_id": "a", "task": f"t{n}"} for n in range(3)])
    assert next(batch).ok
    client.close()
    batch.close()
    batch.close()
    assert list(batch) == []
