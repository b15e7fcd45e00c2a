"""``python -m stablebrowse_async.testing``: run the emulator from the console."""

from __future__ import annotations

import sys

from ._console import serve

if __name__ == "__main__":
    sys.exit(serve())
