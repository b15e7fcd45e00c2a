"""`client.design`: design-token extraction jobs (an ordinary task whose output is `design`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from .._polling import wait_for_task
from .._response import RawResponses, raw_method
from .._schedule import AdaptiveSchedule, PollSchedule
from .._tracing import task_span
from ..types import Task, check_end_user_id
from ._base import Resource

#: The extractors the API knows.
EXTRACTORS: tuple[str, ...] = ("images", "fonts", "colors", "icons", "tokens", "logo")


def _design_body(
    url: str, end_user_id: str, extractors: Iterable[str] | None, enable_ip_rotation: bool
) -> dict[str, Any]:
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"url must be an absolute http(s) URL, got {url!r}")
    check_end_user_id(end_user_id)
    if not isinstance(enable_ip_rotation, bool):
        raise TypeError("enable_ip_rotation must be a bool")
    body: dict[str, Any] = {"url": url, "endUserId": end_user_id}
    if extractors is not None:
        if isinstance(extractors, str):
            raise TypeError("extractors must be a list of names, not a single string")
        names = list(extractors)
        unknown = [name for name in names if name not in EXTRACTORS]
        if not names or unknown:
            raise ValueError(
                f"extractors must be a non-empty subset of {', '.join(EXTRACTORS)}; got {names!r}"
            )
        body["extractors"] = names
    if enable_ip_rotation:
        body["enableIpRotation"] = True
    return body


class Design(Resource):
    """Extract a site's design tokens (images, fonts, colors, icons, tokens, logo)."""

    __slots__ = ()

    async def submit(
        self,
        *,
        url: str,
        end_user_id: str,
        extractors: Iterable[str] | None = None,
        enable_ip_rotation: bool = False,
    ) -> Task:
        """Start an extraction; returns the ``pending`` task at once (poll with `tasks.wait`)."""
        body = _design_body(url, end_user_id, extractors, enable_ip_rotation)
        fill = {"status": "pending", "task": f"[design] {url}", "endUserId": end_user_id}
        return await self._transport.call("POST", "/design/extract", Task, body=body, fill=fill)

    async def run(
        self,
        *,
        url: str,
        end_user_id: str,
        extractors: Iterable[str] | None = None,
        enable_ip_rotation: bool = False,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None = None,
        poll_timeout: float | None = None,
    ) -> Task:
        """Start an extraction and wait for it; the result is on the returned task's `design`.

        Raises `TaskFailedError`, `TaskTimeoutError` or an API error, like `tasks.run`.
        """
        polling = self._client._polling.resolve(poll_interval, poll_timeout)
        with task_span(self._client.tasks.get) as watch:
            submitted = await self.submit(
                url=url,
                end_user_id=end_user_id,
                extractors=extractors,
                enable_ip_rotation=enable_ip_rotation,
            )
            watch.seen(submitted)
            return await wait_for_task(
                watch.fetch,
                submitted,
                schedule=polling.schedule,
                poll_timeout=polling.timeout,
            )

    @property
    def with_raw_response(self) -> DesignWithRawResponse:
        """`submit` returning `RawResponse` (status, headers, request id) around the task."""
        return DesignWithRawResponse(self)


class DesignWithRawResponse(RawResponses[Design]):
    """`Design`'s endpoint, returning a `RawResponse` around its result (`run` polls: none)."""

    __slots__ = ()

    submit = raw_method(Design.submit)
