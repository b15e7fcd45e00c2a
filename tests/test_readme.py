"""Every ```python block of the README runs against the emulator (skipped ones say why)."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stablebrowse_async.testing import EmulatorThread

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(
    r"(?:<!--\s*readme-test:\s*skip(?P<reason>[^>]*?)\s*-->\s*\n)?```python\n(?P<code>.*?)^```",
    re.S | re.M,
)
MAX_SKIPPED = 4


def _blocks() -> list[Any]:
    text = README.read_text(encoding="utf-8")
    params = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("code")) + 1
        reason = match.group("reason")
        marks = [pytest.mark.skip(reason=f"README: {reason.strip()}")] if reason is not None else []
        params.append(pytest.param(match.group("code"), line, id=f"line{line}", marks=marks))
    return params


BLOCKS = _blocks()


@pytest.fixture(scope="module")
def readme_emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(durations=(0.05, 0.3), seed=1) as emulator:
        yield emulator


def test_readme_opens_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8").splitlines()[:6]
    assert head[0] == "# stablebrowse-async"
    assert head[2] == "```sh"
    assert head[3].startswith("make demo")
    assert head[4].startswith("make test")


def test_only_a_few_blocks_are_skipped() -> None:
    skipped = [p for p in BLOCKS if p.marks]
    assert len(BLOCKS) - len(skipped) >= 8
    assert len(skipped) <= MAX_SKIPPED


@pytest.mark.parametrize(("code", "line"), BLOCKS)
def test_readme_block_runs(
    code: str,
    line: int,
    readme_emulator: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    if re.search(r"^import ray$", code, re.M):
        request.getfixturevalue("ray_cluster")  # the session's one local Ray (tests/conftest.py)
    monkeypatch.setenv("STABLEBROWSE_API_KEY", readme_emulator.api_key)
    monkeypatch.setenv("STABLEBROWSE_BASE_URL", readme_emulator.url)
    # A notebook cell may `await` at its top level: such a block runs in a new loop.
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    compiled = compile(code, f"README.md (block at line {line})", "exec", flags=flags)
    if compiled.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(compiled, {"__name__": "__main__"}))
    else:
        exec(compiled, {"__name__": "__main__"})
