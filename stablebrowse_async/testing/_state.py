"""The emulator's in-memory state: businesses, keys, tasks, sessions, credentials.

Everything here is plain data plus O(1) dict look-ups; task state is derived
from the clock on read, so there are no timers. Nothing here does I/O.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import heapq
import json
import random
import secrets
import threading
import uuid
from collections.abc import Callable
from typing import Any

from ._clock import iso
from ._durations import Durations
from ._faults import STEP_FAULT_KINDS
from ._outcomes import DEFAULT_RESULT, Outcome, design_results, generate_from_schema, step_details
from ._records import Business, TaskTimes

__all__ = [
    "CREDENTIAL_FIELDS",
    "PLATFORMS",
    "ApiKey",
    "BusinessState",
    "Session",
    "State",
    "Task",
    "minted_secrets",
    "remember_secret",
]

PLATFORMS: dict[str, tuple[str, ...]] = {
    "twitter": ("twitterAuthToken", "twitterCt0"),
    "reddit": ("redditSession",),
    "tiktok": ("tiktokSessionId", "tiktokCsrfToken"),
    "youtube": ("youtubeSid", "youtubeHsid", "youtubeSsid", "youtubeSapisid"),
    "instagram": ("instagramSessionId", "instagramCsrfToken", "instagramDsUserId"),
}
CREDENTIAL_FIELDS: tuple[str, ...] = tuple(f for fields in PLATFORMS.values() for f in fields)

Script = Callable[[dict[str, Any]], "Outcome | None"]


# -- secret registry ------------------------------------------------------------
# Every secret an emulator in this process minted or stored, so a test suite can
# scan its logs, exceptions and output for them (tests/reliability/_secrets.py
# does, for every test). Bounded: only the most recent MAX_REMEMBERED are kept.

MAX_REMEMBERED = 10_000
_remembered: dict[str, str] = {}  # secret -> kind, oldest first
_remembered_lock = threading.Lock()


def remember_secret(kind: str, value: str) -> None:
    """Record a secret the emulator minted or stored (``api_key``, ``dashboard_token``, ``credential``)."""
    if not value:
        return
    with _remembered_lock:
        _remembered.pop(value, None)
        _remembered[value] = kind
        while len(_remembered) > MAX_REMEMBERED:
            del _remembered[next(iter(_remembered))]


def minted_secrets() -> tuple[tuple[str, str], ...]:
    """``(kind, secret)`` pairs of every secret this process's emulators minted or stored.

    Kinds: ``"api_key"`` (keys of new businesses, `Emulator.mint_api_key` and
    ``POST /v1/api-keys``), ``"dashboard_token"`` and ``"credential"`` (values
    stored through ``PUT /v1/end-users/{id}/credentials``). Oldest first; the
    most recent `MAX_REMEMBERED` only. Emulators in other processes (the
    console) are not seen.
    """
    with _remembered_lock:
        return tuple((kind, value) for value, kind in _remembered.items())


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey:
    __slots__ = (
        "business_id",
        "created_at",
        "hash",
        "label",
        "last_used_at",
        "prefix",
        "revoked_at",
    )

    def __init__(
        self, business_id: str, prefix: str, hash_: str, label: str | None, created_at: float
    ) -> None:
        self.business_id = business_id
        self.prefix = prefix
        self.hash = hash_
        self.label = label
        self.created_at = created_at
        self.last_used_at: float | None = None
        self.revoked_at: float | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "label": self.label,
            "createdAt": iso(self.created_at),
            "lastUsedAt": None if self.last_used_at is None else iso(self.last_used_at),
            "revokedAt": None if self.revoked_at is None else iso(self.revoked_at),
        }


class Task:
    """One task: what was asked and how it will end; its state at time t is computed."""

    __slots__ = (
        "business_id",
        "created_at",
        "design",
        "duration",
        "end_user_id",
        "error",
        "html",
        "id",
        "pending_for",
        "result",
        "seed",
        "session_id",
        "start_url",
        "status",
        "steps",
        "steps_fault",
        "structured",
        "text",
        "visited_urls",
    )

    def __init__(self) -> None:
        self.id = ""
        self.session_id = ""
        self.business_id = ""
        self.end_user_id = ""
        self.text = ""
        self.created_at = 0.0
        self.pending_for = 0.0
        self.duration = 0.0
        self.status = "completed"
        self.result: Any = None
        self.error: str | None = None
        self.structured: dict[str, Any] | None = None  # None = key absent
        self.html: str | None = None  # None = key absent
        self.design: dict[str, Any] | None = None
        self.steps = 1
        self.visited_urls: list[str] | None = None
        self.start_url: str | None = None
        self.seed = 0
        # A [[steps_fault=KIND[:RATE]]] directive: (fault kind, probability per poll).
        self.steps_fault: tuple[str, float] | None = None

    def times(self) -> TaskTimes:
        """When it was created, started running and finished, on the emulator's clock."""
        return TaskTimes(
            task_id=self.id,
            created_at=self.created_at,
            started_at=self.created_at + self.pending_for,
            finished_at=self.created_at + self.duration,
            duration=self.duration,
        )

    def state_at(self, now: float) -> tuple[str, float]:
        """(status, updated_at) at time ``now``."""
        elapsed = now - self.created_at
        if elapsed >= self.duration:
            return self.status, self.created_at + self.duration
        if elapsed < self.pending_for:
            return "pending", self.created_at
        return "running", self.created_at + self.pending_for

    def updated_at(self, now: float) -> float:
        return self.state_at(now)[1]

    def wire(self, now: float) -> dict[str, Any]:
        status, updated = self.state_at(now)
        done = now - self.created_at >= self.duration
        record: dict[str, Any] = {
            "taskId": self.id,
            "sessionId": self.session_id,
            "endUserId": self.end_user_id,
            "businessId": self.business_id,
            "status": status,
            "task": self.text,
            "result": None,
            "totalSteps": 0,
            "durationMs": None,
            "visitedUrls": [],
            "stepSummaries": [],
            "createdAt": iso(self.created_at),
            "updatedAt": iso(updated),
        }
        if done:
            ok = self.status != "failed"
            visited, summaries = step_details(
                self.seed, self.steps, self.start_url, self.visited_urls, ok
            )
            record["result"] = self.result
            record["totalSteps"] = self.steps
            record["durationMs"] = round(self.duration * 1000)
            record["visitedUrls"] = visited
            record["stepSummaries"] = summaries
            if self.error is not None:
                record["error"] = self.error
        elif status == "running":
            span = max(self.duration - self.pending_for, 1e-9)
            progress = (now - self.created_at - self.pending_for) / span
            done_steps = min(self.steps - 1, int(self.steps * progress))
            if done_steps > 0:
                visited, summaries = step_details(
                    self.seed, self.steps, self.start_url, self.visited_urls, True
                )
                record["totalSteps"] = done_steps
                record["visitedUrls"] = visited[:done_steps]
                record["stepSummaries"] = summaries[:done_steps]
        completed = done and self.status == "completed"
        if self.structured is not None:
            record["structured_content"] = self.structured.get("value") if completed else None
        if self.html is not None:
            record["html_dump"] = self.html if completed else None
        if self.design is not None:
            record["design"] = (
                {
                    "url": self.design["url"],
                    "extractors": self.design["extractors"],
                    "durationMs": round(self.duration * 1000),
                    "results": design_results(
                        self.design["url"], self.design["extractors"], self.seed
                    ),
                }
                if completed
                else None
            )
        return record


