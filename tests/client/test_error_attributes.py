"""Every error carries the attributes its docstring promises, as a caller meets them.

Found by mutation testing (``make mutation``): setting ``method``, ``path``,
``timeout`` or the failure detail to None went unnoticed by the suite.
"""

from __future__ import annotations

import pytest

from stablebrowse_async import (
    AmbiguousRequestError,
    AmbiguousServerError,
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TaskFailedError,
    TaskRequest,
    TaskStatus,
    TaskTimeoutError,
)
from stablebrowse_async.testing import Emulator, Fault

from .conftest import FAST_POLLS

pytestmark = pytest.mark.anyio


async def test_a_status_error_names_the_request(emu: Emulator, client: AsyncClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.tasks.get("no-such-task")
    assert (info.value.method, info.value.path) == ("GET", "/tasks/no-such-task")
    # The id the server gave this answer (the emulator sends x-amzn-RequestId, as API Gateway does).
    assert info.value.request_id == emu.requests[-1].request_id
    assert info.value.request_id


async def test_a_connection_error_names_the_request(emu: Emulator, client: AsyncClient) -> None:
    emu.faults.append(Fault("reset_before", route="GET /v1/tasks/{taskId}"))
    with pytest.raises(APIConnectionError) as info:
        await client.with_options(max_retries=0).tasks.get("some-task")
    assert (info.value.method, info.value.path) == ("GET", "/tasks/some-task")


async def test_an_unreadable_answer_names_the_request(emu: Emulator, client: AsyncClient) -> None:
    emu.faults.append(Fault("truncated", route="GET /v1/tasks/{taskId}"))
    with pytest.raises(APIResponseValidationError) as info:
        await client.with_options(max_retries=0).tasks.get("some-task")
    error = info.value
    assert (error.method, error.path, error.status_code) == ("GET", "/tasks/some-task", 200)
    assert isinstance(error.body, str) and error.body


async def test_a_failed_task_says_why(client: AsyncClient) -> None:
    with pytest.raises(TaskFailedError) as info:
        await client.tasks.run(end_user_id="alice", task="doomed [[fail]]")
    task = info.value.task
    assert task.error
    assert str(info.value) == f"task {task.task_id} failed: {task.error}"


async def test_a_cancelled_task_without_an_error_says_its_status(client: AsyncClient) -> None:
    with pytest.raises(TaskFailedError) as info:
        await client.tasks.run(end_user_id="alice", task="stop [[status=cancelled]]")
    task = info.value.task
    assert task.error is None
    assert str(info.value) == (f"task {task.task_id} cancelled: task ended with status 'cancelled'")


async def test_a_timeout_carries_the_poll_timeout(emu: Emulator) -> None:
    async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS) as client:
        with pytest.raises(TaskTimeoutError) as info:
            await client.tasks.run(
                end_user_id="alice", task="slow [[duration=60]]", poll_timeout=0.2
            )
    assert info.value.timeout == 0.2
    assert "after 0.2s" in str(info.value)


async def test_an_ambiguous_post_names_the_request(emu: Emulator, client: AsyncClient) -> None:
    emu.faults.append(Fault("reset_after", route="POST /v1/tasks", times=1))
    with pytest.raises(AmbiguousRequestError) as info:
        await client.tasks.submit(end_user_id="alice", task="answer lost")
    assert (info.value.method, info.value.path) == ("POST", "/tasks")
    assert info.value.request == TaskRequest(end_user_id="alice", task="answer lost")


def test_a_status_prints_as_its_wire_value() -> None:
    assert str(TaskStatus.COMPLETED) == "completed"
    assert f"{TaskStatus('paused-by-operator')}" == "paused-by-operator"


def test_errors_made_by_hand_default_to_their_own_status() -> None:
    """Code that raises these itself (a fake client in a user's tests) gets the right status."""
    assert MethodNotAllowedError("no").status_code == 405
    assert MethodNotAllowedError("no").allow == ()
    assert RateLimitError("slow").status_code == 429
    assert RateLimitError("slow").retry_after is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, MethodNotAllowedError),
        (409, APIStatusError),
        (429, RateLimitError),
        (503, InternalServerError),
    ],
)
async def test_every_status_error_carries_the_answer_and_the_request(
    emu: Emulator, status: int, kind: type[APIStatusError]
) -> None:
    """Each error class keeps what the server said (body, request id) and what was asked."""
    emu.faults.append(Fault("status", status=status, route="GET /v1/tasks"))
    async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=0) as client:
        with pytest.raises(kind) as info:
            await client.tasks.list()
    error = info.value
    assert type(error) is kind
    assert error.status_code == status
    assert error.body == {"error": f"Injected fault: HTTP {status}"}
    assert error.request_id == emu.requests[-1].request_id
    assert error.request_id
    assert (error.method, error.path) == ("GET", "/tasks")


async def test_a_post_answered_by_a_5xx_carries_the_answer(
    emu: Emulator, client: AsyncClient
) -> None:
    emu.faults.append(Fault("status", status=502, route="POST /v1/tasks", times=1))
    with pytest.raises(AmbiguousServerError) as info:
        await client.tasks.submit(end_user_id="alice", task="gateway hiccup")
    error = info.value
    assert error.status_code == 502
    assert error.body == {"error": "Injected fault: HTTP 502"}
    assert error.request_id == emu.requests[-1].request_id
    assert error.request_id
    assert (error.method, error.path) == ("POST", "/tasks")
