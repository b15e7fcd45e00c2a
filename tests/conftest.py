"""Shared pytest configuration: anyio's plugin runs async tests on asyncio (aiohttp's loop)."""

from __future__ import annotations

import os

import pytest

RELIABILITY_SIZES = ("quick", "full")


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
