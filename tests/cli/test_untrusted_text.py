"""Untrusted text never drives the terminal: every printing command, fed hostile data.

Task texts, results, errors, step messages, labels and ids come from end users
and web pages. Whatever they hold (rich markup, escape sequences, control and
bidi characters, replaced lone surrogates, very long lines), each command
exits with its documented code, prints no traceback, shows the brackets
literally, and writes no ESC / BEL / CR (nor any other control character)
that came from the data: on a terminal (rich forced into terminal mode in
process, and a real pseudo-terminal in a subprocess) and piped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import io
import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rich.console import Console

from stablebrowse_async import PollSchedule
from stablebrowse_async._text import UNSAFE_CHARACTERS
from stablebrowse_async.testing import EmulatorThread, Outcome

from .conftest import Invoke

#: Fixed at the start of every injected value: must come out exactly like this.
MARK = "[/]sb[b]"

#: The pieces an attacker (or an ordinary web page) would use.
FRAGMENTS = [
    "[/]",
    "[/bold]",
    "[bold red]loud",
    "[link=file:///etc/passwd]click[/link]",
    "[[duration=6]]",
    ":smile:",
    "\x1b[2J",
    "\x1b[31mred",
    "\x1b]0;pwned\x07",
    "\x1b]8;;file:///etc/passwd\x1b\\link\x1b]8;;\x1b\\",
    "a\rb",
    "x\x08y",
    "\x07",
    "\x00",
    "\x7f",
    "\x9b2J",
    "\u202eevil",
    "\u2066isolate\u2069",
    "\u200f",
    "\u2028",
    "\n2026-01-01 INFO forged line",
    "\t",
    "%s %(x)s {0}",
    "\\x1b",
    "é 中 😀 \ufffd",
]

# What rich itself writes on a terminal: colours, and the live display's cursor
# moves. Everything else that is a control character came from the data.
_RICH_CONTROLS = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\x1b\[2K|\x1b\[1A|\r")
_UNSAFE_OUTPUT = re.compile(
    "[" + UNSAFE_CHARACTERS.replace("\x00-\x1f", "\x00-\x09\x0b-\x1f") + "]"
)
_FAST_POLLS = PollSchedule(first=0.01, factor=1.5, max_interval=0.05, jitter=0.0)


def _replace_surrogates(text: str) -> str:
    """What a UTF-8 channel makes of lone surrogates: U+FFFD replacement characters."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


_piece = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.text(
        st.characters(max_codepoint=0x2100, categories=["Cc", "Cf", "Zl", "Zp", "Ps", "Pe", "L"]),
        max_size=12,
    ),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "[/]", "\x1b[2J"]), st.integers(500, 1500)),
)
hostile = st.lists(_piece, min_size=1, max_size=6).map(lambda p: _replace_surrogates("".join(p)))


@dataclasses.dataclass
class Payload:
    """One example: where each hostile value goes, and how the emulator gets it."""

    task: str
    result: str
    error: str | None
    step: str
    label: str
    user: str
    key: str
    by_directive: bool

    def task_text(self) -> str:
        """The text submitted: with directives when the emulator is scripted by text."""
        if not self.by_directive:
            return self.task
        text = _no_directives(self.task)  # only our own directives count
        directives = f" [[duration=0]] [[result={self.result}]]"
        if self.error is not None:
            directives += f" [[fail={self.error}]]"
        return text + directives

    def outcome(self) -> Outcome:
        """The scripted outcome (the emulator's script mode)."""
        return Outcome(
            duration=0.0,
            status="failed" if self.error is not None else "completed",
            result={"text": self.result, self.result[:40]: [self.step]},
            error=self.error,
            steps=2,
            visited_urls=["https://example.com/" + self.step],
            structured_content={"value": self.result},
        )


def _no_directives(text: str) -> str:
    while "[[" in text:
        text = text.replace("[[", "[ [")
    return text


def _directive_safe(text: str) -> str:
    # A [[result=...]] value ends at the first "]" and is trimmed by the emulator.
    return MARK.replace("]", ")") + text.replace("]", ")").strip()


@st.composite
def payloads(draw: st.DrawFn) -> Payload:
    by_directive = draw(st.booleans())
    fails = draw(st.booleans())
    if by_directive:
        result = _directive_safe(draw(hostile))
        error = _directive_safe(draw(hostile)) if fails else None
    else:
        result = MARK + draw(hostile)
        error = MARK + draw(hostile) if fails else None
    return Payload(
        task=MARK + draw(hostile),
        result=result,
        error=error,
        step=MARK + draw(hostile),
        label=MARK + draw(hostile)[:100],
        user=MARK + draw(hostile)[:200],
        key=MARK + draw(hostile)[:100],
        by_directive=by_directive,
    )


