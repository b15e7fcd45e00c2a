"""Ctrl-C during a blocking call cancels the coroutine in flight and is raised promptly."""

from __future__ import annotations

import signal
import textwrap
import time

from .conftest import script_until_ready

SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from stablebrowse_async.sync import Client
    from stablebrowse_async.testing import EmulatorThread

    with EmulatorThread(durations=(0.05, 0.1)) as emu:
        client = Client(emu.api_key, base_url=emu.url, poll_interval=0.02)
        task = client.tasks.submit(end_user_id="alice", task="forever [[duration=600]]")
        print("READY", flush=True)
        started = time.monotonic()
        try:
            client.tasks.wait(task.task_id, poll_timeout=600)
        except KeyboardInterrupt:
            print("INTERRUPTED", time.monotonic() - started, flush=True)
        else:
            print("NOT INTERRUPTED", flush=True)
        # The wait was cancelled: no more polls arrive.
        time.sleep(0.2)
        before = len(emu.requests)
        time.sleep(0.3)
        print("POLLS_AFTER", len(emu.requests) - before, flush=True)
        # The client still works after the interruption.
        print("STILL_WORKS", client.tasks.get(task.task_id).task_id == task.task_id, flush=True)
        client.close()
    left = [t.name for t in threading.enumerate()
            if t is not threading.main_thread() and not t.daemon]
    loops = [t.name for t in threading.enumerate() if t.name == "stablebrowse-sync-loop"]
    print("NON_DAEMON", left, "LOOPS", loops, flush=True)
    """
)


def test_sigint_cancels_the_wait_and_raises_keyboard_interrupt() -> None:
    with script_until_ready(SCRIPT) as proc:
        time.sleep(0.3)  # well inside the blocking wait
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline().split()
        reacted = time.monotonic() - sent
        out, err = proc.communicate(timeout=30)
    assert line[0] == "INTERRUPTED", (line, err)
    assert reacted < 1.0, f"KeyboardInterrupt took {reacted:.2f}s"
    lines = dict(ln.split(" ", 1) for ln in out.strip().splitlines())
    assert lines["POLLS_AFTER"] == "0", out
    assert lines["STILL_WORKS"] == "True", out
    assert lines["NON_DAEMON"] == "[] LOOPS []", out
    assert proc.returncode == 0, err
    assert "Unclosed" not in err
