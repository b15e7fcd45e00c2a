"""The exception hierarchy: everything the SDK raises derives from `StablebrowseError`.

```
StablebrowseError
├── APIStatusError                 the server answered with an error status
│   ├── BadRequestError            400
│   ├── AuthenticationError        401
│   ├── PermissionDeniedError      403
│   ├── NotFoundError              404
│   ├── MethodNotAllowedError      405
│   ├── RateLimitError             429 (retry_after, limit, used)
│   └── InternalServerError        >= 500
│       └── AmbiguousServerError   ... in answer to a POST (also an AmbiguousRequestError)
├── APIConnectionError             no usable answer arrived
│   ├── APITimeoutError            ... because the request timed out
│   └── AmbiguousRequestError      ... after a POST was sent: it may have been acted on
│       └── AmbiguousServerError   ... a 5xx answered it (also an InternalServerError)
├── APIResponseValidationError     a success status with a body we cannot read
├── TaskFailedError                a task ended failed or cancelled (holds the task)
└── TaskTimeoutError               poll_timeout elapsed first (holds the last record)
```

Messages never contain the API key or credential values: the key is not part
of any message, and request bodies (which may hold cookies) are never quoted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .types import Task

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AmbiguousRequestError",
    "AmbiguousServerError",
    "AuthenticationError",
    "BadRequestError",
    "InternalServerError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StablebrowseError",
    "TaskFailed",
    "TaskFailedError",
    "TaskTimeout",
    "TaskTimeoutError",
]


class StablebrowseError(Exception):
    """Base class of every exception this SDK raises.

    `status_code` and `body` exist on every instance (``None`` where no HTTP
    answer is involved) so code written for the official SDK, which reads
    them off its single error class, keeps working.
    """

    status_code: int | None = None
    body: Any = None

    @property
    def message(self) -> str:
        """The human-readable message (the first argument)."""
        return str(self.args[0]) if self.args else ""


class APIStatusError(StablebrowseError):
    """The API answered with an HTTP error status.

    Attributes:
        status_code: the HTTP status.
        body: the decoded JSON body, or the raw text when it was not JSON, or None.
        request_id: the server's request id header, when it sent one.
        method, path: what was requested (the path never includes the query).
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.method = method
        self.path = path


class BadRequestError(APIStatusError):
    """400: the server rejected the request as invalid."""


class AuthenticationError(APIStatusError):
    """401: missing or malformed credentials, or the wrong token kind for the route."""


class PermissionDeniedError(APIStatusError):
    """403: the token is valid but not allowed (for example a revoked API key)."""


class NotFoundError(APIStatusError):
    """404: the resource does not exist or belongs to another business."""


class MethodNotAllowedError(APIStatusError):
    """405: the route exists but not for this HTTP verb. `allow` lists the verbs it takes."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 405,
        body: Any = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        allow: tuple[str, ...] = (),
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            body=body,
            request_id=request_id,
            method=method,
            path=path,
        )
        self.allow = allow


class RateLimitError(APIStatusError):
    """429: a request-rate limit or the monthly task quota was hit.

    Attributes:
        retry_after: seconds the server asked us to wait, when it said so.
        limit, used: the quota and its use, when the server reported them.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        body: Any = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
        limit: int | None = None,
        used: int | None = None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            body=body,
            request_id=request_id,
            method=method,
            path=path,
        )
        self.retry_after = retry_after
        self.limit = limit
        self.used = used


class InternalServerError(APIStatusError):
    """5xx: the server or a gateway in front of it failed."""


class APIConnectionError(StablebrowseError):
    """No usable HTTP answer arrived: DNS, connect, reset, or a broken response stream."""

    def __init__(self, message: str, *, method: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class APITimeoutError(APIConnectionError):
    """The request did not complete within its timeout."""


class AmbiguousRequestError(APIConnectionError):
    """A non-idempotent request (a POST) was sent but its answer was lost.

    The server may or may not have acted on it (created the task or the key),
    so the SDK did not retry it: retrying could create a duplicate. To find out,
    look for it, for example with ``client.tasks.list()`` or
    ``client.sessions.get(session_id)`` for the end user concerned.

    Attributes:
        request: the parameters that were sent (for tasks, the `TaskRequest`),
            so the caller can reconcile or resubmit deliberately.
        status_code, body: the HTTP status and body when an answer did arrive
            (a 5xx: see `AmbiguousServerError`; or a success that could not
            be read), else None.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        request: Any = None,
        status_code: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.request = request
        self.status_code = status_code
        self.body = body


class AmbiguousServerError(AmbiguousRequestError, InternalServerError):
    """A POST answered by a 5xx: ambiguous (it may have been acted on) *and* a server error.

    ``except AmbiguousRequestError`` and ``except InternalServerError`` both
    catch it. `status_code`, `body` and `request_id` are the server's answer;
    `request` is what was sent.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        request: Any = None,
    ) -> None:
        # Set directly: the two parents' constructors take different arguments.
        StablebrowseError.__init__(self, message)
        self.method = method
        self.path = path
        self.request = request
        self.status_code = status_code
        self.body = body
        self.request_id = request_id


class APIResponseValidationError(StablebrowseError):
    """The server answered with a success status but the body is not what the API promises."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: Any = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.method = method
        self.path = path


class TaskFailedError(StablebrowseError):
    """A task ended in ``failed`` or ``cancelled``. `task` is the final record."""

    def __init__(self, task: Task, message: str | None = None) -> None:
        detail = task.error or f"task ended with status {task.status.value!r}"
        super().__init__(message or f"task {task.task_id} {task.status.value}: {detail}")
        self.task = task


class TaskTimeoutError(StablebrowseError):
    """`poll_timeout` elapsed before the task ended.

    `task` is the last record seen; resume with ``client.tasks.wait(task.task_id)``.
    """

    def __init__(self, task: Task, timeout: float, message: str | None = None) -> None:
        super().__init__(
            message
            or (
                f"task {task.task_id} still {task.status.value!r} after {timeout:g}s; "
                f"resume with tasks.wait({task.task_id!r})"
            )
        )
        self.task = task
        self.timeout = timeout


#: Alias kept for code migrating from the official ``stablebrowse`` SDK.
TaskFailed = TaskFailedError
#: Alias kept for code migrating from the official ``stablebrowse`` SDK.
TaskTimeout = TaskTimeoutError
