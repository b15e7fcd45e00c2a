"""Shared pytest configuration: anyio's plugin runs async tests on asyncio (aiohttp's loop)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """aiohttp runs on asyncio only, so every async test does too."""
    return "asyncio"
