"""What an error says about the answer that caused it, and the response-size limit.

Found by mutation testing (``make mutation``, `_http`): the message taken from
an error body, the kind of body named when there is none, the redirect range,
the body snippet, the validation errors' wording, the ambiguous POST's cause,
and the size limit on streamed or compressed answers could all change unseen.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stablebrowse_async import (
    AmbiguousRequestError,
    AmbiguousServerError,
    APIResponseValidationError,
    APIStatusError,
    AsyncClient,
    BadRequestError,
    InternalServerError,
    MethodNotAllowedError,
    RateLimitError,
)
from stablebrowse_async.testing import Emulator, Fault

from .conftest import ScriptedServer

pytestmark = pytest.mark.anyio

Scripted = tuple[ScriptedServer, str]
KEY = "sb_live_scripted_test_key"


async def failure_of(url: str, call: str = "get", **options: Any) -> Any:
    """The error one call raises against the scripted server (no retries unless `options` say)."""
    async with AsyncClient(KEY, base_url=url, **{"max_retries": 0, **options}) as client:
        try:
            if call == "get":
                await client.tasks.get("t1")
            elif call == "list":
                await client.tasks.list()
            elif call == "create_key":
                await client.api_keys.create(label="ci")
            else:
                await client.tasks.submit(end_user_id="u", task="x")
        except Exception as error:
            return error
    raise AssertionError("the call did not fail")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error": "  quota gone  "}, "quota gone"),
        ({"message": "slow down"}, "slow down"),
        ({"detail": "no such thing"}, "no such thing"),
        ({"error": " ", "message": 5, "detail": "the third"}, "the third"),
        ({"error": "x" * 400}, "x" * 300),
    ],
)
async def test_a_status_error_quotes_the_first_message_of_the_body(
    scripted: Scripted, body: dict[str, Any], message: str
) -> None:
    server, url = scripted
    server.status, server.body = 400, json.dumps(body).encode()
    error = await failure_of(url)
    assert isinstance(error, BadRequestError)
    assert str(error) == f"GET /tasks/t1: 400 {message}"
    assert error.body == body


@pytest.mark.parametrize(
    ("raw", "kind", "body"),
    [
        (b"", "empty body", None),
        (b"  \n", "empty body", None),
        (b"<html>Bad Gateway</html>", "non-JSON body", "<html>Bad Gateway</html>"),
        (b'{"code": 7}', "JSON body", {"code": 7}),
        (b"[1, 2]", "JSON body", [1, 2]),
    ],
)
async def test_without_a_message_the_error_names_the_kind_of_body(
    scripted: Scripted, raw: bytes, kind: str, body: Any
) -> None:
    server, url = scripted
    server.status, server.body = 502, raw
    error = await failure_of(url)
    assert isinstance(error, InternalServerError)
    assert str(error) == f"GET /tasks/t1: 502 HTTP 502 ({kind})"
    assert error.body == body


async def test_a_text_body_is_kept_as_a_readable_snippet(scripted: Scripted) -> None:
    server, url = scripted
    server.status = 500
    server.body = b"  broken \xff gateway  "
    assert (await failure_of(url)).body == "broken \ufffd gateway"
    server.body = b"y" * 300
    assert (await failure_of(url)).body == "y" * 300
    server.body = b"y" * 301
    assert (await failure_of(url)).body == "y" * 300 + "…"


@pytest.mark.parametrize(
    ("raw", "limit", "used"),
    [
        (b'{"message": "quota", "limit": 100.0, "used": 7}', 100, 7),
        (b'{"limit": 1.5, "used": true}', None, None),
        (b"<html>Too Many Requests</html>", None, None),
        (b"", None, None),
    ],
)
async def test_a_429_reads_its_quota_from_any_body(
    scripted: Scripted, raw: bytes, limit: int | None, used: int | None
) -> None:
    server, url = scripted
    server.status, server.body, server.headers = 429, raw, {"Retry-After": "3"}
    error = await failure_of(url)
    assert isinstance(error, RateLimitError)
    assert (error.status_code, error.limit, error.used, error.retry_after) == (429, limit, used, 3)


@pytest.mark.parametrize(
    ("allow", "methods"),
    [("GET, POST", ("GET", "POST")), ("GET,, DELETE ", ("GET", "DELETE")), (None, ())],
)
async def test_a_405_lists_the_methods_the_server_allows(
    scripted: Scripted, allow: str | None, methods: tuple[str, ...]
) -> None:
    server, url = scripted
    server.status = 405
    server.headers = {} if allow is None else {"Allow": allow}
    error = await failure_of(url)
    assert isinstance(error, MethodNotAllowedError)
    assert (error.status_code, error.allow) == (405, methods)


@pytest.mark.parametrize("status", [300, 302, 399])
async def test_every_3xx_is_refused_as_a_redirect(scripted: Scripted, status: int) -> None:
    server, url = scripted
    server.status, server.body = status, b'{"message": "moved"}'
    server.headers = {"Location": "https://elsewhere.test/x?token=secret"}
    error = await failure_of(url)
    assert type(error) is APIStatusError
    assert "redirect to https://elsewhere.test not followed" in str(error)
    assert "secret" not in str(error)


@pytest.mark.parametrize("status", [299, 400])
async def test_around_the_3xx_range_nothing_is_called_a_redirect(
    scripted: Scripted, status: int
) -> None:
    server, url = scripted
    server.status, server.body = status, b'{"message": "moved"}'
    server.headers = {"Location": "https://elsewhere.test/x"}
    error = await failure_of(url)
    assert "redirect" not in str(error)


@pytest.mark.parametrize("answer", [{"keys": []}, [1, 2], {"sessions": "many"}])
async def test_a_list_answer_without_its_list_is_a_validation_error(
    scripted: Scripted, answer: Any
) -> None:
    server, url = scripted
    server.body = json.dumps(answer).encode()
    error = await failure_of(url, "list")
    assert isinstance(error, APIResponseValidationError)
    assert str(error) == "GET /tasks: answer has no 'sessions' list"
    assert (error.method, error.path, error.body) == ("GET", "/tasks", answer)
    assert error.status_code == 200


async def test_a_list_item_that_does_not_fit_names_the_request(scripted: Scripted) -> None:
    server, url = scripted
    server.body = json.dumps({"sessions": [{"sessionId": 5}]}).encode()
    error = await failure_of(url, "list")
    assert isinstance(error, APIResponseValidationError)
    assert str(error).startswith("GET /tasks: unexpected answer for SessionSummary (")
    assert (error.method, error.path, error.body) == ("GET", "/tasks", {"sessionId": 5})
    assert error.status_code == 200


async def test_a_get_whose_answer_does_not_fit_is_not_asked_again(scripted: Scripted) -> None:
    """The answer arrived whole: asking again would get the same one (an undecodable
    answer, by contrast, may have been cut short, and is retried)."""
    server, url = scripted
    server.body = json.dumps({"taskId": "t1", "status": 12}).encode()
    error = await failure_of(url, max_retries=2)
    assert isinstance(error, APIResponseValidationError)
    assert len(server.paths) == 1


async def test_a_record_that_does_not_fit_names_the_request_and_the_problem(
    scripted: Scripted,
) -> None:
    server, url = scripted
    server.body = json.dumps({"taskId": "t1", "status": 12}).encode()
    error = await failure_of(url)
    assert isinstance(error, APIResponseValidationError)
    assert str(error).startswith("GET /tasks/t1: unexpected answer for Task (")
    assert type(error.__cause__).__name__ in str(error)
    assert (error.method, error.path) == ("GET", "/tasks/t1")
    assert error.body == {"taskId": "t1", "status": 12}


async def test_an_answer_that_is_not_json_names_the_decoding_error(scripted: Scripted) -> None:
    server, url = scripted
    server.body = b'{"taskId": '
    error = await failure_of(url)
    assert isinstance(error, APIResponseValidationError)
    assert str(error) == "GET /tasks/t1: HTTP 200 answer is not valid JSON (JSONDecodeError)"
    assert (error.status_code, error.body, error.method) == (200, '{"taskId":', "GET")


async def test_a_post_answered_by_a_5xx_is_ambiguous_and_keeps_the_answer(
    scripted: Scripted,
) -> None:
    server, url = scripted
    server.status, server.body = 502, b'{"message": "gateway hiccup"}'
    error = await failure_of(url, "submit")
    assert isinstance(error, AmbiguousServerError)
    assert str(error) == (
        "POST /tasks: 502 gateway hiccup after the request was sent: the server may or may "
        "not have acted on it (a gateway error can follow a task that was created), so it was "
        "not retried (a retry could create a duplicate)"
    )
    assert (error.method, error.path, error.status_code) == ("POST", "/tasks", 502)
    assert error.body == {"message": "gateway hiccup"}
    assert error.request.task == "x"
    assert isinstance(error.__cause__, InternalServerError)
    assert error.__suppress_context__


async def test_a_post_whose_answer_lacks_the_id_is_ambiguous(scripted: Scripted) -> None:
    server, url = scripted
    server.status, server.body = 201, b'{"status": "pending"}'
    error = await failure_of(url, "submit")
    assert type(error) is AmbiguousRequestError
    assert str(error).startswith(
        "POST /tasks succeeded but its answer lacks what identifies the result ("
    )
    assert str(error).endswith("); it exists on the server")
    assert (error.method, error.path, error.status_code) == ("POST", "/tasks", 201)
    assert error.__cause__.status_code == 201  # type: ignore[union-attr]
    assert error.body == {"status": "pending", "task": "x", "endUserId": "u"}
    assert error.request.end_user_id == "u"
    assert isinstance(error.__cause__, APIResponseValidationError)


async def test_an_ambiguous_post_carries_the_body_it_sent(scripted: Scripted) -> None:
    server, url = scripted
    server.status = 502
    error = await failure_of(url, "create_key")
    assert isinstance(error, AmbiguousServerError)
    assert (error.method, error.path, error.request) == ("POST", "/api-keys", {"label": "ci"})


async def test_a_post_whose_connection_drops_names_the_failure(emu: Emulator) -> None:
    emu.faults.append(Fault("reset_after", route="POST /v1/tasks"))
    async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=0) as client:
        with pytest.raises(AmbiguousRequestError) as info:
            await client.tasks.submit(end_user_id="u", task="x")
    error, cause = info.value, info.value.__cause__
    assert cause is not None
    assert str(error) == (
        f"POST /tasks failed ({type(cause).__name__}) after the request was sent: the server "
        "may or may not have acted on it, so it was not retried (a retry could create a "
        "duplicate)"
    )
    assert (error.method, error.path, error.status_code) == ("POST", "/tasks", None)
    assert error.request.task == "x"
    assert error.__suppress_context__


TEXT = "".join(chr(97 + i % 26) for i in range(150_000))  # large, and every byte checked
BODY = json.dumps({"taskId": "t1", "status": "running", "task": TEXT}).encode()


@pytest.mark.parametrize(
    ("chunks", "compressed"), [(None, False), (40_000, False), (None, True), (40_000, True)]
)
async def test_an_answer_of_exactly_the_limit_is_read_whole(
    scripted: Scripted, chunks: int | None, compressed: bool
) -> None:
    server, url = scripted
    server.body, server.chunks, server.gzip = BODY, chunks, compressed
    async with AsyncClient(KEY, base_url=url, max_response_bytes=len(BODY)) as client:
        task = await client.tasks.get("t1")
    assert (task.task_id, task.task) == ("t1", TEXT)


@pytest.mark.parametrize(
    ("chunks", "compressed", "limit"),
    [
        (None, False, 1000),
        (40_000, False, 1000),
        (None, True, 1000),
        (40_000, True, 1000),
        # Past the limit only once several pieces are added up (each read is at most 64 KiB).
        (40_000, False, 100_000),
        (None, True, 100_000),
    ],
)
async def test_an_answer_past_the_limit_is_refused_however_it_is_sent(
    scripted: Scripted, chunks: int | None, compressed: bool, limit: int
) -> None:
    server, url = scripted
    server.body, server.chunks, server.gzip = BODY, chunks, compressed
    error = await failure_of(url, max_response_bytes=limit)
    assert isinstance(error, APIResponseValidationError)
    assert (error.method, error.path) == ("GET", "/tasks/t1")
    # Counted on the wire when its length is known and it is not compressed, else
    # as the decoded bytes arrive (the size reached when it passed the limit).
    size = len(BODY) if chunks is None and not compressed else None
    text = str(error)
    assert text.startswith("GET /tasks/t1: response body of ")
    assert text.endswith(f"+ bytes exceeds max_response_bytes={limit}")
    reached = int(text.removeprefix("GET /tasks/t1: response body of ").split("+")[0])
    assert reached == size if size is not None else limit < reached <= len(BODY)
