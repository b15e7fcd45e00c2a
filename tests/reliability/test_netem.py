"""Real network conditions: `run_many` over a veth pair into a network namespace, with tc qdiscs.

The emulator runs in a namespace this test creates (see _netns.py); the client
runs here and reaches it over the veth pair, so every request crosses a real
kernel network path with the queueing discipline on both ends:

- ``netem delay 50ms loss 1%`` in each direction (100 ms round trip, random
  loss): the classic lossy WAN;
- ``tbf rate 2mbit`` with a short queue: a congested link that tail-drops
  packets when a burst of answers overflows it, which TCP must retransmit;
- the same tbf link plus 50 ms added by the namespace's relay to every
  request and answer: latency and loss together on kernels without netem.

A batch (100 tasks quick, 500 full) must then complete with every outcome
correct: one per request, each completed, with its own text and a distinct id,
and exactly one task and one POST per request on the server.

Skipped, with the reason, where the machine cannot do it: not Linux, not
root, no ``ip``/``tc``, namespace creation refused, or a qdisc the kernel
lacks (some container kernels have no ``sch_netem``).
"""

from __future__ import annotations

import asyncio
import collections
import time
from pathlib import Path
from typing import Any

import pytest

from stablebrowse_async import AsyncClient, PollSchedule, TaskOutcome

from ._netns import NamespacedEmulator, NetnsUnavailable, preflight, tcp_counters

SIZES = {"quick": 100, "full": 500}
TBF = ["tbf", *("rate", "2mbit", "burst", "10kb", "limit", "12kb")]
#: name -> (qdisc on both veth ends, relay delay per crossing in seconds)
IMPAIRMENTS: dict[str, tuple[list[str], float]] = {
    "netem 50ms delay + 1% loss each way": (["netem", "delay", "50ms", "loss", "1%"], 0.0),
    "tbf 2mbit, 12kb queue (tail drops)": (TBF, 0.0),
    # Where the kernel has no sch_netem: the latency comes from the relay in the
    # namespace instead (user space, per chunk), the loss from tbf's tail drops.
    "50ms relay delay each way + tbf tail drops": (TBF, 0.05),
}
POLLS = PollSchedule(first=0.3, factor=1.5, max_interval=1.0, jitter=0.1)
RUN_TIMEOUT = 300.0  # seconds for the whole batch; far above what it needs


def skip(reason: str) -> None:
    print(f"SKIPPED (real network conditions): {reason}")
    pytest.skip(reason)


def root_tcp_counters() -> dict[str, int]:
    return tcp_counters(Path("/proc/net/snmp").read_text())


async def drive(url: str, api_key: str, size: int) -> tuple[list[TaskOutcome], float]:
    requests = [{"end_user_id": f"user-{i % 10}", "task": f"netem {i}"} for i in range(size)]
    started = time.perf_counter()
    async with AsyncClient(
        api_key, base_url=url, allow_insecure=True, poll_interval=POLLS, timeout=30
    ) as client:
        async with client.tasks.run_many(requests, concurrency=64) as batch:
            outcomes = [o async for o in batch]
    return outcomes, time.perf_counter() - started


@pytest.mark.parametrize("impairment", IMPAIRMENTS)
def test_run_many_over_a_real_impaired_link_gets_every_outcome_right(
    impairment: str, reliability_size: str, figures: Any
) -> None:
    reason = preflight()
    if reason is not None:
        skip(reason)
    size = SIZES[reliability_size]
    section = f"real network: {impairment}"
    try:
        qdisc, delay = IMPAIRMENTS[impairment]
        namespace = NamespacedEmulator(
            qdisc,
            [
                "--seed",
                "9",
                "--min-duration",
                "0.2",
                "--max-duration",
                "1.0",
                "--delay",
                str(delay),
            ],
        ).__enter__()
    except NetnsUnavailable as error:
        skip(str(error))
    try:
        retrans_before = root_tcp_counters()
        outcomes, took = asyncio.run(
            asyncio.wait_for(drive(namespace.url, namespace.api_key, size), RUN_TIMEOUT)
        )
        retrans_after = root_tcp_counters()
        stats = namespace.stats()
        qdiscs = namespace.qdisc_figures()
    finally:
        namespace.close()

    assert sorted(o.index for o in outcomes) == list(range(size))
    failures = [(o.index, repr(o.error)) for o in outcomes if not o.ok]
    assert failures == []
    tasks = [o.unwrap() for o in outcomes]
    assert all(t.task == f"netem {o.index}" for t, o in zip(tasks, outcomes, strict=True))
    assert len({t.task_id for t in tasks}) == size
    assert stats["tasks_created"] == size
    assert stats["requests"].get("POST") == size, "each submission reached the server once"
    assert collections.Counter(stats["task_texts"]) == collections.Counter(
        f"netem {i}" for i in range(size)
    )

    figures.record(section, "tasks", size)
    figures.record(section, "link", f"{namespace.host_address} -> {namespace.ns_address} (veth)")
    figures.record(section, "HTTP requests the emulator received", stats["requests"])
    figures.record(section, "qdisc packets sent/dropped", qdiscs)
    figures.record(
        section,
        "TCP segments sent / retransmitted, client side (whole root namespace)",
        {k: retrans_after[k] - retrans_before.get(k, 0) for k in retrans_after},
    )
    figures.record(
        section, "TCP segments sent / retransmitted, namespace side", stats["tcp_in_namespace"]
    )
    figures.record(section, "outcomes", {"completed": size})
    figures.record(section, "run_many duration", f"{took:.1f} s")
