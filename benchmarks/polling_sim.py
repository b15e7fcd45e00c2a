"""A fast, offline simulation of the run_many engine driving a schedule (no network, no clock).

Used to compare schedule designs in seconds rather than the minutes of
`polling.py`'s real-time runs, and on workloads the benchmark does not name
(exponential, log-uniform, Weibull, ...). The engine is modelled as in
``_polling.py``: tasks are submitted at ``rate`` per second, each poll
answers after ``latency`` seconds, a task's next poll comes from
``schedule.next_delay``, and when ``schedule.epoch`` moves the provisional
plans are re-planned. Figures per batch: polls/task, mean lag, the frontier
at the same polls/task (`frontier.py`) and the ratio. Lags here exclude the
emulator's queueing; the real-time benchmark is the one to quote.

The submission rate sets how far apart a cold batch's tasks are born, and
that matters: on the benchmark's cold bimodal batch the adaptive schedule
reads 1.52x the frontier at 500 submissions/s (births over 2 s, the
default), 1.63x at 2 000/s and 1.61x at 5 000/s (births over 0.2 s, what
`polling.py` does on loopback, and what its real runs measure).

Batches run on one schedule follow each other on one clock, as on a real
client: the next starts a second after the last poll of the one before (the
schedule keeps times across batches, such as when it last re-planned). Until
6 December 2026 every batch restarted at 0, which held back a later batch's
re-plans on news until its clock passed the last one of the batch before.

A client that cannot keep up (``--capacity``: requests a second, every task
submitted at once, as `polling.py`'s 10 000 at once) is modelled on the
engine's own rules: submissions and polls share the client, due polls first,
ranked by the schedule's ``urgency`` while the client is behind
(``--oldest-due-first``: not ranked).

``--poll-cost``: the adaptive schedule's price of a poll (`AdaptiveSchedule`'s
``poll_cost``, 0.04 by default): fewer polls for more lag. On a client that
cannot keep up, a poll saved frees the client for the others, yet the lag
still rises about as the frontier says (README, "Very large batches").

``--fingerprint``: for work meant to change no decision (a faster code path),
each adaptive batch's polls/task, mean lag, a hash of every task's polls and
lag (exact floats) and the CPU seconds the batch took, without the frontier:
the same hashes before and after say the change decided nothing differently,
and the CPU column what it saved.

``--seeds N``: the adaptive schedule alone over seeds 1..N, one process a
core, each batch's mean ratio to the frontier, its worst and the mean
polls/task: the figures the README's "Where it stands" quotes for the
workloads the benchmark does not name (``--seeds 6 --rate 5000 --latency
0.005``, an unlimited client; ``--seeds 6 --capacity 2000 --latency 0.02``,
a busy one; about two minutes each on two cores). Seed ``s`` draws what
``--seed s`` does.

``--informed`` (with ``--seeds``): beside each batch's ratio, the ratio that
the best fixed schedule for the batch's *distribution* reaches at the same
polls per task (`frontier.informed_curve`, planned on 20 times as many durations drawn
independently): the part of the ratio that comes from the frontier knowing
the batch's own durations, which no client can learn. A schedule's ratio
over it is what learning costs.

Usage: ``python benchmarks/polling_sim.py [--tasks N] [--workload NAME ...] [--rate R]
[--capacity C [--submit-cost S] [--oldest-due-first]] [--poll-cost P]
[--fingerprint | --seeds N [--informed]]``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import heapq
import itertools
import math
import multiprocessing
import os
import random
import statistics
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from frontier import (
    InformedPlan,
    frontier_at,
    frontier_curve,
    informed_curve,
    plan_for_distribution,
)

from stablebrowse_async import AdaptiveSchedule, PollSchedule
from stablebrowse_async._polling import _BEHIND, _MAX_OVERDUE, _RANK_EVERY
from stablebrowse_async.types import Task, TaskStatus

Sampler = Callable[[random.Random, int], list[float]]

#: Where each schedule's clock stands: the next batch on it starts there. A
#: client's clock never runs backwards, and a schedule keeps times across
#: batches (when it last re-planned): restarted at 0, a batch's re-plans were
#: held back until it passed the previous batch's last one.
_CLOCKS: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
#: Seconds between one batch's last poll and the next batch's first submission.
_BETWEEN_BATCHES = 1.0


def _start_of(schedule: Any) -> float:
    """The time the next batch on `schedule` starts (0 for its first)."""
    return _CLOCKS.get(schedule, 0.0)


def _ended(schedule: Any, at: float) -> None:
    """Record that a batch on `schedule` ended at `at`."""
    _CLOCKS[schedule] = at + _BETWEEN_BATCHES


WORKLOADS: dict[str, Sampler] = {
    "uniform": lambda r, n: [r.uniform(1.0, 3.0) for _ in range(n)],
    "lognormal": lambda r, n: [r.lognormvariate(math.log(20.0), 0.3) for _ in range(n)],
    "bimodal": lambda r, n: [
        r.uniform(1.5, 2.5) if r.random() < 2 / 3 else r.uniform(25.0, 35.0) for _ in range(n)
    ],
    # Not named by the benchmark: guard against tuning to the three above.
    "exponential": lambda r, n: [0.2 + r.expovariate(1 / 10.0) for _ in range(n)],
    "loguniform": lambda r, n: [math.exp(r.uniform(0.0, math.log(300.0))) for _ in range(n)],
    "weibull": lambda r, n: [r.weibullvariate(60.0, 3.0) for _ in range(n)],
    "trimodal": lambda r, n: [
        r.choice((r.uniform(0.8, 1.2), r.uniform(8.0, 12.0), r.uniform(80.0, 120.0)))
        for _ in range(n)
    ],
    "lognormal_wide": lambda r, n: [r.lognormvariate(math.log(5.0), 1.0) for _ in range(n)],
}
SHIFTS: dict[str, Sequence[Sampler]] = {
    "shifting": (
        lambda r, n: [r.uniform(1.0, 2.0) for _ in range(n)],
        lambda r, n: [r.uniform(20.0, 30.0) for _ in range(n)],
        lambda r, n: [r.uniform(1.0, 2.0) for _ in range(n)],
    ),
    # Not named: a shift from long to short and back, on other scales.
    "shifting_other": (
        lambda r, n: [r.lognormvariate(math.log(60.0), 0.2) for _ in range(n)],
        lambda r, n: [r.uniform(3.0, 6.0) for _ in range(n)],
        lambda r, n: [r.lognormvariate(math.log(60.0), 0.2) for _ in range(n)],
    ),
    # Not named: bimodal learned cold then warm, then the long mode moves *into*
    # the quiet stretch the model learned between the modes, then spreads.
    "shifting_into_gap": (
        WORKLOADS["bimodal"],
        WORKLOADS["bimodal"],
        lambda r, n: [
            r.uniform(1.5, 2.5) if r.random() < 2 / 3 else r.uniform(9.0, 12.0) for _ in range(n)
        ],
        lambda r, n: [r.uniform(8.0, 14.0) for _ in range(n)],
    ),
}


def simulate(
    schedule: Any,
    durations: Sequence[float],
    *,
    rate: float = 500.0,
    latency: float = 0.005,
    timeout: float = 600.0,
    capacity: float | None = None,
    submit_cost: float = 0.6,
    rank: bool = True,
    frontier: bool = True,
) -> dict[str, Any]:
    """Run one batch through a model of the engine; its polls/task, lags and frontier.

    Returns polls per task, the mean, median and worst lag, the frontier at
    those polls per task and the ratio of the mean lag to it.

    `capacity`: requests per second the client can send (None: unlimited,
    submissions at `rate`). A real client is CPU-bound at a few thousand
    requests a second: with a capacity the model is `_simulate_client`'s,
    where every task is submitted at once (``concurrency`` = the batch) and
    a submission costs `submit_cost` of a poll (`rank`: False sends due polls
    oldest due first, as the engine did before it ranked them). `frontier`:
    False leaves the frontier and the ratio out (`_figures`).
    """
    if capacity is not None:
        return _simulate_client(
            schedule,
            durations,
            capacity,
            submit_cost,
            latency,
            timeout,
            rank=rank,
            frontier=frontier,
        )
    start = _start_of(schedule)
    born = [start + i / rate for i in range(len(durations))]
    tracks = [schedule.begin(at, batch=True) for at in born]
    plans = _Plans(schedule, tracks, timeout)
    polls = [0] * len(durations)
    lags: list[float] = []
    # Submissions interleave with polls: push them as events too.
    for i in range(len(durations)):
        heapq.heappush(plans.heap, (born[i], -1 - i, i))
    at = start
    while plans.heap:
        at, s, i = heapq.heappop(plans.heap)
        if s < 0:
            plans.plan(i, at)
            continue
        if plans.current.get(i) != s:
            continue
        now = at + latency
        polls[i] += 1
        done = now - born[i] >= durations[i]
        if done:
            lags.append(now - born[i] - durations[i])
        plans.answered(i, now, durations[i] if done else None)
    _ended(schedule, at + latency)
    return _figures(durations, polls, lags, frontier=frontier)


class _Plans:
    """The engine's plans, shared by both models: each task's live heap item
    (its sequence number in `current`, -1 while its poll is in flight) and due
    time, the provisional ones, and the re-plan that follows ``schedule.epoch``
    (earlier, later only where the schedule marks the new plan deferred)."""

    def __init__(self, schedule: Any, tracks: list[Any], timeout: float) -> None:
        self.schedule = schedule
        self.tracks = tracks
        self.timeout = timeout
        self.heap: list[tuple[float, int, int]] = []  # (due, seq, task)
        self.seq = itertools.count()
        self.current: dict[int, int] = {}
        self.due: dict[int, float] = {}
        self.provisional: set[int] = set()
        self.epoch = schedule.epoch

    def plan(self, i: int, at: float) -> None:
        """Queue task `i`'s next poll where the schedule says, from `at`."""
        delay = self.schedule.next_delay(self.tracks[i], at)
        self.current[i] = s = next(self.seq)
        self.due[i] = at + min(delay, self.timeout)
        heapq.heappush(self.heap, (self.due[i], s, i))
        if self.tracks[i].provisional:
            self.provisional.add(i)

    def answered(self, i: int, at: float, duration: float | None) -> None:
        """A poll of task `i` answered at `at`: finished after `duration`, or running (None)."""
        done = duration is not None
        task = Task(
            task_id=str(i),
            status=TaskStatus.COMPLETED if done else TaskStatus.RUNNING,
            duration_ms=round(duration * 1000) if duration is not None else None,
        )
        schedule, current, due = self.schedule, self.current, self.due
        schedule.observe(self.tracks[i], task, at)
        self.provisional.discard(i)
        if done:
            del current[i]
        if schedule.epoch != self.epoch:
            self.epoch = schedule.epoch
            for j in list(self.provisional):
                if current.get(j, -1) < 0:  # finished, or its poll in flight
                    continue
                track = self.tracks[j]
                delay = schedule.next_delay(track, at)
                if at + delay < due[j] - 1e-3 or (track.deferred and at + delay > due[j] + 1e-3):
                    current[j] = s = next(self.seq)
                    due[j] = at + delay
                    heapq.heappush(self.heap, (at + delay, s, j))
                if not track.provisional:
                    self.provisional.discard(j)
        if not done:
            self.plan(i, at)


