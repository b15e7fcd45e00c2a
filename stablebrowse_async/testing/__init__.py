"""An in-process StableBrowse API emulator, written against API.md on its own.

It imports nothing of the client (models, converter, transport, errors), so a
wire mistake cannot hide by being made the same way on both sides.

    from stablebrowse_async.testing import Emulator, VirtualClock, Fault

    async with Emulator(clock=VirtualClock(), durations=(1, 1)) as emu:
        ...  # emu.url, emu.api_key, emu.dashboard_token, emu.requests

Task text directives script outcomes without code: ``[[fail]]``,
``[[duration=2.5]]``, ``[[status=cancelled]]``, ``[[result=some text]]``,
``[[steps=3]]``, ``[[steps_fault=shuffle]]`` (or ``drop``, ``truncate``,
with an optional ``:RATE``; see `Fault` for what each does to the steps).

Task durations come from ``durations=``: ``(low, high)`` seconds (uniform), a
`Durations` or its spec string (``"lognormal:20,0.3"``,
``"2*uniform:1.5,2.5+1*uniform:25,35"``), drawn with ``seed``; a
``[[duration=...]]`` directive wins. `Emulator.task_times` gives each task's
true creation and completion times. Every answer carries a request id in
``x-amzn-RequestId`` (and ``X-Request-Id``), also kept in
`RecordedRequest.request_id`.

Where things live: ``_pipeline.py`` (request ids, recording, auth, rate limit,
fault injection), ``_handlers.py`` (the route table and one function per
endpoint), ``_state.py`` (businesses, keys, tasks, sessions; a task's record is
computed from the clock), ``_durations.py``, ``_outcomes.py`` (directives,
generated content), ``_emulator.py`` (options, lifecycle, helpers).
"""

from __future__ import annotations

from ._clock import RealClock, VirtualClock
from ._durations import Durations
from ._emulator import Emulator
from ._faults import Fault
from ._outcomes import Outcome
from ._records import Business, RecordedRequest, TaskTimes
from ._thread import EmulatorThread

__all__ = [
    "Business",
    "Durations",
    "Emulator",
    "EmulatorThread",
    "Fault",
    "Outcome",
    "RealClock",
    "RecordedRequest",
    "TaskTimes",
    "VirtualClock",
]
