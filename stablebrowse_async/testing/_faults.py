"""Fault injection rules."""

from __future__ import annotations

import dataclasses

__all__ = ["FAULT_KINDS", "STEP_FAULT_KINDS", "TRANSPORT_FAULT_KINDS", "Fault"]

# Faults of the answer itself: its status, body or connection.
TRANSPORT_FAULT_KINDS = frozenset(
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
# Faults of the step list inside a running task's record (GET /v1/tasks/{taskId}
# and GET /v1/sessions/{sessionId}), for testing a client's step de-duplication.
STEP_FAULT_KINDS = frozenset({"steps_drop", "steps_shuffle", "steps_truncate"})
FAULT_KINDS = TRANSPORT_FAULT_KINDS | STEP_FAULT_KINDS


@dataclasses.dataclass
class Fault:
    """One fault rule, checked against every request in order; the first that fires wins.

    ``route`` is None (every route), a method ("GET"), a route template
    ("GET /v1/tasks/{taskId}") or a template without method ("/v1/tasks").
    ``rate`` is the probability per matching request (seeded); ``times`` caps
    how often the rule fires (None = unlimited).

    Transport kinds (one per request, the first rule that fires wins):
    ``status`` (JSON error, default 500), ``html`` (a gateway's HTML page,
    default 502), ``message`` (``{"message": ...}``, default 503), ``empty``
    (no body, default 502), ``rate_limit`` (429 with ``Retry-After``),
    ``reset_before`` / ``reset_after`` (drop the connection before / after
    acting), ``delay`` (sleep ``delay`` seconds, then answer), ``truncated``
    (a 200 whose JSON is cut in half).

    Step kinds change the step list of each *running* task record in an answer
    (a finished record is always whole, so a client can always end with every
    step); ``totalSteps`` and the rest stay true. ``steps_drop``: the lists
    are empty (``stepSummaries`` and ``visitedUrls``); ``steps_shuffle``: the
    steps come out of order; ``steps_truncate``: only the most recent 1..n-1
    steps are sent, as a server capping the list would. ``times`` counts
    mangled records. Without a step fault the whole list is resent on every
    poll, as the API does.
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
