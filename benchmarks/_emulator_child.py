"""The emulator in its own process, for `_bench.EmulatorProcess` (not a benchmark).

Usage: ``python benchmarks/_emulator_child.py '<JSON options for EmulatorThread>'``.
Prints one JSON line ``{"url", "api_key", "dashboard_token"}``, then answers
commands read from stdin, one JSON line each:

- ``stats``: a summary of the requests recorded since the last ``clear``
  (counts per route, polls per task, tasks created);
- ``clear``: forget the recorded requests;
- ``quit`` (or end of input): stop.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from typing import Any

from stablebrowse_async.testing import EmulatorThread

_TASK_PATH = re.compile(r"/tasks/([^/]+)$")


def _route(method: str, path: str) -> str:
    return f"{method} " + _TASK_PATH.sub("/tasks/{id}", path)


def _stats(emu: EmulatorThread, created_before: int) -> dict[str, Any]:
    requests = list(emu.requests)
    routes: Counter[str] = Counter()
    polls: Counter[str] = Counter()
    for request in requests:
        routes[_route(request.method, request.path)] += 1
        match = _TASK_PATH.search(request.path)
        if request.method == "GET" and match:
            polls[match.group(1)] += 1
    histogram = Counter(polls.values())
    return {
        "requests": len(requests),
        "routes": dict(routes),
        "task_gets": sum(polls.values()),
        "tasks_polled": len(polls),
        "polls_histogram": {str(k): v for k, v in sorted(histogram.items())},
        "task_posts": sum(
            count
            for route, count in routes.items()
            if route.startswith("POST ") and route.endswith("/tasks")
        ),
        "tasks_created": _tasks_created(emu) - created_before,
    }


def _tasks_created(emu: EmulatorThread) -> int:
    created: Any = emu.tasks_created()
    return created if isinstance(created, int) else len(created)


def main() -> int:
    options: dict[str, Any] = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    # JSON has no tuples: a (low, high) pair arrives as a list, which the
    # emulator accepts as is, like a "lognormal:20,0.3" spec string.
    try:
        emulator = EmulatorThread(**options)
        emu = emulator.__enter__()
    except Exception as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}), flush=True)
        return 1
    try:
        created_before = 0
        hello = {"url": emu.url, "api_key": emu.api_key, "dashboard_token": emu.dashboard_token}
        print(json.dumps(hello), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                print(json.dumps(_stats(emu, created_before)), flush=True)
            elif command == "clear":
                emu.clear_requests()
                created_before = _tasks_created(emu)
                print(json.dumps({"ok": True}), flush=True)
            elif command == "quit":
                break
            else:
                print(json.dumps({"error": f"unknown command {command!r}"}), flush=True)
    finally:
        emulator.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
