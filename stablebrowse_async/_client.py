"""`AsyncClient`: configuration, the session's lifecycle, and the resource attributes."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from types import TracebackType
from urllib.parse import SplitResult, urlsplit

import aiohttp
import attrs

# Imported for its effect, before any request can be logged: the package logger
# gets the filter that keeps logged data from forging lines (see `_logging`).
# Here rather than in __init__, so that `import stablebrowse_async` stays cheap.
from . import _logging as _logging
from ._http import (
    DEFAULT_MAX_RESPONSE_BYTES,
    USER_AGENT,
    ConnectionPool,
    HttpTransport,
    RequestOptions,
)
from ._polling import DEFAULT_POLL_TIMEOUT, PollSettings
from ._retry import RateGate, RateLimitGate, RetryPolicy
from ._schedule import AdaptiveSchedule, PollSchedule
from .errors import StablebrowseError
from .resources.api_keys import ApiKeys
from .resources.design import Design
from .resources.end_users import EndUser
from .resources.sessions import Sessions
from .resources.tasks import Tasks
from .types import NOT_GIVEN, NotGiven

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_POLL_TIMEOUT", "AsyncClient"]

DEFAULT_BASE_URL = "https://api.stablebrowse.ai/v1"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def _resolve_api_key(api_key: str | None) -> str:
    key = api_key if api_key is not None else os.environ.get("STABLEBROWSE_API_KEY")
    if not key:
        raise StablebrowseError(
            "missing API key: pass api_key=... or set the STABLEBROWSE_API_KEY environment variable"
        )
    if not isinstance(key, str):
        raise TypeError(f"api_key must be a str, got {type(key).__name__}")
    key = key.strip()
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in key):
        # Never echo the key: it is a secret.
        raise ValueError("api_key contains whitespace or control characters")
    return key


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _resolve_base_url(base_url: str | None, allow_insecure: bool) -> str:
    url = base_url or os.environ.get("STABLEBROWSE_BASE_URL") or DEFAULT_BASE_URL
    if not isinstance(url, str):
        raise TypeError(f"base_url must be a str, got {type(url).__name__}")
    parts = urlsplit(url.strip())
    if parts.username or parts.password:
        raise ValueError("base_url must not embed credentials; pass api_key instead")
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {_shown(parts)!r}")
    if parts.query or parts.fragment:
        raise ValueError(
            f"base_url must not have a query or fragment, got {_shown(parts)!r} "
            "(the query and fragment are not repeated here: they may hold tokens)"
        )
    if parts.scheme == "http" and not allow_insecure and not _is_loopback(parts.hostname):
        raise ValueError(
            f"refusing plain http to non-loopback host {parts.hostname!r}: the API key would "
            "travel unencrypted; use https, or pass allow_insecure=True if you really mean it"
        )
    return url.strip().rstrip("/")


def _shown(parts: SplitResult) -> str:
    """A URL as error messages may show it: no user info, query or fragment (they may be secret)."""
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme or host else parts.path


def _resolve_proxy(proxy: str | None) -> str | None:
    """Check a proxy URL before any request; errors never echo its user info (a password)."""
    if proxy is None:
        return None
    if not isinstance(proxy, str):
        raise TypeError(f"proxy must be a str URL or None, got {type(proxy).__name__}")
    url = proxy.strip()
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise ValueError("proxy contains whitespace or control characters")
    parts = urlsplit(url)
    shown = _shown(parts)
    if parts.scheme not in {"http", "https"}:
        raise ValueError(f"proxy must be an http:// or https:// URL, got {shown!r}")
    if not parts.hostname:
        raise ValueError(f"proxy has no host, got {shown!r}")
    try:
        _ = parts.port  # urlsplit checks the port only when it is read
    except ValueError:
        raise ValueError(f"proxy has an invalid port, got {shown!r}") from None
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValueError(
            "proxy must be scheme://[user:password@]host[:port] with no path, query or "
            f"fragment, got {shown!r}"
        )
    return url


def _masked_proxy(proxy: str) -> str:
    """The proxy URL for a repr: user and password replaced by ``****``."""
    parts = urlsplit(proxy)
    host = parts.netloc.rpartition("@")[2]
    userinfo = "****:****@" if "@" in parts.netloc else ""
    return f"{parts.scheme}://{userinfo}{host}"


def _mask(key: str) -> str:
    return key[:8] + "…" if key.startswith("sb_live_") else "…"


class AsyncClient:
    """The StableBrowse API client for asyncio code.

    Open it once (per process or per app lifespan) and share it: it holds one
    aiohttp connection pool, created lazily in the running loop and closed by
    `aclose()` or ``async with``.

    Args:
        api_key: API key (``sb_live_...``) or dashboard token; defaults to
            ``STABLEBROWSE_API_KEY``.
        base_url: API root; defaults to ``STABLEBROWSE_BASE_URL``, then
            ``https://api.stablebrowse.ai/v1``. Plain ``http://`` is refused
            for non-loopback hosts unless `allow_insecure` is True.
        timeout: seconds for one HTTP attempt (connect to last byte); None for no limit.
        max_retries: retries per request (see the README's retry rules); 0 disables.
        poll_interval: how `tasks.run`/`wait`/`run_many`/`design.run` poll: an
            `AdaptiveSchedule` (the default: a new one that learns this
            client's task durations), a fixed `PollSchedule`, or a number of
            seconds used as a fixed schedule's cap (polls start sooner and
            grow toward it).
        poll_timeout: default seconds `run`/`wait`/`run_many` wait for one task.
        connection_limit: the pool's maximum simultaneous connections.
        session: an aiohttp session to use instead of creating one; the client
            then never closes it.
        allow_insecure: permit plain http to non-loopback hosts.
        default_headers: extra headers sent on every request.
        max_response_bytes: answers larger than this are refused.
        proxy: an ``http://`` or ``https://`` proxy URL, optionally with
            ``user:password@`` (sent as ``Proxy-Authorization``, never shown
            in a repr, log or error). Checked here, before any request.
        trust_env: take the proxy from ``HTTP_PROXY``/``HTTPS_PROXY`` and
            honour ``NO_PROXY`` (an explicit `proxy` wins). Not with `session`:
            configure your own session's ``trust_env`` instead.
        rate_gate: the `RateGate` every request waits on and every 429 closes;
            default a new in-process `RateLimitGate`. Pass one gate to several
            clients, or a cluster-wide one (`contrib.ray.ClusterRateGate`), so
            one 429 pauses them all.
    """

    base_url: str
    """The API root requests go to (no trailing slash)."""
    poll_schedule: PollSchedule | AdaptiveSchedule
    """How `tasks.run`/`wait`/`run_many` poll by default (from ``poll_interval``).

    Shared by this client and its `with_options` copies; an `AdaptiveSchedule`
    here is what the client learned (``client.poll_schedule.snapshot()``)."""
    poll_timeout: float
    """Default seconds `tasks.run`/`wait`/`run_many` wait for one task."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = 30.0,
        max_retries: int = 2,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None = None,
        poll_timeout: float = DEFAULT_POLL_TIMEOUT,
        connection_limit: int = 100,
        session: aiohttp.ClientSession | None = None,
        allow_insecure: bool = False,
        default_headers: Mapping[str, str] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        proxy: str | None = None,
        trust_env: bool = False,
        rate_gate: RateGate | None = None,
    ) -> None:
        if rate_gate is None:
            rate_gate = RateLimitGate()
        elif not isinstance(rate_gate, RateGate):
            raise TypeError(
                "rate_gate must have delay() and close_for(seconds) methods (a RateGate), "
                f"got {type(rate_gate).__name__}"
            )
        key = _resolve_api_key(api_key)
        self.base_url = _resolve_base_url(base_url, allow_insecure)
        proxy_url = _resolve_proxy(proxy)
        if not isinstance(trust_env, bool):
            raise TypeError(f"trust_env must be a bool, got {type(trust_env).__name__}")
        if trust_env and session is not None:
            raise ValueError(
                "trust_env applies to the session the client creates; with session=..., "
                "create your aiohttp session with trust_env=True instead"
            )
        headers = {
            **(default_headers or {}),
            "Authorization": f"Bearer {key}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        self._key_hint = _mask(key)
        self._pool = ConnectionPool(
            limit=connection_limit,
            session=session,
            headers=headers,
            proxy=proxy_url,
            trust_env=trust_env,
        )
        self._owns_pool = True
        options = RequestOptions(
            timeout=timeout,
            retry=RetryPolicy(max_retries=max_retries),
            max_response_bytes=max_response_bytes,
        )
        transport = HttpTransport(
            self._pool, base_url=self.base_url, options=options, gate=rate_gate
        )
        self._setup(transport, PollSettings.create(poll_interval, poll_timeout))

    def _setup(self, transport: HttpTransport, polling: PollSettings) -> None:
        self._transport = transport
        self._polling = polling
        self.poll_schedule = polling.schedule
        self.poll_timeout = polling.timeout
        self.tasks = Tasks(self)
        """Submit, read, list, wait for and run tasks."""
        self.sessions = Sessions(self)
        """Read conversations."""
        self.api_keys = ApiKeys(self)
        """Mint, list and revoke API keys (dashboard tokens only)."""
        self.design = Design(self)
        """Design-token extraction jobs."""

    def end_users(self, end_user_id: str) -> EndUser:
        """A handle on one of your end users: ``client.end_users("alice").credentials.get()``.

        Raises `ValueError`/`TypeError` at once for an id the API cannot take.
        """
        return EndUser(self, end_user_id)

    def with_options(
        self,
        *,
        timeout: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | None = None,
        poll_interval: float | PollSchedule | AdaptiveSchedule | None = None,
        poll_timeout: float | None = None,
    ) -> AsyncClient:
        """A copy with other settings that shares this client's connection pool.

        This is the per-call override: ``await client.with_options(max_retries=0).tasks.get(id)``.
        It is cheap (no new pool). Closing the copy does not close the pool;
        closing the original does. `timeout` left out (`NOT_GIVEN`) keeps this
        client's; ``timeout=None`` means no limit.
        """
        options = self._transport.options
        new_options = RequestOptions(
            timeout=options.timeout if isinstance(timeout, NotGiven) else timeout,
            retry=options.retry
            if max_retries is None
            else attrs.evolve(options.retry, max_retries=max_retries),
            max_response_bytes=options.max_response_bytes,
        )
        clone = object.__new__(AsyncClient)
        clone.base_url = self.base_url
        clone._key_hint = self._key_hint
        clone._pool = self._pool
        clone._owns_pool = False
        clone._setup(
            self._transport.with_options(new_options),
            self._polling.resolve(poll_interval, poll_timeout),
        )
        return clone

    @property
    def timeout(self) -> float | None:
        """Seconds allowed for one HTTP attempt."""
        return self._transport.options.timeout

    @property
    def max_retries(self) -> int:
        """Retries per request."""
        return self._transport.options.retry.max_retries

    @property
    def is_closed(self) -> bool:
        """True once the connection pool was closed."""
        return self._pool.closed

    @property
    def connector(self) -> aiohttp.BaseConnector | None:
        """The aiohttp connector in use (for its statistics), None before the first request."""
        return self._pool.connector

    async def aclose(self) -> None:
        """Close the connection pool (when this client created it). Idempotent."""
        if self._owns_pool:
            await self._pool.aclose()

    async def close(self) -> None:
        """Alias of `aclose` (the name the official SDK and openai-python use)."""
        await self.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        proxy = self._pool.proxy
        shown = "" if proxy is None else f", proxy={_masked_proxy(str(proxy))!r}"
        return f"AsyncClient(base_url={self.base_url!r}, api_key={self._key_hint!r}{shown})"
