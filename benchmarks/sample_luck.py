"""How much of a batch's ratio to the frontier is its sample's luck, and how much is the plan.

`polling.py` measures each batch against the frontier of *its own* 1 000
durations: the best fixed schedule chosen knowing them. A schedule that knew
the workload's distribution exactly, but not the batch, cannot match that on
every sample. This script takes the fixed schedules that are optimal for the
distribution (the frontier of 100 000 draws, seeded apart from the
benchmark's) and evaluates them on the benchmark's own cold and warm batches
(same seeds as `polling.py`): their ratios there are what a perfectly learned
plan would score with no queueing at all. Then it simulates the cold batch
through `AdaptiveSchedule` (`polling_sim.simulate`, no capacity limit) and
evaluates the plan the warm batch then follows, on the warm batch and on the
distribution.

Usage: ``python benchmarks/sample_luck.py [WORKLOAD ...]`` (default: bimodal;
any of `polling.py`'s workloads). Not part of `run_all.py`: it reads a
figure, it does not make one.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence

from frontier import Point, evaluate, frontier_at, frontier_curve
from polling import WORKLOADS, workload_batches
from polling_sim import simulate

from stablebrowse_async import AdaptiveSchedule
from stablebrowse_async._schedule import _BATCH_PLAN

#: Draws standing for the distribution, and their seed (not the benchmark's).
DRAWS, DRAWS_SEED = 100_000, 99


def _ratio(durations: Sequence[float], schedule: Sequence[float], curve: list[Point]) -> str:
    polls, lag = evaluate(durations, schedule)
    return f"{polls:.2f} polls, {lag:.3f} s, {lag / frontier_at(curve, polls):.3f}x"


def report(name: str) -> None:
    """Print the distribution-optimal schedules' and the learned plan's ratios for `name`."""
    cold, warm = workload_batches(name, 1000)
    batches = {"cold": cold, "warm": warm}
    draws = WORKLOADS[name][1](random.Random(DRAWS_SEED), DRAWS)
    longest = max(max(draws), *(max(b) for b in batches.values()))
    distribution = frontier_curve(draws, grid=2000)
    curves = {
        label: frontier_curve([round(d, 3) for d in b], grid=None) for label, b in batches.items()
    }
    print(f"{name}: fixed schedules optimal for the distribution ({DRAWS} draws), on each batch")
    near = [p for p in distribution if 1.5 <= p[0] <= 8.0]  # the benchmark's poll counts
    for polls, _, times in near[:: max(1, len(near) // 8)]:
        schedule = [*times[:-1], longest]  # the last poll sees every task
        cells = "; ".join(
            f"{label} {_ratio(b, schedule, curves[label])}" for label, b in batches.items()
        )
        print(f"  {polls:5.2f} polls on the distribution -> {cells}")
    learner = AdaptiveSchedule(seed=1)
    simulate(learner, batches["cold"], rate=4000.0)
    learner.begin(0.0, batch=True)  # the warm batch starts: its plan is the learned one
    plan = learner._plan(_BATCH_PLAN, learner._model.edge()[0])
    schedule = [*plan, longest]
    print(f"  the plan learned from the cold batch: {[round(a, 2) for a in plan]}")
    print(f"    on the warm batch:   {_ratio(batches['warm'], schedule, curves['warm'])}")
    print(f"    on the distribution: {_ratio(draws, schedule, distribution)}")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("workloads", nargs="*", help=f"of {', '.join(WORKLOADS)}; default bimodal")
    names = parser.parse_args(argv).workloads or ["bimodal"]
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)} (known: {', '.join(WORKLOADS)})")
    for name in names:
        report(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
