"""Acceptance: the official sync SDK (stablebrowse 0.3.1), unchanged, against the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stablebrowse_async.testing import EmulatorThread

stablebrowse = pytest.importorskip("stablebrowse")


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(durations=(0.05, 0.2), pending_for=0.02, seed=9) as e:
        yield e


@pytest.fixture
def client(emu: EmulatorThread) -> Iterator[object]:
    with stablebrowse.Stablebrowse(api_key=emu.api_key, base_url=emu.url) as c:
        yield c


def test_submit_get_list(client: object) -> None:
    submitted = client.tasks.submit(end_user_id="alice", task="look around")  # type: ignore[attr-defined]
    assert submitted.status == "pending"
    fetched = client.tasks.get(submitted.task_id)  # type: ignore[attr-defined]
    assert fetched.task_id == submitted.task_id
    assert fetched.end_user_id == "alice"
    sessions = client.tasks.list(limit=10)  # type: ignore[attr-defined]
    assert submitted.session_id in [s["sessionId"] for s in sessions]


def test_run_completes_with_schema_and_session(client: object) -> None:
    schema = {"type": "object", "properties": {"price": {"type": "number"}}, "required": ["price"]}
    done = client.tasks.run(  # type: ignore[attr-defined]
        end_user_id="alice",
        task="find the price",
        schema=schema,
        include_html_dump=True,
        max_steps=5,
        poll_interval=0.05,
    )
    assert done.status == "completed"
    assert done.is_terminal
    assert isinstance(done.structured_content["price"], float)
    assert done.html_dump
    follow = client.tasks.run(  # type: ignore[attr-defined]
        end_user_id="alice", task="and again", session_id=done.session_id, poll_interval=0.05
    )
    session = client.sessions.get(done.session_id)  # type: ignore[attr-defined]
    assert [t.task_id for t in session.tasks] == [done.task_id, follow.task_id]


def test_design_run_completes(client: object) -> None:
    job = client.design.run(  # type: ignore[attr-defined]
        url="https://brand.example",
        end_user_id="alice",
        extractors=["colors"],
        enable_ip_rotation=True,
        poll_interval=0.05,
    )
    assert job.status == "completed"
    assert set(job.design["results"]) == {"colors"}


def test_credentials_set_get_delete(client: object) -> None:
    creds = client.end_users("alice").credentials  # type: ignore[attr-defined]
    creds.set(twitter_auth_token="t", twitter_ct0="c", reddit_session="r")
    status = creds.get()
    assert status.platforms["twitter"] is True
    assert status.platforms["reddit"] is True
    creds.delete(fields=["reddit_session"])
    assert creds.get().platforms["reddit"] is False
    creds.delete()
    assert not any(creds.get().platforms.values())


def test_failing_task_raises_task_failed(client: object) -> None:
    from stablebrowse.errors import TaskFailed

    with pytest.raises(TaskFailed) as info:
        client.tasks.run(end_user_id="alice", task="break [[fail]]", poll_interval=0.05)  # type: ignore[attr-defined]
    assert info.value.task.status == "failed"
