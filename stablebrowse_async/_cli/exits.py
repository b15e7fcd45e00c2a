"""Exit codes of the ``stablebrowse`` command, and the one-line message for each error.

| code | meaning |
|-----:|---------|
| 0    | success |
| 1    | a task failed or was cancelled; a batch finished with failed lines; other API errors |
| 2    | usage error or bad input (invalid option, file, JSON, field; HTTP 400) |
| 3    | authentication or permission (no key, 401, 403) |
| 4    | not found (404) |
| 5    | rate limit or monthly quota (429, after the SDK's retries) |
| 6    | network, timeout or server unavailable (connection errors, 5xx, poll timeout, ambiguous submission) |
| 130  | interrupted (Ctrl-C) |
"""

from __future__ import annotations

from stablebrowse_async import (
    AmbiguousRequestError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StablebrowseError,
    TaskFailedError,
    TaskTimeoutError,
)

OK = 0
FAILED = 1
USAGE = 2
AUTH = 3
NOT_FOUND = 4
RATE_LIMITED = 5
UNAVAILABLE = 6
INTERRUPTED = 130

_MAX_MESSAGE = 400


def one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    """`text` on one line (whitespace collapsed), cut to `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def classify(error: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message (no secrets, no traceback) for `error`."""
    message = one_line(str(error)) or type(error).__name__
    if isinstance(error, AuthenticationError):
        return AUTH, (
            f"authentication failed: {message} (check --api-key / STABLEBROWSE_API_KEY; "
            "api-keys commands need a dashboard token)"
        )
    if isinstance(error, PermissionDeniedError):
        return AUTH, f"permission denied: {message} (is the key revoked?)"
    if isinstance(error, NotFoundError):
        return NOT_FOUND, f"not found: {message}"
    if isinstance(error, RateLimitError):
        detail = []
        if error.limit is not None:
            detail.append(f"quota {error.used if error.used is not None else '?'}/{error.limit}")
        if error.retry_after is not None:
            detail.append(f"retry after {error.retry_after:g}s")
        suffix = f" ({', '.join(detail)})" if detail else ""
        return RATE_LIMITED, f"rate limited: {message}{suffix}"
    if isinstance(error, BadRequestError):
        return USAGE, f"bad request: {message}"
    if isinstance(error, AmbiguousRequestError):
        return UNAVAILABLE, (
            f"ambiguous: {message}. The request was sent but its answer was lost; it may "
            "have been acted on. Check with `stablebrowse list` before retrying"
        )
    if isinstance(error, APITimeoutError):
        return UNAVAILABLE, f"timed out: {message} (raise --timeout?)"
    if isinstance(error, APIConnectionError):
        return UNAVAILABLE, f"network error: {message} (check --base-url / STABLEBROWSE_BASE_URL)"
    if isinstance(error, InternalServerError):
        return UNAVAILABLE, f"server error: {message}"
    if isinstance(error, TaskTimeoutError):
        return UNAVAILABLE, (
            f"{message}; the task keeps running: `stablebrowse wait {error.task.task_id}`"
        )
    if isinstance(error, TaskFailedError):
        return FAILED, message
    if isinstance(error, APIStatusError):
        return FAILED, f"API error {error.status_code}: {message}"
    if isinstance(error, StablebrowseError):
        if "API key" in message:
            return AUTH, message
        return FAILED, message
    if isinstance(error, (ValueError, TypeError)):
        return USAGE, f"invalid input: {message}"
    if isinstance(error, OSError):
        return USAGE, f"{type(error).__name__}: {message}"
    return FAILED, f"{type(error).__name__}: {message}"
