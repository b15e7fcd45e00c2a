"""The documented defaults are the defaults, and the schedules grow and jitter as documented.

README and docstrings promise: 2 retries per request, waits in full jitter
under ``0.5 s * 2**(attempt - 1)`` capped at 8 s; polls after 1.0 s, each
interval x1.3 up to 5 s, each scaled by a random factor within +-10 % so
that clients started together do not poll in lock-step.

Random draws are taken from a seeded `random` (the generator the SDK uses),
so the figures below are the same on every run; the state is restored after.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from stablebrowse_async import AdaptiveSchedule, AsyncClient, PollSchedule, RetryPolicy
from stablebrowse_async._convert import parse_datetime

_DRAWS = 400


@pytest.fixture
def seeded() -> Iterator[None]:
    state = random.getstate()
    random.seed(20261202)
    try:
        yield
    finally:
        random.setstate(state)


def test_retry_defaults_are_the_documented_ones() -> None:
    assert RetryPolicy() == RetryPolicy(
        max_retries=2, initial_backoff=0.5, max_backoff=8.0, max_retry_after=60.0
    )
    assert AsyncClient("sb_live_key").max_retries == 2


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (9, 8.0)]
)
def test_retry_waits_double_per_attempt_up_to_the_cap(attempt: int, ceiling: float) -> None:
    waits = [RetryPolicy().backoff(attempt) for _ in range(_DRAWS)]
    assert 0.0 <= min(waits) < 0.1 * ceiling  # full jitter: from zero...
    assert 0.9 * ceiling < max(waits) <= ceiling  # ...up to the exponential ceiling


def test_a_server_retry_after_replaces_the_computed_wait_up_to_its_cap() -> None:
    policy = RetryPolicy()
    assert policy.backoff(1, retry_after=3.0) == 3.0
    assert policy.backoff(5, retry_after=0.0) == 0.0
    assert policy.backoff(1, retry_after=3600.0) == 60.0


def test_poll_defaults_are_the_documented_ones() -> None:
    assert PollSchedule() == PollSchedule(first=1.0, factor=1.3, max_interval=5.0, jitter=0.1)
    schedule = AsyncClient("sb_live_key").poll_schedule
    # The default learns (README "Polling"); its safety net is the documented geometric one.
    assert isinstance(schedule, AdaptiveSchedule)
    assert schedule.fallback == PollSchedule()
    assert (schedule.min_interval, schedule.max_interval, schedule.jitter) == (0.2, 30.0, 0.1)


def test_a_client_behind_ranks_its_due_polls_as_documented() -> None:
    # README "Very large batches on one machine": ranked once the oldest due poll
    # waited 0.1 s, again every 0.1 s (at least ten times as long as a ranking
    # took), none more than 2 s past its time.
    from stablebrowse_async import _polling

    assert (_polling._BEHIND, _polling._RANK_EVERY, _polling._MAX_OVERDUE) == (0.1, 0.1, 2.0)
    assert _polling._RANK_SPACING == 9.0


@pytest.mark.parametrize("polls_done", range(12))
def test_poll_intervals_grow_by_the_factor_up_to_the_cap(polls_done: int) -> None:
    schedule = PollSchedule(jitter=0)
    assert schedule.interval(polls_done) == pytest.approx(min(5.0, 1.3**polls_done))


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("polls_done", [0, 3, 30])
def test_poll_jitter_stays_within_ten_percent_and_uses_the_whole_band(polls_done: int) -> None:
    base = min(5.0, 1.3**polls_done)
    intervals = [PollSchedule().interval(polls_done) for _ in range(_DRAWS)]
    assert 0.9 * base <= min(intervals) < 0.92 * base
    assert 1.08 * base < max(intervals) <= 1.1 * base


def test_two_clients_first_polls_differ() -> None:
    fixed = [AsyncClient("sb_live_key", poll_interval=PollSchedule()) for _ in range(2)]
    first = [
        client.poll_schedule.next_delay(client.poll_schedule.begin(0.0), 0.0) for client in fixed
    ]
    assert first[0] != first[1]
    learning = [AsyncClient("sb_live_key").poll_schedule for _ in range(2)]
    first = [schedule.next_delay(schedule.begin(0.0), 0.0) for schedule in learning]
    assert first[0] != first[1]


def test_a_number_as_poll_interval_is_the_cap() -> None:
    assert PollSchedule.coerce(3) == PollSchedule(first=1.0, max_interval=3.0)
    assert PollSchedule.coerce(0.25) == PollSchedule(first=0.25, max_interval=0.25)


def test_naive_datetimes_are_taken_as_utc_and_aware_ones_kept() -> None:
    naive = datetime(2026, 4, 21, 10, 0)
    assert parse_datetime(naive) == naive.replace(tzinfo=timezone.utc)
    assert parse_datetime(naive).tzinfo is timezone.utc
    paris = datetime(2026, 4, 21, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse_datetime(paris) is paris
    assert parse_datetime("2026-04-21T12:00:00+02:00").utcoffset() == timedelta(hours=2)
    assert parse_datetime(" 2026-04-21T10:00:00.1234 ") == datetime(
        2026, 4, 21, 10, 0, 0, 123400, tzinfo=timezone.utc
    )
