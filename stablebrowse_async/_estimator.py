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
lag on the bimodal workload).

Forgetting. Every new completion first multiplies all that was learned by
``2 ** (-1 / half_life)``: a workload that shifts is followed after a few
hundred completions, while a steady one keeps an effective sample of about
``1.44 * half_life`` completions. (Implemented as a growing weight for new
observations, so forgetting costs nothing per observation.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["NBINS", "DurationModel", "bin_of", "edge"]

#: Lower edge of the first positive bin, seconds; durations below fall in bin 0.
FIRST_EDGE = 0.05
#: Ratio between consecutive bin edges.
RATIO = 2.0 ** (1.0 / 8.0)
#: Bins up to a little over one week.
NBINS = 176
#: Longest duration accepted as an observation (seconds): one week.
MAX_DURATION = 7 * 86400.0
#: Neighbouring bins pooled on each side when estimating a bin's hazard.
POOL = 1
_LOG_RATIO = math.log(RATIO)
_RESCALE_AT = 1e150


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


class DurationModel:
    """Piecewise-exponential estimate of the distribution of task durations.

    Args:
        half_life: completions after which an old observation weighs half.
    """

    __slots__ = (
        "_cum",
        "_dirty",
        "_events",
        "_exposure",
        "_fresh",
        "_hazard",
        "_median",
        "_pending",
        "_total",
        "_unit",
        "half_life",
        "ignored",
        "observed",
        "refreshes",
    )

    def __init__(self, half_life: float = 256.0) -> None:
        if isinstance(half_life, bool) or not isinstance(half_life, (int, float)):
            raise TypeError(f"half_life must be a number, got {type(half_life).__name__}")
        if not (math.isfinite(half_life) and half_life >= 1):
            raise ValueError(f"half_life must be a finite number >= 1, got {half_life!r}")
        self.half_life = float(half_life)
        self._events = [0.0] * NBINS
        self._exposure = [0.0] * NBINS
        self._unit = 1.0
        self._hazard = [0.0] * NBINS
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

    # -- learning -----------------------------------------------------------

    def expose(self, start: float, end: float) -> None:
        """Credit the time between ages `start` and `end` (seconds) when a task was running."""
        if not end > start >= 0 or end > MAX_DURATION:
            return
        unit = self._unit
        exposure = self._exposure
        k = bin_of(start)
        while k < NBINS:
            low, high = _EDGES[k], _EDGES[k + 1]
            if low >= end:
                break
            exposure[k] += unit * (min(high, end) - max(low, start))
            k += 1
        # Hazards are re-estimated once the exposure grew by 2 % (or at the next
        # completion): re-estimating them after every poll would cost more than the poll.
        self._pending += unit * (end - start)
        if self._pending > 0.02 * self._total:
            self._dirty = True

    def finish(self, duration: float) -> None:
        """Learn one completion after `duration` seconds (exposure is credited separately)."""
        self._unit *= 2.0 ** (1.0 / self.half_life)
        if self._unit > _RESCALE_AT:
            scale = 1.0 / self._unit
            self._events = [value * scale for value in self._events]
            self._exposure = [value * scale for value in self._exposure]
            self._unit = 1.0
        self._events[bin_of(duration)] += self._unit
        self.observed += 1
        self._fresh += 1
        # Re-estimated at once while little is known, then every 1 % of what was learned.
        if self._fresh >= 0.01 * self.observed_weight_hint:
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
        occupied = [k for k, value in enumerate(self._events) if value > floor]
        if not occupied:
            return None
        return _EDGES[occupied[0]], _EDGES[occupied[-1] + 1]

    def _refresh(self) -> None:
        if not self._dirty:
            return
        events, exposure = self._events, self._exposure
        self._total = sum(exposure)
        self._pending = 0.0
        self._fresh = 0
        hazard = self._hazard
        # Pooled over neighbours with running sums over a sliding window.
        width = 2 * POOL + 1
        ev_prefix = [0.0]
        ex_prefix = [0.0]
        for k in range(NBINS):
            ev_prefix.append(ev_prefix[-1] + events[k])
            ex_prefix.append(ex_prefix[-1] + exposure[k])
        for k in range(NBINS):
            lo, hi = max(0, k - POOL), min(NBINS, k - POOL + width)
            spent = ex_prefix[hi] - ex_prefix[lo]
            hazard[k] = (ev_prefix[hi] - ev_prefix[lo]) / spent if spent > 0 else 0.0
        cum = self._cum
        for k in range(NBINS):
            cum[k + 1] = cum[k] + hazard[k] * (_EDGES[k + 1] - _EDGES[k])
        self._dirty = False
        self._median = self.quantile(0.5)
        self.refreshes += 1

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
        self._refresh()
        k = bin_of(age)
        return self._cum[k] + self._hazard[k] * (min(age, _EDGES[k + 1]) - _EDGES[k])

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
        cum, hazard = self._cum, self._hazard
        k = bin_of(given_age)
        while k < NBINS:
            if cum[k + 1] >= target and hazard[k] > 0:
                return max(given_age, _EDGES[k] + (target - cum[k]) / hazard[k])
            k += 1
        return None

    def segments(self, start: float) -> Iterable[tuple[float, float, float]]:
        """(from, to, hazard) pieces of the hazard from age `start` to the last bin."""
        self._refresh()
        k = bin_of(start)
        low = start
        while k < NBINS:
            high = _EDGES[k + 1]
            yield low, high, self._hazard[k]
            low = high
            k += 1

    # -- persistence --------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A JSON-safe summary: counts, a few quantiles and the non-empty bins."""
        unit = self._unit
        bins = [
            [round(_EDGES[k], 6), round(_EDGES[k + 1], 6), self._events[k] / unit, spent / unit]
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
        parsed: list[tuple[int, float, float]] = []
        for position, row in enumerate(prior["bins"]):
            ok = isinstance(row, (list, tuple)) and len(row) == 4
            numbers = ok and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in row
            )
            if not numbers or row[0] < 0 or row[1] <= row[0] or row[2] < 0 or row[3] < 0:
                raise ValueError(
                    f"prior['bins'][{position}] must be [low, high, events >= 0, exposure >= 0]"
                )
            if row[1] > MAX_DURATION * RATIO:
                raise ValueError(f"prior['bins'][{position}] lies beyond {MAX_DURATION:g} s")
            parsed.append((bin_of((row[0] + row[1]) / 2), float(row[2]), float(row[3])))
        for k, events, spent in parsed:
            self._events[k] += events * self._unit
            self._exposure[k] += spent * self._unit
        observed = prior.get("observed", 0)
        if isinstance(observed, int) and not isinstance(observed, bool) and observed > 0:
            self.observed += observed
        self._dirty = True
