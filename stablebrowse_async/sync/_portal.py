"""The hand-written half of the sync facade: one event-loop thread per `Client`.

`Portal` owns an anyio `BlockingPortal` (a daemon thread running an asyncio
loop), started on first use, and the `AsyncClient` every call runs on. The
generated classes in `_generated.py` only hand coroutines to `Portal.call`;
everything with behaviour lives here:

- calls block the caller's thread, never the loop; from a thread that runs
  an event loop they raise `RuntimeError` instead of deadlocking;
- Ctrl-C (or any exception raised in the waiting thread) cancels the
  coroutine in flight, then propagates;
- after `os.fork()` the child starts a fresh loop thread and `AsyncClient`
  (built from the same arguments) on first use;
- `close()`, the end of a ``with`` block, garbage collection and interpreter
  exit all close the `AsyncClient` inside its loop, then stop the thread.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager, suppress
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

if TYPE_CHECKING:
    from typing import Concatenate, ParamSpec

    from typing_extensions import Self

    from .._client import AsyncClient

    P = ParamSpec("P")

__all__ = ["ClientBase", "Portal", "SyncIterator", "SyncResource"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
A = TypeVar("A")
C = TypeVar("C")
S = TypeVar("S")

#: Seconds a blocked caller waits between checks, so that it sees Ctrl-C promptly.
_TICK = 0.1

#: Every live Portal, for the fork and exit hooks (weak: it keeps no client alive).
_portals: weakref.WeakSet[Portal] = weakref.WeakSet()
#: State inherited from the parent by a forked child: never used, never closed
#: (its sockets and its loop thread belong to the parent), never collected
#: (collecting it would warn about an unclosed session, or wait on a thread
#: that does not exist in the child).
_inherited: list[object] = []


def _backend_options() -> dict[str, Any]:
    try:
        import uvloop  # noqa: F401  (the `speed` extra)
    except ImportError:
        return {}
    return {"use_uvloop": True}


def refuse_inside_event_loop() -> None:
    """Raise `RuntimeError` when the calling thread runs an event loop (it would block it)."""
    if asyncio._get_running_loop() is not None:
        raise RuntimeError(
            "stablebrowse_async.sync.Client was called from a thread that is running an "
            "event loop: blocking here would freeze that loop (or deadlock). In async code "
            "use stablebrowse_async.AsyncClient and await its methods instead."
        )


async def _invoke(
    fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    return await fn(*args, **kwargs)


def _wait(future: Future[T]) -> T:
    """Block until `future` is done; on an exception in this thread (Ctrl-C), cancel it and re-raise."""
    try:
        while True:
            try:
                return future.result(_TICK)
            except FutureTimeout:
                if future.done():  # the coroutine's own TimeoutError, or done just now
                    return future.result()
    except FutureCancelled:
        raise RuntimeError("the Client was closed while this call was in flight") from None
    except BaseException:
        future.cancel()  # a no-op when the call already finished
        raise


class _Runtime:
    """A running loop thread: its portal and the context manager that stops it."""

    __slots__ = ("cm", "portal")

    def __init__(self, cm: AbstractContextManager[BlockingPortal], portal: BlockingPortal) -> None:
        self.cm = cm
        self.portal = portal


class _State:
    """What one Portal owns, apart from the Portal so that its finalizer need not reference it."""

    __slots__ = ("client", "closed", "runtime")

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.runtime: _Runtime | None = None
        self.closed = False


def _shutdown(state: _State) -> None:
    """Close the AsyncClient inside its loop, cancel what still runs there, join the thread."""
    state.closed = True
    runtime, state.runtime = state.runtime, None
    if runtime is None:
        return
    portal = runtime.portal
    try:
        portal.call(state.client.aclose)
    finally:
        with suppress(RuntimeError):  # already stopped
            portal.call(portal.stop, True)
        runtime.cm.__exit__(None, None, None)


def _finalize(state: _State) -> None:
    # The Client was garbage-collected without close(). From the loop thread
    # itself we cannot wait for the loop: leave it to the exit hook.
    if asyncio._get_running_loop() is None:
        with suppress(Exception):
            _shutdown(state)


class Portal:
    """The loop thread and the `AsyncClient` behind one sync `Client`."""

    __slots__ = ("__weakref__", "_factory", "_finalizer", "_lock", "_state")

    def __init__(self, factory: Callable[[], AsyncClient]) -> None:
        self._factory = factory
        # Built here, in the caller's thread, so bad arguments fail at once.
        # AsyncClient.__init__ touches no event loop (its aiohttp session is
        # created on first use, inside the portal's loop).
        self._state = _State(factory())
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _finalize, self._state)
        self._finalizer.atexit = False
        _portals.add(self)

    @property
    def client(self) -> AsyncClient:
        """The AsyncClient calls run on (a new one in a forked child)."""
        return self._state.client

    @property
    def closed(self) -> bool:
        """True once `close` ran."""
        return self._state.closed

    def _start(self) -> BlockingPortal:
        with self._lock:
            state = self._state
            if state.closed:
                raise RuntimeError("this Client is closed; create a new one")
            if state.runtime is None:
                cm = start_blocking_portal(
                    "asyncio", _backend_options(), name="stablebrowse-sync-loop"
                )
                state.runtime = _Runtime(cm, cm.__enter__())
            return state.runtime.portal

    def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``await fn(*args, **kwargs)`` in the loop thread and return its result."""
        refuse_inside_event_loop()
        runtime = self._state.runtime
        portal = runtime.portal if runtime is not None else self._start()
        future: Future[T] = portal.start_task_soon(_invoke, fn, args, kwargs)
        return _wait(future)

    def call_soon(self, fn: Callable[[], Awaitable[object]]) -> None:
        """Start ``fn()`` in the loop thread without waiting; nothing happens when it is stopped."""
        runtime = self._state.runtime
        if runtime is not None:
            with suppress(RuntimeError):  # stopped, or called from the loop thread
                runtime.portal.start_task_soon(fn)

    def close(self) -> None:
        """Close the AsyncClient and stop the loop thread. Idempotent."""
        refuse_inside_event_loop()
        with self._lock:
            self._finalizer.detach()
            _shutdown(self._state)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        old = self._state
        if old.closed:
            return
        _inherited.append(old)
        self._finalizer.detach()
        self._state = _State(self._factory())
        self._finalizer = weakref.finalize(self, _finalize, self._state)
        self._finalizer.atexit = False


