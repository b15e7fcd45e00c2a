"""What a 429's ``Retry-After`` / ``retry-after-ms`` becomes on `RateLimitError.retry_after`.

A server on loopback answers every request with a 429 and the headers under
test; the client (no retries) surfaces them. A value that is not a finite,
non-negative number of seconds is ignored (``Retry-After: -3`` too): ``retry-after-ms`` then falls back
to ``Retry-After``, and a bad ``Retry-After`` leaves `retry_after` None (the
client's own backoff applies).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from stablebrowse_async import AsyncClient, RateLimitError

pytestmark = pytest.mark.anyio


@pytest.fixture
async def throttling() -> AsyncIterator[Callable[[dict[str, str]], str]]:
    """A server answering 429 with the headers set by the test; yields ``set_headers``."""
    headers: dict[str, str] = {}

    async def answer(request: web.BaseRequest) -> web.Response:
        return web.json_response({"error": "Rate limit exceeded"}, status=429, headers=headers)

    runner = web.ServerRunner(web.Server(answer))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]

    def set_headers(new: dict[str, str]) -> str:
        headers.clear()
        headers.update(new)
        return f"http://{host}:{port}/v1"

    try:
        yield set_headers
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"retry-after-ms": "0", "Retry-After": "9"}, 0.0),  # zero is a usable value
        # An unusable retry-after-ms is ignored in favour of Retry-After...
        ({"retry-after-ms": "-5", "Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "nan", "Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "inf", "Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "soon", "Retry-After": "2"}, 2.0),
        # ...and an unusable Retry-After is no Retry-After.
        ({"retry-after-ms": "-inf"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "-inf"}, None),
        ({"Retry-After": "whenever"}, None),
        ({}, None),
    ],
)
async def test_retry_after_values(
    throttling: Callable[[dict[str, str]], str], headers: dict[str, str], expected: float | None
) -> None:
    url = throttling(headers)
    async with AsyncClient("sb_live_key", base_url=url, max_retries=0) as client:
        with pytest.raises(RateLimitError) as info:
            await client.tasks.get("some-task")
    assert info.value.retry_after == expected


async def test_a_negative_retry_after_is_ignored(
    throttling: Callable[[dict[str, str]], str],
) -> None:
    """``Retry-After: -3`` is garbage (delta-seconds are digits): no Retry-After, not "now"."""
    url = throttling({"Retry-After": "-3"})
    async with AsyncClient("sb_live_key", base_url=url, max_retries=0) as client:
        with pytest.raises(RateLimitError) as info:
            await client.tasks.get("some-task")
    assert info.value.retry_after is None


async def test_a_retry_after_date_in_the_past_means_now(
    throttling: Callable[[dict[str, str]], str],
) -> None:
    url = throttling({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    async with AsyncClient("sb_live_key", base_url=url, max_retries=0) as client:
        with pytest.raises(RateLimitError) as info:
            await client.tasks.get("some-task")
    assert info.value.retry_after == 0.0
