"""Everything the ``stablebrowse`` command shows: consoles, panels, tables, status lines.

The commands (`stablebrowse_async._cli.app`) fetch; this module decides how
the answer looks. Every value that came from the user or the server enters a
renderable through `stablebrowse_async._cli.safe` (as a `rich.text.Text`,
never as markup); only this module's own labels and styles are trusted.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.highlighter import JSONHighlighter
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Task as ProgressTask
from rich.table import Table
from rich.text import Text

from stablebrowse_async import (
    ApiKey,
    CredentialStatus,
    SessionSummary,
    SessionTasks,
    StepSummary,
    Task,
    TaskStatus,
)

from . import safe

if TYPE_CHECKING:
    from .batch import BatchStats

__all__ = [
    "LiveStatus",
    "StepPrinter",
    "api_keys_table",
    "batch_progress",
    "batch_summary",
    "credentials_table",
    "err_console",
    "error_line",
    "json_view",
    "out_console",
    "print_json",
    "print_plain",
    "session_table",
    "sessions_table",
    "status_text",
    "step_line",
    "task_panel",
    "wait_status",
]


def out_console() -> Console:
    """The console for results (stdout)."""
    return Console(soft_wrap=False, highlight=False)


def err_console() -> Console:
    """The console for progress, notices and errors (stderr)."""
    return Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """`data` as indented JSON on stdout (exact, and inert on a terminal)."""
    sys.stdout.write(safe.json_text(data) + "\n")
    sys.stdout.flush()


def print_plain(value: str) -> None:
    """One line of plain text on stdout, without rich (for output meant to be piped)."""
    sys.stdout.write(safe.plain(value) + "\n")
    sys.stdout.flush()


def error_line(message: str) -> Text:
    """The one-line error the command prints on stderr before it exits."""
    return safe.compose("{label} {message}", label=Text("error:", "bold red"), message=message)


def fmt_time(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS``, or ``-`` when absent."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


_STATUS_STYLE = {
    TaskStatus.COMPLETED: "bold green",
    TaskStatus.FAILED: "bold red",
    TaskStatus.CANCELLED: "bold yellow",
    TaskStatus.RUNNING: "bold cyan",
    TaskStatus.PENDING: "cyan",
}


def status_text(status: TaskStatus) -> Text:
    """A task status, coloured (an unknown status the server invented is shown as it came)."""
    return safe.text(status.value, _STATUS_STYLE.get(status, "magenta"))


def json_view(data: Any) -> Text:
    """JSON data, indented and highlighted (`safe.json_text`, so no string can act)."""
    view = JSONHighlighter()(Text(safe.json_text(data)))
    view.no_wrap = True
    view.overflow = "fold"
    return view


def _value_view(value: Any) -> Text:
    if isinstance(value, (dict, list)):
        return json_view(value)
    return safe.text(value, multiline=True)


def step_line(step: StepSummary) -> Text:
    """One agent step: ``#3 click https://... ✓`` (the line ``--follow`` prints per step)."""
    mark = (
        Text("?", "dim")
        if step.success is None
        else Text("✓", "green")
        if step.success
        else Text("✗", "red")
    )
    return safe.compose(
        "#{n} {kind} {msg} {mark}",
        n="?" if step.n is None else step.n,
        kind=safe.text(step.type or "-", "bold"),
        msg=step.msg or "",
        mark=mark,
    )


def _lines(values: Iterable[Any]) -> Text:
    return Text("\n").join(safe.text(value) for value in values)


