"""A timeout that expires before the request left the client is "not sent": a POST retries it.

The timeout bounds the whole attempt, waiting for a pooled connection and
connecting included. Expiring there, aiohttp raises a plain
``asyncio.TimeoutError`` (not ``ConnectionTimeoutError``), yet nothing reached
the server, so a POST is retried like a refused connection. Once a connection
was obtained for the attempt, a timeout stays ambiguous.

Every test holds the client's only connection with a slow ``GET /v1/tasks``
(the emulator's ``delay`` fault) and sends on a second call meanwhile.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from stablebrowse_async import AmbiguousRequestError, APITimeoutError, AsyncClient
from stablebrowse_async.testing import Emulator, Fault

pytestmark = pytest.mark.anyio

POST_TASKS = "POST /v1/tasks"


def _posts(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.method == "POST" and r.path == "/v1/tasks")


async def _hold_the_connection(client: AsyncClient, emu: Emulator, seconds: float) -> asyncio.Task:
    """Occupy the client's one connection with a GET the emulator answers after `seconds`."""
    emu.faults.append(Fault("delay", delay=seconds, route="GET /v1/tasks", times=1))
    held = asyncio.ensure_future(client.with_options(timeout=30).tasks.list())
    async with asyncio.timeout(10):
        # The request log is a list the emulator appends to, not an event to await.
        while not any(r.method == "GET" for r in emu.requests):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return held


async def test_a_post_that_timed_out_waiting_for_a_connection_is_retried(emu: Emulator) -> None:
    async with AsyncClient(
        emu.api_key, base_url=emu.url, connection_limit=1, timeout=0.3
    ) as client:
        held = await _hold_the_connection(client, emu, 0.6)
        # Attempts time out in the pool (0.3 s each) until the GET frees the connection.
        raw = await client.with_options(max_retries=10).tasks.with_raw_response.submit(
            end_user_id="alice", task="x"
        )
        assert await held == []
    assert raw.retries_taken >= 1
    assert raw.parse().task_id
    assert _posts(emu) == 1
    assert emu.tasks_created() == 1


async def test_a_post_that_never_got_a_connection_ends_in_a_timeout_not_ambiguous(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stablebrowse_async")
    async with AsyncClient(
        emu.api_key, base_url=emu.url, connection_limit=1, timeout=0.2
    ) as client:
        held = await _hold_the_connection(client, emu, 1.5)
        with pytest.raises(APITimeoutError) as info:
            await client.with_options(max_retries=1).tasks.submit(end_user_id="alice", task="x")
        assert await held == []
    assert not isinstance(info.value, AmbiguousRequestError)
    assert isinstance(info.value.__cause__, asyncio.TimeoutError)
    retried = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert retried == [retried[0]]
    assert retried[0].startswith("retrying POST /v1/tasks in ")
    assert retried[0].endswith("(attempt 1 of 1): APITimeoutError")
    assert _posts(emu) == 0
    assert emu.tasks_created() == 0


async def test_a_post_sent_on_a_reused_connection_that_times_out_is_ambiguous(
    emu: Emulator,
) -> None:
    async with AsyncClient(
        emu.api_key, base_url=emu.url, connection_limit=1, timeout=0.3
    ) as client:
        assert await client.tasks.list() == []  # leaves the one connection in the pool
        emu.faults.append(Fault("delay", delay=1.0, route=POST_TASKS, times=1))
        with pytest.raises(AmbiguousRequestError, match="timed out after the request was sent"):
            await client.tasks.submit(end_user_id="alice", task="x")
    assert _posts(emu) == 1


async def test_a_post_on_a_new_connection_that_times_out_is_ambiguous(emu: Emulator) -> None:
    emu.faults.append(Fault("delay", delay=1.0, route=POST_TASKS, times=1))
    async with AsyncClient(
        emu.api_key, base_url=emu.url, connection_limit=1, timeout=0.3
    ) as client:
        with pytest.raises(AmbiguousRequestError, match="timed out after the request was sent"):
            await client.tasks.submit(end_user_id="alice", task="x")
    assert _posts(emu) == 1


async def test_a_get_that_timed_out_waiting_for_a_connection_is_retried(emu: Emulator) -> None:
    async with AsyncClient(
        emu.api_key, base_url=emu.url, connection_limit=1, timeout=0.3
    ) as client:
        held = await _hold_the_connection(client, emu, 0.6)
        raw = await client.with_options(max_retries=10).tasks.with_raw_response.list()
        assert await held == []
    assert raw.retries_taken >= 1
    assert raw.parse() == []


async def test_with_a_callers_session_a_pool_timeout_stays_ambiguous(emu: Emulator) -> None:
    """The hook that sees a connection obtained is in the client's own connector only.

    With a session of the caller's, the client cannot tell where a plain timeout
    struck, so it assumes the worst: the POST may have been sent.
    """
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with AsyncClient(
            emu.api_key, base_url=emu.url, session=session, timeout=0.3
        ) as client:
            held = await _hold_the_connection(client, emu, 1.0)
            with pytest.raises(AmbiguousRequestError, match="timed out after the request was sent"):
                await client.tasks.submit(end_user_id="alice", task="x")
            assert await held == []
    assert _posts(emu) == 0
