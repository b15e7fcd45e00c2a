"""Every sync method against the emulator: same results, models and exceptions as the async client."""

from __future__ import annotations

import gc
import time

import pytest

import stablebrowse_async
from stablebrowse_async.sync import (
    ApiKey,
    AuthenticationError,
    Client,
    CreatedApiKey,
    CredentialStatus,
    NotFoundError,
    PermissionDeniedError,
    SessionSummary,
    SessionTasks,
    SyncIterator,
    Task,
    TaskFailedError,
    TaskOutcome,
    TaskRequest,
    TaskStatus,
    TaskTimeoutError,
)
from stablebrowse_async.testing import EmulatorThread


def test_models_and_errors_are_the_async_clients_own() -> None:
    assert Task is stablebrowse_async.Task
    assert NotFoundError is stablebrowse_async.NotFoundError
    assert TaskFailedError is stablebrowse_async.TaskFailed


def test_submit_get_and_wait(client: Client, emu: EmulatorThread) -> None:
    submitted = client.tasks.submit(end_user_id="alice", task="find things", max_steps=5)
    assert isinstance(submitted, Task)
    assert submitted.status is TaskStatus.PENDING
    assert emu.requests[-1].json["endUserId"] == "alice"

    fetched = client.tasks.get(submitted.task_id)
    assert fetched.task_id == submitted.task_id

    done = client.tasks.wait(submitted.task_id, poll_interval=0.02)
    assert done.status is TaskStatus.COMPLETED
    assert done.task_id == submitted.task_id


def test_run_list_and_sessions_get(client: Client) -> None:
    done = client.tasks.run(end_user_id="alice", task="summarise", poll_interval=0.02)
    assert done.status is TaskStatus.COMPLETED
    assert done.session_id is not None

    summaries = client.tasks.list(limit=10)
    assert summaries and all(isinstance(s, SessionSummary) for s in summaries)
    assert done.session_id in {s.session_id for s in summaries}

    session = client.sessions.get(done.session_id)
    assert isinstance(session, SessionTasks)
    assert [t.task_id for t in session.tasks] == [done.task_id]


def test_submit_request(client: Client) -> None:
    task = client.tasks.submit_request(TaskRequest(end_user_id="bob", task="hello"))
    assert task.end_user_id == "bob"


def test_run_many_yields_every_outcome(client: Client, emu: EmulatorThread) -> None:
    requests = [{"end_user_id": "a", "task": f"t{i}"} for i in range(8)]
    requests.append({"end_user_id": "a", "task": "bad [[fail]]"})

    outcomes = list(client.tasks.run_many(requests, concurrency=4, poll_interval=0.02))

    assert sorted(o.index for o in outcomes) == list(range(9))
    assert all(isinstance(o, TaskOutcome) for o in outcomes)
    failed = [o for o in outcomes if o.error is not None]
    assert [o.index for o in failed] == [8]
    assert isinstance(failed[0].error, TaskFailedError)
    assert emu.tasks_created() == 9


def test_run_many_accepts_a_lazy_generator_and_a_with_block(client: Client) -> None:
    def source():  # type: ignore[no-untyped-def]
        for i in range(3):
            yield TaskRequest(end_user_id="a", task=f"lazy {i}")

    with client.tasks.run_many(source(), poll_interval=0.02) as outcomes:
        assert isinstance(outcomes, SyncIterator)
        assert sorted(o.index for o in outcomes) == [0, 1, 2]


def test_run_many_return_exceptions_false_raises_the_first_error(client: Client) -> None:
    requests = [{"end_user_id": "a", "task": "bad [[fail]] [[duration=0.01]]"}]
    with pytest.raises(TaskFailedError):
        for _ in client.tasks.run_many(requests, return_exceptions=False, poll_interval=0.02):
            pass


def _quiet_after(emu: EmulatorThread, seconds: float = 0.3) -> bool:
    time.sleep(0.1)
    before = len(emu.requests)
    time.sleep(seconds)
    return len(emu.requests) == before


def test_breaking_out_of_run_many_stops_the_work(client: Client, emu: EmulatorThread) -> None:
    requests = [{"end_user_id": "a", "task": "quick [[duration=0.01]]"}]
    requests += [{"end_user_id": "a", "task": f"long{i} [[duration=60]]"} for i in range(20)]

    for outcome in client.tasks.run_many(requests, concurrency=4, poll_interval=0.02):
        assert outcome.index == 0
        break
    gc.collect()

    assert _quiet_after(emu), "no request after the loop was left"
    assert client.tasks.list() is not None  # the client is still usable


