"""Celery end to end: a real ``celery worker --pool=prefork -c 2`` subprocess on a broker
in files (kombu's ``filesystem://``, a ``file://`` result backend), against the emulator."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from celery import Celery

from stablebrowse_async import RateLimitError
from stablebrowse_async.contrib import celery as stablebrowse_celery
from stablebrowse_async.contrib.celery import (
    BATCH_TASK_NAME,
    OUTCOME_COLUMNS,
    TASK_NAME,
    run_batch,
    run_one,
)
from stablebrowse_async.contrib.journal import SqliteJournal
from stablebrowse_async.sync import Client
from stablebrowse_async.testing import EmulatorThread, Fault

ROOT = Path(__file__).resolve().parents[2]
START_BOUND = 90.0  # seconds for the worker to be ready / to stop
RESULT_BOUND = 60.0  # seconds for any one result


@attrs.define
class Worker:
    process: subprocess.Popen[bytes]
    log: Path
    emu: EmulatorThread
    app: Celery
    journal: SqliteJournal

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def posts_of(self, text: str) -> int:
        return sum(
            1
            for r in self.emu.requests
            if r.method == "POST" and isinstance(r.json, dict) and r.json.get("task") == text
        )

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]


def _wait_until(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    home = tmp_path_factory.mktemp("celery")
    saved = os.environ.get("SB_CELERY_HOME")
    os.environ["SB_CELERY_HOME"] = str(home)
    sys.modules.pop("tests.contrib._celery_app", None)
    module = importlib.import_module("tests.contrib._celery_app")
    emu = EmulatorThread(durations=(0.05, 0.3), pending_for=0.05, seed=9).start()
    env = {
        **os.environ,
        "STABLEBROWSE_API_KEY": emu.api_key,
        "STABLEBROWSE_BASE_URL": emu.url,
        # Unclosed sessions, connectors and sockets must show in the output.
        "PYTHONWARNINGS": "always::ResourceWarning",
    }
    log = home / "worker.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "tests.contrib._celery_app", "worker"),
                *("--pool=prefork", "-c", "2", "--loglevel=INFO", "-n", "sbtest@%h"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Worker(process, log, emu, module.app, module.journal)
    try:
        _wait_until(lambda: "ready." in running.output(), "the worker to be ready", START_BOUND)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(START_BOUND)
        emu.close()
        module.journal.close()
        if saved is None:
            os.environ.pop("SB_CELERY_HOME", None)
        else:
            os.environ["SB_CELERY_HOME"] = saved


def test_forty_tasks_complete_as_json_outcomes(worker: Worker) -> None:
    jobs = [
        {"key": f"t{i}", "end_user_id": f"user{i % 3}", "task": f"celery job {i}"}
        for i in range(40)
    ]
    for i in (4, 14, 24, 34):
        jobs[i]["task"] += " [[fail]]"
    sent = [worker.app.send_task(TASK_NAME, kwargs=job) for job in jobs]
    bad = [
        worker.app.send_task(TASK_NAME, kwargs={"end_user_id": "u"}),
        worker.app.send_task(TASK_NAME, kwargs={"end_user_id": "u", "taks": "typo"}),
    ]
    outcomes = [result.get(timeout=RESULT_BOUND, interval=0.05) for result in sent]

    for job, outcome in zip(jobs, outcomes, strict=True):
        assert list(outcome) == list(OUTCOME_COLUMNS)
        assert json.loads(json.dumps(outcome)) == outcome
        if "[[fail]]" in job["task"]:
            assert (outcome["status"], outcome["error_type"]) == ("failed", "TaskFailedError")
        else:
            assert (outcome["status"], outcome["error_type"]) == ("completed", None)
            assert isinstance(outcome["result"], str) and outcome["task_id"]
        assert worker.posts_of(job["task"]) == 1
    assert len({o["task_id"] for o in outcomes}) == 40
    missing, typo = (result.get(timeout=RESULT_BOUND, interval=0.05) for result in bad)
    assert (missing["status"], missing["error_type"]) == ("error", "TypeError")
    assert "task" in missing["error_message"]
    assert "taks" in typo["error_message"] and typo["task_id"] is None


def test_a_batch_task_runs_its_requests_through_one_run_many(worker: Worker) -> None:
    requests = [{"end_user_id": "b", "task": f"batch job {i}"} for i in range(20)]
    requests.append({"end_user_id": "b"})
    outcomes = worker.app.send_task(
        BATCH_TASK_NAME, kwargs={"requests": requests, "concurrency": 8}
    ).get(timeout=RESULT_BOUND, interval=0.05)
    assert [o["status"] for o in outcomes] == ["completed"] * 20 + ["error"]
    assert all(worker.posts_of(r["task"]) == 1 for r in requests[:20])
    refused = worker.app.send_task(BATCH_TASK_NAME, kwargs={"requests": "nope"})
    with pytest.raises(TypeError, match="requests must be a list"):
        refused.get(timeout=RESULT_BOUND, interval=0.05)


def test_an_ambiguous_submission_is_not_retried_by_celery(worker: Worker) -> None:
    """The POST is acted on, then its connection reset: Celery's autoretry must not resend it."""
    created = worker.emu.tasks_created()
    worker.emu.call(
        lambda: worker.emu.emulator.faults.append(
            Fault("reset_after", route="POST /v1/tasks", times=1)
        )
    )
    text = "ambiguous job"
    outcome = worker.app.send_task(
        TASK_NAME, kwargs={"end_user_id": "u", "task": text, "key": "amb"}
    ).get(timeout=RESULT_BOUND, interval=0.05)
    assert outcome["error_type"] == "AmbiguousRequestError"
    assert outcome["status"] == "error"
    assert "not retried" in outcome["error_message"]
    assert worker.posts_of(text) == 1
    assert worker.emu.tasks_created() == created + 1  # it does exist: reconcile, do not resend


