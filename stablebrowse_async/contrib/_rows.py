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
    "Plan",
    "Prepared",
    "outcome_fields",
    "plan",
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
    """A numpy/pandas cell as a plain Python value; missing (None, NaN) as None.

    (pyarrow batches are read with ``to_pylist``, which gives plain values already.)
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
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


@attrs.define
class Plan:
    """Which rows to submit, which to wait for (journaled), and the outcomes so far.

    The engines run it: `run_rows` on an `AsyncClient`, the Celery batch task
    on the sync `Client`; both record `outcome` per row and read `finish()`.
    """

    prepared: list[Prepared]
    submit: list[int]
    resume: list[tuple[int, str]]
    journal: Journal | None
    outcomes: list[dict[str, Any] | None]
    errors: list[BaseException | None]

    def requests(self) -> list[TaskRequest]:
        """The requests to submit, in `submit` order (what ``run_many`` gets)."""
        return [self.prepared[index].request for index in self.submit]  # type: ignore[misc]

    def journaled(self, position: int, task: Task) -> None:
        """``on_submitted`` for ``run_many(plan.requests())``: journal the accepted task."""
        key = self.prepared[self.submit[position]].key
        if self.journal is not None and key is not None:
            self.journal.record(key, task.task_id)

    def outcome(self, index: int, task: Task | None, error: BaseException | None) -> None:
        """Record row `index`'s outcome."""
        self.outcomes[index] = outcome_fields(task, error)
        self.errors[index] = error

    def finish(self) -> list[dict[str, Any]]:
        """Every row's outcome, in row order."""
        done = [outcome for outcome in self.outcomes if outcome is not None]
        if len(done) != len(self.outcomes):
            raise AssertionError(f"{len(self.outcomes) - len(done)} row(s) got no outcome")
        return done


def plan(
    rows: Sequence[Mapping[str, Any]],
    *,
    journal: Journal | None,
    key_column: str | None,
    strict: bool = False,
) -> Plan:
    """Prepare `rows`, look their keys up in the journal, and split them.

    With `strict`, a row with a column that is neither a request column nor
    the key column is an error (a misspelt keyword argument must not be dropped).
    """
    allowed = {*REQUEST_COLUMNS, key_column}
    prepared: list[Prepared] = []
    for row in rows:
        unknown = set(row) - allowed if strict else set()
        if unknown:
            names = ", ".join(sorted(map(str, unknown)))
            prepared.append(Prepared(None, None, TypeError(f"unknown argument(s): {names}")))
        else:
            prepared.append(prepare(row, key_column))
    result = Plan(prepared, [], [], journal, [None] * len(rows), [None] * len(rows))
    keys = [p.key for p in prepared if p.key is not None]
    known = journal.lookup(keys) if journal is not None and keys else {}
    for index, item in enumerate(prepared):
        if item.request is None:
            result.outcome(index, None, item.error)
        elif item.key in known:
            result.resume.append((index, known[item.key]))
        else:
            result.submit.append(index)
    return result


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
    work = plan(rows, journal=journal, key_column=key_column)
    limit = anyio.Semaphore(concurrency)

    async def wait_one(index: int, task_id: str) -> None:
        async with limit:
            try:
                work.outcome(index, await client.tasks.wait(task_id), None)
            except StablebrowseError as error:
                work.outcome(index, None, error)

    async def submit_all() -> None:
        async with client.tasks.run_many(
            work.requests(), concurrency=concurrency, on_submitted=work.journaled
        ) as results:
            async for outcome in results:
                work.outcome(work.submit[outcome.index], outcome.task, outcome.error)

    async with anyio.create_task_group() as group:
        for index, task_id in work.resume:
            group.start_soon(wait_one, index, task_id)
        if work.submit:
            group.start_soon(submit_all)
    return work.finish()
