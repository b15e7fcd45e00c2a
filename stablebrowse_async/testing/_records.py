"""Public value types of the emulator: businesses, recorded requests, task times."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["Business", "RecordedRequest", "TaskTimes"]


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
    ``received_at`` is the emulator clock's time; ``request_id`` is the id
    the answer carried in its ``x-amzn-RequestId`` (and ``X-Request-Id``)
    header, so a client-side request id finds the server's record.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    received_at: float
    request_id: str = ""


@dataclasses.dataclass(frozen=True)
class TaskTimes:
    """When a task really happened on the emulator's clock (epoch seconds).

    ``finished_at`` is the true server-side completion time (``created_at +
    duration``), known from creation on: a benchmark measures a client's
    detection lag against it. On the wire, a finished record's ``durationMs``
    is ``round(duration * 1000)`` and its ``updatedAt`` is ``finished_at``
    to the millisecond.
    """

    task_id: str
    created_at: float
    started_at: float  # pending -> running
    finished_at: float
    duration: float  # seconds, as drawn (finished_at - created_at, without float rounding)
