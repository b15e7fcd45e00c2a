"""The one decision owner on the wire: ambiguous 5xx errors, one 5xx rule, whole errors."""

from __future__ import annotations

import pytest

from stablebrowse_async import (
    NOT_GIVEN,
    AmbiguousRequestError,
    AmbiguousServerError,
    APIStatusError,
    AsyncClient,
    InternalServerError,
    MethodNotAllowedError,
    RateLimitError,
    TaskRequest,
)
from stablebrowse_async.testing import Emulator, Fault

pytestmark = pytest.mark.anyio

POST_TASKS = "POST /v1/tasks"


def _count(emu: Emulator, method: str, prefix: str) -> int:
    return sum(1 for r in emu.requests if r.method == method and r.path.startswith(prefix))


@pytest.mark.parametrize("status", [500, 501, 502, 505])
async def test_an_ambiguous_5xx_is_also_an_internal_server_error(
    client: AsyncClient, emu: Emulator, status: int
) -> None:
    emu.faults.append(Fault("status", status=status, route=POST_TASKS, times=1))
    with pytest.raises(InternalServerError) as info:
        await client.tasks.submit(end_user_id="a", task="once")
    error = info.value
    assert isinstance(error, AmbiguousServerError)
    assert isinstance(error, AmbiguousRequestError)
    assert error.status_code == status
    assert isinstance(error.request, TaskRequest) and error.request.task == "once"
    assert error.method == "POST" and error.path == "/tasks"
    assert "may or may not have acted" in str(error)
    assert _count(emu, "POST", "/v1/tasks") == 1


async def test_an_ambiguous_lost_answer_is_not_a_server_error(
    client: AsyncClient, emu: Emulator
) -> None:
    emu.faults.append(Fault("reset_after", route=POST_TASKS, times=1))
    with pytest.raises(AmbiguousRequestError) as info:
        await client.tasks.submit(end_user_id="a", task="x")
    assert not isinstance(info.value, APIStatusError)
    assert info.value.status_code is None


@pytest.mark.parametrize("status", [501, 505])
async def test_get_retries_every_5xx(client: AsyncClient, emu: Emulator, status: int) -> None:
    emu.faults.append(Fault("status", status=status, route="GET /v1/tasks", times=1))
    assert await client.tasks.list() == []
    assert _count(emu, "GET", "/v1/tasks") == 2


async def test_a_poll_answered_501_keeps_waiting(client: AsyncClient, emu: Emulator) -> None:
    emu.faults.append(Fault("status", status=501, route="GET /v1/tasks/{taskId}", times=1))
    single = client.with_options(max_retries=0)  # the poller, not the transport, retries
    done = await single.tasks.run(end_user_id="a", task="x", poll_interval=0.05)
    assert done.is_terminal
    assert _count(emu, "GET", "/v1/tasks/") >= 2


async def test_errors_carry_their_fields_from_construction() -> None:
    limited = RateLimitError("x", status_code=429, retry_after=2.5, limit=10, used=10)
    assert (limited.retry_after, limited.limit, limited.used) == (2.5, 10, 10)
    refused = MethodNotAllowedError("x", status_code=405, allow=("GET", "PUT"))
    assert refused.allow == ("GET", "PUT")
    ambiguous = AmbiguousRequestError("x", status_code=201, body="{")
    assert (ambiguous.status_code, ambiguous.body) == (201, "{")


async def test_with_options_timeout_not_given_keeps_the_clients(client: AsyncClient) -> None:
    assert client.with_options().timeout == client.timeout
    assert client.with_options(timeout=NOT_GIVEN).timeout == client.timeout
    assert client.with_options(timeout=None).timeout is None
    assert not NOT_GIVEN and repr(NOT_GIVEN) == "NOT_GIVEN"


async def test_credentials_set_refuses_an_unknown_field_before_sending(
    client: AsyncClient, emu: Emulator
) -> None:
    credentials = client.end_users("alice").credentials
    with pytest.raises(TypeError, match=r"unknown field.*bogus"):
        await credentials.set(bogus="secret-value", twitter_ct0="c")  # type: ignore[call-arg]
    assert not any(r.method == "PUT" for r in emu.requests)


def test_wire_names_come_from_the_converter() -> None:
    request = TaskRequest(end_user_id="a", task="t", max_steps=3, include_html_dump=True)
    assert request.to_wire() == {
        "endUserId": "a",
        "task": "t",
        "maxSteps": 3,
        "include_html_dump": True,
    }


async def test_credentials_set_skips_none_values(client: AsyncClient) -> None:
    credentials = client.end_users("alice").credentials
    await credentials.set(reddit_session="cookie", twitter_auth_token=None)
    status = await credentials.get()
    assert status.is_configured("reddit") and not status.is_configured("twitter")
