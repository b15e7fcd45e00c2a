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
``"stablebrowse.run_batch"`` does the same for a list of requests at once.

Retries. The SDK already retries each request per its policy. What it
gives up on and provably did not create a task (a connection never made, a
429) is raised for Celery's ``autoretry_for``, at most `task_max_retries` times,
then returned as an outcome. An `AmbiguousRequestError` (the POST was sent,
its answer lost: the task may exist) is never raised, so no Celery retry can
duplicate it; its outcome says so. With a `journal`, a redelivered message
(``task_acks_late`` plus ``task_reject_on_worker_lost`` after a killed
child) waits for the journaled task instead of submitting it again.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown
from kombu.exceptions import ChannelError
from kombu.transport import filesystem as kombu_filesystem
from kombu.utils import json as kombu_json

from .._logging import get_logger
from ..errors import AmbiguousRequestError, APIConnectionError, RateLimitError, StablebrowseError
from ..sync import Client
from ._rows import OUTCOME_COLUMNS, plan
from .journal import Journal

__all__ = [
    "BATCH_TASK_NAME",
    "OUTCOME_COLUMNS",
    "TASK_NAME",
    "WholeMessageFilesystemTransport",
    "client",
    "filesystem_config",
    "install",
    "run_batch",
    "run_one",
]

TASK_NAME = "stablebrowse.run"
BATCH_TASK_NAME = "stablebrowse.run_batch"
logger = get_logger(__name__)

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


def run_batch(
    sdk: Client,
    arguments: Sequence[Mapping[str, Any]],
    *,
    journal: Journal | None = None,
    key_column: str | None = "key",
    concurrency: int = 64,
) -> list[tuple[dict[str, Any], BaseException | None]]:
    """Run tasks from `submit`'s keyword arguments; ``(outcome dict, error)`` per item, in order.

    Items whose key the journal holds are waited for instead of submitted;
    the others go through one ``run_many``. Unknown argument names are an
    item's error (a typo must not be dropped).
    """
    work = plan(arguments, journal=journal, key_column=key_column, strict=True)
    for index, task_id in work.resume:
        try:
            work.outcome(index, sdk.tasks.wait(task_id), None)
        except StablebrowseError as error:
            work.outcome(index, None, error)
    if work.submit:
        with sdk.tasks.run_many(
            work.requests(), concurrency=concurrency, on_submitted=work.journaled
        ) as results:
            for outcome in results:
                work.outcome(work.submit[outcome.index], outcome.task, outcome.error)
    return list(zip(work.finish(), work.errors, strict=True))


def run_one(
    sdk: Client,
    arguments: Mapping[str, Any],
    *,
    journal: Journal | None = None,
    key_column: str | None = "key",
) -> tuple[dict[str, Any], BaseException | None]:
    """`run_batch` of one item: its outcome dict and its error (what ``stablebrowse.run`` runs)."""
    ((outcome, error),) = run_batch(
        sdk, [arguments], journal=journal, key_column=key_column, concurrency=1
    )
    return outcome, error


#: kombu's JSON encoder (its types: datetimes, UUIDs, decimals), typed for mypy.
_kombu_dumps: Callable[[Any], str] = kombu_json.dumps


class _WholeMessageChannel(kombu_filesystem.Channel):
    """kombu's filesystem channel, each message written whole before it can be taken.

    kombu creates a message's file, then writes it: a consumer listing the
    folder in between takes an empty message, fails to decode it and its
    worker stops (celery/kombu#1551; seen here as a worker dying with
    ``JSONDecodeError`` in the Celery tests). Written under a name consumers
    skip (``.msg.part``), then renamed, which is atomic on one filesystem.
    """

    # kombu's filesystem channel, which this overrides, calls it `payload`;
    # kombu's abstract channel calls it `message`: mypy sees the two disagree.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"
        try:
            with open(partial, "wb") as file:
                file.write(_kombu_dumps(payload).encode())
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class WholeMessageFilesystemTransport(kombu_filesystem.Transport):
    """kombu's ``filesystem://`` transport without its partly written messages
    (`filesystem_config` selects it with ``broker_transport``)."""

    Channel = _WholeMessageChannel


