"""Ray Data: rows in, rows out, one `AsyncClient` per actor, one rate gate per cluster.

```python
import ray
from stablebrowse_async.contrib.ray import run_dataset

ray.init()                                   # on a cluster: ray.init(address="auto")
ds = ray.data.from_items([{"end_user_id": "alice", "task": "Find ..."}, ...])
out = run_dataset(ds, actors=2, batch_size=64)   # lazy, like every Dataset
```

Each actor builds its client inside the actor (an `AsyncClient` cannot cross
a process boundary) and runs each batch through `run_many` on its own event
loop thread. Every input column is kept; `OUTCOME_COLUMNS` are added.

The cluster-wide rate gate. Every request of a client first asks its gate
`delay()`, and every 429 calls `close_for(seconds)`. Asking a remote actor
before every request would put a round trip (and a blocked event loop, were
it a ``ray.get``) on the hot path, so `ClusterRateGate` keeps a local copy:
`delay()` reads it (no I/O), `close_for` updates it at once and sends the
hold to the named gate actor without waiting, and a background task on the
client's loop long-polls the actor (``await actor.watch.remote(...)``, never
``ray.get``) so a hold that another actor reported lands in the local copy
one actor round trip after it was reported (milliseconds on one node). Only
requests that had already passed their gate in that interval still go out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import os
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

import anyio.from_thread
import ray
import ray.data
from anyio.from_thread import BlockingPortal

from .._client import AsyncClient
from ._rows import OUTCOME_COLUMNS, run_rows
from .journal import Journal

__all__ = [
    "DEFAULT_RATE_GATE",
    "OUTCOME_COLUMNS",
    "ClusterRateGate",
    "Gate",
    "RateGateActor",
    "TaskRunner",
    "rate_gate_actor",
    "run_dataset",
]

DEFAULT_RATE_GATE = "stablebrowse-rate-gate"
_WATCH_SECONDS = 10.0
_GATE_LOST_PAUSE = 0.5
_ENV_OPTIONS = {"api_key": "STABLEBROWSE_API_KEY", "base_url": "STABLEBROWSE_BASE_URL"}
# Ray Data runs one call of a sync UDF per actor at a time unless told otherwise
# (its guard against GPU memory blow-ups); TaskRunner's calls only wait on I/O.
_OVERLAPPING_CALLS: dict[str, Any] = (
    {"enable_true_multi_threading": True}
    if "enable_true_multi_threading" in inspect.signature(ray.data.ActorPoolStrategy).parameters
    else {}
)
# Handles held by this process, so a named gate lives as long as its creator.
_GATES: dict[str, Any] = {}


class Gate:
    """The cluster's "not before" time, as seconds from now (no clock is shared).

    `close_for` moves it later (never earlier); `watch` answers at once when
    the caller's version is stale, else when it next moves (or after
    `at_most` seconds), with ``(version, seconds_remaining)``.
    """

    def __init__(self) -> None:
        self._open_at = 0.0
        self._version = 0
        self._moved = asyncio.Event()

    async def close_for(self, seconds: float) -> None:
        """Hold every client of the cluster back for `seconds` from now."""
        open_at = time.monotonic() + float(seconds)
        if open_at > self._open_at:
            self._open_at = open_at
            self._version += 1
            moved, self._moved = self._moved, asyncio.Event()
            moved.set()

    async def watch(self, version: int, at_most: float) -> tuple[int, float]:
        """``(version, seconds still closed)``, once the version differs from `version`
        (or after `at_most` seconds, so a caller's call never hangs)."""
        if version == self._version:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._moved.wait(), at_most)
        return self._version, max(0.0, self._open_at - time.monotonic())


RateGateActor = ray.remote(num_cpus=0, max_restarts=-1)(Gate)
"""`Gate` as an async Ray actor (the named one `rate_gate_actor` finds or creates)."""


