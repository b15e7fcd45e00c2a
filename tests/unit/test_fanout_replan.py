"""How the run_many engine re-plans when its schedule learns: provisional polls are
brought forward (pushed back only when the schedule marks the new plan deferred)
once per move of ``schedule.epoch``, tasks polled meanwhile included. Driven by a scripted schedule and in-memory tasks, so
the order of the polls follows from the plans alone."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable

import anyio
import pytest

from stablebrowse_async import Task, TaskStatus
from stablebrowse_async._polling import RunMany
from stablebrowse_async._schedule import Track

pytestmark = pytest.mark.anyio

Plan = tuple[float, bool] | tuple[float, bool, bool]  # (delay, provisional[, deferred])


class ScriptedSchedule:
    """A schedule whose answers for the task at each index come from a script.

    ``plans[index]``: what ``next_delay`` answers for that task, call after call;
    ``moves``: the (index, poll number) whose observation moves ``epoch``.
    """

    def __init__(self, plans: dict[int, list[Plan]], moves: set[tuple[int, int]]) -> None:
        self.epoch = 0
        self._plans = plans
        self._moves = moves
        self._index: dict[int, int] = {}  # id(track) -> index, tracks begin in input order
        self.asked: collections.Counter[int] = collections.Counter()

    def begin(self, now: float, *, batch: bool = False, exact: bool = True) -> Track:
        track = Track(now, exact=exact, role=0)
        self._index[id(track)] = len(self._index)
        return track

    def next_delay(self, track: Track, now: float) -> float:
        index = self._index[id(track)]
        delay, track.provisional, *deferred = self._plans[index][self.asked[index]]
        track.deferred = bool(deferred and deferred[0])
        self.asked[index] += 1
        return delay

    def observe(self, track: Track, task: Task, now: float) -> None:
        track.polls += 1
        if (self._index[id(track)], track.polls) in self._moves:
            self.epoch += 1

    def release(self, track: Track) -> None:
        pass


async def _polls_in_order(
    schedule: ScriptedSchedule,
    records: dict[int, list[TaskStatus]],
    clock: Callable[[], float] = time.monotonic,
) -> list[int]:
    """Run one task per index of `records` (each poll answers its next status); the
    indexes in the order they were polled."""
    polled: list[int] = []
    answers = {f"t{i}": collections.deque(statuses) for i, statuses in records.items()}

    submitted = iter(range(len(records)))

    async def submit_next(request: object) -> Task:
        await asyncio.sleep(0)
        return Task(task_id=f"t{next(submitted)}", status=TaskStatus.PENDING)

    async def fetch(task_id: str) -> Task:
        polled.append(int(task_id[1:]))
        await asyncio.sleep(0)
        return Task(task_id=task_id, status=answers[task_id].popleft())

    # One request at a time: tasks begin in input order, and each re-plan sees no
    # other poll in flight than the one that moved the epoch.
    engine = RunMany(
        [{"end_user_id": "u", "task": str(i)} for i in records],
        submit=submit_next,
        fetch=fetch,
        schedule=schedule,
        poll_timeout=3.0,
        concurrency=1,
        clock=clock,
    )
    with anyio.fail_after(10):
        outcomes = [o async for o in engine]
    assert all(o.ok for o in outcomes), outcomes
    return polled


RUNNING, DONE = TaskStatus.RUNNING, TaskStatus.COMPLETED


async def test_a_replan_brings_parked_polls_forward_and_never_postpones_one() -> None:
    schedule = ScriptedSchedule(
        plans={
            0: [(0.75, True), (0.3, False)],  # parked; once the schedule learns: 0.35 s sooner
            1: [(0.1, False)],  # its completion teaches the schedule (epoch 1)
            2: [(0.5, True), (30.0, True), (0.5, True), (0.0, True)],  # a later plan is ignored
            3: [(0.6, False)],  # its completion moves the epoch again (2)
        },
        moves={(1, 1), (3, 1)},
    )
    records = {0: [DONE], 1: [DONE], 2: [RUNNING, DONE], 3: [DONE]}
    assert await _polls_in_order(schedule, records) == [1, 0, 2, 3, 2]
    # Each provisional task is planned again once per move of the epoch, not at every poll.
    assert schedule.asked == {0: 2, 1: 1, 2: 4, 3: 1}


async def test_a_task_in_flight_during_a_replan_is_replanned_at_the_next_move() -> None:
    schedule = ScriptedSchedule(
        plans={
            0: [(0.1, True), (0.6, True), (0.0, True)],  # polled when the epoch moves (1)
            1: [(0.75, True), (0.1, False)],  # parked behind it in the list of provisional plans
            2: [(0.3, False)],  # its completion moves the epoch again (2)
            3: [(0.03, True), (0.5, True), (0.3, False)],  # planned twice before the first move
        },
        moves={(0, 1), (2, 1)},
    )
    records = {0: [RUNNING, DONE], 1: [DONE], 2: [DONE], 3: [RUNNING, DONE]}
    assert await _polls_in_order(schedule, records) == [3, 0, 1, 2, 0, 3]
    assert schedule.asked == {0: 3, 1: 2, 2: 1, 3: 3}


async def test_a_deferred_replan_moves_a_poll_later() -> None:
    schedule = ScriptedSchedule(
        plans={
            0: [(0.3, True), (0.5, True, True), (0.0, False)],  # re-planned later: deferred
            1: [(0.1, False)],  # its completion moves the epoch (1)
            2: [(0.45, False)],  # planned after task 0's first plan, polled before its second
        },
        moves={(1, 1)},
    )
    records = {0: [DONE], 1: [DONE], 2: [DONE]}
    assert await _polls_in_order(schedule, records) == [1, 2, 0]
    assert schedule.asked == {0: 2, 1: 1, 2: 1}


class CostlySchedule(ScriptedSchedule):
    """A scripted schedule whose every `next_delay` costs `cost` seconds of the engine's
    clock (the CPU a re-plan of thousands of tasks takes); the calls' times recorded."""

    def __init__(self, plans: dict[int, list[Plan]], moves: set[tuple[int, int]], cost: float):
        super().__init__(plans, moves)
        self.cost = cost
        self.offset = 0.0
        self.calls: dict[int, list[float]] = collections.defaultdict(list)

    def clock(self) -> float:
        return time.monotonic() + self.offset

    def next_delay(self, track: Track, now: float) -> float:
        self.calls[self._index[id(track)]].append(self.clock())
        self.offset += self.cost
        return super().next_delay(track, now)


