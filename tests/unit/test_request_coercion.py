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
