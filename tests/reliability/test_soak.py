"""Fault soak: thousands of tasks through `run_many` while the emulator misbehaves on every route.

The emulator injects, on submissions and polls alike: 5xx (10 %, as JSON, a
``{"message"}`` body, gateway HTML and an empty body), 429 with ``Retry-After``
(5 %, plus two real one-second pauses), connection resets before and after the
server acted (2 %), truncated JSON (1 %) and slow answers, a few slower than
the client's timeout. The test then holds every outcome against the emulator's
own record of what it created:

- every request has exactly one outcome;
- the emulator created at most one task per request (no duplicate);
- a request whose task was created either succeeded, ended as the task's own
  failure, or is an `AmbiguousRequestError` (it says the task may exist) —
  never a plain failure that would invite a blind resubmission;
- a request reported as a plain (non-ambiguous) failure created nothing;
- no unhandled exception, no "Unclosed" warning, no client socket left
  unclosed, no asyncio task left pending.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import random
import re
import time
import warnings
from typing import Any

import pytest

from stablebrowse_async import (
    AmbiguousRequestError,
    AsyncClient,
    InternalServerError,
    PollSchedule,
    TaskFailedError,
    TaskOutcome,
    TaskTimeoutError,
)
from stablebrowse_async.testing import Emulator, Fault

pytestmark = pytest.mark.anyio

SIZES = {"quick": 2_000, "full": 10_000}
SECTION = "fault soak (run_many)"
CLIENT_TIMEOUT = 1.0
SLOWEST_FAULT = 1.5  # a delay longer than CLIENT_TIMEOUT: the client gives up first
POLLS = PollSchedule(first=0.05, factor=1.5, max_interval=0.2, jitter=0.1)


def soak_faults() -> list[Fault]:
    """The fault mix, on every route (first rule that fires wins, so later rates are a bit lower)."""
    return [
        # Two real Retry-After pauses: every request of the client waits them out.
        Fault("rate_limit", rate=0.001, retry_after=1, times=2),
        # 5xx, 10 % in all, in the shapes servers and gateways really answer with.
        Fault("status", status=500, rate=0.04),
        Fault("message", status=503, rate=0.02),
        Fault("html", status=502, rate=0.02),
        Fault("empty", status=504, rate=0.02),
        # 429 with Retry-After (0 s, so the soak does not crawl; the two above are 1 s).
        Fault("rate_limit", rate=0.05, retry_after=0),
        # Connection resets: before the server acted, and after it acted.
        Fault("reset_before", rate=0.01),
        Fault("reset_after", rate=0.01),
        # A 200 whose JSON is cut in half.
        Fault("truncated", rate=0.01),
        # Slow answers; a few slower than the client's timeout.
        Fault("delay", rate=0.02, delay=0.2),
        Fault("delay", rate=0.002, delay=SLOWEST_FAULT),
    ]


def fault_label(fault: Fault) -> str:
    detail = fault.status or (f"{fault.delay:g}s" if fault.kind == "delay" else "")
    if fault.kind == "rate_limit":
        detail = f"Retry-After {fault.retry_after:g}"
    return f"{fault.kind}{f' {detail}' if detail else ''} @{fault.rate:g}"


class RetryCounter(logging.Handler):
    """Counts the SDK's own "retrying ..." log records (one per retried HTTP attempt)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.by_method: collections.Counter[str] = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("retrying") and record.args:
            assert isinstance(record.args, tuple)
            self.by_method[str(record.args[0])] += 1


def created_by_text(emu: Emulator) -> collections.Counter[str]:
    """How many tasks the emulator created for each task text (its ground truth, read directly)."""
    return collections.Counter(task.text for task in emu._state.tasks.values())


def task_id_by_text(emu: Emulator) -> dict[str, str]:
    return {task.text: task.id for task in emu._state.tasks.values()}


def leaked_client_sockets(caught: list[warnings.WarningMessage], port: int) -> list[str]:
    """ResourceWarnings for unclosed sockets whose *remote* end is the emulator: the client's."""
    pattern = re.compile(r"raddr=\('[^']*', (\d+)\)")
    leaked = []
    for warning in caught:
        text = str(warning.message)
        match = pattern.search(text)
        if "unclosed" in text.lower() and match and int(match.group(1)) == port:
            leaked.append(text)
    return leaked


