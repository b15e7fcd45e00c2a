"""An in-process StableBrowse API emulator, written against API.md on its own.

It imports nothing of the client (models, converter, transport, errors), so a
wire mistake cannot hide by being made the same way on both sides.

    from stablebrowse_async.testing import Emulator, VirtualClock, Fault

    async with Emulator(clock=VirtualClock(), durations=(1, 1)) as emu:
        ...  # emu.url, emu.api_key, emu.dashboard_token, emu.requests

Task text directives script outcomes without code: ``[[fail]]``,
``[[duration=2.5]]``, ``[[status=cancelled]]``, ``[[result=some text]]``,
``[[steps=3]]``.
"""

from __future__ import annotations

from ._clock import RealClock, VirtualClock
from ._emulator import Emulator
from ._faults import Fault
from ._outcomes import Outcome
from ._records import Business, RecordedRequest
from ._thread import EmulatorThread

__all__ = [
    "Business",
    "Emulator",
    "EmulatorThread",
    "Fault",
    "Outcome",
    "RealClock",
    "RecordedRequest",
    "VirtualClock",
]
