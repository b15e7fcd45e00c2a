"""Clocks for the emulator: a manual virtual clock and a (possibly sped-up) real one."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "MonotonicClock", "RealClock", "VirtualClock", "iso"]


class Clock(Protocol):
    """What the emulator needs from a clock: the current time in epoch seconds."""

    def now(self) -> float: ...


class VirtualClock:
    """A clock that moves only when told to: ``advance(seconds)`` or ``set(t)``."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (must not be negative); return the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds
        return self._now

    def set(self, t: float) -> None:
        """Jump to the absolute epoch time ``t``."""
        self._now = float(t)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r})"


class RealClock:
    """Wall-clock time; ``speed > 1`` makes emulated time pass faster than real time."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) * self.speed

    def __repr__(self) -> str:
        return f"RealClock(speed={self.speed!r})"


class MonotonicClock:
    """``time.monotonic()``: the rate limiter's default clock (immune to wall-clock jumps)."""

    def now(self) -> float:
        return time.monotonic()


def iso(t: float) -> str:
    """Epoch seconds as ISO-8601 UTC with milliseconds and ``Z``: 2026-04-21T10:00:00.000Z."""
    millis = int(t * 1000)
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"
