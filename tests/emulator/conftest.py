"""Helpers for the emulator's own tests: a raw aiohttp client, never the SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from stablebrowse_async.testing import Emulator, VirtualClock


class Raw:
    """A thin raw HTTP client bound to one emulator and one token."""

    def __init__(self, session: aiohttp.ClientSession, emu: Emulator, token: str | None) -> None:
        self.session = session
        self.emu = emu
        self.token = token

    def as_(self, token: str | None) -> Raw:
        return Raw(self.session, self.emu, token)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, Any]:
        sent = {} if self.token is None else {"Authorization": f"Bearer {self.token}"}
        sent.update(headers or {})
        url = URL(self.emu.url + path, encoded=True)
        async with self.session.request(method, url, json=json, data=data, headers=sent) as resp:
            raw = await resp.read()
            body: Any = None
            if raw and resp.content_type == "application/json":
                body = await resp.json()
            return resp.status, body, resp.headers


@pytest.fixture
async def emu(anyio_backend: object) -> AsyncIterator[Emulator]:
    async with Emulator(clock=VirtualClock(), durations=(10.0, 10.0), pending_for=1.0) as e:
        yield e


@pytest.fixture
async def api(emu: Emulator) -> AsyncIterator[Raw]:
    async with aiohttp.ClientSession() as session:
        yield Raw(session, emu, emu.api_key)
