"""Every endpoint through the public API against the emulator, with wire assertions."""

from __future__ import annotations

import pytest

from stablebrowse_async import (
    AsyncClient,
    AuthenticationError,
    CreatedApiKey,
    NotFoundError,
    PermissionDeniedError,
    SessionSummary,
    Task,
    TaskStatus,
)
from stablebrowse_async.testing import Emulator

pytestmark = pytest.mark.anyio


async def test_submit_sends_camel_case_json_and_returns_a_pending_task(
    client: AsyncClient, emu: Emulator
) -> None:
    task = await client.tasks.submit(
        end_user_id="alice",
        task="find the news",
        start_url="https://news.example",
        schema={"type": "object", "properties": {"title": {"type": "string"}}},
        max_steps=10,
        include_html_dump=True,
    )
    assert isinstance(task, Task)
    assert task.status is TaskStatus.PENDING
    assert task.task == "find the news"
    assert task.end_user_id == "alice"
    assert task.session_id
    sent = emu.requests[-1]
    assert sent.method == "POST"
    assert sent.path == "/v1/tasks"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json == {
        "endUserId": "alice",
        "task": "find the news",
        "startUrl": "https://news.example",
        "schema": {"type": "object", "properties": {"title": {"type": "string"}}},
        "maxSteps": 10,
        "include_html_dump": True,
    }
    assert sent.headers["Authorization"].startswith("Bearer sb_live_")
    assert emu.api_key not in sent.headers["Authorization"]


async def test_get_sends_no_body_and_parses_the_record(client: AsyncClient, emu: Emulator) -> None:
    submitted = await client.tasks.submit(end_user_id="alice", task="hello [[duration=0.01]]")
    done = await client.tasks.wait(submitted.task_id)
    fetched = await client.tasks.get(submitted.task_id)
    assert fetched == done
    assert fetched.status is TaskStatus.COMPLETED
    assert fetched.result
    assert fetched.total_steps is not None
    assert fetched.created_at is not None and fetched.updated_at is not None
    get = emu.requests[-1]
    assert get.method == "GET"
    assert get.body == b""
    assert "Content-Type" not in get.headers


async def test_structured_content_and_html_dump(client: AsyncClient) -> None:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "count": {"type": "integer"}},
        "required": ["title", "count"],
    }
    done = await client.tasks.run(
        end_user_id="alice", task="structured", schema=schema, include_html_dump=True
    )
    assert done.structured_content is not None
    assert isinstance(done.structured_content["title"], str)
    assert isinstance(done.structured_content["count"], int)
    assert done.html_dump
    assert "html_dump" not in repr(done)


async def test_list_returns_typed_session_summaries(client: AsyncClient, emu: Emulator) -> None:
    first = await client.tasks.submit(end_user_id="alice", task="one")
    await client.tasks.submit(end_user_id="alice", task="two", session_id=first.session_id)
    await client.tasks.submit(end_user_id="bob", task="three")
    sessions = await client.tasks.list(limit=10)
    assert all(isinstance(s, SessionSummary) for s in sessions)
    assert len(sessions) == 2
    by_id = {s.session_id: s for s in sessions}
    assert by_id[first.session_id].task_count == 2
    assert emu.requests[-1].query == {"limit": "10"}


@pytest.mark.parametrize("limit", [0, 101])
async def test_list_limit_is_checked_before_the_network(
    client: AsyncClient, emu: Emulator, limit: int
) -> None:
    before = len(emu.requests)
    with pytest.raises(ValueError, match="limit"):
        await client.tasks.list(limit=limit)
    assert len(emu.requests) == before


async def test_sessions_get_returns_tasks_oldest_first(client: AsyncClient) -> None:
    first = await client.tasks.submit(end_user_id="alice", task="one")
    second = await client.tasks.submit(end_user_id="alice", task="two", session_id=first.session_id)
    assert first.session_id is not None
    session = await client.sessions.get(first.session_id)
    assert session.session_id == first.session_id
    assert [t.task_id for t in session.tasks] == [first.task_id, second.task_id]


