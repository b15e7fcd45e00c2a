"""A `RateGate` for tests that answer many requests with 429 on purpose."""

from __future__ import annotations


class CountingGate:
    """A `RateGate` that never holds a request back, and counts the 429s it is told of.

    The client's real gate holds every later request of the client after a
    429 (half a second without ``Retry-After``, up to its value with one):
    a test that generates answers, 429s among them, would wait that long for
    each, so its duration would depend on how many 429s the generator drew.
    What the client does with a 429 is tested with the real gate elsewhere
    (tests/client/test_rate_gate.py, tests/client/test_retry_after_values.py).
    """

    def __init__(self) -> None:
        self.closed = 0

    def delay(self) -> float:
        return 0.0

    def close_for(self, seconds: float) -> None:
        self.closed += 1
