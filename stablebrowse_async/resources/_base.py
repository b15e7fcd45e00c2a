"""What every resource shares: a handle on the client and answer conversion."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from .._convert import from_wire
from ..errors import AmbiguousRequestError, APIResponseValidationError

if TYPE_CHECKING:
    from .._client import AsyncClient
    from .._http import HttpTransport

T = TypeVar("T")

# Structuring failures a hostile or broken answer can provoke.
_SHAPE_ERRORS = (TypeError, ValueError, KeyError, AttributeError, RecursionError)


class Resource:
    """Base of the resource classes: holds the client it was built by."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @property
    def _transport(self) -> HttpTransport:
        return self._client._transport


def parse(data: Any, model: type[T], method: str, path: str) -> T:
    """Structure an answer into `model`, or raise `APIResponseValidationError` saying why."""
    try:
        return from_wire(data, model)
    except _SHAPE_ERRORS as exc:
        raise APIResponseValidationError(
            f"{method} {path}: unexpected answer for {model.__name__} "
            f"({type(exc).__name__}: {exc})",
            body=data,
            method=method,
            path=path,
        ) from exc


def parse_created(data: Any, model: type[T], method: str, path: str, request: Any) -> T:
    """Like `parse`, for a POST that succeeded: an unreadable answer is ambiguous, not invalid.

    The server did create the resource; without its id the caller must reconcile.
    """
    try:
        return parse(data, model, method, path)
    except APIResponseValidationError as invalid:
        raise AmbiguousRequestError(
            f"{method} {path} succeeded but its answer lacks what identifies the result "
            f"({invalid.message}); it exists on the server",
            method=method,
            path=path,
            request=request,
        ) from invalid


def field(data: Any, key: str) -> Any:
    """`data[key]` when `data` is a JSON object, else None (for envelope unwrapping)."""
    return data.get(key) if isinstance(data, dict) else None