def task_panel(task: Task) -> Panel:
    """The panel ``run``, ``get`` and ``wait`` print for one task."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("task id", safe.text(task.task_id))
    grid.add_row("status", status_text(task.status))
    grid.add_row("session", safe.text(task.session_id or "-"))
    grid.add_row("end user", safe.text(task.end_user_id or "-"))
    if task.task:
        grid.add_row("task", safe.text(task.task, multiline=True))
    if task.total_steps is not None or task.duration_ms is not None:
        steps = "-" if task.total_steps is None else str(task.total_steps)
        secs = "-" if task.duration_ms is None else f"{task.duration_ms / 1000:.1f}s"
        grid.add_row("steps / time", f"{steps} / {secs}")
    if task.step_summaries:
        grid.add_row("last step", step_line(task.step_summaries[-1]))
    if task.visited_urls:
        grid.add_row("visited", _lines(task.visited_urls[:5]))
    if task.error:
        grid.add_row("error", safe.text(task.error, "red", multiline=True))
    if task.html_dump is not None:
        grid.add_row("html dump", f"{len(task.html_dump)} characters (use --json to get it)")
    parts: list[RenderableType] = [grid]
    if task.result is not None:
        parts.append(Panel(_value_view(task.result), title="result", title_align="left"))
    if task.structured_content is not None:
        parts.append(
            Panel(
                json_view(task.structured_content),
                title="structured content",
                title_align="left",
            )
        )
    return Panel(Group(*parts), title="StableBrowse task", title_align="left")


def wait_status(task: Task, elapsed: float) -> Text:
    """The spinner's line while a task runs: ``task ID running · 3 steps · 12s``."""
    steps = task.total_steps if task.total_steps is not None else len(task.step_summaries)
    return safe.compose(
        "task {task_id} {status} · {steps} step{s} · {elapsed:.0f}s",
        task_id=safe.text(task.task_id, "bold"),
        status=status_text(task.status),
        steps=steps,
        s="" if steps == 1 else "s",
        elapsed=elapsed,
    )


class LiveStatus:
    """The spinner's text: `wait_status` of the last record seen, redrawn on every refresh.

    Before the first record it shows `waiting` (``submitting``, ``task ID``).
    The command sets `task` from its ``on_update`` callback; the clock keeps
    moving between updates without any request.
    """

    def __init__(self, waiting: str) -> None:
        self.waiting = waiting
        self.task: Task | None = None
        self._started = time.monotonic()

    def __rich__(self) -> Text:
        elapsed = time.monotonic() - self._started
        if self.task is None:
            return safe.compose("{what} · {elapsed:.0f}s", what=self.waiting, elapsed=elapsed)
        return wait_status(self.task, elapsed)


class StepPrinter:
    """Prints each new step on stdout as it appears (``--follow``).

    On a terminal each step is a rich `step_line`; piped, it is the same line
    as one plain line of text, so ``stablebrowse run ... --follow | grep`` sees
    one line per step.
    """

    def __init__(self) -> None:
        self._console = out_console()

    def __call__(self, steps: Iterable[StepSummary]) -> None:
        for step in steps:
            line = step_line(step)
            if self._console.is_terminal:
                self._console.print(line)
            else:
                print_plain(line.plain)


def sessions_table(sessions: Iterable[SessionSummary]) -> Table:
    """``list``: one row per session."""
    rows = list(sessions)
    table = Table(title=f"{len(rows)} session(s)", title_justify="left")
    table.add_column("session id", no_wrap=True)
    for column in ("end user", "tasks", "created", "updated"):
        table.add_column(column, overflow="fold")
    for s in rows:
        table.add_row(
            safe.text(s.session_id),
            safe.text(s.end_user_id or "-"),
            "-" if s.task_count is None else str(s.task_count),
            fmt_time(s.created_at),
            fmt_time(s.updated_at),
        )
    return table


def session_table(found: SessionTasks) -> Table:
    """``session``: the session's tasks, oldest first, with their results or errors."""
    table = Table(title=safe.compose("session {id}", id=found.session_id), title_justify="left")
    table.add_column("task id", no_wrap=True)
    for column in ("status", "task", "result"):
        table.add_column(column, overflow="fold")
    for t in found.tasks:
        outcome = (
            safe.text(t.error, "red", limit=120)
            if t.error
            else safe.text("" if t.result is None else t.result, limit=120)
        )
        table.add_row(
            safe.text(t.task_id),
            status_text(t.status),
            safe.text(t.task or "", limit=80),
            outcome,
        )
    return table