def classify(outcome: TaskOutcome, created: int) -> str:
    """The outcome's kind; asserts it is consistent with what the server created."""
    error = outcome.error
    if error is None:
        assert created == 1, (outcome.index, created)
        return "completed"
    if isinstance(error, TaskFailedError):
        assert created == 1, (outcome.index, created)
        return "failed (the task's own failure)"
    if isinstance(error, TaskTimeoutError):
        assert created == 1, (outcome.index, created)
        return "poll timeout"
    if isinstance(error, AmbiguousRequestError):
        # It says so ("may have acted", or "exists but its id is unknown"), and
        # carries what was sent so the caller can reconcile.
        assert re.search(r"\bmay\b|\bexists\b", str(error)), error
        assert error.request == outcome.request
        return "ambiguous, task exists" if created else "ambiguous, no task"
    # Any other error claims the submission failed: then nothing may exist.
    assert created == 0, (outcome.index, type(error).__name__, error)
    if isinstance(error, InternalServerError):
        return f"submission refused ({error.status_code})"
    return f"submission refused ({type(error).__name__})"


async def test_fault_soak_one_outcome_per_request_and_no_hidden_task(
    reliability_size: str, figures: Any
) -> None:
    size = SIZES[reliability_size]
    random.seed(20260421)  # the SDK's jitter; the schedule of concurrent requests still varies
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    retries = RetryCounter()
    sdk_logger = logging.getLogger("stablebrowse_async")
    sdk_logger.addHandler(retries)
    old_level = sdk_logger.level
    if sdk_logger.getEffectiveLevel() > logging.INFO:
        sdk_logger.setLevel(logging.INFO)
    before = asyncio.all_tasks()
    faults = soak_faults()
    started = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with Emulator(durations=(0.05, 0.4), seed=2026, faults=faults) as emu:
                async with AsyncClient(
                    emu.api_key,
                    base_url=emu.url,
                    poll_interval=POLLS,
                    poll_timeout=120,
                    timeout=CLIENT_TIMEOUT,
                    max_retries=4,
                ) as client:
                    requests = [
                        {
                            "end_user_id": f"user-{i % 97}",
                            "task": f"soak {i}" + (" [[fail]]" if i % 41 == 0 else ""),
                        }
                        for i in range(size)
                    ]
                    async with client.tasks.run_many(requests, concurrency=64) as batch:
                        outcomes = [outcome async for outcome in batch]
                ran_for = time.perf_counter() - started
                # A submission the client timed out on may still be processed by the
                # server a moment later: let the slowest injected delay run out.
                await asyncio.sleep(SLOWEST_FAULT + 0.2)
                created = created_by_text(emu)
                ids = task_id_by_text(emu)
                requests_seen = collections.Counter(r.method for r in emu.requests)
                port = emu.port
            del client, batch
            gc.collect()
            await asyncio.sleep(0)
            gc.collect()
    finally:
        loop.set_exception_handler(previous_handler)
        sdk_logger.removeHandler(retries)
        sdk_logger.setLevel(old_level)

    # Exactly one outcome per request.
    assert sorted(o.index for o in outcomes) == list(range(size))
    # At most one task per request, and none the SDK did not ask for.
    assert max(created.values()) == 1, created.most_common(3)
    assert set(created) <= {r["task"] for r in requests}
    # Each outcome agrees with what the server created.
    tally: collections.Counter[str] = collections.Counter()
    for outcome in outcomes:
        text = requests[outcome.index]["task"]
        tally[classify(outcome, created[text])] += 1
        if outcome.task is not None:
            assert outcome.task.task_id == ids[text]
            assert outcome.task.task == text
        elif isinstance(outcome.error, (TaskFailedError, TaskTimeoutError)):
            assert outcome.error.task.task_id == ids[text]
    assert tally["completed"] > size * 0.7, tally  # faults hit, but most work gets through
    # Nothing unhandled, nothing unclosed, nothing left running.
    assert unhandled == []
    assert [str(w.message) for w in caught if "Unclosed" in str(w.message)] == []
    assert leaked_client_sockets(caught, port) == []
    pending = {t for t in asyncio.all_tasks() - before if not t.done()}
    assert pending == set()

    fired = {fault_label(f): f.fired for f in faults}
    figures.record(SECTION, "tasks requested", size)
    figures.record(SECTION, "HTTP requests the emulator received", dict(requests_seen))
    figures.record(SECTION, "faults injected", sum(fired.values()))
    figures.record(SECTION, "faults by kind", fired)
    figures.record(SECTION, "SDK retries (by method)", dict(retries.by_method))
    figures.record(SECTION, "tasks the emulator created", sum(created.values()))
    figures.record(SECTION, "outcomes", dict(sorted(tally.items())))
    figures.record(SECTION, "run_many duration", f"{ran_for:.1f} s")
