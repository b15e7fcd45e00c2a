"""Ambiguous POSTs: the connection drops after the server may have created the task.

The SDK must say so (`AmbiguousRequestError`, carrying what was sent), never
resubmit on its own, and leave the caller enough to reconcile. `reconcile` below
is the recipe documented in tests/reliability/README.md; these tests prove it
against the emulator's own record of what it created.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from stablebrowse_async import (
    AmbiguousRequestError,
    APIConnectionError,
    AsyncClient,
    PollSchedule,
    StablebrowseError,
    Task,
    TaskRequest,
)
from stablebrowse_async.sync import Client
from stablebrowse_async.testing import Emulator, EmulatorThread, Fault

pytestmark = pytest.mark.anyio

POST_TASKS = "POST /v1/tasks"
FAST_POLLS = PollSchedule(first=0.02, factor=1.5, max_interval=0.05, jitter=0.1)
LIST_LIMIT = 100  # the API's cap on GET /v1/tasks?limit=N; there is no cursor


# -- the reconciliation recipe (copied into tests/reliability/README.md) ------------------------


@dataclasses.dataclass
class Reconciled:
    """What a search for an ambiguous submission found.

    `task` is the task the submission created, if found. `conclusive` says
    whether "not found" can be trusted: the search saw every session active
    since the submission. When it is False and nothing was found, the task may
    still exist (older than the newest 100 sessions): do not resubmit blindly.
    """

    task: Task | None
    conclusive: bool


async def reconcile(client: AsyncClient, request: TaskRequest, sent_after: datetime) -> Reconciled:
    """Look for the task an ambiguous `tasks.submit(**request)` may have created.

    `sent_after` is a time shortly before the submission (allow for clock skew
    between you and the server). A request that continues a session is checked
    exactly through that session; otherwise the newest sessions are scanned.
    """

    def ours(task: Task) -> bool:
        return (
            task.task == request.task
            and task.end_user_id == request.end_user_id
            and (task.created_at is None or task.created_at >= sent_after)
        )

    if request.session_id is not None:
        session = await client.sessions.get(request.session_id)
        return Reconciled(next((t for t in session.tasks if ours(t)), None), conclusive=True)
    summaries = await client.tasks.list(limit=LIST_LIMIT)
    for summary in summaries:  # newest activity first
        if summary.end_user_id != request.end_user_id:
            continue
        if summary.updated_at is not None and summary.updated_at < sent_after:
            break  # this session and every later one were idle since the submission
        session = await client.sessions.get(summary.session_id)
        found = next((t for t in session.tasks if ours(t)), None)
        if found is not None:
            return Reconciled(found, conclusive=True)
    oldest = summaries[-1].updated_at if summaries else None
    conclusive = len(summaries) < LIST_LIMIT or (oldest is not None and oldest < sent_after)
    return Reconciled(None, conclusive=conclusive)


# -- helpers ------------------------------------------------------------------------------------


def posts(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.method == "POST" and r.path == "/v1/tasks")


def polls(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.method == "GET" and r.path.startswith("/v1/tasks/"))


def created(emu: Emulator, text: str) -> list[str]:
    """Ids of the tasks the emulator created with this text (its ground truth)."""
    return [t.id for t in emu._state.tasks.values() if t.text == text]


def a_moment_ago() -> datetime:
    # The emulator shares this machine's clock; against a real server allow minutes of skew.
    return datetime.now(timezone.utc) - timedelta(seconds=1)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(durations=(0.05, 0.2), seed=17) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS) as c:
        yield c


# -- tests --------------------------------------------------------------------------------------


async def test_post_dropped_after_the_task_was_created_is_ambiguous_and_reconciles(
    client: AsyncClient, emu: Emulator, figures: Any
) -> None:
    emu.faults.append(Fault("reset_after", route=POST_TASKS, times=1))
    sent_after = a_moment_ago()
    with pytest.raises(AmbiguousRequestError) as info:
        await client.tasks.submit(end_user_id="alice", task="book a table", start_url="https://x")
    error = info.value
    # It says what happened and that the task may exist, and carries what was sent.
    assert isinstance(error, APIConnectionError)
    assert "may or may not have acted" in str(error) and "not retried" in str(error)
    assert (error.method, error.path) == ("POST", "/tasks")
    assert error.request == TaskRequest(
        end_user_id="alice", task="book a table", start_url="https://x"
    )
    assert isinstance(error.__cause__, (aiohttp.ClientError, OSError))
    # No automatic duplicate: one POST, one task.
    assert posts(emu) == 1
    (task_id,) = created(emu, "book a table")

    found = await reconcile(client, error.request, sent_after)
    assert found.conclusive and found.task is not None
    assert found.task.task_id == task_id
    done = await client.tasks.wait(found.task.task_id)  # carry on with the task that exists
    assert done.status == "completed"
    assert len(created(emu, "book a table")) == 1
    figures.record("ambiguous POST", "reset after the task was created", "ambiguous, found")


async def test_post_dropped_before_the_server_acted_is_ambiguous_and_reconciles_to_nothing(
    client: AsyncClient, emu: Emulator, figures: Any
) -> None:
    emu.faults.append(Fault("reset_before", route=POST_TASKS, times=1))
    sent_after = a_moment_ago()
    with pytest.raises(AmbiguousRequestError) as info:
        await client.tasks.submit(end_user_id="alice", task="check the weather")
    assert created(emu, "check the weather") == []
    found = await reconcile(client, info.value.request, sent_after)
    assert found == Reconciled(None, conclusive=True)
    # Only now is resubmitting known to be safe; it creates exactly one task.
    resubmitted = await client.tasks.submit_request(info.value.request)
    assert created(emu, "check the weather") == [resubmitted.task_id]
    assert posts(emu) == 2
    figures.record("ambiguous POST", "reset before the server acted", "ambiguous, not found")


async def test_tasks_run_stops_at_an_ambiguous_submission_without_polling_or_resubmitting(
    client: AsyncClient, emu: Emulator
) -> None:
    emu.faults.append(Fault("reset_after", route=POST_TASKS, times=1))
    with pytest.raises(AmbiguousRequestError) as info:
        await client.tasks.run(end_user_id="bob", task="summarise the news")
    assert info.value.request.task == "summarise the news"
    assert posts(emu) == 1 and polls(emu) == 0
    assert len(created(emu, "summarise the news")) == 1


async def test_post_timed_out_after_sending_is_ambiguous_and_the_late_task_is_found(
    emu: Emulator,
) -> None:
    emu.faults.append(Fault("delay", delay=0.6, route=POST_TASKS, times=1))
    sent_after = a_moment_ago()
    async with AsyncClient(emu.api_key, base_url=emu.url, timeout=0.2) as client:
        with pytest.raises(AmbiguousRequestError, match="timed out") as info:
            await client.tasks.submit(end_user_id="carol", task="slow server")
        assert posts(emu) == 1
        # The server finishes the request after the client gave up.
        for _ in range(100):
            if created(emu, "slow server"):
                break
            await asyncio.sleep(0.02)
        (task_id,) = created(emu, "slow server")
        found = await reconcile(client, info.value.request, sent_after)
    assert found.task is not None and found.task.task_id == task_id


async def test_run_many_ambiguous_outcomes_reconcile_exactly(
    client: AsyncClient, emu: Emulator, figures: Any
) -> None:
    emu.faults.extend(
        [
            Fault("reset_after", route=POST_TASKS, rate=0.15),
            Fault("reset_before", route=POST_TASKS, rate=0.1),
            Fault("truncated", route=POST_TASKS, rate=0.1),
        ]
    )
    sent_after = a_moment_ago()
    requests = [TaskRequest(end_user_id=f"user-{i % 4}", task=f"item {i}") for i in range(60)]
    outcomes = [o async for o in client.tasks.run_many(requests, concurrency=8)]
    assert sorted(o.index for o in outcomes) == list(range(60))
    emu.faults.clear()
    found_count = not_found = 0
    for outcome in outcomes:
        ids = created(emu, requests[outcome.index].task)
        assert len(ids) <= 1, "never a duplicate"
        if outcome.ok:
            assert outcome.task is not None and [outcome.task.task_id] == ids
            continue
        assert isinstance(outcome.error, AmbiguousRequestError), outcome.error
        assert outcome.error.request == requests[outcome.index]
        result = await reconcile(client, outcome.error.request, sent_after)
        assert result.conclusive
        assert ([result.task.task_id] if result.task else []) == ids
        found_count += result.task is not None
        not_found += result.task is None
    assert posts(emu) == 60, "no submission was sent twice"
    assert found_count and not_found, (found_count, not_found)  # both cases happened (seeded)
    figures.record("ambiguous POST", "run_many: requests", 60)
    figures.record("ambiguous POST", "run_many: ambiguous, task found", found_count)
    figures.record("ambiguous POST", "run_many: ambiguous, no task", not_found)


async def test_reconciliation_is_inconclusive_past_the_newest_hundred_sessions(
    client: AsyncClient, emu: Emulator, figures: Any
) -> None:
    """GET /v1/tasks shows at most 100 sessions and has no cursor: a task buried
    under 100 newer sessions cannot be found there, so the recipe says "unknown"
    instead of "safe to resubmit". A request that continues a session is always
    found through that session."""
    ongoing = emu.create_task("first message", end_user_id="dave")
    sent_after = a_moment_ago()
    emu.faults.append(Fault("reset_after", route=POST_TASKS, times=2))
    with pytest.raises(AmbiguousRequestError) as lone:
        await client.tasks.submit(end_user_id="dave", task="new conversation")
    with pytest.raises(AmbiguousRequestError) as follow_up:
        await client.tasks.submit(
            end_user_id="dave", task="second message", session_id=ongoing["sessionId"]
        )
    for i in range(LIST_LIMIT + 5):  # a busy batch keeps going meanwhile
        emu.create_task(f"other {i}", end_user_id=f"user-{i}")
    assert len(created(emu, "new conversation")) == 1

    buried = await reconcile(client, lone.value.request, sent_after)
    assert buried == Reconciled(None, conclusive=False)
    by_session = await reconcile(client, follow_up.value.request, sent_after)
    assert by_session.conclusive and by_session.task is not None
    assert [by_session.task.task_id] == created(emu, "second message")
    figures.record(
        "ambiguous POST", "task buried under 100+ newer sessions", "inconclusive (not guessed)"
    )


def test_the_sync_client_raises_the_same_ambiguous_error() -> None:
    with EmulatorThread(durations=(0.05, 0.1), seed=3) as emu:
        emu.call(emu.faults.append, Fault("reset_after", route=POST_TASKS, times=1))
        with Client(emu.api_key, base_url=emu.url) as client:
            with pytest.raises(AmbiguousRequestError) as info:
                client.tasks.submit(end_user_id="erin", task="sync submit")
            assert info.value.request.task == "sync submit"
            assert client.tasks.list(limit=1)[0].end_user_id == "erin"
        assert emu.tasks_created() == 1


# -- a gateway 5xx after the backend created the task --------------------------------------------


@pytest.fixture
async def gateway(emu: Emulator) -> AsyncIterator[str]:
    """A reverse proxy in front of the emulator that, like a load balancer whose
    upstream timed out, answers ``504`` HTML to ``POST /v1/tasks`` *after* the
    emulator created the task. Other requests pass through."""
    session = aiohttp.ClientSession()

    async def forward(request: web.BaseRequest) -> web.StreamResponse:
        upstream = emu.url.removesuffix("/v1") + request.raw_path
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with session.request(
            request.method, upstream, data=await request.read(), headers=headers
        ) as answer:
            body = await answer.read()
            if request.method == "POST" and request.path == "/v1/tasks":
                return web.Response(
                    status=504, text="<html>504 Gateway Time-out</html>", content_type="text/html"
                )
            return web.Response(status=answer.status, body=body, content_type=answer.content_type)

    runner = web.ServerRunner(web.Server(forward))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/v1"
    finally:
        await runner.cleanup()
        await session.close()


async def test_gateway_5xx_after_the_task_was_created_says_it_may_exist(
    emu: Emulator, gateway: str
) -> None:
    async with AsyncClient(emu.api_key, base_url=gateway) as client:
        with pytest.raises(StablebrowseError) as info:
            await client.tasks.submit(end_user_id="frank", task="through a gateway")
    assert len(created(emu, "through a gateway")) == 1  # the backend did create it
    assert posts(emu) == 1  # and the SDK did not resubmit (that part holds)
    assert isinstance(info.value, AmbiguousRequestError), repr(info.value)
