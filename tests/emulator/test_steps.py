"""Steps grow while a task runs; step faults garble them for step de-duplication tests."""

from __future__ import annotations

import random
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stablebrowse_async.testing import Emulator, Fault, VirtualClock
from stablebrowse_async.testing._console import build_parser
from stablebrowse_async.testing._faults import STEP_FAULT_KINDS
from stablebrowse_async.testing._pipeline import _mangle_steps

from .conftest import Raw

pytestmark = pytest.mark.anyio

TEN_STEPS = "walk [[duration=11]] [[steps=10]]"  # pending 1 s, then one step a second


def clock_of(emu: Emulator) -> VirtualClock:
    assert isinstance(emu.clock, VirtualClock)
    return emu.clock


async def poll(api: Raw, task_id: str) -> dict[str, Any]:
    status, record, _ = await api.call("GET", f"/tasks/{task_id}")
    assert status == 200
    assert isinstance(record, dict)
    return record


def final_steps(emu: Emulator, task_id: str) -> list[dict[str, Any]]:
    clock = clock_of(emu)
    now = clock.now()
    clock.set(emu.task_times(task_id).finished_at)
    steps: list[dict[str, Any]] = emu.task_record(task_id)["stepSummaries"]
    clock.set(now)
    return steps


async def test_steps_appear_progressively_over_the_duration(api: Raw, emu: Emulator) -> None:
    task_id = str(emu.create_task(TEN_STEPS)["taskId"])
    full = final_steps(emu, task_id)
    assert [step["n"] for step in full] == list(range(1, 11))
    counts = []
    for _ in range(23):
        record = await poll(api, task_id)
        steps = record["stepSummaries"]
        assert steps == full[: len(steps)]  # a growing prefix, the whole list each time
        assert record["totalSteps"] == len(steps)
        assert len(record["visitedUrls"]) <= len(steps)
        counts.append(len(steps))
        clock_of(emu).advance(0.5)
    assert counts == sorted(counts)
    assert counts[0] == 0  # pending
    assert counts[-1] == 10  # completed
    assert len(set(counts)) == 11  # every count from 0 to 10 was seen on the way


async def test_steps_drop_once_empties_one_running_poll(api: Raw, emu: Emulator) -> None:
    task_id = str(emu.create_task(TEN_STEPS)["taskId"])
    drop = Fault("steps_drop", times=1)
    emu.faults.append(drop)
    await poll(api, task_id)  # pending: no steps, nothing to drop, the rule is not spent
    assert drop.fired == 0
    seen = []
    for _ in range(5):
        clock_of(emu).advance(2)
        record = await poll(api, task_id)
        seen.append((record["totalSteps"], len(record["stepSummaries"]), record["visitedUrls"]))
    assert seen[0][:2] == (1, 0)  # dropped: the count stays true, the lists are empty
    assert seen[0][2] == []
    assert [(total, n) for total, n, _ in seen[1:]] == [(3, 3), (5, 5), (7, 7), (9, 9)]
    assert drop.fired == 1


async def test_shuffled_and_truncated_steps_and_whole_finished_records(
    api: Raw, emu: Emulator
) -> None:
    task_id = str(emu.create_task(TEN_STEPS)["taskId"])
    full = final_steps(emu, task_id)
    emu.faults[:] = [Fault("steps_shuffle")]
    clock_of(emu).advance(2)  # one step done: one step cannot be out of order
    assert (await poll(api, task_id))["stepSummaries"] == full[:1]
    clock_of(emu).advance(6)  # 7 steps done
    for _ in range(5):
        steps = (await poll(api, task_id))["stepSummaries"]
        assert steps != full[:7]
        assert sorted(steps, key=lambda s: s["n"]) == full[:7]
    emu.faults[:] = [Fault("steps_truncate")]
    lengths = set()
    for _ in range(20):
        steps = (await poll(api, task_id))["stepSummaries"]
        assert 1 <= len(steps) <= 6
        assert steps == full[7 - len(steps) : 7]  # the most recent ones
        lengths.add(len(steps))
    assert len(lengths) > 2
    clock_of(emu).advance(3)
    emu.faults[:] = [Fault("steps_drop"), Fault("steps_shuffle"), Fault("steps_truncate")]
    record = await poll(api, task_id)
    assert record["status"] == "completed"
    assert record["stepSummaries"] == full  # a finished record is always whole
    assert emu.faults[0].fired == 0


