"""Status-to-error mapping, odd gateway bodies, and the retry rules, proven on the wire."""

from __future__ import annotations

import time

import pytest

from stablebrowse_async import (
    AmbiguousRequestError,
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StablebrowseError,
)
from stablebrowse_async.testing import Emulator, Fault

pytestmark = pytest.mark.anyio

GET_TASK = "GET /v1/tasks/{taskId}"
POST_TASKS = "POST /v1/tasks"


def _count(emu: Emulator, method: str, prefix: str) -> int:
    return sum(1 for r in emu.requests if r.method == method and r.path.startswith(prefix))


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, MethodNotAllowedError),
        (409, APIStatusError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (504, InternalServerError),
    ],
)
async def test_each_status_maps_to_its_class(
    emu: Emulator, status: int, cls: type[APIStatusError]
) -> None:
    emu.faults.append(Fault("status", status=status, route="GET /v1/tasks"))
    async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=0) as client:
        with pytest.raises(cls) as info:
            await client.tasks.list()
    assert type(info.value) is cls
    assert info.value.status_code == status
    assert isinstance(info.value, StablebrowseError)
    assert str(status) in str(info.value)


@pytest.mark.parametrize("kind", ["html", "message", "empty"])
async def test_gateway_bodies_still_map_to_the_right_class(emu: Emulator, kind: str) -> None:
    emu.faults.append(Fault(kind, status=502, route="GET /v1/tasks"))
    async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=0) as client:
        with pytest.raises(InternalServerError) as info:
            await client.tasks.list()
    assert info.value.status_code == 502
    assert info.value.message


async def test_message_body_text_is_used(emu: Emulator) -> None:
    emu.faults.append(Fault("message", status=403, route="GET /v1/tasks"))
    async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=0) as client:
        with pytest.raises(PermissionDeniedError) as info:
            await client.tasks.list()
    assert isinstance(info.value.body, dict) and "message" in info.value.body


async def test_quota_is_a_rate_limit_error_with_limit_and_used() -> None:
    async with Emulator(monthly_quota=2) as emu:
        async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=0) as client:
            await client.tasks.submit(end_user_id="a", task="1")
            await client.tasks.submit(end_user_id="a", task="2")
            with pytest.raises(RateLimitError) as info:
                await client.tasks.submit(end_user_id="a", task="3")
        assert info.value.limit == 2
        assert info.value.used == 2
        assert emu.tasks_created() == 2


async def test_405_carries_allow(emu: Emulator) -> None:
    emu.faults.append(Fault("status", status=405, route="GET /v1/tasks"))
    async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=0) as client:
        with pytest.raises(MethodNotAllowedError):
            await client.tasks.list()


async def test_get_is_retried_through_transient_5xx(client: AsyncClient, emu: Emulator) -> None:
    task = await client.tasks.submit(end_user_id="a", task="x")
    emu.faults.append(Fault("status", status=503, route=GET_TASK, times=2))
    fetched = await client.tasks.get(task.task_id)
    assert fetched.task_id == task.task_id
    assert _count(emu, "GET", "/v1/tasks/") == 3


async def test_get_gives_up_after_max_retries(emu: Emulator) -> None:
    emu.faults.append(Fault("status", status=500, route="GET /v1/tasks"))
    async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=1) as client:
        with pytest.raises(InternalServerError):
            await client.tasks.list()
    assert _count(emu, "GET", "/v1/tasks") == 2


async def test_get_is_retried_after_a_connection_reset(client: AsyncClient, emu: Emulator) -> None:
    emu.faults.append(Fault("reset_before", route="GET /v1/tasks", times=1))
    assert await client.tasks.list() == []


async def test_truncated_json_on_get_is_retried_then_reported(emu: Emulator) -> None:
    emu.faults.append(Fault("truncated", route="GET /v1/tasks"))
    async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=1) as client:
        with pytest.raises(APIResponseValidationError):
            await client.tasks.list()
    assert _count(emu, "GET", "/v1/tasks") == 2


async def test_post_is_not_retried_after_ambiguous_500(client: AsyncClient, emu: Emulator) -> None:
    emu.faults.append(Fault("status", status=500, route=POST_TASKS))
    with pytest.raises(AmbiguousRequestError) as info:
        await client.tasks.submit(end_user_id="a", task="x")
    assert _count(emu, "POST", "/v1/tasks") == 1
    assert info.value.status_code == 500
    assert isinstance(info.value.__cause__, InternalServerError)
    assert "may or may not have acted" in str(info.value)
    assert info.value.request is not None


