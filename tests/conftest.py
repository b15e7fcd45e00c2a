"""Shared pytest configuration.

anyio's plugin runs async tests on asyncio (aiohttp's loop); ``--reliability``
sizes tests/reliability; and every test of the suite is scanned for leaked
secrets (see the section at the end of this file).
"""

from __future__ import annotations

import gc
import json
import logging
import math
import os
import sys
from collections.abc import Generator, Iterator

import pytest
from hypothesis import settings

# Loaded here rather than through its entry point (blocked in pyproject.toml):
# the coverage measurement has started by the time conftest files are imported.
pytest_plugins = ["stablebrowse_async.testing.pytest_plugin"]

RELIABILITY_SIZES = ("quick", "full")
# `make mutation` runs each test once per mutant: few, reproducible examples.
settings.register_profile("mutation", max_examples=10, deadline=None, derandomize=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `make mutation`, run a mutant's tests fastest first.

    mutmut stops at the first failing test; its tests come in no useful order
    (a set), and a mutant most tests kill is killed as soon as the first fast
    one runs. The durations are those mutmut measured without a mutant
    (``mutmut-stats.json`` in the directory the tests run in); tests of this
    suite do not depend on their order.
    """
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", ""):
        return
    try:
        with open("mutmut-stats.json", encoding="utf-8") as stats:
            durations: dict[str, float] = json.load(stats)["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    items.sort(key=lambda item: durations.get(item.nodeid, math.inf))


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--reliability=full`` runs the reliability suite at its larger size (default: quick)."""
    parser.addoption(
        "--reliability",
        choices=RELIABILITY_SIZES,
        default=os.environ.get("STABLEBROWSE_RELIABILITY", "quick"),
        help="size of tests/reliability: quick (runs in make test) or full "
        "(also via STABLEBROWSE_RELIABILITY=full)",
    )


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """aiohttp runs on asyncio only, so every async test does too."""
    return "asyncio"


# -- secret scan: every test of the suite ------------------------------------------------
# An autouse fixture captures every log record (the SDK's logger runs at DEBUG
# for the test); the report hook then scans those records, the test's
# captured stdout/stderr/log sections and any failure text for every known
# secret (tests/reliability/_secrets.py: the emulators' keys, tokens and
# stored credential values, and the reliability suite's canary values). A hit
# turns the test's teardown into an error naming where; secrets are masked.

_SECRET_LOGS = pytest.StashKey[list[str]]()
_FAILURE_TEXTS = pytest.StashKey[dict[str, str]]()


class _RecordCapture(logging.Handler):
    """Keeps every record's message (and repr of its args, and its traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self._last: logging.LogRecord | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record is self._last:  # attached to the SDK logger and to root: seen twice
            return
        self._last = record
        try:
            self.texts.append(record.getMessage())
            if record.args:
                self.texts.append(repr(record.args))
            if record.exc_info:
                self.texts.append(logging.Formatter().formatException(record.exc_info))
        except Exception as error:  # a broken record must not break the test
            self.texts.append(f"<unformattable record: {type(error).__name__}>")


@pytest.fixture(scope="module", autouse=True)
def _freeze_what_earlier_modules_left() -> None:
    """Move every object alive when a test module starts out of the collector's reach.

    The per-test collection below would otherwise walk every object the
    session has accumulated (about 220 000 once Ray, pandas and pyarrow are
    imported) after each of about 1 600 tests: a third of the suite's time.
    Frozen objects are never collected, so a cycle an earlier module left
    stays alive until the session ends (`pytest_sessionfinish` unfreezes and
    collects); what a test itself leaves is still collected at its teardown.
    """
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _collect_garbage_per_test() -> Iterator[None]:
    """Collect each test's garbage at its own teardown.

    Many tests cancel requests mid-connection or stop emulators and servers
    abruptly; what they leave in reference cycles would otherwise be
    finalized at an arbitrary later moment, inside an unrelated test, where a
    late ResourceWarning fails the wrong test. Here it is attributed to (and
    fails) the test that left it.
    """
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _secret_scan(request: pytest.FixtureRequest) -> Iterator[None]:
    """Capture this test's log records for the secret scan done by the report hook."""
    capture = _RecordCapture()
    root = logging.getLogger()
    sdk = logging.getLogger("stablebrowse_async")
    level = sdk.level
    root.addHandler(capture)
    sdk.addHandler(capture)
    sdk.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        sdk.setLevel(level)
        sdk.removeHandler(capture)
        root.removeHandler(capture)
        request.node.stash[_SECRET_LOGS] = capture.texts


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when != "teardown":
        item.stash.setdefault(_FAILURE_TEXTS, {})[f"failure report ({report.when})"] = (
            report.longreprtext
        )
    if report.when == "teardown":
        _scan_for_secrets(item, report)
    return report


def _scan_for_secrets(item: pytest.Item, report: pytest.TestReport) -> None:
    from tests.reliability._secrets import BOOK, find_leaks, redact

    texts: dict[str, str] = {}
    logs = item.stash.get(_SECRET_LOGS, None)
    if logs:
        texts["log records"] = "\n".join(logs)
    for name, content in report.sections:
        texts[name.lower()] = content
    failures: dict[str, str] = item.stash.get(_FAILURE_TEXTS, {})
    texts.update(failures)
    if report.failed:
        texts["failure report (teardown)"] = report.longreprtext
    BOOK.tests_scanned += 1
    BOOK.chars_scanned += sum(len(text) for text in texts.values())
    secrets = BOOK.current()
    leaks = find_leaks(texts, secrets)
    if not leaks:
        return
    BOOK.hits += len(leaks)
    message = "secret scan: secrets leaked in this test's output\n" + "\n".join(
        f"  {leak}" for leak in leaks
    )
    report.outcome = "failed"
    report.longrepr = message
    # The captured sections are printed with the error: show them masked.
    report.sections = [(name, redact(content, secrets)) for name, content in report.sections]


@pytest.hookimpl(tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Add the whole run's secret-scan figures to the reliability figure book, if it is in use."""
    reliability = sys.modules.get("tests.reliability.conftest")
    secrets = sys.modules.get("tests.reliability._secrets")
    if reliability is None or secrets is None:
        return
    book = secrets.BOOK
    section = "secret scan (autouse, every test of this run)"
    reliability._BOOK.record(section, "tests scanned", book.tests_scanned)
    reliability._BOOK.record(section, "secrets known at the end", len(book.current()))
    reliability._BOOK.record(section, "characters scanned", book.chars_scanned)
    reliability._BOOK.record(section, "hits", book.hits)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Collect the tests' garbage before the end-of-run hooks import anything.

    Cancelled batches and aborted connections leave reference cycles whose
    finalizers (ResourceWarnings of sockets the emulator aborted on purpose)
    would otherwise run inside whatever happens next. CPython 3.11.7 turns a
    finalizer running inside the AST constructor, here a late import that
    pytest rewrites, into "SystemError: AST constructor recursion depth
    mismatch" (gh-106905, fixed in 3.11.8). Objects frozen by
    `_freeze_what_earlier_modules_left` are unfrozen first, so they are
    collected too.
    """
    gc.unfreeze()
    gc.collect()


# -- Ray: one local cluster for the whole session -------------------------------------------


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    """A local Ray with 2 CPUs, started once per session (ray.init costs seconds)."""
    import ray
    import ray.data

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    try:
        yield ray
    finally:
        ray.shutdown()
