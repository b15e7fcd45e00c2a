"""Whatever a server or gateway answers, the client raises only StablebrowseError subclasses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stablebrowse_async import AsyncClient, StablebrowseError
from tests._gates import CountingGate

from .conftest import ScriptedServer

pytestmark = pytest.mark.anyio

_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)
_known_keys = st.sampled_from(
    [
        "taskId",
        "status",
        "sessionId",
        "sessions",
        "tasks",
        "keys",
        "platforms",
        "endUserId",
        "prefix",
        "key",
    ]
)
# Objects that look almost right are the interesting ones: known keys, wrong values.
_near_miss = st.dictionaries(_known_keys, _json, max_size=6)
_bodies = st.one_of(
    _json.map(lambda v: json.dumps(v).encode()),
    _near_miss.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.just(b"<html><body>502 Bad Gateway</body></html>"),
    st.just(b"[" * 5000 + b"]" * 5000),
    st.just(b'{"taskId": "t", "status": "running"'),
)


async def _every_call(client: AsyncClient) -> list[Any]:
    results: list[Any] = []
    calls = [
        lambda: client.tasks.get("t1"),
        lambda: client.tasks.list(),
        lambda: client.tasks.submit(end_user_id="a", task="x"),
        lambda: client.sessions.get("s1"),
        lambda: client.end_users("a").credentials.get(),
        lambda: client.api_keys.list(),
        lambda: client.api_keys.create(label="l"),
        lambda: client.design.submit(url="https://x.test", end_user_id="a"),
    ]
    for call in calls:
        try:
            results.append(await call())
        except StablebrowseError as error:
            results.append(error)
    return results


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    status=st.sampled_from([200, 201, 202, 400, 401, 403, 404, 405, 409, 429, 500, 502, 503]),
    body=_bodies,
    content_type=st.sampled_from(["application/json", "text/html", "text/plain"]),
)
async def test_arbitrary_answers_only_raise_sdk_errors(
    scripted: tuple[ScriptedServer, str], status: int, body: bytes, content_type: str
) -> None:
    server, url = scripted
    server.status, server.body, server.content_type = status, body, content_type
    gate = CountingGate()
    async with AsyncClient(
        "sb_live_hostile_test_key", base_url=url, max_retries=0, timeout=5, rate_gate=gate
    ) as client:
        results = await _every_call(client)
    assert len(results) == 8
    assert gate.closed == (8 if status == 429 else 0)
