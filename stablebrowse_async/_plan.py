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

The schedule uses it on the distribution it learned (`DurationModel.points`):
the same computation, on a batch's true durations, is the *frontier* the
benchmark compares against (``benchmarks/frontier.py``, written separately
as the yardstick).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["best_polls"]


def best_polls(points: Sequence[tuple[float, float]], price: float) -> tuple[float, ...]:
    """The poll ages of the fixed schedule minimising ``expected lag + price * expected polls``.

    Args:
        points: ``(age, weight)`` pairs sorted by age, weights >= 0; the last
            point's age is the last poll (everything is seen by then).
        price: the cost of one poll in seconds of lag (>= 0).
    """
    merged: list[tuple[float, float]] = []
    for age, w in points:  # points at one age are one point
        if merged and merged[-1][0] == age:
            merged[-1] = (age, merged[-1][1] + w)
        else:
            merged.append((age, w))
    points = merged
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