async def test_post_dropped_after_the_server_acted_is_ambiguous(
    client: AsyncClient, emu: Emulator
) -> None:
    emu.faults.append(Fault("reset_after", route=POST_TASKS, times=1))
    with pytest.raises(AmbiguousRequestError) as info:
        await client.tasks.submit(end_user_id="a", task="precious")
    assert "may or may not" in str(info.value)
    assert info.value.request.task == "precious"
    assert isinstance(info.value, APIConnectionError)
    assert emu.tasks_created() == 1
    assert _count(emu, "POST", "/v1/tasks") == 1


async def test_post_with_truncated_success_body_is_ambiguous(
    client: AsyncClient, emu: Emulator
) -> None:
    emu.faults.append(Fault("truncated", route=POST_TASKS, times=1))
    with pytest.raises(AmbiguousRequestError, match="accepted"):
        await client.tasks.submit(end_user_id="a", task="x")
    assert emu.tasks_created() == 1


async def test_post_is_retried_on_429_and_honours_retry_after(
    client: AsyncClient, emu: Emulator
) -> None:
    emu.faults.append(Fault("rate_limit", route=POST_TASKS, retry_after=1, times=1))
    started = time.monotonic()
    task = await client.tasks.submit(end_user_id="a", task="x")
    assert time.monotonic() - started >= 0.95
    assert task.task_id
    assert emu.tasks_created() == 1
    assert _count(emu, "POST", "/v1/tasks") == 2


async def test_post_to_a_closed_port_is_retried_then_a_connection_error() -> None:
    async with Emulator() as emu:
        url = emu.url
    async with AsyncClient("sb_live_whatever_key_1234", base_url=url, max_retries=1) as client:
        client_policy = client._transport.options.retry
        assert client_policy.max_retries == 1
        with pytest.raises(APIConnectionError) as info:
            await client.tasks.submit(end_user_id="a", task="x")
    assert not isinstance(info.value, AmbiguousRequestError)
    assert str(info.value).startswith("POST /tasks: ClientConnectorError: Cannot connect to ")
    assert (info.value.method, info.value.path) == ("POST", "/tasks")


async def test_timeout_is_an_api_timeout_error(emu: Emulator) -> None:
    emu.faults.append(Fault("delay", delay=1.0, route="GET /v1/tasks"))
    async with AsyncClient(emu.api_key, base_url=emu.url, timeout=0.2, max_retries=0) as client:
        with pytest.raises(APITimeoutError):
            await client.tasks.list()


async def test_post_timeout_is_ambiguous(emu: Emulator) -> None:
    emu.faults.append(Fault("delay", delay=1.0, route=POST_TASKS))
    async with AsyncClient(emu.api_key, base_url=emu.url, timeout=0.2) as client:
        with pytest.raises(AmbiguousRequestError) as info:
            await client.tasks.submit(end_user_id="a", task="x")
    assert str(info.value) == (
        "POST /tasks timed out after the request was sent: the server may or may not have "
        "acted on it, so it was not retried (a retry could create a duplicate)"
    )
    assert _count(emu, "POST", "/v1/tasks") == 1


async def test_with_options_overrides_retries_per_call(client: AsyncClient, emu: Emulator) -> None:
    emu.faults.append(Fault("status", status=503, route="GET /v1/tasks", times=1))
    with pytest.raises(InternalServerError):
        await client.with_options(max_retries=0).tasks.list()
    assert await client.tasks.list() == []
    assert client.max_retries == 2


async def test_a_429_slows_every_request_of_the_client(emu: Emulator) -> None:
    emu.faults.append(Fault("rate_limit", route="GET /v1/tasks", retry_after=1, times=1))
    async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=0) as client:
        with pytest.raises(RateLimitError) as info:
            await client.tasks.list()
        assert info.value.retry_after == 1
        started = time.monotonic()
        with pytest.raises(NotFoundError):
            await client.tasks.get("unknown")
        assert time.monotonic() - started >= 0.9


async def test_response_size_is_capped(emu: Emulator) -> None:
    async with AsyncClient(emu.api_key, base_url=emu.url, max_response_bytes=10) as client:
        with pytest.raises(APIResponseValidationError, match="max_response_bytes"):
            await client.tasks.list()
