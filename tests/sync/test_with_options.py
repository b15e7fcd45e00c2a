"""`Client.with_options`: a cheap copy with other settings on the original's loop thread and pool."""

from __future__ import annotations

import gc
import multiprocessing
from queue import Queue
from typing import Any

import pytest

from stablebrowse_async.sync import (
    AdaptiveSchedule,
    Client,
    InternalServerError,
    PollSchedule,
    TaskTimeoutError,
)
from stablebrowse_async.testing import EmulatorThread, Fault

from .conftest import FAST_POLLS, loop_threads


def _gets(emu: EmulatorThread) -> int:
    return sum(1 for r in emu.requests if r.method == "GET")


def _one_503(emu: EmulatorThread) -> None:
    fault = Fault("status", status=503, route="GET", times=1)
    emu.call(lambda: emu.emulator.faults.append(fault))


def test_the_copy_has_its_settings_and_the_original_keeps_its_own(emu: EmulatorThread) -> None:
    snappy = PollSchedule(first=0.01, factor=1.5, max_interval=0.02, jitter=0.0)
    with Client(emu.api_key, base_url=emu.url, timeout=30, max_retries=2) as client:
        copy = client.with_options(
            timeout=5, max_retries=0, poll_interval=snappy, poll_timeout=12.5
        )
        assert (copy.timeout, copy.max_retries, copy.poll_timeout) == (5, 0, 12.5)
        assert copy.poll_schedule == snappy
        assert copy.base_url == client.base_url == emu.url
        assert (client.timeout, client.max_retries, client.poll_timeout) == (30, 2, 300.0)
        # The default learns; copies share what it learned.
        assert isinstance(client.poll_schedule, AdaptiveSchedule)
        assert client.with_options(max_retries=1).poll_schedule is client.poll_schedule
        assert emu.api_key not in repr(copy)

        unchanged = client.with_options()
        assert (unchanged.timeout, unchanged.max_retries) == (30, 2)
        assert client.with_options(timeout=None).timeout is None  # None means no limit
        chained = copy.with_options(timeout=3)
        assert (chained.timeout, chained.max_retries, chained.poll_timeout) == (3, 0, 12.5)


def test_the_copys_requests_use_its_retry_setting(emu: EmulatorThread) -> None:
    with Client(emu.api_key, base_url=emu.url, max_retries=2) as client:
        no_retries = client.with_options(max_retries=0)

        _one_503(emu)
        assert client.tasks.list() == []  # the original retried past the 503
        assert _gets(emu) == 2

        emu.clear_requests()
        _one_503(emu)
        with pytest.raises(InternalServerError):
            no_retries.tasks.list()
        assert _gets(emu) == 1

        emu.clear_requests()
        _one_503(emu)
        with pytest.raises(InternalServerError):  # a derived resource uses the copy's too
            no_retries.end_users("alice").credentials.get()
        assert _gets(emu) == 1


def test_the_copys_poll_timeout_bounds_its_waits(emu: EmulatorThread) -> None:
    with Client(emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS) as client:
        impatient = client.with_options(poll_timeout=0.2)
        with pytest.raises(TaskTimeoutError) as info:
            impatient.tasks.run(end_user_id="alice", task="Slow [[duration=30]]")
        assert info.value.task.status in ("pending", "running")
        done = client.tasks.run(end_user_id="alice", task="Quick [[duration=0.05]]")
        assert done.status == "completed"


def test_the_copy_shares_the_loop_thread_and_closing_it_closes_nothing(
    emu: EmulatorThread,
) -> None:
    client = Client(emu.api_key, base_url=emu.url)
    copy = client.with_options(max_retries=0)
    client.tasks.list()
    copy.tasks.list()
    assert len(loop_threads()) == 1

    copy.close()
    with client.with_options(timeout=5) as scoped:
        scoped.tasks.list()
    assert not copy.is_closed and not client.is_closed
    assert copy.tasks.list() == client.tasks.list()
    assert len(loop_threads()) == 1

    client.close()  # the original owns the thread and the pool: this closes both
    assert copy.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        copy.tasks.list()
    assert loop_threads() == []


def test_bad_options_fail_at_once_without_starting_a_thread(emu: EmulatorThread) -> None:
    with Client(emu.api_key, base_url=emu.url) as client:
        with pytest.raises(ValueError, match="poll_timeout"):
            client.with_options(poll_timeout=0)
        with pytest.raises(ValueError, match="max_retries"):
            client.with_options(max_retries=-1)
        assert loop_threads() == []
        assert emu.requests == []


def test_a_copy_keeps_working_after_the_original_is_dropped(emu: EmulatorThread) -> None:
    copy = Client(emu.api_key, base_url=emu.url).with_options(max_retries=0)
    gc.collect()
    assert copy.tasks.list() == []
    (thread,) = loop_threads()

    del copy  # the last reference to the portal: its thread stops, as for any dropped client
    gc.collect()
    thread.join(10)
    assert not thread.is_alive()


def _child_uses_copy(copy: Client, out: Queue[Any]) -> None:
    try:
        out.put(("ok", copy.max_retries, len(copy.tasks.list())))
    except BaseException as error:  # report anything to the parent
        out.put(("error", repr(error), None))


def test_a_copy_follows_the_original_into_a_forked_child(emu: EmulatorThread) -> None:
    ctx = multiprocessing.get_context("fork")
    with Client(emu.api_key, base_url=emu.url) as client:
        copy = client.with_options(max_retries=0)
        client.tasks.submit(end_user_id="parent", task="from the parent")
        out: Queue[Any] = ctx.Queue()
        child = ctx.Process(target=_child_uses_copy, args=(copy, out))
        child.start()
        result = out.get(timeout=30)
        child.join(30)
        assert result == ("ok", 0, 1), result
        assert child.exitcode == 0
        assert len(copy.tasks.list()) == 1  # the parent's copy is untouched
