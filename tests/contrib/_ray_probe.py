"""Test-only Ray helpers, shipped to workers by value (tests/ is not installed there)."""

from __future__ import annotations

import os
from typing import Any

import ray

from stablebrowse_async.contrib.ray import TaskRunner


@ray.remote(num_cpus=0)
class Registry:
    """Where probing runners report ``(pid, actor handle)`` as they start a batch."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, Any]] = []

    def add(self, pid: int, handle: Any) -> None:
        self.seen.append((pid, handle))

    def all(self) -> list[tuple[int, Any]]:
        return self.seen


class ProbedRunner(TaskRunner):
    """A `TaskRunner` that reports its process and actor handle to the named Registry."""

    def __init__(self, *, registry: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._registry = ray.get_actor(registry)
        self._reported = False

    def __call__(self, batch: Any) -> Any:
        if not self._reported:
            handle = ray.get_runtime_context().current_actor
            ray.get(self._registry.add.remote(os.getpid(), handle))
            self._reported = True
        return super().__call__(batch)