def test_a_killed_child_loses_nothing_the_journal_does_not_reconcile(worker: Worker) -> None:
    """SIGKILL the child mid-task: the redelivered message waits for the journaled task."""
    text = "slow job [[duration=3]]"
    result = worker.app.send_task(TASK_NAME, kwargs={"end_user_id": "u", "task": text, "key": "s"})
    _wait_until(lambda: "key:s" in worker.journal.lookup(["key:s"]), "the journal", RESULT_BOUND)
    task_id = worker.journal.lookup(["key:s"])["key:s"]
    running = worker.log.parent / "running" / result.id
    victim = int(running.read_text())
    assert victim in worker.children()
    os.kill(victim, signal.SIGKILL)
    outcome = result.get(timeout=RESULT_BOUND, interval=0.05)
    assert (outcome["status"], outcome["task_id"]) == ("completed", task_id)
    assert worker.posts_of(text) == 1
    assert f"pid:{victim} exited with 'signal 9 (SIGKILL)'" in worker.output()
    assert int(running.read_text()) != victim  # the redelivery ran in another child


def test_sigterm_is_a_warm_shutdown_that_closes_every_client(worker: Worker) -> None:
    offset = len(worker.output())
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(START_BOUND) == 0
    after = worker.output()[offset:]
    assert "Warm shutdown" in after or "warm shutdown" in after.lower()
    for forbidden in ("Traceback", "Unclosed client session", "Unclosed connector", "Error"):
        assert forbidden not in after, after
    assert after.count("closed its client") == 2, after  # both children, at their shutdown


def test_install_refuses_bad_arguments() -> None:
    app = Celery("refusals")
    with pytest.raises(TypeError, match=r"app must be a celery\.Celery"):
        stablebrowse_celery.install("app")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="task_max_retries must be an int >= 0"):
        stablebrowse_celery.install(app, task_max_retries=-1)
    with pytest.raises(TypeError, match="journal must have lookup"):
        stablebrowse_celery.install(app, journal=object())  # type: ignore[arg-type]


def test_run_one_in_process_with_a_journal(tmp_path: Path) -> None:
    """The task body without Celery: a journaled key is waited for, never resubmitted."""
    journal = SqliteJournal(tmp_path / "j.sqlite")
    with (
        EmulatorThread(durations=(0.05, 0.1), pending_for=0.05) as emu,
        Client(api_key=emu.api_key, base_url=emu.url, poll_interval=0.05) as sdk,
    ):
        arguments: dict[str, Any] = {"end_user_id": "u", "task": "once"}
        first, error = run_one(sdk, arguments, journal=journal)
        assert error is None and first["status"] == "completed"
        again, _ = run_one(sdk, arguments, journal=journal)
        assert again["task_id"] == first["task_id"]
        assert emu.tasks_created() == 1
        journal.record("key:gone", "task_does_not_exist")
        lost, lost_error = run_one(sdk, {**arguments, "key": "gone"}, journal=journal)
        assert lost["error_type"] == "NotFoundError" and lost_error is not None
        mixed = run_batch(
            sdk, [arguments, {**arguments, "task": "twice"}, {"oops": 1}], journal=journal
        )
        assert [o["status"] for o, _ in mixed] == ["completed", "completed", "error"]
        assert mixed[0][0]["task_id"] == first["task_id"]  # journaled: waited for
        assert isinstance(mixed[2][1], TypeError)
        assert emu.tasks_created() == 2
    journal.close()


def test_the_registered_tasks_and_the_client_in_process() -> None:
    """The task bodies called directly (no worker): the process's one client, opened on use."""
    from celery.signals import worker_process_init, worker_process_shutdown

    with EmulatorThread(durations=(0.05, 0.1), pending_for=0.05) as emu:
        app = Celery("in-process")
        run = stablebrowse_celery.install(
            app, api_key=emu.api_key, base_url=emu.url, max_retries=0, poll_interval=0.05
        )
        worker_process_init.send(sender=None)  # what a prefork child does after the fork
        sdk = stablebrowse_celery.client()
        assert stablebrowse_celery.client() is sdk
        try:
            assert run(end_user_id="u", task="direct")["status"] == "completed"
            batch = app.tasks[BATCH_TASK_NAME]([{"end_user_id": "u", "task": "b"}], concurrency=2)
            assert [o["status"] for o in batch] == ["completed"]
            with pytest.raises(TypeError, match="requests must be a list"):
                app.tasks[BATCH_TASK_NAME]({"end_user_id": "u"})
            # A 429 created nothing: raised, so Celery's autoretry may run the task again.
            emu.call(lambda: emu.emulator.faults.append(Fault("rate_limit", times=1)))
            with pytest.raises(RateLimitError):
                run(end_user_id="u", task="limited")
            # The POST acted on, its answer lost: an outcome, never raised for a retry.
            emu.call(
                lambda: emu.emulator.faults.append(
                    Fault("reset_after", route="POST /v1/tasks", times=1)
                )
            )
            ambiguous = run(end_user_id="u", task="lost answer")
            assert ambiguous["error_type"] == "AmbiguousRequestError"
            assert "not retried" in ambiguous["error_message"]
        finally:
            worker_process_shutdown.send(sender=None)
        assert sdk.is_closed
        assert emu.tasks_created() == 3
        outside = stablebrowse_celery.client()  # no worker signal: opened on first use
        assert outside is not sdk
        worker_process_shutdown.send(sender=None)
        assert outside.is_closed
