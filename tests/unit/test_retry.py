"""The retry policy: what retries, how long to wait, Retry-After parsing, the shared gate."""

from __future__ import annotations

import email.utils

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stablebrowse_async._polling import POLL_RETRY
from stablebrowse_async._retry import (
    AMBIGUOUS,
    FAIL,
    RateLimitGate,
    Retry,
    RetryPolicy,
    parse_retry_after,
)
from stablebrowse_async.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    RateLimitError,
    StablebrowseError,
)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_safe_methods_retry_transient_statuses(method: str, status: int) -> None:
    assert RetryPolicy.status_is_retryable(method, status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 422])
def test_client_errors_are_never_retried(status: int) -> None:
    assert not RetryPolicy.status_is_retryable("GET", status)
    assert not RetryPolicy.status_is_retryable("POST", status)


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_post_is_not_retried_after_ambiguous_statuses(status: int) -> None:
    assert not RetryPolicy.status_is_retryable("POST", status)


def test_post_is_retried_on_429_and_before_sending_only() -> None:
    assert RetryPolicy.status_is_retryable("POST", 429)
    assert RetryPolicy.connection_error_is_retryable("POST", request_sent=False)
    assert not RetryPolicy.connection_error_is_retryable("POST", request_sent=True)
    assert RetryPolicy.connection_error_is_retryable("GET", request_sent=True)


@given(
    attempt=st.integers(min_value=1, max_value=60),
    initial=st.floats(min_value=0, max_value=10),
    cap=st.floats(min_value=0, max_value=100),
)
def test_backoff_is_full_jitter_within_the_exponential_cap(
    attempt: int, initial: float, cap: float
) -> None:
    policy = RetryPolicy(initial_backoff=initial, max_backoff=cap)
    wait = policy.backoff(attempt)
    assert 0.0 <= wait <= min(cap, initial * 2 ** (attempt - 1)) + 1e-9


@given(
    retry_after=st.floats(min_value=0, max_value=1e6), limit=st.floats(min_value=0, max_value=120)
)
def test_retry_after_wins_but_is_capped(retry_after: float, limit: float) -> None:
    policy = RetryPolicy(max_retry_after=limit)
    assert policy.backoff(1, retry_after) == min(retry_after, limit)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_retries": -1}, ValueError),
        ({"max_retries": 1.5}, TypeError),
        ({"max_retries": True}, TypeError),
        ({"initial_backoff": -1}, ValueError),
        ({"max_backoff": float("inf")}, ValueError),
    ],
)
def test_policy_rejects_bad_settings(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_retries": -1}, ValueError, "max_retries must be >= 0, got -1"),
        ({"max_retries": "2"}, TypeError, "max_retries must be an int, got str"),
        ({"max_retries": False}, TypeError, "max_retries must be an int, got bool"),
        (
            {"initial_backoff": -0.5},
            ValueError,
            "initial_backoff must be a finite number >= 0, got -0.5",
        ),
        ({"max_backoff": "8"}, ValueError, "max_backoff must be a finite number >= 0, got '8'"),
        (
            {"max_retry_after": float("nan")},
            ValueError,
            "max_retry_after must be a finite number >= 0, got nan",
        ),
        ({"min_jitter": -0.1}, ValueError, "min_jitter must be in [0, 1], got -0.1"),
        ({"min_jitter": 1.01}, ValueError, "min_jitter must be in [0, 1], got 1.01"),
    ],
)
def test_a_bad_setting_is_named_with_what_was_wrong(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": 0},
        {"initial_backoff": 0},
        {"max_backoff": 0.0},
        {"max_retry_after": 0},
        {"initial_backoff": 0.25, "max_backoff": 0.5, "max_retry_after": 0.75},
        {"min_jitter": 0.0},
        {"min_jitter": 0.5},
        {"min_jitter": 1.0},
    ],
)
def test_the_edges_of_each_setting_are_allowed(kwargs: dict[str, object]) -> None:
    policy = RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert attrs.asdict(policy) == {**attrs.asdict(RetryPolicy()), **kwargs}


def test_parse_retry_after_variants() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    # A negative delta is garbage (RFC 9110 delta-seconds are digits), not "retry now".
    assert parse_retry_after({"retry-after": "-4"}) is None
    assert parse_retry_after({"retry-after": "-0.5"}) is None
    assert parse_retry_after({"retry-after": "0"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "nan"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "x", "retry-after": "2"}) == 2.0
    date = email.utils.formatdate(1_000_010.0, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=lambda: 1_000_000.0) == pytest.approx(10.0)


