"""`TaskRequest.coerce`: what `run_many` and the CLI accept as a request, and the errors it gives."""

from __future__ import annotations

import pytest

from stablebrowse_async import TaskRequest


def test_a_request_passes_and_a_mapping_becomes_one() -> None:
    request = TaskRequest(end_user_id="alice", task="hello")
    assert TaskRequest.coerce(request) is request
    assert TaskRequest.coerce({"end_user_id": "alice", "task": "hello"}) == request


@pytest.mark.parametrize(
    ("value", "kind"), [(42, "int"), ("alice: hello", "str"), (None, "NoneType")]
)
def test_anything_else_is_refused_naming_its_type(value: object, kind: str) -> None:
    with pytest.raises(TypeError) as info:
        TaskRequest.coerce(value)  # type: ignore[arg-type]
    assert str(info.value) == f"a task request must be a TaskRequest or a mapping, got {kind}"


def test_unknown_keys_are_named() -> None:
    with pytest.raises(TypeError, match=r"unknown task request field\(s\): endUserId, taks"):
        TaskRequest.coerce({"endUserId": "alice", "taks": "hello"})


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"end_user_id": 7}, TypeError, "end_user_id must be a str, got int"),
        ({"end_user_id": "  "}, ValueError, "end_user_id must not be empty or blank"),
        ({"task": b"bytes"}, TypeError, "task must be a str, got bytes"),
        ({"task": " "}, ValueError, "task must not be empty or blank"),
        ({"session_id": 3}, TypeError, "session_id must be a str, got int"),
        ({"start_url": ""}, ValueError, "start_url must not be empty or blank"),
        ({"schema": ["type"]}, TypeError, "schema must be a JSON-schema mapping, got list"),
        ({"max_steps": 2.0}, TypeError, "max_steps must be an int, got float"),
        ({"max_steps": True}, TypeError, "max_steps must be an int, got bool"),
        ({"max_steps": 0}, ValueError, "max_steps must be between 1 and 25, got 0"),
        ({"max_steps": 26}, ValueError, "max_steps must be between 1 and 25, got 26"),
        ({"include_html_dump": "yes"}, TypeError, "include_html_dump must be a bool, got str"),
    ],
)
def test_a_bad_request_field_is_named_with_what_was_wrong(
    fields: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        TaskRequest(**{"end_user_id": "alice", "task": "hello", **fields})  # type: ignore[arg-type]
    assert str(info.value) == message


@pytest.mark.parametrize("max_steps", [1, 25])
def test_max_steps_bounds_are_inclusive(max_steps: int) -> None:
    request = TaskRequest(end_user_id="alice", task="hello", max_steps=max_steps)
    assert request.to_wire()["maxSteps"] == max_steps
