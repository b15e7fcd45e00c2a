"""The best fixed poll schedule for a known distribution of durations.

A *fixed* schedule polls a task at the ages ``t_1 < t_2 < ... < t_k``; a task
that took ``d`` seconds is seen at the first ``t_j >= d``, after a lag of
``t_j - d`` and ``j`` polls. Given a distribution of durations as weighted
points ``(d_i, w_i)`` (sorted, weights summing to about 1), the schedule that
minimises

    expected lag + price * expected polls

only ever polls at some ``d_i`` (a poll between two points detects no more
than one moved up to the point below it, and later), so it is a shortest path
over the points:

    F(j) = min over i < j of  F(i) + sum_{i < m <= j} w_m (d_j - d_m)
                                   + price * (weight of the points after i)

With ``W(i)`` and ``P(i)`` the running sums of ``w`` and ``w * d``, and
``G(j) = F(j) + P(j)``, the recurrence is ``G(j) = d_j * W(j) + min over i
of the line -W(i) * d_j + G(i) + price * (W(n) - W(i))`` evaluated at
``d_j`` (``P`` only adds the constant ``sum w * d`` to the objective, so it
is never computed): slopes decrease as ``i`` grows and the queries ``d_j``
increase, so the lower envelope of the lines is kept as a deque (the
convex-hull trick) and the whole schedule costs O(n).

A safety rule of the schedule bounds the gaps: no two polls more than
``max_gap`` apart, except a gap that ends by ``free_until`` (the shortest
duration learned). Where the optimum above keeps to it (nearly always: a
plan's gaps are a fraction of the durations), it is the answer. Where it
does not (tasks of minutes, or modes minutes apart, with a 30 s cap), the
schedule used to insert the cap's polls into the optimum for no cap, and
a plan for a Weibull workload of scale 60 s polled at 28 s, then at the
plan's 43 s, 56 s, ... Then the plan is the optimum *under* the rule, on the
points plus polls of no weight across every stretch longer than the rule
allows (a quarter of ``max_gap`` apart, and whole ``max_gap`` back from the
stretch's end): the same recurrence restricted to
``d_j <= max(d_i + max_gap, free_until)``, solved directly in O(n * w) (``w``
the points within ``max_gap`` of each other; a sliding window breaks the
convex-hull trick's deque, and the plans are few: 13 ms for 375 points).
Simulated warm batches (5 000 submissions/s, seeds 1-6): Weibull of scale
60 s 1.28x -> 1.20x the frontier (worst seed 1.37x -> 1.25x) at 4.43 ->
4.15 polls/task; trimodal (1 s, 10 s, 100 s) 1.55x -> 1.54x, where the
rule's own polls between the modes are most of the gap to the frontier (the
best plan under it for the true distribution reads 1.37-1.46x); the phase
of 3-6 s tasks after 60 s ones 1.22x -> 1.25x (16 seeds: a plan under the
rule puts its forced poll where the first short task finished); the
workloads with shorter gaps unchanged.

The schedule uses it on the distribution it learned (`DurationModel.points`):
the same computation, on a batch's true durations, is the *frontier* the
benchmark compares against (``benchmarks/frontier.py``, written separately
as the yardstick).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["best_polls"]


def best_polls(
    points: Sequence[tuple[float, float]],
    price: float,
    *,
    max_gap: float = math.inf,
    free_until: float = 0.0,
) -> tuple[float, ...]:
    """The poll ages of the fixed schedule minimising ``expected lag + price * expected polls``.

    Args:
        points: ``(age, weight)`` pairs sorted by age, weights >= 0; the last
            point's age is the last poll (everything is seen by then).
        price: the cost of one poll in seconds of lag (>= 0).
        max_gap: no two polls (nor age 0 and the first) further apart than
            this, except a gap that ends at or before `free_until`; polls of
            no weight are added where the points are sparser than that.
        free_until: the age up to which gaps are free of `max_gap`.
    """
    merged: list[tuple[float, float]] = []
    for age, w in points:  # points at one age are one point
        if merged and merged[-1][0] == age:
            merged[-1] = (age, merged[-1][1] + w)
        else:
            merged.append((age, w))
    ages = _unbounded(merged, price)
    if _keeps_gaps(ages, max_gap, free_until):
        return ages
    return _bounded(_fill(merged, max_gap, free_until), price, max_gap, free_until)


def _too_far(before: float, age: float, max_gap: float, free_until: float) -> bool:
    """Whether polls at `before` then `age` break the rule (the one test of it here)."""
    return age > max(before + max_gap, free_until)


def _keeps_gaps(ages: Sequence[float], max_gap: float, free_until: float) -> bool:
    """Whether no gap of `ages` (from age 0) breaks the `max_gap` rule."""
    before = 0.0
    for age in ages:
        if _too_far(before, age, max_gap, free_until):
            return False
        before = age
    return True


def _fill(
    points: list[tuple[float, float]], max_gap: float, free_until: float
) -> list[tuple[float, float]]:
    """`points` with points of no weight across every stretch between two of them
    (or age 0 and the first) that the rule forbids: a quarter of `max_gap` apart
    from the stretch's start, and whole `max_gaps` back from its end (a chain of
    polls that ends at the next point after exactly `max_gap`)."""
    # A hair inside the rule: a chain of them keeps it despite rounding.
    step = max_gap / 4.0 * (1.0 - 1e-9)
    back = max_gap * (1.0 - 1e-9)
    filled: list[tuple[float, float]] = []
    before = 0.0
    for age, w in points:
        if _too_far(before, age, max_gap, free_until):
            start = max(before, free_until)
            extra = {start} if start > before else set()
            at = start + step
            while at < age:
                extra.add(at)
                at += step
            at = age - back
            while at > start:
                extra.add(at)
                at -= back
            filled.extend((at, 0.0) for at in sorted(extra))
        filled.append((age, w))
        before = age
    return filled


def _bounded(
    points: list[tuple[float, float]], price: float, max_gap: float, free_until: float
) -> tuple[float, ...]:
    """`_unbounded`'s recurrence restricted to gaps the rule allows (see the module docstring)."""
    n = len(points)
    age = [0.0] + [a for a, _ in points]
    weight = [0.0] * (n + 1)
    for j, (_, w) in enumerate(points, start=1):
        weight[j] = weight[j - 1] + w
    total = weight[n]
    best = [math.inf] * (n + 1)
    best[0] = 0.0
    parent = [0] * (n + 1)
    for j in range(1, n + 1):
        d = age[j]
        # Later starts first: on a tie, the plan with the poll nearer (less lag).
        for i in range(j - 1, -1, -1):
            if _too_far(age[i], d, max_gap, free_until):
                break
            # G(j) of the module docstring (P, the same for every i, left out).
            value = best[i] + d * (weight[j] - weight[i]) + price * (total - weight[i])
            if value < best[j]:
                best[j] = value
                parent[j] = i
    ages: list[float] = []
    j = n
    while j > 0:
        ages.append(age[j])
        j = parent[j]
    ages.reverse()
    return tuple(ages)


