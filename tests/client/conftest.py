"""Fixtures for client tests: a real emulator on loopback and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

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
