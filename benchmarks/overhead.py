"""Per-call overhead: ``AsyncClient.tasks.get`` against raw aiohttp doing the same GET + JSON decode.

Both sides fetch the same completed task record from the emulator, which runs
in its own process (so ``time.process_time`` below counts the client's CPU
only, and the server does not compete for this process's GIL or loop):

- SDK: ``await client.tasks.get(task_id)`` -> a `Task` model (URL encoding,
  retry loop, rate-limit gate, size-capped read, orjson decode, cattrs model);
- transport: ``client._transport.request("GET", path)``: the SDK without the
  model, printed to split the SDK's cost between transport and model;
- raw: ``session.get(url)`` on an aiohttp session with the same headers and
  connector limits, ``await response.read()``, status check, ``orjson.loads``.

Two shapes: N calls one after another, and N calls spread over 64 concurrent
workers. Rounds alternate which side goes first; figures are medians over
rounds. Loopback wall time is noisy and dominated by the server, so CPU time
per call is printed next to calls/s: it is the SDK's real cost.

Target: SDK calls/s >= 0.90x raw aiohttp, sequential and concurrent.

Tracing (the ``otel`` extra): the same ``tasks.get`` three ways, interleaved:
off (``_tracing.TRACER = None``, exactly the path taken when opentelemetry is
not installed), the API installed with no SDK configured (the proxy tracer:
no-op spans; the target is within noise of off), and the SDK with an
in-memory exporter (every attempt exported). Skipped without opentelemetry.

Reproduce::

    .venv/bin/python benchmarks/overhead.py --quick   # N=1000, 5 rounds, ~10 s
    .venv/bin/python benchmarks/overhead.py --full    # N=5000, 9 rounds
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import aiohttp
import orjson
from _bench import SEED, EmulatorProcess, median, run_main, verdict

from stablebrowse_async import AsyncClient
from stablebrowse_async._http import USER_AGENT

CONCURRENCY = 64
TARGET = 0.90
Call = Callable[[], Awaitable[Any]]


async def _sequential(call: Call, n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await call()
    return time.perf_counter() - wall, time.process_time() - cpu


async def _concurrent(call: Call, n: int) -> tuple[float, float]:
    per_worker = n // CONCURRENCY

    async def worker() -> None:
        for _ in range(per_worker):
            await call()

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - wall, time.process_time() - cpu


async def _measure(url: str, api_key: str, task_id: str, n: int, rounds: int) -> dict[str, Any]:
    headers = {
        "Authorization": f"Bearer {api_key}",
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
    }
    task_url = f"{url}/tasks/{task_id}"
    timeout = aiohttp.ClientTimeout(total=30.0, connect=30.0)
    connector = aiohttp.TCPConnector(limit=100, limit_per_host=100)
    async with (
        AsyncClient(api_key, base_url=url, max_retries=2) as client,
        aiohttp.ClientSession(connector=connector, headers=headers, trust_env=False) as session,
    ):

        async def raw_get() -> Any:
            async with session.get(task_url, timeout=timeout) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                return orjson.loads(body)

        async def sdk_get() -> Any:
            return await client.tasks.get(task_id)

        path = "/tasks/" + task_id

        async def transport_get() -> Any:
            # The SDK's transport without the model: splits the SDK's cost in two.
            return await client._transport.request("GET", path)

        sides: dict[str, Call] = {"sdk": sdk_get, "raw": raw_get, "transport": transport_get}
        # Warm up both: connections for 64 workers, converter caches.
        for call in sides.values():
            await _concurrent(call, CONCURRENCY * 2)
        samples: dict[str, dict[str, list[float]]] = {
            f"{side}_{shape}_{what}": {"v": []}
            for side in sides
            for shape in ("seq", "conc")
            for what in ("rate", "cpu_us")
        }
        for round_no in range(rounds):
            order = list(sides.items())
            order = order[round_no % 3 :] + order[: round_no % 3]
            for shape, runner, calls in (
                ("seq", _sequential, n),
                ("conc", _concurrent, (n // CONCURRENCY) * CONCURRENCY),
            ):
                for side, call in order:
                    wall, cpu = await runner(call, n)
                    samples[f"{side}_{shape}_rate"]["v"].append(calls / wall)
                    samples[f"{side}_{shape}_cpu_us"]["v"].append(cpu / calls * 1e6)
    record = await client_record(url, api_key, task_id)
    return {
        **{key: round(median(value["v"]), 1) for key, value in samples.items()},
        "record_bytes": len(orjson.dumps(record)),
        "record_steps": len(record.get("stepSummaries") or []),
    }


async def client_record(url: str, api_key: str, task_id: str) -> dict[str, Any]:
    async with AsyncClient(api_key, base_url=url) as client:
        record: dict[str, Any] = await client._transport.request("GET", "/tasks/" + task_id)
        return record


TRACING_MODES = ("off", "api_only", "sdk_in_memory")


async def _measure_tracing(
    url: str, api_key: str, task_id: str, n: int, rounds: int
) -> dict[str, float] | None:
    """Client CPU µs and calls/s per `tasks.get` with tracing off, API-only, SDK in memory."""
    from stablebrowse_async import _tracing

    api_tracer = _tracing.TRACER
    if api_tracer is None:
        return None
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracers = {
        "off": None,
        "api_only": api_tracer,
        "sdk_in_memory": provider.get_tracer("stablebrowse_async"),
    }
    samples: dict[str, list[float]] = {}
    try:
        async with AsyncClient(api_key, base_url=url, max_retries=2) as client:

            async def sdk_get() -> Any:
                return await client.tasks.get(task_id)

            await _concurrent(sdk_get, CONCURRENCY * 2)
            for round_no in range(rounds):
                modes = TRACING_MODES[round_no % 3 :] + TRACING_MODES[: round_no % 3]
                for shape, runner, calls in (
                    ("seq", _sequential, n),
                    ("conc", _concurrent, (n // CONCURRENCY) * CONCURRENCY),
                ):
                    for mode in modes:
                        _tracing.TRACER = tracers[mode]
                        wall, cpu = await runner(sdk_get, n)
                        exporter.clear()
                        samples.setdefault(f"{mode}_{shape}_rate", []).append(calls / wall)
                        samples.setdefault(f"{mode}_{shape}_cpu_us", []).append(cpu / calls * 1e6)
    finally:
        _tracing.TRACER = api_tracer
        provider.shutdown()
    figures = {key: round(median(values), 1) for key, values in samples.items()}
    figures["api_only_hooks_us"] = round(_hook_cost(api_tracer), 2)
    return figures


def _hook_cost(tracer: Any) -> float:
    """µs per attempt of the tracing hooks alone with the API and no SDK (no I/O: stable)."""
    import timeit

    from stablebrowse_async import _tracing

    headers = {"Accept": "application/json"}

    def hooks() -> None:
        span, _ = _tracing.start_request(
            tracer, "GET", "/v1/tasks/{taskId}", "127.0.0.1", 443, 0, headers
        )
        _tracing.end_request(span, 200)

    calls = 100_000
    return min(timeit.repeat(hooks, number=calls, repeat=5)) / calls * 1e6


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark; return its figures as a dict."""
    n = 1000 if quick else 5000
    rounds = 5 if quick else 9
    with EmulatorProcess(seed=SEED, durations=(0.05, 0.1), pending_for=0.0) as emu:

        async def setup() -> str:
            async with AsyncClient(emu.api_key, base_url=emu.url) as client:
                task = await client.tasks.run(
                    end_user_id="bench",
                    task="Find the three top stories on the front page and summarise them",
                    poll_interval=0.05,
                    poll_timeout=30,
                )
                return task.task_id

        task_id = asyncio.run(setup())
        medians = asyncio.run(_measure(emu.url, emu.api_key, task_id, n, rounds))
        on_uvloop = _on_uvloop(_measure(emu.url, emu.api_key, task_id, n, max(3, rounds // 2)))
        tracing = asyncio.run(_measure_tracing(emu.url, emu.api_key, task_id, n, rounds))
    ratio_seq = medians["sdk_seq_rate"] / medians["raw_seq_rate"]
    ratio_conc = medians["sdk_conc_rate"] / medians["raw_conc_rate"]
    return {
        "benchmark": "overhead",
        "mode": "quick" if quick else "full",
        "calls_per_round": n,
        "rounds": rounds,
        "concurrency": CONCURRENCY,
        "emulator": "separate process",
        "medians": medians,
        "ratio_seq_sdk_vs_raw": round(ratio_seq, 3),
        "ratio_conc_sdk_vs_raw": round(ratio_conc, 3),
        "cpu_ratio_seq_sdk_vs_raw": round(medians["sdk_seq_cpu_us"] / medians["raw_seq_cpu_us"], 2),
        "cpu_ratio_conc_sdk_vs_raw": round(
            medians["sdk_conc_cpu_us"] / medians["raw_conc_cpu_us"], 2
        ),
        "cpu_extra_us_per_call_seq": round(
            medians["sdk_seq_cpu_us"] - medians["raw_seq_cpu_us"], 1
        ),
        "cpu_us_model_share_conc": round(
            medians["sdk_conc_cpu_us"] - medians["transport_conc_cpu_us"], 1
        ),
        "cpu_us_transport_share_conc": round(
            medians["transport_conc_cpu_us"] - medians["raw_conc_cpu_us"], 1
        ),
        "target": TARGET,
        "target_met": ratio_seq >= TARGET and ratio_conc >= TARGET,
        "uvloop": on_uvloop,
        "tracing": tracing,
    }


def _on_uvloop(measurement: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any] | None:
    """The same measurement on uvloop (the `speed` extra), or None where uvloop is missing."""
    try:
        import uvloop
    except ImportError:
        measurement.close()
        return None
    result: dict[str, Any] = uvloop.run(measurement)
    return result


def report(figures: dict[str, Any]) -> None:
    m = figures["medians"]
    print(
        f"overhead ({figures['mode']}, N={figures['calls_per_round']}, median of "
        f"{figures['rounds']} interleaved rounds, emulator in a separate process)"
    )
    print("                          calls/s     client CPU µs/call")
    for shape, label in (("seq", "sequential"), ("conc", f"{CONCURRENCY} concurrent")):
        for side, name in (
            ("sdk", "AsyncClient.tasks.get"),
            ("transport", "SDK transport, no model"),
            ("raw", "raw aiohttp GET+orjson"),
        ):
            print(
                f"  {label:<14} {name:<24} {m[f'{side}_{shape}_rate']:>9.0f} "
                f"{m[f'{side}_{shape}_cpu_us']:>12.1f}"
            )
    print(
        f"  SDK / raw calls/s: sequential {figures['ratio_seq_sdk_vs_raw']:.2f}x, "
        f"concurrent {figures['ratio_conc_sdk_vs_raw']:.2f}x "
        f"(target >= {TARGET}x both: {verdict(figures['target_met'])})"
    )
    print(
        f"  SDK / raw CPU per call: sequential {figures['cpu_ratio_seq_sdk_vs_raw']:.2f}x, "
        f"concurrent {figures['cpu_ratio_conc_sdk_vs_raw']:.2f}x "
        f"(+{figures['cpu_extra_us_per_call_seq']:.0f} µs/call sequential)"
    )
    print(
        f"  of the concurrent CPU gap: transport {figures['cpu_us_transport_share_conc']:+.0f} µs, "
        f"Task model {figures['cpu_us_model_share_conc']:+.0f} µs "
        f"(record: {m['record_bytes']} bytes, {m['record_steps']} step summaries)"
    )
    tracing = figures.get("tracing")
    if tracing:
        print("  tracing (otel extra), AsyncClient.tasks.get   calls/s     client CPU µs/call")
        for shape, label in (("seq", "sequential"), ("conc", f"{CONCURRENCY} concurrent")):
            off = tracing[f"off_{shape}_cpu_us"]
            for mode, name in (
                ("off", "off (as without otel)"),
                ("api_only", "API, no SDK configured"),
                ("sdk_in_memory", "SDK, in-memory exporter"),
            ):
                cpu = tracing[f"{mode}_{shape}_cpu_us"]
                print(
                    f"  {label:<14} {name:<24} {tracing[f'{mode}_{shape}_rate']:>9.0f} "
                    f"{cpu:>12.1f} ({cpu - off:+.1f})"
                )
        print(
            "  tracing hooks alone, API without SDK (timeit, no I/O): "
            f"{tracing['api_only_hooks_us']:.2f} µs per attempt"
        )
    else:
        print("  tracing: opentelemetry-api not installed (the otel extra): not measured")
    uv = figures.get("uvloop")
    if uv:
        print(
            "  on uvloop (opt-in, `speed` extra), calls/s: SDK sequential "
            f"{uv['sdk_seq_rate']:.0f} ({uv['sdk_seq_rate'] / m['sdk_seq_rate']:.2f}x asyncio), "
            f"concurrent {uv['sdk_conc_rate']:.0f} "
            f"({uv['sdk_conc_rate'] / m['sdk_conc_rate']:.2f}x asyncio); "
            f"SDK / raw on uvloop: {uv['sdk_seq_rate'] / uv['raw_seq_rate']:.2f}x, "
            f"{uv['sdk_conc_rate'] / uv['raw_conc_rate']:.2f}x"
        )


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(__doc__, "overhead.py", run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
