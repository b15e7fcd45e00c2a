"""StepTracker: every step reported once and in order, whatever the server does to the list."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from stablebrowse_async import StepSummary, Task, TaskStatus, TaskUpdate
from stablebrowse_async._watch import StepTracker

STEPS = [StepSummary(n=n, type="act", msg=f"step {n}", success=True) for n in range(1, 31)]


def record(status: str, steps: list[StepSummary], total: int | None) -> Task:
    return Task(
        task_id="t1", status=TaskStatus(status), total_steps=total, step_summaries=tuple(steps)
    )


def mangle(steps: list[StepSummary], kind: str, rng: random.Random) -> list[StepSummary]:
    """What the emulator's step faults do to a running record's list."""
    if kind == "drop":
        return []
    if kind == "shuffle":
        shuffled = steps[:]
        rng.shuffle(shuffled)
        return shuffled
    if kind == "truncate" and len(steps) > 1:
        return steps[-rng.randint(1, len(steps) - 1) :]
    return steps


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(min_value=0, max_value=30),
    polls=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(["whole", "drop", "shuffle", "truncate"])),
        max_size=25,
    ),
    seed=st.integers(0, 2**16),
    final=st.sampled_from(["completed", "failed", "cancelled"]),
    counted=st.booleans(),
)
def test_every_step_once_and_in_order_under_any_mangling(
    total: int,
    polls: list[tuple[int, str]],
    seed: int,
    final: str,
    counted: bool,
) -> None:
    rng = random.Random(seed)
    tracker = StepTracker()
    updates: list[TaskUpdate] = []
    done = 0
    for grown, kind in polls:
        done = max(done, min(grown, total))  # the true list only grows
        steps = mangle(STEPS[:done], kind, rng)
        update = tracker.observe(record("running", steps, done if counted else None))
        if update is not None:
            updates.append(update)
    # A finished record is whole, as the API (and the emulator) send it.
    last = tracker.observe(record(final, STEPS[:total], total if counted else None))
    assert last is not None
    updates.append(last)
    reported = [step for update in updates for step in update.new_steps]
    if counted:
        assert reported == STEPS[:total]
    else:
        # Without totalSteps a truncated list cannot be told from a whole one:
        # still never a step twice, and everything by the end.
        assert sorted(reported, key=lambda s: s.n or 0) == STEPS[:total]
        assert len(reported) == len({s.n for s in reported})
    assert updates[0].previous_status is None
    assert all(u.previous_status == p.task.status for p, u in itertools.pairwise(updates))


def test_no_change_no_update_and_unknown_statuses_are_changes() -> None:
    tracker = StepTracker()
    first = tracker.observe(record("pending", [], 0))
    assert first is not None and first.new_steps == () and first.previous_status is None
    assert tracker.observe(record("pending", [], 0)) is None
    grown = tracker.observe(record("pending", STEPS[:2], 2))
    assert grown is not None and grown.new_steps == tuple(STEPS[:2])
    assert grown.previous_status is TaskStatus.PENDING
    assert tracker.observe(record("pending", STEPS[:2], 2)) is None  # resent whole: nothing new
    odd = tracker.observe(record("reviewing", STEPS[:2], 2))
    assert odd is not None and odd.task.status == "reviewing" and odd.new_steps == ()
    # An unknown status parses to a new object each time: the same value is no change.
    assert tracker.observe(record("reviewing", STEPS[:2], 2)) is None


def test_steps_beyond_a_gap_wait_for_the_gap_or_the_end() -> None:
    tracker = StepTracker()
    tracker.observe(record("running", STEPS[:2], 2))
    tail = tracker.observe(record("running", STEPS[3:5], 5))  # 3 missing: truncated list
    assert tail is None  # nothing reportable in order yet, no status change
    filled = tracker.observe(record("running", STEPS[2:5], 5))
    assert filled is not None and [s.n for s in filled.new_steps] == [3, 4, 5]


def test_unnumbered_steps_are_reported_once_by_value() -> None:
    loose = StepSummary(type="note", msg="no number")
    tracker = StepTracker()
    first = tracker.observe(record("running", [loose, STEPS[0]], 2))
    assert first is not None and first.new_steps == (STEPS[0], loose)
    assert tracker.observe(record("running", [STEPS[0], loose], 2)) is None
