"""`stablebrowse batch` in-process: output records, bad lines, resume, refusal to clobber."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stablebrowse_async.testing import EmulatorThread, Fault

from .conftest import Invoke


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _posted_texts(emu: EmulatorThread) -> list[str]:
    return [r.json["task"] for r in emu.requests if r.method == "POST" and r.path == "/v1/tasks"]


def test_batch_writes_one_record_per_line(sb: Invoke, tmp_path: Path, emu: EmulatorThread) -> None:
    source = _write(
        tmp_path / "tasks.jsonl",
        [
            json.dumps({"end_user_id": "a", "task": "one [[result=first]]"}),
            json.dumps(
                {"endUserId": "b", "task": "two", "maxSteps": 3, "startUrl": "https://x.io"}
            ),
            "",
            "{not json",
            json.dumps({"end_user_id": "a", "task": "three [[fail]]"}),
            json.dumps({"end_user_id": "a", "task": "typo", "sesion_id": "s"}),
            json.dumps({"task": "no user"}),
            json.dumps(["a", "list"]),
            json.dumps(
                {"end_user_id": "c", "task": "shaped", "schema": {"type": "object"}},
            ),
        ],
    )
    out = tmp_path / "results.jsonl"
    result = sb("batch", str(source), "--out", str(out), "--concurrency", "4")
    assert result.exit_code == 1  # some lines failed
    records = {r["line"]: r for r in _records(out)}
    assert sorted(records) == [1, 2, 4, 5, 6, 7, 8, 9]
    assert records[1]["ok"] and records[1]["result"] == "first"
    assert records[1]["status"] == "completed" and records[1]["task_id"]
    assert records[2]["ok"] and records[2]["end_user_id"] == "b"
    assert records[9]["ok"] and isinstance(records[9]["structured_content"], dict)
    assert records[5]["error"]["type"] == "TaskFailedError"
    assert records[5]["status"] == "failed" and records[5]["task_id"]
    for bad in (4, 6, 7, 8):
        assert records[bad]["ok"] is False
        assert records[bad]["error"]["type"] == "BadLine"
    assert "sesion_id" in records[6]["error"]["message"]
    assert "5 failed" in result.stderr
    assert sorted(_posted_texts(emu)) == sorted(
        ["one [[result=first]]", "two", "three [[fail]]", "shaped"]
    )


def test_batch_json_summary_and_default_end_user(
    sb: Invoke, tmp_path: Path, emu: EmulatorThread
) -> None:
    source = _write(tmp_path / "t.jsonl", [json.dumps({"task": f"t{n}"}) for n in range(5)])
    out = tmp_path / "r.jsonl"
    result = sb("batch", str(source), "-o", str(out), "--end-user", "zed", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["completed"] == 5 and summary["failed"] == 0 and summary["total"] == 5
    assert all(r["end_user_id"] == "zed" for r in _records(out))


def test_batch_refuses_to_clobber_without_resume(sb: Invoke, tmp_path: Path) -> None:
    source = _write(tmp_path / "t.jsonl", [json.dumps({"end_user_id": "a", "task": "x"})])
    out = _write(tmp_path / "r.jsonl", ['{"line": 1, "ok": true}'])
    refused = sb("batch", str(source), "--out", str(out))
    assert refused.exit_code == 2
    assert "--resume" in refused.stderr
    assert sb("batch", str(source), "--out", str(out), "--overwrite").exit_code == 0
    assert len(_records(out)) == 1


def test_resume_skips_recorded_lines_and_tolerates_a_torn_tail(
    sb: Invoke, tmp_path: Path, emu: EmulatorThread
) -> None:
    lines = [json.dumps({"end_user_id": "a", "task": f"task {n}"}) for n in range(1, 7)]
    source = _write(tmp_path / "t.jsonl", lines)
    out = tmp_path / "r.jsonl"
    # Lines 1, 3 were done before the "crash"; line 4's record was torn mid-write.
    out.write_text('{"line": 1, "ok": true}\n{"line": 3, "ok": false}\n{"line": 4, "o')
    result = sb("batch", str(source), "--out", str(out), "--resume")
    assert result.exit_code == 0, result.stderr
    numbers = [r["line"] for r in (json.loads(x) for x in out.read_text().splitlines()[:2])]
    assert numbers == [1, 3]
    recorded = []
    for raw in out.read_text().splitlines():
        try:
            recorded.append(json.loads(raw)["line"])
        except ValueError:
            continue
    assert sorted(recorded) == [1, 2, 3, 4, 5, 6]
    assert sorted(_posted_texts(emu)) == ["task 2", "task 4", "task 5", "task 6"]
    assert "2 skipped" in result.stderr


def test_batch_reads_stdin(sb: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    data = "".join(json.dumps({"end_user_id": "a", "task": f"s{n}"}) + "\n" for n in range(3))
    result = sb("batch", "-", "--out", str(out), "--no-progress", input=data)
    assert result.exit_code == 0, result.stderr
    assert sorted(r["line"] for r in _records(out)) == [1, 2, 3]


def test_batch_stops_on_an_auth_error(sb: Invoke, tmp_path: Path) -> None:
    source = _write(tmp_path / "t.jsonl", [json.dumps({"end_user_id": "a", "task": "x"})] * 3)
    out = tmp_path / "r.jsonl"
    result = sb("--api-key", "sb_live_wrongwrongwrong", "batch", str(source), "--out", str(out))
    assert result.exit_code == 3
    assert "--resume" in result.stderr
    assert _records(out) == []


def test_submit_rate_paces_the_batch_and_a_bad_one_is_refused_before_any_file(
    sb: Invoke, tmp_path: Path, emu: EmulatorThread
) -> None:
    source = _write(
        tmp_path / "t.jsonl", [json.dumps({"end_user_id": "a", "task": f"t{i}"}) for i in range(4)]
    )
    out = tmp_path / "r.jsonl"
    for bad in ("0", "-1", "inf", "nan"):
        refused = sb("batch", str(source), "--out", str(out), "--submit-rate", bad)
        assert refused.exit_code == 2
        assert "--submit-rate" in refused.stderr and "finite number > 0" in refused.stderr
    assert not out.exists() and not emu.requests
    assert sb("batch", str(source), "--out", str(out), "--submit-rate", "40").exit_code == 0
    records = _records(out)
    assert sorted(r["line"] for r in records) == [1, 2, 3, 4] and all(r["ok"] for r in records)
    posted = [r.received_at for r in emu.requests if r.method == "POST"]
    # Three spacings, less the tolerance and 5 ms of jitter between the client's
    # sending and the emulator's receiving (unpaced, the span is a few ms).
    assert max(posted) - min(posted) >= 3 / 40 - 0.01 - 0.005


def test_missing_input_exits_2(sb: Invoke, tmp_path: Path) -> None:
    result = sb("batch", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "r.jsonl"))
    assert result.exit_code == 2
    assert "not found" in result.stderr


def test_a_field_given_in_both_spellings_is_a_bad_line(sb: Invoke, tmp_path: Path) -> None:
    source = _write(
        tmp_path / "t.jsonl",
        [json.dumps({"end_user_id": "a", "endUserId": "b", "task": "which user?"})],
    )
    out = tmp_path / "r.jsonl"
    result = sb("batch", str(source), "--out", str(out), "--no-progress")
    assert result.exit_code == 1
    (record,) = _records(out)
    assert record["error"]["type"] == "BadLine"
    assert "given twice" in record["error"]["message"]


def test_resume_starts_from_scratch_when_there_is_no_output_yet(
    sb: Invoke, tmp_path: Path, emu: EmulatorThread
) -> None:
    source = _write(tmp_path / "t.jsonl", [json.dumps({"end_user_id": "a", "task": "only"})])
    for out in (tmp_path / "missing.jsonl", _write(tmp_path / "empty.jsonl", [])):
        result = sb("batch", str(source), "--out", str(out), "--resume", "--no-progress")
        assert result.exit_code == 0, result.stderr
        assert [r["line"] for r in _records(out)] == [1]
    assert _posted_texts(emu) == ["only", "only"]


def test_resume_ignores_lines_that_are_not_its_records(
    sb: Invoke, tmp_path: Path, emu: EmulatorThread
) -> None:
    source = _write(
        tmp_path / "t.jsonl", [json.dumps({"end_user_id": "a", "task": f"t{n}"}) for n in (1, 2, 3)]
    )
    out = tmp_path / "r.jsonl"
    out.write_text('{"line": 1, "ok": true}\n{"line": "2"}\n{"line": true}\n[3]\n')
    result = sb("batch", str(source), "--out", str(out), "--resume", "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert sorted(_posted_texts(emu)) == ["t2", "t3"]


def test_the_summary_keeps_the_first_20_failures_and_counts_them_all(
    sb: Invoke, tmp_path: Path
) -> None:
    source = _write(tmp_path / "t.jsonl", ["{broken"] * 25)
    out = tmp_path / "r.jsonl"
    result = sb("batch", str(source), "--out", str(out), "--json", "--no-progress")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["failed"] == summary["bad_lines"] == 25
    assert summary["errors"] == {"BadLine": 25}
    assert [f["line"] for f in summary["failures"]] == list(range(1, 21))
    assert len(_records(out)) == 25


def test_ambiguous_submissions_are_recorded_with_how_to_reconcile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = Fault("reset_after", route="POST /v1/tasks", times=1)
    with EmulatorThread(durations=(0.05, 0.1), faults=[fault]) as emu:
        monkeypatch.setenv("STABLEBROWSE_API_KEY", emu.api_key)
        monkeypatch.setenv("STABLEBROWSE_BASE_URL", emu.url)
        monkeypatch.setenv("STABLEBROWSE_POLL_INTERVAL", "0.05")
        source = _write(tmp_path / "t.jsonl", [json.dumps({"end_user_id": "a", "task": "once"})])
        out = tmp_path / "r.jsonl"
        result = Invoke()("batch", str(source), "--out", str(out), "--no-progress")
        assert emu.tasks_created() == 1  # the server did act on the lost submission
    assert result.exit_code == 1
    (record,) = _records(out)
    assert record["error"]["type"] == "AmbiguousRequestError"
    assert "before resubmitting" in record["error"]["reconcile"]
    assert "AmbiguousRequestError lines may exist server-side" in result.stderr


def test_every_submission_is_journaled_with_its_line(
    sb: Invoke, tmp_path: Path, emu: EmulatorThread
) -> None:
    lines = [json.dumps({"end_user_id": f"u{n}", "task": f"job {n}"}) for n in range(1, 5)]
    lines.insert(2, "{broken")
    source = _write(tmp_path / "t.jsonl", lines)
    out = tmp_path / "r.jsonl"
    result = sb("batch", str(source), "--out", str(out), "--no-progress")
    assert result.exit_code == 1  # the broken line
    journal = {e["line"]: e for e in _records(tmp_path / "r.jsonl.submitted")}
    records = {r["line"]: r for r in _records(out)}
    assert sorted(journal) == [1, 2, 4, 5]  # every accepted submission, no bad line
    for line, entry in journal.items():
        assert entry["task_id"] == records[line]["task_id"]
        assert entry["end_user_id"] == records[line]["end_user_id"]


def test_resume_waits_for_journaled_tasks_instead_of_resubmitting(
    sb: Invoke, tmp_path: Path, emu: EmulatorThread
) -> None:
    from stablebrowse_async.sync import Client

    lines = [json.dumps({"end_user_id": "a", "task": f"task {n}"}) for n in range(1, 7)]
    source = _write(tmp_path / "t.jsonl", lines)
    out = tmp_path / "r.jsonl"
    # The "crash": line 1 was recorded; lines 2 and 5 were submitted (journaled)
    # but their outcomes never written; the last journal line was torn.
    with Client(emu.api_key, base_url=emu.url) as client:
        two = client.tasks.submit(end_user_id="a", task="task 2").task_id
        five = client.tasks.submit(end_user_id="a", task="task 5 [[fail]]").task_id
    out.write_text('{"line": 1, "ok": true}\n')
    (tmp_path / "r.jsonl.submitted").write_text(
        json.dumps({"line": 2, "task_id": two, "end_user_id": "a"})
        + "\n"
        + json.dumps({"line": 5, "task_id": five, "end_user_id": "a"})
        + '\n{"line": 6, "task'
    )
    before = len(_posted_texts(emu))
    result = sb("batch", str(source), "--out", str(out), "--resume", "--json")
    assert result.exit_code == 1, result.stderr  # line 5's task failed
    records = {r["line"]: r for r in _records(out)}
    assert sorted(records) == [1, 2, 3, 4, 5, 6]
    assert records[2]["ok"] and records[2]["task_id"] == two and records[2]["end_user_id"] == "a"
    assert records[5]["task_id"] == five and records[5]["error"]["type"] == "TaskFailedError"
    assert sorted(_posted_texts(emu)[before:]) == ["task 3", "task 4", "task 6"]
    summary = json.loads(result.stdout)
    assert summary["resumed"] == 2 and summary["skipped"] == 1
