"""The emulator's server pipeline: what happens around every handler.

In order, for every request: give it an id, read and record it, pick a
transport fault (which may answer instead, delay, drop the connection or cut
the body), then answer it: route, authenticate, rate-limit, check the body,
run the handler (``_handlers.py``), apply step faults to running task records,
serialise. Every answer carries the request id in ``x-amzn-RequestId`` (as API
Gateway sends it) and ``X-Request-Id``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import math
import random
import socket
import struct
import urllib.parse
import uuid
from typing import Any, NoReturn

from aiohttp import web

from ._clock import Clock
from ._faults import STEP_FAULT_KINDS, TRANSPORT_FAULT_KINDS, Fault
from ._handlers import ROUTES, ApiError, Call, Principal, Reply, match_route
from ._records import RecordedRequest
from ._state import State, key_hash

__all__ = ["REQUEST_ID_HEADERS", "Pipeline", "RateLimiter"]

# The request id goes out under API Gateway's name and the common one.
REQUEST_ID_HEADERS = ("x-amzn-RequestId", "X-Request-Id")

GATEWAY_HTML = (
    "<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>awselb/2.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_STEP_ROUTES = frozenset({"/v1/tasks/{taskId}", "/v1/sessions/{sessionId}"})


class _Dropped(Exception):
    """The connection was dropped on purpose; there is nothing to answer."""


def _json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> web.Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _mask_auth(value: str) -> str:
    scheme, _, token = value.partition(" ")
    if not token:
        return value[:16] + "…"
    return f"{scheme} {token[:16]}…"


class RateLimiter:
    """At most ``max_requests`` per sliding ``per_seconds`` window for each caller.

    Time comes from its own ``clock`` (monotonic by default, whatever clock
    drives the tasks), so a test can drive the window with a `VirtualClock`.
    """

    def __init__(self, max_requests: int, per_seconds: float, clock: Clock) -> None:
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self.clock = clock
        self._windows: dict[str, collections.deque[float]] = {}

    def admit(self, caller: str) -> None:
        """Count one request of ``caller``, or raise a 429 with ``Retry-After`` (whole seconds)."""
        now = self.clock.now()
        window = self._windows.setdefault(caller, collections.deque())
        while window and window[0] <= now - self.per_seconds:
            window.popleft()
        if len(window) >= self.max_requests:
            wait = max(1, math.ceil(window[0] + self.per_seconds - now))
            raise ApiError(429, "Rate limit exceeded", headers={"Retry-After": str(wait)})
        window.append(now)


@dataclasses.dataclass(frozen=True)
class _Incoming:
    """A request read whole, before any decision about it."""

    request: web.BaseRequest
    method: str
    path: str
    template: str | None
    params: dict[str, str]
    query: dict[str, str]
    body: bytes
    parsed: Any
    json_error: str | None


class Pipeline:
    """Serves one emulator's state over aiohttp: the ``web.Server`` handler is `serve`."""

    def __init__(
        self,
        state: State,
        clock: Clock,
        *,
        seed: int,
        faults: list[Fault],
        limiter: RateLimiter | None,
    ) -> None:
        self.state = state
        self.clock = clock
        self.faults = faults
        self.limiter = limiter
        self.requests: list[RecordedRequest] = []
        self._fault_rng = random.Random(f"faults:{seed}")

    async def serve(self, request: web.BaseRequest) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        try:
            incoming = await self._receive(request, request_id)
            response = await self._respond(incoming)
        except _Dropped:
            # The transport is already aborted: aiohttp's attempt to write this
            # placeholder fails with a ConnectionError, which it ignores quietly
            # (444 is nginx's "closed without response").
            return web.Response(status=444)
        except Exception as error:  # a bug in the emulator: answer like a server would
            response = _json_response(500, {"error": f"Internal emulator error: {error!r}"})
        for name in REQUEST_ID_HEADERS:
            response.headers[name] = request_id
        return response

    # -- stages --------------------------------------------------------------------

    async def _receive(self, request: web.BaseRequest, request_id: str) -> _Incoming:
        """Read the request, parse its JSON body if any, and record it."""
        raw_path, _, raw_query = request.raw_path.partition("?")
        method = request.method.upper()
        body = await request.read()
        parsed: Any = None
        json_error: str | None = None
        if body:
            try:
                parsed = json.loads(body)
            except (ValueError, UnicodeDecodeError) as error:
                json_error = f"Invalid JSON body: {error}"
        headers = {
            k: (_mask_auth(v) if k.lower() == "authorization" else v)
            for k, v in request.headers.items()
        }
        query = {
            k: v[0] for k, v in urllib.parse.parse_qs(raw_query, keep_blank_values=True).items()
        }
        self.requests.append(
            RecordedRequest(
                method=method,
                path=raw_path,
                query=query,
                headers=headers,
                body=body,
                json=parsed,
                received_at=self.clock.now(),
                request_id=request_id,
            )
        )
        template, params = match_route(raw_path)
        return _Incoming(
            request, method, raw_path, template, params, query, body, parsed, json_error
        )

    async def _respond(self, incoming: _Incoming) -> web.StreamResponse:
        """Answer, unless a transport fault fires: then do what it says."""
        fault = self._pick_fault(incoming.method, incoming.template)
        if fault is None:
            return self._write(self._answer(incoming))
        status = fault.status
        match fault.kind:
            case "status":
                status = status or 500
                return _json_response(status, {"error": f"Injected fault: HTTP {status}"})
            case "html":
                status = status or 502
                return web.Response(
                    status=status, text=GATEWAY_HTML.format(status=status), content_type="text/html"
                )
            case "message":
                return _json_response(status or 503, {"message": "Service Unavailable"})
            case "empty":
                return web.Response(status=status or 502, body=b"")
            case "rate_limit":
                retry_after = fault.retry_after if fault.retry_after is not None else 1
                return _json_response(
                    status or 429,
                    {"error": "Rate limit exceeded"},
                    {"Retry-After": str(math.ceil(retry_after))},
                )
            case "reset_before":
                self._drop(incoming.request)
            case "delay":
                await asyncio.sleep(fault.delay)
                return self._write(self._answer(incoming))
            case "reset_after":
                self._answer(incoming)
                self._drop(incoming.request)
            case "truncated":
                # A 2xx whose JSON body is cut in half (Content-Length matches the cut).
                full = self._write(self._answer(incoming)).body
                assert isinstance(full, bytes)
                cut = full[: max(1, len(full) // 2)]
                return web.Response(status=status or 200, body=cut, content_type="application/json")
        raise AssertionError(f"unhandled transport fault kind {fault.kind!r}")

    def _answer(self, incoming: _Incoming) -> Reply:
        """Route, authenticate, rate-limit, check the body, run the handler; errors as replies."""
        template, method = incoming.template, incoming.method
        try:
            if template is None:
                raise ApiError(404, f"Not found: {method} {incoming.path}")
            methods = ROUTES[template]
            handler = methods.get(method)
            if handler is None:
                raise ApiError(
                    405,
                    f"Method {method} not allowed on {template}",
                    headers={"Allow": ", ".join(methods)},
                )
            principal = self._authenticate(incoming.request)
            if self.limiter is not None:
                self.limiter.admit(principal.rate_id)
            if incoming.body:
                if incoming.request.content_type != "application/json":
                    raise ApiError(400, "Content-Type must be application/json")
                if incoming.json_error is not None:
                    raise ApiError(400, incoming.json_error)
            call = Call(
                self.state,
                self.clock.now(),
                principal,
                incoming.params,
                incoming.parsed,
                incoming.query,
            )
            reply = handler(call)
        except ApiError as error:
            return error.reply()
        if template in _STEP_ROUTES:
            records = [reply.payload] if "taskId" in reply.payload else reply.payload["tasks"]
            for record in records:
                self._step_faults(method, template, record)
        return reply

    @staticmethod
    def _write(reply: Reply) -> web.Response:
        return _json_response(reply.status, reply.payload, reply.headers)

    # -- auth -----------------------------------------------------------------------

    def _authenticate(self, request: web.BaseRequest) -> Principal:
        header = request.headers.get("Authorization")
        if header is None:
            raise ApiError(401, "Missing Authorization header")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise ApiError(401, "Malformed Authorization header; expected 'Bearer <token>'")
        state = self.state
        if token.startswith("sb_live_"):
            record = state.keys.get(key_hash(token))
            if record is None:
                raise ApiError(401, "Invalid API key")
            if record.revoked_at is not None:
                raise ApiError(403, "This API key has been revoked")
            record.last_used_at = self.clock.now()
            return Principal(state.businesses[record.business_id], "key", record.hash)
        biz_id = state.dashboard_tokens.get(token)
        if biz_id is None:
            raise ApiError(401, "Invalid or expired token")
        return Principal(state.businesses[biz_id], "dashboard", "dash:" + key_hash(token))

    # -- faults ---------------------------------------------------------------------

    def _fires(self, fault: Fault) -> bool:
        """Roll the seeded dice for a matching rule; count it when it fires."""
        if fault.rate >= 1.0 or self._fault_rng.random() < fault.rate:
            fault.fired += 1
            return True
        return False

    def _pick_fault(self, method: str, template: str | None) -> Fault | None:
        for fault in list(self.faults):
            if (
                fault.kind in TRANSPORT_FAULT_KINDS
                and fault.matches(method, template)
                and self._fires(fault)
            ):
                return fault
        return None

    def _step_faults(self, method: str, template: str, record: dict[str, Any]) -> None:
        """Mangle a running record's step list if its directive or a step fault fires."""
        if record.get("status") != "running" or not record.get("stepSummaries"):
            return
        kind: str | None = None
        task = self.state.tasks.get(record["taskId"])
        if task is not None and task.steps_fault is not None:
            wanted, rate = task.steps_fault
            if rate >= 1.0 or self._fault_rng.random() < rate:
                kind = wanted
        if kind is None:
            for fault in list(self.faults):
                if (
                    fault.kind in STEP_FAULT_KINDS
                    and fault.matches(method, template)
                    and self._fires(fault)
                ):
                    kind = fault.kind
                    break
        if kind is not None:
            _mangle_steps(record, kind, self._fault_rng)

    @staticmethod
    def _drop(request: web.BaseRequest) -> NoReturn:
        """Drop the TCP connection with a reset (SO_LINGER 0), answering nothing."""
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        raise _Dropped


def _mangle_steps(record: dict[str, Any], kind: str, rng: random.Random) -> None:
    """Apply one step fault to a record holding at least one step."""
    steps: list[dict[str, Any]] = record["stepSummaries"]
    match kind:
        case "steps_drop":
            record["stepSummaries"] = []
            record["visitedUrls"] = []
        case "steps_shuffle":
            shuffled = rng.sample(steps, len(steps))
            if shuffled == steps:  # a shuffle may keep the order; out of order means out
                shuffled = shuffled[1:] + shuffled[:1]
            record["stepSummaries"] = shuffled
        case "steps_truncate":
            keep = rng.randint(1, len(steps) - 1) if len(steps) > 1 else 0
            record["stepSummaries"] = steps[len(steps) - keep :]
        case _:
            raise AssertionError(f"unhandled step fault kind {kind!r}")
