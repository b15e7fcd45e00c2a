"""What the commands print for richer records, and the exit code of every kind of failure."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stablebrowse_async import cli
from stablebrowse_async.sync import Client
from stablebrowse_async.testing import EmulatorThread, Fault, Outcome

from .conftest import Invoke


def _submit(emu: EmulatorThread, text: str) -> str:
    with Client(emu.api_key, base_url=emu.url) as client:
        return client.tasks.submit(end_user_id="alice", task=text).task_id


# -- what is printed ----------------------------------------------------------------------


def test_run_panel_shows_structured_content_html_size_and_visited_pages(
    sb: Invoke, tmp_path: Path
) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"price": {"type": "integer"}}}))
    result = sb(
        "run",
        "Price please [[steps=3]]",
        "--end-user",
        "alice",
        "--start-url",
        "https://shop.example",
        "--schema",
        str(schema),
        "--html",
    )
    assert result.exit_code == 0, result.stderr
    assert "structured content" in result.stdout
    assert '"price"' in result.stdout
    assert "html dump" in result.stdout and "characters (use --json to get it)" in result.stdout
    assert "https://shop.example" in result.stdout  # the visited pages
    assert "3 /" in result.stdout  # steps / time


def test_run_panel_pretty_prints_a_json_result(sb: Invoke, emu: EmulatorThread) -> None:
    emu.set_script(lambda body: Outcome(duration=0.05, result={"headline": "Rust 2.0", "rank": 1}))
    result = sb("run", "Top story as JSON", "--end-user", "alice")
    assert result.exit_code == 0, result.stderr
    assert '"headline": "Rust 2.0"' in result.stdout
    assert '"rank": 1' in result.stdout


def test_get_shows_a_running_task_without_result_or_time(sb: Invoke, emu: EmulatorThread) -> None:
    task_id = _submit(emu, "Slow one [[duration=60]]")
    result = sb("get", task_id)
    assert result.exit_code == 0, result.stderr
    assert task_id in result.stdout
    assert "pending" in result.stdout or "running" in result.stdout
    assert "result" not in result.stdout
    (steps,) = [line for line in result.stdout.splitlines() if "steps / time" in line]
    assert steps.rstrip("│ ").endswith("/ -")  # no duration yet


def test_session_json_is_the_wire_record(sb: Invoke) -> None:
    first = sb("run", "Open the page", "--end-user", "alice", "--json")
    session_id = json.loads(first.stdout)["sessionId"]
    shown = sb("session", session_id, "--json")
    assert shown.exit_code == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["sessionId"] == session_id
    assert [t["task"] for t in data["tasks"]] == ["Open the page"]


def test_api_keys_list_table_marks_revoked_keys(sb: Invoke, emu: EmulatorThread) -> None:
    live = emu.mint_api_key(label="ci-live")
    gone = emu.mint_api_key(label="ci-gone")
    emu.revoke_api_key(gone)
    result = sb("--api-key", emu.dashboard_token, "api-keys", "list")
    assert result.exit_code == 0, result.stderr
    rows = {
        line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "ci-" in line
    }
    assert set(rows) == {live[:16], gone[:16]}
    assert rows[live[:16]].rstrip("│ ").endswith("-")  # not revoked
    assert not rows[gone[:16]].rstrip("│ ").endswith("-")  # the revocation time
    assert live not in result.stdout and gone not in result.stdout  # never the full key


# -- bad input --------------------------------------------------------------------------


def test_global_options_are_validated(sb: Invoke) -> None:
    for args in (["--timeout", "0"], ["--max-retries", "-1"], ["--poll-interval", "0"]):
        result = sb(*args, "list")
        assert result.exit_code == 2, args
        assert "must be > 0" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "invalid JSON"), ("[1, 2]", "expected a JSON object")],
    ids=["invalid-json", "not-an-object"],
)
def test_a_bad_schema_file_exits_2_before_any_request(
    sb: Invoke, tmp_path: Path, emu: EmulatorThread, content: str, message: str
) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(content)
    result = sb("run", "x", "--end-user", "a", "--schema", str(schema))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --schema: {message}")
    assert emu.requests == []


def test_credentials_from_file_must_hold_strings_and_the_value_is_not_echoed(
    sb: Invoke, tmp_path: Path, emu: EmulatorThread
) -> None:
    path = tmp_path / "cookies.json"
    path.write_text(json.dumps({"twitter_auth_token": 1234567890987}))
    result = sb("credentials", "set", "alice", "--from-file", str(path))
    assert result.exit_code == 2
    assert "twitter_auth_token must be a string" in result.stderr
    assert "1234567890987" not in result.stderr
    assert emu.requests == []


def test_unreadable_credentials_file_exits_2(sb: Invoke, tmp_path: Path) -> None:
    result = sb("credentials", "set", "alice", "--from-file", str(tmp_path / "missing.json"))
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_an_empty_api_key_exits_3(sb: Invoke) -> None:
    result = sb("--api-key", "", "list")
    assert result.exit_code == 3
    assert "API key" in result.stderr


def test_a_server_side_400_exits_2(sb: Invoke, emu: EmulatorThread) -> None:
    result = sb("--api-key", emu.dashboard_token, "api-keys", "create", "--label", "x" * 300)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: bad request:")
    assert "256" in result.stderr


def test_an_unwritable_batch_output_exits_2(sb: Invoke, tmp_path: Path) -> None:
    source = tmp_path / "t.jsonl"
    source.write_text(json.dumps({"end_user_id": "a", "task": "x"}) + "\n")
    result = sb("batch", str(source), "--out", str(tmp_path / "no-such-dir" / "r.jsonl"))
    assert result.exit_code == 2
    assert "FileNotFoundError" in result.stderr
    assert "Traceback" not in result.stderr


# -- server and network failures ------------------------------------------------------------


@contextlib.contextmanager
def _faulty(
    monkeypatch: pytest.MonkeyPatch, *faults: Fault
) -> Iterator[tuple[EmulatorThread, Invoke]]:
    """An emulator with `faults` that the CLI's environment points at; closed on exit."""
    with EmulatorThread(durations=(0.05, 0.1), faults=list(faults)) as emu:
        monkeypatch.setenv("STABLEBROWSE_API_KEY", emu.api_key)
        monkeypatch.setenv("STABLEBROWSE_BASE_URL", emu.url)
        monkeypatch.setenv("STABLEBROWSE_POLL_INTERVAL", "0.05")
        yield emu, Invoke()


