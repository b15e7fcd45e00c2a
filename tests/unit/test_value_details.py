"""Small promises of the public values a mutation run of `types` and `errors` found
checked only by slow end-to-end tests: here they are checked directly."""

from __future__ import annotations

import pytest

from stablebrowse_async import (
    NOT_GIVEN,
    Task,
    TaskOutcome,
    TaskRequest,
    TaskStatus,
    TaskTimeoutError,
)

RUNNING = Task(task_id="t1", status=TaskStatus.RUNNING)


def test_not_given_is_falsy_and_shows_its_name() -> None:
    assert not NOT_GIVEN
    assert repr(NOT_GIVEN) == "NOT_GIVEN"


def test_a_status_prints_as_its_wire_value() -> None:
    assert str(TaskStatus.RUNNING) == "running"
    assert f"{TaskStatus.COMPLETED}" == "completed"


def test_an_outcome_unwraps_to_its_task_or_raises_its_error() -> None:
    request = TaskRequest(end_user_id="u", task="x")
    done = Task(task_id="t1", status=TaskStatus.COMPLETED)
    assert TaskOutcome(request=request, index=0, task=done).unwrap() is done
    error = TaskTimeoutError(RUNNING, 5.0)
    with pytest.raises(TaskTimeoutError) as info:
        TaskOutcome(request=request, index=1, error=error).unwrap()
    assert info.value is error


def test_a_task_timeout_keeps_the_task_and_the_timeout() -> None:
    error = TaskTimeoutError(RUNNING, 2.5)
    assert error.task is RUNNING
    assert error.timeout == 2.5
    assert str(error) == "task t1 still 'running' after 2.5s; resume with tasks.wait('t1')"
    assert str(TaskTimeoutError(RUNNING, 2.5, "custom")) == "custom"
