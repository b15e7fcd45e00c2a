"""Pytest fixtures for the StableBrowse emulator (registered as a ``pytest11`` plugin).

Imports of the emulator happen inside the fixtures, so loading this plugin
costs nothing in test runs that do not use it.

- ``stablebrowse_emulator``: a started :class:`~stablebrowse_async.testing.Emulator`
  (tasks take 0.05–0.2 s), for async tests run by anyio's pytest plugin
  (``@pytest.mark.anyio``); it depends on ``anyio_backend`` so anyio runs it.
- ``stablebrowse_emulator_thread``: an :class:`~stablebrowse_async.testing.EmulatorThread`
  for sync tests (the sync client, the official SDK, CLIs).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from stablebrowse_async.testing import Emulator, EmulatorThread

FAST_DURATIONS = (0.05, 0.2)


@pytest.fixture
async def stablebrowse_emulator(anyio_backend: object) -> AsyncIterator[Emulator]:
    """A running emulator on 127.0.0.1 with fast tasks (0.05–0.2 s)."""
    from stablebrowse_async.testing import Emulator

    async with Emulator(durations=FAST_DURATIONS, pending_for=0.02) as emulator:
        yield emulator


@pytest.fixture
def stablebrowse_emulator_thread() -> Iterator[EmulatorThread]:
    """A running emulator in a daemon thread, with fast tasks (0.05–0.2 s)."""
    from stablebrowse_async.testing import EmulatorThread

    with EmulatorThread(durations=FAST_DURATIONS, pending_for=0.02) as emulator:
        yield emulator
