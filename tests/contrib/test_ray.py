"""Ray Data end to end: a real local Ray (2 CPUs, once per session) against the emulator."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import ray
import ray.cloudpickle
import ray.data

from stablebrowse_async.contrib.journal import SqliteJournal
from stablebrowse_async.contrib.ray import (
    OUTCOME_COLUMNS,
    ClusterRateGate,
    Gate,
    TaskRunner,
    rate_gate_actor,
    run_dataset,
)
from stablebrowse_async.testing import EmulatorThread, Fault

from . import _ray_probe

ray.cloudpickle.register_pickle_by_value(_ray_probe)

SUBMIT = ("POST", "/v1/tasks")
BOUND = 120.0  # seconds any one Ray run may take before the test fails


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(durations=(0.05, 0.3), pending_for=0.05, seed=17) as emulator:
        yield emulator


def _rows(n: int) -> list[dict[str, Any]]:
    """`n` rows: mostly good, every 10th scripted to fail, two bad ones per 50."""
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"key": f"row-{i}", "end_user_id": f"user{i % 7}", "note": i}
        row["task"] = f"look up item {i}" + (" [[fail]]" if i % 10 == 3 else "")
        if i % 50 == 7:
            row["task"] = None  # missing task
        if i % 50 == 9:
            row["end_user_id"] = "   "  # blank: invalid
        rows.append(row)
    return rows


def _expected_status(i: int) -> tuple[str, str | None]:
    if i % 50 in (7, 9):
        return "error", None
    return ("failed", "TaskFailedError") if i % 10 == 3 else ("completed", None)


def _submissions(emu: EmulatorThread) -> list[Any]:
    return [r for r in emu.requests if (r.method, r.path) == SUBMIT]


def _materialize_in_thread(ds: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["rows"] = ds.take_all()
        except BaseException as error:
            box["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def _joined(thread: threading.Thread, box: dict[str, Any]) -> list[dict[str, Any]]:
    thread.join(BOUND)
    assert not thread.is_alive(), f"the Ray run did not end within {BOUND} s"
    if "error" in box:
        raise box["error"]
    rows: list[dict[str, Any]] = box["rows"]
    return rows


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.02)


def test_300_rows_through_two_actors(ray_cluster: Any, emu: EmulatorThread) -> None:
    rows = _rows(300)
    ds = ray.data.from_items(rows, override_num_blocks=4)
    out = run_dataset(ds, actors=2, batch_size=64, api_key=emu.api_key, base_url=emu.url)
    result = sorted(out.take_all(), key=lambda r: r["note"])

    assert len(result) == 300
    assert [r["note"] for r in result] == list(range(300))
    for i, row in enumerate(result):
        assert set(rows[i]) | set(OUTCOME_COLUMNS) <= set(row)
        assert row["key"] == rows[i]["key"] and row["end_user_id"] == rows[i]["end_user_id"]
        status, error_type = _expected_status(i)
        assert row["status"] == status, (i, row)
        if status == "error":
            assert row["task_id"] is None
            assert row["error_type"] in ("TypeError", "ValueError")
            assert ("task" if i % 50 == 7 else "end_user_id") in row["error_message"]
        else:
            assert row["task_id"].startswith("task_") or row["task_id"]
            assert row["error_type"] == error_type
        if status == "completed":
            assert isinstance(row["result"], str) and row["duration_ms"] >= 0

    good = [i for i in range(300) if i % 50 not in (7, 9)]
    posts = _submissions(emu)
    assert len(posts) == len(good) == emu.tasks_created()
    assert sorted(p.json["task"] for p in posts) == sorted(rows[i]["task"] for i in good)
    assert len({r["task_id"] for r in result if r["task_id"]}) == len(good)


@pytest.mark.parametrize("batch_format", ["pandas", "pyarrow"])  # numpy: run_dataset
def test_the_three_batch_formats_keep_columns(
    ray_cluster: Any, emu: EmulatorThread, batch_format: str
) -> None:
    rows = _rows(12)
    out = ray.data.from_items(rows).map_batches(
        TaskRunner,
        fn_constructor_kwargs={"api_key": emu.api_key, "base_url": emu.url},
        batch_format=batch_format,
        batch_size=6,
        concurrency=1,
        num_cpus=0.5,
    )
    result = sorted(out.take_all(), key=lambda r: r["note"])
    assert [r["key"] for r in result] == [r["key"] for r in rows]
    assert [r["status"] for r in result] == [_expected_status(i)[0] for i in range(12)]


def test_task_runner_in_process_for_each_format(ray_cluster: Any, emu: EmulatorThread) -> None:
    """The same runner called directly (no actor): each format comes back in its own type."""
    rows = _rows(10)
    rows[0]["schema"] = json.dumps({"type": "object"})
    rows[1]["schema"] = "{not json"
    runner = TaskRunner(api_key=emu.api_key, base_url=emu.url, rate_gate=None, concurrency=8)
    try:
        frame = pd.DataFrame(rows)
        as_pandas = runner(frame)
        assert isinstance(as_pandas, pd.DataFrame)
        assert list(as_pandas.columns) == [*frame.columns, *OUTCOME_COLUMNS]
        assert as_pandas.loc[0, "status"] == "completed"
        assert as_pandas.loc[1, "error_type"] == "ValueError"
        assert "schema" in as_pandas.loc[1, "error_message"]

        table = pa.Table.from_pylist([{**r, "status": "stale"} for r in rows[2:]])
        as_arrow = runner(table)
        assert isinstance(as_arrow, pa.Table)
        assert as_arrow.schema.field("duration_ms").type == pa.int64()
        assert "stale" not in as_arrow.column("status").to_pylist()

        numpy_batch = {name: frame[name].to_numpy() for name in ("key", "end_user_id", "task")}
        numpy_batch["max_steps"] = np.arange(5, 15, dtype=np.int64)  # numpy scalars in, ints out
        as_numpy = runner(numpy_batch)
        assert isinstance(as_numpy, dict) and set(OUTCOME_COLUMNS) <= set(as_numpy)
        assert list(as_numpy["key"]) == [r["key"] for r in rows]
        with pytest.raises(TypeError, match="a batch must be"):
            runner([1, 2])
    finally:
        runner.close()
        runner.close()  # idempotent
    # rows 7 and 9 are bad in every call, row 1 (bad schema) in the pandas one: 7 + 6 + 8.
    assert len(_submissions(emu)) == emu.tasks_created() == 21


def test_a_runner_with_journal_and_cluster_gate_waits_for_journaled_rows(
    ray_cluster: Any, emu: EmulatorThread, tmp_path: Path
) -> None:
    """In process: the second run of the same rows waits for the journaled tasks."""
    journal = SqliteJournal(tmp_path / "j.sqlite")
    rows = pa.Table.from_pylist(_rows(6))
    runner = TaskRunner(api_key=emu.api_key, base_url=emu.url, journal=journal)
    try:
        first = runner(rows).to_pylist()
        again = runner(rows).to_pylist()
    finally:
        runner.close()
    assert [r["task_id"] for r in again] == [r["task_id"] for r in first]
    assert [r["status"] for r in again] == [r["status"] for r in first]
    assert len(_submissions(emu)) == emu.tasks_created() == 6  # row 3 fails: journaled too


def test_a_runner_with_bad_client_options_fails_at_once_and_cleans_up(ray_cluster: Any) -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        TaskRunner(api_key="sb_live_x", base_url="http://127.0.0.1:9/v1", timeout=-1)


def test_the_gate_moves_only_later_and_answers_watchers() -> None:
    """The gate actor's logic, in process: holds only grow, a watcher wakes on a new one."""
    import anyio

    gate = Gate()

    async def scenario() -> None:
        version, remaining = await gate.watch(-1, 5.0)
        assert (version, remaining) == (0, 0.0)
        await gate.close_for(2.0)
        await gate.close_for(0.5)  # shorter: ignored
        version, remaining = await gate.watch(0, 5.0)
        assert version == 1 and 1.5 < remaining <= 2.0
        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                woken: list[tuple[int, float]] = []

                async def watcher() -> None:
                    woken.append(await gate.watch(1, 5.0))

                group.start_soon(watcher)
                await anyio.sleep(0.05)
                await gate.close_for(3.0)
        assert woken[0][0] == 2 and 2.5 < woken[0][1] <= 3.0
        assert await gate.watch(2, 0.01) == (2, pytest.approx(3.0, abs=0.5))

    anyio.run(scenario)


