"""Raw responses: ``client.<resource>.with_raw_response.<method>(...)`` -> `RawResponse`.

The transport (`HttpTransport`) is the one place that sees a request's status,
headers and retries. When a call runs under `capture_exchange`, the transport
publishes the final attempt there as an `Exchange`; `raw_method` wraps any
resource method generically (as openai-python's ``to_raw_response_wrapper``
does): it calls the plain method under a capture and returns its result
together with the exchange. So each resource declares only which of its
methods have a raw variant, never a second body.
"""

from __future__ import annotations

import contextvars
import datetime
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import attrs

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Exchange", "RawResponse", "RawResponses", "raw_method"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


@attrs.frozen(slots=True)
class Exchange:
    """What the transport knows about a request's final attempt (the one that answered)."""

    status_code: int
    headers: Mapping[str, str]
    elapsed: float
    retries_taken: int


class _Capture:
    __slots__ = ("exchange",)

    def __init__(self) -> None:
        self.exchange: Exchange | None = None


# Set only while a `raw_method` call runs; the transport reads it once per request.
_CAPTURE: contextvars.ContextVar[_Capture | None] = contextvars.ContextVar(
    "stablebrowse_raw_capture", default=None
)


def publish(
    status_code: int, headers: Mapping[str, str], elapsed: float, retries_taken: int
) -> None:
    """Hand a request's final attempt to the `raw_method` call waiting for it, if any."""
    capture = _CAPTURE.get()
    if capture is not None:
        capture.exchange = Exchange(status_code, headers, elapsed, retries_taken)


def request_id(headers: Mapping[str, str]) -> str | None:
    """The request id an answer carries (``x-request-id``, else API Gateway's ``x-amzn-RequestId``)."""
    return headers.get("x-request-id") or headers.get("x-amzn-requestid")


class RawResponse(Generic[T]):
    """An API answer with its HTTP details: what ``with_raw_response.<method>(...)`` returns.

    The answer is read and validated when the call is made, exactly as the
    plain method does (errors raise there, not in `parse`).

    Attributes:
        status_code: the HTTP status of the answer.
        headers: the answer's headers (case-insensitive lookup).
        request_id: the server's id for this request (``x-request-id`` or
            ``x-amzn-RequestId``), None when the answer had none. Quote it to support.
        elapsed: how long the final attempt took, from sending to the last byte read.
        retries_taken: how many times the request was retried before this answer (0: none).
    """

    __slots__ = ("_parsed", "elapsed", "headers", "request_id", "retries_taken", "status_code")

    def __init__(self, exchange: Exchange, parsed: T) -> None:
        self.status_code = exchange.status_code
        self.headers = exchange.headers
        self.request_id = request_id(exchange.headers)
        self.elapsed = datetime.timedelta(seconds=exchange.elapsed)
        self.retries_taken = exchange.retries_taken
        self._parsed = parsed

    def parse(self) -> T:
        """The result the plain method returns (a model, a list of models, or None)."""
        return self._parsed

    def __repr__(self) -> str:
        return (
            f"<RawResponse [{self.status_code}] request_id={self.request_id!r} "
            f"retries_taken={self.retries_taken}>"
        )


class RawResponses(Generic[R]):
    """Base of the ``with_raw_response`` views: the resource's endpoints, returning `RawResponse`.

    Subclasses list the wrapped methods as class attributes (``get =
    raw_method(Tasks.get)``); nothing else.
    """

    __slots__ = ("_resource",)

    def __init__(self, resource: R) -> None:
        self._resource = resource

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._resource!r})"


class raw_method(Generic[R, P, T]):
    """Declare that a resource method has a raw variant on the resource's `RawResponses` view.

    The bound attribute is a coroutine function with the method's parameters
    that returns `RawResponse` around the method's result.
    """

    __slots__ = ("doc", "func", "name")

    def __init__(self, func: Callable[Concatenate[R, P], Coroutine[Any, Any, T]]) -> None:
        self.func = func
        self.name = func.__name__
        self.doc = f"Like `{func.__qualname__}`, returning a `RawResponse` around its result."

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(
        self, instance: RawResponses[R], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, RawResponse[T]]]: ...

    def __get__(
        self, instance: RawResponses[R] | None, owner: type[Any]
    ) -> Self | Callable[P, Coroutine[Any, Any, RawResponse[T]]]:
        if instance is None:
            return self
        func = self.func
        resource = instance._resource

        async def call(*args: P.args, **kwargs: P.kwargs) -> RawResponse[T]:
            capture = _Capture()
            token = _CAPTURE.set(capture)
            try:
                parsed = await func(resource, *args, **kwargs)
            finally:
                _CAPTURE.reset(token)
            if capture.exchange is None:
                raise AssertionError(f"{self.name} made no request")  # a wiring bug, not input
            return RawResponse(capture.exchange, parsed)

        call.__name__ = self.name
        call.__qualname__ = f"{owner.__name__}.{self.name}"
        call.__doc__ = self.doc
        return call
