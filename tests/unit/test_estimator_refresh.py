"""The re-estimation skips the bins far below the shortest completion, and that changes nothing.

`DurationModel._refresh` computes hazards, the shift test and the cumulative
hazard only from ``2 * WIDE_POOL`` bins below the lowest bin that ever
held a completion. A model told that its lowest completion lies in bin 0
computes every bin; the two must agree to the bit, whatever the observations
(the sums that start at the window are zero, or never read, below it).
"""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from stablebrowse_async._estimator import WIDE_POOL, DurationModel, bin_of

#: One observation: (kind, duration, where in it the task was last seen running).
#: kind 0: running at that age; 1: finished; 2: a new batch (the recent copy emptied).
observations = st.lists(
    st.tuples(
        st.sampled_from((0, 1, 1, 2)),
        st.floats(min_value=0.3, max_value=400.0),
        st.floats(min_value=0.0, max_value=1.0),
    ),
    min_size=1,
    max_size=120,
)


def _feed(model: DurationModel, steps: list[tuple[int, float, float]]) -> None:
    for kind, duration, seen in steps:
        if kind == 2:
            model.forget_recent()
        elif kind == 0:
            model.expose(0.0, duration * seen)
        else:
            model.expose(duration * seen, duration)
            model.finish(duration)


def _state(model: DurationModel) -> list[float]:
    model._refresh()
    return [*model._hazard, *model._local, *model._cum, *model._edge, float(model._shifted)]


@settings(max_examples=80, deadline=None)
@given(observations, st.floats(min_value=1.0, max_value=200.0))
# Running time only far below the only completion (seen at its own end): the
# edge, the last bin with running time, lies below that completion's window.
@example(steps=[(0, 1.0, 0.5), (1, 2.0, 1.0)], shortest=1.0)
def test_skipping_the_bins_below_the_shortest_completion_changes_no_estimate(
    steps: list[tuple[int, float, float]], shortest: float
) -> None:
    # Every observation at least `shortest` long: many bins lie below the window.
    steps = [(kind, shortest + duration, seen) for kind, duration, seen in steps]
    windowed, full = DurationModel(), DurationModel()
    for model in (windowed, full):
        _feed(model, steps)
    full._first = 0  # the lowest completion "in bin 0": every bin is computed
    assert windowed._first == min(
        (bin_of(d) for kind, d, _ in steps if kind == 1), default=windowed._first
    )
    assert _state(windowed) == _state(full)


def _shifted_batch(model: DurationModel) -> None:
    """300 tasks that took 20 s, then a batch whose tasks run past 20 s and 3 of 53 finish there."""
    for _ in range(300):
        model.expose(0.0, 20.0)
        model.finish(20.0)
    model.forget_recent()
    for _ in range(50):
        model.expose(0.0, 40.0)
    for _ in range(3):
        model.expose(0.0, 20.0)
        model.finish(20.0)


def test_a_snapshot_s_running_time_far_below_its_completions_keeps_its_edge() -> None:
    # Rows as a snapshot may hold them: running time up to 1 s, completions at 30 s.
    prior = {"version": 1, "bins": [[0.95, 1.04, 0.0, 50.0], [29.0, 31.0, 10.0, 0.0]]}
    windowed, full = DurationModel(), DurationModel()
    for model in (windowed, full):
        model.seed(prior)
    full._first = 0
    assert windowed.edge() == full.edge() and windowed.edge()[0] > 1.0
    assert _state(windowed) == _state(full)


def test_the_wide_shift_test_below_the_shortest_completion_counts_all_its_running_time() -> None:
    # The bin `WIDE_POOL` below the only completions fails the wide test (3 seen
    # where hundreds were due): its hazard becomes the recent one, 3 completions
    # over the recent running time of its whole window, which reaches
    # `2 * WIDE_POOL` bins below the completions.
    windowed, full = DurationModel(), DurationModel()
    for model in (windowed, full):
        _shifted_batch(model)
    full._first = 0
    low = bin_of(20.0) - WIDE_POOL
    assert windowed.shifted > 0
    assert windowed._hazard[low] > 0
    assert math.isclose(windowed._hazard[low], full.hazard_at(edge_of(low)), rel_tol=1e-9)
    assert _state(windowed) == _state(full)


def edge_of(k: int) -> float:
    """An age inside bin `k`."""
    from stablebrowse_async._estimator import edge

    return (edge(k) + edge(k + 1)) / 2
