"""Running time is credited to the right bins, however `expose` spreads the work.

`DurationModel.expose` credits the two partly covered bins of a span at once
and the whole bins between them lazily, through difference arrays that
`_settle` folds in before anything reads the running time. The result must be
the running time a bin-by-bin credit gives: the same up to rounding, and no
running time at all (not a rounding residue) in a bin no span covered, across
forgetting (the weights grow, and are rescaled past 1e150) and new batches
(the recent copy emptied).
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from stablebrowse_async import _estimator
from stablebrowse_async._estimator import (
    FIRST_EDGE,
    MAX_DURATION,
    NBINS,
    DurationModel,
    bin_of,
    edge,
)

#: (kind, start, length): 0 a span seen running, 1 a completion at its end, 2 a new
#: batch, 3 a read (what is pending is folded in: `_settle`).
steps = st.lists(
    st.tuples(
        st.sampled_from((0, 0, 1, 2, 3)),
        st.floats(min_value=0.0, max_value=300.0),
        st.floats(min_value=1e-6, max_value=300.0),
    ),
    min_size=1,
    max_size=80,
)


class _BinByBin:
    """The reference: every bin a span touches credited as the span is seen, each
    span weighted as the model weighs it (forgetting, never rescaled)."""

    def __init__(self, half_life: float, recent_half_life: float) -> None:
        self.exposure = [0.0] * NBINS
        self.recent = [0.0] * NBINS
        self.half_life, self.recent_half_life = half_life, recent_half_life
        self.unit = self.recent_unit = 1.0

    def expose(self, start: float, end: float) -> None:
        for k in range(bin_of(start), NBINS):
            low, high = edge(k), edge(k + 1)
            if low >= end:
                break
            spent = min(high, end) - max(low, start)
            self.exposure[k] += self.unit * spent
            self.recent[k] += self.recent_unit * spent

    def finish(self) -> None:
        self.unit *= 2.0 ** (1.0 / self.half_life)
        self.recent_unit *= 2.0 ** (1.0 / self.recent_half_life)

    def new_batch(self) -> None:
        self.recent = [0.0] * NBINS
        self.recent_unit = 1.0


def _check(model: DurationModel, reference: _BinByBin) -> None:
    """Running time in seconds (counts over the current weight) agrees bin by bin."""
    model._settle()
    for got, unit, want, reference_unit in (
        (model._exposure, model._unit, reference.exposure, reference.unit),
        (model._recent_exposure, model._recent_unit, reference.recent, reference.recent_unit),
    ):
        for k, (a, b) in enumerate(zip(got, want, strict=True)):
            assert (a == 0.0) == (b == 0.0), (k, a, b)
            assert abs(a / unit - b / reference_unit) <= 1e-9 * (b / reference_unit), (k, a, b)


def _run(
    steps: list[tuple[int, float, float]], half_life: float, recent_half_life: float = 2.0
) -> tuple[DurationModel, _BinByBin]:
    model = DurationModel(half_life=half_life, recent_half_life=recent_half_life)
    reference = _BinByBin(half_life, recent_half_life)
    for kind, start, length in steps:
        if kind == 2:
            model.forget_recent()
            reference.new_batch()
            continue
        if kind == 3:
            model._settle()
            continue
        end = start + length
        model.expose(start, end)
        reference.expose(start, end)
        if kind == 1:
            model.finish(end)  # forgetting scales what was credited, pending bins too
            reference.finish()
    _check(model, reference)
    return model, reference


@settings(max_examples=150, deadline=None)
@given(steps, st.sampled_from((1.0, 256.0)))
# A span inside one bin, one ending on a bin's edge, spans over whole bins
# that end where another starts, and a new batch between them.
@example(
    steps=[(0, 1.0, 0.01), (0, 0.0, edge(30)), (1, edge(30), 20.0), (2, 0.0, 1.0), (0, 0.5, 9.0)],
    half_life=256.0,
)
# A span from just below an edge (where `bin_of` rounds up to the bin above) to
# that edge: about 1e-17 s, in the bin below, and nothing in the bin above.
@example(
    steps=[(0, math.nextafter(edge(9), 0.0), edge(9) - math.nextafter(edge(9), 0.0))],
    half_life=256.0,
)
def test_lazy_whole_bins_credit_what_a_bin_by_bin_credit_would(
    steps: list[tuple[int, float, float]], half_life: float
) -> None:
    _run(steps, half_life)


def test_a_bin_between_spans_gets_no_rounding_residue_as_running_time() -> None:
    # A span over bins 21-39 at weight 1, one inside it at the weight after a
    # completion (2 ** (1 / 256): 1 + w - w is not 1 in floats), and one over
    # bins 46-49: the running sums cross bins 40-44 holding about 2e-16 that
    # no span put there, and the sums start again from exactly nothing after
    # them: the last span's whole bins get its weight times their width, to the bit.
    steps = [
        (1, edge(21) - 0.001, edge(40) - edge(21)),
        (0, edge(26) - 0.001, edge(35) - edge(26)),
        (0, edge(46) - 0.001, edge(50) - edge(46)),
    ]
    model, reference = _run(steps, 256.0)
    assert model._exposure[46:49] == reference.exposure[46:49]


def test_a_read_leaves_nothing_behind_for_the_next_bins_it_folds_in() -> None:
    # A first span pending over bins 30-39, folded in by a read; then the spans
    # of the test above: bins 40-44, which no span covered, hold nothing at all
    # (a count of spans left over from the first read, at its last bin or
    # before, would carry the running sums' rounding in there).
    steps = [
        (0, edge(30) - 0.001, edge(40) - edge(30) + 0.001),
        (3, 0.0, 0.0),
        (1, edge(21) - 0.001, edge(40) - edge(21)),
        (0, edge(26) - 0.001, edge(35) - edge(26)),
        (0, edge(46) - 0.001, edge(50) - edge(46)),
    ]
    model, _ = _run(steps, 256.0)
    assert model._exposure[40:45] == [0.0] * 5


def test_the_credit_survives_the_rescaling_of_the_weights() -> None:
    # Half-life 1: the weights double with every completion and pass 1e150
    # (rescaled to 1) after ~500 (here 533), with whole bins pending across it.
    steps = [(1 if i % 3 else 0, 0.1 * (i % 7), 2.0 + (i % 11)) for i in range(800)]
    _run(steps, 1.0, 1.0)


def _estimates(model: DurationModel) -> list[float]:
    ages = [0.3 * 1.25**i for i in range(30)]
    values = [model.hazard_at(age) for age in ages]
    values += [model.cumulative_hazard(age) for age in ages]
    values += [low + high + hazard for low, high, hazard in model.segments(0.0)]
    values += [age + probability for age, probability in model.points(60.0)]
    values += [model.median or -1.0, model.quantile(0.9) or -1.0, float(model.shifted)]
    return values


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rescaling_the_weights_changes_no_estimate(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same observations (two batches, the second longer: a shift) on two
    # models, one of which rescales its counts every few completions: every
    # estimate agrees to rounding, so every count is rescaled (the long-run
    # and recent completions, their finer places, the pending running time).
    rng = random.Random(seed)
    plain = DurationModel(half_life=4.0, recent_half_life=2.0)
    rescaled = DurationModel(half_life=4.0, recent_half_life=2.0)
    for batch, (low, high) in enumerate(((1.0, 3.0), (4.0, 9.0))):
        if batch:
            for model in (plain, rescaled):
                model.forget_recent()
        for _ in range(60):
            duration = rng.uniform(low, high)
            seen = [rng.uniform(0.0, duration) for _ in range(3)]
            for model, limit in ((plain, 1e150), (rescaled, 16.0)):
                monkeypatch.setattr(_estimator, "_RESCALE_AT", limit)
                model.expose(0.0, min(seen))
                model.expose(min(seen), max(seen))
                model.expose(max(seen), duration)
                model.finish(duration)
        assert rescaled._unit < 16.0 < plain._unit
        assert _estimates(rescaled) == pytest.approx(_estimates(plain), rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    durations=st.lists(st.floats(min_value=0.01, max_value=5000.0), min_size=1, max_size=40),
    running=st.lists(st.floats(min_value=0.0, max_value=6000.0), max_size=10),
    ages=st.lists(
        st.one_of(
            st.floats(min_value=0.0, max_value=6000.0),  # where the durations lie
            st.floats(min_value=0.0, max_value=2 * MAX_DURATION),
            st.sampled_from([0.0, FIRST_EDGE, edge(40), edge(NBINS - 1), edge(NBINS)]),
        ),
        max_size=20,
    ),
)
@example(durations=[MAX_DURATION] * 3, running=[], ages=[2 * MAX_DURATION])  # the last bin
def test_cumulative_hazards_integrate_the_hazard_bin_by_bin(
    durations: list[float], running: list[float], ages: list[float]
) -> None:
    """The engine ranks thousands of polls with one `cumulative_hazards` call: each
    value is the hazard integrated over the whole bins below the age and the
    part of its own bin, up to the last bin's upper edge."""
    model = DurationModel()
    for duration in durations:
        model.learn(duration)
    for age in running:
        model.expose(0.0, age)

    def rate(k: int) -> float:
        return model.hazard_at((edge(k) + edge(k + 1)) / 2)

    got = model.cumulative_hazards(ages)
    assert len(got) == len(ages)
    for age, value in zip(ages, got, strict=True):
        k = bin_of(age)
        whole = sum(rate(j) * (edge(j + 1) - edge(j)) for j in range(k))
        expected = whole + rate(k) * (min(age, edge(k + 1)) - edge(k))
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert value == model.cumulative_hazard(age)  # one age at a time: the same float
    assert model.cumulative_hazards([]) == []