def _figures(
    durations: Sequence[float], polls: list[int], lags: list[float], *, frontier: bool = True
) -> dict[str, Any]:
    """A batch's polls/task, mean, median and worst lag, the fingerprint of its
    decisions (every task's polls and every lag, in order, hashed: the same only
    if every decision was) and, unless `frontier` is False, the frontier at those
    polls, its curve (``curve``, for `informed_ratio`) and the ratio."""
    per_task = sum(polls) / len(durations)
    mean = statistics.fmean(lags)
    result: dict[str, Any] = {
        "polls": round(per_task, 2),
        "lag": round(mean, 3),
        "median": round(statistics.median(lags), 3),
        "worst": round(max(lags), 3),
        "fingerprint": hashlib.sha256(repr((polls, lags)).encode()).hexdigest()[:12],
    }
    if frontier:
        # Exact up to 2 000 tasks (~2 s per 1 000); a grid of quantiles beyond (10 000 tasks).
        grid = None if len(durations) <= 2000 else 400
        curve = frontier_curve([round(d, 3) for d in durations], grid=grid)
        limit = frontier_at(curve, per_task)
        result["frontier"] = round(limit, 3)
        result["curve"] = curve
        result["ratio"] = round(mean / limit, 2) if limit > 0 else float("nan")
    return result


