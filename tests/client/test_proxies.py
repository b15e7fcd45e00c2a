"""Proxies: ``proxy=`` and ``trust_env=True``, through a real forwarding proxy on loopback.

The proxy (tests/client/_proxy.py) forwards absolute-form requests and opens
CONNECT tunnels; what it saw is the evidence that requests went through it.
Its password is registered with the suite's secret scan, so every test here
also fails if it shows up in a log record, captured output or failure report.
"""

from __future__ import annotations

import socket
import traceback
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stablebrowse_async import (
    AmbiguousRequestError,
    APIConnectionError,
    APIStatusError,
    AsyncClient,
)
from stablebrowse_async.sync import Client
from stablebrowse_async.testing import Emulator, EmulatorThread
from tests.client._proxy import ForwardProxy
from tests.client.conftest import FAST_POLLS
from tests.reliability._secrets import BOOK

USER = "proxy-user"
PASSWORD = "Pr0xy-Passw0rd-Never-Shown-41d7"
WRONG = "Wr0ng-Proxy-Passw0rd-Never-Shown"
BOOK.register("proxy_password", PASSWORD)
BOOK.register("proxy_password_wrong", WRONG)

pytestmark = pytest.mark.anyio

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable from the machine running the tests, in either case."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy() as forward:
        yield forward


@pytest.fixture
async def locked_proxy() -> AsyncIterator[ForwardProxy]:
    """A proxy that requires ``USER``/``PASSWORD``."""
    async with ForwardProxy(credentials=(USER, PASSWORD)) as forward:
        yield forward


def _everything_shown(error: BaseException) -> str:
    """What a user could see of an error: str, repr and the whole printed chain, causes' reprs."""
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    cause = error.__cause__
    while cause is not None:
        texts.append(repr(cause))
        cause = cause.__cause__
    return "\n".join(texts)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_every_request_goes_through_the_proxy(emu: Emulator, proxy: ForwardProxy) -> None:
    async with AsyncClient(
        emu.api_key, base_url=emu.url, proxy=proxy.url, poll_interval=FAST_POLLS
    ) as client:
        task = await client.tasks.run(end_user_id="alice", task="through a proxy")
        await client.with_options(max_retries=0).tasks.get(task.task_id)
    assert task.status.value == "completed"
    # Absolute-form request lines: the proxy, not the emulator, was connected to.
    assert proxy.seen[0].method == "POST"
    assert proxy.seen[0].target == f"{emu.url}/tasks"
    assert {seen.target for seen in proxy.seen[1:]} == {f"{emu.url}/tasks/{task.task_id}"}
    assert len(proxy.seen) == len(emu.requests)


async def test_proxy_credentials_are_sent_but_never_shown(
    emu: Emulator, locked_proxy: ForwardProxy
) -> None:
    url = locked_proxy.url_with(USER, PASSWORD)
    async with AsyncClient(emu.api_key, base_url=emu.url, proxy=url) as client:
        created = await client.tasks.submit(end_user_id="alice", task="with credentials")
        shown = repr(client)
    assert created.task_id
    assert [seen.authorized for seen in locked_proxy.seen] == [True]
    assert PASSWORD not in shown and USER not in shown
    assert f"proxy='http://****:****@127.0.0.1:{locked_proxy.port}'" in shown
    # The emulator never sees the proxy's credentials.
    assert all("proxy-authorization" not in r.headers for r in emu.requests)


async def test_a_407_from_the_proxy_is_a_clear_error_without_the_password(
    emu: Emulator, locked_proxy: ForwardProxy
) -> None:
    url = locked_proxy.url_with(USER, WRONG)
    async with AsyncClient(emu.api_key, base_url=emu.url, proxy=url) as client:
        with pytest.raises(APIStatusError) as info:
            await client.tasks.get("some-task")
    assert info.value.status_code == 407
    assert "proxy authentication required" in str(info.value)
    assert "user and password of the proxy URL" in str(info.value)
    assert WRONG not in _everything_shown(info.value)
    assert len(locked_proxy.seen) == 1  # a 407 is not retried
    assert emu.requests == []


