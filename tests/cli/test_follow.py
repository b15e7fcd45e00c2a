"""`stablebrowse run/wait --follow`: each step once, in order; the CLI polls exactly like the SDK."""

from __future__ import annotations

import asyncio
import io
import re

import pytest
from rich.console import Console

from stablebrowse_async import AsyncClient, StepSummary, Task, TaskStatus
from stablebrowse_async._cli import render
from stablebrowse_async.testing import EmulatorThread

from .conftest import Invoke

STEP = re.compile(r"^#(\d+) ")


def step_numbers(stdout: str) -> list[int]:
    return [int(m.group(1)) for line in stdout.splitlines() if (m := STEP.match(line))]


@pytest.mark.parametrize("fault", ["", "[[steps_fault=shuffle]]", "[[steps_fault=truncate]]"])
def test_run_follow_prints_each_step_once_in_order_then_the_panel(sb: Invoke, fault: str) -> None:
    result = sb("run", f"walk [[duration=0.5]] [[steps=7]] {fault}", "--end-user", "a", "--follow")
    assert result.exit_code == 0, result.stderr
    assert step_numbers(result.stdout) == [1, 2, 3, 4, 5, 6, 7]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("#1 ")  # piped: one plain line per step, before the panel
    assert "StableBrowse task" in result.stdout.split("#7 ", 1)[1]
    assert "completed" in result.stdout


def test_wait_follow_and_a_failed_task(sb: Invoke, emu: EmulatorThread) -> None:
    task = emu.create_task("x [[steps=4]] [[duration=0.4]] [[fail]]")
    result = sb("wait", str(task["taskId"]), "-f")
    assert result.exit_code == 1
    assert step_numbers(result.stdout) == [1, 2, 3, 4]
    assert "failed" in result.stdout


def test_follow_with_json_prints_only_the_record(sb: Invoke) -> None:
    result = sb("run", "walk [[steps=3]] [[duration=0.2]]", "--end-user", "a", "--json", "-f")
    assert result.exit_code == 0
    assert step_numbers(result.stdout) == []
    assert '"stepSummaries"' in result.stdout


def _task_gets(emu: EmulatorThread) -> int:
    return sum(1 for r in emu.requests if r.method == "GET" and r.path.startswith("/v1/tasks/"))


def test_stablebrowse_run_makes_no_more_gets_than_tasks_run(
    sb: Invoke, emu: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default schedule (no poll-interval override), a task past the old 2-s slices.
    monkeypatch.delenv("STABLEBROWSE_POLL_INTERVAL")
    text = "walk [[duration=2.6]] [[steps=3]]"
    emu.clear_requests()
    assert sb("run", text, "--end-user", "a").exit_code == 0
    cli = _task_gets(emu)

    async def library() -> None:
        async with AsyncClient(emu.api_key, base_url=emu.url) as client:
            await client.tasks.run(end_user_id="a", task=text)

    emu.clear_requests()
    asyncio.run(library())
    assert abs(cli - _task_gets(emu)) <= 1, (cli, _task_gets(emu))
    emu.clear_requests()
    assert sb("run", text, "--end-user", "a", "--follow").exit_code == 0
    assert abs(_task_gets(emu) - cli) <= 1


def test_steps_are_inert_text_on_a_terminal_and_piped(capsys: pytest.CaptureFixture[str]) -> None:
    hostile = StepSummary(
        n=1, type="[bold]act[/]", msg="\x1b[2J\x1b]8;;http://evil\x07x\nfake", success=True
    )
    render.StepPrinter()([hostile])
    piped = capsys.readouterr().out
    assert piped.count("\n") == 1 and "\x1b" not in piped and "\x07" not in piped
    assert "[bold]act[/]" in piped
    buffer = io.StringIO()
    printer = render.StepPrinter()
    printer._console = Console(file=buffer, force_terminal=True, width=200)
    printer([hostile])
    shown = buffer.getvalue()
    assert "\x1b[2J" not in shown and "\x1b]8" not in shown and "\x07" not in shown
    assert "[bold]act[/]" in shown  # markup shown, not interpreted


def test_the_spinner_line_counts_steps() -> None:
    live = render.LiveStatus("task \x1b[31mT")
    assert "\x1b" not in live.__rich__().plain
    live.task = Task(task_id="T", status=TaskStatus.RUNNING, total_steps=3)
    assert "running · 3 steps" in live.__rich__().plain