async def test_step_faults_reach_sessions_and_leave_other_faults_and_routes_alone(
    api: Raw, emu: Emulator
) -> None:
    task = emu.create_task(TEN_STEPS)
    clock_of(emu).advance(5)
    steps_fault = Fault("steps_drop")
    emu.faults[:] = [steps_fault, Fault("status", status=503, route="POST /v1/tasks")]
    status, session, _ = await api.call("GET", f"/sessions/{task['sessionId']}")
    assert status == 200
    assert session["tasks"][0]["stepSummaries"] == []
    status, _, _ = await api.call("POST", "/tasks", json={"endUserId": "a", "task": "x"})
    assert status == 503  # the step rule listed first does not shadow a transport fault
    status, _, _ = await api.call("GET", "/tasks")
    assert status == 200
    assert steps_fault.fired == 1  # only the session answer was garbled


async def test_per_task_directive_garbles_only_that_task(api: Raw, emu: Emulator) -> None:
    plain = str(emu.create_task(TEN_STEPS)["taskId"])
    shuffled = str(emu.create_task(TEN_STEPS + " [[steps_fault=shuffle]]")["taskId"])
    never = str(emu.create_task(TEN_STEPS + " [[steps_fault=drop:0]]")["taskId"])
    sometimes = str(emu.create_task(TEN_STEPS + " [[steps_fault=DROP:0.5]]")["taskId"])
    ignored = [
        str(emu.create_task(f"{TEN_STEPS} [[steps_fault={bad}]]")["taskId"])
        for bad in ("explode", "drop:often", "drop:2")
    ]
    clock_of(emu).advance(6)
    for task_id in (plain, never, *ignored):
        assert [s["n"] for s in (await poll(api, task_id))["stepSummaries"]] == [1, 2, 3, 4, 5]
    assert sorted(s["n"] for s in (await poll(api, shuffled))["stepSummaries"]) == [1, 2, 3, 4, 5]
    assert [s["n"] for s in (await poll(api, shuffled))["stepSummaries"]] != [1, 2, 3, 4, 5]
    dropped = [not (await poll(api, sometimes))["stepSummaries"] for _ in range(60)]
    assert 10 < sum(dropped) < 50


async def test_step_faults_are_seeded(anyio_backend: object) -> None:
    async def orders(seed: int) -> list[list[int]]:
        async with Emulator(clock=VirtualClock(), seed=seed, faults=[Fault("steps_shuffle")]) as e:
            task_id = str(e.create_task(TEN_STEPS)["taskId"])
            clock_of(e).advance(9)
            async with aiohttp.ClientSession() as session:
                raw = Raw(session, e, e.api_key)
                return [
                    [s["n"] for s in (await poll(raw, task_id))["stepSummaries"]] for _ in range(5)
                ]

    first = await orders(5)
    assert first == await orders(5)
    assert first != await orders(6)


def test_console_accepts_step_faults() -> None:
    args = build_parser().parse_args(["--fault", "steps_drop:0.25", "--fault", "steps_shuffle"])
    assert [(f.kind, f.rate) for f in args.fault] == [("steps_drop", 0.25), ("steps_shuffle", 1.0)]


@given(st.integers(1, 40), st.sampled_from(sorted(STEP_FAULT_KINDS)), st.integers(0, 2**32))
def test_a_garbled_list_only_ever_holds_true_steps(count: int, kind: str, seed: int) -> None:
    steps = [
        {"n": n, "type": "click", "msg": f"step {n}", "success": True} for n in range(1, 1 + count)
    ]
    record = {
        "stepSummaries": list(steps),
        "visitedUrls": ["https://example.com"],
        "totalSteps": count,
    }
    _mangle_steps(record, kind, random.Random(seed))
    garbled = record["stepSummaries"]
    assert record["totalSteps"] == count
    assert all(step in steps for step in garbled)
    assert len({step["n"] for step in garbled}) == len(garbled)
    if kind == "steps_drop":
        assert garbled == []
        assert record["visitedUrls"] == []
    elif kind == "steps_shuffle":
        assert sorted(garbled, key=lambda s: s["n"]) == steps
        assert (garbled != steps) == (count > 1)
    else:
        assert garbled == steps[count - len(garbled) :]
        assert len(garbled) == 0 if count == 1 else 1 <= len(garbled) < count
