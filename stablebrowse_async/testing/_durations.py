"""Task-duration distributions for the emulator: uniform, lognormal, and weighted mixtures.

A spec string names one from the console or a JSON option::

    uniform:1,3                          # uniform between 1 and 3 s
    lognormal:20,0.3                     # median 20 s, sigma 0.3 (of the log)
    2*uniform:1.5,2.5+1*uniform:25,35    # bimodal: 2/3 at 2 +- 0.5 s, 1/3 at 30 +- 5 s

A mixture is ``WEIGHT*PART`` terms joined by ``+``; weights are relative and
default to 1. Draws come from the emulator's seeded generator, so the same
seed gives the same durations.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re

__all__ = ["Durations"]

_KINDS = ("uniform", "lognormal")
# Terms are joined by "+", which also appears in exponents (1e+3): split on a
# "+" that does not follow an "e".
_TERM_SPLIT = re.compile(r"(?<![eE])\+")
_TERM = re.compile(r"^\s*(?:(?P<weight>[^*]+)\*)?\s*(?P<kind>[A-Za-z]+)\s*:(?P<args>.*)$")


@dataclasses.dataclass(frozen=True)
class _Part:
    weight: float
    kind: str  # "uniform" (a=low, b=high) or "lognormal" (a=median, b=sigma)
    a: float
    b: float

    def sample(self, rng: random.Random) -> float:
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        return self.a * math.exp(self.b * rng.normalvariate(0.0, 1.0))

    def spec(self, weighted: bool) -> str:
        prefix = f"{_show(self.weight)}*" if weighted else ""
        return f"{prefix}{self.kind}:{_show(self.a)},{_show(self.b)}"


def _show(number: float) -> str:
    """Short when exact (``20``), else every digit (``0.6666666666666666``): specs round-trip."""
    short = f"{number:g}"
    return short if float(short) == number else repr(number)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"durations: {what} must be a number, not {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"durations: {what} must be finite, not {value!r}")
    return number


@dataclasses.dataclass(frozen=True)
class Durations:
    """A distribution of task durations (seconds): a weighted mixture of parts.

    Build one with `uniform`, `lognormal`, `mixture` or `parse` (the spec
    syntax of ``--durations``); ``str()`` gives the spec back. The emulator
    accepts it as ``durations=``, as do `EmulatorThread` and the console.
    """

    parts: tuple[_Part, ...]

    @classmethod
    def uniform(cls, low: float, high: float) -> Durations:
        """Uniform between ``low`` and ``high`` seconds (0 <= low <= high)."""
        low, high = _number(low, "uniform low"), _number(high, "uniform high")
        if low < 0 or high < low:
            raise ValueError(
                f"durations: uniform needs 0 <= low <= high, got low={low:g}, high={high:g}"
            )
        return cls((_Part(1.0, "uniform", low, high),))

    @classmethod
    def lognormal(cls, median: float, sigma: float) -> Durations:
        """Lognormal with the given ``median`` (seconds, > 0) and ``sigma`` of its log (>= 0)."""
        median, sigma = _number(median, "lognormal median"), _number(sigma, "lognormal sigma")
        if median <= 0 or sigma < 0:
            raise ValueError(
                "durations: lognormal needs median > 0 and sigma >= 0, "
                f"got median={median:g}, sigma={sigma:g}"
            )
        return cls((_Part(1.0, "lognormal", median, sigma),))

    @classmethod
    def mixture(cls, *weighted: tuple[float, Durations]) -> Durations:
        """A mixture of ``(weight, Durations)`` pairs; weights are relative (> 0).

        ``Durations.mixture((2, Durations.uniform(1.5, 2.5)), (1, Durations.uniform(25, 35)))``
        puts 2/3 of the tasks at 2 +- 0.5 s and 1/3 at 30 +- 5 s.
        """
        if not weighted:
            raise ValueError("durations: a mixture needs at least one (weight, Durations) pair")
        parts: list[_Part] = []
        for weight, durations in weighted:
            weight = _number(weight, "mixture weight")
            if weight <= 0:
                raise ValueError(f"durations: mixture weights must be > 0, got {weight:g}")
            total = sum(p.weight for p in durations.parts)
            parts.extend(
                dataclasses.replace(p, weight=weight * p.weight / total) for p in durations.parts
            )
        if len(parts) == 1:  # one part: its weight means nothing
            parts[0] = dataclasses.replace(parts[0], weight=1.0)
        return cls(tuple(parts))

    @classmethod
    def parse(cls, spec: str) -> Durations:
        """Read a spec: ``uniform:LO,HI``, ``lognormal:MEDIAN,SIGMA`` or ``W*PART+W*PART...``."""
        terms = _TERM_SPLIT.split(spec)
        weighted: list[tuple[float, Durations]] = []
        for term in terms:
            match = _TERM.match(term)
            if match is None:
                raise ValueError(
                    f"durations: cannot read {term.strip()!r} in {spec!r}; expected "
                    "uniform:LO,HI, lognormal:MEDIAN,SIGMA or WEIGHT*PART+WEIGHT*PART"
                )
            kind = match["kind"].lower()
            if kind not in _KINDS:
                raise ValueError(
                    f"durations: unknown distribution {match['kind']!r}; one of {', '.join(_KINDS)}"
                )
            try:
                weight = float(match["weight"]) if match["weight"] is not None else 1.0
                args = [float(arg) for arg in match["args"].split(",")]
            except ValueError as error:
                raise ValueError(f"durations: bad number in {term.strip()!r}: {error}") from None
            if len(args) != 2:
                raise ValueError(f"durations: {kind} takes two numbers, got {term.strip()!r}")
            part = cls.uniform(*args) if kind == "uniform" else cls.lognormal(*args)
            weighted.append((weight, part))
        return cls.mixture(*weighted)

    @classmethod
    def of(cls, value: object) -> Durations:
        """Coerce an emulator's ``durations=`` option: a Durations, a spec or ``(low, high)``."""
        if isinstance(value, Durations):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return cls.uniform(_number(value[0], "min"), _number(value[1], "max"))
        raise ValueError(
            "durations must be (min, max) with 0 <= min <= max, a Durations or a spec string; "
            f"got {value!r}"
        )

    def sample(self, rng: random.Random) -> float:
        """One duration in seconds, drawn from ``rng``."""
        parts = self.parts
        if len(parts) == 1:
            return parts[0].sample(rng)
        pick = rng.random() * sum(p.weight for p in parts)
        for part in parts[:-1]:
            pick -= part.weight
            if pick < 0:
                return part.sample(rng)
        return parts[-1].sample(rng)

    def __str__(self) -> str:
        weighted = len(self.parts) > 1
        return "+".join(part.spec(weighted) for part in self.parts)
