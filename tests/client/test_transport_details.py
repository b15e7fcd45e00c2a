"""Small promises of the transport a mutation run of `_http` found unchecked: the
errors that name a bad id, a closed client or a route without its placeholder."""

from __future__ import annotations

import pytest

from stablebrowse_async import AsyncClient
from stablebrowse_async._http import route
from stablebrowse_async.testing import Emulator

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
