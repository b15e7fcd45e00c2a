"""``python -m stablebrowse_async.testing`` / ``stablebrowse emulator``: serve until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ._clock import RealClock
from ._durations import Durations
from ._emulator import Emulator
from ._faults import FAULT_KINDS, Fault

__all__ = ["build_parser", "serve"]


def _fault(spec: str) -> Fault:
    parts = spec.split(":")
    if not 1 <= len(parts) <= 3:
        raise argparse.ArgumentTypeError("expected KIND:RATE[:STATUS]")
    kind = parts[0]
    if kind not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(
            f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}"
        )
    try:
        rate = float(parts[1]) if len(parts) > 1 else 1.0
        status = int(parts[2]) if len(parts) > 2 else None
        return Fault(kind, rate=rate, status=status)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _durations(spec: str) -> Durations:
    try:
        return Durations.parse(spec)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


DURATIONS_HELP = (
    "task durations, seeded by --seed: uniform:LO,HI | lognormal:MEDIAN,SIGMA | "
    "a mixture WEIGHT*PART+WEIGHT*PART (weights are relative), e.g. "
    "2*uniform:1.5,2.5+1*uniform:25,35 for 2/3 at 2+-0.5 s and 1/3 at 30+-5 s; "
    "a task's [[duration=S]] directive wins (default uniform:0.5,3)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stablebrowse_async.testing",
        description="Run a local StableBrowse API emulator on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-duration", type=float, default=None, help="seconds (default 0.5)")
    parser.add_argument("--max-duration", type=float, default=None, help="seconds (default 3)")
    parser.add_argument(
        "--durations", type=_durations, default=None, metavar="SPEC", help=DURATIONS_HELP
    )
    parser.add_argument(
        "--failure-rate", type=float, default=0.0, help="fraction of tasks that fail"
    )
    parser.add_argument("--speed", type=float, default=1.0, help="clock speed factor")
    parser.add_argument("--quota", type=int, default=None, help="monthly task quota")
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="KIND:RATE[:STATUS]",
        help=(
            f"inject a fault (repeatable); kinds: {', '.join(sorted(FAULT_KINDS))}; "
            "steps_* kinds garble the step list of running task records"
        ),
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    emulator = Emulator(
        host=args.host,
        port=args.port,
        clock=RealClock(speed=args.speed),
        seed=args.seed,
        durations=args.durations,
        failure_rate=args.failure_rate,
        monthly_quota=args.quota,
        faults=args.fault,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with emulator:
        print(f"StableBrowse emulator listening on {emulator.url}", flush=True)
        print(f"STABLEBROWSE_BASE_URL={emulator.url}", flush=True)
        print(f"STABLEBROWSE_API_KEY={emulator.api_key}", flush=True)
        print(f"Dashboard token: {emulator.dashboard_token}", flush=True)
        print(f"Task durations: {emulator.durations} (seed {args.seed})", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()
    print("emulator stopped", flush=True)


def serve(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), serve until Ctrl-C/SIGTERM; return an exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.durations is None:
        low = 0.5 if args.min_duration is None else args.min_duration
        high = 3.0 if args.max_duration is None else args.max_duration
        try:
            args.durations = Durations.uniform(low, high)
        except ValueError:
            parser.error("need 0 <= --min-duration <= --max-duration (finite numbers)")
    elif args.min_duration is not None or args.max_duration is not None:
        parser.error("--durations replaces --min-duration/--max-duration; give one or the other")
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
