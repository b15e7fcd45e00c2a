"""Public value types of the emulator: businesses and recorded requests."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["Business", "RecordedRequest"]


@dataclasses.dataclass(frozen=True)
class Business:
    """A paying account: its id, name, one ready API key and one dashboard token."""

    id: str
    name: str
    api_key: str = dataclasses.field(repr=False)
    dashboard_token: str = dataclasses.field(repr=False)
    monthly_quota: int | None = None


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it.

    ``path`` is the raw request path as sent (still percent-encoded, no
    query); ``query`` maps each query parameter to its first value;
    ``headers`` keep the sender's spelling, with ``Authorization`` masked to
    ``Bearer <first 16 chars>…``; ``json`` is the parsed body or None;
    ``received_at`` is the emulator clock's time.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    received_at: float
