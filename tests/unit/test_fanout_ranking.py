"""How the run_many engine orders due polls when the client falls behind: by the
schedule's ``urgency`` (likeliest to find its task finished first), none more than
``_MAX_OVERDUE`` late, and oldest due first otherwise. Driven by a scripted schedule,
in-memory tasks and a clock the test moves, so the order follows from the ranks alone."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Sequence

import anyio
import pytest

from stablebrowse_async import Task, TaskStatus
from stablebrowse_async._polling import _BEHIND, _MAX_OVERDUE, RunMany
from stablebrowse_async._schedule import Track

pytestmark = pytest.mark.anyio

#: Each task's rank (larger: likelier finished) for the ranking schedule.
ODDS = {0: 0.1, 1: 0.5, 2: 0.3, 3: 0.9, 4: 0.2}


class FixedSchedule:
    """Every task's first poll 1 s after its submission, the last task's at once."""

    epoch = 0
    clock: list[float]

    def __init__(self, count: int) -> None:
        self.count = count
        self.index: dict[int, int] = {}  # id(track) -> index, tracks begin in input order

    def begin(self, now: float, *, batch: bool = False, exact: bool = True) -> Track:
        track = Track(now, exact=exact, role=0)
        self.index[id(track)] = len(self.index)
        return track

    def next_delay(self, track: Track, now: float) -> float:
        return 0.0 if self.index[id(track)] == self.count - 1 else 1.0

    def observe(self, track: Track, task: Task, now: float) -> None:
        track.polls += 1

    def release(self, track: Track) -> None:
        pass


class RankingSchedule(FixedSchedule):
    """The same, ranking due polls by `ODDS` (as `AdaptiveSchedule.urgency` does by
    hazard), each ranking taking `ranking_takes` of the test's clock."""

    def __init__(self, count: int, ranking_takes: float = 0.0) -> None:
        super().__init__(count)
        self.ranked: list[list[int]] = []
        self.asked_at: list[float] = []
        self.ranking_takes = ranking_takes
        self.clock: list[float] = []  # the test's clock, set by `_polled`

    def urgency(self, tracks: Sequence[Track], now: float) -> list[float]:
        indexes = [self.index[id(track)] for track in tracks]
        self.ranked.append(sorted(indexes))
        self.asked_at.append(now)
        self.clock[0] += self.ranking_takes
        return [ODDS[i] for i in indexes]


async def _polled(
    schedule: FixedSchedule, behind_by: float, poll_time: float = 0.001, *, real_time: bool = False
) -> list[int]:
    """Submit `ODDS`'s tasks from clock 0 (the first two at 0, the next two 1 ms
    apart), then move the clock to ``1 + behind_by`` (the first four polls about that
    late, the last one due at that moment), each poll taking `poll_time`; the order
    of the polls. With `real_time`, real time passes on top (a wait can end)."""
    count = len(ODDS)
    clock = schedule.clock = [0.0]
    start = time.monotonic()
    polled: list[int] = []
    submitted = iter(range(count))

    async def submit(request: object) -> Task:
        await asyncio.sleep(0)
        index = next(submitted)
        clock[0] += 0.001 if index >= 2 else 0.0  # tasks 0 and 1 due at the same time
        if index == count - 1:
            clock[0] = 1.0 + behind_by  # every poll planned so far is due, some late
        return Task(task_id=f"t{index}", status=TaskStatus.PENDING)

    async def fetch(task_id: str) -> Task:
        polled.append(int(task_id[1:]))
        clock[0] += poll_time  # a poll takes the client's time
        await asyncio.sleep(0)
        return Task(task_id=task_id, status=TaskStatus.COMPLETED)

    engine = RunMany(
        [{"end_user_id": "u", "task": str(i)} for i in range(count)],
        submit=submit,
        fetch=fetch,
        schedule=schedule,
        poll_timeout=60.0,
        concurrency=1,  # one request at a time: the order is the engine's choice alone
        clock=lambda: clock[0] + (time.monotonic() - start if real_time else 0.0),
    )
    with anyio.fail_after(10):
        outcomes = [o async for o in engine]
    assert all(o.ok for o in outcomes), outcomes
    assert collections.Counter(polled) == collections.Counter(range(count))
    return polled


