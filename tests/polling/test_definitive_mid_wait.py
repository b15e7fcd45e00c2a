"""A definitive answer that arrives in the middle of a wait ends it at once.

The README: transient poll failures are retried until ``poll_timeout``; a
definitive one (401, 403, 404, other 4xx) ends the wait. An unknown id fails
on the wait's first read; these tests make the definitive answer arrive
after the task was seen running, on a later poll, and count the polls the
emulator received after it: exactly one (the one that got the answer).
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from stablebrowse_async import (
    AsyncClient,
    NotFoundError,
    PermissionDeniedError,
    Task,
    TaskStatus,
)
from stablebrowse_async.testing import Emulator, Fault

from .conftest import FAST_POLLS

pytestmark = pytest.mark.anyio

_GET_TASK = "GET /v1/tasks/{taskId}"
_WAIT_BOUND = 20.0  # seconds; more than poll_timeout, so a wait that goes on fails as such


def _polls_of(emu: Emulator, task_id: str) -> int:
    return sum(1 for r in emu.requests if r.method == "GET" and r.path.endswith(f"/{task_id}"))


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(int(_WAIT_BOUND / 0.01)):
        if condition():
            return
        await anyio.sleep(0.01)
    raise AssertionError("the condition never held")


async def _waiting(
    emu: Emulator, client: AsyncClient, task_id: str, interrupt: Callable[[], object]
) -> tuple[BaseException | Task, int]:
    """Start ``tasks.wait``; once a poll saw the task running, call `interrupt()`.

    Returns what the wait raised (or returned) and how many polls reached the
    emulator from the interruption on.
    """
    outcome: list[BaseException | Task] = []

    async def wait() -> None:
        try:
            outcome.append(await client.tasks.wait(task_id, poll_timeout=5))
        except Exception as error:
            outcome.append(error)

    with anyio.fail_after(_WAIT_BOUND):
        async with anyio.create_task_group() as group:
            group.start_soon(wait)
            await _until(lambda: emu.task_record(task_id)["status"] == "running")
            running_from = _polls_of(emu, task_id)
            await _until(lambda: _polls_of(emu, task_id) > running_from)  # a poll saw it running
            seen_before = _polls_of(emu, task_id)
            interrupt()
    return outcome[0], _polls_of(emu, task_id) - seen_before


async def test_a_key_revoked_mid_wait_ends_the_wait_within_one_poll(emu: Emulator) -> None:
    key = emu.mint_api_key(label="revoked mid-wait")
    async with AsyncClient(key, base_url=emu.url, poll_interval=FAST_POLLS) as client:
        task = await client.tasks.submit(end_user_id="alice", task="long [[duration=60]]")
        outcome, polls_after = await _waiting(
            emu, client, task.task_id, lambda: emu.revoke_api_key(key)
        )
    assert isinstance(outcome, PermissionDeniedError), outcome
    assert outcome.status_code == 403
    assert polls_after <= 1  # the poll that got the answer (0 if it was in flight)


async def test_a_404_on_a_later_poll_ends_the_wait_within_one_poll(
    emu: Emulator, client: AsyncClient
) -> None:
    task = await client.tasks.submit(end_user_id="alice", task="long [[duration=60]]")
    vanish = Fault("status", status=404, route=_GET_TASK, times=1)
    outcome, polls_after = await _waiting(
        emu, client, task.task_id, lambda: emu.faults.append(vanish)
    )
    assert isinstance(outcome, NotFoundError), outcome
    assert vanish.fired == 1
    assert polls_after <= 1  # the poll that got the answer (0 if it was in flight)


async def test_a_transient_failure_mid_wait_does_not_end_it(
    emu: Emulator, client: AsyncClient
) -> None:
    """The counterpart: a 503 on a later poll is retried and the wait goes on to the end."""
    task = await client.tasks.submit(end_user_id="alice", task="short [[duration=0.4]]")
    hiccup = Fault("status", status=503, route=_GET_TASK, times=1)
    outcome, polls_after = await _waiting(
        emu, client, task.task_id, lambda: emu.faults.append(hiccup)
    )
    assert isinstance(outcome, Task), outcome
    assert outcome.status is TaskStatus.COMPLETED
    assert hiccup.fired == 1
    assert polls_after >= 2
