"""One logical API request: URL, headers, JSON, the retry loop, and error mapping.

`ConnectionPool` owns the aiohttp session (one per client family, created
lazily inside the running loop). `HttpTransport` sends a request through it,
honours the client-wide `RateLimitGate`, reads the body under a size cap,
parses it into the caller's model (`HttpTransport.call`), turns every failure
into a `StablebrowseError`, and asks `RetryPolicy.decide` whether to retry,
give up, or raise `AmbiguousRequestError` (built only by `_ambiguous`).

Each HTTP attempt (`HttpTransport._attempt`) is the one place that is timed,
logged (one INFO line: method, route template, status, elapsed, retry number,
request id) and traced (`_tracing`); the final attempt of a successful
request is published to a waiting ``with_raw_response`` call (`_response`).
Resources name their path as a `Route`: the template (``/tasks/{taskId}``),
which is what logs and spans show, and the encoded path sent.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import time
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar, overload
from urllib.parse import quote

import aiohttp
import attrs
from aiohttp import hdrs
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import _json, _tracing
from ._convert import from_wire, to_camel
from ._logging import logger
from ._response import publish, request_id
from ._retry import Ambiguous, RateGate, Retry, RetryPolicy, parse_retry_after
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
)

__all__ = ["ConnectionPool", "HttpTransport", "RequestOptions", "Route", "encode_segment", "route"]


USER_AGENT = f"stablebrowse-async/{__version__} (python; aiohttp/{aiohttp.__version__})"
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 64 * 1024
_ERROR_TEXT_LIMIT = 300
_SECRET_HEADERS = ("Authorization", "Cookie", "Proxy-Authorization")
# Structuring failures a hostile or broken answer can provoke.
_SHAPE_ERRORS = (TypeError, ValueError, KeyError, AttributeError, RecursionError)
T = TypeVar("T")
_PROXY_AUTH_HINT = "check the user and password of the proxy URL (or of HTTP(S)_PROXY)"
_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    429: RateLimitError,
}


def encode_segment(value: object, name: str) -> str:
    """Percent-encode `value` as exactly one path segment, or raise naming `name`.

    Every reserved character is encoded (``/`` becomes ``%2F``, ``?`` ``%3F``,
    ``#`` ``%23``, ``%`` ``%25``), so an id can never change the route. The dot
    segments ``.`` and ``..`` cannot be sent as an id at all: servers and proxies
    normalise them away, so they are refused here.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if value in {".", ".."}:
        raise ValueError(f"{name} cannot be {value!r}: it is not a valid path segment")
    return quote(value, safe="")


@attrs.frozen(slots=True)
class Route:
    """A request path two ways: `template` (``/tasks/{taskId}``, for logs and spans) and `path` (sent)."""

    template: str
    path: str


def route(template: str, **segments: object) -> Route:
    """Fill `template`'s ``{camelCase}`` placeholders with the encoded snake_case `segments`.

    ``route("/tasks/{taskId}", task_id=value)`` checks and encodes `value` with
    `encode_segment` (errors name ``task_id``), so the id is in `path` only.
    """
    path = template
    for name, value in segments.items():
        placeholder = "{" + to_camel(name) + "}"
        if placeholder not in path:
            raise AssertionError(f"{template} has no {placeholder}")
        path = path.replace(placeholder, encode_segment(value, name))
    return Route(template, path)


@attrs.frozen
class RequestOptions:
    """Per-client request settings (`with_options` makes a copy with others).

    Attributes:
        timeout: seconds for one attempt, connect to last byte; None waits forever.
        retry: the retry policy.
        max_response_bytes: answers larger than this fail with `APIResponseValidationError`.
    """

    timeout: float | None = 30.0
    retry: RetryPolicy = attrs.Factory(RetryPolicy)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __attrs_post_init__(self) -> None:
        if self.timeout is not None and (
            isinstance(self.timeout, bool)
            or not isinstance(self.timeout, (int, float))
            or not self.timeout > 0
        ):
            raise ValueError(
                f"timeout must be a positive number of seconds or None, got {self.timeout!r}"
            )
        if isinstance(self.max_response_bytes, bool) or not isinstance(
            self.max_response_bytes, int
        ):
            raise TypeError("max_response_bytes must be an int")
        if self.max_response_bytes < 1:
            raise ValueError(f"max_response_bytes must be >= 1, got {self.max_response_bytes}")

    def client_timeout(self) -> aiohttp.ClientTimeout:
        """The aiohttp timeout: `timeout` bounds the whole attempt and, on its own, connecting."""
        return aiohttp.ClientTimeout(total=self.timeout, connect=self.timeout)


class ConnectionPool:
    """The aiohttp session shared by a client and every `with_options` copy of it.

    The session is created on first use inside the running event loop (aiohttp
    sessions belong to one loop), with one `TCPConnector` limited to `limit`
    connections. A session supplied by the caller is used as is and never closed.

    After ``os.fork()`` the child's pools forget the parent's session and loop
    (its sockets are the parent's: closing them here could break its TLS
    streams) and create their own on first use, so a client survives a fork.
    `proxy` (a checked URL, credentials included: aiohttp turns them into
    ``Proxy-Authorization``) goes with every request; `trust_env` lets the
    session read ``HTTP(S)_PROXY``/``NO_PROXY``.
    """

    #: Every live pool, for the fork hook (weak: it keeps no pool alive).
    _live: ClassVar[weakref.WeakSet[ConnectionPool]] = weakref.WeakSet()
    #: Sessions inherited by a forked child: never used, closed or collected there.
    _inherited: ClassVar[list[aiohttp.ClientSession]] = []

    def __init__(
        self,
        *,
        limit: int = 100,
        session: aiohttp.ClientSession | None = None,
        headers: Mapping[str, str],
        proxy: str | None = None,
        trust_env: bool = False,
    ) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"connection_limit must be a positive int, got {limit!r}")
        self.limit = limit
        self._headers = dict(headers)
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.proxy = None if proxy is None else URL(proxy)
        self.trust_env = trust_env
        # Headers passed per request: only needed when the session is not ours.
        self.request_headers: Mapping[str, str] | None = None if session is None else self._headers
        ConnectionPool._live.add(self)

    @staticmethod
    def _after_fork_in_child() -> None:
        for pool in list(ConnectionPool._live):
            pool._loop = None
            if pool._owns_session and pool._session is not None:
                ConnectionPool._inherited.append(pool._session)
                pool._session = None

    @property
    def closed(self) -> bool:
        """True once `aclose` ran."""
        return self._closed

    @property
    def connector(self) -> aiohttp.BaseConnector | None:
        """The live connector (for statistics), or None before the first request."""
        return None if self._session is None else self._session.connector

    def session(self) -> aiohttp.ClientSession:
        """Return the session, creating it in the running loop on first use."""
        if self._closed:
            raise RuntimeError("this client is closed; create a new AsyncClient")
        session = self._session
        loop = asyncio.get_running_loop()
        if session is None:
            connector = _Connector(limit=self.limit, limit_per_host=self.limit)
            session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                auto_decompress=True,
                trust_env=self.trust_env,
            )
            self._session = session
            self._loop = loop
        elif self._loop is None:
            self._loop = loop
        elif self._loop is not loop and self._owns_session:
            raise RuntimeError(
                "this AsyncClient is bound to the event loop it first ran in; "
                "create one client per event loop (or use stablebrowse_async.sync.Client)"
            )
        return session

    async def aclose(self) -> None:
        """Close the session if we created it. Safe to call more than once."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=ConnectionPool._after_fork_in_child)


class _NotSent(Exception):
    """Internal: the request never left this process (connect failed, or timed out before)."""


class _Attempt:
    """Internal: what one attempt got so far; `connected` once a connection was handed to it."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


