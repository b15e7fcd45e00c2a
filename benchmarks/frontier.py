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

The frontier knows the batch's own durations, so part of any client's ratio
to it is the sample, not the client: a schedule drawn for a 1 000-task batch
fits that batch's gaps and clusters, which no client can know in advance.
`informed_curve` measures that part: the best fixed schedules for the
*distribution* the batch was drawn from (`plan_informed`, planned once on a
large independent sample of it), evaluated on the batch. A client that knew the workload's
distribution exactly, and learned nothing from the batch itself, reads its
ratio; with independent durations, as in the emulator, a task's poll results
say nothing about another's, so no client does better in expectation.

Pure Python, no dependency: `tests/unit/test_frontier.py` checks it against
brute force on small cases.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "POPULATION_PER_TASK",
    "InformedPlan",
    "Point",
    "best_for_price",
    "evaluate",
    "frontier_at",
    "frontier_curve",
    "informed_curve",
    "plan_for_distribution",
    "plan_informed",
]

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


@dataclass(frozen=True)
class InformedPlan:
    """The best fixed schedules for a distribution, planned once on a sample of it.

    `plan_informed` makes it; `informed_curve` evaluates it on any batch drawn
    from that distribution (a cold and a warm batch, or every seed of a grid,
    share one plan: planning is the costly part, ~5 s on 20 000 durations).

    Attributes:
        end: the sample's longest duration (where the one-poll schedule polls).
        schedules: one schedule (poll times) per price, cheapest poll first.
    """

    end: float
    schedules: tuple[tuple[float, ...], ...]


def plan_informed(
    population: Sequence[float], *, grid: int | None = None, prices: int = 97
) -> InformedPlan:
    """Plan the best fixed schedules for `population`'s distribution, for `informed_curve`.

    `population` is a large sample of the distribution, independent of the
    batches the plan will be evaluated on. For `prices` prices of a poll,
    geometric from 1e-4 times its median to its longest duration, the schedule
    minimising ``mean lag + price * mean polls`` on `population` (on `grid` of
    its quantiles, see `best_for_price`).

    A sweep, not an exact search (the schedules are optimal on `population`,
    not on the batch, so no price is known to find a vertex). 97 prices
    against 193 (the 97 among them: the sweeps nest), on `polling_sim.py`'s
    workloads at 2.5-6 polls a task: within 1 % mostly, 4 % high at worst
    (a log-normal of sigma 1 at 5 polls); a coarser sweep only reads high.
    Every candidate exact (``grid=None``, the default): 20 000 durations
    take about 5 s; a grid of 2 000 quantiles read up to 5 % high on that
    log-normal.
    """
    if not population:
        raise ValueError("population must not be empty")
    if prices < 2:
        raise ValueError(f"prices must be >= 2, got {prices!r}")
    ordered = sorted(population)
    low = 1e-4 * max(ordered[len(ordered) // 2], 1e-9)
    high = max(ordered[-1], low * 10.0)
    schedules = tuple(
        best_for_price(ordered, low * (high / low) ** (k / (prices - 1)), grid)[2]
        for k in range(prices)
    )
    return InformedPlan(ordered[-1], schedules)


#: Durations drawn from a distribution, per task of the batches evaluated on its plan,
#: to plan its informed schedules on (20 000 for 1 000-task batches).
POPULATION_PER_TASK = 20


def plan_for_distribution(
    sampler: Callable[[random.Random, int], Sequence[float]], key: str, size: int
) -> InformedPlan:
    """`plan_informed` for the distribution `sampler` draws (``sampler(rng, n)``: `n`
    durations), planned on `POPULATION_PER_TASK` times `size` of them, drawn with a
    generator seeded by ``population:{key}``: independent of every batch of `size`
    tasks evaluated on the plan, and the same sample for every batch of one `key`."""
    return plan_informed(sampler(random.Random(f"population:{key}"), POPULATION_PER_TASK * size))


def informed_curve(plan: InformedPlan, durations: Sequence[float]) -> list[Point]:
    """`plan`'s schedules evaluated on the batch `durations`, as a curve for `frontier_at`.

    The points are the plan's schedules and one poll at the distribution's
    end (any price past the last); the curve is their lower convex hull, by
    polls per task (between two schedules, a client that follows one or the
    other at random per task gets the line between them). A batch duration
    past the plan's longest gets one poll at the batch's longest (a schedule
    for the distribution polls until its end; a tail the sample never drew
    would otherwise leave the task unseen).
    """
    if not durations:
        raise ValueError("durations must not be empty")
    longest = max(durations)
    # The dearest poll: one, at the distribution's end.
    last = (max(plan.end, longest),)
    points: list[Point] = [(*evaluate(durations, last), last)]
    for times in plan.schedules:
        if times[-1] < longest:
            times = (*times, longest)
        polls, lag = evaluate(durations, times)
        points.append((polls, lag, times))
    return _lower_hull(points)


def _lower_hull(points: Sequence[Point]) -> list[Point]:
    """The vertices of the lower convex hull of (polls, lag) with lag falling as polls grow."""
    hull: list[Point] = []
    for point in sorted(points):
        if hull and point[1] >= hull[-1][1]:
            continue  # more polls for no less lag
        while len(hull) >= 2:
            (x1, y1, _), (x2, y2, _) = hull[-2], hull[-1]
            # The middle vertex lies on or above the line from the one before to this one.
            if (y2 - y1) * (point[0] - x1) >= (point[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(point)
    return hull
