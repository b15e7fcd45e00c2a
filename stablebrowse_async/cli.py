"""The ``stablebrowse`` command (install the extra: ``pip install 'stablebrowse-async[cli]'``).

This module is the console-script entry point; the commands live in
`stablebrowse_async._cli`. ``stablebrowse --help`` lists them; exit codes:

0 ok; 1 task failed / batch had failed lines; 2 usage or bad input;
3 authentication or permission; 4 not found; 5 rate limit or quota;
6 network, timeout or server unavailable; 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

_CLI_DEPENDENCIES = frozenset({"typer", "rich", "click"})


def _load_app() -> Any:
    try:
        from ._cli.app import app
    except ModuleNotFoundError as error:
        if error.name not in _CLI_DEPENDENCIES:
            raise
        sys.stderr.write(
            "error: the stablebrowse command needs the 'cli' extra: "
            "pip install 'stablebrowse-async[cli]'\n"
        )
        raise SystemExit(2) from None
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    _load_app()(args=None if argv is None else list(argv), prog_name="stablebrowse")


def __getattr__(name: str) -> Any:
    if name == "app":
        return _load_app()
    raise AttributeError(f"module 'stablebrowse_async.cli' has no attribute {name!r}")


if __name__ == "__main__":
    main()