#: The attempt `HttpTransport._send` is making in this task (read by `_Connector.connect`).
_ATTEMPT: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "stablebrowse_attempt", default=None
)


class _Connector(aiohttp.TCPConnector):
    """The client's connector: it tells the current attempt when it got its connection.

    Why: the timeout bounds the whole attempt, waiting for a free pooled
    connection and connecting included. Expiring there, aiohttp raises a plain
    ``asyncio.TimeoutError`` (its total timer cancels the task; only its own
    connect timer raises ``ConnectionTimeoutError``), the same error as a
    timeout while the answer is awaited, yet nothing reached the server, so a
    POST may be retried. `connect` is where an attempt gets its connection,
    pooled or new (through a proxy's tunnel once that is open), and aiohttp
    writes the request on it only after `connect` returned. So the rule: a
    timeout before `connect` returned is "not sent"; after, the request may be
    on the wire and a POST's timeout is ambiguous (conservative: the few
    statements between getting the connection and writing count as sent).

    How, and why not a ``TraceConfig``: a trace (``on_connection_create_end``
    and ``on_connection_reuseconn``, with a ``trace_request_ctx``) answers the
    same question, but then aiohttp builds a ``Trace`` and awaits a signal for
    every event of every request (request start, queueing, headers and chunks
    sent, each chunk received, end) to use one of them: measured at +11 to
    +34 µs of client CPU per GET of about 200 µs (five interleaved A/B runs).
    This override costs an awaited call and an attribute store per attempt,
    and `_send` a context variable set and reset: 0.3-0.6 µs alone, within
    the noise end to end. The attempt travels in a context variable
    because aiohttp calls `connect` in the task that sends the request, the
    one running `_send`.

    A session passed by the caller has its own connector and no hook: there a
    plain timeout stays ambiguous for a POST (the client cannot tell).
    """

    async def connect(
        self, req: aiohttp.ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        connection = await super().connect(req, traces, timeout)
        attempt = _ATTEMPT.get()
        if attempt is not None:
            attempt.connected = True
        return connection


class _Answer:
    __slots__ = ("body", "elapsed", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = 0.0


class HttpTransport:
    """Sends API requests with the retry policy and maps failures to SDK errors."""

    def __init__(
        self,
        pool: ConnectionPool,
        *,
        base_url: str,
        options: RequestOptions,
        gate: RateGate,
    ) -> None:
        self.pool = pool
        self.base_url = base_url.rstrip("/")
        self.options = options
        self.gate = gate
        self._timeout = options.client_timeout()
        headers = dict(pool.request_headers or {})
        self._get_headers: Mapping[str, str] | None = headers or None
        self._body_headers: Mapping[str, str] = {**headers, "Content-Type": "application/json"}
        base = URL(self.base_url)
        # Logs and spans show "/v1/tasks/{taskId}": the base URL's path, then the route template.
        self._route_prefix = base.path.rstrip("/")
        # `_resolve_base_url` guarantees a host; yarl knows the scheme's default port.
        self._host = base.host or ""
        self._port = base.port or 0

    def with_options(self, options: RequestOptions) -> HttpTransport:
        """A transport sharing this one's pool and rate-limit gate, with other options."""
        return HttpTransport(self.pool, base_url=self.base_url, options=options, gate=self.gate)

    async def request(
        self,
        method: str,
        path: str | Route,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """Send `method path` and return the decoded JSON answer (None for an empty body).

        For calls whose answer is not read (PUT, DELETE); `call` also parses it.
        `path` is a fixed path, or a `Route` when it holds an id.
        """
        return await self._exchange(method, path, body, params, body, None, None, None)

    @overload
    async def call(
        self,
        method: str,
        path: str | Route,
        cast_to: type[T],
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        fill: Mapping[str, Any] | None = None,
        request: Any = None,
    ) -> T: ...

    @overload
    async def call(
        self,
        method: str,
        path: str | Route,
        cast_to: type[T],
        *,
        envelope: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        fill: Mapping[str, Any] | None = None,
        request: Any = None,
    ) -> list[T]: ...

    async def call(
        self,
        method: str,
        path: str | Route,
        cast_to: type[T],
        *,
        envelope: str | None = None,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        fill: Mapping[str, Any] | None = None,
        request: Any = None,
    ) -> T | list[T]:
        """Send `method path` and return its answer as a `cast_to` (a list of them with `envelope`).

        Args:
            method, path: the request; `path` a fixed path, or a `Route` when it holds an id.
            cast_to: the model the answer is structured into.
            envelope: the answer is ``{envelope: [item, ...]}``; each item is a `cast_to`.
            body: the JSON body, if any.
            params: query parameters.
            fill: keys the answer may omit, merged under it before parsing
                (``POST /tasks`` answers only the id; the rest is known).
            request: what an `AmbiguousRequestError` carries as ``request``
                (default: `body`), so a caller can reconcile.

        An answer that does not fit `cast_to` raises `APIResponseValidationError`
        and is not retried; for a POST (which created something) it is ambiguous.
        """
        result: T | list[T] = await self._exchange(
            method,
            path,
            body,
            params,
            body if request is None else request,
            cast_to,
            envelope,
            fill,
        )
        return result

    async def _exchange(
        self,
        method: str,
        target: str | Route,
        body: Any,
        params: Mapping[str, str] | None,
        request: Any,
        cast_to: type[Any] | None,
        envelope: str | None,
        fill: Mapping[str, Any] | None,
    ) -> Any:
        """The retry loop: send, read, parse; ask `RetryPolicy.decide` about every failure."""
        if isinstance(target, Route):
            path, template = target.path, target.template
        else:
            path = template = target
        url = URL(self.base_url + path, encoded=True)
        data = None if body is None else _json.dumps(body)
        headers = self._get_headers if data is None else self._body_headers
        policy = self.options.retry
        attempt = 0
        while True:
            wait = self.gate.delay()
            if wait:
                await asyncio.sleep(wait)
            sent = True
            repeatable = True
            try:
                answer = await self._attempt(method, url, data, headers, params, template, attempt)
            except _TooLarge as exc:
                # The caller's own limit, not a failure of the exchange: never retried.
                raise APIResponseValidationError(
                    f"{method} {path}: {exc.args[0]}", method=method, path=path
                ) from exc
            except _NotSent as exc:
                failure: StablebrowseError = _connection_error(exc.__cause__, method, path)
                sent = False
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                failure = _connection_error(exc, method, path)
            else:
                if answer.status < 300:
                    try:
                        decoded = _decode_success(answer, method, path)
                    except APIResponseValidationError as invalid:
                        failure = invalid
                    else:
                        try:
                            result = (
                                decoded
                                if cast_to is None
                                else _cast(
                                    decoded, cast_to, envelope, fill, method, path, answer.status
                                )
                            )
                        except APIResponseValidationError as invalid:
                            failure = invalid
                            repeatable = False
                        else:
                            publish(answer.status, answer.headers, answer.elapsed, attempt)
                            return result
                else:
                    failure = _status_error(answer, method, path)
                    if isinstance(failure, RateLimitError):
                        self._hold_back(failure, policy)
            attempt += 1
            decision = policy.decide(
                method, failure, attempt=attempt, sent=sent, repeatable=repeatable
            )
            if isinstance(decision, Retry):
                logger.info(
                    "retrying %s %s in %.2fs (attempt %d of %d): %s",
                    method,
                    self._route_prefix + template,
                    decision.delay,
                    attempt,
                    policy.max_retries,
                    type(failure).__name__,  # its message holds the path, ids included
                )
                await asyncio.sleep(decision.delay)
                continue
            if isinstance(decision, Ambiguous):
                raise _ambiguous(failure, method, path, request, repeatable=repeatable)
            raise failure

    def _hold_back(self, failure: RateLimitError, policy: RetryPolicy) -> None:
        """A 429 closes the client-wide gate: every request and poller waits with this one."""
        retry_after = failure.retry_after
        self.gate.close_for(
            policy.initial_backoff
            if retry_after is None
            else min(retry_after, policy.max_retry_after)
        )

    async def _attempt(
        self,
        method: str,
        url: URL,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        template: str,
        retry: int,
    ) -> _Answer:
        """One HTTP attempt (`retry` 0 is the first): timed, traced and logged when those are on."""
        tracer = _tracing.TRACER
        span = None
        if tracer is not None:
            span, headers = _tracing.start_request(
                tracer,
                method,
                self._route_prefix + template,
                self._host,
                self._port,
                retry,
                headers,
            )
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s: sending (retry %d, %d-byte body)",
                method,
                self._route_prefix + template,
                retry,
                0 if data is None else len(data),
            )
        started = time.perf_counter()
        try:
            answer = await self._send(method, url, data, headers, params)
        except BaseException as error:
            if span is not None:
                _tracing.end_request(span, error)
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "%s %s -> %s after %.1f ms (retry %d)",
                    method,
                    self._route_prefix + template,
                    _tracing.error_type(error),
                    (time.perf_counter() - started) * 1000,
                    retry,
                )
            raise
        answer.elapsed = elapsed = time.perf_counter() - started
        if span is not None:
            _tracing.end_request(span, answer.status)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s %s -> %d in %.1f ms (retry %d, request id %s)",
                method,
                self._route_prefix + template,
                answer.status,
                elapsed * 1000,
                retry,
                request_id(answer.headers) or "none",
            )
        return answer

    async def _send(
        self,
        method: str,
        url: URL,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
    ) -> _Answer:
        session = self.pool.session()
        # With the client's own connector, know whether this attempt got a connection.
        attempt = _Attempt() if isinstance(session.connector, _Connector) else None
        token = _ATTEMPT.set(attempt)
        try:
            async with session.request(
                method,
                url,
                data=data,
                headers=headers,
                params=params,
                timeout=self._timeout,
                proxy=self.pool.proxy,
                # The API never redirects. Following one could carry a request
                # body (credentials on a 307/308) to another host, so a 3xx is
                # an error that names where it pointed (see `_status_error`).
                allow_redirects=False,
            ) as response:
                raw = await self._read(response)
                answer = _Answer(response.status, response.headers, raw)
        except (
            aiohttp.ClientConnectorError,
            aiohttp.ConnectionTimeoutError,
            # A proxy that refuses the CONNECT tunnel never passed the request on.
            aiohttp.ClientHttpProxyError,
        ) as exc:
            raise _NotSent from exc
        except asyncio.TimeoutError as exc:
            # Waiting for a pooled connection or connecting (see `_Connector`).
            if attempt is not None and not attempt.connected:
                raise _NotSent from exc
            raise
        finally:
            _ATTEMPT.reset(token)
        return answer

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        """The body, decoded, refused once it passes `max_response_bytes`.

        ``Content-Length`` counts the bytes on the wire; with a
        ``Content-Encoding`` (gzip, deflate, br) the decoded body can be far
        larger, so then the decoded bytes are counted as they arrive.
        """
        cap = self.options.max_response_bytes
        length = response.content_length
        if length is not None:
            if length > cap:
                raise _TooLarge(length, cap)
            if not response.headers.get(hdrs.CONTENT_ENCODING):
                return await response.read()
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_READ_CHUNK):
            size += len(chunk)
            if size > cap:
                raise _TooLarge(size, cap)
            chunks.append(chunk)
        return b"".join(chunks)


