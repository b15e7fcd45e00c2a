"""The retry policy: what retries, how long to wait, Retry-After parsing, the shared gate."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stablebrowse_async._retry import RateLimitGate, RetryPolicy, parse_retry_after


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


def test_parse_retry_after_variants() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after": "-4"}) == 0.0
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