def _shown(output: str, terminal: bool) -> str:
    """The output with rich's own control sequences removed (on a terminal)."""
    return _RICH_CONTROLS.sub("", output) if terminal else output


def _assert_inert(output: str, terminal: bool, what: str) -> str:
    assert "Traceback" not in output, (what, output[-2000:])
    shown = _shown(output, terminal)
    leaked = _UNSAFE_OUTPUT.search(shown)
    assert leaked is None, (what, repr(shown[max(leaked.start() - 60, 0) : leaked.end() + 60]))
    return shown


def _load_demo() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"
    spec = importlib.util.spec_from_file_location("stablebrowse_demo", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    return _load_demo()


def _set_mode(monkeypatch: pytest.MonkeyPatch, terminal: bool) -> None:
    """Rich's own switches: a terminal that understands escapes, or a pipe."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1" if terminal else "0")
    monkeypatch.setenv("TTY_INTERACTIVE", "1" if terminal else "0")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("FORCE_COLOR", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


def _check(
    sb: Invoke, terminal: bool, expected: int, *args: str, contains_mark: bool = True
) -> str:
    result = sb(*args)
    what = f"{args[0]} ({'terminal' if terminal else 'piped'})"
    output = result.stdout + result.stderr
    assert result.exit_code == expected, (what, result.exit_code, output[-2000:])
    assert result.exception is None or isinstance(result.exception, SystemExit), what
    shown = _assert_inert(output, terminal, what)
    if contains_mark:
        assert MARK in shown, (what, shown[:2000])
    return shown


_FIXED = MARK + "".join(FRAGMENTS)


@settings(
    max_examples=8,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(payload=payloads())
@example(  # the emulator scripted by text directives; the task fails
    payload=Payload(
        task=_FIXED,
        result=_directive_safe(_FIXED),
        error=_directive_safe("x" * 3000 + _FIXED),
        step=_FIXED,
        label=_FIXED[:100],
        user=_FIXED[:200],
        key=_FIXED[:100],
        by_directive=True,
    )
)
@example(  # the emulator scripted in code (JSON result, step messages); the task completes
    payload=Payload(
        task=_FIXED + "[/]" * 1000,
        result=_FIXED,
        error=None,
        step=_FIXED,
        label=_FIXED[:100],
        user=_FIXED[:200],
        key=_FIXED[:100],
        by_directive=False,
    )
)
def test_every_printing_command_shows_hostile_text_literally_and_inertly(
    payload: Payload,
    sb: Invoke,
    emu: EmulatorThread,
    demo: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    emu.set_script(None if payload.by_directive else (lambda body: payload.outcome()))
    failed = payload.error is not None
    task_exit = 1 if failed else 0
    expected_result = payload.result if payload.by_directive else payload.outcome().result

    # --json: exact JSON of what the server holds, and nothing a terminal would obey.
    _set_mode(monkeypatch, terminal=True)
    as_json = sb("run", payload.task_text(), "--end-user", payload.user, "--json")
    assert as_json.exit_code == task_exit, as_json.output[-2000:]
    assert _UNSAFE_OUTPUT.search(as_json.stdout) is None
    record = json.loads(as_json.stdout)
    assert record["task"] == payload.task_text()
    assert record["endUserId"] == payload.user
    assert record["result"] == expected_result
    assert record.get("error") == payload.error
    task_id, session_id = record["taskId"], record["sessionId"]

    emu.mint_api_key(label=payload.label)
    work = tmp_path_factory.mktemp("batch")
    lines = work / "tasks.jsonl"
    lines.write_text(
        json.dumps({"end_user_id": payload.user, "task": payload.task_text()})
        + "\n"
        + json.dumps({"end_user_id": "u", "task": "t", payload.key: 1})  # a bad line
        + "\n",
        encoding="utf-8",
    )

    for terminal in (True, False):
        _set_mode(monkeypatch, terminal)
        shown = _check(
            sb, terminal, task_exit, "run", payload.task_text(), "--end-user", payload.user
        )
        if "\x1b" in payload.task:
            assert "\\x1b" in shown  # shown, not obeyed
        _check(sb, terminal, 0, "get", task_id)
        _check(sb, terminal, task_exit, "wait", task_id)
        _check(sb, terminal, 4, "get", payload.key)  # the not-found error echoes the id
        _check(sb, terminal, 0, "list", "--limit", "3")
        _check(sb, terminal, 0, "session", session_id)
        out = work / f"results-{terminal}.jsonl"
        _check(sb, terminal, 1, "batch", str(lines), "--out", str(out), "--no-progress")
        _check(sb, terminal, 0, "credentials", "set", payload.user, "--reddit-session", "cookie")
        _check(sb, terminal, 0, "credentials", "get", payload.user)
        _check(sb, terminal, 0, "--api-key", emu.dashboard_token, "api-keys", "list")
        _check_demo(demo, payload, work, terminal)


def _check_demo(demo: ModuleType, payload: Payload, work: Path, terminal: bool) -> None:
    """The demo's report (progress, summary, samples) over the same hostile tasks."""
    tasks = work / f"demo-{terminal}.jsonl"
    text = _no_directives(payload.task)
    result = _directive_safe(payload.step)
    tasks.write_text(
        json.dumps({"end_user_id": "u", "task": f"{text} [[duration=0]] [[result={result}]]"})
        + "\n"
        + json.dumps({"end_user_id": "u", "task": f"{text} [[duration=0]] [[fail={result}]]"})
        + "\n",
        encoding="utf-8",
    )
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=terminal, force_interactive=terminal, width=200)
    code = asyncio.run(
        demo.run_demo(
            console,
            tasks,
            work / f"demo-{terminal}-out.jsonl",
            durations=(0.0, 0.0),
            polls=_FAST_POLLS,
        )
    )
    assert code == 0
    shown = _assert_inert(buffer.getvalue(), terminal, f"demo ({terminal})")
    assert MARK.replace("]", ")") in shown and "Summary" in shown


