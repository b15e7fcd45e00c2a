"""Secrets, path encoding, redirects, insecure URLs, and the session's lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from stablebrowse_async import APIStatusError, AsyncClient, NotFoundError, StablebrowseError
from stablebrowse_async.testing import Emulator

pytestmark = pytest.mark.anyio

HOSTILE_IDS = ["../api-keys", "a/b?c#d", "100%", "ünïcødé ✓", "x" * 256, "..%2F", " spaced "]


@pytest.mark.parametrize("task_id", HOSTILE_IDS)
async def test_task_ids_reach_the_server_as_one_segment(
    client: AsyncClient, emu: Emulator, task_id: str
) -> None:
    with pytest.raises(NotFoundError):
        await client.tasks.get(task_id)
    path = emu.requests[-1].path
    assert path.startswith("/v1/tasks/")
    assert "/" not in path[len("/v1/tasks/") :]
    assert "?" not in path and "#" not in path


async def test_every_reserved_character_of_an_id_reaches_the_server_percent_encoded(
    client: AsyncClient, emu: Emulator
) -> None:
    """As sent, not only as decoded: a proxy or gateway in between sees one opaque segment."""
    with pytest.raises(NotFoundError):
        await client.tasks.get("a!$&'()*+,:;=@b")
    assert emu.requests[-1].path == "/v1/tasks/a%21%24%26%27%28%29%2A%2B%2C%3A%3B%3D%40b"


@pytest.mark.parametrize("end_user_id", HOSTILE_IDS)
async def test_end_user_ids_round_trip_as_one_segment(
    client: AsyncClient, emu: Emulator, end_user_id: str
) -> None:
    creds = client.end_users(end_user_id).credentials
    await creds.set(reddit_session="r")
    status = await creds.get()
    assert status.end_user_id == end_user_id
    assert status.is_configured("reddit")
    path = emu.requests[-1].path
    assert path.startswith("/v1/end-users/") and path.endswith("/credentials")
    assert path.count("/") == 4


@pytest.mark.parametrize("bad", [".", "..", ""])
async def test_dot_segments_and_empty_ids_are_refused(client: AsyncClient, bad: str) -> None:
    with pytest.raises(ValueError, match="task_id"):
        await client.tasks.get(bad)
    with pytest.raises(ValueError, match="prefix"):
        await client.api_keys.revoke(bad)


async def test_key_never_appears_in_repr_logs_or_errors(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="stablebrowse_async")
    async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=1) as client:
        assert emu.api_key not in repr(client)
        await client.end_users("alice").credentials.set(twitter_auth_token="COOKIE-SECRET-123")
        with pytest.raises(NotFoundError) as info:
            await client.tasks.get("missing")
    secret_part = emu.api_key[8:]
    texts = [r.getMessage() for r in caplog.records] + [str(info.value), repr(info.value)]
    assert caplog.records, "debug logging should have produced records"
    for text in texts:
        assert secret_part not in text
        assert "COOKIE-SECRET-123" not in text


@pytest.mark.parametrize(
    "url",
    ["http://example.com/v1", "http://10.0.0.1/v1", "ftp://x/v1", "not a url", "https://u:p@x/v1"],
)
def test_insecure_or_malformed_base_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"base_url|plain http"):
        AsyncClient("sb_live_key", base_url=url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/v1", "http://localhost/v1", "http://[::1]:8/v1"]
)
def test_plain_http_is_fine_on_loopback(url: str) -> None:
    assert AsyncClient("sb_live_key", base_url=url).base_url == url


def test_allow_insecure_opts_in() -> None:
    client = AsyncClient("sb_live_key", base_url="http://example.com/v1", allow_insecure=True)
    assert client.base_url == "http://example.com/v1"


def test_env_fallbacks_and_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STABLEBROWSE_API_KEY", "sb_live_fromenv")
    monkeypatch.setenv("STABLEBROWSE_BASE_URL", "http://127.0.0.1:1/v1/")
    client = AsyncClient()
    assert client.base_url == "http://127.0.0.1:1/v1"
    monkeypatch.delenv("STABLEBROWSE_API_KEY")
    monkeypatch.delenv("STABLEBROWSE_BASE_URL")
    with pytest.raises(StablebrowseError, match="STABLEBROWSE_API_KEY"):
        AsyncClient()
    assert AsyncClient("sb_live_x").base_url == "https://api.stablebrowse.ai/v1"
    with pytest.raises(ValueError, match="control characters"):
        AsyncClient("sb_live_x\r\nX-Evil: 1")


@pytest.fixture
async def redirect_pair() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """Server A redirects every request to server B (another origin), which records headers."""
    seen: list[dict[str, str]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"sessions": []})

    target = web.Application()
    target.router.add_get("/v1/tasks", record)
    target_runner = web.AppRunner(target)
    await target_runner.setup()
    target_site = web.TCPSite(target_runner, "127.0.0.1", 0)
    await target_site.start()
    target_port = target_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"http://localhost:{target_port}{request.path_qs}")

    origin = web.Application()
    origin.router.add_get("/v1/tasks", bounce)
    origin_runner = web.AppRunner(origin)
    await origin_runner.setup()
    origin_site = web.TCPSite(origin_runner, "127.0.0.1", 0)
    await origin_site.start()
    origin_port = origin_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{origin_port}/v1", seen
    finally:
        await origin_runner.cleanup()
        await target_runner.cleanup()


async def test_a_redirect_is_not_followed_so_nothing_reaches_another_origin(
    redirect_pair: tuple[str, list[dict[str, str]]],
) -> None:
    url, seen = redirect_pair
    async with AsyncClient("sb_live_redirect_secret_key", base_url=url) as client:
        with pytest.raises(APIStatusError, match=r"307 redirect to http://localhost:\d+ not"):
            await client.tasks.list()
    assert seen == []


async def test_aclose_is_idempotent_and_use_after_close_is_refused(emu: Emulator) -> None:
    client = AsyncClient(emu.api_key, base_url=emu.url)
    await client.tasks.list()
    assert client.connector is not None
    await client.aclose()
    await client.close()
    assert client.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        await client.tasks.list()


async def test_a_user_supplied_session_is_used_and_left_open(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with AsyncClient(emu.api_key, base_url=emu.url, session=session) as client:
            assert await client.tasks.list() == []
        assert not session.closed
        assert emu.requests[-1].headers["Authorization"].startswith("Bearer ")


async def test_with_options_shares_the_pool(client: AsyncClient, emu: Emulator) -> None:
    await client.tasks.list()
    quick = client.with_options(timeout=5, poll_timeout=10)
    assert quick.timeout == 5 and quick.poll_timeout == 10
    await quick.tasks.list()
    assert quick.connector is client.connector
    await quick.aclose()  # a copy never closes the shared pool
    await client.tasks.list()


async def test_cancelling_a_request_leaves_no_open_connection(emu: Emulator) -> None:
    from stablebrowse_async.testing import Fault

    emu.faults.append(Fault("delay", delay=2.0, route="GET /v1/tasks"))
    async with AsyncClient(emu.api_key, base_url=emu.url) as client:
        call = asyncio.ensure_future(client.tasks.list())
        await asyncio.sleep(0.2)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        emu.faults.clear()
        assert await client.tasks.list() == []


def test_client_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="timeout"):
        AsyncClient("sb_live_k", base_url="http://127.0.0.1/v1", timeout=0)
    with pytest.raises(ValueError, match="max_retries"):
        AsyncClient("sb_live_k", base_url="http://127.0.0.1/v1", max_retries=-1)
    with pytest.raises(ValueError, match="connection_limit"):
        AsyncClient("sb_live_k", base_url="http://127.0.0.1/v1", connection_limit=0)
    with pytest.raises(ValueError, match="poll_timeout"):
        AsyncClient("sb_live_k", base_url="http://127.0.0.1/v1", poll_timeout=0)
    with pytest.raises(ValueError, match="poll_interval"):
        AsyncClient("sb_live_k", base_url="http://127.0.0.1/v1", poll_interval=-1)