def _simulate_client(
    schedule: Any,
    durations: Sequence[float],
    capacity: float,
    submit_cost: float,
    latency: float,
    timeout: float,
    *,
    rank: bool,
    frontier: bool = True,
) -> dict[str, Any]:
    """`simulate` on a client that can send `capacity` requests a second, all tasks at once.

    Modelled on `_polling._Batch`: the client sends one request at a time, each
    taking ``1 / capacity`` seconds of it (a submission `submit_cost` of that);
    a due poll goes before the next submission; while the oldest due poll has
    waited more than `_BEHIND`, the due polls go in the order of the schedule's
    ``urgency``, ranked again every `_RANK_EVERY` (a ranking takes no time
    here, so `_RANK_SPACING` never applies), the ones overdue by more than
    `_MAX_OVERDUE` first (a schedule without ``urgency``: oldest due first).
    A task is created on the server halfway through its submission's round
    trip and watched from its answer (the lead the schedule estimates); a poll
    is answered `latency` after it was sent, re-plans follow ``epoch`` as in
    `simulate`. Figures as `simulate`'s, plus the wall time.
    """
    urgency = getattr(schedule, "urgency", None) if rank else None
    count = len(durations)
    tracks: list[Any] = [None] * count
    plans = _Plans(schedule, tracks, timeout)
    heap, current = plans.heap, plans.current
    created = [0.0] * count  # on the server
    ranked: list[tuple[float, int, int]] = []  # due polls ranked, the next to send last
    ranked_at = -math.inf
    answers: list[tuple[float, int, int]] = []  # (when, 0 submission | 1 poll, task)
    polls = [0] * count
    lags: list[float] = []
    start = now = _start_of(schedule)
    submitted = finished = 0

    def answer(kind: int, i: int, at: float) -> None:
        nonlocal finished
        if kind == 0:
            tracks[i] = schedule.begin(at, batch=True)
            plans.plan(i, at)
            return
        polls[i] += 1
        done = at - created[i] >= durations[i]
        if done:
            lags.append(at - created[i] - durations[i])
            finished += 1
        plans.answered(i, at, durations[i] if done else None)

    def next_poll() -> int | None:
        nonlocal ranked, ranked_at
        while heap and current.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)
        if urgency is not None and (
            (now >= ranked_at + _RANK_EVERY) if ranked else (heap and now - heap[0][0] > _BEHIND)
        ):
            pool = [item for item in ranked if current.get(item[2]) == item[1]]
            while heap and heap[0][0] <= now:
                item = heapq.heappop(heap)
                if current.get(item[2]) == item[1]:
                    pool.append(item)
            odds = urgency([tracks[i] for _, _, i in pool], now)
            keys = [
                (math.inf if at < now - _MAX_OVERDUE else chance, -at, -s)
                for (at, s, _), chance in zip(pool, odds, strict=True)
            ]
            ranked = [pool[k] for k in sorted(range(len(pool)), key=keys.__getitem__)]
            ranked_at = now
        while ranked:
            _, s, i = ranked.pop()
            if current.get(i) == s:
                return i
        if heap and heap[0][0] <= now:
            return heapq.heappop(heap)[2]
        return None

    for _ in range(100 * count + 1000):  # bounded: each step sends a request or waits
        while answers and answers[0][0] <= now:
            at, kind, i = heapq.heappop(answers)
            answer(kind, i, at)
        if finished == count:
            break
        polled = next_poll()
        if polled is not None:
            current[polled] = -1
            plans.provisional.discard(polled)
            now += 1.0 / capacity
            heapq.heappush(answers, (now + latency, 1, polled))
        elif submitted < count:
            now += submit_cost / capacity
            created[submitted] = now + latency / 2
            heapq.heappush(answers, (now + latency, 0, submitted))
            submitted += 1
        else:  # idle until the next answer or due poll
            now = max(now, min(item[0] for item in (*answers[:1], *heap[:1])))
    else:
        raise RuntimeError("the simulated client did not finish its batch")
    _ended(schedule, now)
    return {**_figures(durations, polls, lags, frontier=frontier), "wall": round(now - start, 2)}


