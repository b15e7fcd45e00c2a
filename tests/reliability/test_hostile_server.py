"""A hostile or broken server: whatever it answers, only `StablebrowseError` escapes.

Hypothesis scripts a loopback server (status, content type, headers, body
bytes, delivery) and every public client method category runs against each
answer: get, list, create, update, delete, wait/run/run_many. Targeted tests
then pin the cases one by one: huge bodies (the cap holds and says so),
slowloris servers (the timeout fires), non-UTF-8 and deeply nested JSON,
unknown statuses, missing fields, and redirects to other origins (the
Authorization header and credential bodies stay home).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import given
from hypothesis import strategies as st

from stablebrowse_async import (
    AmbiguousRequestError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    NotFoundError,
    PollSchedule,
    StablebrowseError,
    TaskStatus,
    TaskTimeoutError,
)
from tests._gates import CountingGate
from tests.conftest import RELIABILITY_SIZES
from tests.reliability._hostile import Answer, HostileServer, SlowHeadServer
from tests.reliability._secrets import (
    BOOK,
    CANARY_API_KEY,
    CANARY_CREDENTIALS,
    CANARY_DASHBOARD_TOKEN,
    assert_no_leaks,
)
from tests.reliability.conftest import FigureBook, reproducible

FAST_POLLS = PollSchedule(first=0.005, factor=1.5, max_interval=0.01, jitter=0.1)
CAP = 64 * 1024
# Hypothesis examples per run size, for the request methods and the polling methods.
EXAMPLES = {"quick": (60, 15), "full": (500, 120)}
assert set(EXAMPLES) == set(RELIABILITY_SIZES)

# -- what a hostile server may answer ------------------------------------------------------

_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_known_keys = st.sampled_from(
    [
        "taskId",
        "status",
        "sessionId",
        "sessions",
        "tasks",
        "keys",
        "key",
        "prefix",
        "platforms",
        "endUserId",
        "createdAt",
        "error",
        "message",
        "limit",
        "used",
    ]
)
_near_miss = st.dictionaries(_known_keys, _json_values | st.sampled_from(["completed", "x"]))
_task_like = st.fixed_dictionaries(
    {"taskId": st.text(min_size=1, max_size=8), "status": st.text(max_size=12) | _scalars},
    optional={"createdAt": st.text(max_size=30), "stepSummaries": _json_values},
)
_bodies = st.one_of(
    _json_values.map(lambda v: json.dumps(v).encode()),
    _near_miss.map(lambda v: json.dumps(v).encode()),
    _task_like.map(lambda v: json.dumps(v).encode()),
    _task_like.map(lambda v: json.dumps(v).encode("utf-16")),
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"",
            b"   ",
            b"null",
            b"<html><body>502 Bad Gateway</body></html>",
            b'{"taskId": "t", "status": "running"',
            b"[" * 5000 + b"]" * 5000,
            b'{"a":' * 3000 + b"1" + b"}" * 3000,
            b'{"taskId": "t\xff\xfe", "status": "completed"}',
            '{"error": "caf\u00e9"}'.encode("latin-1"),
            b'{"taskId": "t", "status": "completed", "totalSteps": 1e999}',
            b'{"taskId": "t", "status": "completed", "createdAt": "yesterday"}',
            b'{"sessions": [{"sessionId": 1}], "keys": "no", "platforms": []}',
            b"\x1f\x8b\x08\x00garbage",
            b"x" * (CAP + 1),
        ]
    ),
)
_statuses = st.one_of(
    st.sampled_from(
        [
            *(200, 201, 202, 203, 204, 206, 300, 301, 302, 303, 304, 307, 308, 400, 401),
            *(403, 404, 405, 408, 409, 410, 413, 418, 422, 429, 451, 500, 501, 502, 503),
            *(504, 599),
        ]
    ),
    st.integers(200, 599),
)
_content_types = st.one_of(
    st.sampled_from(
        [
            None,
            "application/json",
            "application/json; charset=latin-1",
            "application/json; charset=utf-16",
            "text/html",
            "text/plain; charset=utf-8",
            "application/octet-stream",
            "application/problem+json",
            "multipart/form-data; boundary=x",
            "",
            ";;;",
        ]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
)
_ascii = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
# Redirect targets stay on loopback: port 1 refuses, others are not http at all.
_locations = st.sampled_from(
    [
        "/v1/tasks/elsewhere",
        "/",
        "http://127.0.0.1:1/v1/tasks",
        "//127.0.0.1:1/x",
        "ftp://127.0.0.1/x",
        "javascript:alert(1)",
        "http://[::1",
        "",
    ]
)
_header_values = {
    "Retry-After": st.sampled_from(["0", "1", "-5", "soon", "1e9", "Wed, 21 Oct 2015 07:28:00 GMT"])
    | _ascii,
    "X-Request-Id": _ascii,
    "Content-Encoding": st.sampled_from(["gzip", "deflate", "br", "zstd", "identity", "bogus"]),
    "Allow": _ascii,
    "Location": _locations,
    "Set-Cookie": _ascii,
    "WWW-Authenticate": _ascii,
    "Cache-Control": _ascii,
}
_headers = st.lists(
    st.sampled_from(sorted(_header_values)).flatmap(
        lambda name: _header_values[name].map(lambda value: (name, value))
    ),
    max_size=4,
    unique_by=lambda pair: pair[0],
).map(tuple)
_answers = st.builds(
    Answer,
    status=_statuses,
    body=_bodies,
    content_type=_content_types,
    headers=_headers,
    mode=st.sampled_from(["plain", "plain", "plain", "chunked"]),
)

# -- the client side ---------------------------------------------------------------------


def _clients(url: str, gate: CountingGate) -> tuple[AsyncClient, AsyncClient]:
    """An API-key client and a dashboard client; their 429s are counted by `gate`, which
    holds nothing back (else each example answered 429 stalls the next ones)."""
    common: dict[str, Any] = {
        "base_url": url,
        "rate_gate": gate,
        "max_retries": 0,
        "timeout": 5,
        "poll_interval": FAST_POLLS,
        "poll_timeout": 0.03,
        "max_response_bytes": CAP,
    }
    return AsyncClient(CANARY_API_KEY, **common), AsyncClient(CANARY_DASHBOARD_TOKEN, **common)


def request_calls(
    client: AsyncClient, dashboard: AsyncClient
) -> dict[str, Callable[[], Awaitable[Any]]]:
    """One call per public request method, grouped by category in the name."""
    creds = client.end_users("alice").credentials
    return {
        "get tasks.get": lambda: client.tasks.get("t1"),
        "get sessions.get": lambda: client.sessions.get("s1"),
        "get credentials.get": lambda: creds.get(),
        "list tasks.list": lambda: client.tasks.list(limit=5),
        "list api_keys.list": lambda: dashboard.api_keys.list(),
        "create tasks.submit": lambda: client.tasks.submit(end_user_id="alice", task="x"),
        "create api_keys.create": lambda: dashboard.api_keys.create(label="l"),
        "create design.submit": lambda: client.design.submit(
            url="https://example.test", end_user_id="alice"
        ),
        "update credentials.set": lambda: creds.set(**CANARY_CREDENTIALS),
        "delete credentials.delete": lambda: creds.delete(),
        "delete api_keys.revoke": lambda: dashboard.api_keys.revoke("sb_live_abcdefgh"),
    }


async def _run_many(client: AsyncClient) -> list[Any]:
    requests = [{"end_user_id": "alice", "task": "a"}, {"end_user_id": "bob", "task": "b"}]
    outcomes = []
    async for outcome in client.tasks.run_many(requests, concurrency=2, poll_timeout=0.03):
        outcomes.append(outcome.error if outcome.error is not None else outcome.task)
    return outcomes


def polling_calls(client: AsyncClient) -> dict[str, Callable[[], Awaitable[Any]]]:
    return {
        "wait tasks.wait": lambda: client.tasks.wait("t1", poll_timeout=0.03),
        "run tasks.run": lambda: client.tasks.run(end_user_id="alice", task="x"),
        "run design.run": lambda: client.design.run(url="https://x.test", end_user_id="a"),
        "run tasks.run_many": lambda: _run_many(client),
    }


def _texts_of(outcome: object, name: str) -> dict[str, str]:
    """What a user could print of an outcome: str, repr, and the formatted traceback."""
    texts = {f"str({name})": str(outcome), f"repr({name})": repr(outcome)}
    if isinstance(outcome, BaseException):
        texts[f"traceback({name})"] = "".join(traceback.format_exception(outcome))
    return texts


async def call_all(calls: dict[str, Callable[[], Awaitable[Any]]]) -> dict[str, Any]:
    """Run every call; an SDK error is an outcome, anything else propagates (and fails)."""
    outcomes: dict[str, Any] = {}
    for name, call in calls.items():
        try:
            with anyio.fail_after(30):  # a hang guard, not a timing assertion
                outcomes[name] = await call()
        except StablebrowseError as error:
            outcomes[name] = error
    return outcomes


def _check_outcomes(outcomes: dict[str, Any], tally: Counter[str]) -> None:
    texts: dict[str, str] = {}
    for name, outcome in outcomes.items():
        if isinstance(outcome, list):  # run_many: one outcome per request
            for i, item in enumerate(outcome):
                assert not isinstance(item, BaseException) or isinstance(item, StablebrowseError)
                tally[type(item).__name__] += 1
                texts.update(_texts_of(item, f"{name}[{i}]"))
            continue
        tally[type(outcome).__name__] += 1
        texts.update(_texts_of(outcome, name))
    assert_no_leaks(texts, BOOK.current())


def _hypothesis_run(
    portal: BlockingPortal,
    server: HostileServer,
    examples: int,
    make_calls: Callable[[], dict[str, Callable[[], Awaitable[Any]]]],
    tally: Counter[str],
) -> int:
    ran = 0

    @reproducible(examples)
    @given(answer=_answers)
    def check(answer: Answer) -> None:
        nonlocal ran
        ran += 1
        server.answer = answer
        outcomes = portal.call(call_all, make_calls())
        _check_outcomes(outcomes, tally)

    check()
    return ran


def _record(
    figures: FigureBook, section: str, ran: int, calls: int, holds: int, tally: Counter[str]
) -> None:
    figures.record(section, "hypothesis examples", ran)
    figures.record(section, "client calls", ran * calls)
    figures.record(section, "429 holds asked (counted, not waited for)", holds)
    figures.record(section, "outcomes", ", ".join(f"{name} {n}" for name, n in tally.most_common()))


def _against_a_hostile_server(
    examples: int,
    pick_calls: Callable[[AsyncClient, AsyncClient], dict[str, Callable[[], Awaitable[Any]]]],
    tally: Counter[str],
) -> tuple[int, int, HostileServer, int]:
    """Run `examples` generated answers against the calls `pick_calls` makes of an API-key
    client and a dashboard client; returns (examples run, calls per example, the server,
    the 429 holds the clients asked for)."""
    gate = CountingGate()
    with start_blocking_portal("asyncio") as portal:
        server = portal.call(HostileServer().start)
        client, dashboard = _clients(server.url, gate)
        try:
            ran = _hypothesis_run(
                portal, server, examples, lambda: pick_calls(client, dashboard), tally
            )
        finally:
            portal.call(client.aclose)
            portal.call(dashboard.aclose)
            portal.call(server.close)
    return ran, len(pick_calls(client, dashboard)), server, gate.closed


def test_any_answer_to_any_request_raises_only_sdk_errors(
    reliability_size: str, figures: FigureBook
) -> None:
    examples = EXAMPLES[reliability_size][0]
    tally: Counter[str] = Counter()
    ran, calls, server, holds = _against_a_hostile_server(examples, request_calls, tally)
    _record(figures, "hostile server: request methods", ran, calls, holds, tally)
    figures.record("hostile server: request methods", "requests received", len(server.requests))
    assert ran == examples


def test_any_answer_while_polling_raises_only_sdk_errors(
    reliability_size: str, figures: FigureBook
) -> None:
    examples = EXAMPLES[reliability_size][1]
    tally: Counter[str] = Counter()
    ran, calls, _, holds = _against_a_hostile_server(
        examples, lambda client, _dashboard: polling_calls(client), tally
    )
    _record(figures, "hostile server: wait/run/run_many", ran, calls, holds, tally)
    assert ran == examples


def test_the_sync_client_raises_only_sdk_errors_too(figures: FigureBook) -> None:
    from stablebrowse_async.sync import Client

    answers = [
        Answer(200, b"\xff\xfe not json"),
        Answer(200, b'{"taskId": 5}'),
        Answer(502, b"<html>bad gateway</html>", "text/html"),
        Answer(200, b"[" * 5000),
        Answer(200, b"x" * (CAP + 1), mode="chunked"),
    ]
    tried = raised = 0
    with start_blocking_portal("asyncio") as portal:
        server = portal.call(HostileServer().start)
        try:
            with Client(
                CANARY_API_KEY, base_url=server.url, max_retries=0, max_response_bytes=CAP
            ) as client:
                for answer in answers:
                    server.answer = answer
                    for call in (
                        lambda: client.tasks.get("t"),
                        lambda: client.tasks.list(),
                        lambda: client.tasks.submit(end_user_id="a", task="x"),
                        lambda: client.end_users("a").credentials.set(**CANARY_CREDENTIALS),
                    ):
                        tried += 1
                        outcome: object
                        try:
                            outcome = call()  # None from the PUT when the body is JSON
                        except StablebrowseError as error:
                            outcome = error
                            raised += 1
                        assert_no_leaks(_texts_of(outcome, "outcome"), BOOK.current())
        finally:
            portal.call(server.close)
    figures.record("hostile server: sync client", "calls", tried)
    figures.record("hostile server: sync client", "raised SDK errors", raised)
    assert raised >= tried - len(answers)  # only a PUT may succeed on a JSON body


# -- targeted cases --------------------------------------------------------------------------


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    async with HostileServer() as server:
        yield server


def _client(url: str, **options: Any) -> AsyncClient:
    settings: dict[str, Any] = {"base_url": url, "max_retries": 0, "timeout": 5, **options}
    return AsyncClient(CANARY_API_KEY, **settings)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["plain", "chunked", "endless"])
async def test_huge_bodies_are_refused_at_the_cap(
    hostile: HostileServer, mode: str, figures: FigureBook
) -> None:
    """Announced (Content-Length), chunked, and endless bodies: the cap holds and says so."""
    chunk = b'{"sessions": [], "pad": "' + b"a" * (256 * 1024)
    hostile.answer = Answer(200, chunk if mode != "plain" else chunk * 8, mode=mode)  # type: ignore[arg-type]
    async with _client(hostile.url, max_response_bytes=CAP) as client:
        with anyio.fail_after(30), pytest.raises(APIResponseValidationError) as info:
            await client.tasks.list()
        assert "max_response_bytes" in str(info.value)
        assert str(CAP) in str(info.value)
        if mode == "endless":
            # The client hung up instead of reading forever: the server saw it go.
            with anyio.fail_after(30):
                await hostile.client_gone.wait()
            figures.record(
                "hostile server: huge bodies", "endless stream bytes written", hostile.bytes_written
            )
            # Socket buffers absorb some megabytes; an unbounded read would absorb everything.
            assert hostile.bytes_written < 256 * 1024 * 1024


@pytest.mark.anyio
async def test_a_gzip_bomb_is_refused_at_the_cap(hostile: HostileServer) -> None:
    inflated = json.dumps({"sessions": [], "pad": "a" * (4 * 1024 * 1024)}).encode()
    bomb = gzip.compress(inflated)
    assert len(bomb) < CAP < len(inflated)
    hostile.answer = Answer(200, bomb, headers=(("Content-Encoding", "gzip"),))
    async with _client(hostile.url, max_response_bytes=CAP) as client:
        with pytest.raises(APIResponseValidationError, match="max_response_bytes"):
            await client.tasks.list()


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_slowloris_body_trips_the_timeout(hostile: HostileServer, method: str) -> None:
    """Headers arrive, then one byte every 50 ms: the attempt's total timeout fires."""
    hostile.answer = Answer(200, b'{"sessions": []}', mode="dribble", interval=0.05)
    async with _client(hostile.url, timeout=0.5) as client:
        with anyio.fail_after(30):
            if method == "GET":
                with pytest.raises(APITimeoutError, match="timed out"):
                    await client.tasks.list()
            else:
                # A POST that timed out after it was sent is ambiguous (never retried).
                with pytest.raises(AmbiguousRequestError, match="timed out") as info:
                    await client.tasks.submit(end_user_id="a", task="x")
                assert isinstance(info.value.__cause__, asyncio.TimeoutError)
        with anyio.fail_after(30):
            await hostile.client_gone.wait()
    assert 0 < hostile.bytes_written < hostile.answer.announced


