"""The in-process StableBrowse API emulator (aiohttp.web), written against API.md alone."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import json
import math
import random
import socket
import struct
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from aiohttp import web

from ._clock import Clock, RealClock, iso
from ._faults import Fault
from ._outcomes import DESIGN_EXTRACTORS, parse_directives
from ._records import Business, RecordedRequest
from ._state import (
    CREDENTIAL_FIELDS,
    PLATFORMS,
    BusinessState,
    Script,
    State,
    key_hash,
    remember_secret,
)

__all__ = ["Emulator"]

MAX_END_USER_ID = 256
MAX_STEPS = 25
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 100

# Route table: path template -> allowed methods. Templates use one placeholder
# per segment; placeholders match exactly one percent-decoded segment.
ROUTES: dict[str, tuple[str, ...]] = {
    "/v1/tasks": ("GET", "POST"),
    "/v1/tasks/{taskId}": ("GET",),
    "/v1/sessions/{sessionId}": ("GET",),
    "/v1/end-users/{endUserId}/credentials": ("GET", "PUT", "DELETE"),
    "/v1/api-keys": ("GET", "POST"),
    "/v1/api-keys/{prefix}": ("DELETE",),
    "/v1/design/extract": ("POST",),
}
_SPLIT_ROUTES = [(template, template.strip("/").split("/")) for template in ROUTES]

GATEWAY_HTML = (
    "<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>awselb/2.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class ApiError(Exception):
    """An error answer: status plus ``{"error": message, **extra}``."""

    def __init__(
        self,
        status: int,
        message: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}


class _Dropped(Exception):
    """The connection was dropped on purpose; there is nothing to answer."""


class _Principal:
    __slots__ = ("biz", "kind", "rate_id")

    def __init__(self, biz: BusinessState, kind: str, rate_id: str) -> None:
        self.biz = biz
        self.kind = kind  # "key" or "dashboard"
        self.rate_id = rate_id


def _json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> web.Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def match_route(raw_path: str) -> tuple[str | None, dict[str, str]]:
    """Match a raw (percent-encoded) path against the route table.

    Splits on literal slashes only, then percent-decodes each segment, so an
    encoded slash (``%2F``) stays inside its segment and never changes the route.
    """
    segments = raw_path.strip("/").split("/") if raw_path.startswith("/") else []
    if raw_path.endswith("/") and raw_path != "/":
        return None, {}
    for template, parts in _SPLIT_ROUTES:
        if len(parts) != len(segments):
            continue
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=False):
            if part.startswith("{"):
                value = urllib.parse.unquote(segment)
                if not value:
                    break
                params[part[1:-1]] = value
            elif part != segment:
                break
        else:
            return template, params
    return None, {}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _mask_auth(value: str) -> str:
    scheme, _, token = value.partition(" ")
    if not token:
        return value[:16] + "…"
    return f"{scheme} {token[:16]}…"


class Emulator:
    """A StableBrowse API server on loopback, for tests, demos and the CLI.

    Use as ``async with Emulator(...) as emu`` or ``await emu.start()`` /
    ``await emu.close()``. See the package docstring for the options.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        seed: int = 0,
        durations: tuple[float, float] = (0.5, 3.0),
        pending_for: float = 0.1,
        failure_rate: float = 0.0,
        script: Script | None = None,
        monthly_quota: int | None = None,
        rate_limit: tuple[int, float] | None = None,
        faults: Sequence[Fault] = (),
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the emulator listens on loopback only, not {host!r}")
        self.host = host
        self.port = port
        self.clock: Clock = clock if clock is not None else RealClock()
        self.seed = seed
        self.rate_limit = rate_limit
        self.faults: list[Fault] = list(faults)
        self.requests: list[RecordedRequest] = []
        self._state = State(
            seed=seed,
            durations=durations,
            pending_for=pending_for,
            failure_rate=failure_rate,
            script=script,
        )
        self._fault_rng = random.Random(f"faults:{seed}")
        self._windows: dict[str, collections.deque[float]] = {}
        self.business = self._state.add_business("default", monthly_quota, self.clock.now())
        self._runner: web.ServerRunner | None = None
        self._url: str | None = None

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> Emulator:
        if self._runner is not None:
            return self
        server = web.Server(self._serve)
        runner = web.ServerRunner(server, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.port = port
        shown = f"[{host}]" if ":" in host else host
        self._url = f"http://{shown}:{port}/v1"
        return self

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- public helpers ----------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT/v1`` (only once started)."""
        if self._url is None:
            raise RuntimeError("the emulator is not started")
        return self._url

    @property
    def api_key(self) -> str:
        return self.business.api_key

    @property
    def dashboard_token(self) -> str:
        return self.business.dashboard_token

    def add_business(self, name: str = "other", monthly_quota: int | None = None) -> Business:
        """Create another business with its own key, token, tasks and quota."""
        return self._state.add_business(name, monthly_quota, self.clock.now())

    def mint_api_key(self, business: Business | str | None = None, label: str | None = None) -> str:
        """Mint a new API key for a business (default: the default one); return it in full."""
        key, _ = self._state.mint_key(self._biz(business).business.id, label, self.clock.now())
        return key

    def revoke_api_key(self, key_or_prefix: str) -> None:
        """Revoke a key given in full or by its 16-character prefix (KeyError if unknown)."""
        self._state.revoke(key_or_prefix, self.clock.now())

    def tasks_created(self, business: Business | str | None = None) -> int:
        """Accepted submissions (tasks and design jobs) of one business, or of all."""
        if business is None:
            return sum(b.used for b in self._state.businesses.values())
        return self._biz(business).used

    def task_record(self, task_id: str) -> dict[str, Any]:
        """The JSON that ``GET /v1/tasks/{task_id}`` would return now (KeyError if unknown)."""
        return self._state.tasks[task_id].wire(self.clock.now())

    def create_task(
        self,
        task: str,
        *,
        end_user_id: str = "emulator-user",
        business: Business | str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """Create a task directly, without HTTP or quota (fast seeding for tests).

        Returns the body ``POST /v1/tasks`` would have answered.
        """
        biz = self._biz(business)
        session = self._state.sessions[session_id] if session_id is not None else None
        clean, directives = parse_directives(task)
        created = self._state.create_task(
            biz,
            end_user_id=end_user_id,
            text=task,
            session=session,
            now=self.clock.now(),
            body={"endUserId": end_user_id, "task": task},
            directives=directives,
            clean_text=clean,
        )
        return self._submitted(created.id)

    def set_script(self, fn: Script | None) -> None:
        """Replace the outcome script (None = random outcomes and directives)."""
        self._state.script = fn

    def clear_requests(self) -> None:
        self.requests.clear()

    def _biz(self, business: Business | str | None) -> BusinessState:
        if business is None:
            return self._state.businesses[self.business.id]
        biz_id = business.id if isinstance(business, Business) else business
        return self._state.businesses[biz_id]

    def _submitted(self, task_id: str) -> dict[str, Any]:
        task = self._state.tasks[task_id]
        return {
            "taskId": task.id,
            "sessionId": task.session_id,
            "status": "pending",
            "createdAt": iso(task.created_at),
        }

    # -- request pipeline ----------------------------------------------------------

    async def _serve(self, request: web.BaseRequest) -> web.StreamResponse:
        request_id = "req_" + uuid.uuid4().hex
        try:
            response = await self._pipeline(request)
        except _Dropped:
            # The transport is already aborted: aiohttp's attempt to write this
            # placeholder fails with a ConnectionError, which it ignores quietly
            # (444 is nginx's "closed without response").
            return web.Response(status=444)
        except ApiError as error:
            response = _json_response(
                error.status, {"error": error.message, **error.extra}, error.headers
            )
        except Exception as error:  # a bug in the emulator: answer like a server would
            response = _json_response(500, {"error": f"Internal emulator error: {error!r}"})
        response.headers["X-Request-Id"] = request_id
        return response

    async def _pipeline(self, request: web.BaseRequest) -> web.StreamResponse:
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
            )
        )
        template, params = match_route(raw_path)

        async def process() -> web.StreamResponse:
            if template is None:
                raise ApiError(404, f"Not found: {method} {raw_path}")
            allowed = ROUTES[template]
            if method not in allowed:
                raise ApiError(
                    405,
                    f"Method {method} not allowed on {template}",
                    headers={"Allow": ", ".join(allowed)},
                )
            principal = self._authenticate(request)
            self._check_rate(principal)
            if body:
                if request.content_type != "application/json":
                    raise ApiError(400, "Content-Type must be application/json")
                if json_error is not None:
                    raise ApiError(400, json_error)
            handler = self._handlers[(method, template)]
            return await handler(self, principal, params, parsed, query)

        fault = self._pick_fault(method, template)
        if fault is None:
            return await self._answer(process)
        return await self._apply_fault(fault, request, process)

    async def _answer(
        self, process: Callable[[], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await process()
        except ApiError as error:
            return _json_response(
                error.status, {"error": error.message, **error.extra}, error.headers
            )

    def _pick_fault(self, method: str, template: str | None) -> Fault | None:
        for fault in list(self.faults):
            if fault.matches(method, template) and (
                fault.rate >= 1.0 or self._fault_rng.random() < fault.rate
            ):
                fault.fired += 1
                return fault
        return None

    async def _apply_fault(
        self,
        fault: Fault,
        request: web.BaseRequest,
        process: Callable[[], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        kind = fault.kind
        if kind == "status":
            status = fault.status or 500
            return _json_response(status, {"error": f"Injected fault: HTTP {status}"})
        if kind == "html":
            status = fault.status or 502
            return web.Response(
                status=status,
                text=GATEWAY_HTML.format(status=status),
                content_type="text/html",
            )
        if kind == "message":
            return _json_response(fault.status or 503, {"message": "Service Unavailable"})
        if kind == "empty":
            return web.Response(status=fault.status or 502, body=b"")
        if kind == "rate_limit":
            retry_after = fault.retry_after if fault.retry_after is not None else 1
            return _json_response(
                fault.status or 429,
                {"error": "Rate limit exceeded"},
                {"Retry-After": str(math.ceil(retry_after))},
            )
        if kind == "reset_before":
            self._drop(request)
        if kind == "delay":
            await asyncio.sleep(fault.delay)
            return await self._answer(process)
        response = await self._answer(process)
        if kind == "reset_after":
            self._drop(request)
        # truncated: a 200 whose JSON body is cut in half (Content-Length matches the cut)
        assert isinstance(response, web.Response)
        full = response.body if isinstance(response.body, bytes) else b"{}"
        cut = full[: max(1, len(full) // 2)]
        return web.Response(status=fault.status or 200, body=cut, content_type="application/json")

    @staticmethod
    def _drop(request: web.BaseRequest) -> None:
        """Drop the TCP connection with a reset (SO_LINGER 0), answering nothing."""
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        raise _Dropped

    # -- auth and rate limit --------------------------------------------------------

    def _authenticate(self, request: web.BaseRequest) -> _Principal:
        header = request.headers.get("Authorization")
        if header is None:
            raise ApiError(401, "Missing Authorization header")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise ApiError(401, "Malformed Authorization header; expected 'Bearer <token>'")
        state = self._state
        if token.startswith("sb_live_"):
            record = state.keys.get(key_hash(token))
            if record is None:
                raise ApiError(401, "Invalid API key")
            if record.revoked_at is not None:
                raise ApiError(403, "This API key has been revoked")
            record.last_used_at = self.clock.now()
            return _Principal(state.businesses[record.business_id], "key", record.hash)
        biz_id = state.dashboard_tokens.get(token)
        if biz_id is None:
            raise ApiError(401, "Invalid or expired token")
        return _Principal(state.businesses[biz_id], "dashboard", "dash:" + key_hash(token))

    def _check_rate(self, principal: _Principal) -> None:
        if self.rate_limit is None:
            return
        max_requests, per_seconds = self.rate_limit
        now = time.monotonic()
        window = self._windows.setdefault(principal.rate_id, collections.deque())
        while window and window[0] <= now - per_seconds:
            window.popleft()
        if len(window) >= max_requests:
            wait = max(1, math.ceil(window[0] + per_seconds - now))
            raise ApiError(429, "Rate limit exceeded", headers={"Retry-After": str(wait)})
        window.append(now)

    # -- validation helpers ----------------------------------------------------------

    @staticmethod
    def _object_body(parsed: Any, *, required: bool) -> dict[str, Any]:
        if parsed is None:
            if required:
                raise ApiError(400, "Request body must be a JSON object")
            return {}
        if not isinstance(parsed, dict):
            raise ApiError(400, "Request body must be a JSON object")
        return parsed

    @staticmethod
    def _end_user_id(body: dict[str, Any], principal: _Principal) -> str:
        value = body.get("endUserId")
        if value is None:
            if principal.kind == "dashboard":
                return "self"
            raise ApiError(400, "endUserId is required")
        if not isinstance(value, str):
            raise ApiError(400, "endUserId must be a string")
        return _check_end_user_id(value)

    def _check_quota(self, biz: BusinessState) -> None:
        quota = biz.business.monthly_quota
        if quota is not None and biz.used >= quota:
            raise ApiError(
                429,
                f"Monthly limit of {quota} tasks reached. Upgrade your plan to run more tasks.",
                {"limit": quota, "used": biz.used},
            )

    # -- handlers -----------------------------------------------------------------------

    async def _submit_task(
        self, p: _Principal, params: dict[str, str], parsed: Any, query: dict[str, str]
    ) -> web.Response:
        body = self._object_body(parsed, required=True)
        end_user_id = self._end_user_id(body, p)
        text = body.get("task")
        if text is None:
            raise ApiError(400, "task is required")
        if not isinstance(text, str):
            raise ApiError(400, "task must be a string")
        if not text.strip():
            raise ApiError(400, "task must not be blank")
        session_id = _optional(body, "sessionId", str, "a string")
        start_url = _optional(body, "startUrl", str, "a string")
        schema = _optional(body, "schema", dict, "a JSON object")
        html = _optional(body, "include_html_dump", bool, "a boolean")
        max_steps = body.get("maxSteps")
        if max_steps is None:
            max_steps = MAX_STEPS
        elif isinstance(max_steps, bool) or not isinstance(max_steps, int):
            raise ApiError(400, "maxSteps must be an integer")
        elif max_steps < 1:
            raise ApiError(400, "maxSteps must be at least 1")
        max_steps = min(max_steps, MAX_STEPS)
        session = None
        if session_id is not None:
            session = self._state.sessions.get(session_id)
            if session is None or session.business_id != p.biz.business.id:
                raise ApiError(404, f"Session not found: {session_id}")
        self._check_quota(p.biz)
        clean, directives = parse_directives(text)
        task = self._state.create_task(
            p.biz,
            end_user_id=end_user_id,
            text=text,
            session=session,
            now=self.clock.now(),
            body=body,
            start_url=start_url,
            schema=schema,
            max_steps=max_steps,
            include_html=bool(html),
            directives=directives,
            clean_text=clean,
        )
        return _json_response(201, self._submitted(task.id))

    async def _list_tasks(
        self, p: _Principal, params: dict[str, str], parsed: Any, query: dict[str, str]
    ) -> web.Response:
        raw = query.get("limit")
        limit = DEFAULT_LIST_LIMIT
        if raw is not None:
            if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
                raise ApiError(400, "limit must be a positive integer")
            limit = min(int(raw), MAX_LIST_LIMIT)
        return _json_response(
            200, {"sessions": self._state.list_sessions(p.biz, limit, self.clock.now())}
        )

    async def _get_task(
        self, p: _Principal, params: dict[str, str], parsed: Any, query: dict[str, str]
    ) -> web.Response:
        task = self._state.tasks.get(params["taskId"])
        if task is None or task.business_id != p.biz.business.id:
            raise ApiError(404, f"Task not found: {params['taskId']}")
        return _json_response(200, task.wire(self.clock.now()))

    async def _get_session(
        self, p: _Principal, params: dict[str, str], parsed: Any, query: dict[str, str]
    ) -> web.Response:
        session = self._state.sessions.get(params["sessionId"])
        if session is None or session.business_id != p.biz.business.id:
            raise ApiError(404, f"Session not found: {params['sessionId']}")
        now = self.clock.now()
        tasks = [self._state.tasks[t].wire(now) for t in session.task_ids]
        return _json_response(200, {"sessionId": session.id, "tasks": tasks})

    async def _put_credentials(
        self, p: _Principal, params: dict[str, str], parsed: Any, query: dict[str, str]
    ) -> web.Response:
        end_user_id = _check_end_user_id(params["endUserId"])
        body = self._object_body(parsed, required=True)
        fields = {k: v for k, v in body.items() if k in CREDENTIAL_FIELDS}
        if not fields:
            raise ApiError(
                400,
                "No recognized credential field; expected some of: " + ", ".join(CREDENTIAL_FIELDS),
            )
        for name, value in fields.items():
            if not isinstance(value, str):
                raise ApiError(400, f"{name} must be a string")
        stored = p.biz.credentials.setdefault(end_user_id, {})
        for name, value in fields.items():
            if value:
                stored[name] = value
                remember_secret("credential", value)
            else:
                stored.pop(name, None)
        return _json_response(200, {"ok": True})

    async def _get_credentials(
        self, p: _Principal, params: dict[str, str], parsed: Any, query: dict[str, str]
    ) -> web.Response:
        end_user_id = _check_end_user_id(params["endUserId"])
        stored = p.biz.credentials.get(end_user_id, {})
        platforms = {
            platform: any(name in stored for name in names) for platform, names in PLATFORMS.items()
        }
        return _json_response(200, {"endUserId": end_user_id, "platforms": platforms})

    async def _delete_credentials(
        self, p: _Principal, params: dict[str, str], parsed: Any, query: dict[str, str]
    ) -> web.Response:
        end_user_id = _check_end_user_id(params["endUserId"])
        body = self._object_body(parsed, required=False)
        names = body.get("fields")
        if names is None:
            p.biz.credentials.pop(end_user_id, None)
            return _json_response(200, {"ok": True})
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ApiError(400, "fields must be a list of credential field names")
        unknown = [n for n in names if n not in CREDENTIAL_FIELDS]
        if unknown:
            raise ApiError(400, "Unknown credential field(s): " + ", ".join(unknown))
        stored = p.biz.credentials.get(end_user_id, {})
        for name in names:
            stored.pop(name, None)
        return _json_response(200, {"ok": True})

    def _dashboard_only(self, p: _Principal) -> None:
        if p.kind != "dashboard":
            raise ApiError(401, "API keys cannot manage API keys; use a dashboard token")

    async def _create_key(
        self, p: _Principal, params: dict[str, str], parsed: Any, query: dict[str, str]
    ) -> web.Response:
        self._dashboard_only(p)
        body = self._object_body(parsed, required=False)
        label = _optional(body, "label", str, "a string")
        if label is not None and len(label) > 256:
            raise ApiError(400, "label must be at most 256 characters")
        key, record = self._state.mint_key(p.biz.business.id, label, self.clock.now())
        return _json_response(
            201,
            {
                "key": key,
                "prefix": record.prefix,
                "label": record.label,
                "createdAt": iso(record.created_at),
            },
        )

    async def _list_keys(
        self, p: _Principal, params: dict[str, str], parsed: Any, query: dict[str, str]
    ) -> web.Response:
        self._dashboard_only(p)
        keys = [
            record.wire()
            for record in self._state.prefixes.values()
            if record.business_id == p.biz.business.id
        ]
        return _json_response(200, {"keys": keys})

    async def _revoke_key(
        self, p: _Principal, params: dict[str, str], parsed: Any, query: dict[str, str]
    ) -> web.Response:
        self._dashboard_only(p)
        prefix = params["prefix"]
        record = self._state.prefixes.get(prefix)
        if record is None or record.business_id != p.biz.business.id:
            raise ApiError(404, f"API key not found: {prefix}")
        self._state.revoke(prefix, self.clock.now())
        return _json_response(200, {"ok": True})

    async def _design(
        self, p: _Principal, params: dict[str, str], parsed: Any, query: dict[str, str]
    ) -> web.Response:
        body = self._object_body(parsed, required=True)
        url = body.get("url")
        if not isinstance(url, str) or not url:
            raise ApiError(400, "url is required and must be a string")
        split = urllib.parse.urlsplit(url)
        if split.scheme not in ("http", "https") or not split.netloc:
            raise ApiError(400, "url must be an absolute http(s) URL")
        end_user_id = self._end_user_id(body, p)
        extractors = body.get("extractors")
        if extractors is None:
            extractors = list(DESIGN_EXTRACTORS)
        elif (
            not isinstance(extractors, list)
            or not extractors
            or not all(isinstance(e, str) and e in DESIGN_EXTRACTORS for e in extractors)
        ):
            raise ApiError(
                400, "extractors must be a non-empty list of: " + ", ".join(DESIGN_EXTRACTORS)
            )
        _optional(body, "enableIpRotation", bool, "a boolean")
        self._check_quota(p.biz)
        extractors = list(dict.fromkeys(extractors))
        task = self._state.create_task(
            p.biz,
            end_user_id=end_user_id,
            text=f"[design] {url}",
            session=None,
            now=self.clock.now(),
            body=body,
            start_url=url,
            design={"url": url, "extractors": extractors},
        )
        return _json_response(202, {**self._submitted(task.id), "extractors": extractors})

    _Handler = Callable[
        ["Emulator", _Principal, dict[str, str], Any, dict[str, str]],
        Awaitable[web.Response],
    ]
    _handlers: ClassVar[dict[tuple[str, str], _Handler]] = {
        ("POST", "/v1/tasks"): _submit_task,
        ("GET", "/v1/tasks"): _list_tasks,
        ("GET", "/v1/tasks/{taskId}"): _get_task,
        ("GET", "/v1/sessions/{sessionId}"): _get_session,
        ("PUT", "/v1/end-users/{endUserId}/credentials"): _put_credentials,
        ("GET", "/v1/end-users/{endUserId}/credentials"): _get_credentials,
        ("DELETE", "/v1/end-users/{endUserId}/credentials"): _delete_credentials,
        ("POST", "/v1/api-keys"): _create_key,
        ("GET", "/v1/api-keys"): _list_keys,
        ("DELETE", "/v1/api-keys/{prefix}"): _revoke_key,
        ("POST", "/v1/design/extract"): _design,
    }


def _check_end_user_id(value: str) -> str:
    if not value:
        raise ApiError(400, "endUserId must not be empty")
    if len(value) > MAX_END_USER_ID:
        raise ApiError(400, f"endUserId must be at most {MAX_END_USER_ID} characters")
    return value


def _optional(body: dict[str, Any], name: str, kind: type, what: str) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ApiError(400, f"{name} must be {what}")
    return value
