"""``stablebrowse batch``: a JSONL file of task requests through `tasks.run_many`.

Input: one JSON object per line with `tasks.submit`'s keyword names
(``end_user_id``, ``task``, ``session_id``, ``start_url``, ``schema``,
``max_steps``, ``include_html_dump``) or their camelCase spellings. Blank
lines are ignored. The file is streamed: lines are read as `run_many` asks
for them, never all at once.

Output: one JSON line per input line, appended and flushed as each outcome
arrives (completion order), keyed by the input's 1-based ``line`` number::

    {"line": 7, "ok": true, "task_id": "...", "session_id": "...", "end_user_id": "alice",
     "status": "completed", "result": ..., "structured_content": ..., "duration_ms": 1830}
    {"line": 8, "ok": false, ..., "error": {"type": "TaskFailedError", "message": "..."}}

``--resume`` reads the output first and skips every line already in it, so an
interrupted batch continues without resubmitting finished work. A crash can
leave a torn last line: it is ignored (that input line runs again).

Every accepted submission is also journaled, as soon as the API returns its
task id, to ``<out>.submitted`` (one ``{"line", "task_id", "end_user_id"}``
per line). On ``--resume``, a line that is in the journal but not in the
output was in flight when the batch stopped: its task is waited for with
`tasks.wait_many`, never submitted (and paid for) a second time.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import attrs
from rich.console import Console

from stablebrowse_async import (
    AmbiguousRequestError,
    AsyncClient,
    AuthenticationError,
    PermissionDeniedError,
    RateLimitError,
    Task,
    TaskOutcome,
    TaskRequest,
)
from stablebrowse_async import Progress as RunProgress
from stablebrowse_async._convert import to_camel

from . import render
from .exits import one_line

__all__ = [
    "BatchStats",
    "InputError",
    "journal_path",
    "parse_request",
    "read_done_lines",
    "read_journal",
    "run_batch",
]

#: Accepted input keys (both spellings) -> `TaskRequest` field names.
KEY_ALIASES: Mapping[str, str] = {
    **{field.name: field.name for field in attrs.fields(TaskRequest)},
    **{to_camel(field.name): field.name for field in attrs.fields(TaskRequest)},
}
_KEEP_FAILURES = 20


class InputError(Exception):
    """The batch cannot start (unreadable input, output exists without --resume, ...)."""


@attrs.define
class BatchStats:
    """What a batch did. `failures` holds the first few failed lines (line, type, message)."""

    total: int | None = None
    skipped: int = 0
    completed: int = 0
    failed: int = 0
    bad_lines: int = 0
    submitted: int = 0
    resumed: int = 0
    wall_seconds: float = 0.0
    by_error: Counter[str] = attrs.field(factory=Counter)
    failures: list[tuple[int, str, str]] = attrs.field(factory=list)
    fatal: BaseException | None = None

    @property
    def done(self) -> int:
        """Lines handled in this run (completed, failed or rejected as bad input)."""
        return self.completed + self.failed

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-able data."""
        return {
            "total": self.total,
            "skipped": self.skipped,
            "completed": self.completed,
            "failed": self.failed,
            "bad_lines": self.bad_lines,
            "submitted": self.submitted,
            "resumed": self.resumed,
            "wall_seconds": round(self.wall_seconds, 3),
            "errors": dict(self.by_error),
            "failures": [
                {"line": line, "type": kind, "message": message}
                for line, kind, message in self.failures
            ],
        }


def parse_request(text: str, default_end_user: str | None = None) -> TaskRequest:
    """One input line -> a validated `TaskRequest`; `ValueError`/`TypeError` say what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON: {error.msg} (column {error.colno})") from None
    if not isinstance(data, dict):
        raise TypeError(f"a line must be a JSON object, got {type(data).__name__}")
    fields: dict[str, Any] = {}
    unknown = []
    for key, value in data.items():
        name = KEY_ALIASES.get(key)
        if name is None:
            unknown.append(key)
        elif name in fields:
            raise ValueError(f"field {name!r} given twice (both spellings)")
        else:
            fields[name] = value
    if unknown:
        raise TypeError(f"unknown field(s): {', '.join(sorted(unknown))}")
    if "end_user_id" not in fields and default_end_user is not None:
        fields["end_user_id"] = default_end_user
    for required in ("end_user_id", "task"):
        if required not in fields:
            raise ValueError(f"missing required field {required!r}")
    return TaskRequest(**fields)


def _line_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each JSON object with an integer ``line`` in a JSONL file.

    Torn, foreign or non-object lines are skipped; a missing file yields nothing.
    """
    if not path.exists():
        return
    with path.open("rb") as handle:
        for raw in handle:
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            line = record.get("line") if isinstance(record, dict) else None
            if isinstance(line, int) and not isinstance(line, bool):
                yield line, record