def test_bad_arguments_are_refused_before_any_request(ray_cluster: Any) -> None:
    ds = ray.data.from_items([{"task": "x"}])
    with pytest.raises(ValueError, match="actors must be a positive int"):
        run_dataset(ds, actors=0)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        run_dataset(ds, batch_size=True)
    with pytest.raises(ValueError, match="concurrency must be a positive int"):
        TaskRunner(concurrency=0)
    with pytest.raises(ValueError, match="rate gate name"):
        rate_gate_actor("")


def test_cluster_gate_carries_a_hold_between_clients(ray_cluster: Any) -> None:
    """Two gates on one actor: a hold told to one reaches the other through `follow`."""
    import anyio

    actor = rate_gate_actor("gate-unit-test")
    first, second = ClusterRateGate(actor), ClusterRateGate(actor)

    async def scenario() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(second.follow)
            await anyio.sleep(0.1)
            assert second.delay() == 0.0
            first.close_for(1.5)
            assert 1.4 < first.delay() <= 1.5
            with anyio.fail_after(10):
                while second.delay() == 0.0:  # noqa: ASYNC110 - a value to watch, not an event
                    await anyio.sleep(0.005)
            assert 1.0 < second.delay() <= 1.5
            assert second.holds_received == 1
            group.cancel_scope.cancel()

    anyio.run(scenario)


