"""Run an Emulator on its own event loop in a daemon thread, for sync code."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ._clock import Clock
from ._emulator import Emulator
from ._faults import Fault
from ._records import Business, RecordedRequest, TaskTimes
from ._state import Script

__all__ = ["EmulatorThread"]

T = TypeVar("T")


class EmulatorThread:
    """``with EmulatorThread(**emulator_kwargs) as emu:`` — an Emulator serving from a
    daemon thread. Mutating helpers run on the emulator's loop (thread-safe)."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._emulator: Emulator | None = None
        self._stop: asyncio.Event | None = None

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> EmulatorThread:
        if self._thread is not None:
            return self
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="stablebrowse-emulator", daemon=True
        )
        self._thread.start()
        try:
            ready.result()
        except BaseException:
            self._thread.join()
            self._thread = None
            raise
        return self

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self, ready: concurrent.futures.Future[None]) -> None:
        try:
            emulator = Emulator(**self._kwargs)
            await emulator.start()
        except BaseException as error:
            ready.set_exception(error)
            return
        self._emulator = emulator
        self._stop = asyncio.Event()
        ready.set_result(None)
        try:
            await self._stop.wait()
        finally:
            await emulator.close()

    def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join()

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- access -------------------------------------------------------------------

    @property
    def emulator(self) -> Emulator:
        """The underlying Emulator (touch its state only through ``call``)."""
        if self._emulator is None:
            raise RuntimeError("the emulator thread is not started")
        return self._emulator

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` on the emulator's loop and return its result
        (awaited if it is a coroutine function or returns an awaitable)."""
        loop = self._loop
        if loop is None or self._emulator is None:
            raise RuntimeError("the emulator thread is not started")

        async def runner() -> Any:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(runner(), loop).result()

    @property
    def url(self) -> str:
        return self.emulator.url

    @property
    def api_key(self) -> str:
        return self.emulator.api_key

    @property
    def dashboard_token(self) -> str:
        return self.emulator.dashboard_token

    @property
    def business(self) -> Business:
        return self.emulator.business

    @property
    def clock(self) -> Clock:
        return self.emulator.clock

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.emulator.requests

    @property
    def faults(self) -> list[Fault]:
        return self.emulator.faults

    def add_business(self, name: str = "other", monthly_quota: int | None = None) -> Business:
        result: Business = self.call(self.emulator.add_business, name, monthly_quota)
        return result

    def mint_api_key(self, business: Business | str | None = None, label: str | None = None) -> str:
        result: str = self.call(self.emulator.mint_api_key, business, label)
        return result

    def revoke_api_key(self, key_or_prefix: str) -> None:
        self.call(self.emulator.revoke_api_key, key_or_prefix)

    def tasks_created(self, business: Business | str | None = None) -> int:
        result: int = self.call(self.emulator.tasks_created, business)
        return result

    def task_record(self, task_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(self.emulator.task_record, task_id)
        return result

    def task_times(self, task_id: str) -> TaskTimes:
        result: TaskTimes = self.call(self.emulator.task_times, task_id)
        return result

    def all_task_times(self) -> list[TaskTimes]:
        result: list[TaskTimes] = self.call(self.emulator.all_task_times)
        return result

    def create_task(self, task: str, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call(self.emulator.create_task, task, **kwargs)
        return result

    def set_script(self, fn: Script | None) -> None:
        self.call(self.emulator.set_script, fn)

    def clear_requests(self) -> None:
        self.call(self.emulator.clear_requests)
