"""Retry policy: the one owner of "retry, give up, or ambiguous?" and of backoff.

`RetryPolicy.decide` answers that question for every failed request: the
transport asks it after each failed attempt, and the pollers ask it after each
failed poll (with other parameters, `_polling.POLL_RETRY`: no count limit, a
30 s cap, equal jitter). The rules (documented in the README's "Errors and retries"):

- Safe verbs (GET, PUT, DELETE: PUT and DELETE are idempotent in this API)
  retry on connection errors, timeouts, an unreadable answer, 408, 429 and
  every 5xx (the rule openai-python uses too: 501 and 505 included, so the
  transport and the pollers agree).
- POST creates something (a task, a key), so it retries only when the server
  provably did not act on it: a 429 (the API rejects before acting), or a
  request that never left the client (the connection failed, or the attempt
  timed out before it had one: `sent=False`). Any other POST failure after
  sending (a lost answer, a 5xx, a success whose answer cannot be read) is
  *ambiguous*: `decide` returns `Ambiguous` and the transport raises
  `AmbiguousRequestError`, never retrying into a duplicate. A 4xx other than 429 is a plain failure.
- Waits grow exponentially with jitter: uniformly random between
  ``min_jitter * ceiling`` and the exponential ceiling (``min_jitter=0`` is
  *full jitter*, as recommended for many clients sharing one server).
- A server's ``Retry-After`` (seconds or an HTTP date) replaces the computed
  wait, capped at `max_retry_after` so a hostile header cannot stall a caller,
  and never shorter than the jitter floor.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

import attrs

from .errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    RateLimitError,
    StablebrowseError,
)

__all__ = [
    "AMBIGUOUS",
    "FAIL",
    "Ambiguous",
    "Decision",
    "Fail",
    "RateGate",
    "RateLimitGate",
    "Retry",
    "RetryPolicy",
    "parse_retry_after",
]

#: Statuses below 500 that a safe verb retries (every 5xx is retried too).
RETRYABLE_STATUSES = frozenset({408, 429})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def parse_retry_after(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait from a ``Retry-After`` (or ``retry-after-ms``) header, or None.

    Accepts delta-seconds (integer or decimal) and HTTP dates. A negative,
    infinite, NaN or unparsable value gives None (the caller then uses its own
    backoff); an HTTP date already past gives 0.0 (RFC 9110: no need to wait).
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
        return max(0.0, when.timestamp() - now())
    # Delta-seconds are digits only (RFC 9110): a negative count is garbage, not "now".
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


@attrs.frozen
class Retry:
    """Decision: try again after `delay` seconds."""

    delay: float


@attrs.frozen
class Fail:
    """Decision: give up and raise the failure as it is."""


@attrs.frozen
class Ambiguous:
    """Decision: a request that creates something was sent and may have been acted on.

    The caller raises `AmbiguousRequestError` (never retries: a retry could
    create a duplicate).
    """


FAIL = Fail()
AMBIGUOUS = Ambiguous()
Decision = Retry | Fail | Ambiguous
#: 2**64 times any backoff is past every cap; larger exponents would overflow a float.
_MAX_DOUBLINGS = 64


@attrs.frozen
class RetryPolicy:
    """How many times and how long to wait. Immutable; `AsyncClient` holds one.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        initial_backoff: the exponential cap of the first retry, in seconds.
        max_backoff: the largest computed wait.
        max_retry_after: the largest server-requested wait honoured.
        min_jitter: the random wait is at least this fraction of its ceiling
            (0.0: full jitter; 0.5: equal jitter). A ``Retry-After`` is never
            honoured below it.

    Make a variant with ``attrs.evolve(policy, max_retries=0)``.
    """

    max_retries: int = 2
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    min_jitter: float = 0.0

    def __attrs_post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError(f"max_retries must be an int, got {type(self.max_retries).__name__}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        for name in ("initial_backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not 0.0 <= self.min_jitter <= 1.0:
            raise ValueError(f"min_jitter must be in [0, 1], got {self.min_jitter!r}")

    def decide(
        self,
        method: str,
        failure: StablebrowseError,
        *,
        attempt: int,
        sent: bool = True,
        repeatable: bool = True,
    ) -> Decision:
        """Retry (after how long), give up, or report an ambiguous request.

        Args:
            method: the HTTP verb of the failed request.
            failure: what went wrong, as the SDK error that would be raised.
            attempt: the number of the retry this would be (1 for the first).
            sent: False when the request provably never left this process
                (the connection could not be made, or the attempt timed out
                before it had one).
            repeatable: False when the answer arrived whole and asking again
                would get the same one (it does not fit the expected model).
        """
        safe = method in SAFE_METHODS
        retry_after: float | None = None
        if isinstance(failure, APIStatusError):
            if not safe and failure.status_code >= 500:
                # A gateway's 5xx can follow a task that was created.
                return AMBIGUOUS
            retryable = self.status_is_retryable(method, failure.status_code)
            if isinstance(failure, RateLimitError):
                retry_after = failure.retry_after
        elif isinstance(failure, APIConnectionError):
            retryable = self.connection_error_is_retryable(method, request_sent=sent)
            if not retryable:
                return AMBIGUOUS
        elif isinstance(failure, APIResponseValidationError):
            if not safe:
                # A success status: the server acted, but what it made is unknown.
                return AMBIGUOUS
            retryable = repeatable
        else:
            retryable = False
        if not retryable or attempt > self.max_retries:
            return FAIL
        return Retry(self.backoff(attempt, retry_after))

    @staticmethod
    def status_is_retryable(method: str, status: int) -> bool:
        """Whether an answer with `status` may be retried for `method`."""
        if method in SAFE_METHODS:
            return status in RETRYABLE_STATUSES or status >= 500
        # The API rejects a rate-limited POST before acting on it.
        return status == 429

    @staticmethod
    def connection_error_is_retryable(method: str, *, request_sent: bool) -> bool:
        """Whether a failure without an answer may be retried for `method`."""
        return method in SAFE_METHODS or not request_sent

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based): the one backoff rule.

        The ceiling is ``min(max_backoff, initial_backoff * 2**(attempt-1))``
        and the floor ``min_jitter * ceiling``. With `retry_after` from the
        server, that value (capped at `max_retry_after`, raised to the floor)
        wins; a zero Retry-After counts as advice only without a floor. Otherwise
        the wait is uniform in [floor, ceiling].
        """
        doublings = min(attempt - 1, _MAX_DOUBLINGS)
        ceiling = min(self.max_backoff, self.initial_backoff * (2.0**doublings))
        floor = ceiling * self.min_jitter
        if retry_after is not None and (retry_after > 0 or not floor):
            return max(min(retry_after, self.max_retry_after), floor)
        return random.uniform(floor, ceiling)


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