def _unbounded(points: list[tuple[float, float]], price: float) -> tuple[float, ...]:
    """The optimum with no bound on the gaps, by the convex-hull trick (module docstring)."""
    n = len(points)
    if n == 0:
        return ()
    weight = [0.0] * (n + 1)
    for j, (_, w) in enumerate(points, start=1):
        weight[j] = weight[j - 1] + w
    total = weight[n]
    best = [0.0] * (n + 1)
    parent = [0] * (n + 1)
    # The lower envelope: lines (slope, intercept, i) with decreasing slopes.
    slopes: list[float] = []
    intercepts: list[float] = []
    owners: list[int] = []
    head = 0

    def add(i: int) -> None:
        slope = -weight[i]
        intercept = best[i] + price * (total - weight[i])
        if len(slopes) > head and slopes[-1] == slope:
            # Parallel lines (points of weight 0): only the lower one can win.
            if intercepts[-1] <= intercept:
                return
            slopes.pop()
            intercepts.pop()
            owners.pop()
        while len(slopes) - head >= 2:
            s1, b1, s2, b2 = slopes[-2], intercepts[-2], slopes[-1], intercepts[-1]
            # The last line never wins if the new one overtakes the one before it first.
            if (intercept - b1) * (s1 - s2) > (b2 - b1) * (s1 - slope):
                break
            slopes.pop()
            intercepts.pop()
            owners.pop()
        slopes.append(slope)
        intercepts.append(intercept)
        owners.append(i)

    add(0)
    for j in range(1, n + 1):
        age = points[j - 1][0]
        while (
            len(slopes) - head >= 2
            and slopes[head + 1] * age + intercepts[head + 1]
            <= slopes[head] * age + intercepts[head]
        ):
            head += 1
        best[j] = slopes[head] * age + intercepts[head] + age * weight[j]
        parent[j] = owners[head]
        add(j)
    ages: list[float] = []
    j = n
    while j > 0:
        ages.append(points[j - 1][0])
        j = parent[j]
    ages.reverse()
    return tuple(ages)