# -- a real pseudo-terminal, and a real pipe ------------------------------------------------

NASTY = (
    "compare [/] prices [bold]x[/bold] [link=file:///etc/passwd]L[/link] "
    "\x1b[2J \x1b]0;pwned\x07 a\rb\x08 \u202eevil \x9b31m [[duration=0]]"
)
CLI = [sys.executable, "-m", "stablebrowse_async.cli"]


def _env(emu: EmulatorThread) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STABLEBROWSE_")
        and k not in {"FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"}
    }
    env.update(
        STABLEBROWSE_API_KEY=emu.api_key,
        STABLEBROWSE_BASE_URL=emu.url,
        STABLEBROWSE_POLL_INTERVAL="0.05",
        TERM="xterm-256color",
        COLUMNS="160",
        LINES="40",
    )
    return env


def _on_a_pty(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run the command with stdout and stderr on a new pseudo-terminal; all it wrote."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def nasty_emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(durations=(0.3, 0.3), seed=7) as emulator:
        emulator.set_script(
            lambda body: Outcome(
                duration=0.3,
                status="failed" if "fail" in body["task"] else "completed",
                result=NASTY + "\nsecond line",
                error="broke on " + NASTY if "fail" in body["task"] else None,
                visited_urls=["https://example.com/" + NASTY],
            )
        )
        yield emulator


@pytest.mark.parametrize("task", ["ok " + NASTY, "fail " + NASTY], ids=["completed", "failed"])
def test_run_on_a_real_terminal_and_piped_shows_the_data_inertly(
    nasty_emu: EmulatorThread, task: str
) -> None:
    env = _env(nasty_emu)
    args = [*CLI, "run", task, "--end-user", "alice [/]\x1b[31m"]
    expected = 1 if task.startswith("fail") else 0
    code, output = _on_a_pty(args, env)
    assert code == expected, output[-2000:]
    assert "\x1b[?25l" in output  # a terminal indeed: rich hid the cursor for the spinner
    shown = _assert_inert(output, True, "run on a pty")
    assert "compare [/] prices [bold]x[/bold]" in shown
    assert "\\x1b[2J" in shown and "\\u202e" in shown

    piped = subprocess.run(args, env=env, capture_output=True, timeout=60)
    assert piped.returncode == expected, piped.stderr[-2000:]
    output = (piped.stdout + piped.stderr).decode("utf-8")
    shown = _assert_inert(output, False, "run piped")
    assert "\x1b" not in output  # piped: not even rich's colours
    assert "compare [/] prices [bold]x[/bold]" in shown


def test_batch_progress_and_summary_on_a_real_terminal(
    nasty_emu: EmulatorThread, tmp_path: Path
) -> None:
    source = tmp_path / "tasks.jsonl"
    source.write_text(
        "".join(
            json.dumps({"end_user_id": "u", "task": f"{kind} {n} {NASTY}"}) + "\n"
            for n, kind in enumerate(["ok", "fail", "ok"])
        )
        + json.dumps({"end_user_id": "u", "task": "t", NASTY: 1})
        + "\n",
        encoding="utf-8",
    )
    code, output = _on_a_pty(
        [*CLI, "batch", str(source), "--out", str(tmp_path / "out.jsonl")], _env(nasty_emu)
    )
    assert code == 1, output[-2000:]
    shown = _assert_inert(output, True, "batch on a pty")
    assert "2 completed" in shown and "2 failed" in shown
    assert "[link=file:///etc/passwd]" in shown  # the bad line's unknown field, literally
