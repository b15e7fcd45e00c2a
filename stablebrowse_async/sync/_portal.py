"""The hand-written half of the sync facade: one event-loop thread per `Client`.

`Portal` owns an asyncio loop running in a daemon thread, started on first
use, and the `AsyncClient` every call runs on. The generated classes in
`_generated.py` hold their async twin and hand its coroutines to
`Portal.call`; everything with behaviour lives here:

- a call is two thread hand-offs: the caller schedules the coroutine on the
  loop (``run_coroutine_threadsafe``) and blocks on its future; the loop
  sets the future when the coroutine ends;
- calls block the caller's thread, never the loop; from a thread that runs
  an event loop they raise `RuntimeError` instead of freezing it, except in
  the main thread of a Jupyter/IPython kernel (see `blocking_allowed`);
- Ctrl-C (or any exception raised in the waiting thread) cancels the
  coroutine in flight, then propagates;
- after `os.fork()` the child keeps the same `AsyncClient` (its connection
  pool drops the parent's sockets itself) and starts a new loop thread on
  first use;
- `close()`, the end of a ``with`` block, garbage collection and interpreter
  exit all close the `AsyncClient` inside its loop, then stop the thread.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress
from types import TracebackType
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

#: How long a blocked caller sleeps between looks at its future: forever on POSIX,
#: where a lock wait returns to run signal handlers (Ctrl-C); in slices elsewhere.
_SLICE = None if os.name == "posix" else 0.1
THREAD_NAME = "stablebrowse-sync-loop"

#: Every live Portal, for the fork and exit hooks (weak: it keeps no client alive).
_portals: weakref.WeakSet[Portal] = weakref.WeakSet()
#: Loops inherited from the parent by a forked child: never run, closed or collected
#: there (their thread does not exist in the child; their file descriptors are the parent's).
_inherited: list[object] = []


def _in_kernel_main_thread() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None or threading.current_thread() is not threading.main_thread():
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def blocking_allowed() -> bool:
    """True when the calling thread may block on a sync call.

    It may when it runs no event loop, and in the main thread of a Jupyter
    (IPython) kernel: a notebook cell runs inside the kernel's loop, but
    the call runs in the portal's own thread, so blocking the cell cannot
    deadlock; the kernel simply waits, as it does for any blocking cell.
    Any other running loop (an async web app) would freeze: not allowed.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return _in_kernel_main_thread()


def refuse_inside_event_loop() -> None:
    """Raise `RuntimeError` when the calling thread may not block (see `blocking_allowed`)."""
    if not blocking_allowed():
        raise RuntimeError(
            "stablebrowse_async.sync.Client was called from a thread that is running an "
            "event loop: blocking here would freeze that loop (or deadlock). In async code "
            "use stablebrowse_async.AsyncClient and await its methods instead."
        )


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # (the `speed` extra)
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """The loop thread: run until stopped, then finish what the stop left and close."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(_cancel_others())  # calls that raced with the stop
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


async def _cancel_others() -> None:
    others = asyncio.all_tasks() - {asyncio.current_task()}
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


async def _invoke(
    fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    return await fn(*args, **kwargs)


async def _quietly(fn: Callable[[], Awaitable[object]]) -> None:
    with suppress(Exception):
        await fn()


def _wait(future: Future[T]) -> T:
    """Block until `future` is done; on an exception in this thread (Ctrl-C), cancel it and re-raise."""
    try:
        while True:
            try:
                return future.result(_SLICE)
            except FutureTimeout:
                if future.done():  # the coroutine's own TimeoutError
                    return future.result()
    except FutureCancelled:
        raise RuntimeError("the Client was closed while this call was in flight") from None
    except BaseException:
        future.cancel()  # a no-op when the call already finished
        raise


class _State:
    """What one Portal owns, apart from the Portal so that its finalizer need not reference it."""

    __slots__ = ("client", "closed", "loop", "thread")

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.closed = False


async def _close(client: AsyncClient) -> None:
    await _cancel_others()  # calls in flight end as cancelled before the pool closes
    await client.aclose()


def _shutdown(state: _State) -> None:
    """Cancel what runs in the loop, close the AsyncClient there, stop and join the thread."""
    state.closed = True
    loop, thread = state.loop, state.thread
    state.loop = state.thread = None
    if loop is None or thread is None:
        return
    try:
        asyncio.run_coroutine_threadsafe(_close(state.client), loop).result()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


def _finalize(state: _State) -> None:
    # The Client was garbage-collected without close(). From the loop thread
    # itself we cannot wait for the loop: leave it to the exit hook.
    if blocking_allowed():
        with suppress(Exception):
            _shutdown(state)


class Portal:
    """The loop thread and the `AsyncClient` behind one sync `Client`."""

    __slots__ = ("__weakref__", "_finalizer", "_lock", "_state", "client")

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self._state = _State(client)
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _finalize, self._state)
        self._finalizer.atexit = False
        _portals.add(self)

    @property
    def closed(self) -> bool:
        """True once `close` ran."""
        return self._state.closed

    def _loop(self) -> asyncio.AbstractEventLoop:
        """The running loop, started on first use (call with the lock held)."""
        state = self._state
        if state.closed:
            raise RuntimeError("this Client is closed; create a new one")
        if state.loop is None:
            loop = _new_loop()
            thread = threading.Thread(target=_serve, args=(loop,), name=THREAD_NAME, daemon=True)
            thread.start()
            state.loop, state.thread = loop, thread
        return state.loop

    def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``await fn(*args, **kwargs)`` in the loop thread and return its result."""
        refuse_inside_event_loop()
        coroutine = _invoke(fn, args, kwargs)
        try:
            with self._lock:  # so that close() cannot stop the loop under this hand-off
                future = asyncio.run_coroutine_threadsafe(coroutine, self._loop())
        except BaseException:
            coroutine.close()
            raise
        return _wait(future)

    def call_soon(self, fn: Callable[[], Awaitable[object]]) -> None:
        """Start ``fn()`` in the loop thread without waiting; nothing happens when it is stopped."""
        loop = self._state.loop
        if loop is not None:
            coroutine = _quietly(fn)
            try:
                asyncio.run_coroutine_threadsafe(coroutine, loop)
            except RuntimeError:  # the loop is closed
                coroutine.close()

    def close(self) -> None:
        """Close the AsyncClient and stop the loop thread. Idempotent."""
        refuse_inside_event_loop()
        with self._lock:
            self._finalizer.detach()
            _shutdown(self._state)


