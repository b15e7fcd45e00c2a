"""No logged value can forge a log line or drive the terminal that shows the log."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

import stablebrowse_async
from stablebrowse_async import AsyncClient, NotFoundError
from stablebrowse_async._logging import LOGGER_NAME, VisibleFilter, get_logger
from stablebrowse_async._text import UNSAFE_CHARACTERS
from stablebrowse_async.testing import Emulator, Fault

pytestmark = pytest.mark.anyio

FORGED = "\n2026-01-01 INFO forged line"
_UNSAFE = re.compile(f"[{UNSAFE_CHARACTERS}]")
_any_text = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=40)


class _Lines(logging.Handler):
    """What a log file would hold: each record formatted the usual way."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self.written: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.written.append(self.format(record) + "\n")

    @property
    def text(self) -> str:
        return "".join(self.written)


@pytest.fixture
def log_lines() -> Iterator[_Lines]:
    logger = logging.getLogger(LOGGER_NAME)
    handler = _Lines()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)


def test_a_task_text_with_a_forged_line_logs_as_one_line(log_lines: _Lines) -> None:
    task = "Find the price" + FORGED
    logging.getLogger(LOGGER_NAME).info("submitting task %s for %r", task, "alice\r\x1b[2J")
    assert log_lines.text.count("\n") == 1
    (line,) = log_lines.text.splitlines()
    assert line.endswith(
        "submitting task Find the price\\n2026-01-01 INFO forged line for 'alice\\r\\x1b[2J'"
    )


def test_values_interpolated_into_the_message_itself_are_escaped_too(log_lines: _Lines) -> None:
    task = "x" + FORGED
    logger = logging.getLogger(LOGGER_NAME)
    logger.warning(f"task {task} failed")  # a careless call site
    logger.warning(ValueError(task))  # a non-str message
    logger.warning("%(task)s: %(n)d steps", {"task": task, "n": 3})  # mapping arguments
    assert log_lines.text.count("\n") == 3
    assert "x\\n2026-01-01 INFO forged line: 3 steps" in log_lines.text


def test_numbers_keep_their_formats(log_lines: _Lines) -> None:
    logging.getLogger(LOGGER_NAME).info("%d of %d in %.2fs (%s)", 3, 4, 1.5, None)
    assert log_lines.text.rstrip("\n").endswith("3 of 4 in 1.50s (None)")


@given(message=_any_text, values=st.lists(_any_text, max_size=3))
def test_no_logged_string_leaves_a_control_character_in_the_line(
    message: str, values: list[str]
) -> None:
    record = logging.LogRecord(
        LOGGER_NAME,
        logging.INFO,
        __file__,
        1,
        message.replace("%", "%%") + " %s" * len(values),
        tuple(values),
        None,
    )
    assert VisibleFilter().filter(record) is True
    line = record.getMessage()
    assert _UNSAFE.search(line) is None
    assert VisibleFilter().filter(record) and record.getMessage() == line  # idempotent
    assert _UNSAFE.search(repr(record.args)) is None


async def test_the_sdks_own_request_lines_stay_one_line_with_hostile_ids(
    log_lines: _Lines,
) -> None:
    hostile = "s" + FORGED + "\x1b]0;pwned\x07\u202e"
    fault = Fault("status", route="GET /v1/sessions/{sessionId}", status=503, times=1)
    async with Emulator(faults=[fault]) as emu:
        async with AsyncClient(emu.api_key, base_url=emu.url, max_retries=1) as client:
            with pytest.raises(NotFoundError):
                await client.sessions.get(hostile)
    assert fault.fired == 1
    lines = log_lines.written
    retried = [line for line in lines if " retrying GET " in line]
    requests = [line for line in lines if " GET /v1/sessions/{sessionId} -> " in line]
    assert retried and len(requests) == 2, lines  # the 503, then the 404
    for line in lines:
        assert line.count("\n") == 1 and _UNSAFE.search(line[:-1]) is None, line
    # Request lines name the route template (STABLEBROWSE_LOG): the id is never logged.
    assert not any("forged line" in line for line in lines)


def test_every_package_logger_carries_the_filter() -> None:
    for module in pkgutil.walk_packages(stablebrowse_async.__path__, LOGGER_NAME + "."):
        if module.name.endswith(("._cli.app", ".cli")) or ".testing.pytest_plugin" in module.name:
            continue  # entry points: importing them is harmless but pointless here
        importlib.import_module(module.name)
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] == LOGGER_NAME]
    assert LOGGER_NAME in names
    for name in names:
        found = logging.root.manager.loggerDict[name]
        if isinstance(found, logging.Logger):
            assert any(isinstance(f, VisibleFilter) for f in found.filters), name


def test_get_logger_gives_filtered_children_only() -> None:
    child = get_logger(LOGGER_NAME + ".example")
    assert any(isinstance(f, VisibleFilter) for f in child.filters)
    assert get_logger(LOGGER_NAME + ".example").filters == child.filters  # attached once
    with pytest.raises(ValueError, match="name must be"):
        get_logger("elsewhere")
