"""A server that keeps failing is polled less and less often, never hammered.

The README: transient poll failures are retried with a growing wait (equal
jitter from 0.25-0.5 s, doubling) until ``poll_timeout``; a Retry-After is
honoured. These tests count the polls the emulator received within a bounded
wait; they assert no duration. A slow machine can only make polls *fewer*, so
the upper bounds hold under load; the lower bounds leave a second of slack.
"""

from __future__ import annotations

import pytest

from stablebrowse_async import AsyncClient, TaskTimeoutError
from stablebrowse_async.testing import Emulator, Fault

from .conftest import FAST_POLLS

pytestmark = pytest.mark.anyio

_GET_TASK = "GET /v1/tasks/{taskId}"


def _polls_of(emu: Emulator, task_id: str) -> int:
    return sum(1 for r in emu.requests if r.method == "GET" and r.path.endswith(f"/{task_id}"))


async def _polls_within(emu: Emulator, fault: Fault, poll_timeout: float) -> int:
    """Submit a long task, make every poll fail with `fault`, wait; the polls made."""
    # max_retries=0: every failed poll reaches the poller (no transport retries in between).
    async with AsyncClient(
        emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS, max_retries=0
    ) as client:
        emu.faults.append(fault)  # GETs only: the submission goes through
        with pytest.raises(TaskTimeoutError) as info:
            await client.tasks.run(
                end_user_id="alice", task="long [[duration=60]]", poll_timeout=poll_timeout
            )
    assert info.value.task is not None
    return _polls_of(emu, info.value.task.task_id)


async def test_polls_of_a_failing_server_back_off(emu: Emulator) -> None:
    """3 s of 503s: a first poll, the next ones at least 0.25, 0.75 and 1.75 s
    later (then 3.75 s: past the timeout), and one last look at the deadline."""
    unavailable = Fault("status", status=503, route=_GET_TASK)
    polls = await _polls_within(emu, unavailable, poll_timeout=3.0)
    # Without growth (or without the jitter floor) the poller would come back
    # every 0.5 s or sooner: 7 polls or more.
    assert 2 <= polls <= 5
    assert unavailable.fired == polls


async def test_a_retry_after_holds_the_poller_back(emu: Emulator) -> None:
    """429 with ``Retry-After: 2`` on every poll: at most one poll per 2 s."""
    throttled = Fault("rate_limit", route=_GET_TASK, retry_after=2.0)
    polls = await _polls_within(emu, throttled, poll_timeout=3.0)
    # A first poll, the next at t >= 2 s, one last look at the deadline; the
    # own backoff alone (0.25-0.5 s, 0.5-1 s, 1-2 s) would allow 5 polls.
    assert 2 <= polls <= 3
