"""Each `stablebrowse` command against the emulator: output, exit codes, no secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stablebrowse_async.testing import EmulatorThread

from .conftest import Invoke


def _run_json(sb: Invoke, text: str, *extra: str) -> dict[str, object]:
    result = sb("run", text, "--end-user", "alice", "--json", *extra)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_run_prints_a_result_panel(sb: Invoke) -> None:
    result = sb("run", "Say hello [[result=hello from the agent]]", "--end-user", "alice")
    assert result.exit_code == 0, result.stderr
    assert "completed" in result.stdout
    assert "hello from the agent" in result.stdout


def test_run_json_prints_the_wire_record(sb: Invoke, emu: EmulatorThread) -> None:
    data = _run_json(sb, "Find the news", "--start-url", "https://news.example", "--max-steps", "5")
    assert data["status"] == "completed"
    assert data["taskId"] and data["sessionId"]
    sent = next(r for r in emu.requests if r.method == "POST")
    assert sent.json == {
        "endUserId": "alice",
        "task": "Find the news",
        "startUrl": "https://news.example",
        "maxSteps": 5,
    }


def test_run_with_schema_and_html(sb: Invoke, tmp_path: Path, emu: EmulatorThread) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    data = _run_json(sb, "Title please", "--schema", str(path), "--html")
    assert isinstance(data.get("structured_content"), dict)
    sent = next(r for r in emu.requests if r.method == "POST")
    assert sent.json["schema"] == schema
    assert sent.json["include_html_dump"] is True


def test_run_continues_a_session(sb: Invoke) -> None:
    first = _run_json(sb, "Open the page")
    second = _run_json(sb, "Now click the first link", "--session", str(first["sessionId"]))
    assert second["sessionId"] == first["sessionId"]


def test_a_failed_task_exits_1_with_one_line_on_stderr(sb: Invoke) -> None:
    result = sb("run", "Break [[fail]]", "--end-user", "alice")
    assert result.exit_code == 1
    assert "failed" in result.stdout
    assert result.stderr.startswith("error: task ")
    assert "Traceback" not in result.stderr


def test_a_cancelled_task_exits_1(sb: Invoke) -> None:
    result = sb("run", "Stop [[status=cancelled]]", "--end-user", "alice", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "cancelled"


def test_poll_timeout_exits_6_and_says_how_to_resume(sb: Invoke) -> None:
    result = sb("run", "Slow [[duration=30]]", "--end-user", "a", "--poll-timeout", "0.3")
    assert result.exit_code == 6
    assert "stablebrowse wait" in result.stderr


def test_get_and_wait(sb: Invoke) -> None:
    task_id = str(_run_json(sb, "Anything")["taskId"])
    got = sb("get", task_id, "--json")
    assert got.exit_code == 0
    assert json.loads(got.stdout)["taskId"] == task_id
    waited = sb("wait", task_id)
    assert waited.exit_code == 0
    assert task_id in waited.stdout


def test_unknown_task_exits_4(sb: Invoke) -> None:
    result = sb("get", "no-such-task")
    assert result.exit_code == 4
    assert result.stderr.startswith("error: not found")


def test_list_and_session(sb: Invoke) -> None:
    session_id = str(_run_json(sb, "First")["sessionId"])
    listed = sb("list", "--limit", "5")
    assert listed.exit_code == 0
    assert session_id in listed.stdout
    as_json = sb("--json", "list")
    assert session_id in [s["sessionId"] for s in json.loads(as_json.stdout)]
    shown = sb("session", session_id)
    assert shown.exit_code == 0
    assert "First" in shown.stdout
    assert sb("session", "nope").exit_code == 4


def test_bad_input_exits_2(sb: Invoke) -> None:
    assert sb("run", "   ", "--end-user", "alice").exit_code == 2
    assert sb("list", "--limit", "0").exit_code == 2
    missing = sb("run", "x", "--end-user", "a", "--schema", "/nonexistent.json")
    assert missing.exit_code == 2
    assert "Traceback" not in missing.stderr


def test_wrong_key_exits_3_without_echoing_it(sb: Invoke) -> None:
    secret = "sb_live_THIS_IS_NOT_A_REAL_KEY_123456"
    result = sb("--api-key", secret, "list")
    assert result.exit_code == 3
    assert secret not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_missing_key_exits_3(sb: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STABLEBROWSE_API_KEY")
    result = sb("list")
    assert result.exit_code == 3
    assert "STABLEBROWSE_API_KEY" in result.stderr


def test_network_error_exits_6(sb: Invoke) -> None:
    result = sb("--base-url", "http://127.0.0.1:9/v1", "--max-retries", "0", "list")
    assert result.exit_code == 6
    assert result.stderr.startswith("error: network error")


def test_insecure_base_url_exits_2(sb: Invoke) -> None:
    assert sb("--base-url", "http://example.com/v1", "list").exit_code == 2


def test_credentials_never_echo_values(sb: Invoke, emu: EmulatorThread) -> None:
    secret, other = "tw-SECRET-value-1", "ct0-SECRET-value-2"
    result = sb("credentials", "set", "alice", "--twitter-auth-token", secret)
    assert result.exit_code == 0, result.stderr
    from_stdin = sb(
        "credentials", "set", "alice", "--from-file", "-", input=json.dumps({"twitterCt0": other})
    )
    assert from_stdin.exit_code == 0, from_stdin.stderr
    got = sb("credentials", "get", "alice", "--json")
    assert json.loads(got.stdout)["platforms"]["twitter"] is True
    table = sb("credentials", "get", "alice")
    assert "twitter" in table.stdout
    puts = [r for r in emu.requests if r.method == "PUT"]
    assert puts[0].json == {"twitterAuthToken": secret}
    assert puts[1].json == {"twitterCt0": other}
    deleted = sb("credentials", "delete", "alice", "--field", "twitter_ct0")
    assert deleted.exit_code == 0
    assert emu.requests[-1].json == {"fields": ["twitterCt0"]}
    assert sb("credentials", "delete", "alice").exit_code == 0
    everything = "".join(r.stdout + r.stderr for r in (result, from_stdin, got, table, deleted))
    assert secret not in everything and other not in everything


def test_credentials_set_rejects_bad_input(sb: Invoke) -> None:
    assert sb("credentials", "set", "alice").exit_code == 2
    unknown = sb("credentials", "set", "alice", "--from-file", "-", input='{"password": "pw"}')
    assert unknown.exit_code == 2
    assert "pw" not in unknown.stderr.replace("password", "")


def test_api_keys_need_a_dashboard_token(sb: Invoke, emu: EmulatorThread) -> None:
    denied = sb("api-keys", "list")
    assert denied.exit_code == 3
    token = ["--api-key", emu.dashboard_token]
    created = sb(*token, "api-keys", "create", "--label", "ci")
    assert created.exit_code == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("sb_live_")
    assert emu.dashboard_token not in created.stdout + created.stderr
    listed = sb(*token, "--json", "api-keys", "list")
    prefixes = [k["prefix"] for k in json.loads(listed.stdout)]
    assert key[:16] in prefixes
    assert key not in listed.stdout
    assert sb(*token, "api-keys", "revoke", key[:16]).exit_code == 0
    assert sb("--api-key", key, "list").exit_code == 3  # revoked: 403


def test_dashboard_token_from_its_own_env_var(
    sb: Invoke, emu: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STABLEBROWSE_DASHBOARD_TOKEN", emu.dashboard_token)
    monkeypatch.delenv("STABLEBROWSE_API_KEY")
    created = sb("api-keys", "create", "--json")
    assert created.exit_code == 0, created.stderr
    assert json.loads(created.stdout)["key"].startswith("sb_live_")


def test_quota_exhaustion_exits_5(monkeypatch: pytest.MonkeyPatch) -> None:
    with EmulatorThread(monthly_quota=1, durations=(0.05, 0.1)) as emu:
        monkeypatch.setenv("STABLEBROWSE_API_KEY", emu.api_key)
        monkeypatch.setenv("STABLEBROWSE_BASE_URL", emu.url)
        monkeypatch.setenv("STABLEBROWSE_POLL_INTERVAL", "0.05")
        sb = Invoke()
        assert sb("run", "one", "--end-user", "a").exit_code == 0
        over = sb("--max-retries", "0", "run", "two", "--end-user", "a")
        assert over.exit_code == 5
        assert over.stderr.startswith("error: rate limited")


def test_version_and_help() -> None:
    sb = Invoke()
    assert sb("--version").exit_code == 0
    helped = sb("--help")
    assert helped.exit_code == 0
    assert "Exit codes" in helped.stdout
