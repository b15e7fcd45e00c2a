"""The blocking facade: `Client`, with the methods of `AsyncClient` minus the ``await``.

```python
from stablebrowse_async.sync import Client

with Client() as client:                     # STABLEBROWSE_API_KEY from the environment
    task = client.tasks.run(end_user_id="alice", task="Find the top story on HN")
    for outcome in client.tasks.run_many(requests):
        ...
```

Calls block the calling thread while the request runs in the client's own
event-loop thread. From a thread that runs an event loop they raise
`RuntimeError` (blocking would freeze that loop: use `AsyncClient`), with one
exception: the main thread of a Jupyter/IPython kernel, recognised as the
main thread when ``IPython.get_ipython()`` returns a shell attached to a
kernel. A notebook cell runs inside the kernel's loop, which is then only
running that cell, so the cell may block on the client's thread without any
deadlock (``_portal.blocking_allowed``; the README's "Notebooks" section).

The classes are generated from the async ones by ``scripts/gen_sync.py``
(`_generated.py`); the event-loop thread behind them is `_portal.py`. Models
and errors are the async client's own, re-exported here for convenience.
"""

from __future__ import annotations

from .. import (
    DEFAULT_BASE_URL,
    AdaptiveSchedule,
    AmbiguousRequestError,
    APIConnectionError,
    ApiKey,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CreatedApiKey,
    CredentialStatus,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    PollSchedule,
    Progress,
    RateLimitError,
    RawResponse,
    SessionSummary,
    SessionTasks,
    StablebrowseError,
    StepSummary,
    Task,
    TaskFailed,
    TaskFailedError,
    TaskOutcome,
    TaskRequest,
    TaskStatus,
    TaskTimeout,
    TaskTimeoutError,
    __version__,
)
from ._generated import ApiKeys, Client, Credentials, Design, EndUser, Sessions, Tasks
from ._portal import SyncIterator

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AdaptiveSchedule",
    "AmbiguousRequestError",
    "ApiKey",
    "ApiKeys",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "CreatedApiKey",
    "CredentialStatus",
    "Credentials",
    "Design",
    "EndUser",
    "InternalServerError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PermissionDeniedError",
    "PollSchedule",
    "Progress",
    "RateLimitError",
    "RawResponse",
    "SessionSummary",
    "SessionTasks",
    "Sessions",
    "StablebrowseError",
    "StepSummary",
    "SyncIterator",
    "Task",
    "TaskFailed",
    "TaskFailedError",
    "TaskOutcome",
    "TaskRequest",
    "TaskStatus",
    "TaskTimeout",
    "TaskTimeoutError",
    "Tasks",
    "__version__",
]
