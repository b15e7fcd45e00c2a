"""Celery: the task ``"stablebrowse.run"``, one sync `Client` per worker child.

```python
# research.py: the worker module (celery -A research worker --pool=prefork -c 4)
from celery import Celery
from stablebrowse_async.contrib import celery as stablebrowse_celery

app = Celery("research", broker="redis://localhost:6379/0", backend="redis://localhost:6379/1")
stablebrowse_celery.install(app)           # client options: install(app, timeout=60, ...)

# anywhere: the producer
app.send_task("stablebrowse.run", kwargs={"end_user_id": "alice", "task": "Find ..."}).get()
```

`install` connects ``worker_process_init`` (each prefork child opens its
own `Client` after the fork: a client never crosses a fork) and
``worker_process_shutdown`` (the child closes it on a warm shutdown). The
task takes `submit`'s keyword arguments (plus the optional key column) and
returns a JSON-safe dict with the same keys as the Ray rows
(`OUTCOME_COLUMNS`): failures of the task are outcomes, not exceptions.

Retries. The SDK already retries each request per its policy. What it
gives up on and provably did not create a task (a connection never made, a
429) is raised for Celery's ``autoretry_for``, at most `max_retries` times,
then returned as an outcome. An `AmbiguousRequestError` (the POST was sent,
its answer lost: the task may exist) is never raised, so no Celery retry can
duplicate it; its outcome says so. With a `journal`, a redelivered message
(``task_acks_late`` plus ``task_reject_on_worker_lost`` after a killed
child) waits for the journaled task instead of submitting it again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from ..errors import AmbiguousRequestError, APIConnectionError, RateLimitError, StablebrowseError
from ..sync import Client
from ..types import Task
from ._rows import OUTCOME_COLUMNS, REQUEST_COLUMNS, outcome_fields, prepare
from .journal import Journal

__all__ = ["OUTCOME_COLUMNS", "TASK_NAME", "client", "install", "run_one"]

TASK_NAME = "stablebrowse.run"
logger = logging.getLogger(__name__)

_lock = threading.Lock()
_settings: dict[str, Any] = {}
_client: Client | None = None
_client_pid = 0


def _open_client(**_: object) -> None:
    """``worker_process_init``: this child's client (the parent's, if any, is not reused)."""
    global _client, _client_pid
    with _lock:
        _client = Client(**_settings.get("client_options", {}))
        _client_pid = os.getpid()


def _close_client(**_: object) -> None:
    """``worker_process_shutdown``: close this child's client and its connections."""
    global _client
    with _lock:
        current, _client = _client, None
    if current is not None:
        current.close()
        logger.info("stablebrowse: worker process %d closed its client", os.getpid())


def client() -> Client:
    """This worker process's `Client` (opened on first use outside a prefork child)."""
    with _lock:
        current = _client
    if current is None or _client_pid != os.getpid():
        _open_client()
        with _lock:
            current = _client
    assert current is not None
    return current


def _retryable(error: BaseException | None) -> bool:
    """Whether Celery may run the task again: only when no task can have been created."""
    if isinstance(error, AmbiguousRequestError):
        return False
    if isinstance(error, RateLimitError):
        return error.limit is None  # a monthly quota does not lift by retrying
    return isinstance(error, APIConnectionError)


def run_one(
    sdk: Client,
    arguments: Mapping[str, Any],
    *,
    journal: Journal | None = None,
    key_column: str | None = "key",
) -> tuple[dict[str, Any], BaseException | None]:
    """Run one task from `submit`'s keyword `arguments`; its outcome dict and its error.

    A key the journal holds is waited for instead of submitted. Unknown
    argument names are an outcome error (a typo must not be dropped).
    """
    unknown = set(arguments) - set(REQUEST_COLUMNS) - {key_column}
    if unknown:
        error = TypeError(f"unknown argument(s) for {TASK_NAME}: {', '.join(sorted(unknown))}")
        return outcome_fields(None, error), error
    item = prepare(arguments, key_column)
    if item.request is None or item.key is None:
        return outcome_fields(None, item.error), item.error
    known = journal.lookup([item.key]) if journal is not None else {}
    if item.key in known:
        try:
            task = sdk.tasks.wait(known[item.key])
        except StablebrowseError as error:
            return outcome_fields(None, error), error
        return outcome_fields(task, None), None
    key = item.key

    def journaled(_: int, task: Task) -> None:
        if journal is not None:
            journal.record(key, task.task_id)

    (outcome,) = list(sdk.tasks.run_many([item.request], concurrency=1, on_submitted=journaled))
    return outcome_fields(outcome.task, outcome.error), outcome.error


def install(
    app: Celery,
    *,
    journal: Journal | None = None,
    key_column: str | None = "key",
    max_retries: int = 3,
    **client_options: Any,
) -> Any:
    """Register ``"stablebrowse.run"`` on `app` and one `Client` per worker child.

    Args:
        app: the Celery application (one per worker process).
        journal: a `Journal` every worker sees (e.g. `SqliteJournal` on one
            host); a redelivered task waits for its journaled task.
        key_column: the argument naming a task across redeliveries (else a
            hash of the request).
        max_retries: Celery retries of a submission that provably created nothing.
        **client_options: `Client` keyword arguments (``api_key``, ``timeout``, ...).

    Returns:
        The registered Celery task.
    """
    if not isinstance(app, Celery):
        raise TypeError(f"app must be a celery.Celery application, got {type(app).__name__}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
    if journal is not None and not isinstance(journal, Journal):
        raise TypeError(f"journal must have lookup() and record(), got {type(journal).__name__}")
    _settings["client_options"] = dict(client_options)
    worker_process_init.connect(_open_client, weak=False, dispatch_uid="stablebrowse.open")
    worker_process_shutdown.connect(_close_client, weak=False, dispatch_uid="stablebrowse.close")

    @app.task(  # type: ignore[untyped-decorator]
        name=TASK_NAME,
        bind=True,
        autoretry_for=(APIConnectionError, RateLimitError),
        dont_autoretry_for=(AmbiguousRequestError,),
        retry_backoff=True,
        retry_backoff_max=60,
        max_retries=max_retries,
    )
    def run(self: Any, **arguments: Any) -> dict[str, Any]:
        outcome, error = run_one(client(), arguments, journal=journal, key_column=key_column)
        if _retryable(error) and self.request.retries < max_retries:
            assert error is not None
            raise error
        return outcome

    return run