def test_a_429_pauses_every_actor(ray_cluster: Any) -> None:
    """One 429 (Retry-After: 2) seen by one actor: no actor sends inside the window.

    Tolerance, exactly: a request may still arrive within GRACE seconds after
    the 429 when its actor let it pass the gate before the hold reached that
    actor (the hold travels 429'd actor -> gate actor -> other actors, one
    actor round trip; then the request's own time on the wire). At most two
    such requests per connection (2 x actors x connection_limit): the one on the
    wire when the 429 was answered, and the one a connection may start when its
    answer lands during the hold's trip (seen under load: 36 for 32 connections,
    all within 3 ms). From GRACE until the end of the 2 s window, no request at all.
    """
    grace, actors, concurrency = 0.5, 2, 16
    registry = _ray_probe.Registry.options(name="storm-test-registry").remote()
    with EmulatorThread(durations=(1.0, 3.0), pending_for=0.05, seed=3) as emu:
        rows = [{"end_user_id": "u", "task": f"storm {i}"} for i in range(96)]
        out = ray.data.from_items(rows, override_num_blocks=2).map_batches(
            _ray_probe.ProbedRunner,
            fn_constructor_kwargs={
                "registry": "storm-test-registry",
                "concurrency": concurrency,
                "connection_limit": concurrency,  # at most this many requests on the wire
                "api_key": emu.api_key,
                "base_url": emu.url,
                "poll_interval": 0.1,
            },
            batch_size=48,
            # One batch per actor at a time, so both actors hold one of the two batches.
            compute=ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=1),
            num_cpus=0.5,
        )
        thread, box = _materialize_in_thread(out)
        # Both actors submitting and polling: then the storm.
        _wait_until(lambda: len(ray.get(registry.all.remote())) == actors, "both actors")
        _wait_until(lambda: len(_submissions(emu)) >= 96, "all 96 submissions")
        time.sleep(0.3)
        fault = Fault("rate_limit", retry_after=2, times=1)

        def install() -> int:
            emu.emulator.faults.append(fault)
            return len(emu.emulator.requests)

        first = emu.call(install)
        result = _joined(thread, box)
    ray.kill(registry)

    assert fault.fired == 1
    log = emu.requests
    t0 = log[first].received_at  # the request answered with the 429
    inside = [r.received_at - t0 for r in log[first + 1 :] if r.received_at < t0 + 2.0]
    assert all(delta <= grace for delta in inside), sorted(inside)[-5:]
    assert len(inside) <= 2 * actors * concurrency
    assert any(r.received_at >= t0 + 2.0 for r in log), "the run resumed after the window"
    assert [r["status"] for r in result] == ["completed"] * 96


def test_a_killed_actor_resumes_from_the_journal(ray_cluster: Any, tmp_path: Path) -> None:
    """`ray.kill` (with restart) mid-batch: the retried batch waits, it does not resubmit."""
    journal = SqliteJournal(tmp_path / "journal.sqlite")
    registry = _ray_probe.Registry.options(name="kill-test-registry").remote()
    with EmulatorThread(durations=(2.0, 2.0), pending_for=0.05, seed=5) as emu:
        rows = [{"key": f"k{i}", "end_user_id": "u", "task": f"slow {i}"} for i in range(40)]
        out = ray.data.from_items(rows, override_num_blocks=2).map_batches(
            _ray_probe.ProbedRunner,
            fn_constructor_kwargs={
                "registry": "kill-test-registry",
                "journal": journal,
                "api_key": emu.api_key,
                "base_url": emu.url,
                "poll_interval": 0.2,
            },
            batch_size=20,
            concurrency=1,
            num_cpus=0.5,
        )
        thread, box = _materialize_in_thread(out)
        # The first batch is accepted and journaled; its tasks run for 2 s more.
        _wait_until(lambda: len(journal.entries()) >= 20, "20 journaled submissions")
        (pid, handle), *_ = ray.get(registry.all.remote())
        ray.kill(handle, no_restart=False)
        result = _joined(thread, box)
        seen = ray.get(registry.all.remote())
        created = emu.tasks_created()
        posts = _submissions(emu)
    ray.kill(registry)

    assert len(seen) >= 2 and seen[-1][0] != pid, "the batch ran again in a restarted actor"
    assert sorted(r["key"] for r in result) == sorted(r["key"] for r in rows)
    assert all(r["status"] == "completed" for r in result)
    assert created == len(posts) == 40
    assert len({p.json["task"] for p in posts}) == 40
    assert journal.lookup("key:" + r["key"] for r in result) == {
        "key:" + r["key"]: r["task_id"] for r in result
    }
