"""`client.sessions`: conversations (chains of tasks sharing a browser session)."""

from __future__ import annotations

from .._http import route
from .._response import RawResponses, raw_method
from ..types import SessionTasks
from ._base import Resource


class Sessions(Resource):
    """Read conversations: ``GET /v1/sessions/{sessionId}``."""

    __slots__ = ()

    async def get(self, session_id: str) -> SessionTasks:
        """Return the session and its tasks, oldest first.

        Raises `NotFoundError` for an unknown session or one of another business.
        """
        path = route("/sessions/{sessionId}", session_id=session_id)
        return await self._transport.call("GET", path, SessionTasks)

    @property
    def with_raw_response(self) -> SessionsWithRawResponse:
        """These endpoints returning `RawResponse` (status, headers, request id) around the result."""
        return SessionsWithRawResponse(self)


class SessionsWithRawResponse(RawResponses[Sessions]):
    """`Sessions`' endpoints, each returning a `RawResponse` around its result."""

    __slots__ = ()

    get = raw_method(Sessions.get)