def _after_fork_in_child() -> None:
    for portal in list(_portals):
        portal._after_fork_in_child()


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


def _identity(client: AsyncClient) -> AsyncClient:
    return client


class SyncResource(Generic[A]):
    """Base of the generated classes: a portal and how to find the async object behind it.

    `resolve` maps the portal's current AsyncClient to the async object
    (``client.tasks``, ``client.end_users("alice").credentials``, ...), so a
    sync object taken before a fork still works in the child.
    """

    __slots__ = ("_cache", "_portal", "_resolve")

    def __init__(self, portal: Portal, resolve: Callable[[AsyncClient], A]) -> None:
        self._portal = portal
        self._resolve = resolve
        self._cache: tuple[AsyncClient, A] | None = None

    @property
    def _async(self) -> A:
        client = self._portal.client
        cache = self._cache
        if cache is not None and cache[0] is client:
            return cache[1]
        target = self._resolve(client)
        self._cache = (client, target)
        return target

    def _child(
        self, cls: Callable[[Portal, Callable[[AsyncClient], C]], S], get: Callable[[A], C]
    ) -> S:
        """The sync wrapper `cls` of the async object ``get(self._async)``."""
        resolve = self._resolve
        return cls(self._portal, lambda client: get(resolve(client)))

    def _derive(
        self,
        cls: Callable[[Portal, Callable[[AsyncClient], C]], S],
        method: Callable[Concatenate[A, P], C],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> S:
        """The sync wrapper `cls` of ``method(self._async, ...)``, called now so bad arguments fail now."""
        resolve = self._resolve
        first = method(self._async, *args, **kwargs)
        child = cls(self._portal, lambda client: method(resolve(client), *args, **kwargs))
        if isinstance(child, SyncResource):
            child._cache = (self._portal.client, first)
        return child


class _Derived:
    """The `resolve` of a `with_options` copy: ``method(parent(client), ...)``, made once per client.

    Built again only when the portal's AsyncClient changes (after a fork), so
    the copy and its resources share one async copy.
    """

    __slots__ = ("_args", "_kwargs", "_last", "_method", "_parent")

    def __init__(
        self,
        parent: Callable[[AsyncClient], AsyncClient],
        method: Callable[..., AsyncClient],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self._parent = parent
        self._method = method
        self._args = args
        self._kwargs = kwargs
        self._last: tuple[AsyncClient, AsyncClient] | None = None

    def __call__(self, client: AsyncClient) -> AsyncClient:
        last = self._last
        if last is not None and last[0] is client:
            return last[1]
        made = self._method(self._parent(client), *self._args, **self._kwargs)
        self._last = (client, made)
        return made


class ClientBase(SyncResource["AsyncClient"]):
    """What the generated `Client` inherits: lifecycle, copies, context manager, repr.

    A client made by its constructor owns its `Portal` (loop thread and
    connection pool); a copy from `with_options` (`_clone`) runs on the same
    portal and owns nothing, like the async copy, which shares the pool.
    """

    __slots__ = ("__dict__", "__weakref__", "_owns_portal")

    def __init__(self, factory: Callable[[], AsyncClient]) -> None:
        super().__init__(Portal(factory), _identity)
        self._owns_portal = True
        self._bind_resources()

    def _bind_resources(self) -> None:
        """Set the resource attributes (``tasks``, ``sessions``, ...): the generated class does."""

    def _clone(
        self,
        method: Callable[Concatenate[AsyncClient, P], AsyncClient],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Self:
        """A copy on this portal whose AsyncClient is ``method(client, ...)``, called now so bad arguments fail now."""
        first = method(self._async, *args, **kwargs)
        resolve = _Derived(self._resolve, method, args, kwargs)
        resolve._last = (self._portal.client, first)
        clone = object.__new__(type(self))
        SyncResource.__init__(clone, self._portal, resolve)
        clone._owns_portal = False
        clone._bind_resources()
        return clone

    @property
    def is_closed(self) -> bool:
        """True once `close()` ran (on the original client, for a `with_options` copy)."""
        return self._portal.closed

    def close(self) -> None:
        """Close the connection pool and stop the loop thread. Idempotent.

        On a `with_options` copy this does nothing: the original owns them.
        """
        if self._owns_portal:
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