def rate_gate_actor(name: str = DEFAULT_RATE_GATE) -> Any:
    """The named `RateGateActor` of this Ray namespace, created on first use."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"rate gate name must be a non-empty str, got {name!r}")
    gate = _GATES.get(name)
    if gate is None:
        gate = RateGateActor.options(name=name, get_if_exists=True).remote()
        _GATES[name] = gate
    return gate


class ClusterRateGate:
    """A `RateGate` shared through a `RateGateActor`: one 429 pauses every client.

    Pass it as ``AsyncClient(rate_gate=gate)`` and run ``await gate.follow()``
    as a background task on the client's event loop (`TaskRunner` does both).
    `delay` and `close_for` never wait on the network (see the module docstring).
    """

    __slots__ = ("_actor", "_open_at", "holds_received")

    def __init__(self, actor: Any) -> None:
        self._actor = actor
        self._open_at = 0.0
        self.holds_received = 0
        """How many holds `follow` has copied from the gate actor (for diagnostics)."""

    def delay(self) -> float:
        """Seconds still to wait before sending, 0.0 when open (the local copy)."""
        remaining = self._open_at - time.monotonic()
        return remaining if remaining > 0 else 0.0

    def close_for(self, seconds: float) -> None:
        """Close locally at once and tell the gate actor, without waiting for it."""
        self._hold(seconds)
        self._actor.close_for.remote(seconds)

    def _hold(self, seconds: float) -> None:
        self._open_at = max(self._open_at, time.monotonic() + seconds)

    async def follow(self) -> None:
        """Copy the cluster's holds into this gate until cancelled (run it as a task)."""
        version = -1
        while True:
            try:
                version, remaining = await self._actor.watch.remote(version, _WATCH_SECONDS)
            except ray.exceptions.RayActorError:
                # The gate actor is restarting: the local copy still works meanwhile.
                version = -1
                await asyncio.sleep(_GATE_LOST_PAUSE)
                continue
            if remaining > 0:
                self.holds_received += 1
                self._hold(remaining)


def _options_from_environment(options: dict[str, Any]) -> dict[str, Any]:
    """Fill api_key/base_url from the driver's environment: workers may not share it."""
    filled = dict(options)
    for option, variable in _ENV_OPTIONS.items():
        if filled.get(option) is None and os.environ.get(variable):
            filled[option] = os.environ[variable]
    return filled