class _TooLarge(aiohttp.ClientPayloadError):
    """Internal: the answer exceeded `max_response_bytes` (surfaced as a validation error)."""

    def __init__(self, size: int, cap: int) -> None:
        super().__init__(f"response body of {size}+ bytes exceeds max_response_bytes={cap}")
        self.size = size
        self.cap = cap


def _connection_error(exc: BaseException | None, method: str, path: str) -> StablebrowseError:
    exc = _scrubbed(exc)  # first: aiohttp's str() of a proxy error shows the proxy URL
    if isinstance(exc, asyncio.TimeoutError):
        error: StablebrowseError = APITimeoutError(
            f"{method} {path}: request timed out", method=method, path=path
        )
    else:
        if isinstance(exc, aiohttp.ClientHttpProxyError):
            detail = (
                f"the proxy refused to open a tunnel to the API: HTTP {exc.status} {exc.message}"
            )
            if exc.status == 407:
                detail += f": {_PROXY_AUTH_HINT}"
        elif isinstance(exc, aiohttp.ClientProxyConnectionError):
            detail = f"cannot connect to the proxy: {exc}"
        else:
            detail = f"{type(exc).__name__}: {exc}" if exc is not None else "connection failed"
        error = APIConnectionError(f"{method} {path}: {detail}", method=method, path=path)
    error.__cause__ = exc
    return error


