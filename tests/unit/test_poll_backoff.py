"""How long a poller waits after a failed poll: `POLL_RETRY.backoff`, through `decide`.

The README (and `_polling`'s docstring) promise: a transient poll failure is
retried after a growing wait with equal jitter, never longer than 30 s; a
server's Retry-After is honoured (at least that long, up to the 30 s cap); a
Retry-After that is not a usable number is ignored and the poller's own
backoff applies. These tests ask the one owner of that rule,
`RetryPolicy.decide` with the poller's parameters, as `follow_task` does.
Random draws come from a seeded `random` (the generator the SDK uses).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stablebrowse_async._polling import POLL_RETRY
from stablebrowse_async._retry import Retry, parse_retry_after
from stablebrowse_async.errors import (
    APIConnectionError,
    APIStatusError,
    RateLimitError,
    StablebrowseError,
)

_CAP = 30.0
_DRAWS = 300


@pytest.fixture
def seeded() -> Iterator[None]:
    state = random.getstate()
    random.seed(19)
    try:
        yield
    finally:
        random.setstate(state)


def _wait(failure: StablebrowseError, failures: int) -> float:
    """The wait after the `failures`-th poll failure in a row, as the poller asks for it."""
    decision = POLL_RETRY.decide("GET", failure, attempt=failures)
    assert isinstance(decision, Retry), decision
    return decision.delay


def _unavailable() -> APIStatusError:
    return APIStatusError("HTTP 503", status_code=503)


def _throttled(retry_after: float | None) -> RateLimitError:
    return RateLimitError("slow down", status_code=429, retry_after=retry_after)


@pytest.mark.usefixtures("seeded")
def test_the_second_failure_waits_longer_than_the_first() -> None:
    first = [_wait(_unavailable(), 1) for _ in range(_DRAWS)]
    second = [_wait(_unavailable(), 2) for _ in range(_DRAWS)]
    # Equal jitter: each wait is in [ceiling / 2, ceiling] and the ceiling doubles,
    # so every second wait is at least every first one, and on average twice as long.
    assert max(first) <= min(second)
    assert statistics.fmean(second) == pytest.approx(2 * statistics.fmean(first), rel=0.1)
    assert 0.25 <= min(first) < 0.27 and 0.48 < max(first) <= 0.5
    assert 0.5 <= min(second) < 0.54 and 0.96 < max(second) <= 1.0


@pytest.mark.usefixtures("seeded")
def test_waits_stop_growing_at_the_cap() -> None:
    late = [_wait(APIConnectionError("reset"), failures) for failures in range(7, 7 + _DRAWS)]
    assert _CAP / 2 <= min(late) < 0.55 * _CAP  # equal jitter, down to half the cap...
    assert 0.95 * _CAP < max(late) <= _CAP  # ...and never past it


@given(failures=st.integers(min_value=1, max_value=10_000), status=st.sampled_from([500, 503]))
def test_no_wait_is_ever_longer_than_the_cap(failures: int, status: int) -> None:
    wait = _wait(APIStatusError(f"HTTP {status}", status_code=status), failures)
    ceiling = min(_CAP, 0.5 * 2.0 ** min(failures - 1, 64))
    assert ceiling / 2 <= wait <= ceiling <= _CAP


@given(
    failures=st.integers(min_value=1, max_value=50),
    retry_after=st.floats(min_value=0.001, max_value=_CAP),
)
def test_a_retry_after_is_honoured_as_a_floor(failures: int, retry_after: float) -> None:
    """The poller never comes back sooner than the server asked (within the cap)."""
    wait = _wait(_throttled(retry_after), failures)
    assert retry_after <= wait <= _CAP
    own_floor = min(_CAP, 0.5 * 2.0 ** min(failures - 1, 64)) / 2
    assert wait == max(retry_after, own_floor)  # no longer than needed either


@given(failures=st.integers(min_value=1, max_value=50), retry_after=st.floats(min_value=_CAP))
def test_a_retry_after_past_the_cap_waits_the_cap(failures: int, retry_after: float) -> None:
    assert _wait(_throttled(retry_after), failures) == _CAP


@pytest.mark.parametrize("header", ["-3", "nan", "inf", "-inf", "soon", "", "1e999"])
@pytest.mark.parametrize("failures", [1, 2, 12])
def test_a_bad_retry_after_is_ignored(header: str, failures: int) -> None:
    """An unusable header is no header: the poller's own backoff applies."""
    retry_after = parse_retry_after({"retry-after": header})
    assert retry_after is None
    ceiling = min(_CAP, 0.5 * 2.0 ** (failures - 1))
    assert ceiling / 2 <= _wait(_throttled(retry_after), failures) <= ceiling


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("failures", [1, 3, 9])
def test_a_zero_retry_after_does_not_undercut_the_jitter_floor(failures: int) -> None:
    """``Retry-After: 0`` from a struggling server does not make every poller retry at
    once: the waits stay the poller's own, jittered (not all equal to the floor)."""
    ceiling = min(_CAP, 0.5 * 2.0 ** (failures - 1))
    waits = [_wait(_throttled(0.0), failures) for _ in range(20)]
    assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
    assert len(set(waits)) == len(waits)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_a_definitive_poll_failure_is_not_retried(status: int) -> None:
    decision = POLL_RETRY.decide("GET", APIStatusError("no", status_code=status), attempt=1)
    assert not isinstance(decision, Retry)
