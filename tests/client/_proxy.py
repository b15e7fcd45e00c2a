"""A small HTTP forward proxy on loopback, for the proxy tests.

It does what a corporate proxy does with the SDK's traffic, on real sockets:

- absolute-form requests (``GET http://127.0.0.1:PORT/v1/tasks HTTP/1.1``) are
  rewritten to origin-form and forwarded to the target, one request per
  connection (``Connection: close`` both ways);
- ``CONNECT host:port`` opens a tunnel and pipes bytes both ways (what a
  client does for an ``https://`` target);
- with `credentials`, a request without the matching ``Proxy-Authorization:
  Basic ...`` gets ``407 Proxy Authentication Required``;
- with `refuse`, every request gets that status (a proxy whose policy forbids
  the destination answers ``403``).

Every request line it sees is recorded in `seen`, with whether it was
authorised. It forwards to loopback targets only, and every read is bounded
in time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
from urllib.parse import urlsplit

_HEAD_LIMIT = 64 * 1024
_IO_TIMEOUT = 10.0
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclasses.dataclass(frozen=True)
class Seen:
    """One request line the proxy received."""

    method: str
    target: str
    authorized: bool


class ForwardProxy:
    """``async with ForwardProxy() as proxy``: `proxy.url` is ``http://127.0.0.1:PORT``."""

    def __init__(
        self, credentials: tuple[str, str] | None = None, refuse: int | None = None
    ) -> None:
        self.credentials = credentials
        self.refuse = refuse
        self.seen: list[Seen] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """The proxy's URL, without credentials."""
        return f"http://127.0.0.1:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        """The proxy's URL with ``user:password@``."""
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    async def __aenter__(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _IO_TIMEOUT)
        if len(head) > _HEAD_LIMIT:
            return
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ", 2)
        headers = [line.split(":", 1) for line in header_lines if ":" in line]
        authorization = next(
            (value.strip() for name, value in headers if name.lower() == "proxy-authorization"),
            None,
        )
        authorized = self._authorized(authorization)
        self.seen.append(Seen(method, target, authorized))
        if not authorized:
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="test"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            return
        if self.refuse is not None:
            writer.write(
                f"HTTP/1.1 {self.refuse} Refused\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            await writer.drain()
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = await self._open(host.strip("[]"), int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await self._pipe_both(reader, writer, *upstream)
            return
        url = urlsplit(target)
        assert url.hostname is not None and url.port is not None, target
        origin_form = url.path + (f"?{url.query}" if url.query else "")
        kept = [
            f"{name}:{value}"
            for name, value in headers
            if name.lower() not in {"proxy-authorization", "proxy-connection", "connection"}
        ]
        up_reader, up_writer = await self._open(url.hostname, url.port)
        up_writer.write(
            "\r\n".join([f"{method} {origin_form} {version}", *kept, "Connection: close"]).encode(
                "latin-1"
            )
            + b"\r\n\r\n"
        )
        await self._pipe_both(reader, writer, up_reader, up_writer)

    def _authorized(self, header: str | None) -> bool:
        if self.credentials is None:
            return True
        user, password = self.credentials
        expected = base64.b64encode(f"{user}:{password}".encode()).decode()
        return header == f"Basic {expected}"

    @staticmethod
    async def _open(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if host not in _LOOPBACK:
            raise OSError(f"this test proxy forwards to loopback only, not {host!r}")
        return await asyncio.wait_for(asyncio.open_connection(host, port), _IO_TIMEOUT)

    @staticmethod
    async def _pipe_both(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        """Copy bytes both ways until the upstream side ends (it closes after its answer)."""

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while chunk := await asyncio.wait_for(src.read(64 * 1024), _IO_TIMEOUT):
                dst.write(chunk)
                await dst.drain()

        upload = asyncio.ensure_future(copy(reader, up_writer))
        try:
            await copy(up_reader, writer)
        finally:
            upload.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError, TimeoutError):
                await upload
            up_writer.close()
            with contextlib.suppress(OSError):
                await up_writer.wait_closed()