@pytest.mark.anyio
async def test_a_server_that_never_answers_trips_the_timeout(hostile: HostileServer) -> None:
    hostile.answer = Answer(mode="stall")
    async with _client(hostile.url, timeout=0.3, max_retries=1) as client:
        with anyio.fail_after(30), pytest.raises(APITimeoutError):
            await client.tasks.get("t1")
    assert len(hostile.requests) == 2  # the GET was retried once, then gave up


@pytest.mark.anyio
async def test_dribbled_status_line_and_headers_trip_the_timeout() -> None:
    async with SlowHeadServer(interval=0.05) as server:
        async with _client(server.url, timeout=0.5) as client:
            with anyio.fail_after(30), pytest.raises(APITimeoutError):
                await client.tasks.get("t1")
        assert 0 < server.bytes_written < len(SlowHeadServer.HEAD)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps({"taskId": "t", "status": "completed"}).encode("utf-16")),
        ("application/json; charset=latin-1", b'{"taskId": "caf\xe9", "status": "completed"}'),
        ("text/html", b"<html>\xff\xfe\xfd</html>"),
        ("application/json", b'{"taskId": "t", "status": "completed"}\xff'),
    ],
    ids=["utf-16", "latin-1", "binary-html", "trailing-garbage"],
)
async def test_non_utf8_answers_fail_as_invalid_responses(
    hostile: HostileServer, content_type: str, body: bytes
) -> None:
    hostile.answer = Answer(200, body, content_type)
    async with _client(hostile.url) as client:
        with pytest.raises(APIResponseValidationError, match="not valid JSON"):
            await client.tasks.get("t")