def filesystem_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Celery settings for a broker and result store in `folder`: one host, no server.

    kombu's ``filesystem://`` transport (`WholeMessageFilesystemTransport`:
    a message becomes visible only once written whole) and a ``file://``
    result backend, with late acknowledgement so a message whose worker child died is
    delivered again (``task_acks_late``, ``task_reject_on_worker_lost``).
    For development, CI and single-host batches; on a cluster use a Redis or
    RabbitMQ ``broker_url`` instead. ``app.conf.update(filesystem_config(d))``.
    """
    root = Path(folder)
    for name in ("queue", "processed", "results"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": "filesystem://",
        "broker_transport": f"{__name__}:WholeMessageFilesystemTransport",
        "broker_transport_options": {
            "data_folder_in": str(root / "queue"),
            "data_folder_out": str(root / "queue"),
            "processed_folder": str(root / "processed"),
            "store_processed": False,
            "polling_interval": 0.05,
        },
        "result_backend": f"file://{root / 'results'}",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
    }


def install(
    app: Celery,
    *,
    journal: Journal | None = None,
    key_column: str | None = "key",
    task_max_retries: int = 3,
    **client_options: Any,
) -> Any:
    """Register ``"stablebrowse.run"`` on `app` and one `Client` per worker child.

    Also registers ``"stablebrowse.run_batch"`` (``kwargs={"requests": [...]}``
    -> a list of outcome dicts): a chunk of tasks through one ``run_many``,
    so one child carries many tasks at once (``stablebrowse.run`` holds a
    child for the whole life of its one task). A batch is not retried by Celery.

    Args:
        app: the Celery application (one per worker process).
        journal: a `Journal` every worker sees (e.g. `SqliteJournal` on one
            host); a redelivered task waits for its journaled task.
        key_column: the argument naming a task across redeliveries (else a
            hash of the request).
        task_max_retries: Celery retries of a submission that provably created
            nothing (the client's own ``max_retries`` is a client option).
        **client_options: `Client` keyword arguments (``api_key``, ``timeout``,
            ``max_retries``, ...).

    Returns:
        The registered Celery task.
    """
    if not isinstance(app, Celery):
        raise TypeError(f"app must be a celery.Celery application, got {type(app).__name__}")
    if (
        isinstance(task_max_retries, bool)
        or not isinstance(task_max_retries, int)
        or task_max_retries < 0
    ):
        raise ValueError(f"task_max_retries must be an int >= 0, got {task_max_retries!r}")
    if journal is not None and not isinstance(journal, Journal):
        raise TypeError(f"journal must have lookup() and record(), got {type(journal).__name__}")
    _settings["client_options"] = dict(client_options)
    worker_process_init.connect(_open_client, weak=False, dispatch_uid="stablebrowse.open")
    worker_process_shutdown.connect(_close_client, weak=False, dispatch_uid="stablebrowse.close")

    @app.task(  # type: ignore[untyped-decorator]
        name=TASK_NAME,
        shared=False,  # this app's task only: not added to every app created later
        bind=True,
        autoretry_for=(APIConnectionError, RateLimitError),
        dont_autoretry_for=(AmbiguousRequestError,),
        retry_backoff=True,
        retry_backoff_max=60,
        max_retries=task_max_retries,
    )
    def run(self: Any, **arguments: Any) -> dict[str, Any]:
        outcome, error = run_one(client(), arguments, journal=journal, key_column=key_column)
        if _retryable(error) and self.request.retries < task_max_retries:
            assert error is not None
            raise error
        return outcome

    @app.task(name=BATCH_TASK_NAME, shared=False)  # type: ignore[untyped-decorator]
    def run_many(requests: list[dict[str, Any]], concurrency: int = 64) -> list[dict[str, Any]]:
        if not isinstance(requests, list):
            raise TypeError(f"requests must be a list, got {type(requests).__name__}")
        outcomes = run_batch(
            client(), requests, journal=journal, key_column=key_column, concurrency=concurrency
        )
        return [outcome for outcome, _ in outcomes]

    return run
