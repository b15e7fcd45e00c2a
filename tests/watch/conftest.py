"""Watching tests share the client fixtures."""

from tests.client.conftest import FAST_POLLS, client, emu

__all__ = ["FAST_POLLS", "client", "emu"]
