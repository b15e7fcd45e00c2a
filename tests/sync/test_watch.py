"""The sync facade: tasks.watch as a plain iterator, on_update from sync code, Ctrl-C mid-watch."""

from __future__ import annotations

import signal
import textwrap
import threading
import time

from stablebrowse_async.sync import Client, TaskStatus, TaskUpdate
from stablebrowse_async.testing import EmulatorThread

from .conftest import LOOP_THREAD, script_until_ready


def test_watch_is_a_plain_iterator_of_updates(client: Client) -> None:
    task = client.tasks.submit(end_user_id="a", task="walk [[duration=0.4]] [[steps=6]]")
    updates = list(client.tasks.watch(task.task_id))
    assert updates[-1].task.status is TaskStatus.COMPLETED
    steps = [s.n for u in updates for s in u.new_steps]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_on_update_runs_on_the_loop_thread(client: Client) -> None:
    threads: set[str] = set()
    updates: list[TaskUpdate] = []

    def on_update(update: TaskUpdate) -> None:
        threads.add(threading.current_thread().name)
        updates.append(update)

    done = client.tasks.run(
        end_user_id="a", task="t [[steps=3]] [[duration=0.3]]", on_update=on_update
    )
    assert updates[-1].task == done
    assert threads == {LOOP_THREAD}
    seen: dict[int, int] = {}
    ids = [client.tasks.submit(end_user_id="a", task=f"t{i}").task_id for i in range(3)]
    for outcome in client.tasks.wait_many(
        ids, on_update=lambda i, u: seen.update({i: seen.get(i, 0) + 1})
    ):
        assert outcome.ok
    assert sorted(seen) == [0, 1, 2]


def test_break_out_of_a_sync_watch_stops_polling(client: Client, emu: EmulatorThread) -> None:
    task = client.tasks.submit(end_user_id="a", task="long [[duration=30]]")
    with client.tasks.watch(task.task_id) as updates:
        for _ in updates:
            break
    before = len(emu.requests)
    time.sleep(0.3)
    assert len(emu.requests) == before


SCRIPT = textwrap.dedent(
    """
    import asyncio, threading, time, warnings
    warnings.simplefilter("error", ResourceWarning)
    from stablebrowse_async.sync import Client
    from stablebrowse_async.testing import EmulatorThread

    with EmulatorThread(durations=(0.05, 0.1)) as emu:
        client = Client(emu.api_key, base_url=emu.url, poll_interval=0.02)
        task = client.tasks.submit(end_user_id="alice", task="forever [[duration=600]] [[steps=25]]")
        print("READY", flush=True)
        try:
            for update in client.tasks.watch(task.task_id, poll_timeout=600):
                pass
        except KeyboardInterrupt:
            print("INTERRUPTED", flush=True)
        time.sleep(0.2)
        before = len(emu.requests)
        time.sleep(0.3)
        print("POLLS_AFTER", len(emu.requests) - before, flush=True)
        async def watch_tasks():
            return [t for t in asyncio.all_tasks() if "_WatchState" in t.get_coro().__qualname__]

        tasks = client._portal.call(watch_tasks)
        print("WATCH_TASKS", len(tasks), flush=True)
        client.close()
    loops = [t.name for t in threading.enumerate() if t.name == "stablebrowse-sync-loop"]
    print("LOOPS", len(loops), flush=True)
    """
)


def test_ctrl_c_in_a_sync_watch_leaves_nothing_behind() -> None:
    with script_until_ready(SCRIPT) as proc:
        time.sleep(0.4)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    lines = dict(ln.split(" ", 1) for ln in out.strip().splitlines() if " " in ln)
    assert "INTERRUPTED" in out, (out, err)
    assert lines["POLLS_AFTER"] == "0", out
    assert lines["WATCH_TASKS"] == "0", out
    assert lines["LOOPS"] == "0", out
    assert proc.returncode == 0, err
    assert "Unclosed" not in err and "Warning" not in err, err
