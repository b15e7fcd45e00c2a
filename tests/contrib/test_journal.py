"""`SqliteJournal` and `row_key`: what a re-run finds, from any process of the host."""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest

from stablebrowse_async import TaskRequest
from stablebrowse_async.contrib.journal import Journal, SqliteJournal, row_key


def test_records_are_found_and_the_first_record_wins(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    assert isinstance(journal, Journal)
    assert journal.lookup([]) == {}
    journal.record("a", "task_1")
    journal.record("a", "task_2")  # a second acceptance of the same row is ignored
    keys = [f"k{i}" for i in range(1200)]  # more than one IN (...) chunk
    for i, key in enumerate(keys):
        journal.record(key, f"t{i}")
    found = journal.lookup(["a", "missing", *keys, "a"])
    assert found["a"] == "task_1" and "missing" not in found
    assert len(found) == 1201 and found["k1199"] == "t1199"
    assert journal.entries() == found
    journal.close()
    journal.close()
    assert journal.lookup(["a"]) == {"a": "task_1"}  # reopens on use
    journal.close()


def test_it_pickles_as_its_path_and_is_shared_between_processes(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    journal.record("mine", "task_1")
    copy = pickle.loads(pickle.dumps(journal))
    assert repr(copy) == repr(journal) == f"SqliteJournal({str(tmp_path / 'j.sqlite')!r})"
    code = (
        "import pickle, sys; j = pickle.loads(sys.stdin.buffer.read()); "
        "print(j.lookup(['mine'])['mine']); j.record('theirs', 'task_2'); j.close()"
    )
    child = subprocess.run(
        [sys.executable, "-c", code],
        input=pickle.dumps(journal),
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert child.stdout.decode().strip() == "task_1"
    assert copy.lookup(["theirs"]) == {"theirs": "task_2"}
    copy.close()
    journal.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    journal.record("before", "task_0")
    pid = os.fork()
    if pid == 0:  # the child: the parent's connection must not be used here
        try:
            journal.record("child", "task_c")
            os._exit(0 if journal.lookup(["before"]) == {"before": "task_0"} else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert journal.lookup(["child"]) == {"child": "task_c"}
    journal.close()


def test_opening_waits_for_a_writer_that_holds_the_file(tmp_path: Path) -> None:
    # Two Celery children opening a fresh journal together: SQLite refuses the
    # switch to WAL at once, not after its busy timeout, while another connection
    # holds a write lock in rollback mode. The CI run that found it failed a task
    # with "database is locked".
    path = tmp_path / "j.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE other (x)")
    holder.execute("BEGIN")
    holder.execute("INSERT INTO other VALUES (1)")
    release = threading.Timer(0.2, holder.execute, ("COMMIT",))
    release.start()
    journal = SqliteJournal(path)
    try:
        journal.record("a", "task_1")
        assert journal.entries() == {"a": "task_1"}
        with closing(sqlite3.connect(path)) as fresh:
            assert fresh.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        release.join()
        journal.close()
        holder.close()


def test_opening_gives_up_on_other_errors_and_closes_its_connection(tmp_path: Path) -> None:
    (tmp_path / "not-a-db.sqlite").write_bytes(b"this is not a database, " * 100)
    journal = SqliteJournal(tmp_path / "not-a-db.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        journal.lookup(["a"])
    assert journal._connection is None


def test_bad_paths_are_refused() -> None:
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike"):
        SqliteJournal(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path must not be empty"):
        SqliteJournal("")


def test_row_key_is_the_key_column_else_a_stable_hash_of_the_request() -> None:
    request = TaskRequest(end_user_id="u", task="t", schema={"b": 1, "a": [1, 2]})
    reordered = TaskRequest(end_user_id="u", task="t", schema={"a": [1, 2], "b": 1})
    assert row_key({"key": 7}, request, "key") == "key:7"
    assert row_key({"id": "x"}, request, "id") == "key:x"
    hashed = row_key({"key": None}, request, "key")
    assert hashed.startswith("sha256:") and len(hashed) == 7 + 64
    assert row_key({}, reordered, None) == hashed
    assert row_key({}, TaskRequest(end_user_id="u", task="other"), None) != hashed
