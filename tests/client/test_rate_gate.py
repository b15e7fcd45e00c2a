"""`AsyncClient(rate_gate=...)`: any `RateGate` is asked before every request and told every 429."""

from __future__ import annotations

import pytest

from stablebrowse_async import AsyncClient, RateGate, RateLimitGate
from stablebrowse_async.sync import Client
from stablebrowse_async.testing import Emulator, EmulatorThread, Fault


class RecordingGate:
    """A `RateGate` that records what the transport asks and tells it."""

    def __init__(self) -> None:
        self.asked = 0
        self.holds: list[float] = []
        self.inner = RateLimitGate()

    def delay(self) -> float:
        self.asked += 1
        return self.inner.delay()

    def close_for(self, seconds: float) -> None:
        self.holds.append(seconds)
        self.inner.close_for(seconds)


def test_a_gate_is_a_rate_gate() -> None:
    assert isinstance(RecordingGate(), RateGate)
    assert isinstance(RateLimitGate(), RateGate)


def test_a_bad_gate_is_refused_before_any_request() -> None:
    with pytest.raises(TypeError, match=r"rate_gate must have delay\(\) and close_for"):
        AsyncClient("sb_live_x", base_url="http://127.0.0.1:9/v1", rate_gate=object())  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_the_gate_is_asked_before_every_request_and_told_each_429(emu: Emulator) -> None:
    emu.faults.append(Fault("rate_limit", retry_after=0, times=1))
    gate = RecordingGate()
    async with AsyncClient(emu.api_key, base_url=emu.url, rate_gate=gate) as client:
        await client.tasks.list()  # 429 (Retry-After: 0), then 200
        await client.tasks.list()
        copy = client.with_options(max_retries=0)
        await copy.tasks.list()  # a copy shares the gate
    assert gate.asked == len(emu.requests) == 4
    assert gate.holds == [0.0]


@pytest.mark.anyio
async def test_one_gate_shared_by_two_clients_holds_both(emu: Emulator) -> None:
    gate = RateLimitGate()
    first = AsyncClient(emu.api_key, base_url=emu.url, rate_gate=gate)
    second = AsyncClient(emu.api_key, base_url=emu.url, rate_gate=gate, max_retries=0)
    emu.faults.append(Fault("rate_limit", retry_after=1, times=1))
    async with first, second:
        await first.tasks.list()  # 429 closes the shared gate for 1 s, then retried
        await second.tasks.list()  # had to wait for the same gate
    t429, retried, other = (r.received_at for r in emu.requests)
    assert retried - t429 >= 1.0 and other - t429 >= 1.0


def test_the_sync_client_takes_a_gate_too() -> None:
    gate = RecordingGate()
    with EmulatorThread() as emu, Client(emu.api_key, base_url=emu.url, rate_gate=gate) as client:
        client.tasks.list()
    assert gate.asked == 1 and gate.holds == []