async def test_a_client_behind_sends_the_likeliest_due_polls_first() -> None:
    schedule = RankingSchedule(len(ODDS))
    assert await _polled(schedule, behind_by=0.5) == [3, 1, 2, 4, 0]
    # Ranked once, every due poll together (the clock moved less than `_RANK_EVERY`),
    # at the engine's clock.
    assert schedule.ranked == [[0, 1, 2, 3, 4]]
    assert schedule.asked_at == [pytest.approx(1.5, abs=0.05)]


async def test_the_polls_still_due_are_ranked_again_as_they_wait() -> None:
    schedule = RankingSchedule(len(ODDS))
    assert await _polled(schedule, behind_by=0.5, poll_time=0.06) == [3, 1, 2, 4, 0]
    # Two polls sent (3, then 1 while 3's answer came), a third chosen (2) while 1's
    # came: by then `_RANK_EVERY` had passed, and the two still due were ranked again.
    assert schedule.ranked == [[0, 1, 2, 3, 4], [0, 4]]


class ReplanningSchedule(RankingSchedule):
    """Task 2's poll provisional; task 3's completion re-plans it 50 ms later (deferred)."""

    def next_delay(self, track: Track, now: float) -> float:
        index = self.index[id(track)]
        track.provisional = index == 2
        if index == 2 and self.epoch:
            track.deferred = True
            return 0.05
        return super().next_delay(track, now)

    def observe(self, track: Track, task: Task, now: float) -> None:
        super().observe(track, task, now)
        if self.index[id(track)] == 3:
            self.epoch += 1


async def test_a_slow_ranking_waits_longer_before_the_next() -> None:
    # Each ranking takes 20 ms of the client's time: the next waits 10 x that
    # (200 ms), not `_RANK_EVERY`, so that rankings take at most a tenth of it.
    # (Ranked again after 100 ms, the two still due were [0, 4]: see above.)
    schedule = RankingSchedule(len(ODDS), ranking_takes=0.02)
    assert await _polled(schedule, behind_by=0.5, poll_time=0.06) == [3, 1, 2, 4, 0]
    assert schedule.ranked == [[0, 1, 2, 3, 4], [0]]
    assert schedule.asked_at[1] - schedule.asked_at[0] >= 10 * 0.02


async def test_a_ranked_poll_moved_by_a_replan_goes_when_it_falls_due_again() -> None:
    # Ranked 3, 1, 2, 4, 0; 1 was chosen while 3's answer came, then the re-plan
    # moved 2 later: its ranked place is skipped, and it goes once due again.
    polled = await _polled(ReplanningSchedule(len(ODDS)), behind_by=0.5, real_time=True)
    assert polled == [3, 1, 4, 0, 2]


async def test_a_poll_overdue_past_the_bound_goes_before_every_ranked_one() -> None:
    # The first four waited more than `_MAX_OVERDUE`: oldest due first (0 and 1,
    # due together, the first planned first), whatever their odds; then the last.
    polled = await _polled(RankingSchedule(len(ODDS)), behind_by=_MAX_OVERDUE + 0.5)
    assert polled == [0, 1, 2, 3, 4]


async def test_a_client_on_time_sends_the_oldest_due_first() -> None:
    schedule = RankingSchedule(len(ODDS))
    assert await _polled(schedule, behind_by=_BEHIND / 2) == [0, 1, 2, 3, 4]
    assert schedule.ranked == []  # never asked


async def test_a_schedule_that_cannot_rank_keeps_the_oldest_due_first() -> None:
    assert await _polled(FixedSchedule(len(ODDS)), behind_by=0.5) == [0, 1, 2, 3, 4]
