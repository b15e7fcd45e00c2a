"""The emulator: its options, lifecycle and helpers; requests go through ``_pipeline.py``."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from ._clock import Clock, MonotonicClock, RealClock
from ._durations import Durations
from ._faults import Fault
from ._handlers import submitted
from ._outcomes import parse_directives
from ._pipeline import Pipeline, RateLimiter
from ._records import Business, RecordedRequest, TaskTimes
from ._state import BusinessState, Script, State

__all__ = ["Emulator"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        durations: tuple[float, float] | Durations | str = (0.5, 3.0),
        pending_for: float = 0.1,
        failure_rate: float = 0.0,
        script: Script | None = None,
        monthly_quota: int | None = None,
        rate_limit: tuple[int, float] | None = None,
        faults: Sequence[Fault] = (),
        rate_limit_clock: Clock | None = None,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the emulator listens on loopback only, not {host!r}")
        self.host = host
        self.port = port
        self.clock: Clock = clock if clock is not None else RealClock()
        self.seed = seed
        self._state = State(
            seed=seed,
            durations=Durations.of(durations),
            pending_for=pending_for,
            failure_rate=failure_rate,
            script=script,
        )
        self._rate_clock: Clock = rate_limit_clock or MonotonicClock()
        self._pipeline = Pipeline(
            self._state, self.clock, seed=seed, faults=list(faults), limiter=None
        )
        self.rate_limit = rate_limit
        self.business = self._state.add_business("default", monthly_quota, self.clock.now())
        self._runner: web.ServerRunner | None = None
        self._url: str | None = None

    @property
    def faults(self) -> list[Fault]:
        """The fault rules, checked in order for every request (edit in place or assign)."""
        return self._pipeline.faults

    @faults.setter
    def faults(self, faults: list[Fault]) -> None:
        self._pipeline.faults = faults

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first (see `RecordedRequest`)."""
        return self._pipeline.requests

    @requests.setter
    def requests(self, requests: list[RecordedRequest]) -> None:
        self._pipeline.requests = requests

    @property
    def rate_limit(self) -> tuple[int, float] | None:
        """``(max_requests, per_seconds)`` per key or token, or None for no limit."""
        limiter = self._pipeline.limiter
        return None if limiter is None else (limiter.max_requests, limiter.per_seconds)

    @rate_limit.setter
    def rate_limit(self, value: tuple[int, float] | None) -> None:
        self._pipeline.limiter = (
            None if value is None else RateLimiter(value[0], value[1], self._rate_clock)
        )

    @property
    def durations(self) -> Durations:
        """The distribution of task durations (``[[duration=...]]`` directives win over it)."""
        return self._state.durations

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> Emulator:
        if self._runner is not None:
            return self
        server = web.Server(self._pipeline.serve)
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

    def task_times(self, task_id: str) -> TaskTimes:
        """When a task was created, started and (truly) finished (KeyError if unknown)."""
        return self._state.tasks[task_id].times()

    def all_task_times(self) -> list[TaskTimes]:
        """`task_times` of every task, in creation order."""
        return [task.times() for task in self._state.tasks.values()]

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
        return submitted(created)

    def set_script(self, fn: Script | None) -> None:
        """Replace the outcome script (None = random outcomes and directives)."""
        self._state.script = fn

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self.requests.clear()

    def _biz(self, business: Business | str | None) -> BusinessState:
        if business is None:
            return self._state.businesses[self.business.id]
        biz_id = business.id if isinstance(business, Business) else business
        return self._state.businesses[biz_id]
