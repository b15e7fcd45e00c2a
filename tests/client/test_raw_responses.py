"""``with_raw_response``: every endpoint's answer with its status, headers, request id and retries."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from stablebrowse_async import (
    ApiKey,
    AsyncClient,
    CreatedApiKey,
    CredentialStatus,
    NotFoundError,
    RawResponse,
    SessionSummary,
    SessionTasks,
    Task,
    TaskRequest,
)
from stablebrowse_async.testing import Emulator, Fault

pytestmark = pytest.mark.anyio


def _check(raw: RawResponse[Any], emu: Emulator, method: str, status: int = 200) -> None:
    """The raw response describes the emulator's last recorded request, which it answered."""
    last = emu.requests[-1]
    assert last.method == method
    assert raw.status_code == status
    assert raw.request_id == last.request_id != ""
    assert raw.headers["X-AMZN-REQUESTID"] == last.request_id  # case-insensitive
    assert isinstance(raw.elapsed, datetime.timedelta)
    assert raw.elapsed > datetime.timedelta(0)
    assert raw.retries_taken == 0
    assert last.request_id in repr(raw)


async def test_every_task_endpoint(client: AsyncClient, emu: Emulator) -> None:
    raw = await client.tasks.with_raw_response.submit(end_user_id="alice", task="find it")
    _check(raw, emu, "POST", 201)
    submitted = raw.parse()
    assert isinstance(submitted, Task)
    assert submitted.task == "find it"

    raw = await client.tasks.with_raw_response.submit_request(
        TaskRequest(end_user_id="alice", task="again", session_id=submitted.session_id)
    )
    _check(raw, emu, "POST", 201)

    got = await client.tasks.with_raw_response.get(submitted.task_id)
    _check(got, emu, "GET")
    assert got.parse().task_id == submitted.task_id
    assert emu.requests[-1].path.endswith(submitted.task_id)

    listed = await client.tasks.with_raw_response.list(limit=5)
    _check(listed, emu, "GET")
    assert emu.requests[-1].query == {"limit": "5"}
    sessions = listed.parse()
    assert sessions
    assert all(isinstance(item, SessionSummary) for item in sessions)
    assert sessions == await client.tasks.list(limit=5)


async def test_sessions_and_design(client: AsyncClient, emu: Emulator) -> None:
    task = await client.tasks.submit(end_user_id="alice", task="start")
    raw = await client.sessions.with_raw_response.get(task.session_id)
    _check(raw, emu, "GET")
    assert isinstance(raw.parse(), SessionTasks)

    design = await client.design.with_raw_response.submit(
        url="https://example.com", end_user_id="alice", extractors=["colors"]
    )
    _check(design, emu, "POST", 202)
    assert design.parse().task == "[design] https://example.com"


async def test_credentials_endpoints(client: AsyncClient, emu: Emulator) -> None:
    creds = client.end_users("alice").credentials.with_raw_response
    stored = await creds.set(twitter_auth_token="t0ken", reddit_session=None)
    _check(stored, emu, "PUT")
    assert stored.parse() is None
    status = await creds.get()
    _check(status, emu, "GET")
    assert isinstance(status.parse(), CredentialStatus)
    assert status.parse().is_configured("twitter")
    deleted = await creds.delete(["twitter_auth_token"])
    _check(deleted, emu, "DELETE")
    assert deleted.parse() is None
    assert not (await client.end_users("alice").credentials.get()).is_configured("twitter")


async def test_api_key_endpoints(dashboard: AsyncClient, emu: Emulator) -> None:
    created = await dashboard.api_keys.with_raw_response.create(label="ci")
    _check(created, emu, "POST", 201)
    key = created.parse()
    assert isinstance(key, CreatedApiKey)
    listed = await dashboard.api_keys.with_raw_response.list()
    _check(listed, emu, "GET")
    assert all(isinstance(item, ApiKey) for item in listed.parse())
    revoked = await dashboard.api_keys.with_raw_response.revoke(key.prefix)
    _check(revoked, emu, "DELETE")
    assert revoked.parse() is None


async def test_retries_taken_counts_the_retries_and_elapsed_is_the_last_attempt(
    client: AsyncClient, emu: Emulator
) -> None:
    task = await client.tasks.submit(end_user_id="a", task="x")
    emu.faults.append(Fault("status", status=503, route="GET /v1/tasks/{taskId}", times=2))
    raw = await client.tasks.with_raw_response.get(task.task_id)
    assert raw.retries_taken == 2
    assert raw.status_code == 200
    # The id is the answering request's, not one of the two 503s before it.
    assert raw.request_id == emu.requests[-1].request_id
    assert raw.request_id not in {r.request_id for r in emu.requests[-3:-1]}


async def test_errors_raise_like_the_plain_method(client: AsyncClient, emu: Emulator) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.tasks.with_raw_response.get("no-such-task")
    assert caught.value.request_id == emu.requests[-1].request_id
    with pytest.raises(ValueError, match="task_id"):
        await client.tasks.with_raw_response.get("..")
    with pytest.raises(ValueError, match="limit"):
        await client.tasks.with_raw_response.list(limit=0)


async def test_concurrent_raw_calls_each_get_their_own_answer(
    client: AsyncClient, emu: Emulator
) -> None:
    import asyncio

    tasks = [await client.tasks.submit(end_user_id="a", task=f"t{i}") for i in range(5)]
    raws = await asyncio.gather(*(client.tasks.with_raw_response.get(t.task_id) for t in tasks))
    by_id = {r.request_id: r.path for r in emu.requests}
    for task, raw in zip(tasks, raws, strict=True):
        assert raw.parse().task_id == task.task_id
        assert raw.request_id is not None
        assert by_id[raw.request_id].endswith(task.task_id)
    # Plain calls after a raw one are unaffected.
    assert (await client.tasks.get(tasks[0].task_id)).task_id == tasks[0].task_id


def test_views_are_described_and_wrap_only_endpoints() -> None:
    from stablebrowse_async.resources.tasks import Tasks, TasksWithRawResponse

    assert "Tasks.get" in (TasksWithRawResponse.get.doc or "")
    assert TasksWithRawResponse.get.func is Tasks.get
    for poller in ("run", "wait", "run_many"):
        assert not hasattr(TasksWithRawResponse, poller)


async def test_raw_method_is_a_real_coroutine_function(client: AsyncClient) -> None:
    method: Callable[..., Awaitable[RawResponse[Task]]] = client.tasks.with_raw_response.get
    assert method.__name__ == "get"
    assert method.__qualname__ == "TasksWithRawResponse.get"
    assert "TasksWithRawResponse" in repr(client.tasks.with_raw_response)
