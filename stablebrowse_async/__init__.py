"""stablebrowse_async: the async-first Python SDK for the StableBrowse API.

```python
from stablebrowse_async import AsyncClient

async with AsyncClient() as client:          # STABLEBROWSE_API_KEY from the environment
    task = await client.tasks.run(end_user_id="alice", task="Find the top story on HN")
    print(task.result)
```

This module is the one place that says what is public. Heavy names (the
client, models, aiohttp) are imported on first use, so ``import
stablebrowse_async`` stays cheap for programs that only need, say, the errors.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    AmbiguousRequestError,
    AmbiguousServerError,
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StablebrowseError,
    TaskFailed,
    TaskFailedError,
    TaskTimeout,
    TaskTimeoutError,
)

if TYPE_CHECKING:
    from ._client import DEFAULT_BASE_URL, AsyncClient
    from ._polling import AdaptiveSchedule, PollSchedule, Progress, RunMany
    from ._response import RawResponse
    from ._retry import RateGate, RateLimitGate, RetryPolicy
    from .resources.end_users import CREDENTIAL_FIELDS, CredentialFields
    from .types import (
        NOT_GIVEN,
        ApiKey,
        CreatedApiKey,
        CredentialStatus,
        NotGiven,
        SessionSummary,
        SessionTasks,
        StepSummary,
        Task,
        TaskOutcome,
        TaskRequest,
        TaskStatus,
    )

_LAZY = {
    "AsyncClient": "._client",
    "DEFAULT_BASE_URL": "._client",
    "AdaptiveSchedule": "._polling",
    "PollSchedule": "._polling",
    "Progress": "._polling",
    "RunMany": "._polling",
    "RawResponse": "._response",
    "RateGate": "._retry",
    "RateLimitGate": "._retry",
    "RetryPolicy": "._retry",
    "CREDENTIAL_FIELDS": ".resources.end_users",
    "CredentialFields": ".resources.end_users",
    "ApiKey": ".types",
    "CreatedApiKey": ".types",
    "CredentialStatus": ".types",
    "SessionSummary": ".types",
    "SessionTasks": ".types",
    "StepSummary": ".types",
    "Task": ".types",
    "TaskOutcome": ".types",
    "TaskRequest": ".types",
    "TaskStatus": ".types",
    "NOT_GIVEN": ".types",
    "NotGiven": ".types",
}

__all__ = [
    "CREDENTIAL_FIELDS",
    "DEFAULT_BASE_URL",
    "NOT_GIVEN",
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AdaptiveSchedule",
    "AmbiguousRequestError",
    "AmbiguousServerError",
    "ApiKey",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "CreatedApiKey",
    "CredentialFields",
    "CredentialStatus",
    "InternalServerError",
    "MethodNotAllowedError",
    "NotFoundError",
    "NotGiven",
    "PermissionDeniedError",
    "PollSchedule",
    "Progress",
    "RateGate",
    "RateLimitError",
    "RateLimitGate",
    "RawResponse",
    "RetryPolicy",
    "RunMany",
    "SessionSummary",
    "SessionTasks",
    "StablebrowseError",
    "StepSummary",
    "Task",
    "TaskFailed",
    "TaskFailedError",
    "TaskOutcome",
    "TaskRequest",
    "TaskStatus",
    "TaskTimeout",
    "TaskTimeoutError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stablebrowse_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