def read_done_lines(path: Path) -> set[int]:
    """Line numbers already recorded in an output file (torn or foreign lines are ignored)."""
    return {line for line, _ in _line_records(path)}


def journal_path(out: Path) -> Path:
    """Where the batch writing `out` journals its submitted task ids."""
    return out.with_name(out.name + ".submitted")


def read_journal(path: Path) -> dict[int, tuple[str, str | None]]:
    """Line number -> (task id, end user id) from a submission journal (torn lines ignored)."""
    found: dict[int, tuple[str, str | None]] = {}
    for line, entry in _line_records(path):
        task_id, end_user = entry.get("task_id"), entry.get("end_user_id")
        if isinstance(task_id, str):
            found[line] = (task_id, end_user if isinstance(end_user, str) else None)
    return found


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        if handle.tell() == 0:
            return True
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"


def _count_pending(path: Path, done: set[int]) -> tuple[int, int]:
    """(non-blank lines not yet done, non-blank lines already done), streaming the file."""
    pending = skipped = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            if number in done:
                skipped += 1
            else:
                pending += 1
    return pending, skipped


def task_fields(task: Task | None) -> dict[str, Any]:
    """The output record's task part (None values when no task is known)."""
    if task is None:
        return {
            "task_id": None,
            "session_id": None,
            "status": None,
            "result": None,
            "structured_content": None,
        }
    return {
        "task_id": task.task_id,
        "session_id": task.session_id,
        "status": task.status.value,
        "result": task.result,
        "structured_content": task.structured_content,
        "duration_ms": task.duration_ms,
    }


def outcome_record(line: int, outcome: TaskOutcome) -> dict[str, Any]:
    """The output JSON object for one outcome."""
    error = outcome.error
    task = outcome.task if outcome.task is not None else getattr(error, "task", None)
    request = outcome.request
    record: dict[str, Any] = {"line": line, "ok": error is None}
    record.update(task_fields(task if isinstance(task, Task) else None))
    if isinstance(request, TaskRequest):
        record["end_user_id"] = request.end_user_id
    if error is not None:
        record["error"] = {"type": type(error).__name__, "message": one_line(str(error))}
        if isinstance(error, AmbiguousRequestError):
            record["error"]["reconcile"] = (
                "the submission was sent but its answer was lost: the task may exist. "
                "Look for it (stablebrowse list / session ID) before resubmitting this line"
            )
    return record


def _is_fatal(error: BaseException | None) -> bool:
    """Errors every remaining line would hit too: stop rather than record them all."""
    if isinstance(error, (AuthenticationError, PermissionDeniedError)):
        return True
    return isinstance(error, RateLimitError) and error.limit is not None


def _prepare(
    source: Path | str, out: Path, *, resume: bool, overwrite: bool
) -> tuple[Path | None, set[int], dict[int, tuple[str, str | None]], BatchStats]:
    """Check the paths, read what --resume skips or waits for, count the pending lines."""
    in_path = None if str(source) == "-" else Path(source)
    if in_path is not None and not in_path.is_file():
        raise InputError(f"input file not found: {in_path}")
    if out.exists() and out.stat().st_size > 0 and not (resume or overwrite):
        raise InputError(
            f"{out} already exists: pass --resume to continue it, or --overwrite to start over"
        )
    done = read_done_lines(out) if resume else set()
    if resume and out.exists() and not _ends_with_newline(out):
        with out.open("ab") as fix:  # a torn last line: keep it apart from the next record
            fix.write(b"\n")
    # Submitted before the stop but not recorded: wait for these, never resubmit them.
    in_flight = (
        {line: entry for line, entry in read_journal(journal_path(out)).items() if line not in done}
        if resume
        else {}
    )
    stats = BatchStats()
    if in_path is not None:
        stats.total, stats.skipped = _count_pending(in_path, done)
    return in_path, done, in_flight, stats


