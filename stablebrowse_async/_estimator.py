"""What a client has learned about how long its tasks take: a small survival model.

Pure (no I/O, no clock, no randomness): the schedule feeds it observations and
asks it questions.

Choice of estimator. Task durations are right-censored: while a batch runs, the
client sees its short tasks finish and its long ones still running. An
estimator fed only finished tasks learns "tasks are short". The model here is
the *piecewise-exponential* survival estimator: the time axis is cut into
log-spaced bins, and in each bin the hazard (completions per second per task
still running) is estimated as ``events / exposure``, where ``exposure`` is the
total time tasks were *seen* running inside the bin. It is the maximum-likelihood
estimator under a hazard that is constant within each bin, it is Kaplan-Meier's
continuous-time sibling (same answer as the bins shrink), and, unlike
Kaplan-Meier on bins, it needs no per-task risk set: a poll that sees a task
still running at age ``c`` simply credits the exposure between the previous
poll's age and ``c``; a poll that sees it finished credits the exposure up to its
exact duration (``durationMs``) and one event there. Memory is two arrays of
`NBINS` floats whatever the number of tasks.

Log-spaced bins (ratio ``2 ** (1/8)``, about 9 %) give the same relative
resolution to a 1 s task and to a 10 min one. Hazards are pooled over
neighbouring bins (±`POOL` bin, about ±9 % of a duration) so that a bin with
exposure but, by chance, no event does not read as "nothing ever finishes
here"; wider pooling smears sharp edges of a distribution (measured: it cost
lag on the bimodal workload). Where the neighbourhood holds `RICH`
completions and the bin itself one, the local rule's hazard (`segments`) is
the bin's own rate, as the plans' (`points`) is.

Forgetting. Every new completion first multiplies all that was learned by
``2 ** (-1 / half_life)``: a steady workload keeps an effective sample of
about ``1.44 * half_life`` completions. (Implemented as a growing weight for
new observations, so forgetting costs nothing per observation.)

Following a shift quickly. Slow forgetting alone follows a workload that
shifts only after a few hundred completions. So the model keeps a second,
*recent* copy of the same counts that forgets fast (``recent_half_life``,
default 16 completions, which `AdaptiveSchedule` raises to the number of
tasks in the batch it watches), and tests, in each pooled bin, whether the
recent counts agree with the long-run hazard (on the pooled bins, then on a
wider neighbourhood, `WIDE_POOL`, where a few tasks give more evidence):
under that hazard the recent exposure
should have seen ``expected = hazard * exposure`` completions, Poisson
distributed; when the recent count is more than `Z` standard deviations away
(and off by more than `MIN_GAP` completions), the bin's hazard is the recent
estimate alone, otherwise the long-run one (the precise one while nothing
changed). The test is local: a shift to short tasks raises the hazard where
the new tasks finish within a dozen completions, while the long-run tail
stays known where the recent tasks have not been seen. The schedule empties
the recent copy when a new batch starts (`forget_recent`), so a batch is
tested on its own evidence: its first sentinels' completions, or its tasks
seen running where the old workload finished. Nothing here is tied to
a workload: the threshold is a plain 4-sigma test (3 sigma raised too many
false alarms over ~170 bins tested twice: a censored steady stream drifted 10 %).

Forgetting the recent copy within a batch. A batch's completions come after
the polls that counted the running time explaining them, all in one burst
when its durations are close. Forgotten every 16 completions, that running
time weighed a fraction of the burst, and more completions were seen than
expected where nothing had moved: a batch of 10 +- 0.5 s tasks after one of
the same read as a shift, its median 7.1 s (simulated, 400 tasks a batch);
so within a batch the recent copy forgets over about as many completions as
the batch has tasks.

Completions where the model said none happen. The test above compares the
recent counts with the long-run hazard, and the long-run counts hold the
recent completions too: where a batch's first few tasks finish inside a
quiet stretch the model learned (between two modes), the long-run hazard
rises with them, and with the 4-sigma and `MIN_GAP` floors a handful of
sentinels could not show a shift there (simulated: bimodal 2 s / 30 s
learned, then long tasks of 9-12 s: seen only at the plan's 26 s poll, 15.5x
the frontier, 4.2 s of lag, where the geometric schedule has 1.1 s). So a
batch is also tested against the model *as it stood when the batch began*
(its bins' pooled rates, never below a bin's own, kept by `forget_recent`):
two completions or more where that model expected so few that Poisson odds
of seeing them are below those of a 4-sigma deviation (`_ALPHA`) are a shift
too. One completion never is (noise: a duration at a bin's edge, a task in
a tail).

Completions in a bin the plan treats as empty. A pooled rate spills a dense
bin's completions into its quiet neighbours, so just past a mode's end it
expects a few; but the plan (`points`: where completions were seen) has none
there. After 2 s / 9-12 s tasks, a batch of 8-14 s ones finishing at
12.8-14 s was seen at the plan's 26 s poll (simulated, 500 tasks a batch:
5.6x the frontier, 5 s of lag). So a bin that saw running time and no
completion when the batch began, below the longest learned duration and
within two bins (~19 % of the age) of a bin with `RICH` completions, shows a
shift at its second completion (1.5x). The dense neighbour is what tells a
moved edge from a sparse tail: between the scattered long durations of a
wide lognormal, or the first ones of a Weibull, empty bins beside sparse ones
are common, and two completions there are noise (without that condition,
simulated warm batches: wide lognormal 1.49x -> 1.56x, Weibull 1.16x ->
1.19x on one seed each; with it, every workload that did not move reads as
before).
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate, repeat
from operator import mul, truediv
from typing import Any

__all__ = ["NBINS", "RECENT_HALF_LIFE", "WIDE_POOL", "DurationModel", "bin_of", "edge"]

#: Lower edge of the first positive bin, seconds; durations below fall in bin 0.
FIRST_EDGE = 0.05
#: Ratio between consecutive bin edges.
RATIO = 2.0 ** (1.0 / 8.0)
#: Longest duration accepted as an observation (seconds): one week.
MAX_DURATION = 7 * 86400.0
#: Bins up to a little over one week (the last one ends past `MAX_DURATION`).
NBINS = 2 + int(math.log(MAX_DURATION / FIRST_EDGE) / math.log(RATIO))
#: Parts each bin is cut into to place its completions more finely (`points`).
SUB = 8
#: Neighbouring bins pooled on each side when estimating a bin's hazard.
POOL = 1
#: The wider neighbourhood (bins on each side, a factor ~2 in age) also tested for a shift.
WIDE_POOL = 4
#: Completions (after forgetting) in a bin's pooled neighbourhood from which
#: `DurationModel.points` trusts the bin's own estimate over the pooled one.
#: Simulated warm batches and shifts, 6 seeds: 2 let the phase after a shift
#: plan on too few (one seed 2.1x the frontier); 10 keeps the spill at the
#: edge of a mode whose last bin holds ~5 (bimodal 1.22x, as pooled; 5: 1.18x).
RICH = 5.0
#: Standard deviations by which recent completions must disagree with the long-run hazard.
Z = 4.0
_Z2 = Z * Z
#: The one-sided odds of a `Z`-sigma deviation (what `_unlikely` compares Poisson odds with).
_ALPHA = 0.5 * math.erfc(Z / math.sqrt(2.0))
#: ... and completions by which they must disagree (a test on one or two is noise).
MIN_GAP = 3.0
#: Completions after which the recent copy forgets half (its default; `AdaptiveSchedule`
#: raises it to the size of the batch it watches).
RECENT_HALF_LIFE = 16.0
_LOG_RATIO = math.log(RATIO)
_RESCALE_AT = 1e150


def _prefix(values: list[float], start: int, stop: int, unit: float) -> list[float]:
    """Running sums of ``values[start:stop]`` divided by `unit` (what was learned, after
    forgetting), indexed like `values`: item ``k`` sums bins ``start`` to ``k - 1``."""
    sums = [0.0] * start
    sums += accumulate(map(truediv, values[start:stop], repeat(unit)), initial=0.0)
    return sums


def _unlikely(seen: float, expected: float) -> bool:
    """Whether `seen` completions (rounded) or more are less likely than `_ALPHA` when
    `expected` are (Poisson). Only asked where `expected` is small: a few terms."""
    if expected >= seen:
        return False
    term = math.exp(-expected)  # P(X = 0)
    below = 0.0
    for i in range(int(seen + 0.5)):
        below += term
        term *= expected / (i + 1)
    return 1.0 - below < _ALPHA


def _forget(unit: float, half_life: float, *counts: list[float] | array[float]) -> float:
    """One completion's forgetting: the weight of what is learned next (returned).

    When that weight grows past `_RESCALE_AT`, the `counts` are divided by it
    in place and it starts again at 1 (the same model, in floats that stay finite).
    """
    unit *= 2.0 ** (1.0 / half_life)
    if unit > _RESCALE_AT:
        scale = 1.0 / unit
        for values in counts:
            for k, value in enumerate(values):
                values[k] = value * scale
        unit = 1.0
    return unit


def edge(k: int) -> float:
    """Lower edge of bin `k` in seconds (bin 0 starts at 0)."""
    if k <= 0:
        return 0.0
    return FIRST_EDGE * RATIO ** (k - 1)


def bin_of(seconds: float) -> int:
    """The bin holding a duration of `seconds`."""
    if seconds < FIRST_EDGE:
        return 0
    return min(NBINS - 1, 1 + int(math.log(seconds / FIRST_EDGE) / _LOG_RATIO))


_EDGES = tuple(edge(k) for k in range(NBINS + 1))
_WIDTHS = tuple(_EDGES[k + 1] - _EDGES[k] for k in range(NBINS))


def _count(value: Any) -> bool:
    """Whether `value` is a finite number (not a bool), as a snapshot's counts must be."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class DurationModel:
    """Piecewise-exponential estimate of the distribution of task durations.

    Args:
        half_life: completions after which an old observation weighs half.
        recent_half_life: the same for the recent copy the shift test reads
            (an attribute its owner may change between completions).
    """

    __slots__ = (
        "_batch_empty",
        "_batch_rates",
        "_batch_span",
        "_cover",
        "_cover_from",
        "_cover_to",
        "_covering",
        "_cum",
        "_dirty",
        "_edge",
        "_events",
        "_exposure",
        "_first",
        "_fresh",
        "_hazard",
        "_hazard_from",
        "_local",
        "_median",
        "_pending",
        "_recent_count",
        "_recent_cover",
        "_recent_events",
        "_recent_exposure",
        "_recent_unit",
        "_shifted",
        "_sub_events",
        "_total",
        "_unit",
        "_used",
        "half_life",
        "ignored",
        "observed",
        "recent_half_life",
        "refreshes",
        "unexpected",
    )

    def __init__(
        self, half_life: float = 256.0, recent_half_life: float = RECENT_HALF_LIFE
    ) -> None:
        for name, value in (("half_life", half_life), ("recent_half_life", recent_half_life)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not (math.isfinite(value) and value >= 1):
                raise ValueError(f"{name} must be a finite number >= 1, got {value!r}")
        self.half_life = float(half_life)
        self.recent_half_life = float(recent_half_life)
        self._events = [0.0] * NBINS
        self._exposure = [0.0] * NBINS
        # Completions by eighth of a bin (same weights as `_events`): where in
        # its bin the mass sits, which the hazards alone blur over ~9 %.
        self._sub_events = array("d", bytes(8 * NBINS * SUB))
        self._unit = 1.0
        self._used = 0  # bins [0, _used) may hold counts; the others are all zero
        self._first = NBINS  # the lowest bin that ever held a completion
        self._recent_events = [0.0] * NBINS
        self._recent_exposure = [0.0] * NBINS
        self._recent_unit = 1.0
        self._recent_count = 0
        # Whole bins credited by `expose` and not yet by `_settle`, as difference
        # arrays: the long-run and recent units, and how many spans (exact, so
        # that a bin no span covers gets no rounding residue as running time).
        self._cover = [0.0] * (NBINS + 1)
        self._recent_cover = [0.0] * (NBINS + 1)
        self._covering = [0] * (NBINS + 1)
        self._cover_from, self._cover_to = NBINS, 0
        self._edge = (0.0, 0.0)
        # Each bin's pooled rate (at least its own) when the current batch
        # began (`forget_recent`); -1 where unknown (no running time then, or
        # no batch yet). And whether the bin was one the plan treats as
        # empty, beside a dense one.
        self._batch_rates = [-1.0] * NBINS
        self._batch_empty = [False] * NBINS
        self._batch_span = (NBINS, 0)  # the bins of the shortest and longest learned then
        self._hazard = [0.0] * NBINS
        self._local = [0.0] * NBINS  # the hazard `segments` gives (the local rule's)
        self._hazard_from = _EDGES[NBINS]  # the lower edge of the first bin with a local hazard
        self._cum = [0.0] * (NBINS + 1)
        self._dirty = False
        self._pending = 0.0  # exposure added since the last refresh
        self._total = 0.0  # exposure at the last refresh
        self._median: float | None = None
        self._fresh = 0  # completions since the last refresh
        self.refreshes = 0
        """How many times the hazards were re-estimated (a version of the model)."""
        self.observed = 0
        """Completions learned (not decayed)."""
        self.ignored = 0
        """Observations refused as implausible (hostile or broken records)."""
        self.unexpected = 0
        """Completions since `forget_recent` between the bins of the shortest and the
        longest ones learned when the batch began, in a bin where none happened
        around then (its pooled rate 0) or that the plan treats as empty beside a
        dense one: each the first of a shift, or noise (the shift test needs two,
        see the module docstring)."""
        self._shifted = 0

    # -- learning -----------------------------------------------------------

    def expose(self, start: float, end: float) -> None:
        """Credit the time between ages `start` and `end` (seconds) when a task was running.

        The bins the span covers whole are credited lazily (`_settle`): a
        difference array takes the unit at the first such bin and gives it
        back after the last, so that one poll costs the same whether it
        covers one bin or forty (a batch's first poll of 1-3 s tasks covers
        ~35). Only the two partly covered bins are credited at once.
        """
        if not end > start >= 0 or end > MAX_DURATION:
            return
        unit, recent = self._unit, self._recent_unit
        first = bin_of(start)
        last = bin_of(end)
        # `bin_of` rounds through a logarithm: place `end` by the edges themselves.
        # The last bin credited is the one below the first edge at or past `end`.
        while last + 1 < NBINS and _EDGES[last + 1] < end:
            last += 1
        while last > first and _EDGES[last] >= end:
            last -= 1
        if last == first:
            spent = min(_EDGES[first + 1], end) - max(_EDGES[first], start)
            self._exposure[first] += unit * spent
            self._recent_exposure[first] += recent * spent
        else:
            head = _EDGES[first + 1] - max(_EDGES[first], start)
            tail = end - _EDGES[last]
            self._exposure[first] += unit * head
            self._recent_exposure[first] += recent * head
            self._exposure[last] += unit * tail
            self._recent_exposure[last] += recent * tail
            if last > first + 1:
                self._cover[first + 1] += unit
                self._cover[last] -= unit
                self._recent_cover[first + 1] += recent
                self._recent_cover[last] -= recent
                self._covering[first + 1] += 1
                self._covering[last] -= 1
                self._cover_from = min(self._cover_from, first + 1)
                self._cover_to = max(self._cover_to, last)
        self._used = max(self._used, last + 1)
        # Hazards are re-estimated once the exposure grew by 2 % (or at the next
        # completion): re-estimating them after every poll would cost more than the poll.
        self._pending += unit * (end - start)
        if self._pending > 0.02 * self._total:
            self._dirty = True

    def _settle(self) -> None:
        """Credit the whole bins `expose` left in the difference arrays (before any read)."""
        start, stop = self._cover_from, self._cover_to
        if start >= stop:
            return
        cover, recent_cover, covering = self._cover, self._recent_cover, self._covering
        exposure, recent_exposure = self._exposure, self._recent_exposure
        run = recent_run = 0.0
        spans = 0
        for k in range(start, stop):
            spans += covering[k]
            run += cover[k]
            recent_run += recent_cover[k]
            cover[k] = recent_cover[k] = 0.0
            covering[k] = 0
            if spans:
                width = _WIDTHS[k]
                exposure[k] += run * width
                recent_exposure[k] += recent_run * width
            else:
                # No span covers bin `k`: what the running sums hold is rounding
                # left by units added and taken back, not running time.
                run = recent_run = 0.0
        cover[stop] = recent_cover[stop] = 0.0
        covering[stop] = 0
        self._cover_from, self._cover_to = NBINS, 0

    def finish(self, duration: float) -> None:
        """Learn one completion after `duration` seconds (exposure is credited separately)."""
        self._unit = _forget(
            self._unit,
            self.half_life,
            self._events,
            self._exposure,
            self._sub_events,
            self._cover,
        )
        self._recent_unit = _forget(
            self._recent_unit,
            self.recent_half_life,
            self._recent_events,
            self._recent_exposure,
            self._recent_cover,
        )
        k = bin_of(duration)
        self._first = min(self._first, k)
        quiet = self._batch_rates[k] == 0.0 or self._batch_empty[k]
        shortest, longest = self._batch_span
        if quiet and shortest < k < longest:
            self.unexpected += 1
        if quiet or not self._events[k]:
            # A completion where none was ever learned (the first of a longer
            # mode, of a shifted workload) is re-estimated at once: waiting for
            # the next 1 % left the tasks parked past the old durations waiting
            # seconds more (simulated bimodal cold batch, 6 seeds: 2.26x -> 1.82x
            # the frontier on average, the worst 3.05x -> 1.93x). So is one
            # where none happened when the current batch began, or in a bin the
            # plan treats as empty: the second such completion may show a shift
            # (see the module docstring).
            self._dirty = True
        self._events[k] += self._unit
        low, high = _EDGES[k], _EDGES[k + 1]
        part = min(SUB - 1, int(SUB * (duration - low) / (high - low))) if high > low else 0
        self._sub_events[k * SUB + part] += self._unit
        self._recent_events[k] += self._recent_unit
        self._recent_count += 1
        self._used = max(self._used, k + 1)
        self.observed += 1
        self._fresh += 1
        # Re-estimated at once while little is known, then every 1 % of what was learned.
        if self._fresh >= 0.01 * self.observed_weight_hint:
            self._dirty = True

    def forget_recent(self) -> None:
        """Empty the recent copy: what follows (a new batch) is tested on its own evidence."""
        self._settle()  # the long-run copy keeps what is pending
        self._recent_events = [0.0] * NBINS
        self._recent_exposure = [0.0] * NBINS
        self._recent_unit = 1.0
        self._recent_count = 0
        self.unexpected = 0
        self._batch_span = (self._first, self._used - 1)
        # Pooled as `hazard_at` is (over `POOL` bins each side): a mode's steep
        # edge, read bin by bin, expects almost nothing just past it. But not
        # below the bin's own rate where `_refresh` trusts it (`RICH`
        # completions around, one in it): the top of a narrow mode, a bin
        # where its last tasks ran a moment each and finished, reads low
        # pooled with the long running time beside it (60 +- 1 s: 0.29/s
        # pooled, 18/s its own), and the next batch's last tasks there read
        # as a shift. (A lone completion's bin keeps the pooled rate: its own
        # is noise.)
        events = _prefix(self._events, 0, NBINS, 1.0)
        exposure = _prefix(self._exposure, 0, NBINS, 1.0)
        rates = self._batch_rates
        own_events, own_exposure = self._events, self._exposure
        one, rich = self._unit, RICH * self._unit
        for k in range(NBINS):
            lo, hi = max(0, k - POOL), min(NBINS, k + POOL + 1)
            spent = exposure[hi] - exposure[lo]
            rate = (events[hi] - events[lo]) / spent if spent > 0 else -1.0
            own = own_events[k]
            if own >= one and events[hi] - events[lo] >= rich and own_exposure[k] > 0:
                rate = max(rate, own / own_exposure[k])
            rates[k] = rate
        # Bins the plan treats as empty beside a dense one (the module docstring).
        inside = self._used - 1  # bins below the longest learned completion's
        ev = self._events
        self._batch_empty = [
            0 < k < inside
            and not ev[k]
            and self._exposure[k] > 0
            and max(ev[max(0, k - 2) : k + 3]) >= rich
            for k in range(NBINS)
        ]
        self._dirty = True

    def learn(self, duration: float) -> None:
        """Learn one task that took `duration` seconds, seen from start to end."""
        self.expose(0.0, duration)
        self.finish(duration)

    # -- what was learned ---------------------------------------------------

    @property
    def observed_weight_hint(self) -> float:
        """About how many completions the model holds after forgetting (cheap)."""
        return min(float(self.observed), 1.44 * self.half_life)

    @property
    def weight(self) -> float:
        """The effective number of completions learned (after forgetting)."""
        return sum(self._events) / self._unit

    def support(self) -> tuple[float, float] | None:
        """(lower edge of the shortest, upper edge of the longest) bin holding a completion."""
        floor = 1e-3 * self._unit
        events = self._events
        occupied = [k for k in range(self._used) if events[k] > floor]
        if not occupied:
            return None
        return _EDGES[occupied[0]], _EDGES[occupied[-1] + 1]

    def quiet_after(self, end: float, running: float) -> bool:
        """Whether completions stopped at `end`, the longest duration learned.

        `running`: the running time (seconds) seen past `end` since a task
        finished there, in which no task can have finished (it would be the
        longest). True when, at the hazard of the bin holding `end` and the two
        before it, that running time should have shown `Z` squared completions
        (16) or more: none coming is then no chance (below 1e-6 for a steady
        hazard). Read from the counts as they stand, not from the last
        re-estimation, so that a batch polled in step sees the end of a mode
        while its polls come in, not 2 % of its running time later.
        """
        self._settle()
        k = bisect.bisect_right(_EDGES, end) - 1
        lo = max(0, k - 2)
        before = sum(self._exposure[lo : k + 1])
        if before <= 0:
            return False
        expected = sum(self._events[lo : k + 1]) / before * running
        return expected >= Z * Z

    def _refresh(self) -> None:
        if not self._dirty:
            return
        self._settle()
        self._total = sum(self._exposure)
        self._pending = 0.0
        self._fresh = 0
        hazard = self._hazard
        # Past the last bin holding counts (and the widest pool around it) every
        # hazard is zero: only bins below `stop` are computed, which keeps a
        # refresh cheap when the durations are short (3 s: 50 bins of 176).
        stop = min(NBINS, self._used + WIDE_POOL + 1)
        # Pooled over neighbours with running sums over a sliding window.
        ex = _prefix(self._exposure, 0, stop, self._unit)
        # The last bin with any exposure (where tasks were last seen running).
        last = stop - 1
        while last >= 0 and not ex[last + 1] > ex[last]:
            last -= 1
        # Below `base` too: no bin there has a completion within `WIDE_POOL`
        # bins, so none can have a hazard or fail the shift test, nor has any
        # bin tested above it a window reaching below it, nor is it `last` or
        # the bin before. The running sums of completions start at `base`
        # (zero below it: none there), those of running time at 0, so every
        # estimate is the one computed over all bins, to the bit. Tasks of 30 s
        # and more leave 60 bins or more below it.
        base = max(0, min(self._first, last - 1) - 2 * WIDE_POOL)
        ev = _prefix(self._events, base, stop, self._unit)
        rev = _prefix(self._recent_events, base, stop, self._recent_unit)
        rex = _prefix(self._recent_exposure, 0, stop, self._recent_unit)
        shifted = 0
        # Completions the recent exposure should have seen under the long-run hazard,
        # bin by bin: the bin's own rate where it has exposure. (The pooled rate
        # would flatten a sharp edge, and recent tasks, all seen at its steep
        # side, would read as a shift: a false alarm on every warm batch of a
        # narrow workload.)
        recent = self._recent_exposure
        scale = 1.0 / self._recent_unit
        expect = [0.0] * (base + 1)
        # The same under each bin's rate when the batch began (its own counts excluded).
        before = [0.0] * (base + 1)
        batch_rates = self._batch_rates
        empty = self._batch_empty
        near = [0.0] * stop  # completions in each bin's pooled neighbourhood
        # (Windows are clipped with conditional expressions, not min/max: a call
        # each costs more than the arithmetic in these loops.)
        for k in range(base, stop):
            lo = k - POOL if k > POOL else 0
            hi = k + POOL + 1 if k + POOL + 1 < stop else stop
            spent = ex[hi] - ex[lo]
            near[k] = completions = ev[hi] - ev[lo]
            pooled = hazard[k] = completions / spent if spent > 0 else 0.0
            spent = ex[k + 1] - ex[k]
            rate = (ev[k + 1] - ev[k]) / spent if spent > 0 else pooled
            expect.append(expect[-1] + rate * recent[k] * scale)
            then = batch_rates[k]
            before.append(before[-1] + (rate if then < 0 else then) * recent[k] * scale)
        local = self._local
        for k in range(base, stop):
            rate = hazard[k]
            replaced = False
            # Tested on the bin's pooled neighbourhood, then on a wider one
            # (a factor ~2 in age: more evidence, e.g. a batch's few sentinels).
            for pool in (POOL, WIDE_POOL):
                lo = k - pool if k > pool else 0
                hi = k + pool + 1 if k + pool + 1 < stop else stop
                recent_spent = rex[hi] - rex[lo]
                if recent_spent <= 0:
                    break
                seen = rev[hi] - rev[lo]
                expected = expect[hi] - expect[lo]
                gap = seen - expected if seen > expected else expected - seen
                if (
                    (gap > MIN_GAP and gap * gap > _Z2 * (expected if expected > 1.0 else 1.0))
                    or (
                        # Two completions or more (weights a little under 1 after
                        # forgetting) where fewer than one was expected.
                        seen >= 1.5
                        and before[hi] - before[lo] < 1.0
                        and _unlikely(seen, before[hi] - before[lo])
                    )
                    # Two in a bin the plan treats as empty, beside a dense one.
                    or (pool == POOL and empty[k] and rev[k + 1] - rev[k] >= 1.5)
                ):
                    rate = seen / recent_spent
                    shifted += 1
                    replaced = True
                    break
            hazard[k] = local[k] = rate
            spent = ex[k + 1] - ex[k]
            if spent > 0:
                # Where the neighbourhood holds `RICH` completions (after
                # forgetting), the bin itself at least one, and no shift replaced
                # the rate, the local rule takes the bin's own rate, as `points`
                # does: pooled, the steep edge of a mode reads low, and a cold
                # batch, whose tasks all reach that edge together, polls them too
                # rarely there. (Simulated bimodal cold batch, seed 1, the
                # 27.9-30.4 s bin once known: pooled 0.12/s, its own 0.16/s, the
                # true 0.17/s; 18 seeds, with the cold batch's phased waits:
                # 1.61x -> 1.53x the frontier, the worst 1.86x -> 1.72x; trimodal
                # cold 2.47x -> 2.35x.) Not where the bin saw none: that reads as
                # "nothing finishes here", which pooling exists to prevent (taken
                # there too, bimodal cold 1.57x, the worst 1.99x).
                own = ev[k + 1] - ev[k]
                if not replaced and own >= 1.0 and near[k] >= RICH:
                    local[k] = own / spent
        self._shifted = shifted
        first = base  # bins below `base` hold no hazard (see above)
        while first < stop and not local[first] > 0:
            first += 1
        self._hazard_from = _EDGES[first]
        # The hazard where tasks were last seen running: over the last two exposed
        # bins (about 18 % of the age). Wider, it is diluted by running time from
        # before a mode began (simulated, 6 seeds, four bins -> two: trimodal cold
        # 2.84x -> 2.61x the frontier, shifting's long phase 2.86x -> 2.73x).
        if last >= 0:
            lo = max(0, last - 1)  # `last` has exposure: the sum below is > 0
            rate = (ev[last + 1] - ev[lo]) / (ex[last + 1] - ex[lo])
            self._edge = (_EDGES[last + 1], rate)
        cum = self._cum
        cum[base : stop + 1] = accumulate(
            map(mul, hazard[base:stop], _WIDTHS[base:stop]), initial=cum[base]
        )
        cum[stop + 1 :] = [cum[stop]] * (NBINS - stop)
        self._dirty = False
        self._median = self._walk(base, -math.log1p(-0.5), 0.0)
        self.refreshes += 1

    @property
    def shifted(self) -> int:
        """Pooled bins whose hazard is the recent estimate: where a shift was detected."""
        self._refresh()
        return self._shifted

    @property
    def recent_completions(self) -> int:
        """Completions learned since `forget_recent` (the current batch's)."""
        return self._recent_count

    @property
    def median(self) -> float | None:
        """The estimated median duration (None until the model can say)."""
        self._refresh()
        return self._median

    def hazard_at(self, age: float) -> float:
        """Estimated completions per second per running task at `age` seconds."""
        self._refresh()
        return self._hazard[bin_of(age)]

    def cumulative_hazard(self, age: float) -> float:
        """Integral of the hazard from 0 to `age`."""
        return self.cumulative_hazards((age,))[0]

    def cumulative_hazards(self, ages: Iterable[float]) -> list[float]:
        """`cumulative_hazard` of each of `ages`, in one pass.

        For the engine's ranking of thousands of due polls at once: one
        re-estimation check and one lookup of the model's arrays for all of them.
        """
        self._refresh()
        cum, hazard, edges = self._cum, self._hazard, _EDGES
        result = []
        for age in ages:
            k = bin_of(age)
            high = edges[k + 1]
            result.append(cum[k] + hazard[k] * ((age if age <= high else high) - edges[k]))
        return result

    def survival(self, age: float) -> float:
        """Estimated probability that a task is still running at `age` seconds."""
        return math.exp(-self.cumulative_hazard(age))

    def quantile(self, q: float, *, given_age: float = 0.0) -> float | None:
        """The duration by which a fraction `q` of tasks aged `given_age` have finished.

        None when the model cannot say (nothing learned, or the estimated
        survival never drops that low within the learned range).
        """
        if not 0 < q < 1:
            raise ValueError(f"q must be in (0, 1), got {q!r}")
        self._refresh()
        target = self.cumulative_hazard(given_age) - math.log1p(-q)
        return self._walk(bin_of(given_age), target, given_age)

    def _walk(self, k: int, target: float, floor: float) -> float | None:
        """The age, from bin `k` on and at least `floor`, where the cumulative
        hazard reaches `target` (None if it never does)."""
        cum, hazard = self._cum, self._hazard
        while k < NBINS:
            if cum[k + 1] >= target and hazard[k] > 0:
                return max(floor, _EDGES[k] + (target - cum[k]) / hazard[k])
            k += 1
        return None

    def points(self, horizon: float) -> list[tuple[float, float]]:
        """The learned distribution up to age `horizon`, as sorted (age, probability) points.

        Where the bin's neighbourhood holds `RICH` completions or more, the
        bin's probability is estimated from that bin alone (`_finishing`), not
        from the hazard pooled with its neighbours that the local rule and the
        quantiles use: pooled, a mode's edge spills probability into the empty
        bins beside it, and the plan spends a poll at each such bin's upper
        edge, where no task was ever seen finishing. (Planned on a bimodal
        workload learned from 1 000 exact durations, 2/3 at 1.5-2.5 s and 1/3
        at 25-35 s, and tested on another 1 000: a poll at 2.93 s and one
        before 25 s, 1.39x the frontier at ~5 polls/task; bin by bin: 1.19x.)
        Where completions are few, the pooled hazard: a plan on a handful of
        them, bin by bin, polls only where those few finished (simulated
        shifting workloads, the phase that follows a shift: up to 3.5x the
        frontier, 1.5x pooled). The probability is spread over the bin's
        eighths in proportion to the completions seen there, each share at the
        eighth's upper edge; a bin whose completions have no eighths (a seeded
        snapshot) keeps its share at its upper edge. The probability of running
        past `horizon` is the last point, at `horizon`. What `_plan.best_polls`
        plans on.
        """
        self._refresh()
        self._settle()  # `_finishing` reads the running time as it stands
        result: list[tuple[float, float]] = []
        sub = self._sub_events
        low = 0.0
        before = 1.0  # survival at `low`
        k = 0
        while low < horizon and k < NBINS:
            high = min(_EDGES[k + 1], horizon)
            parts = sub[k * SUB : (k + 1) * SUB]
            seen = sum(parts) if high == _EDGES[k + 1] else 0.0
            mass = before * self._finishing(k, high - low, parts, seen)
            if mass > 0:
                if seen > 0:
                    width = (high - _EDGES[k]) / SUB
                    result.extend(
                        (_EDGES[k] + width * (j + 1), mass * count / seen)
                        for j, count in enumerate(parts)
                        if count > 0
                    )
                else:
                    result.append((high, mass))
            before -= mass
            low = high
            k += 1
        if horizon > 0:
            result.append((horizon, before))
        return result

    def _finishing(self, k: int, span: float, parts: Sequence[float], seen: float) -> float:
        """The share of the tasks running at the start of bin `k` that finish within `span` of it.

        The pooled hazard over `span` where the bin's neighbourhood holds fewer
        than `RICH` completions, or the bin no running time (a completion
        credited before the age its lead estimate puts it at); a bin that saw
        no completion in running time enough for a neighbour estimated bin by
        bin to expect `MIN_GAP` there is pooled without that neighbour (its
        completions are its own mass already: pooled again, the last few of a
        mode spilled into the quiet bin after it, and the plan spent a poll
        there; simulated warm bimodal batch, the benchmark's seed, a poll at
        2.93 s: 1.33x -> 1.23x the frontier, 6 seeds 1.19x -> 1.12x, other
        workloads unchanged; where that running time is short, a batch only
        just reaching those ages, the pooled hazard stands: it put every
        completion of a shifted phase after the first few's bins at 44 s, 42x
        the frontier in one seed of the simulated shift to 3-6 s). Otherwise, with
        the completions' eighths known (`seen` > 0, a whole bin), the actuarial
        estimate: completions over the tasks at risk at the bin's start, those
        being the completions plus the running time not spent by them (each at
        its eighth's middle) in whole bins. (A constant hazard across the bin
        reads completions bunched early in it as fewer: 10 of 20 tasks
        finishing at 2.0 s, a survival of 0.53 after the bin instead of 0.5.)
        Else the bin's own constant hazard (none where none finished).
        """
        events, exposure = self._events[k], self._exposure[k]
        if exposure <= 0 or self._nearby(k) < RICH * self._unit:
            rate = self._hazard[k]
            if events <= 0 < exposure:
                pool = range(max(0, k - POOL), min(NBINS, k + POOL + 1))
                kept = [j for j in pool if j == k or not self._contradicted(j, exposure)]
                if len(kept) < len(pool):
                    ran = sum(self._exposure[j] for j in kept)
                    rate = sum(self._events[j] for j in kept) / ran
            return 1.0 - math.exp(-rate * span)
        if seen > 0 and events > 0:
            width = _EDGES[k + 1] - _EDGES[k]
            spent = sum(count * width * (j + 0.5) / SUB for j, count in enumerate(parts))
            at_risk = events + max(0.0, exposure - spent * events / seen) / width
            return events / at_risk
        return 1.0 - math.exp(-events / exposure * span)

    def _nearby(self, k: int) -> float:
        """Completions (in stored units) in bin `k`'s pooled neighbourhood."""
        return sum(self._events[max(0, k - POOL) : k + POOL + 1])

    def _contradicted(self, j: int, exposure: float) -> bool:
        """Whether bin `j`, estimated bin by bin, says that `exposure` (stored units)
        of running time beside it should have seen `MIN_GAP` completions."""
        ran = self._exposure[j]
        return (
            ran > 0
            and self._nearby(j) >= RICH * self._unit
            and self._events[j] / ran * exposure >= MIN_GAP * self._unit
        )

    def edge(self) -> tuple[float, float]:
        """(age up to which tasks were seen running, the hazard measured just before it).

        What a batch whose tasks all have about the same age measures *now*:
        the planning rule extrapolates it as a locally constant hazard.
        """
        self._refresh()
        return self._edge

    def hazard_from(self) -> float:
        """The age before which the local rule's hazard (`segments`) is zero: the lower
        edge of the first bin where tasks were seen finishing (pooled)."""
        self._refresh()
        return self._hazard_from

    def segments(self, start: float) -> Iterable[tuple[float, float, float]]:
        """(from, to, hazard) pieces of the hazard from age `start` to the last bin.

        The local rule's hazard: a bin's own rate where its neighbourhood holds
        `RICH` completions and the bin itself one, else `hazard_at`'s.
        """
        self._refresh()
        k = bin_of(start)
        low = start
        while k < NBINS:
            high = _EDGES[k + 1]
            yield low, high, self._local[k]
            low = high
            k += 1

    # -- persistence --------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A JSON-safe summary: counts, a few quantiles and the non-empty bins.

        A bin is ``[low, high, completions, exposure, eighths]``, ``eighths``
        the completions in each eighth of the bin (`seed` also takes rows
        without it, as written by earlier versions).
        """
        self._settle()
        unit = self._unit
        bins = [
            [
                round(_EDGES[k], 6),
                round(_EDGES[k + 1], 6),
                self._events[k] / unit,
                spent / unit,
                [part / unit for part in self._sub_events[k * SUB : (k + 1) * SUB]],
            ]
            for k, spent in enumerate(self._exposure)
            if spent > 0 or self._events[k] > 0
        ]
        quantiles = {}
        for name, q in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9)):
            value = self.quantile(q)
            quantiles[name] = None if value is None else round(value, 3)
        return {
            "version": 1,
            "observed": self.observed,
            "ignored": self.ignored,
            "weight": round(self.weight, 3),
            "half_life": self.half_life,
            "quantiles": quantiles,
            "bins": bins,
        }

    def seed(self, prior: Mapping[str, Any] | Iterable[float]) -> None:
        """Start from a `snapshot()` or from a list of durations in seconds.

        Raises `ValueError`/`TypeError` naming what was wrong.
        """
        if isinstance(prior, Mapping):
            self._seed_snapshot(prior)
            return
        if isinstance(prior, (str, bytes)) or not isinstance(prior, Iterable):
            raise TypeError(
                "prior must be a snapshot() dict or a list of durations in seconds, "
                f"got {type(prior).__name__}"
            )
        for position, value in enumerate(prior):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"prior[{position}] must be a number of seconds, got {value!r}")
            if not (math.isfinite(value) and 0 < value <= MAX_DURATION):
                raise ValueError(
                    f"prior[{position}] must be a duration in (0, {MAX_DURATION:g}] s, "
                    f"got {value!r}"
                )
            self.learn(float(value))

    def _seed_snapshot(self, prior: Mapping[str, Any]) -> None:
        if prior.get("version") != 1 or not isinstance(prior.get("bins"), list):
            raise ValueError("prior must be a snapshot() of version 1 with a 'bins' list")
        parsed: list[tuple[int, float, float, list[float]]] = []
        for position, row in enumerate(prior["bins"]):
            ok = isinstance(row, (list, tuple)) and len(row) in (4, 5)
            parts = list(row[4]) if ok and len(row) == 5 and isinstance(row[4], list) else []
            numbers = ok and all(_count(v) for v in [*row[:4], *parts])
            if (
                not numbers
                or (len(row) == 5 and len(parts) != SUB)
                or any(count < 0 for count in parts)
                or row[0] < 0
                or row[1] <= row[0]
                or row[2] < 0
                or row[3] < 0
            ):
                raise ValueError(
                    f"prior['bins'][{position}] must be [low, high, events >= 0, exposure >= 0]"
                    f" and optionally a list of {SUB} completion counts >= 0"
                )
            if row[1] > MAX_DURATION * RATIO:
                raise ValueError(f"prior['bins'][{position}] lies beyond {MAX_DURATION:g} s")
            parsed.append((bin_of((row[0] + row[1]) / 2), float(row[2]), float(row[3]), parts))
        for k, events, spent, parts in parsed:
            if events > 0:
                self._first = min(self._first, k)
            self._events[k] += events * self._unit
            self._exposure[k] += spent * self._unit
            for j, count in enumerate(parts):
                self._sub_events[k * SUB + j] += count * self._unit
            self._used = max(self._used, k + 1)
        observed = prior.get("observed", 0)
        if isinstance(observed, int) and not isinstance(observed, bool) and observed > 0:
            self.observed += observed
        self._dirty = True
