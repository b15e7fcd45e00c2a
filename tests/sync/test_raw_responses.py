"""The sync facade's ``with_raw_response``: generated from the async views, same answers."""

from __future__ import annotations

import datetime

import pytest

from stablebrowse_async.sync import Client, NotFoundError, RawResponse, Task
from stablebrowse_async.testing import EmulatorThread, Fault


def test_task_endpoints_through_the_portal(client: Client, emu: EmulatorThread) -> None:
    submitted = client.tasks.with_raw_response.submit(end_user_id="alice", task="find it")
    assert isinstance(submitted, RawResponse)
    assert submitted.status_code == 201
    task = submitted.parse()
    assert isinstance(task, Task)
    got = client.tasks.with_raw_response.get(task.task_id)
    assert got.status_code == 200
    assert got.request_id == emu.requests[-1].request_id
    assert got.parse().task_id == task.task_id
    assert isinstance(got.elapsed, datetime.timedelta)
    listed = client.tasks.with_raw_response.list(limit=3)
    assert listed.parse() == client.tasks.list(limit=3)
    with pytest.raises(NotFoundError):
        client.tasks.with_raw_response.get("missing")


def test_other_resources_and_with_options(
    client: Client, dashboard: Client, emu: EmulatorThread
) -> None:
    task = client.tasks.submit(end_user_id="alice", task="x")
    assert client.sessions.with_raw_response.get(task.session_id).parse().session_id == (
        task.session_id
    )
    design = client.design.with_raw_response.submit(url="https://example.com", end_user_id="a")
    assert design.status_code == 202
    creds = client.end_users("alice").credentials.with_raw_response
    assert creds.set(youtube_sid="s1d").parse() is None
    assert creds.get().parse().is_configured("youtube")
    assert creds.delete().status_code == 200
    minted = dashboard.api_keys.with_raw_response.create(label="x").parse()
    assert minted.prefix in {k.prefix for k in dashboard.api_keys.with_raw_response.list().parse()}
    assert dashboard.api_keys.with_raw_response.revoke(minted.prefix).parse() is None

    emu.faults.append(Fault("status", status=503, route="GET /v1/tasks/{taskId}", times=1))
    retried = client.with_options(max_retries=3).tasks.with_raw_response.get(task.task_id)
    assert retried.retries_taken == 1
    emu.faults.append(Fault("status", status=503, route="GET /v1/tasks/{taskId}", times=1))
    with pytest.raises(Exception, match="503"):
        client.with_options(max_retries=0).tasks.with_raw_response.get(task.task_id)
