"""The emulator's endpoints: one route table and one plain function per (method, route).

A handler gets a `Call` (the authenticated principal, path parameters, parsed
body and query, the state and the time) and returns a `Reply` or raises
`ApiError`. It does no I/O: the pipeline (``_pipeline.py``) reads, records,
authenticates, rate-limits, injects faults and writes around it.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Callable
from typing import Any

from ._clock import iso
from ._outcomes import DESIGN_EXTRACTORS, parse_directives
from ._state import (
    CREDENTIAL_FIELDS,
    PLATFORMS,
    BusinessState,
    State,
    Task,
    remember_secret,
)

__all__ = ["ROUTES", "ApiError", "Call", "Principal", "Reply", "match_route", "submitted"]

MAX_END_USER_ID = 256
MAX_STEPS = 25
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 100


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

    def reply(self) -> Reply:
        """This error as the JSON answer the API gives."""
        return Reply(self.status, {"error": self.message, **self.extra}, self.headers)


@dataclasses.dataclass
class Reply:
    """A JSON answer before it is serialised (step faults edit ``payload`` in place)."""

    status: int
    payload: Any
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling: their business, the token kind and the rate-limit bucket."""

    biz: BusinessState
    kind: str  # "key" or "dashboard"
    rate_id: str


@dataclasses.dataclass(frozen=True)
class Call:
    """One authenticated request as a handler sees it."""

    state: State
    now: float
    principal: Principal
    params: dict[str, str]
    body: Any  # parsed JSON, None when there was no body
    query: dict[str, str]

    def object_body(self, *, required: bool) -> dict[str, Any]:
        if self.body is None:
            if required:
                raise ApiError(400, "Request body must be a JSON object")
            return {}
        if not isinstance(self.body, dict):
            raise ApiError(400, "Request body must be a JSON object")
        return self.body

    def end_user_id(self, body: dict[str, Any]) -> str:
        value = body.get("endUserId")
        if value is None:
            if self.principal.kind == "dashboard":
                return "self"
            raise ApiError(400, "endUserId is required")
        if not isinstance(value, str):
            raise ApiError(400, "endUserId must be a string")
        return _check_end_user_id(value)

    def dashboard_only(self) -> None:
        if self.principal.kind != "dashboard":
            raise ApiError(401, "API keys cannot manage API keys; use a dashboard token")

    @property
    def biz_id(self) -> str:
        return self.principal.biz.business.id


def submitted(task: Task) -> dict[str, Any]:
    """The body of a 201 to ``POST /v1/tasks`` for ``task``."""
    return {
        "taskId": task.id,
        "sessionId": task.session_id,
        "status": "pending",
        "createdAt": iso(task.created_at),
    }


def _check_quota(biz: BusinessState) -> None:
    quota = biz.business.monthly_quota
    if quota is not None and biz.used >= quota:
        raise ApiError(
            429,
            f"Monthly limit of {quota} tasks reached. Upgrade your plan to run more tasks.",
            {"limit": quota, "used": biz.used},
        )


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


# -- tasks and sessions ------------------------------------------------------------


def submit_task(call: Call) -> Reply:
    body = call.object_body(required=True)
    end_user_id = call.end_user_id(body)
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
        session = call.state.sessions.get(session_id)
        if session is None or session.business_id != call.biz_id:
            raise ApiError(404, f"Session not found: {session_id}")
    biz = call.principal.biz
    _check_quota(biz)
    clean, directives = parse_directives(text)
    task = call.state.create_task(
        biz,
        end_user_id=end_user_id,
        text=text,
        session=session,
        now=call.now,
        body=body,
        start_url=start_url,
        schema=schema,
        max_steps=max_steps,
        include_html=bool(html),
        directives=directives,
        clean_text=clean,
    )
    return Reply(201, submitted(task))


def list_tasks(call: Call) -> Reply:
    raw = call.query.get("limit")
    limit = DEFAULT_LIST_LIMIT
    if raw is not None:
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise ApiError(400, "limit must be a positive integer")
        limit = min(int(raw), MAX_LIST_LIMIT)
    return Reply(200, {"sessions": call.state.list_sessions(call.principal.biz, limit, call.now)})


def get_task(call: Call) -> Reply:
    task = call.state.tasks.get(call.params["taskId"])
    if task is None or task.business_id != call.biz_id:
        raise ApiError(404, f"Task not found: {call.params['taskId']}")
    return Reply(200, task.wire(call.now))


def get_session(call: Call) -> Reply:
    session = call.state.sessions.get(call.params["sessionId"])
    if session is None or session.business_id != call.biz_id:
        raise ApiError(404, f"Session not found: {call.params['sessionId']}")
    tasks = [call.state.tasks[t].wire(call.now) for t in session.task_ids]
    return Reply(200, {"sessionId": session.id, "tasks": tasks})


# -- credentials ---------------------------------------------------------------------


