"""Rows in, outcome columns out: the part of the engine integrations that knows no engine.

A row is a mapping whose columns named like `submit`'s keyword arguments
(`REQUEST_COLUMNS`) make the request; every other column is the caller's and
is left alone. The outcome of a row is `OUTCOME_COLUMNS`, JSON-safe values
only (text, int or None), so Arrow, pandas and Celery's JSON serializer all
take them as they are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import attrs

from ..errors import AmbiguousRequestError, StablebrowseError
from ..types import Task, TaskRequest
from .journal import Journal, row_key

__all__ = [
    "OUTCOME_COLUMNS",
    "REQUEST_COLUMNS",
    "Prepared",
    "outcome_fields",
    "prepare",
    "run_rows",
]

REQUEST_COLUMNS = tuple(a.name for a in attrs.fields(TaskRequest))
OUTCOME_COLUMNS = (
    "task_id",
    "session_id",
    "status",
    "result",
    "structured_content",
    "duration_ms",
    "error_type",
    "error_message",
)
AMBIGUOUS_NOTE = (
    " (not retried, by the SDK or by the engine: the task may exist; "
    "reconcile with tasks.list() or the journal before submitting it again)"
)


def _plain(value: Any) -> Any:
    """A numpy/pandas/pyarrow cell as a plain Python value; missing (None, NaN) as None."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    as_py = getattr(value, "as_py", None)  # a pyarrow scalar
    if callable(as_py):
        return _plain(as_py())
    item = getattr(value, "item", None)  # a numpy scalar or 0-d array
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return _plain(item())
    return value


@attrs.frozen
class Prepared:
    """One row made ready: its request and journal key, or why it cannot be submitted."""

    request: TaskRequest | None
    key: str | None
    error: Exception | None


def prepare(row: Mapping[str, Any], key_column: str | None) -> Prepared:
    """Build the row's `TaskRequest` and key; a bad row gives its error instead of raising."""
    fields: dict[str, Any] = {}
    for name in REQUEST_COLUMNS:
        value = _plain(row.get(name))
        if value is None:
            continue
        if name == "schema" and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as error:
                return Prepared(None, None, ValueError(f"schema is not JSON text: {error}"))
        fields[name] = value
    try:
        request = TaskRequest.coerce(fields)
    except (TypeError, ValueError) as error:
        return Prepared(None, None, error)
    return Prepared(request, row_key(row, request, key_column), None)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def outcome_fields(task: Task | None, error: BaseException | None) -> dict[str, Any]:
    """The outcome columns of one row, from the task (if any) and the error (if any).

    `status` is the task's last known status, or ``"error"`` when no task
    exists (a bad row, a refused or ambiguous submission).
    """
    if task is None and error is not None:
        task = getattr(error, "task", None)
    message = None if error is None else str(error)
    if isinstance(error, AmbiguousRequestError) and message is not None:
        message += AMBIGUOUS_NOTE
    return {
        "task_id": None if task is None else task.task_id,
        "session_id": None if task is None else task.session_id,
        "status": "error" if task is None else task.status.value,
        "result": None if task is None else _text(task.result),
        "structured_content": None if task is None else _text(task.structured_content),
        "duration_ms": None if task is None else task.duration_ms,
        "error_type": None if error is None else type(error).__name__,
        "error_message": message,
    }


async def run_rows(
    client: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    journal: Journal | None,
    key_column: str | None,
    concurrency: int,
) -> list[dict[str, Any]]:
    """Run `rows` on an `AsyncClient`; one outcome dict per row, in row order.

    Rows whose key the journal holds are waited for (``tasks.wait``); the
    others go through one ``run_many``, journaling each accepted task.
    """
    outcomes: list[dict[str, Any] | None] = [None] * len(rows)
    prepared = [prepare(row, key_column) for row in rows]
    keys = [p.key for p in prepared if p.key is not None]
    known = journal.lookup(keys) if journal is not None and keys else {}
    submit: list[int] = []
    resume: list[tuple[int, str]] = []
    for index, item in enumerate(prepared):
        if item.request is None:
            outcomes[index] = outcome_fields(None, item.error)
        elif item.key in known:
            resume.append((index, known[item.key]))
        else:
            submit.append(index)

    limit = anyio.Semaphore(concurrency)

    async def wait_one(index: int, task_id: str) -> None:
        async with limit:
            try:
                task = await client.tasks.wait(task_id)
            except StablebrowseError as error:
                outcomes[index] = outcome_fields(None, error)
            else:
                outcomes[index] = outcome_fields(task, None)

    def journaled(position: int, task: Task) -> None:
        key = prepared[submit[position]].key
        if journal is not None and key is not None:
            journal.record(key, task.task_id)

    async def submit_all() -> None:
        requests = [prepared[index].request for index in submit]
        async with client.tasks.run_many(
            requests, concurrency=concurrency, on_submitted=journaled
        ) as results:
            async for outcome in results:
                outcomes[submit[outcome.index]] = outcome_fields(outcome.task, outcome.error)

    async with anyio.create_task_group() as group:
        for index, task_id in resume:
            group.start_soon(wait_one, index, task_id)
        if submit:
            group.start_soon(submit_all)
    done = [outcome for outcome in outcomes if outcome is not None]
    if len(done) != len(rows):
        raise AssertionError(f"{len(rows) - len(done)} row(s) got no outcome")
    return done
