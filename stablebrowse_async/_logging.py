"""The package's logging: one logger, and no log line that data can forge.

Everything the SDK logs goes through the ``stablebrowse_async`` logger
(`logger`, or `get_logger` for a child). The SDK adds no handler and sets no
level: the application decides where records go. What this module does
guarantee, wherever they go, is that a logged value cannot forge a line or
drive a terminal: `VisibleFilter`, attached to the package logger as soon
as the client module is imported (before any request can be logged; not by
a bare ``import stablebrowse_async``, which stays free of `logging`), rewrites the message and every argument
of each record with `stablebrowse_async._text.visible`, so a task text, an
id or a server's error message holding ``"\\n2026-01-01 INFO forged line"``
or ``"\\x1b[2J"`` is logged on one line, its controls shown as ``\\n`` and
``\\x1b``.

The call sites stay ordinary ``logger.info("... %s", value)`` calls; numbers
keep their ``%d``/``%.2f`` formatting, and ``%r`` still shows a string's
repr (which escapes controls by itself). Multi-line tracebacks attached with
``exc_info`` are left as the formatter writes them.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Mapping
from typing import Any

from ._text import visible

__all__ = ["LOGGER_NAME", "VisibleFilter", "get_logger", "logger"]

#: The name of the package logger; child loggers are ``LOGGER_NAME + ".something"``.
LOGGER_NAME = "stablebrowse_async"


class _Shown(str):
    """A logged value made visible: ``%s`` gives the escaped text, ``%r`` a safe repr."""

    _repr: str

    def __new__(cls, shown: str, shown_repr: str) -> _Shown:
        self = super().__new__(cls, shown)
        self._repr = shown_repr
        return self

    def __repr__(self) -> str:
        return self._repr


def _visible_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, numbers.Number)):
        return value  # keeps %d / %.2f working; a number's text holds no controls
    if isinstance(value, _Shown):
        return value
    if isinstance(value, str):
        return _Shown(visible(value), visible(str.__repr__(value)))
    return _Shown(visible(str(value)), visible(repr(value)))


class VisibleFilter(logging.Filter):
    """Rewrites a record's message and arguments so that no control character survives.

    It never drops a record (`filter` always returns True); it only changes
    how the record's values will be shown. Applying it twice changes nothing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Make `record`'s message and arguments visible text; keep the record."""
        record.msg = _visible_value(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_visible_value(arg) for arg in args)
        elif isinstance(args, Mapping):
            record.args = {key: _visible_value(value) for key, value in args.items()}
        return True


_FILTER = VisibleFilter()


def get_logger(name: str = LOGGER_NAME) -> logging.Logger:
    """The package logger, or a child of it, with `VisibleFilter` attached.

    A logger's filters only see records logged on that very logger (not
    those propagated from its children), so a module that wants its own
    child logger must take it from here rather than from `logging.getLogger`.
    """
    if name != LOGGER_NAME and not name.startswith(LOGGER_NAME + "."):
        raise ValueError(f"name must be {LOGGER_NAME!r} or a child of it, got {name!r}")
    found = logging.getLogger(name)
    if not any(isinstance(f, VisibleFilter) for f in found.filters):
        found.addFilter(_FILTER)
    return found


#: The package logger (``logging.getLogger("stablebrowse_async")``), filter attached.
logger = get_logger()