@pytest.mark.anyio
async def test_non_utf8_error_bodies_keep_their_status_class(hostile: HostileServer) -> None:
    hostile.answer = Answer(404, b"\xff\xfe{not found}", "text/plain")
    async with _client(hostile.url) as client:
        with pytest.raises(NotFoundError) as info:
            await client.tasks.get("t")
    assert info.value.status_code == 404
    assert isinstance(info.value.body, str)  # the bytes, decoded with replacement


@pytest.mark.anyio
@pytest.mark.parametrize("depth", [100, 900, 5000, 100_000])
async def test_deeply_nested_json_never_escapes_as_recursion_error(
    hostile: HostileServer, depth: int
) -> None:
    nested = "[" * depth + "]" * depth
    body = f'{{"taskId": "t", "status": "completed", "result": {nested}}}'.encode()
    hostile.answer = Answer(200, body)
    async with _client(hostile.url) as client:
        try:
            task = await client.tasks.get("t")
        except APIResponseValidationError:
            assert depth > 900  # refused only past the JSON parser's depth limit
        else:
            assert task.status is TaskStatus.COMPLETED
            repr(task)  # printing it must not blow the stack either


@pytest.mark.anyio
async def test_the_raw_record_of_a_deeply_nested_result_can_be_read(
    hostile: HostileServer,
) -> None:
    nested = "[" * 900 + "]" * 900
    body = f'{{"taskId": "t", "status": "completed", "result": {nested}}}'.encode()
    hostile.answer = Answer(200, body)
    async with _client(hostile.url) as client:
        task = await client.tasks.get("t")
    assert task.raw["result"] == task.result


