"""Polling tests share the client fixtures."""

from tests.client.conftest import FAST_POLLS, client, dashboard, emu

__all__ = ["FAST_POLLS", "client", "dashboard", "emu"]
