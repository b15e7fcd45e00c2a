"""Typed models of the API's answers, and the `TaskRequest` input model.

Models are frozen, slotted attrs classes: plain data, no parsing of their own.
Conversion to and from the wire (camelCase keys, ISO datetimes, unknown
fields) lives in `_convert.py`. Every answer model keeps the fields it does not
know in `extras`, so a field the server adds tomorrow is never lost, and
`raw` rebuilds the wire mapping for code written against the official SDK.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, final

import attrs

__all__ = [
    "NOT_GIVEN",
    "ApiKey",
    "CreatedApiKey",
    "CredentialStatus",
    "NotGiven",
    "SessionSummary",
    "SessionTasks",
    "StepSummary",
    "Task",
    "TaskOutcome",
    "TaskRequest",
    "TaskStatus",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
MAX_END_USER_ID_LENGTH = 256
MAX_STEPS_LIMIT = 25


@final
class NotGiven:
    """The type of `NOT_GIVEN`: an argument left out, where None means something.

    ``client.with_options(timeout=None)`` removes the time limit; leaving
    `timeout` out (its default, `NOT_GIVEN`) keeps the client's. Falsy, like
    openai-python's sentinel of the same name.
    """

    __slots__ = ()

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


#: The default of arguments for which None is a meaningful value (see `NotGiven`).
NOT_GIVEN = NotGiven()


def wire_name(name: str) -> dict[str, str]:
    """Field metadata naming a wire key that is not the camelCase of the attribute."""
    return {"wire": name}


def _extras() -> Any:
    return attrs.field(default=_EMPTY, repr=False, eq=False, kw_only=True)


class TaskStatus(str, enum.Enum):
    """A task's lifecycle state.

    Values the SDK does not know (a server may add states) still parse: they
    become pseudo-members whose `value` is the server's string and which are
    never terminal, so a poller keeps waiting instead of crashing.
    """

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def _missing_(cls, value: object) -> TaskStatus | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = "UNKNOWN"
        member._value_ = value
        return member

    @property
    def is_terminal(self) -> bool:
        """True for completed, failed and cancelled; False for every other state."""
        return self in _TERMINAL

    @property
    def is_known(self) -> bool:
        """False for a state this version of the SDK has never heard of."""
        return self._name_ != "UNKNOWN"

    def __str__(self) -> str:
        return str(self.value)


_TERMINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class _RawMixin:
    """Gives models a `raw` property: the wire mapping, unknown fields included."""

    __slots__ = ()

    @property
    def raw(self) -> dict[str, Any]:
        """The record as the API spells it (camelCase keys), unknown fields included."""
        from ._convert import to_wire

        return to_wire(self)


@attrs.frozen
class StepSummary(_RawMixin):
    """One step the browser agent took: its number, kind, message and success."""

    n: int | None = None
    type: str | None = None
    msg: str | None = None
    success: bool | None = None
    extras: Mapping[str, Any] = _extras()


@attrs.frozen
class Task(_RawMixin):
    """A task record (`GET /v1/tasks/{taskId}`).

    `result` is the final answer (a string, or JSON); `structured_content`
    holds the answer shaped by the submitted JSON schema; `html_dump` the page
    HTML when it was asked for; `design` the output of a design extraction.
    """

    task_id: str
    status: TaskStatus
    session_id: str | None = None
    end_user_id: str | None = None
    business_id: str | None = None
    task: str | None = None
    result: Any = None
    structured_content: dict[str, Any] | None = attrs.field(
        default=None, metadata=wire_name("structured_content")
    )
    html_dump: str | None = attrs.field(default=None, repr=False, metadata=wire_name("html_dump"))
    design: dict[str, Any] | None = None
    total_steps: int | None = None
    duration_ms: int | None = None
    visited_urls: tuple[str, ...] = ()
    step_summaries: tuple[StepSummary, ...] = attrs.field(default=(), repr=False)
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extras: Mapping[str, Any] = _extras()

    @property
    def is_terminal(self) -> bool:
        """True once the task completed, failed or was cancelled."""
        return self.status.is_terminal


@attrs.frozen
class SessionSummary(_RawMixin):
    """One entry of `tasks.list()`: a conversation and how many tasks it holds."""

    session_id: str
    end_user_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    task_count: int | None = None
    extras: Mapping[str, Any] = _extras()


@attrs.frozen
class SessionTasks(_RawMixin):
    """A conversation (`sessions.get`): its tasks, oldest first."""

    session_id: str
    tasks: tuple[Task, ...] = ()
    extras: Mapping[str, Any] = _extras()


@attrs.frozen
class CredentialStatus(_RawMixin):
    """Which platforms have credentials for an end user. Never the secrets themselves."""

    end_user_id: str
    platforms: Mapping[str, bool] = attrs.field(factory=dict)
    extras: Mapping[str, Any] = _extras()

    def is_configured(self, platform: str) -> bool:
        """True when `platform` (for example ``"twitter"``) has credentials stored."""
        return bool(self.platforms.get(platform, False))


@attrs.frozen
class ApiKey(_RawMixin):
    """An API key as listed by `api_keys.list()`: metadata only, never the secret."""

    prefix: str
    label: str | None = None
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    extras: Mapping[str, Any] = _extras()

    @property
    def is_revoked(self) -> bool:
        """True once the key was revoked (it then gets 403 on every route)."""
        return self.revoked_at is not None


@attrs.frozen
class CreatedApiKey(_RawMixin):
    """A freshly minted key. `key` is the full secret: shown once, hidden from repr."""

    key: str = attrs.field(repr=False)
    prefix: str
    label: str | None = None
    created_at: datetime | None = None
    extras: Mapping[str, Any] = _extras()


def _check_non_blank(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{attribute.name} must not be empty or blank")


def check_end_user_id(value: object) -> str:
    """Return `value` if the API accepts it as an end-user id, else raise naming `end_user_id`."""
    if not isinstance(value, str):
        raise TypeError(f"end_user_id must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError("end_user_id must not be empty or blank")
    if len(value) > MAX_END_USER_ID_LENGTH:
        raise ValueError(
            f"end_user_id must be at most {MAX_END_USER_ID_LENGTH} characters, got {len(value)}"
        )
    return value


def _check_end_user_id(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_end_user_id(value)


def _check_optional_str(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    _check_non_blank(instance, attribute, value)


def _check_schema(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise TypeError(f"schema must be a JSON-schema mapping, got {type(value).__name__}")


def _check_max_steps(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"max_steps must be an int, got {type(value).__name__}")
    if not 1 <= value <= MAX_STEPS_LIMIT:
        raise ValueError(f"max_steps must be between 1 and {MAX_STEPS_LIMIT}, got {value}")


def _check_optional_bool(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be a bool, got {type(value).__name__}")


@attrs.frozen(kw_only=True)
class TaskRequest:
    """What to submit: the keyword arguments of `tasks.submit`, validated on creation.

    Invalid values raise `ValueError` or `TypeError` naming the argument,
    before anything touches the network. `run_many` accepts these or plain
    dicts with the same keys.
    """

    end_user_id: str = attrs.field(validator=_check_end_user_id)
    task: str = attrs.field(validator=_check_non_blank)
    session_id: str | None = attrs.field(default=None, validator=_check_optional_str)
    start_url: str | None = attrs.field(default=None, validator=_check_optional_str)
    schema: Mapping[str, Any] | None = attrs.field(default=None, validator=_check_schema)
    max_steps: int | None = attrs.field(default=None, validator=_check_max_steps)
    include_html_dump: bool | None = attrs.field(
        default=None,
        validator=_check_optional_bool,
        metadata=wire_name("include_html_dump"),  # the API's one snake_case request key
    )

    @classmethod
    def coerce(cls, value: TaskRequest | Mapping[str, Any]) -> TaskRequest:
        """Return `value` itself, or a `TaskRequest` built from a mapping of the same keys.

        Unknown keys raise `TypeError` naming them (a typo must not be dropped silently).
        """
        if isinstance(value, TaskRequest):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(
                f"a task request must be a TaskRequest or a mapping, got {type(value).__name__}"
            )
        unknown = set(value) - _REQUEST_FIELDS
        if unknown:
            raise TypeError(
                f"unknown task request field(s): {', '.join(sorted(map(str, unknown)))}"
            )
        return cls(**value)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body of ``POST /v1/tasks`` (the converter's wire names, absent options omitted)."""
        from ._convert import wire_keys  # here: _convert imports this module

        body: dict[str, Any] = {}
        for name, key in wire_keys(TaskRequest):
            value = getattr(self, name)
            if value is not None:
                body[key] = dict(value) if isinstance(value, Mapping) else value
        return body


_REQUEST_FIELDS = frozenset(a.name for a in attrs.fields(TaskRequest))


@attrs.frozen
class TaskOutcome:
    """One result of `tasks.run_many`: the request, its position, and a task or an error.

    Exactly one of `task` and `error` is set. `error` is a `TaskFailedError`,
    `TaskTimeoutError`, `AmbiguousRequestError` (the submission may have
    created a task) or another `StablebrowseError`; a `TypeError` or
    `ValueError` for an input item that is not a valid request (or task id);
    or the exception an ``on_update`` callback raised for this task. `request` is the
    `TaskRequest` submitted, or the input item as given when it could not be
    made one (its `error` then says why), or None for a task that was not
    submitted from a request here (resumed by id).
    """

    index: int
    request: TaskRequest | Mapping[str, Any] | None
    task: Task | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """True when the task completed."""
        return self.error is None

    def unwrap(self) -> Task:
        """Return the completed task, or raise the error this outcome holds."""
        if self.error is not None:
            raise self.error
        assert self.task is not None
        return self.task