def credentials_table(user: str, status: CredentialStatus) -> Table:
    """``credentials get``: which platforms are configured (flags only, never values)."""
    table = Table("platform", "configured", title=safe.compose("credentials of {user}", user=user))
    for platform, configured in sorted(status.platforms.items()):
        table.add_row(
            safe.text(platform), Text("yes", "green") if configured else Text("no", "dim")
        )
    return table


def api_keys_table(keys: Iterable[ApiKey]) -> Table:
    """``api-keys list``: key metadata (prefix, label, times), never a key."""
    table = Table(title="API keys")
    table.add_column("prefix", no_wrap=True)
    for column in ("label", "created", "last used", "revoked"):
        table.add_column(column)
    for k in keys:
        table.add_row(
            safe.text(k.prefix),
            safe.text(k.label or "-"),
            fmt_time(k.created_at),
            fmt_time(k.last_used_at),
            Text(fmt_time(k.revoked_at), "red") if k.is_revoked else "-",
        )
    return table


class _CountsColumn(ProgressColumn):
    """``✓ ok ✗ failed ⟳ n in flight``, from the bar's numeric fields (no markup)."""

    def render(self, task: ProgressTask) -> Text:
        fields = task.fields
        return Text.assemble(
            (f"✓ {fields['ok']}", "green"),
            " ",
            (f"✗ {fields['failed']}", "red"),
            " ",
            (f"⟳ {fields['in_flight']} in flight", "cyan"),
        )


class _LabelColumn(ProgressColumn):
    """A fixed label (the bar's columns take no text from the data)."""

    def __init__(self, label: Text) -> None:
        super().__init__()
        self.label = label

    def render(self, task: ProgressTask) -> Text:
        return self.label


def batch_progress(console: Console) -> Progress:
    """The ``batch`` progress bar; its task needs the fields ``ok``, ``failed``, ``in_flight``."""
    return Progress(
        SpinnerColumn(),
        _LabelColumn(Text("batch", "bold")),
        BarColumn(),
        MofNCompleteColumn(),
        _CountsColumn(),
        TimeElapsedColumn(),
        _LabelColumn(Text("ETA")),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def batch_summary(console: Console, stats: BatchStats, out: Path) -> None:
    """The human summary of a batch: counts, then the first failed lines."""
    skipped = (
        safe.compose(", {n} skipped (already in {out})", n=stats.skipped, out=str(out))
        if stats.skipped
        else Text()
    )
    if stats.resumed:
        skipped.append(f", {stats.resumed} in flight at the stop waited for (not resubmitted)")
    console.print(
        safe.compose(
            "{completed}, {failed}{skipped} in {seconds:.1f}s → {out}",
            completed=Text(f"{stats.completed} completed", "bold"),
            failed=Text(f"{stats.failed} failed", "bold red" if stats.failed else "green"),
            skipped=skipped,
            seconds=stats.wall_seconds,
            out=str(out),
        ),
        soft_wrap=True,
    )
    if stats.failed:
        kinds = ", ".join(f"{kind} {count}" for kind, count in stats.by_error.most_common())
        console.print(safe.compose("failures by kind: {kinds}", kinds=kinds), soft_wrap=True)
        table = Table("line", "error", "message", title="failed lines (first 20)")
        for line, kind, message in stats.failures:
            table.add_row(str(line), safe.text(kind), safe.text(message, limit=160))
        console.print(table)
        if stats.by_error.get("AmbiguousRequestError"):
            console.print(
                "AmbiguousRequestError lines may exist server-side: check `stablebrowse list` "
                "for their end users before resubmitting them.",
                soft_wrap=True,
                markup=False,
            )
