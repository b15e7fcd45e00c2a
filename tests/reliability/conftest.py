"""Reliability suite plumbing: the run size and a book of figures printed at the end of the run."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, settings


@dataclasses.dataclass
class FigureBook:
    """Figures (tasks, faults injected, retries, outcomes) that reliability tests record.

    They are printed in the terminal summary so a run shows what it exercised,
    and copied by hand into tests/reliability/README.md.
    """

    sections: dict[str, dict[str, object]] = dataclasses.field(
        default_factory=lambda: defaultdict(dict)
    )

    def record(self, section: str, name: str, value: object) -> None:
        """Store one figure under a section (the test or scenario name)."""
        self.sections[section][name] = value

    def lines(self) -> list[str]:
        """The figures as printable lines, one section after another."""
        out: list[str] = []
        for section in sorted(self.sections):
            figures = self.sections[section]
            out.append(f"{section}:")
            out.extend(f"    {name}: {value}" for name, value in figures.items())
        return out


_BOOK = FigureBook()


def reproducible(examples: int) -> settings:
    """Hypothesis settings for this suite: `examples` examples, derandomized, no database.

    The same command runs the same examples; no deadline and no health checks,
    because every example does real network I/O.
    """
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture(scope="session")
def figures() -> FigureBook:
    """The session's figure book; ``figures.record(section, name, value)``."""
    return _BOOK


@pytest.fixture(scope="session")
def reliability_size(request: pytest.FixtureRequest) -> str:
    """``"quick"`` (default, in make test) or ``"full"`` (``--reliability=full``)."""
    return str(request.config.getoption("--reliability"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print every recorded figure once the run ends."""
    if not _BOOK.sections:
        return
    terminalreporter.section("stablebrowse reliability figures")
    for line in _BOOK.lines():
        terminalreporter.write_line(line)