@pytest.mark.anyio
async def test_an_unknown_status_is_kept_and_is_not_terminal(hostile: HostileServer) -> None:
    hostile.answer = Answer(200, b'{"taskId": "t", "status": "paused-by-gremlins"}')
    async with _client(hostile.url, poll_interval=FAST_POLLS) as client:
        task = await client.tasks.get("t")
        assert task.status.value == "paused-by-gremlins"
        assert not task.is_terminal
        with anyio.fail_after(30), pytest.raises(TaskTimeoutError) as info:
            await client.tasks.wait("t", poll_timeout=0.05)
    assert info.value.task.status.value == "paused-by-gremlins"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [None, 3, ["completed"], {"v": 1}, True])
async def test_a_status_of_the_wrong_type_is_an_invalid_response(
    hostile: HostileServer, status: object
) -> None:
    hostile.answer = Answer(200, json.dumps({"taskId": "t", "status": status}).encode())
    async with _client(hostile.url) as client:
        with pytest.raises(APIResponseValidationError):
            await client.tasks.get("t")


@pytest.mark.anyio
async def test_missing_required_fields(hostile: HostileServer) -> None:
    """Reads fail as invalid responses; a POST that was accepted is ambiguous, not invalid."""
    hostile.answer = Answer(200, b'{"status": "running"}')
    async with _client(hostile.url) as client:
        with pytest.raises(APIResponseValidationError, match=r"taskId|task_id"):
            await client.tasks.get("t")
        hostile.answer = Answer(201, b'{"status": "pending"}')
        with pytest.raises(AmbiguousRequestError) as info:
            await client.tasks.submit(end_user_id="alice", task="x")
        assert info.value.request is not None  # the caller can reconcile
        hostile.answer = Answer(200, b'{"keys": [{"label": "no prefix"}]}')
        async with AsyncClient(
            CANARY_DASHBOARD_TOKEN, base_url=hostile.url, max_retries=0
        ) as dashboard:
            with pytest.raises(APIResponseValidationError):
                await dashboard.api_keys.list()


