"""Hostile or broken HTTP servers on loopback that the tests script answer by answer.

`HostileServer` (aiohttp.web, low-level server) answers every request with
the current `Answer`: any status, content type, headers and body bytes,
sent at once, chunked, dribbled a byte at a time (slowloris), streamed
without end, or never. It records what it received (method, raw path,
headers, body), so redirect tests can check what reached a second server.

`SlowHeadServer` (plain asyncio streams) is for what aiohttp.web cannot
do: it dribbles the status line and headers themselves, one byte at a time.

Both bind 127.0.0.1 (or another loopback address) on a free port and are
started and closed in the running event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Literal

from aiohttp import web

__all__ = ["Answer", "HostileServer", "Received", "SlowHeadServer"]

Mode = Literal["plain", "chunked", "dribble", "endless", "stall"]


@dataclasses.dataclass(frozen=True)
class Answer:
    """What the server sends back.

    Modes: ``plain`` (one response with Content-Length), ``chunked`` (the body
    in small chunks, no length), ``dribble`` (headers announce `announced`
    bytes, then one byte of `body` every `interval` seconds, forever),
    ``endless`` (a chunked body of `body` repeated until the client goes
    away), ``stall`` (read the request, never answer).
    """

    status: int = 200
    body: bytes = b"{}"
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    mode: Mode = "plain"
    interval: float = 0.05
    announced: int = 10_000

    def describe(self) -> str:
        return f"{self.mode} {self.status} {self.content_type!r} {len(self.body)}B"


@dataclasses.dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class HostileServer:
    """A loopback HTTP server answering every request with `answer`."""

    def __init__(self, host: str = "127.0.0.1", answer: Answer | None = None) -> None:
        self.host = host
        self.answer = answer or Answer()
        self.requests: list[Received] = []
        #: Body bytes written in ``dribble``/``endless`` mode before the client went away.
        self.bytes_written = 0
        #: Set when a ``dribble``/``endless`` stream ended because the client disconnected.
        self.client_gone = asyncio.Event()
        self._runner: web.ServerRunner | None = None
        self.port = 0

    @property
    def origin(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    @property
    def url(self) -> str:
        """The API root to hand to a client (``http://host:port/v1``)."""
        return self.origin + "/v1"

    async def start(self) -> HostileServer:
        runner = web.ServerRunner(web.Server(self._handle), shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> HostileServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Received(request.method, request.raw_path, dict(request.headers), body)
        )
        answer = self.answer
        headers = dict(answer.headers)
        if answer.content_type is not None:
            headers["Content-Type"] = answer.content_type
        if answer.mode == "plain":
            return web.Response(status=answer.status, body=answer.body, headers=headers)
        if answer.mode == "stall":
            await asyncio.sleep(3600)
        response = web.StreamResponse(status=answer.status, headers=headers)
        if answer.mode == "dribble":
            response.content_length = answer.announced
        else:
            response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            if answer.mode == "chunked":
                for start in range(0, len(answer.body), 7):
                    await response.write(answer.body[start : start + 7])
                await response.write_eof()
                return response
            if answer.mode == "dribble":
                for i in range(answer.announced):
                    await response.write(answer.body[i % len(answer.body) :][:1] or b" ")
                    self.bytes_written += 1
                    await asyncio.sleep(answer.interval)
            else:  # endless
                while True:
                    await response.write(answer.body)
                    self.bytes_written += len(answer.body)
        except (ConnectionError, RuntimeError):
            # aiohttp raises ConnectionResetError (or RuntimeError on a closed
            # transport) once the client has hung up: that is what we wait for.
            self.client_gone.set()
        return response


class SlowHeadServer:
    """Accepts a request, then dribbles the status line and headers one byte at a time."""

    HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"p" * 4000

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.bytes_written = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> SlowHeadServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.close()
        await server.wait_closed()

    async def __aenter__(self) -> SlowHeadServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            await reader.readuntil(b"\r\n\r\n")
            for i in range(len(self.HEAD)):
                writer.write(self.HEAD[i : i + 1])
                await writer.drain()
                self.bytes_written += 1
                await asyncio.sleep(self.interval)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
