"""What a failed exchange tells the caller: its message, and the aiohttp error chained under it.

The chain is kept for debugging (``err.__cause__`` is aiohttp's own error), with
the secrets aiohttp keeps in it masked and the rest left as it was.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from stablebrowse_async import APIConnectionError, APIStatusError, APITimeoutError, AsyncClient
from stablebrowse_async._http import _connection_error
from stablebrowse_async.testing import Emulator, Fault

pytestmark = pytest.mark.anyio


@pytest.fixture
async def garbling_server() -> AsyncIterator[int]:
    """A server that answers every request with an unreadable status line; yields its port."""

    async def bad_status_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 abc nonsense\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(bad_status_line, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_the_chained_error_keeps_the_request_with_the_key_masked(
    garbling_server: int,
) -> None:
    base = f"http://127.0.0.1:{garbling_server}/v1"
    async with AsyncClient("sb_live_chainkey", base_url=base, max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.tasks.list()
    error, cause = info.value, info.value.__cause__
    assert isinstance(cause, aiohttp.ClientResponseError)
    # The SDK's message names the request and the kind of failure.
    assert str(error).startswith(f"GET /tasks: {type(cause).__name__}: ")
    assert (error.method, error.path) == ("GET", "/tasks")
    # The request aiohttp describes: as sent, but for the key.
    sent = cause.request_info
    assert sent.method == "GET"
    assert sent.url == sent.real_url == URL(f"{base}/tasks?limit=50")  # no user info to mask
    assert sent.headers["Authorization"] == "<redacted>"
    assert sent.headers["User-Agent"].startswith("stablebrowse-async/")
    assert "Cookie" not in sent.headers and "Proxy-Authorization" not in sent.headers
    assert "sb_live_chainkey" not in repr(cause)


async def test_a_timeout_names_the_request(emu: Emulator) -> None:
    emu.faults.append(Fault("delay", delay=5.0, route="GET /v1/tasks/{taskId}"))
    async with AsyncClient(emu.api_key, base_url=emu.url, timeout=0.2, max_retries=0) as client:
        with pytest.raises(APITimeoutError) as info:
            await client.tasks.get("slow-task")
    assert str(info.value) == "GET /tasks/slow-task: request timed out"
    assert (info.value.method, info.value.path) == ("GET", "/tasks/slow-task")


@pytest.fixture
async def redirecting() -> AsyncIterator[Callable[[str | None], str]]:
    """A server answering 302 with the ``Location`` set by the test; yields ``set_location``."""
    location: list[str | None] = [None]

    async def answer(request: web.BaseRequest) -> web.Response:
        headers = {} if location[0] is None else {"Location": location[0]}
        return web.Response(status=302, headers=headers)

    runner = web.ServerRunner(web.Server(answer))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]

    def set_location(value: str | None) -> str:
        location[0] = value
        return f"http://{host}:{port}/v1"

    try:
        yield set_location
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("location", "where"),
    [
        ("https://elsewhere.example:8443/login?token=s3cret", "https://elsewhere.example:8443"),
        ("/v2/tasks?token=s3cret", "a path on the same host"),
        ("http://[::1", "an unreadable Location"),
        (None, "nowhere (no Location header)"),
    ],
)
async def test_a_redirect_names_only_where_it_pointed(
    redirecting: Callable[[str | None], str], location: str | None, where: str
) -> None:
    url = redirecting(location)
    async with AsyncClient("sb_live_key", base_url=url, max_retries=0) as client:
        with pytest.raises(APIStatusError) as info:
            await client.tasks.list()
    assert info.value.status_code == 302
    assert str(info.value) == (
        f"GET /tasks: 302 redirect to {where} not followed: the API never redirects, so "
        "check base_url (following it could send your key or a request body to another host)"
    )


@pytest.mark.parametrize("link", ["__cause__", "__context__"])
def test_a_secret_deeper_in_the_chain_is_masked_too(link: str) -> None:
    """aiohttp's errors seen so far hold their secrets at the top of the chain; one that
    wraps another (as its cause, or raised while handling it) is scrubbed all the way down."""
    headers = CIMultiDictProxy(CIMultiDict({"Authorization": "Bearer sb_live_deepkey"}))
    url = URL("https://api.example/v1/tasks")
    inner = aiohttp.ClientResponseError(aiohttp.RequestInfo(url, "GET", headers, url), ())
    outer = aiohttp.ClientPayloadError("the answer was cut short")
    setattr(outer, link, inner)
    error = _connection_error(outer, "GET", "/tasks")
    assert error.__cause__ is outer and getattr(outer, link) is inner
    assert inner.request_info.headers["Authorization"] == "<redacted>"
    assert "sb_live_deepkey" not in "".join(traceback.format_exception(error))
