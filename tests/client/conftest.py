"""Fixtures for client tests: a real emulator on loopback and a client pointed at it."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from stablebrowse_async import AsyncClient, PollSchedule
from stablebrowse_async.testing import Emulator

FAST_POLLS = PollSchedule(first=0.02, factor=1.5, max_interval=0.05, jitter=0.1)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(durations=(0.05, 0.2), seed=7) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS) as c:
        yield c


@pytest.fixture
async def dashboard(emu: Emulator) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(emu.dashboard_token, base_url=emu.url, poll_interval=FAST_POLLS) as c:
        yield c


class ScriptedServer:
    """A loopback server that answers every request with whatever the test sets.

    ``chunks``: send the body in pieces of this size without a Content-Length;
    ``gzip``: send it gzip-compressed (``Content-Encoding: gzip``); ``paths``
    holds the raw path of each request answered.
    """

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        self.content_type = "application/json"
        self.headers: dict[str, str] = {}
        self.chunks: int | None = None
        self.gzip = False
        self.paths: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.paths.append(request.raw_path)
        body, headers = self.body, dict(self.headers)
        if self.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if self.chunks is None:
            return web.Response(
                status=self.status, body=body, content_type=self.content_type, headers=headers
            )
        response = web.StreamResponse(status=self.status, headers=headers)
        response.content_type = self.content_type
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), self.chunks):
            await response.write(body[start : start + self.chunks])
        await response.write_eof()
        return response


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[ScriptedServer, str]]:
    """A `ScriptedServer` on loopback and its base URL."""
    server = ScriptedServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield server, f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()