class TaskRunner:
    """A callable class for ``Dataset.map_batches``: each batch through `run_many`.

    ``ds.map_batches(TaskRunner, fn_constructor_kwargs={...}, concurrency=N,
    batch_size=B)``. Each row's columns named like `submit`'s keyword
    arguments (``end_user_id``, ``task``, ``start_url``, ``schema`` as a dict
    or JSON text, ...) make its request; every column is kept and
    `OUTCOME_COLUMNS` are added (replacing input columns of the same name). A
    bad row becomes a row with ``status="error"`` and `error_type`/`error_message`.

    Args:
        rate_gate: name of the `RateGateActor` to share (None: a gate local to
            this actor).
        journal: a `Journal` (e.g. `SqliteJournal`) of accepted submissions;
            journaled rows are waited for, never submitted again.
        key_column: the column identifying a row across re-runs (else a hash
            of its request; see `stablebrowse_async.contrib.journal`).
        concurrency: HTTP requests in flight per actor (`run_many`'s).
        **client_options: `AsyncClient` keyword arguments.
    """

    def __init__(
        self,
        *,
        rate_gate: str | None = DEFAULT_RATE_GATE,
        journal: Journal | None = None,
        key_column: str | None = "key",
        concurrency: int = 64,
        **client_options: Any,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
        self._journal = journal
        self._key_column = key_column
        self._concurrency = concurrency
        portal_context = anyio.from_thread.start_blocking_portal()
        self._portal = portal_context.__enter__()
        self._portal_context: AbstractContextManager[BlockingPortal] | None = portal_context
        self._follower: concurrent.futures.Future[None] | None = None
        self.gate: ClusterRateGate | None = None
        try:
            if rate_gate is not None:
                self.gate = ClusterRateGate(rate_gate_actor(rate_gate))
                self._follower = self._portal.start_task_soon(self.gate.follow)
            self._client = AsyncClient(**client_options, rate_gate=self.gate)
        except BaseException:
            self.close()
            raise

    def __call__(self, batch: Any) -> Any:
        """Run one batch (numpy dict, pandas DataFrame or pyarrow Table); same format out."""
        rows, size = _rows_of(batch)
        outcomes = self._portal.call(self._run, rows)
        assert len(outcomes) == size
        return _with_outcomes(batch, outcomes)

    async def _run(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return await run_rows(
            self._client,
            rows,
            journal=self._journal,
            key_column=self._key_column,
            concurrency=self._concurrency,
        )

    def close(self) -> None:
        """Close the client and stop the actor's event loop thread. Idempotent."""
        portal_context, self._portal_context = self._portal_context, None
        if portal_context is None:
            return
        if self._follower is not None:
            self._follower.cancel()
        client = getattr(self, "_client", None)
        if client is not None:
            self._portal.call(client.aclose)
        portal_context.__exit__(None, None, None)

    def __del__(self) -> None:
        if getattr(self, "_portal_context", None) is not None:
            self.close()


def _rows_of(batch: Any) -> tuple[list[dict[str, Any]], int]:
    """The rows of a batch in any of Ray Data's three formats."""
    if isinstance(batch, Mapping):
        columns = {name: list(values) for name, values in batch.items()}
        size = len(next(iter(columns.values()))) if columns else 0
        return [{name: values[i] for name, values in columns.items()} for i in range(size)], size
    to_pylist = getattr(batch, "to_pylist", None)
    if callable(to_pylist):  # pyarrow.Table
        rows = to_pylist()
        return rows, len(rows)
    to_dict = getattr(batch, "to_dict", None)
    if callable(to_dict):  # pandas.DataFrame
        rows = to_dict("records")
        return rows, len(rows)
    raise TypeError(
        "a batch must be a dict of numpy arrays, a pandas DataFrame or a pyarrow Table, "
        f"got {type(batch).__name__}"
    )


def _with_outcomes(batch: Any, outcomes: list[dict[str, Any]]) -> Any:
    """`batch` (same format) with the outcome columns added."""
    columns = {name: [outcome[name] for outcome in outcomes] for name in OUTCOME_COLUMNS}
    if isinstance(batch, Mapping):
        import numpy as np

        out = dict(batch)
        for name, values in columns.items():
            array = np.empty(len(values), dtype=object)
            array[:] = values
            out[name] = array
        return out
    if hasattr(batch, "to_pylist"):
        import pyarrow as pa

        table = batch
        for name, values in columns.items():
            kind = pa.int64() if name == "duration_ms" else pa.string()
            array = pa.array(values, type=kind)
            if name in table.column_names:
                table = table.set_column(table.column_names.index(name), name, array)
            else:
                table = table.append_column(name, array)
        return table
    import pandas as pd

    frame = batch.copy()
    for name in OUTCOME_COLUMNS:
        kind = "Int64" if name == "duration_ms" else object
        frame[name] = pd.array(columns[name], dtype=kind)
    return frame


def run_dataset(
    ds: ray.data.Dataset,
    *,
    actors: int = 2,
    batch_size: int = 64,
    concurrency: int = 64,
    journal: Journal | None = None,
    key_column: str | None = "key",
    rate_gate: str | None = DEFAULT_RATE_GATE,
    batches_per_actor: int = 8,
    num_cpus: float = 0.5,
    **client_options: Any,
) -> ray.data.Dataset:
    """`ds` with every row run as a task: `TaskRunner` on `actors` actors, lazily.

    Each actor runs up to `batches_per_actor` batches at once on its one
    client (so a batch's slowest task does not idle the actor), each with up
    to `concurrency` requests in flight. The actors share the named rate
    gate (created here if missing).
    ``api_key``/``base_url`` default to the driver's ``STABLEBROWSE_API_KEY``
    / ``STABLEBROWSE_BASE_URL``, since worker processes on other nodes do not
    see its environment. `num_cpus` is reserved per actor (the work is I/O).
    Other arguments are `TaskRunner`'s.
    """
    for name, value in (
        ("actors", actors),
        ("batch_size", batch_size),
        ("batches_per_actor", batches_per_actor),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if rate_gate is not None:
        rate_gate_actor(rate_gate)
    options = _options_from_environment(client_options)
    return ds.map_batches(
        TaskRunner,
        fn_constructor_kwargs={
            "rate_gate": rate_gate,
            "journal": journal,
            "key_column": key_column,
            "concurrency": concurrency,
            **options,
        },
        compute=ray.data.ActorPoolStrategy(
            size=actors,
            max_tasks_in_flight_per_actor=batches_per_actor,
            max_concurrent_calls_per_actor=batches_per_actor,
            **_OVERLAPPING_CALLS,
        ),
        batch_size=batch_size,
        num_cpus=num_cpus,
    )
