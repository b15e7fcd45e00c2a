"""Each fault kind, seen by a raw aiohttp client on a fresh connection."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from stablebrowse_async.testing import Emulator, Fault

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fresh(anyio_backend: object) -> AsyncIterator[aiohttp.ClientSession]:
    """No keep-alive, so aiohttp never retries a dropped request on a reused connection."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


@pytest.fixture
async def emu(anyio_backend: object) -> AsyncIterator[Emulator]:
    async with Emulator(durations=(0.05, 0.1)) as e:
        yield e


def auth(emu: Emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.api_key}"}


async def test_status_fault_is_json_error_with_status(
    emu: Emulator, fresh: aiohttp.ClientSession
) -> None:
    emu.faults.append(Fault("status", status=503, route="GET /v1/tasks"))
    async with fresh.get(emu.url + "/tasks", headers=auth(emu)) as resp:
        assert resp.status == 503
        assert "error" in await resp.json()
        assert resp.headers["X-Request-Id"]
    emu.faults[:] = [Fault("status")]
    async with fresh.get(emu.url + "/tasks", headers=auth(emu)) as resp:
        assert resp.status == 500


async def test_html_message_and_empty_faults(emu: Emulator, fresh: aiohttp.ClientSession) -> None:
    emu.faults.append(Fault("html", route="GET"))
    async with fresh.get(emu.url + "/tasks", headers=auth(emu)) as resp:
        assert resp.status == 502
        assert resp.content_type == "text/html"
        assert "<html>" in await resp.text()
    emu.faults[:] = [Fault("message")]
    async with fresh.get(emu.url + "/tasks", headers=auth(emu)) as resp:
        assert resp.status == 503
        assert await resp.json() == {"message": "Service Unavailable"}
    emu.faults[:] = [Fault("empty", status=504)]
    async with fresh.get(emu.url + "/tasks", headers=auth(emu)) as resp:
        assert resp.status == 504
        assert await resp.read() == b""


async def test_reset_before_drops_the_connection_without_acting(
    emu: Emulator, fresh: aiohttp.ClientSession
) -> None:
    emu.faults.append(Fault("reset_before", route="POST /v1/tasks"))
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        async with fresh.post(
            emu.url + "/tasks", json={"endUserId": "a", "task": "x"}, headers=auth(emu)
        ):
            pass
    assert emu.tasks_created() == 0
    assert emu.requests[-1].method == "POST"


async def test_reset_after_creates_the_task_then_drops(
    emu: Emulator, fresh: aiohttp.ClientSession
) -> None:
    emu.faults.append(Fault("reset_after", route="POST /v1/tasks", times=1))
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        async with fresh.post(
            emu.url + "/tasks", json={"endUserId": "a", "task": "x"}, headers=auth(emu)
        ):
            pass
    assert emu.tasks_created() == 1
    async with fresh.post(
        emu.url + "/tasks", json={"endUserId": "a", "task": "y"}, headers=auth(emu)
    ) as resp:
        assert resp.status == 201  # times=1: the rule is spent
    assert emu.tasks_created() == 2


async def test_truncated_is_200_with_half_a_json_body(
    emu: Emulator, fresh: aiohttp.ClientSession
) -> None:
    emu.faults.append(Fault("truncated", route="POST /v1/tasks"))
    async with fresh.post(
        emu.url + "/tasks", json={"endUserId": "a", "task": "x"}, headers=auth(emu)
    ) as resp:
        assert resp.status == 200
        raw = await resp.read()
        assert int(resp.headers["Content-Length"]) == len(raw)
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    assert emu.tasks_created() == 1


async def test_delay_then_normal_answer(emu: Emulator, fresh: aiohttp.ClientSession) -> None:
    emu.faults.append(Fault("delay", delay=0.3, route="GET /v1/tasks"))
    started = time.monotonic()
    async with fresh.get(emu.url + "/tasks", headers=auth(emu)) as resp:
        assert resp.status == 200
    assert time.monotonic() - started >= 0.3


async def test_rate_limit_fault_is_429_retry_after_and_not_processed(
    emu: Emulator, fresh: aiohttp.ClientSession
) -> None:
    emu.faults.append(Fault("rate_limit", route="POST /v1/tasks", retry_after=3))
    async with fresh.post(
        emu.url + "/tasks", json={"endUserId": "a", "task": "x"}, headers=auth(emu)
    ) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "3"
        assert "error" in await resp.json()
    assert emu.tasks_created() == 0
    emu.faults[:] = [Fault("rate_limit")]
    async with fresh.get(emu.url + "/tasks", headers=auth(emu)) as resp:
        assert resp.headers["Retry-After"] == "1"


async def test_route_templates_methods_rate_and_times(
    emu: Emulator, fresh: aiohttp.ClientSession
) -> None:
    emu.faults.append(Fault("status", route="GET /v1/tasks/{taskId}"))
    async with fresh.get(emu.url + "/tasks", headers=auth(emu)) as resp:
        assert resp.status == 200  # the list route is a different template
    async with fresh.get(emu.url + "/tasks/abc", headers=auth(emu)) as resp:
        assert resp.status == 500
    emu.faults[:] = [Fault("status", status=502, times=2)]
    statuses = []
    for _ in range(4):
        async with fresh.get(emu.url + "/tasks", headers=auth(emu)) as resp:
            statuses.append(resp.status)
    assert statuses == [502, 502, 200, 200]
    emu.faults[:] = [Fault("status", rate=0.5)]
    hits = 0
    for _ in range(200):
        async with fresh.get(emu.url + "/tasks", headers=auth(emu)) as resp:
            hits += resp.status == 500
    assert 60 < hits < 140


def test_unknown_fault_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("explode")
