"""Fault injection rules."""

from __future__ import annotations

import dataclasses

__all__ = ["FAULT_KINDS", "Fault"]

FAULT_KINDS = frozenset(
    {
        "status",
        "html",
        "message",
        "empty",
        "reset_before",
        "reset_after",
        "delay",
        "truncated",
        "rate_limit",
    }
)


@dataclasses.dataclass
class Fault:
    """One fault rule, checked against every request in order; the first that fires wins.

    ``route`` is None (every route), a method ("GET"), a route template
    ("GET /v1/tasks/{taskId}") or a template without method ("/v1/tasks").
    ``rate`` is the probability per matching request (seeded); ``times`` caps
    how often the rule fires (None = unlimited).
    """

    kind: str
    rate: float = 1.0
    route: str | None = None
    status: int | None = None
    delay: float = 0.0
    retry_after: float | None = None
    times: int | None = None
    fired: int = dataclasses.field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {sorted(FAULT_KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")

    def matches(self, method: str, template: str | None) -> bool:
        """Whether this rule applies to a request (before the dice roll)."""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.route is None:
            return True
        route = self.route.strip()
        if " " in route:
            want_method, want_path = route.split(None, 1)
            return want_method.upper() == method and want_path.strip() == template
        if route.startswith("/"):
            return route == template
        return route.upper() == method
