"""The run_many engine's ends: a batch closed before, during or after its outcomes,
under a cancelled scope too; a callback's error as the consumer sees it; a
timed-out task's outcome. In-memory submit/fetch callables (no HTTP involved)."""

from __future__ import annotations

import asyncio
import builtins
import importlib
from typing import Any

import anyio
import pytest

from stablebrowse_async import AdaptiveSchedule, TaskRequest, TaskTimeoutError
from stablebrowse_async._polling import RunMany
from tests.unit.test_fanout_engine import FAST, FakeApi

pytestmark = pytest.mark.anyio

REQUESTS = [{"end_user_id": "a", "task": f"t{i}"} for i in range(3)]


def _engine(api: FakeApi, requests: list[Any] = REQUESTS, **kwargs: Any) -> RunMany:
    return RunMany(
        requests, submit=api.submit, fetch=api.fetch, schedule=FAST, poll_timeout=5.0, **kwargs
    )


async def test_a_batch_closed_before_its_first_outcome_submits_nothing() -> None:
    api = FakeApi()
    async with _engine(api) as batch:
        pass
    assert [o async for o in batch] == []
    await batch.aclose()  # closing again is harmless
    assert api.created == {}


async def test_a_batch_closed_early_stays_closed() -> None:
    api = FakeApi()
    batch = _engine(api, concurrency=1)
    first = await batch.__anext__()
    await batch.aclose()
    submitted = len(api.created)
    assert [o async for o in batch] == []
    assert first.ok
    assert len(api.created) == submitted


async def test_a_finished_batch_ends_every_later_iteration_at_once() -> None:
    batch = _engine(FakeApi(duration=0.0))
    assert len([o async for o in batch]) == len(REQUESTS)
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(batch.__anext__(), 1.0)
    await batch.aclose()


async def test_closing_under_a_cancelled_scope_still_waits_for_the_polls_to_unwind() -> None:
    api = FakeApi()
    polling = asyncio.Event()
    unwound: list[str] = []

    async def slow_fetch(task_id: str) -> Any:
        polling.set()
        try:
            await asyncio.sleep(10)
        finally:
            unwound.append(task_id)

    batch = RunMany(
        REQUESTS[:1], submit=api.submit, fetch=slow_fetch, schedule=FAST, poll_timeout=5.0
    )
    consumer = asyncio.ensure_future(batch.__anext__())
    await asyncio.wait_for(polling.wait(), 5.0)
    # A framework's request timeout: the scope around the clean-up is already cancelled.
    with anyio.CancelScope() as scope:
        scope.cancel()
        await batch.aclose()
    assert unwound == ["t0"]
    consumer.cancel()
    await asyncio.wait([consumer])


def _group(message: str, errors: list[Exception]) -> Exception:
    """An ExceptionGroup (built in from Python 3.11; anyio's backport before)."""
    cls = getattr(builtins, "ExceptionGroup", None)
    if cls is None:  # pragma: no cover (Python 3.10)
        cls = importlib.import_module("exceptiongroup").ExceptionGroup
    group: Exception = cls(message, errors)
    return group


@pytest.mark.parametrize("nested", [False, True])
async def test_a_callback_s_single_error_reaches_the_consumer_unwrapped(nested: bool) -> None:
    bug = RuntimeError("callback bug")

    def explode(progress: object) -> None:
        # A callback that ran its own task group raises its error inside a group.
        raise _group("callback", [bug]) if nested else bug

    with pytest.raises(RuntimeError) as raised:
        async for _ in _engine(FakeApi(), REQUESTS[:1], on_progress=explode):
            pass
    assert raised.value is bug


async def test_a_callback_failing_in_many_requests_stops_the_batch_with_its_first_error() -> None:
    errors: list[RuntimeError] = []

    def explode(index: int, task: object) -> None:
        errors.append(RuntimeError(f"callback bug {index}"))
        raise errors[-1]

    requests = [{"end_user_id": "a", "task": f"t{i}"} for i in range(40)]
    with pytest.raises(RuntimeError) as raised:
        async for _ in _engine(FakeApi(), requests, concurrency=20, on_submitted=explode):
            pass
    # One error, the first, not a group of every request's copy.
    assert raised.value is errors[0]
    # Every request the batch started has stopped: none is left running.
    assert not [
        t for t in asyncio.all_tasks() if t.get_name().endswith(("_submit_one", "_poll_one"))
    ]


async def test_a_timed_out_task_is_an_outcome_with_its_request() -> None:
    api = FakeApi(duration=10.0)
    request = TaskRequest(end_user_id="a", task="slow")
    batch = RunMany(
        [request],
        submit=api.submit,
        fetch=api.fetch,
        schedule=AdaptiveSchedule(seed=1, min_interval=0.01),
        poll_timeout=0.2,
    )
    outcomes = [o async for o in batch]
    assert len(outcomes) == 1
    assert isinstance(outcomes[0].error, TaskTimeoutError)
    assert outcomes[0].request == request