async def test_unknown_session_and_task_are_not_found(client: AsyncClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.sessions.get("nope")
    assert info.value.status_code == 404
    assert info.value.request_id
    with pytest.raises(NotFoundError):
        await client.tasks.get("nope")


async def test_credentials_round_trip_flags_only(client: AsyncClient, emu: Emulator) -> None:
    creds = client.end_users("alice").credentials
    await creds.set(twitter_auth_token="tw-secret", twitter_ct0="ct0-secret", reddit_session="rd")
    put = emu.requests[-1]
    assert put.method == "PUT"
    assert put.path == "/v1/end-users/alice/credentials"
    assert put.json == {
        "twitterAuthToken": "tw-secret",
        "twitterCt0": "ct0-secret",
        "redditSession": "rd",
    }
    status = await creds.get()
    assert status.end_user_id == "alice"
    assert status.is_configured("twitter") and status.is_configured("reddit")
    assert not status.is_configured("youtube")
    assert "secret" not in repr(status)
    await creds.delete(fields=["reddit_session"])
    assert emu.requests[-1].json == {"fields": ["redditSession"]}
    assert not (await creds.get()).is_configured("reddit")
    await creds.delete()
    assert emu.requests[-1].body == b""
    assert not (await creds.get()).is_configured("twitter")


async def test_every_credential_field_goes_out_camel_cased(
    client: AsyncClient, emu: Emulator
) -> None:
    from stablebrowse_async import CREDENTIAL_FIELDS

    values = {name: f"v-{i}" for i, name in enumerate(CREDENTIAL_FIELDS)}
    await client.end_users("carol").credentials.set(**values)
    sent = emu.requests[-1].json
    assert sent is not None and len(sent) == 12
    assert sent["instagramDsUserId"] == values["instagram_ds_user_id"]
    assert sent["youtubeSapisid"] == values["youtube_sapisid"]
    status = await client.end_users("carol").credentials.get()
    assert all(status.platforms.values())


async def test_credential_input_errors_before_the_network(
    client: AsyncClient, emu: Emulator
) -> None:
    creds = client.end_users("alice").credentials
    before = len(emu.requests)
    with pytest.raises(ValueError, match="at least one"):
        await creds.set()
    with pytest.raises(TypeError, match="twitter_ct0") as info:
        await creds.set(twitter_ct0=12345)  # type: ignore[arg-type]
    assert "12345" not in str(info.value)
    with pytest.raises(TypeError):
        await creds.set(facebook_token="x")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="fields must not be empty"):
        await creds.delete(fields=[])
    with pytest.raises(ValueError, match="myspace"):
        await creds.delete(fields=["myspace"])
    with pytest.raises(TypeError):
        await creds.delete(fields="twitter_ct0")
    with pytest.raises(ValueError, match="end_user_id"):
        client.end_users("x" * 257)
    with pytest.raises(ValueError, match="end_user_id"):
        client.end_users("")
    assert len(emu.requests) == before


async def test_api_keys_lifecycle_with_a_dashboard_token(
    dashboard: AsyncClient, emu: Emulator
) -> None:
    created = await dashboard.api_keys.create(label="prod")
    assert isinstance(created, CreatedApiKey)
    assert created.key.startswith("sb_live_")
    assert created.prefix == created.key[:16]
    assert created.key not in repr(created)
    keys = await dashboard.api_keys.list()
    assert created.prefix in {k.prefix for k in keys}
    async with AsyncClient(created.key, base_url=emu.url) as fresh:
        await fresh.tasks.list()
        await dashboard.api_keys.revoke(created.prefix)
        with pytest.raises(PermissionDeniedError):
            await fresh.tasks.list()
    revoked = {k.prefix: k for k in await dashboard.api_keys.list()}[created.prefix]
    assert revoked.is_revoked
    with pytest.raises(NotFoundError):
        await dashboard.api_keys.revoke("sb_live_unknownx")


async def test_api_keys_refuse_an_api_key(client: AsyncClient) -> None:
    with pytest.raises(AuthenticationError) as info:
        await client.api_keys.list()
    assert info.value.status_code == 401


async def test_bad_key_is_an_authentication_error(emu: Emulator) -> None:
    async with AsyncClient("sb_live_not_a_real_key_at_all", base_url=emu.url) as bad:
        with pytest.raises(AuthenticationError) as info:
            await bad.tasks.list()
    assert "sb_live_not_a_real_key_at_all" not in str(info.value)


async def test_other_business_resources_are_not_found(client: AsyncClient, emu: Emulator) -> None:
    task = await client.tasks.submit(end_user_id="alice", task="mine")
    other = emu.add_business(name="other")
    async with AsyncClient(other.api_key, base_url=emu.url) as theirs:
        with pytest.raises(NotFoundError):
            await theirs.tasks.get(task.task_id)
        assert task.session_id is not None
        with pytest.raises(NotFoundError):
            await theirs.sessions.get(task.session_id)


async def test_design_submit_and_run(client: AsyncClient, emu: Emulator) -> None:
    job = await client.design.submit(
        url="https://example.com", end_user_id="alice", extractors=["colors"]
    )
    assert job.status is TaskStatus.PENDING
    assert emu.requests[-1].json == {
        "url": "https://example.com",
        "endUserId": "alice",
        "extractors": ["colors"],
    }
    done = await client.design.run(
        url="https://example.com", end_user_id="alice", enable_ip_rotation=True
    )
    assert done.design is not None
    posted = [r for r in emu.requests if r.method == "POST" and r.path == "/v1/design/extract"]
    assert posted[-1].json is not None
    assert posted[-1].json.get("enableIpRotation") is True


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"url": "example.com", "end_user_id": "a"}, ValueError),
        ({"url": "https://x", "end_user_id": ""}, ValueError),
        ({"url": "https://x", "end_user_id": "a", "extractors": ["smells"]}, ValueError),
        ({"url": "https://x", "end_user_id": "a", "extractors": "colors"}, TypeError),
        ({"url": 5, "end_user_id": "a"}, TypeError),
    ],
)
async def test_design_input_errors_before_the_network(
    client: AsyncClient, emu: Emulator, kwargs: dict[str, object], error: type[Exception]
) -> None:
    before = len(emu.requests)
    with pytest.raises(error):
        await client.design.submit(**kwargs)  # type: ignore[arg-type]
    assert len(emu.requests) == before
