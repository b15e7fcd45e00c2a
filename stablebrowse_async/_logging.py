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

``STABLEBROWSE_LOG=info`` (or ``debug``), read when this module is imported
(with the client), is the one exception to "no handler": like ``OPENAI_LOG``,
it sends the package logger's records at that level to stderr
(`configure_from_env`). At INFO the transport logs one line per HTTP attempt
(method, route template, status, elapsed ms, retry number, request id) and
each retry decision; DEBUG adds a line as each attempt is sent. Any other
value is a warning, never an error.
"""

from __future__ import annotations

import logging
import numbers
import os
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from ._text import visible

__all__ = [
    "ENV_VAR",
    "LOGGER_NAME",
    "VisibleFilter",
    "configure_from_env",
    "get_logger",
    "logger",
]

#: The name of the package logger; child loggers are ``LOGGER_NAME + ".something"``.
LOGGER_NAME = "stablebrowse_async"
#: The environment variable that switches the package's log on (``debug`` or ``info``).
ENV_VAR = "STABLEBROWSE_LOG"
_ENV_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}


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


class _EnvHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler `configure_from_env` adds (at most one, whatever the calls)."""


def configure_from_env(environ: Mapping[str, str] = os.environ) -> logging.Handler | None:
    """Apply ``STABLEBROWSE_LOG``: ``debug`` or ``info`` logs the package to stderr at that level.

    Unset or empty changes nothing. Any other value warns (`RuntimeWarning`)
    and changes nothing: a typo must not stop the program. Returns the
    handler writing to stderr, or None.
    """
    raw = environ.get(ENV_VAR, "")
    value = raw.strip().lower()
    if not value:
        return None
    level = _ENV_LEVELS.get(value)
    if level is None:
        warnings.warn(
            f"{ENV_VAR}='{visible(raw[:40])}' is not a log level this SDK knows; use "
            f"{ENV_VAR}=debug or {ENV_VAR}=info (ignored: logging is left as configured)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    logger.setLevel(level)
    handler = next((h for h in logger.handlers if isinstance(h, _EnvHandler)), None)
    if handler is None:
        handler = _EnvHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s %(levelname)s %(name)s] %(message)s"))
        logger.addHandler(handler)
    handler.setLevel(level)
    return handler


configure_from_env()