async def test_a_407_on_a_tunnel_is_a_clear_error_and_a_post_is_not_ambiguous(
    emu: Emulator, locked_proxy: ForwardProxy
) -> None:
    """For an https API the client asks the proxy for a CONNECT tunnel; aiohttp raises
    ClientHttpProxyError, whose own text shows the proxy URL: the SDK's error must not."""
    https = emu.url.replace("http://", "https://")
    url = locked_proxy.url_with(USER, WRONG)
    async with AsyncClient(emu.api_key, base_url=https, proxy=url, max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.tasks.submit(end_user_id="alice", task="never sent")
    error = info.value
    assert not isinstance(error, AmbiguousRequestError)  # the proxy never passed it on
    assert "the proxy refused to open a tunnel to the API: HTTP 407" in str(error)
    assert str(error).endswith(
        ": check the user and password of the proxy URL (or of HTTP(S)_PROXY)"
    )
    assert isinstance(error.__cause__, aiohttp.ClientHttpProxyError)
    assert WRONG not in _everything_shown(error)
    assert [seen.method for seen in locked_proxy.seen] == ["CONNECT"]
    assert emu.tasks_created() == 0


async def test_a_failed_tunnel_does_not_show_the_proxy_password(
    emu: Emulator, locked_proxy: ForwardProxy
) -> None:
    """The tunnel opens but TLS fails (the emulator speaks plain http): aiohttp's
    connector error keeps the proxy URL, password included, in its connection key."""
    https = emu.url.replace("http://", "https://")
    url = locked_proxy.url_with(USER, PASSWORD)
    async with AsyncClient(emu.api_key, base_url=https, proxy=url, max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.tasks.get("some-task")
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)
    assert PASSWORD not in _everything_shown(info.value)
    assert "****:****@" in repr(info.value.__cause__)
    assert [(s.method, s.authorized) for s in locked_proxy.seen] == [("CONNECT", True)]


async def test_an_unreachable_proxy_is_named_as_the_problem(emu: Emulator) -> None:
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:{_closed_port()}"
    async with AsyncClient(emu.api_key, base_url=emu.url, proxy=url, max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.tasks.submit(end_user_id="alice", task="no proxy there")
    assert not isinstance(info.value, AmbiguousRequestError)
    assert "cannot connect to the proxy" in str(info.value)
    assert PASSWORD not in _everything_shown(info.value)
    assert emu.tasks_created() == 0


async def test_trust_env_takes_the_proxy_from_the_environment(
    emu: Emulator, locked_proxy: ForwardProxy, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("HTTP_PROXY", locked_proxy.url_with(USER, PASSWORD))
    async with AsyncClient(emu.api_key, base_url=emu.url, trust_env=True) as client:
        await client.tasks.submit(end_user_id="alice", task="via HTTP_PROXY")
        assert "proxy=" not in repr(client)
    assert [(s.method, s.authorized) for s in locked_proxy.seen] == [("POST", True)]
    # Without trust_env the environment is ignored.
    async with AsyncClient(emu.api_key, base_url=emu.url) as client:
        await client.tasks.submit(end_user_id="alice", task="direct")
    assert len(locked_proxy.seen) == 1
    assert emu.tasks_created() == 2


async def test_no_proxy_bypasses_the_environment_proxy(
    emu: Emulator, proxy: ForwardProxy, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("HTTP_PROXY", proxy.url)
    clean_env.setenv("NO_PROXY", "example.com,127.0.0.1")
    async with AsyncClient(emu.api_key, base_url=emu.url, trust_env=True) as client:
        await client.tasks.submit(end_user_id="alice", task="bypassing the proxy")
    assert proxy.seen == []
    assert emu.tasks_created() == 1


async def test_a_407_from_the_environment_proxy_hides_its_password(
    emu: Emulator, locked_proxy: ForwardProxy, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("HTTP_PROXY", locked_proxy.url_with(USER, WRONG))
    async with AsyncClient(emu.api_key, base_url=emu.url, trust_env=True) as client:
        with pytest.raises(APIStatusError) as info:
            await client.tasks.get("some-task")
    assert info.value.status_code == 407
    assert WRONG not in _everything_shown(info.value)


@pytest.mark.parametrize(
    ("proxy", "expected"),
    [
        (f"socks5://{USER}:{PASSWORD}@127.0.0.1:1080", "http:// or https:// URL"),
        ("127.0.0.1:3128", "http:// or https:// URL"),
        (f"http://{USER}:{PASSWORD}@", "has no host"),
        (f"http://{USER}:{PASSWORD}@127.0.0.1:99999", "invalid port"),
        (f"http://{USER}:{PASSWORD}@127.0.0.1:3128/path", "no path, query or fragment"),
        (f"http://{USER}:{PASSWORD}@127.0.0.1:3128?token=x", "no path, query or fragment"),
        (f"http://{USER}:{PASSWORD}@127.0.0.1:3128\x00", "whitespace or control characters"),
        (f"http://{USER}:{PASSWORD} @127.0.0.1:3128", "whitespace or control characters"),
    ],
)
def test_a_bad_proxy_url_fails_at_construction_without_echoing_its_password(
    proxy: str, expected: str
) -> None:
    with pytest.raises(ValueError, match="proxy") as info:
        AsyncClient("sb_live_key", base_url="http://127.0.0.1:1/v1", proxy=proxy)
    assert expected in str(info.value)
    assert PASSWORD not in str(info.value)
    with pytest.raises(ValueError, match="proxy"):
        Client("sb_live_key", base_url="http://127.0.0.1:1/v1", proxy=proxy)


async def test_bad_proxy_argument_types_fail_at_construction() -> None:
    with pytest.raises(TypeError, match="proxy must be a str URL or None, got int"):
        AsyncClient("sb_live_key", proxy=3128)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="trust_env must be a bool"):
        AsyncClient("sb_live_key", trust_env="yes")  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValueError, match="trust_env applies to the session the client creates"):
            AsyncClient("sb_live_key", session=session, trust_env=True)


async def test_a_callers_session_still_goes_through_the_proxy(
    emu: Emulator, proxy: ForwardProxy
) -> None:
    async with aiohttp.ClientSession() as session:
        client = AsyncClient(emu.api_key, base_url=emu.url, session=session, proxy=proxy.url)
        await client.tasks.submit(end_user_id="alice", task="own session")
        await client.aclose()
    assert [seen.method for seen in proxy.seen] == ["POST"]


@settings(max_examples=50, deadline=None)
@given(
    user=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=20),
    password=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=8),
)
def test_the_repr_never_shows_proxy_credentials(user: str, password: str) -> None:
    client = AsyncClient("sb_live_key", proxy=f"http://{user}:{password}@proxy.internal:3128")
    assert repr(client).endswith("proxy='http://****:****@proxy.internal:3128')")
    # Nothing of the credentials shows: the repr is the same whatever they are.
    # (Not `password not in repr(...)`: a drawn password such as "AsyncCli" is in
    # the repr's own text.)
    other = AsyncClient("sb_live_key", proxy="http://u:other-secret@proxy.internal:3128")
    assert repr(client) == repr(other)


@pytest.fixture
def emu_thread() -> Iterator[EmulatorThread]:
    with EmulatorThread(durations=(0.05, 0.2), seed=7) as emulator:
        yield emulator


def test_the_sync_client_goes_through_the_proxy(emu_thread: EmulatorThread) -> None:
    forward = ForwardProxy(credentials=(USER, PASSWORD))
    emu_thread.call(forward.__aenter__)  # the proxy serves on the emulator's loop
    try:
        url = forward.url_with(USER, PASSWORD)
        with Client(emu_thread.api_key, base_url=emu_thread.url, proxy=url) as client:
            client.tasks.submit(end_user_id="alice", task="sync, proxied")
            assert PASSWORD not in repr(client)
            assert repr(client).startswith("Client(") and "****:****@" in repr(client)
    finally:
        emu_thread.call(forward.__aexit__)
    assert [(s.method, s.authorized) for s in forward.seen] == [("POST", True)]


async def test_a_failed_tunnel_through_the_environment_proxy_hides_its_password(
    emu: Emulator, locked_proxy: ForwardProxy, clean_env: pytest.MonkeyPatch
) -> None:
    """From HTTPS_PROXY, aiohttp keeps the credentials as a BasicAuth in the connection key."""
    clean_env.setenv("HTTPS_PROXY", locked_proxy.url_with(USER, PASSWORD))
    https = emu.url.replace("http://", "https://")
    async with AsyncClient(emu.api_key, base_url=https, trust_env=True, max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.tasks.get("some-task")
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)
    assert PASSWORD not in _everything_shown(info.value)
    # Only the password is masked: the login shows which credentials were used.
    assert f"proxy_auth=BasicAuth(login='{USER}', password='****'" in repr(info.value.__cause__)
    assert [(s.method, s.authorized) for s in locked_proxy.seen] == [("CONNECT", True)]


async def test_a_proxy_user_without_a_password_is_masked_too(
    emu: Emulator, proxy: ForwardProxy
) -> None:
    """A proxy URL may carry its token as the user alone (``http://TOKEN@host``)."""
    https = emu.url.replace("http://", "https://")
    url = f"http://{PASSWORD}@127.0.0.1:{proxy.port}"
    async with AsyncClient(emu.api_key, base_url=https, proxy=url, max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.tasks.get("some-task")
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)
    assert PASSWORD not in _everything_shown(info.value)
    assert f"proxy=URL('http://****:****@127.0.0.1:{proxy.port}')" in repr(info.value.__cause__)
    assert [seen.method for seen in proxy.seen] == ["CONNECT"]


async def test_a_tunnel_refused_by_policy_names_the_status(emu: Emulator) -> None:
    https = emu.url.replace("http://", "https://")
    async with ForwardProxy(refuse=403) as forward:
        async with AsyncClient(
            emu.api_key, base_url=https, proxy=forward.url, max_retries=0
        ) as client:
            with pytest.raises(APIConnectionError) as info:
                await client.tasks.get("some-task")
    assert "the proxy refused to open a tunnel to the API: HTTP 403" in str(info.value)
    assert "user and password" not in str(info.value)