def put_credentials(call: Call) -> Reply:
    end_user_id = _check_end_user_id(call.params["endUserId"])
    body = call.object_body(required=True)
    fields = {k: v for k, v in body.items() if k in CREDENTIAL_FIELDS}
    if not fields:
        raise ApiError(
            400,
            "No recognized credential field; expected some of: " + ", ".join(CREDENTIAL_FIELDS),
        )
    for name, value in fields.items():
        if not isinstance(value, str):
            raise ApiError(400, f"{name} must be a string")
    stored = call.principal.biz.credentials.setdefault(end_user_id, {})
    for name, value in fields.items():
        if value:
            stored[name] = value
            remember_secret("credential", value)
        else:
            stored.pop(name, None)
    return Reply(200, {"ok": True})


def get_credentials(call: Call) -> Reply:
    end_user_id = _check_end_user_id(call.params["endUserId"])
    stored = call.principal.biz.credentials.get(end_user_id, {})
    platforms = {
        platform: any(name in stored for name in names) for platform, names in PLATFORMS.items()
    }
    return Reply(200, {"endUserId": end_user_id, "platforms": platforms})


def delete_credentials(call: Call) -> Reply:
    end_user_id = _check_end_user_id(call.params["endUserId"])
    body = call.object_body(required=False)
    names = body.get("fields")
    credentials = call.principal.biz.credentials
    if names is None:
        credentials.pop(end_user_id, None)
        return Reply(200, {"ok": True})
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError(400, "fields must be a list of credential field names")
    unknown = [n for n in names if n not in CREDENTIAL_FIELDS]
    if unknown:
        raise ApiError(400, "Unknown credential field(s): " + ", ".join(unknown))
    stored = credentials.get(end_user_id, {})
    for name in names:
        stored.pop(name, None)
    return Reply(200, {"ok": True})


# -- API keys --------------------------------------------------------------------------


def create_key(call: Call) -> Reply:
    call.dashboard_only()
    body = call.object_body(required=False)
    label = _optional(body, "label", str, "a string")
    if label is not None and len(label) > 256:
        raise ApiError(400, "label must be at most 256 characters")
    key, record = call.state.mint_key(call.biz_id, label, call.now)
    return Reply(
        201,
        {
            "key": key,
            "prefix": record.prefix,
            "label": record.label,
            "createdAt": iso(record.created_at),
        },
    )


def list_keys(call: Call) -> Reply:
    call.dashboard_only()
    keys = [
        record.wire()
        for record in call.state.prefixes.values()
        if record.business_id == call.biz_id
    ]
    return Reply(200, {"keys": keys})


def revoke_key(call: Call) -> Reply:
    call.dashboard_only()
    prefix = call.params["prefix"]
    record = call.state.prefixes.get(prefix)
    if record is None or record.business_id != call.biz_id:
        raise ApiError(404, f"API key not found: {prefix}")
    call.state.revoke(prefix, call.now)
    return Reply(200, {"ok": True})


# -- design extraction ---------------------------------------------------------------


def design(call: Call) -> Reply:
    body = call.object_body(required=True)
    url = body.get("url")
    if not isinstance(url, str) or not url:
        raise ApiError(400, "url is required and must be a string")
    split = urllib.parse.urlsplit(url)
    if split.scheme not in ("http", "https") or not split.netloc:
        raise ApiError(400, "url must be an absolute http(s) URL")
    end_user_id = call.end_user_id(body)
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
    _check_quota(call.principal.biz)
    extractors = list(dict.fromkeys(extractors))
    task = call.state.create_task(
        call.principal.biz,
        end_user_id=end_user_id,
        text=f"[design] {url}",
        session=None,
        now=call.now,
        body=body,
        start_url=url,
        design={"url": url, "extractors": extractors},
    )
    return Reply(202, {**submitted(task), "extractors": extractors})


# -- the route table -------------------------------------------------------------------

Handler = Callable[[Call], Reply]

# Path template -> method -> handler. Templates use one placeholder per
# segment; a placeholder matches exactly one percent-decoded segment. The
# methods of a template are its ``Allow`` header.
ROUTES: dict[str, dict[str, Handler]] = {
    "/v1/tasks": {"GET": list_tasks, "POST": submit_task},
    "/v1/tasks/{taskId}": {"GET": get_task},
    "/v1/sessions/{sessionId}": {"GET": get_session},
    "/v1/end-users/{endUserId}/credentials": {
        "GET": get_credentials,
        "PUT": put_credentials,
        "DELETE": delete_credentials,
    },
    "/v1/api-keys": {"GET": list_keys, "POST": create_key},
    "/v1/api-keys/{prefix}": {"DELETE": revoke_key},
    "/v1/design/extract": {"POST": design},
}
_SPLIT_ROUTES = [(template, template.strip("/").split("/")) for template in ROUTES]


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
