"""`run_many(submit_rate=...)`: submissions spaced at most that many per second.

Lower bounds only (a slow machine makes the spacing longer, never shorter):
no test here asserts that anything is fast.
"""

from __future__ import annotations

import pytest

from stablebrowse_async import AsyncClient, PollSchedule, TaskRequest
from stablebrowse_async._polling import _SUBMIT_TOLERANCE, RunMany
from stablebrowse_async.types import Task

pytestmark = pytest.mark.anyio


async def test_submissions_are_spaced_by_the_rate_on_the_server_clock(client: AsyncClient) -> None:
    rate, count = 20.0, 6
    requests = [TaskRequest(end_user_id="u", task=f"paced {i}") for i in range(count)]
    outcomes = [o async for o in client.tasks.run_many(requests, submit_rate=rate)]
    created = sorted(o.unwrap().created_at.timestamp() for o in outcomes)  # type: ignore[union-attr]
    # Five spacings of 50 ms, less the tolerance the first paced one may take
    # and 5 ms for the server's millisecond timestamps and the jitter between
    # sending and creating: about 0.01 s unpaced.
    assert created[-1] - created[0] >= (count - 1) / rate - _SUBMIT_TOLERANCE - 0.005
    assert len(outcomes) == count and all(o.error is None for o in outcomes)


class _FrozenClock:
    """A clock that moves only when told (the pacing arithmetic, without sleeping)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _never(_: object) -> Task:
    raise AssertionError("the pacing test submits and polls nothing")


def _paced_batch(rate: float, clock: _FrozenClock) -> RunMany:
    return RunMany(
        [],
        submit=_never,
        fetch=_never,
        schedule=PollSchedule(),
        poll_timeout=60.0,
        submit_rate=rate,
        clock=clock,
    )


async def test_pacing_lets_a_late_feeder_catch_up_by_the_tolerance_and_no_more() -> None:
    clock = _FrozenClock()
    batch = _paced_batch(200.0, clock)._batch  # 5 ms apart; 10 ms of tolerance
    for due in (100.005, 100.010, 100.015):  # at once: within the tolerance
        assert batch._pacing_delay() == 0.0
        await batch._pace()
        assert batch._paced_at == pytest.approx(due)
    # The fourth is due at 100.015, 5 ms beyond the tolerance.
    assert batch._pacing_delay() == pytest.approx(0.005)
    clock.now = 130.0  # a long stall (every slot busy) earns no burst
    assert batch._pacing_delay() == 0.0
    await batch._pace()
    assert batch._paced_at == pytest.approx(130.005)
    assert batch._pacing_delay() == 0.0  # 130.005 is within the tolerance of 130.0
    await batch._pace()
    assert batch._pacing_delay() == pytest.approx(0.0)  # 130.010: at the edge
    await batch._pace()
    assert batch._pacing_delay() == pytest.approx(0.005)


@pytest.mark.parametrize(("rate", "spacing"), [(0.5, 2.0), (1, 1.0), (2500, 0.0004)])
async def test_any_rate_above_zero_is_taken_even_below_one_a_second(
    rate: float, spacing: float
) -> None:
    batch = _paced_batch(rate, _FrozenClock())._batch
    assert batch._submit_spacing == pytest.approx(spacing)
    assert isinstance(batch._submit_spacing, float)


async def test_without_a_rate_nothing_is_paced() -> None:
    clock = _FrozenClock()
    batch = RunMany(
        [], submit=_never, fetch=_never, schedule=PollSchedule(), poll_timeout=60.0, clock=clock
    )._batch
    for _ in range(3):
        await batch._pace()
        assert batch._pacing_delay() == 0.0
    assert batch._paced_at == float("-inf")


async def test_a_submission_due_later_than_the_tolerance_waits_for_its_turn() -> None:
    clock = _FrozenClock()
    batch = _paced_batch(20.0, clock)._batch  # 50 ms apart
    await batch._pace()
    assert batch._paced_at == pytest.approx(100.05)
    assert batch._pacing_delay() == pytest.approx(0.04)
    # `_pace` sleeps those 40 ms (really); the frozen clock has not moved, so
    # the next is due one spacing after the one it waited for.
    await batch._pace()
    assert batch._paced_at == pytest.approx(100.10)
