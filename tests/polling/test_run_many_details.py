"""Details of `run_many` and `wait_many` a mutation run of `_polling` found unchecked:
exact refusals, and what each outcome carries (its index, its request or None)."""

from __future__ import annotations

import pytest

from stablebrowse_async import AsyncClient, TaskFailedError, TaskRequest

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"concurrency": 0}, ValueError, r"^concurrency must be a positive int, got 0$"),
        ({"concurrency": True}, ValueError, r"^concurrency must be a positive int, got True$"),
        ({"max_in_flight": 0}, ValueError, r"^max_in_flight must be a positive int, got 0$"),
        ({"submit_rate": 0}, ValueError, r"^submit_rate must be a finite number > 0, got 0$"),
        ({"submit_rate": -2.5}, ValueError, r"^submit_rate must be a finite number > 0, got -2.5$"),
        ({"submit_rate": float("inf")}, ValueError, r"^submit_rate must be .* got inf$"),
        ({"submit_rate": float("nan")}, ValueError, r"^submit_rate must be .* got nan$"),
        (
            {"submit_rate": True},
            TypeError,
            r"^submit_rate must be a number of submissions per second or None, got bool$",
        ),
        ({"submit_rate": "10/s"}, TypeError, r"^submit_rate must be a number .* got str$"),
    ],
)
async def test_bad_limits_are_refused_naming_the_argument_and_value(
    client: AsyncClient, options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        client.tasks.run_many([], **options)  # type: ignore[arg-type]


async def test_requests_that_are_not_iterable_are_refused_naming_the_type(
    client: AsyncClient,
) -> None:
    with pytest.raises(
        TypeError, match=r"^requests must be an iterable or async iterable, got int$"
    ):
        client.tasks.run_many(5)  # type: ignore[arg-type]


async def test_run_many_outcomes_carry_their_request_and_wait_many_none(
    client: AsyncClient,
) -> None:
    requests = [TaskRequest(end_user_id="u", task=f"t{i}") for i in range(3)]
    outcomes = [o async for o in client.tasks.run_many(requests)]
    assert sorted((o.index, o.request) for o in outcomes) == list(enumerate(requests))
    ids = [o.unwrap().task_id for o in sorted(outcomes, key=lambda o: o.index)]
    waited = [o async for o in client.tasks.wait_many(ids)]
    assert sorted((o.index, o.request, o.unwrap().task_id) for o in waited) == [
        (i, None, task_id) for i, task_id in enumerate(ids)
    ]


async def test_a_bad_item_and_a_failed_task_are_outcomes_at_their_index(
    client: AsyncClient,
) -> None:
    items: list[object] = [42, TaskRequest(end_user_id="u", task="will fail [[fail]]")]
    outcomes = {o.index: o async for o in client.tasks.run_many(items)}  # type: ignore[arg-type]
    assert isinstance(outcomes[0].error, TypeError)
    assert outcomes[0].request == 42
    assert isinstance(outcomes[1].error, TaskFailedError)
    assert outcomes[1].request == items[1]
    waited = {o.index: o async for o in client.tasks.wait_many([5, "no-such-task"])}  # type: ignore[list-item]
    assert isinstance(waited[0].error, TypeError)
    assert waited[0].request is None
    assert waited[1].request is None and waited[1].error is not None
