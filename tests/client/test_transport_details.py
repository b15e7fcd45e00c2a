"""Small promises of the transport a mutation run of `_http` found unchecked: the
errors that name a bad id, a closed client, a route without its placeholder or a bad
setting; and the base URL's path, in each request and log line."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from stablebrowse_async import AsyncClient
from stablebrowse_async._http import route
from stablebrowse_async.testing import Emulator

from .conftest import ScriptedServer

Scripted = tuple[ScriptedServer, str]

pytestmark = pytest.mark.anyio


async def test_a_closed_client_says_so_and_what_to_do(emu: Emulator) -> None:
    client = AsyncClient(emu.api_key, base_url=emu.url)
    await client.aclose()
    with pytest.raises(RuntimeError, match=r"^this client is closed; create a new AsyncClient$"):
        await client.tasks.get("t1")


async def test_an_id_that_is_not_a_str_is_refused_naming_it(emu: Emulator) -> None:
    async with AsyncClient(emu.api_key, base_url=emu.url) as client:
        with pytest.raises(TypeError, match=r"^task_id must be a str, got int$"):
            await client.tasks.get(5)  # type: ignore[arg-type]
    assert emu.requests == []


def test_a_route_without_the_placeholder_is_a_programming_error() -> None:
    with pytest.raises(AssertionError, match=r"^/tasks/\{taskId\} has no \{sessionId\}$"):
        route("/tasks/{taskId}", session_id="s1")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"timeout": True}, r"^timeout must be a positive number of seconds or None, got True$"),
        ({"timeout": "5"}, r"^timeout must be a positive number of seconds or None, got '5'$"),
        ({"max_response_bytes": True}, r"^max_response_bytes must be an int$"),
        ({"max_response_bytes": 2.0}, r"^max_response_bytes must be an int$"),
        ({"max_response_bytes": 0}, r"^max_response_bytes must be >= 1, got 0$"),
        ({"connection_limit": True}, r"^connection_limit must be a positive int, got True$"),
        ({"connection_limit": "5"}, r"^connection_limit must be a positive int, got '5'$"),
        ({"connection_limit": 0}, r"^connection_limit must be a positive int, got 0$"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(value: dict[str, Any], error: str) -> None:
    with pytest.raises((TypeError, ValueError), match=error):
        AsyncClient("sb_live_key", base_url="http://127.0.0.1:1/v1", **value)


async def test_the_smallest_settings_are_accepted(scripted: Scripted) -> None:
    server, url = scripted
    server.body = b""
    settings = {"connection_limit": 1, "max_response_bytes": 1, "timeout": 0.5}
    async with AsyncClient("sb_live_key", base_url=url, **settings) as client:
        assert await client.api_keys.revoke("sb_live_old") is None
    assert server.paths == ["/v1/api-keys/sb_live_old"]


@pytest.mark.parametrize("prefix", ["", "/SANDBOX", "/api/v1"])
async def test_the_base_urls_path_prefixes_every_request_and_log_line(
    scripted: Scripted, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, url = scripted
    server.body = b'{"sessions": []}'
    base = url.removesuffix("/v1") + prefix
    caplog.set_level(logging.INFO, logger="stablebrowse_async")
    async with AsyncClient("sb_live_key", base_url=base) as client:
        assert await client.tasks.list() == []
    assert server.paths == [f"{prefix}/tasks?limit=50"]
    assert caplog.messages[-1].startswith(f"GET {prefix}/tasks -> 200 in ")