def main(argv: Sequence[str] | None = None) -> int:
    """Print geometric and adaptive side by side for each selected workload."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workload", action="append", default=None)
    parser.add_argument(
        "--latency", type=float, default=0.005, help="seconds each poll takes (a busy client: 0.2)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=500.0,
        help="submissions per second (polling.py's batches on loopback: about 5 000)",
    )
    parser.add_argument(
        "--capacity",
        type=float,
        default=None,
        help="requests per second the client can send, every task submitted at once "
        "(default: unlimited, submissions at --rate)",
    )
    parser.add_argument(
        "--submit-cost",
        type=float,
        default=0.6,
        help="with --capacity: a submission's share of a poll's cost",
    )
    parser.add_argument(
        "--oldest-due-first",
        action="store_true",
        help="with --capacity: never rank due polls (the engine before it did)",
    )
    parser.add_argument(
        "--poll-cost",
        type=float,
        default=None,
        help="the adaptive schedule's poll_cost (default: AdaptiveSchedule's, 0.04)",
    )
    parser.add_argument(
        "--fingerprint",
        action="store_true",
        help="adaptive batches only, no frontier: a hash of every decision, and CPU seconds",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="adaptive batches only, over seeds 1..N (one process a core): each batch's "
        "mean ratio to the frontier, the worst, and the mean polls/task",
    )
    parser.add_argument(
        "--informed",
        action="store_true",
        help="with --seeds: also the ratio of the best fixed schedule for each batch's "
        "distribution (known exactly, not learned) at the same polls/task",
    )
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    if args.seeds is not None and args.fingerprint:
        parser.error("--seeds and --fingerprint do not go together")
    if args.informed and args.seeds is None:
        parser.error("--informed needs --seeds")
    options = {} if args.poll_cost is None else {"poll_cost": args.poll_cost}
    run = functools.partial(
        simulate,
        rate=args.rate,
        latency=args.latency,
        capacity=args.capacity,
        submit_cost=args.submit_cost,
        rank=not args.oldest_due_first,
        frontier=not args.fingerprint,
    )
    show = _fmt_fingerprint if args.fingerprint else _fmt

    def adaptive_run(schedule: AdaptiveSchedule, durations: Sequence[float]) -> str:
        started = time.process_time()
        figures = run(schedule, durations)
        return show({**figures, "cpu": time.process_time() - started})

    def geometric(durations: Sequence[float]) -> str:
        # Side by side, unless fingerprinting: the adaptive batches alone.
        return "" if args.fingerprint else f"geo {_fmt(run(PollSchedule(), durations))} | "

    names = args.workload or [*WORKLOADS, *SHIFTS]
    if args.seeds is not None:
        _print_grid(names, args.seeds, args.tasks, run.keywords, options, args.informed)
        return 0
    for name in names:
        adaptive = AdaptiveSchedule(seed=args.seed, **options)
        if name in SHIFTS:
            rows = [
                f"{label} {geometric(durations)}ada {adaptive_run(adaptive, durations)}"
                for label, durations in batches(name, args.seed, args.tasks)
            ]
            print(f"{name:15}", "\n                ".join(rows))
            continue
        (_, cold), (_, warm) = batches(name, args.seed, args.tasks)
        geo = geometric(cold)
        first = adaptive_run(adaptive, cold)
        second = adaptive_run(adaptive, warm)
        print(f"{name:15} {geo}cold {first} | warm {second}")
    return 0


def batches(name: str, seed: int, tasks: int) -> Iterator[tuple[str, list[float]]]:
    """Workload `name`'s batches for `seed`, drawn in turn from one generator: a
    cold then a warm batch of `tasks`, or a shift's phases of half as many."""
    rng = random.Random(seed)
    if name in SHIFTS:
        for phase, sampler in enumerate(SHIFTS[name], 1):
            yield f"p{phase}", sampler(rng, tasks // 2)
        return
    for label in ("cold", "warm"):
        yield label, WORKLOADS[name](rng, tasks)


def sampler_of(name: str, label: str) -> Sampler:
    """The distribution batch `label` (cold, warm, or a shift's pN) of workload `name` is drawn from."""
    if name in SHIFTS:
        return SHIFTS[name][int(label[1:]) - 1]
    return WORKLOADS[name]


@functools.cache
def informed_plan(name: str, label: str, size: int) -> InformedPlan:
    """`frontier.plan_for_distribution` for batch `label`'s distribution (`sampler_of`),
    kept: every seed's batch `label` of workload `name` shares it."""
    return plan_for_distribution(sampler_of(name, label), f"{name}:{label}", size)


def informed_ratio(
    name: str, label: str, durations: Sequence[float], figures: dict[str, Any]
) -> float:
    """The best fixed schedule for batch `label`'s distribution (`informed_plan`), at the
    batch's polls per task on `durations`: its mean lag over the frontier's (`figures`,
    `simulate`'s result, holds both)."""
    polls = figures["polls"]
    informed = frontier_at(
        informed_curve(informed_plan(name, label, len(durations)), durations), polls
    )
    return informed / frontier_at(figures["curve"], polls)


def _grid_cell(
    job: tuple[str, int, int, dict[str, Any], dict[str, Any], bool],
) -> list[tuple[str, float, float, float]]:
    """One workload and seed of `--seeds`: each batch's label, polls/task, ratio and
    (`--informed`, else NaN) the informed schedule's ratio at those polls."""
    name, seed, tasks, run_options, options, informed = job
    schedule = AdaptiveSchedule(seed=seed, **options)
    rows = []
    for label, durations in batches(name, seed, tasks):
        figures = simulate(schedule, durations, **run_options)
        reference = informed_ratio(name, label, durations, figures) if informed else math.nan
        rows.append((label, figures["polls"], figures["ratio"], reference))
    return rows


def _print_grid(
    names: Sequence[str],
    seeds: int,
    tasks: int,
    run_options: dict[str, Any],
    options: dict[str, Any],
    informed: bool = False,
) -> None:
    """`--seeds`: every workload over seeds 1..`seeds` (one process a core), each batch's
    mean ratio to the frontier, its worst, the mean polls/task and (`informed`) the
    informed schedule's mean ratio at each seed's polls."""
    jobs = [
        (name, seed, tasks, run_options, options, informed)
        for name in names
        for seed in range(1, seeds + 1)
    ]
    # Spawned, not forked: a fork of a process with threads (a test run's) may deadlock.
    with ProcessPoolExecutor(
        os.cpu_count(), mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        cells = list(pool.map(_grid_cell, jobs))
    for i, name in enumerate(names):
        runs = cells[i * seeds : (i + 1) * seeds]
        columns = []
        for k, (label, *_) in enumerate(runs[0]):
            ratios = [run[k][2] for run in runs]
            polls = statistics.fmean(run[k][1] for run in runs)
            column = f"{label} {statistics.fmean(ratios):.2f}x (worst {max(ratios):.2f}x) at {polls:.2f}p"
            if informed:
                column += f" [informed {statistics.fmean(run[k][3] for run in runs):.2f}x]"
            columns.append(column)
        print(f"{name:17}", " | ".join(columns))


def _fmt(r: dict[str, Any]) -> str:
    return f"{r['polls']:5.2f}p {r['lag']:6.3f}s med {r['median']:.3f} {r['ratio']:5.2f}x"


def _fmt_fingerprint(r: dict[str, Any]) -> str:
    return f"{r['polls']:5.2f}p {r['lag']:6.3f}s {r['fingerprint']} {r['cpu']:6.3f}s cpu"


if __name__ == "__main__":
    raise SystemExit(main())
