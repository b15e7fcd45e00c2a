"""What a client's connection pool promises: at most `connection_limit` connections,
one event loop per client, and its connections closed with it.

Found by mutation testing (``make mutation``, `_http`): the limit handed to the
connector, the event-loop check and the closing of the session could change unseen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from stablebrowse_async import AsyncClient
from stablebrowse_async.testing import Emulator

pytestmark = pytest.mark.anyio


class HoldingServer:
    """A loopback server that holds every request until the test releases them all,
    counting how many it holds at once."""

    def __init__(self) -> None:
        self.held = 0
        self.peak = 0
        self.release = asyncio.Event()
        self.arrived = asyncio.Condition()

    async def handle(self, request: web.BaseRequest) -> web.Response:
        async with self.arrived:
            self.held += 1
            self.peak = max(self.peak, self.held)
            self.arrived.notify_all()
        await asyncio.wait_for(self.release.wait(), timeout=10)
        self.held -= 1
        return web.json_response({"sessions": []})

    async def wait_for(self, count: int) -> None:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: self.held >= count), timeout=10)


@pytest.fixture
async def holding() -> AsyncIterator[tuple[HoldingServer, str]]:
    server = HoldingServer()
    runner = web.ServerRunner(web.Server(server.handle))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield server, f"http://{host}:{port}/v1"
    finally:
        server.release.set()
        await runner.cleanup()


async def test_no_more_than_connection_limit_requests_are_on_the_wire(
    holding: tuple[HoldingServer, str],
) -> None:
    server, url = holding
    async with AsyncClient("sb_live_pool_key", base_url=url, connection_limit=3) as client:
        calls = [asyncio.ensure_future(client.tasks.list()) for _ in range(8)]
        await server.wait_for(3)
        # Five more would arrive within milliseconds if the limit were not applied.
        await asyncio.sleep(0.2)
        assert server.held == 3
        # The connector's statistics show the limit too, in all and for the API's host.
        connector = client.connector
        assert connector is not None
        assert (connector.limit, connector.limit_per_host) == (3, 3)
        server.release.set()
        assert await asyncio.gather(*calls) == [[]] * 8
    assert server.peak == 3


async def test_a_client_belongs_to_the_event_loop_it_first_ran_in(emu: Emulator) -> None:
    async with AsyncClient(emu.api_key, base_url=emu.url) as client:
        await client.tasks.list()
        elsewhere = client.tasks.list()
        with pytest.raises(
            RuntimeError,
            match=r"^this AsyncClient is bound to the event loop it first ran in; create one "
            r"client per event loop \(or use stablebrowse_async\.sync\.Client\)$",
        ):
            await asyncio.to_thread(asyncio.run, elsewhere)
        assert await client.tasks.list() == []
    assert len(emu.requests) == 2


async def test_closing_the_client_closes_its_connections(emu: Emulator) -> None:
    client = AsyncClient(emu.api_key, base_url=emu.url)
    await client.tasks.list()
    connector = client.connector
    assert connector is not None and not connector.closed
    assert client.is_closed is False
    await client.aclose()
    assert connector.closed
    assert client.is_closed is True
    assert client.connector is None
