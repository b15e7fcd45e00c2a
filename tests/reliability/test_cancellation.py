"""Cancellation at random points: `tasks.run`, `tasks.wait`, `run_many`, and sync `Client` calls.

Each trial starts one call and cancels it after a seeded random delay: before
anything is sent, while a submission or a poll is on the wire (a third of the
emulator's answers are slowed down), while a retry backs off (some polls get a
503), or between polls. Async calls are cancelled by a cancel scope
(``anyio.move_on_after``), as a web framework's timeout would; sync calls by a
``KeyboardInterrupt`` raised in the calling thread, as Ctrl-C would.

After every trial: no asyncio task of the SDK is left, no connection is held
by the pool (``connector._acquired``), every client socket still open to the
emulator is an idle one in the pool, and a follow-up call succeeds. After all
trials: no request reaches the emulator any more (no orphaned poller), and
closing the client leaves no socket open.

The emulator runs in its own thread (`EmulatorThread`) so that every asyncio
task in the test's loop belongs to the SDK or the test.
"""

from __future__ import annotations

import asyncio
import collections
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import aiohttp
import anyio
import pytest

from stablebrowse_async import AsyncClient, PollSchedule, StablebrowseError
from stablebrowse_async.sync import Client
from stablebrowse_async.testing import EmulatorThread, Fault

TRIALS = {"quick": 50, "full": 200}  # per target: run, wait, run_many, sync Client
SECTION = "cancellation at random points"
FAST_POLLS = PollSchedule(first=0.02, factor=1.5, max_interval=0.05, jitter=0.1)
TCP_STATES_OPEN = {"01": "ESTABLISHED", "08": "CLOSE_WAIT"}
SETTLE_TRIES = 100  # x 10 ms: how long a cancelled sync call may take to unwind in its loop


def trial_faults() -> list[Fault]:
    return [
        # Submissions and polls in flight long enough to be cut (not GET /v1/tasks, the
        # follow-up call's route, which stays quick).
        Fault("delay", rate=0.3, delay=0.03, route="POST /v1/tasks"),
        Fault("delay", rate=0.3, delay=0.03, route="GET /v1/tasks/{taskId}"),
        Fault("status", status=503, rate=0.1, route="GET /v1/tasks/{taskId}"),  # retry backoff
    ]


def cancel_delay(rng: random.Random) -> float:
    """Where to cut: before sending, during the submission, or during polling."""
    roll = rng.random()
    if roll < 0.15:
        return 0.0
    if roll < 0.45:
        return rng.uniform(0.0, 0.035)
    return rng.uniform(0.035, 0.15)


def open_client_sockets(port: int) -> list[str]:
    """This machine's TCP sockets whose remote end is 127.0.0.1:`port` and that are still open.

    The emulator listens on `port`, so these are clients' sockets to it (ours:
    nothing else in the test talks to that emulator).
    """
    found = []
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            remote, state = fields[2], fields[3]
            address, _, remote_port = remote.partition(":")
            if address == "0100007F" and int(remote_port, 16) == port and state in TCP_STATES_OPEN:
                found.append(f"{fields[1]} {TCP_STATES_OPEN[state]}")
    return found


def sockets_settled(port: int, allowed: int) -> list[str]:
    """`open_client_sockets`, once at most `allowed` remain or after ~0.5 s (bounded).

    A connection that a cancellation aborted is closed by the transport on a
    later loop iteration, so the kernel can list it for a few milliseconds
    more; a leaked one stays.
    """
    sockets = open_client_sockets(port)
    for _ in range(50):
        if len(sockets) <= allowed:
            break
        time.sleep(0.01)
        sockets = open_client_sockets(port)
    return sockets


def idle_connections(connector: aiohttp.BaseConnector | None) -> int:
    if connector is None:
        return 0
    return sum(len(conns) for conns in connector._conns.values())


def held_connections(connector: aiohttp.BaseConnector | None) -> int:
    return 0 if connector is None else len(connector._acquired)


