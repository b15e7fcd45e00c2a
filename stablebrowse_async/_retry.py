"""Retry policy: which failures are retried, how long to wait, and Retry-After.

The rules (documented in the README's "Errors and retries"):

- Safe verbs (GET, PUT, DELETE: PUT and DELETE are idempotent in this API)
  retry on connection errors, timeouts, 408, 429 and 5xx.
- POST creates something (a task, a key), so it retries only when the server
  provably did not act on it: a 429 (the API rejects before acting), or a
  failure to connect (nothing was sent). Any other POST failure is ambiguous
  and is raised as `AmbiguousRequestError`, never retried into a duplicate.
- Waits grow exponentially with *full jitter* (uniformly random between 0 and
  the exponential cap), as recommended for many clients sharing one server.
- A server's ``Retry-After`` (seconds or an HTTP date) replaces the computed
  wait, capped at `max_retry_after` so a hostile header cannot stall a caller.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["RateGate", "RateLimitGate", "RetryPolicy", "parse_retry_after"]

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def parse_retry_after(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait from a ``Retry-After`` (or ``retry-after-ms``) header, or None.

    Accepts delta-seconds (integer or decimal) and HTTP dates; negative or
    unparsable values give None (the caller then uses its own backoff).
    """
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            value = float(milliseconds) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - now()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@attrs.frozen
class RetryPolicy:
    """How many times and how long to wait. Immutable; `AsyncClient` holds one.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        initial_backoff: the exponential cap of the first retry, in seconds.
        max_backoff: the largest computed wait.
        max_retry_after: the largest server-requested wait honoured.
    """

    max_retries: int = 2
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def __attrs_post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError(f"max_retries must be an int, got {type(self.max_retries).__name__}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        for name in ("initial_backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    @staticmethod
    def status_is_retryable(method: str, status: int) -> bool:
        """Whether an answer with `status` may be retried for `method`."""
        if method in SAFE_METHODS:
            return status in RETRYABLE_STATUSES
        # The API rejects a rate-limited POST before acting on it.
        return status == 429

    @staticmethod
    def connection_error_is_retryable(method: str, *, request_sent: bool) -> bool:
        """Whether a failure without an answer may be retried for `method`."""
        return method in SAFE_METHODS or not request_sent

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based).

        With `retry_after` from the server, that value (capped) wins;
        otherwise full jitter: uniform in [0, min(max_backoff, initial * 2**(attempt-1))].
        """
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_backoff, self.initial_backoff * (2.0 ** (attempt - 1)))
        return random.uniform(0.0, ceiling)


@runtime_checkable
class RateGate(Protocol):
    """What a client asks before every request, and tells after a 429.

    Both methods are synchronous and are called on the event loop, before
    every request: they must return at once (no I/O, no lock held across a
    wait). A gate shared by several processes keeps a local copy of the
    "not before" time for `delay` and propagates `close_for` in the
    background (see `stablebrowse_async.contrib.ray.ClusterRateGate`).
    """

    def delay(self) -> float:
        """Seconds still to wait before sending, 0.0 when open."""
        ...

    def close_for(self, seconds: float) -> None:
        """Hold every request back for `seconds` from now (never shortens a longer hold)."""
        ...


class RateLimitGate:
    """A client-wide "not before" time, so one 429 slows every request of the client.

    When any request is told to back off (a 429 with or without Retry-After),
    the gate closes until then; every request, and every poller, waits for it
    before sending. The gate only ever moves later, and reopens by itself.
    """

    __slots__ = ("_clock", "_open_at")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._open_at = 0.0

    def close_for(self, seconds: float) -> None:
        """Hold every request back for `seconds` from now (never shortens a longer hold)."""
        self._open_at = max(self._open_at, self._clock() + seconds)

    def delay(self) -> float:
        """Seconds still to wait before sending, 0.0 when open."""
        remaining = self._open_at - self._clock()
        return remaining if remaining > 0 else 0.0
