"""A journal of accepted submissions that every worker sees: row key -> task id.

`run_many(on_submitted=...)` reports each task as soon as the API accepts it.
Recording ``(key, task_id)`` there, in storage every worker shares, makes a
batch resumable across workers: a re-run (a restarted Ray actor, a Celery
task redelivered after its worker child died) looks its rows up first and
waits for the journaled tasks with ``tasks.wait`` instead of submitting them
again.

What identifies a row across re-runs (`row_key`): the value of the caller's
key column (``"key"`` by default) when the row has one, else the SHA-256 of
the request itself (its wire JSON with sorted keys). Two identical requests
without a key are therefore one entry: give such rows a key column when they
are meant to be distinct tasks. Use one journal per logical job: a journal
that already holds a row's key makes every later run wait for that task.

`SqliteJournal` serves the workers of one host. Across hosts, the same two
operations map onto a shared store (see the README, "Scaling past one machine"):
Redis ``HSETNX <job> <key> <task_id>`` / ``HMGET <job> <keys...>``, or Postgres
``INSERT ... ON CONFLICT (job, key) DO NOTHING`` / ``SELECT key, task_id ...
WHERE key = ANY(%s)``; any object with `lookup` and `record` will do.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from ..types import TaskRequest

__all__ = ["Journal", "SqliteJournal", "row_key"]

_BUSY_TIMEOUT = 30.0
_LOOKUP_CHUNK = 500


@runtime_checkable
class Journal(Protocol):
    """Where accepted submissions are recorded; shared by every worker of a job.

    `record` is called on the client's event loop for every accepted task: it
    must be quick (a local write, or a fire-and-forget to a remote store).
    """

    def lookup(self, keys: Iterable[str]) -> dict[str, str]:
        """The task ids already journaled for `keys` (keys not journaled are absent)."""
        ...

    def record(self, key: str, task_id: str) -> None:
        """Remember that the row `key` was accepted as `task_id` (a second record is ignored)."""
        ...


def row_key(row: Mapping[str, Any], request: TaskRequest, key_column: str | None) -> str:
    """The identity of a row across re-runs: its key column, else a hash of its request."""
    if key_column is not None:
        value = row.get(key_column)
        if value is not None:
            return "key:" + str(value)
    wire = json.dumps(request.to_wire(), sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(wire.encode()).hexdigest()


def _prepare(connection: sqlite3.Connection) -> None:
    """Switch the file to WAL and create the table, however many processes open it at once.

    SQLite answers ``PRAGMA journal_mode=WAL`` with "database is locked" at once,
    without waiting out the busy timeout, while another connection holds the file
    (two Celery children opening a fresh journal together do). The mode is
    persistent, so it is switched only when not already WAL, and the switch is
    retried within the same bound as any other lock wait.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT
    delay = 0.005
    while True:
        try:
            (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE IF NOT EXISTS submissions "
        "(key TEXT PRIMARY KEY, task_id TEXT NOT NULL, recorded_at REAL NOT NULL)"
    )


class SqliteJournal:
    """A `Journal` in one SQLite file, shared by the processes of one host.

    WAL mode lets readers and the writer proceed together, and each record is
    committed at once (durable across a killed process; ``synchronous=NORMAL``
    may lose the last records on power loss). The object pickles as its path,
    so it can be passed to Ray actors and Celery workers; each process opens
    its own connection on first use.

    Args:
        path: the database file (created with its table when missing).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        self.path = os.fspath(path)
        if not self.path:
            raise ValueError("path must not be empty")
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0

    def _db(self) -> sqlite3.Connection:
        # A connection must not cross a fork: a child opens its own.
        if self._connection is None or self._pid != os.getpid():
            connection = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            try:
                _prepare(connection)
            except BaseException:
                connection.close()
                raise
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    def lookup(self, keys: Iterable[str]) -> dict[str, str]:
        """The task ids journaled for `keys`."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        with self._lock:
            db = self._db()
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(
                    db.execute(
                        f"SELECT key, task_id FROM submissions WHERE key IN ({marks})", chunk
                    ).fetchall()
                )
        return found

    def record(self, key: str, task_id: str) -> None:
        """Journal `key` -> `task_id`; the first record of a key wins."""
        with self._lock:
            self._db().execute(
                "INSERT OR IGNORE INTO submissions (key, task_id, recorded_at) VALUES (?, ?, ?)",
                (key, task_id, time.time()),
            )

    def entries(self) -> dict[str, str]:
        """Every journaled key and its task id (for reconciling or reporting)."""
        with self._lock:
            return dict(self._db().execute("SELECT key, task_id FROM submissions").fetchall())

    def close(self) -> None:
        """Close this process's connection (it reopens on next use)."""
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                connection.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"SqliteJournal({self.path!r})"
