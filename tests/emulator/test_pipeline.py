"""The server pipeline: request ids on every answer, and the rate limiter on its own clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from stablebrowse_async.testing import Emulator, Fault, VirtualClock

from .conftest import Raw

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fresh(anyio_backend: object) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


def _request_id(headers: Any) -> str:
    """The request id of an answer: API Gateway's header, the same in X-Request-Id."""
    request_id = headers["x-amzn-RequestId"]
    assert request_id == headers["X-Request-Id"]
    return str(request_id)


async def test_every_answer_carries_a_unique_request_id_matching_the_log(
    api: Raw, emu: Emulator
) -> None:
    calls: list[tuple[int, str]] = []
    body = {"endUserId": "a", "task": "x"}
    for method, path, token, payload in [
        ("POST", "/tasks", emu.api_key, body),  # 201
        ("GET", "/tasks", emu.api_key, None),  # 200
        ("GET", "/tasks/nope", emu.api_key, None),  # 404
        ("PATCH", "/tasks", emu.api_key, None),  # 405
        ("GET", "/tasks", None, None),  # 401
        ("POST", "/tasks", emu.api_key, {"task": 3}),  # 400
        ("GET", "/nowhere", emu.api_key, None),  # 404 off the route table
    ]:
        status, _, headers = await api.as_(token).call(method, path, json=payload)
        calls.append((status, _request_id(headers)))
    assert [status for status, _ in calls] == [201, 200, 404, 405, 401, 400, 404]
    ids = [request_id for _, request_id in calls]
    assert len(set(ids)) == len(ids)
    assert [r.request_id for r in emu.requests] == ids


async def test_faulted_and_rate_limited_answers_carry_the_request_id_too(
    fresh: aiohttp.ClientSession,
) -> None:
    clock = VirtualClock()
    async with Emulator(rate_limit=(1, 60.0), rate_limit_clock=clock) as emu:
        auth = {"Authorization": f"Bearer {emu.api_key}"}
        seen: list[tuple[int, str]] = []
        for fault in [
            None,  # 200, the one request the limit allows
            None,  # 429 from the limiter
            Fault("status", status=503),
            Fault("html"),
            Fault("message"),
            Fault("empty"),
            Fault("rate_limit"),
            Fault("delay", delay=0.01),  # delayed, then the limiter's 429
            Fault("truncated"),
        ]:
            emu.faults[:] = [] if fault is None else [fault]
            async with fresh.get(emu.url + "/tasks", headers=auth) as resp:
                await resp.read()
                seen.append((resp.status, _request_id(resp.headers)))
        assert [status for status, _ in seen] == [200, 429, 503, 502, 503, 502, 429, 429, 200]
        assert [r.request_id for r in emu.requests] == [rid for _, rid in seen]


async def test_rate_limiter_runs_on_its_injected_clock(fresh: aiohttp.ClientSession) -> None:
    clock = VirtualClock()
    async with Emulator(rate_limit=(2, 10.0), rate_limit_clock=clock) as emu:

        async def status(token: str) -> tuple[int, str | None]:
            headers = {"Authorization": f"Bearer {token}"}
            async with fresh.get(emu.url + "/tasks", headers=headers) as resp:
                return resp.status, resp.headers.get("Retry-After")

        assert await status(emu.api_key) == (200, None)
        clock.advance(3)
        assert await status(emu.api_key) == (200, None)
        assert await status(emu.api_key) == (429, "7")  # the first leaves the window at t=10
        assert await status(emu.dashboard_token) == (200, None)  # its own window
        clock.advance(6.5)
        assert await status(emu.api_key) == (429, "1")  # rounded up, never 0
        clock.advance(0.5)
        assert await status(emu.api_key) == (200, None)
        assert emu.rate_limit == (2, 10.0)
        emu.rate_limit = None
        assert [await status(emu.api_key) for _ in range(3)] == [(200, None)] * 3
        emu.rate_limit = (1, 5.0)  # a new limit keeps the injected clock
        assert [await status(emu.api_key) for _ in range(2)] == [(200, None), (429, "5")]


async def test_an_emulator_bug_is_a_500_with_a_request_id(api: Raw, emu: Emulator) -> None:
    def broken_script(body: dict[str, object]) -> None:
        raise RuntimeError("script bug")

    emu.set_script(broken_script)
    status, body, headers = await api.call("POST", "/tasks", json={"endUserId": "a", "task": "x"})
    assert status == 500
    assert "script bug" in body["error"]
    assert _request_id(headers) == emu.requests[-1].request_id


async def test_faults_can_be_replaced_whole(api: Raw, emu: Emulator) -> None:
    emu.faults = [Fault("status", status=502)]
    assert (await api.call("GET", "/tasks"))[0] == 502
    emu.faults = []
    assert (await api.call("GET", "/tasks"))[0] == 200


async def test_the_request_log_can_be_replaced(api: Raw, emu: Emulator) -> None:
    emu.requests = []
    await api.call("GET", "/tasks")
    assert [r.path for r in emu.requests] == ["/v1/tasks"]