def _without_userinfo(url: URL) -> URL:
    return url.with_user("****").with_password("****") if url.user or url.password else url


def _scrubbed(exc: BaseException | None) -> BaseException | None:
    """`exc` without the secrets some aiohttp errors carry (the API key, proxy credentials).

    ``ClientResponseError`` and its kin keep a ``request_info`` whose headers
    include ``Authorization`` (and, for a proxy tunnel, whose URL is the proxy
    URL with its password); ``ClientConnectorError`` keeps a connection key
    holding the proxy URL and credentials. Chained under an SDK error, their
    repr would print them. They are masked in place; the rest stays useful.
    """
    info = getattr(exc, "request_info", None)
    if exc is not None and isinstance(info, aiohttp.RequestInfo):
        masked = CIMultiDict(info.headers)
        for name in _SECRET_HEADERS:
            if name in masked:
                masked[name] = "<redacted>"
        exc.request_info = aiohttp.RequestInfo(  # type: ignore[attr-defined]
            _without_userinfo(info.url),
            info.method,
            CIMultiDictProxy(masked),
            _without_userinfo(info.real_url),
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        key = exc._conn_key
        auth = key.proxy_auth
        exc._conn_key = key._replace(
            proxy=None if key.proxy is None else _without_userinfo(key.proxy),
            proxy_auth=None if auth is None else auth._replace(password="****"),
        )
        exc.args = (exc._conn_key, exc.os_error)
    for linked in (getattr(exc, "__cause__", None), getattr(exc, "__context__", None)):
        if linked is not None and linked is not exc:
            _scrubbed(linked)
    return exc


def _ambiguous(
    failure: StablebrowseError, method: str, path: str, request: Any, *, repeatable: bool
) -> AmbiguousRequestError:
    """The one place an `AmbiguousRequestError` is built (`RetryPolicy.decide` said so).

    `failure` is what went wrong after a POST was sent: a lost answer, a 5xx,
    or a success whose answer cannot be read (`repeatable`: undecodable, else
    it did not fit the model). The error's cause is the underlying failure.
    """
    if isinstance(failure, APIStatusError):
        error: AmbiguousRequestError = AmbiguousServerError(
            f"{failure.message} after the request was sent: the server may or may not have "
            "acted on it (a gateway error can follow a task that was created), so it was not "
            "retried (a retry could create a duplicate)",
            status_code=failure.status_code,
            body=failure.body,
            request_id=failure.request_id,
            method=method,
            path=path,
            request=request,
        )
        cause: BaseException | None = failure
    elif isinstance(failure, APIResponseValidationError):
        if repeatable:
            message = (
                f"{method} {path} was accepted (HTTP {failure.status_code}) but the answer "
                f"could not be read ({failure.message}): the resource exists but its id is unknown"
            )
        else:
            message = (
                f"{method} {path} succeeded but its answer lacks what identifies the result "
                f"({failure.message}); it exists on the server"
            )
        error = AmbiguousRequestError(
            message,
            method=method,
            path=path,
            request=request,
            status_code=failure.status_code,
            body=failure.body,
        )
        cause = failure
    else:
        raw = failure.__cause__
        what = (
            "timed out"
            if isinstance(failure, APITimeoutError)
            else f"failed ({type(raw).__name__})"
        )
        error = AmbiguousRequestError(
            f"{method} {path} {what} after the request was sent: the server may or may not "
            "have acted on it, so it was not retried (a retry could create a duplicate)",
            method=method,
            path=path,
            request=request,
        )
        cause = raw
    error.__cause__ = cause
    error.__suppress_context__ = True
    return error


def _cast(
    data: Any,
    cast_to: type[Any],
    envelope: str | None,
    fill: Mapping[str, Any] | None,
    method: str,
    path: str,
    status_code: int,
) -> Any:
    """Structure a decoded answer (HTTP `status_code`), or raise
    `APIResponseValidationError` saying why."""
    if envelope is not None:
        items = data.get(envelope) if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise APIResponseValidationError(
                f"{method} {path}: answer has no {envelope!r} list",
                status_code=status_code,
                body=data,
                method=method,
                path=path,
            )
        return [_parse(item, cast_to, method, path, status_code) for item in items]
    if fill is not None and isinstance(data, dict):
        data = {**fill, **data}
    return _parse(data, cast_to, method, path, status_code)


def _parse(data: Any, model: type[T], method: str, path: str, status_code: int) -> T:
    try:
        return from_wire(data, model)
    except _SHAPE_ERRORS as exc:
        raise APIResponseValidationError(
            f"{method} {path}: unexpected answer for {model.__name__} "
            f"({type(exc).__name__}: {exc})",
            status_code=status_code,
            body=data,
            method=method,
            path=path,
        ) from exc


def _decode_success(answer: _Answer, method: str, path: str) -> Any:
    if not answer.body.strip():
        return None
    try:
        return _json.loads(answer.body)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise APIResponseValidationError(
            f"{method} {path}: HTTP {answer.status} answer is not valid JSON ({type(exc).__name__})",
            status_code=answer.status,
            body=_snippet(answer.body),
            method=method,
            path=path,
        ) from exc


def _snippet(raw: bytes) -> str:
    text = raw[:_ERROR_TEXT_LIMIT].decode("utf-8", "replace").strip()
    return text + ("…" if len(raw) > _ERROR_TEXT_LIMIT else "")


def _status_error(answer: _Answer, method: str, path: str) -> APIStatusError:
    status = answer.status
    body: Any = None
    message: str | None = None
    if answer.body.strip():
        try:
            body = _json.loads(answer.body)
        except (ValueError, RecursionError, UnicodeDecodeError):
            body = _snippet(answer.body)
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                message = value.strip()[:_ERROR_TEXT_LIMIT]
                break
    if 300 <= status < 400:
        message = _redirect_message(answer.headers.get(hdrs.LOCATION))
    elif status == 407:  # from a proxy in front of the API, never from the API itself
        message = f"proxy authentication required: {_PROXY_AUTH_HINT}"
    if message is None:
        kind = (
            "empty body"
            if body is None
            else "non-JSON body"
            if isinstance(body, str)
            else "JSON body"
        )
        message = f"HTTP {status} ({kind})"
    cls = _STATUS_ERRORS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    answer_id = request_id(answer.headers)
    text = f"{method} {path}: {status} {message}"
    if cls is RateLimitError:
        quota = body if isinstance(body, dict) else {}
        return RateLimitError(
            text,
            status_code=status,
            body=body,
            request_id=answer_id,
            method=method,
            path=path,
            retry_after=parse_retry_after(answer.headers),
            limit=_optional_int(quota.get("limit")),
            used=_optional_int(quota.get("used")),
        )
    if cls is MethodNotAllowedError:
        allow = answer.headers.get("allow", "")
        return MethodNotAllowedError(
            text,
            status_code=status,
            body=body,
            request_id=answer_id,
            method=method,
            path=path,
            allow=tuple(part.strip() for part in allow.split(",") if part.strip()),
        )
    return cls(text, status_code=status, body=body, request_id=answer_id, method=method, path=path)


def _redirect_message(location: str | None) -> str:
    """Why a 3xx fails, naming only the origin it pointed to (a URL may carry tokens)."""
    if not location:
        where = "nowhere (no Location header)"
    else:
        try:
            target = URL(location)
            where = str(target.origin()) if target.is_absolute() else "a path on the same host"
        except ValueError:
            where = "an unreadable Location"
    return (
        f"redirect to {where} not followed: the API never redirects, so check base_url "
        "(following it could send your key or a request body to another host)"
    )


def _optional_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