def _after_fork_in_child() -> None:
    for portal in list(_portals):
        portal._lock = threading.Lock()
        state = portal._state
        if state.loop is not None:
            _inherited.append(state.loop)
            state.loop = state.thread = None


def _close_all_at_exit() -> None:
    for portal in list(_portals):
        with suppress(Exception):
            portal.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)


class _AsyncClosingIterator(Protocol[T_co]):
    def __anext__(self) -> Awaitable[T_co]: ...

    def aclose(self) -> Awaitable[object]: ...


class SyncIterator(Generic[T]):
    """A sync iterator over an async one, each step run in the portal.

    Leaving a ``for`` loop early stops the work behind it: at once with
    `close()` or a ``with`` block, otherwise when the iterator is
    garbage-collected (right after a ``break`` in CPython).
    """

    __slots__ = ("__weakref__", "_closed", "_iterator", "_portal")

    def __init__(self, portal: Portal, iterator: _AsyncClosingIterator[T]) -> None:
        self._portal = portal
        self._iterator = iterator
        self._closed = False

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
        if self._closed:
            return
        self._closed = True
        if not self._portal.closed:
            self._portal.call(self._iterator.aclose)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            self._portal.call_soon(self._iterator.aclose)


class SyncResource(Generic[A]):
    """Base of the generated classes: the portal, and the async object they wrap (`_async`)."""

    __slots__ = ("_async", "_portal")

    def __init__(self, portal: Portal, target: A) -> None:
        self._portal = portal
        self._async = target
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

    Safe to share between threads; usable from plain scripts, Django/Flask views
    and Celery workers. Its calls run in one event-loop thread the client starts
    on first use and stops on `close()` (or at the end of a ``with`` block, or at
    interpreter exit). Calling it from a thread that runs an event loop raises
    `RuntimeError` (use `AsyncClient` there), except in a Jupyter notebook's
    cells, where it works as in a script. Ctrl-C cancels the request in flight.
    After ``os.fork()`` the child keeps the client and starts its own loop thread
    on first use.

    A client made by its constructor owns its `Portal` (loop thread and
    connection pool); a copy from `with_options` wraps the async copy on the
    same portal and owns nothing, like the async copy, which shares the pool.
    """

    __slots__ = ("__dict__", "__weakref__")

    def __init__(self, client: AsyncClient) -> None:
        super().__init__(Portal(client), client)

    @property
    def is_closed(self) -> bool:
        """True once `close()` ran (on the original client, for a `with_options` copy)."""
        return self._portal.closed

    def close(self) -> None:
        """Close the connection pool and stop the loop thread. Idempotent.

        On a `with_options` copy this does nothing: the original owns them.
        """
        if self._async is self._portal.client:
            self._portal.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return "Client" + repr(self._async).removeprefix("AsyncClient")