async def test_a_replan_waits_three_times_as_long_as_the_last_one_took() -> None:
    cost = 0.25
    schedule = CostlySchedule(
        plans={
            0: [(0.5, False)],  # its completion moves the epoch (1), all four planned
            1: [(0.55, False)],  # so does its own (2), while the first re-plan's spacing runs
            2: [(5.0, True), (4.0, True), (0.0, False)],  # parked, re-planned at each move
            3: [(5.0, True), (4.0, True), (0.0, False)],
        },
        moves={(0, 1), (1, 1)},
        cost=cost,
    )
    records = {0: [DONE], 1: [DONE], 2: [DONE], 3: [DONE]}
    assert await _polls_in_order(schedule, records, schedule.clock) == [0, 1, 2, 3]
    # Both moves re-planned (none lost), the second one once the first re-plan's
    # two calls (0.5 s) were followed by three times that, and not much later (the
    # engine looks again every `_EPOCH_CHECK`, 50 ms, while polls are provisional).
    assert schedule.asked == {0: 1, 1: 1, 2: 3, 3: 3}
    first_replan, second_replan = schedule.calls[2][1], schedule.calls[2][2]
    spacing = 2 * cost * (1 + 3)
    assert spacing - 1e-9 <= second_replan - first_replan < spacing + 0.4