def sdk_tasks(baseline: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Tasks of the test's loop that were not there at the start (the emulator has its own loop)."""
    return {t for t in asyncio.all_tasks() - baseline if t is not asyncio.current_task()}


def quiet_after(emu: EmulatorThread, seconds: float = 0.3) -> int:
    """Requests the emulator receives in `seconds` of doing nothing (expected: none)."""
    before = len(emu.requests)
    time.sleep(seconds)
    return len(emu.requests) - before


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(durations=(0.05, 0.3), pending_for=0.02, seed=5) as emulator:
        for fault in trial_faults():
            emulator.call(emulator.faults.append, fault)
        yield emulator


def record_figures(
    figures: Any, target: str, trials: int, tally: collections.Counter[str], took: float
) -> None:
    figures.record(SECTION, f"{target}: trials", trials)
    figures.record(SECTION, f"{target}: outcomes", dict(sorted(tally.items())))
    figures.record(SECTION, f"{target}: duration", f"{took:.1f} s")


# -- async: tasks.run, tasks.wait, run_many ----------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("target", ["tasks.run", "tasks.wait", "run_many"])
async def test_cancelling_async_calls_at_random_points_leaves_nothing_behind(
    emu: EmulatorThread, target: str, reliability_size: str, figures: Any
) -> None:
    trials = TRIALS[reliability_size]
    rng = random.Random(f"cancel:{target}")
    random.seed(f"sdk-jitter:{target}")
    tally: collections.Counter[str] = collections.Counter()
    baseline = asyncio.all_tasks()
    started = time.perf_counter()
    async with AsyncClient(
        emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS, timeout=5
    ) as client:
        for trial in range(trials):
            duration = rng.uniform(0.03, 0.25)
            text = f"{target} trial {trial} [[duration={duration:.2f}]]"
            cut = cancel_delay(rng)
            outcomes: list[Any] = []
            task_id = None
            if target == "tasks.wait":
                task_id = (await client.tasks.submit(end_user_id="w", task=text)).task_id
            with anyio.move_on_after(cut) as scope:
                try:
                    if target == "tasks.run":
                        outcomes.append(await client.tasks.run(end_user_id="r", task=text))
                    elif target == "tasks.wait":
                        assert task_id is not None
                        outcomes.append(await client.tasks.wait(task_id))
                    else:
                        requests = [
                            {"end_user_id": "m", "task": f"{text} #{n} [[duration={d:.2f}]]"}
                            for n, d in enumerate(rng.uniform(0.02, 0.25) for _ in range(4))
                        ]
                        async with client.tasks.run_many(requests, concurrency=4) as batch:
                            outcomes.extend([o async for o in batch])
                except StablebrowseError as error:  # an injected fault ended it first
                    outcomes.append(error)
            if scope.cancelled_caught:
                tally[
                    f"cancelled after {len(outcomes)} result(s)" if outcomes else "cancelled"
                ] += 1
            else:
                kinds = {type(o).__name__ for o in outcomes}
                tally["finished first" + (f" ({', '.join(sorted(kinds))})" if kinds else "")] += 1
            await asyncio.sleep(0)  # let closed transports finish closing
            await asyncio.sleep(0)

            if sdk_tasks(baseline):
                # See test_run_many_aclose_under_a_cancelled_scope_waits_for_its_engine.
                tally["an SDK task outlived the call (then finished)"] += 1
            for _ in range(SETTLE_TRIES):
                if not sdk_tasks(baseline):
                    break
                await asyncio.sleep(0.01)
            assert sdk_tasks(baseline) == set(), (trial, cut)
            assert held_connections(client.connector) == 0, (trial, cut)
            idle = idle_connections(client.connector)
            sockets = await anyio.to_thread.run_sync(sockets_settled, emu.emulator.port, idle)
            assert len(sockets) <= idle, (trial, cut, sockets)
            assert isinstance(await client.tasks.list(limit=1), list)  # still works

        assert await anyio.to_thread.run_sync(quiet_after, emu) == 0, "an orphaned poller"
        connector = client.connector
    assert connector is not None and connector.closed
    await asyncio.sleep(0)
    assert open_client_sockets(emu.emulator.port) == []
    record_figures(figures, target, trials, tally, time.perf_counter() - started)


# -- sync: Client calls cut by KeyboardInterrupt ---------------------------------------------------


class Interrupter:
    """Raises KeyboardInterrupt in the main thread after a delay, like Ctrl-C.

    SIGUSR1 is sent to the main thread (SIGALRM belongs to pytest-timeout); its
    handler raises only while armed, so a late signal can never escape a trial.
    """

    def __init__(self) -> None:
        self.armed = False
        self.fired = 0
        self._timer: threading.Timer | None = None
        self._previous: Any = None

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.armed:
            self.armed = False
            self.fired += 1
            raise KeyboardInterrupt

    def __enter__(self) -> Interrupter:
        self._previous = signal.signal(signal.SIGUSR1, self._handler)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disarm()
        signal.signal(signal.SIGUSR1, self._previous)

    def arm(self, delay: float) -> None:
        main = threading.main_thread().ident
        assert main is not None
        self.armed = True
        self._timer = threading.Timer(delay, signal.pthread_kill, (main, signal.SIGUSR1))
        self._timer.start()

    def disarm(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            timer.join()
        time.sleep(0)  # a signal already sent runs its handler here, at the latest
        self.armed = False


async def _loop_state(client: AsyncClient) -> tuple[frozenset[str], int, int]:
    """Run in the sync client's loop: its other tasks, held and idle connections."""
    current = asyncio.current_task()
    names = frozenset(
        f"{t.get_name()}:{t.get_coro()!r}" for t in asyncio.all_tasks() if t is not current
    )
    return names, held_connections(client.connector), idle_connections(client.connector)


def settled(client: Client, baseline: frozenset[str]) -> tuple[frozenset[str], int, int]:
    """The loop's state once a cancelled call has unwound (bounded: SETTLE_TRIES x 10 ms)."""
    portal = client._portal
    for _ in range(SETTLE_TRIES):
        names, held, idle = portal.call(_loop_state, portal.client)
        if names <= baseline and held == 0:
            break
        time.sleep(0.01)
    return names - baseline, held, idle


def sync_operation(
    client: Client, target: str, text: str, rng: random.Random
) -> Callable[[], list[Any]]:
    if target == "tasks.run":
        return lambda: [client.tasks.run(end_user_id="s", task=text)]
    if target == "tasks.wait":
        task_id = client.tasks.submit(end_user_id="s", task=text).task_id
        return lambda: [client.tasks.wait(task_id)]
    requests = [
        {"end_user_id": "s", "task": f"{text} #{n} [[duration={rng.uniform(0.02, 0.25):.2f}]]"}
        for n in range(4)
    ]

    def iterate() -> list[Any]:
        with client.tasks.run_many(requests, concurrency=4) as outcomes:
            return list(outcomes)

    return iterate


def test_interrupting_sync_client_calls_at_random_points_leaves_nothing_behind(
    emu: EmulatorThread, reliability_size: str, figures: Any
) -> None:
    trials = TRIALS[reliability_size]
    rng = random.Random("cancel:sync")
    random.seed("sdk-jitter:sync")
    tally: collections.Counter[str] = collections.Counter()
    started = time.perf_counter()
    with Client(emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS, timeout=5) as client:
        client.tasks.list(limit=1)  # starts the loop thread
        baseline, _, _ = client._portal.call(_loop_state, client._portal.client)
        with Interrupter() as interrupter:
            for trial in range(trials):
                target = ("tasks.run", "tasks.wait", "run_many")[trial % 3]
                # Long tasks for run/wait: a call orphaned by the interrupt would keep polling.
                text = f"sync {target} trial {trial} [[duration={rng.uniform(0.1, 3):.2f}]]"
                operation = sync_operation(client, target, text, rng)
                cut = cancel_delay(rng)
                interrupted = False
                try:
                    try:
                        interrupter.arm(cut)
                        results = operation()
                    finally:
                        interrupter.disarm()
                except KeyboardInterrupt:
                    interrupted = True
                except StablebrowseError as error:  # an injected fault ended it first
                    results = [error]
                if interrupted:
                    tally[f"{target}: interrupted"] += 1
                else:
                    tally[f"{target}: finished first"] += 1
                    assert results

                leftover, held, idle = settled(client, baseline)
                assert leftover == frozenset(), (trial, target, cut, leftover)
                assert held == 0, (trial, target, cut)
                sockets = sockets_settled(emu.emulator.port, idle)
                assert len(sockets) <= idle, (trial, target, cut, sockets)
                assert isinstance(client.tasks.list(limit=1), list)  # still works
            fired = interrupter.fired
        assert quiet_after(emu) == 0, "an orphaned poller"
    assert open_client_sockets(emu.emulator.port) == []
    record_figures(figures, "sync Client", trials, tally, time.perf_counter() - started)
    figures.record(SECTION, "sync Client: KeyboardInterrupts delivered", fired)


@pytest.mark.anyio
# A connection whose creation is cancelled at once (move_on_after(0)) can be
# finished by asyncio after the cancellation and is then only closed by the
# garbage collector: about 1 run in 4 here, never the SDK's tasks or its
# session (asserted below). Root cause not found (see tests/reliability/README.md).
@pytest.mark.filterwarnings("ignore:unclosed transport:ResourceWarning")
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <function _SelectorTransport.__del__"
    ":pytest.PytestUnraisableExceptionWarning"
)
async def test_run_many_aclose_under_a_cancelled_scope_waits_for_its_engine(
    emu: EmulatorThread,
) -> None:
    baseline = asyncio.all_tasks()
    async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS) as client:
        requests = [{"end_user_id": "x", "task": f"long {n} [[duration=5]]"} for n in range(3)]
        with anyio.move_on_after(0):  # e.g. a web framework's request timeout
            async with client.tasks.run_many(requests) as batch:
                async for _ in batch:
                    pass
        # `async with` promises the batch is stopped and cleaned up when it exits.
        leftover = sdk_tasks(baseline)
        for _ in range(SETTLE_TRIES):  # (it does finish a moment later: no permanent leak)
            if not sdk_tasks(baseline):
                break
            await asyncio.sleep(0.01)
        assert sdk_tasks(baseline) == set()
    assert leftover == set(), leftover
