"""Secrets never leak: not in reprs, errors, tracebacks, logs at DEBUG, or CLI output.

Every test here scans explicitly with the scanner of tests/reliability/_secrets.py
(the same one the autouse fixture of tests/conftest.py runs after every test
of the suite), for the emulator's keys, tokens and stored credential values
and for the canary values. The first tests prove the scanner itself finds
what it should (a scanner that cannot fail would prove nothing).
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from typer.testing import CliRunner, Result

from stablebrowse_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    StablebrowseError,
)
from stablebrowse_async.cli import app
from stablebrowse_async.testing import Emulator, EmulatorThread, Fault
from stablebrowse_async.testing import _state as emulator_state
from stablebrowse_async.testing._state import minted_secrets, remember_secret
from tests.reliability._secrets import (
    BOOK,
    CANARY_API_KEY,
    CANARY_CREDENTIALS,
    Secret,
    assert_no_leaks,
    find_leaks,
    mask,
    redact,
)
from tests.reliability.conftest import FigureBook

pytestmark = pytest.mark.anyio

SECTION = "secrets"


def _count(figures: FigureBook, name: str, add: int) -> None:
    current = figures.sections[SECTION].get(name, 0)
    assert isinstance(current, int)
    figures.record(SECTION, name, current + add)


def _scan(figures: FigureBook, texts: dict[str, str]) -> None:
    """Scan explicitly for every known secret; record how much was scanned."""
    secrets = BOOK.current()
    assert_no_leaks(texts, secrets)
    _count(figures, "texts scanned explicitly", len(texts))
    _count(figures, "characters scanned explicitly", sum(map(len, texts.values())))
    figures.record(SECTION, "secrets known (scanned for)", len(secrets))
    figures.record(SECTION, "hits", 0)


def _error_texts(error: BaseException, name: str) -> dict[str, str]:
    """Everything a user, a logger or an error tracker could print of an exception."""
    texts = {
        f"str({name})": str(error),
        f"repr({name})": repr(error),
        f"args({name})": repr(error.args),
        f"traceback({name})": "".join(traceback.format_exception(error)),
        f"vars({name})": repr(vars(error)),
    }
    seen: set[int] = {id(error)}
    link = error.__cause__ or error.__context__
    depth = 0
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        depth += 1
        texts[f"repr({name} chain {depth}: {type(link).__name__})"] = repr(link)
        texts[f"str({name} chain {depth})"] = str(link)
        link = link.__cause__ or link.__context__
    return texts


# -- the scanner and the registry ---------------------------------------------------------


async def test_the_scanner_reports_planted_leaks_and_masks_them() -> None:
    async with Emulator() as emu:
        key, token = emu.api_key, emu.dashboard_token
    secrets = BOOK.current()
    credential = CANARY_CREDENTIALS["twitter_auth_token"]
    planted = {
        "full key": f"Authorization: Bearer {key}",
        "key after its prefix": f"secret={key[16:]}",
        "key cut past its prefix": f"key={key[:30]}…",
        "key tail": f"…{key[-12:]}",
        "dashboard token": f"token {token}",
        "token signature": token.rsplit(".", 1)[1],
        "credential": f"cookie {credential}!",
        "canary key in a repr": repr({"api_key": CANARY_API_KEY}),
    }
    leaks = find_leaks(planted, secrets)
    assert {leak.where for leak in leaks} == set(planted)
    report = "\n".join(map(str, leaks))
    for value in (key, key[16:], token, credential, CANARY_API_KEY):
        assert value not in report  # the report masks every secret
    assert mask(key) == f"{key[:16]}… ({len(key)} chars)"
    cleaned = redact("\n".join(planted.values()), secrets)
    assert not find_leaks({"redacted": cleaned}, secrets)


async def test_the_scanner_ignores_the_public_prefix_and_short_values() -> None:
    async with Emulator() as emu:
        key = emu.api_key
    innocent = {
        "prefix (shown in key listings)": f"prefix {key[:16]} label default",
        "emulator request log masking": f"Bearer {key[:16]}…",
        "JWT header shared by every token": emu.dashboard_token.split(".")[0],
    }
    assert find_leaks(innocent, BOOK.current()) == []
    assert Secret.of("credential", "tok").needles == ()  # too short to scan: not scanned
    assert find_leaks({"text": "a tok here"}, [Secret.of("credential", "tok")]) == []


async def test_the_registry_remembers_what_emulators_mint_and_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Emulator() as emu:
        other = emu.add_business("other")
        minted = emu.mint_api_key(label="extra")
        async with AsyncClient(emu.api_key, base_url=emu.url) as client:
            await client.end_users("alice").credentials.set(reddit_session="registry-cookie-value")
        async with AsyncClient(emu.dashboard_token, base_url=emu.url) as dashboard:
            created = await dashboard.api_keys.create(label="via-api")
    known = {value: kind for kind, value in minted_secrets()}
    assert known[emu.api_key] == "api_key"
    assert known[emu.dashboard_token] == "dashboard_token"
    assert known[other.api_key] == "api_key" and known[other.dashboard_token] == "dashboard_token"
    assert known[minted] == "api_key"
    assert known[created.key] == "api_key"
    assert known["registry-cookie-value"] == "credential"
    # Bounded: the oldest are forgotten first (checked on a private copy of the registry).
    monkeypatch.setattr(emulator_state, "_remembered", {})
    monkeypatch.setattr(emulator_state, "MAX_REMEMBERED", 2)
    for value in ("first-secret-value", "second-secret-value", "third-secret-value"):
        remember_secret("credential", value)
    remember_secret("credential", "")
    assert [value for _, value in minted_secrets()] == ["second-secret-value", "third-secret-value"]


# -- reprs ------------------------------------------------------------------------------------


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(durations=(0.05, 0.1), seed=11) as emulator:
        yield emulator


async def test_reprs_of_clients_handles_and_models_hide_secrets(
    emu: Emulator, figures: FigureBook
) -> None:
    texts: dict[str, str] = {}
    async with (
        AsyncClient(emu.api_key, base_url=emu.url) as client,
        AsyncClient(emu.dashboard_token, base_url=emu.url) as dashboard,
        AsyncClient(CANARY_API_KEY, base_url=emu.url) as canary,
    ):
        for name, obj in {
            "client": client,
            "dashboard client": dashboard,
            "canary client": canary,
            "with_options copy": client.with_options(timeout=3),
            "end user": client.end_users("alice"),
            "credentials": client.end_users("alice").credentials,
            "resources": (client.tasks, client.sessions, client.api_keys, client.design),
        }.items():
            texts[f"repr({name})"] = repr(obj)
            texts[f"str({name})"] = str(obj)
        created = await dashboard.api_keys.create(label="repr-check")
        texts["repr(CreatedApiKey)"] = repr(created)
        texts["str(CreatedApiKey)"] = str(created)
        keys = await dashboard.api_keys.list()
        texts["repr(api_keys.list())"] = repr(keys)
        await client.end_users("alice").credentials.set(**CANARY_CREDENTIALS)
        status = await client.end_users("alice").credentials.get()
        texts["repr(CredentialStatus)"] = repr(status)
        texts["CredentialStatus.raw"] = json.dumps(status.raw)
    assert any(secret.value == created.key for secret in BOOK.current())
    assert created.prefix in texts["repr(CreatedApiKey)"]  # the public part is shown
    _scan(figures, texts)


def test_the_sync_client_hides_secrets_too(figures: FigureBook) -> None:
    from stablebrowse_async.sync import Client

    texts: dict[str, str] = {}
    with EmulatorThread(durations=(0.05, 0.1), seed=12) as emu:
        revoked = emu.mint_api_key(label="sync revoked")
        emu.revoke_api_key(revoked)
        with Client(emu.api_key, base_url=emu.url) as client:
            client.end_users("alice").credentials.set(**CANARY_CREDENTIALS)
            texts["repr(sync Client)"] = repr(client)
            texts["repr(sync end user)"] = repr(client.end_users("alice"))
            texts["repr(sync credentials.get())"] = repr(
                client.end_users("alice").credentials.get()
            )
        with Client(revoked, base_url=emu.url) as client:
            texts["repr(revoked sync Client)"] = repr(client)
            with pytest.raises(PermissionDeniedError) as info:
                client.end_users("alice").credentials.set(**CANARY_CREDENTIALS)
            texts.update(_error_texts(info.value, "sync 403"))
    _scan(figures, texts)


def test_a_malformed_key_is_refused_without_echoing_it() -> None:
    bad = CANARY_API_KEY[:20] + "\r\nX-Injected: 1" + CANARY_API_KEY[20:]
    with pytest.raises(ValueError) as info:
        AsyncClient(bad, base_url="http://127.0.0.1:1/v1")
    assert not find_leaks(_error_texts(info.value, "error"), BOOK.current())


def test_a_password_in_a_malformed_base_url_is_not_echoed() -> None:
    password = "UrlPasswordCanary-7d2e9f"
    with pytest.raises(ValueError) as info:
        AsyncClient(CANARY_API_KEY, base_url=f"ftp://user:{password}@127.0.0.1/v1")
    assert not find_leaks(_error_texts(info.value, "error"), [Secret.of("password", password)])


# -- errors and logs -----------------------------------------------------------------------


async def test_errors_and_debug_logs_hide_keys_and_credentials(
    emu: Emulator, caplog: pytest.LogCaptureFixture, figures: FigureBook
) -> None:
    caplog.set_level(logging.DEBUG)  # root too: aiohttp, asyncio and the SDK at DEBUG
    revoked = emu.mint_api_key(label="to revoke")
    emu.revoke_api_key(revoked)
    errors: dict[str, BaseException] = {}

    async def expect(name: str, kind: type[StablebrowseError], call: Any) -> None:
        with pytest.raises(kind) as info:
            await call
        errors[name] = info.value

    creds = dict(CANARY_CREDENTIALS)
    async with AsyncClient(revoked, base_url=emu.url, max_retries=1) as client:
        await expect("revoked key 403", PermissionDeniedError, client.tasks.get("t"))
        await expect(
            "revoked key 403 on credentials",
            PermissionDeniedError,
            client.end_users("alice").credentials.set(**creds),
        )
    async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=1, timeout=0.3) as client:
        await expect("key on a dashboard route 401", AuthenticationError, client.api_keys.list())
        await expect("unknown task 404", NotFoundError, client.tasks.get("missing"))
        emu.faults.append(Fault("status", status=400, route="PUT", times=1))
        await expect("400", BadRequestError, client.end_users("alice").credentials.set(**creds))
        emu.faults.append(Fault("status", status=500, route="PUT", times=2))
        await expect(
            "500 after a retry", InternalServerError, client.end_users("a").credentials.set(**creds)
        )
        emu.faults.append(Fault("delay", delay=1.0, route="PUT", times=2))
        await expect("timeout", APITimeoutError, client.end_users("a").credentials.set(**creds))
        await client.end_users("alice").credentials.set(**creds)  # and one that works
    async with AsyncClient(CANARY_API_KEY, base_url="http://127.0.0.1:1/v1") as refused:
        await expect("connection refused", APIConnectionError, refused.tasks.list())

    texts: dict[str, str] = {}
    for name, error in errors.items():
        texts.update(_error_texts(error, name))
    texts["caplog text"] = caplog.text
    texts["log record args"] = "\n".join(repr(r.args) for r in caplog.records)
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    # The credentials did travel, in the request body only.
    sent = [r.json for r in emu.requests if r.method == "PUT" and r.json]
    assert sent and sent[-1]["twitterAuthToken"] == CANARY_CREDENTIALS["twitter_auth_token"]
    _scan(figures, texts)
    _count(figures, "error kinds provoked", len(errors))


async def test_the_error_chain_of_a_broken_answer_hides_the_key() -> None:
    """aiohttp's ClientResponseError keeps the request headers; chained, they must be masked."""

    async def bad_status_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 abc nonsense\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(bad_status_line, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with AsyncClient(
            CANARY_API_KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0
        ) as client:
            with pytest.raises(APIConnectionError) as info:
                await client.tasks.list()
    finally:
        server.close()
        await server.wait_closed()
    cause = info.value.__cause__
    assert isinstance(cause, aiohttp.ClientResponseError)  # the chain is kept, for debugging
    assert cause.request_info.headers["Authorization"] == "<redacted>"
    assert_no_leaks(_error_texts(info.value, "error"), BOOK.current())


# -- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def emu_thread() -> Iterator[EmulatorThread]:
    with EmulatorThread(durations=(0.05, 0.1), seed=13) as emulator:
        yield emulator


def test_cli_output_hides_keys_tokens_and_credentials(
    emu_thread: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    figures: FigureBook,
) -> None:
    monkeypatch.setenv("STABLEBROWSE_BASE_URL", emu_thread.url)
    monkeypatch.setenv("STABLEBROWSE_API_KEY", emu_thread.api_key)
    monkeypatch.setenv("STABLEBROWSE_DASHBOARD_TOKEN", emu_thread.dashboard_token)
    monkeypatch.setenv("STABLEBROWSE_POLL_INTERVAL", "0.05")
    runner = CliRunner()
    revoked = emu_thread.mint_api_key(label="cli revoked")
    emu_thread.revoke_api_key(revoked)
    cred_options = [
        arg
        for name, value in CANARY_CREDENTIALS.items()
        for arg in ("--" + name.replace("_", "-"), value)
    ]
    good_file = tmp_path / "creds.json"
    good_file.write_text(json.dumps(CANARY_CREDENTIALS))
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps({"twitterAuthToken": 12, "redditSession": "CANARY-x-long-1"}))
    runs: dict[str, tuple[list[str], int]] = {
        "credentials set": (["credentials", "set", "alice", *cred_options], 0),
        "credentials set --from-file": (
            ["credentials", "set", "bob", "--from-file", str(good_file)],
            0,
        ),
        "credentials set, bad file": (
            ["credentials", "set", "bob", "--from-file", str(bad_file)],
            2,
        ),
        "credentials set, bad user": (["credentials", "set", "..", *cred_options], 2),
        "credentials get": (["credentials", "get", "alice"], 0),
        "credentials get --json": (["--json", "credentials", "get", "alice"], 0),
        "revoked key": (["--api-key", revoked, "list"], 3),
        "revoked key, credentials": (
            ["--api-key", revoked, "credentials", "set", "a", *cred_options],
            3,
        ),
        "api key on a dashboard route": (["--api-key", emu_thread.api_key, "api-keys", "list"], 3),
        "api-keys list": (["api-keys", "list"], 0),
        "api-keys list --json": (["--json", "api-keys", "list"], 0),
        "unreachable server": (
            [
                "--base-url",
                "http://127.0.0.1:1/v1",
                "--api-key",
                CANARY_API_KEY,
                "--max-retries",
                "0",
                "list",
            ],
            6,
        ),
        "unknown task": (["get", "no-such-task"], 4),
    }
    texts: dict[str, str] = {}
    for name, (args, code) in runs.items():
        result: Result = runner.invoke(app, args)
        assert result.exit_code == code, f"{name}: exit {result.exit_code}"
        texts[f"{name}: stdout"] = result.stdout
        texts[f"{name}: stderr"] = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            texts[f"{name}: exception"] = repr(result.exception)
    # A 500 while storing credentials (after the SDK's retries).
    emu_thread.faults.append(Fault("status", status=500, route="PUT"))
    result = runner.invoke(
        app, ["--max-retries", "1", "credentials", "set", "carol", *cred_options]
    )
    emu_thread.faults.clear()
    assert result.exit_code == 6
    texts["credentials set on a 500: stderr"] = result.stderr
    texts["credentials set on a 500: stdout"] = result.stdout
    # The one deliberate exception: `api-keys create` prints the new key, once, on stdout.
    created = runner.invoke(app, ["api-keys", "create", "--label", "cli"])
    assert created.exit_code == 0
    new_key = created.stdout.strip()
    assert new_key.startswith("sb_live_")
    assert new_key in {value for _, value in minted_secrets()}
    secrets = [s for s in BOOK.current() if s.value != new_key]
    assert_no_leaks({"api-keys create: stderr": created.stderr}, BOOK.current())
    assert_no_leaks({"api-keys create: stdout": created.stdout}, secrets)
    _scan(figures, texts)
    _count(figures, "CLI invocations scanned", len(runs) + 2)