async def run_batch(
    client: AsyncClient,
    source: Path | str,
    out: Path,
    *,
    concurrency: int = 64,
    max_in_flight: int = 1000,
    submit_rate: float | None = None,
    resume: bool = False,
    overwrite: bool = False,
    poll_timeout: float | None = None,
    default_end_user: str | None = None,
    console: Console | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> BatchStats:
    """Run every pending line of `source` (a path, or ``"-"`` for stdin) into `out`.

    Returns the stats; a fatal error (auth, quota) stops the batch and is on
    `BatchStats.fatal` (the lines it hit are not recorded, so ``--resume``
    runs them again). `console` shows a progress bar when given.
    """
    in_path, done, in_flight, stats = _prepare(source, out, resume=resume, overwrite=overwrite)
    line_of: dict[int, int] = {}
    started = time.monotonic()

    with ExitStack() as stack:
        writer: IO[str] = stack.enter_context(
            out.open("a" if resume else "w", encoding="utf-8", newline="\n")
        )
        journal: IO[str] = stack.enter_context(
            journal_path(out).open("a" if resume else "w", encoding="utf-8", newline="\n")
        )
        reader: IO[str] = (
            sys.stdin if in_path is None else stack.enter_context(in_path.open(encoding="utf-8"))
        )
        progress = (
            stack.enter_context(render.batch_progress(console)) if console is not None else None
        )
        bar = (
            progress.add_task("batch", total=stats.total, ok=0, failed=0, in_flight=0)
            if progress is not None
            else None
        )

        def write(record: dict[str, Any]) -> None:
            writer.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            writer.flush()
            if on_record is not None:
                on_record(record)

        def note_failure(line: int, kind: str, message: str) -> None:
            stats.failed += 1
            stats.by_error[kind] += 1
            if len(stats.failures) < _KEEP_FAILURES:
                stats.failures.append((line, kind, message))

        last = RunProgress(submitted=0, completed=0, failed=0, in_flight=0, started=0)

        def refresh() -> None:
            if progress is not None and bar is not None:
                progress.update(
                    bar,
                    completed=stats.done,
                    ok=stats.completed,
                    failed=stats.failed,
                    in_flight=last.in_flight,
                )

        def on_progress(counts: RunProgress) -> None:
            nonlocal last
            last = counts
            stats.submitted = counts.submitted
            refresh()

        def on_submitted(index: int, task: Task) -> None:
            entry = {
                "line": line_of[index],
                "task_id": task.task_id,
                "end_user_id": task.end_user_id,
            }
            journal.write(json.dumps(entry, ensure_ascii=False) + "\n")
            journal.flush()

        def record_outcome(line: int, outcome: TaskOutcome, end_user: str | None = None) -> bool:
            """Write one outcome; False when it is fatal (then nothing is written)."""
            if _is_fatal(outcome.error):
                stats.fatal = outcome.error
                return False
            record = outcome_record(line, outcome)
            if end_user is not None:
                record["end_user_id"] = end_user
            if outcome.error is None:
                stats.completed += 1
            else:
                note_failure(line, record["error"]["type"], record["error"]["message"])
            write(record)
            refresh()
            return True

        if in_flight:
            await _finish_in_flight(client, in_flight, record_outcome, concurrency, poll_timeout)
            stats.resumed = len(in_flight)
            if stats.fatal is not None:
                stats.wall_seconds = time.monotonic() - started
                return stats

        def requests() -> Iterator[TaskRequest]:
            index = 0
            for number, text in enumerate(reader, start=1):
                if number in done or number in in_flight or not text.strip():
                    continue
                try:
                    request = parse_request(text, default_end_user)
                except (TypeError, ValueError) as error:
                    message = one_line(str(error))
                    stats.bad_lines += 1
                    note_failure(number, "BadLine", message)
                    write(
                        {
                            "line": number,
                            "ok": False,
                            **task_fields(None),
                            "error": {"type": "BadLine", "message": message},
                        }
                    )
                    refresh()
                    continue
                line_of[index] = number
                index += 1
                yield request

        batch = client.tasks.run_many(
            requests(),
            concurrency=concurrency,
            max_in_flight=max_in_flight,
            submit_rate=submit_rate,
            poll_timeout=poll_timeout,
            on_progress=on_progress,
            on_submitted=on_submitted,
        )
        async with batch:
            async for outcome in batch:
                if not record_outcome(line_of.pop(outcome.index), outcome):
                    break
    stats.wall_seconds = time.monotonic() - started
    return stats


async def _finish_in_flight(
    client: AsyncClient,
    in_flight: Mapping[int, tuple[str, str | None]],
    record_outcome: Callable[[int, TaskOutcome, str | None], bool],
    concurrency: int,
    poll_timeout: float | None,
) -> None:
    """Wait for the tasks a stopped batch had submitted; record each like a fresh outcome.

    One `tasks.wait_many` over the journaled ids: the fan-out engine of
    `run_many`, not a coroutine per task.
    """
    lines = sorted(in_flight)
    batch = client.tasks.wait_many(
        [in_flight[line][0] for line in lines], concurrency=concurrency, poll_timeout=poll_timeout
    )
    async with batch:
        async for outcome in batch:
            line = lines[outcome.index]
            resumed = TaskOutcome(line, None, task=outcome.task, error=outcome.error)
            if not record_outcome(line, resumed, in_flight[line][1]):
                break  # fatal (auth, quota): the rest would fail too