# -- redirects to other origins ------------------------------------------------------------


async def _other_origin(kind: str) -> HostileServer:
    host = {"other-ip": "127.0.0.2", "ipv6": "::1", "other-port": "127.0.0.1"}[kind]
    return await HostileServer(host, Answer(200, b'{"sessions": [], "ok": true}')).start()


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["other-ip", "ipv6", "other-port"])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_an_error_and_nothing_reaches_another_origin(
    hostile: HostileServer, kind: str, status: int, figures: FigureBook
) -> None:
    """Redirected to 127.0.0.2, to [::1], or to another port: not followed, nothing arrives there."""
    target = await _other_origin(kind)
    try:
        hostile.answer = Answer(
            status, b"", None, headers=(("Location", target.origin + "/v1/tasks?token=abc"),)
        )
        async with _client(hostile.url) as client:
            with pytest.raises(APIStatusError) as info:
                await client.tasks.list()
    finally:
        await target.close()
    assert info.value.status_code == status
    assert "not followed" in str(info.value) and target.origin in str(info.value)
    assert "token=abc" not in str(info.value)  # only the origin is named
    assert target.requests == []
    assert len(hostile.requests) == 1  # and a GET 3xx is not retried either
    assert hostile.requests[0].headers["Authorization"] == f"Bearer {CANARY_API_KEY}"
    section = "hostile server: cross-origin redirects"
    count = figures.sections[section].get("redirects refused", 0)
    figures.record(section, "redirects refused", int(count) + 1)  # type: ignore[call-overload]
    figures.record(section, "requests that reached the other origin", 0)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [307, 308])
async def test_credential_bodies_never_reach_another_origin(
    hostile: HostileServer, status: int
) -> None:
    target = await _other_origin("other-ip")
    try:
        hostile.answer = Answer(status, b"", None, headers=(("Location", target.origin + "/v1/x"),))
        async with _client(hostile.url) as client:
            # Refusing the redirect is fine; forwarding the body is not.
            with contextlib.suppress(StablebrowseError):
                await client.end_users("alice").credentials.set(**CANARY_CREDENTIALS)
    finally:
        await target.close()
    assert hostile.requests[0].body  # the first server got the credentials, as asked
    leaked = [r for r in target.requests if b"CANARY" in r.body]
    assert not leaked, f"{len(leaked)} credential bodies reached {target.origin}"


@pytest.mark.anyio
async def test_a_redirect_loop_ends_at_its_first_hop(hostile: HostileServer) -> None:
    hostile.answer = Answer(302, b"", None, headers=(("Location", "/v1/tasks/t"),))
    async with _client(hostile.url) as client:
        with pytest.raises(APIStatusError, match="a path on the same host"):
            await client.tasks.get("t")
    assert len(hostile.requests) == 1