@given(st.text())
def test_parse_retry_after_never_raises(value: str) -> None:
    result = parse_retry_after({"retry-after": value})
    assert result is None or result >= 0


def test_a_new_gate_is_open_whatever_the_clock_reads() -> None:
    assert RateLimitGate(clock=lambda: 0.0).delay() == 0.0
    assert RateLimitGate(clock=lambda: 0.5).delay() == 0.0


def test_rate_limit_gate_holds_then_reopens() -> None:
    now = [100.0]
    gate = RateLimitGate(clock=lambda: now[0])
    assert gate.delay() == 0.0
    gate.close_for(2.0)
    gate.close_for(1.0)  # never shortens a longer hold
    assert gate.delay() == 2.0
    now[0] += 1.5
    assert gate.delay() == pytest.approx(0.5)
    now[0] += 1.0
    assert gate.delay() == 0.0


# -- decide: the one answer to "retry, give up, or ambiguous?" ----------------------


def _status(code: int) -> APIStatusError:
    return APIStatusError(f"HTTP {code}", status_code=code)


@pytest.mark.parametrize("code", [408, 429, 500, 501, 502, 503, 504, 505, 599])
def test_decide_retries_transient_statuses_for_safe_verbs(code: int) -> None:
    decision = RetryPolicy().decide("GET", _status(code), attempt=1)
    assert isinstance(decision, Retry)


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422, 301])
def test_decide_fails_definitive_statuses(code: int) -> None:
    assert RetryPolicy().decide("GET", _status(code), attempt=1) is FAIL
    assert RetryPolicy().decide("POST", _status(code), attempt=1) is FAIL


@pytest.mark.parametrize("code", [500, 501, 502, 599])
def test_decide_post_5xx_is_ambiguous(code: int) -> None:
    assert RetryPolicy().decide("POST", _status(code), attempt=1) is AMBIGUOUS


def test_decide_connection_errors() -> None:
    lost = APIConnectionError("reset")
    assert RetryPolicy().decide("POST", lost, attempt=1, sent=True) is AMBIGUOUS
    # Unless told otherwise, a request counts as sent: the safe assumption for a POST.
    assert RetryPolicy().decide("POST", lost, attempt=1) is AMBIGUOUS
    assert isinstance(RetryPolicy().decide("POST", lost, attempt=1, sent=False), Retry)
    assert isinstance(RetryPolicy().decide("GET", lost, attempt=1), Retry)


def test_decide_unreadable_answers() -> None:
    garbled = APIResponseValidationError("bad json", status_code=200)
    assert isinstance(RetryPolicy().decide("GET", garbled, attempt=1), Retry)
    assert RetryPolicy().decide("GET", garbled, attempt=1, repeatable=False) is FAIL
    assert RetryPolicy().decide("POST", garbled, attempt=1) is AMBIGUOUS
    assert RetryPolicy().decide("GET", StablebrowseError("other"), attempt=1) is FAIL


def test_decide_stops_after_max_retries_and_honours_retry_after() -> None:
    policy = RetryPolicy(max_retries=2, max_retry_after=60)
    limited = RateLimitError("slow down", status_code=429, retry_after=3.0)
    assert policy.decide("POST", limited, attempt=2) == Retry(3.0)
    assert policy.decide("POST", limited, attempt=3) is FAIL


def test_evolve_keeps_the_other_settings() -> None:
    policy = RetryPolicy(max_retries=5, initial_backoff=1.0, min_jitter=0.5)
    changed = attrs.evolve(policy, max_retries=0)
    assert (changed.max_retries, changed.initial_backoff, changed.min_jitter) == (0, 1.0, 0.5)
    with pytest.raises(ValueError, match="min_jitter"):
        RetryPolicy(min_jitter=1.5)


@given(attempt=st.integers(min_value=1, max_value=5000))
def test_poll_backoff_is_equal_jitter_capped_at_30s(attempt: int) -> None:
    ceiling = min(30.0, 0.5 * 2.0 ** min(attempt - 1, 64))
    wait = POLL_RETRY.backoff(attempt)
    assert ceiling / 2 <= wait <= ceiling


@given(
    attempt=st.integers(min_value=1, max_value=20),
    retry_after=st.floats(min_value=0.001, max_value=1e6),
)
def test_poll_retry_after_is_capped_and_floored(attempt: int, retry_after: float) -> None:
    ceiling = min(30.0, 0.5 * 2.0 ** (attempt - 1))
    assert POLL_RETRY.backoff(attempt, retry_after) == max(min(retry_after, 30.0), ceiling / 2)
    assert ceiling / 2 <= POLL_RETRY.backoff(attempt, 0.0) <= ceiling
