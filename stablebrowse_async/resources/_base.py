"""What every resource shares: a handle on the client (and through it, the transport)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._client import AsyncClient
    from .._http import HttpTransport


class Resource:
    """Base of the resource classes: holds the client it was built by."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @property
    def _transport(self) -> HttpTransport:
        return self._client._transport
