"""`client.sessions`: conversations (chains of tasks sharing a browser session)."""

from __future__ import annotations

from .._http import encode_segment
from ..types import SessionTasks
from ._base import Resource


class Sessions(Resource):
    """Read conversations: ``GET /v1/sessions/{sessionId}``."""

    __slots__ = ()

    async def get(self, session_id: str) -> SessionTasks:
        """Return the session and its tasks, oldest first.

        Raises `NotFoundError` for an unknown session or one of another business.
        """
        path = "/sessions/" + encode_segment(session_id, "session_id")
        return await self._transport.call("GET", path, SessionTasks)
