"""What the SDK logs about each HTTP attempt: a DEBUG line as it is sent, an INFO line
with its outcome and duration, and the retry decision between attempts.

The transport's clock is replaced by one that moves 250 ms per reading, so the
logged durations are exact. Found by mutation testing (``make mutation``, `_http`):
these lines' values could change unseen.
"""

from __future__ import annotations

import datetime
import logging
import re
import types
from collections.abc import Iterator

import pytest

from stablebrowse_async import APIConnectionError, AsyncClient
from stablebrowse_async import _http as http_module
from stablebrowse_async.testing import Emulator, Fault

from .conftest import ScriptedServer

pytestmark = pytest.mark.anyio

STEP = 0.25


class _Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SDK's log messages of the test (filled as it runs), timed by a stepping clock."""
    readings = iter(range(1, 1000))
    clock = types.SimpleNamespace(perf_counter=lambda: 100.0 + STEP * next(readings))
    monkeypatch.setattr(http_module, "time", clock)
    caplog.set_level(logging.DEBUG, logger="stablebrowse_async")
    handler = _Messages()
    sdk = logging.getLogger("stablebrowse_async")
    sdk.addHandler(handler)
    try:
        yield handler.messages
    finally:
        sdk.removeHandler(handler)


async def test_each_attempt_is_logged_as_sent_and_as_answered(
    emu: Emulator, lines: list[str]
) -> None:
    emu.faults.append(Fault("status", status=503, route="GET /v1/tasks/{taskId}", times=1))
    async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=2) as client:
        task = await client.tasks.submit(end_user_id="alice", task="x")
        raw = await client.tasks.with_raw_response.get(task.task_id)
    posted, failed, answered = emu.requests
    retry = re.compile(
        r"retrying GET /v1/tasks/\{taskId\} in \d+\.\d\ds \(attempt 1 of 2\): InternalServerError"
    )
    assert len(lines) == 7 and retry.fullmatch(lines[4]), lines
    assert lines[:4] + lines[5:] == [
        f"POST /v1/tasks: sending (retry 0, {len(posted.body)}-byte body)",
        f"POST /v1/tasks -> 201 in 250.0 ms (retry 0, request id {posted.request_id})",
        "GET /v1/tasks/{taskId}: sending (retry 0, 0-byte body)",
        f"GET /v1/tasks/{{taskId}} -> 503 in 250.0 ms (retry 0, request id {failed.request_id})",
        "GET /v1/tasks/{taskId}: sending (retry 1, 0-byte body)",
        f"GET /v1/tasks/{{taskId}} -> 200 in 250.0 ms (retry 1, request id {answered.request_id})",
    ]
    assert len(posted.body) > 0
    # The raw response's elapsed is the same measure, in seconds.
    assert raw.elapsed == datetime.timedelta(seconds=STEP)


async def test_a_failed_attempt_is_logged_with_its_duration(lines: list[str]) -> None:
    async with AsyncClient("sb_live_key", base_url="http://127.0.0.1:1/v1", max_retries=0) as dead:
        with pytest.raises(APIConnectionError):
            await dead.tasks.get("some-id")
    assert lines == [
        "GET /v1/tasks/{taskId}: sending (retry 0, 0-byte body)",
        "GET /v1/tasks/{taskId} -> ClientConnectorError after 250.0 ms (retry 0)",
    ]


async def test_an_answer_without_a_request_id_says_none(
    scripted: tuple[ScriptedServer, str], lines: list[str]
) -> None:
    server, url = scripted
    server.body = b'{"sessions": []}'
    async with AsyncClient("sb_live_key", base_url=url) as client:
        assert await client.tasks.list() == []
    assert lines[-1] == "GET /v1/tasks -> 200 in 250.0 ms (retry 0, request id none)"
