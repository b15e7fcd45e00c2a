"""The physical limit of polling: the least mean detection lag any fixed schedule can reach.

A *fixed* schedule polls every task at the same ages ``t_1 < t_2 < ... < t_k``
(counted from its creation). A task of duration ``d`` is seen at the first
``t_j >= d``: its lag is ``t_j - d`` and it costs ``j`` polls. Given a batch's
true durations, the best fixed schedule for a mean number of polls per task is
the frontier: no client without per-task information does better.

Only poll times equal to some duration matter (moving a poll earlier to the
nearest duration at or above the previous one detects the same tasks sooner),
so the candidates are the durations themselves (`polling.py`'s choice, about
2 s for 1 000 durations), or for speed ``grid`` of their quantiles and the
duration just below each (`polling_sim.py` beyond 2 000 tasks: 400; an
approximation from above, within 2 % on most simulated workloads, up to
23 % on multimodal ones at 8 polls per task); the last poll is at the
longest duration. For a price ``lam`` per
poll, minimising ``mean lag + lam * mean polls`` is a shortest path over the
sorted candidates ``g_1 < ... < g_m``:

    F(j) = min over i < j of F(i) + sum_{g_i < d <= g_j} (g_j - d) + lam * #{d > g_i}

which, with ``N(i) = #{d <= g_i}`` and ``P(i) = sum of those d``, is a minimum
of lines in ``g_j`` with slopes ``-N(i)`` (decreasing) queried at increasing
``g_j``: the convex-hull trick solves each ``lam`` in O(m). Sweeping ``lam``
(exactly: every vertex is found, see `frontier_curve`) traces the lower convex
hull of (polls, lag); between two vertices the frontier is interpolated
linearly (the Lagrangian bound), exact at the vertices and a lower bound
between them.

Pure Python, no dependency: `tests/unit/test_frontier.py` checks it against
brute force on small cases.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

__all__ = ["Point", "best_for_price", "evaluate", "frontier_at", "frontier_curve"]

#: (mean polls per task, mean lag in seconds, poll times)
Point = tuple[float, float, tuple[float, ...]]


def evaluate(durations: Sequence[float], polls: Sequence[float]) -> tuple[float, float]:
    """(mean polls per task, mean lag) of the fixed schedule `polls` on `durations`.

    Raises ValueError if a duration exceeds the last poll (that task would never be seen).
    """
    times = sorted(polls)
    if not durations:
        return 0.0, 0.0
    if not times or max(durations) > times[-1]:
        raise ValueError("the last poll must come at or after the longest duration")
    total_polls = 0
    total_lag = 0.0
    for d in durations:
        j = bisect.bisect_left(times, d)
        total_polls += j + 1
        total_lag += times[j] - d
    return total_polls / len(durations), total_lag / len(durations)


def _grid(durations: Sequence[float], grid: int | None) -> list[float]:
    """The candidate poll times: every duration, or `grid` quantiles and the duration below each.

    A quantile alone is not enough where it lands past a gap in the durations
    (a bimodal batch's quantile in its long mode): the durations between the
    quantile before and the gap could then only be seen at the far side of
    the gap, and the frontier came out far above the exact one (1 000 tasks
    of the bimodal workload: 0.245 s against 0.194 s at 4.5 polls/task). The
    duration just below each quantile closes every such gap, for at most
    twice the candidates.
    """
    ordered = sorted(durations)
    if grid is None or grid >= len(ordered):
        return sorted(set(ordered))
    picks: set[float] = set()
    for i in range(grid):
        pick = ordered[round(i * (len(ordered) - 1) / (grid - 1))]
        picks.add(pick)
        below = bisect.bisect_left(ordered, pick) - 1
        if below >= 0:
            picks.add(ordered[below])
    return sorted(picks)


def best_for_price(durations: Sequence[float], lam: float, grid: int | None = None) -> Point:
    """The fixed schedule minimising ``mean lag + lam * mean polls`` over the candidate grid."""
    if not durations:
        raise ValueError("durations must not be empty")
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam!r}")
    ordered = sorted(durations)
    n = len(ordered)
    g = _grid(ordered, grid)
    m = len(g)
    # N[j], P[j]: count and sum of durations <= g[j]; index 0 is the virtual poll at age 0.
    count = [0] * (m + 1)
    total = [0.0] * (m + 1)
    k = 0
    running = 0.0
    for j, t in enumerate(g, start=1):
        while k < n and ordered[k] <= t:
            running += ordered[k]
            k += 1
        count[j], total[j] = k, running
    best = [0.0] * (m + 1)
    parent = [0] * (m + 1)
    # Lines y = slope * x + intercept for each i; hull kept as a deque (list + head index).
    slopes: list[float] = []
    intercepts: list[float] = []
    owners: list[int] = []
    head = 0

    def add(i: int) -> None:
        slope = -float(count[i])
        intercept = best[i] + total[i] + lam * (n - count[i])
        while len(slopes) - head >= 1 and slopes[-1] == slope:
            if intercepts[-1] <= intercept:
                return
            slopes.pop()
            intercepts.pop()
            owners.pop()
        while len(slopes) - head >= 2:
            s1, b1 = slopes[-2], intercepts[-2]
            s2, b2 = slopes[-1], intercepts[-1]
            # The middle line is useless if the new one overtakes the first no later than it does.
            if (intercept - b1) * (s1 - s2) <= (b2 - b1) * (s1 - slope):
                slopes.pop()
                intercepts.pop()
                owners.pop()
            else:
                break
        slopes.append(slope)
        intercepts.append(intercept)
        owners.append(i)

    add(0)
    for j in range(1, m + 1):
        x = g[j - 1]
        while (
            len(slopes) - head >= 2
            and slopes[head + 1] * x + intercepts[head + 1] <= slopes[head] * x + intercepts[head]
        ):
            head += 1
        i = owners[head]
        best[j] = slopes[head] * x + intercepts[head] + x * count[j] - total[j]
        parent[j] = i
        add(j)
    times: list[float] = []
    j = m
    while j > 0:
        times.append(g[j - 1])
        j = parent[j]
    times.reverse()
    polls, lag = evaluate(ordered, times)
    return polls, lag, tuple(times)


def frontier_curve(durations: Sequence[float], grid: int | None = 400) -> list[Point]:
    """Every vertex of the frontier (the lower convex hull of (polls, lag)), by polls per task.

    Exact on the candidate grid: between two known vertices, the price equal to
    the slope joining them either finds a point strictly below that segment (a
    new vertex, searched on both sides) or proves there is none.
    """
    most = best_for_price(durations, 0.0, grid)
    fewest = best_for_price(durations, 2.0 * max(durations) * len(durations) + 1.0, grid)
    if most[0] <= fewest[0] + 1e-12:
        return [fewest]
    vertices = [fewest, most]
    pending = [(fewest, most)]
    while pending:
        left, right = pending.pop()
        price = (left[1] - right[1]) / (right[0] - left[0])
        point = best_for_price(durations, price, grid)
        on_segment = left[1] + price * left[0]
        if point[1] + price * point[0] < on_segment - 1e-9 * max(1.0, abs(on_segment)):
            vertices.append(point)
            pending += [(left, point), (point, right)]
    return sorted(vertices)


def frontier_at(curve: Sequence[Point], polls: float) -> float:
    """The frontier's mean lag at `polls` per task (linear between hull points)."""
    if polls <= curve[0][0]:
        return curve[0][1] if polls >= curve[0][0] - 1e-12 else float("inf")
    for (x1, y1, _), (x2, y2, _) in itertools.pairwise(curve):
        if polls <= x2:
            return y1 + (y2 - y1) * (polls - x1) / (x2 - x1)
    return curve[-1][1]
