"""CLI tests: a real emulator in a background thread, the command pointed at it by env vars."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner, Result

from stablebrowse_async.cli import app
from stablebrowse_async.testing import EmulatorThread


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(durations=(0.05, 0.2), seed=5) as emulator:
        yield emulator


@pytest.fixture
def cli_env(emu: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "STABLEBROWSE_API_KEY": emu.api_key,
        "STABLEBROWSE_BASE_URL": emu.url,
        "STABLEBROWSE_POLL_INTERVAL": "0.05",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STABLEBROWSE_DASHBOARD_TOKEN", raising=False)
    return env


class Invoke:
    """Run the command in-process, like a user at a shell would."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input)


@pytest.fixture
def sb(cli_env: dict[str, str]) -> Invoke:
    return Invoke()