def test_a_lost_submission_answer_exits_6_and_says_to_reconcile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _faulty(monkeypatch, Fault("reset_after", route="POST /v1/tasks")) as (emu, sb):
        result = sb("run", "Buy the thing", "--end-user", "alice")
    assert result.exit_code == 6
    assert result.stderr.startswith("error: ambiguous:")
    assert "stablebrowse list" in result.stderr
    posts = [r for r in emu.requests if r.method == "POST"]
    assert len(posts) == 1  # never resubmitted


def test_a_server_error_exits_6(monkeypatch: pytest.MonkeyPatch) -> None:
    with _faulty(monkeypatch, Fault("status", status=503)) as (_, sb):
        result = sb("--max-retries", "0", "get", "some-task")
    assert result.exit_code == 6
    assert result.stderr.startswith("error: server error:")


def test_a_slow_server_exits_6_with_a_timeout_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    with _faulty(monkeypatch, Fault("delay", delay=5.0)) as (_, sb):
        result = sb("--timeout", "0.2", "--max-retries", "0", "list")
    assert result.exit_code == 6
    assert result.stderr.startswith("error: timed out:")
    assert "--timeout" in result.stderr


def test_an_unexpected_status_exits_1_with_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    with _faulty(monkeypatch, Fault("status", status=418)) as (_, sb):
        result = sb("list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: API error 418:")


def test_a_rate_limit_names_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    with _faulty(monkeypatch, Fault("rate_limit", retry_after=7)) as (_, sb):
        result = sb("--max-retries", "0", "list")
    assert result.exit_code == 5
    assert result.stderr.startswith("error: rate limited:")
    assert "retry after 7s" in result.stderr


# -- the entry point module -----------------------------------------------------------------


def test_main_runs_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert "stablebrowse-async" in capsys.readouterr().out


def test_without_the_cli_extra_the_command_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "stablebrowse_async._cli.app")
    monkeypatch.setitem(sys.modules, "typer", None)  # as if typer were not installed
    with pytest.raises(SystemExit) as stop:
        cli.main(["--help"])
    assert stop.value.code == 2
    assert "pip install 'stablebrowse-async[cli]'" in capsys.readouterr().err


def test_a_broken_install_is_not_blamed_on_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "stablebrowse_async._cli.app")
    monkeypatch.setitem(sys.modules, "stablebrowse_async._cli.batch", None)
    with pytest.raises(ModuleNotFoundError):
        cli.main(["--help"])


def test_the_module_exposes_the_app_and_nothing_else() -> None:
    assert cli.app.info.name == "stablebrowse"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = cli.nope