class Session:
    __slots__ = ("business_id", "created_at", "end_user_id", "id", "last_activity", "task_ids")

    def __init__(self, id_: str, business_id: str, end_user_id: str, created_at: float) -> None:
        self.id = id_
        self.business_id = business_id
        self.end_user_id = end_user_id
        self.created_at = created_at
        self.last_activity = created_at
        self.task_ids: list[str] = []


class BusinessState:
    def __init__(self, business: Business) -> None:
        self.business = business
        self.used = 0
        # Insertion order = order of last activity (a session moves to the end
        # when a task is added), so listing reads from the end.
        self.sessions: dict[str, Session] = {}
        self.max_duration = 0.0
        self.credentials: dict[str, dict[str, str]] = {}


class State:
    """All businesses, keys, tokens, tasks and sessions of one emulator."""

    def __init__(
        self,
        *,
        seed: int,
        durations: Durations,
        pending_for: float,
        failure_rate: float,
        script: Script | None,
    ) -> None:
        self.durations = durations
        self.pending_for = max(0.0, float(pending_for))
        self.failure_rate = float(failure_rate)
        self.script = script
        self._rng = random.Random(seed)
        self._ids = random.Random(f"ids:{seed}")
        self.businesses: dict[str, BusinessState] = {}
        self.keys: dict[str, ApiKey] = {}  # sha256(key) -> record
        self.prefixes: dict[str, ApiKey] = {}  # prefix -> record
        self.dashboard_tokens: dict[str, str] = {}  # token -> business id
        self.tasks: dict[str, Task] = {}
        self.sessions: dict[str, Session] = {}

    # -- identities ----------------------------------------------------------

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def add_business(self, name: str, monthly_quota: int | None, now: float) -> Business:
        biz_id = "biz_" + self.new_id().replace("-", "")[:16]
        token = self._new_dashboard_token(biz_id, now)
        key, record = self._new_key(biz_id, "default", now)
        business = Business(biz_id, name, key, token, monthly_quota)
        remember_secret("api_key", key)
        remember_secret("dashboard_token", token)
        self.businesses[biz_id] = BusinessState(business)
        self.dashboard_tokens[token] = biz_id
        self._store_key(record)
        return business

    def _new_dashboard_token(self, business_id: str, now: float) -> str:
        def b64(data: dict[str, Any]) -> str:
            raw = json.dumps(data, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        header = b64({"alg": "RS256", "typ": "JWT", "kid": "emulator"})
        payload = b64(
            {
                "sub": secrets.token_hex(8),
                "custom:businessId": business_id,
                "iat": int(now),
                "token_use": "id",
            }
        )
        return f"{header}.{payload}.{secrets.token_urlsafe(32)}"

    def _new_key(self, business_id: str, label: str | None, now: float) -> tuple[str, ApiKey]:
        while True:
            key = "sb_live_" + secrets.token_urlsafe(30)
            if key[:16] not in self.prefixes:
                return key, ApiKey(business_id, key[:16], key_hash(key), label, now)

    def _store_key(self, record: ApiKey) -> None:
        self.keys[record.hash] = record
        self.prefixes[record.prefix] = record

    def mint_key(self, business_id: str, label: str | None, now: float) -> tuple[str, ApiKey]:
        key, record = self._new_key(business_id, label, now)
        self._store_key(record)
        remember_secret("api_key", key)
        return key, record

    def revoke(self, prefix: str, now: float) -> None:
        record = self.prefixes[prefix[:16]]
        if record.revoked_at is None:
            record.revoked_at = now

    # -- tasks ---------------------------------------------------------------

    def create_task(
        self,
        biz: BusinessState,
        *,
        end_user_id: str,
        text: str,
        session: Session | None,
        now: float,
        body: dict[str, Any],
        start_url: str | None = None,
        schema: dict[str, Any] | None = None,
        max_steps: int = 25,
        include_html: bool = False,
        design: dict[str, Any] | None = None,
        directives: dict[str, str] | None = None,
        clean_text: str = "",
    ) -> Task:
        outcome = self.script(body) if self.script is not None else None
        if outcome is None:
            outcome = self._outcome_from(directives or {})
        rng = self._rng
        fails = rng.random() < self.failure_rate
        status = outcome.status
        if fails and outcome == Outcome():
            status = "failed"
        duration = outcome.duration if outcome.duration is not None else self.durations.sample(rng)
        duration = max(0.0, float(duration))
        task = Task()
        task.id = self.new_id()
        task.business_id = biz.business.id
        task.end_user_id = end_user_id
        task.text = text
        task.created_at = now
        task.duration = duration
        task.pending_for = min(self.pending_for, duration)
        task.status = status
        task.seed = rng.getrandbits(32)
        task.steps = outcome.steps if outcome.steps is not None else rng.randint(1, max_steps)
        task.start_url = start_url
        task.visited_urls = outcome.visited_urls
        if outcome.result is not DEFAULT_RESULT:
            task.result = outcome.result
        elif status == "completed":
            task.result = f"Done: {clean_text or text}"
        if status == "failed":
            task.error = outcome.error or "Simulated failure: the agent could not complete the task"
        elif outcome.error is not None:
            task.error = outcome.error
        if schema is not None or outcome.structured_content is not None:
            value = outcome.structured_content
            if value is None:
                value = generate_from_schema(schema, random.Random(task.seed))
            task.structured = {"value": value}
        if include_html:
            task.html = (
                "<!DOCTYPE html><html><head><title>Emulated page</title></head>"
                f"<body><h1>{_escape(start_url or 'https://example.com')}</h1>"
                f"<p>{_escape(clean_text or text)}</p></body></html>"
            )
        task.design = design
        task.steps_fault = _steps_fault((directives or {}).get("steps_fault"))
        if session is None:
            session = Session(self.new_id(), biz.business.id, end_user_id, now)
            self.sessions[session.id] = session
        else:
            del biz.sessions[session.id]
        biz.sessions[session.id] = session
        session.last_activity = now
        session.task_ids.append(task.id)
        task.session_id = session.id
        self.tasks[task.id] = task
        biz.used += 1
        biz.max_duration = max(biz.max_duration, duration)
        return task

    def _outcome_from(self, directives: dict[str, str]) -> Outcome:
        if not directives:
            return Outcome()
        fields: dict[str, Any] = {}
        if "fail" in directives:
            fields["status"] = "failed"
            if directives["fail"]:
                fields["error"] = directives["fail"]
        if directives.get("status"):
            fields["status"] = directives["status"]
        if "duration" in directives:
            with contextlib.suppress(ValueError):
                fields["duration"] = float(directives["duration"])
        if "steps" in directives:
            with contextlib.suppress(ValueError):
                fields["steps"] = max(1, int(directives["steps"]))
        if "result" in directives:
            fields["result"] = directives["result"]
        if "error" in directives:
            fields["error"] = directives["error"]
        return Outcome(**fields)

    # -- sessions --------------------------------------------------------------

    def session_updated_at(self, session: Session, now: float) -> float:
        return max(self.tasks[t].updated_at(now) for t in session.task_ids)

    def session_summary(self, session: Session, now: float) -> dict[str, Any]:
        last = self.tasks[session.task_ids[-1]]
        return {
            "sessionId": session.id,
            "endUserId": session.end_user_id,
            "createdAt": iso(session.created_at),
            "updatedAt": iso(self.session_updated_at(session, now)),
            "taskCount": len(session.task_ids),
            "lastTask": last.text,
            "lastStatus": last.state_at(now)[0],
        }

    def list_sessions(self, biz: BusinessState, limit: int, now: float) -> list[dict[str, Any]]:
        """The ``limit`` sessions with the newest ``updatedAt``, newest first.

        Sessions are kept in order of last activity. A session's updatedAt is
        at most its last activity plus the longest task duration, so the scan
        from the newest end stops as soon as no older session can still beat
        the current top ``limit`` — O(limit) in the usual case, not O(sessions).
        """
        heap: list[tuple[float, int, str]] = []
        for order, session_id in enumerate(reversed(biz.sessions)):
            session = biz.sessions[session_id]
            if len(heap) >= limit and session.last_activity + biz.max_duration < heap[0][0]:
                break
            item = (self.session_updated_at(session, now), -order, session_id)
            if len(heap) < limit:
                heapq.heappush(heap, item)
            else:
                heapq.heappushpop(heap, item)
        heap.sort(reverse=True)
        return [self.session_summary(biz.sessions[sid], now) for _, _, sid in heap]


def _steps_fault(value: str | None) -> tuple[str, float] | None:
    """Read ``drop``, ``shuffle`` or ``truncate``, optionally ``:RATE``; None if absent or bad
    (like the other directives, a malformed one is ignored)."""
    if not value:
        return None
    name, _, raw_rate = value.partition(":")
    kind = "steps_" + name.strip().lower()
    if kind not in STEP_FAULT_KINDS:
        return None
    try:
        rate = float(raw_rate) if raw_rate.strip() else 1.0
    except ValueError:
        return None
    return (kind, rate) if 0.0 <= rate <= 1.0 else None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