def test_close_stops_run_many_at_once(client: Client, emu: EmulatorThread) -> None:
    requests = [{"end_user_id": "a", "task": "quick [[duration=0.01]]"}]
    requests += [{"end_user_id": "a", "task": f"long{i} [[duration=60]]"} for i in range(5)]
    outcomes = client.tasks.run_many(requests, poll_interval=0.02)
    assert iter(outcomes) is outcomes
    assert next(outcomes).index == 0

    outcomes.close()
    # A request sent just before close() may still be recorded by the server.
    assert _quiet_after(emu, 0.2)
    outcomes.close()  # idempotent
    assert list(outcomes) == []


def test_credentials_set_get_delete(client: Client, emu: EmulatorThread) -> None:
    creds = client.end_users("alice").credentials
    assert creds.end_user_id == "alice"
    assert client.end_users("alice").end_user_id == "alice"

    assert creds.set(twitter_auth_token="secret-1", twitter_ct0="secret-2") is None
    assert emu.requests[-1].json == {"twitterAuthToken": "secret-1", "twitterCt0": "secret-2"}

    status = creds.get()
    assert isinstance(status, CredentialStatus)
    assert status.end_user_id == "alice"
    assert "secret-1" not in repr(status)

    creds.delete(fields=["twitter_ct0"])
    assert emu.requests[-1].json == {"fields": ["twitterCt0"]}
    creds.delete()
    assert emu.requests[-1].method == "DELETE"


def test_invalid_arguments_fail_before_any_request(client: Client, emu: EmulatorThread) -> None:
    before = len(emu.requests)
    with pytest.raises(ValueError, match="end_user_id"):
        client.end_users("")
    with pytest.raises(ValueError, match="limit"):
        client.tasks.list(limit=0)
    with pytest.raises(ValueError):
        client.end_users("alice").credentials.set()
    assert len(emu.requests) == before


def test_api_keys_lifecycle_with_a_dashboard_token(dashboard: Client, emu: EmulatorThread) -> None:
    created = dashboard.api_keys.create(label="prod")
    assert isinstance(created, CreatedApiKey)
    keys = dashboard.api_keys.list()
    assert all(isinstance(k, ApiKey) for k in keys)
    assert created.prefix in {k.prefix for k in keys}

    with Client(created.key, base_url=emu.url) as fresh:
        fresh.tasks.list()
        dashboard.api_keys.revoke(created.prefix)
        with pytest.raises(PermissionDeniedError):
            fresh.tasks.list()
    revoked = {k.prefix: k for k in dashboard.api_keys.list()}[created.prefix]
    assert revoked.is_revoked


def test_design_submit_and_run(client: Client) -> None:
    job = client.design.submit(url="https://example.com", end_user_id="alice")
    assert job.status is TaskStatus.PENDING
    done = client.design.run(
        url="https://example.com", end_user_id="alice", extractors=["colors"], poll_interval=0.02
    )
    assert done.status is TaskStatus.COMPLETED


def test_errors_surface_as_the_same_classes(client: Client, emu: EmulatorThread) -> None:
    with pytest.raises(NotFoundError) as not_found:
        client.tasks.get("no-such-task")
    assert not_found.value.status_code == 404

    with pytest.raises(AuthenticationError):
        client.api_keys.list()

    with pytest.raises(TaskFailedError) as failed:
        client.tasks.run(end_user_id="alice", task="doomed [[fail]]", poll_interval=0.02)
    assert failed.value.task.status is TaskStatus.FAILED

    slow = client.tasks.submit(end_user_id="alice", task="slow [[duration=60]]")
    with pytest.raises(TaskTimeoutError) as timed_out:
        client.tasks.wait(slow.task_id, poll_interval=0.02, poll_timeout=0.1)
    assert timed_out.value.task.task_id == slow.task_id

    with Client("sb_live_not_a_real_key_at_all", base_url=emu.url) as bad:
        with pytest.raises(AuthenticationError) as info:
            bad.tasks.list()
    assert "sb_live_not_a_real_key_at_all" not in str(info.value)


def test_properties_mirror_the_async_client(emu: EmulatorThread) -> None:
    with Client(emu.api_key, base_url=emu.url, timeout=7.5, max_retries=4) as client:
        assert client.timeout == 7.5
        assert client.max_retries == 4
        assert client.base_url == emu.url.rstrip("/")
        assert emu.api_key not in repr(client)
        assert repr(client).startswith("Client(")
