"""The hand-written half of the sync facade: one event-loop thread per `Client`.

`Portal` owns the `AsyncClient` and a loop thread started on first use; generated
classes hold their async twin and hand its coroutines to `Portal.call`: two thread
hand-offs (the caller schedules the coroutine and blocks on its future; the loop
sets it). A forked child keeps the `AsyncClient` and starts a new loop thread.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from concurrent import futures
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from typing import ParamSpec

    from typing_extensions import Self

    from .._client import AsyncClient

    P = ParamSpec("P")

__all__ = ["ClientBase", "Portal", "SyncIterator", "SyncResource", "blocking_allowed"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
A = TypeVar("A")
S = TypeVar("S", bound="SyncResource[Any]")
_Coro = Coroutine[Any, Any, T]

#: How long a blocked caller sleeps between looks at its future: forever on POSIX,
#: where a lock wait returns to run signal handlers (Ctrl-C); in slices elsewhere.
_SLICE = None if os.name == "posix" else 0.1
_THREAD = "stablebrowse-sync-loop"
_REFUSED = (
    "stablebrowse_async.sync.Client was called from a thread that is running an event loop: blocking"
    " here would freeze that loop (or deadlock). In async code use stablebrowse_async.AsyncClient"
    " and await its methods instead."
)
#: Every live Portal, for the fork hook (weak: it keeps no client alive).
_portals: weakref.WeakSet[Portal] = weakref.WeakSet()
#: Loops a forked child inherited: never run, closed or collected there (they are the parent's).
_inherited: list[object] = []


def blocking_allowed() -> bool:
    """True when the calling thread may block on a sync call.

    It may when it runs no event loop, and in the main thread of a Jupyter
    kernel (``IPython.get_ipython()`` is a shell with a ``kernel``): a cell
    runs inside the kernel's loop, but the call runs in the portal's thread,
    so the cell just waits. Any other running loop (a web app's) would freeze.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    ipython = sys.modules.get("IPython")
    if ipython is None or threading.current_thread() is not threading.main_thread():
        return False
    return getattr(ipython.get_ipython(), "kernel", None) is not None  # a Jupyter kernel's shell


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(_cancel_others(loop.shutdown_asyncgens))
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


async def _cancel_others(then: Callable[[], Awaitable[object]]) -> None:
    """Cancel every other task of the loop, wait for them to end, then ``await then()``."""
    others = asyncio.all_tasks() - {asyncio.current_task()}
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    await then()


def _wait(future: futures.Future[T]) -> T:
    """Block until `future` is done; on an exception in this thread (Ctrl-C), cancel it and re-raise."""
    try:
        while not future.done():
            with suppress(futures.TimeoutError):  # a slice ended (or the call raised it)
                future.result(_SLICE)
        return future.result()
    except futures.CancelledError:
        raise RuntimeError("the Client was closed while this call was in flight") from None
    except BaseException:
        future.cancel()  # a no-op when the call already finished
        raise


class _State:
    """What one Portal owns, apart from it so that its finalizer need not reference it."""

    __slots__ = ("client", "closed", "loop", "thread")

    def __init__(self, client: AsyncClient) -> None:
        self.client, self.closed = client, False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    def shutdown(self) -> None:
        """End the calls in flight, close the AsyncClient in the loop, stop and join the thread."""
        self.closed = True
        loop, thread, self.loop, self.thread = self.loop, self.thread, None, None
        if loop is not None and thread is not None:
            try:
                asyncio.run_coroutine_threadsafe(_cancel_others(self.client.aclose), loop).result()
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join()

    def collected(self) -> None:
        """The Client was dropped (or the interpreter exits) open: close it, if this thread may wait."""
        if blocking_allowed():  # not in the loop thread itself, which would wait for itself
            with suppress(Exception):
                self.shutdown()


class Portal:
    """The loop thread and the `AsyncClient` behind one sync `Client`."""

    __slots__ = ("__weakref__", "_finalizer", "_lock", "_state", "client")

    def __init__(self, client: AsyncClient) -> None:
        self.client, self._state, self._lock = client, _State(client), threading.Lock()
        self._finalizer = weakref.finalize(self, self._state.collected)
        _portals.add(self)

    def _loop(self) -> asyncio.AbstractEventLoop:
        # The running loop, started on first use (call with the lock held).
        state = self._state
        if state.closed:
            raise RuntimeError("this Client is closed; create a new one")
        if state.loop is None:
            try:
                import uvloop  # (the `speed` extra)

                loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            except ImportError:
                loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_serve, args=(loop,), name=_THREAD, daemon=True)
            state.loop, state.thread = loop, thread
            thread.start()
        return state.loop

    def call(self, fn: Callable[P, _Coro[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``await fn(*args, **kwargs)`` (an ``async def``) in the loop thread; return its result."""
        if not blocking_allowed():
            raise RuntimeError(_REFUSED)
        coroutine = fn(*args, **kwargs)
        try:
            with self._lock:  # so that close() cannot stop the loop under this hand-off
                future = asyncio.run_coroutine_threadsafe(coroutine, self._loop())
        except BaseException:
            coroutine.close()
            raise
        return _wait(future)

    def close(self) -> None:
        """Close the AsyncClient and stop the loop thread. Idempotent."""
        if not blocking_allowed():
            raise RuntimeError(_REFUSED)
        with self._lock:
            self._finalizer.detach()
            self._state.shutdown()


def _after_fork_in_child() -> None:
    for portal in list(_portals):
        portal._lock, state = threading.Lock(), portal._state
        if state.loop is not None:
            _inherited.append(state.loop)
            state.loop = state.thread = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _AsyncClosingIterator(Protocol[T_co]):
    def __anext__(self) -> _Coro[T_co]: ...

    def aclose(self) -> _Coro[object]: ...


class SyncIterator(Generic[T]):
    """A sync iterator over an async one, each step run in the portal.

    Leaving a ``for`` loop early stops the work behind it: at once with `close()` or
    a ``with`` block, else when it is garbage-collected (right after a ``break``).
    """

    __slots__ = ("__weakref__", "_closed", "_iterator", "_portal")

    def __init__(self, portal: Portal, iterator: _AsyncClosingIterator[T]) -> None:
        self._portal, self._iterator, self._closed = portal, iterator, False

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> T:
        if self._closed:
            raise StopIteration
        try:
            return self._portal.call(self._iterator.__anext__)
        except StopAsyncIteration:
            self._closed = True
            raise StopIteration from None

    def close(self) -> None:
        """Stop the work behind the iterator now and wait until it is cleaned up. Idempotent."""
        if not self._closed:
            self._closed = True
            if not self._portal._state.closed:
                self._portal.call(self._iterator.aclose)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and (loop := self._portal._state.loop) is not None:
            self._closed, coroutine = True, self._iterator.aclose()
            try:  # start the clean-up in the loop thread, without waiting
                asyncio.run_coroutine_threadsafe(coroutine, loop)
            except RuntimeError:  # the loop is closed
                coroutine.close()


class SyncResource(Generic[A]):
    """Base of the generated classes: the portal, and the async object they wrap (`_async`)."""

    __slots__ = ("_async", "_portal")

    def __init__(self, portal: Portal, target: A) -> None:
        self._portal, self._async = portal, target
        self._bind_resources()

    def _bind_resources(self) -> None:
        """Set the resource attributes (``tasks``, ``credentials``, ...): generated classes do."""

    def _wrap(self, cls: type[S], target: object) -> S:
        """The sync `cls` wrapping `target` (an attribute or result of `_async`), on this portal."""
        wrapper = object.__new__(cls)
        SyncResource.__init__(wrapper, self._portal, target)
        return wrapper


class ClientBase(SyncResource["AsyncClient"]):
    """The StableBrowse API client for blocking code: the methods of `AsyncClient`, without ``await``.

    Safe to share between threads; for scripts, Django/Flask views, Celery
    workers and Jupyter notebooks. Its calls run in one event-loop thread it
    starts on first use and stops on `close()` (or a ``with`` block's end, or
    interpreter exit). From any other thread running an event loop they raise
    `RuntimeError`: use `AsyncClient` there. Ctrl-C cancels the request in
    flight. After ``os.fork()`` the child starts its own loop thread.
    """

    __slots__ = ("__dict__", "__weakref__")

    def __init__(self, client: AsyncClient) -> None:
        super().__init__(Portal(client), client)

    @property
    def is_closed(self) -> bool:
        """True once `close()` ran (on the original client, for a `with_options` copy)."""
        return self._portal._state.closed

    def close(self) -> None:
        """Close the connection pool and stop the loop thread. Idempotent.

        On a `with_options` copy this does nothing: the original owns them.
        """
        if self._async is self._portal.client:
            self._portal.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "Client" + repr(self._async).removeprefix("AsyncClient")
